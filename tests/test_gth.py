"""The subtraction-free (GTH) elimination and the componentwise certificate.

References are independent of the package: a 60-digit mpmath solve, a plain dense
GTH written here with explicit loops, closed-form Gibbs densities and the
quadrature of ``exp(-U/T)`` on the metastable torus.
"""

import warnings

import mpmath
import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

import fokkerplanck as fp
from fokkerplanck._solvers.gth import factor


def plain_gth(A):
    """Textbook GTH (Grassmann, Taksar, Heyman 1985) on a dense generator, loops only."""
    W = np.array(A, dtype=float)
    n = W.shape[0]
    np.fill_diagonal(W, 0.0)
    d = np.zeros(n)
    for k in range(n - 1, 0, -1):
        d[k] = sum(W[i, k] for i in range(k))
        for i in range(k):
            for j in range(k):
                if i != j:
                    W[i, j] += W[i, k] * W[k, j] / d[k]
    p = np.zeros(n)
    p[0] = 1.0
    for k in range(1, n):
        p[k] = sum(W[k, j] * p[j] for j in range(k)) / d[k]
    return p / p.sum()


def mp_null_vector(A, digits=60):
    """Null vector by an mpmath solve with ``digits`` digits (last row replaced by sum p = 1).

    The diagonal is rebuilt in mpmath from the off-diagonal rates: the stored float64
    diagonal closes the column sums only to ``eps``, which a metastable chain amplifies.
    """
    with mpmath.workdps(digits):
        n = A.shape[0]
        M = mpmath.matrix(A.tolist())
        for i in range(n):
            M[i, i] = 0
            M[i, i] = -mpmath.fsum(M[k, i] for k in range(n))
        for j in range(n):
            M[n - 1, j] = 1
        rhs = mpmath.matrix([0] * (n - 1) + [1])
        x = mpmath.lu_solve(M, rhs)
        return np.array([float(v) for v in x])


# ------------------------------------------------------------------ the metastable torus
def torus_sde(T):
    """``-(I - J) grad U`` with ``U = -cos 2x - 0.3 cos x - cos y``: ``exp(-U/T)`` is stationary."""
    def drift(x):
        gx = 2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0])
        gy = np.sin(x[..., 1])
        return -np.stack([gx + gy, gy - gx], -1)

    return fp.SDE(drift=drift, sigma=np.sqrt(2 * T), ndim=2)


def torus_grid(n):
    return fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=n, boundary="periodic")


SADDLE = np.arccos(-0.075)  # dU/dx = sin x (4 cos x + 0.3) = 0 between the wells


def shallow_mass_exact(T):
    """Mass of ``exp(-U/T)`` beyond the saddle (the well at x = pi); y integrates out."""
    f = lambda x: np.exp(-(-np.cos(2 * x) - 0.3 * np.cos(x) + 1.3) / T)
    total = quad(f, -np.pi / 2, 3 * np.pi / 2, points=[0, np.pi], epsabs=0, epsrel=1e-13, limit=200)[0]
    return quad(f, SADDLE, 3 * np.pi / 2, points=[np.pi], epsabs=0, epsrel=1e-13, limit=200)[0] / total


def shallow_mass(res):
    p = res.density
    return float(p[res.grid.centers[0] > SADDLE].sum() / p.sum())


def test_small_metastable_chain_matches_60_digit_reference():
    # barrier/T = 57 on a coarse grid: a non-reversible chain with a spectral gap far
    # below round-off and a density spanning 20 decades
    grid = torus_grid(8)
    A = fp.generator(torus_sde(0.03), grid)
    exact = mp_null_vector(A.toarray())
    p = factor(A, shape=grid.shape).null_vector()
    assert exact.min() < 1e-15 * exact.max()
    np.testing.assert_allclose(p, exact, rtol=1e-13, atol=0)
    np.testing.assert_allclose(plain_gth(A.toarray()), exact, rtol=1e-13, atol=0)


