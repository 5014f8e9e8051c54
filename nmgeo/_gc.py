"""Python's cyclic garbage collector paused while a verb runs (see :mod:`nmgeo.settings`).

Shapely geometries are objects the collector tracks: a step that makes 100k of them sets
off full collections (50-100 ms each at 50k lots) that walk every geometry alive and
free nothing, as the steps build arrays, not reference cycles. Paused, the collector
runs once the verb returns, over what the verb left.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from nmgeo import settings

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
# Verbs running now (in any thread), and whether the collector was on when the first began.
_running = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the collector for the block; it is enabled again (if it was enabled when the
    first of the blocks running now began) when the last one ends, however it ends."""
    global _running, _was_enabled
    if not settings.current_pause_gc():
        yield
        return
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()


def pauses_gc(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a verb to run with the collector paused (:func:`gc_paused`)."""

    @functools.wraps(func)
    def verb(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_paused():
            return func(*args, **kwargs)

    return verb
