"""Time evolution (fokkerplanck.evolve) and initial densities (fokkerplanck.initial).

Every accuracy test compares with an exact answer: the heat kernel, the OU transient,
the moving-trap mean and variance ODEs, or ``expm`` (exact in time) for the temporal
orders. Rates are measured by least-squares slopes over a refinement sequence.
"""

from __future__ import annotations

import doctest
import importlib
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import rel_entr

import fokkerplanck as fp

evolve_module = importlib.import_module("fokkerplanck._solvers.evolve")  # the package imports names lazily
initial_module = importlib.import_module("fokkerplanck._model.initial")


def slope(h, err):
    """Least-squares slope of log(err) against log(h): the measured order."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def l1(grid, p, q):
    return grid.integrate(np.abs(p - q))


def double_well_1d(sigma=0.8):
    return fp.langevin(lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2, sigma=sigma)


# ------------------------------------------------------------------ initial
class TestInitial:
    def test_unit_mass_and_moments(self):
        grid = fp.Grid(bounds=[(-6, 6), (-5, 7)], shape=(120, 110))
        c = np.array([[1.0, 0.4], [0.4, 0.6]])
        p = fp.gaussian(grid, [0.5, 1.0], c)
        assert p.shape == grid.shape and p.min() >= 0
        assert grid.integrate(p) == pytest.approx(1.0, abs=1e-13)
        np.testing.assert_allclose(grid.mean(p), [0.5, 1.0], atol=1e-6)  # box truncation at 5.5 sd
        # midpoint rule on a smooth Gaussian: covariance to O(h^2 / 12) at most
        np.testing.assert_allclose(grid.cov(p), c, atol=2e-3)
        u = fp.uniform(grid)
        assert grid.integrate(u) == pytest.approx(1.0, abs=1e-13)
        assert np.ptp(u) == 0

    def test_gaussian_scalar_and_vector_cov_agree(self):
        grid = fp.Grid(bounds=[(-4, 4), (-4, 4)], shape=40)
        np.testing.assert_allclose(fp.gaussian(grid, [0, 0], 0.5), fp.gaussian(grid, [0, 0], [0.5, 0.5]))
        np.testing.assert_allclose(
            fp.gaussian(grid, [0, 0], [0.5, 0.5]), fp.gaussian(grid, [0, 0], np.diag([0.5, 0.5]))
        )
        # and all three are the exact N(0, 0.5 I) at the centres, normalised on the grid
        x = grid.points()
        exact = np.exp(-(x**2).sum(-1) / (2 * 0.5))
        np.testing.assert_allclose(fp.gaussian(grid, [0, 0], 0.5), exact / grid.integrate(exact), rtol=1e-12)

    def test_point_mass(self):
        grid = fp.Grid(bounds=[(0, 1), (-1, 1)], shape=(4, 8))
        p = fp.point_mass(grid, [0.3, -0.1])
        assert grid.integrate(p) == pytest.approx(1.0)
        assert np.count_nonzero(p) == 1 and p[1, 3] == 1 / grid.cell_volume
        # the upper wall belongs to the last cell; periodic axes wrap
        assert fp.point_mass(grid, [1.0, 1.0])[3, 7] > 0
        pg = fp.Grid(bounds=[(0, 1)], shape=4, boundary="periodic")
        assert fp.point_mass(pg, 1.3)[1] == 4.0

    def test_point_mass_outside_box(self):
        grid = fp.Grid(bounds=[(0, 1)], shape=4)
        with pytest.raises(ValueError, match="outside the box on axis 0"):
            fp.point_mass(grid, 1.5)
        with pytest.raises(ValueError, match=r"must have shape \(1,\)"):
            fp.point_mass(grid, [0.1, 0.2])

    def test_gaussian_bad_cov(self):
        grid = fp.Grid(bounds=[(-1, 1), (-1, 1)], shape=10)
        with pytest.raises(ValueError, match="not positive semi-definite"):
            fp.gaussian(grid, [0, 0], [[1, 2], [2, 1]])
        with pytest.raises(ValueError, match="symmetric"):
            fp.gaussian(grid, [0, 0], [[1, 0.2], [0.1, 1]])
        with pytest.raises(ValueError, match="cov` has shape"):
            fp.gaussian(grid, [0, 0], np.eye(3))
        with pytest.raises(ValueError, match="mean` has shape"):
            fp.gaussian(grid, [0, 0, 0], 1.0)

    def test_gaussian_warnings(self):
        grid = fp.Grid(bounds=[(-1, 1)], shape=10)
        with pytest.warns(fp.FokkerPlanckWarning, match="below the cell width"):
            fp.gaussian(grid, 0.0, 0.01)
        with pytest.warns(fp.FokkerPlanckWarning, match="lies in the box"):
            p = fp.gaussian(grid, 0.9, 0.5)
        assert grid.integrate(p) == pytest.approx(1.0)


# ----------------------------------------------------------- mass, positivity
@pytest.mark.parametrize("method", ["backward_euler", "tr-bdf2", "expm"])
@pytest.mark.parametrize("boundary", ["reflecting", "periodic"])
def test_mass_conserved(method, boundary):
    grid = fp.Grid(bounds=[(-3, 3), (-2, 2)], shape=(36, 30), boundary=boundary)
    # non-gradient drift, correlated noise: a generic (non-symmetric) generator
    sde = fp.SDE(
        drift=lambda x: np.stack([-np.sin(x[..., 0]) + 0.5 * np.cos(x[..., 1]), 0.3 - x[..., 1] * 0.2], -1),
        cov=[[0.6, 0.3], [0.3, 0.5]],
    )
    p0 = fp.gaussian(grid, [0.5, 0.0], [0.3, 0.2])
    ev = fp.evolve(sde, grid, p0, np.linspace(0, 2, 11), method=method, dt=0.01)
    assert ev.method == method
    np.testing.assert_allclose(ev.mass, 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ev.density[0], p0)
    if method != "expm":
        assert ev.nlu == 1 and ev.n_steps == 200


@settings(max_examples=20)
@given(
    boundary=st.sampled_from(["reflecting", "periodic", ("periodic", "reflecting")]),
    corr=st.floats(-0.95, 0.95),
    ratio=st.floats(0.2, 5.0),
    tilt=st.floats(-3.0, 3.0),
    log_dt=st.floats(-3, 0),
    method=st.sampled_from(["backward_euler", "tr-bdf2", "expm"]),
)
def test_mass_conserved_property(boundary, corr, ratio, tilt, log_dt, method):
    """Random SPD noise, non-gradient drift, any step: mass stays 1 to 1e-12."""
    grid = fp.Grid(bounds=[(-np.pi, np.pi), (-2, 2)], shape=(24, 20), boundary=boundary)
    c = np.array([[1.0, corr * np.sqrt(ratio)], [corr * np.sqrt(ratio), ratio]])
    sde = fp.SDE(drift=lambda x: np.stack([tilt - np.sin(x[..., 0]), -x[..., 1]], -1), cov=c)
    p0 = fp.gaussian(grid, [0.3, -0.2], [0.5, 0.3])
    dt = 10.0**log_dt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)  # TR-BDF2 negatives at long dt
        ev = fp.evolve(sde, grid, p0, [dt, 5 * dt], method=method, dt=dt)
    np.testing.assert_allclose(ev.mass, 1.0, rtol=0, atol=1e-12)


def test_callable_generator_for_time_dependent_sde():
    """`generator=` takes t -> A(t); here the operator's own A(t), so the results agree."""
    grid = fp.Grid(bounds=[(-4, 4)], shape=60)
    sde = moving_trap(0.7)
    p0 = fp.gaussian(grid, 0.5, 0.2)
    calls = []

    def A_of_t(t):
        calls.append(t)
        return fp.generator(sde, grid, t=t)

    a = fp.evolve(sde, grid, p0, [0.4, 0.8], method="tr-bdf2", dt=0.1, generator=A_of_t)
    b = fp.evolve(sde, grid, p0, [0.4, 0.8], method="tr-bdf2", dt=0.1)
    np.testing.assert_array_equal(a.density, b.density)
    # stage times t_n + gamma h and t_{n+1}, after A(t0)
    g = 2 - np.sqrt(2)
    expected = [0.0] + [t for n in range(8) for t in (0.1 * n + 0.1 * g, 0.1 * (n + 1))]
    np.testing.assert_allclose(calls, expected, atol=1e-12)