@pytest.mark.parametrize("T, shapes", [(0.05, (128, 192, 256)), (0.03, (192, 256, 320))])
def test_torus_shallow_well_mass_converges_at_second_order(T, shapes):
    # barrier / T = 34 and 57: the mass beyond the saddle is 6.6e-6 and 2.2e-9.
    # Measured (density split, the default): free-energy error of the split
    # -1.4e-2, -1.0e-3, +5.4e-4 (T = 0.05) and -4.7e-2, -1.2e-2, -4.1e-3 (T = 0.03): an
    # O(h^2) and an O(h^4) term of opposite signs (at T = 0.05: +5.9e-4 at 384^2, +4.0e-4 at
    # 512^2), so the clean order is in max |log p - log p_exact|: 2.05, 1.98 and 1.98, 2.04.
    exact = shallow_mass_exact(T)
    U = lambda x: -np.cos(2 * x[..., 0]) - 0.3 * np.cos(x[..., 0]) - np.cos(x[..., 1])
    errors, log_errors = [], []
    for n in shapes:
        grid = torus_grid(n)
        res = fp.stationary(torus_sde(T), grid, error_estimate=False)
        assert res.success and res.method == "gth"
        assert res.residual < 1e-13
        errors.append(np.log(shallow_mass(res) / exact))  # the free-energy error of the split
        q = fp.gibbs(grid, U, T)
        desc = np.sort(q.ravel())[::-1]
        bulk = q >= desc[np.searchsorted(np.cumsum(desc) / desc.sum(), 1 - 1e-6)]
        log_errors.append(np.abs(np.log(res.density[bulk] / q[bulk])).max())
    errors, log_errors = np.abs(errors), np.array(log_errors)
    orders = np.log(log_errors[:-1] / log_errors[1:]) / np.log(np.array(shapes[1:]) / shapes[:-1])
    assert np.all((1.8 < orders) & (orders < 2.3)), (log_errors, orders)
    assert np.all(np.diff(errors) < 0) and errors[-1] < 0.005, errors


def test_lu_on_the_metastable_torus_is_not_passed_off_as_certified():
    # today's answer put the mass in the wrong well with a residual of 1e-16
    with pytest.raises(fp.ConvergenceError, match="method='gth'") as info:
        fp.stationary(torus_sde(0.05), torus_grid(64), method="lu")
    assert not info.value.result.success
    res = fp.stationary(torus_sde(0.05), torus_grid(64))
    assert res.method == "gth" and res.success


def test_wrong_tails_fail_the_certificate():
    grid = torus_grid(32)
    A = fp.generator(torus_sde(0.05), grid)
    p = factor(A, shape=grid.shape).null_vector()
    assert fp.stationary_certificate(A, p) < 1e-14
    # garbage of 1e-12 (relative to the maximum) in the tails: certificate ~ 1
    noisy = p + 1e-12 * p.max() * np.random.default_rng(0).random(p.size)
    assert fp.stationary_certificate(A, noisy) > 0.1
    # a negative density fails outright
    neg = p.copy()
    neg[np.argmin(p)] = -p.min()
    assert fp.stationary_certificate(A, neg) == pytest.approx(1.0)


def test_a_wrong_split_between_wells_is_invisible_to_any_residual():
    # Birth-death chain in a double well. With h the committor from the left minimum to
    # the right one (harmonic for the chain between them, 0 left of a, 1 right of b),
    # p (1 + t h) moves mass into the right well yet balances every cell but a and b, and
    # there to ~exp(-barrier/T): no residual can tell the split. The method certifies it.
    x = np.linspace(-1.5, 1.5, 301)
    V, T = (x**2 - 1) ** 2 + 0.2 * x, 0.025  # barrier / T = 40
    right = np.exp(-np.diff(V) / (2 * T))       # rate i -> i+1
    left = np.exp(np.diff(V) / (2 * T))         # rate i+1 -> i
    A = sp.diags([right, left], [-1, 1]).tocsr()
    A = A - sp.diags(np.asarray(A.sum(axis=0)).ravel())
    p = np.exp(-(V - V.min()) / T)
    p /= p.sum()
    a, b = np.argmin(np.where(x < 0, V, np.inf)), np.argmin(np.where(x > 0, V, np.inf))
    resistance = np.concatenate([[0.0], np.cumsum(1 / (p[:-1] * right))])
    h = np.clip((resistance - resistance[a]) / (resistance[b] - resistance[a]), 0, 1)
    wrong = p * (1 + 0.5 * h)
    wrong /= wrong.sum()
    assert np.abs(wrong[x > 0].sum() / p[x > 0].sum() - 1) > 0.1
    assert fp.stationary_certificate(A, wrong) < 1e-14
    np.testing.assert_allclose(factor(A).null_vector(), p, rtol=1e-11, atol=0)


