"""Churn figures from a generated history equal the figures computed independently from its ground truth."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storefront.app import App
from storefront.catalog import load_catalog
from storefront.churn import ChurnReport, churn_report, compute_churn, report_json
from storefront.db import Database
from storefront.db.migrate import upgrade
from storefront.db.tables import identities
from tests.churn.conftest import CHURN_CATALOG
from tests.churn.expected import COUNTS, expected_figures
from tests.churn.generated import GRACE, NOW, History, generate
from tests.churn.store import send_over_http, store_in_bulk, stripe_events
from tests.helpers import WEBHOOK_SECRET

MEMBERS = 3000


@dataclass
class Computed:
    history: History
    report: ChurnReport
    data: dict[str, Any]
    expected: dict[str, Any]


async def _build(path: Path, members: int, seed: int, reuse: bool = True) -> tuple[History, ChurnReport]:
    history = generate(members, seed=seed)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db)
        await store_in_bulk(db, history)
        catalog = load_catalog(CHURN_CATALOG)
        report = await compute_churn(db, catalog, now=NOW, grace=GRACE, months=12, reuse_stable_states=reuse)
    finally:
        await db.dispose()
    return history, report


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> Computed:
    path = tmp_path_factory.mktemp("churn") / "history.db"
    history, report = asyncio.run(_build(path, MEMBERS, seed=6))
    return Computed(history, report, report_json(report), expected_figures(history))


def _counts(figures: dict[str, Any]) -> dict[str, int]:
    return {name: figures.get(name, 0) for name in COUNTS}


def test_generated_history_has_every_kind_of_member_movement(computed: Computed) -> None:
    totals: Counter[str] = Counter()
    for month in computed.expected["months"]:
        totals.update(month["overall"])
        totals.update({f"reason:{reason}": n for reason, n in month["reasons"].items()})
        totals.update({f"moved:{tier}": f["moved_in"] for tier, f in month["tiers"].items()})
    assert totals["new"] > 1000 and totals["reactivated"] > 50 and totals["trialing_end"] > 50
    assert all(totals[f"reason:{r}"] > 10 for r in ("canceled", "payment_failed", "disputed", "refunded"))
    assert totals["moved:creator"] > 10 and totals["moved:brand"] > 10
    assert computed.expected["at_risk"] and computed.expected["months"][-1]["mrr"]["eur"] > 0


def test_members_per_tier_new_churned_and_reactivated_match_each_month(computed: Computed) -> None:
    assert [m["month"] for m in computed.data["months"]] == computed.expected["labels"]
    for got, want in zip(computed.data["months"], computed.expected["months"], strict=True):
        assert _counts(got["overall"]) == _counts(want["overall"]), got["month"]
        for tier in ("fan", "supporter", "creator", "brand"):
            assert _counts(got["tiers"][tier]) == _counts(want["tiers"][tier]), (got["month"], tier)


def test_churn_rate_is_churned_during_the_month_over_paying_at_its_start(computed: Computed) -> None:
    for got, want in zip(computed.data["months"], computed.expected["months"], strict=True):
        overall = want["overall"]
        assert got["overall"]["churn_rate"] == pytest.approx(overall["churned"] / overall["active_start"])
        for tier, figures in got["tiers"].items():
            expected = want["tiers"][tier]
            rate = expected["churned"] / expected["active_start"] if expected["active_start"] else None
            assert figures["churn_rate"] == (pytest.approx(rate) if rate is not None else None), (got["month"], tier)


def test_voluntary_and_involuntary_churn_are_told_apart_by_why_the_subscription_ended(computed: Computed) -> None:
    for got, want in zip(computed.data["months"], computed.expected["months"], strict=True):
        assert got["churn_reasons"] == dict(want["reasons"]), got["month"]
        voluntary = want["reasons"]["canceled"]
        assert got["overall"]["churned_voluntary"] == voluntary
        assert got["overall"]["churned_involuntary"] == got["overall"]["churned"] - voluntary


def test_cancellation_feedback_and_comments_come_from_stripe(computed: Computed) -> None:
    for got, want in zip(computed.data["months"], computed.expected["months"], strict=True):
        assert got["feedback"] == dict(want["feedback"]), got["month"]
        comments = [
            {"member": c["member_id"], "tier": c["tier"], "feedback": c["feedback"], "comment": c["comment"]}
            for c in got["comments"]
        ]
        assert comments == sorted(want["comments"], key=lambda c: c["member"]), got["month"]
    assert sum(computed.report.feedback_totals().values()) == sum(
        sum(month["feedback"].values()) for month in computed.expected["months"]
    )


def test_mrr_is_counted_per_currency_with_yearly_prices_as_a_twelfth(computed: Computed) -> None:
    for got, want in zip(computed.data["months"], computed.expected["months"], strict=True):
        assert got["mrr"] == dict(want["mrr"]), got["month"]
        assert got["mrr_start"] == dict(want["mrr_start"]), got["month"]
        for tier, amounts in got["mrr_by_tier"].items():
            assert amounts == dict(want["mrr_by_tier"].get(tier, {})), (got["month"], tier)


def test_net_mrr_movement_explains_the_change_in_mrr(computed: Computed) -> None:
    for got, want in zip(computed.data["months"], computed.expected["months"], strict=True):
        for currency, move in got["mrr_movement"].items():
            expected = want["movement"][currency]
            for part in ("new", "reactivation", "expansion", "contraction", "churned"):
                assert move[part] == expected[part], (got["month"], currency, part)
            assert move["net"] == got["mrr"].get(currency, 0) - got["mrr_start"].get(currency, 0)


def test_cohort_retention_follows_members_from_their_first_paid_month(computed: Computed) -> None:
    cohorts = computed.data["cohorts"]
    assert [c["retained"] for c in cohorts] == computed.expected["cohorts"]
    for cohort, month in zip(cohorts, computed.data["months"], strict=True):
        assert cohort["size"] == month["overall"]["new"]
        assert cohort["retention"][:1] == ([1.0] if cohort["size"] else [])


def test_members_at_risk_are_past_due_or_canceling_now(computed: Computed) -> None:
    got = [
        {"member": m["member_id"], "tier": m["tier"], "status": m["status"], "until": m["until"], "mrr": m["mrr"]}
        for m in computed.data["at_risk"]
    ]
    want = [{**m, "until": m["until"].isoformat()} for m in computed.expected["at_risk"]]
    assert sorted(got, key=lambda m: m["member"]) == sorted(want, key=lambda m: m["member"])
    assert [m["until"] for m in got] == sorted(m["until"] for m in got)  # soonest first
    assert {m["status"] for m in got} == {"past_due", "canceling"}
    assert all(f"telegram:{700000 + m['member_id']}" in m["identities"] for m in computed.data["at_risk"])


async def test_states_reused_between_observations_give_the_same_report(tmp_path: Path) -> None:
    _, reused = await _build(tmp_path / "a.db", 400, seed=11, reuse=True)
    _, derived = await _build(tmp_path / "b.db", 400, seed=11, reuse=False)
    assert report_json(reused) == report_json(derived)


async def test_history_sent_through_the_real_webhook_endpoint_gives_the_same_figures(app: App, server: Any) -> None:
    # Seed 7: 15 members with new, reactivated, canceled (with feedback), failed and refunded ones, one at risk.
    history = generate(15, seed=7, revocations=("refunded",))  # a dispute would need the Stripe API stand-in
    await send_over_http(server.url, WEBHOOK_SECRET, stripe_events(history))
    await app.worker.drain()
    report = report_json(await churn_report(app, months=12))
    expected = expected_figures(history)
    reasons = Counter(reason for month in report["months"] for reason in month["churn_reasons"])
    assert set(reasons) == {"canceled", "payment_failed", "refunded"}
    for got, want in zip(report["months"], expected["months"], strict=True):
        assert _counts(got["overall"]) == _counts(want["overall"]), got["month"]
        assert got["mrr"] == dict(want["mrr"]), got["month"]
        assert got["feedback"] == dict(want["feedback"]), got["month"]
    async with app.db.read() as conn:
        stored = dict((await conn.execute(sa.select(identities.c.identity, identities.c.member_id))).all())
    assert sorted(m["member_id"] for m in report["at_risk"]) == sorted(
        stored[f"telegram:{700000 + m['member']}"] for m in expected["at_risk"]
    )
