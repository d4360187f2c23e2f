"""Ours vs fplanck 0.2.2 on the metastable torus (issue 13): accuracy in the shallow well.

Prints a Markdown table: for each N and code, the relative error of the shallow-well mass,
L1, ``max |log p - log p_exact|`` over the cells holding 1 - 1e-6 of the mass, and the
time of the stationary solve (build + solve, median of ``--repeats`` fresh processes).
See ``_torus_runner.py`` for the problem. fplanck runs in its own virtual environment
(``--fplanck-python``, default ``$FPLANCK_PYTHON`` or ``/work/venv-fplanck/bin/python``).

    python benchmarks/bench_torus.py                 # N = 64, 128, 256 at T = 0.1 (~2 min)
    python benchmarks/bench_torus.py --sizes 64 128 --repeats 1
    python benchmarks/bench_torus.py --weights      # the weight candidates over the problem set (~5 min)

``--weights`` compares the conductances of the two-point flux (``_weights_runner.py``:
Scharfetter–Gummel (the generator's default), the flattened conductance, the per-edge split
conductance from the Hodge split, and from the density at its fixed point: what
``fp.stationary`` uses) on the torus
at T = 0.1 (rotation 0.5, 1, 2) and 0.05, rotating Ornstein–Uhlenbeck processes
(eigenvalues against the closed form), a gradient OU and a high-Peclet 1-D tilted ring.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import HERE, child_env, core_version, fmt_t, load_line

CODES = ("ours", "ours-structured", "fplanck")
#: (problem, sizes, args) of ``--weights``; args as ``_weights_runner.py`` takes them
PROBLEM_SET = (
    ("torus", (64, 128, 256), (0.1, 1.0)), ("torus", (64, 128), (0.1, 0.5)), ("torus", (64, 128), (0.1, 2.0)),
    ("torus", (128, 256), (0.05, 1.0)),
    ("ou", (48, 96), (3.0,)), ("ou", (48, 96), (10.0,)), ("ou", (48, 96), (0.0,)),
    ("ring", (64, 128, 256), (0.02, 1.5)),
)
WEIGHTS = ("sg", "flat", "split", "density")


def weights_table(env, candidates=WEIGHTS):
    """One row per problem and size, one column group per candidate conductance."""
    print("| problem | N | quantity | " + " | ".join(candidates) + " |")
    print("|---|---|---|" + "---|" * len(candidates))
    for problem, sizes, args in PROBLEM_SET:
        for n in sizes:
            recs = {}
            for w in candidates:
                out = subprocess.run([sys.executable, os.path.join(HERE, "_weights_runner.py"), problem, str(n), w,
                                      *map(str, args)], check=False, capture_output=True, text=True, env=env, timeout=3600)
                line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
                recs[w] = json.loads(line[0][7:]) if line else {}
            keys = [k for k in ("mass", "L1", "logerr", "eig1", "eig2") if k in recs[candidates[0]]]
            for k in keys:
                vals = " | ".join(f"{recs[w].get(k, float('nan')):.2e}" for w in candidates)
                print(f"| {problem} {' '.join(map(str, args))} | {n} | {k} | {vals} |", flush=True)


def run(py, code, n, T, env):
    out = subprocess.run([py, os.path.join(HERE, "_torus_runner.py"), code, str(n), str(T)],
                         check=False, capture_output=True, text=True, env=env, timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"code": code, "N": n, "T": T, "error": (out.stderr.strip().splitlines() or ["no output"])[-1]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--temperature", type=float, default=0.1)
    ap.add_argument("--codes", nargs="+", default=list(CODES), choices=CODES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fplanck-python", default=os.environ.get("FPLANCK_PYTHON", "/work/venv-fplanck/bin/python"))
    ap.add_argument("--blas-threads", type=int, default=None)
    ap.add_argument("--weights", action="store_true", help="the weight candidates over the problem set")
    ap.add_argument("--candidates", nargs="+", default=list(WEIGHTS), choices=WEIGHTS)
    a = ap.parse_args(argv)
    env = child_env(a.blas_threads)
    if a.weights:
        print(f"Two-point weights over the problem set; fokkerplanck {core_version()}; {load_line()}\n")
        weights_table(env, tuple(a.candidates))
        return
    print(f"Metastable torus, T = {a.temperature}; fokkerplanck {core_version()}; {load_line()}\n")
    print("| N | code | shallow-well mass err | L1 | max abs log err | time (s) | method |")
    print("|---|---|---|---|---|---|---|")
    for n in a.sizes:
        for code in a.codes:
            py = a.fplanck_python if code == "fplanck" else sys.executable
            if code == "fplanck" and not os.path.exists(py):
                print(f"| {n} | fplanck | (no fplanck python at {py}: see README) | | | | |")
                continue
            recs = [run(py, code, n, a.temperature, env) for _ in range(a.repeats)]
            ok = [r for r in recs if "error" not in r]
            if not ok:
                print(f"| {n} | {code} | error: {recs[0]['error']} | | | | |")
                continue
            r = ok[0]
            t = statistics.median(x["total_s"] for x in ok)
            print(f"| {n} | {code} | {r['mass']:.2e} | {r['L1']:.2e} | {r['logerr']:.2e} | {fmt_t(t)} | {r['method']} |",
                  flush=True)


if __name__ == "__main__":
    main()
