"""The SGD SDE (fokkerplanck/_applications/) against closed forms and real minibatch SGD."""

import warnings

import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck import data_gradient_stats, sgd_cov

# ------------------------------------------------------------------ helpers
Lx = lambda u: (u[..., 0] ** 2 - 1) ** 2 / 4
Ly = lambda u: 0.5 * u[..., 0] ** 2 + 0.1 * u[..., 0] ** 4


def separable(p):
    return Lx(p[..., :1]) + Ly(p[..., 1:])


def coupled(p):
    return (p[..., 0] ** 2 - 1) ** 2 / 4 + 0.5 * (p[..., 1] - 0.5 * p[..., 0]) ** 2


def quadratic(H):
    return (lambda p: 0.5 * np.einsum("...i,ij,...j->...", p, H, p)), (lambda p: p @ H)


def random_spd(rng, d, lo=0.3, hi=3.0):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (Q * rng.uniform(lo, hi, d)) @ Q.T


GRID2 = fp.Grid([(-2.5, 2.5), (-3, 3)], (120, 130))


# ------------------------------------------------------------------ the SDE object
def test_sgd_sde_drift_and_noise():
    H = np.diag([1.0, 3.0])
    L, g = quadratic(H)
    S = np.array([[2.0, 0.3], [0.3, 1.0]])
    sde = fp.sgd(L, 0.1, S, batch_size=4)
    x = np.array([[0.5, -1.0], [1.0, 2.0]])
    np.testing.assert_allclose(sde.drift(x), -x @ H, atol=1e-9)
    np.testing.assert_allclose(sde.cov(x), np.broadcast_to(0.1 * S / 4, (2, 2, 2)))
    # per-parameter rates, time in units of the reference rate: drift -(P/eta) g,
    # noise P Sigma P / eta
    P = np.array([0.05, 0.2])
    pre = fp.sgd(L, 0.1, S, grad=g, lr_per_param=P)
    np.testing.assert_allclose(pre.drift(x), -(x @ H) * P / 0.1)
    np.testing.assert_allclose(pre.cov(x[0]), np.diag(P) @ S @ np.diag(P) / 0.1)
    # the public signature: fp.sgd(loss, lr, cov, grad=None, lr_per_param=None), positionally too
    same = fp.sgd(L, 0.1, S, g, P)
    np.testing.assert_array_equal(same.drift(x), pre.drift(x))
    np.testing.assert_array_equal(same.cov(x[0]), pre.cov(x[0]))


def test_module_stays_callable_after_submodule_import():
    import fokkerplanck._applications.sgd  # noqa: F401  (the private module; fp.sgd is the function)

    sde = fp.sgd(lambda p: 0.5 * (p**2).sum(-1), 0.1, [1.0, 2.0])
    assert isinstance(sde, fp.SDE)


# ------------------------------------------------------------------ stationary densities
def test_two_temperature_density_is_the_lecture_product():
    eta, sx, sy = 0.4, 1.0, 2.0
    res = fp.stationary(fp.sgd(separable, eta, [sx**2, sy**2]), GRID2)
    ref = fp.two_temperature(Lx, Ly, eta, sx, sy, GRID2)
    assert np.abs(res.density - ref).max() < 1e-10 * ref.max()
    # and it is not Gibbs at any single temperature: the best one misses by far
    best = min(
        GRID2.integrate(np.abs(res.density - fp.gibbs(GRID2, separable, T)))
        for T in np.linspace(0.1, 1.0, 91)
    )
    assert best > 0.1