def test_absorbing_walls_lose_mass_at_the_exact_rate():
    """Brownian motion on [0, 1], absorbing both ends, uniform start: the survival
    probability is sum over odd k of 8/(pi k)^2 exp(-D (pi k)^2 t)."""
    D = 0.5
    grid = fp.Grid(bounds=[(0, 1)], shape=200, boundary="absorbing")
    t = np.linspace(0, 0.5, 6)
    ev = fp.evolve(fp.brownian(1.0), grid, fp.uniform(grid), t, method="tr-bdf2", dt=1e-3)
    k = np.arange(1, 400, 2)[:, None]
    exact = np.sum(8 / (np.pi * k) ** 2 * np.exp(-D * (np.pi * k) ** 2 * t), axis=0)
    assert np.all(np.diff(ev.mass) < 0)
    np.testing.assert_allclose(ev.mass[1:], exact[1:], rtol=2e-4)


def test_backward_euler_is_positive_for_every_step():
    grid = fp.Grid(bounds=[(-3, 3), (-3, 3)], shape=50)
    sde = fp.SDE(drift=lambda x: -x @ np.array([[1.0, 2.0], [-2.0, 1.0]]).T, cov=[[1, 0.9], [0.9, 1]])
    A = fp.generator(sde, grid)
    amax = abs(A.diagonal()).max()
    p0 = fp.point_mass(grid, [1.0, 0.5])
    for dt in (1e-3, 0.1, 10.0, 1e4):
        ev = fp.evolve(sde, grid, p0, [dt, 2 * dt, 3 * dt], method="backward_euler", dt=dt)
        assert ev.density.min() >= 0, (dt, dt * amax)
        np.testing.assert_allclose(ev.mass, 1.0, atol=1e-12)
    # TR-BDF2 is not positive once dt * max|a_ii| >> 1 + sqrt(2): it says so
    with pytest.warns(fp.FokkerPlanckWarning, match="negative densities"):
        ev = fp.evolve(sde, grid, p0, [1.0], method="tr-bdf2", dt=1.0)
    assert ev.density.min() < 0


