"""Stationary densities: the null vector of the generator.

``A`` is exactly singular (its columns sum to zero). Methods:

* ``"detailed_balance"`` — when the discrete rates satisfy Kolmogorov's criterion
  (``Delta psi`` sums to zero around every plaquette), ``p = exp(-psi)`` with
  ``psi`` summed along the edges: O(N), no linear solve, exact to round-off.
* ``"lu"`` — pin one cell to 1 and solve the non-singular reduced system with
  SuperLU (``MMD_AT_PLUS_A`` ordering: ``A`` is structurally symmetric).
* ``"amg"`` — the same pinned system with GMRES preconditioned by Ruge–Stüben
  algebraic multigrid (pyamg); for large 2-D and 3-D grids.
* ``"eigs"`` — shift-invert ARPACK at a small positive shift; a cross-check.

``"auto"`` tries detailed balance, then LU (1-D, small 2-D) or AMG (large 2-D,
3-D and up, when pyamg is installed), falling back to LU when an iterative solve
stalls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._util.errors import ConvergenceError, warn
from .._model.grid import Grid
from .._util.linalg import factorize
from .._util.validate import positive_int
from .._discretization.generator import Fluxes, check_problem, check_tolerance, fluxes
from .._model.sde import SDE

__all__ = ["stationary", "StationaryResult", "METHODS", "residual"]

#: Null-vector methods understood by :func:`stationary`.
METHODS = ("auto", "detailed_balance", "lu", "amg", "eigs")

#: Above this many cells a 2-D problem goes to AMG in ``"auto"``.
AMG_2D_SIZE = 300_000


@dataclass(frozen=True, eq=False)
class StationaryResult:
    """A stationary density and how it was found.

    Attributes
    ----------
    density : ndarray, ``grid.shape``
        ``>= 0``, ``grid.integrate(density) == 1``.
    grid : Grid
    sde : SDE
    residual : float
        ``||A p||_inf / (max|a_ii| max p)``.
    method : str
        The method that produced ``density``.
    success : bool
    message : str
    scheme : str
    iterations : int
        Krylov iterations (0 for direct methods).
    seconds : float
        Wall time of the solve (assembly excluded).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> res = fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]),
    ...                     fp.Grid(bounds=[(-5, 5), (-3, 3)], shape=64))
    >>> res.success, res.method, bool(res.residual < 1e-12)
    (True, 'lu', True)
    >>> np.round(res.cov(), 3)           # exact: [[0.5, 0.1], [0.1, 0.125]]
    array([[0.5  , 0.1  ],
           [0.1  , 0.125]])
    """

    density: np.ndarray
    grid: Grid
    sde: SDE
    residual: float
    method: str
    success: bool
    message: str
    scheme: str = "sg"
    iterations: int = 0
    seconds: float = 0.0
    fluxes: Fluxes | None = field(default=None, repr=False)

    def current(self) -> np.ndarray:
        """Probability current ``(ndim, *grid.shape)``, consistent with the generator."""
        return self.fluxes.current(self.density)

    def mean(self) -> np.ndarray:
        return self.grid.mean(self.density)

    def cov(self) -> np.ndarray:
        return self.grid.cov(self.density)


def residual(A: sp.spmatrix, p: np.ndarray) -> float:
    """``||A p||_inf / (max|a_ii| max|p|)`` — scale-free residual of a null vector.

    Examples
    --------
    The Gibbs density is the exact null vector of the Langevin generator:

    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-3, 3)], shape=100)
    >>> L = lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2
    >>> A = fp.generator(fp.langevin(L, 0.5), grid)
    >>> bool(fp.stationary_residual(A, fp.gibbs(L, 0.125, grid)) < 1e-14)
    True
    """
    p = np.asarray(p).ravel()
    return float(np.abs(A @ p).max() / (np.abs(A.diagonal()).max() * np.abs(p).max()))


def _pin_guess(fl: Fluxes, sde: SDE, grid: Grid) -> int:
    """A cell where the density is likely large: the loss minimum, else the least drift."""
    x = grid.points().reshape(-1, grid.ndim)
    if sde.has_loss and not sde.has_extra_drift:
        return int(np.argmin(sde.loss(x)))
    return int(np.argmin(np.linalg.norm(sde.flux_drift(x), axis=-1)))


def _reduced(A: sp.csr_matrix, k: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    keep = np.ones(A.shape[0], dtype=bool)
    keep[k] = False
    Ak = A[keep]
    rhs = -Ak[:, [k]].toarray().ravel()
    return Ak[:, keep].tocsc(), rhs, keep


def _check_connected(A: sp.csr_matrix, grid: Grid, longest: int) -> None:
    """Raise a clear error when the stencil splits the grid into separate parts."""
    from scipy.sparse.csgraph import connected_components

    n, _ = connected_components(A, directed=True, connection="strong")
    if n > 1:
        raise ValueError(
            f"The discretization splits the {grid.shape} grid into {n} parts that exchange "
            f"no mass, so the stationary density is not unique: the covariance is so "
            f"anisotropic that its stencil needs offsets of {longest} cells, and the edges "
            "that would cross the walls are dropped. Refine the grid (several times the "
            "offset length per axis) or reduce the anisotropy."
        )


def _solve_lu(A: sp.csr_matrix, k: int) -> np.ndarray:
    Ar, rhs, keep = _reduced(A, k)
    lu = factorize(Ar)
    p = np.empty(A.shape[0])
    p[k] = 1.0
    p[keep] = lu.solve(rhs)
    return p


def _solve_amg(A: sp.csr_matrix, k: int, tol: float, maxiter: int) -> tuple[np.ndarray, int, bool]:
    try:
        import pyamg
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "method='amg' needs pyamg: pip install pyamg (or fokkerplanck[amg])."
        ) from None
    Ar, rhs, keep = _reduced(A, k)
    Ar = Ar.tocsr()
    ml = pyamg.ruge_stuben_solver(Ar)
    count = [0]

    def cb(_: Any) -> None:
        count[0] += 1

    x, info = spla.gmres(Ar, rhs, M=ml.aspreconditioner(), rtol=tol, atol=0.0, restart=50,
                         maxiter=maxiter, callback=cb, callback_type="pr_norm")
    p = np.empty(A.shape[0])
    p[k] = 1.0
    p[keep] = x
    return p, count[0], info == 0


def _solve_eigs(A: sp.csr_matrix, tol: float) -> np.ndarray:
    shift = 1e-7 * np.abs(A.diagonal()).max()
    vals, vecs = spla.eigs(A.tocsc(), k=1, sigma=shift, tol=tol * 1e-2)
    v = vecs[:, 0]
    v = v * np.exp(-1j * np.angle(v[np.argmax(np.abs(v))]))
    return v.real


def stationary(
    sde: SDE,
    grid: Grid,
    *,
    method: str = "auto",
    scheme: str = "sg",
    tol: float = 1e-10,
    maxiter: int = 200,
) -> StationaryResult:
    """Stationary density of ``sde`` on ``grid``: the null vector of the generator.

    Parameters
    ----------
    sde : SDE
        Time-independent.
    grid : Grid
        Reflecting and/or periodic boundaries (with an absorbing side there is no
        stationary density: see :func:`fokkerplanck.quasi_stationary`).
    method : {"auto", "detailed_balance", "lu", "amg", "eigs"}
        See the module docstring.
    scheme : {"sg", "upwind", "highorder"}
        Discretization, see :func:`fokkerplanck.generator`.
    tol : float
        Relative tolerance of iterative solves; also the bound on the residual for
        ``success``.
    maxiter : int
        Maximum GMRES restarts for ``"amg"``.

    Returns
    -------
    StationaryResult

    Raises
    ------
    ValueError
        Absorbing boundaries; a time-dependent SDE; unknown ``method``/``scheme``.
    ConvergenceError
        The solve failed (the partial result is attached as ``.result``).

    Examples
    --------
    Langevin dynamics in a double well; the density is Gibbs ``exp(-2 L / sigma^2)``:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> L = lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2
    >>> grid = fp.Grid(bounds=[(-3, 3)], shape=300)
    >>> res = fp.stationary(fp.langevin(L, sigma=np.sqrt(0.2)), grid)
    >>> res.method, round(float(grid.integrate(res.density * grid.points()[..., 0]**2)), 3)
    ('detailed_balance', 0.871)
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    check_problem(sde, grid)
    tol = check_tolerance(tol)
    maxiter = positive_int("maxiter", maxiter)
    if sde.time_dependent:
        raise ValueError(
            "`stationary` needs a time-independent SDE, but this one was built with "
            "`time_dependent=True`; a density that changes with the drift has no fixed "
            "point. Use fp.evolve to follow it in time."
        )
    if grid.has_absorbing:
        raise ValueError(
            f"The grid has absorbing sides ({list(grid.boundary)}): mass leaves through "
            "them, so there is no stationary density (the only fixed point is p = 0). "
            "Use fp.quasi_stationary for the density conditioned on survival, or make "
            "the boundary reflecting or periodic."
        )
    fl = fluxes(sde, grid, scheme=scheme)
    A = fl.matrix
    t0 = time.perf_counter()
    p, used, iterations, notes = None, method, 0, []

    if method in ("auto", "detailed_balance"):
        psi = fl.potential()
        if psi is not None:
            p, used = np.exp(-(psi - psi.min())).ravel(), "detailed_balance"
        elif method == "detailed_balance":
            raise ValueError(
                "method='detailed_balance': the discrete rates do not satisfy detailed "
                "balance (the stationary state carries a current, or the scheme is not "
                "two-point); use method='auto'."
            )
    if p is None and method == "auto":
        big = grid.ndim >= 3 or (grid.ndim == 2 and grid.size > AMG_2D_SIZE)
        used = "amg" if big and _has_pyamg() else "lu"
    if p is None and fl.longest_offset > 1:
        _check_connected(A, grid, fl.longest_offset)
    if p is None:
        k = _pin_guess(fl, sde, grid)
        for _ in range(2):
            if used == "amg":
                p, iterations, ok = _solve_amg(A, k, tol, maxiter)
                if not ok or residual(A, p) > 100 * tol:
                    notes.append(f"AMG-GMRES stalled after {iterations} iterations; fell back to LU")
                    used = "lu"
                    p = _solve_lu(A, k)
            elif used == "lu":
                p = _solve_lu(A, k)
            else:
                p = _solve_eigs(A, tol)
                break
            if p[k] >= 1e-8 * np.abs(p).max():
                break
            notes.append(f"re-pinned at the density maximum (pinned value was {p[k] / np.abs(p).max():.1e} of it)")
            k = int(np.argmax(p))
    seconds = time.perf_counter() - t0
    return _finish(p, A, fl, sde, grid, used, tol, iterations, seconds, notes)


