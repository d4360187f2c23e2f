"""Richardson extrapolation across two cell-centred grids.

Refining every axis by an *odd* factor ``r`` puts a fine cell centre on every
coarse one (fine cell ``r i + (r - 1) / 2``), so the two solutions can be combined
pointwise without interpolation. If the error is ``c h^q + O(h^{q+2})`` (even
expansions, as for the symmetric schemes here), then

    p_R = (r^q p_fine - p_coarse) / (r^q - 1)

cancels the leading term: the Scharfetter–Gummel scheme (``q = 2``) becomes fourth
order (measured on the non-equilibrium OU: L1 1.0e-6 at 64^2 with a 192^2 partner),
which is the cheapest way to a small error for a smooth density.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._model.grid import Grid
from .._util.summary import Summary

__all__ = ["Extrapolation", "richardson"]


@dataclass(frozen=True, eq=False, repr=False)
class Extrapolation(Summary):
    """An extrapolated density on the coarse grid.

    Attributes
    ----------
    density : ndarray, ``grid.shape``
        ``(r^q p_fine - p_coarse) / (r^q - 1)`` at the coarse centres, negatives
        (round-off of the extrapolation in the tails) set to zero, unit mass.
    grid : Grid
        The coarse grid.
    fine : ndarray
        The fine solution, on ``grid.refined(factor)``.
    coarse : ndarray
        The coarse solution.
    error_estimate : float
        Estimated L1 error of the *fine* solution, ``integral |p_fine - p_coarse| /
        (r^q - 1)`` at the coarse centres; the extrapolated density is usually far
        better.
    order, factor : int
    success : bool
        ``error_estimate`` is finite.
    message : str

    Examples
    --------
    See :func:`richardson`.
    """

    density: np.ndarray
    grid: Grid
    fine: np.ndarray
    coarse: np.ndarray
    error_estimate: float
    order: int
    factor: int

    _error_meaning = "L1 norm of the fine solution's error; the extrapolated density is usually far better"

    @property
    def success(self) -> bool:
        return bool(math.isfinite(self.error_estimate))

    @property
    def message(self) -> str:
        return "" if self.success else "the coarse or fine solution is not finite"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("grid", self.grid), ("order", self.order), ("factor", self.factor)]


def richardson(solve: Callable[[Grid], np.ndarray], grid: Grid, *, order: int = 2, factor: int = 3) -> Extrapolation:
    """Extrapolate ``solve(grid)`` and ``solve(grid.refined(factor))`` to higher order.

    Parameters
    ----------
    solve : callable
        ``grid -> density`` of shape ``grid.shape`` (for example
        ``lambda g: fp.stationary(sde, g).density``).
    grid : Grid
        The coarse grid; the result lives on its cells.
    order : int
        Order ``q`` of the scheme's leading error term (2 for ``"sg"``, 4 for
        ``"highorder"``).
    factor : int
        Odd refinement factor (3 by default).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> H, C = np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]
    >>> sde = fp.ornstein_uhlenbeck(H, C)
    >>> grid = fp.Grid(bounds=[(-6, 6), (-3.5, 3.5)], shape=64)
    >>> ex = fp.richardson(lambda g: fp.stationary(sde, g).density, grid)
    >>> exact = fp.gaussian_density(grid, np.zeros(2), fp.lyapunov(H, C))
    >>> bool(grid.integrate(abs(ex.density - exact)) < 1.5e-6)
    True
    """
    if int(factor) != factor or factor < 3 or factor % 2 == 0:
        raise ValueError(
            f"`factor` must be an odd integer >= 3 (so that coarse and fine cell centres "
            f"coincide), got {factor!r}."
        )
    if int(order) != order or order < 1:
        raise ValueError(f"`order` must be a positive integer, got {order!r}.")
    coarse = np.asarray(solve(grid), dtype=float)
    fine_grid = grid.refined(int(factor))
    fine = np.asarray(solve(fine_grid), dtype=float)
    for name, arr, g in (("coarse", coarse, grid), ("fine", fine, fine_grid)):
        if arr.shape != g.shape:
            raise ValueError(f"`solve` returned shape {arr.shape} on the {name} grid; expected {g.shape}.")
    mid = (factor - 1) // 2
    restricted = fine[tuple(slice(mid, None, factor) for _ in grid.shape)]
    w = float(factor) ** order
    p = (w * restricted - coarse) / (w - 1)
    p = np.where(p < 0, 0.0, p)
    p = p / grid.integrate(p)
    estimate = grid.integrate(np.abs(restricted - coarse)) / (w - 1)
    return Extrapolation(p, grid, fine, coarse, float(estimate), int(order), int(factor))
