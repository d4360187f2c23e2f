"""Degenerate (positive semi-definite) noise: acceptance, the generator's zero-diffusion
edges, Langevin dynamics with inertia and hypoelliptic OU against closed forms."""

import textwrap
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

import fokkerplanck as fp
from fokkerplanck._util.validate import covariance


def _l1(grid, p, q):
    return float(grid.integrate(np.abs(p - q)))


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        return fn(*args, **kw)


# ------------------------------------------------------------------ acceptance
def test_one_validator_accepts_semidefinite_and_refuses_negative_relative_to_the_largest():
    assert covariance("cov", [[1.0, 1.0], [1.0, 1.0]]).shape == (2, 2)
    covariance("cov", np.diag([1e6, -1e-5]))           # -1e-11 of the largest: round-off
    with pytest.raises(ValueError, match=r"`cov` is not positive semi-definite .*eigenvalues \[-1\.0, 3\.0\]"):
        covariance("cov", [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="not positive semi-definite"):
        covariance("cov", np.diag([1.0, -1e-8]))
    with pytest.raises(ValueError, match="not symmetric"):
        covariance("cov", [[1.0, 0.0], [1e-6, 1.0]])
    with pytest.raises(ValueError, match=r"singular at x = \[2\.0\].*Gaussian"):
        covariance("cov", np.array([[[1.0]], [[0.0]]]), np.array([[1.0], [2.0]]), definite=True,
                   hint="A Gaussian needs more.")


@pytest.mark.parametrize("noise", [
    dict(cov=[[0.0, 0.0], [0.0, 1.0]]),
    dict(cov=[[1.0, 1.0], [1.0, 1.0]]),
    dict(sigma=[[1.0], [2.0]]),                               # (d, m) with m < d
    dict(sigma=lambda x: np.stack([x, 0 * x], -2)[..., :1], ndim=2),   # rank 1, state-dependent
    dict(cov=lambda x: np.einsum("...i,...j->...ij", x, x) + 0.0, ndim=2),  # vanishes at 0
])
def test_sde_accepts_noise_of_any_rank(noise):
    sde = fp.SDE(drift=lambda x: -x, **noise)
    x = np.array([[0.3, -0.2], [1.0, 2.0]])
    c = sde.cov(x)
    s = sde.sigma(x)
    np.testing.assert_allclose(s @ np.swapaxes(s, -1, -2), c, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(cov=[[1.0, 2.0], [2.0, 1.0]]), "not positive semi-definite"),
    (dict(cov=[[0.0, 0.0], [0.0, 0.0]]), "no noise"),
    (dict(cov=lambda x: -np.ones(x.shape[:-1] + (1, 1)), ndim=1), r"not positive semi-definite at x = "),
])
def test_sde_refuses_negative_covariances(kwargs, match):
    """Constants at construction; callables where they are evaluated (on the grid)."""
    with pytest.raises(ValueError, match=match):
        sde = fp.SDE(drift=lambda x: -x, **kwargs)
        fp.generator(sde, fp.Grid(bounds=[(-1, 1)], shape=8))