# ------------------------------------------------------------- exact answers
def test_heat_kernel_second_order_in_space():
    """Brownian motion from N(x0, s0^2) is N(x0, s0^2 + sigma^2 t): the L1 error
    falls like h^2 (expm: exact in time; TR-BDF2 with dt ~ h: also h^2)."""
    sigma, s0, T, x0 = 1.0, 0.3, 1.0, 0.5
    ns = np.array([64, 128, 256, 512])
    err_expm, err_tr = [], []
    for n in ns:
        grid = fp.Grid(bounds=[(-8, 8)], shape=int(n))
        p0 = fp.gaussian(grid, x0, s0**2)
        exact = fp.heat_kernel(grid, x0, sigma, T + s0**2 / sigma**2)
        ev = fp.evolve(fp.brownian(sigma), grid, p0, [T], method="expm")
        err_expm.append(l1(grid, ev.density[-1], exact))
        ev = fp.evolve(fp.brownian(sigma), grid, p0, [T], method="tr-bdf2", dt=4.0 / n)
        err_tr.append(l1(grid, ev.density[-1], exact))
    h = 16.0 / ns
    assert slope(h, err_expm) == pytest.approx(2.0, abs=0.05)
    assert slope(h, err_tr) == pytest.approx(2.0, abs=0.1)
    assert err_expm[-1] < 3e-4 and err_tr[-1] < 3e-4


