"""Stationary densities: the null vector of the generator.

``A`` is exactly singular (its columns sum to zero). Methods:

* ``"detailed_balance"`` — when the discrete rates satisfy Kolmogorov's criterion
  (``Delta psi`` sums to zero around every plaquette), ``p = exp(-psi)`` with
  ``psi`` summed along the edges: O(N), no linear solve, exact to round-off.
* ``"gth"`` — subtraction-free (Grassmann–Taksar–Heyman) elimination in a
  nested-dissection order (``fokkerplanck/_solvers/gth.py``): every cell's
  density with a relative error of a few ``eps`` whatever the spectral gap, so
  a barrier of 50 ``T`` or 500 ``T`` is as accurate as one of ``T``. Cost
  comparable with LU (measured 0.95-2.7x its time at 256^2 and 512^2).
* ``"lu"`` — pin one cell to 1 and solve the non-singular reduced system with
  SuperLU (``MMD_AT_PLUS_A`` ordering: ``A`` is structurally symmetric). Its error
  grows like ``eps / gap``: on metastable problems the split of mass between the
  wells is arbitrary. A Skeel condition estimate of the pinned system flags it.
* ``"amg"`` — GMRES preconditioned by Ruge–Stüben algebraic multigrid (pyamg) in the
  variables of a guess (a coarser grid's density interpolated in ``log p``, solved
  the same way down to GTH's sizes; ``fokkerplanck/_solvers/refined.py``), refined to
  round-off, with one more M-matrix solve that *bounds every cell's relative error*,
  the split between metastable wells included. Where the bound exceeds
  :data:`LU_CONDITION_LIMIT` (a metastable problem: the bound grows like the exit time)
  or GMRES stalls (its residual history, ``refined.Monitor``), the answer comes from
  GTH where that is affordable. Measured 4-10x faster than GTH on 3-D grids of 32^3 to
  48^3, with a tenth of the memory.
* ``"eigs"`` — shift-invert ARPACK at a small positive shift; a cross-check.

The solves run with one BLAS thread (``threadpoolctl``; see
``fokkerplanck._util.linalg.one_blas_thread`` for the measurements).

``"auto"`` tries detailed balance, then (monotone schemes: ``"sg"``, ``"upwind"``)
AMG from :data:`AMG_FROM` cells on (3-D from 16^3, 2-D from about 724^2) and GTH
below, or where pyamg is missing and the nested-dissection front fits; LU otherwise.
Where the density split follows (the default ``conductance="split"``), AMG takes over
from :data:`SPLIT_AMG_FROM` cells (2-D from 181^2) for the first solve and every pass,
each stopped at :data:`SPLIT_LOOSE_RTOL` since it only sets the next pass's weights; the
last pass goes on from there to round-off and its bound (``refined.Solve``), so the one
answer returned is certified like any other.
The non-monotone ``"highorder"`` scheme (negative off-diagonal rates) goes to LU. An
AMG answer whose bound does not certify it, or an eigs answer that fails the
certificate, is replaced by GTH's where GTH is affordable, and refused
(``ConvergenceError``, the answer attached) where not.

The certificate
---------------
Every answer is checked cell by cell: with ``W`` the off-diagonal rates, ::

    inflow_i  = sum_{j != i} |a_ij| p_j
    outflow_i = p_i sum_{k != i} |a_ki|
    r_i       = |(W p)_i - outflow_i| / (inflow_i + outflow_i)

each a sum of non-negative terms until the one final difference, over every
cell whose ``p_i`` and inflowing ``p_j`` are normal floating-point numbers (deep
tails that underflow carry no digits to check). ``StationaryResult.residual`` is ``max_i r_i``: the
relative imbalance of probability flow through the worst cell, scale-free and as
strict in a tail at ``1e-200`` as at the mode. Negative densities give
``r_i = 1``. For a density computed with entrywise relative error ``delta``
``r_i <= 2 delta + 2 (k + 1) eps`` (``k`` stencil neighbours), and GTH's
``delta`` is ``O(n eps)`` (O'Cinneide 1993; observed: a few ``eps``), so the
bound for ``success`` is :func:`certificate_bound` ``= 2 (n + 3^d) eps`` (plus
the tolerance of the Kolmogorov check for detailed balance).

What the certificate cannot see: a density split between two metastable wells in
the wrong proportion, but in balance inside each well, is itself a near-null
vector (the wells exchange almost nothing), so its residual — componentwise or
not — is tiny. No residual certifies the split. What certifies it is the method:
GTH is subtraction-free, and a relative perturbation ``eps`` of the rates moves
every ``p_i`` by ``O(n eps)`` relatively, whatever the gap (O'Cinneide 1993). LU
answers are therefore additionally checked with a Skeel condition estimate of
the pinned system (``kappa eps > 1e-6``: ``success=False``), AMG answers with their
bound on every cell's relative error (above ``1e-6``: ``success=False``), and eigs
answers rely on the certificate alone (stated in the result's message).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._discretization.fluxes import TwoPointFluxes
from .._discretization.generator import Fluxes, check_problem, check_tolerance, fluxes
from .._model.grid import Grid
from .._model.sde import SDE
from .._util.deprecation import renamed_keywords
from .._util.errors import ConvergenceError, held, warn
from .._util.linalg import factorize, has_pyamg, is_metzler, off_diagonal, one_blas_thread, pinned
from .._util.summary import Summary
from .._util.validate import positive_int
from . import gth as _gth
from . import refined as _refined
from .estimate import ORDER, estimate_error, partner_grid
from .resolution import check_resolution
from .split import SPLIT_RTOL, bulk_cells, fixed_point, not_converged, split_density

__all__ = ["CONDUCTANCES", "METHODS", "StationaryResult", "certificate", "certificate_bound", "residual",
           "stationary"]

#: Null-vector methods understood by :func:`stationary`.
METHODS = ("auto", "detailed_balance", "gth", "lu", "amg", "eigs")

#: ``"auto"`` uses GTH while the largest nested-dissection front (about
#: ``size / min(shape)`` cells per separator times the number of axes) stays below
#: this: every 1-D and 2-D grid, 3-D up to 48^3. Measured on a 3-D non-reversible OU
#: (2 cores, load 2): GTH 13 s / 55 s at 36^3 / 48^3, LU 30 s / 88 s, both certified;
#: AMG takes 1-1.5 s but its tails fail the componentwise certificate (success=False).
#: Beyond it the dense fronts outgrow memory and time; AMG's answer is then certified
#: or returned with success=False.
GTH_MAX_FRONT = 7000

#: Conductances understood by :func:`stationary` (see its ``conductance`` parameter).
CONDUCTANCES = ("split", "sg", "flat")

#: LU answers whose Skeel condition estimate times ``eps`` exceeds this fail.
LU_CONDITION_LIMIT = 1e-6

@dataclass(frozen=True, eq=False, repr=False)
class StationaryResult(Summary):
    """A stationary density and how it was found.

    Attributes
    ----------
    density : ndarray, ``grid.shape``
        ``>= 0``, ``grid.integrate(density) == 1``.
    grid : Grid
    sde : SDE
    residual : float
        The componentwise certificate :func:`certificate`: the largest relative
        imbalance ``|inflow_i - outflow_i| / (inflow_i + outflow_i)`` of probability
        flow over the cells whose density is a normal number (see the module
        docstring). Below :func:`certificate_bound` on success.
    normwise_residual : float
        ``||A p||_inf / (max|a_ii| max p)`` (the residual reported before the
        certificate; blind to the tails).
    method : str
        The method that produced ``density``.
    success : bool
    message : str
    scheme : str
    iterations : int
        Krylov iterations (0 for direct methods).
    seconds : float
        Wall time of the solve (assembly excluded).
    error_estimate : float
        Estimated L1 discretization error ``integral |p_h - p| dx`` of ``density``,
        from one more solve on a partner grid (Richardson, see
        :func:`~fokkerplanck.estimate_error`); ``inf`` when there is no partner grid,
        ``nan`` when not asked for (``error_estimate=False``).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> res = fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]),
    ...                     fp.Grid(bounds=[(-5, 5), (-3, 3)], shape=64))
    >>> res.success, res.method, bool(res.residual < 1e-12)
    (True, 'gth', True)
    >>> np.round(res.cov(), 3)           # exact: [[0.5, 0.1], [0.1, 0.125]]
    array([[0.5  , 0.1  ],
           [0.1  , 0.125]])
    >>> print(res)                       # doctest: +ELLIPSIS
    StationaryResult(method='gth', scheme='sg', grid=64x64 on [-5, 5]x[-3, 3], residual=...)
      success=True, error_estimate=0.000... (L1 norm of the density's discretization error)
      message: ...
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
    normwise_residual: float = float("nan")
    error_estimate: float = math.nan

    _error_meaning = "L1 norm of the density's discretization error"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("method", self.method), ("scheme", self.scheme), ("grid", self.grid),
                ("residual", self.residual)]

    def current(self) -> np.ndarray:
        """Probability current ``(ndim, *grid.shape)``, consistent with the generator."""
        if self.fluxes is None:
            raise ValueError("this StationaryResult carries no fluxes (e.g. loaded from a file); "
                             "recompute it with fp.stationary to get the current.")
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
    >>> bool(fp.stationary_residual(A, fp.gibbs(grid, L, 0.125)) < 1e-14)
    True
    """
    p = np.asarray(p).ravel()
    return float(np.abs(A @ p).max() / (np.abs(A.diagonal()).max() * np.abs(p).max()))


def certificate(A: sp.spmatrix, p: np.ndarray, rows: slice | None = None) -> float:
    """Componentwise balance certificate of a stationary density ``p`` of ``A``.

    ``max_i |(W p)_i - p_i c_i| / (sum_j |a_ij| p_j + p_i c_i)`` over the cells whose
    ``|p_i|``, and every ``|p_j|`` flowing into them, is a normal floating-point
    number (0 when no cell qualifies), with ``W`` the off-diagonal part of ``A`` and
    ``c_i = sum_{k != i} |a_ki|`` (the diagonal of ``A`` is not used).
    Inflow and outflow are each summed from non-negative terms; the difference is
    taken once, at the end. A negative ``p_i`` gives 1. ``rows``: check only these
    cells (a process's own cells, whose rows and columns its slab and halo complete).

    Examples
    --------
    The Gibbs density balances every cell to round-off, even where it is 1e-40:

    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-3, 3)], shape=100)
    >>> L = lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2
    >>> A = fp.generator(fp.langevin(L, 0.5), grid)
    >>> p = fp.gibbs(grid, L, 0.125).ravel()
    >>> float(p.min()) < 1e-40, bool(fp.stationary_certificate(A, p) < 1e-14)
    (True, True)
    """
    p = np.asarray(p, dtype=float).ravel()
    W = sp.csr_matrix(A, copy=True)
    W.setdiag(0)
    W.eliminate_zeros()
    absW = abs(W)
    c = np.asarray(absW.sum(axis=0)).ravel()
    absp = np.abs(p)
    inflow = absW @ absp
    outflow = absp * c
    total = inflow + outflow
    tiny = absp < np.finfo(float).tiny
    # a cell is checked when its own density and every density flowing into it are
    # normal numbers (an underflowed neighbour may still carry a real inflow)
    checked = ~tiny & (absW @ tiny.astype(float) == 0) & (total > 0)
    if rows is not None:
        only = np.zeros(checked.shape, dtype=bool)
        only[rows] = True
        checked &= only
    if not checked.any():
        return 0.0
    r = np.abs(W @ p - p * c)[checked] / total[checked]
    return float(r.max())


#: Balance sweeps after an iterative solve (:func:`balance`): at most this many, with
#: this damping (measured on a 3-D rotating OU at 64^3 after AMG: 445 / 272 / 226
#: sweeps to the certificate with damping 0.5 / 0.8 / 0.95).
BALANCE_SWEEPS, BALANCE_DAMPING = 3000, 0.8


def balance(W: sp.csr_matrix, outflow: np.ndarray, p: np.ndarray, bound: float,
            exchange: Callable[[np.ndarray], np.ndarray] = lambda q: q,
            largest: Callable[[float], float] = float) -> tuple[np.ndarray, float, int]:
    """Damped Jacobi sweeps on every cell's balance, until :func:`certificate` holds.

    ``p_i <- (1 - w) p_i + w inflow_i / outflow_i`` (``w`` = :data:`BALANCE_DAMPING`),
    from the answer of an iterative solve, which is accurate in norm but not in the far
    tails (there it may be off by orders of magnitude, or negative). A sweep keeps
    ``p >= 0`` and leaves the exact null vector where it is; the certificate of a
    monotone generator is computed on the way (every tenth sweep, from the sweep's own
    inflow). ``W``: the off-diagonal part of the rows of the cells to balance (columns:
    ``exchange(p)``'s cells), ``outflow``: those cells' outflow rates (column sums of the
    whole off-diagonal part). ``exchange`` and ``largest`` complete the owned values and
    take the largest over processes on the PETSc backend (identities serially).
    Returns ``(p, certificate, sweeps)``.
    """
    tiny = np.finfo(float).tiny
    cert, sweeps, local = math.inf, 0, exchange(p)
    for sweeps in range(BALANCE_SWEEPS + 1):
        inflow = W @ local
        if sweeps % 10 == 0 or sweeps == BALANCE_SWEEPS:
            out = p * outflow
            checked = (p >= tiny) & (W @ (local < tiny).astype(float) == 0) & (inflow + out > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.abs(inflow - out) / (inflow + out)
            cert = largest(float(r[checked].max(initial=0.0)))
            if cert <= bound or sweeps == BALANCE_SWEEPS:
                break
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (1 - BALANCE_DAMPING) * p + BALANCE_DAMPING * np.where(outflow > 0, inflow / outflow, p)
        local = exchange(p)
    return p, cert, sweeps


def certificate_bound(n: int, ndim: int) -> float:
    """The certificate's bound for ``success``: ``max(2 (n + 3^ndim) eps, 1e-12)``.

    A density with entrywise relative error ``delta`` has ``r_i <= 2 delta +
    2 (k + 1) eps`` (``k < 3^ndim`` neighbours summed in each of inflow and
    outflow); GTH's ``delta`` is ``O(n eps)`` (O'Cinneide 1993), whence the first
    term. The floor: twelve digits of balance in every cell are asked of any
    method (well-conditioned LU answers reach 1e-14 to 1e-13, not a few ``eps``).
    Observed GTH certificates are 1e-16 to 1e-14 for ``n`` up to ``2.6e5``.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> fp.stationary_certificate_bound(100, 1), fp.stationary_certificate_bound(512 * 512, 2)
    (1e-12, 1.16...e-10)
    """
    return float(max(2.0 * (n + 3 ** ndim) * np.finfo(float).eps, 1e-12))


def _pin_guess(fl: Fluxes, sde: SDE, grid: Grid) -> int:
    """A cell where the density is likely large: the loss minimum, else the least drift."""
    x = grid.points().reshape(-1, grid.ndim)
    if sde.has_loss and not sde.has_extra_drift:
        return int(np.argmin(sde.loss(x)))
    return int(np.argmin(np.linalg.norm(sde.flux_drift(x), axis=-1)))


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


_Factors = tuple[Any, sp.csc_matrix, np.ndarray, np.ndarray]   # (lu, Ar, rhs, keep)


def _solve_lu(A: sp.csr_matrix, k: int) -> tuple[np.ndarray, _Factors | None]:
    """Pinned LU solve; ``(p, lu)``, ``lu`` None when SuperLU finds the system singular."""
    Ar, rhs, keep = pinned(A, k)
    Ar = Ar.tocsc()
    p = np.empty(A.shape[0])
    p[k] = 1.0
    try:
        lu = factorize(Ar)
    except RuntimeError as err:  # "Factor is exactly singular"
        if "singular" not in str(err):
            raise
        p[keep] = np.nan
        return p, None
    p[keep] = lu.solve(rhs)
    return p, (lu, Ar, rhs, keep)


def _skeel_condition(lu: Any, Ar: sp.csc_matrix, rhs: np.ndarray, x: np.ndarray) -> float:
    """Hager–Higham estimate of ``|| diag(1/|x|) |Ar^-1| (|Ar| |x| + |rhs|) ||_inf``.

    The Skeel condition number of the pinned system at its solution: LU's
    relative error of every cell is at most about ``kappa eps``. Costs a few
    solves with the existing factors.
    """
    ax = np.abs(x)
    # cells whose density underflows carry no digits to lose: left out of the norm
    inv = np.where(ax >= np.finfo(float).tiny, 1.0 / np.maximum(ax, np.finfo(float).tiny), 0.0)
    g = abs(Ar) @ ax + np.abs(rhs)
    m = Ar.shape[0]
    op = spla.LinearOperator(
        (m, m), dtype=float,
        matvec=lambda v: g * lu.solve(np.ravel(v) * inv, trans="T"),
        rmatvec=lambda v: lu.solve(g * np.ravel(v)) * inv,
    )
    return float(spla.onenormest(op))


def _solve_eigs(A: sp.csr_matrix, tol: float) -> np.ndarray:
    shift = 1e-7 * np.abs(A.diagonal()).max()
    _, vecs = spla.eigs(A.tocsc(), k=1, sigma=shift, tol=tol * 1e-2)
    v = vecs[:, 0]
    v = v * np.exp(-1j * np.angle(v[np.argmax(np.abs(v))]))
    return v.real


#: Solvers of other backends, by name (``backend=``): ``"petsc"`` registers itself
#: (``fokkerplanck/_solvers/distributed.py``); ``"scipy"`` is this module.
BACKENDS: dict[str, Callable[..., StationaryResult]] = {}


@renamed_keywords(tol="rtol")
def stationary(
    sde: SDE,
    grid: Grid,
    *,
    method: str = "auto",
    scheme: str = "sg",
    rtol: float = 1e-10,
    maxiter: int = 200,
    error_estimate: bool = True,
    conductance: str = "split",
    backend: str = "scipy",
    gather: str = "all",
) -> StationaryResult:
    """Stationary density of ``sde`` on ``grid``: the null vector of the generator.

    Parameters
    ----------
    sde : SDE
        Time-independent.
    grid : Grid
        Reflecting and/or periodic boundaries (with an absorbing side there is no
        stationary density: see :func:`fokkerplanck.quasi_stationary`).
    method : {"auto", "detailed_balance", "gth", "lu", "amg", "eigs"}
        See the module docstring. ``"auto"`` is right without knowing whether the problem
        is metastable: detailed balance, GTH, or AMG with a bound on every cell's error.
    scheme : {"sg", "upwind", "highorder"}
        Discretization, see :func:`fokkerplanck.generator`.
    rtol : float
        Relative tolerance of ``"eigs"`` and of ``"amg"``'s first GMRES round (then
        refined to round-off). Formerly ``tol=``, accepted for one release with a
        :class:`DeprecationWarning`.
    maxiter : int
        Maximum GMRES restarts (60 iterations each), ``"amg"``'s first round.
    error_estimate : bool
        Also solve on a partner grid (1-D: three times the cells; else half the cells
        per axis, a quarter of the work in 2-D) and report the estimated L1 error as
        ``error_estimate`` (default; ``False`` skips the second solve).
    conductance : {"split", "sg", "flat"}
        The weight function of the exponentially fitted edges (docs/numerics.md, "The
        conductance"). It does not matter for gradient drifts (the density is exact
        Gibbs with any). For a non-gradient drift the stationary current is carried
        by the density, and the most accurate weights depend on how much of each edge's
        potential drives that current, which only the density knows: ``"split"``
        (default) solves with Scharfetter–Gummel weights, then re-weights every edge by
        the split of its potential taken from the density
        (:meth:`TwoPointFluxes.density_split
        <fokkerplanck._discretization.fluxes.TwoPointFluxes.density_split>`) and solves
        again, until ``log p`` changes by less than :data:`~fokkerplanck._solvers.split.SPLIT_RTOL` (usually 2-5
        passes, each a full solve; at most :data:`~fokkerplanck._solvers.split.SPLIT_MAX_PASSES`). Measured: the
        shallow-well mass of a metastable rotating torus 50-400x, its log-density 4-7x
        more accurate than with ``"sg"``; a running ring 57-80x in L1; a rotating OU
        with diagonal noise to L1 2e-6 at 48^2 (``"sg"``: 2e-2); on correlated noise
        (Selling stencils, outside the analysis) from nothing to 2x, where the flattened
        conductance can be 1.4x better still (docs/numerics.md). ``"sg"``: one solve
        with the generator of :func:`fokkerplanck.generator` (the density
        :func:`fokkerplanck.evolve` tends to). ``"flat"``: one solve with the flattened
        conductance. ``.fluxes`` of the result is the generator the density belongs to.

    backend, gather : {"scipy", "petsc"}, {"all", "root", "none"}
        ``"petsc"``: one solve over ``mpiexec -n K`` processes (docs: "Beyond one machine");
        ``gather``: who gets the whole density (else a process gets its slab of axis 0).

    Returns
    -------
    StationaryResult

    Raises
    ------
    ValueError
        Absorbing boundaries; a time-dependent SDE; unknown ``method``/``scheme``/``backend``.
    ConvergenceError
        The answer is not certified: the componentwise certificate exceeds
        :func:`certificate_bound`, LU's condition estimate says the split between
        metastable regions is not determined, or SuperLU found the pinned system
        singular (the partial result is attached as ``.result``; its message says
        to use ``method="gth"`` or ``"auto"``).

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
    _check_arguments(sde, grid, method)
    if conductance not in CONDUCTANCES:
        raise ValueError(f"`conductance` must be one of {CONDUCTANCES}, got {conductance!r}.")
    if backend != "scipy" or gather != "all":
        return _by_backend(backend, sde, grid, method, scheme=scheme, conductance=conductance, gather=gather,
                           error_estimate=error_estimate)
    tol = check_tolerance(rtol, "rtol")
    maxiter = positive_int("maxiter", maxiter)
    fl = fluxes(sde, grid, scheme=scheme, conductance="flat" if conductance == "flat" else "sg")
    t0 = time.perf_counter()
    fl, sol, partner = _solve_and_split(fl, sde, grid, method, scheme, tol, maxiter,
                                        conductance == "split" and _splittable(fl), error_estimate)
    seconds = time.perf_counter() - t0
    # 'auto' where the certified solve is unaffordable (large 3-D fronts) returns the
    # uncertified answer with success=False and a warning instead of raising
    lenient = method == "auto" and sol.used != "detailed_balance" and not _gth_affordable(fl, grid)
    assert sol.p is not None
    res = _finish(sol.p, fl.matrix, fl, sde, grid, sol.used, tol, sol.iterations, seconds, sol.notes, sol.kappa,
                  lenient=lenient, monotone=sol.monotone, cert=sol.cert, error_bound=sol.bound)
    if error_estimate:
        est = estimate_error(lambda g: partner[1] if partner else stationary(
            sde, g, method=method, scheme=scheme, rtol=tol, maxiter=maxiter, conductance=conductance,
            error_estimate=False).density, grid, order=ORDER[scheme], value=res.density,
            partner=partner[0] if partner else None)
        res = replace(res, error_estimate=float(est.error))
    return res


