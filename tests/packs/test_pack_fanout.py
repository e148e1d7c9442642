"""The monthly fan-out: one message per (pack, member), exactly once across a kill and a restart."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from entitlements import Observation, ObservationKind
from entitlements.asset_tables import pack_deliveries
from entitlements.packs import FanoutProgress, NoPackAccess, PackNotDue
from storefront.app import App
from storefront.clock import ManualClock
from storefront.db.tables import outbox
from storefront.demo.stripe_events import StripeEvents
from tests.helpers import WebhookSender
from tests.packs.builders import PERIOD_END, PRICES, a_member, a_pack, pack_messages
from webhooks.stripe_payloads import SubscriptionPayload


async def many_members(app: App, events: StripeEvents, count: int, *, tier: str, first: int) -> list[int]:
    """Members whose subscriptions Stripe reports active, applied through MembershipService like the webhook."""
    price_id, amount = PRICES[tier]
    now = app.clock.now()
    ids = []
    async with app.db.write() as conn:
        for number in range(first, first + count):
            customer = f"cus_many_{number}"
            sub = SubscriptionPayload.model_validate(
                events.subscription(
                    sub_id=f"sub_{customer}",
                    customer=customer,
                    member=f"telegram:{number}",
                    price_id=price_id,
                    unit_amount=amount,
                    current_period_end=PERIOD_END,
                )
            )
            observed = await app.memberships.observe(
                conn,
                subscription_id=sub.id,
                identity=f"telegram:{number}",
                customer_id=customer,
                observation=Observation(f"evt_many_{number}", ObservationKind.SNAPSHOT, now, sub.snapshot()),
                event_type="customer.subscription.created",
                now=now,
            )
            ids.append(observed.member_id)
    return ids


async def pack_rows(app: App) -> list[tuple[str, int]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.key, outbox.c.member_id).where(outbox.c.key.like("notify:pack:%")).order_by(outbox.c.id)
        )
        return [tuple(row) for row in rows]


async def test_monthly_fanout_sends_one_message_to_each_member_with_downloads(packs_app: App, events: StripeEvents):
    fans = await many_members(packs_app, events, 170, tier="fan", first=1000)
    creators = await many_members(packs_app, events, 50, tier="creator", first=2000)
    await many_members(packs_app, events, 10, tier="chat", first=3000)  # no downloads: no pack
    await a_pack(packs_app, files=12)
    seen: list[FanoutProgress] = []

    [report] = await packs_app.packs.run_due_fanouts(progress=seen.append)

    assert (report.queued, report.total, report.completed) == (220, 220, True)
    assert [p.handled for p in seen] == [200, 220]  # batches of 200
    rows = await pack_rows(packs_app)
    assert sorted(member for _, member in rows) == sorted(fans + creators)
    message = (await pack_messages(packs_app, "telegram:2000"))[0]
    assert message["template"] == "pack_ready"
    assert "Commercial use license" in message["text"] and "Showing 10 of 12 files" in message["text"]
    assert len(message["buttons"]) == 10
    assert all(set(button) == {"label", "url"} and "/dl/v1." in button["url"] for button in message["buttons"])
    assert ".commercial." in message["buttons"][0]["url"]
    assert ".personal." in (await pack_messages(packs_app, "telegram:1000"))[0]["buttons"][0]["url"]

    assert await packs_app.packs.run_due_fanouts() == []
    assert (await packs_app.packs.fan_out(report.month)).queued == 0
    assert len(await pack_rows(packs_app)) == 220
    assert (await packs_app.packs.summary(report.month)).delivered_to == 220


async def test_fanout_killed_mid_batch_and_restarted_messages_each_member_exactly_once(
    packs_app: App, events: StripeEvents, pack_settings
):
    members = await many_members(packs_app, events, 200, tier="fan", first=1000)
    summary = await a_pack(packs_app, files=2)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.packs.fanout_process",
        pack_settings.database_url,
        summary.month,
        str(2 * 130 + 1),
        "50",
        packs_app.clock.now().isoformat(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines = []
    while not lines or not lines[-1].startswith("blocked"):
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        if not line:
            raise AssertionError((await process.stderr.read()).decode() if process.stderr else "no output")
        lines.append(line)
    process.send_signal(signal.SIGKILL)  # inside the third batch's open transaction (2 links per member)
    await process.wait()
    assert lines == ["progress 50/200", "progress 100/200", "blocked 261"]
    assert len(await pack_rows(packs_app)) == 100, "committed batches stay; the open one is gone"

    report = await packs_app.packs.fan_out(summary.month)

    assert (report.queued, report.completed) == (100, True)
    rows = await pack_rows(packs_app)
    assert sorted(member for _, member in rows) == members
    assert len({key for key, _ in rows}) == 200
    async with packs_app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(pack_deliveries)) == 200


async def test_fanout_failing_inside_a_batch_keeps_nothing_of_it_and_the_rerun_completes(
    packs_app: App, events: StripeEvents, monkeypatch: pytest.MonkeyPatch
):
    members = await many_members(packs_app, events, 60, tier="fan", first=1000)
    summary = await a_pack(packs_app, files=1)
    packs_app.packs._batch = 25
    made = 0
    original = packs_app.packs._links.url

    def failing(**kwargs):
        nonlocal made
        made += 1
        if made == 35:
            raise ConnectionError("database went away")
        return original(**kwargs)

    monkeypatch.setattr(packs_app.packs._links, "url", failing)
    with pytest.raises(ConnectionError):
        await packs_app.packs.fan_out(summary.month)
    assert len(await pack_rows(packs_app)) == 25

    monkeypatch.setattr(packs_app.packs._links, "url", original)
    report = await packs_app.packs.fan_out(summary.month)
    assert report.queued == 35
    assert sorted(member for _, member in await pack_rows(packs_app)) == members


async def test_pack_goes_out_at_its_scheduled_time_and_not_before(
    packs_app: App, events: StripeEvents, clock: ManualClock
):
    await many_members(packs_app, events, 3, tier="fan", first=1000)
    summary = await a_pack(packs_app, "2026-10")
    assert summary.deliver_at == datetime(2026, 10, 1, 15, tzinfo=UTC)  # the catalog's delivery day and hour
    await packs_app.packs.schedule("2026-10", datetime(2026, 9, 30, 9, tzinfo=UTC))

    assert await packs_app.packs.run_due_fanouts() == []
    with pytest.raises(PackNotDue):
        await packs_app.packs.fan_out("2026-10")
    clock.set(datetime(2026, 9, 30, 9, tzinfo=UTC))
    [report] = await packs_app.packs.run_due_fanouts()
    assert report.queued == 3


async def test_member_who_joins_mid_month_gets_the_current_pack_at_once_and_only_once(
    packs_app: App, sender: WebhookSender, events: StripeEvents
):
    await a_pack(packs_app)
    await packs_app.packs.run_due_fanouts()
    await a_member(packs_app, sender, events, "telegram:1001", tier="fan")
    assert len(await pack_messages(packs_app, "telegram:1001")) == 1

    await a_member(packs_app, sender, events, "telegram:1001", tier="creator")  # upgrades: same pack, no second DM
    await packs_app.packs.run_due_fanouts()
    await packs_app.packs.fan_out((await packs_app.packs.list_packs())[0].month)
    assert len(await pack_messages(packs_app, "telegram:1001")) == 1


async def test_member_who_joins_before_release_gets_the_pack_from_the_fanout(
    packs_app: App, sender: WebhookSender, events: StripeEvents, clock: ManualClock
):
    await a_pack(packs_app, "2026-10")
    await a_member(packs_app, sender, events, "telegram:1001", tier="fan")
    assert await pack_messages(packs_app, "telegram:1001") == []
    clock.set(datetime(2026, 10, 1, 15, tzinfo=UTC))
    await packs_app.packs.run_due_fanouts()
    assert len(await pack_messages(packs_app, "telegram:1001")) == 1


async def test_back_catalogue_unlocks_one_pack_per_paid_month(
    packs_app: App, sender: WebhookSender, events: StripeEvents
):
    for month in ("2026-06", "2026-07", "2026-08", "2026-09"):
        await a_pack(packs_app, month, files=1)
    await packs_app.packs.run_due_fanouts()  # nobody is a member yet: old packs reach no one

    await a_member(packs_app, sender, events, "telegram:1001", tier="fan", paid_invoices=1)
    first = await packs_app.packs.packs_for("telegram:1001")
    assert [(p.month, p.unlocked_by) for p in first.packs] == [("2026-09", "delivered"), ("2026-08", "tenure")]
    assert first.locked_back_packs == 2

    await a_member(packs_app, sender, events, "telegram:1001", tier="fan", paid_invoices=1)
    second = await packs_app.packs.packs_for("telegram:1001")
    assert [p.month for p in second.packs] == ["2026-09", "2026-08", "2026-07"]


async def test_link_to_a_locked_back_pack_is_refused(
    packs_app: App, sender: WebhookSender, events: StripeEvents, packs_server, http
):
    old = await a_pack(packs_app, "2026-06", files=1)
    member_id = await a_member(packs_app, sender, events, "telegram:1001", tier="fan")  # trial-like: nothing paid
    token = packs_app.download_tokens.issue(
        member_id=member_id,
        asset_id=old.assets[0].id,
        license_kind="personal",
        expires_at=packs_app.clock.now() + timedelta(days=1),
    )
    async with http.get(f"{packs_server.url}/dl/{token}", allow_redirects=False) as response:
        assert response.status == 403
        assert "not unlocked" in await response.text()


async def test_packs_for_someone_without_a_membership_says_how_to_get_one(
    packs_app: App, sender: WebhookSender, events: StripeEvents
):
    await a_pack(packs_app)
    with pytest.raises(NoPackAccess, match="/subscribe"):
        await packs_app.packs.packs_for("telegram:4242")
    await a_member(packs_app, sender, events, "telegram:1001", tier="chat")
    with pytest.raises(NoPackAccess):
        await packs_app.packs.packs_for("telegram:1001")
