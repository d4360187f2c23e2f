r"""Property-testing tools for densities of SDEs: problems with known answers and
assertion helpers.

For users who test their own samplers, solvers or SDE code. The strategies
generate small random problems whose stationary density is known in closed form;
the helpers check a density against another density (L1 distance) or against
samples (the statistical test of :func:`fokkerplanck.compare`).

Strategies (need `hypothesis <https://hypothesis.readthedocs.io>`_):

* :func:`gibbs_problems` — random confining polynomial losses (possibly
  multi-well, coupled) with isotropic noise ``sqrt(2T)``: Langevin dynamics with
  the Gibbs density ``exp(-L/T)``.
* :func:`lyapunov_problems` — random stable ``H`` and SPD noise covariance ``C``:
  the Ornstein–Uhlenbeck process ``dx = -H x dt + C^{1/2} dB`` with the Gaussian
  density of covariance ``S``, ``H S + S H^T = C``. Non-equilibrium (a stationary
  current) unless ``H C`` is symmetric.
* :func:`rotational_problems` — drifts ``-(I - a J) grad U`` with ``J``
  antisymmetric and isotropic noise, which keep the Gibbs density ``exp(-U/T)``
  for every ``a`` while carrying the current ``a J grad U p``.
* :func:`problems` — any of them.

Each example is a :class:`Problem`: ``sde``, ``grid`` (reflecting, sized so that
the density is negligible at the walls), ``density`` (the exact density at the
cell centres, normalised on the grid) and ``atol``, an L1 tolerance the package's
own default solver meets on the whole family (use your own for your solver).

Helpers: :func:`assert_density_close` and :func:`assert_consistent`.

Examples
--------
A property test of a (here: the package's own) stationary solver:

>>> from hypothesis import given, settings
>>> import fokkerplanck as fp
>>> from fokkerplanck.testing import problems, assert_density_close
>>> @settings(max_examples=5, deadline=None)
... @given(problems(ndim=1))
... def test_stationary(problem):
...     p = fp.stationary(problem.sde, problem.grid).density
...     assert_density_close(p, problem.density, problem.grid, atol=problem.atol)
>>> test_stationary()

A sampler test: exact samples pass, biased ones fail.

>>> import numpy as np
>>> from fokkerplanck.testing import assert_consistent
>>> grid = fp.Grid(bounds=[(-5, 5)], shape=50)
>>> p = fp.gaussian_density(grid, 0.0, 1.0, normalise=True)
>>> x = np.random.default_rng(0).standard_normal((20000, 1))
>>> assert_consistent(p, x, grid).consistent
True
>>> assert_consistent(p, 1.1 * x, grid)
Traceback (most recent call last):
...
AssertionError: the samples are not consistent with the density ...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._model.grid import Grid
from ._model.models import gibbs
from ._model.sde import SDE
from ._util.validate import show

__all__ = [
    "Problem",
    "assert_consistent",
    "assert_density_close",
    "gibbs_problems",
    "lyapunov_problems",
    "polynomial_loss",
    "problems",
    "rotational_problems",
]

#: log-density drop (in units of T) at which :func:`gibbs_problems` places the walls.
WALL_DROP = 25.0


@dataclass(frozen=True, eq=False)
class Problem:
    """An SDE on a grid with a known stationary density.

    Attributes
    ----------
    sde : SDE
    grid : Grid
        Reflecting walls where the density is below ``~exp(-25)`` of its maximum.
    density : ndarray, ``grid.shape``
        The exact stationary density at the cell centres, normalised on the grid
        (``grid.integrate(density) == 1``).
    name : str
        Family: ``"gibbs"``, ``"lyapunov"`` or ``"rotational"``.
    atol : float
        L1 tolerance met by ``fp.stationary(sde, grid)`` (default scheme) on this
        family: round-off where the scheme is exact, the discretization error
        bound otherwise.
    equilibrium : bool
        Whether the stationary state has zero current (detailed balance).
    params : dict
        The random parameters (for messages and reproduction).
    """

    sde: SDE
    grid: Grid
    density: np.ndarray
    name: str
    atol: float
    equilibrium: bool
    params: dict = field(default_factory=dict)

    def sample(self, n: int, rng: Any = None) -> np.ndarray:
        """``n`` exact samples ``(n, ndim)`` of the grid density: a cell by its mass,
        then uniformly within the cell."""
        from ._sampling.particles import sample_density

        return sample_density(self.density, self.grid, int(n), np.random.default_rng(rng))

    def __repr__(self) -> str:
        pr = ", ".join(f"{k}={np.round(v, 4).tolist() if isinstance(v, np.ndarray) else v}"
                       for k, v in self.params.items())
        return f"Problem({self.name}, grid={self.grid!r}, {pr})"


# ---------------------------------------------------------------- families
def polynomial_loss(quartic: Any, cubic: Any, Q: Any, b: Any) -> tuple[Callable, Callable]:
    r"""``L(x) = sum_k (q_k x_k^4 / 4 + c_k x_k^3 / 3) + x^T Q x / 2 + b^T x`` and its gradient.

    Confining when every ``q_k > 0``. Returns ``(loss, grad)``, vectorized over
    ``(..., d)``.
    """
    q, c, Qm, bv = (np.asarray(a, dtype=float) for a in (quartic, cubic, Q, b))

    def loss(x: np.ndarray) -> np.ndarray:
        return (np.sum(q * x**4 / 4 + c * x**3 / 3 + x * bv, axis=-1)
                + 0.5 * np.einsum("...i,ij,...j->...", x, Qm, x))

    def grad(x: np.ndarray) -> np.ndarray:
        return q * x**3 + c * x**2 + x @ Qm.T + bv

    return loss, grad


def _gibbs_box(loss: Callable, T: float, ndim: int, reach: float = 6.0) -> list[tuple[float, float]]:
    """Bounding box of ``{(L - L_min) / T < WALL_DROP}`` from a probe grid on ``[-reach, reach]^d``."""
    m = {1: 601, 2: 121, 3: 41}[ndim]
    axis = np.linspace(-reach, reach, m)
    pts = np.stack(np.meshgrid(*([axis] * ndim), indexing="ij"), axis=-1)
    z = loss(pts)
    z = (z - z.min()) / T
    inside = z < WALL_DROP
    step = axis[1] - axis[0]
    box = []
    for k in range(ndim):
        other = tuple(j for j in range(ndim) if j != k)
        hit = np.flatnonzero(inside.any(axis=other) if other else inside)
        lo = max(-reach, axis[hit[0]] - 2 * step)
        hi = min(reach, axis[hit[-1]] + 2 * step)
        box.append((float(lo), float(hi)))
    return box


def _st():
    try:
        from hypothesis import strategies as st
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("fokkerplanck.testing strategies need hypothesis: pip install hypothesis") from None
    return st


def _floats(st: Any, lo: float, hi: float) -> Any:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _check_ndim(ndim: Any, allowed: tuple[int, ...]) -> tuple[int, ...]:
    dims = (ndim,) if isinstance(ndim, (int, np.integer)) else tuple(ndim)
    for d in dims:
        if d not in allowed:
            raise ValueError(f"`ndim` must be in {allowed} (or a tuple of them), got {ndim!r}.")
    return tuple(int(d) for d in dims)


def _cells(ndim: int) -> tuple[int, int]:
    return {1: (64, 160), 2: (32, 48), 3: (14, 18)}[ndim]


def gibbs_problems(ndim: int | tuple[int, ...] = (1, 2)) -> Any:
    """Strategy: Langevin dynamics in a random confining polynomial loss.

    ``dx = -grad L dt + sqrt(2T) dB`` with :func:`polynomial_loss` (quartic
    coefficients in ``[0.5, 1.5]``, cubic and linear in ``[-0.5, 0.5]``, a
    symmetric quadratic form with entries in ``[-1, 1]``: single or double wells,
    coupled in 2-D/3-D), ``T`` in ``[0.1, 1]``. Exact density ``exp(-L/T)``.
    The SDE is built with ``loss=``, so the package's solver reproduces the Gibbs
    density at the cell centres to round-off (``atol=1e-9``).

    Parameters
    ----------
    ndim : int or tuple of int
        Dimensions to draw from (1, 2 or 3).
    """
    st = _st()
    dims = _check_ndim(ndim, (1, 2, 3))

    @st.composite
    def build(draw: Any) -> Problem:
        d = draw(st.sampled_from(dims))
        return _gibbs(draw, st, d, rotation=None)

    return build()


def _gibbs(draw: Any, st: Any, d: int, rotation: float | None) -> Problem:
    q = np.array([draw(_floats(st, 0.5, 1.5)) for _ in range(d)])
    c = np.array([draw(_floats(st, -0.5, 0.5)) for _ in range(d)])
    b = np.array([draw(_floats(st, -0.5, 0.5)) for _ in range(d)])
    Q = np.zeros((d, d))
    for i in range(d):
        for j in range(i, d):
            Q[i, j] = Q[j, i] = draw(_floats(st, -1.0, 1.0))
    T = draw(_floats(st, 0.1, 1.0))
    lo, hi = _cells(d)
    n = draw(st.integers(lo, hi))
    loss, grad = polynomial_loss(q, c, Q, b)
    grid = Grid(_gibbs_box(loss, T, d), n)
    sigma = math.sqrt(2 * T)
    p = gibbs(grid, loss, T)
    params = {"quartic": q, "cubic": c, "Q": Q, "b": b, "T": T}
    if rotation is None:
        return Problem(SDE(loss=loss, grad=grad, sigma=sigma, ndim=d), grid, p, "gibbs", 1e-9, True, params)
    a = rotation
    Jm = np.zeros((d, d))
    Jm[0, 1], Jm[1, 0] = 1.0, -1.0
    params.update(a=a, J=Jm)
    sde = SDE(loss=loss, grad=grad, drift=lambda x: a * grad(x) @ Jm.T, sigma=sigma, ndim=d)
    # the rotational drift is integrated along edges (Simpson) and the scheme is second
    # order: measured L1 <= 1.2e-2 (median 1.4e-3) over 450 examples; atol leaves a factor 2.5
    return Problem(sde, grid, p, "rotational", 3e-2, a == 0.0, params)


def rotational_problems(ndim: int | tuple[int, ...] = 2) -> Any:
    """Strategy: ``dx = -(I - a J) grad U dt + sqrt(2T) dB`` with ``J`` antisymmetric.

    ``U`` is a random :func:`polynomial_loss` as in :func:`gibbs_problems`, ``a`` in
    ``[-1, 1]``. The Gibbs density ``exp(-U/T)`` is stationary for every ``a``:
    ``div(a J grad U p) = 0`` because ``J`` is antisymmetric. The current
    ``a J grad U p`` is nonzero for ``a != 0`` (a non-equilibrium steady state).

    Parameters
    ----------
    ndim : int or tuple of int
        2 (the grids a test can afford in 3-D are too coarse for a sharp tolerance).
    """
    st = _st()
    dims = _check_ndim(ndim, (2,))

    @st.composite
    def build(draw: Any) -> Problem:
        d = draw(st.sampled_from(dims))
        a = draw(_floats(st, -1.0, 1.0))
        return _gibbs(draw, st, d, rotation=a)

    return build()


def lyapunov_problems(ndim: int | tuple[int, ...] = 2) -> Any:
    """Strategy: Ornstein–Uhlenbeck ``dx = -H x dt + C^{1/2} dB`` with its Gaussian density.

    ``H = S + A`` with ``S`` symmetric positive definite (eigenvalues in
    ``[0.5, 3]``) and ``A`` antisymmetric (entries in ``[-0.5, 0.5]``), so every
    eigenvalue of ``H`` has a positive real part. ``C`` has standard deviations in
    ``[0.7, 1.4]`` and correlations in ``[-0.7, 0.7]`` (SPD). The stationary
    density is ``N(0, S)`` with ``H S + S H^T = C`` (:func:`fokkerplanck.lyapunov`);
    the box is ``+-6`` standard deviations per axis.

    Parameters
    ----------
    ndim : int or tuple of int
        1 or 2.
    """
    st = _st()
    dims = _check_ndim(ndim, (1, 2))

    @st.composite
    def build(draw: Any) -> Problem:
        from ._model.models import gaussian_density, lyapunov, ornstein_uhlenbeck

        d = draw(st.sampled_from(dims))
        ev = np.array([draw(_floats(st, 0.5, 3.0)) for _ in range(d)])
        angle = draw(_floats(st, 0.0, math.pi))
        R = np.eye(d)
        if d >= 2:
            R[:2, :2] = [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
        A = np.zeros((d, d))
        for i in range(d):
            for j in range(i + 1, d):
                A[i, j] = draw(_floats(st, -0.5, 0.5))
                A[j, i] = -A[i, j]
        H = R @ np.diag(ev) @ R.T + A
        sd = np.array([draw(_floats(st, 0.7, 1.4)) for _ in range(d)])
        corr = np.eye(d)
        for i in range(d):
            for j in range(i + 1, d):
                corr[i, j] = corr[j, i] = draw(_floats(st, -0.7, 0.7))
        if np.linalg.eigvalsh(corr)[0] < 0.2:  # 3-D: keep the correlation matrix well inside SPD
            corr = 0.5 * corr + 0.5 * np.eye(d)
        C = corr * np.outer(sd, sd)
        S = lyapunov(H, C)
        s = np.sqrt(np.diag(S))
        lo, hi = _cells(d)
        n = draw(st.integers(lo, hi))
        grid = Grid([(-6 * v, 6 * v) for v in s], n)
        p = gaussian_density(grid, 0.0, S, normalise=True)
        HC = H @ C
        eq = bool(np.allclose(HC, HC.T, atol=1e-12))
        # second-order scheme: measured L1 <= 1.0e-2 (median 1e-4) over 600 examples in 2-D
        # (1-D: detailed balance, exact to round-off); atol leaves a factor 3
        return Problem(ornstein_uhlenbeck(H, C), grid, p, "lyapunov", 1e-9 if d == 1 else 3e-2, eq,
                       {"H": H, "cov": C, "S": S})

    return build()


def problems(ndim: int | tuple[int, ...] = (1, 2)) -> Any:
    """Strategy: any of :func:`gibbs_problems`, :func:`lyapunov_problems` (1-D, 2-D)
    and :func:`rotational_problems` (2-D).

    Parameters
    ----------
    ndim : int or tuple of int
        Dimensions to draw from (1, 2 or 3).
    """
    st = _st()
    dims = _check_ndim(ndim, (1, 2, 3))
    parts = [gibbs_problems(dims)]
    if any(d <= 2 for d in dims):
        parts.append(lyapunov_problems(tuple(d for d in dims if d <= 2)))
    if 2 in dims:
        parts.append(rotational_problems(2))
    return st.one_of(*parts)


# ----------------------------------------------------------------- asserts
def assert_density_close(p: Any, q: Any, grid: Grid, atol: float, *, normalise: bool = False,
                         err_msg: str = "") -> float:
    r"""Assert ``integral |p - q| dx <= atol`` on ``grid`` (L1, midpoint rule).

    Parameters
    ----------
    p, q : array_like, ``grid.shape``
        Densities at the cell centres.
    grid : Grid
    atol : float
        Largest allowed L1 distance (for probability densities, ``2 * TV``; at most 2).
    normalise : bool
        Divide each by its integral first (compare shapes only).
    err_msg : str
        Prepended to the failure message.

    Returns
    -------
    float
        The L1 distance (for logging).

    Raises
    ------
    AssertionError
        The distance exceeds ``atol``, the shapes differ from ``grid.shape``, or a
        density is not finite. The message gives the distance, both masses and the
        cell of the largest difference.
    TypeError, ValueError
        ``grid`` is not a Grid; ``atol`` is not a non-negative number.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> from fokkerplanck.testing import assert_density_close
    >>> grid = fp.Grid(bounds=[(-5, 5)], shape=100)
    >>> p = fp.gaussian_density(grid, 0.0, 1.0)
    >>> assert_density_close(p, fp.gaussian_density(grid, 0.01, 1.0), grid, atol=0.01) < 0.01
    True
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid, got {type(grid).__name__}.")
    if not (isinstance(atol, (int, float, np.floating, np.integer)) and math.isfinite(atol) and atol >= 0):
        raise ValueError(f"`atol` must be a non-negative number, got {show(atol)}.")
    pre = f"{err_msg}: " if err_msg else ""
    a = np.asarray(p, dtype=float)
    b = np.asarray(q, dtype=float)
    for name, arr in (("p", a), ("q", b)):
        if arr.shape != grid.shape:
            raise AssertionError(f"{pre}`{name}` has shape {arr.shape}, the grid has shape {grid.shape}.")
        if not np.all(np.isfinite(arr)):
            raise AssertionError(f"{pre}`{name}` has {int(np.sum(~np.isfinite(arr)))} non-finite values.")
    if normalise:
        a = a / grid.integrate(a)
        b = b / grid.integrate(b)
    diff = np.abs(a - b)
    l1 = float(grid.integrate(diff))
    if not l1 <= atol:
        i = np.unravel_index(int(np.argmax(diff)), grid.shape)
        x = [float(c[j]) for c, j in zip(grid.centers, i)]
        raise AssertionError(
            f"{pre}densities differ: L1 = {l1:.3e} > atol = {atol:.3e} (masses {grid.integrate(a):.6g} "
            f"and {grid.integrate(b):.6g}; largest difference {float(diff[i]):.3e} at cell "
            f"{tuple(int(k) for k in i)}, x = {x}, where p = {float(a[i]):.4g}, q = {float(b[i]):.4g})."
        )
    return l1