@pytest.mark.parametrize("form", ["vector", "matrix"])
def test_forcing_gibbs(form):
    """eta_i = eta' / sigma_i^2 (or P = eta' Sigma^-1) gives exp(-2 L / eta')."""
    eta, etap = 0.4, 0.3
    if form == "vector":
        S, loss, P = np.array([1.0, 4.0]), separable, 0.3 / np.array([1.0, 4.0])
    else:
        S = np.array([[1.0, 0.6], [0.6, 2.0]])
        loss, P = coupled, etap * np.linalg.inv(S)
    grid = fp.Grid([(-2.5, 2.5), (-4, 4)], (120, 160))
    res = fp.stationary(fp.sgd(loss, eta, S, lr_per_param=P), grid)
    gibbs = fp.gibbs(grid, loss, etap / 2)
    assert grid.integrate(np.abs(res.density - gibbs)) < 1e-8
    # the same loss without the per-parameter rates is measurably not Gibbs
    plain = fp.stationary(fp.sgd(loss, etap, S), grid).density
    assert grid.integrate(np.abs(plain - gibbs)) > 0.05


def test_quadratic_non_commuting_matches_lyapunov_gaussian():
    H = np.array([[1.0, 0.4], [0.4, 0.6]])
    S = np.array([[2.0, -0.5], [-0.5, 0.5]])
    eta = 0.2
    assert np.abs(H @ S - S @ H).max() > 0.5          # non-commuting
    C = sgd_cov(H, S, eta)
    np.testing.assert_allclose(H @ C + C @ H, eta * S, atol=1e-12)
    np.testing.assert_allclose(C, fp.lyapunov(H, eta * S))
    L, g = quadratic(H)
    sd = np.sqrt(np.diag(C))
    errs = []
    for n in (64, 128):
        grid = fp.Grid([(-7 * sd[0], 7 * sd[0]), (-7 * sd[1], 7 * sd[1])], n)
        res = fp.stationary(fp.sgd(L, eta, S, grad=g), grid)
        errs.append(np.abs(grid.cov(res.density) - C).max() / np.abs(C).max())
    assert errs[1] < 2e-3
    assert 3.5 < errs[0] / errs[1] < 4.5                # second order
    # the nonzero stationary current J = (-H + eta/2 Sigma C^-1) x p
    p, x = res.density, grid.points()
    K = -H + 0.5 * eta * S @ np.linalg.inv(C)
    J_exact = np.moveaxis((x @ K.T) * p[..., None], -1, 0)
    J = res.current()
    assert np.abs(J_exact).max() > 0.1
    assert np.abs(J - J_exact).max() < 5e-3 * np.abs(J_exact).max()


@pytest.mark.parametrize("seed", range(5))
def test_expected_loss_is_eta_tr_sigma_over_4(seed):
    rng = np.random.default_rng(seed)
    d = 2 + seed % 3
    H = random_spd(rng, d)
    S = random_spd(rng, d, 0.2, 2.0)
    eta, B = 0.05 * (1 + seed), 1 + seed % 2
    C = sgd_cov(H, S, eta, batch_size=B)
    assert 0.5 * np.trace(H @ C) == pytest.approx(eta * np.trace(S) / (4 * B), rel=1e-10)


def test_expected_loss_on_the_grid():
    rng = np.random.default_rng(7)
    H, S, eta = random_spd(rng, 2), random_spd(rng, 2, 0.3, 1.5), 0.1
    L, g = quadratic(H)
    C = sgd_cov(H, S, eta)
    sd = np.sqrt(np.diag(C))
    grid = fp.Grid([(-8 * sd[0], 8 * sd[0]), (-8 * sd[1], 8 * sd[1])], 128)
    p = fp.stationary(fp.sgd(L, eta, S, grad=g), grid).density
    assert grid.integrate(p * L(grid.points())) == pytest.approx(eta * np.trace(S) / 4, rel=3e-3)


