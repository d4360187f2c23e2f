"""Euler–Maruyama particles (fokkerplanck.particles) against exact answers.

Every statistical check uses a fixed seed and a tolerance of a few standard
errors (or a chi-square p-value via :func:`fp.compare`), never an ad-hoc slack.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg

import fokkerplanck as fp

# --------------------------------------------------------------- helpers


def _exit_survival_bm(t, sigma=1.0, terms=200):
    """Exact survival of Brownian motion started at 1/2 in [0, 1], absorbing at both ends."""
    k = 2 * np.arange(terms) + 1
    return float(np.sum(4 / (k * np.pi) * (-1.0) ** np.arange(terms)
                        * np.exp(-(k * np.pi) ** 2 * sigma**2 * t / 2)))


def _exp_wall_density(grid, rate):
    """Exact cell averages of p ~ exp(-rate x) on a reflecting interval."""
    (lo, hi), = grid.bounds
    e = grid.edges[0]
    mass = np.exp(-rate * (e[:-1] - lo)) - np.exp(-rate * (e[1:] - lo))
    return mass / (1 - np.exp(-rate * (hi - lo))) / grid.spacing[0]


# ------------------------------------------------------- Euler–Maruyama bias


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("theta,sigma", [(1.0, 1.0), (2.0, 0.5)])
def test_ou_em_stationary_variance_is_the_exact_em_biased_value(d, theta, sigma):
    # EM on dx = -theta x dt + sigma dB is the AR(1) chain x' = (1 - theta dt) x + sigma sqrt(dt) Z,
    # whose stationary variance is sigma^2 / (theta (2 - theta dt)), not sigma^2 / (2 theta).
    dt, n = 0.1, 100_000
    sde = fp.SDE(drift=lambda x: -theta * x, sigma=sigma)  # dimension-agnostic
    pt = fp.simulate(sde, np.zeros((n, d)), 15.0, dt=dt, rng=11)
    exact = sigma**2 / (theta * (2 - theta * dt))
    var = pt.x.var(axis=0)
    se = exact * np.sqrt(2 / n)
    assert np.all(np.abs(var - exact) < 4 * se), (var, exact, se)
    # and the continuous-time value is excluded: the bias is resolved
    assert abs(var.mean() - sigma**2 / (2 * theta)) > 4 * se / np.sqrt(d)


def test_full_noise_ou_matches_the_discrete_lyapunov_covariance():
    # Non-equilibrium OU of the design (H = diag(1, 4), cov [[1, .5], [.5, 1]]): EM's stationary
    # covariance X solves X = A X A^T + cov dt with A = I - H dt, exactly.
    H = np.diag([1.0, 4.0])
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    dt, n = 0.02, 40_000
    sde = fp.SDE(drift=lambda x: -x @ H.T, cov=cov)
    pt = fp.simulate(sde, np.zeros((n, 2)), 8.0, dt=dt, rng=3)
    A = np.eye(2) - H * dt
    X = scipy.linalg.solve_discrete_lyapunov(A, cov * dt)
    xc = pt.x - pt.x.mean(axis=0)
    C = xc.T @ xc / n
    se = np.sqrt(X * X + np.outer(np.diag(X), np.diag(X))) / np.sqrt(n)  # Gaussian Var of cov entries
    assert np.all(np.abs(C - X) < 4 * se), (C, X)
    assert np.all(np.abs(pt.x.mean(axis=0)) < 4 * np.sqrt(np.diag(X) / n))


def test_time_dependent_drift_follows_the_em_mean_recursion():
    # dx = (-x + a cos t) dt + sigma dB: the EM mean obeys m' = (1 - dt) m + a cos(t_k) dt exactly.
    a, sigma, dt, n, t_end = 2.0, 0.7, 0.05, 50_000, 3.0
    sde = fp.SDE(drift=lambda x, t: -x + a * np.cos(t), sigma=lambda x, t: sigma * np.ones(x.shape + (1,)),
                 time_dependent=True)
    pt = fp.simulate(sde, np.zeros((n, 1)), t_end, dt=dt, rng=5, t_eval=[1.0, 2.0])
    m, ms = 0.0, {}
    for k in range(int(round(t_end / dt))):
        m = (1 - dt) * m + a * np.cos(k * dt) * dt
        ms[round((k + 1) * dt, 10)] = m
    for j, t in enumerate([1.0, 2.0]):
        snap = pt.snapshots[j, :, 0]
        assert abs(snap.mean() - ms[t]) < 4 * snap.std() / np.sqrt(n)
    assert abs(pt.x.mean() - ms[t_end]) < 4 * pt.x.std() / np.sqrt(n)


# ----------------------------------------------------------- conventions

_EXACT = {  # drift -x, C(x) = (1 + x^2)/2: the three conventions' stationary densities
    "ito": lambda x: 8 / (3 * np.pi) * (1 + x**2) ** -3,
    "stratonovich": lambda x: 0.75 * (1 + x**2) ** -2.5,
    "isothermal": lambda x: 2 / np.pi * (1 + x**2) ** -2,
}


# ------------------------------------------------------------ boundaries


def test_reflecting_wall_with_drift_into_it_gives_the_exponential_density():
    # dx = -mu dt + sigma dB on [0, 4], reflecting: p ~ exp(-2 mu x / sigma^2) (truncated).
    # Start from the exact density (sampled from the grid density) and check it is kept.
    grid = fp.Grid([(0, 4)], 80, boundary="reflecting")
    dens = _exp_wall_density(grid, rate=2.0)
    sde = fp.SDE(drift=lambda x: -np.ones_like(x), sigma=1.0)
    pt = fp.simulate(sde, dens, 2.0, dt=1e-3, grid=grid, n=40_000, rng=1)
    assert pt.x.min() >= 0 and pt.x.max() <= 4 and pt.alive.all()
    cmp = fp.compare(dens, pt, grid=grid)
    assert cmp.consistent, cmp.table()
    assert cmp.l1 < 1.5 * cmp.noise_floor
    # a wall that lets particles through (free space) piles nothing up
    wrong = _exp_wall_density(grid, rate=1.5)
    assert not fp.compare(wrong, pt, grid=grid).consistent


def test_reflecting_fold_handles_steps_longer_than_the_box():
    # Huge noise: each step crosses the box many times; the fold keeps the particle inside and
    # (pure diffusion, reflecting) the uniform density is exactly invariant.
    grid = fp.Grid([(-1, 1), (0, 0.5)], (10, 5), boundary="reflecting")
    pt = fp.simulate(fp.brownian(30.0, ndim=2), np.zeros((20_000, 2)) + [0, 0.25], 1.0, dt=0.1,
                     grid=grid, rng=2)
    assert np.all(pt.x >= grid.lower) and np.all(pt.x <= grid.upper)
    cmp = fp.compare(np.full(grid.shape, 1.0), pt, grid=grid)
    assert cmp.consistent, cmp.table()


def test_periodic_axis_with_constant_drift_is_uniform():
    grid = fp.Grid([(0, 1), (-1, 1)], (20, 8), boundary=("periodic", "reflecting"))
    sde = fp.SDE(drift=lambda x: np.broadcast_to([1.0, 0.0], x.shape), sigma=0.5)
    # x starts at 0.1 and must spread around the circle; y starts uniform (its slowest
    # reflecting mode decays at only pi^2 sigma^2 / 8 = 0.31)
    x0 = np.column_stack([np.full(50_000, 0.1), np.random.default_rng(0).uniform(-1, 1, 50_000)])
    pt = fp.simulate(sde, x0, 3.0, dt=1e-2, grid=grid, rng=5)
    assert np.all(pt.x[:, 0] >= 0) and np.all(pt.x[:, 0] < 1)
    cmp = fp.compare(np.full(grid.shape, 0.5), pt, grid=grid)
    assert cmp.consistent, cmp.table()


def test_absorbing_exit_times_match_exact_mean_and_survival():
    # Brownian motion on [0, 1] started at 1/2: mean exit time x (1 - x) / sigma^2 = 1/4 and the
    # survival probability is the sine series. The Brownian-bridge check makes this O(dt).
    grid = fp.Grid([(0, 1)], 20, boundary="absorbing")
    n = 40_000
    pt = fp.simulate(fp.brownian(1.0), np.full((n, 1), 0.5), 4.0, dt=1e-3, grid=grid, rng=7)
    assert not pt.alive.any()  # survival at t=4 is 4e-9
    assert np.all(np.isnan(pt.x))
    T = pt.exit_time
    assert abs(T.mean() - 0.25) < 4 * T.std() / np.sqrt(n)
    for t in (0.05, 0.1, 0.2, 0.4):
        s = _exit_survival_bm(t)
        assert abs(pt.survival(t) - s) < 4 * np.sqrt(s * (1 - s) / n), (t, pt.survival(t), s)


def test_absorbing_exit_without_bridge_is_biased_late():
    # Monitoring only at the step ends misses excursions: the mean exit time is O(sqrt(dt)) too large.
    grid = fp.Grid([(0, 1)], 20, boundary="absorbing")
    n = 40_000
    pt = fp.simulate(fp.brownian(1.0), np.full((n, 1), 0.5), 4.0, dt=1e-2, grid=grid, rng=7, bridge=False)
    se = pt.exit_time.std() / np.sqrt(n)
    assert pt.exit_time.mean() - 0.25 > 10 * se
    pt = fp.simulate(fp.brownian(1.0), np.full((n, 1), 0.5), 4.0, dt=1e-2, grid=grid, rng=7)
    assert abs(pt.exit_time.mean() - 0.25) < 4 * se


def test_reflecting_and_absorbing_sides_mean_exit_time():
    # Reflecting at 0, absorbing at 1, Brownian motion from x: E T = (1 - x^2) / sigma^2.
    grid = fp.Grid([(0, 1)], 20, boundary=[("reflecting", "absorbing")])
    n = 40_000
    pt = fp.simulate(fp.brownian(1.0), np.full((n, 1), 0.5), 8.0, dt=1e-3, grid=grid, rng=8)
    T = pt.exit_time[np.isfinite(pt.exit_time)]
    assert T.size > n - 5
    assert abs(T.mean() - 0.75) < 4 * T.std() / np.sqrt(n)


# ---------------------------------------------------- input and outputs


def test_sampling_x0_from_a_density_on_the_grid():
    grid = fp.Grid([(-3, 3), (-2, 2)], (30, 20))
    X, Y = np.meshgrid(*grid.centers, indexing="ij")
    p = np.exp(-X**2 - 2 * Y**2 + X * Y)
    p /= grid.integrate(p)
    pt = fp.simulate(fp.brownian(1e-8, ndim=2), p, 1e-3, dt=1e-3, grid=grid, n=30_000, rng=4)
    cmp = fp.compare(p, pt, grid=grid)
    assert cmp.consistent, cmp.table()



def test_x0_from_a_sampler():
    """The API: x0 is (n, ndim) or a sampler; n is then required."""
    import scipy.stats

    n = 20_000
    ou = fp.ornstein_uhlenbeck(1.0, 1.0)           # stationary N(0, 1/2), EM bias O(dt)
    frozen = scipy.stats.norm(0.0, np.sqrt(0.5))   # scipy's rvs(size, random_state), (n,)
    a = fp.simulate(ou, frozen, 0.5, dt=1e-3, n=n, rng=3)
    b = fp.simulate(ou, frozen, 0.5, dt=1e-3, n=n, rng=3)
    assert a.x.shape == (n, 1) and np.array_equal(a.x, b.x)
    exact = 0.5 / (1 - 1e-3 / 2)                   # EM's stationary variance, 1/(theta (2 - theta dt))
    assert abs(a.x.var() - exact) < 4 * exact * np.sqrt(2 / n)
    pt = fp.simulate(fp.brownian(1.0, ndim=2), lambda m, rng: rng.normal(size=(m, 2)), 1.0, n=n, rng=0)
    assert pt.x.shape == (n, 2)
    assert np.all(np.abs(pt.x.var(axis=0) - 2.0) < 4 * 2.0 * np.sqrt(2 / n))   # 1 + t
    with pytest.raises(ValueError, match="sampler; pass the number"):
        fp.simulate(ou, frozen, 0.5)
    with pytest.raises(TypeError, match=r"x0\(n, rng\)"):
        fp.simulate(ou, lambda m: np.zeros((m, 1)), 0.5, n=10)


def test_snapshots_and_t_eval_times_between_steps():
    n = 40_000
    pt = fp.simulate(fp.brownian(1.0), np.zeros((n, 1)), 1.0, dt=0.1, rng=2, t_eval=[0.25, 0.0, 1.0])
    assert pt.snapshots.shape == (3, n, 1)
    np.testing.assert_array_equal(pt.save_at, [0.0, 0.25, 1.0])
    np.testing.assert_array_equal(pt.snapshots[0], 0.0)
    np.testing.assert_array_equal(pt.snapshots[2], pt.x)
    # Brownian increments are exact: Var x(0.25) = 0.25 even though 0.25 is not a multiple of dt
    assert abs(pt.snapshots[1].var() - 0.25) < 4 * 0.25 * np.sqrt(2 / n)
    assert pt.n_steps == 11  # ten steps of 0.1 plus the extra split at 0.25


def test_deterministic_for_fixed_rng_and_chunk_size():
    grid = fp.Grid([(0, 1)], 10, boundary=[("reflecting", "absorbing")])
    sde = fp.SDE(drift=lambda x: 0.5 - x, sigma=lambda x: (0.3 + 0.2 * x)[..., None])
    x0 = np.full((5000, 1), 0.4)
    kw = dict(dt=1e-2, grid=grid, chunk_size=1024, t_eval=[0.5])
    a = fp.simulate(sde, x0, 2.0, rng=9, **kw)
    b = fp.simulate(sde, x0, 2.0, rng=np.random.default_rng(9), progress=True, **kw)
    assert np.array_equal(a.x, b.x, equal_nan=True)
    assert np.array_equal(a.exit_time, b.exit_time)
    assert np.array_equal(a.snapshots, b.snapshots, equal_nan=True)
    assert 0 < a.alive.sum() < 5000
    c = fp.simulate(sde, x0, 2.0, rng=10, **kw)
    assert not np.array_equal(a.x, c.x, equal_nan=True)
    # threads over chunks change nothing: every chunk has its own generator
    w = fp.simulate(sde, x0, 2.0, rng=9, workers=2, **kw)
    assert np.array_equal(a.x, w.x, equal_nan=True) and np.array_equal(a.exit_time, w.exit_time)
    assert np.array_equal(a.snapshots, w.snapshots, equal_nan=True)


def test_chunking_does_not_change_the_statistics():
    sde = fp.SDE(drift=lambda x: -x, sigma=1.0)
    n = 30_000
    a = fp.simulate(sde, np.zeros((n, 1)), 5.0, dt=0.05, rng=1, chunk_size=n)
    b = fp.simulate(sde, np.zeros((n, 1)), 5.0, dt=0.05, rng=1, chunk_size=777)
    exact = 1 / (2 - 0.05)
    for pt in (a, b):
        assert abs(pt.x.var() - exact) < 4 * exact * np.sqrt(2 / n)
    assert a.chunk_size == n and b.chunk_size == 777


def test_particles_repr_and_survival_vector():
    pt = fp.simulate(fp.brownian(1.0, ndim=2), np.zeros((10, 2)), 0.1, dt=0.01, rng=0)
    assert "n=10" in repr(pt) and pt.ndim == 2 and pt.n == 10
    np.testing.assert_array_equal(pt.survival([0.0, 1.0]), [1.0, 1.0])


# -------------------------------------------------------------- bad input


@pytest.fixture
def grid2():
    return fp.Grid([(-1, 1), (-1, 1)], 10)


@pytest.mark.parametrize(
    "x0, match",
    [
        (np.zeros(5), r"shape \(n, 2\).*got shape \(5,\)"),
        (np.zeros((5, 3)), r"shape \(n, 2\)"),
        (np.zeros((0, 2)), r"shape \(n, 2\)"),
        (np.array([[0.0, 0.0], [0.5, 1.5]]), r"1 points outside the grid.*x0\[1\].*axis 1"),
        (np.array([[0.0, np.nan]]), "NaN or inf"),
    ],
)
def test_bad_x0(grid2, x0, match):
    with pytest.raises(ValueError, match=match):
        fp.simulate(fp.brownian(1.0, ndim=2), x0, 1.0, grid=grid2)


def test_density_x0_needs_n_and_must_be_nonnegative(grid2):
    with pytest.raises(ValueError, match="pass the number of particles as `n=...`"):
        fp.simulate(fp.brownian(1.0, ndim=2), np.ones(grid2.shape), 1.0, grid=grid2)
    bad = np.ones(grid2.shape)
    bad[3, 3] = -1
    with pytest.raises(ValueError, match="non-negative"):
        fp.simulate(fp.brownian(1.0, ndim=2), bad, 1.0, grid=grid2, n=10)
    with pytest.raises(ValueError, match="only used when `x0` is a density"):
        fp.simulate(fp.brownian(1.0, ndim=2), np.zeros((3, 2)), 1.0, grid=grid2, n=10)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(dt=0.0), r"`dt` must be positive and finite, got 0.0"),
        (dict(dt=-1e-3), "`dt` must be positive"),
        (dict(dt=float("nan")), "`dt` must be positive"),
        (dict(dt=2.0), r"`dt=2.0` is larger than `t_end=1.0`"),
        (dict(t_eval=[0.5, 1.5]), r"`t_eval` must be a non-empty set of times in \[0, t_end=1.0\]"),
        (dict(chunk_size=0), "`chunk_size` must be a positive integer"),
        (dict(workers=0), "`workers` must be a positive integer, got 0"),
    ],
)
def test_bad_step_and_options(kw, match):
    with pytest.raises(ValueError, match=match):
        fp.simulate(fp.brownian(1.0), np.zeros((3, 1)), 1.0, **kw)


def test_bad_t_end_and_types(grid2):
    with pytest.raises(ValueError, match="`t_end` must be positive"):
        fp.simulate(fp.brownian(1.0), np.zeros((3, 1)), 0.0)
    with pytest.raises(TypeError, match="`sde` must be a fokkerplanck.SDE"):
        fp.simulate(lambda x: -x, np.zeros((3, 1)), 1.0)
    with pytest.raises(TypeError, match="`grid` must be a fokkerplanck.Grid"):
        fp.simulate(fp.brownian(1.0), np.zeros((3, 1)), 1.0, grid=[(0, 1)])


def test_grid_and_sde_dimension_mismatch(grid2):
    with pytest.raises(ValueError, match="`grid` is 2-dimensional but `sde` is 1-dimensional"):
        fp.simulate(fp.brownian(1.0, ndim=1), np.zeros((3, 2)), 1.0, grid=grid2)
    with pytest.raises(ValueError, match=r"`x0` must be an array of points of shape \(n, 2\); got shape \(3, 3\)"):
        fp.simulate(fp.brownian(1.0, ndim=2), np.zeros((3, 3)), 1.0)


def test_non_finite_positions_stop_with_the_step_and_count():
    # dx = x/2 dt with dt = 2 doubles the position each step: overflow after ~1024 steps
    sde = fp.SDE(drift=lambda x: 0.5 * x, sigma=1.0)
    with pytest.raises(ValueError, match=r"Non-finite particle positions at step 10\d\d of 2000 .*: \d+ of 50 particles"):
        fp.simulate(sde, np.ones((50, 1)), 4000.0, dt=2.0, rng=0)
    with pytest.raises(ValueError, match=r"Non-finite particle positions at step 10\d\d of 2000"):
        fp.simulate(sde, np.ones((50, 1)), 4000.0, dt=2.0, rng=0, chunk_size=10, workers=2)


def test_drift_failure_names_the_step():
    sde = fp.SDE(drift=lambda x: np.where(np.abs(x) < 3, -x, np.nan), sigma=1.0)
    with pytest.raises(ValueError, match=r"Euler–Maruyama step \d+ of 1000 .*`drift` returned a non-finite"):
        fp.simulate(sde, np.zeros((200, 1)), 100.0, dt=0.1, rng=0)


def test_particles_is_frozen():
    pt = fp.simulate(fp.brownian(1.0), np.zeros((4, 1)), 0.1, dt=0.05, rng=0)
    with pytest.raises(AttributeError):
        pt.t = 2.0


# ------------------------------------------------- against the grid solver


@pytest.mark.parametrize("convention", list(_EXACT))
def test_conventions_match_exact_and_grid_densities_and_not_the_others(convention):
    # Drift -x, C(x) = (1 + x^2)/2: one particle run per convention on a reflecting grid, compared
    # (chi-square via fp.compare) with all three exact densities (normalised on the grid: with
    # zero current a reflecting wall just truncates) and all three fp.stationary densities.
    grid = fp.Grid([(-12, 12)], 480)
    x = grid.centers[0]
    sdes = {c: fp.SDE(drift=lambda x: -x, sigma=lambda x: np.sqrt((1 + x**2) / 2)[..., None], convention=c)
            for c in _EXACT}
    pt = fp.simulate(sdes[convention], np.zeros((50_000, 1)), 8.0, dt=0.01, grid=grid, rng=4)
    with warnings.catch_warnings():  # heavy tails reach the walls at +-12 (a few 1e-6 of the mass)
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        res = {c: fp.stationary(sdes[c], grid) for c in _EXACT}
    for other in _EXACT:
        exact = _EXACT[other](x)
        for cmp in (fp.compare(exact / grid.integrate(exact), pt, grid=grid), fp.compare(res[other], pt)):
            if other == convention:
                assert cmp.consistent, cmp.table()
                assert cmp.l1 < 1.5 * cmp.noise_floor
            else:
                assert not cmp.consistent, (other, cmp.table())
                assert cmp.chi2_pvalue < 1e-20
                assert cmp.l1 > 3 * cmp.noise_floor


def test_reflecting_wall_agrees_with_the_grid_solver():
    grid = fp.Grid([(0, 4)], 80)
    sde = fp.SDE(drift=lambda x: -np.ones_like(x), sigma=1.0)
    with pytest.warns(fp.FokkerPlanckWarning):  # the mass does pile up at the wall: intended
        res = fp.stationary(sde, grid)
    # start from the grid density (the relaxation towards the wall is slow: the spectrum of
    # the half-line problem starts at mu^2 / (2 sigma^2) = 0.5); wrong walls would move it
    pt = fp.simulate(sde, res.density, 2.0, dt=1e-3, grid=grid, n=40_000, rng=6)
    cmp = fp.compare(res, pt)
    assert cmp.consistent, cmp.table()


def test_absorbing_survival_agrees_with_evolve_mass():
    grid = fp.Grid([(0, 1)], 100, boundary="absorbing")
    bm = fp.brownian(1.0)
    t = [0.05, 0.1, 0.2, 0.4]
    ev = fp.evolve(bm, grid, fp.point_mass(grid, [0.5]), t)
    n = 40_000
    pt = fp.simulate(bm, np.full((n, 1), 0.5), 0.4, dt=1e-3, grid=grid, rng=3)
    s = pt.survival(ev.t)
    se = np.sqrt(ev.mass * (1 - ev.mass) / n)
    exact = np.array([_exit_survival_bm(ti) for ti in t])
    grid_err = np.abs(ev.mass - exact)  # the grid solver's own discretization error
    assert np.all(np.abs(s - ev.mass) < 4 * se + grid_err), (s, ev.mass, exact)
