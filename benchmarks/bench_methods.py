"""Time against size for every stationary method, with fitted exponents (issue 12).

    python benchmarks/bench_methods.py                  # all problems and sizes (~15 min quiet)
    python benchmarks/bench_methods.py --quick          # small sizes (~1 min)
    python benchmarks/bench_methods.py --problems torus2d --methods gth lu
    python benchmarks/bench_methods.py --from-json FILE # print the tables again

Problems and their exact densities: see ``benchmarks/_methods_runner.py`` (2-D rotational
drift with reflecting walls, the periodic metastable torus at ``T = 0.1``, and a 3-D
non-gradient drift with a full constant covariance). Each (problem, method) runs in one
fresh process over increasing sizes; a size is repeated ``--repeats`` times (median
reported; once when the first run takes over 10 s) in its own process, and the larger sizes of a method are skipped once one takes
more than ``--limit`` seconds.

For each problem the table gives the wall time of ``fp.stationary(..., method=m,
error_estimate=False)`` (assembly included) per size, the fitted exponent ``t ~ N^k``
(least squares over the sizes that took more than 0.05 s), the ``O(N)`` line through the
fastest method's smallest timed size, and each method's time relative to LU at the same
size. ``*`` marks an answer that was not certified, ``->gth`` a method that fell back to
GTH (stall or failed certificate).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
from _harness import HERE, core_version, fmt_t, load_line

SIZES = {"rotational2d": [64, 128, 256, 512], "torus2d": [64, 128, 256, 512],
         "fullcov3d": [16, 24, 32, 48, 64]}
QUICK = {"rotational2d": [64, 128], "torus2d": [64, 128], "fullcov3d": [12, 16]}
METHODS = ("gth", "lu", "amg")


def run(problem: str, method: str, n: int, limit: float) -> dict:
    env = dict(os.environ, FP_BENCH_LIMIT=str(limit))
    cmd = [sys.executable, os.path.join(HERE, "_methods_runner.py"), problem, method, str(n)]
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env,
                             timeout=4 * limit + 60)
    except subprocess.TimeoutExpired:
        return {"problem": problem, "method": method, "N": n, "error": "killed (timeout)"}
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
    return {"problem": problem, "method": method, "N": n, "error": f"exit {out.returncode}: {tail[:150]}"}


def measure(problems, methods, sizes, repeats, limit):
    records = []
    for problem in problems:
        for method in methods:
            for n in sizes[problem]:
                runs = []
                for _ in range(repeats):
                    rec = run(problem, method, n, limit)
                    runs.append(rec)
                    if "error" in rec or rec["seconds"] > min(limit, 10.0):
                        break   # one run of a slow configuration
                ok = [r for r in runs if "error" not in r]
                rec = dict(ok[0] if ok else runs[0])
                if ok:
                    rec["seconds"] = statistics.median(r["seconds"] for r in ok)
                    rec["runs"] = len(ok)
                records.append(rec)
                print(json.dumps(rec), file=sys.stderr, flush=True)
                if "error" in rec or rec["seconds"] > limit:
                    break
    return records


def exponent(cells, secs):
    pts = [(c, s) for c, s in zip(cells, secs) if s is not None and s > 0.05]
    if len(pts) < 2:
        return None
    x, y = np.log([c for c, _ in pts]), np.log([s for _, s in pts])
    return float(np.polyfit(x, y, 1)[0])


def table(records, problem):
    recs = [r for r in records if r["problem"] == problem]
    methods = [m for m in METHODS if any(r["method"] == m for r in recs)]
    sizes = sorted({r["N"] for r in recs})
    get = {(r["method"], r["N"]): r for r in recs}
    cells = {r["N"]: r.get("cells", r["N"]) for r in recs}
    # the O(N) line through the fastest method at the smallest size timed by all
    base_n = sizes[0]
    base = min((get[(m, base_n)]["seconds"] for m in methods if "seconds" in get.get((m, base_n), {})), default=None)
    head = ["N", "cells"] + [f"{m} s" for m in methods] + ["O(N) line s"] + [f"{m}/lu" for m in methods if m != "lu"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in sizes:
        row = [f"{n}", f"{cells[n]:.2e}"]
        for m in methods:
            r = get.get((m, n))
            if r is None:
                row.append("skipped")
            elif "error" in r:
                row.append(r["error"][:40])
            else:
                flag = ("" if r.get("certified", True) else "*") + ("" if r.get("used") == m else f" ->{r.get('used')}")
                row.append(f"{fmt_t(r['seconds'])}{flag} (L1 {r['L1']:.1e}, {r['peak_mb']:.0f} MB)")
        row.append(fmt_t(base * cells[n] / cells[base_n]) if base else "—")
        lu = get.get(("lu", n), {}).get("seconds")
        for m in methods:
            if m != "lu":
                t = get.get((m, n), {}).get("seconds")
                row.append(f"{t / lu:.2f}" if t and lu else "—")
        lines.append("| " + " | ".join(row) + " |")
    ks = []
    for m in methods:
        k = exponent([cells[n] for n in sizes], [get.get((m, n), {}).get("seconds") for n in sizes])
        ks.append(f"{m}: N^{k:.2f}" if k is not None else f"{m}: —")
    lines.append("")
    lines.append("Fitted exponents (t ~ N^k, sizes over 0.05 s): " + ", ".join(ks) + "; the O(N) line is N^1.00.")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--json")
    ap.add_argument("--from-json")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as fh:
            data = json.load(fh)
        records, header = data["records"], data["header"]
    else:
        header = f"commit {core_version()}; {load_line()}"
        records = measure(args.problems, args.methods, QUICK if args.quick else SIZES,
                          1 if args.quick else args.repeats, args.limit)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"header": header, "records": records}, fh, indent=1)
    print(header + "\n")
    for problem in dict.fromkeys(r["problem"] for r in records):
        print(f"### {problem}\n\n{table(records, problem)}\n")


if __name__ == "__main__":
    main()
