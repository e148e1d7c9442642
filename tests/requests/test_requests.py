"""Custom variation requests: who may ask, the monthly quota per member, status changes and the creators' queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from entitlements.requests import (
    BadBrief,
    Brief,
    RequestQuotaUsed,
    RequestService,
    RequestsNotInTier,
    RequestStatus,
    RequestStatusConflict,
)
from storefront.app import App
from storefront.catalog import Catalog
from storefront.clock import ManualClock
from storefront.members import attach_identity
from tests.requests.conftest import a_member, request_notices

CREATOR = "telegram:9001"


@pytest.fixture
def free_only(app: App) -> RequestService:
    """The service as a shop without paid extra requests has it: over quota is simply refused."""
    return RequestService(app.db, app.clock, app.catalog)


def with_turnaround(catalog: Catalog, tier: str, days: int) -> Catalog:
    grants = catalog.tiers[tier].grants.model_copy(update={"request_turnaround_days": days})
    changed = catalog.tiers[tier].model_copy(update={"grants": grants})
    return catalog.model_copy(update={"tiers": {**catalog.tiers, tier: changed}})


async def test_brand_member_opens_a_request_due_after_the_tiers_turnaround(
    app: App, webhook, events, requests: RequestService
):
    await a_member(app, webhook, events, "telegram:5001")
    sent = await requests.submit("telegram:5001", Brief("fox print in blue", format="PNG 4000px"))
    opened = sent.request
    assert opened.status is RequestStatus.SUBMITTED and sent.checkout is None
    assert opened.tier == "brand"
    assert opened.due_at - opened.created_at == timedelta(days=5)  # the catalog's request_turnaround_days
    assert (sent.used, sent.quota) == (1, 2)
    assert (await requests.get(opened.id)).brief.format == "PNG 4000px"


async def test_quota_holds_across_telegram_and_discord_of_one_member(
    app: App, webhook, events, free_only: RequestService, clock: ManualClock
):
    member_id = await a_member(app, webhook, events, "telegram:5001")
    async with app.db.write() as conn:
        assert await attach_identity(conn, member_id, "discord:6001", clock.now()) == member_id

    await free_only.submit("telegram:5001", Brief("one from Telegram"))
    await free_only.submit("discord:6001", Brief("one from Discord"))
    with pytest.raises(RequestQuotaUsed):
        await free_only.submit("discord:6001", Brief("a third, from Discord"))
    with pytest.raises(RequestQuotaUsed):
        await free_only.submit("telegram:5001", Brief("a third, from Telegram"))
    assert await free_only.quota_left("discord:6001") == (2, 2)
    assert len(await free_only.queue()) == 2


async def test_over_quota_on_the_other_platform_offers_a_paid_extra_not_a_free_one(
    app: App, webhook, events, requests: RequestService, clock: ManualClock
):
    member_id = await a_member(app, webhook, events, "telegram:5001")
    async with app.db.write() as conn:
        await attach_identity(conn, member_id, "discord:6001", clock.now())
    await requests.submit("telegram:5001", Brief("one from Telegram"))
    await requests.submit("telegram:5001", Brief("two from Telegram"))

    third = await requests.submit("discord:6001", Brief("a third, from Discord"))
    assert third.request.status is RequestStatus.AWAITING_PAYMENT and third.checkout is not None
    assert [r.brief.what for r in await requests.queue()] == ["one from Telegram", "two from Telegram"]


async def test_a_declined_request_does_not_consume_quota(app: App, webhook, events, free_only: RequestService):
    await a_member(app, webhook, events, "telegram:5001")
    first = (await free_only.submit("telegram:5001", Brief("first"))).request
    await free_only.submit("telegram:5001", Brief("second"))
    await free_only.decline(first.id, "we don't do logos", by=CREATOR)

    third = (await free_only.submit("telegram:5001", Brief("third, after a decline"))).request
    assert third.status is RequestStatus.SUBMITTED
    with pytest.raises(RequestQuotaUsed):
        await free_only.submit("telegram:5001", Brief("fourth"))


async def test_fan_member_is_told_which_tier_offers_requests(app: App, webhook, events, requests: RequestService):
    await a_member(app, webhook, events, "telegram:5002", tier="fan")
    with pytest.raises(RequestsNotInTier) as refused:
        await requests.submit("telegram:5002", Brief("a variation please"))
    assert refused.value.offered_by == ["Brand"]
    assert "Brand" in str(refused.value) and "Fan" in str(refused.value)
    assert await request_notices(app) == []


async def test_a_stranger_is_told_which_tier_offers_requests(app: App, requests: RequestService):
    with pytest.raises(RequestsNotInTier, match="Brand"):
        await requests.submit("discord:4242", Brief("a variation please"))


async def test_over_quota_says_the_quota_resets_on_the_first_of_next_month(
    app: App, webhook, events, free_only: RequestService, clock: ManualClock
):
    await a_member(app, webhook, events, "telegram:5001")
    now = clock.now()
    first_of_next = (now.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    await free_only.submit("telegram:5001", Brief("one"))
    await free_only.submit("telegram:5001", Brief("two"))
    with pytest.raises(RequestQuotaUsed) as used:
        await free_only.submit("telegram:5001", Brief("three"))
    assert used.value.resets_at == first_of_next
    assert first_of_next.strftime("%d %b %Y") in str(used.value)

    clock.advance(first_of_next - now)  # midnight UTC on the 1st: a fresh quota
    fresh = await free_only.submit("telegram:5001", Brief("three, next month"))
    assert fresh.request.status is RequestStatus.SUBMITTED


async def test_each_status_change_writes_one_notice_to_the_member(app: App, webhook, events, requests: RequestService):
    member_id = await a_member(app, webhook, events, "telegram:5001")
    opened = (await requests.submit("telegram:5001", Brief("fox print in blue"))).request
    await requests.accept(opened.id, by=CREATOR)
    await requests.start(opened.id, by=CREATOR)
    await requests.deliver(opened.id, "files are in /packs under Custom", by=CREATOR)
    declined = (await requests.submit("telegram:5001", Brief("another"))).request
    await requests.decline(declined.id, "out of scope", by=CREATOR)

    notices = await request_notices(app)
    assert [n["key"] for n in notices] == [
        f"request:{opened.id}:submitted",
        f"request:{opened.id}:accepted",
        f"request:{opened.id}:in_progress",
        f"request:{opened.id}:delivered",
        f"request:{declined.id}:submitted",
        f"request:{declined.id}:declined",
    ]
    assert {n["kind"] for n in notices} == {"notify"} and {n["member_id"] for n in notices} == {member_id}
    assert [n["payload"]["template"] for n in notices][-3:] == [
        "request_delivered",
        "request_submitted",
        "request_declined",
    ]
    assert "files are in /packs under Custom" in notices[3]["payload"]["text"]
    assert "out of scope" in notices[-1]["payload"]["text"]
    assert all(n["payload"]["buttons"] == [] for n in notices)


async def test_a_refused_status_change_writes_nothing(app: App, webhook, events, requests: RequestService):
    await a_member(app, webhook, events, "telegram:5001")
    opened = (await requests.submit("telegram:5001", Brief("fox"))).request
    await requests.decline(opened.id, "no", by=CREATOR)
    with pytest.raises(RequestStatusConflict, match="declined"):
        await requests.deliver(opened.id, "too late", by=CREATOR)
    assert len(await request_notices(app)) == 2
    assert (await requests.get(opened.id)).status is RequestStatus.DECLINED


async def test_queue_lists_overdue_first_then_oldest(
    app: App, webhook, events, requests: RequestService, clock: ManualClock
):
    await a_member(app, webhook, events, "telegram:5001")
    await a_member(app, webhook, events, "telegram:5003")
    oldest = (await requests.submit("telegram:5001", Brief("oldest"))).request
    clock.advance(timedelta(days=1))
    second = (await requests.submit("telegram:5003", Brief("second"))).request
    clock.advance(timedelta(days=1))
    newest = (await requests.submit("telegram:5003", Brief("newest"))).request
    await requests.accept(oldest.id, by=CREATOR)
    assert [r.id for r in await requests.queue()] == [oldest.id, second.id, newest.id]

    await requests.deliver(oldest.id, "sent", by=CREATOR)
    clock.advance(timedelta(days=4, hours=1))  # `second` is now past its 5 days, `newest` not yet
    queue = await requests.queue()
    assert [r.id for r in queue] == [second.id, newest.id]
    assert [r.overdue(clock.now()) for r in queue] == [True, False]


async def test_a_faster_turnaround_in_the_catalog_puts_younger_requests_first_once_overdue(
    app: App, webhook, events, requests: RequestService, clock: ManualClock
):
    await a_member(app, webhook, events, "telegram:5001")
    older = (await requests.submit("telegram:5001", Brief("older, five days' turnaround"))).request
    priority = RequestService(app.db, app.clock, with_turnaround(app.catalog, "brand", 1))
    younger = (await priority.submit("telegram:5001", Brief("younger, due the next day"))).request
    assert younger.due_at - younger.created_at == timedelta(days=1)
    clock.advance(timedelta(days=2))
    assert [r.id for r in await requests.queue()] == [younger.id, older.id]
    assert [r.overdue(clock.now()) for r in await requests.queue()] == [True, False]


async def test_a_reference_must_name_an_existing_file(app: App, webhook, events, requests: RequestService):
    await a_member(app, webhook, events, "telegram:5001")
    with pytest.raises(BadBrief, match="no file 424242"):
        await requests.submit("telegram:5001", Brief("like this one", reference_asset_id=424242))
    assert await requests.queue() == [] and await request_notices(app) == []
