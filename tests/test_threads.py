"""Threaded shapely calls give exactly what one call gives."""

import numpy as np
import pytest
import shapely

from nmgeo._threads import (
    MIN_PARALLEL,
    map_chunks,
    map_ranges,
    n_threads,
    query_tree,
    together,
)


def _squares(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 1000, (2, n))
    size = rng.uniform(1, 30, n)
    return shapely.box(x, y, x + size, y + size)


@pytest.mark.parametrize("n", [0, 1, MIN_PARALLEL - 1, 3 * MIN_PARALLEL + 7])
def test_map_chunks_equals_one_call_in_order(n, monkeypatch):
    monkeypatch.setenv("NMGEO_THREADS", "3")
    a, b = _squares(n, 1), _squares(n, 2)
    got = map_chunks(lambda p, q: shapely.area(shapely.intersection(p, q)), a, b)
    want = shapely.area(shapely.intersection(a, b))
    assert got.shape == (n,)
    np.testing.assert_array_equal(got, want)


def test_nmgeo_threads_setting(monkeypatch):
    monkeypatch.setenv("NMGEO_THREADS", "1")
    assert n_threads() == 1
    monkeypatch.setenv("NMGEO_THREADS", "4")
    assert n_threads() == 4
    for bad in ("0", "many", ""):
        monkeypatch.setenv("NMGEO_THREADS", bad)
        assert n_threads() >= 1


def test_map_chunks_uses_threads_for_large_inputs(monkeypatch):
    import threading

    monkeypatch.setenv("NMGEO_THREADS", "2")
    seen = set()

    barrier = threading.Barrier(2, timeout=10)

    def record(x):
        seen.add(threading.get_ident())
        barrier.wait()  # both slices must be running at once
        return x * 2

    values = np.arange(4 * MIN_PARALLEL)
    np.testing.assert_array_equal(map_chunks(record, values), values * 2)
    assert len(seen) == 2


@pytest.mark.parametrize("n", [0, 1, 2 * MIN_PARALLEL + 3])
def test_query_tree_equals_one_query(n, monkeypatch):
    monkeypatch.setenv("NMGEO_THREADS", "2")
    boxes = _squares(n, 3)
    tree = shapely.STRtree(_squares(max(n, 1), 4))
    got = query_tree(tree, boxes, min_piece=1_000)
    want = tree.query(boxes)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_map_ranges_splits_into_several_ranges_per_thread(monkeypatch):
    # Uneven costs balance only if each thread takes several ranges in turn.
    monkeypatch.setenv("NMGEO_THREADS", "2")
    ranges = map_ranges(lambda a, b: (a, b), 10_000, piece=10_000, min_piece=100)
    assert len(ranges) > 2
    assert ranges[0][0] == 0 and ranges[-1][1] == 10_000
    assert all(r[1] == s[0] for r, s in zip(ranges[:-1], ranges[1:], strict=True))
    assert all(b - a >= 100 for a, b in ranges)
    # Below min_piece per range, one thread, one range.
    assert map_ranges(lambda a, b: (a, b), 150, piece=150, min_piece=100) == [(0, 150)]


def test_together_runs_the_calls_side_by_side_and_keeps_their_order(monkeypatch):
    import threading

    monkeypatch.setenv("NMGEO_THREADS", "2")
    # Each call waits for the other: they can only both return if they run at once.
    meet = threading.Barrier(3, timeout=10)

    def call(value):
        def run():
            meet.wait()
            return value, threading.get_ident()

        return run

    (a, first_thread), (b, _), (c, _) = together(call("a"), call("b"), call("c"))
    assert (a, b, c) == ("a", "b", "c")
    assert first_thread == threading.get_ident()  # the first call runs in the caller


def test_together_with_one_thread_runs_in_order_in_the_caller(monkeypatch):
    import threading

    monkeypatch.setenv("NMGEO_THREADS", "1")
    seen = []

    def call(k):
        return lambda: seen.append((k, threading.get_ident())) or k

    assert together(call(1), call(2), call(3)) == [1, 2, 3]
    assert seen == [(k, threading.get_ident()) for k in (1, 2, 3)]


def test_together_raises_the_error_of_a_call(monkeypatch):
    monkeypatch.setenv("NMGEO_THREADS", "2")

    def fail():
        raise ValueError("bad lot")

    with pytest.raises(ValueError, match="bad lot"):
        together(lambda: 1, fail)
