"""One scaling configuration of fokkerplanck, in a fresh process; print one RESULT line.

Usage:  python benchmarks/_scaling_runner.py D N VARIANT

Grid: N cells per axis on [-2.5, 2.5]^D, reflecting. Loss
``L = (x_0^2 - 1)^2 + sum_{k >= 1} x_k^2 / 2`` with its analytic gradient, isotropic
noise sigma = 1 (T = 1/2), so p = exp(-2 L) / Z.

* ``langevin``:   ``fp.langevin(L, sigma=1.0, grad=grad L)``
* ``rotational``: ``fp.SDE(drift=-(I - aJ) grad L, sigma=1.0)``, ``a = 1``, ``J`` rotating
  axes 0 and 1 (D >= 2): a non-gradient drift with the same stationary density, so the
  solver cannot use detailed balance and must solve a linear system.

Reports assembly time (``fp.generator``), solve time (``fp.stationary``, which assembles
again internally), ``res.method``, the residual, L1 against the Gibbs density at the
cell centres (midpoint normalisation) and the peak RSS of the process.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import warm_imports  # noqa: E402

import numpy as np
import scipy.sparse.linalg  # noqa: F401

from _problem import emit

LO, HI = -2.5, 2.5


def loss(x):
    out = (x[..., 0] ** 2 - 1.0) ** 2
    for k in range(1, x.shape[-1]):
        out = out + 0.5 * x[..., k] ** 2
    return out


def grad(x):
    g = np.empty_like(x)
    g[..., 0] = 4.0 * x[..., 0] * (x[..., 0] ** 2 - 1.0)
    g[..., 1:] = x[..., 1:]
    return g


def rot_drift(x):
    g = grad(x)
    f = -g
    # -(I - aJ) g with J = [[0, 1], [-1, 0]] on axes (0, 1), a = 1
    f[..., 0] += g[..., 1]
    f[..., 1] -= g[..., 0]
    return f


def main(d, n, variant):
    rec = {"D": d, "N": n, "cells": n**d, "variant": variant}
    try:
        fp = warm_imports()
        grid = fp.Grid(bounds=[(LO, HI)] * d, shape=(n,) * d)
        if variant == "langevin":
            sde = fp.langevin(loss, sigma=1.0, grad=grad)
        else:
            sde = fp.SDE(drift=rot_drift, sigma=1.0, ndim=d)
        t0 = time.perf_counter()
        A = fp.generator(sde, grid)
        t1 = time.perf_counter()
        rec["build_s"] = t1 - t0
        rec["nnz"] = int(A.nnz)
        del A
        t1 = time.perf_counter()
        res = fp.stationary(sde, grid)
        t2 = time.perf_counter()
        rec["solve_s"] = t2 - t1
        rec["method"] = str(getattr(res, "method", "?"))
        rec["residual"] = float(getattr(res, "residual", float("nan")))
        p = np.asarray(res.density, dtype=float)
        # L1 against the Gibbs density at the centres, built axis by axis (no big temporaries)
        h = (HI - LO) / n
        c = LO + (np.arange(n) + 0.5) * h
        fac = [np.exp(-2.0 * (c**2 - 1.0) ** 2)] + [np.exp(-(c**2))] * (d - 1)
        fac = [f / (f.sum() * h) for f in fac]
        q = fac[0]
        for f in fac[1:]:
            q = np.multiply.outer(q, f)
        rec["L1"] = float(np.abs(p - q).sum() * h**d)
        del p, q, res
    except Exception as exc:
        rec["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    emit(rec)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
