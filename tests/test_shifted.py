"""Solves with I - c A in 3-D: GMRES with Jacobi, then AMG, then SuperLU, each solve
checked by its backward error (fokkerplanck/_solvers/shifted.py), against SuperLU alone,
the exact OU transient and the stationary density."""

import numpy as np
import pytest
import scipy.linalg

import fokkerplanck as fp
from fokkerplanck._solvers import evolve as evolve_module
from fokkerplanck._solvers import shifted

M = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]])
C = np.array([[1.0, 0.4, 0.1], [0.4, 1.0, 0.3], [0.1, 0.3, 1.0]])
M0, S0 = np.array([1.0, 0.0, -0.5]), 0.3 * np.eye(3)


def _problem(n):
    grid = fp.Grid(bounds=[(-4.5, 4.5)] * 3, shape=n)
    return fp.ornstein_uhlenbeck(M, C), grid, fp.gaussian(grid, M0, S0)


@pytest.fixture
def superlu_only(monkeypatch):
    monkeypatch.setattr(evolve_module.Algebra, "stages", property(lambda self: ("lu",)))


def test_3d_evolve_is_the_superlu_evolution_to_the_solver_tolerance(monkeypatch):
    sde, grid, p0 = _problem(16)
    staged = fp.evolve(sde, grid, p0, [0.0, 0.5, 2.0], error_estimate=False)
    assert "jacobi -> amg -> lu" in staged.message and "L1 residual at most 1e-09" in staged.message
    monkeypatch.setattr(evolve_module.Algebra, "stages", property(lambda self: ("lu",)))
    lu = fp.evolve(sde, grid, p0, [0.0, 0.5, 2.0], error_estimate=False)
    assert lu.message == ""
    assert staged.n_steps == lu.n_steps and staged.nlu == lu.nlu
    # GMRES to 1e-12 at each of 102 solves: measured 2e-12
    assert np.abs(staged.density - lu.density).max() < 1e-9 * lu.density.max()
    assert np.abs(staged.mass - 1).max() < 1e-13   # the exact mass balance of every solve


def test_3d_evolve_against_the_exact_ou_transient_with_its_error_estimate():
    sde, grid, p0 = _problem(24)
    ev = fp.evolve(sde, grid, p0, [0.0, 2.0])
    E, S = scipy.linalg.expm(-2.0 * M), fp.lyapunov(M, C)
    exact = fp.gaussian(grid, E @ M0, S + E @ (S0 - S) @ E.T)
    true = float(grid.integrate(np.abs(ev.density[-1] - exact)))
    # second order in space: 2.3e-2 at 32^3, 1.0e-2 at 48^3 (benchmarks); the estimate tracks it
    assert true < 0.06
    assert true / 2 < ev.error_estimate[-1] < 2 * true


def test_3d_long_horizon_reaches_the_stationary_density_through_escalations():
    # steps up to the backward-Euler cap: Jacobi cannot solve the long ones, AMG can
    sde, grid, p0 = _problem(16)
    ev = fp.evolve(sde, grid, p0, [0.0, 1.0, 100.0, 1e6], method="backward_euler", error_estimate=False)
    st = fp.stationary(sde, grid, conductance="sg", error_estimate=False)
    assert "jacobi -> amg" in ev.message
    assert np.abs(ev.density[-1] - st.density).max() < 1e-10 * st.density.max()   # measured 5e-16
    assert np.abs(ev.mass - 1).max() < 1e-13


def test_a_stage_that_misses_the_check_escalates_and_one_that_cannot_raises(monkeypatch, superlu_only):
    sde, grid, p0 = _problem(12)
    lu = fp.evolve(sde, grid, p0, [0.0, 1.0], method="tr-bdf2", error_estimate=False)
    monkeypatch.undo()
    monkeypatch.setattr(shifted, "GMRES_RESTART", 2)   # Jacobi and AMG: two iterations each
    ev = fp.evolve(sde, grid, p0, [0.0, 1.0], method="tr-bdf2", error_estimate=False)
    assert "jacobi -> amg" in ev.message and "amg -> lu" in ev.message, ev.message
    assert np.abs(ev.density - lu.density).max() < 1e-12 * lu.density.max()

    class Broken:
        direct = False

        def __init__(self, answer):
            self.answer = answer

        def solve(self, b):
            return self.answer(b), True   # claims convergence; the check sees through it

        def free(self):
            pass

    for answer in (lambda b: 0.5 * b, lambda b: np.full_like(b, np.nan)):
        monkeypatch.setattr(evolve_module.Algebra, "stage", lambda self, A, c, name: Broken(answer))
        with pytest.raises(fp.ConvergenceError, match="relative L1 residual .* after every solver"):
            fp.evolve(sde, grid, p0, [0.0, 1.0], method="tr-bdf2", error_estimate=False)