def _solve_and_split(fl: Fluxes, sde: SDE, grid: Grid, method: str, scheme: str, tol: float, maxiter: int,
                     split: bool, error_estimate: bool
                     ) -> tuple[Fluxes, _Solution, tuple[Grid, np.ndarray] | None]:
    """The solve, the density split where ``split``, and the certification of a loose AMG
    answer: ``(fl, sol, (partner grid, its density) or None)``; see
    :func:`_split_from_coarse` for the start from a grid with half the cells per axis."""
    started = _split_from_coarse(fl, sde, grid, method, scheme, tol, maxiter, error_estimate) if split else None
    if started is not None:
        fl, sol, partner = started
    else:
        partner = None
        sol = _solve(fl, sde, grid, method, scheme, tol, maxiter, loose=split)
        # no pass where detailed balance holds (exact already: 'auto' has checked it)
        if split and sol.used != "detailed_balance" and (method == "auto" or fl.potential() is None):
            assert isinstance(fl, TwoPointFluxes)
            fl, sol = _split_fixed_point(fl, sol, sde, grid, scheme, tol, maxiter)
    _certify(fl, sde, grid, scheme, tol, maxiter, sol)   # a loose AMG answer that no split pass followed
    return fl, sol, partner


def _split_from_coarse(fl: Fluxes, sde: SDE, grid: Grid, method: str, scheme: str, tol: float, maxiter: int,
                        estimate: bool = True
                        ) -> tuple[Fluxes, _Solution, tuple[Grid, np.ndarray] | None] | None:
    """The density split started from a grid with half the cells per axis, whose density,
    interpolated in ``log p``, takes the place of a first solve on this grid. With
    ``estimate`` that grid is the error estimate's partner, solved as the estimate needs
    it anyway (split and certified); without, its loose Scharfetter–Gummel solve, the one
    AMG's guess makes (:func:`_coarse_density`). ``(fl, sol, (partner, its density) or
    None)`` after the passes; ``(fl, sol, None)`` where detailed balance holds (``"auto"``);
    ``None`` where this does not apply (not 2-D, fewer than :data:`SPLIT_AMG_FROM` cells,
    explicit methods but AMG, no partner, a partner solve that fails, no pass made, or no
    fixed point reached from this start): then the usual path. (At 64^2 the 32^2 partner
    of a rotating double well at T = 0.3 was too far from the fixed point: the passes
    stopped contracting, where from the Scharfetter–Gummel density they converge.)

    Measured on the rotational double well (with the error estimate, one run each): 1.7 s
    against 2.4 s at 256^2, 7.9 s against about 9 s at 512^2, as many passes (at 512^2
    changes of ``log p`` of 7.5e-3 and 5e-6; the answer 9e-5 from the usual path's, which
    stops at a change of :data:`~fokkerplanck._solvers.split.SPLIT_RTOL`; the estimate and the L1 error to the exact
    density the same to 6 digits). Without the estimate, from the coarse Scharfetter–Gummel
    density (stop 27, one run each): 0.74 -> 0.69 s at 256^2, 2.91 -> 2.58 s at 512^2,
    13.5 -> 10.9 s at 1024^2, the metastable torus at 512^2 7.0 -> 6.1 s; as many passes,
    the density the same to 3e-8 (512^2) in log p where it is above 1e-6 of its maximum
    and to the split's tolerance in the tails. Not in 3-D: there the partner grid (16^3 for 32^3) is
    far from the fine fixed point, the passes were as many or more (32^3: 8, the last
    change 1.0e-3, not converged, against 8.6e-4) and the time no better (6.5 s against
    6.2 s at 32^3, 12.2 s against 14.5 s at 48^3). Nor from the coarse Scharfetter–Gummel
    density in 3-D (stop 27, against the usual start): rotating double well 1.21 / 0.86 s at
    32^3, 4.6 / 5.0 s at 64^3; full covariance 3.1 / 3.5 s at 48^3 and 65.3 / 63.8 s at
    128^3, where it took 4 passes instead of 3.
    """
    partner = partner_grid(grid)
    if (method not in ("auto", "amg") or grid.ndim != 2 or grid.size < SPLIT_AMG_FROM or partner is None
            or not isinstance(fl, TwoPointFluxes) or not (estimate or has_pyamg())):
        return None
    sol = _Solution(method, monotone=is_metzler(fl.matrix))
    if method == "auto":
        _try_detailed_balance(fl, sol, method)
        if sol.p is not None:
            return fl, sol, None
    elif fl.potential() is not None:
        return None
    if not sol.monotone:
        return None
    first = "amg" if method == "amg" else _auto_method(fl, grid, True)
    sol.used = "amg" if first == "gth" and grid.size >= SPLIT_AMG_FROM and has_pyamg() else first
    if estimate:
        with held():   # the partner's warnings are dropped: its answer is only compared and a start
            try:
                on_partner = stationary(sde, partner, method=method, scheme=scheme, rtol=tol, maxiter=maxiter,
                                        error_estimate=False)
            except (ConvergenceError, ValueError, np.linalg.LinAlgError, RuntimeError):
                return None
        coarse = on_partner.density
        # GTH's answer where AMG passes ran: AMG's bound could not certify there, and on this grid,
        # whose M^-1 1 (the bound's factor) counts about 4x the jumps, it will not either
        sol.metastable = on_partner.method == "gth" and partner.size >= SPLIT_AMG_FROM
        sol.p = _refined.interpolate_log(coarse.ravel(), partner, grid)
        sol.notes.append("the density split started from the error estimate's grid (half the cells per axis)")
    else:
        start = _coarse_density(fl, sde, grid, scheme, tol, maxiter)
        if start is None:
            return None
        sol.p = start
        sol.notes.append("the density split started from the Scharfetter-Gummel density of a grid with half the "
                         "cells per axis")
    with held() as caught:   # issued only where this start is kept
        new_fl, new_sol = _split_fixed_point(fl, sol, sde, grid, scheme, tol, maxiter)
    if new_sol is sol or not new_sol.change <= SPLIT_RTOL:   # no pass made, or no fixed point from there
        return None
    for message, category in caught:
        warn(message, category)
    return new_fl, new_sol, (partner, coarse) if estimate else None


