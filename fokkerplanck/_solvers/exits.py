r"""Exit problems and irreversibility: mean first-passage times, quasi-stationary
densities, survival, escape rates, detailed balance and entropy production.

Exit problems need at least one absorbing side (``Grid(boundary=...)``, e.g.
``[("reflecting", "absorbing")]``). The generator ``A`` of
:func:`~fokkerplanck.generator` then loses mass through the absorbing half-edges
and is non-singular; ``-A`` is a non-singular M-matrix.

* The **mean first-passage time** ``tau(x) = E_x[T_exit]`` solves the backward
  equation ``L tau = -1`` with ``tau = 0`` on the absorbing walls. On the grid
  ``d/dt E[f(X_t)] = f^T A p``, so the backward generator is ``A^T`` and
  ``A^T tau = -1`` (one sparse LU).
* The **quasi-stationary density** is the Perron eigenvector of ``A``: the
  eigenvalue ``lambda_0 < 0`` with the largest real part is real and simple and
  its eigenvector is positive (``A`` is Metzler and irreducible). Every other
  eigenvalue has ``Re lambda < lambda_0 < 0``, so ``lambda_0`` is also the
  eigenvalue nearest zero and shift-invert at ``sigma = 0`` finds it. The decay
  rate is ``-lambda_0``, and ``1 / rate`` is the mean exit time started from the
  quasi-stationary density (exactly, also on the grid:
  ``<tau, q> = -<1, q> / lambda_0``).
* **Survival** ``S(t) = integral p(t)`` for a density evolved with the absorbing
  generator (:func:`~fokkerplanck.evolve`).

For stationary states (reflecting/periodic boundaries):

* :func:`equilibrium_test` compares the stationary current with the diffusive
  flux scale ``|D grad p|``; at equilibrium (detailed balance) ``J = 0``.
* :func:`entropy_production` is the rate
  ``e_p = integral J^T D^{-1} J / p dx`` with ``D = C / 2``: zero exactly for
  reversible systems, positive with a stationary current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._util.validate import positive
from .._util.errors import ConvergenceError
from .._util.linalg import factorize as _splu
from .._model.grid import Grid
from .._discretization.generator import check_problem, fluxes
from .._model.sde import SDE
from .evolve import evolve
from .stationary import StationaryResult, stationary

__all__ = [
    "exit_time", "quasi_stationary", "QuasiStationary", "survival", "escape_rate",
    "equilibrium_test", "Equilibrium", "entropy_production",
]

#: Up to this many cells :func:`quasi_stationary` uses a dense eigensolver.
DENSE_SIZE = 30

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
def exit_time(sde: SDE, grid: Grid, *, scheme: str = "sg") -> np.ndarray:
    r"""Mean first-passage time ``tau(x)`` to the absorbing sides of ``grid``.

    Parameters
    ----------
    sde : SDE
        Time-independent.
    grid : Grid
        With at least one absorbing side (others reflecting or periodic).
    scheme : {"sg", "upwind"}
        Discretization of :func:`~fokkerplanck.generator` (monotone schemes only).

    Returns
    -------
    ndarray, shape ``grid.shape``
        ``tau`` at the cell centres, ``>= 0``.

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
    ``A^T tau = -1``, solved with one sparse LU. The absorbing wall sits half a
    cell beyond the last centre; the scheme is second order in ``h``.

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
    """
    _check_sde_grid(sde, grid, "exit_time")
    _need_absorbing(grid, "exit_time")
    if scheme == "highorder":
        raise ValueError(
            "`scheme='highorder'` is not monotone and has no absorbing walls; use "
            "scheme='sg' (default) or 'upwind' for exit times."
        )
    fl = fluxes(sde, grid, scheme=scheme)
    A = fl.matrix
    if grid.ndim == 1 and fl.forward is not None:
        tau = _exit_time_chain(fl)
        lu = None
    else:
        lu = _lu(A.T, "exit_time")
        tau = lu.solve(-np.ones(grid.size))
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
        _check_ill_conditioned(fl, lu, tau)
    return tau.reshape(grid.shape)


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
    out = fl.head < 0
    return float(np.dot(fl.forward[out], q[fl.tail[out]]) / q.sum())


# ------------------------------------------------------------ quasi-stationary
@dataclass(frozen=True, eq=False)
class QuasiStationary:
    """The quasi-stationary density and its decay rate.

    Attributes
    ----------
    density : ndarray, ``grid.shape``
        The density conditioned on survival (the Perron eigenvector of ``A``),
        ``>= 0`` and normalised: ``grid.integrate(density) == 1``.
    rate : float
        Decay rate ``-lambda_0 > 0``: surviving mass decays like ``exp(-rate t)``.
    eigenvalue : float
        ``lambda_0``, the principal eigenvalue of the generator.
    grid : Grid
    residual : float
        ``||A q - lambda_0 q||_inf / (max|a_ii| max q)``.
    method : str
        ``"chain"`` (1-D: inverse iteration with a subtraction-free tridiagonal
        solver, componentwise accurate), ``"dense"`` (small grids), ``"shift-invert"``
        (ARPACK with the LU of ``A``) or ``"inverse-iteration"`` (fallback when ARPACK
        does not converge). In every case
        the vector is polished by inverse iteration and the rate is the outflow of
        ``q`` through the absorbing walls divided by its mass (see Notes).

    Examples
    --------
    Brownian motion (``D = 1/2``) on ``[0, 1]`` absorbed at both ends decays at rate
    ``D pi^2``:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> qs = fp.quasi_stationary(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=400, boundary="absorbing"))
    >>> round(qs.rate, 4), round(0.5 * np.pi**2, 4)
    (4.9348, 4.9348)
    """

    density: np.ndarray
    rate: float
    eigenvalue: float
    grid: Grid
    residual: float
    method: str

    @property
    def mean_exit_time(self) -> float:
        """``1 / rate``: mean exit time when started from the quasi-stationary density."""
        return 1.0 / self.rate

    def survival(self, t: Any) -> np.ndarray:
        """``exp(-rate t)``: survival of the quasi-stationary density after time ``t``."""
        return np.exp(-self.rate * np.asarray(t, dtype=float))

    def __repr__(self) -> str:
        return (f"QuasiStationary(rate={self.rate:.6g}, mean_exit_time={self.mean_exit_time:.6g}, "
                f"residual={self.residual:.1e}, method={self.method!r}, grid={self.grid!r})")


def quasi_stationary(sde: SDE, grid: Grid, *, scheme: str = "sg", tol: float = 1e-12) -> QuasiStationary:
    r"""Quasi-stationary density and decay rate with absorbing sides.

    Parameters
    ----------
    sde : SDE
        Time-independent.
    grid : Grid
        With at least one absorbing side.
    scheme : {"sg", "upwind"}
        Discretization of :func:`~fokkerplanck.generator`.
    tol : float
        ARPACK tolerance (large grids).

    Returns
    -------
    QuasiStationary

    Raises
    ------
    ValueError
        No absorbing side; a time-dependent SDE; a non-positive ``tol``.
    ConvergenceError
        The eigensolver failed or returned a vector that is not positive.

    Notes
    -----
    ``A`` is Metzler (off-diagonals ``>= 0``), so by Perron–Frobenius its eigenvalue
    ``lambda_0`` of largest real part is real, simple, and has a positive
    eigenvector ``q``; ``|lambda| >= |Re lambda| > |lambda_0|`` for every other
    eigenvalue, so shift-invert at 0 (with the sparse LU of ``A``, non-singular
    because mass leaves) converges to it. Density started anywhere approaches
    ``q exp(lambda_0 t)`` at the rate ``lambda_1 - lambda_0``.

    Summing ``A q = lambda_0 q`` over the cells gives ``rate = -lambda_0 =
    (outflow of q through the absorbing half-edges) / (mass of q)``, a ratio of sums
    of non-negative terms; it stays accurate when the rate is far below the
    round-off of the entries of ``A`` (a barrier of tens to hundreds of
    temperatures), where the eigenvalue returned by an eigensolver has no correct
    digits. For a high barrier
    ``rate`` is the escape (Kramers) rate and ``1 / rate`` agrees with the mean
    exit time from the well bottom up to ``O(exp(-barrier / T))``.

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
    """
    _check_sde_grid(sde, grid, "quasi_stationary")
    _need_absorbing(grid, "quasi_stationary")
    tol = positive("tol", tol, "tolerance")
    if scheme == "highorder":
        raise ValueError("`scheme='highorder'` has no absorbing walls; use scheme='sg' or 'upwind'.")
    fl = fluxes(sde, grid, scheme=scheme)
    A = fl.matrix
    n = grid.size
    if grid.ndim == 1 and fl.forward is not None:
        # start from the eigensolver's vector (good in norm even when eigenvalues cluster),
        # then polish by componentwise-accurate inverse iteration
        try:
            v0 = np.abs(_principal_vector(A, tol))
        except (ConvergenceError, RuntimeError, ValueError, np.linalg.LinAlgError):
            v0 = np.ones(n)
        if not (np.all(np.isfinite(v0)) and v0.sum() > 0):
            v0 = np.ones(n)
        try:
            chain = _Chain(fl)
            q = _inverse_iteration(chain.forward, v0, 2000)
        except (ZeroDivisionError, OverflowError):
            raise ConvergenceError(
                "quasi_stationary: the rates underflow; escape is too slow to resolve in "
                "double precision. Lower the barrier or raise the noise.") from None
        return _finish_qsd(fl, A, q, "chain")
    if n <= DENSE_SIZE:
        vals, vecs = np.linalg.eig(A.toarray())
        i = int(np.argmax(vals.real))
        lam, v, method = vals[i], vecs[:, i], "dense"
    else:
        lu = _lu(A, "quasi_stationary")
        op = spla.LinearOperator((n, n), matvec=lu.solve, dtype=float)
        v0 = np.ones(n)
        try:
            vals, vecs = spla.eigs(A, k=1, sigma=0.0, OPinv=op, which="LM", v0=v0, tol=tol,
                                   maxiter=max(1000, 10 * n))
            lam, v, method = vals[0], vecs[:, 0], "shift-invert"
        except spla.ArpackNoConvergence:
            # fall back on inverse iteration from a positive vector (converges to the Perron
            # vector, fast when the decay is much slower than the rest of the spectrum)
            lam, method = complex(np.nan), "inverse-iteration"
            v = _inverse_iteration(lambda w: -lu.solve(w), v0, 2000).astype(complex)
    v = v * np.exp(-1j * np.angle(v[np.argmax(np.abs(v))]))
    if np.abs(v.imag).max() > 1e-6 * np.abs(v).max():
        raise ConvergenceError(
            f"quasi_stationary: the principal eigenvalue came out complex ({lam}); the "
            "eigensolver picked the wrong eigenvalue.")
    q = v.real
    if q.sum() < 0:
        q = -q
    top = q.max()
    if q.min() < -1e-6 * top:
        raise ConvergenceError(
            f"quasi_stationary: the eigenvector is not positive (min {q.min() / top:.2e} of the "
            f"maximum, eigenvalue {lam:.3g}); the scheme may not be monotone here.")
    # polish by inverse iteration and take the rate from the outflow (no cancellation:
    # accurate when the rate is far below the round-off of A, i.e. high barriers)
    lu = _lu(A, "quasi_stationary") if n <= DENSE_SIZE else lu
    q = _inverse_iteration(lambda w: -lu.solve(w), q, 50)
    return _finish_qsd(fl, A, q, method)


def _principal_vector(A: sp.spmatrix, tol: float) -> np.ndarray:
    """Eigenvector of the eigenvalue nearest 0 (dense or shift-invert ARPACK), real."""
    n = A.shape[0]
    if n <= DENSE_SIZE:
        vals, vecs = np.linalg.eig(A.toarray())
        v = vecs[:, int(np.argmax(vals.real))]
    else:
        lu = _lu(A, "quasi_stationary")
        op = spla.LinearOperator((n, n), matvec=lu.solve, dtype=float)
        v = spla.eigs(A, k=1, sigma=0.0, OPinv=op, which="LM", v0=np.ones(n), tol=tol,
                      maxiter=max(1000, 10 * n))[1][:, 0]
    v = v * np.exp(-1j * np.angle(v[np.argmax(np.abs(v))]))
    return v.real


def _finish_qsd(fl: Any, A: sp.spmatrix, q: np.ndarray, method: str) -> QuasiStationary:
    grid = fl.grid
    rate = _outflow_rate(fl, q)
    if not (rate > 0 and math.isfinite(rate)):
        raise ConvergenceError(
            f"quasi_stationary: the decay rate came out {rate:.3g}; escape is too slow to "
            "resolve in double precision (the density underflows at the absorbing walls). "
            "Lower the barrier or raise the noise.")
    lam = -rate
    r = float(np.abs(A @ q - lam * q).max() / (np.abs(A.diagonal()).max() * q.max()))
    q = q / (q.sum() * grid.cell_volume)
    return QuasiStationary(q.reshape(grid.shape), -lam, lam, grid, r, method)


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

    ev = evolve(sde, grid, p0, t_eval, **evolve_options)
    return ev.mass / grid.integrate(np.asarray(p0, dtype=float))


def _interpolate(f: np.ndarray, grid: Grid, x: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of a cell field at points ``x`` ``(n, ndim)``."""
    from scipy.interpolate import RegularGridInterpolator

    xc = np.clip(x, [c[0] for c in grid.centers], [c[-1] for c in grid.centers])
    return RegularGridInterpolator(grid.centers, f, method="linear")(xc)


