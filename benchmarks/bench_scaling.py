"""Scaling of fokkerplanck alone (issue 5, benchmark (c)).

    python benchmarks/bench_scaling.py                 # langevin and rotational, all sizes
    python benchmarks/bench_scaling.py --quick         # small sizes only
    python benchmarks/bench_scaling.py --variants langevin --dims 3

Problem (benchmarks/_scaling_runner.py): N^D cells on [-2.5, 2.5]^D, reflecting,
``L = (x_0^2 - 1)^2 + sum_{k>=1} x_k^2 / 2``, isotropic noise sigma = 1.
``langevin`` is ``fp.langevin(L, 1.0, grad)`` (detailed balance holds);
``rotational`` adds the non-gradient part ``a J grad L`` (a = 1, axes 0-1, D >= 2),
which has the same stationary density but forces a real linear solve.

Sizes: 1-D 1e3..1e6 cells, 2-D 64^2..1024^2, 3-D 16^3..128^3. Each configuration is one
fresh subprocess (one run; cheap ones, under ``--cheap`` s, are the median of 3). A
configuration is abandoned after ``--limit`` seconds (default 120) and the larger sizes
of that dimension and variant are then skipped; the table says so.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import HERE, child_env, core_version, fmt_t  # noqa: E402

BLAS_THREADS = None  # set by --blas-threads



SIZES = {1: [1000, 10_000, 100_000, 1_000_000], 2: [64, 128, 256, 512, 1024], 3: [16, 32, 64, 96, 128]}
QUICK = {1: [1000, 10_000, 100_000], 2: [64, 128, 256], 3: [16, 32]}


def run_child(d, n, variant, limit):
    cmd = [sys.executable, os.path.join(HERE, "_scaling_runner.py"), str(d), str(n), variant]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(BLAS_THREADS), timeout=limit + 15)
    except subprocess.TimeoutExpired:
        return {"error": f"> {limit:.0f} s (killed)", "timeout": True}
    wall = time.perf_counter() - t0
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            rec = json.loads(line[7:])
            rec["wall_s"] = wall
            if "error" not in rec and rec["build_s"] + rec["solve_s"] > limit:
                rec["over_limit"] = True
            return rec
    tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {out.returncode}: {tail[:200]}"}


def measure(d, n, variant, limit, cheap, repeats):
    runs = [run_child(d, n, variant, limit)]
    if "error" not in runs[0] and runs[0]["build_s"] + runs[0]["solve_s"] < cheap:
        runs += [run_child(d, n, variant, limit) for _ in range(repeats - 1)]
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    out = dict(good[-1])
    for key in ("build_s", "solve_s", "peak_mb"):
        out[key] = statistics.median(r[key] for r in good)
    out["runs"] = len(good)
    return out



def table(results):
    rows = ["| D | variant | N | cells | assembly s | M cells/s (assembly) | solve s | total s | us/cell (total) | method | residual | L1 | peak MB | runs (load) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        size = f"{r['N']}^{r['D']}" if r["D"] > 1 else f"{r['N']}"
        cells = r["N"] ** r["D"]
        if r.get("skipped"):
            rows.append(f"| {r['D']} | {r['variant']} | {size} | {cells:.2e} | skipped: {r['skipped']} |||||||||")
            continue
        if "error" in r:
            rows.append(f"| {r['D']} | {r['variant']} | {size} | {cells:.2e} | failed: {r['error'][:120].replace('|', '/')} |||||||||")
            continue
        tot = r["build_s"] + r["solve_s"]
        note = " (over limit)" if r.get("over_limit") else ""
        rows.append(
            f"| {r['D']} | {r['variant']} | {size} | {cells:.2e} | {fmt_t(r['build_s'])} | {cells / r['build_s'] / 1e6:.1f} | "
            f"{fmt_t(r['solve_s'])} | {fmt_t(tot)}{note} | {tot / cells * 1e6:.2f} | {r['method']} | {r['residual']:.1e} | "
            f"{r['L1']:.1e} | {r['peak_mb']:.0f} | {r['runs']} ({r.get('load', float('nan')):.1f}) |")
    return "\n".join(rows)


def targets(results):
    """Issue 5 targets: 2-D 1024^2 <= 10 s, 3-D 128^3 <= 60 s, peak memory <= 4 GB."""
    lines = []
    for d, n, limit in ((2, 1024, 10.0), (3, 128, 60.0)):
        for r in results:
            if r["D"] != d or r["N"] != n:
                continue
            if "error" in r or r.get("skipped"):
                lines.append(f"- {n}^{d} {r['variant']}: not measured ({r.get('error') or r.get('skipped')}): target {limit:.0f} s MISSED")
                continue
            tot, sol = r["build_s"] + r["solve_s"], r["solve_s"]
            verdict = "met" if tot <= limit else f"MISSED by a factor {tot / limit:.2f}"
            lines.append(f"- {n}^{d} {r['variant']}: build + solve {tot:.1f} s (fp.stationary alone {sol:.1f} s); "
                         f"target <= {limit:.0f} s: {verdict}")
    peak = max((r["peak_mb"] for r in results if "peak_mb" in r), default=float("nan"))
    lines.append(f"- peak memory over all configurations: {peak:.0f} MB (target <= 4096 MB: "
                 f"{'met' if peak <= 4096 else 'MISSED'})")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dims", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--variants", nargs="+", default=["langevin", "rotational"])
    ap.add_argument("--limit", type=float, default=120.0, help="seconds per configuration before skipping")
    ap.add_argument("--cheap", type=float, default=5.0, help="median of --repeats below this many seconds")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="set OPENBLAS/OMP/MKL_NUM_THREADS in every child (default: leave the environment)")
    ap.add_argument("--json", default=None, help="also write the raw records here")
    ap.add_argument("--from-json", default=None, help="only print the tables of an earlier --json run")
    a = ap.parse_args(argv)
    global BLAS_THREADS
    BLAS_THREADS = a.blas_threads
    sizes = QUICK if a.quick else SIZES
    if a.from_json:
        with open(a.from_json) as fh:
            results = json.load(fh)
        print(table(results))
        print()
        print(targets(results))
        return
    results = []
    for variant in a.variants:
        for d in a.dims:
            if variant == "rotational" and d < 2:
                continue
            stop = None
            for n in sizes[d]:
                if stop:
                    results.append({"D": d, "N": n, "variant": variant, "skipped": stop})
                    continue
                rec = measure(d, n, variant, a.limit, a.cheap, a.repeats)
                rec.update(D=d, N=n, variant=variant)
                results.append(rec)
                msg = rec.get("error") or (f"build {rec['build_s']:.3f} s, solve {rec['solve_s']:.3f} s, "
                                           f"{rec['method']}, L1 {rec['L1']:.1e}, {rec['peak_mb']:.0f} MB")
                rec["load"] = os.getloadavg()[0]
                print(f"[{time.strftime('%H:%M:%S')}] D={d} N={n} {variant}: {msg}", file=sys.stderr, flush=True)
                if rec.get("timeout") or rec.get("over_limit"):
                    stop = f"previous size took > {a.limit:.0f} s"
    print(f"Scaling of fokkerplanck ({platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}); one fresh process per configuration, median of "
          f"{a.repeats} where build + solve < {a.cheap:.0f} s; 'solve' = fp.stationary (re-assembles); "
          f"fokkerplanck at commit {core_version()}; "
          f"BLAS threads: {BLAS_THREADS or 'environment default'}; skip limit {a.limit:.0f} s).\n")
    print(table(results))
    print()
    print(targets(results))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
