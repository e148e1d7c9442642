"""The pack chapters of the demo: a month's pack from files on disk, fan-out, a download through the real
gateway with a signed license certificate, an ended membership refused, an exclusive license bought,
refused to a second buyer, refunded and revoked.

Expects the app wired for issue 5 (`app.packs`, `app.license_sales`, `app.license_signer`, `/dl` routes).
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from entitlements.licenses import ExclusiveTaken, LicenseCatalog
from entitlements.packs import month_of
from storefront.db.tables import outbox
from storefront.demo.world import DemoWorld
from storefront.members import find_member
from storefront.money import format_money
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_fixtures import load_fixture

__all__ = ["packs_chapters", "png", "stock_license_prices", "subscribe"]

CREATOR = ("price_demo_creator_month", 2500)
PERIOD_END = 1_792_000_000
DEE, DEE_CUSTOMER = "telegram:1004", "cus_demo_dee"
ELI, FAY = "discord:2005", "telegram:1006"


def stock_license_prices(stripe_api: StripeStandIn, licenses: LicenseCatalog) -> None:
    """Give the Stripe stand-in the one-time prices the catalog's license kinds are sold at."""
    for terms in licenses.licenses.values():
        if not terms.stripe_price_id or terms.price is None:
            continue
        product = load_fixture("product")
        product.update(id=f"prod_license_{terms.kind}", name=f"{terms.name} license", active=True)
        stripe_api.put_product(product)
        price = load_fixture("price")
        price.update(
            id=terms.stripe_price_id,
            product=product["id"],
            currency=terms.currency,
            unit_amount=terms.price,
            unit_amount_decimal=str(terms.price),
            type="one_time",
            recurring=None,
            active=True,
            transform_quantity=None,
            custom_unit_amount=None,
        )
        stripe_api.put_price(price)