# ------------------------------------------------------------------ exact references
def test_discrete_sgd_cov():
    # 1-D closed form eta sigma^2 / (h (2 - eta h))
    for eta in (0.01, 0.3, 0.9):
        assert fp.discrete_sgd_cov(2.0, 1.5, eta)[0, 0] == pytest.approx(eta * 1.5 / (2 * (2 - 2 * eta)))
    rng = np.random.default_rng(3)
    H, S, eta = random_spd(rng, 3), random_spd(rng, 3), 0.2
    C = fp.discrete_sgd_cov(H, S, eta, batch_size=2)
    np.testing.assert_allclose(H @ C + C @ H - eta * H @ C @ H, eta * S / 2, atol=1e-12)
    # -> the SDE covariance as eta -> 0, with an O(eta) relative gap
    gaps = [np.abs(fp.discrete_sgd_cov(H, S, e) - sgd_cov(H, S, e)).max() / e**2 for e in (1e-3, 2e-3)]
    assert gaps[0] == pytest.approx(gaps[1], rel=0.01)
    with pytest.raises(ValueError, match="spectral radius"):
        fp.discrete_sgd_cov(np.diag([1.0, 10.0]), np.eye(2), 0.25)


def test_hessian_coordinates():
    # the lecture with Hessian I: variance eta sigma_i^2 / 2 per noise mode (not / 4)
    S = np.array([[2.0, 0.8], [0.8, 1.0]])
    hc = fp.hessian_coordinates(np.eye(2), S, 0.1)
    np.testing.assert_allclose(hc.temperature, 0.1 * np.linalg.eigvalsh(S) / 2)
    np.testing.assert_allclose(hc.cov, sgd_cov(np.eye(2), S, 0.1))
    # general H: L = |u|^2 / 2 in the mode coordinates, modes independent
    rng = np.random.default_rng(5)
    H, eta = random_spd(rng, 2), 0.1
    hc = fp.hessian_coordinates(H, S, eta)
    T_inv = hc.inverse
    np.testing.assert_allclose(T_inv.T @ H @ T_inv, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(hc.transform @ hc.inverse, np.eye(2), atol=1e-12)
    modes = hc.transform @ hc.cov @ hc.transform.T
    np.testing.assert_allclose(modes, np.diag(hc.temperature), atol=1e-14)
    # exact for SGD preconditioned by eta H^-1 (SGD run in the normalized coordinates)
    np.testing.assert_allclose(hc.cov, sgd_cov(H, S, eta, lr_per_param=eta * np.linalg.inv(H)))
    # but not for plain SGD (SGD is not coordinate invariant)
    assert np.abs(hc.cov - sgd_cov(H, S, eta)).max() > 0.05 * np.abs(hc.cov).max()


# ------------------------------------------------------------------ from data
def linreg_data(rng, n=60):
    x = rng.normal(size=n)
    y = 1.5 * x - 0.5 + 0.7 * rng.normal(size=n)
    return np.column_stack([x, np.ones(n), y])


def linreg_loss(p, row):
    return 0.5 * ((p * row[..., :2]).sum(-1) - row[..., 2]) ** 2


def linreg_grad(p, row):
    return ((p * row[..., :2]).sum(-1) - row[..., 2])[..., None] * row[..., :2]


def test_sgd_from_data_sigma_equals_direct_computation(rng):
    data = linreg_data(rng)
    N, eta, B = len(data), 0.05, 3
    pts = rng.normal(size=(4, 5, 2))
    direct_mu = np.empty((4, 5, 2))
    direct_S = np.empty((4, 5, 2, 2))
    for idx in np.ndindex(4, 5):
        G = np.array([linreg_grad(pts[idx], row) for row in data])
        direct_mu[idx] = G.mean(0)
        direct_S[idx] = np.cov(G.T, bias=True)
    for kind, fn in (("grad", linreg_grad), ("loss", linreg_loss)):
        for chunk in (2**21, 64):          # one pass, and many small chunks
            sde = fp.sgd_from_data(fn, data, eta, B, kind=kind, chunk_elements=chunk)
            np.testing.assert_allclose(sde.cov(pts), eta * direct_S / B, rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(sde.drift(pts), -direct_mu, rtol=1e-8, atol=1e-10)
    # without replacement: the finite-population factor (N - B) / (N - 1)
    sde = fp.sgd_from_data(linreg_grad, data, eta, B, kind="grad", replace=False)
    np.testing.assert_allclose(sde.cov(pts), eta * direct_S / B * (N - B) / (N - 1), rtol=1e-10)
    # the mean loss rides along with kind="loss"
    sde = fp.sgd_from_data(linreg_loss, data, eta, B)
    np.testing.assert_allclose(sde.loss(pts[0]), [np.mean([linreg_loss(q, r) for r in data]) for q in pts[0]])
    # tuple data gives the same
    X, y = data[:, :2], data[:, 2]
    tup = fp.sgd_from_data(lambda p, ex: ((p * ex[0]).sum(-1) - ex[1])[..., None] * ex[0],
                           (X, y), eta, B, kind="grad", ndim=2)
    np.testing.assert_allclose(tup.cov(pts), eta * direct_S / B, rtol=1e-8, atol=1e-12)


def test_data_stats_are_stable_far_from_the_mean():
    # mean gradient 1e6 with unit spread: E[g g^T] - g g^T would lose every digit
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(500, 1))
    _, S = data_gradient_stats(lambda p, x: p - x + 1e6, xs, np.zeros(1), kind="grad", chunk_elements=40)
    assert S[0, 0] == pytest.approx(xs.var(), rel=1e-9)


def test_data_sde_minibatch_without_replacement_sampling(rng):
    """The finite-population factor is what minibatches without replacement do."""
    from fokkerplanck._applications.minibatch import subsets as _subsets

    N, B = 9, 4
    sel = _subsets(rng, 40000, N, B)
    assert all(len(set(r)) == B for r in sel[:200])
    counts = np.bincount(sel.ravel(), minlength=N) / sel.size
    # each index drawn with probability 1/N per slot: 4 binomial standard errors (drawing
    # without replacement within a row only lowers the variance)
    np.testing.assert_allclose(counts, 1 / N, atol=4 * np.sqrt((1 / N) * (1 - 1 / N) / sel.size))
    v = rng.normal(size=N)
    means = v[sel].mean(1)
    assert means.var() == pytest.approx(v.var() / B * (N - B) / (N - 1), rel=0.03)


# ------------------------------------------------------------------ real SGD
def noisy_quadratic(rng, H, S, N):
    """Per-example gradient H p - xi_i with xi of population covariance exactly S."""
    xi = rng.normal(size=(N, len(H)))
    xi -= xi.mean(0)
    W = np.linalg.cholesky(np.atleast_2d(np.cov(xi.T, bias=True)))
    xi = xi @ np.linalg.inv(W).T @ np.linalg.cholesky(S).T
    return xi, (lambda p, e: p @ H - e)


def cov_se(samples):
    """Standard errors of the sample covariance entries (n independent samples)."""
    c = np.cov(samples.T)
    n = len(samples)
    return c, np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / n)


