"""`storefront demo`: the whole story, offline, through the real HTTP endpoint with locally signed events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from storefront.demo.churn_story import churn_chapters
from storefront.demo.drops_story import drops_chapters
from storefront.demo.membership_story import membership_chapters
from storefront.demo.packs_story import packs_chapters
from storefront.demo.requests_story import requests_chapters
from storefront.demo.world import DemoWorld, demo_world

__all__ = ["play"]

Chapter = Callable[[DemoWorld], Awaitable[None]]


def chapters() -> list[Chapter]:
    # The chat chapters drive the real bot libraries; storefront/ loads them only here, when the demo plays.
    from bots.demo_chapters import bots_chapters

    return [
        *membership_chapters(),
        *bots_chapters(),
        *packs_chapters(),
        *drops_chapters(),
        *churn_chapters(),
        *requests_chapters(),  # last: its Brand member would change the churn chapter's figures
    ]


async def play(say: Callable[[str], None] = print) -> None:
    async with demo_world(say) as world:
        say(f"Storefront demo: web app on {world.url}, Stripe stand-in on {world.stripe_api.base_url}")
        say("Everything below is real HTTP on 127.0.0.1 against a throwaway SQLite file.\n")
        for chapter in chapters():
            await chapter(world)
        say("\nDemo finished. Run `storefront --help` for the real commands.")