def test_heat_kernel_2d_default_method():
    grid = fp.Grid(bounds=[(-6, 6), (-6, 6)], shape=96)
    sigma, x0, c0 = 0.7, [0.5, -0.3], 0.1
    p0 = fp.gaussian(grid, x0, c0)
    ev = fp.evolve(fp.brownian(sigma, ndim=2), grid, p0, [0.5, 1.0])
    for t, p in zip(ev.t, ev.density):
        exact = fp.heat_kernel(grid, x0, sigma, t + c0 / sigma**2)
        assert l1(grid, p, exact) < 6e-3  # spatial error at h = 0.125 (measured 3.6e-3)
    np.testing.assert_allclose(ev.mass, 1.0, atol=1e-12)


def test_ou_transient_mean_and_covariance():
    """OU with non-commuting H and noise: mean e^{-Ht} m0 and covariance
    S(t) = S_inf - e^{-Ht} (S_inf - S0) e^{-H^T t}."""
    H = np.array([[1.0, 0.5], [-0.4, 1.5]])
    C = np.array([[1.0, 0.5], [0.5, 0.8]])
    assert not np.allclose(H @ C, C @ H)
    m0, S0 = np.array([1.0, -0.5]), np.array([[0.15, 0.05], [0.05, 0.1]])
    S_inf = fp.lyapunov(H, C)
    grid = fp.Grid(bounds=[(-3, 3.5), (-3.5, 3)], shape=110)
    t = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
    ev = fp.evolve(fp.ornstein_uhlenbeck(H, C), grid, fp.gaussian(grid, m0, S0), t,
                   method="tr-bdf2", dt=0.01)
    for k, tk in enumerate(t):
        E = scipy.linalg.expm(-H * tk)
        mean, cov = E @ m0, S_inf - E @ (S_inf - S0) @ E.T
        np.testing.assert_allclose(ev.mean()[k], mean, atol=2e-3)
        np.testing.assert_allclose(ev.cov()[k], cov, atol=3e-3)
    np.testing.assert_allclose(ev.mass, 1.0, atol=1e-12)


def test_ou_transient_converges_under_refinement():
    """The moment errors of the OU transient fall at second order in h."""
    H, C = np.array([[1.0, 0.5], [-0.4, 1.5]]), np.array([[1.0, 0.5], [0.5, 0.8]])
    m0, S0 = np.array([1.0, -0.5]), np.array([[0.15, 0.05], [0.05, 0.1]])
    S_inf = fp.lyapunov(H, C)
    T = 1.0
    E = scipy.linalg.expm(-H * T)
    mean, cov = E @ m0, S_inf - E @ (S_inf - S0) @ E.T
    errs, hs = [], []
    for n in (40, 80, 160):
        grid = fp.Grid(bounds=[(-3.5, 3.5), (-3.5, 3.5)], shape=n)
        ev = fp.evolve(fp.ornstein_uhlenbeck(H, C), grid, fp.gaussian(grid, m0, S0), [T],
                       method="tr-bdf2", dt=2.0 / n)
        errs.append(np.abs(ev.mean()[-1] - mean).max() + np.abs(ev.cov()[-1] - cov).max())
        hs.append(7.0 / n)
    assert slope(hs, errs) > 1.8


# --------------------------------------------------------------- time orders
def _order_problem():
    grid = fp.Grid(bounds=[(-3, 3)], shape=150)
    sde = double_well_1d(0.8)
    p0 = fp.gaussian(grid, 0.7, 0.2)
    return sde, grid, p0


@pytest.mark.filterwarnings("ignore:`tr-bdf2` produced negative")  # dt = 0.1 dips to -4e-7
@pytest.mark.parametrize("method, order", [("tr-bdf2", 2.0), ("backward_euler", 1.0)])
def test_temporal_order_against_expm(method, order):
    sde, grid, p0 = _order_problem()
    t = [0.5, 1.0]
    ref = fp.evolve(sde, grid, p0, t, method="expm").density[-1]
    dts = np.array([0.1, 0.05, 0.025, 0.0125])
    errs = [l1(grid, fp.evolve(sde, grid, p0, t, method=method, dt=dt).density[-1], ref) for dt in dts]
    assert slope(dts, errs) == pytest.approx(order, abs=0.1)