def _by_backend(backend: str, sde: SDE, grid: Grid, method: str, **kw: Any) -> StationaryResult:
    """The solve of another backend (:data:`BACKENDS`), after checking its arguments."""
    if backend == "scipy":
        raise ValueError(f"`gather={kw['gather']!r}` applies to backend='petsc'; the scipy backend returns the "
                         "whole density. Leave `gather` out.")
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be 'scipy' or one of {sorted(BACKENDS)}, got {backend!r}.")
    if method not in ("auto", "lu", "amg"):
        raise ValueError(f"backend={backend!r} solves by distributed LU or AMG: `method` must be 'auto' (LU), "
                         f"'lu' or 'amg', got {method!r}.")
    return BACKENDS[backend](sde, grid, method="amg" if method == "amg" else "lu", **kw)


def _solve(fl: Fluxes, sde: SDE, grid: Grid, method: str, scheme: str, tol: float, maxiter: int,
           guess: np.ndarray | None = None, loose: bool = False, reuse: _refined.Hierarchy | None = None,
           tentative: bool = False) -> _Solution:
    """One null-vector solve of ``fl.matrix`` by ``method`` (``"auto"``: see the module).
    ``guess``: AMG's starting density (the previous density-split pass's); ``None``:
    from a coarser grid. ``loose``: a density split follows, so AMG may stop at
    :data:`SPLIT_LOOSE_RTOL` without its bound (``sol.pending``; :func:`_certify` finishes
    it); for ``"auto"`` from :data:`SPLIT_AMG_FROM` cells where it would take GTH.
    ``reuse``: the previous pass's AMG hierarchy, for a loose solve (``refined.Hierarchy``).
    ``tentative``: where the loose AMG solve stops, no answer (``sol.p`` is ``None``)
    instead of a GTH or LU fallback (a density-split pass from an extrapolated density:
    the split takes the plain step instead, ``split.fixed_point``)."""
    A = fl.matrix
    sol = _Solution(method, monotone=is_metzler(A), asked=method)   # GTH and the certificate need a Markov generator
    if method in ("auto", "detailed_balance"):
        _try_detailed_balance(fl, sol, method)
    if sol.p is None and method == "auto":
        sol.used = _auto_method(fl, grid, sol.monotone)
    if sol.p is None and fl.longest_offset > 1:
        _check_connected(A, grid, fl.longest_offset)
    with one_blas_thread(grid.size):
        if sol.p is None and loose and sol.monotone and has_pyamg() and grid.ndim >= 2 and (
                sol.used == "amg" or (method == "auto" and sol.used == "gth" and grid.size >= SPLIT_AMG_FROM)):
            _try_loose(fl, sde, grid, scheme, tol, maxiter, sol, guess, reuse, tentative)
            if sol.p is None and tentative:
                return sol
        if sol.p is None and sol.used == "gth":
            _try_gth(A, grid, scheme, sol.monotone, sol)
        if sol.p is None and sol.used == "amg":
            _try_amg(fl, sde, grid, scheme, tol, maxiter, sol, guess)
        if sol.p is None:
            _solve_pinned(A, fl, sde, grid, tol, sol.monotone, sol)
    return sol


