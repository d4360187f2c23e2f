"""One configuration of bench_petsc.py: ``[mpiexec -n K] python _petsc_runner.py N backend method``.

Solves the 3-D non-gradient problem (rotating OU with a full covariance) on N^3 cells
with one Scharfetter-Gummel solve (``conductance="sg"``, no error estimate) and prints,
from process 0, one JSON line: wall time of the solve, L1 against the exact Gaussian,
the certificate, and every process's peak resident memory.
"""

import json
import resource
import sys
import time
import warnings

import numpy as np

import fokkerplanck as fp

M = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]])
C = np.array([[1.0, 0.4, 0.1], [0.4, 1.0, 0.3], [0.1, 0.3, 1.0]])


def main() -> None:
    n, backend, method = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
    sde = fp.ornstein_uhlenbeck(M, C)
    grid = fp.Grid(bounds=[(-4.5, 4.5)] * 3, shape=n)
    t0 = time.perf_counter()
    res = fp.stationary(sde, grid, backend=backend, method=method, conductance="sg", error_estimate=False,
                        **({"gather": "root"} if backend == "petsc" else {}))
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # MB (Linux: KiB)
    rank, size, rss_all = 0, 1, [rss]
    if backend == "petsc":
        from petsc4py import PETSc
        comm = PETSc.COMM_WORLD
        rank, size = comm.getRank(), comm.getSize()
        v = PETSc.Vec().createMPI((1, size), comm=comm)
        v.getArray()[0] = rss
        scatter, full = PETSc.Scatter.toZero(v)
        scatter.scatter(v, full, addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        rss_all = list(full.getArray()) if rank == 0 else []
    if rank == 0:
        exact = fp.gaussian(grid, mean=np.zeros(3), cov=fp.lyapunov(M, C))
        l1 = float(grid.integrate(np.abs(res.density - exact)))
        print(json.dumps({"n": n, "backend": backend, "method": res.method, "processes": size, "seconds": wall,
                          "l1": l1, "certificate": res.residual, "rss_mb": rss_all, "message": res.message[:200]}))


if __name__ == "__main__":
    main()
