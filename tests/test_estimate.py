"""Error estimates (Richardson against a partner grid) track the true error.

Every case has an exact answer; the estimate must be within a factor 3 of the true
error (docs/trust.md tabulates more grids)."""

import math
import warnings

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erf

import fokkerplanck as fp
from fokkerplanck._solvers.estimate import partner_grid, to_grid


def within3(est, true):
    return true / 3 <= est <= 3 * true


def test_ou_nonequilibrium_density_2d():
    H, C = np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]
    sde = fp.ornstein_uhlenbeck(H, C)
    grid = fp.Grid(bounds=[(-6, 6), (-3.5, 3.5)], shape=64)
    exact = fp.gaussian_density(grid, np.zeros(2), fp.lyapunov(H, C))
    for scheme in ("sg", "highorder"):
        res = fp.stationary(sde, grid, scheme=scheme)
        true = grid.integrate(np.abs(res.density - exact))
        assert within3(res.error_estimate, true), (scheme, res.error_estimate, true)


def test_torus_metastable_nonreversible_density():
    T = 0.1
    U = lambda x: -np.cos(2 * x[..., 0]) - 0.3 * np.cos(x[..., 0]) - np.cos(x[..., 1])

    def drift(x):
        gx = 2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0])
        gy = np.sin(x[..., 1])
        return np.stack([-(gx - gy), -(gy + gx)], -1)  # -(I - J) grad U

    sde = fp.SDE(drift=drift, sigma=np.sqrt(2 * T), ndim=2)
    grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=128, boundary="periodic")
    u = U(grid.points())
    exact = np.exp(-(u - u.min()) / T)
    exact /= grid.integrate(exact)
    res = fp.stationary(sde, grid)
    assert within3(res.error_estimate, grid.integrate(np.abs(res.density - exact)))


@pytest.mark.parametrize("convention, f", [
    ("ito", lambda x: (1 + x**2) ** -3.0),
    ("stratonovich", lambda x: (1 + x**2) ** -2.5),
    ("isothermal", lambda x: (1 + x**2) ** -2.0),
])
def test_conventions_density_and_moment(convention, f):
    sde = fp.SDE(drift=lambda x: -x, sigma=lambda x: np.sqrt((1 + x[..., 0] ** 2) / 2)[..., None, None],
                 convention=convention)
    grid = fp.Grid([(-12, 12)], 240)
    Z = quad(f, -12, 12, epsabs=0, epsrel=1e-13)[0]
    x = grid.centers[0]
    res = fp.stationary(sde, grid)
    assert within3(res.error_estimate, grid.integrate(np.abs(res.density - f(x) / Z)))
    m2 = quad(lambda y: y * y * f(y), -12, 12, epsabs=0, epsrel=1e-13)[0] / Z
    est = fp.estimate_error(lambda g: g.integrate(fp.stationary(sde, g).density * g.centers[0] ** 2), grid)
    assert within3(est.error, abs(est.value - m2) / m2)


def test_double_well_gap():
    sde = fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=np.sqrt(0.2))
    m = fp.modes(sde, fp.Grid(bounds=[(-3, 3)], shape=600), k=1)
    true = abs(m.rates[0] - 3.354529e-2) / 3.354529e-2
    assert within3(m.error_estimate[0], true)


def test_quasi_stationary_rate_with_drift():
    v = 5.0
    grid = fp.Grid(bounds=[(0, 1)], shape=100, boundary="absorbing")
    qs = fp.quasi_stationary(fp.SDE(drift=lambda x: v + 0 * x, sigma=1.0, ndim=1), grid)
    exact = v**2 / 2 + np.pi**2 / 2
    assert within3(qs.error_estimate, abs(qs.rate - exact) / exact)


def test_exit_time_estimate():
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    grid = fp.Grid(bounds=[(0, 2)], shape=40, boundary=[("reflecting", "absorbing")])
    inner = lambda y: np.exp(y**2) * np.sqrt(np.pi) * erf(y)
    tau = np.array([quad(inner, xi, 2)[0] for xi in grid.centers[0]])
    est = fp.estimate_error(lambda g: fp.exit_time(sde, g), grid)
    assert within3(est.error, grid.integrate(np.abs(est.value - tau)))


def test_no_partner_means_infinite_estimate():
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 2.0]), [[1, .3], [.3, 1]]), grid)
    assert partner_grid(grid) is None and math.isinf(res.error_estimate)


def test_error_estimate_can_be_switched_off():
    res = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid([(-5, 5)], 50), error_estimate=False)
    assert math.isnan(res.error_estimate)


def test_interpolation_is_sixth_order_and_wraps():
    for boundary in ("reflecting", "periodic"):
        errs = []
        for n in (32, 64):
            fine = fp.Grid([(0, 2 * np.pi)] * 2, n, boundary=boundary)
            coarse = partner_grid(fine)
            f = np.sin(fine.points()).prod(-1) + np.cos(fine.points()[..., 0])
            g = np.sin(coarse.points()).prod(-1) + np.cos(coarse.points()[..., 0])
            errs.append(np.abs(to_grid(f, fine, coarse) - g).max())
        assert errs[1] < errs[0] / 40 and errs[1] < 1e-7, (boundary, errs)