def test_expm_is_exact_in_time():
    """expm_multiply against a dense matrix exponential on a small grid."""
    sde = double_well_1d(0.8)
    grid = fp.Grid(bounds=[(-3, 3)], shape=60)
    p0 = fp.gaussian(grid, 0.7, 0.2)
    A = fp.generator(sde, grid).toarray()
    ev = fp.evolve(sde, grid, p0, [0.3, 1.1, 2.0], method="expm")
    for t, p in zip(ev.t, ev.density):
        np.testing.assert_allclose(p, scipy.linalg.expm(t * A) @ p0, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ time-dependent
def moving_trap(sigma):
    return fp.SDE(drift=lambda x, t: -(x - np.sin(t)), sigma=sigma, time_dependent=True)


def trap_exact(t, m0, v0, sigma):
    """m' = -(m - sin t), v' = -2 v + sigma^2."""
    m = (m0 + 0.5) * np.exp(-t) + (np.sin(t) - np.cos(t)) / 2
    v = sigma**2 / 2 + (v0 - sigma**2 / 2) * np.exp(-2 * t)
    return m, v


def test_moving_trap_matches_exact_mean_and_variance():
    sigma, m0, v0 = 0.8, 1.0, 0.1
    grid = fp.Grid(bounds=[(-5, 5)], shape=400)
    t = np.linspace(0, 6, 13)
    ev = fp.evolve(moving_trap(sigma), grid, fp.gaussian(grid, m0, v0), t)
    assert ev.method == "tr-bdf2"
    m, v = trap_exact(t, m0, v0, sigma)
    np.testing.assert_allclose(ev.mean()[:, 0], m, atol=5e-4)
    np.testing.assert_allclose(ev.cov()[:, 0, 0], v, atol=5e-4)
    np.testing.assert_allclose(ev.mass, 1.0, atol=1e-12)
    assert ev.n_assemble == 2 * ev.n_steps + 1


@pytest.mark.parametrize("method, order", [("tr-bdf2", 2.0), ("backward_euler", 1.0)])
def test_moving_trap_temporal_order(method, order):
    """A(t) evaluated at the stage times keeps TR-BDF2 second order (evaluating it
    at t_n only would make it first order)."""
    sigma, m0, v0 = 0.8, 1.0, 0.1
    grid = fp.Grid(bounds=[(-5, 5)], shape=100)
    sde = moving_trap(sigma)
    p0 = fp.gaussian(grid, m0, v0)
    ref = fp.evolve(sde, grid, p0, [2.0], method="tr-bdf2", dt=0.2 / 64).density[-1]
    dts = np.array([0.2, 0.1, 0.05])
    errs = [l1(grid, fp.evolve(sde, grid, p0, [2.0], method=method, dt=dt).density[-1], ref) for dt in dts]
    assert slope(dts, errs) == pytest.approx(order, abs=0.15)


def test_time_dependent_sde_with_constant_drift_matches_time_independent():
    grid = fp.Grid(bounds=[(-4, 4)], shape=80)
    p0 = fp.gaussian(grid, 0.5, 0.3)
    td = fp.SDE(drift=lambda x, t: -x, sigma=0.9, time_dependent=True)
    ti = fp.SDE(drift=lambda x: -x, sigma=0.9)
    for method in ("tr-bdf2", "backward_euler"):
        a = fp.evolve(td, grid, p0, [0.5, 1.0], method=method, dt=0.05)
        b = fp.evolve(ti, grid, p0, [0.5, 1.0], method=method, dt=0.05)
        np.testing.assert_allclose(a.density, b.density, rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------- relative entropy
@settings(max_examples=25)
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=30, max_size=30).filter(lambda w: sum(w) > 0.1),
    log_dt=st.floats(-3, 1),
    method=st.sampled_from(["backward_euler", "expm"]),
)
def test_relative_entropy_never_increases(weights, log_dt, method):
    """KL(p_t || pi) is non-increasing for every Markov semigroup with stationary pi
    (backward Euler's (I - h A)^-1 is a stochastic matrix too, for every h)."""
    loss = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2 + 0.2 * x[..., 0]  # noqa: E731
    sigma = 0.8
    grid = fp.Grid(bounds=[(-2.5, 2.5)], shape=30)
    sde = fp.langevin(loss, sigma=sigma)
    pi = fp.gibbs(grid, loss, sigma**2 / 2)
    A = fp.generator(sde, grid)
    assert np.abs(A @ pi.ravel()).max() < 1e-10 * np.abs(A.diagonal()).max() * pi.max()
    p0 = np.asarray(weights) / (np.sum(weights) * grid.cell_volume)
    dt = 10.0**log_dt
    ev = fp.evolve(sde, grid, p0, dt * np.arange(0, 9), method=method, dt=dt, generator=A)
    kl = np.array([np.sum(rel_entr(p, pi)) * grid.cell_volume for p in ev.density])
    assert np.all(np.diff(kl) <= 1e-12 * (1 + kl[:-1])), kl


