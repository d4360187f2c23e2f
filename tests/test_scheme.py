"""The two-point scheme's accuracy for non-gradient drifts (issue 13) and the
structure-preserving discretization of drifts -(M + Q) grad H (issues 11 and 13)."""

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, strategies as st

import fokkerplanck as fp
from fokkerplanck._discretization.generator import bernoulli_pair, fitted_pair

# --------------------------------------------------------------- the metastable torus
# U = -cos 2x - 0.3 cos x - cos y on [-pi/2, 3pi/2) x [-pi, pi), periodic; the drift
# -(I - J) grad U (J = [[0, -1], [1, 0]]) is not a gradient, but exp(-U/T) is stationary.
TORUS = [(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)]
# fplanck 0.2.2 on the same problem at T = 0.1 (force given, periodic; measured once with
# benchmarks/bench_torus.py): relative error of the shallow-well mass and L1
FPLANCK = {64: (2.335e-2, 1.882e-2), 128: (6.882e-3, 4.712e-3), 256: (1.809e-3, 1.178e-3)}


def _torus_U(x):
    return -np.cos(2 * x[..., 0]) - 0.3 * np.cos(x[..., 0]) - np.cos(x[..., 1])


def _torus_grad(x):
    return np.stack([2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0]), np.sin(x[..., 1])], -1)


def _torus_drift(x):
    g = _torus_grad(x)
    return np.stack([-g[..., 0] - g[..., 1], -g[..., 1] + g[..., 0]], -1)


def _torus_errors(p, T, grid):
    dv = grid.cell_volume
    p = p.reshape(grid.shape) / (p.sum() * dv)
    lq = -_torus_U(grid.points()) / T
    exact = np.exp(lq - lq.max())
    exact /= exact.sum() * dv
    shallow = grid.centers[0] > np.pi / 2
    mass = abs(p[shallow].sum() / exact[shallow].sum() - 1)
    l1 = np.abs(p - exact).sum() * dv
    order = np.argsort(exact.ravel())[::-1]  # cells holding 1 - 1e-6 of the mass
    keep = order[: np.searchsorted(np.cumsum(exact.ravel()[order]) * dv, 1 - 1e-6) + 1]
    logerr = np.abs(np.log(p.ravel()[keep] / exact.ravel()[keep])).max()
    return mass, l1, logerr


def test_torus_shallow_well_at_least_as_accurate_as_fplanck_and_second_order():
    T = 0.1
    sde = fp.SDE(drift=_torus_drift, sigma=np.sqrt(2 * T))
    errs = {}
    for n in (64, 128):
        grid = fp.Grid(bounds=TORUS, shape=n, boundary="periodic")
        errs[n] = _torus_errors(fp.stationary(sde, grid).density, T, grid)
        mass, l1, _ = errs[n]
        assert mass <= FPLANCK[n][0] and l1 <= FPLANCK[n][1], (n, errs[n])
    # measured (density split, the default): mass 1.04e-2, 2.15e-3; L1 6.3e-3, 1.5e-3 (fplanck
    # 1.9e-2, 4.7e-3); max |log p - log p_exact| 0.190 -> 0.0464 (order 2.04)
    assert np.log2(errs[64][2] / errs[128][2]) > 1.85, errs
    assert errs[128][1] < 0.5 * FPLANCK[128][1] and errs[128][2] < 0.06, errs
    # the plain Scharfetter-Gummel conductance is 44x worse in the shallow well (9.46e-2)
    assert errs[128][0] < 0.05 * 9.46e-2


