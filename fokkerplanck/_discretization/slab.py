"""Rows of the generator for a slab of cells, assembled from the slab and a halo.

A distributed solve gives every process a contiguous block of rows of the generator:
the cells whose first index lies in ``[start, stop)`` (C order makes those rows
contiguous). Every entry of those rows comes from an edge that touches an owned cell,
and an edge's rates depend only on the SDE and the density near it. So the generator
assembled on a box that holds the slab plus ``halo`` planes of cells on each side has
exactly the owned rows of the whole grid's generator (to the round-off of the cell
centres, which the smaller box computes from its own bounds); the halo's rows are
discarded. Across a periodic axis 0 the halo is unwrapped (cells beyond the box, where
the drift is evaluated as on the wrap-around edges of the whole grid) and its columns
are mapped back by the period. No process assembles more than its slab and halo.

The same holds for the density split (``TwoPointFluxes.density_split``), whose face
factors read ``log p`` one cell beyond each edge: hence a halo of the longest stencil
offset plus two planes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._model.grid import Grid
from .._model.sde import SDE
from .fluxes import TwoPointFluxes
from .generator import LONG_OFFSET, Fluxes, fluxes

#: Halo planes beyond the longest stencil offset (the split's face factors read one
#: cell past each edge; one more for safety against one-sided differences).
HALO_MARGIN = 2

#: The halo used before the stencil is known (the longest offset that does not warn,
#: ``generator.LONG_OFFSET``, plus the margin); widened when the stencil is longer.
DEFAULT_HALO = LONG_OFFSET + HALO_MARGIN


@dataclass(frozen=True)
class Slab:
    """The owned planes ``[start, stop)`` of axis 0 of ``grid``, with the generator of a
    box grid ``local`` that holds them and ``halo`` planes on each side.

    Attributes
    ----------
    grid : Grid
        The whole grid.
    start, stop : int
        Owned planes along axis 0.
    local : Grid
        The slab plus halo (reflecting at the cuts; the whole grid's boundary where it
        reaches a wall).
    first : int
        Index along axis 0 of the whole grid (unwrapped: may be negative or beyond the
        last plane on a periodic axis) of ``local``'s plane 0.
    fluxes : Fluxes
        The generator on ``local``; its rows of owned cells are rows of the whole grid's.
    """

    grid: Grid
    start: int
    stop: int
    local: Grid
    first: int
    fluxes: Fluxes

    @property
    def plane(self) -> int:
        """Cells per plane of axis 0."""
        return self.grid.size // self.grid.shape[0]

    @property
    def owned(self) -> slice:
        """The owned cells, as a slice of ``local``'s cells (C order)."""
        lo = (self.start - self.first) * self.plane
        return slice(lo, lo + (self.stop - self.start) * self.plane)

    @property
    def global_index(self) -> np.ndarray:
        """Index in the whole grid of every cell of ``local`` (C order)."""
        n0 = self.grid.shape[0]
        planes = (np.arange(self.local.shape[0]) + self.first) % n0
        return (planes[:, None] * self.plane + np.arange(self.plane)[None, :]).ravel()

    def rows(self, matrix: sp.spmatrix | None = None) -> sp.csr_matrix:
        """The owned rows of ``matrix`` (default: the generator), columns in the whole
        grid's numbering: a ``(owned cells, grid.size)`` CSR matrix."""
        A = sp.csr_matrix(self.fluxes.matrix if matrix is None else matrix)[self.owned]
        A = sp.csr_matrix((A.data, self.global_index[A.indices], A.indptr), shape=(A.shape[0], self.grid.size))
        A.sum_duplicates()   # a periodic axis shorter than the slab maps two columns to one
        return A

    def density_split(self, p_local: np.ndarray, selling: bool) -> Slab:
        """The slab of the density-split generator (``TwoPointFluxes.density_split``) for
        the density ``p_local`` on ``local`` (owned cells and halo); ``selling``: whether
        the whole grid's stencil has diagonal edges (the split decides by it, and a slab
        may hold none where the whole grid has some)."""
        if not isinstance(self.fluxes, TwoPointFluxes):
            raise TypeError("the density split needs two-point fluxes (schemes 'sg', 'sg2')")
        return Slab(self.grid, self.start, self.stop, self.local, self.first,
                    self.fluxes.density_split(np.asarray(p_local).ravel(), selling))