# ------------------------------------------------------------ plumbing, rules
def test_output_times_hit_exactly_nonuniform():
    sde, grid, p0 = _order_problem()
    t = np.array([0.0, 0.013, 0.1, 0.37, 1.0])
    ref = fp.evolve(sde, grid, p0, t, method="expm")
    ev = fp.evolve(sde, grid, p0, t, method="tr-bdf2", dt=1e-3)
    np.testing.assert_array_equal(ev.t, t)
    for p, q in zip(ev.density[1:], ref.density[1:]):
        assert l1(grid, p, q) < 1e-5
    assert ev.nlu <= 4  # one factorization per distinct step length


def test_uniform_t_eval_needs_one_factorization():
    sde, grid, p0 = _order_problem()
    ev = fp.evolve(sde, grid, p0, np.linspace(0, 3, 31), method="tr-bdf2", dt=0.007)
    assert ev.nlu == 1 and ev.n_assemble == 1
    assert ev.n_steps == 30 * 15 and ev.dt == pytest.approx(0.1 / 15)


def test_t0_and_precomputed_generator():
    sde, grid, p0 = _order_problem()
    A = fp.generator(sde, grid)
    a = fp.evolve(sde, grid, p0, [1.5, 2.0], t0=1.0, method="tr-bdf2", dt=0.01, generator=A)
    b = fp.evolve(sde, grid, p0, [0.5, 1.0], method="tr-bdf2", dt=0.01)
    np.testing.assert_allclose(a.density, b.density, rtol=1e-12, atol=1e-14)
    assert a.n_assemble == 0


def test_auto_method_choice():
    sde, grid, p0 = _order_problem()
    short = fp.evolve(sde, grid, p0, [1e-3])
    assert short.method == "expm"
    big = fp.Grid(bounds=[(-3, 3)], shape=1500)
    long_run = fp.evolve(sde, big, fp.gaussian(big, 0.7, 0.2), [0.5, 20.0])
    # one LU per distinct step length: the equal steps of the first interval, then one
    # per doubling of the growing steps of the second
    assert long_run.method == "tr-bdf2" and long_run.nlu <= 10 and long_run.n_steps < 150
    # a time-dependent SDE always gets TR-BDF2
    assert fp.evolve(moving_trap(0.5), grid, p0, [0.1]).method == "tr-bdf2"


def test_default_step_shrinks_with_rtol():
    sde, grid, p0 = _order_problem()
    ref = fp.evolve(sde, grid, p0, [0.2, 1.0], method="expm").density
    errs = []
    for rtol in (1e-3, 1e-5):
        ev = fp.evolve(sde, grid, p0, [0.2, 1.0], method="tr-bdf2", rtol=rtol)
        errs.append(max(l1(grid, p, q) for p, q in zip(ev.density, ref)))
        assert errs[-1] < 3 * rtol
    assert errs[1] < errs[0] / 10


def test_max_steps_warns():
    sde, grid, p0 = _order_problem()
    with pytest.warns(fp.FokkerPlanckWarning, match="max_steps"):
        ev = fp.evolve(sde, grid, p0, [5.0], method="backward_euler", rtol=1e-8, max_steps=50)
    assert ev.n_steps <= 50