def _has_pyamg() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyamg") is not None


def _finish(p: np.ndarray, A: sp.csr_matrix, fl: Fluxes, sde: SDE, grid: Grid, method: str,
            tol: float, iterations: int, seconds: float, notes: list[str]) -> StationaryResult:
    if not np.all(np.isfinite(p)):
        res = StationaryResult(np.full(grid.shape, np.nan), grid, sde, np.inf, method, False,
                               "the solve produced non-finite values", fl.scheme, iterations, seconds, fl)
        raise ConvergenceError(f"stationary ({method}): the solve produced non-finite values.", res)
    if p.sum() < 0:
        p = -p
    pmax = np.abs(p).max()
    neg = p < 0
    worst = -p[neg].min() / pmax if neg.any() else 0.0
    monotone = fl.scheme != "highorder"
    if worst > 0:
        notes.append(f"clipped negatives down to {worst:.1e} of the maximum")
    raw = residual(A, p)
    p = np.where(neg, 0.0, p)
    p = p / (p.sum() * grid.cell_volume)
    r = residual(A, p)
    # A monotone scheme has a positive null vector (Perron-Frobenius): its negatives are
    # round-off, amplified by the conditioning of metastable problems. They are harmless
    # exactly when clipping them keeps the residual small. The high-order scheme can
    # undershoot for real; beyond 1e-3 of the maximum that is an error.
    bound = max(100 * tol, 1e-9)
    ok = r <= bound if monotone else (raw <= bound and worst <= 1e-3)
    msg = "; ".join(notes) if notes else "converged"
    res = StationaryResult(p.reshape(grid.shape), grid, sde, r, method, ok,
                           msg if ok else f"residual {r:.2e}, negatives {worst:.1e}: " + msg,
                           fl.scheme, iterations, seconds, fl)
    if not ok:
        raise ConvergenceError(
            f"stationary ({method}): residual {r:.1e} (bound {bound:.0e}) with negatives down to "
            f"{worst:.1e} of the maximum"
            + ("; the high-order scheme is not monotone: use scheme='sg' here." if not monotone
               else "; try method='lu' or a finer grid."),
            res,
        )
    _warn_walls(res.density, grid)
    if method != "detailed_balance":
        _warn_peclet(fl, res.density)
    return res


