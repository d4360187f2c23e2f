import numpy as np
import pytest

import fokkerplanck as fp


def test_loss_gradient_by_finite_differences_is_fourth_order_accurate():
    sde = fp.SDE(loss=lambda x: np.sin(x[..., 0]) * np.exp(x[..., 1]), sigma=1.0)
    x = np.array([[0.3, -0.2], [1.1, 0.4]])
    exact = -np.stack([np.cos(x[:, 0]) * np.exp(x[:, 1]), np.sin(x[:, 0]) * np.exp(x[:, 1])], -1)
    np.testing.assert_allclose(sde.drift(x), exact, atol=1e-11)


def test_conventions_drifts_1d():
    # sigma(x) = 1 + x^2: Ito correction 1/2 sigma sigma'; div C = 2 sigma sigma'
    s = lambda x: (1 + x**2)[..., None]
    x = np.array([[0.5], [-1.3]])
    sig, dsig = 1 + x**2, 2 * x
    for conv, ito in [("ito", -x), ("stratonovich", -x + 0.5 * sig * dsig), ("isothermal", -x + sig * dsig)]:
        sde = fp.SDE(drift=lambda y: -y, sigma=s, convention=conv, ndim=1)
        np.testing.assert_allclose(sde.ito_drift(x), ito, rtol=1e-9)
        np.testing.assert_allclose(sde.flux_drift(x), ito - sig * dsig, rtol=1e-9)


def test_noise_forms_agree():
    C = np.array([[2.0, 0.3], [0.3, 1.0]])
    x = np.zeros((3, 2))
    a = fp.SDE(cov=C).cov(x)
    b = fp.SDE(sigma=np.linalg.cholesky(C)).cov(x)
    c = fp.SDE(cov=lambda y: np.broadcast_to(C, y.shape[:-1] + (2, 2)), ndim=2).cov(x)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c)
    np.testing.assert_allclose(fp.SDE(sigma=[1.0, 2.0]).cov(x)[0], np.diag([1.0, 4.0]))
    np.testing.assert_allclose(fp.SDE(cov=[1.0, 2.0]).sigma(x)[0] ** 2, np.diag([1.0, 2.0]))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(drift=lambda x: -x), ValueError, "no noise"),
        (dict(sigma=1.0, cov=1.0), ValueError, "not both"),
        (dict(cov=[[1, 0.5], [0.4, 1]]), ValueError, "symmetric"),
        (dict(cov=[[1, 2], [2, 1]]), ValueError, "not positive semi-definite"),
        (dict(sigma=0.0), ValueError, "positive"),
        (dict(sigma=np.nan), ValueError, "finite"),
        (dict(cov=1.0, convention="stratonovich"), ValueError, "needs `sigma`"),
        (dict(sigma=1.0, convention="ito-ish"), ValueError, "convention"),
        (dict(drift=3.0, sigma=1.0), TypeError, "callable"),
        (dict(sigma=[[1.0, 0.0]], ndim=2), ValueError, "2-dimensional|ndim"),
        (dict(sigma=1.0, ndim=7), ValueError, "ndim"),
    ],
)
def test_bad_sdes(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fp.SDE(**kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(drift=lambda x: x[..., :1], sigma=1.0, ndim=2), ValueError, r"returned shape \(\.\.\., 1\)"),
        (dict(drift=lambda x: x / 0.0, sigma=1.0, ndim=2), (ValueError, FloatingPointError), "non-finite|divide"),
        (dict(drift=lambda x: -x, cov=lambda x: np.ones(x.shape[:-1] + (2, 3)), ndim=2), ValueError, "returned shape"),
        (dict(drift=lambda x: -x, cov=lambda x: -np.ones(x.shape[:-1] + (2, 2)), ndim=2), ValueError, "not positive semi-definite"),
    ],
)
def test_bad_callables_raise_where_evaluated(kwargs, exc, match):
    """Callables are checked on the grid and at the particles, not at construction."""
    sde = fp.SDE(**kwargs)  # no made-up probe points
    with pytest.raises(exc, match=match):
        fp.generator(sde, fp.Grid(bounds=[(-1, 1)] * 2, shape=10))
    with pytest.raises(exc, match=match.replace("64", "8")):
        fp.simulate(sde, np.zeros((8, 2)), 0.01, dt=0.01)


