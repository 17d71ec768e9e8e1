"""Helpers for building catalog-sized structures (100k entries and more) quickly."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large catalog is built.

    Each collection triggered by the allocations scans every object still alive, so building
    100k entries would rescan the growing heap over and over (about 3x slower overall). The
    structures built here hold no reference cycles, so nothing is lost by collecting later.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