def test_lu_pinned_at_a_saddle_raises_a_convergence_error_not_a_superlu_error():
    sde = fp.SDE(drift=lambda x: -(x**3 - x), sigma=np.sqrt(2 * 0.002))
    grid = fp.Grid(bounds=[(-2, 2)], shape=401)
    with pytest.raises(fp.ConvergenceError, match="method='gth'"):
        fp.stationary(sde, grid, method="lu")
    res = fp.stationary(sde, grid, method="gth")
    ref = fp.stationary(sde, grid)  # detailed balance, exact to round-off
    assert ref.method == "detailed_balance"
    normal = ref.density >= np.finfo(float).tiny
    np.testing.assert_allclose(res.density[normal], ref.density[normal], rtol=1e-10, atol=0)


# ------------------------------------------------------------------ random generators
@st.composite
def generators(draw):
    """A random generator on a small grid: positive rates along the stencil, spread over
    ``10^(+-spread)`` (metastable when the spread is large), optional leak."""
    d = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(3, 9)) for _ in range(d))
    periodic = draw(st.booleans())
    spread = draw(st.floats(0, 12))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    idx = np.arange(n).reshape(shape)
    rows, cols = [], []
    for k in range(d):
        a = idx if periodic else np.take(idx, range(shape[k] - 1), axis=k)
        b = np.roll(idx, -1, axis=k) if periodic else np.take(idx, range(1, shape[k]), axis=k)
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    rates = 10.0 ** rng.uniform(-spread, spread, rows.size)
    W = sp.coo_matrix((rates, (rows, cols)), shape=(n, n)).tocsr()
    A = W - sp.diags(np.asarray(W.sum(axis=0)).ravel())
    return A.tocsr(), shape, rng


@settings(max_examples=60, deadline=None)
@given(generators())
def test_null_vector_is_positive_certified_and_entrywise_exact(problem):
    A, shape, _ = problem
    p = factor(A, shape=shape).null_vector()
    assert np.all(p > 0) and p.sum() == pytest.approx(1.0, rel=1e-14)
    assert fp.stationary_certificate(A, p) < 1e-13
    np.testing.assert_allclose(p, plain_gth(A.toarray()), rtol=1e-11, atol=0)


@settings(max_examples=40, deadline=None)
@given(generators())
def test_solve_and_reduced_agree_with_dense_references(problem):
    A, shape, rng = problem
    n = A.shape[0]
    leak = np.where(rng.random(n) < 0.2, rng.random(n), 0.0)
    leak[rng.integers(n)] = 1.0
    b = rng.random(n)
    x = factor(A, shape=shape, leak=leak).solve(b)
    assert np.all(x > 0)
    # balance cell by cell: outflow (rates + leak) = inflow + source
    W = A.toarray()
    np.fill_diagonal(W, 0.0)
    out, inn = x * (W.sum(axis=0) + leak), W @ x + b
    assert np.max(np.abs(out - inn) / (out + inn)) < 1e-13
    # the chain reduced onto a few cells has the restricted null vector
    keep = np.unique(rng.integers(0, n, 3))
    Ak, leak_k = factor(A, shape=shape, keep=keep).reduced()
    assert np.all(leak_k == 0) and np.all(Ak - np.diag(np.diag(Ak)) >= 0)
    p = plain_gth(A.toarray())
    if keep.size > 1:
        np.testing.assert_allclose(plain_gth(Ak), p[keep] / p[keep].sum(), rtol=1e-11, atol=0)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.02, 1.0), st.integers(0, 2**31))