@pytest.mark.slow
def test_torus_at_256_still_beats_fplanck_and_converges_at_second_order():
    """The signed shallow-well mass error e is second order: e N^2 measured 42.8, 35.2,
    33.2, 32.7 at 64^2 to 512^2, its differences shrinking 4x (the h^4 term). (With the
    face factor's transverse term a^2 / 24, the leading term of log(sinh(a/2) / (a/2)),
    it was -3.7, 23.0, 30.4, 32.0: the same h^2 term, an h^4 term 3.5x larger and of
    the opposite sign, so that e changed sign between 64^2 and 128^2.)"""
    T = 0.1
    sde = fp.SDE(drift=_torus_drift, sigma=np.sqrt(2 * T))
    scaled, logerr = {}, {}
    for n in (128, 256):
        grid = fp.Grid(bounds=TORUS, shape=n, boundary="periodic")
        p = fp.stationary(sde, grid, error_estimate=n == 256).density
        mass, l1, logerr[n] = _torus_errors(p, T, grid)
        scaled[n] = mass * n ** 2
    assert mass <= FPLANCK[256][0] and l1 <= FPLANCK[256][1], (mass, l1)
    assert 0.85 < scaled[256] / scaled[128] < 1.0, scaled       # e ~ C h^2: 33.2 / 35.2
    assert np.log2(logerr[128] / logerr[256]) > 1.9, logerr      # 0.0468 -> 0.0117


def _gth_stationary(sde, grid):
    """The subtraction-free (GTH) stationary solve: LU is unreliable at T = 0.05 here."""
    from fokkerplanck._solvers.stationary import METHODS

    if "gth" not in METHODS:
        pytest.skip("needs the subtraction-free stationary solve (method='gth')")
    return fp.stationary(sde, grid, method="gth").density


def test_torus_at_low_temperature_128():
    # T = 0.05: plain Scharfetter-Gummel weights were 81 % off in the shallow well at 128^2
    T = 0.05
    grid = fp.Grid(bounds=TORUS, shape=128, boundary="periodic")
    mass, l1, logerr = _torus_errors(_gth_stationary(fp.SDE(drift=_torus_drift, sigma=np.sqrt(2 * T)), grid), T, grid)
    assert mass < 0.03 and l1 < 0.0095 and logerr < 0.26, (mass, l1, logerr)  # measured 2.46e-2, 9.25e-3, 0.253


@pytest.mark.slow
def test_torus_at_low_temperature_converges_at_second_order():
    T = 0.05
    grid = fp.Grid(bounds=TORUS, shape=256, boundary="periodic")
    mass, l1, logerr = _torus_errors(_gth_stationary(fp.SDE(drift=_torus_drift, sigma=np.sqrt(2 * T)), grid), T, grid)
    # 128^2 (measured): mass 2.46e-2, log-density 0.253; 256^2: 5.79e-3, 0.0665 (512^2: 1.49e-3, 0.0168)
    assert np.log2(2.46e-2 / mass) > 1.9 and np.log2(0.253 / logerr) > 1.85, (mass, logerr)


def test_torus_structured_form_is_exact():
    T = 0.1
    Q = np.array([[0.0, 1.0], [-1.0, 0.0]])  # -(I + Q) grad U = -(I - J) grad U
    sde = fp.SDE(loss=_torus_U, grad=_torus_grad, sigma=np.sqrt(2 * T), antisymmetric=Q)
    assert sde.structure is not None and sde.structure.temperature == pytest.approx(T)
    np.testing.assert_allclose(sde.drift(np.array([[0.3, -1.1]])), _torus_drift(np.array([[0.3, -1.1]])))
    grid = fp.Grid(bounds=TORUS, shape=64, boundary="periodic")
    A = fp.generator(sde, grid)
    rho = np.exp(-(_torus_U(grid.points()) + 2.3) / T).ravel()
    assert np.abs(A @ rho).max() <= 1e-13 * np.abs(A.diagonal()).max() * rho.max()
    # what is left is the linear solve's round-off in the metastable well (LU: ~1e-8)
    mass, l1, logerr = _torus_errors(fp.stationary(sde, grid).density, T, grid)
    assert mass < 1e-6 and l1 < 1e-7 and logerr < 1e-6


