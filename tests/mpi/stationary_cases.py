"""Run under ``mpiexec -n K``: the PETSc backend against the serial solver, case by case.

Every process solves the small cases serially too (they fit anywhere) and compares;
process 0 prints one JSON line per case. ``tests/test_petsc.py`` runs this script.
"""

import json
import resource
import sys
import warnings

import numpy as np

import fokkerplanck as fp


def _torus_drift(x, t=None):
    s, c = np.sin(x), np.cos(x)
    grad = np.stack([s[..., 0] * (1 + 0.5 * c[..., 1]), 0.5 * c[..., 0] * s[..., 1] + 0.3 * s[..., 1]], -1)
    return -grad + np.stack([np.ones(x.shape[:-1]), 0.5 * np.ones(x.shape[:-1])], -1) * 0.8


def _torus3(x, t=None):
    return -np.sin(x) + 0.5 * np.cos(np.roll(x, 1, axis=-1)) + np.array([0.7, 0.0, -0.4])


def _part_correlated(x, t=None):
    out = np.zeros(x.shape[:-1] + (2, 2))
    out[..., 0, 0] = out[..., 1, 1] = 1.0
    out[..., 0, 1] = out[..., 1, 0] = 0.5 * np.clip(x[..., 0] - 1.0, 0.0, 1.0)
    return out


def _largest(comm, value):
    from petsc4py import PETSc

    v = PETSc.Vec().createMPI((1, comm.getSize()), comm=comm)
    v.getArray()[0] = value
    return float(v.max()[1])


def cases():
    H2 = np.array([[1.0, 1.0], [-1.0, 1.5]])
    H3 = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]])
    C3 = np.array([[1.0, 0.4, 0.1], [0.4, 1.0, 0.3], [0.1, 0.3, 1.0]])
    per = 2 * np.pi
    yield ("2-D reflecting, rotating OU, correlated noise", fp.ornstein_uhlenbeck(H2, [[1, .5], [.5, 1]]),
           fp.Grid(bounds=[(-4, 4), (-3.5, 3.5)], shape=(48, 40)))
    yield ("2-D periodic torus, non-gradient", fp.SDE(drift=_torus_drift, sigma=0.9, ndim=2),
           fp.Grid(bounds=[(0, per)] * 2, shape=40, boundary="periodic"))
    yield ("2-D gradient (detailed balance)", fp.langevin(lambda x: (x ** 2).sum(-1) / 2 + x[..., 0] ** 4 / 4, 1.0),
           fp.Grid(bounds=[(-3, 3)] * 2, shape=32))
    yield ("2-D gradient double well at T = 0.05 (detailed balance)",
           fp.langevin(lambda x: (x[..., 0] ** 2 - 1) ** 2 + 0.3 * x[..., 0] + x[..., 1] ** 2, np.sqrt(0.1)),
           fp.Grid(bounds=[(-2, 2), (-1.5, 1.5)], shape=40))
    yield ("2-D correlated only where x0 > 1 (the split decides as the whole grid)",
           fp.SDE(drift=lambda x, t=None: -x @ H2.T, cov=_part_correlated, ndim=2),
           fp.Grid(bounds=[(-3, 3)] * 2, shape=36))
    yield ("3-D reflecting, rotating OU, full covariance", fp.ornstein_uhlenbeck(H3, C3),
           fp.Grid(bounds=[(-4, 4)] * 3, shape=16))
    yield ("3-D periodic, non-gradient", fp.SDE(drift=_torus3, sigma=1.0, ndim=3),
           fp.Grid(bounds=[(0, per)] * 3, shape=16, boundary="periodic"))


def main() -> None:
    from petsc4py import PETSc

    comm = PETSc.COMM_WORLD
    rank, size = comm.getRank(), comm.getSize()
    warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
    out = []
    for name, sde, grid in cases():
        serial = fp.stationary(sde, grid, error_estimate=False)
        res = fp.stationary(sde, grid, backend="petsc", error_estimate=False)
        slab = fp.stationary(sde, grid, backend="petsc", gather="none", error_estimate=False)
        root = fp.stationary(sde, grid, backend="petsc", gather="root", error_estimate=False)
        diff = float(np.abs(res.density - serial.density).max() / serial.density.max())
        amg = {}
        if "detailed balance" not in name:   # GMRES + BoomerAMG, then balance sweeps
            a = fp.stationary(sde, grid, backend="petsc", method="amg", error_estimate=False)
            amg = dict(amg_diff=float(np.abs(a.density - serial.density).max() / serial.density.max()),
                       amg_success=a.success, amg_message=a.message)
        # every process's slab is its part of the whole density ("none"; "root" except on 0)
        lo = int(round((slab.grid.bounds[0][0] - grid.bounds[0][0]) / grid.spacing[0]))
        piece = float(np.abs(slab.density - res.density[lo:lo + slab.grid.shape[0]]).max())
        if rank == 0:
            piece = max(piece, float(np.abs(root.density - res.density).max()) if root.grid is grid else 1.0)
        else:
            piece = max(piece, float(np.abs(root.density - slab.density).max()))
        piece = _largest(comm, piece)
        if "OU" in name and size == 2:   # the spectral gap by SLEPc against the serial one
            amg["gap"] = fp.spectral_gap(sde, grid, backend="petsc")
            amg["serial_gap"] = fp.spectral_gap(sde, grid)
        out.append(dict(case=name, size=size, diff=diff, piece=piece, residual=res.residual,
                        bound=fp.stationary_certificate_bound(grid.size, grid.ndim), success=res.success,
                        serial_message=serial.message, message=res.message, mass=float(grid.integrate(res.density)),
                        **amg))
    # a gap far below round-off (a deep double well, serial gap 8.6e-23) is refused, not returned
    L = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2   # noqa: E731
    try:
        deep = fp.spectral_gap(fp.langevin(L, sigma=np.sqrt(2 * 0.005)), fp.Grid(bounds=[(-3, 3)], shape=600),
                               backend="petsc")
        out.append(dict(deep_gap=deep, refused=False))
    except fp.ConvergenceError as err:
        out.append(dict(refused=True, why=str(err)[:400]))
    # memory: what one process holds of a larger problem
    from fokkerplanck._discretization.slab import partition, slab as make_slab
    grid = fp.Grid(bounds=[(-4, 4)] * 3, shape=48)
    start, stop = partition(48, size)[rank]
    s = make_slab(fp.ornstein_uhlenbeck(np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]]),
                                        np.eye(3)), grid, start, stop)
    nnz = s.fluxes.matrix.nnz
    stats = [dict(rank=rank, local_cells=s.local.size, owned=(stop - start) * s.plane, whole=grid.size, nnz=nnz,
                  maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)]
    mine = PETSc.Vec().createMPI((1, size), comm=comm)
    mine.getArray()[0] = s.local.size
    largest = float(mine.max()[1])
    if rank == 0:
        for row in out:
            print(json.dumps(row))
        print(json.dumps(dict(memory=stats[0], largest_local_cells=largest, whole=grid.size)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