def test_progress_bar(capsys):
    sde, grid, p0 = _order_problem()
    fp.evolve(sde, grid, p0, [0.1, 0.2], method="tr-bdf2", dt=0.01, progress=True)
    err = capsys.readouterr().err
    assert "20/20" in err
    fp.evolve(sde, grid, p0, [0.1, 0.2], method="expm", progress=True)
    assert "2/2" in capsys.readouterr().err
    fp.evolve(sde, grid, p0, [0.1, 0.2], method="tr-bdf2", dt=0.01)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------- bad input
class TestBadInput:
    sde = double_well_1d()
    grid = fp.Grid(bounds=[(-3, 3)], shape=20)
    p0 = fp.uniform(grid)

    @pytest.mark.parametrize(
        "p0, match",
        [
            (np.ones(21), r"`p0` has shape \(21,\)"),
            (np.ones((20, 1)), r"`p0` has shape \(20, 1\)"),
            (np.r_[np.nan, np.ones(19)], "non-finite"),
            (np.r_[np.inf, np.ones(19)], "non-finite"),
            (np.r_[-0.5, np.ones(19)], "negative values"),
            (-np.ones(20), "negative values"),
            (np.zeros(20), "mass 0"),
        ],
    )
    def test_bad_p0(self, p0, match):
        with pytest.raises(ValueError, match=match):
            fp.evolve(self.sde, self.grid, p0, [1.0])

    def test_flattened_p0_in_2d(self):
        grid = fp.Grid(bounds=[(-1, 1), (-1, 1)], shape=5)
        with pytest.raises(ValueError, match="flattened"):
            fp.evolve(fp.brownian(1.0, 2), grid, np.ones(25), [1.0])

    @pytest.mark.parametrize(
        "t_eval, match",
        [
            ([1.0, 0.5], "strictly increasing"),
            ([0.5, 0.5], "strictly increasing"),
            ([-1.0, 1.0], "before `t0=0"),
            ([], "non-empty"),
            ([[1.0, 2.0]], "1-D"),
            ([0.0, np.nan], "NaN or inf"),
            ([0.0, np.inf], "NaN or inf"),
        ],
    )
    def test_bad_t_eval(self, t_eval, match):
        with pytest.raises(ValueError, match=match):
            fp.evolve(self.sde, self.grid, self.p0, t_eval)

    def test_unknown_method_lists_choices(self):
        with pytest.raises(ValueError, match=r"`method` must be one of \('auto', 'backward_euler', 'tr-bdf2', 'expm'\)"):
            fp.evolve(self.sde, self.grid, self.p0, [1.0], method="crank-nicolson")

    @pytest.mark.parametrize("kw", [{"dt": 0.0}, {"dt": -1.0}, {"dt": np.nan}, {"rtol": 0.0}, {"max_steps": 0}])
    def test_bad_numbers(self, kw):
        with pytest.raises(ValueError):
            fp.evolve(self.sde, self.grid, self.p0, [1.0], method="tr-bdf2", **kw)

    def test_expm_refuses_time_dependent(self):
        with pytest.raises(ValueError, match="time-independent"):
            fp.evolve(moving_trap(1.0), self.grid, self.p0, [1.0], method="expm")

    def test_dimension_mismatch(self):
        with pytest.raises(ValueError, match="2-dimensional but the grid has 1 axes"):
            fp.evolve(fp.brownian(1.0, ndim=2), self.grid, self.p0, [1.0])

    def test_wrong_types(self):
        with pytest.raises(TypeError, match="`grid`"):
            fp.evolve(self.sde, "grid", self.p0, [1.0])
        with pytest.raises(TypeError, match="`sde`"):
            fp.evolve(lambda x: -x, self.grid, self.p0, [1.0])

    def test_bad_generator(self):
        with pytest.raises(ValueError, match="must be \\(grid.size, grid.size\\)"):
            fp.evolve(self.sde, self.grid, self.p0, [1.0], generator=sp.identity(7, format="csr"))
        with pytest.raises(ValueError, match="callable t -> A"):
            fp.evolve(moving_trap(1.0), self.grid, self.p0, [1.0], generator=sp.identity(20, format="csr"))


# ------------------------------------------------------------------ examples
@pytest.mark.parametrize("module", [evolve_module, initial_module])
def test_docstring_examples(module):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
