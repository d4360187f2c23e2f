r"""Exit problems: mean first-passage times, quasi-stationary densities, survival
and escape rates (irreversibility of stationary states lives in
``_solvers.irreversibility``).

Exit problems need at least one absorbing side (``Grid(boundary=...)``, e.g.
``[("reflecting", "absorbing")]``). The generator ``A`` of
:func:`~fokkerplanck.generator` then loses mass through the absorbing half-edges
and is non-singular; ``-A`` is a non-singular M-matrix.

* The **mean first-passage time** ``tau(x) = E_x[T_exit]`` solves the backward
  equation ``L tau = -1`` with ``tau = 0`` on the absorbing walls. On the grid
  ``d/dt E[f(X_t)] = f^T A p``, so the backward generator is ``A^T`` and
  ``A^T tau = -1``: a subtraction-free chain elimination in 1-D, a forward GTH solve
  when the rates are in detailed balance (``A^T = Pi^{-1} A Pi``), sparse LU
  (checked) otherwise.
* The **quasi-stationary density** is the Perron eigenvector of ``A``: the
  eigenvalue ``lambda_0 < 0`` with the largest real part is real and simple and
  its eigenvector is positive (``A`` is Metzler and irreducible). The decay rate
  ``-lambda_0`` is returned with Collatz–Wielandt bounds that certify it (see
  :func:`quasi_stationary`), and ``1 / rate`` is the mean exit time started from the
  quasi-stationary density (exactly, also on the grid:
  ``<tau, q> = -<1, q> / lambda_0``).
* **Survival** ``S(t) = integral p(t)`` for a density evolved with the absorbing
  generator (:func:`~fokkerplanck.evolve`).

Quasi-stationary rates: how the certificate of :func:`quasi_stationary` is kept
-------------------------------------------------------------------------------

**Iteration.** Inverse iteration ``x <- M^{-1} x`` converges like
``(mu_0 / mu_1)^k``: fast for a metastable well (``mu_0 << mu_1``), hopeless
for strong drift, where the spectrum clusters (``mu_0 ~ v^2 / (4 D)`` with
gaps ``~ D pi^2``: ``mu_0 / mu_1 = 1 - 3e-5`` for ``v = 1000``). There the
shift is the current lower bound ``s`` (Noda's iteration): ``M - s I`` is
still a non-singular M-matrix, the iterates stay positive, and the bounds
converge superlinearly (7–8 sparse LU factorizations for ``v`` up to 1000 in
1-D and 2-D). Shifted solves by LU are accurate only while
``eps max|a_ii| / rate`` is small; below that (high barriers) only unshifted
iterations with the subtraction-free solver are used.

**Scaling.** The density varies like ``exp(-psi)`` with the edge potential
``psi`` of the scheme (``exp(2 v x / sigma^2)`` for a drift ``v``: beyond
float64 at ``v = 355``). Every solve works in the symmetrized frame
``S^{-1} A S``, ``S = diag(exp(-psi / 2))``, whose entries are
``sqrt(a_ij a_ji)`` for reversible rates (``psi`` is the least-squares fit
of ``log(a_ij / a_ji)`` over the edges, exact in 1-D and for detailed
balance), and iterates are kept as logarithms: the eigenvector of the
constant drift is ``sin(pi x)`` there, and nothing overflows. The bounds are
invariant under the similarity.

**Accuracy of the bounds.** In 1-D the solves use Grassmann–Taksar–Heyman
elimination of the chain in the frame of the current iterate (only sums and
products of non-negative numbers): componentwise accurate to ``O(n eps)``,
whatever the barrier, so the interval is a certificate (widened by
``4 n eps``). In 2-D and 3-D sparse LU is used and the interval is widened by
``10 eps max|a_ii| / lower``, an estimate of LU's round-off; beyond
``eps max|a_ii| / rate > rtol`` it is not narrow and ``success`` is False.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._discretization.fluxes import TwoPointFluxes
from .._discretization.generator import check_problem, fluxes
from .._model.grid import Grid
from .._model.sde import SDE
from .._util.deprecation import renamed_keywords
from .._util.errors import ConvergenceError, warn
from .._util.linalg import factorize as _splu
from .._util.summary import Summary, Text
from .._util.validate import positive, show
from .estimate import ORDER, estimate_error
from .evolve import evolve
from .gth import factor as _gth_factor  # tests set it to None to check the LU path
from .resolution import check_resolution

__all__ = [
    "EscapeRate",
    "ExitTime",
    "QuasiStationary",
    "escape_rate",
    "exit_time",
    "quasi_stationary",
    "survival",
]

#: ``max tau * max|a_ii|`` above which :func:`exit_time` (n-D, sparse LU) verifies its
#: answer against the quasi-stationary identity.
ILL_CONDITIONED = 1e9


# ---------------------------------------------------------------- input checks
def _check_sde_grid(sde: Any, grid: Any, who: str) -> None:
    check_problem(sde, grid)
    if sde.time_dependent:
        raise ValueError(
            f"`{who}` needs a time-independent SDE, but this one was built with "
            "`time_dependent=True`; exit times of a moving drift depend on the start time. "
            "Use fp.evolve with an absorbing grid and watch `Evolution.mass`."
        )


def _need_absorbing(grid: Grid, who: str) -> None:
    if not grid.has_absorbing:
        raise ValueError(
            f"`{who}` needs a grid with at least one absorbing side, but `grid.boundary` is "
            f"{list(grid.boundary)}: nothing ever exits, so exit times are infinite. Make a "
            "side absorbing, e.g. fp.Grid(bounds, shape, boundary=[('reflecting', "
            "'absorbing')]) in 1-D (reflecting below, absorbing above)."
        )


def _lu(M: sp.spmatrix, what: str) -> Any:
    """evolve's SuperLU (MMD ordering of A + A^T), a singular factor explained."""
    try:
        return _splu(M)
    except RuntimeError as err:  # "Factor is exactly singular"
        raise ConvergenceError(
            f"{what}: the generator is singular ({err}); some cells cannot reach an absorbing "
            "wall (a very anisotropic stencil can split the grid). Refine the grid or "
            "check the boundaries."
        ) from None


# ------------------------------------------------------------------ exit time
@dataclass(frozen=True, eq=False, repr=False)
class ExitTime(Summary):
    """Mean first-passage times and how far to trust them; returned by
    ``exit_time(..., full_output=True)``.

    Attributes
    ----------
    time : ndarray, ``grid.shape``
        ``tau`` at the cell centres, ``>= 0`` (what ``exit_time`` returns by default).
    grid : Grid
    residual : float
        Componentwise relative residual of the backward equation ``A^T tau = -1``:
        ``max_i |(A^T tau)_i + 1| / ((|A|^T tau)_i + 1)``, each cell's imbalance
        against the rates flowing through it (round-off, ``~1e-16`` to ``1e-13``, for
        an accurate solve at any barrier). A small residual is necessary, not
        sufficient: at a high barrier plain sparse LU's answer has a residual of
        ``1e-16`` and is wrong by 100 %. Accuracy there comes from ``method``: the
        subtraction-free solves are componentwise accurate, and LU answers with
        ``max tau * max|a_ii| > 1e9`` are re-solved by the h-transform or checked
        against ``<tau, q> = 1 / rate`` (a ``ConvergenceError`` when that fails).
    method : str
        ``"chain"`` (1-D, subtraction-free elimination), ``"gth"`` (detailed
        balance, forward GTH solve), ``"h-transform"`` (Doob's h-transform, GTH) or
        ``"lu"`` (sparse LU).
    success : bool
        ``residual <= 1e-8`` (answers the method cannot certify raise instead).
    message : str
    error_estimate : float
        Estimated relative L1 discretization error ``integral |tau_h - tau| dx /
        integral tau_h dx`` against the continuous mean exit time, from one more
        solve on a partner grid (Richardson, see :func:`~fokkerplanck.estimate_error`);
        ``inf`` when there is no partner grid, ``nan`` when not asked for.

    Examples
    --------
    Brownian motion on ``[0, 1]``, absorbed at both ends: ``tau = x (1 - x)``.

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=50, boundary="absorbing")
    >>> et = fp.exit_time(fp.brownian(1.0), grid, full_output=True)
    >>> x = grid.centers[0]
    >>> true = grid.integrate(np.abs(et.time - x * (1 - x))) / grid.integrate(x * (1 - x))
    >>> et.success, et.method, bool(true / 3 < et.error_estimate < 3 * true)
    (True, 'chain', True)
    """

    time: np.ndarray
    grid: Grid
    residual: float
    method: str
    success: bool
    message: str
    error_estimate: float = math.nan

    _error_meaning = "relative L1 norm of the exit time's discretization error"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("method", self.method), ("grid", self.grid), ("max_time", float(self.time.max())),
                ("residual", self.residual)]


