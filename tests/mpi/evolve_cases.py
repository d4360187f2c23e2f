"""Run under ``mpiexec -n K``: ``fp.evolve(..., backend="petsc")`` against the serial run
and against exact answers, case by case; process 0 prints one JSON line per case.
``tests/test_petsc.py`` runs this script.
"""

import json
import sys
import warnings

import numpy as np
import scipy.linalg

import fokkerplanck as fp

H2 = np.array([[1.0, 1.0], [-1.0, 1.5]])
C2 = np.array([[1.0, 0.5], [0.5, 1.0]])
H3 = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]])
C3 = np.array([[1.0, 0.4, 0.1], [0.4, 1.0, 0.3], [0.1, 0.3, 1.0]])


def _torus_drift(x, t=None):
    s, c = np.sin(x), np.cos(x)
    grad = np.stack([s[..., 0] * (1 + 0.5 * c[..., 1]), 0.5 * c[..., 0] * s[..., 1] + 0.3 * s[..., 1]], -1)
    return -grad + np.stack([np.ones(x.shape[:-1]), 0.5 * np.ones(x.shape[:-1])], -1) * 0.8


def _ou_exact(grid, H, C, m0, S0, t):
    """The OU transient from N(m0, S0): N(e^{-Ht} m0, S + e^{-Ht} (S0 - S) e^{-H^T t})."""
    E = scipy.linalg.expm(-H * t)
    S = fp.lyapunov(H, C)
    return fp.gaussian(grid, E @ m0, S + E @ (S0 - S) @ E.T)


def cases():
    """``(name, sde, grid, p0, t_eval, keywords)``."""
    g2 = fp.Grid(bounds=[(-4, 4), (-3.5, 3.5)], shape=(48, 40))
    yield ("2-D rotating OU, correlated noise, TR-BDF2 (exact answer)", fp.ornstein_uhlenbeck(H2, C2), g2,
           fp.gaussian(g2, [1.0, -0.5], 0.15 * np.eye(2)), [0.0, 0.2, 1.0, 10.0], {})
    per = 2 * np.pi
    gt = fp.Grid(bounds=[(0, per)] * 2, shape=40, boundary="periodic")
    yield ("2-D periodic torus, non-gradient, backward Euler", fp.SDE(drift=_torus_drift, sigma=0.9, ndim=2), gt,
           fp.gaussian(gt, [2.0, 3.0], 0.3), [0.0, 0.5, 3.0], dict(method="backward_euler"))
    g3 = fp.Grid(bounds=[(-4, 4)] * 3, shape=16)
    yield ("3-D rotating OU, full covariance (exact answer)", fp.ornstein_uhlenbeck(H3, C3), g3,
           fp.gaussian(g3, [0.8, 0.0, -0.5], 0.3 * np.eye(3)), [0.0, 0.5, 2.0], {})
    gm = fp.Grid(bounds=[(-4, 4)] * 2, shape=36)
    yield ("2-D time-dependent (a moving centre), TR-BDF2",
           fp.SDE(drift=lambda x, t: -(x - np.array([np.sin(2 * t), 0.5 * np.cos(t)])), sigma=0.8,
                  time_dependent=True), gm,
           fp.gaussian(gm, [0.0, 0.0], 0.2), [0.0, 0.7, 2.0], {})
    ga = fp.Grid(bounds=[(-2, 2), (-2, 2)], shape=32, boundary=[("absorbing", "absorbing"), "reflecting"])
    yield ("2-D absorbing walls on axis 0 (mass leaves)", fp.brownian(0.8, ndim=2), ga,
           fp.gaussian(ga, [0.3, 0.0], 0.1), [0.0, 0.5, 2.0], {})
    yield ("2-D rotating OU, scheme='highorder'", fp.ornstein_uhlenbeck(H2, C2), g2,
           fp.gaussian(g2, [1.0, -0.5], 0.15 * np.eye(2)), [0.0, 1.0], dict(scheme="highorder"))


def _largest(comm, value):
    from petsc4py import PETSc

    v = PETSc.Vec().createMPI((1, comm.getSize()), comm=comm)
    v.getArray()[0] = value
    return float(v.max()[1])


def _refusal(fn):
    try:
        fn()
    except (ValueError, TypeError, RuntimeError) as err:
        return str(err)
    return "not refused"


