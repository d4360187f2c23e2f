"""Transient solves: fp.evolve time per step vs scipy's expm_multiply (issue 5 benchmark (d)).

    python benchmarks/bench_evolve.py            # N = 128, 256, 512
    python benchmarks/bench_evolve.py --quick    # N = 128, 256
    python benchmarks/bench_evolve.py --sizes 128 256 512 1024

Problem: 2-D double well ``U = (x^2 - 1)^2 + y^2/2``, ``T = 0.5``, Langevin
``dx = -grad U dt + dB`` on ``[-2.5, 2.5]^2`` with reflecting walls, ``N x N`` cells,
from the Gaussian ``p0 = N((0.5, 0.5), 0.05 I)`` (``fp.gaussian``) to ``t = 1``.

For each ``N``:

* the generator ``A`` is assembled once (``fp.generator``; time reported) and passed
  to every solver, so the rows time the time integration only;
* **reference**: ``scipy.sparse.linalg.expm_multiply(A, p0)`` (exact in time to about
  double precision: its internal tolerance is 2^-53); its wall time is the
  ``expm_multiply`` column;
* **backward Euler** and **TR-BDF2** through ``fp.evolve(..., method=m, dt=1/steps,
  generator=A)``, at the number of equal steps that brings the L1 error at ``t = 1``
  (``h^2 sum |p - p_ref|``) below each target (1e-3 and 1e-5): a pilot run gives the
  error constant ``C`` of ``e = C dt^q`` (q = 1, 2), the step count follows, and the
  run is repeated with more steps if it misses the target. Backward Euler at 1e-5
  would need ~1e4-1e5 steps; that row is *estimated* (factorization + steps x
  measured time per step) and marked so;
* **factorization**: the sparse LU of ``I - c A`` that fp.evolve computes once per run
  (``fokkerplanck._util.linalg.factorize``: SuperLU with ``MMD_AT_PLUS_A``; ``c = dt`` for
  backward Euler, ``c = gamma dt / 2`` for TR-BDF2), timed on its own;
  **per step**: "direct" is the median of 10 steps written exactly as fp.evolve's loop
  (a backward Euler step is one pair of triangular solves, a TR-BDF2 step two pairs
  and one product with A); "in run" is (fp.evolve wall time - factorization) / steps,
  which also carries fp.evolve's fixed overhead (input checks, output);
* ``fp.evolve(method="auto")`` with its default ``rtol = 1e-4`` (no ``dt``): what the
  package picks on its own, and the error it reaches.

Times are medians of 3 for runs under 2 s, else one run; the load average is printed
with the table (2-core machine shared with other jobs).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import sys
import time
import warnings

import numpy as np
import scipy
import scipy.sparse
import scipy.sparse.linalg

import fokkerplanck as fp
from fokkerplanck._util.linalg import factorize as _lu
from fokkerplanck._solvers.evolve import GAMMA

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import load_line, median_time  # noqa: E402

T_END = 1.0
TARGETS = (1e-3, 1e-5)
MEAN, COV = (0.5, 0.5), 0.05




def problem(n):
    U = lambda x: (x[..., 0] ** 2 - 1.0) ** 2 + 0.5 * x[..., 1] ** 2
    grad = lambda x: np.stack([4.0 * x[..., 0] * (x[..., 0] ** 2 - 1.0), x[..., 1]], axis=-1)
    sde = fp.langevin(U, 1.0, grad=grad)  # T = sigma^2 / 2 = 0.5
    grid = fp.Grid(bounds=[(-2.5, 2.5)] * 2, shape=n, boundary="reflecting")
    p0 = fp.gaussian(grid, MEAN, COV)
    return sde, grid, p0


def run_method(sde, grid, p0, A, ref, method, steps):
    dt = T_END / steps

    def go():
        return fp.evolve(sde, grid, p0, [0.0, T_END], method=method, dt=dt, generator=A)

    t, nrun, ev = median_time(go)
    l1 = float(grid.cell_volume * np.abs(ev.density[-1].ravel() - ref).sum())
    return t, nrun, l1, ev


def factor_time(A, method, dt):
    c = 0.5 * GAMMA * dt if method == "tr-bdf2" else dt
    M = scipy.sparse.identity(A.shape[0], format="csc") - c * scipy.sparse.csc_matrix(A)
    t, nrun, lu = median_time(lambda: _lu(M))
    fill = lu.L.nnz + lu.U.nnz
    return t, fill, lu


def step_time(A, lu, method, dt, v0, reps=10):
    """Median wall time of one step, written exactly as fp.evolve's loop does it."""
    c = 0.5 * GAMMA * dt
    c_old = (1.0 - GAMMA) ** 2 / (GAMMA * (2.0 - GAMMA))
    c_star = 1.0 / (GAMMA * (2.0 - GAMMA))
    v = v0.copy()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        if method == "backward_euler":
            v = lu.solve(v)
        else:
            star = lu.solve(v + c * (A @ v))
            v = lu.solve(c_star * star - c_old * v)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_size(n, targets):
    sde, grid, p0 = problem(n)
    t_asm, _, A = median_time(lambda: fp.generator(sde, grid))
    A = scipy.sparse.csc_matrix(A)
    v0 = p0.ravel()
    t_expm, n_expm, ref = median_time(lambda: scipy.sparse.linalg.expm_multiply(T_END * A, v0))
    rows = []
    info = dict(n=n, cells=grid.size, t_asm=t_asm, t_expm=t_expm, n_expm=n_expm,
                norm1=float(abs(A).sum(axis=0).max()))
    for method, q, pilot_steps in (("backward_euler", 1, 20), ("tr-bdf2", 2, 10)):
        t_p, _, e_p, _ = run_method(sde, grid, p0, A, ref, method, pilot_steps)
        C = e_p / (T_END / pilot_steps) ** q
        t_fac, fill, lu = factor_time(A, method, T_END / pilot_steps)
        per_step = step_time(A, lu, method, T_END / pilot_steps, v0)
        del lu
        for target in targets:
            steps = max(1, math.ceil(T_END / (target / (1.2 * C)) ** (1.0 / q)))
            if steps > 3000:  # estimate instead of running
                rows.append(dict(method=method, target=target, steps=steps, dt=T_END / steps,
                                 t_fac=t_fac, per_step=per_step, per_step_run=None,
                                 total=t_fac + steps * per_step,
                                 l1=C * (T_END / steps) ** q, estimated=True, nrun=0, fill=fill))
                continue
            for _ in range(4):
                t, nrun, l1, ev = run_method(sde, grid, p0, A, ref, method, steps)
                if l1 <= target:
                    break
                steps = math.ceil(steps * 1.1 * (l1 / target) ** (1.0 / q))
            t_fac, fill, lu = factor_time(A, method, T_END / steps)
            del lu
            rows.append(dict(method=method, target=target, steps=steps, dt=T_END / steps,
                             t_fac=t_fac, per_step=per_step, per_step_run=max(t - t_fac, 0.0) / steps,
                             total=t, l1=l1, estimated=False, nrun=nrun, fill=fill))
    # what the package chooses on its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        t_auto, n_auto, ev = median_time(lambda: fp.evolve(sde, grid, p0, [0.0, T_END], generator=A))
    l1_auto = float(grid.cell_volume * np.abs(ev.density[-1].ravel() - ref).sum())
    info["auto"] = dict(method=ev.method, steps=ev.n_steps, dt=ev.dt, total=t_auto, l1=l1_auto, nrun=n_auto)
    return info, rows


