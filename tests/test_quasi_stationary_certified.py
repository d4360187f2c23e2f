"""Quasi-stationary decay rates as a certified Perron root, against references computed
independently of the package: the symmetric tridiagonal eigensolver (1-D, symmetrized in
log space), Kronecker sums of 1-D operators (2-D separable), and a dense subtraction-free
(GTH) inverse iteration written here (non-reversible and metastable cases)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import eigh_tridiagonal

import fokkerplanck as fp

EPS = np.finfo(float).eps


# ---------------------------------------------------------------- references
def tridiagonal_rate(A):
    """Principal decay rate of a 1-D generator and an absolute error bound for it.

    ``A`` is similar to the symmetric tridiagonal matrix with off-diagonals
    ``sqrt(a_{i+1,i} a_{i,i+1})`` (formed in log space: the rates themselves span
    ``e^(+-Peclet)``, the density ``e^1000``); LAPACK's ``stebz`` bisection is
    backward stable, so its eigenvalue is within a few ``eps ||S||`` of the exact one.
    """
    A = sp.csr_matrix(A)
    d = -A.diagonal()
    off = np.exp(0.5 * (np.log(A.diagonal(-1)) + np.log(A.diagonal(1))))
    w = eigh_tridiagonal(d, -off, eigvals_only=True, select="i", select_range=(0, 0))[0]
    return float(w), 8 * EPS * float(np.abs(d).max() + 2 * off.max())


def dense_gth(A, leak):
    """Dense GTH factors of ``M = -A``: ``M = L U`` with ``L = I - tril(N) / d`` and
    ``U = diag(d) - triu(N)``, every entry a sum of non-negative terms."""
    N = np.array(A, dtype=float)
    n = N.shape[0]
    np.fill_diagonal(N, 0.0)
    o = np.array(leak, dtype=float)
    d = np.empty(n)
    for k in range(n):
        d[k] = N[k + 1:, k].sum() + o[k]
        col, row = N[k + 1:, k] / d[k], N[k, k + 1:]
        N[k + 1:, k + 1:] += np.outer(col, row)
        o[k + 1:] += o[k] * row / d[k]
    return N, d


def dense_gth_backward(A, leak):
    """``tau`` with ``-A^T tau = 1`` from the GTH factors: ``U^T w = 1``, ``L^T tau = w``."""
    N, d = dense_gth(A, leak)
    n = d.size
    w = np.empty(n)
    for k in range(n):
        w[k] = (1.0 + N[:k, k] @ w[:k]) / d[k]
    tau = np.empty(n)
    for k in range(n - 1, -1, -1):
        tau[k] = w[k] + (N[k + 1:, k] / d[k]) @ tau[k + 1:]
    return tau


def dense_gth_rate(A, leak, iters=500):
    """Perron root of ``M = -A`` by inverse iteration with a dense GTH solve (no subtraction).

    GTH (Grassmann, Taksar and Heyman 1985): the pivot of every eliminated cell is the
    sum of its remaining outgoing rates plus its (updated) leak, so every solve is
    entrywise accurate however small the rate. Returns Collatz–Wielandt bounds.
    """
    N, d = dense_gth(A, leak)
    n = d.size

    def solve(b):
        b = b.copy()
        for k in range(n - 1):
            b[k + 1:] += N[k + 1:, k] * (b[k] / d[k])
        y = np.empty(n)
        for k in range(n - 1, -1, -1):
            y[k] = (b[k] + N[k, k + 1:] @ y[k + 1:]) / d[k]
        return y

    x = np.ones(n)
    for _ in range(iters):
        y = solve(x)
        r = x / y
        x = y / y.max()
        if r.max() - r.min() <= 1e-14 * r.min():
            break
    return float(r.min()), float(r.max())


def leak_of(sde, grid):
    """Absorption rate per cell: minus the column sums of the generator, from the wall edges."""
    fl = fp.fluxes(sde, grid)
    out = fl.head < 0
    return np.bincount(fl.tail[out], fl.forward[out], minlength=grid.size)


def drift(v, ndim=1):
    if ndim == 1:
        return fp.SDE(drift=lambda x: v + 0 * x, sigma=1.0)
    return fp.SDE(drift=lambda x: np.stack([v + 0 * x[..., 0], 0 * x[..., 1]], axis=-1), sigma=1.0, ndim=2)


# -------------------------------------------------------------------- 1-D
@pytest.mark.parametrize("v", [100.0, 500.0, 1000.0])
def test_1d_drift_rate_against_symmetrized_tridiagonal(v):
    # drift v on [0, 1], both ends absorbing, unit noise, 1600 cells (cell Peclet 2v/1600 <= 1.25);
    # the density spans exp(v): beyond float64 for v = 1000
    grid = fp.Grid([(0, 1)], 1600, boundary="absorbing")
    sde = drift(v)
    ref, err = tridiagonal_rate(fp.generator(sde, grid))
    q = fp.quasi_stationary(sde, grid)
    lo, hi = q.rate_bounds
    assert q.success and q.method == "chain", q.message
    assert q.rate == pytest.approx(ref, rel=1e-8)
    assert lo - err <= ref <= hi + err
    assert (hi - lo) / lo < 1e-9
    # the continuum rate v^2 / 2 + pi^2 / 2 to O(h^2) (the scheme's error, not the solver's)
    assert q.rate == pytest.approx(v**2 / 2 + math.pi**2 / 2, rel=0.25)
    assert np.all(np.isfinite(q.density)) and grid.integrate(q.density) == pytest.approx(1.0)


def test_1d_tolerance_below_round_off_is_reported_not_claimed():
    # the case that returned 17015 instead of 123997: now right, and a tolerance the
    # round-off cannot meet gives success=False with a warning, never a false claim
    grid = fp.Grid([(0, 1)], 1600, boundary="absorbing")
    sde = drift(500.0)
    ref, err = tridiagonal_rate(fp.generator(sde, grid))
    with pytest.warns(fp.FokkerPlanckWarning, match="NOT certified"):
        q = fp.quasi_stationary(sde, grid, rtol=1e-15)
    assert not q.success and "NOT certified" in q.message
    assert q.rate == pytest.approx(ref, rel=1e-8)
    assert q.rate_bounds[0] - err <= ref <= q.rate_bounds[1] + err


@pytest.mark.parametrize("T", [0.01, 0.005])
def test_1d_metastable_rate_certified_against_dense_gth(T):
    # double well, absorbing behind the barrier: rates 1e-12 and 1e-23, far below the
    # round-off of the generator's entries (an eigensolver returns noise here)
    sde = fp.langevin(lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2, sigma=math.sqrt(2 * T),
                      grad=lambda x: x**3 - x)
    grid = fp.Grid([(-2, 1)], 300, boundary=[("reflecting", "absorbing")])
    lo_ref, hi_ref = dense_gth_rate(fp.generator(sde, grid).toarray(), leak_of(sde, grid))
    q = fp.quasi_stationary(sde, grid)
    assert q.success, q.message
    assert q.rate == pytest.approx(lo_ref, rel=1e-9)
    assert q.rate_bounds[0] <= hi_ref and lo_ref <= q.rate_bounds[1]


# -------------------------------------------------------------------- 2-D
def test_2d_separable_drift_is_the_kronecker_sum():
    # A = A_x (+) A_y on a product grid, so its principal rate is the sum of the 1-D ones
    m, v = 120, 100.0
    grid = fp.Grid([(0, 1), (0, 1)], (m, m), boundary="absorbing")
    g1 = fp.Grid([(0, 1)], m, boundary="absorbing")
    rx, ex = tridiagonal_rate(fp.generator(drift(v), g1))
    ry, ey = tridiagonal_rate(fp.generator(drift(0.0), g1))
    q = fp.quasi_stationary(drift(v, 2), grid)
    assert q.success, q.message
    assert q.rate == pytest.approx(rx + ry, rel=1e-8)
    assert q.rate_bounds[0] - ex - ey <= rx + ry <= q.rate_bounds[1] + ex + ey


@pytest.mark.parametrize("a, T", [(10.0, 0.05), (20.0, 0.1)])
def test_2d_rotating_drift_against_dense_gth(a, T):
    # non-reversible: drift -(I - aJ) x + shift, no potential; the generator is far from
    # normal, so a dense eigensolver is not a reference, the subtraction-free solve is
    H = np.eye(2) - a * np.array([[0.0, -1.0], [1.0, 0.0]])
    sde = fp.SDE(drift=lambda x: -(x @ H.T) + np.array([0.3, 0.0]), sigma=math.sqrt(2 * T), ndim=2)
    grid = fp.Grid([(-1, 1.2), (-1, 1)], (20, 20), boundary="absorbing")
    lo_ref, hi_ref = dense_gth_rate(fp.generator(sde, grid).toarray(), leak_of(sde, grid))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)   # Peclet > 10 at 20^2
        q = fp.quasi_stationary(sde, grid)
    assert q.success, q.message
    assert q.rate == pytest.approx(lo_ref, rel=1e-9)
    assert q.rate_bounds[0] <= hi_ref and lo_ref <= q.rate_bounds[1]


# ------------------------------------------------------------ beyond the limit
def test_beyond_cell_peclet_limit_warns():
    # v = 1000 on 40 cells: cell Peclet 50; the discrete rate is still certified, but the
    # grid does not resolve the boundary layer (rate 25 % off the continuum) and says so
    grid = fp.Grid([(0, 1)], 40, boundary="absorbing")
    sde = drift(1000.0)
    with pytest.warns(fp.FokkerPlanckWarning, match="P[eé]clet"):
        q = fp.quasi_stationary(sde, grid)
    ref, err = tridiagonal_rate(fp.generator(sde, grid))
    assert q.rate == pytest.approx(ref, rel=1e-8)
    assert abs(q.rate / (1000.0**2 / 2) - 1) > 0.1


def test_escape_rate_is_the_certified_rate():
    grid = fp.Grid([(0, 1)], 800, boundary="absorbing")
    sde = drift(300.0)
    q = fp.quasi_stationary(sde, grid)
    assert fp.escape_rate(sde, grid) == q.rate
    ref, _ = tridiagonal_rate(fp.generator(sde, grid))         # independent of the package
    assert fp.escape_rate(sde, grid) == pytest.approx(ref, rel=1e-8)


# ------------------------------------------------------------------ exit times
def test_2d_exit_time_without_detailed_balance_by_h_transform():
    # non-gradient drift, barrier 1 / (4 T) = 31 T: tau ~ 1e14, sparse LU is 5 % off. The
    # backward solve becomes a forward GTH solve through the certified quasi-stationary
    # iterate (Doob's h-transform); reference: dense GTH with the transposed factors
    T = 0.008
    sde = fp.SDE(drift=lambda x: np.stack([-(x[..., 0] ** 3 - x[..., 0]),
                                          -x[..., 1] + 0.3 * np.sin(np.pi * x[..., 0])], axis=-1),
                 sigma=math.sqrt(2 * T), ndim=2)
    grid = fp.Grid([(-2, 1), (-0.5, 0.5)], (40, 4), boundary=[("reflecting", "absorbing"), "reflecting"])
    A = fp.generator(sde, grid).toarray()
    ref = dense_gth_backward(A, leak_of(sde, grid))
    tau = fp.exit_time(sde, grid).ravel()
    assert ref.max() > 1e13
    assert np.abs(tau / ref - 1).max() < 1e-11
    assert abs(np.linalg.solve(-A.T, np.ones(A.shape[0])).max() / ref.max() - 1) > 1e-3   # what LU gives


@pytest.mark.filterwarnings("ignore:.*Péclet")
def test_2d_exit_time_refuses_what_lu_cannot_resolve(monkeypatch):
    # without the subtraction-free elimination the LU answer is checked and refused
    from fokkerplanck._solvers import exits
    monkeypatch.setattr(exits, "_gth_factor", None)
    T = 0.008
    sde = fp.SDE(drift=lambda x: np.stack([-(x[..., 0] ** 3 - x[..., 0]),
                                          -x[..., 1] + 0.3 * np.sin(np.pi * x[..., 0])], axis=-1),
                 sigma=math.sqrt(2 * T), ndim=2)
    grid = fp.Grid([(-2, 1), (-0.5, 0.5)], (40, 4), boundary=[("reflecting", "absorbing"), "reflecting"])
    with pytest.raises(fp.ConvergenceError, match="ill-conditioned"):
        fp.exit_time(sde, grid)
    with pytest.warns(fp.FokkerPlanckWarning, match="NOT certified"):
        q = fp.quasi_stationary(sde, grid)
    assert q.method == "lu" and not q.success
