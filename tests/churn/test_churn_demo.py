"""The demo's churn chapter plays offline and prints the admin's summary."""

from __future__ import annotations

from storefront.demo.churn_story import churn_chapters
from storefront.demo.world import demo_world


async def test_demo_prints_the_churn_summary_of_its_members() -> None:
    lines: list[str] = []
    async with demo_world(lines.append) as world:
        for chapter in churn_chapters():
            await chapter(world)
    text = "\n".join(lines)
    assert "This month 2026-09: 6 paying (+0 new, +1 back, -0 churned" in text
    assert "Last month 2026-08: 5 paying (+1 new, +0 back, -2 churned: 1 voluntary, 1 involuntary)" in text
    assert "Cancellation feedback (4 months): too_expensive 1, unused 1" in text
    assert "At risk now: 1 past due, 1 canceling" in text
    assert "telegram:5008 (past_due), telegram:5007 (canceling)" in text
