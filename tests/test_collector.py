"""A running app collects young objects less often and leaves the collector as it found it when stopped."""

from __future__ import annotations

import gc

from storefront.app import App, running
from storefront.collector import YOUNG_COLLECTION_THRESHOLD


async def test_running_tunes_the_collector_and_stopping_restores_it(app: App):
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    async with running(app, host="127.0.0.1", port=0, web_server=False, worker=False):
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD
        assert gc.get_freeze_count() > frozen  # start-up's objects are out of every collection
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == frozen