# --------------------------------------------------------------- the edge weights
def test_fitted_weights_ratio_limits_and_flatness():
    z = np.concatenate([-np.logspace(-12, 3, 60), [0.0], np.logspace(-12, 3, 60)])
    f, fm = fitted_pair(z)
    b, bm = bernoulli_pair(z)
    assert np.all(f >= 0) and np.all(fm >= 0) and np.all(f + fm > 0) and np.all(np.isfinite(f + fm))
    ok = np.abs(z) < 600
    np.testing.assert_allclose(np.log(fm[ok] / f[ok]), z[ok], rtol=1e-13, atol=1e-13)  # f(z)/f(-z) = e^-z
    big = np.abs(z) > 60
    np.testing.assert_allclose(fm[big], bm[big], rtol=1e-9)  # upwinding, as Scharfetter-Gummel
    small = np.abs(z) < 1.5
    conductance = f[small] * np.exp(z[small] / 2)
    np.testing.assert_allclose(conductance, 1.0, atol=2e-4)  # flat: 1 - O(z^12)
    assert np.all(f / np.where(b > 0, b, 1) <= 2.41)


@given(st.floats(0.05, 5.0), st.floats(-3.0, 3.0), st.floats(0.5, 4.0))
def test_default_scheme_stays_monotone_and_conservative_for_rotation(T, rot, cross):
    grid = fp.Grid(bounds=[(-2, 2), (-2, 2)], shape=(14, 11), boundary=["periodic", "reflecting"])
    sde = fp.SDE(drift=lambda x: np.stack([-np.sin(x[..., 0]) + rot * x[..., 1], -x[..., 1] - rot * np.sin(x[..., 0])], -1),
                 cov=[[2 * T, 0.3 * T], [0.3 * T, cross * T]])
    A = fp.generator(sde, grid)
    off = A - sp.diags(A.diagonal())
    assert off.min() >= 0
    assert np.abs(np.asarray(A.sum(axis=0))).max() <= 1e-12 * np.abs(A.diagonal()).max()


# --------------------------------------------------------------- structure: -(M + Q) grad H
def _random_structure(draw_seed, d, singular):
    rng = np.random.default_rng(draw_seed)
    modes = rng.normal(size=(3, d)).round()
    amps = rng.normal(size=3) * 0.7

    def H(x):
        return sum(a * np.cos(x @ k) for a, k in zip(amps, modes)) + 0.3 * np.sin(x[..., 0])

    q = rng.normal(size=(d, d)) * 2
    Q = q - q.T
    if singular:
        M = np.diag(np.where(np.arange(d) == 0, 0.0, rng.uniform(0.2, 2.0, d)))
    else:
        m = rng.normal(size=(d, d))
        M = m @ m.T / d + 0.3 * np.eye(d)
        M = np.round(M * 4) / 4  # a short Selling stencil
    return H, M, Q


@given(st.integers(0, 10_000), st.sampled_from([2, 3]), st.booleans(), st.floats(0.2, 3.0),
       st.sampled_from(["sg", "sg2"]))
def test_structured_keeps_gibbs_exactly_on_periodic_grids(seed, d, singular, T, scheme):
    H, M, Q = _random_structure(seed, d, singular)
    shape = (9, 8, 7)[:d]
    grid = fp.Grid(bounds=[(0, 2 * np.pi)] * d, shape=shape, boundary="periodic")
    sde = fp.SDE(loss=H, cov=2 * T * M, mobility=M, antisymmetric=Q)
    assert sde.structure is not None
    A = fp.generator(sde, grid, scheme=scheme)
    rho = np.exp(-(H(grid.points()) - H(grid.points()).min()) / T).ravel()
    scale = np.abs(A.diagonal()).max()
    assert np.abs(A @ rho).max() <= 1e-11 * scale * rho.max()
    assert np.abs(np.asarray(A.sum(axis=0))).max() <= 1e-12 * scale
    if scheme == "sg":
        assert (A - sp.diags(A.diagonal())).min() >= 0
    fl = fp.fluxes(sde, grid, scheme=scheme)  # the edge fluxes are the generator, exactly
    p = np.random.default_rng(seed).random(grid.size)
    np.testing.assert_allclose(fl.divergence(fl.flux(p)), A @ p, rtol=0, atol=1e-12 * scale)