#: :attr:`ExitTime.success` needs ``residual`` at most this.
EXIT_TIME_RESIDUAL = 1e-8


def exit_time(sde: SDE, grid: Grid, *, scheme: str = "sg", full_output: bool = False,
              error_estimate: bool = True) -> Any:
    r"""Mean first-passage time ``tau(x)`` to the absorbing sides of ``grid``.

    Parameters
    ----------
    sde : SDE
        Time-independent.
    grid : Grid
        With at least one absorbing side (others reflecting or periodic).
    scheme : {"sg", "upwind"}
        Discretization of :func:`~fokkerplanck.generator` (monotone schemes only).
    full_output : bool
        Return an :class:`ExitTime` (``time``, ``residual``, ``method``,
        ``success``, ``message``, ``error_estimate``) instead of the array.
    error_estimate : bool
        With ``full_output``: also solve on a partner grid (1-D: three times the
        cells; else half per axis) for :attr:`ExitTime.error_estimate` (default).

    Returns
    -------
    ndarray, shape ``grid.shape``, or ExitTime
        ``tau`` at the cell centres, ``>= 0``; with ``full_output=True`` the
        :class:`ExitTime` holding it.

    Raises
    ------
    ValueError
        No absorbing side; a time-dependent SDE; mismatched dimensions; a
        non-monotone ``scheme``.
    TypeError
        ``sde`` or ``grid`` of the wrong type.
    ConvergenceError
        The generator is singular (some cells cannot reach an absorbing wall).

    Notes
    -----
    ``tau`` solves the backward Kolmogorov equation

    .. math:: \mu\cdot\nabla\tau + \tfrac12 C : \nabla\nabla\tau = -1, \qquad
              \tau = 0 \text{ on absorbing walls},

    (zero normal derivative at reflecting walls). The backward generator of the
    grid chain is the transpose of the Fokker–Planck generator ``A``, so
    ``A^T tau = -1``. In 1-D it is solved by subtraction-free elimination of the
    chain (componentwise accurate however high the barrier). In 2-D and 3-D, when
    the rates satisfy detailed balance with ``pi = exp(-psi)`` (Langevin problems with
    diagonal noise), ``A^T = Pi^{-1} A Pi`` turns it into the forward solve
    ``-A (Pi tau) = pi`` with a non-negative right-hand side, done by the
    subtraction-free GTH elimination (componentwise accurate as well); otherwise by
    sparse LU, whose answer is checked against ``<tau, q> = 1 / rate`` when
    ``max tau * max|a_ii| > 1e9`` (a ``ConvergenceError`` when it fails). The
    absorbing wall sits half a cell beyond the last centre; the scheme is second
    order in ``h``.

    Examples
    --------
    Brownian motion ``dx = dB`` on ``[0, 1]``, reflecting at 0, absorbing at 1:
    ``tau(x) = 1 - x^2``.

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=100, boundary=[("reflecting", "absorbing")])
    >>> tau = fp.exit_time(fp.brownian(1.0), grid)
    >>> x = grid.centers[0]
    >>> bool(np.abs(tau - (1 - x**2)).max() < 1e-4)   # second order: h^2 / 4 here
    True

    With ``full_output=True``, a certificate and an error estimate come along:

    >>> et = fp.exit_time(fp.brownian(1.0), grid, full_output=True)
    >>> et.success, bool(et.residual < 1e-12), bool(et.error_estimate < 1e-4)
    (True, True, True)
    """
    tau, method, fl = _exit_time(sde, grid, scheme)
    if not full_output:
        return tau
    A = fl.matrix
    t = tau.ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        residual = float(np.max(np.abs(A.T @ t + 1.0) / (abs(A).T @ t + 1.0)))
    success = bool(residual <= EXIT_TIME_RESIDUAL)
    message = (f"backward equation A^T tau = -1 solved by {method}; componentwise residual "
               f"{residual:.2g}" + ("" if success else f" > {EXIT_TIME_RESIDUAL:g}: not accurate"))
    res = ExitTime(tau, grid, residual, method, success, message)
    if error_estimate:
        est = estimate_error(lambda g: _exit_time(sde, g, scheme)[0], grid, order=ORDER[scheme], value=tau)
        res = replace(res, error_estimate=float(est.relative))
    return res


def _exit_time(sde: SDE, grid: Grid, scheme: str) -> tuple[np.ndarray, str, Any]:
    """:func:`exit_time`'s solve: ``(tau of grid.shape, method, fluxes)``."""
    _check_sde_grid(sde, grid, "exit_time")
    _need_absorbing(grid, "exit_time")
    if scheme == "highorder":
        raise ValueError(
            "`scheme='highorder'` is not monotone and has no absorbing walls; use "
            "scheme='sg' (default) or 'upwind' for exit times."
        )
    fl = fluxes(sde, grid, scheme=scheme)
    A = fl.matrix
    lu = None
    if grid.ndim == 1 and isinstance(fl, TwoPointFluxes):
        tau, method = _exit_time_chain(fl), "chain"
    else:
        reversible = _exit_time_reversible(fl)
        if reversible is None:
            lu = _lu(A.T, "exit_time")
            tau, method = lu.solve(-np.ones(grid.size)), "lu"
        else:
            tau, method = reversible, "gth"
    if not np.all(np.isfinite(tau)):
        raise ConvergenceError(
            "exit_time: the mean exit time overflows float64 (it grows like exp(barrier / "
            "temperature); a barrier of more than ~700 temperatures exits after more than "
            "1e300 time units). Lower the barrier or raise the noise.", tau.reshape(grid.shape))
    top = float(np.abs(tau).max())
    if tau.min() < -1e-8 * top:
        raise ConvergenceError(
            f"exit_time: negative mean exit times (down to {tau.min():.3g}); the scheme is not "
            "monotone here.", tau.reshape(grid.shape))
    tau = np.maximum(tau, 0.0)
    if lu is not None and top * np.abs(A.diagonal()).max() > ILL_CONDITIONED:
        tau_h = _exit_time_h_transform(fl)
        if tau_h is None:
            _check_ill_conditioned(fl, lu, tau)
        else:
            tau, method = tau_h, "h-transform"
    check_resolution(fl, None, "exit_time", density=False)  # tau matters in every cell
    return tau.reshape(grid.shape), method, fl


