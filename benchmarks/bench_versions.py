"""The default ``fp.stationary`` before and after a change: two source trees, the same
configurations, one fresh process each, back to back (``_versions_runner.py``).

Usage::

    git worktree add /tmp/before <commit>
    python benchmarks/bench_versions.py /tmp/before . [--configs "rotational2d 512 1" ...]

Prints a Markdown table: time, method, peak memory and L1 against the exact density for
each tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
CONFIGS = ["rotational2d 256 0", "rotational2d 256 1", "rotational2d 512 0", "rotational2d 512 1",
           "torus2d 256 0", "torus2d 512 0", "fullcov3d 32 0", "fullcov3d 48 0", "meta3d 24 0",
           "rotational3d 32 0", "rotational3d 64 0", "rotational2d 1024 0"]


def run(tree: str, config: str, timeout: float) -> dict | None:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    try:
        out = subprocess.run([sys.executable, str(HERE / "_versions_runner.py"), *config.split()], env=env,
                             capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[-1][7:]) if lines else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--configs", nargs="*", default=CONFIGS)
    ap.add_argument("--timeout", type=float, default=400)
    a = ap.parse_args(argv)
    print("| problem | N | est | before s (MB) | after s (MB) | L1 before | L1 after |")
    print("|---|---|---|---|---|---|---|")
    for config in a.configs:
        rows = [run(tree, config, a.timeout) for tree in (a.before, a.after)]
        cells = [f"{r['seconds']} ({r['peak_mb']}), {r['method']}" if r else "timeout/failed" for r in rows]
        l1 = [f"{r['L1']:.6e}" if r and r["L1"] is not None else "-" for r in rows]
        name, n, est = config.split()
        print(f"| {name} | {n} | {est} | {cells[0]} | {cells[1]} | {l1[0]} | {l1[1]} |", flush=True)


if __name__ == "__main__":
    main()
