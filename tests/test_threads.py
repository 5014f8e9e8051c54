"""Threaded shapely calls give exactly what one call gives."""

import numpy as np
import pytest
import shapely

from nmgeo._threads import MIN_PARALLEL, map_chunks, n_threads


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
