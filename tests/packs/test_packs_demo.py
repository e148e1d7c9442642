"""`storefront demo` tells the packs part of the story, offline, through the real gateway."""

from __future__ import annotations

import pytest

from storefront.app import App, Running
from storefront.demo.packs_story import packs_chapters
from storefront.demo.stripe_events import StripeEvents
from storefront.standins.stripe_api import StripeStandIn
from tests.packs.builders import demo_story


@pytest.fixture
def store_kind() -> str:
    return "local"  # the demo runs on the embedded default


async def test_demo_chapters_show_packs_downloads_and_licenses(
    packs_app: App, packs_server: Running, stripe_api: StripeStandIn, events: StripeEvents
):
    story = await demo_story(packs_chapters(), packs_app, packs_server, stripe_api, events)

    assert "fan-out: 1 of 1 members with downloads sent the pack message" in story
    assert "running the fan-out again queues 0 more" in story
    assert "GET /dl/... answered 200; " in story  # local disk: the gateway streams the file
    assert ": VALID" in story and "verifies as: BAD_SIGNATURE" in story
    assert "answered 403: Your membership is not active" in story
    assert "Fay tries too while Eli pays: Someone is buying the exclusive license" in story
    assert "Fay again: File 3 is licensed exclusively to someone else until" in story
    assert "Eli downloads under the exclusive license: 200" in story
    assert ": REVOKED (" in story
