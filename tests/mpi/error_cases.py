"""Run under ``mpiexec -n 2``: errors raised on one process only reach every process
(none waits forever), and the spectral gap refuses absorbing walls. Process 0 prints
one JSON line."""

import json
import warnings

import numpy as np

import fokkerplanck as fp


def _cov(x, t=None):
    # not positive semi-definite where x0 > 2.5: only the last slab finds out
    out = np.zeros(x.shape[:-1] + (2, 2))
    out[..., 0, 0] = out[..., 1, 1] = 1.0
    out[..., 0, 1] = out[..., 1, 0] = np.where(x[..., 0] > 2.5, 1.5, 0.2)
    return out


def main() -> None:
    from petsc4py import PETSc

    warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
    out = {}
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=24)
    try:
        fp.stationary(fp.SDE(drift=lambda x, t=None: -x, cov=_cov, ndim=2), grid, backend="petsc",
                      error_estimate=False)
        out["one_rank_error"] = "no error"
    except Exception as err:  # noqa: BLE001
        out["one_rank_error"] = f"{type(err).__name__}: {err}"[:300]
    absorbing = fp.Grid(bounds=[(-3, 3)] * 2, shape=24, boundary=["reflecting", ("reflecting", "absorbing")])
    try:
        fp.spectral_gap(fp.ornstein_uhlenbeck(np.eye(2), np.eye(2)), absorbing, backend="petsc")
        out["absorbing"] = "no error"
    except ValueError as err:
        out["absorbing"] = str(err)[:300]
    if PETSc.COMM_WORLD.getRank() == 0:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