def _try_amg(fl: Fluxes, sde: SDE, grid: Grid, scheme: str, tol: float, maxiter: int, sol: _Solution,
             guess: np.ndarray | None) -> None:
    """AMG in the variables of a guess, with its bound on every cell's error
    (``refined.py``); GTH where that fails and GTH is affordable, else the uncertified
    answer (flagged by :func:`_finish`), else LU (``sol.used``)."""
    if not has_pyamg():
        raise ImportError("method='amg' needs pyamg: pip install pyamg (or fokkerplanck[amg]).")
    A = fl.matrix
    g = guess if guess is not None else _coarse_guess(fl, sde, grid, scheme, tol, maxiter)
    exact = sol.monotone and _gth_affordable(fl, grid)   # GTH to fall back on: give up as soon as the bound cannot certify
    out = _refined.null_vector(A, g, bounded=sol.monotone, rtol=tol, maxiter=maxiter, limit=LU_CONDITION_LIMIT,
                               give_up=exact)
    sol.iterations += out.iterations
    _accept(out, fl, grid, sol, exact)


def _accept(out: _refined.Refined, fl: Fluxes, grid: Grid, sol: _Solution, exact: bool) -> None:
    """An AMG answer with its bound: kept where certified; else GTH's where ``exact`` (GTH
    affordable), else kept and flagged by :func:`_finish`, else LU where there is none."""
    A = fl.matrix
    why, bound = out.why, certificate_bound(grid.size, grid.ndim)
    if out.p is not None and sol.monotone:
        sol.cert = certificate(A, out.p / np.abs(out.p).max())
        if sol.cert > bound:
            why = f"its componentwise certificate is {sol.cert:.1e} > {bound:.1e}"
        elif out.unbounded:
            why = f"no bound: {out.unbounded}"
        elif not out.bound <= LU_CONDITION_LIMIT:
            why = (f"its bound on every cell's relative error is {upward(out.bound)} > {LU_CONDITION_LIMIT:g}: the "
                   "split between metastable regions is not determined")
    if not why:
        sol.p, sol.bound = out.p, out.bound
        return
    if exact:
        sol.notes.append(f"AMG-GMRES ({out.iterations} iterations): {why}; fell back to GTH")
        sol.used, sol.cert, sol.amg_failed = "gth", None, True
        sol.p = _gth.factor(A, shape=grid.shape).null_vector()
    elif out.p is not None:
        sol.p, sol.bound = out.p, out.bound   # _finish flags it
        sol.notes.append(f"AMG-GMRES ({out.iterations} iterations): {why}")
    else:   # no answer: the caller solves by pinned LU (sol.p is None)
        sol.notes.append(f"AMG-GMRES stopped after {out.iterations} iterations ({why}); fell back to LU")
        sol.used, sol.cert, sol.p, sol.bound = "lu", None, None, None


