"""Run fplanck on the benchmark problem once, in a fresh process; print one RESULT line.

Usage (with the fplanck virtual environment's python, see README.md):
    /work/venv-fplanck/bin/python benchmarks/_fplanck_runner.py N VARIANT [REF.npy]

With REF.npy (a fine-grid reference density, see bench_peers.py) it also reports
``L1_ref``, the L1 distance to that reference.

fplanck 0.2.2 calls ``np.product`` (removed in NumPy 2); it is aliased to ``np.prod``
before fplanck is imported. ``temperature = T / k_B`` gives ``beta = 1 / T`` and, with
``drag = 1``, ``D = T``. ``extent = L - h/2`` makes fplanck's grid ``ceil(extent / h) = N``
points per axis centred on 0, i.e. exactly our cell centres (checked below).
``steady_state()`` returns the mass per cell (sums to 1): divided by ``h^2``.
Build = the ``fokker_planck(...)`` constructor (force/potential evaluation and the
matrix assembly); solve = ``steady_state()`` (shift-invert ``eigs`` at sigma = 0).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np

if not hasattr(np, "product"):
    np.product = np.prod  # fplanck 0.2.2 still calls it

import scipy.constants
import scipy.sparse.linalg  # noqa: F401  (imported before timing, as fplanck does)

import fplanck

import _problem as P


def main(n, variant, ref=None):
    h = P.spacing(n)
    kw = dict(
        temperature=P.T / scipy.constants.k,
        drag=1.0,
        extent=[P.LENGTH - h / 2] * 2,
        resolution=h,
        boundary=fplanck.boundary.reflecting,
    )
    if variant == "potential":
        kw["potential"] = lambda x, y: P.U(x, y)
    else:
        kw["force"] = lambda x, y: np.array(P.force(x, y, variant))
    rec = {"code": "fplanck", "variant": variant, "N": n, "version": fplanck.__version__
           if hasattr(fplanck, "__version__") else "0.2.2"}
    t0 = time.perf_counter()
    sim = fplanck.fokker_planck(**kw)
    t1 = time.perf_counter()
    rec["build_s"] = t1 - t0
    # the grid must be our cell centres
    c = P.centers(n)
    assert tuple(sim.Ngrid) == (n, n), sim.Ngrid
    rec["grid_offset"] = float(max(np.abs(ax - c).max() for ax in sim.axes))
    assert rec["grid_offset"] < 1e-9 * P.LENGTH, rec["grid_offset"]
    try:
        t1 = time.perf_counter()
        mass = sim.steady_state()
        t2 = time.perf_counter()
    except Exception as exc:  # e.g. "Factor is exactly singular"
        rec["error"] = f"{type(exc).__name__}: {exc}"
        P.emit(rec)
        return
    rec["solve_s"] = t2 - t1
    p = mass / h**2
    rec["min_p"] = float(p.min() * h**2)
    rec["L1"] = P.l1(p, n)
    rec["L1_ref"] = P.l1_ref(p, n, ref)
    rec["method"] = "eigs(sigma=0)"
    P.emit(rec)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], *sys.argv[3:4])
