"""The custom-request chapters of the demo: a Brand member asks for a variation, the creator accepts and delivers
a file, the member downloads it with a signed commercial-license certificate, then pays for one extra request
over the monthly quota through Stripe Checkout.

Expects the app wired for issue 6 (`app.requests`, `checkout.session.completed` routed to kind "request").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from entitlements.request_files import RequestFile
from entitlements.requests import Brief
from storefront.db.tables import outbox
from storefront.demo.packs_story import png, subscribe
from storefront.demo.world import DemoWorld
from storefront.money import format_money

__all__ = ["requests_chapters"]

BRAND = ("price_demo_brand_month", 25000)
JO, JO_CUSTOMER = "telegram:4101", "cus_demo_jo"
CREATOR = "discord:9001"


async def _notice(world: DemoWorld, key: str) -> dict:
    async with world.app.db.read() as conn:
        payload = await conn.scalar(sa.select(outbox.c.payload).where(outbox.c.key == key))
    assert payload is not None, key
    return payload


async def brand_member_asks(world: DemoWorld) -> None:
    say = world.say
    say("Requests 1. Jo, a Brand member, asks for a custom variation")
    await subscribe(world, JO, JO_CUSTOMER, BRAND)
    say("      /request the harbour at dawn, in winter blue | format: PNG 4000px | by: end of month")
    sent = await world.app.requests.submit(
        JO, Brief("the harbour at dawn, in winter blue", format="PNG 4000px", deadline_wish="end of month")
    )
    say(
        f"  -> request #{sent.request.id} sent; target {sent.request.due_at:%d %b %Y} (the Brand tier's turnaround), "
        f"{sent.used} of {sent.quota} requests used this month"
    )
    queue = await world.app.requests.queue()
    say(f"      the creators' /requests: {len(queue)} open, oldest first: #{queue[0].id} {queue[0].brief.what}")


async def creator_delivers_a_file(world: DemoWorld) -> None:
    say, requests = world.say, world.app.requests
    [request] = await requests.queue()
    say(f"Requests 2. The creator accepts #{request.id} and delivers a file with /request_deliver")
    await requests.accept(request.id, by=CREATOR)
    artwork = png(64, 40, 7)
    await requests.deliver(
        request.id, "Winter blue, as asked.", by=CREATOR, files=[RequestFile("harbour-winter-blue.png", artwork)]
    )
    message = await _notice(world, f"request:{request.id}:delivered")
    say(f"  -> Jo's message: {message['text']}")
    say(f"      buttons: {', '.join(button['label'] for button in message['buttons'])}")


async def member_downloads_with_certificate(world: DemoWorld) -> None:
    say = world.say
    say("Requests 3. Jo taps the button: the gateway records a commercial license for Jo on that file")
    [request] = [r for r in await world.app.requests.mine(JO) if r.status.value == "delivered"]
    message = await _notice(world, f"request:{request.id}:delivered")
    got = await world.download(message["buttons"][0]["url"])
    assert got.certificate is not None
    certificate = json.loads(got.certificate)["certificate"]
    same = "the same bytes" if certificate["asset"]["sha256"] == hashlib.sha256(got.body).hexdigest() else "DIFFERENT"
    say(f"  -> GET /dl/... answered {got.status}; {len(got.body)} bytes")
    say(
        f"      certificate {got.license_id}: {certificate['license']['name']} license for "
        f"{certificate['asset']['filename']}, sha256 {certificate['asset']['sha256'][:16]}... ({same})"
    )


async def paid_extra_request(world: DemoWorld) -> None:
    say, requests = world.say, world.app.requests
    say("Requests 4. Jo uses the second request of the month, then asks for a third: one extra, paid on Stripe")
    await requests.submit(JO, Brief("the same harbour at dusk"))
    extra = await requests.submit(JO, Brief("a square crop for a poster"))
    assert extra.checkout is not None
    say(
        f"  -> quota used ({extra.used} of {extra.quota}; resets {extra.resets_at:%d %b %Y}): request "
        f"#{extra.request.id} waits for payment, {format_money(extra.checkout.amount_minor, extra.checkout.currency)}: "
        f"{extra.checkout.url[:60]}..."
    )
    again = await requests.submit(JO, Brief("a square crop for a poster"))
    same = "the same Checkout" if again.checkout == extra.checkout else "a NEW Checkout"
    say(f"      Jo sends /request again while paying: {same}")
    session = next(
        s
        for s in world.stripe_api.created_checkout_sessions()
        if s["metadata"].get("kind") == "request" and s["metadata"].get("request") == str(extra.request.id)
    )
    paid = world.events.checkout_session(
        mode="payment",
        client_reference_id=JO,
        customer=None,
        payment_intent="pi_demo_jo_extra_request",
        amount_total=session["amount_total"],
        metadata=session["metadata"],
    )
    paid["id"] = session["id"]
    for _ in range(2):  # Stripe delivers the event twice: the second changes nothing
        status = await world.deliver(world.events.event("checkout.session.completed", paid))
    now = await requests.get(extra.request.id)
    used, quota = await requests.quota_left(JO)
    say(
        f"  -> checkout.session.completed answered {status} (twice): #{now.id} is {now.status.value}, "
        f"due {now.due_at:%d %b %Y}"
    )
    say(f"      it does not use the quota: still {used} of {quota}; the queue has {len(await requests.queue())} open")
    message = await _notice(world, f"request:{now.id}:submitted")
    say(f"      Jo's message: {message['text']}")


def requests_chapters() -> list[Callable[[DemoWorld], Awaitable[None]]]:
    return [brand_member_asks, creator_delivers_a_file, member_downloads_with_certificate, paid_extra_request]
