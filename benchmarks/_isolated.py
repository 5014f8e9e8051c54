"""Run one benchmark method in a fresh process, so its peak RSS is its own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
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
