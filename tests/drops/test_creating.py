"""Creating, editing and cancelling drops: typed values or typed-in text; bad input is one line and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drops import (
    BadDropInput,
    CannotCancel,
    DropInput,
    DropPhase,
    DropService,
    DropStatus,
    EditDrop,
    NotEditable,
    parse_moment,
    parse_price,
)
from storefront.app import App
from storefront.clock import ManualClock
from tests.drops.builders import CREATOR, a_drop, open_now

TEXT = {
    "title": "Winter print",
    "description": "Signed, numbered",
    "price": "12.50 EUR",
    "supply": "50",
    "opens_at": "2026-12-01 18:00 Europe/Paris",
    "closes_at": "never",
    "early_access_tiers": "creator, brand",
    "per_person_limit": "2",
}


async def drops_count(service: DropService) -> int:
    return len(await service.list_drops(include_ended=True))


async def test_a_drop_from_text_as_a_creator_types_it(drops_service: DropService):
    drop = await drops_service.create(DropInput.parse(**TEXT), creator=CREATOR)

    assert drop.opens_at == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert (drop.price.amount_minor, drop.price.currency, str(drop.price)) == (1250, "eur", "12.50 EUR")
    assert (drop.supply, drop.per_person_limit, drop.closes_at) == (50, 2, None)
    assert [(a.tier, a.minutes) for a in drop.early_access] == [("brand", 60), ("creator", 30)]
    assert drop.early_opens_at == drop.opens_at - timedelta(minutes=60)
    assert (drop.status, drop.phase, drop.created_by) == (DropStatus.SCHEDULED, DropPhase.SCHEDULED, CREATOR)


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("opens_at", "2026-12-01 18:00", "opens at: '2026-12-01 18:00' has no time zone; write it like"),
        ("opens_at", "tomorrow evening", "opens at: 'tomorrow evening' is not a date and time; write it like"),
        ("opens_at", "2026-03-29 02:30 Europe/Paris", "opens at: '2026-03-29 02:30 Europe/Paris' does not exist"),
        ("opens_at", "2026-01-01T10:00+00:00", "opens at: 2026-01-01 10:00 UTC is in the past"),
        ("closes_at", "2026-12-01T16:00Z", "closes at: must be after the opening time"),
        ("price", "twelve euros", "price: 'twelve euros' is not a price; write it like 12.50 USD"),
        ("price", "12.505 EUR", "price: EUR has 2 decimal places at most (got '12.505 EUR')"),
        ("supply", "0", "supply: input should be greater than or equal to 1"),
        ("supply", "lots", "supply: must be a whole number (got 'lots')"),
        ("early_access_tiers", "vip", "early access tiers: unknown tier 'vip'; choose from fan, creator, brand"),
        ("early_access_tiers", "fan", "early access minutes: the Fan tier grants no early access in the catalog"),
        ("per_person_limit", "99", "per person limit: cannot be more than the supply (50)"),
        ("title", "", "title: string should have at least 1 character"),
    ],
)
async def test_bad_input_is_refused_in_one_line_and_nothing_is_created(
    drops_service: DropService, field: str, value: str, line: str
):
    with pytest.raises(BadDropInput) as refused:
        await drops_service.create(DropInput.parse(**{**TEXT, field: value}), creator=CREATOR)

    assert str(refused.value).startswith(line)
    assert "\n" not in str(refused.value)
    assert refused.value.field.replace("_", " ") == line.split(":")[0]
    assert await drops_count(drops_service) == 0


async def test_an_unknown_field_is_named(drops_service: DropService):
    with pytest.raises(BadDropInput, match=r"^colour: is not a drop field$"):
        DropInput.parse(**TEXT, colour="red")


async def test_early_access_minutes_given_apply_to_every_chosen_tier(drops_service: DropService):
    drop = await drops_service.create(
        DropInput.parse(**{**TEXT, "early_access_tiers": "fan", "early_access_minutes": "10"}), creator=CREATOR
    )
    assert [(a.tier, a.minutes) for a in drop.early_access] == [("fan", 10)]


async def test_editing_before_opening_changes_only_what_was_given(drops_service: DropService):
    drop = await a_drop(drops_service, supply=3, early_access_tiers="creator")

    edited = await drops_service.edit(drop.id, EditDrop.parse(supply="5", price="20 usd"))

    assert (edited.supply, edited.price.amount_minor) == (5, 2000)
    assert (edited.title, edited.opens_at, edited.early_access) == (drop.title, drop.opens_at, drop.early_access)


async def test_editing_the_opening_moves_the_early_access_and_reminders(drops_service: DropService):
    drop = await a_drop(drops_service, early_access_tiers="creator")
    later = drop.opens_at + timedelta(days=1)

    edited = await drops_service.edit(drop.id, EditDrop.parse(opens_at=later.isoformat(), closes_at="never"))

    assert (edited.opens_at, edited.early_opens_at) == (later, later - timedelta(minutes=30))
    assert (await drops_service.due_times())[f"drop-{drop.id}-reminder-soon"] == later - timedelta(minutes=15)


async def test_a_bad_edit_changes_nothing(drops_service: DropService):
    drop = await a_drop(drops_service, supply=3)

    with pytest.raises(BadDropInput, match=r"^closes at: must be after the opening time$"):
        await drops_service.edit(drop.id, EditDrop.parse(supply=9, closes_at=drop.opens_at.isoformat()))

    assert (await drops_service.get(drop.id)).supply == 3


async def test_no_edits_once_early_access_has_begun(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, early_access_tiers="creator")
    clock.set(drop.early_opens_at)

    with pytest.raises(NotEditable) as refused:
        await drops_service.edit(drop.id, EditDrop.parse(supply=10))

    assert str(refused.value) == "“Midnight print” can no longer be changed: it is early access."


async def test_cancelling_releases_the_holds_and_ends_the_waitlist(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    await drops_service.join_waitlist(drop.id, "telegram:2")

    cancelled = await drops_service.cancel(drop.id)

    assert (cancelled.phase, cancelled.held) == (DropPhase.CANCELLED, 0)
    assert await drops_service.waitlist(drop.id) == []
    assert await drops_service.list_drops() == []


async def test_a_drop_with_sales_cannot_be_cancelled(app: App, drops_service: DropService, clock: ManualClock):
    from tests.drops.test_race import pay

    drop = await a_drop(drops_service, supply=2)
    open_now(clock, drop)
    await pay(app, drops_service, [await drops_service.claim(drop.id, "telegram:1")], clock.now())

    with pytest.raises(CannotCancel, match="1 already sold; close it instead"):
        await drops_service.cancel(drop.id)


async def test_a_draft_is_kept_until_published(drops_service: DropService):
    drop = await drops_service.create(DropInput.parse(**TEXT), creator=CREATOR, draft=True)
    assert drop.phase is DropPhase.DRAFT
    assert await drops_service.due_times() == {}

    published = await drops_service.publish(drop.id)

    assert published.phase is DropPhase.SCHEDULED
    assert f"drop-{drop.id}-open" in await drops_service.due_times()


def test_moments_need_a_time_zone_and_accept_common_spellings():
    expected = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    for text in (
        "2026-12-01T18:00+01:00",
        "2026-12-01 18:00 Europe/Paris",
        "2026-12-01T17:00Z",
        "2026-12-01 17:00 UTC",
    ):
        assert parse_moment(text, "opens_at") == expected, text


def test_prices_in_minor_units():
    assert parse_price("12.50 usd") == (1250, "usd")
    assert parse_price("USD 12") == (1200, "usd")
    assert parse_price("1500 JPY") == (1500, "jpy")