def test_gaussians_still_need_a_definite_covariance():
    grid = fp.Grid(bounds=[(-1, 1), (-1, 1)], shape=10)
    with pytest.raises(ValueError, match="singular.*no density"):
        fp.gaussian(grid, [0, 0], [[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="singular"):
        fp.gaussian_density(grid, [0, 0], [[1.0, 0.0], [0.0, 0.0]])


# ------------------------------------------------------------------ generator
def test_zero_diffusion_edges_are_upwind_and_the_matrix_stays_a_generator():
    # dx = v dt, dv = -x dt + dB on a 5 x 4 grid: along x only the drift v moves mass
    sde = fp.SDE(drift=lambda z: np.stack([z[..., 1], -z[..., 0]], -1), cov=[[0.0, 0.0], [0.0, 1.0]])
    grid = fp.Grid(bounds=[(-2, 2), (-1.5, 1.5)], shape=(5, 4))
    A = fp.generator(sde, grid).toarray()
    np.testing.assert_allclose(A.sum(axis=0), 0.0, atol=1e-12)
    assert (A - np.diag(np.diag(A))).min() >= 0
    hx = grid.spacing[0]
    for j, v in enumerate(grid.centers[1]):
        for i in range(4):
            a, b = np.ravel_multi_index((i, j), grid.shape), np.ravel_multi_index((i + 1, j), grid.shape)
            assert A[b, a] == pytest.approx(max(v, 0) / hx, abs=1e-14)   # a -> b at speed v+
            assert A[a, b] == pytest.approx(max(-v, 0) / hx, abs=1e-14)
    for scheme in ("sg", "upwind"):
        fl = fp.fluxes(sde, grid, scheme=scheme)
        assert fl.potential() is None   # no detailed balance to exploit


def test_singular_noise_off_the_axes_is_exact_on_lattice_directions_and_warned_otherwise():
    H = np.array([[1.0, 0.3], [-0.3, 2.0]])
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=24)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fp.FokkerPlanckWarning)  # (1, 1): a lattice direction
        A = fp.generator(fp.ornstein_uhlenbeck(H, [[1.0, 1.0], [1.0, 1.0]]), grid)
    assert (A - sp.diags(A.diagonal())).min() >= 0
    g = np.array([1.0, np.sqrt(2.0) - 0.2])
    with pytest.warns(fp.FokkerPlanckWarning, match="singular .* not along a grid axis.*fp.simulate"):
        fp.generator(fp.ornstein_uhlenbeck(H, np.outer(g, g)), grid)