@pytest.mark.filterwarnings("ignore::fokkerplanck.FokkerPlanckWarning")
def test_structured_reflecting_walls_keep_gibbs_and_monotone():
    H = lambda z: z[..., 0] ** 4 / 4 - z[..., 0] ** 2 / 2 + z[..., 1] ** 2 / 2  # noqa: E731
    T, gamma = 0.3, 0.7
    sde = fp.SDE(loss=H, cov=[[0, 0], [0, 2 * T * gamma]], mobility=[[0, 0], [0, gamma]],
                 antisymmetric=[[0, -1], [1, 0]])
    grid = fp.Grid(bounds=[(-2, 2), (-2.5, 2.5)], shape=(30, 26))
    A = fp.generator(sde, grid)
    assert (A - sp.diags(A.diagonal())).min() >= 0
    p = fp.gibbs(grid, H, T).ravel()
    assert np.abs(A @ p).max() <= 1e-13 * np.abs(A.diagonal()).max() * p.max()
    res = fp.stationary(sde, grid)
    np.testing.assert_allclose(res.density.ravel(), p, rtol=1e-9, atol=1e-12 * p.max())


def _harmonic_kinetic(gamma=1.0, sigma=1.0):
    return fp.SDE(loss=lambda z: (z**2).sum(-1) / 2, grad=lambda z: z, cov=[[0, 0], [0, sigma**2]],
                  mobility=[[0, 0], [0, gamma]], antisymmetric=[[0, -1], [1, 0]])


def test_hypoelliptic_ou_transient_is_second_order_with_sg2():
    # kinetic Langevin in a harmonic well = OU with rank-1 noise: Gaussian at all times
    sde = _harmonic_kinetic()
    B, C = np.array([[0.0, 1.0], [-1.0, -1.0]]), np.diag([0.0, 1.0])
    S_inf = sl.solve_continuous_lyapunov(B, -C)
    m0, S0, t = np.array([1.5, 0.0]), 0.25 * np.eye(2), 1.0
    E = sl.expm(B * t)
    m1, S1 = E @ m0, S_inf + E @ (S0 - S_inf) @ E.T
    errors = {}
    for scheme in ("sg2", "sg"):
        for n in (32, 64):
            grid = fp.Grid(bounds=[(-5, 5), (-5, 5)], shape=n)
            p0 = fp.gaussian_density(grid, m0, S0).ravel()
            p1 = spla.expm_multiply(fp.generator(sde, grid, scheme=scheme) * t, p0)
            errors[scheme, n] = grid.integrate(np.abs(p1 - fp.gaussian_density(grid, m1, S1).ravel()).reshape(grid.shape))
    assert np.log2(errors["sg2", 32] / errors["sg2", 64]) > 1.8  # measured 64 -> 128 -> 256: 2.15, 2.07
    assert errors["sg2", 64] < 0.2 * errors["sg", 64]  # "sg" upwinds where there is no noise: first order


def test_hypoelliptic_ou_as_a_plain_drift_is_second_order_with_sg2():
    # issue 11: rank-1 noise, no structure given, non-reversible; exact: the Lyapunov Gaussian
    B, C = np.array([[0.5, -1.0], [1.0, 1.0]]), np.diag([0.0, 1.0])
    S = sl.solve_continuous_lyapunov(B, C)
    sde = fp.ornstein_uhlenbeck(B, C)
    err = {}
    for scheme, n in (("sg", 64), ("sg2", 64), ("sg2", 128)):
        grid = fp.Grid(bounds=[(-4, 4), (-4, 4)], shape=n)
        p = fp.stationary(sde, grid, scheme=scheme).density
        err[scheme, n] = grid.integrate(np.abs(p - fp.gaussian_density(grid, [0, 0], S)))
    # measured L1 at 64^2/128^2/256^2: sg 8.8e-2/4.6e-2 (order 0.95: upwind along the noiseless
    # axis), sg2 3.6e-3/7.9e-4/1.8e-4 (orders 2.19, 2.12; with conductance="sg", one solve:
    # 4.5e-3/1.1e-3/2.6e-4, order 2.03)
    assert np.log2(err["sg2", 64] / err["sg2", 128]) > 1.9, err
    assert err["sg2", 64] < 0.1 * err["sg", 64], err


