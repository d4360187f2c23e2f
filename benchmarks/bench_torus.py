"""Ours vs fplanck 0.2.2 on the metastable torus (issue 13): accuracy in the shallow well.

Prints a Markdown table: for each N and code, the relative error of the shallow-well mass,
L1, ``max |log p - log p_exact|`` over the cells holding 1 - 1e-6 of the mass, and the
time of the stationary solve (build + solve, median of ``--repeats`` fresh processes).
See ``_torus_runner.py`` for the problem. fplanck runs in its own virtual environment
(``--fplanck-python``, default ``$FPLANCK_PYTHON`` or ``/work/venv-fplanck/bin/python``).

    python benchmarks/bench_torus.py                 # N = 64, 128, 256 at T = 0.1 (~2 min)
    python benchmarks/bench_torus.py --sizes 64 128 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import HERE, child_env, core_version, fmt_t, load_line  # noqa: E402

CODES = ("ours", "ours-structured", "fplanck")


def run(py, code, n, T, env):
    out = subprocess.run([py, os.path.join(HERE, "_torus_runner.py"), code, str(n), str(T)],
                         capture_output=True, text=True, env=env, timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return dict(code=code, N=n, T=T, error=(out.stderr.strip().splitlines() or ["no output"])[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--temperature", type=float, default=0.1)
    ap.add_argument("--codes", nargs="+", default=list(CODES), choices=CODES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fplanck-python", default=os.environ.get("FPLANCK_PYTHON", "/work/venv-fplanck/bin/python"))
    ap.add_argument("--blas-threads", type=int, default=None)
    a = ap.parse_args(argv)
    env = child_env(a.blas_threads)
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
