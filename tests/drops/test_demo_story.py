"""The drops chapters of `storefront demo` play offline from start to finish."""

from __future__ import annotations

from storefront.demo.drops_story import drops_chapters
from storefront.demo.world import demo_world


async def test_the_drops_chapters_tell_the_whole_story():
    lines: list[str] = []
    async with demo_world(lines.append) as world:
        for chapter in drops_chapters():
            await chapter(world)
    told = "\n".join(lines)

    assert "telegram:3002 claims -> EarlyAccessOnly" in told
    assert "discord:3006 claims -> SoldOut" in told
    assert "telegram:3005 joins the waitlist at position 1" in told
    assert "1 hold(s) expired, 1 waitlist offer(s) sent" in told
    assert "checkout.session.completed answered 200" in told
    assert "Result: 3 of 3 sold to 3 buyers for 75.00 USD, phase closed (sold_out)" in told
