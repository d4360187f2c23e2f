"""One (problem, method) of the solver-scaling benchmark, in a fresh process.

Usage: ``python benchmarks/_methods_runner.py PROBLEM METHOD N [N ...]``; prints one
``RESULT {json}`` line per size (sizes in increasing order; the process stops at the
first size over ``--limit`` seconds, given as the environment variable
``FP_BENCH_LIMIT``, default 60).

Problems (every one has an exact stationary density, so L1 is against the truth):

* ``rotational2d``: ``dX = -(I - J) grad L dt + dW`` on ``[-2.5, 2.5]^2``, reflecting,
  ``L = (x^2 - 1)^2 + y^2 / 2``; density ``exp(-2 L)``.
* ``torus2d``: the metastable torus (periodic), ``U = -cos 2x - 0.3 cos x - cos y``,
  drift ``-(I - J) grad U``, ``T = 0.1``; density ``exp(-U / T)``.
* ``rotational3d``: ``rotational2d`` with an OU coordinate ``z`` (``L + z^2 / 2``) on
  ``[-2.5, 2.5]^3`` (the 3-D problem of ``_scaling_runner.py``); density ``exp(-2 L)``.
* ``fullcov3d``: 3-D, constant full covariance ``S S^T = 2 D``, drift ``-(D + Q) grad L``
  (``Q`` antisymmetric, non-gradient), ``L = (x^2 - 1)^2 + (y^2 + z^2) / 2``, on
  ``[-2.5, 2.5]^3`` reflecting; density ``exp(-L)``.

Time is ``fp.stationary(..., method=METHOD, error_estimate=False)`` (assembly included;
``res.seconds`` is the solve alone). An answer that is not certified (``ConvergenceError``
carries it) is kept and flagged.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings

import numpy as np

J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])
D3 = np.array([[1.0, 0.3, 0.2], [0.3, 0.8, -0.25], [0.2, -0.25, 0.6]])
Q3 = np.array([[0.0, 0.8, 0.3], [-0.8, 0.0, 0.5], [-0.3, -0.5, 0.0]])


def problem(fp, name, n):
    if name == "rotational2d":
        def drift(x):
            g = np.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1]], -1)
            return -(g - g @ J2.T)
        grid = fp.Grid(bounds=[(-2.5, 2.5)] * 2, shape=n)
        X, Y = np.meshgrid(*grid.centers, indexing="ij")
        logq = -2 * ((X**2 - 1) ** 2 + Y**2 / 2)
        return fp.SDE(drift=drift, sigma=1.0, ndim=2), grid, logq
    if name == "rotational3d":
        def drift(x):
            g = np.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1], x[..., 2]], -1)
            return -g + np.stack([g[..., 1], -g[..., 0], np.zeros_like(g[..., 2])], -1)
        grid = fp.Grid(bounds=[(-2.5, 2.5)] * 3, shape=n)
        X, Y, Z = np.meshgrid(*grid.centers, indexing="ij", sparse=True)
        return fp.SDE(drift=drift, sigma=1.0, ndim=3), grid, -2 * ((X**2 - 1) ** 2 + (Y**2 + Z**2) / 2)
    if name == "torus2d":
        T = 0.1

        def drift(z):
            g = np.stack([2 * np.sin(2 * z[..., 0]) + 0.3 * np.sin(z[..., 0]), np.sin(z[..., 1])], -1)
            return -(g - g @ J2.T)
        grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=n, boundary="periodic")
        X, Y = np.meshgrid(*grid.centers, indexing="ij")
        return fp.SDE(drift=drift, sigma=np.sqrt(2 * T), ndim=2), grid, (np.cos(2 * X) + 0.3 * np.cos(X) + np.cos(Y)) / T
    if name == "fullcov3d":
        M = D3 + Q3

        def drift(x):
            g = np.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1], x[..., 2]], -1)
            return -(g @ M.T)
        grid = fp.Grid(bounds=[(-2.5, 2.5)] * 3, shape=n)
        X, Y, Z = np.meshgrid(*grid.centers, indexing="ij", sparse=True)
        return (fp.SDE(drift=drift, sigma=np.linalg.cholesky(2 * D3), ndim=3), grid,
                -((X**2 - 1) ** 2 + (Y**2 + Z**2) / 2))
    raise ValueError(name)


def main(name, method, sizes):
    import fokkerplanck as fp

    fp.stationary, fp.generator  # noqa: B018  (imports before the clock)
    try:
        import pyamg  # noqa: F401
    except ImportError:
        pass
    limit = float(os.environ.get("FP_BENCH_LIMIT", "60"))
    for n in sizes:
        sde, grid, logq = problem(fp, name, n)
        rec = {"problem": name, "method": method, "N": n, "cells": grid.size}
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fp.stationary(sde, grid, method=method, error_estimate=False)
        except fp.ConvergenceError as err:
            res = err.result
            rec["certified"] = False
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            rec["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            print("RESULT " + json.dumps(rec), flush=True)
            break
        rec["seconds"] = time.perf_counter() - t0
        rec["solve_s"] = float(res.seconds)
        rec["used"] = res.method
        rec["message"] = str(res.message)[:160]
        rec.setdefault("certified", bool(res.success))
        q = np.exp(logq - logq.max())
        q = q / q.sum()
        p = np.nan_to_num(np.asarray(res.density, dtype=float))
        rec["L1"] = float(np.abs(p / max(p.sum(), 1e-300) - q).sum())
        rec["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print("RESULT " + json.dumps(rec), flush=True)
        if rec["seconds"] > limit:
            break


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]])