def test_gibbs_is_exact_for_gradient_drifts_at_any_temperature(T, seed):
    # a random trigonometric potential on a periodic 2-D grid; the drift is given as a
    # plain callable, so only the solve (not the detailed-balance shortcut) is tested
    c = np.random.default_rng(seed).normal(size=4)
    U = lambda x: c[0] * np.cos(x[..., 0]) + c[1] * np.sin(x[..., 1]) + c[2] * np.cos(x[..., 0] + x[..., 1]) \
        + c[3] * np.sin(2 * x[..., 0])
    grid = fp.Grid(bounds=[(0, 2 * np.pi)] * 2, shape=(14, 11), boundary="periodic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        sde = fp.langevin(U, np.sqrt(2 * T))
        res = fp.stationary(sde, grid, method="gth")
    exact = fp.gibbs(grid, U, T)
    assert res.success and res.residual < 1e-13
    normal = exact >= np.finfo(float).tiny
    np.testing.assert_allclose(res.density[normal], exact[normal], rtol=1e-10, atol=0)


def test_factor_refuses_what_it_cannot_do():
    A = sp.csr_matrix(np.array([[-1.0, 2.0], [1.0, -2.0]]))
    with pytest.raises(ValueError, match="non-negative off-diagonal"):
        factor(-A)
    with pytest.raises(ValueError, match="leak"):
        factor(A, leak=[-1.0, 0.0])
    with pytest.raises(ValueError, match="singular"):
        factor(A).solve(np.ones(2))
    two = sp.block_diag([A, A]).tocsr()
    with pytest.raises(ValueError, match="2 closed classes"):
        factor(two).null_vector()


def test_auto_without_an_affordable_certified_solve_bounds_the_amg_answer_or_warns(monkeypatch):
    """Where GTH's fronts are too large (big 3-D grids), 'auto' takes AMG in the variables
    of a coarse grid's density, which bounds every cell's relative error (the split
    between wells included); the bound holds against GTH's answer. Where the bound is too
    large to certify, 'auto' returns the answer with success=False and a warning instead
    of raising."""
    import fokkerplanck._solvers.stationary as st

    monkeypatch.setattr(st, "GTH_MAX_FRONT", 10)    # make GTH 'unaffordable' on a small 3-D grid
    H = np.array([[1.0, 0.5, 0.0], [-0.5, 2.0, 0.3], [0.0, -0.3, 3.0]])
    sde = fp.SDE(drift=lambda x: -x @ H.T, cov=np.eye(3))
    grid = fp.Grid(bounds=[(-4, 4)] * 3, shape=16)
    # one solve each (conductance="sg"): the solvers compared, not the weights' fixed point
    certified = fp.stationary(sde, grid, method="gth", error_estimate=False, conductance="sg")  # paid for
    assert certified.success and certified.residual < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.ResolutionWarning)
        res = fp.stationary(sde, grid, error_estimate=False, conductance="sg")
    bound = float(re.search(r"relative error is at most (\S+) ", res.message).group(1))
    assert res.success and res.method == "amg" and bound < 1e-9, res.message
    # GTH is entrywise accurate to O(n eps): the difference is AMG's error, within its bound
    assert np.max(np.abs(res.density - certified.density) / certified.density) <= bound
    monkeypatch.setattr(st, "LU_CONDITION_LIMIT", 1e-30)    # a bound that cannot certify
    with pytest.warns(fp.FokkerPlanckWarning, match="NOT certified"):
        res = fp.stationary(sde, grid, error_estimate=False, conductance="sg")
    assert not res.success and res.method == "amg" and "split of mass" in res.message
    np.testing.assert_allclose(grid.integrate(res.density), 1.0)
    assert np.max(np.abs(res.density - certified.density) / certified.density) <= bound


def test_auto_certifies_a_3d_rotating_ou_above_the_former_front_limit():
    """35^3 (front 3 * 35^2 = 3675 cells) was above the former limit of 3500: 'auto' took
    AMG there, whose tails failed the componentwise certificate on this plain problem
    (success=False at 36^3 and 48^3). GTH then certified it; now (from 16^3 cells in 3-D)
    AMG does, with its bound on every cell's relative error, and GTH remains affordable
    as the fallback. The density is checked against the exact Gaussian N(0, C),
    H C + C H^T = I (measured L1 9.7e-4, second-order scheme)."""
    import fokkerplanck._solvers.stationary as stm

    H = np.array([[1.0, 0.3, 0.0], [-0.3, 1.0, 0.2], [0.0, -0.2, 1.5]])
    grid = fp.Grid(bounds=[(-5, 5)] * 3, shape=35)
    assert 3 * 35**2 > 3500 and not 3 * 35**2 > stm.GTH_MAX_FRONT
    res = fp.stationary(fp.ornstein_uhlenbeck(H, np.eye(3)), grid, error_estimate=False)
    assert res.method == "amg" and res.success and res.residual < 1e-12, res.message
    assert float(re.search(r"relative error is at most (\S+) ", res.message).group(1)) <= 1e-6
    C = fp.lyapunov(H, np.eye(3))
    x = grid.points()
    exact = np.exp(-0.5 * np.einsum("...i,ij,...j->...", x, np.linalg.inv(C), x))
    exact /= grid.integrate(exact)
    assert grid.integrate(np.abs(res.density - exact)) < 2e-3