@pytest.mark.parametrize("replace,B", [(True, 1), (False, 5)])
def test_real_sgd_matches_discrete_sgd_cov(replace, B):
    rng = np.random.default_rng(11)
    H = np.array([[2.0, 0.6], [0.6, 1.0]])
    S = np.array([[1.0, -0.3], [-0.3, 0.5]])
    N, eta = 20, 0.3
    xi, grad = noisy_quadratic(rng, H, S, N)
    Seff = S * (1.0 if replace else (N - B) / (N - 1))
    exact = fp.discrete_sgd_cov(H, Seff, eta, batch_size=B)
    run = fp.run_sgd(grad, xi, np.zeros(2), eta, 150, batch_size=B, n_chains=20000,
                     replace=replace, rng=1)
    c, se = cov_se(run.x)
    assert np.all(np.abs(c - exact) < 4 * se)
    assert np.all(np.abs(run.x.mean(0)) < 4 * np.sqrt(np.diag(exact) / len(run.x)))
    # at this learning rate the SDE's Lyapunov covariance is rejected
    sde_c = sgd_cov(H, Seff, eta, batch_size=B)
    assert np.abs(c[0, 0] - sde_c[0, 0]) > 10 * se[0, 0]


def test_real_sgd_per_parameter_rates_and_thinning():
    rng = np.random.default_rng(12)
    H, S = np.diag([1.0, 4.0]), np.diag([1.0, 4.0])
    xi, grad = noisy_quadratic(rng, H, S, 50)
    P = 0.2 / np.diag(S)
    run = fp.run_sgd(grad, xi, np.ones(2), 0.1, 400, n_chains=4000, lr_per_param=P,
                     burn_in=200, thin=50, rng=2)
    assert run.chains.shape == (4, 4000, 2) and run.x.shape == (16000, 2)
    np.testing.assert_array_equal(run.steps, [250, 300, 350, 400])
    np.testing.assert_allclose(run.t, run.steps * 0.1)
    exact = fp.discrete_sgd_cov(H, S, 0.1, lr_per_param=P)
    c, se = cov_se(run.final)
    assert np.all(np.abs(c - exact) < 4 * se)
    assert np.asarray(run).shape == run.x.shape


