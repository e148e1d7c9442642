"""Garbage-collector settings for a long-running storefront process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "YOUNG_COLLECTION_THRESHOLD",
    "collect_young_objects_less_often",
    "no_collections_while_importing",
    "tuned_for_bursts",
]

# A drop burst allocates a task, coroutines and a future per click; at CPython's default of 700 the collector
# ran a young collection every few dozen clicks and took half a 20,000-click burst (bench/drop_burst.py).
# Only reference cycles wait for the collector: everything else is freed the moment it is dropped.
YOUNG_COLLECTION_THRESHOLD = 200_000


def collect_young_objects_less_often() -> None:
    """For a whole process, from its first line: start-up's imports also run fewer collections (about 10%)."""
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def no_collections_while_importing() -> Iterator[None]:
    """No collections inside; what was built inside is then frozen out of every later collection.

    Imports build modules, classes and functions that live as long as the process, so a collection during them
    only rescans those: at start-up one young collection over them took about 0.1 s of the 1.5 s budget.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@contextmanager
def tuned_for_bursts() -> Iterator[None]:
    """While inside: start-up's objects frozen out of collections, young objects collected less often.

    Both are undone on exit, so tests that start and stop many apps in one process collect as usual.
    """
    thresholds = gc.get_threshold()
    # What start-up built (modules, tables, compiled statements, the catalog) lives as long as the process:
    # frozen, the collector stops rescanning it on every full collection.
    gc.freeze()
    collect_young_objects_less_often()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