@settings(max_examples=40, deadline=None)
@given(st.integers(70, 140), st.floats(0, 12), st.floats(0.2, 1.0), st.integers(0, 2**31))
def test_blocked_frontal_elimination_is_the_stochastic_complement(m, spread, density, seed):
    # the frontal elimination by blocks (boundary rows summed into one row for the pivots,
    # the rest by products of non-negative matrices): eliminating the first npiv slots of a
    # random chain leaves the chain reduced onto the rest, whose null vector is the full
    # chain's there (textbook GTH, loops only); back-substitution through the factors gives
    # the full null vector; rates spread over 10^(+-12) test that nothing cancels
    from fokkerplanck._solvers import gth as gth_module

    rng = np.random.default_rng(seed)
    npiv = int(rng.integers(gth_module.BLOCKED_FROM, m // 2 + 1))
    W = 10.0 ** rng.uniform(-spread, spread, (2, m, m)) * (rng.random((2, m, m)) < density)
    W[:, np.arange(m), (np.arange(m) + 1) % m] = 10.0 ** rng.uniform(-spread, spread, (2, m))   # irreducible
    W[:, np.arange(m), np.arange(m)] = 0.0
    F, L = W.copy(), np.zeros((2, m))
    assert m > gth_module.SMALL and m - npiv >= npiv   # the blocked path
    d = gth_module._gth_frontal(F, L, npiv)
    panels = W.copy()
    d_panels = gth_module._gth_panels(panels, np.zeros((2, m)), npiv)
    off = ~np.eye(m, dtype=bool)
    for g in range(2):
        p = plain_gth(W[g])
        reduced = F[g, npiv:, npiv:].copy()
        np.testing.assert_allclose(plain_gth(reduced), p[npiv:] / p[npiv:].sum(), rtol=1e-11, atol=0)
        q = np.zeros(m)
        q[npiv:] = p[npiv:]
        for k in range(npiv - 1, -1, -1):
            q[k] = F[g, k, k + 1:] @ q[k + 1:] / d[g, k]
        np.testing.assert_allclose(q, p, rtol=1e-11, atol=0)
        # each pivot is the total rate out of its slot at its turn (the factors below it)
        np.testing.assert_allclose(d[g], [F[g, k + 1:, k].sum() for k in range(npiv)], rtol=1e-12)
        np.testing.assert_allclose(F[g][off], panels[g][off], rtol=1e-11, atol=0)
    np.testing.assert_allclose(d, d_panels, rtol=1e-12)
    # with leaks (absorbing cells) and an isolated padding slot (no rates, leak 1, pivot 1):
    # the reduced leaks and every factor as the pivot-by-pivot elimination leaves them
    Wl = W.copy()
    pad = int(rng.integers(npiv))
    Wl[:, pad, :] = Wl[:, :, pad] = 0.0
    leak = rng.random((2, m)) * (rng.random((2, m)) < 0.3) * 10.0 ** rng.uniform(-spread, spread, (2, m))
    leak[:, pad] = 1.0
    F, L, panels, L_panels = Wl.copy(), leak.copy(), Wl.copy(), leak.copy()
    d = gth_module._gth_frontal(F, L, npiv)
    d_panels = gth_module._gth_panels(panels, L_panels, npiv)
    assert np.all(d[:, pad] == 1.0)
    np.testing.assert_allclose(d, d_panels, rtol=1e-12)
    np.testing.assert_allclose(L[:, npiv:], L_panels[:, npiv:], rtol=1e-11, atol=0)
    for g in range(2):
        np.testing.assert_allclose(F[g][off], panels[g][off], rtol=1e-11, atol=0)