#: Density-split passes reuse the AMG hierarchy of the solve before (``refined.Hierarchy``:
#: its coarse levels, with the pass's own matrix on the finest). Measured on fullcov3d at
#: 48^3, passes 2-5: 15-18 GMRES iterations per pass with the previous pass's whole
#: hierarchy, 11-12 with its finest level replaced, 12-13 with a fresh one (9.7 -> 8.4 s);
#: at 64^3 reusing also the first solve's (built in the variables of a coarse guess)
#: took 1-3 more iterations per pass and saved its setup, 20.1 -> 19.2 s; the rotational
#: double well at 512^2 the same within the noise (6.8-6.9 s). (Before the finest level
#: was replaced, reusing the first solve's cost 23-27 iterations per pass at 32^3 against
#: 10.)
SPLIT_REUSE = True

#: The GMRES tolerance of AMG solves that a density split follows (the first solve and
#: every pass): they only set the weights of the next pass; the last one goes on to
#: round-off and its bound (:func:`_certify`). The split itself stops at a change of
#: :data:`~fokkerplanck._solvers.split.SPLIT_RTOL` in ``log p``. Measured on the rotational double well at 512^2
#: (``error_estimate=False``): 1e-8 / 1e-6 / 1e-4 took 6.9 / 6.1 / 5.7 s, and the answers
#: of 1e-6 and 1e-4 differ from that of 1e-8 by 7.8e-10 and 8.3e-8 relative at most.
SPLIT_LOOSE_RTOL = 1e-6


def _try_loose(fl: Fluxes, sde: SDE, grid: Grid, scheme: str, tol: float, maxiter: int, sol: _Solution,
               guess: np.ndarray | None, reuse: _refined.Hierarchy | None = None, tentative: bool = False) -> None:
    """AMG to :data:`SPLIT_LOOSE_RTOL` (``sol.pending`` keeps the solve for :func:`_certify`),
    preconditioned by ``reuse`` (the previous pass's hierarchy) where given; where it stops,
    :func:`_accept` (GTH if affordable, else pinned LU): a full AMG solve from the same
    guess would stop the same way; no answer (``sol.p`` stays ``None``) where ``tentative``."""
    g = guess if guess is not None else _coarse_guess(fl, sde, grid, scheme, tol, maxiter)
    solve = _refined.Solve(fl.matrix, g, maxiter, reuse=reuse)
    p, why = solve.loose(SPLIT_LOOSE_RTOL)
    sol.used = "amg"
    sol.iterations += solve.iterations
    if p is not None and np.all(np.isfinite(p)):
        # where the loose error exceeds the value (far tails, q <= 0) the guess stands in:
        # this density only sets the next pass's weights (certification goes on from q)
        sol.p, sol.pending, sol.loose = np.where(p > 0, p, g), solve, True
    elif tentative:   # (no fallback: the caller says why in its notes)
        sol.notes.append(f"AMG-GMRES stopped after {solve.iterations} iterations ({why or 'non-finite values'})")
    else:
        stopped = _refined.Refined(None, math.inf, solve.iterations, why or "non-finite values")
        _accept(stopped, fl, grid, sol, sol.monotone and _gth_affordable(fl, grid))


