"""Kinetic Langevin (Kramers' equation) on a grid vs Euler–Maruyama particles at equal L1.

Problem: ``dx = v dt``, ``dv = (-U'(x) - gamma v) dt + sigma dB``, ``U = x^4/4 - x^2/2``,
``gamma = 1``, ``T = sigma^2 / (2 gamma) = 0.25``, box ``[-2.5, 2.5] x [-2.5, 2.5]``,
reflecting walls; exact stationary density ``exp(-(U + v^2/2) / T)`` at the cell centres.
Noise on ``v`` only: the covariance ``diag(0, sigma^2)`` is singular.

Rows: the grid at ``N x N`` (stationary solve, median of 3 wall times, L1 against the
exact density) for the SDE as built by :func:`fokkerplanck.underdamped_langevin` (the
structure ``-(M + Q) grad H``: exact to round-off), and the same drift given as a plain
``fp.SDE(drift=..., cov=...)``: the general degenerate path (``"sg"``, upwind along
``x``, first order) and ``scheme="highorder"`` (fourth order, not monotone). Particles: Euler–Maruyama from the exact density (so no burn-in is charged to
them), histogrammed on the same ``N x N`` cells; their L1 against the exact density is
sampling noise ``~ c / sqrt(n)`` (``c`` measured at ``n0`` particles), so equal L1
needs ``n = n0 (L1(n0) / L1_grid)^2`` particles, each run over one relaxation time
``1 / gap`` at ``dt = 0.01``: the particle time is extrapolated linearly from the
measured run.

Run: ``python benchmarks/bench_kinetic.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import load_line, median_time  # noqa: E402

import fokkerplanck as fp  # noqa: E402

T, GAMMA = 0.25, 1.0
U = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2   # noqa: E731
dU = lambda x: x**3 - x                                  # noqa: E731


def plain_sde() -> fp.SDE:
    sigma = math.sqrt(2 * GAMMA * T)
    return fp.SDE(drift=lambda z: np.stack([z[..., 1], -dU(z[..., 0]) - GAMMA * z[..., 1]], -1),
                  cov=np.diag([0.0, sigma**2]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="128^2 and 256^2, 20k particles")
    args = ap.parse_args(argv)
    sizes = [128, 256] if args.quick else [128, 256, 512]
    sdes = {"underdamped_langevin": (fp.underdamped_langevin(U, GAMMA, math.sqrt(2 * GAMMA * T), grad=dU), "sg"),
            "plain drift, sg": (plain_sde(), "sg"),
            "plain drift, highorder": (plain_sde(), "highorder")}
    print(f"# Kinetic Langevin, T = {T}, gamma = {GAMMA}\n\n{load_line()}\n")
    print("| SDE | grid | solve (s, median) | L1 vs exact | method |\n|---|---|---|---|---|")
    rows = []
    for name, (sde, scheme) in sdes.items():
        for n in sizes:
            if scheme == "highorder" and n > 128:
                continue  # its wider stencil fills the LU factors: 15 s at 128^2, minutes beyond
            grid = fp.Grid(bounds=[(-2.5, 2.5)] * 2, shape=n)
            exact = fp.gibbs(grid, lambda z: U(z) + 0.5 * z[..., 1] ** 2, T)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
                t, k, res = median_time(lambda: fp.stationary(sde, grid, scheme=scheme))
            l1 = float(grid.integrate(np.abs(res.density - exact)))
            rows.append((name, n, t, l1))
            print(f"| {name} | {n}^2 | {t:.3f} ({k}) | {l1:.2e} | {res.method} |", flush=True)
    # particles: cost per particle-step and L1 at n0 on each grid size
    sde = sdes["underdamped_langevin"][0]
    gap = fp.spectral_gap(sde, fp.Grid(bounds=[(-2.5, 2.5)] * 2, shape=128))
    t_relax = 1.0 / gap
    n0, dt = (20_000 if args.quick else 100_000), 0.01
    rng = np.random.default_rng(0)
    xs = np.linspace(-2.5, 2.5, 20001)
    w = np.exp(-U(xs[:, None]) / T)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(xs))])
    x0 = np.column_stack([np.interp(rng.random(n0) * cdf[-1], cdf, xs), math.sqrt(T) * rng.standard_normal(n0)])
    steps = int(math.ceil(t_relax / dt))
    t0 = time.perf_counter()
    pt = fp.simulate(sde, x0, t_end=steps * dt, dt=dt, rng=1)
    t_pt = time.perf_counter() - t0
    per = t_pt / (n0 * steps)
    print(f"\nParticles: {n0} Euler–Maruyama paths over one relaxation time 1/gap = {t_relax:.2f} "
          f"({steps} steps of {dt}): {t_pt:.2f} s, {per * 1e9:.1f} ns per particle-step.\n")
    print("| grid | grid L1 | grid time (s) | particle L1 at n0 | particles for equal L1 | "
          "particle time (s, extrapolated) | ratio |\n|---|---|---|---|---|---|---|")
    for name, n, t, l1 in rows:
        grid = fp.Grid(bounds=[(-2.5, 2.5)] * 2, shape=n)
        exact = fp.gibbs(grid, lambda z: U(z) + 0.5 * z[..., 1] ** 2, T)
        l1p = float(grid.integrate(np.abs(grid.histogram(pt.x) - exact)))
        need = n0 * (l1p / max(l1, 1e-300)) ** 2
        tp = need * steps * per
        print(f"| {name} {n}^2 | {l1:.2e} | {t:.3f} | {l1p:.3f} | {need:.1e} | {tp:.1e} | {tp / t:.1e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