def escape_rate(sde: SDE, grid: Grid, *, start: Any = None, scheme: str = "sg") -> float:
    r"""Escape rate through the absorbing sides of ``grid``.

    Parameters
    ----------
    sde, grid : SDE, Grid
        ``grid`` with at least one absorbing side.
    start : None, point ``(ndim,)`` or density ``grid.shape``
        ``None`` (default): the decay rate of the quasi-stationary density
        (:func:`quasi_stationary`), the long-time exponential rate. A point or a
        density: ``1 / E[T_exit]`` from there, with ``tau`` from :func:`exit_time`
        (interpolated linearly between cell centres for a point).
    scheme : str
        Discretization.

    Returns
    -------
    float

    Notes
    -----
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
        return quasi_stationary(sde, grid, scheme=scheme).rate
    tau = exit_time(sde, grid, scheme=scheme)
    s = np.asarray(start, dtype=float)
    if s.shape == grid.shape and grid.size > grid.ndim:
        if not np.all(np.isfinite(s)) or s.min() < 0 or not s.sum() > 0:
            raise ValueError("`start` as a density must be finite, >= 0 and have positive mass.")
        return float(s.sum() / np.sum(tau * s))
    if s.shape not in ((grid.ndim,), (1, grid.ndim)):
        raise ValueError(
            f"`start` must be a point of shape ({grid.ndim},) or a density of shape "
            f"{grid.shape}, got shape {s.shape}.")
    s = s.reshape(1, grid.ndim)
    if not np.all(np.isfinite(s)) or np.any(s < grid.lower) or np.any(s > grid.upper):
        raise ValueError(f"`start={s[0].tolist()}` must be a finite point inside the grid {list(grid.bounds)}.")
    return float(1.0 / _interpolate(tau, grid, s)[0])


# ------------------------------------------------------ detailed balance, e_p
def _stationary_of(obj: Any, grid: Grid | None, scheme: str, who: str) -> Any:

    if isinstance(obj, StationaryResult):
        if grid is not None and grid is not obj.grid:
            raise ValueError(f"`{who}`: `grid` was given with a StationaryResult that has its own grid; drop `grid=`.")
        if obj.fluxes is None or obj.sde is None:
            raise ValueError(
                f"`{who}` needs the SDE and fluxes of the result, which a result read back with "
                "fp.load does not have; solve again with fp.stationary.")
        return obj
    if isinstance(obj, SDE):
        if grid is None:
            raise ValueError(f"`{who}(sde, grid)`: pass the `grid` too, or a StationaryResult.")
        _check_sde_grid(obj, grid, who)
        return stationary(obj, grid, scheme=scheme)
    raise TypeError(f"`{who}` takes an SDE and a Grid, or a StationaryResult; got {type(obj).__name__}.")


def _diffusion(res: Any) -> np.ndarray:
    """``D = C / 2`` at the cell centres, ``(size, d, d)`` or ``(d, d)`` if constant."""
    g, sde = res.grid, res.sde
    if sde.noise_is_constant:
        return 0.5 * np.asarray(sde.cov(np.zeros(g.ndim)), dtype=float)
    return 0.5 * np.asarray(sde.cov(g.points().reshape(-1, g.ndim)), dtype=float)


def _local_entropy_production(res: Any) -> np.ndarray:
    """``J^T D^{-1} J / p`` per cell (0 where ``p`` underflows), ``grid.shape``."""
    g = res.grid
    p = np.asarray(res.density, dtype=float).ravel()
    J = np.asarray(res.current(), dtype=float).reshape(g.ndim, -1).T  # (size, d)
    D = _diffusion(res)
    if D.ndim == 2:
        v = np.linalg.solve(D, J.T).T
    else:
        v = np.linalg.solve(D, J[..., None])[..., 0]
    quad = np.einsum("ni,ni->n", J, v)
    keep = p > 1e-30 * p.max()  # below this the cell's share is below 1e-30 * p_max |v|^2
    out = np.zeros_like(p)
    out[keep] = quad[keep] / p[keep]
    return out.reshape(g.shape)


def entropy_production(sde: Any, grid: Grid | None = None, *, scheme: str = "sg") -> float:
    r"""Stationary entropy production rate ``e_p = integral J^T D^{-1} J / p dx``.

    Parameters
    ----------
    sde : SDE or StationaryResult
        An SDE (then ``grid`` is required and the stationary density is solved for),
        or the result of :func:`~fokkerplanck.stationary`.
    grid : Grid, optional
        Reflecting and/or periodic boundaries.
    scheme : str
        Discretization, when solving.

    Returns
    -------
    float
        ``>= 0``; zero (to round-off) for reversible systems, positive when the
        stationary state carries a current.

    Notes
    -----
    With ``D = C / 2`` and the stationary current ``J = b p - D grad p``
    (:meth:`StationaryResult.current`, the cell-centred discrete current that is
    consistent with the generator), the entropy production rate (in units of
    ``k_B`` per unit time) is

    .. math:: e_p = \int \frac{J^T D^{-1} J}{p}\,dx \ge 0,

    midpoint rule over the cells; cells where ``p < 1e-30 max p`` (underflow)
    contribute nothing. For the Ornstein–Uhlenbeck process
    ``dx = -H x dt + B dW``, ``D = B B^T / 2``, stationary covariance ``S``
    (``H S + S H^T = 2 D``), ``J = (D S^{-1} - H) x p`` and

    .. math:: e_p = \operatorname{tr}(D^{-1} H S H^T) - \operatorname{tr} H,

    zero exactly when ``H D`` is symmetric (``J = 0``).

    Examples
    --------
    The non-commuting SGD / OU case: ``H = diag(1, 4)``, noise
    ``[[1, .5], [.5, 1]]``; exact ``e_p = 0.6`` (second order in ``h``: 0.588,
    0.597, 0.599 on 48^2, 96^2, 192^2 cells).

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> sde = fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
    >>> grid = fp.Grid(bounds=[(-4, 4), (-2, 2)], shape=(96, 96))
    >>> round(fp.entropy_production(sde, grid), 3)
    0.597
    """
    res = _stationary_of(sde, grid, scheme, "entropy_production")
    return float(res.grid.integrate(_local_entropy_production(res)))


@dataclass(frozen=True, eq=False)
class Equilibrium:
    """Verdict of :func:`equilibrium_test`.

    Attributes
    ----------
    equilibrium : bool
        ``ratio <= rtol``: no stationary current beyond the discretization error.
    ratio : float
        ``current_norm / flux_scale``.
    current_norm : float
        ``integral |J| dx`` (Euclidean norm per cell).
    flux_scale : float
        ``integral |D grad p| dx``, the size of either flux that balances at
        equilibrium (``b p`` and ``D grad p``).
    rtol : float
    detailed_balance : bool
        Whether the discrete rates satisfy Kolmogorov's criterion exactly (then
        ``J = 0`` to round-off on the grid).
    entropy_production : float
        :func:`entropy_production` of the state.
    message : str

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-4, 4)] * 2, shape=48)
    >>> gibbs = fp.stationary(fp.langevin(lambda x: 0.5 * (x**2).sum(-1), 1.0), grid)
    >>> ou = fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]), grid)
    >>> fp.equilibrium_test(gibbs).equilibrium, fp.equilibrium_test(ou).equilibrium
    (True, False)
    """

    equilibrium: bool
    ratio: float
    current_norm: float
    flux_scale: float
    rtol: float
    detailed_balance: bool
    entropy_production: float
    message: str

    def __bool__(self) -> bool:
        return self.equilibrium


def equilibrium_test(res: Any, grid: Grid | None = None, *, rtol: float = 1e-3, scheme: str = "sg") -> Equilibrium:
    r"""Whether a stationary state is an equilibrium (detailed balance, no current).

    Parameters
    ----------
    res : StationaryResult or SDE
        A result of :func:`~fokkerplanck.stationary`, or an SDE (then pass ``grid``).
    grid : Grid, optional
        With an SDE.
    rtol : float
        Largest ``|J| / |D grad p|`` still called equilibrium. The grid current of
        a reversible system is zero to round-off when the discrete rates satisfy
        detailed balance, and of the order of the discretization error otherwise
        (``O(h^2)`` to ``O(h^4)``); irreversible systems give ``O(1)``.
    scheme : str
        Discretization, when solving.

    Returns
    -------
    Equilibrium
        Truthy when the state is an equilibrium.

    Notes
    -----
    ``ratio = integral |J| / integral |D grad p|`` with the discrete current ``J``
    of :meth:`StationaryResult.current` and ``grad p`` by second-order central
    differences. Both fluxes that cancel at equilibrium, ``b p`` and
    ``D grad p``, are of the size of ``flux_scale``.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-4, 4), (-2, 2)], shape=(48, 48))
    >>> fp.equilibrium_test(fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), 1.0), grid)).equilibrium
    True
    >>> t = fp.equilibrium_test(fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]), grid))
    >>> t.equilibrium, t.ratio > 0.1
    (False, True)
    """
    if not (isinstance(rtol, (int, float)) and math.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"`rtol` must be a non-negative number, got {rtol!r}.")
    res = _stationary_of(res, grid, scheme, "equilibrium_test")
    g = res.grid
    p = np.asarray(res.density, dtype=float)
    J = np.asarray(res.current(), dtype=float)
    Jn = np.sqrt(np.sum(J**2, axis=0))
    grads = [np.gradient(p, h, axis=k, edge_order=2) if not g.periodic[k]
             else (np.roll(p, -1, axis=k) - np.roll(p, 1, axis=k)) / (2 * h)
             for k, h in enumerate(g.spacing)]
    G = np.stack(grads, axis=-1).reshape(-1, g.ndim)
    D = _diffusion(res)
    DG = G @ D.T if D.ndim == 2 else np.einsum("nij,nj->ni", D, G)
    current_norm = float(g.integrate(Jn))
    scale = float(g.integrate(np.sqrt(np.sum(DG**2, axis=-1)).reshape(g.shape)))
    if scale > 0:
        ratio = current_norm / scale
    else:
        ratio = 0.0 if current_norm == 0 else math.inf
    psi = res.fluxes.potential()
    ep = float(g.integrate(_local_entropy_production(res)))
    eq = bool(ratio <= rtol)
    msg = (f"{'equilibrium' if eq else 'NOT an equilibrium'}: |J| / |D grad p| = {ratio:.3g} "
           f"({'<=' if eq else '>'} rtol={rtol:g}); entropy production {ep:.4g}"
           + ("; the discrete rates satisfy detailed balance" if psi is not None else ""))
    return Equilibrium(eq, ratio, current_norm, scale, float(rtol), psi is not None, ep, msg)