def test_kinetic_langevin_kramers_mode_converges_without_spurious_modes():
    T, gamma = 0.1, 1.0
    H = lambda z: z[..., 0] ** 4 / 4 - z[..., 0] ** 2 / 2 + z[..., 1] ** 2 / 2  # noqa: E731
    sde = fp.SDE(loss=H, cov=[[0, 0], [0, 2 * T * gamma]], mobility=[[0, 0], [0, gamma]],
                 antisymmetric=[[0, -1], [1, 0]])
    rates = {}
    for scheme in ("sg", "sg2"):
        for n in (48, 96):
            grid = fp.Grid(bounds=[(-2.2, 2.2), (-1.9, 1.9)], shape=n)
            A = fp.generator(sde, grid, scheme=scheme).tocsc()
            vals = spla.eigs(A, k=3, sigma=1e-3, return_eigenvectors=False)
            vals = np.sort(-vals.real)
            rates[scheme, n] = vals[1]  # vals[0] = 0: the Gibbs density
            assert vals[2] > 0.3  # no second slow mode: the next one is intra-well (~0.7)
    # sg2 is second order (48 -> 96: 0.02268 -> 0.02256, limit ~0.02252); sg first order
    assert abs(rates["sg2", 48] / rates["sg2", 96] - 1) < 0.01
    assert abs(rates["sg2", 96] / 0.02252 - 1) < 0.003
    assert abs(rates["sg", 96] / 0.02252 - 1) < 0.06


def test_structure_is_none_without_the_fluctuation_dissipation_relation():
    H = lambda z: (z**2).sum(-1) / 2  # noqa: E731
    assert fp.SDE(loss=H, cov=[[1, 0], [0, 2]], antisymmetric=[[0, 1], [-1, 0]]).structure is None
    assert fp.SDE(loss=H, sigma=1.0).structure is None  # plain loss: the usual path
    sde = fp.SDE(loss=H, cov=[[1, 0], [0, 2]], mobility=[[1, 0], [0, 3]], antisymmetric=[[0, 1], [-1, 0]])
    assert sde.structure is None  # cov is not 2 T mobility
    np.testing.assert_allclose(sde.drift(np.array([[1.0, 2.0]])), [[-3.0, -5.0]])  # -(M + Q) grad H
    # with noise in every direction and no structure, "sg2" is "sg"
    plain = fp.SDE(drift=lambda z: -z + np.sin(z[..., ::-1]), cov=[[1, 0.3], [0.3, 2]])
    grid = fp.Grid(bounds=[(-2, 2)] * 2, shape=(9, 8))
    assert abs(fp.generator(plain, grid, scheme="sg2") - fp.generator(plain, grid)).max() == 0


@pytest.mark.parametrize("kw, match", [
    (dict(mobility=[[1, 1], [0, 1]]), "symmetric"),
    (dict(mobility=[[1, 0], [0, -1]]), "semi-definite"),
    (dict(antisymmetric=[[0, 1], [1, 0]]), "Q\\^T = -Q"),
    (dict(antisymmetric=[[0, 1, 0], [-1, 0, 0], [0, 0, 0]]), "dimensional"),
])
def test_structure_arguments_are_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        fp.SDE(loss=lambda z: (z**2).sum(-1), cov=np.eye(2), **kw)
    with pytest.raises(ValueError, match="give `loss`"):
        fp.SDE(drift=lambda z: -z, sigma=1.0, ndim=2, antisymmetric=[[0, 1], [-1, 0]])


def test_upwind_edge_potentials_are_those_of_its_rates():
    # the upwind rates hold exp(-psi) in balance with drops log(backward / forward), not the
    # exponential fitting's z: with z, detailed balance put a wall cell 14 e-folds off and
    # the certificate refused the answer (ConvergenceError, certificate 1.0)
    import warnings

    sde = fp.langevin(lambda x: (x**4).sum(-1) / 4 - x[..., 0] ** 2 / 2, sigma=0.8)
    grid = fp.Grid(bounds=[(-4, 4)] * 2, shape=(40, 36))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fp.stationary(sde, grid, scheme="upwind", error_estimate=False)
        ref = fp.stationary(sde, grid, scheme="upwind", method="gth", error_estimate=False)
    assert res.success and res.method == "detailed_balance"
    normal = ref.density > 1e-300
    assert np.max(np.abs(res.density[normal] / ref.density[normal] - 1)) < 1e-10