class _Chain:
    """Solves with ``-A`` and ``-A^T`` of a 1-D chain by Grassmann–Taufer–Heyman elimination.

    With right rates ``b_i``, left rates ``d_i`` and wall rates ``o_i`` (``-A`` has
    diagonal ``b_i + d_i + o_i``), eliminating from the left keeps every pivot as
    ``piv_i = b_i + L_i`` with the leak ``L_i = o_i + d_i L_{i-1} / piv_{i-1}`` (what the
    eliminated cells lose other than to the right). Every operation adds or multiplies
    non-negative numbers, so solutions are accurate to a few ulps *componentwise*,
    even when they grow like ``exp(barrier / T)`` or their entries span hundreds of
    orders of magnitude — where plain LU of the nearly singular ``A`` loses every digit.
    """

    def __init__(self, fl: Any) -> None:
        n = fl.grid.size
        b, d, o = np.zeros(n), np.zeros(n), np.zeros(n)
        inner = fl.head >= 0
        t, h = fl.tail[inner], fl.head[inner]
        if np.any(h != t + 1):  # pragma: no cover - 1-D absorbing grids have only +1 edges
            raise ConvergenceError("exit problems: unexpected edge structure in 1-D.")
        b[t] = fl.forward[inner]
        d[h] = fl.backward[inner]
        np.add.at(o, fl.tail[~inner], fl.forward[~inner])
        piv = np.empty(n)
        with np.errstate(all="ignore"):
            L = o[0]
            piv[0] = b[0] + L
            for i in range(1, n):
                L = o[i] + d[i] / piv[i - 1] * L
                piv[i] = b[i] + L
        self.b, self.d, self.piv, self.n = b.tolist(), d.tolist(), piv.tolist(), n
        self.b_arr, self.d_arr = b, d

    def frame_solve(self, ell: np.ndarray) -> tuple[np.ndarray, bool]:
        """``z = (M^{-1} e^ell) / e^ell`` for ``M = -A``, in the frame ``diag(e^ell)``.

        The pivots do not change under a diagonal similarity; the off-diagonals
        become ``b_k e^(ell_k - ell_{k+1})`` and ``d_{k+1} e^(ell_{k+1} - ell_k)``, so a
        vector spanning far more than float64's range is solved for without
        overflow (the frame of the current iterate keeps ``z`` near ``1 / rate``).
        Returns ``z`` and whether it is clean (positive, finite, no entry clipped).
        """
        de = np.diff(np.asarray(ell, dtype=float))
        with np.errstate(divide="ignore"):
            eb = np.log(self.b_arr[:-1]) - de
            ed = np.log(self.d_arr[1:]) + de
        clipped = bool(max(eb.max(initial=-np.inf), ed.max(initial=-np.inf)) > 709.0)
        bt = np.exp(np.minimum(eb, 709.0)).tolist()
        dt = np.exp(np.minimum(ed, 709.0)).tolist()
        piv, n = self.piv, self.n
        y = [1.0] * n
        x = [0.0] * n
        try:
            for i in range(1, n):
                y[i] = 1.0 + bt[i - 1] / piv[i - 1] * y[i - 1]
            x[-1] = y[-1] / piv[-1]
            for i in range(n - 2, -1, -1):
                x[i] = (y[i] + dt[i] * x[i + 1]) / piv[i]
        except ZeroDivisionError:  # a pivot underflowed: rates below 1e-308
            return np.full(n, np.nan), False
        z = np.array(x)
        clean = bool(not clipped and np.all(np.isfinite(z)) and z.min() > 0)
        return z, clean

    def backward(self, rhs: np.ndarray) -> np.ndarray:
        """``x`` with ``-A^T x = rhs`` (``rhs >= 0``)."""
        b, d, piv, n = self.b, self.d, self.piv, self.n
        y = [0.0] * n
        y[0] = float(rhs[0])
        for i in range(1, n):
            y[i] = float(rhs[i]) + d[i] / piv[i - 1] * y[i - 1]
        x = [0.0] * n
        x[-1] = y[-1] / piv[-1]
        for i in range(n - 2, -1, -1):
            x[i] = (y[i] + b[i] * x[i + 1]) / piv[i]
        return np.array(x)

    def forward(self, rhs: np.ndarray) -> np.ndarray:
        """``x`` with ``-A x = rhs`` (``rhs >= 0``)."""
        b, d, piv, n = self.b, self.d, self.piv, self.n
        y = [0.0] * n
        y[0] = float(rhs[0])
        for i in range(1, n):
            y[i] = float(rhs[i]) + b[i - 1] / piv[i - 1] * y[i - 1]
        x = [0.0] * n
        x[-1] = y[-1] / piv[-1]
        for i in range(n - 2, -1, -1):
            x[i] = (y[i] + d[i + 1] * x[i + 1]) / piv[i]
        return np.array(x)


def _exit_time_chain(fl: Any) -> np.ndarray:
    """``tau`` of a 1-D grid, componentwise accurate (see :class:`_Chain`)."""
    try:
        return _Chain(fl).backward(np.ones(fl.grid.size))
    except (ZeroDivisionError, OverflowError):
        return np.full(fl.grid.size, np.inf)


def _exit_time_reversible(fl: Any) -> np.ndarray | None:
    """``tau`` by one subtraction-free GTH solve when the rates satisfy detailed balance.

    With ``a_ij pi_j = a_ji pi_i`` (``pi = exp(-psi)``, the absorbing walls only add to
    the diagonal) the backward generator is similar to the forward one,
    ``A^T = Pi^{-1} A Pi``, so ``-A^T tau = 1`` becomes ``-A (Pi tau) = pi``: a forward
    solve with a non-negative right-hand side, componentwise accurate (``O(n eps)``)
    whatever the barrier. ``None`` when GTH is not available, the rates are not
    reversible, or ``pi`` spans more than float64 holds.
    """
    if _gth_factor is None:
        return None
    A = sp.csr_matrix(fl.matrix)
    pairs = _edge_pairs(A)
    i, j, g = pairs
    if not np.all(np.isfinite(g)):
        return None
    psi = _scaling_potential(A, pairs)
    if np.ptp(psi) > _GTH_RANGE or np.any(np.abs(psi[j] - psi[i] - g) > 1e-10 * (1.0 + np.abs(g))):
        return None
    try:
        y = _gth_factor(A, leak=_leak(fl), shape=fl.grid.shape).solve(np.exp(-psi))
    except (ValueError, RuntimeError, MemoryError):  # pragma: no cover - LU path instead
        return None
    with np.errstate(over="ignore"):
        return y * np.exp(psi)


def _exit_time_h_transform(fl: Any) -> np.ndarray | None:
    """``tau`` for rates without detailed balance, subtraction-free, via Doob's h-transform.

    With an accurate solve ``y = M^{-1} x`` of the certified quasi-stationary iteration
    (``M = -A``), ``B = Y M^T Y^{-1}`` (``Y = diag(y)``) has off-diagonals
    ``-a_ji y_i / y_j <= 0`` and column sums ``(M y)_j / y_j = x_j / y_j > 0``, known
    without cancellation: ``-B`` is a sub-generator with that leak, and
    ``M^T tau = 1`` becomes ``B (Y tau) = y``, one GTH solve with a non-negative
    right-hand side. ``None`` when GTH or a certified iterate is not available, or
    ``y`` spans more than float64 holds.
    """
    if _gth_factor is None:
        return None
    try:
        pr = _perron_root(fl, 1e-9, 300)
    except ConvergenceError:
        return None
    if pr.ratios is None or np.ptp(pr.ell) > _GTH_RANGE:
        return None
    ell = pr.ell
    C = sp.coo_matrix(sp.csr_matrix(fl.matrix).T)
    off = C.row != C.col
    with np.errstate(divide="ignore"):
        e = np.log(C.data[off]) + ell[C.row[off]] - ell[C.col[off]]
    if e.size and e.max() > 709.0:
        return None
    W = sp.csr_matrix((np.exp(e), (C.row[off], C.col[off])), shape=C.shape)
    y = np.exp(ell - ell.max())
    try:
        u = _gth_factor(W, leak=pr.ratios, shape=fl.grid.shape).solve(y)
    except (ValueError, RuntimeError, MemoryError):  # pragma: no cover - LU verdict instead
        return None
    with np.errstate(all="ignore"):
        tau = u / y
    return tau if np.all(np.isfinite(tau)) and tau.min() >= 0 else None


def _check_ill_conditioned(fl: Any, lu: Any, tau: np.ndarray) -> None:
    """Refuse ``tau`` that LU cannot resolve: ``<tau, q> = 1 / rate`` must hold.

    Called when ``max tau * max|a_ii|`` (a lower bound on the condition number of
    ``A``) is large. ``q`` comes from inverse iteration with the same LU and the rate
    from the outflow of ``q`` (no cancellation), both accurate in that regime.
    """
    q = _inverse_iteration(lambda v: -lu.solve(v, trans="T"), np.ones(tau.size), 100)
    rate = _outflow_rate(fl, q)
    if rate <= 0 or not math.isfinite(rate):
        return
    mismatch = abs(float(np.dot(tau, q) / q.sum()) * rate - 1.0)
    if mismatch > 1e-6:
        raise ConvergenceError(
            f"exit_time: the linear system is too ill-conditioned for sparse LU (max tau = "
            f"{tau.max():.3g} against rates up to {np.abs(fl.matrix.diagonal()).max():.3g}; an "
            f"exact identity with the quasi-stationary density fails by {mismatch:.1e}). The "
            "barrier is too high for double precision: use fp.quasi_stationary(...).mean_exit_time "
            "(accurate here), lower the barrier, or solve the problem in 1-D.", tau.reshape(fl.grid.shape))


