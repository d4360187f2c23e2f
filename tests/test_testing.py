"""fokkerplanck.testing: the strategies generate problems whose exact densities the
solver reproduces, and the assertion helpers accept what is right and reject what
is wrong with informative messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings

import fokkerplanck as fp
from fokkerplanck.testing import (
    Problem, assert_consistent, assert_density_close, gibbs_problems, lyapunov_problems,
    polynomial_loss, problems, rotational_problems,
)


def _solve(problem: Problem) -> np.ndarray:
    with warnings.catch_warnings():
        # coarse rotational examples may warn about cell Peclet numbers (accuracy, not validity)
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        return fp.stationary(problem.sde, problem.grid).density


@given(problems(ndim=(1, 2)))
def test_stationary_solver_reproduces_every_family(problem):
    assert isinstance(problem, Problem)
    g = problem.grid
    assert problem.density.shape == g.shape and problem.density.min() >= 0
    assert g.integrate(problem.density) == pytest.approx(1.0, abs=1e-12)
    assert_density_close(_solve(problem), problem.density, g, atol=problem.atol, err_msg=repr(problem))


@given(gibbs_problems(ndim=(1, 2, 3)))
def test_gibbs_family_is_exact_equilibrium_with_room_at_the_walls(problem):
    g = problem.grid
    assert problem.equilibrium and problem.atol <= 1e-9
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", fp.FokkerPlanckWarning)
        res = fp.stationary(problem.sde, g)
    # no mass at the walls (a ResolutionWarning may still note a cell Peclet number above 5:
    # these grids are coarse, and exact at the centres only because the rates balance)
    assert not [w for w in caught if "walls" in str(w.message)], [str(w.message) for w in caught]
    assert_density_close(res.density, problem.density, g, atol=1e-9)
    assert fp.equilibrium_test(res).equilibrium


@given(rotational_problems())
def test_rotational_family_keeps_gibbs_and_carries_a_current(problem):
    a = problem.params["a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        res = fp.stationary(problem.sde, problem.grid)
    if abs(a) > 0.2:
        assert not fp.equilibrium_test(res).equilibrium
        assert fp.entropy_production(res) > 0


@given(lyapunov_problems(ndim=2))
def test_lyapunov_family_covariance(problem):
    S = problem.params["S"]
    H, C = problem.params["H"], problem.params["cov"]
    assert np.allclose(H @ S + S @ H.T, C, atol=1e-12)
    assert np.all(np.linalg.eigvals(H).real > 0)
    assert np.allclose(problem.grid.cov(problem.density), S, rtol=0.02, atol=1e-3 * S.max())


def test_polynomial_loss_gradient_matches_finite_differences(rng):
    loss, grad = polynomial_loss([1.0, 0.5], [0.3, -0.2], [[0.5, 0.2], [0.2, -1.0]], [0.1, -0.3])
    x = rng.normal(size=(5, 2))
    h = 1e-6
    fd = np.stack([(loss(x + h * e) - loss(x - h * e)) / (2 * h) for e in np.eye(2)], axis=-1)
    assert np.allclose(grad(x), fd, atol=1e-7)


@settings(max_examples=5)
@given(problems(ndim=(1, 2)))
def test_exact_samples_pass_assert_consistent(problem):
    x = problem.sample(20000, rng=11)
    cmp = assert_consistent(problem, x, alpha=1e-4)
    assert cmp.n == 20000


def test_particles_of_a_generated_problem_pass_assert_consistent():
    # a fixed 1-D Gibbs problem: Euler-Maruyama particles after burn-in agree with the density
    loss, grad = polynomial_loss([1.0], [0.2], [[-1.0]], [0.1])
    T = 0.5
    grid = fp.Grid([(-3, 3)], 60)
    sde = fp.SDE(loss=loss, grad=grad, sigma=np.sqrt(2 * T))
    p = fp.stationary(sde, grid).density
    pt = fp.simulate(sde, p, 3.0, n=10000, dt=5e-3, grid=grid, rng=5)
    assert_consistent(p, pt, grid, alpha=1e-3)


def test_assert_density_close_messages():
    grid = fp.Grid([(-5, 5)], 100)
    p = fp.gaussian_density(grid, 0.0, 1.0)
    q = fp.gaussian_density(grid, 0.3, 1.0)
    assert assert_density_close(p, p, grid, atol=0.0) == 0.0
    with pytest.raises(AssertionError, match=r"L1 = .* > atol") as info:
        assert_density_close(p, q, grid, atol=0.1, err_msg="my solver")
    assert "my solver" in str(info.value) and "x = [" in str(info.value)
    assert_density_close(p, 2 * p, grid, atol=1e-12, normalise=True)
    with pytest.raises(AssertionError, match="shape"):
        assert_density_close(p[:-1], p[:-1], grid, atol=1)
    bad = p.copy()
    bad[3] = np.nan
    with pytest.raises(AssertionError, match="non-finite"):
        assert_density_close(bad, p, grid, atol=1)
    with pytest.raises(ValueError, match="`atol`"):
        assert_density_close(p, p, grid, atol=-1)
    with pytest.raises(TypeError, match="`grid`"):
        assert_density_close(p, p, (-5, 5), atol=1)


def test_assert_consistent_rejects_wrong_samplers(rng):
    grid = fp.Grid([(-5, 5)], 50)
    p = fp.gaussian_density(grid, 0.0, 1.0, normalise=True)
    x = rng.standard_normal((20000, 1))
    assert_consistent(p, x, grid)
    with pytest.raises(AssertionError, match="not consistent"):
        assert_consistent(p, 1.1 * x, grid)          # too wide
    with pytest.raises(AssertionError, match="not consistent"):
        assert_consistent(p, x + 0.05, grid)         # shifted
    with pytest.raises(AssertionError, match="noise floor"):
        assert_consistent(p, x, grid, max_l1_ratio=0.5)


def test_strategy_arguments_are_checked():
    for strat in (gibbs_problems, lyapunov_problems, rotational_problems, problems):
        with pytest.raises(ValueError, match="`ndim`"):
            strat(ndim=5)
    with pytest.raises(ValueError, match="`ndim`"):
        rotational_problems(ndim=1)