def test_run_sgd_divergence_is_reported():
    xi, grad = noisy_quadratic(np.random.default_rng(0), np.eye(1) * 10, np.eye(1), 10)
    with pytest.raises(fp.ConvergenceError, match="lower `lr`"):
        fp.run_sgd(grad, xi, np.ones(1), 0.25, 2000, n_chains=10, rng=0)


# ------------------------------------------------------------------ bad input
def test_bad_learning_rates():
    L = lambda p: (p**2).sum(-1)
    data = np.zeros((5, 2)) + np.arange(5)[:, None]
    for bad in (0.0, -0.1, np.nan):
        with pytest.raises(ValueError, match="`lr`"):
            fp.sgd(L, bad, 1.0)
        with pytest.raises(ValueError, match="`lr`"):
            fp.sgd_from_data(linreg_grad, data, bad, 1, kind="grad")
        with pytest.raises(ValueError, match="`lr`"):
            fp.run_sgd(linreg_grad, data, np.zeros(2), bad, 10)
        with pytest.raises(ValueError, match="`lr`"):
            fp.discrete_sgd_cov(1.0, 1.0, bad)
    with pytest.raises(ValueError, match="`lr_per_param`"):
        fp.sgd(L, 0.1, 1.0, lr_per_param=[0.1, -0.1])


def test_bad_batch_sizes():
    data = linreg_data(np.random.default_rng(0), n=10)
    for bad in (0, -2, 11):
        with pytest.raises(ValueError, match="`batch_size"):
            fp.sgd_from_data(linreg_grad, data, 0.1, bad, kind="grad")
        with pytest.raises(ValueError, match="`batch_size"):
            fp.run_sgd(linreg_grad, data, np.zeros(2), 0.1, 10, batch_size=bad)
    with pytest.raises(ValueError, match="`batch_size"):
        fp.sgd(lambda p: (p**2).sum(-1), 0.1, 1.0, batch_size=0)
    with pytest.raises(ValueError, match="no noise"):
        fp.sgd_from_data(linreg_grad, data, 0.1, 10, kind="grad", replace=False)


def test_gradient_of_wrong_shape():
    sde = fp.sgd(lambda p: (p**2).sum(-1), 0.1, np.eye(2), grad=lambda p: p[..., :1])
    with pytest.raises(ValueError, match="`grad` returned shape"):   # checked where evaluated
        sde.drift(np.zeros((3, 2)))
    data = linreg_data(np.random.default_rng(0), n=10)
    wrong = lambda p, r: linreg_grad(p, r)[..., 0]
    with pytest.raises(ValueError, match="`per_example`.*returned shape"):  # on the grid
        fp.generator(fp.sgd_from_data(wrong, data, 0.1, 2, kind="grad", ndim=2), fp.Grid([(-1, 1)] * 2, 8))
    with pytest.raises(ValueError, match="`per_example`.*returned shape"):
        fp.run_sgd(wrong, data, np.zeros(2), 0.1, 5)
    sde = fp.sgd_from_data(wrong, data, 0.1, 2, kind="grad")       # d unknown: checked on use
    with pytest.raises(ValueError, match="`per_example`.*returned shape"):
        sde.cov(np.zeros((3, 2)))