def _certify(fl: Fluxes, sde: SDE, grid: Grid, scheme: str, tol: float, maxiter: int, sol: _Solution) -> None:
    """Make a loose AMG answer (``sol.loose``) an answer: on from it, in the same variables
    and with the same hierarchy (``sol.pending``), to round-off and the bound
    (:meth:`refined.Solve.certify`), then :func:`_accept`; a solve from scratch where the
    loose solve was let go (memory), pinned LU where AMG ends without an answer."""
    if not sol.loose:
        return
    solve, sol.pending, sol.loose = sol.pending, None, False
    exact = sol.monotone and _gth_affordable(fl, grid)
    with one_blas_thread(grid.size):
        if sol.metastable and exact:
            sol.notes.append("on the error estimate's grid AMG's bound could not certify (a metastable chain): "
                             "GTH answers the last pass")
            sol.used, sol.cert, sol.amg_failed = "gth", None, True
            sol.p = _gth.factor(fl.matrix, shape=grid.shape).null_vector()
            return
        if solve is None:
            again = _solve(fl, sde, grid, "amg", scheme, tol, maxiter, guess=sol.p)
            sol.p, sol.used, sol.cert, sol.bound = again.p, again.used, again.cert, again.bound
            sol.iterations += again.iterations
            sol.notes += again.notes
            sol.amg_failed = sol.amg_failed or again.amg_failed
            return
        before = solve.iterations
        out = solve.certify(tol, LU_CONDITION_LIMIT, give_up=exact)
        sol.iterations += out.iterations - before
        _accept(out, fl, grid, sol, exact)
        if sol.p is None:
            _solve_pinned(fl.matrix, fl, sde, grid, tol, sol.monotone, sol)


#: AMG's guess comes from a grid with half the cells per axis, solved in turn by AMG
#: down to this many cells, where GTH (LU for a non-monotone scheme) solves it.
GUESS_DIRECT = 2 ** 14

#: The GMRES tolerance of a guess's AMG solve, with no refinement: a guess only sets the
#: variables of the finer grid's solve, and differs from its answer by the discretization
#: anyway. Measured on the rotational double well at 1024^2 (``error_estimate=False``):
#: the 512^2 and 256^2 guesses took 11 and 10 GMRES iterations instead of 35 and 30 when
#: refined to round-off; the 1024^2 solves as many (12-18), the L1 error the same to 7
#: digits; 34.1 s -> 32.6 s (fullcov3d 64^3: 25.3 s -> 24.3 s).
GUESS_RTOL = 1e-6


def _coarse_guess(fl: Fluxes, sde: SDE, grid: Grid, scheme: str, tol: float, maxiter: int) -> np.ndarray:
    """AMG's guess: the density on a grid with half the cells per axis, interpolated in
    ``log p`` (:func:`_coarse_density`); ones where that grid cannot be solved."""
    p = _coarse_density(fl, sde, grid, scheme, tol, maxiter)
    return np.ones(grid.size) if p is None else p


def _coarse_density(fl: Fluxes, sde: SDE, grid: Grid, scheme: str, tol: float, maxiter: int
                    ) -> np.ndarray | None:
    """The density on a grid with half the cells per axis, with ``fl``'s conductance,
    interpolated in ``log p`` to ``grid`` (``refined.interpolate_log``), or ``None`` where
    that grid cannot be solved. No answer on that grid is certified, it only has to be
    positive: GTH up to :data:`GUESS_DIRECT` cells, a loose AMG solve (from its own coarse
    guess) above."""
    coarse = partner_grid(grid, coarsen=True)   # the error estimate's: None below 4 cells per axis
    if coarse is None:
        return None
    try:
        cfl = fluxes(sde, coarse, scheme=scheme, conductance=getattr(fl, "conductance", "sg"))
        A = cfl.matrix
        if not is_metzler(A):
            p = np.abs(_solve_lu(A, _pin_guess(cfl, sde, coarse))[0])
        elif coarse.size <= GUESS_DIRECT:
            p = _gth.factor(A, shape=coarse.shape).null_vector()
        else:
            g = _coarse_guess(cfl, sde, coarse, scheme, tol, maxiter)
            p = _refined.Solve(A, g, maxiter).loose(max(tol, GUESS_RTOL))[0]
            if p is not None and np.all(np.isfinite(p)):   # (a tail the loose error swamps: the guess's)
                p = np.where(p > 0, p, g)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError, RuntimeError):
        p = None
    if p is None or not np.all(np.isfinite(p)) or not np.any(p > 0):
        return None
    return _refined.interpolate_log(p, coarse, grid)


def _splittable(fl: Fluxes) -> bool:
    """Two-point Scharfetter–Gummel fluxes with edge potentials (the density split applies)."""
    return (isinstance(fl, TwoPointFluxes) and fl.edge_potential is not None and fl.conductance == "sg"
            and fl.scheme in ("sg", "sg2"))


def _split_fixed_point(fl: TwoPointFluxes, sol: _Solution, sde: SDE, grid: Grid, scheme: str, tol: float,
                       maxiter: int) -> tuple[TwoPointFluxes, _Solution]:
    """The density split's passes (``split.fixed_point``) from the first solve ``sol``,
    then the last pass certified where it is still loose; ``(fluxes, solution)`` of the
    pass returned, its notes those of every pass.

    Every pass is a solve by the method the first one used (AMG from
    :data:`SPLIT_AMG_FROM` cells after GTH). AMG passes are loose
    (:data:`SPLIT_LOOSE_RTOL`), preconditioned by the previous pass's hierarchy
    (:data:`SPLIT_REUSE`), and the last goes on from its answer to round-off and its bound
    (:func:`_certify`), so the answer is certified against its own generator like any
    other. Where the certified density differs from the loose one (a metastable chain),
    the passes go on certified: measured on the metastable torus at T = 0.05, 96^2, the
    loose passes' density was 1.7 off in log p; the answer's shallow-well mass 7e-5 from
    the fixed point (all-GTH passes: 7e-5; without this check: 1e-3).
    """
    n0 = len(sol.notes)
    first_notes = list(sol.notes)
    p = split_density(sol.p)
    passes, change = 0, math.inf
    if p is None:
        first_notes.append("the Scharfetter-Gummel density is not positive (negatives hold more than "
                           "1e-6 of the mass): no density split, the weights are Scharfetter-Gummel")
    backend = _SerialPasses(fl, sol, (sde, grid, scheme, tol, maxiter))
    if p is not None:
        passes, change = fixed_point(p, backend)
    fl, sol = backend.fl, backend.sol
    _certify(fl, sde, grid, scheme, tol, maxiter, sol)   # the last pass, where it is still loose
    sol.change = change
    if passes:
        state = "converged" if change <= SPLIT_RTOL else "not converged"
        note = f"conductance split by the density: {passes} passes, {state} (last change of log p {change:.1e})"
        sol.notes = [*first_notes, note, *backend.earlier, *sol.notes]
        if change > SPLIT_RTOL:
            warn(not_converged("stationary", passes, change, fluxes=True))
    else:   # the first solve's notes, and what its certification added
        sol.notes = [*first_notes, *sol.notes[n0:]]
        if p is not None:   # a split was due, and its first pass gave nothing to keep
            warn("stationary: the density split made no pass (its first pass gave a density that is not "
                 "positive): the density returned is Scharfetter-Gummel's (.fluxes.conductance == 'sg'), "
                 "exact for its generator but less accurate where the drift is not a gradient.")
    return fl, sol


class _SerialPasses:
    """The serial solver's density-split passes (``split.Backend``): one process; a pass
    is :func:`_solve_pass`, preconditioned by the current pass's (or the first solve's)
    AMG hierarchy (:data:`SPLIT_REUSE`). ``earlier``: the notes of the passes before the
    current one."""

    def __init__(self, base: TwoPointFluxes, sol: _Solution, args: tuple[SDE, Grid, str, float, int]) -> None:
        self.base, self.args = base, args
        self.fl, self.sol = base, sol   # the current pass (at first the first solve)
        self.passes = 0
        self.earlier: list[str] = []
        self.solved: tuple[TwoPointFluxes, _Solution] | None = None

    def total(self, a: np.ndarray) -> float:
        return float(a.sum())

    def largest(self, v: float) -> float:
        return v

    def bulk(self, p: np.ndarray) -> np.ndarray:
        return bulk_cells(p)

    def solve(self, used: np.ndarray, loose: bool, tentative: bool = False) -> tuple[np.ndarray | None, bool]:
        sol = self.sol
        reuse = sol.pending.hierarchy() if sol.pending is not None and SPLIT_REUSE else None
        sol.pending = None   # the rest of its solve is let go (memory: solved again if it must be certified),
        self.fl.forget_matrices()   # and its matrix (built again if it is needed)
        self.solved = _solve_pass(self.base, used, sol, *self.args, loose=loose, reuse=reuse, tentative=tentative)
        fl, new = self.solved
        p = split_density(new.p)
        if p is None:   # a pass that will not be kept (nor continued): its solve and matrix let go,
            new.pending = None   # and why, in the current pass's notes
            fl.forget_matrices()
            self.sol.notes += [f"split pass {self.passes + 1}: {m}" for m in new.notes]
        return p, new.loose

    def accept(self) -> None:
        assert self.solved is not None
        if self.passes:
            self.earlier += [f"split pass {self.passes}: {m}" for m in self.sol.notes]
        (self.fl, self.sol), self.solved = self.solved, None
        self.passes += 1

    def certify(self) -> np.ndarray | None:
        _certify(self.fl, *self.args, self.sol)
        return split_density(self.sol.p)

    def note(self, text: str) -> None:
        self.sol.notes.append(text)


