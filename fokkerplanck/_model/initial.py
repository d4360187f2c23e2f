"""Initial densities on a grid, each normalised to unit mass.

:func:`gaussian`, :func:`point_mass` and :func:`uniform` return arrays of shape
``grid.shape`` with ``grid.integrate(p) == 1``, ready for :func:`~fokkerplanck.evolve`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._util.errors import warn
from .._util.validate import covariance
from .grid import Grid

__all__ = ["gaussian", "point_mass", "uniform"]


def _check_grid(grid: Any) -> Grid:
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid, got {type(grid).__name__}.")
    return grid


def _point(x: Any, grid: Grid, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a point of {grid.ndim} coordinates, got {x!r}.") from None
    if a.ndim == 0 and grid.ndim == 1:
        a = a.reshape(1)
    if a.shape != (grid.ndim,):
        raise ValueError(
            f"`{name}` has shape {a.shape}; on this {grid.ndim}-D grid it must have shape "
            f"({grid.ndim},)" + (" or be a scalar." if grid.ndim == 1 else ".")
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` must be finite, got {a.tolist()}.")
    return a


def gaussian(grid: Grid, mean: Any, cov: Any) -> np.ndarray:
    """Gaussian density ``N(mean, cov)`` at the cell centres, normalised on the grid.

    Parameters
    ----------
    grid : Grid
    mean : float or array_like, shape (ndim,)
    cov : float, array_like (ndim,) or (ndim, ndim)
        Covariance: a scalar (``cov * I``), per-axis variances, or an SPD matrix.

    Returns
    -------
    ndarray, shape grid.shape
        ``>= 0``, ``grid.integrate(p) == 1``. Periodic axes are not wrapped: the
        Gaussian is evaluated at the centres and truncated to the box.

    Raises
    ------
    ValueError
        Wrong shapes, non-finite values, or a covariance that is not symmetric
        positive definite.

    Warns
    -----
    FokkerPlanckWarning
        When the Gaussian is narrower than a cell (use :func:`point_mass`) or when
        more than 1% of its mass lies outside the box (it is renormalised).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-6, 8), (-6, 6)], shape=140)
    >>> p = fp.gaussian(grid, mean=[1.0, 0.0], cov=[[1.0, 0.3], [0.3, 0.5]])
    >>> round(grid.integrate(p), 12)
    1.0
    >>> np.round(grid.mean(p), 6)
    array([1., 0.])
    """
    grid = _check_grid(grid)
    d = grid.ndim
    m = _point(mean, grid, "mean")
    try:
        c = np.asarray(cov, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`cov` must be a scalar, a (d,) vector or a (d, d) matrix, got {cov!r}.") from None
    if c.ndim == 0:
        c = float(c) * np.eye(d)
    elif c.ndim == 1 and c.shape == (d,):
        c = np.diag(c)
    elif c.shape != (d, d):
        raise ValueError(
            f"`cov` has shape {c.shape}; on this {d}-D grid give a scalar, ({d},) variances "
            f"or a ({d}, {d}) matrix."
        )
    c = covariance("cov", c, definite=True,
                   hint="A Gaussian with a singular covariance has no density; for a delta in some "
                        "directions give a variance of about a cell width squared there.")
    w = np.linalg.eigvalsh(c)
    resolved = np.sqrt(w[0]) >= min(grid.spacing)
    if not resolved:
        warn(
            f"the Gaussian's smallest standard deviation {np.sqrt(w[0]):.3g} is below the "
            f"cell width {min(grid.spacing):.3g}: it is not resolved. Refine the grid, or "
            "use fp.point_mass for a delta.")
    x = grid.points().reshape(-1, d) - m
    q = np.einsum("ni,ni->n", x, np.linalg.solve(c, x.T).T)
    logp = -0.5 * q - 0.5 * np.linalg.slogdet(2 * np.pi * c)[1]
    top = float(logp.max())
    p = np.exp(logp - top).reshape(grid.shape)
    inside = float(p.sum()) * grid.cell_volume * np.exp(top)
    if resolved and inside < 0.99:
        warn(
            f"only {100 * inside:.3g}% of the Gaussian N({m.tolist()}, cov) lies in the box "
            f"{list(grid.bounds)}; it was truncated and renormalised. Widen the box.")
    return p / (float(p.sum()) * grid.cell_volume)


def point_mass(grid: Grid, x: Any) -> np.ndarray:
    """All mass in the cell containing ``x``: ``1 / cell_volume`` there, 0 elsewhere.

    Parameters
    ----------
    grid : Grid
    x : float or array_like, shape (ndim,)
        A point in the box (the upper wall itself belongs to the last cell; a
        point on an interior face belongs to the cell above it). Periodic axes wrap.

    Returns
    -------
    ndarray, shape grid.shape
        The discrete delta, ``grid.integrate(p) == 1``.

    Raises
    ------
    ValueError
        ``x`` outside the box on a non-periodic axis, or of the wrong shape.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=4)
    >>> fp.point_mass(grid, 0.3)
    array([0., 4., 0., 0.])
    """
    grid = _check_grid(grid)
    a = _point(x, grid, "x")
    idx, inside = grid.locate(a[None, :])
    if not inside[0]:
        k = int(np.argmax((idx[0] < 0) | (idx[0] >= np.asarray(grid.shape))))
        raise ValueError(
            f"`x={a.tolist()}` lies outside the box on axis {k} "
            f"({grid.bounds[k][0]:g}, {grid.bounds[k][1]:g}); put it inside or widen the grid."
        )
    p = np.zeros(grid.shape)
    p[tuple(idx[0])] = 1.0 / grid.cell_volume
    return p


def uniform(grid: Grid) -> np.ndarray:
    """The uniform density ``1 / box volume`` on every cell.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(0, 2), (0, 5)], shape=(4, 5))
    >>> float(fp.uniform(grid)[0, 0]), round(grid.integrate(fp.uniform(grid)), 12)
    (0.1, 1.0)
    """
    grid = _check_grid(grid)
    return np.full(grid.shape, 1.0 / (grid.size * grid.cell_volume))