def assert_consistent(density: Any, samples: Any, grid: Grid | None = None, *, alpha: float = 1e-3,
                      max_l1_ratio: float | None = None, err_msg: str = "") -> Any:
    r"""Assert that samples are consistent with a density (statistical test).

    Uses :func:`fokkerplanck.compare`: a pooled chi-square test on the grid cells and
    z-tests of the binned means, Bonferroni-combined, so a correct sampler fails
    with probability at most ``alpha`` (use a fixed seed in tests).

    Parameters
    ----------
    density : ndarray or result
        Density on ``grid`` (then pass ``grid``), or a result with ``.density`` and
        ``.grid`` (:class:`~fokkerplanck.StationaryResult`, a :class:`Problem`).
    samples : ndarray ``(n, ndim)`` or Particles
    grid : Grid, optional
    alpha : float
        False-alarm probability of the test.
    max_l1_ratio : float, optional
        Also require ``l1 <= max_l1_ratio * noise_floor`` (the L1 distance within a
        multiple of what sampling noise alone explains).
    err_msg : str
        Prepended to the failure message.

    Returns
    -------
    Comparison
        The comparison, when the assertion holds.

    Raises
    ------
    AssertionError
        The test rejects; the message holds the comparison table.

    Examples
    --------
    See the module docstring.
    """
    from ._sampling.compare import compare

    cmp = compare(density, samples, grid=grid, alpha=alpha)
    pre = f"{err_msg}: " if err_msg else ""
    if not cmp.consistent:
        raise AssertionError(
            f"{pre}the samples are not consistent with the density at alpha={alpha:g} "
            f"(chi2 p = {cmp.chi2_pvalue:.3g}, mean z = {np.round(cmp.mean_z, 2).tolist()}):\n{cmp.table()}"
        )
    if max_l1_ratio is not None and cmp.l1_ratio > max_l1_ratio:
        raise AssertionError(
            f"{pre}L1 = {cmp.l1:.4g} is {cmp.l1_ratio:.2f} times the sampling noise floor "
            f"{cmp.noise_floor:.4g} (max_l1_ratio={max_l1_ratio:g}):\n{cmp.table()}"
        )
    return cmp