def main() -> None:
    from petsc4py import PETSc

    comm = PETSc.COMM_WORLD
    rank, size = comm.getRank(), comm.getSize()
    warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
    warnings.simplefilter("ignore", fp.ResolutionWarning)
    out = []
    for name, sde, grid, p0, t_eval, kw in cases():
        serial = fp.evolve(sde, grid, p0, t_eval, **kw)
        par = fp.evolve(sde, grid, p0, t_eval, backend="petsc", **kw)
        row = dict(case=name, size=size, method=par.method, steps=[serial.n_steps, par.n_steps],
                   nlu=[serial.nlu, par.nlu], assembled=[serial.n_assemble, par.n_assemble],
                   diff=float(np.abs(par.density - serial.density).max() / np.abs(serial.density).max()),
                   mass=par.mass.tolist(), serial_mass=serial.mass.tolist(),
                   estimate=par.error_estimate.tolist(), serial_estimate=serial.error_estimate.tolist())
        if "exact answer" in name:
            H, C = (H2, C2) if grid.ndim == 2 else (H3, C3)
            m0, S0 = grid.mean(p0), grid.cov(p0)
            row["true_l1"] = [float(grid.integrate(np.abs(p - _ou_exact(grid, H, C, m0, S0, t))))
                              for t, p in zip(par.t, par.density)]
        if "TR-BDF2 (exact" in name:   # every process's slab ("none"), process 0's whole ("root")
            slab = fp.evolve(sde, grid, p0, t_eval, backend="petsc", gather="none", error_estimate=False)
            root = fp.evolve(sde, grid, p0, t_eval, backend="petsc", gather="root", error_estimate=False)
            lo = int(round((slab.grid.bounds[0][0] - grid.bounds[0][0]) / grid.spacing[0]))
            piece = float(np.abs(slab.density - par.density[:, lo:lo + slab.grid.shape[0]]).max())
            if rank == 0:
                piece = max(piece, float(np.abs(root.density - par.density).max()) if root.grid is grid else 1.0)
            else:
                piece = max(piece, float(np.abs(root.density - slab.density).max()))
            row["piece"] = _largest(comm, piece)
        out.append(row)
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=(10, 16))   # a partner of 5 planes: one process owns none
    sde, p0 = fp.ornstein_uhlenbeck(1.0 * np.eye(2), np.eye(2)), fp.gaussian(grid, [0, 0], 0.5)
    refusals = dict(
        expm=_refusal(lambda: fp.evolve(sde, grid, p0, [0, 1], method="expm", backend="petsc")),
        generator=_refusal(lambda: fp.evolve(sde, grid, p0, [0, 1], backend="petsc",
                                             generator=fp.generator(sde, grid))),
        too_many=_refusal(lambda: fp.evolve(sde, fp.Grid(bounds=[(-3, 3)] * 2, shape=(3 * size - 1, 8)),
                                            fp.uniform(fp.Grid(bounds=[(-3, 3)] * 2, shape=(3 * size - 1, 8))),
                                            [0, 1], backend="petsc")),
        gather=_refusal(lambda: fp.evolve(sde, grid, p0, [0, 1], gather="root")),
        backend=_refusal(lambda: fp.evolve(sde, grid, p0, [0, 1], backend="mpi")),
    )
    bad = p0.copy()
    if rank == size - 1:
        bad[0, 0] = -1.0   # a check that fails on one process only: all raise, none hangs
    refusals["one_rank_p0"] = _refusal(lambda: fp.evolve(sde, grid, bad, [0, 0.5], backend="petsc",
                                                         error_estimate=False))
    if rank == 0 and "negative" not in refusals["one_rank_p0"]:
        refusals["one_rank_p0"] += " (process 0)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fp.evolve(sde, grid, p0, [0, 1], backend="petsc", gather="root")
    # a solver that misses its tolerance escalates (ILU -> BoomerAMG -> MUMPS); one that
    # cannot meet it at all raises
    options = PETSc.Options()
    g2 = fp.Grid(bounds=[(-4, 4), (-3.5, 3.5)], shape=(48, 40))
    q0 = fp.gaussian(g2, [1.0, -0.5], 0.15 * np.eye(2))
    options.setValue("fp_ksp_max_it", 2)
    esc = fp.evolve(fp.ornstein_uhlenbeck(H2, C2), g2, q0, [0, 1.0], backend="petsc", error_estimate=False)
    ser = fp.evolve(fp.ornstein_uhlenbeck(H2, C2), g2, q0, [0, 1.0], error_estimate=False)
    refusals["escalated"] = [esc.message, float(np.abs(esc.density - ser.density).max() / ser.density.max())]
    options.setValue("fp_pc_type", "none")
    try:
        fp.evolve(fp.ornstein_uhlenbeck(H2, C2), g2, q0, [0, 1.0], backend="petsc", error_estimate=False)
        refusals["unsolvable"] = "not refused"
    except fp.ConvergenceError as err:
        refusals["unsolvable"] = str(err)
    options.delValue("fp_ksp_max_it")
    options.delValue("fp_pc_type")
    # the hard regime: a metastable double well (D = 0.1) from the left well to t = 1e10, one
    # step near the backward-Euler cap; the mass must split 0.5 / 0.5 as serially
    a = 1.6
    well = fp.SDE(drift=lambda x: np.stack([-4 * a * x[..., 0] * (x[..., 0] ** 2 - 1), -x[..., 1], -x[..., 2]], -1),
                  sigma=np.sqrt(0.2), ndim=3)
    gw = fp.Grid(bounds=[(-1.8, 1.8), (-1.5, 1.5), (-1.5, 1.5)], shape=(72, 8, 8))
    w0 = fp.gaussian(gw, [-1.0, 0.0, 0.0], 0.01 * np.eye(3))
    far = fp.evolve(well, gw, w0, [0.0, 1e10], backend="petsc", error_estimate=False)
    near = fp.evolve(well, gw, w0, [0.0, 1e10], method="tr-bdf2", error_estimate=False)
    refusals["metastable"] = [float(far.density[-1][:36].sum() / far.density[-1].sum()),
                              float(near.density[-1][:36].sum() / near.density[-1].sum()), far.message]
    q0 = fp.gaussian(grid, [1.0, -0.5], 0.2)   # not the stationary density: the partner's solves work
    small = fp.evolve(sde, grid, q0, [0, 0.5], backend="petsc")
    serial = fp.evolve(sde, grid, q0, [0, 0.5], method="tr-bdf2")   # "auto" here may choose expm
    refusals["idle_iterations"] = small.message
    refusals["idle_partner"] = [float(small.error_estimate[-1]), float(serial.error_estimate[-1])]
    refusals["root_estimate"] = f"{np.isnan(r.error_estimate).all()} " + " | ".join(str(w.message) for w in caught)
    if rank == 0:
        for row in out:
            print(json.dumps(row))
        print(json.dumps(dict(refusals=refusals)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