def test_data_with_nan():
    data = linreg_data(np.random.default_rng(0), n=10)
    data[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"`data` contains NaN.*row 7"):
        fp.sgd_from_data(linreg_grad, data, 0.1, 2, kind="grad")
    with pytest.raises(ValueError, match=r"`data\[1\]` contains NaN.*row 7"):
        fp.run_sgd(linreg_grad, (data[:, :2], data[:, 2]), np.zeros(2), 0.1, 5)


def test_covariance_not_psd_names_the_point():
    def cov(p):  # indefinite for p_0 > 1
        c = np.zeros(p.shape + (2,))
        c[..., 0, 0] = 1.0
        c[..., 1, 1] = 1.0 - p[..., 0]
        return c

    sde = fp.sgd(lambda p: 0.5 * (p**2).sum(-1), 0.1, cov, ndim=2)
    grid = fp.Grid([(-2, 2), (-2, 2)], 8)
    with pytest.raises(ValueError, match=r"not positive semi-definite at Phi = \[1\.25, -1\.75\]"):
        sde.cov(grid.points())
    with pytest.raises(ValueError, match="not positive semi-definite at Phi"):
        fp.stationary(sde, grid)
    # a constant matrix is checked at construction
    with pytest.raises(ValueError, match="`cov`"):
        fp.sgd(lambda p: 0.5 * (p**2).sum(-1), 0.1, [[1.0, 2.0], [2.0, 1.0]])
    # data whose gradients coincide at a point: singular noise there, which is allowed
    data = np.array([[1.0, 0.0, 1.0], [2.0, 0.0, 2.0]])      # y = x exactly, no intercept noise
    sde = fp.sgd_from_data(linreg_grad, data, 0.1, 1, kind="grad")
    np.testing.assert_allclose(sde.cov(np.array([[1.0, 0.0]])), 0.0, atol=1e-15)


def test_lr_per_param_wrong_length():
    with pytest.raises(ValueError, match="`lr_per_param` has 3 entries.*d = 2"):
        fp.sgd(lambda p: (p**2).sum(-1), 0.1, np.eye(2), lr_per_param=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="`lr_per_param` has 3 entries.*d = 2"):
        fp.run_sgd(linreg_grad, linreg_data(np.random.default_rng(0)), np.zeros(2), 0.1, 5,
                   lr_per_param=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="`lr_per_param` has shape"):
        fp.sgd(lambda p: (p**2).sum(-1), 0.1, np.eye(2), lr_per_param=np.eye(3))


# ------------------------------------------------------------------ state-dependent noise
def test_state_dependent_noise_1d_is_ito():
    """1-D, Sigma(phi) callable: p ~ exp(-int 2 L' / C) / C with C = eta Sigma (Ito)."""
    from scipy.integrate import cumulative_trapezoid  # type: ignore[import-untyped]

    eta = 0.05
    dL = lambda p: p**3 - p - 0.05
    sig2 = lambda p: 3.2 * (1 + 3 / (1 + np.exp(-4 * p)))
    sde = fp.sgd(lambda p: (p[..., 0] ** 2 - 1) ** 2 / 4 - 0.05 * p[..., 0], eta,
                 lambda p: sig2(p)[..., None], ndim=1)
    grid = fp.Grid([(-3.0, 3.0)], 600)
    p = fp.stationary(sde, grid).density
    fine = np.linspace(-3, 3, 60001)
    C = eta * sig2(fine)
    logp = -cumulative_trapezoid(2 * dL(fine) / C, x=fine, initial=0.0) - np.log(C)
    exact = np.interp(grid.centers[0], fine, np.exp(logp - logp.max()))
    exact /= grid.integrate(exact)
    assert grid.integrate(np.abs(p - exact)) < 1e-3
    assert grid.integrate(p * (grid.centers[0] > 0)) < 0.25   # the noisier, deeper well loses