# ------------------------------------------------------------------ closed forms
def _gaussian_l1(grid, p, cov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        return _l1(grid, p, fp.gaussian(grid, mean=np.zeros(grid.ndim), cov=cov))


def test_rank_one_noise_off_the_axes_converges_with_the_high_order_scheme():
    # dX = -H X dt + g dB with g along an irrational direction: no monotone stencil of
    # bounded length carries it, the monotone scheme regularizes (an O(1) error that does
    # not shrink with h) and warns; the high-order scheme is consistent and reaches its
    # fourth order (measured L1 1.8e-2, 1.5e-3, 9.9e-5, 6.4e-6 at 32^2 ... 256^2).
    H = np.array([[1.0, 1.0], [-1.0, 1.0]])
    g = np.array([1.0, np.sqrt(2.0) - 0.2])
    S = scipy.linalg.solve_continuous_lyapunov(-H, -np.outer(g, g))   # the exact covariance
    sde = fp.ornstein_uhlenbeck(H, np.outer(g, g))
    err = {}
    for n in (64, 128):
        grid = fp.Grid(bounds=[(-5.5, 5.5)] * 2, shape=n)
        err[n] = _gaussian_l1(grid, fp.stationary(sde, grid, scheme="highorder").density, S)
    assert err[128] < 3e-4
    assert np.log2(err[64] / err[128]) > 3.0
    grid = fp.Grid(bounds=[(-5.5, 5.5)] * 2, shape=64)
    # the slowest decay rate is min Re eig(H) = 1 (measured 1 + 3.5e-7 at 96^2)
    assert abs(fp.spectral_gap(sde, grid, scheme="highorder") - 1.0) < 1e-4
    with pytest.warns(fp.FokkerPlanckWarning, match="not a converging one.*scheme='highorder'"):
        p = fp.stationary(sde, grid, conductance="sg").density
    assert _gaussian_l1(grid, p, S) > 0.05      # measured 7.6e-2 (7.8e-2 at 256^2)


def test_rank_one_noise_turning_with_the_state_keeps_its_gibbs_density_with_the_high_order_scheme():
    # sigma(x) = R x (R a rotation by phi): rank one, its null direction turns with x. With
    # D = sigma sigma^T / 2 and the Ito drift b = -(D + q J) x + div D, exp(-|x|^2 / 2) is
    # stationary (the flux div(q J p) is divergence-free). Measured L1: 6.4e-4, 4.2e-5 at
    # 32^2, 64^2 (order 3.9); the regularized monotone scheme (conductance="sg"): 0.41,
    # 0.19, 0.091, 0.068 up to 256^2.
    phi, q = np.pi / 3, 1.0
    R = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    J = np.array([[0.0, -1.0], [1.0, 0.0]])

    def drift(x, t=None):
        v = x @ R.T
        div_d = 0.5 * (x @ (R @ R).T + 2 * np.cos(phi) * v)
        return -0.5 * v * (v * x).sum(-1, keepdims=True) - q * x @ J.T + div_d

    sde = fp.SDE(drift=drift, sigma=lambda x, t=None: (x @ R.T)[..., :, None], ndim=2)
    err = {}
    for n in (32, 64):
        grid = fp.Grid(bounds=[(-5, 5)] * 2, shape=n)
        err[n] = _gaussian_l1(grid, fp.stationary(sde, grid, scheme="highorder").density, np.eye(2))
    assert err[64] < 1e-4
    assert err[32] / err[64] > 8
    with pytest.warns(fp.FokkerPlanckWarning, match="singular at 1024 of 1024 points"):
        fp.generator(sde, fp.Grid(bounds=[(-5, 5)] * 2, shape=32))


def test_lyapunov_with_noise_on_the_velocity_only():
    # dx = v, dv = -k x - gamma v + sigma dB: S = diag(T / k, T), T = sigma^2 / (2 gamma)
    k, gamma, sigma = 2.0, 0.7, 1.3
    S = fp.lyapunov([[0.0, -1.0], [k, gamma]], [[0.0, 0.0], [0.0, sigma**2]])
    T = sigma**2 / (2 * gamma)
    np.testing.assert_allclose(S, np.diag([T / k, T]), atol=1e-12)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        fp.lyapunov(np.eye(2), [[1.0, 2.0], [2.0, 1.0]])


def test_underdamped_langevin_is_kramers_equation():
    L = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2
    sde = fp.underdamped_langevin(L, gamma=0.5, sigma=0.8)
    z = np.array([[0.5, -1.0], [2.0, 0.3]])
    np.testing.assert_allclose(sde.drift(z), np.stack([z[:, 1], -(z[:, 0] ** 3 - z[:, 0]) - 0.5 * z[:, 1]], -1),
                               atol=1e-9)
    np.testing.assert_allclose(sde.cov(z[0]), np.diag([0.0, 0.64]))
    two = fp.underdamped_langevin(lambda x: 0.5 * (x**2).sum(-1), 1.0, 1.0, grad=lambda x: x, ndim=2)
    assert two.ndim == 4
    for kw, match in [(dict(gamma=0.0), "gamma"), (dict(sigma=-1.0), "sigma"), (dict(ndim=3), "ndim")]:
        with pytest.raises(ValueError, match=match):
            fp.underdamped_langevin(L, **{"gamma": 1.0, "sigma": 1.0, **kw})


def test_kramers_stationary_density_is_the_phase_space_gibbs_density():
    # double well at T = sigma^2 / (2 gamma) = 0.25; exact exp(-(L + v^2/2) / T)
    L = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2
    gamma, sigma = 2.0, 1.0
    H = lambda z: L(z[..., :1]) + 0.5 * z[..., 1] ** 2
    T = sigma**2 / (2 * gamma)
    # fp.underdamped_langevin keeps the structure -(M + Q) grad H: exact to round-off
    sde = fp.underdamped_langevin(L, gamma, sigma, grad=lambda x: x**3 - x)
    assert sde.structure is not None and sde.structure.temperature == pytest.approx(T)
    grid = fp.Grid(bounds=[(-2.2, 2.2), (-2.2, 2.2)], shape=48)
    assert _l1(grid, _quiet(fp.stationary, sde, grid).density, fp.gibbs(grid, H, T)) < 1e-12
    # the same drift as a plain SDE takes the general degenerate path: upwind along x,
    # first order, positive
    plain = fp.SDE(drift=lambda z: np.stack([z[..., 1], -(z[..., 0] ** 3 - z[..., 0]) - gamma * z[..., 1]], -1),
                   cov=[[0.0, 0.0], [0.0, sigma**2]])
    errs = []
    for n in (48, 96):
        grid = fp.Grid(bounds=[(-2.2, 2.2), (-2.2, 2.2)], shape=n)
        res = _quiet(fp.stationary, plain, grid)
        assert res.density.min() >= 0
        errs.append(_l1(grid, res.density, fp.gibbs(grid, H, T)))
    order = np.log2(errs[0] / errs[1])
    assert errs[1] < 0.06 and order > 0.85, (errs, order)


def test_hypoelliptic_ou_with_rank_one_noise_matches_its_lyapunov_gaussian():
    H = np.array([[0.0, -1.0], [0.5, 1.5]])      # real eigenvalues 0.5, 1: the gap is real
    C = np.diag([0.0, 1.0])
    sde = fp.ornstein_uhlenbeck(H, C)
    S = fp.lyapunov(H, C)
    errs, covs = [], []
    for n in (40, 80):
        grid = fp.Grid(bounds=[(-3.5, 3.5), (-3.5, 3.5)], shape=n)
        res = _quiet(fp.stationary, sde, grid)
        errs.append(_l1(grid, res.density, fp.gaussian_density(grid, [0, 0], S, normalise=True)))
        covs.append(res.cov())
    assert np.log2(errs[0] / errs[1]) > 0.85, errs
    assert np.abs(covs[1] - S).max() < 0.6 * np.abs(covs[0] - S).max()
    # spectral gap: the smallest eigenvalue of H (0.5), to first order in h
    gap = _quiet(fp.spectral_gap, sde, grid)
    assert gap == pytest.approx(0.5, rel=0.08)
    # evolve: the mean follows expm(-H t) m0 exactly for linear drift, up to O(h)
    p0 = fp.gaussian(grid, mean=[1.0, 0.0], cov=0.1)
    ev = _quiet(fp.evolve, sde, grid, p0, [0.0, 1.0])
    np.testing.assert_allclose(ev.mean()[1], scipy.linalg.expm(-H) @ [1.0, 0.0], atol=0.05)


def test_particles_with_rank_deficient_sigma_agree_with_the_grid():
    # kinetic OU: noise on v only, sigma a (2, 1) matrix; Euler-Maruyama steps it as is
    k, gamma = 1.0, 2.0
    sde = fp.SDE(drift=lambda z: np.stack([z[..., 1], -k * z[..., 0] - gamma * z[..., 1]], -1),
                 sigma=[[0.0], [1.0]])
    grid = fp.Grid(bounds=[(-2.5, 2.5)] * 2, shape=48)
    pt = fp.simulate(sde, np.zeros((4000, 2)), t_end=8.0, dt=0.01, grid=grid, rng=3)
    T = 1.0 / (2 * gamma)
    var = pt.x.var(axis=0)
    assert var[0] == pytest.approx(T / k, rel=0.1) and var[1] == pytest.approx(T, rel=0.1)


def test_exits_and_entropy_production_with_singular_noise():
    sde = fp.underdamped_langevin(lambda x: 0.5 * x[..., 0] ** 2, gamma=1.0, sigma=1.0, grad=lambda x: x)
    grid = fp.Grid(bounds=[(-1.0, 1.0), (-3.0, 3.0)], shape=(24, 36), boundary=["absorbing", "reflecting"])
    tau = _quiet(fp.exit_time, sde, grid)
    assert np.all(np.isfinite(tau)) and tau.min() > 0
    # from rest at the centre it takes longer than from x near the wall moving out
    i0 = np.unravel_index(np.argmax(tau), tau.shape)
    assert abs(grid.centers[0][i0[0]]) < 0.5
    with pytest.raises(ValueError, match="singular.*no noise can reverse"):
        _quiet(fp.entropy_production, sde, fp.Grid(bounds=[(-3, 3)] * 2, shape=16))


def test_sgd_with_rank_deficient_gradient_noise():
    sde = fp.sgd(lambda p: 0.5 * (p**2).sum(-1), 0.1, [[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(sde.cov(np.zeros(2)), 0.1 * np.ones((2, 2)))
    sde = fp.sgd(lambda p: 0.5 * (p**2).sum(-1), 0.1, [0.0, 1.0])
    assert np.linalg.matrix_rank(sde.cov(np.zeros(2))) == 1
    with pytest.raises(ValueError, match="non-negative"):
        fp.sgd(lambda p: 0.5 * (p**2).sum(-1), 0.1, [0.0, -1.0])


def test_cli_solves_a_problem_with_noise_on_one_axis(tmp_path):
    from fokkerplanck.cli import main

    f = tmp_path / "kramers.toml"
    f.write_text(textwrap.dedent("""
        drift = ["y", "-x - y"]
        cov = [[0, 0], [0, 1]]
        [grid]
        bounds = [[-3, 3], [-3, 3]]
        shape = 32
    """))
    assert _quiet(main, ["solve", str(f)]) == 0
    out = np.load(tmp_path / "kramers.npz")
    assert np.all(out["density"] >= 0)


# ------------------------------------------------------------------ heavy-ball SGD
def _discrete_heavy_ball_cov(h, s, eta, beta):
    """Exact stationary covariance of (Phi, m) for 1-D heavy ball on h Phi^2 / 2."""
    M = np.array([[1 - eta * h, beta], [-eta * h, beta]])
    b = np.array([[-eta], [-eta]])
    return scipy.linalg.solve_discrete_lyapunov(M, b @ b.T * s)


def test_heavy_ball_sgd_sde_has_the_phase_space_gibbs_density():
    eta, beta, s = 0.01, 0.9, 2.0                  # gamma = 1, T = eta s / (2 (1 - beta)) = 0.1
    sde = fp.sgd(lambda p: 0.5 * (p**2).sum(-1), eta, s, ndim=1, momentum=beta)
    T = eta * s / (2 * (1 - beta))
    grid = fp.Grid(bounds=[(-1.5, 1.5)] * 2, shape=96)
    p = _quiet(fp.stationary, sde, grid).density
    assert sde.structure is not None
    assert _l1(grid, p, fp.gibbs(grid, lambda z: 0.5 * (z**2).sum(-1), T)) < 1e-12
    with pytest.raises(ValueError, match="momentum"):
        fp.sgd(lambda p: (p**2).sum(-1), 0.1, 1.0, ndim=1, momentum=1.0)
    with pytest.raises(ValueError, match="`momentum` with `lr_per_param`"):
        fp.sgd(lambda p: (p**2).sum(-1), 0.1, 1.0, ndim=1, momentum=0.5, lr_per_param=0.1)
    with pytest.raises(ValueError, match="ndim"):
        fp.sgd(lambda p: (p**2).sum(-1), 0.1, 1.0, momentum=0.5)


def test_real_heavy_ball_sgd_matches_its_exact_discrete_covariance_and_the_sde_at_small_eta():
    rng = np.random.default_rng(5)
    y = rng.normal(size=(300, 1))
    y -= y.mean()
    s = float(y.var())                              # l_i = (w - y_i)^2 / 2: H = 1, Sigma = s
    devs = []
    for eta in (0.0025, 0.04):
        beta = 1 - np.sqrt(eta)                     # gamma = 1
        run = fp.run_sgd(lambda w, yi: w - yi, y, np.zeros(1), eta, int(25 / np.sqrt(eta)),
                         n_chains=20_000, momentum=beta, rng=6)
        C = _discrete_heavy_ball_cov(1.0, s, eta, beta)
        se = np.sqrt(2 / 20_000)
        assert run.x.var() / C[0, 0] == pytest.approx(1, abs=4 * se)
        T = eta * s / (2 * (1 - beta))              # the SDE's Var p, and Var Phi / H
        assert run.v.var() / T == pytest.approx(1, abs=4 * se)   # central velocity: exact
        assert run.phase.shape == (20_000, 2) and run.t[-1] == pytest.approx(run.steps[-1] * np.sqrt(eta))
        devs.append(C[0, 0] / T - 1)
    assert abs(devs[0]) < 1e-3 and 0.005 < devs[1] < 0.03   # O(eta): 16x eta, ~16x deviation
    assert devs[1] / devs[0] == pytest.approx(16, rel=0.15)
    with pytest.raises(ValueError, match="no velocities"):
        fp.run_sgd(lambda w, yi: w - yi, y, np.zeros(1), 0.1, 5, n_chains=10, rng=0).phase
