r"""Error estimates of grid answers: the same answer on a second grid (Richardson).

A grid answer ``Q_h`` of a scheme of order ``q`` (2 for ``"sg"``, 4 for
``"highorder"``, 1 for ``"upwind"``) has the error expansion
``Q_h = Q + c h^q + o(h^q)``. Solving once more on a partner grid of spacing ``r h``
(same box, same boundaries) and combining the two gives the estimate of
``|Q_h - Q|`` that the solvers report as ``error_estimate``:

* **1-D**: the partner has three times the cells (``r = 1/3``). Its centres include
  every centre of the user's grid (cell ``3 i + 1``), so the comparison needs no
  interpolation (:func:`fokkerplanck.richardson` does the same), and
  ``Q_h - Q ~ (Q_h - Q_{h/3}) 3^q / (3^q - 1)`` -- a factor between 1 and 9/8
  whatever the true order, so the estimate stays right when a problem converges
  faster than ``q``. A 1-D solve is cheap: three times the cells costs milliseconds.
* **2-D and up**: the partner has half the cells per axis (``r = 2``, a quarter of
  the cells in 2-D, an eighth in 3-D) and ``Q_h - Q ~ (Q_h - Q_{2h}) / (2^q - 1)``.
  Fields are compared at the coarse centres, the fine field interpolated there by
  separable six-point Lagrange interpolation (error ``O(h^6)``, below the schemes'
  own).

A field's estimate is the L1 norm of that difference (``integral |p_h - p| dx``:
for a density, the L1 error), a scalar's is relative (``|Q_h - Q| / |Q_h|``). The
estimate is asymptotic: it is reliable when the partner grid resolves the problem
as well (the resolution check warns when the user's grid does not); it is ``inf``
when no partner grid exists (fewer than :data:`MIN_COARSE` cells per axis after
halving) or its solve fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._model.grid import Grid
from .._util.errors import ConvergenceError, held
from .._util.summary import Summary
from .._util.validate import show

__all__ = ["ORDER", "ErrorEstimate", "estimate_error", "partner_grid", "to_grid"]

#: Order of the leading error term of each scheme.
ORDER = {"sg": 2, "sg2": 2, "upwind": 1, "highorder": 4}

#: Fewest cells per axis of a coarse partner grid.
MIN_COARSE = 4

#: Points of the Lagrange interpolation from the fine to the coarse centres.
STENCIL = 6


@dataclass(frozen=True, eq=False, repr=False)
class ErrorEstimate(Summary):
    """A grid answer, the same answer on a partner grid, and the estimated error.

    Attributes
    ----------
    value : float or ndarray
        The answer on ``grid``.
    partner : float, ndarray or None
        The answer on ``partner_grid`` (``None`` when there was none).
    error : float or ndarray
        Estimated ``|Q_h - Q|``: the L1 norm ``integral |Q_h - Q| dx`` for a field
        (the L1 error of a density; one per field of a stack ``(n, *grid.shape)``),
        the relative error ``|Q_h - Q| / |Q_h|`` for a scalar (elementwise for a
        vector of scalars, e.g. rates); ``inf`` without a partner, or when the
        partner's vector has another length.
    relative : float or ndarray
        ``error`` relative to the answer (a field: divided by ``integral |Q_h| dx``).
    grid, partner_grid : Grid
    order : int
    error_estimate : float or ndarray
        ``error``, under the name every result uses.
    success : bool
        Every entry of ``error`` is finite (a partner grid existed and solved).
    message : str

    Examples
    --------
    See :func:`estimate_error`.
    """

    value: Any
    partner: Any
    error: Any
    relative: Any
    grid: Grid
    partner_grid: Grid | None
    order: int

    _error_meaning = "L1 for a field, relative for a scalar"

    @property
    def error_estimate(self) -> Any:
        return self.error

    @property
    def success(self) -> bool:
        return bool(np.all(np.isfinite(self.error)))

    @property
    def message(self) -> str:
        if self.partner_grid is None:
            return "no partner grid: an axis would keep fewer than 4 cells"
        return "" if self.success else "the solve on the partner grid failed or gave another shape"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("grid", self.grid), ("partner_grid", self.partner_grid), ("order", self.order),
                ("relative", self.relative)]


def partner_grid(grid: Grid, *, coarsen: bool = False) -> Grid | None:
    """The second grid of an error estimate (see the module docstring): three times the
    cells in 1-D, half the cells per axis (rounded down) in more dimensions or with
    ``coarsen=True`` (for solvers whose cost grows fast with the cells, such as
    :func:`~fokkerplanck.evolve`), ``None`` when an axis would keep fewer than
    :data:`MIN_COARSE` cells.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> from fokkerplanck._solvers.estimate import partner_grid
    >>> partner_grid(fp.Grid(bounds=[(0, 1)], shape=10)).shape
    (30,)
    >>> partner_grid(fp.Grid(bounds=[(0, 1), (0, 2)], shape=(64, 33))).shape
    (32, 16)
    """
    if grid.ndim == 1 and not coarsen:
        return grid.refined(3)
    shape = tuple(n // 2 for n in grid.shape)
    if min(shape) < MIN_COARSE:
        return None
    return Grid(grid.bounds, shape, grid.boundary)


def _lagrange(x_from: np.ndarray, x_to: np.ndarray, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights ``(m, s)`` of ``s``-point Lagrange interpolation from the
    uniform nodes ``x_from`` to the points ``x_to`` (wrapping, or one-sided at walls)."""
    n, h = len(x_from), x_from[1] - x_from[0]
    s = min(STENCIL, n)
    u = (x_to - x_from[0]) / h  # position in index units
    start = np.floor(u).astype(int) - (s // 2 - 1)
    if not periodic:
        start = np.clip(start, 0, n - s)
    nodes = start[:, None] + np.arange(s)[None, :]
    w = np.ones((len(x_to), s))
    for j in range(s):
        for m in range(s):
            if m != j:
                w[:, j] *= (u - nodes[:, m]) / (nodes[:, j] - nodes[:, m])
    return (nodes % n if periodic else nodes), w


def to_grid(values: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """A cell field on ``source`` interpolated to the centres of ``target`` (same box):
    separable six-point Lagrange interpolation, periodic axes wrapped, one-sided near
    walls. ``values`` may carry leading axes (a stack of fields, ``(..., *source.shape)``).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> from fokkerplanck._solvers.estimate import to_grid
    >>> fine, coarse = fp.Grid(bounds=[(0, 1)], shape=40), fp.Grid(bounds=[(0, 1)], shape=20)
    >>> f = np.sin(3 * fine.centers[0])
    >>> bool(np.abs(to_grid(f, fine, coarse) - np.sin(3 * coarse.centers[0])).max() < 1e-7)
    True
    """
    out = np.asarray(values, dtype=float)
    lead = out.ndim - source.ndim
    for k in range(source.ndim):
        idx, w = _lagrange(source.centers[k], target.centers[k], source.periodic[k])
        moved = np.moveaxis(out, lead + k, 0)
        out = np.moveaxis(np.einsum("ms,ms...->m...", w, moved[idx]), 0, lead + k)
    return out


def _is_field(value: Any, grid: Grid) -> bool:
    """A cell field, or a stack of them ``(n, *grid.shape)``."""
    shape = np.shape(value)
    return shape == grid.shape or (len(shape) == grid.ndim + 1 and shape[1:] == grid.shape)


def _compare(value: Any, other: Any, grid: Grid, partner: Grid, order: int) -> tuple[Any, Any]:
    """``(error, relative)`` of ``value`` from ``other`` on ``partner``."""
    if not _is_field(value, grid):  # a scalar or a vector of scalars: relative, elementwise
        f, c = np.asarray(value, dtype=float), np.asarray(other, dtype=float)
        if f.shape != c.shape:
            rel = np.full(f.shape, math.inf)
        else:
            if partner.size > grid.size:
                diff = np.abs(f - c) * 3.0**order / (3.0**order - 1.0)
            else:
                diff = np.abs(f - c) / (_ratio(grid, partner) ** order - 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(f != 0, diff / np.abs(f), np.where(diff == 0, 0.0, math.inf))
        out: Any = float(rel) if rel.ndim == 0 else rel
        return out, out
    f = np.asarray(value, dtype=float)
    c = np.asarray(other, dtype=float)
    if c.shape[:f.ndim - grid.ndim] != f.shape[:f.ndim - grid.ndim]:  # stacks of other lengths
        inf = math.inf if f.ndim == grid.ndim else np.full(f.shape[0], math.inf)
        return inf, inf
    if partner.size > grid.size:  # three times the cells: fine centres 3 i + 1 coincide
        w = 3.0**order
        centre: Any = (Ellipsis, *[slice(1, None, 3)] * grid.ndim)
        restricted = c[centre]
        err = grid.integrate(np.abs(f - restricted)) * w / (w - 1.0)  # as fp.richardson
    else:
        r = _ratio(grid, partner)
        err = partner.integrate(np.abs(to_grid(f, grid, partner) - c)) / (r**order - 1.0)
    size = grid.integrate(np.abs(f))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(size > 0, err / np.where(size > 0, size, 1.0), math.inf)
    if np.ndim(err) == 0:
        return float(err), float(rel)
    return np.asarray(err, dtype=float), rel


def _ratio(grid: Grid, partner: Grid) -> float:
    return float(np.prod([a / b for a, b in zip(grid.shape, partner.shape)]) ** (1.0 / grid.ndim))


def _none(value: Any, grid: Grid, partner: Grid | None, order: int) -> ErrorEstimate:
    """No estimate: ``inf`` (one per element for a vector of scalars, one per field of
    a stack)."""
    shape = np.shape(value)
    if shape in ((), grid.shape):
        inf: Any = math.inf
    else:
        inf = np.full(shape[:1] if _is_field(value, grid) else shape, math.inf)
    return ErrorEstimate(value, None, inf, inf, grid, partner, int(order))


def estimate_error(solve: Callable[[Grid], Any], grid: Grid, *, order: int = 2,
                   value: Any = None, partner: Grid | None = None) -> ErrorEstimate:
    """Estimate the discretization error of ``solve(grid)`` from one more solve on a
    partner grid (Richardson; see the module docstring for the grids and formulas).

    The solvers call this for their ``error_estimate``; call it directly for any
    other grid answer (a moment, an exit time, a spectral gap).

    Parameters
    ----------
    solve : callable
        ``grid -> answer``: a cell field of shape ``grid.shape`` (density, exit
        times, ...), a stack of fields ``(n, *grid.shape)`` (densities at ``n``
        times: one L1 error per field), a scalar (rate, moment, ...) or a vector of
        scalars (rates). Warnings raised on the partner grid are silenced (the
        answer on ``grid`` is the one to check).
    grid : Grid
    order : int
        Order of the scheme: 2 for ``"sg"`` (default), 4 for ``"highorder"``,
        1 for ``"upwind"`` (:data:`ORDER`).
    value : optional
        ``solve(grid)``, when already computed.
    partner : Grid, optional
        The second grid (same box and boundaries): default :func:`partner_grid`.
        Three times the cells per axis, or fewer cells per axis, as the formulas of
        the module docstring need.

    Returns
    -------
    ErrorEstimate
        ``error`` (L1 for a field, one per field of a stack, relative for a
        scalar), ``relative``, both answers.

    Examples
    --------
    The second moment of the non-equilibrium OU process (exact ``E x^2 = 1/2``):

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> sde = fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
    >>> grid = fp.Grid(bounds=[(-5, 5), (-3, 3)], shape=64)
    >>> m2 = lambda g: g.integrate(fp.stationary(sde, g).density * g.points()[..., 0] ** 2)
    >>> est = fp.estimate_error(m2, grid)
    >>> true = abs(est.value - 0.5) / 0.5
    >>> bool(true / 3 < est.error < 3 * true)
    True
    """
    if int(order) != order or order < 1:
        raise ValueError(f"`order` must be a positive integer (2 for scheme='sg'), got {show(order)}.")
    if value is None:
        value = solve(grid)
    if partner is None:
        partner = partner_grid(grid)
    elif partner.bounds != grid.bounds or partner.boundary != grid.boundary or not (
            partner.shape == tuple(3 * n for n in grid.shape)
            or all(m < n for m, n in zip(partner.shape, grid.shape))):
        raise ValueError(
            f"`partner` must cover the box of `grid` with the same boundaries and either three "
            f"times the cells per axis or fewer on every axis; got shape {partner.shape} for "
            f"grid shape {grid.shape}.")
    if partner is None:
        return _none(value, grid, None, order)
    with held():   # the partner grid's warnings are not the caller's (thread-safe, unlike catch_warnings)
        try:
            other = solve(partner)
        except (ConvergenceError, ValueError, np.linalg.LinAlgError, RuntimeError):
            return _none(value, grid, partner, order)
    err, rel = _compare(value, other, grid, partner, int(order))
    return ErrorEstimate(value, other, err, rel, grid, partner, int(order))