def _inverse_iteration(solve: Any, v: np.ndarray, maxiter: int, tol: float = 1e-13) -> np.ndarray:
    """Perron vector of ``-A^{-1}`` (entrywise non-negative) by inverse iteration."""
    v = np.maximum(v, 0.0)
    v = v / v.sum()
    for _ in range(maxiter):
        w = np.maximum(solve(v), 0.0)
        total = float(w.sum())
        if not (math.isfinite(total) and total > 0):
            raise ConvergenceError(
                "quasi_stationary: inverse iteration overflowed: the mean exit time exceeds "
                "1e300 (escape is too slow for double precision). Lower the barrier or raise the noise.")
        w = w / total
        change = float(np.abs(w - v).sum())
        v = w
        if change < tol:
            break
    return v


def _outflow_rate(fl: Any, q: np.ndarray) -> float:
    """``-lambda = (outflow through absorbing walls) / mass`` for an eigenvector ``q``.

    ``1^T A q = lambda 1^T q`` and the columns of ``A`` sum to minus the wall rates, so
    the rate is a ratio of sums of non-negative terms: accurate even when it is far
    below the round-off of ``A``'s entries (high barriers).
    """
    return float(np.dot(_leak(fl), q) / q.sum())


# ------------------------------------------------------------ quasi-stationary
@dataclass(frozen=True, eq=False, repr=False)
class QuasiStationary(Summary):
    """The quasi-stationary density and its decay rate, with a certified interval.

    Attributes
    ----------
    density : ndarray, ``grid.shape``
        The density conditioned on survival (the Perron eigenvector of ``A``),
        ``>= 0`` and normalised: ``grid.integrate(density) == 1``.
    rate : float
        Decay rate ``-lambda_0 > 0``: surviving mass decays like ``exp(-rate t)``.
    eigenvalue : float
        ``lambda_0 = -rate``, the principal eigenvalue of the generator.
    grid : Grid
    residual : float
        ``||A q - lambda_0 q||_inf / (max|a_ii| max q)`` in the symmetrized frame
        (see Notes of :func:`quasi_stationary`).
    method : str
        How the Collatz–Wielandt bounds were computed: ``"chain"`` (1-D,
        subtraction-free elimination: componentwise accurate, the interval is
        certified) or ``"lu"`` (sparse LU; the interval includes an estimate of
        LU's round-off, ``10 eps max|a_ii| / rate``).
    rate_bounds : ndarray, shape ``(2,)``
        ``[lower, upper]`` with ``lower <= rate_exact <= upper`` for the discrete
        generator (Collatz–Wielandt bounds of the final iterate, widened by the
        solver's round-off).
    success : bool
        ``(upper - lower) <= tol * lower``: the interval is as narrow as asked.
    message : str
        What was certified, or why not.
    iterations : int
        Linear solves used.
    error_estimate : float
        Estimated relative discretization error of ``rate``, from the rate on a
        partner grid (Richardson, see :func:`~fokkerplanck.estimate_error`); ``nan``
        when not asked for.

    Examples
    --------
    Brownian motion (``D = 1/2``) on ``[0, 1]`` absorbed at both ends decays at rate
    ``D pi^2``:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> qs = fp.quasi_stationary(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=400, boundary="absorbing"))
    >>> round(qs.rate, 4), round(0.5 * np.pi**2, 4), qs.success
    (4.9348, 4.9348, True)
    >>> bool(qs.rate_bounds[0] <= qs.rate <= qs.rate_bounds[1])
    True
    """

    density: np.ndarray
    rate: float
    eigenvalue: float
    grid: Grid
    residual: float
    method: str
    rate_bounds: np.ndarray
    success: bool
    message: str
    iterations: int = 0
    error_estimate: float = math.nan

    @property
    def mean_exit_time(self) -> float:
        """``1 / rate``: mean exit time when started from the quasi-stationary density."""
        return 1.0 / self.rate

    def survival(self, t: Any) -> np.ndarray:
        """``exp(-rate t)``: survival of the quasi-stationary density after time ``t``."""
        return np.exp(-self.rate * np.asarray(t, dtype=float))

    _error_meaning = "relative error of the rate"

    def _summary_items(self) -> list[tuple[str, Any]]:
        lo, hi = (float(b) for b in self.rate_bounds)
        return [("rate", Text(f"{self.rate:.10g} in [{lo:.10g}, {hi:.10g}]")),
                ("mean_exit_time", self.mean_exit_time), ("method", self.method), ("grid", self.grid)]


@renamed_keywords(tol="rtol")
def quasi_stationary(sde: SDE, grid: Grid, *, scheme: str = "sg", rtol: float = 1e-9,
                     maxiter: int = 300, error_estimate: bool = True) -> QuasiStationary:
    r"""Quasi-stationary density and decay rate with absorbing sides, with certified bounds.

    Parameters
    ----------
    sde : SDE
        Time-independent.
    grid : Grid
        With at least one absorbing side.
    scheme : {"sg", "upwind"}
        Discretization of :func:`~fokkerplanck.generator`.
    rtol : float
        Relative width of the certified interval ``rate_bounds`` asked for:
        ``success`` is ``(upper - lower) <= rtol * lower`` (formerly ``tol=``, accepted
        for one release with a :class:`DeprecationWarning`). Round-off limits it to
        about ``1e-12`` (1-D) and ``10 eps max|a_ii| / rate`` (LU).
    maxiter : int
        Largest number of inverse iterations without a shift.
    error_estimate : bool
        Also solve on a partner grid (1-D: three times the cells; else half per
        axis) and report the rate's estimated relative error (default).

    Returns
    -------
    QuasiStationary
        ``rate``, ``rate_bounds``, ``success``, ``message`` and ``error_estimate``
        say how far the rate can be trusted.

    Raises
    ------
    ValueError
        No absorbing side; a time-dependent SDE; a non-positive ``rtol``; a
        ``maxiter`` below 1.
    ConvergenceError
        No positive lower bound could be certified: escape is too slow for double
        precision (the rate underflows), or the scheme is not monotone.

    Warns
    -----
    FokkerPlanckWarning
        ``success`` is False; or the cell Péclet number exceeds 10 on an edge
        where the density lives (the grid under-resolves the drift: the discrete
        rate is still certified, its discretization error may be large).

    Notes
    -----
    With absorbing sides ``M = -A`` is a non-singular M-matrix (``M^{-1} >= 0``
    entrywise; ``A`` loses mass through the absorbing half-edges). By
    Perron–Frobenius its smallest eigenvalue ``mu_0 = -lambda_0`` is real and
    simple, with a positive eigenvector ``q``, and for **every** positive ``x``
    (Collatz–Wielandt)

    .. math:: \min_i \frac{x_i}{(M^{-1}x)_i} \le \mu_0 \le \max_i \frac{x_i}{(M^{-1}x)_i}.

    The bounds become equal at ``x = q``, so an iterate converging to ``q``
    brackets the rate ever more tightly, and the bracket is a certificate
    whenever ``M^{-1}x`` is accurate *componentwise*.

    How the iterates are shifted, scaled and solved so that the interval is a
    certificate at any barrier height or drift: the module notes (``fokkerplanck._solvers.exits``).

    ``rate`` is the last shifted lower bound (strong drift) or the outflow of the
    iterate through the absorbing walls divided by its mass (a ratio of sums of
    non-negative numbers, inside the bounds). For a high barrier it is the escape
    (Kramers) rate: ``1 / rate`` is the mean exit time from the well bottom up to
    ``O(exp(-barrier / T))``.

    Examples
    --------
    Brownian motion ``dx = dB`` on ``[0, 1]`` absorbing at both ends: the decay rate
    is ``pi^2 / 2`` and the density ``(pi / 2) sin(pi x)``.

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=200, boundary="absorbing")
    >>> q = fp.quasi_stationary(fp.brownian(1.0), grid)
    >>> round(q.rate / (np.pi**2 / 2), 4)
    1.0

    A drift of 1000 towards the wall (the density spans ``e^1000``):

    >>> sde = fp.SDE(drift=lambda x: 1000.0 + 0 * x, sigma=1.0)
    >>> q = fp.quasi_stationary(sde, fp.Grid(bounds=[(0, 1)], shape=1600, boundary="absorbing"))
    >>> q.success, bool(q.rate_bounds[0] <= q.rate <= q.rate_bounds[1])
    (True, True)
    >>> round(q.rate / (1000.0**2 / 2 + np.pi**2 / 2), 2)   # continuum v^2/2 + pi^2/2, to O(h^2)
    0.97
    """
    qs = _quasi_stationary(sde, grid, scheme, rtol, maxiter)
    if error_estimate:
        est = estimate_error(lambda g: _quasi_stationary(sde, g, scheme, rtol, maxiter).rate, grid,
                             order=ORDER[scheme], value=qs.rate)
        qs = replace(qs, error_estimate=float(est.error))
    return qs