#: ``|Delta psi|`` (the cell Peclet number) above which accuracy suffers.
PECLET_LIMIT = 5.0


def _warn_peclet(fl: Fluxes, p: np.ndarray, floor: float = 1e-6) -> None:
    """Warn when the cell Peclet number ``|z|`` (the Scharfetter–Gummel argument: drift
    across an edge relative to diffusion) is large on an edge that carries real weight
    (at least a tenth of the heaviest edge at its cell) where the density is not
    negligible. The scheme stays monotone, but its error grows."""
    if fl.peclet is None:
        return
    flat = p.ravel()
    inner = fl.head >= 0
    heaviest = np.zeros(fl.grid.size)
    np.maximum.at(heaviest, fl.tail, fl.weight)
    np.maximum.at(heaviest, fl.head[inner], fl.weight[inner])
    dense = np.maximum(flat[fl.tail], np.where(inner, flat[fl.head], 0.0)) > floor * flat.max()
    relevant = dense & (fl.weight >= 0.1 * heaviest[fl.tail])
    if not relevant.any():
        return
    worst = float(fl.peclet[relevant].max())
    if worst > PECLET_LIMIT:
        warn(
            f"The cell Peclet number reaches {worst:.1f} where the density is not small: "
            f"the drift moves mass across a cell e^{worst:.0f} times faster than diffusion "
            "evens it out there, which costs accuracy (the result stays positive). Refine "
            "the grid there."
        )


def _warn_walls(p: np.ndarray, grid: Grid, threshold: float = 1e-6) -> None:
    """Warn when more than ``threshold`` of the mass sits in a reflecting wall's cells."""
    for k, (lo, hi) in enumerate(grid.boundary):
        for side, kind in ((0, lo), (-1, hi)):
            if kind != "reflecting":
                continue
            sl = [slice(None)] * grid.ndim
            sl[k] = slice(side, side + 1 if side == 0 else None)
            mass = float(p[tuple(sl)].sum() * grid.cell_volume)
            if mass > threshold:
                warn(
                    f"{mass:.1e} of the mass sits in the outermost cells of the "
                    f"{'lower' if side == 0 else 'upper'} reflecting wall of axis {k}: if the "
                    "process is not really confined there, widen `bounds`.",
                )
