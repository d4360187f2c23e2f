"""The weight candidates of the two-point flux over a problem set (issue 13), one
problem and size per call; prints ``RESULT {json}`` lines. Driven by
``bench_torus.py --weights``.

Candidates (same edges, same ``Delta psi``, only the conductance ``g`` differs; every
one keeps ``f(z) / f(-z) = e^{-z}``): ``sg`` (Scharfetter–Gummel, ``g = s``), ``flat``
(the flattened conductance of ``fitted_pair``), ``split`` (the per-edge
conductance ``split_pair`` from the Hodge split of ``Delta psi``), ``density`` (the
generator ``fp.stationary`` ends with by default: the conductance split by the density,
``c = z - log(p_i / p_j)`` and the face average of ``p``, at its fixed point).

Problems: ``torus T lam`` (the metastable torus with rotation ``lam``: shallow-well
mass, L1, max |log p - log p_exact| on the cells holding 1 - 1e-6 of the mass),
``ou omega`` (OU with drift ``-[[1, -omega], [omega, 1]] x``, ``sigma^2 = 2``: error of
the leading eigenvalue ``-1 + i omega`` and of ``-2`` (``omega = 0``: ``-1``), L1 of
the stationary ``N(0, I)``), ``ring D F`` (1-D tilted ring ``b = F + sin x``, the
exact stationary density: L1 and log error).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import scipy.sparse.linalg as spla

import fokkerplanck as fp
from fokkerplanck._discretization.weights import (
    bernoulli_pair,
    fitted_pair,
    split_weights,
)
from fokkerplanck._solvers.gth import factor

TORUS = [(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)]


def generator_with(sde, grid, weights):
    """The default generator's edges with the conductance ``weights`` instead."""
    fl = fp.fluxes(sde, grid)
    t, h, z = fl.tail, fl.head, fl.dpsi
    w = np.broadcast_to(fl.weight, z.shape).astype(float)
    n = grid.size
    if weights == "sg":
        f, fm = bernoulli_pair(z)
    elif weights == "flat":
        f, fm = fitted_pair(z)
    elif weights == "split":
        f, fm = split_weights(t, h, z, w, fl.delta, n)
    elif weights == "density":  # what fp.stationary does: the density split at its fixed point
        return fp.stationary(sde, grid, error_estimate=False).fluxes.matrix
    else:
        raise ValueError(f"unknown weights {weights!r}: sg, flat, split or density")
    return fl.reweighted(f, fm).matrix


def errors(p, q, extra=None):
    p, q = p / p.sum(), q / q.sum()
    order = np.argsort(q)[::-1]
    keep = order[: np.searchsorted(np.cumsum(q[order]), 1 - 1e-6) + 1]
    out = {"L1": float(np.abs(p - q).sum()), "logerr": float(np.abs(np.log(p[keep] / q[keep])).max())}
    if extra is not None:
        out["mass"] = float(abs(p[extra].sum() / q[extra].sum() - 1))
    return out


def torus(n, T, lam, weights):
    def drift(x):
        gx = 2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0])
        gy = np.sin(x[..., 1])
        return np.stack([-gx - lam * gy, -gy + lam * gx], -1)

    grid = fp.Grid(bounds=TORUS, shape=n, boundary="periodic")
    A = generator_with(fp.SDE(drift=drift, sigma=np.sqrt(2 * T)), grid, weights)
    p = factor(A, shape=grid.shape).null_vector()
    x = grid.points().reshape(-1, 2)
    lq = (np.cos(2 * x[:, 0]) + 0.3 * np.cos(x[:, 0]) + np.cos(x[:, 1])) / T
    return errors(p, np.exp(lq - lq.max()), extra=x[:, 0] > np.pi / 2)


def ou(n, omega, weights, L=5.5):
    H = np.array([[1.0, -omega], [omega, 1.0]])
    grid = fp.Grid(bounds=[(-L, L)] * 2, shape=n, boundary="reflecting")
    A = generator_with(fp.SDE(drift=lambda x: -x @ H.T, sigma=np.sqrt(2.0)), grid, weights)
    x = grid.points().reshape(-1, 2)
    out = errors(factor(A, shape=grid.shape).null_vector(), np.exp(-0.5 * (x ** 2).sum(1)))
    Ac = A.astype(complex).tocsc()
    for key, lam in (("eig1", -1 + 1j * omega), ("eig2", -2.0 if omega else -1.0)):
        ev = spla.eigs(Ac, k=3, sigma=lam + 1e-3j, return_eigenvectors=False)
        out[key] = float(np.abs(ev - lam).min())
    return out


def ring(n, D, F, weights):
    grid = fp.Grid(bounds=[(0, 2 * np.pi)], shape=n, boundary="periodic")
    A = generator_with(fp.SDE(drift=lambda x: F + np.sin(x[..., 0:1]), sigma=np.sqrt(2 * D)), grid, weights)
    p = factor(A, shape=grid.shape).null_vector()
    # exact: p(x) ~ e^{-Phi(x)/D} int_x^{x + 2 pi} e^{Phi(y)/D} dy, Phi = cos y - F y (Simpson, fine)
    x = grid.centers[0]
    y = np.linspace(0, 2 * np.pi, 2049)
    wts = np.ones(y.size)
    wts[1:-1:2], wts[2:-1:2] = 4, 2
    Phi = lambda s: np.cos(s) - F * s
    q = np.array([np.sum(wts * np.exp((Phi(xi + y) - Phi(xi)) / D)) for xi in x])
    return errors(p, q)


if __name__ == "__main__":
    problem, n, weights = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    args = [float(a) for a in sys.argv[4:]]
    t0 = time.perf_counter()
    if problem == "torus":
        rec = torus(n, args[0], args[1], weights)
    elif problem == "ou":
        rec = ou(n, args[0], weights)
    else:
        rec = ring(n, args[0], args[1], weights)
    print("RESULT " + json.dumps(dict(problem=problem, N=n, args=args, weights=weights,
                                      seconds=time.perf_counter() - t0, **rec)), flush=True)
