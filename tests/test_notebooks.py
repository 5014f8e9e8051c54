"""The tutorial notebooks: committed clean, and each runs top to bottom on the sample
(05 and 06 on the real North district extract in tests/data/north).

Each notebook is executed with nbclient in a fresh kernel whose working directory is a
temporary folder. The kernel is pinned to the Python running the tests (a ``python3``
kernelspec pointing at ``sys.executable`` is put first on ``JUPYTER_PATH``), so the
notebooks exercise the nmgeo installed here, not whatever Jupyter finds first.
Each notebook takes a few seconds; none is marked slow.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_quickstart.ipynb",
    "02_land_disposal_packages.ipynb",
    "03_proximity_and_phasing.ipynb",
    "04_bring_your_own_data.ipynb",
    "05_real_north_plans.ipynb",
    "06_capacity.ipynb",
    "07_scenarios.ipynb",
}


def test_the_tutorials_are_all_there():
    assert EXPECTED <= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}: code cell {index} has outputs; clear them"
        assert cell.execution_count is None, f"{path.name}: code cell {index} has a count"


@pytest.fixture
def this_python_kernel(tmp_path, monkeypatch):
    """Make the ``python3`` kernel run this interpreter (ipykernel installed here)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().get_kernel_spec("python3")
    assert found.argv[0] == sys.executable
    return "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, this_python_kernel):
    workdir = tmp_path / "run"
    workdir.mkdir()
    before = sorted(p.name for p in NOTEBOOK_DIR.iterdir())
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name=this_python_kernel,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    # outputs go to temporary folders, never next to the notebooks
    assert sorted(p.name for p in NOTEBOOK_DIR.iterdir()) == before
