"""The PETSc backend (issue 14): one 3-D solve, serial vs 1 and 2 MPI processes.

    python benchmarks/bench_petsc.py                       # N = 64, 96, 128, 192
    python benchmarks/bench_petsc.py --sizes 48 64 --lu    # also PETSc LU (MUMPS)
    python benchmarks/bench_petsc.py --evolve --sizes 32 48 64 96 128   # fp.evolve instead

Problem (``_petsc_runner.py``): ``dx = -M x dt + sqrt(C) dB`` on ``N^3`` cells of
``[-4.5, 4.5]^3``, ``M`` rotating (non-gradient), ``C`` a full covariance (Selling
stencils); one Scharfetter-Gummel solve (``conductance="sg"``, no error estimate), L1
against the exact Gaussian. Every configuration is a fresh process (``mpiexec -n K`` for
PETSc) that reports its wall time and each process's peak resident memory
(``ru_maxrss``). From the largest run the script projects the memory of 512^3 on K
machines (per-cell cost of the busiest process times the cells per machine).
Runs are sequential: never two at a time on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "_petsc_runner.py")


def mpiexec(k: int) -> list[str]:
    root = ["--allow-run-as-root", "--oversubscribe"] if os.geteuid() == 0 else []
    return ["mpiexec", "-n", str(k), *root]


def run(cmd: list[str], timeout: float) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(lines[-1])


def run_all(n: int, configs: list[tuple[str, list[str]]], timeout: float) -> list[dict]:
    """Every configuration for ``N = n``, one after the other; one row each."""
    rows = []
    for name, cmd in configs:
        r = run(cmd, timeout)
        r.update(config=name, N=n)
        rows.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128, 192])
    ap.add_argument("--serial-max", type=int, default=128, help="largest N solved serially (scipy backend)")
    ap.add_argument("--lu", action="store_true", help="also PETSc LU (MUMPS): 3-D fill grows as N^2")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--evolve", action="store_true",
                    help="time fp.evolve (to t = 0.5, 2 from a Gaussian) instead of fp.stationary")
    ap.add_argument("--serial-max-evolve", type=int, default=128, help="largest N evolved serially")
    args = ap.parse_args()
    if args.evolve:
        evolve_table(args)
        return
    rows = []
    for n in args.sizes:
        configs = []
        if n <= args.serial_max:
            configs.append(("scipy (auto)", [sys.executable, RUNNER, str(n), "scipy", "auto"]))
        for k in (1, 2):
            configs.append((f"petsc amg, {k} proc", [*mpiexec(k), sys.executable, RUNNER, str(n), "petsc", "amg"]))
            if args.lu:
                configs.append((f"petsc lu, {k} proc", [*mpiexec(k), sys.executable, RUNNER, str(n), "petsc", "lu"]))
        rows += run_all(n, configs, args.timeout)
    table(rows, "one solve", ("L1", "certificate", "how"), lambda r: f"{r['certificate']:.1e}",
          lambda r: r["message"].split("; certified")[0][:70])
    two = [r for r in rows if "error" not in r and r["config"].startswith("petsc amg, 2")]
    if two:
        big = max(two, key=lambda r: r["N"])
        per_cell = max(big["rss_mb"]) / (big["N"] ** 3 / 2)   # MB per owned cell, busiest process
        print(f"\nMeasured at {big['N']}^3 on 2 processes: {per_cell * 1e6 / 1024:.2f} KB per cell on the busiest "
              "process (its slab, halo, matrix rows, AMG hierarchy and Python).")
        for machines in (1, 2, 4, 8, 16):
            gb = per_cell * 512 ** 3 / machines / 1024
            print(f"- 512^3 on {machines} machine(s), one process each: about {gb:.0f} GB per machine")


def evolve_table(args: argparse.Namespace) -> None:
    """fp.evolve serially and with 1 and 2 processes; one table."""
    rows = []
    for n in args.sizes:
        configs = [("scipy", [sys.executable, RUNNER, str(n), "scipy", "auto", "evolve"])] \
            if n <= args.serial_max_evolve else []
        configs += [(f"petsc, {k} proc", [*mpiexec(k), sys.executable, RUNNER, str(n), "petsc", "auto", "evolve"])
                    for k in (1, 2)]
        rows += run_all(n, configs, args.timeout)
    table(rows, "evolved from N((1, 0, -0.5), 0.3 I) to t = 0.5, 2 (TR-BDF2, default steps)",
          ("L1 at t = 2", "steps", "solves"), lambda r: str(r["steps"]),
          lambda r: r["message"].split("PETSc: ", 1)[-1][:90] or "SuperLU, one factor per step length")


def table(rows: list[dict], task: str, names: tuple[str, str, str], column: Any, how: Any) -> None:
    """One markdown table: a row per configuration; ``names`` of the L1, ``column`` and
    ``how`` columns, which ``column(r)`` and ``how(r)`` fill."""
    load = os.getloadavg()
    print(f"3-D rotating OU with a full covariance, {task}; 1-min load after the run {load[0]:.2f}\n")
    print(f"| N^3 | cells | configuration | time s | {names[0]} | {names[1]} | peak RSS per process (MB) | "
          f"{names[2]} |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['N']}^3 | {r['N'] ** 3:.2e} | {r['config']} | – | – | – | – | {r['error']} |")
            continue
        rss = " / ".join(f"{m:.0f}" for m in r["rss_mb"])
        print(f"| {r['N']}^3 | {r['N'] ** 3:.2e} | {r['config']} | {r['seconds']:.1f} | {r['l1']:.2e} | "
              f"{column(r)} | {rss} | {how(r)} |")


if __name__ == "__main__":
    main()
