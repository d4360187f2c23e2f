"""One argument order and one time/tolerance vocabulary (docs/architecture.md, "Vocabulary").

The old spellings are called here on purpose: each must still give the same answer,
bit for bit, and warn with a DeprecationWarning that names the new spelling.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import fokkerplanck as fp

G1 = fp.Grid(bounds=[(-4, 4)], shape=40)
G2 = fp.Grid(bounds=[(-4, 4), (-3, 3)], shape=(16, 12))
GA = fp.Grid(bounds=[(0, 1)], shape=40, boundary="absorbing")
OU = fp.ornstein_uhlenbeck(1.0, 1.0)


def _quadratic(x):
    return 0.5 * (x**2).sum(-1)


def _no_warning(f, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return f(*args, **kwargs)


# ------------------------------------------------------------ density builders
BUILDERS = [
    # (function, new positional call, old positional call, new spelling in the warning)
    (fp.gibbs, (G2, _quadratic, 0.7), (_quadratic, 0.7, G2), "gibbs(grid, loss, temperature)"),
    (fp.gaussian_density, (G2, [0.5, 0.0], [[1.0, 0.2], [0.2, 0.5]]), ([0.5, 0.0], [[1.0, 0.2], [0.2, 0.5]], G2),
     "gaussian_density(grid, mean, cov)"),
    (fp.heat_kernel, (G1, [0.3], 0.5, 2.0), ([0.3], 0.5, 2.0, G1), "heat_kernel(grid, x0, sigma, t)"),
]


@pytest.mark.parametrize("f, new, old, spelling", BUILDERS, ids=lambda v: getattr(v, "__name__", None))
def test_density_builders_take_the_grid_first_and_the_old_order_warns(f, new, old, spelling):
    p = _no_warning(f, *new)
    assert p.shape == new[0].shape
    with pytest.warns(DeprecationWarning, match=r"is deprecated .* write `" + spelling.replace("(", r"\(").replace(")", r"\)")):
        q = f(*old)
    np.testing.assert_array_equal(p, q)
    assert next(iter(inspect.signature(f).parameters)) == "grid"


def test_every_density_builder_takes_the_grid_first():
    for f in (fp.gaussian, fp.gaussian_density, fp.point_mass, fp.uniform, fp.gibbs, fp.heat_kernel):
        assert next(iter(inspect.signature(f).parameters)) == "grid", f.__name__


def test_old_order_with_keywords_and_normalise():
    with pytest.warns(DeprecationWarning, match="heat_kernel"):
        p = fp.heat_kernel([0.0], sigma=0.5, t=4.0, grid=G1)
    np.testing.assert_array_equal(p, _no_warning(fp.heat_kernel, G1, [0.0], 0.5, 4.0))
    with pytest.warns(DeprecationWarning, match="gaussian_density"):
        q = fp.gaussian_density(0.0, 1.0, G1, normalise=True)
    np.testing.assert_array_equal(q, _no_warning(fp.gaussian_density, G1, 0.0, 1.0, normalise=True))
    assert G1.integrate(q) == pytest.approx(1.0, abs=1e-12)
    # all by keyword: no order to read, no warning
    r = _no_warning(fp.gaussian_density, mean=0.0, cov=1.0, grid=G1)
    np.testing.assert_array_equal(r, fp.gaussian_density(G1, 0.0, 1.0))
    np.testing.assert_array_equal(_no_warning(fp.gibbs, G1, loss=_quadratic, temperature=0.5),
                                  fp.gibbs(G1, _quadratic, 0.5))


def test_old_order_errors_name_the_problem():
    with pytest.raises(TypeError, match="multiple values"):
        fp.gibbs(_quadratic, 0.5, G1, loss=_quadratic)
    with pytest.raises(TypeError, match="`grid` must be a fokkerplanck.Grid"), pytest.warns(DeprecationWarning):
        fp.gibbs(G1.bounds, _quadratic, 0.5)  # read as the old order, which has no grid either
    with pytest.raises(TypeError, match="`loss` must be callable"):
        fp.gibbs(G1, 0.5, _quadratic)
    with pytest.raises(ValueError, match="temperature"):
        fp.gibbs(G1, _quadratic, -1.0)


def test_gaussian_density_matches_the_initial_gaussian():
    """Same order and same numbers: the exact density normalised on the grid is the initial one."""
    cov = [[1.0, 0.3], [0.3, 0.5]]
    np.testing.assert_allclose(fp.gaussian_density(G2, [0.2, -0.1], cov, normalise=True),
                               fp.gaussian(G2, [0.2, -0.1], cov), rtol=1e-12)


# ------------------------------------------------------------------ tolerances
def test_solvers_take_rtol_and_the_old_tol_warns():
    a = fp.stationary(OU, G1, method="eigs", rtol=1e-9, error_estimate=False)
    with pytest.warns(DeprecationWarning, match=r"`stationary\(tol=...\)` is deprecated.*`stationary\(rtol=...\)`"):
        b = fp.stationary(OU, G1, method="eigs", tol=1e-9, error_estimate=False)
    np.testing.assert_allclose(a.density, b.density, rtol=1e-8)  # ARPACK starts from a random vector
    with pytest.raises(ValueError, match="`rtol`"), pytest.warns(DeprecationWarning):
        fp.stationary(OU, G1, tol=-1.0)  # the old keyword's value is the new one's

    gap = fp.spectral_gap(OU, G1, rtol=1e-8)
    with pytest.warns(DeprecationWarning, match="spectral_gap"):
        assert fp.spectral_gap(OU, G1, tol=1e-8) == pytest.approx(gap, rel=1e-10)
    with pytest.warns(DeprecationWarning, match="modes"):
        m = fp.modes(OU, G1, 2, tol=1e-8, error_estimate=False)
    np.testing.assert_allclose(m.rates, fp.modes(OU, G1, 2, rtol=1e-8, error_estimate=False).rates, rtol=1e-10)

    q = fp.quasi_stationary(fp.brownian(1.0), GA, rtol=1e-8, error_estimate=False)
    with pytest.warns(DeprecationWarning, match="quasi_stationary"):
        assert fp.quasi_stationary(fp.brownian(1.0), GA, tol=1e-8, error_estimate=False).rate == q.rate
    assert "rtol=" in q.message


def test_old_and_new_tolerance_together_is_an_error():
    with pytest.raises(TypeError, match="both `tol=`.*`rtol=`"):
        fp.stationary(OU, G1, tol=1e-9, rtol=1e-9)


def test_every_relative_tolerance_is_spelled_rtol():
    for f in (fp.stationary, fp.modes, fp.spectral_gap, fp.quasi_stationary, fp.evolve, fp.equilibrium_test):
        params = inspect.signature(f).parameters
        assert "rtol" in params and "tol" not in params, f.__name__


# ------------------------------------------------------------------------ time
def test_simulate_takes_t_eval_and_the_old_save_at_warns():
    x0 = np.zeros((300, 1))
    a = fp.simulate(OU, x0, 1.0, dt=0.05, t_eval=[0.25, 1.0], rng=3)
    with pytest.warns(DeprecationWarning, match=r"`simulate\(save_at=...\)`.*`simulate\(t_eval=...\)`"):
        b = fp.simulate(OU, x0, 1.0, dt=0.05, save_at=[0.25, 1.0], rng=3)
    np.testing.assert_array_equal(a.snapshots, b.snapshots)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.save_at, [0.25, 1.0])
    with pytest.raises(TypeError, match="both `save_at=`.*`t_eval=`"):
        fp.simulate(OU, x0, 1.0, t_eval=[1.0], save_at=[1.0])


def test_simulate_t_end_defaults_to_the_last_output_time():
    x0 = np.zeros((200, 1))
    a = fp.simulate(OU, x0, t_eval=[0.5, 0.2], dt=0.05, rng=4)
    b = fp.simulate(OU, x0, 0.5, t_eval=[0.2, 0.5], dt=0.05, rng=4)
    assert a.t == 0.5
    np.testing.assert_array_equal(a.snapshots, b.snapshots)
    np.testing.assert_array_equal(a.snapshots[-1], a.x)
    with pytest.raises(TypeError, match="needs the final time"):
        fp.simulate(OU, x0)
    with pytest.raises(ValueError, match="`t_eval` must be a non-empty set of times"):
        fp.simulate(OU, x0, t_eval=[])
    with pytest.raises(ValueError, match="`t_eval` must be a non-empty set of times in \\[0, t_end=1.0\\]"):
        fp.simulate(OU, x0, 1.0, t_eval=[-0.5])


def test_evolve_and_simulate_speak_of_the_same_times():
    """A scalar ``t_eval`` is one final time in evolve; the grid density and the particles
    started from the same density agree there (1-D OU: exact mean 2 exp(-t))."""
    grid = fp.Grid(bounds=[(-5, 7)], shape=240)
    p0 = fp.gaussian(grid, 2.0, 0.1)
    one = fp.evolve(OU, grid, p0, 1.0, method="tr-bdf2", dt=0.01)
    many = fp.evolve(OU, grid, p0, [0.0, 0.5, 1.0], method="tr-bdf2", dt=0.01)
    assert one.density.shape == (1, *grid.shape) and one.t.tolist() == [1.0]
    np.testing.assert_allclose(one.density[0], many.density[-1], rtol=1e-12, atol=1e-15)
    pt = fp.simulate(OU, p0, t_eval=[0.5, 1.0], dt=0.01, grid=grid, n=20_000, rng=5)
    assert fp.compare(many.density[-1], pt.snapshots[-1], grid=grid).consistent
    np.testing.assert_allclose(pt.snapshots[:, :, 0].mean(axis=1), 2 * np.exp(-np.array([0.5, 1.0])), atol=0.03)
