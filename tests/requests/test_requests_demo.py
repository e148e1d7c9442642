"""`storefront demo` tells the custom-request part of the story, offline, through the real endpoints."""

from __future__ import annotations

from storefront.app import App, Running
from storefront.demo.requests_story import requests_chapters
from storefront.demo.stripe_events import StripeEvents
from storefront.standins.stripe_api import StripeStandIn
from tests.packs.builders import demo_story


async def test_demo_chapters_show_a_request_delivered_downloaded_and_a_paid_extra(
    app: App, server: Running, stripe_api: StripeStandIn, events: StripeEvents
):
    story = await demo_story(requests_chapters(), app, server, stripe_api, events)

    assert "request #1 sent; target 26 Sep 2026 (the Brand tier's turnaround), 1 of 2 requests used" in story
    assert "buttons: Download harbour-winter-blue.png" in story
    assert "GET /dl/... answered 302; " in story  # S3 here: a presigned redirect
    assert "Commercial use license for harbour-winter-blue.png" in story and "(the same bytes)" in story
    assert "waits for payment, 75.00 USD: https://checkout.stripe.com/" in story
    assert "while paying: the same Checkout" in story
    assert "answered 200 (twice): #3 is submitted" in story
    assert "still 2 of 2; the queue has 2 open" in story