def _quasi_stationary(sde: SDE, grid: Grid, scheme: str, tol: float, maxiter: int) -> QuasiStationary:
    """:func:`quasi_stationary` without the error estimate."""
    _check_sde_grid(sde, grid, "quasi_stationary")
    _need_absorbing(grid, "quasi_stationary")
    tol = positive("rtol", tol, "tolerance")
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValueError(f"`maxiter` must be an integer >= 1, got {show(maxiter)}.")
    if scheme == "highorder":
        raise ValueError("`scheme='highorder'` has no absorbing walls; use scheme='sg' or 'upwind'.")
    fl = fluxes(sde, grid, scheme=scheme)
    pr = _perron_root(fl, tol, int(maxiter))
    q = np.exp(pr.ell - pr.ell.max())
    q = q / (q.sum() * grid.cell_volume)
    check_resolution(fl, q, "quasi_stationary")
    if not pr.success:
        warn(f"quasi_stationary: {pr.message}")
    return QuasiStationary(q.reshape(grid.shape), pr.rate, -pr.rate, grid, pr.residual, pr.method,
                           np.array([pr.lower, pr.upper]), pr.success, pr.message, pr.iterations)


# ------------------------------------------------- Perron root, certified
#: Shifted (Noda) steps by sparse LU are taken while ``10 eps max|a_ii| / rate`` is below
#: this: LU then still finds the Perron vector to that relative accuracy, and the final
#: bounds come from a separate, accurate solve.
_LU_SHIFT_LIMIT = 1e-4

_EPS = float(np.finfo(float).eps)
_TINY, _HUGE = 1e-300, 1e300


@dataclass
class _Perron:
    rate: float
    lower: float
    upper: float
    ell: np.ndarray          # log of the (unscaled) Perron vector
    method: str
    success: bool
    message: str
    residual: float
    iterations: int
    ratios: np.ndarray | None = None   # x / y of the last accurate solve y = M^{-1} x, y = exp(ell)


