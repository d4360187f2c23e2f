"""Assembly throughput of ``fp.generator`` (cells per second), one process, median of K.

Problems on ``N x N`` cells of ``[-2.5, 2.5]^2`` (the double well of ``_problem.py``):

* ``force``: ``F = -grad U`` given as a drift, ``sigma = 1``;
* ``potential``: ``U`` given as a loss (exact loss differences), ``sigma = 1``;
* ``rotational``: ``F = -(I - J) grad U``, ``sigma = 1``;
* ``rot-statecov``: the rotational drift with a state-dependent full covariance
  ``C(x) = [[1 + s_x, c], [c, 1 + s_y]]``, ``s = 0.3 sin^2``, ``c = 0.36 cos x`` (Ito);
* ``rot-reflecting-absorbing``: the rotational drift, reflecting in x, absorbing in y.

Usage::

    PYTHONPATH=. python benchmarks/bench_assembly.py [--sizes 256 512] [--repeats 3]

Prints a Markdown table (median and best of ``K`` timings after one warm-up call).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import numpy as np

import fokkerplanck as fp

TARGET = 5e6  # cells/s, issue 12


def _grad_u(x):
    return np.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1]], axis=-1)


def _force(x):
    return -_grad_u(x)


def _rotational(x):
    g = _grad_u(x)
    return -np.stack([g[..., 0] - g[..., 1], g[..., 1] + g[..., 0]], axis=-1)


def _loss(x):
    return (x[..., 0] ** 2 - 1) ** 2 + 0.5 * x[..., 1] ** 2


def _cov(x):
    c = np.empty(x.shape + (2,))
    c[..., 0, 0] = 1 + 0.3 * np.sin(x[..., 0]) ** 2
    c[..., 1, 1] = 1 + 0.3 * np.sin(x[..., 1]) ** 2
    c[..., 0, 1] = c[..., 1, 0] = 0.36 * np.cos(x[..., 0])
    return c


def problems():
    box = [(-2.5, 2.5)] * 2
    return {
        "force": (fp.SDE(drift=_force, sigma=1.0), "reflecting"),
        "potential": (fp.SDE(loss=_loss, sigma=1.0), "reflecting"),
        "rotational": (fp.SDE(drift=_rotational, sigma=1.0), "reflecting"),
        "rot-statecov": (fp.SDE(drift=_rotational, cov=_cov), "reflecting"),
        "rot-reflecting-absorbing": (fp.SDE(drift=_rotational, sigma=1.0), ["reflecting", "absorbing"]),
    }, box


def measure(n, repeats):
    probs, box = problems()
    rows = []
    for name, (sde, boundary) in probs.items():
        grid = fp.Grid(bounds=box, shape=(n, n), boundary=boundary)
        fp.generator(sde, grid)  # warm-up
        ts, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fp.generator(sde, grid)
            ts.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        med, best, c = float(np.median(ts)), min(ts), float(np.median(cpu))
        rows.append((name, n, med, best, c, grid.size / med / 1e6, grid.size / best / 1e6, grid.size / c / 1e6))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        commit = "?"
    load = os.getloadavg()[0]
    print(f"fp.generator assembly ({platform.machine()}, Python {platform.python_version()}, commit {commit}, "
          f"median/best of {a.repeats} after a warm-up; CPU = process time, 1-min load {load:.2f})\n")
    print("| problem | N | median s | best s | CPU s (median) | M cells/s (median) | M cells/s (best) "
          "| M cells/s (CPU) | >= 5 M? |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in a.sizes:
        for name, n_, med, best, c, rate, rate_best, rate_cpu in measure(n, a.repeats):
            print(f"| {name} | {n_}^2 | {med:.3f} | {best:.3f} | {c:.3f} | {rate:.2f} | {rate_best:.2f} | "
                  f"{rate_cpu:.2f} | {'yes' if rate * 1e6 >= TARGET else 'no'} |")
    print(f"\n1-min load after the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