def fmt_runs(k):
    return "" if k <= 1 else f" (med. {k})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 128, 256 only")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    args = ap.parse_args(argv)
    sizes = args.sizes or ((128, 256) if args.quick else (128, 256, 512))
    t_start = time.perf_counter()
    print(f"# bench_evolve — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python "
          f"{platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}\n")
    load0 = load_line()
    results = []
    for n in sizes:
        info, rows = bench_size(n, TARGETS)
        results.append((info, rows))
        print(f"  [{time.perf_counter() - t_start:6.1f} s] N={n}: expm {info['t_expm']:.2f} s, "
              + ", ".join(f"{r['method']}@{r['target']:g}: {r['total']:.2f} s" for r in rows),
              file=sys.stderr, flush=True)
    load1 = load_line()
    print("### fp.evolve (backward Euler, TR-BDF2) vs scipy expm_multiply: 2-D double well from "
          f"N({MEAN}, {COV} I), t = {T_END:g}\n")
    print(f"At start: {load0}  \nAt end: {load1}\n")
    print("| N^2 | cells | assembly (s) | ||A||_1 | method | target L1 | steps (dt) | LU factorization (s) | LU fill nnz(L+U) | per step (ms): direct / in run | total (s) | L1 vs expm | expm_multiply (s) | speed-up vs expm |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for info, rows in results:
        head = f"| {info['n']}^2 | {info['cells']} | {info['t_asm']:.3f} | {info['norm1']:.3g} "
        for r in rows:
            est = " **estimated**" if r["estimated"] else fmt_runs(r["nrun"])
            in_run = "–" if r["per_step_run"] is None else f"{1e3 * r['per_step_run']:.2f}"
            print(head + f"| {r['method']} | {r['target']:.0e} | {r['steps']} ({r['dt']:.3g}) | {r['t_fac']:.3f} | "
                  f"{r['fill']:.3g} | {1e3 * r['per_step']:.2f} / {in_run} | {r['total']:.2f}{est} | "
                  f"{r['l1']:.2e}{' (est.)' if r['estimated'] else ''} | {info['t_expm']:.2f}{fmt_runs(info['n_expm'])} | "
                  f"{info['t_expm'] / r['total']:.2f}x |")
        a = info["auto"]
        steps = "–" if a["method"] == "expm" else f"{a['steps']} ({a['dt']:.3g})"
        print(head + f"| fp.evolve auto (rtol 1e-4) → {a['method']} | – | {steps} | – | – | – | "
              f"{a['total']:.2f}{fmt_runs(a['nrun'])} | {a['l1']:.2e} | {info['t_expm']:.2f}{fmt_runs(info['n_expm'])} | "
              f"{info['t_expm'] / a['total']:.2f}x |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\nTotal wall time {time.perf_counter() - t_start:.0f} s; peak RSS {peak:.0f} MB.")


if __name__ == "__main__":
    main()