def partition(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges of ``range(n)`` whose lengths differ by at most one."""
    if not 1 <= parts <= n // 3:
        raise ValueError(f"cannot split {n} planes of axis 0 among {parts} processes with at least 3 planes "
                         f"each (a slab is a grid): use at most {max(n // 3, 1)} processes, or more cells "
                         "along axis 0.")
    cuts = [n * k // parts for k in range(parts + 1)]
    return list(itertools.pairwise(cuts))


def _local_grid(grid: Grid, first: int, last: int) -> Grid:
    """The box of planes ``[first, last)`` of axis 0 (unwrapped indices)."""
    n0 = grid.shape[0]
    lo, hi = grid.bounds[0]
    h = (hi - lo) / n0
    side = list(grid.boundary[0])
    boundary = [("reflecting" if first != 0 or grid.periodic[0] else side[0],
                 "reflecting" if last != n0 or grid.periodic[0] else side[1])]
    boundary += list(grid.boundary[1:])
    return Grid(bounds=[(lo + first * h, lo + last * h), *grid.bounds[1:]],
                shape=(last - first, *grid.shape[1:]), boundary=boundary)


def _check_periodic(sde: SDE, grid: Grid, t: float | None) -> None:
    """Raise unless drift and covariance repeat with the period of axis 0 (the halo
    beyond a periodic axis is evaluated there; at 64 cell centres, shifted by one period)."""
    d = grid.ndim
    index = np.unravel_index(np.linspace(0, grid.size - 1, min(grid.size, 64)).astype(int), grid.shape)
    x = np.stack([c[i] for c, i in zip(grid.centers, index)], axis=-1)
    shift = np.zeros(d)
    shift[0] = grid.bounds[0][1] - grid.bounds[0][0]
    for name, f in (("drift", sde.flux_drift), ("covariance", sde.cov)):
        a, b = np.asarray(f(x, t), dtype=float), np.asarray(f(x + shift, t), dtype=float)
        scale = max(float(np.abs(a).max()), np.finfo(float).tiny)
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale):
            raise ValueError(
                f"Axis 0 is periodic, but the SDE's {name} at x + {shift[0]:g} e_0 (one period) differs "
                f"from its value at x (by up to {float(np.abs(a - b).max()):.2e}): give an SDE that repeats "
                "with the grid's period, or make axis 0 reflecting.")


def slab(sde: SDE, grid: Grid, start: int, stop: int, *, scheme: str = "sg", conductance: str = "sg",
         t: float | None = None, halo: int | None = None) -> Slab:
    """The generator rows of planes ``[start, stop)`` of axis 0, from the slab and a halo.

    Parameters
    ----------
    sde, grid, scheme, conductance, t
        As for :func:`fokkerplanck.fluxes`.
    start, stop : int
        Owned planes, ``0 <= start < stop <= grid.shape[0]``.
    halo : int, optional
        Planes on each side; default: the longest stencil offset plus
        :data:`HALO_MARGIN` (the box is assembled again if the first guess,
        :data:`DEFAULT_HALO`, was too thin).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> from fokkerplanck._discretization.slab import slab
    >>> grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=16)
    >>> sde = fp.ornstein_uhlenbeck(np.array([[1.0, 1.0], [-1.0, 1.0]]), np.eye(2))
    >>> s = slab(sde, grid, 4, 8)
    >>> A = fp.generator(sde, grid)
    >>> bool(abs(s.rows() - A[4 * 16:8 * 16]).max() < 1e-12 * abs(A).max())
    True
    """
    n0 = grid.shape[0]
    if not (0 <= start < stop <= n0):
        raise ValueError(f"`start, stop` = {start}, {stop} must satisfy 0 <= start < stop <= {n0}.")
    if grid.periodic[0]:
        _check_periodic(sde, grid, t)
    width = DEFAULT_HALO if halo is None else int(halo)
    while True:
        first, last = start - width, stop + width
        if not grid.periodic[0]:
            first, last = max(first, 0), min(last, n0)
        local = _local_grid(grid, first, last)
        fl = fluxes(sde, local, scheme=scheme, t=t, conductance=conductance)
        if halo is not None or fl.longest_offset + HALO_MARGIN <= width:
            return Slab(grid, start, stop, local, first, fl)
        width = fl.longest_offset + HALO_MARGIN