def _solve_pass(base: TwoPointFluxes, used: np.ndarray, sol: _Solution, sde: SDE, grid: Grid, scheme: str,
                tol: float, maxiter: int, loose: bool = False, reuse: _refined.Hierarchy | None = None,
                tentative: bool = False) -> tuple[TwoPointFluxes, _Solution]:
    """``(fluxes, solution)``: one density-split pass from the weights of ``used``
    (certified unless ``loose``; ``reuse``: an AMG hierarchy to precondition it), by the
    method :func:`_split_method` picks after ``sol``; ``tentative`` (``used`` is
    extrapolated): a loose AMG solve that stops gives no answer (``new.p`` is ``None``)
    instead of falling back to GTH (see :func:`_solve`)."""
    fl = base.density_split(used)
    new = _solve(fl, sde, grid, _split_method(sol, grid), scheme, tol, maxiter, guess=used, loose=loose, reuse=reuse,
                 tentative=tentative)
    new.amg_failed, new.asked, new.metastable = new.amg_failed or sol.amg_failed, sol.asked, sol.metastable
    return fl, new


#: Where a density split follows, ``"auto"`` solves by AMG from this many cells on, also
#: where it would take GTH for one solve (2-D below :data:`AMG_FROM`), and passes after a
#: GTH solve go to AMG: every solve but the last stops at :data:`SPLIT_LOOSE_RTOL`
#: (it only sets the next pass's weights), the last goes on to round-off and its bound
#: (GTH where that cannot certify). Measured first (``error_estimate=False``, one run
#: each): rotational double well 2.0 s against GTH's 3.0 s at 256^2, 7.9 s against 12.1 s
#: at 512^2; the metastable torus, where the bound cannot certify, 3.9 s against 3.3 s at
#: 256^2. With the strength threshold of ``refined.RUGE_STUBEN`` (stop 27; default
#: ``stationary``, with the error estimate, one fresh process each), AMG against GTH:
#: rotational double well 0.27/0.17 s at 64^2, 0.21/0.28 at 96^2, 0.30/0.37 at 128^2,
#: 0.40/0.61 at 160^2, 0.53/0.84 at 192^2, 0.60/1.05 at 224^2; the metastable torus at
#: T = 0.1 (AMG passes, then GTH for the answer) 0.47/0.38 s at 128^2 (without the
#: estimate), 0.77/1.05 at 192^2, 1.39/1.10 at 224^2. Hence 2^15 cells (181^2; it was 2^16):
#: a third faster from there on where the bound certifies, up to a quarter slower where not.
SPLIT_AMG_FROM = 2 ** 15


def _split_method(sol: _Solution, grid: Grid) -> str:
    """The method of a density-split pass after the first (see :data:`SPLIT_AMG_FROM`):
    AMG after a GTH solve that ``"auto"`` or ``"amg"`` chose, on grids of 2-D and up,
    unless AMG has fallen back to GTH; else the first's."""
    if (sol.used == "gth" and not sol.amg_failed and sol.asked in ("auto", "amg") and sol.monotone
            and grid.ndim >= 2 and grid.size >= SPLIT_AMG_FROM and has_pyamg()):
        return "amg"
    return sol.used


@dataclass
class _Solution:
    """The state of one solve as it moves between methods."""

    used: str
    monotone: bool = True
    p: np.ndarray | None = None
    iterations: int = 0
    notes: list[str] = field(default_factory=list)
    kappa: float | None = None
    cert: float | None = None   # the certificate of ``p / max|p|``, when already computed
    bound: float | None = None  # AMG's bound on every cell's relative error
    amg_failed: bool = False    # AMG fell back to GTH (later density-split passes go to GTH directly)
    metastable: bool = False    # the partner grid's AMG could not certify: GTH answers the last pass at once
    pending: Any = None         # the loose AMG solve (refined.Solve) of ``p``, kept to go on from
    loose: bool = False         # ``p`` is a loose AMG answer: certified (_certify) before it is returned
    change: float = math.nan    # the density split's last change of log p (nan: no split)
    asked: str = "auto"         # the method the caller asked for


