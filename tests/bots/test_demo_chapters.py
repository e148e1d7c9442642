"""The chat chapters of `storefront demo` play through and show what they promise."""

from __future__ import annotations

from bots.demo_chapters import bots_chapters
from storefront.demo.world import demo_world


async def test_the_chat_chapters_show_subscribing_linking_and_refusals() -> None:
    lines: list[str] = []
    async with demo_world(lines.append) as world:
        for chapter in bots_chapters():
            await chapter(world)

    text = "\n".join(lines)
    assert "client_reference_id=telegram:2001, subscription_data.metadata.member=telegram:2001, trial 7 days" in text
    assert "bot <- Tier: Fan" in text
    assert "bot <- Done: your Telegram and Discord accounts are now one membership." in text
    assert text.count("Sorry, /grant is only for the team running this shop; nothing was changed.") == 2
    assert "-> outbox rows before and after: 3 -> 3" in text
    assert "bot <- Unknown tier 'gold'; choose one of: fan, creator, brand. Usage: /subscribe TIER [annual]" in text
