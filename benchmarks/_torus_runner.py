"""One configuration of the metastable-torus benchmark in a fresh process; prints ``RESULT {json}``.

Usage: ``python _torus_runner.py CODE N T`` with CODE ``ours`` (this checkout's
package, default scheme, drift given as a plain function), ``ours-structured`` (the same
drift given as ``loss`` + ``antisymmetric``) or ``fplanck`` (run with the fplanck virtual
environment's python; ``np.product`` is aliased for NumPy 2).

Problem: ``U = -cos 2x - 0.3 cos x - cos y`` on ``[-pi/2, 3pi/2) x [-pi, pi)``, periodic,
drift ``-(I - J) grad U`` with ``J = [[0, -1], [1, 0]]``, ``sigma^2 = 2T``; the exact
stationary density is ``exp(-U/T)``. fplanck's grid is centred on 0, so its ``x`` is shifted
by ``pi/2``; its cells are then exactly ours. Errors: relative error of the mass of the
shallow well (``x > pi/2``), L1 (both normalised on the grid), and the largest
``|log p - log p_exact|`` over the cells holding ``1 - 1e-6`` of the exact mass.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def U(x, y):
    return -np.cos(2 * x) - 0.3 * np.cos(x) - np.cos(y)


def grad_U(x, y):
    return 2 * np.sin(2 * x) + 0.3 * np.sin(x), np.sin(y)


def errors(p, x, y, T):
    p = p / p.sum()
    lq = -U(x, y) / T
    q = np.exp(lq - lq.max())
    q /= q.sum()
    shallow = x > np.pi / 2
    order = np.argsort(q.ravel())[::-1]
    keep = order[: np.searchsorted(np.cumsum(q.ravel()[order]), 1 - 1e-6) + 1]
    with np.errstate(all="ignore"):
        logerr = float(np.abs(np.log(p.ravel()[keep] / q.ravel()[keep])).max())
    return dict(mass=float(abs(p[shallow].sum() / q[shallow].sum() - 1)), L1=float(np.abs(p - q).sum()),
                logerr=logerr, min_p=float(p.min()))


def run_ours(n, T, structured):
    import fokkerplanck as fp

    fp.generator, fp.stationary  # noqa: B018  (import the solvers before the clock)
    grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=n, boundary="periodic")
    if structured:
        sde = fp.SDE(loss=lambda z: U(z[..., 0], z[..., 1]), sigma=np.sqrt(2 * T),
                     grad=lambda z: np.stack(grad_U(z[..., 0], z[..., 1]), -1),
                     antisymmetric=[[0.0, 1.0], [-1.0, 0.0]])
    else:
        def drift(z):
            gx, gy = grad_U(z[..., 0], z[..., 1])
            return np.stack([-gx - gy, -gy + gx], -1)
        sde = fp.SDE(drift=drift, sigma=np.sqrt(2 * T))
    t0 = time.perf_counter()
    res = fp.stationary(sde, grid)
    t1 = time.perf_counter()
    x, y = np.meshgrid(*grid.centers, indexing="ij")
    return dict(total_s=t1 - t0, method=res.method, **errors(res.density, x, y, T))


def run_fplanck(n, T):
    if not hasattr(np, "product"):
        np.product = np.prod  # fplanck 0.2.2 still calls it
    import scipy.constants
    import fplanck

    h = 2 * np.pi / n

    def force(xs, y):
        gx, gy = grad_U(xs + np.pi / 2, y)
        return np.array([-gx - gy, -gy + gx])

    t0 = time.perf_counter()
    sim = fplanck.fokker_planck(temperature=T / scipy.constants.k, drag=1.0, extent=[2 * np.pi - h / 2] * 2,
                                resolution=h, boundary=fplanck.boundary.periodic, force=force)
    try:
        mass = sim.steady_state()
    except Exception as exc:  # e.g. "Factor is exactly singular"
        return dict(error=f"{type(exc).__name__}: {exc}")
    t1 = time.perf_counter()
    X, Y = sim.grid
    return dict(total_s=t1 - t0, method="eigs(sigma=0)", **errors(mass, X + np.pi / 2, Y, T))


if __name__ == "__main__":
    code, n, T = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rec = dict(code=code, N=n, T=T)
    rec.update(run_fplanck(n, T) if code == "fplanck" else run_ours(n, T, code == "ours-structured"))
    print("RESULT " + json.dumps(rec), flush=True)