def _check_arguments(sde: SDE, grid: Grid, method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    check_problem(sde, grid)
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


def _try_detailed_balance(fl: Fluxes, sol: _Solution, method: str) -> None:
    psi = fl.potential()
    if psi is not None:
        sol.p, sol.used = np.exp(-(psi - psi.min())).ravel(), "detailed_balance"
    elif method == "detailed_balance":
        raise ValueError(
            "method='detailed_balance': the discrete rates do not satisfy detailed "
            "balance (the stationary state carries a current, or the scheme is not "
            "two-point); use method='auto'."
        )


def _try_gth(A: sp.csr_matrix, grid: Grid, scheme: str, monotone: bool, sol: _Solution) -> None:
    if not monotone:
        raise ValueError(
            f"method='gth' needs non-negative off-diagonal rates (a Markov generator), but "
            f"scheme={scheme!r} has negative ones; use scheme='sg' (or 'upwind'), or method='lu'."
        )
    try:
        sol.p = _gth.factor(A, shape=grid.shape).null_vector()
    except FloatingPointError as err:
        sol.notes.append(f"{err} Fell back to LU")
        sol.used = "lu"


def _solve_pinned(A: sp.csr_matrix, fl: Fluxes, sde: SDE, grid: Grid, tol: float, monotone: bool,
                  sol: _Solution) -> None:
    """LU or eigs, LU re-pinned where the first pin was a bad choice; eigs answers that
    fail the certificate are balanced, or replaced by GTH's where that is affordable."""
    notes = sol.notes
    k = _pin_guess(fl, sde, grid)
    for _ in range(2):
        lu: _Factors | None = None
        if sol.used == "lu":
            sol.p, lu = _solve_lu(A, k)
        else:
            sol.p = _solve_eigs(A, tol)
            break
        p: np.ndarray = sol.p
        if lu is None:
            # pinned where the density is (numerically) zero: try the cell with the
            # slowest exit, where the density of a metastable state concentrates
            notes.append(f"SuperLU found the system pinned at cell {k} exactly singular")
            k2 = int(np.argmin(np.abs(A.diagonal())))
            if k2 == k:
                break
            k = k2
            continue
        sol.kappa = _skeel_condition(lu[0], lu[1], lu[2], p[lu[3]])
        if p[k] >= 1e-8 * np.abs(p).max():
            break
        notes.append(f"re-pinned at the density maximum (pinned value was {p[k] / np.abs(p).max():.1e} of it)")
        k = int(np.argmax(p))
    if sol.used == "eigs" and monotone and sol.p is not None and np.all(np.isfinite(sol.p)):
        if sol.p.sum() < 0:
            sol.p = -sol.p
        sol.cert = certificate(A, sol.p / np.abs(sol.p).max())
        bound = certificate_bound(grid.size, grid.ndim)
        if sol.cert > bound:   # the tails of a normwise solve: balance sweeps first (cheaper than GTH)
            W, outflow = off_diagonal(A)
            p, cert, sweeps = balance(W, outflow, np.maximum(sol.p, 0.0) / np.abs(sol.p).max(), bound)
            if cert <= bound:
                notes.append(f"the {sol.used} answer failed the componentwise certificate ({sol.cert:.1e}); "
                             f"{sweeps} balance sweeps made it hold")
                sol.p, sol.cert = p, cert
        if sol.cert > bound and _gth_affordable(fl, grid):
            notes.append(f"the {sol.used} answer failed the componentwise certificate ({sol.cert:.1e}); "
                         "fell back to GTH")
            sol.used, sol.cert = "gth", None
            sol.p = _gth.factor(A, shape=grid.shape).null_vector()


def upward(x: float) -> str:
    """``x`` with two significant digits, rounded up (a bound printed is still a bound)."""
    if not math.isfinite(x) or x <= 0:
        return f"{x:.1e}"
    e = math.floor(math.log10(x))
    m = math.ceil(x / 10.0 ** e * 10.0 * (1 - 1e-15)) / 10.0
    if m >= 10.0:
        m, e = m / 10.0, e + 1
    return f"{m:.1f}e{e:+03d}"


def _gth_affordable(fl: Fluxes, grid: Grid) -> bool:
    """Whether the largest nested-dissection front stays below :data:`GTH_MAX_FRONT`."""
    front = grid.ndim * grid.size // min(grid.shape) * max(fl.longest_offset, 1)
    return grid.ndim <= 2 or front <= GTH_MAX_FRONT


#: ``"auto"`` takes AMG (with its error bound, GTH where the bound cannot certify) from
#: this many cells on, by dimension; GTH below. Measured on 2 cores (one run each,
#: ``benchmarks/bench_methods.py`` problems): 3-D rotating OU with a full covariance,
#: GTH / AMG 6.8 / 1.8 s at 32^3, 19 / 2.9 s at 40^3, 46 / 4.7 s (3.7 / 0.39 GB) at
#: 48^3; 2-D rotational double well, 5.5 / 4.4 s at 512^2 and 37 / 26 s at 1024^2 (with
#: the error estimate), too close at 512^2 to pay for a fallback on metastable problems.
#: Re-measured with the lower strength threshold of ``refined.RUGE_STUBEN`` (stop 27,
#: ``conductance="sg"``, with the estimate), AMG / GTH: rotational double well 0.65 / 0.72 s
#: at 256^2, 1.31 / 1.35 s at 362^2, 2.45 / 2.83 s at 512^2; the metastable torus at
#: T = 0.1 1.00 / 0.51, 2.35 / 1.76, 4.51 / 2.30 s. Still too close: kept.
AMG_FROM = {1: 2 ** 62, 2: 2 ** 19, 3: 2 ** 12, 4: 2 ** 12}


def _auto_method(fl: Fluxes, grid: Grid, monotone: bool) -> str:
    """Monotone schemes: AMG from :data:`AMG_FROM` cells on (pyamg installed), GTH below
    and where pyamg is missing, LU where neither; non-monotone schemes: LU."""
    if not monotone:
        return "lu"
    if has_pyamg() and (grid.size >= AMG_FROM[grid.ndim] or not _gth_affordable(fl, grid)):
        return "amg"
    return "gth" if _gth_affordable(fl, grid) else "lu"


def _finish(p: np.ndarray, A: sp.csr_matrix, fl: Fluxes, sde: SDE, grid: Grid, method: str,
            tol: float, iterations: int, seconds: float, notes: list[str],
            kappa: float | None, *, monotone: bool, lenient: bool = False,
            cert: float | None = None, error_bound: float | None = None) -> StationaryResult:
    if not np.all(np.isfinite(p)):
        why = ("SuperLU found the pinned system exactly singular: the density is numerically "
               "zero at the pinned cell, or the wells are numerically disconnected"
               if method == "lu" else "the solve produced non-finite values")
        res = StationaryResult(np.full(grid.shape, np.nan), grid, sde, np.inf, method, False,
                               why, fl.scheme, iterations, seconds, fl)
        raise ConvergenceError(
            f"stationary ({method}): {why}. Use method='gth' (or 'auto'), which needs no "
            "pinning and is accurate whatever the barrier.", res)
    if p.sum() < 0:
        p = -p
    pmax = np.abs(p).max()
    neg = p < 0
    worst = -p[neg].min() / pmax if neg.any() else 0.0
    if worst > 0:
        notes.append(f"clipped negatives down to {worst:.1e} of the maximum")
    raw = residual(A, p)
    if cert is None:   # else computed by the caller on this same p / pmax
        cert = certificate(A, p / pmax)   # before clipping: a negative density fails (r = 1)
    p = np.where(neg, 0.0, p)
    p = p / (p.sum() * grid.cell_volume)
    r = residual(A, p)
    bound = certificate_bound(grid.size, grid.ndim)
    if method == "detailed_balance":
        bound += 1e-10  # the tolerance of the Kolmogorov check in Fluxes.potential
    problems = []
    if monotone:
        if cert > bound:
            problems.append(
                f"componentwise certificate {cert:.1e} > {bound:.1e}: probability flow does not "
                "balance in some cell (a wrong tail or negative density)")
        if kappa is not None and kappa * np.finfo(float).eps > LU_CONDITION_LIMIT:
            problems.append(
                f"the pinned LU system has condition {kappa:.1e}: the split of mass between "
                "metastable regions is not determined by LU (the certificate cannot see it)")
        if error_bound is not None and not error_bound <= LU_CONDITION_LIMIT:
            problems.append(
                f"AMG's bound on every cell's relative error is {upward(error_bound)}: the split of mass between "
                "metastable regions is not determined by AMG (the certificate cannot see it)")
    elif raw > max(100 * tol, 1e-9) or worst > 1e-3:
        problems.append(f"residual {r:.1e} with negatives down to {worst:.1e} of the maximum; "
                        "the high-order scheme is not monotone: refine the grid until the density "
                        "is resolved, or use the monotone scheme='sg' (where the noise is singular "
                        "off the grid axes, see the generator's warning first)")
    ok = not problems
    if ok and method == "eigs":
        notes.append("certified cell by cell; the split between metastable wells is not "
                     "(use method='gth' for that)")
    if ok and method == "amg" and error_bound is not None and monotone:
        notes.append(f"every cell's relative error is at most {upward(error_bound)} (AMG's residual and one M-matrix "
                     "solve; cells whose density is a normal number), the split between metastable wells included")
    msg = "; ".join(notes) if notes else "converged"
    res = StationaryResult(p.reshape(grid.shape), grid, sde, cert if monotone else r, method, ok,
                           msg if ok else "; ".join(problems + notes),
                           fl.scheme, iterations, seconds, fl, r)
    if not ok:
        hint = (" Use method='gth' (or 'auto'): subtraction-free elimination, accurate whatever "
                "the barrier." if monotone else "")
        if monotone and not _gth_affordable(fl, grid):
            hint = (" Its nested-dissection fronts on this grid exceed GTH_MAX_FRONT cells: pass "
                    "method='gth' to pay for the certified solve, or use a coarser grid; the "
                    "uncertified answer is attached as .result.")
        if not lenient:
            raise ConvergenceError(f"stationary ({method}): " + "; ".join(problems) + "." + hint, res)
        warn(f"stationary ({method}): NOT certified (success=False): " + "; ".join(problems)
             + ". The certified (GTH) solve is too costly on this grid; the answer is the "
             "normwise solution, accurate where the density is not tiny unless the problem is "
             "metastable. Pass method='gth' to certify it.")
    # detailed balance reproduces exp(-psi) exactly: a steep density is then no error
    check_resolution(None if method == "detailed_balance" else fl, res.density, "stationary", grid=grid)
    return res
