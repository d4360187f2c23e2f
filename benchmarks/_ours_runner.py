"""Run fokkerplanck on the benchmark problem once, in a fresh process; print one RESULT line.

Usage:  python benchmarks/_ours_runner.py N VARIANT [REF.npy]
        python benchmarks/_ours_runner.py N VARIANT --make-ref REF.npy   (fine reference)

* ``potential``:  ``fp.SDE(loss=U, sigma=1.0)``  (sigma^2 / 2 = T = 0.5; gradient not given)
* ``force``:      ``fp.SDE(drift=-grad U, sigma=1.0)`` (analytic gradient)
* ``rotational``: ``fp.SDE(drift=-(I - aJ) grad U, sigma=1.0)``, a = 1

Build = ``fp.generator(sde, grid)``; solve = ``fp.stationary(sde, grid)``, which
assembles the operator again internally, so "solve" includes a second assembly.
Modules (fokkerplanck.operator/stationary, scipy.sparse.linalg, pyamg if installed) are
imported before the clock starts.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import warm_imports  # noqa: E402

import numpy as np
import scipy.sparse.linalg  # noqa: F401

import _problem as P


def make_sde(fp, variant):
    if variant == "potential":
        return fp.SDE(loss=lambda x: P.U(x[..., 0], x[..., 1]), sigma=1.0)

    def drift(x):
        fx, fy = P.force(x[..., 0], x[..., 1], variant)
        return np.stack([fx, fy], axis=-1)

    return fp.SDE(drift=drift, sigma=1.0, ndim=2)


def make_ref(n, variant, path):
    """Fine-grid reference: AMG-GMRES to a tight tolerance, saved as .npy."""
    import warnings
    warnings.simplefilter("ignore")
    import fokkerplanck as fp
    grid = fp.Grid(bounds=[(P.LO, P.HI)] * 2, shape=(n, n), boundary="reflecting")
    t0 = time.perf_counter()
    res = fp.stationary(make_sde(fp, variant), grid, method="amg", rtol=1e-12)
    np.save(path, res.density)
    P.emit({"code": "ours", "variant": variant, "N": n, "ref": path, "seconds": time.perf_counter() - t0,
            "method": res.method, "residual": float(res.residual), "L1": P.l1(res.density, n)})


def main(n, variant, ref=None):
    rec = {"code": "ours", "variant": variant, "N": n}
    try:
        fp = warm_imports()
        rec["version"] = fp.__version__
        grid = fp.Grid(bounds=[(P.LO, P.HI)] * 2, shape=(n, n), boundary="reflecting")
        assert np.allclose(grid.centers[0], P.centers(n), rtol=0, atol=1e-12)
        sde = make_sde(fp, variant)
        t0 = time.perf_counter()
        A = fp.generator(sde, grid)
        t1 = time.perf_counter()
        rec["build_s"] = t1 - t0
        rec["nnz"] = int(A.nnz)
        rec["colsum"] = float(np.abs(np.asarray(A.sum(axis=0))).max() / abs(A.diagonal()).max())
        del A
        t1 = time.perf_counter()
        res = fp.stationary(sde, grid)
        t2 = time.perf_counter()
    except Exception as exc:
        rec["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        P.emit(rec)
        return
    rec["solve_s"] = t2 - t1
    rec["method"] = str(getattr(res, "method", "?"))
    rec["residual"] = float(getattr(res, "residual", float("nan")))
    rec["success"] = bool(getattr(res, "success", True))
    p = np.asarray(res.density)
    rec["mass"] = float(p.sum() * P.spacing(n) ** 2)
    rec["min_p"] = float(p.min())
    rec["L1"] = P.l1(p, n)
    rec["L1_ref"] = P.l1_ref(p, n, ref)
    P.emit(rec)


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[3] == "--make-ref":
        make_ref(int(sys.argv[1]), sys.argv[2], sys.argv[4])
    else:
        main(int(sys.argv[1]), sys.argv[2], *sys.argv[3:4])
