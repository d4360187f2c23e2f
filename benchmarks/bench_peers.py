"""Ours vs fplanck on the 2-D double well (issue 2 Performance, issue 5 benchmark (a)).

    python benchmarks/bench_peers.py            # N = 64, 128, 256, 512; median of 3
    python benchmarks/bench_peers.py --quick    # N = 64, 128; one run each

Problem (benchmarks/_problem.py): ``U = (x^2-1)^2 + y^2/2``, ``T = 0.5``, reflecting
walls, ``N x N`` cells on ``[-2.5, 2.5]^2``. Variants: ``force`` (``F = -grad U`` given
analytically), ``potential`` (``U`` given), ``rotational`` (``F = -(I - aJ) grad U``,
``a = 1``: non-gradient, same stationary density). ``L1 = h^2 sum |p - p_exact|``, with
``p_exact = exp(-U(x_i)/T) / Z`` and ``Z`` the cell-centre midpoint sum (both codes are
judged against the same discrete normalisation; the midpoint sum differs from the exact
integral by O(h^2) because the density is not negligible at y = +-2.5).

Every run is a fresh subprocess (fplanck in its own virtual environment, see
README.md) that reports build time, solve time, L1 and its own peak RSS
(``ru_maxrss``). Times are the median of ``--repeats`` runs (default 3; a
configuration whose first run takes longer than ``--cheap`` seconds is run once).
Runs are sequential: never two at a time on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VENV_PY = os.environ.get("FPLANCK_PYTHON", "/work/venv-fplanck/bin/python")


def run_child(python, script, n, variant, timeout):
    cmd = [python, os.path.join(HERE, script), str(n), variant]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            rec = json.loads(line[7:])
            rec["wall_s"] = wall
            return rec
    tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {out.returncode}: {tail[:200]}"}


def measure(python, script, n, variant, repeats, cheap, timeout):
    runs = []
    for k in range(repeats):
        rec = run_child(python, script, n, variant, timeout)
        runs.append(rec)
        if "error" in rec:
            break
        if k == 0 and rec["build_s"] + rec["solve_s"] > cheap:
            break
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1] | {"runs": len(runs)}
    out = dict(good[-1])
    for key in ("build_s", "solve_s", "peak_mb"):
        out[key] = statistics.median(r[key] for r in good)
    out["total_s"] = statistics.median(r["build_s"] + r["solve_s"] for r in good)
    out["runs"] = len(good)
    return out


def fmt_t(x):
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def table(results):
    rows = [
        "| N | code | variant | build s | solve s | total s | L1 | peak MB | runs | speedup vs fplanck (total) | build speedup | ours: cells/s built, method |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ref = {(r["N"], r["variant"]): r for r in results if r["code"] == "fplanck" and "error" not in r}
    for r in results:
        if "error" in r:
            rows.append(f"| {r['N']}^2 | {r['code']} | {r['variant']} | — | — | — | — | — | {r.get('runs', 1)} | "
                        f"failed: {r['error'][:120].replace('|', '/')} | | |")
            continue
        f = ref.get((r["N"], r["variant"]))
        sp = bsp = extra = ""
        if r["code"] == "ours":
            if f:
                sp = f"{f['total_s'] / r['total_s']:.1f}x"
                bsp = f"{f['build_s'] / r['build_s']:.1f}x"
            extra = f"{r['N']**2 / r['build_s'] / 1e6:.1f} M/s, {r.get('method', '?')}"
        rows.append(
            f"| {r['N']}^2 | {r['code']} | {r['variant']} | {fmt_t(r['build_s'])} | {fmt_t(r['solve_s'])} | "
            f"{fmt_t(r['total_s'])} | {r['L1']:.2e} | {r['peak_mb']:.0f} | {r['runs']} | {sp} | {bsp} | {extra} |"
        )
    return "\n".join(rows)


def targets(results):
    """Check the issue's targets at the largest N measured."""
    lines = []
    good = [r for r in results if "error" not in r]
    if not good:
        return "no results"
    nmax = max(r["N"] for r in good)
    by = {(r["code"], r["variant"], r["N"]): r for r in good}
    for v in ("force", "potential", "rotational"):
        o, f = by.get(("ours", v, nmax)), by.get(("fplanck", v, nmax))
        if not (o and f):
            continue
        need = 10.0 if v == "rotational" else 20.0
        sp = f["total_s"] / o["total_s"]
        ok_t = sp >= need
        ok_l = o["L1"] <= f["L1"] * (1 + 1e-9) or o["L1"] < 1e-12
        lines.append(
            f"- {nmax}^2 {v}: speedup {sp:.1f}x (target >= {need:.0f}x: "
            f"{'met' if ok_t else f'MISSED by {need / sp:.1f}x'}); L1 ours {o['L1']:.2e} vs fplanck "
            f"{f['L1']:.2e} ({'no worse' if ok_l else 'WORSE'})"
        )
    rates = [r["N"] ** 2 / r["build_s"] for r in good if r["code"] == "ours" and r["N"] == nmax]
    if rates:
        lo = min(rates)
        lines.append(
            f"- assembly at {nmax}^2: {lo / 1e6:.1f}-{max(rates) / 1e6:.1f} M cells/s (target >= 5: "
            f"{'met' if lo >= 5e6 else f'MISSED by {5e6 / lo:.1f}x at worst'})"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 64, 128, one run each")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--variants", nargs="+", default=["force", "potential", "rotational"])
    ap.add_argument("--codes", nargs="+", default=["fplanck", "ours"])
    ap.add_argument("--repeats", type=int, default=None, help="runs per configuration (median)")
    ap.add_argument("--cheap", type=float, default=60.0,
                    help="run once only if the first run's build+solve exceeds this (s)")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--fplanck-python", default=DEFAULT_VENV_PY)
    ap.add_argument("--json", default=None, help="also write the raw records here")
    a = ap.parse_args(argv)
    sizes = a.sizes or ([64, 128] if a.quick else [64, 128, 256, 512])
    repeats = a.repeats or (1 if a.quick else 3)

    if "fplanck" in a.codes and not os.path.exists(a.fplanck_python):
        print(f"fplanck python {a.fplanck_python!r} not found: see benchmarks/README.md; skipping fplanck",
              file=sys.stderr)
        a.codes = [c for c in a.codes if c != "fplanck"]

    results = []
    for n in sizes:
        for v in a.variants:
            for code in a.codes:
                py, script = ((a.fplanck_python, "_fplanck_runner.py") if code == "fplanck"
                              else (sys.executable, "_ours_runner.py"))
                rec = measure(py, script, n, v, repeats, a.cheap, a.timeout)
                rec.update(code=code, variant=v, N=n)
                results.append(rec)
                msg = rec.get("error") or (f"build {rec['build_s']:.3f} s, solve {rec['solve_s']:.3f} s, "
                                           f"L1 {rec['L1']:.2e}, {rec['peak_mb']:.0f} MB")
                print(f"[{time.strftime('%H:%M:%S')}] N={n} {code:8s} {v:10s} {msg}", file=sys.stderr, flush=True)

    print(f"Ours vs fplanck 0.2.2, 2-D double well, T = 0.5, [-2.5, 2.5]^2, reflecting "
          f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"median of up to {repeats} fresh-process runs, one run where the first took > {a.cheap:.0f} s; "
          f"'solve' for ours is fp.stationary, which re-assembles; speedup = fplanck total / ours total, same variant).\n")
    print(table(results))
    print()
    print(targets(results))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
