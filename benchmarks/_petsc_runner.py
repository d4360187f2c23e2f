"""One configuration of bench_petsc.py: ``[mpiexec -n K] python _petsc_runner.py N backend method [task]``.

``task`` ``"stationary"`` (default): solves the 3-D non-gradient problem (rotating OU
with a full covariance) on N^3 cells with one Scharfetter-Gummel solve
(``conductance="sg"``, no error estimate). ``"evolve"``: evolves it from the Gaussian
``N((1, 0, -0.5), 0.3 I)`` to ``t = 0.5, 2`` (default steps, TR-BDF2, no error
estimate; ``method`` is ignored). Prints, from process 0, one JSON line: wall time, L1
against the exact answer (the Gaussian; at t = 2 the exact OU transient), the
certificate (stationary), and every process's peak resident memory.
"""

import json
import resource
import sys
import time
import warnings

import numpy as np
import scipy.linalg

import fokkerplanck as fp

M = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]])
C = np.array([[1.0, 0.4, 0.1], [0.4, 1.0, 0.3], [0.1, 0.3, 1.0]])


def _evolve(sde: fp.SDE, grid: fp.Grid, backend: str) -> tuple[fp.Evolution, float]:
    m0, S0 = np.array([1.0, 0.0, -0.5]), 0.3 * np.eye(3)
    ev = fp.evolve(sde, grid, fp.gaussian(grid, m0, S0), [0.0, 0.5, 2.0], backend=backend, error_estimate=False,
                   **({"gather": "root"} if backend == "petsc" else {}))
    if ev.grid is not grid:
        return ev, float("nan")
    E, S = scipy.linalg.expm(-2.0 * M), fp.lyapunov(M, C)
    exact = fp.gaussian(grid, E @ m0, S + E @ (S0 - S) @ E.T)
    return ev, float(grid.integrate(np.abs(ev.density[-1] - exact)))


def main() -> None:
    n, backend, method = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    task = sys.argv[4] if len(sys.argv) > 4 else "stationary"
    warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
    sde = fp.ornstein_uhlenbeck(M, C)
    grid = fp.Grid(bounds=[(-4.5, 4.5)] * 3, shape=n)
    t0 = time.perf_counter()
    if task == "evolve":
        ev, l1 = _evolve(sde, grid, backend)
        wall = time.perf_counter() - t0
        report = {"steps": ev.n_steps, "factors": ev.nlu, "certificate": float("nan"), "method": ev.method,
                  "message": ev.message[:300]}
    else:
        res = fp.stationary(sde, grid, backend=backend, method=method, conductance="sg", error_estimate=False,
                            **({"gather": "root"} if backend == "petsc" else {}))
        wall = time.perf_counter() - t0
        exact = fp.gaussian(grid, mean=np.zeros(3), cov=fp.lyapunov(M, C))
        l1 = float(grid.integrate(np.abs(res.density - exact))) if res.grid is grid else float("nan")
        report = {"certificate": res.residual, "method": res.method, "message": res.message[:200]}
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
        print(json.dumps({"n": n, "backend": backend, "task": task, "processes": size, "seconds": wall, "l1": l1,
                          "rss_mb": rss_all, **report}))


if __name__ == "__main__":
    main()