def test_least_squares_sde_covariance_with_state_dependent_noise():
    """Least squares: Sigma(Phi) is quadratic in Phi - Phi*, and the SDE's exact covariance
    solves H C + C H = eta (K(C) - H C H + S0) / B; the grid reproduces it."""
    rng = np.random.default_rng(4)
    x = 1.0 + rng.normal(size=100)
    y = 1.5 * x - 0.5 + 0.7 * rng.normal(size=100) * (1 + 0.5 * np.abs(x))
    data = np.column_stack([x, np.ones(100), y])
    X = data[:, :2]
    phi = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ phi
    H, S0 = X.T @ X / 100, (X * (e**2)[:, None]).T @ X / 100
    K = np.einsum("ni,nj,nk,nl->ikjl", X, X, X, X).reshape(4, 4) / 100
    eta, I = 0.02, np.eye(2)
    lyap = np.kron(I, H) + np.kron(H, I)
    exact = np.linalg.solve(lyap - eta * (K - np.kron(H, H)), eta * S0.ravel()).reshape(2, 2)
    sd = np.sqrt(np.diag(exact))
    grid = fp.Grid(list(zip(phi - 10 * sd, phi + 10 * sd)), 64)
    sde = fp.sgd_from_data(linreg_grad, data, eta, 1, kind="grad", ndim=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)  # power-law tails
        res = fp.stationary(sde, grid)
    C = grid.cov(res.density)
    assert np.linalg.norm(C - exact) < 5e-3 * np.linalg.norm(exact)
    # and it differs from the frozen-noise Lyapunov covariance by more than that
    assert np.linalg.norm(C - sgd_cov(H, S0, eta)) > 2e-2 * np.linalg.norm(exact)


# ------------------------------------------------------------------ properties
from hypothesis import given
from hypothesis import strategies as st


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), log_eta=st.floats(-4, -1))
def test_quadratic_identities_hold_for_random_spd(seed, d, log_eta):
    rng = np.random.default_rng(seed)
    H, S = random_spd(rng, d), random_spd(rng, d, 0.1, 2.0)
    eta = 10.0**log_eta
    C = sgd_cov(H, S, eta)
    assert 0.5 * np.trace(H @ C) == pytest.approx(eta * np.trace(S) / 4, rel=1e-8)
    D = fp.discrete_sgd_cov(H, S, eta)
    np.testing.assert_allclose(H @ D + D @ H - eta * H @ D @ H, eta * S, atol=1e-10 * eta)
    assert np.all(np.linalg.eigvalsh(D - C) > -1e-12 * eta)      # discrete SGD is wider
    # E[L] of discrete SGD exceeds eta tr(S)/4 by exactly eta tr(H D H)/4
    assert 0.5 * np.trace(H @ D) == pytest.approx(eta * (np.trace(S) + np.trace(H @ D @ H)) / 4, rel=1e-8)


def test_hessian_coordinates_bad_input():
    with pytest.raises(ValueError, match="`H` must be positive definite"):
        fp.hessian_coordinates(np.diag([1.0, -1.0]), np.eye(2), 0.1)
    with pytest.raises(ValueError, match="`H` must be symmetric"):
        fp.hessian_coordinates(np.array([[1.0, 0.5], [0.0, 1.0]]), np.eye(2), 0.1)
    with pytest.raises(ValueError, match="`cov` is 3x3"):
        fp.hessian_coordinates(np.eye(2), np.eye(3), 0.1)
    with pytest.raises(ValueError, match="saddle"):
        sgd_cov(np.diag([1.0, -1.0]), np.eye(2), 0.1)