def png(width: int, height: int, seed: int) -> bytes:
    """A small, valid PNG (a colour gradient), so the demo's files are real images made on the spot."""
    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes(((x * 255 // width + seed * 40) % 256, y * 255 // height, seed * 97 % 256)) for x in range(width)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def _pack_message(world: DemoWorld, identity: str) -> dict[str, Any] | None:
    async with world.app.db.read() as conn:
        member_id = await find_member(conn, identity)
        payload = await conn.scalar(
            sa.select(outbox.c.payload).where(outbox.c.member_id == member_id, outbox.c.key.like("notify:pack:%"))
        )
    return payload


async def subscribe(world: DemoWorld, identity: str, customer: str, price: tuple[str, int] = CREATOR) -> None:
    """Stripe reports `identity` subscribed at `price` (price id, amount) until the demo's period end."""
    sub = world.events.subscription(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=identity,
        price_id=price[0],
        unit_amount=price[1],
        current_period_end=PERIOD_END,
    )
    await world.deliver(world.events.event("customer.subscription.created", sub))


async def monthly_pack(world: DemoWorld) -> None:
    app: Any = world.app
    month = month_of(world.clock.now())
    world.say(
        f"Packs 1. The creator adds the {month} pack from files on disk (storefront pack add DIR --month {month})"
    )
    await subscribe(world, DEE, DEE_CUSTOMER)
    world.say(f"      Dee ({DEE}) subscribed to Creator a moment earlier")
    with tempfile.TemporaryDirectory(prefix="storefront-pack-") as folder:
        directory = Path(folder)
        for number, name in enumerate(("harbour-dawn.png", "harbour-noon.png", "harbour-dusk.png"), start=1):
            (directory / name).write_bytes(png(48, 32, number))
        (directory / "pack.toml").write_text(
            'title = "Harbour light"\n'
            '[files."harbour-dawn.png"]\ntitle = "Harbour at dawn"\ntags = ["harbour", "morning"]\n'
            'notes = "No people shown; harbour authority permit HA-2026-31."\n',
            encoding="utf-8",
        )
        summary = await app.packs.add_pack_dir(month, directory)
    for asset in summary.assets:
        world.say(f"      file {asset.id}: {asset.filename} {asset.size} bytes, sha256 {asset.sha256[:16]}...")
    world.say(f"      scheduled for {summary.deliver_at:%d %b %Y %H:%M UTC} (the catalog's delivery day)")
    reports = await app.packs.run_due_fanouts()
    for report in reports:
        world.say(f"  -> fan-out: {report.queued} of {report.total} members with downloads sent the pack message")
    again = await app.packs.run_due_fanouts()
    world.say(f"  -> running the fan-out again queues {sum(r.queued for r in again)} more: one message per member")
    message = await _pack_message(world, DEE)
    assert message is not None
    world.say(f"      Dee's message: {message['text']}")
    world.say(f"      buttons: {', '.join(button['label'] for button in message['buttons'])}")


async def download_with_certificate(world: DemoWorld) -> None:
    world.say("Packs 2. Dee taps a button: the gateway checks the link and her membership, records the license")
    message = await _pack_message(world, DEE)
    assert message is not None
    got = await world.download(message["buttons"][0]["url"])
    license_id, certificate = got.license_id, got.certificate
    assert certificate is not None
    world.say(
        f"  -> GET /dl/... answered {got.status}; {len(got.body)} bytes, "
        f"sha256 {hashlib.sha256(got.body).hexdigest()[:16]}..."
    )
    named = json.loads(certificate)["certificate"]
    world.say(
        f"      certificate {license_id}: {named['license']['name']} license, source {named['source']['type']}, "
        f"file sha256 {named['asset']['sha256'][:16]}... (the same bytes)"
    )
    async with world.http.get(f"{world.url}/license/{license_id}") as response:
        world.say(f"  -> GET /license/{license_id}: {(await response.json())['verdict']}")
    signer = world.app.license_signer  # type: ignore[attr-defined]
    forged = certificate.replace(b'"kind":"commercial"', b'"kind":"exclusive"', 1)
    world.say(f"      the same certificate with one word changed verifies as: {signer.verify(forged).verdict}")


async def ended_membership_is_refused(world: DemoWorld) -> None:
    world.say("Packs 3. Dee's membership ends; her old link no longer works")
    sub = world.events.subscription(
        sub_id=f"sub_{DEE_CUSTOMER}",
        customer=DEE_CUSTOMER,
        member=DEE,
        price_id=CREATOR[0],
        unit_amount=CREATOR[1],
        status="canceled",
        ended_at=PERIOD_END,
    )
    await world.deliver(world.events.event("customer.subscription.deleted", sub))
    message = await _pack_message(world, DEE)
    assert message is not None
    async with world.http.get(world.local(message["buttons"][1]["url"]), allow_redirects=False) as response:
        world.say(f"  -> GET /dl/... answered {response.status}: {_paragraph(await response.text())}")


async def exclusive_license(world: DemoWorld) -> None:
    app: Any = world.app
    summary = (await app.packs.list_packs())[0]
    asset = summary.assets[2]
    world.say(f"Packs 4. Eli buys the exclusive license for file {asset.id} ({asset.title})")
    world.say(f"      /license buy {asset.id} exclusive")
    stock_license_prices(world.stripe_api, app.licenses)  # the license prices, as catalog sync would create them
    checkout = await app.license_sales.start_checkout(ELI, asset.id, "exclusive")
    world.say(f"  -> Checkout for {format_money(checkout.amount_minor, checkout.currency)}: {checkout.url[:60]}...")
    try:
        await app.license_sales.start_checkout(FAY, asset.id, "exclusive")
    except ExclusiveTaken as refusal:
        world.say(f"  -> Fay tries too while Eli pays: {refusal}")
    session = next(
        s
        for s in world.stripe_api.created_checkout_sessions()
        if s["id"].startswith("cs_") and s["metadata"].get("purchase") == str(checkout.purchase_id)
    )
    intent = "pi_demo_eli_exclusive"
    paid = world.events.checkout_session(
        mode="payment",
        client_reference_id=ELI,
        customer=None,
        payment_intent=intent,
        amount_total=checkout.amount_minor,
        metadata=session["metadata"],
    )
    paid["id"] = session["id"]
    status = await world.deliver(world.events.event("checkout.session.completed", paid))
    world.say(f"  -> Stripe says paid: checkout.session.completed answered {status}")
    try:
        await app.license_sales.start_checkout(FAY, asset.id, "exclusive")
    except ExclusiveTaken as refusal:
        world.say(f"  -> Fay again: {refusal}")
    async with app.db.read() as conn:
        member_id = await find_member(conn, ELI)
        payload = await conn.scalar(
            sa.select(outbox.c.payload).where(
                outbox.c.member_id == member_id, outbox.c.key.like("notify:license_granted:%")
            )
        )
    async with world.http.get(world.local(payload["buttons"][0]["url"]), allow_redirects=False) as response:
        license_id = response.headers.get("X-License-Id")
        world.say(f"  -> Eli downloads under the exclusive license: {response.status}, certificate {license_id}")
    charge = world.events.charge(
        customer=None, amount=checkout.amount_minor, refunded_amount=checkout.amount_minor, payment_intent=intent
    )
    await world.deliver(world.events.event("charge.refunded", charge))
    async with world.http.get(f"{world.url}/license/{license_id}") as response:
        verdict = await response.json()
    world.say(f"  -> the payment is refunded; GET /license/{license_id}: {verdict['verdict']} ({verdict['message']})")


def _paragraph(page: str) -> str:
    start = page.find("<p>") + 3
    return page[start : page.find("</p>", start)].replace("&#x27;", "'")


def packs_chapters() -> list[Callable[[DemoWorld], Awaitable[None]]]:
    return [monthly_pack, download_with_certificate, ended_membership_is_refused, exclusive_license]