def test_callables_defined_only_on_the_domain_construct():
    """CIR noise s sqrt(x) is NaN for x < 0: construction must not evaluate it there."""
    sde = fp.SDE(drift=lambda x: 1.0 - 0.5 * x, sigma=lambda x: (0.8 * np.sqrt(x))[..., None], ndim=1)
    grid = fp.Grid([(0, 12)], 60)
    assert fp.generator(sde, grid).shape == (60, 60)
    with pytest.raises((ValueError, FloatingPointError), match=r"`sigma` returned a non-finite|sqrt"):
        fp.generator(sde, fp.Grid([(-1, 12)], 60))  # (the test suite makes numpy raise)


def test_cir_gamma_density_second_order():
    """CIR dx = (a - b x) dt + s sqrt(x) dB on [0, 12], reflecting: Gamma(2a/s^2, rate 2b/s^2)."""
    from scipy.special import gammainc, gammaln

    a, b, s = 1.0, 0.5, 0.8
    k, rate = 2 * a / s**2, 2 * b / s**2
    sde = fp.SDE(drift=lambda x: a - b * x, sigma=lambda x: (s * np.sqrt(x))[..., None], ndim=1)
    errors = []
    for n in (60, 120, 240):
        grid = fp.Grid([(0, 12)], n)
        x = grid.centers[0]
        exact = np.exp(k * np.log(rate) + (k - 1) * np.log(x) - rate * x - gammaln(k)) / gammainc(k, rate * 12)
        res = fp.stationary(sde, grid)
        errors.append(grid.integrate(np.abs(res.density - exact)))
    orders = np.log2(np.array(errors[:-1]) / errors[1:])
    assert errors[-1] < 1e-5 and np.all(orders > 1.8), (errors, orders)


def test_nan_from_callable_names_the_point():
    sde = fp.SDE(drift=lambda x: np.where(x > 1.5, np.nan, -x), sigma=1.0)
    with pytest.raises(ValueError, match=r"non-finite value .* at x = \[1\.[5-9]"):
        fp.generator(sde, fp.Grid(bounds=[(-2, 2)], shape=20))


def test_derivative_stencil_is_findiffs_fourth_order_central_one():
    findiff = pytest.importorskip("findiff")
    from fokkerplanck._model.sde import FD_OFFSETS, FD_WEIGHTS

    c = findiff.coefficients(deriv=1, acc=4)["center"]
    weights = np.asarray(c["coefficients"], dtype=float)
    # findiff < 0.16 gives exact rationals (the centre weight is 0); 0.16 solves for them in
    # floating point (the centre weight is 2e-16, the others within 3e-16 of 2/3 and 1/12)
    used = np.abs(weights) > 1e-12
    np.testing.assert_array_equal(FD_OFFSETS, np.asarray(c["offsets"], dtype=float)[used])
    np.testing.assert_allclose(FD_WEIGHTS, weights[used], rtol=1e-14)


def test_import_needs_neither_sympy_nor_scipy_stats():
    import subprocess
    import sys

    code = ("import sys, fokkerplanck\n"
            "bad = [m for m in ('sympy', 'findiff', 'scipy.stats') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_is_lazy_and_the_solvers_need_neither_sympy_nor_scipy_stats():
    """`import fokkerplanck` loads no NumPy, SciPy or optional dependency (0.3 s budget);
    the stationary solver, once touched, still needs neither sympy nor scipy.stats."""
    import subprocess
    import sys

    heavy = ("numpy", "scipy", "scipy.sparse", "sympy", "findiff", "scipy.stats", "pyamg", "matplotlib")
    code = ("import sys, fokkerplanck as fp\n"
            f"bad = [m for m in {heavy!r} if m in sys.modules]\n"
            "assert not bad, bad\n"
            "assert sorted(n for n in fp.__all__ if not hasattr(fp, n)) == []\n"
            "fp.stationary, fp.generator, fp.Grid, fp.SDE\n"
            "bad = [m for m in ('sympy', 'findiff', 'scipy.stats', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
