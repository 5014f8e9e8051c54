"""Run one benchmark method in a fresh process, so its peak RSS is its own."""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def child(methods: dict[str, Callable[[str], dict]], method: str, path: str) -> None:
    """In the child process: run ``methods[method](path)`` and print its result as JSON."""
    out = methods[method](path)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def measure(script: str, method: str, path: Path) -> dict:
    """Run ``script --child METHOD PATH`` in a fresh interpreter and return its JSON result."""
    proc = subprocess.run(
        [sys.executable, script, "--child", method, str(path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{method} run on {path} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    """Combine repeated runs: the median time of every stage and of the total, the largest
    peak RSS, the other fields of the first run, and ``spread`` = (min, max) total."""
    import statistics

    totals = [sum(r["times"].values()) for r in runs]
    out = dict(runs[0])
    out["times"] = {
        stage: statistics.median(r["times"][stage] for r in runs) for stage in runs[0]["times"]
    }
    out["total"] = statistics.median(totals)
    out["spread"] = (min(totals), max(totals))
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return out


# The code and data that make the cached layers: a cache made by other versions is not reused.
_GENERATOR_FILES = ("_synth.py", "datasets.py", "io.py", "_validate.py", "zoning.py")


def generator_key() -> str:
    """A short hash of nmgeo's synthetic generator and readers, naming the cache folder."""
    import nmgeo

    root = Path(nmgeo.__file__).parent
    files = [root / name for name in _GENERATOR_FILES] + sorted((root / "data").glob("*"))
    digest = hashlib.sha1()
    for path in files:
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def cache_option(parser: argparse.ArgumentParser, name: str = "nmgeo-bench") -> None:
    """``--cache``: the folder for generated layers (a sub-folder per generator version)."""
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / name,
        help="folder for generated layers; each generator version gets its own sub-folder",
    )


def cache_folder(cache: Path) -> Path:
    """The sub-folder of ``cache`` for this generator version, created."""
    folder = cache / generator_key()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def parse(
    parser: argparse.ArgumentParser, methods: dict[str, Callable[[str], dict]]
) -> argparse.Namespace | None:
    """Add the options every benchmark shares (``--seed``, ``--cache``, the hidden
    ``--child``) and parse; in a child process run its method and return None."""
    parser.add_argument("--seed", type=int, default=1)
    cache_option(parser)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(methods, *args.child)
        return None
    args.cache = cache_folder(args.cache)
    return args
