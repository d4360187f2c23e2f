"""One result protocol (issues 10, 15, 16): every public result has ``success``,
``message``, ``error_estimate`` and a short ``repr``; the error estimates of
``evolve``, ``exit_time`` and ``spectral_gap`` track exact answers within a factor 3."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fokkerplanck as fp


def _results() -> dict[str, object]:
    """One instance of every public result type, on small problems."""
    ou = fp.ornstein_uhlenbeck(1.0, 1.0)
    g1 = fp.Grid(bounds=[(-6, 6)], shape=120)
    absorbing = fp.Grid(bounds=[(0, 1)], shape=60, boundary="absorbing")
    g2 = fp.Grid(bounds=[(-4, 4)] * 2, shape=32)
    res = fp.stationary(ou, g1)
    pt = fp.simulate(ou, np.zeros((500, 1)), 0.5, dt=0.01, rng=0)
    y = np.random.default_rng(0).normal(size=(50, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "StationaryResult": res,
            "Modes": fp.modes(ou, g1, k=2),
            "Evolution": fp.evolve(ou, g1, fp.gaussian(g1, 1.0, 0.2), np.linspace(0, 1, 200)),
            "QuasiStationary": fp.quasi_stationary(fp.brownian(1.0), absorbing),
            "ExitTime": fp.exit_time(fp.brownian(1.0), absorbing, full_output=True),
            "EscapeRate": fp.escape_rate(fp.brownian(1.0), absorbing, start=[0.3], full_output=True),
            "Particles": pt,
            "Comparison": fp.compare(res, pt),
            "Extrapolation": fp.richardson(lambda g: fp.stationary(ou, g).density, g1),
            "ErrorEstimate": fp.estimate_error(lambda g: fp.stationary(ou, g).density, g1),
            "Equilibrium": fp.equilibrium_test(fp.langevin(lambda x: 0.5 * (x**2).sum(-1), 1.0), g2),
            "SGDRun": fp.run_sgd(lambda w, yi: w - yi, y, np.zeros(1), lr=0.05, n_steps=20,
                                 n_chains=20, burn_in=10, rng=1),
            "HessianCoordinates": fp.hessian_coordinates(np.eye(2), np.diag([1.0, 4.0]), 0.1),
            "SweepResult": fp.sweep(lambda a: a, {"a": [1, 2]}),
        }


RESULTS = _results()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_every_result_has_the_core_fields_and_a_short_repr(name):
    r = RESULTS[name]
    assert type(r).__name__ == name
    assert isinstance(r.success, bool) and isinstance(r.message, str)
    err = np.asarray(r.error_estimate, dtype=float)
    assert err.ndim <= 1 and np.all((err >= 0) | np.isnan(err))
    text = repr(r)
    assert text == str(r) or name == "Comparison"  # Comparison's str is its table + verdict
    lines = text.splitlines()
    assert lines[0].startswith(f"{name}(") and 2 <= len(lines) <= 3, text
    assert "success=" in lines[1] and "error_estimate=" in lines[1]
    assert len(text) < 600, text
    assert "array(" not in text and "..." not in lines[0]


def test_print_of_a_large_result_stays_short():
    ev = RESULTS["Evolution"]
    assert len(ev.t) == 200 and ev.density.size == 200 * 120
    assert "max " in repr(ev) and "over 200" in repr(ev)  # 200 error estimates summarized
    res = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid(bounds=[(-6, 6)], shape=4000),
                        error_estimate=False)
    assert len(str(res)) < 400 and "nan" in str(res)


def test_computed_and_not_computed_estimates():
    assert math.isnan(RESULTS["Particles"].error_estimate)
    assert RESULTS["Comparison"].error_estimate == RESULTS["Comparison"].noise_floor
    ev = RESULTS["Evolution"]
    assert ev.error_estimate.shape == ev.t.shape and np.all(np.isfinite(ev.error_estimate))
    grid = fp.Grid(bounds=[(-6, 6)], shape=60)
    p0 = fp.gaussian(grid, 0.0, 0.5)
    off = fp.evolve(fp.brownian(1.0), grid, p0, [0.0, 0.5], error_estimate=False)
    assert off.error_estimate.shape == (2,) and np.all(np.isnan(off.error_estimate))
    A = fp.generator(fp.brownian(1.0), grid)
    given = fp.evolve(fp.brownian(1.0), grid, p0, [0.0, 0.5], generator=A)
    assert np.all(np.isnan(given.error_estimate))
    np.testing.assert_array_equal(given.density, off.density)  # the estimate changes nothing else


# ----------------------------------------------------------- evolve's estimate
def _ou_exact(grid, m0, v0, t):
    m = m0 * np.exp(-t)
    v = v0 * np.exp(-2 * t) + 0.5 * (1 - np.exp(-2 * t))
    x = grid.centers[0]
    return np.exp(-(x - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)


@pytest.mark.parametrize("method", ["auto", "expm", "tr-bdf2"])
@pytest.mark.parametrize("n", [60, 240])
def test_evolve_estimate_tracks_the_true_error_ou_from_a_gaussian(method, n):
    grid = fp.Grid(bounds=[(-6, 6)], shape=n)
    t = np.array([0.0, 0.1, 0.5, 2.0])
    ev = fp.evolve(fp.ornstein_uhlenbeck(1.0, 1.0), grid, fp.gaussian(grid, 2.0, 0.1), t, method=method)
    true = np.array([grid.integrate(np.abs(p - _ou_exact(grid, 2.0, 0.1, tk))) for p, tk in zip(ev.density, t)])
    ratio = ev.error_estimate[1:] / true[1:]
    assert np.all((ratio > 1 / 3) & (ratio < 3)), (ratio, true)
    assert ev.error_estimate[0] < 1e-6 * ev.error_estimate[1]  # t0: p0 itself


def test_evolve_estimate_tracks_the_true_error_2d_heat_kernel():
    grid = fp.Grid(bounds=[(-6, 6), (-6, 6)], shape=48)
    v0 = 0.3
    ev = fp.evolve(fp.brownian(1.0, ndim=2), grid, fp.gaussian(grid, [0.0, 0.0], v0), [0.25, 1.0])
    P = grid.points()
    for k, t in enumerate(ev.t):
        v = v0 + t
        exact = np.exp(-(P**2).sum(-1) / (2 * v)) / (2 * np.pi * v)
        true = grid.integrate(np.abs(ev.density[k] - exact))
        assert true / 3 < ev.error_estimate[k] < 3 * true, (t, ev.error_estimate[k], true)


def test_evolve_estimate_shrinks_at_second_order():
    est = []
    for n in (40, 80, 160):
        grid = fp.Grid(bounds=[(-6, 6)], shape=n)
        ev = fp.evolve(fp.ornstein_uhlenbeck(1.0, 1.0), grid, fp.gaussian(grid, 1.0, 0.3), [1.0], method="expm")
        est.append(ev.error_estimate[0])
    rates = np.log2(np.array(est[:-1]) / np.array(est[1:]))
    assert np.all((rates > 1.7) & (rates < 2.3)), rates


# --------------------------------------------------------- exit-time estimate
@pytest.mark.parametrize("n", [20, 80, 320])
def test_exit_time_estimate_tracks_brownian_motion_on_an_interval(n):
    a, b, sigma = -1.0, 2.0, 0.7
    grid = fp.Grid(bounds=[(a, b)], shape=n, boundary="absorbing")
    et = fp.exit_time(fp.brownian(sigma), grid, full_output=True)
    x = grid.centers[0]
    exact = (x - a) * (b - x) / sigma**2
    np.testing.assert_array_equal(et.time, fp.exit_time(fp.brownian(sigma), grid))
    true = grid.integrate(np.abs(et.time - exact)) / grid.integrate(exact)
    assert true / 3 < et.error_estimate < 3 * true
    assert et.success and et.residual < 1e-13 and et.method == "chain"
    assert et.time.shape == grid.shape


def test_exit_time_estimate_tracks_ou_with_a_quadrature_reference():
    """OU ``dx = -x dt + dB`` from ``[0, 2)``, reflecting at 0, absorbing at 2:
    ``tau(x) = 2 int_x^2 exp(y^2) int_0^y exp(-z^2) dz dy`` (``D = 1/2``)."""
    from scipy.integrate import quad
    from scipy.special import erf

    inner = lambda y: np.exp(y**2) * np.sqrt(np.pi) / 2 * erf(y)
    for n in (40, 160):
        grid = fp.Grid(bounds=[(0, 2)], shape=n, boundary=[("reflecting", "absorbing")])
        x = grid.centers[0]
        exact = np.array([2 * quad(inner, xi, 2.0, epsabs=1e-13, epsrel=1e-13)[0] for xi in x])
        et = fp.exit_time(fp.ornstein_uhlenbeck(1.0, 1.0), grid, full_output=True)
        true = grid.integrate(np.abs(et.time - exact)) / grid.integrate(exact)
        assert true / 3 < et.error_estimate < 3 * true, (n, et.error_estimate, true)


def test_exit_time_2d_reversible_and_lu_paths():
    a, b, s = -1.0, 2.0, 0.7
    grid = fp.Grid(bounds=[(a, b), (0, 1)], shape=(48, 8), boundary=["absorbing", "reflecting"])
    et = fp.exit_time(fp.brownian(s, ndim=2), grid, full_output=True)
    x = grid.points()[..., 0]
    exact = (x - a) * (b - x) / s**2
    true = grid.integrate(np.abs(et.time - exact)) / grid.integrate(exact)
    assert et.method == "gth" and et.success and true / 3 < et.error_estimate < 3 * true
    # a rotation: no detailed balance, sparse LU
    rot = fp.SDE(drift=lambda y: 0.5 * np.stack([-y[..., 1], y[..., 0]], -1), sigma=np.eye(2))
    et = fp.exit_time(rot, fp.Grid(bounds=[(-1, 1)] * 2, shape=24, boundary="absorbing"), full_output=True,
                      error_estimate=False)
    assert et.method == "lu" and et.success and math.isnan(et.error_estimate)


def test_exit_time_keeps_returning_the_array():
    grid = fp.Grid(bounds=[(0, 1)], shape=30, boundary="absorbing")
    tau = fp.exit_time(fp.brownian(1.0), grid)
    assert isinstance(tau, np.ndarray) and tau.shape == grid.shape


# ------------------------------------------------ spectral gap, escape rate
def test_spectral_gap_full_output():
    grid = fp.Grid(bounds=[(-6, 6)], shape=150)
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    m = fp.spectral_gap(sde, grid, full_output=True)
    assert isinstance(m, fp.Modes) and m.rates.shape == (1,) and m.success
    assert m.gap == pytest.approx(fp.spectral_gap(sde, grid), rel=1e-10)  # ARPACK: round-off apart
    true = abs(m.gap - 1.0)
    assert true / 3 < m.error_estimate[0] < 3 * true


def test_escape_rate_full_output():
    grid = fp.Grid(bounds=[(0, 1)], shape=50, boundary="absorbing")
    sde = fp.SDE(drift=lambda x: 2.0 + 0 * x, sigma=1.0)
    q = fp.escape_rate(sde, grid, full_output=True)
    assert isinstance(q, fp.QuasiStationary) and q.rate == fp.escape_rate(sde, grid)
    assert np.isfinite(q.error_estimate)
    r = fp.escape_rate(sde, grid, start=[0.3], full_output=True)
    assert isinstance(r, fp.EscapeRate) and r.rate == fp.escape_rate(sde, grid, start=[0.3])
    tau = _drift_exit(2.0, 0.3)
    true = abs(r.rate * tau - 1.0)
    assert r.success and true / 3 < r.error_estimate < 3 * true
    density = fp.escape_rate(sde, grid, start=fp.uniform(grid), full_output=True)
    assert density.success and math.isnan(density.error_estimate)


def _drift_exit(v: float, x: float) -> float:
    """Mean exit time of ``dx = v dt + dB`` from ``(0, 1)`` started at ``x``: the
    solution of ``v tau' + tau''/2 = -1``, ``tau(0) = tau(1) = 0``,
    ``tau = ((1 - e^{-2 v x}) / (1 - e^{-2 v}) - x) / v``."""
    return float(((1 - np.exp(-2 * v * x)) / (1 - np.exp(-2 * v)) - x) / v)


def test_new_results_save_and_load(tmp_path):
    for name in ("ExitTime", "EscapeRate", "Evolution"):
        r = RESULTS[name]
        back = fp.load(fp.save(r, tmp_path / name))
        assert type(back) is type(r) and back.success == r.success and back.message == r.message
        np.testing.assert_array_equal(np.asarray(back.error_estimate), np.asarray(r.error_estimate))
        assert repr(back) == repr(r)


def test_exit_time_full_output_at_a_high_barrier_without_detailed_balance():
    """Barrier 33 T, non-gradient drift (tau ~ 1e15): the componentwise residual alone does
    not catch a wrong answer -- plain sparse LU's tau has residual ~1e-16 and is wrong by
    O(1) -- so exit_time must not take the LU answer here; it takes the certified
    h-transform, whose answer satisfies the independent identity <tau, q> = 1 / rate."""
    T = 0.0075
    sde = fp.SDE(drift=lambda x: np.stack([-(x[..., 0] ** 3 - x[..., 0]),
                                          -x[..., 1] + 0.3 * np.sin(np.pi * x[..., 0])], axis=-1),
                 sigma=math.sqrt(2 * T), ndim=2)
    grid = fp.Grid([(-2, 1), (-0.5, 0.5)], (300, 10), boundary=[("reflecting", "absorbing"), "reflecting"])
    with pytest.warns(fp.ResolutionWarning):
        et = fp.exit_time(sde, grid, full_output=True, error_estimate=False)
    assert et.method == "h-transform" and et.success and et.residual < 1e-12, et.message
    q = fp.quasi_stationary(sde, grid, error_estimate=False)
    assert grid.integrate(et.time * q.density) * q.rate == pytest.approx(1.0, rel=1e-12)
    # the plain LU answer (what a residual-only check would have accepted)
    import scipy.sparse.linalg as spla

    A = fp.generator(sde, grid)
    t_lu = spla.spsolve(A.T.tocsc(), -np.ones(grid.size))
    r_lu = np.max(np.abs(A.T @ t_lu + 1.0) / (abs(A).T @ np.abs(t_lu) + 1.0))
    assert r_lu < 1e-12 and np.abs(t_lu / et.time.ravel() - 1).max() > 0.1
