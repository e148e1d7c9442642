"""A running app collects young objects less often and leaves the collector as it found it when stopped."""

from __future__ import annotations

import gc

from storefront.app import App, running
from storefront.collector import YOUNG_COLLECTION_THRESHOLD, no_collections_while_importing


async def test_running_tunes_the_collector_and_stopping_restores_it(app: App):
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    async with running(app, host="127.0.0.1", port=0, web_server=False, worker=False):
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD
        assert gc.get_freeze_count() > frozen  # start-up's objects are out of every collection
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == frozen


def test_imports_run_without_collections_and_what_they_built_is_frozen_afterwards():
    frozen = gc.get_freeze_count()
    try:
        with no_collections_while_importing():
            assert not gc.isenabled()
            built = [[n] for n in range(1000)]  # stands for the modules and classes an import builds
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(built)
    finally:
        gc.unfreeze()  # the rest of the suite collects as usual
