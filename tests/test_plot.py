"""plot_packages: a static package map with a scale, a north arrow and grid kilometres."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.image import imread  # noqa: E402
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # noqa: E402
from shapely.geometry import box  # noqa: E402

import nmgeo  # noqa: E402
from nmgeo.errors import InputError, SchemaError  # noqa: E402
from nmgeo.plot import nice_length, plot_packages  # noqa: E402

X0, Y0 = 826_000.0, 840_000.0  # San Tin


def _box(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture
def parcels() -> gpd.GeoDataFrame:
    lots = [
        ("c1", "commercial", (0, 0, 150, 150)),
        ("c2", "commercial", (150, 0, 300, 150)),
        ("g1", "public_facility", (0, 160, 150, 220)),
        ("c3", "commercial", (1000, 0, 1150, 150)),
        ("c4", "commercial", (1150, 0, 1300, 150)),
        ("small", "commercial", (2000, 2000, 2050, 2050)),  # below 2 ha: excluded
        ("v", "village", (500, 500, 600, 600)),
    ]
    return gpd.GeoDataFrame(
        {"parcel_id": [p for p, _, _ in lots], "land_use": [u for _, u, _ in lots]},
        geometry=[_box(*b) for _, _, b in lots],
        crs="EPSG:2326",
    )


@pytest.fixture
def result(parcels) -> nmgeo.PackageResult:
    return nmgeo.build_packages(parcels)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _size_bars(ax) -> list[AnchoredSizeBar]:
    return [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]


def test_numeric_colouring_draws_packages_with_a_colorbar(result):
    assert len(result.packages) == 2 and len(result.excluded) == 1
    ax = plot_packages(result, reference=False)
    fig = ax.figure
    # Packages and the excluded candidate are filled polygon collections.
    assert len(ax.collections) == 2
    assert len(fig.axes) == 2  # the map and its colour bar
    assert fig.axes[1].get_ylabel() == "area_ha (ha)"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["excluded candidate"]
    bars = _size_bars(ax)
    assert len(bars) == 1
    assert bars[0].txt_label.get_text().endswith(" km")
    arrows = [t for t in ax.texts if t.get_text() == "N"]
    assert len(arrows) == 1 and arrows[0].arrow_patch is not None
    assert ax.get_aspect() == 1.0
    assert "2 land disposal packages" in ax.get_title()


def test_ticks_are_hk1980_grid_kilometres(result):
    ax = plot_packages(result, reference=False)
    ax.figure.canvas.draw()
    xlabels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    ylabels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert xlabels and all(t.endswith(" km E") for t in xlabels)
    assert ylabels and all(t.endswith(" km N") for t in ylabels)
    # The labels are the tick positions in km: 826.5 km E is 826,500 m.
    for tick, label in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True):
        if label.get_text():
            assert float(label.get_text().split()[0]) * 1000 == pytest.approx(tick)
    lo, hi = ax.get_xlim()
    visible = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert visible and all(825_000 < t < 829_000 for t in visible)


def test_categorical_colouring_has_a_legend_entry_per_value(result):
    ax = plot_packages(result, color_by="package_id", reference=False, title="")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["package_id: P001", "package_id: P002", "excluded candidate"]
    assert len(ax.figure.axes) == 1  # no colour bar
    assert ax.get_title() == ""


def test_reference_layers_and_faint_parcels(result, parcels):
    plain = plot_packages(result, reference=False)
    n_plain = len(plain.collections)
    ax = plot_packages(result, parcels=parcels, reference=True)
    # + parcel outlines, NM outline, major-zone outlines, BCP and station markers in view.
    assert len(ax.collections) > n_plain + 2
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "NM outline (approx.)" in texts and "major zones" in texts
    assert any("rail station" in t for t in texts)  # San Tin is in the view
    assert any(isinstance(c, PathCollection) for c in ax.collections)
    # The view stays on the packages, not the whole NM.
    x0, x1 = ax.get_xlim()
    assert x1 - x0 < 5_000


def test_draws_on_given_axes_and_saves_a_png(result, tmp_path):
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    out = plot_packages(result, ax=ax)
    assert out is ax
    path = tmp_path / "packages.png"
    fig.savefig(path, dpi=100)
    assert path.stat().st_size > 0
    image = imread(path)
    assert image.shape[:2] == (400, 600)


def test_bad_arguments_are_clear_errors(result):
    with pytest.raises(SchemaError, match="no_such_column"):
        plot_packages(result, color_by="no_such_column")
    with pytest.raises(SchemaError, match="available"):
        plot_packages(result, color_by="geometry")
    with pytest.raises(InputError):
        plot_packages(result.packages)


@pytest.mark.parametrize(
    ("width", "expected"), [(1_000, 200), (3_000, 500), (12_000, 2_000), (33_000, 5_000)]
)
def test_scale_bar_length_is_round(width, expected):
    assert nice_length(width) == expected
