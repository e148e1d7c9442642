"""What the community sees and hears before and during a drop: the countdown line, the post, the reminders."""

from __future__ import annotations

from datetime import timedelta

from drops import DropPhase, DropService, PostedMessage, countdown_text, format_duration
from storefront.app import App
from storefront.clock import ManualClock
from tests.drops.builders import a_drop, open_now
from tests.helpers import outbox_rows


def test_durations_read_like_a_countdown():
    assert format_duration(timedelta(days=2, hours=3, minutes=10)) == "2 d 3 h"
    assert format_duration(timedelta(hours=3, minutes=5)) == "3 h 05 min"
    assert format_duration(timedelta(minutes=11, seconds=30)) == "12 min"
    assert format_duration(timedelta(seconds=45)) == "45 s"
    assert format_duration(timedelta(seconds=-3)) == "0 s"


async def test_the_countdown_follows_the_drop_through_its_life(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=2, early_access_tiers="creator", closes_in=timedelta(hours=3))
    scheduled = await drops_service.get(drop.id)
    opens = drop.opens_at.strftime("%a %d %b %H:%M UTC")
    early = drop.early_opens_at.strftime("%a %d %b %H:%M UTC")

    assert (
        countdown_text(scheduled, clock.now())
        == f"Opens in 1 h 00 min ({opens}). Early access for Creator from {early}."
    )
    # The text moves with the time given, without reading the database again.
    assert countdown_text(scheduled, drop.opens_at - timedelta(minutes=40)).startswith("Opens in 40 min")
    assert countdown_text(scheduled, drop.opens_at - timedelta(minutes=10)) == (
        "Early access for Creator: 2 of 2 left. Opens to everyone in 10 min."
    )

    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    running = await drops_service.get(drop.id)
    assert countdown_text(running, clock.now()) == "Open now: 1 of 2 left, closes in 2 h 00 min."

    await drops_service.claim(drop.id, "telegram:2")
    sold_out = await drops_service.get(drop.id)
    assert countdown_text(sold_out, clock.now()) == (
        "Sold out: all 2 are taken, 2 still in checkout. Join the waitlist for a unit that comes back."
    )

    clock.set(drop.closes_at)
    assert countdown_text(await drops_service.get(drop.id), clock.now()) == "Closed: 0 of 2 sold."


async def test_the_announcement_offers_the_buttons_of_the_moment(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)

    before = await drops_service.announcement(drop.id)
    open_now(clock, drop)
    during = await drops_service.announcement(drop.id)
    await drops_service.claim(drop.id, "telegram:1")
    after = await drops_service.announcement(drop.id)

    assert [b.action for b in before.buttons] == ["notify_me"]
    assert [b.action for b in during.buttons] == ["claim"]
    assert [b.action for b in after.buttons] == ["join_waitlist"]
    assert before.text.startswith("Midnight print · 15.00 USD\nA signed print\nOpens in")


async def test_announcements_are_due_once_per_phase(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    [due] = await drops_service.announcements_due()
    await drops_service.announcement_posts.announced(
        drop.id, due.drop.phase, [PostedMessage("telegram:-100200", 7)], due.text, clock.now(), keep_editing=True
    )
    assert await drops_service.announcements_due() == []

    open_now(clock, drop)

    [due] = await drops_service.announcements_due()
    assert due.drop.phase is DropPhase.OPEN


async def test_notify_me_brings_reminders_once_each(app: App, drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service)
    assert await drops_service.notify_me(drop.id, "telegram:1") is True
    assert await drops_service.notify_me(drop.id, "telegram:1") is False
    await drops_service.notify_me(drop.id, "discord:2")
    await drops_service.notify_me(drop.id, "telegram:3")
    assert await drops_service.stop_notifying(drop.id, "telegram:3") is True
    assert await drops_service.subscribers(drop.id) == ["telegram:1", "discord:2"]

    clock.set(drop.opens_at - timedelta(minutes=15))
    await drops_service.send_due_reminders()
    await drops_service.send_due_reminders()
    clock.set(drop.opens_at)
    await drops_service.send_due_reminders()

    sent = [(row["payload"]["template"], row["member_id"]) for row in await outbox_rows(app, "notify")]
    assert sorted(sent) == sorted([("drop_reminder", 1), ("drop_reminder", 2), ("drop_open", 1), ("drop_open", 2)])
    texts = {row["payload"]["template"]: row["payload"]["text"] for row in await outbox_rows(app, "notify")}
    assert texts["drop_open"] == "“Midnight print” is open now: 15.00 USD, 3 available. First come, first served."


async def test_early_access_reminders_go_only_to_that_tiers_members(
    app: App, drops_service: DropService, clock: ManualClock, webhook, events
):
    from tests.drops.builders import a_member_of

    await a_member_of(app, webhook, events, "telegram:10", "creator")
    drop = await a_drop(drops_service, early_access_tiers="creator")
    await drops_service.notify_me(drop.id, "telegram:10")
    await drops_service.notify_me(drop.id, "telegram:11")

    clock.set(drop.early_opens_at)
    await drops_service.send_due_reminders()

    early = [row for row in await outbox_rows(app, "notify") if row["payload"]["template"] == "drop_early_access"]
    assert [row["key"].split(":")[3] for row in early] == [str(early[0]["member_id"])]
    assert len(early) == 1