def test_a_metastable_long_step_moves_the_mass_between_the_wells(monkeypatch):
    # a symmetric double well along axis 0 at D = 0.1, from the left well to t = 1e10: the
    # mass splits 0.5 / 0.5. A Jacobi answer that had moved no mass (left-well mass 1.0,
    # L1 error 0.97) passed the normwise backward-error check at c = 1e8; the residual
    # check (a bound on the step's L1 error) escalates it to a stage that solves it
    a = 1.6
    sde = fp.SDE(drift=lambda x: np.stack([-4 * a * x[..., 0] * (x[..., 0] ** 2 - 1), -x[..., 1], -x[..., 2]], -1),
                 sigma=np.sqrt(0.2), ndim=3)
    grid = fp.Grid(bounds=[(-1.8, 1.8), (-1.5, 1.5), (-1.5, 1.5)], shape=(72, 8, 8))
    p0 = fp.gaussian(grid, [-1.0, 0.0, 0.0], 0.01 * np.eye(3))
    staged = fp.evolve(sde, grid, p0, [0.0, 1e10], error_estimate=False)
    assert "jacobi -> amg" in staged.message, staged.message
    monkeypatch.setattr(evolve_module.Algebra, "stages", property(lambda self: ("lu",)))
    lu = fp.evolve(sde, grid, p0, [0.0, 1e10], error_estimate=False)
    left = staged.density[-1][:36].sum() / staged.density[-1].sum()
    assert abs(left - lu.density[-1][:36].sum() / lu.density[-1].sum()) < 1e-8
    assert abs(left - 0.5) < 0.01   # measured 0.5015 (the grid's asymmetry)
    assert grid.integrate(np.abs(staged.density[-1] - lu.density[-1])) < 1e-8


def test_without_pyamg_the_3d_stages_skip_amg(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyamg", None)   # import pyamg raises ImportError
    sde, grid, p0 = _problem(12)
    ev = fp.evolve(sde, grid, p0, [0.0, 1.0, 1e6], method="tr-bdf2", error_estimate=False)
    assert "(jacobi -> lu)" in ev.message, ev.message
    st = fp.stationary(sde, grid, conductance="sg", error_estimate=False)
    assert np.abs(ev.density[-1] - st.density).max() < 1e-10 * st.density.max()


def test_time_dependent_3d_evolve_against_the_exact_moving_trap():
    # dx = -(x - c(t)) dt + 0.8 dB: the mean solves m' = -(m - c(t)), each variance
    # v' = -2 v + 0.64; every stage time assembles a new generator and a new staged solver
    from scipy.integrate import solve_ivp

    def centre(t):
        return np.array([np.sin(2 * t), 0.0, 0.5 * np.cos(t)])

    sde = fp.SDE(drift=lambda x, t: -(x - centre(t)), sigma=0.8, time_dependent=True)
    mean = solve_ivp(lambda t, m: -(m - centre(t)), (0, 2), np.zeros(3), rtol=1e-12, atol=1e-12, dense_output=True)
    errors = []
    for n in (12, 24):
        grid = fp.Grid(bounds=[(-4, 4)] * 3, shape=n)
        ev = fp.evolve(sde, grid, fp.gaussian(grid, [0.0, 0.0, 0.0], 0.3), [0.0, 1.0, 2.0], error_estimate=False)
        assert ev.n_assemble > 10 and "solves with I - c A" in ev.message
        # no mass correction for time-dependent generators: the solves' exact mass balance keeps it
        assert np.abs(ev.mass - 1).max() < 1e-13
        var = 0.32 + (0.3 - 0.32) * np.exp(-2 * ev.t[1:])
        errors.append(max(float(np.abs(ev.mean()[1:] - mean.sol(ev.t[1:]).T).max()),
                          float(np.abs(np.diagonal(ev.cov()[1:], axis1=1, axis2=2) - var[:, None]).max())))
    # second order in space: measured 0.070 at 12^3, 0.019 at 24^3
    assert errors[1] < 0.03 and errors[1] < errors[0] / 3, errors
