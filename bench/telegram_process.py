"""The Bot API stand-in in a process of its own, as Telegram is: `python -m bench.telegram_process PORT RATE OUT`.

It serves until SIGTERM, then writes what it saw to the JSON file OUT: successful sends per chat, 429 answers,
and the peak overall rate in any one-second window.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from collections import Counter
from pathlib import Path

from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn

TOKEN = "7654321:AAH-bench-token"


def summary(telegram: TelegramBotApiStandIn) -> dict[str, object]:
    sends = telegram.calls_to("sendMessage", outcome="ok")
    per_chat = Counter(call.chat_id for call in sends)
    peak = telegram.max_rate_observed()
    return {
        "sent_per_chat": {str(chat): count for chat, count in per_chat.items()},
        "too_many_requests": telegram.count("sendMessage", outcome="429"),
        "peak_overall": peak.overall,
        # from the first successful send to the last, as the stand-in received them
        "sending_seconds": sends[-1].at - sends[0].at if len(sends) > 1 else 0.0,
        "busiest_chat_per_second": peak.busiest_chat,
    }


async def main(port: int, rate: int, out: Path) -> None:
    # A collection stalls the stand-in for up to tens of milliseconds (it keeps every call it answers), then it
    # stamps the requests that waited as if they had all arrived at once: at 300/s a 20 ms stall is over the
    # limit. Telegram's servers do not pause like one Python process, so this one never collects; a run is short.
    gc.disable()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    limits = RateLimits(overall_per_second=rate, per_chat_per_second=1)
    async with TelegramBotApiStandIn(TOKEN, limits=limits, port=port) as telegram:
        print(f"Telegram stand-in running on {telegram.base_url}", file=sys.stderr, flush=True)
        await stop.wait()
    await asyncio.to_thread(out.write_text, json.dumps(summary(telegram)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))