def _edge_pairs(A: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges ``i < j`` of ``A`` and ``g = log(a_ij / a_ji)`` (+-inf where one rate underflows)."""
    A = sp.csr_matrix(A)
    P = sp.triu(A, 1).tocsr()
    Q = sp.triu(A.T, 1).tocsr()
    pattern = (abs(P) + abs(Q)).tocoo()
    i, j = pattern.row, pattern.col
    aij = np.asarray(P[i, j]).ravel() if i.size else np.zeros(0)
    aji = np.asarray(Q[i, j]).ravel() if i.size else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log(aij) - np.log(aji)
    return i, j, g


def _scaling_potential(A: sp.spmatrix, pairs: tuple) -> np.ndarray:
    """Least-squares ``psi`` with ``psi_j - psi_i = log(a_ij / a_ji)`` on every edge.

    Exact (zero residual) for 1-D chains and rates in detailed balance; for
    non-reversible rates the best gradient fit. Edges with an underflowed rate
    are left out (a tiny ridge keeps the system non-singular).
    """
    n = A.shape[0]
    i, j, g = pairs
    ok = np.isfinite(g)
    i, j, g = i[ok], j[ok], g[ok]
    E = i.size
    if E == 0:
        return np.zeros(n)
    G = sp.csr_matrix((np.r_[np.ones(E), -np.ones(E)], (np.r_[np.arange(E), np.arange(E)], np.r_[j, i])),
                      shape=(E, n))
    L = (G.T @ G).tocsc()
    ridge = 1e-12 * max(float(L.diagonal().mean()), 1.0)
    lu = _splu(L + ridge * sp.identity(n, format="csc"))
    psi = lu.solve(G.T @ g)
    for _ in range(2):   # refinement: exact potentials come out exact to round-off
        psi = psi + lu.solve(G.T @ (g - G @ psi))
    return psi - psi.min()


def _scaled_generator(A: sp.spmatrix, psi: np.ndarray) -> sp.csc_matrix:
    """``M = -S^{-1} A S`` with ``S = diag(exp(-psi / 2))``, entry by entry (no overflow)."""
    C = sp.coo_matrix(A)
    off = C.row != C.col
    v = -C.data.astype(float)
    with np.errstate(divide="ignore"):
        v[off] = -np.exp(np.clip(np.log(C.data[off]) + 0.5 * (psi[C.row[off]] - psi[C.col[off]]), -745.0, 709.0))
    return sp.csc_matrix((v, (C.row, C.col)), shape=C.shape)


def _logsumexp(v: np.ndarray) -> float:
    m = float(v.max())
    return m + math.log(float(np.exp(v - m).sum()))


def _leak(fl: Any) -> np.ndarray:
    """Rate ``o_j`` at which cell ``j`` loses mass through absorbing half-edges (``-1^T A``)."""
    out = np.flatnonzero(fl.head < 0)
    return np.asarray(fl.flux_matrix[out].sum(axis=0)).ravel()


def _outflow_rate_log(leak: np.ndarray, ell: np.ndarray) -> float:
    """``(outflow of q) / (mass of q)`` for ``q = exp(ell)``, in log space (``q`` may span e^1000)."""
    on = leak > 0
    if not np.any(on):
        return math.nan
    return math.exp(_logsumexp(ell[on] + np.log(leak[on])) - _logsumexp(ell))


def _frame_matrix(C: sp.coo_matrix, ell: np.ndarray, shift: float = 0.0) -> tuple[sp.csc_matrix, bool]:
    """``D^{-1} (M - shift I) D`` for ``M = -A`` (``A`` as COO) and ``D = diag(exp(ell))``.

    Off-diagonals ``-a_ij exp(ell_j - ell_i)`` are formed from logarithms, so the
    frame may span far more than float64's range; returns whether any entry had to
    be clipped (then the matrix is not the similarity and bounds from it are void).
    """
    off = C.row != C.col
    v = np.empty(C.data.size)
    v[~off] = -C.data[~off] - shift
    with np.errstate(divide="ignore"):
        e = np.log(C.data[off]) + ell[C.col[off]] - ell[C.row[off]]
    clipped = bool(e.size and e.max() > 709.0)
    v[off] = -np.exp(np.minimum(e, 709.0))
    return sp.csc_matrix((v, (C.row, C.col)), shape=C.shape), clipped


def _lu_frame_bounds(C: sp.coo_matrix, ell: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``z = (M^{-1} e^ell) / e^ell`` by sparse LU in the frame of ``ell``, with an error bound.

    In that frame ``M_x z = 1``. The computed ``z`` is off by at most
    ``M_x^{-1} (|1 - M_x z| + gamma (|M_x| |z| + 1))`` entrywise (to first order;
    ``M_x^{-1} >= 0``, ``gamma = k eps / (1 - k eps)`` for the ``k`` terms of a
    row, the round-off of the residual itself). Returns ``z``, that bound and
    whether the solve is clean.
    """
    B, clipped = _frame_matrix(C, ell)
    n = B.shape[0]
    lu = _lu(B, "quasi_stationary")
    one = np.ones(n)
    z = lu.solve(one)
    res = one - B @ z
    k = int(np.diff(B.tocsr().indptr).max()) + 1
    gamma = k * _EPS / (1 - k * _EPS)
    dz = np.abs(lu.solve(np.abs(res) + gamma * (abs(B) @ np.abs(z) + 1.0)))
    clean = bool(not clipped and np.all(np.isfinite(z)) and np.all(np.isfinite(dz)) and z.min() > 0)
    return z, dz, clean


def _arnoldi_vector(lu_solve: Any, lu_cache: list, half: np.ndarray, ell: np.ndarray,
                    n: int) -> np.ndarray | None:
    """Perron vector (as ``ell``) by ARPACK on ``M^{-1}`` in the symmetrized frame, or None."""
    lu_solve(ell)   # makes sure the LU of the symmetrized M exists
    lu = lu_cache[0]
    lx = ell + half
    v0 = np.maximum(np.exp(lx - lx.max()), _TINY)
    op = spla.LinearOperator((n, n), matvec=lambda x: lu.solve(np.asarray(x, dtype=float)), dtype=float)
    try:
        _, vecs = spla.eigs(op, k=1, which="LM", v0=v0, tol=1e-13, maxiter=max(300, n // 10))
    except (spla.ArpackNoConvergence, spla.ArpackError, ValueError):
        return None
    v = vecs[:, 0]
    v = v * np.exp(-1j * np.angle(v[np.argmax(np.abs(v))]))
    if np.abs(v.imag).max() > 1e-6 * np.abs(v).max() or v.real.min() < -1e-6 * v.real.max():
        return None   # not the Perron vector
    out = np.log(np.maximum(v.real, _TINY * v.real.max())) - half
    return out - out.max()


#: Largest ``max(ell) - min(ell)`` (natural log) of an iterate that the GTH solve, which
#: works in the unscaled frame, takes: its right-hand side ``exp(ell - max ell)`` must
#: not underflow.
_GTH_RANGE = 700.0


def _gth_frame_solve(gth: Any, ell: np.ndarray) -> tuple[np.ndarray, bool]:
    """``z = (M^{-1} e^ell) / e^ell`` by the subtraction-free GTH solve (unscaled frame)."""
    if np.ptp(ell) > _GTH_RANGE:
        return np.full(ell.size, np.nan), False
    b = np.exp(ell - ell.max())
    try:
        y = gth.solve(b)
    except ValueError:  # pragma: no cover - singular: no leak reaches some cells
        return np.full(ell.size, np.nan), False
    with np.errstate(all="ignore"):
        z = y / b
    return z, bool(np.all(np.isfinite(z)) and z.min() > 0)


def _perron_root(fl: Any, tol: float, maxiter: int) -> _Perron:
    r"""Certified Perron root of ``M = -A`` (see :func:`quasi_stationary`, Notes).

    Iterates are logarithms ``ell`` of the unscaled vector ``x``; a solve returns
    ``z = (M^{-1} x) / x``, whether it is clean (finite, positive, nothing clipped) and
    whether it is componentwise accurate (chain, GTH); the Collatz–Wielandt ratios
    are ``1 / z``.
    """
    grid = fl.grid
    n = grid.size
    A = sp.csr_matrix(fl.matrix)
    C = A.tocoo()
    pairs = _edge_pairs(A)
    psi = _scaling_potential(A, pairs)
    half = 0.5 * psi
    dmax = float(np.abs(A.diagonal()).max())
    leak = _leak(fl)
    method, solve, lu_solve, lu_cache = _perron_solvers(fl, A, psi, leak)

    acc_err = 4 * n * _EPS   # O(n eps) entrywise for chain / GTH solves (O'Cinneide 1993)
    ell = -half.copy()
    last: tuple[float, float, float, bool] | None = None
    iters = 0
    converged = trusted = stalled = converged_arnoldi = False
    ratios = None
    # 1. unshifted inverse iteration: converges like (mu_0 / mu_1)^k, fast for metastable wells
    for k in range(maxiter):
        z, clean, exact = solve(ell)
        iters += 1
        lz = np.log(np.clip(np.nan_to_num(z, nan=_TINY), _TINY, _HUGE))
        if clean:
            lo, hi = float(1.0 / z.max()), float(1.0 / z.min())
            # round-off floor: a narrow interval that no longer moves (a wide one that does
            # not move is a far tail still relaxing at its own local rate)
            stalled = (last is not None and k >= 3 and hi - lo <= 1e-6 * lo
                       and abs(lo - last[0]) <= 1e-3 * (hi - lo) and abs(hi - last[1]) <= 1e-3 * (hi - lo))
            last = (lo, hi, _outflow_rate_log(leak, ell + lz), exact)
        ratios = 1.0 / z if clean and exact else None
        ell = ell + lz
        ell = ell - ell.max()
        if clean and last is not None and last[1] - last[0] <= tol * last[0] * (1 - 2 * acc_err):
            converged = True
            break
        if clean and stalled:
            break
        if k == 1 and last is not None:
            trusted = 10 * _EPS * dmax / last[0] < _LU_SHIFT_LIMIT
            if trusted:
                break
    # 2. Noda: shift by the current lower bound (M - sI stays a non-singular M-matrix) in
    #    the frame of the current iterate; LU finds the vector while eps max|a_ii| / rate is small
    est = None
    if not converged and trusted and grid.ndim >= 3:
        # 3-D: a factorization costs far more than a solve (6 s against 0.04 s at 24^3), so
        # Arnoldi on the one LU of the symmetrized M (ARPACK; a clustered spectrum is no
        # problem for it) instead of a factorization per Noda step; Noda only if it fails.
        # The certificate below does not depend on how the vector was found.
        v = _arnoldi_vector(lu_solve, lu_cache, half, ell, n)
        if v is not None:
            ell = v
            ratios = None
            converged_arnoldi = True
    if not converged and trusted and not converged_arnoldi and last is not None:
        ell, est, taken = _noda(C, ell, last[0], last[1], tol, dmax)
        iters += taken
        if est is not None:
            ratios = None
    # 3. certify the final iterate: an accurate solve, or LU with a bound on its error
    certified_by: str | None = None
    if converged and last is not None and last[3]:
        certified_by = method
    elif method != "lu":
        done = _certify(solve, ell, max(maxiter - iters, 1), leak, tol, acc_err)
        iters += done[3]
        if done[0] is not None:
            last, ratios, ell, certified_by = done[0], done[1], done[2], method
    if certified_by is None and method == "chain":
        last = None   # the chain's pivots or solution under/overflow: nothing LU could add
    if certified_by is not None and last is not None:
        lower, upper = last[0] * (1 - acc_err), last[1] * (1 + acc_err)
    elif last is None and method == "chain":
        lower = upper = math.nan
    else:
        z, dz, clean = _lu_frame_bounds(C, ell)
        iters += 2
        certified_by = "lu"
        if clean:
            with np.errstate(divide="ignore"):
                lower = float((1.0 / (z + dz)).min())
                upper = float((1.0 / (z - dz)).max()) if np.all(z > dz) else math.inf
            last = (lower, upper, _outflow_rate_log(leak, ell + np.log(z)), False)
        else:
            lower = upper = math.nan
    if last is None or not (lower > 0 and upper >= lower):
        raise ConvergenceError(
            "quasi_stationary: no positive lower bound on the decay rate could be certified; "
            "escape is too slow to resolve in double precision (the rate or the density "
            "underflows) or the scheme is not monotone here. Lower the barrier, raise the "
            "noise, or shrink the domain to where the density lives.")
    rate = est if est is not None and lower <= est <= upper else last[2]
    rate = min(max(rate, lower), upper) if math.isfinite(rate) else 0.5 * (lower + upper)
    assert certified_by is not None  # every path above certified, or raised
    success = bool((upper - lower) / lower <= tol)
    iteration_failed = not converged and not trusted and not stalled
    msg = _perron_message(rate, lower, upper, tol, certified_by, method, dmax, iteration_failed, maxiter)
    with np.errstate(under="ignore"):
        w = np.exp(ell + half - (ell + half).max())   # the iterate in the symmetrized frame
    residual = float(np.abs(_scaled_generator(A, psi) @ w - rate * w).max() / (dmax * w.max()))
    return _Perron(rate, lower, upper, ell, certified_by, success, msg, residual, iters,
                   ratios if certified_by in ("chain", "gth") else None)


def _perron_solvers(fl: Any, A: sp.csr_matrix, psi: np.ndarray, leak: np.ndarray
                    ) -> tuple[str, Callable[[np.ndarray], tuple[np.ndarray, bool, bool]],
                               Callable[[np.ndarray], tuple[np.ndarray, bool, bool]], list]:
    """``(method, solve, lu_solve, lu_cache)`` of :func:`_perron_root`: a solve maps the
    log-iterate ``ell`` to ``(z = (M^{-1} x) / x, clean, accurate)``; the chain (1-D) or
    GTH is accurate, LU (factorized once, on first use, into ``lu_cache``) is not."""
    grid = fl.grid
    half = 0.5 * psi
    lu_cache: list = []

    def lu_solve(ell: np.ndarray) -> tuple[np.ndarray, bool, bool]:
        if not lu_cache:   # LU of the symmetrized M, factorized once
            lu_cache.append(_lu(_scaled_generator(A, psi), "quasi_stationary"))
        lx = ell + half
        xs = np.exp(lx - lx.max())
        y = lu_cache[0].solve(xs)
        with np.errstate(all="ignore"):
            z = y / xs
        return z, bool(np.all(np.isfinite(z)) and z.min() > 0 and xs.min() > 0), False

    chain = _Chain(fl) if grid.ndim == 1 and isinstance(fl, TwoPointFluxes) else None
    gth = None
    if chain is None and _gth_factor is not None:
        try:
            gth = _gth_factor(A, leak=leak, shape=grid.shape)
        except (ValueError, RuntimeError, MemoryError):  # pragma: no cover - falls back to LU
            gth = None
    if chain is not None:
        def chain_solve(ell: np.ndarray) -> tuple[np.ndarray, bool, bool]:
            z, clean = chain.frame_solve(ell)
            return z, clean, True
        return "chain", chain_solve, lu_solve, lu_cache
    if gth is not None:
        def gth_solve(ell: np.ndarray) -> tuple[np.ndarray, bool, bool]:
            z, clean = _gth_frame_solve(gth, ell)
            return (z, True, True) if clean else lu_solve(ell)
        return "gth", gth_solve, lu_solve, lu_cache
    return "lu", lu_solve, lu_solve, lu_cache


def _noda(C: sp.coo_matrix, ell: np.ndarray, lo: float, hi: float, tol: float, dmax: float
          ) -> tuple[np.ndarray, float | None, int]:
    """Noda's iteration from the bounds ``[lo, hi]``: shift by the current lower bound (``M -
    sI`` stays a non-singular M-matrix) in the frame of the current iterate, by sparse LU.
    Returns ``(ell, estimate or None, solves)``."""
    n = ell.size
    est = None
    iters = 0
    s = max(lo - 0.01 * (hi - lo), 0.0)
    for _ in range(60):
        B, clipped = _frame_matrix(C, ell, s)
        try:
            z = _splu(B).solve(np.ones(n))
        except RuntimeError:  # exactly singular: the shift hit mu_0
            break
        iters += 1
        if clipped or not (np.all(np.isfinite(z)) and z.min() > 0):
            break
        r = 1.0 / z
        est = s + float(r.min())
        ell = ell + np.log(z)
        ell = ell - ell.max()
        if float(r.max() - r.min()) <= 0.01 * tol * est or r.min() <= 100 * _EPS * dmax:
            break
        s = s + 0.99 * float(r.min())
    return ell, est, iters


def _certify(solve: Callable[[np.ndarray], tuple[np.ndarray, bool, bool]], ell: np.ndarray, maxiter: int,
             leak: np.ndarray, tol: float, acc_err: float
             ) -> tuple[tuple[float, float, float, bool] | None, np.ndarray | None, np.ndarray, int]:
    """Unshifted accurate iterations (Noda's LU leaves far tails, density ``e^-100`` of the
    maximum, say, unconverged; they relax at their own fast local rates). Every iterate's
    bounds are valid, so their intersection is too. Returns ``(last, ratios, ell, solves)``;
    ``last`` is None when no accurate solve succeeded."""
    best = None
    last = None
    ratios = None
    prev_width = math.inf
    iters = 0
    for k in range(maxiter):
        z, clean, exact = solve(ell)
        iters += 1
        if not (clean and exact):
            break
        lz = np.log(z)
        lo, hi = float(1.0 / z.max()), float(1.0 / z.min())
        best = (lo, hi) if best is None else (max(best[0], lo), min(best[1], hi))
        last = (best[0], best[1], _outflow_rate_log(leak, ell + lz), True)
        ratios = 1.0 / z
        ell = ell + lz
        ell = ell - ell.max()
        if best[1] - best[0] <= tol * best[0] * (1 - 2 * acc_err):
            break
        if k >= 3 and hi - lo <= 1e-6 * lo and hi - lo > 0.5 * prev_width:
            break   # round-off floor: a narrow interval that stopped shrinking
        prev_width = hi - lo
    return last, ratios, ell, iters


def _perron_message(rate: float, lower: float, upper: float, tol: float, certified_by: str, method: str,
                    dmax: float, iteration_failed: bool, maxiter: int) -> str:
    """What :func:`_perron_root` certified, or why not."""
    width = (upper - lower) / lower
    how = {"chain": "subtraction-free chain elimination (componentwise accurate)",
           "gth": "subtraction-free GTH elimination (componentwise accurate)",
           "lu": "sparse LU with a componentwise bound on its error"}[certified_by]
    if width <= tol:
        return (f"rate {rate:.12g} certified in [{lower:.12g}, {upper:.12g}] (relative width "
                f"{width:.1e} <= rtol={tol:g}); Collatz-Wielandt bounds from {how}.")
    if certified_by == "lu" and 10 * _EPS * dmax / lower > tol:
        why = (f"the rate is {dmax / lower:.1e} times below the largest rate of the generator, "
               "beyond what sparse LU resolves (high barrier)"
               + (" and the density spans more than float64 holds for the subtraction-free "
                  "solve" if method == "gth" else "")
               + ". Lower the barrier, raise the noise or shrink the domain for a certified rate")
    elif iteration_failed:
        why = (f"unshifted inverse iteration did not converge in maxiter={maxiter} solves "
               "(slow decay beside a cluster of nearby rates); raise `maxiter`")
    else:
        why = "round-off of the solves limits the bounds; ask for a larger `rtol`"
    return (f"rate {rate:.12g} NOT certified to rtol={tol:g}: the interval [{lower:.12g}, "
            f"{upper:.12g}] has relative width {width:.1e}; {why}.")


# ----------------------------------------------------------- survival, rates
def survival(sde: SDE, grid: Grid, p0: Any, t_eval: Any, **evolve_options: Any) -> np.ndarray:
    r"""Survival probability ``S(t) = P(T_exit > t)`` of a density started at ``p0``.

    Parameters
    ----------
    sde : SDE
    grid : Grid
        With at least one absorbing side.
    p0 : array_like, ``grid.shape``
        Initial density (``>= 0``, positive mass; normalised here).
        :func:`~fokkerplanck.point_mass` starts from a point.
    t_eval : array_like
        Strictly increasing times ``>= 0``.
    **evolve_options
        Passed to :func:`~fokkerplanck.evolve` (``method``, ``dt``, ``rtol``, ...).

    Returns
    -------
    ndarray, shape ``(len(t_eval),)``
        ``integral p(t) / integral p0``, non-increasing from 1.

    Notes
    -----
    The mass of the density evolved with the absorbing generator; the mean exit
    time is ``integral_0^inf S(t) dt``.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=100, boundary="absorbing")
    >>> q = fp.quasi_stationary(fp.brownian(1.0), grid)
    >>> S = fp.survival(fp.brownian(1.0), grid, q.density, [0.0, 0.5], method="expm")
    >>> bool(np.allclose(S, np.exp(-q.rate * np.array([0.0, 0.5])), rtol=1e-8))
    True
    """
    _check_sde_grid(sde, grid, "survival")
    _need_absorbing(grid, "survival")

    evolve_options.setdefault("error_estimate", False)  # only the mass is returned
    ev = evolve(sde, grid, p0, t_eval, **evolve_options)
    return ev.mass / grid.integrate(np.asarray(p0, dtype=float))


@dataclass(frozen=True, eq=False, repr=False)
class EscapeRate(Summary):
    """``1 / E[T_exit]`` from a start; returned by ``escape_rate(..., start=...,
    full_output=True)`` (without a start it returns the :class:`QuasiStationary`).

    Attributes
    ----------
    rate : float
        ``1 / E[T_exit]`` from ``start``.
    method : str
        ``"chain"`` (1-D), ``"gth"`` or ``"exit_time"`` (through :func:`exit_time`).
    grid : Grid
    success : bool
        The rate is finite and positive.
    message : str
    error_estimate : float
        Estimated relative discretization error of ``rate`` (Richardson, one more
        solve on a partner grid, see :func:`~fokkerplanck.estimate_error`) for a
        point ``start``; ``nan`` for a density ``start`` (it exists on ``grid``
        only) or when not asked for.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=100, boundary="absorbing")
    >>> r = fp.escape_rate(fp.brownian(1.0), grid, start=[0.5], full_output=True)
    >>> round(r.rate, 3), r.success, bool(r.error_estimate < 1e-4)
    (4.0, True, True)
    """

    rate: float
    method: str
    grid: Grid
    success: bool
    message: str
    error_estimate: float = math.nan

    _error_meaning = "relative error of the rate"

    @property
    def mean_exit_time(self) -> float:
        """``1 / rate``."""
        return 1.0 / self.rate

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("rate", self.rate), ("method", self.method), ("grid", self.grid)]


def escape_rate(sde: SDE, grid: Grid, *, start: Any = None, scheme: str = "sg",
                full_output: bool = False) -> Any:
    r"""Escape rate through the absorbing sides of ``grid``.

    Parameters
    ----------
    sde, grid : SDE, Grid
        ``grid`` with at least one absorbing side.
    start : None, point ``(ndim,)`` or density ``grid.shape``
        ``None`` (default): the decay rate of the quasi-stationary density
        (:func:`quasi_stationary`, certified), the long-time exponential rate. A
        point or a density: ``1 / E[T_exit]`` from there (``tau`` of
        :func:`exit_time` interpolated linearly between cell centres for a point).
    scheme : str
        Discretization.
    full_output : bool
        Return a result with ``success``, ``message`` and ``error_estimate`` (the
        rate's estimated relative error) instead of the float: the
        :class:`QuasiStationary` without ``start``, an :class:`EscapeRate` with one.

    Returns
    -------
    float, QuasiStationary or EscapeRate

    Notes
    -----
    From a density ``p0``, ``E[T_exit] = 1^T M^{-1} p0 / 1^T p0`` (``M = -A``): one
    forward solve with a non-negative right-hand side, subtraction-free (chain in
    1-D, GTH in 2-D and 3-D) and so accurate at any barrier, reversible or not. A
    point uses its multilinear interpolation weights as ``p0``, which gives ``tau``
    interpolated at the point. Without GTH the 2-D/3-D answer goes through
    :func:`exit_time`.

    For a high barrier ``Delta U >> T`` the two agree up to exponentially small
    terms, and Kramers' formula
    ``k ~ sqrt(U''(x_min) |U''(x_max)|) / (2 pi) exp(-Delta U / T)`` (for
    ``dx = -U' dt + sqrt(2T) dB``) approximates both with relative error ``O(T)``.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=100, boundary="absorbing")
    >>> round(fp.escape_rate(fp.brownian(1.0), grid, start=[0.5]), 3)   # 1 / (x (1 - x))
    4.0
    """
    if start is None:
        qs = quasi_stationary(sde, grid, scheme=scheme, error_estimate=full_output)
        return qs if full_output else qs.rate
    rate, method, point = _escape_rate(sde, grid, start, scheme)
    if not full_output:
        return rate
    ok = bool(math.isfinite(rate) and rate > 0)
    where = f"the point {np.asarray(start, dtype=float).ravel().tolist()}" if point else "the density `start`"
    res = EscapeRate(rate, method, grid, ok, f"1 / E[T_exit] from {where} ({method})" if ok else
                     f"no finite positive rate from {where} ({method}): {rate!r}")
    if point:
        est = estimate_error(lambda g: _escape_rate(sde, g, start, scheme)[0], grid,
                             order=ORDER[scheme], value=rate)
        res = replace(res, error_estimate=float(est.error))
    return res


def _escape_rate(sde: SDE, grid: Grid, start: Any, scheme: str) -> tuple[float, str, bool]:
    """:func:`escape_rate` from ``start``: ``(rate, method, start is a point)``."""
    _check_sde_grid(sde, grid, "escape_rate")
    _need_absorbing(grid, "escape_rate")
    s = np.asarray(start, dtype=float)
    if s.shape == grid.shape and grid.size > grid.ndim:
        if not np.all(np.isfinite(s)) or s.min() < 0 or not s.sum() > 0:
            raise ValueError("`start` as a density must be finite, >= 0 and have positive mass.")
        b, point = s.ravel(), False
    else:
        if s.shape not in ((grid.ndim,), (1, grid.ndim)):
            raise ValueError(
                f"`start` must be a point of shape ({grid.ndim},) or a density of shape "
                f"{grid.shape}, got shape {s.shape}.")
        s = s.reshape(grid.ndim)
        if not np.all(np.isfinite(s)) or np.any(s < grid.lower) or np.any(s > grid.upper):
            raise ValueError(f"`start={s.tolist()}` must be a finite point inside the grid {list(grid.bounds)}.")
        b, point = _point_weights(grid, s), True
    if scheme == "highorder":
        raise ValueError("`scheme='highorder'` has no absorbing walls; use scheme='sg' or 'upwind'.")
    fl = fluxes(sde, grid, scheme=scheme)
    # E[T] = 1^T M^{-1} b / 1^T b: one forward solve with b >= 0, subtraction-free (1-D
    # chain, GTH) and so componentwise accurate at any barrier; with LU, through exit_time
    y = None
    try:
        if grid.ndim == 1 and isinstance(fl, TwoPointFluxes):
            y = _Chain(fl).forward(b)
        elif _gth_factor is not None:
            y = _gth_factor(sp.csr_matrix(fl.matrix), leak=_leak(fl), shape=grid.shape).solve(b)
    except (ZeroDivisionError, OverflowError, ValueError):
        y = None
    if y is None or not np.all(np.isfinite(y)):
        tau = exit_time(sde, grid, scheme=scheme).ravel()
        return float(b.sum() / np.dot(tau, b)), "exit_time", point
    return float(b.sum() / y.sum()), ("chain" if grid.ndim == 1 and isinstance(fl, TwoPointFluxes) else "gth"), point


def _point_weights(grid: Grid, x: np.ndarray) -> np.ndarray:
    """Multilinear interpolation weights of the point ``x`` on the cell centres (flat).

    ``sum_c w_c f_c`` is the linear interpolation of a cell field ``f`` at ``x``
    (clipped to the outermost centres), so ``1^T M^{-1} w`` is ``tau`` interpolated
    at ``x``.
    """
    w = np.ones(1)
    idx = np.zeros(1, dtype=np.int64)
    for k, c in enumerate(grid.centers):
        m = c.size
        xk = min(max(float(x[k]), float(c[0])), float(c[-1]))
        if m == 1:
            i, t = 0, 0.0
        else:
            i = min(max(int(np.searchsorted(c, xk)) - 1, 0), m - 2)
            t = (xk - float(c[i])) / float(c[i + 1] - c[i])
        w = np.concatenate([w * (1 - t), w * t])
        idx = np.concatenate([idx * m + i, idx * m + min(i + 1, m - 1)])
    out = np.zeros(grid.size)
    np.add.at(out, idx, w)
    return out
