"""Edge fluxes of a discretization: the data every scheme produces.

A discretization is a set of edges between cells (``tail -> head``, ``head = -1``
for an absorbing wall) with a net flux ``F_e`` that is linear in the density.
:class:`Fluxes` turns them into the generator (``divergence(flux(p)) == A p``), the
probability current and, when the rates satisfy detailed balance, the potential.
The schemes that fill it live in :mod:`.generator` and :mod:`.highorder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .._model.grid import Grid

__all__ = ["Fluxes", "block"]


def block(grid: Grid, ranges: list[np.ndarray], coords: bool = False
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Flat (C-order) indices of the cells ``ranges[0] x ranges[1] x ...`` and, if
    ``coords``, their centres ``(n, ndim)``."""
    flat = np.ravel_multi_index(np.ix_(*ranges), grid.shape).ravel()
    if not coords:
        return flat, None
    mesh = np.meshgrid(*[grid.centers[k][r] for k, r in enumerate(ranges)], indexing="ij")
    return flat, np.stack(mesh, axis=-1).reshape(-1, grid.ndim)


@dataclass(frozen=True, eq=False)
class Fluxes:
    """The edges of a discretization and how their fluxes act on a density.

    Every edge ``e`` carries a net flux ``F_e`` (per unit cell volume and time) from
    cell ``tail[e]`` to cell ``head[e]`` (``head = -1``: out through an absorbing
    wall). ``flux(p)`` gives ``F`` as a linear function of ``p`` and
    ``divergence(F)`` the change of ``p`` it causes, so that
    ``divergence(flux(p)) == generator @ p``.

    Attributes
    ----------
    grid : Grid
    tail, head : int arrays ``(E,)``
    delta : array ``(E, ndim)``
        Physical vector of each edge (tail to head).
    flux_matrix : sparse ``(E, size)``
        ``F = flux_matrix @ p``. When a scheme gives it (multi-point fluxes), it defines
        the generator; ``forward``/``backward``, if also given, are then only the
        two-point part (e.g. the rates of absorbing half-edges).
    scheme : str
    dpsi : array ``(E,)`` or None
        Drop of ``psi`` along each edge (two-point schemes only).
    longest_offset : int
        Longest stencil offset (max-norm, in cells).

    Examples
    --------
    The divergence of the edge fluxes is the generator, exactly:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-2, 2), (-2, 2)], shape=(12, 10), boundary="periodic")
    >>> fl = fp.fluxes(fp.SDE(drift=lambda x: np.cos(x), cov=[[1, .6], [.6, 1]]), grid)
    >>> p = np.random.default_rng(0).random(grid.size)
    >>> bool(np.allclose(fl.divergence(fl.flux(p)), fl.matrix @ p, rtol=0, atol=1e-12))
    True
    """

    grid: Grid
    tail: np.ndarray
    head: np.ndarray
    delta: np.ndarray
    scheme: str
    given_flux_matrix: sp.csr_matrix | None = field(default=None, repr=False)
    dpsi: np.ndarray | None = None
    forward: np.ndarray | None = field(default=None, repr=False)
    backward: np.ndarray | None = field(default=None, repr=False)
    longest_offset: int = 1
    segments: tuple = ()
    peclet: np.ndarray | None = field(default=None, repr=False)
    weight: np.ndarray | None = field(default=None, repr=False)

    def potential(self, rtol: float = 1e-10) -> np.ndarray | None:
        """``psi`` with ``p = exp(-psi)`` stationary, if the rates satisfy detailed balance.

        Sums ``Delta psi`` along the axis edges (a spanning tree of the grid) and
        checks every edge, wrap-around and diagonal ones included (Kolmogorov's
        criterion). Returns ``None`` when some edge disagrees by more than
        ``rtol * (1 + |Delta psi|)`` or the scheme is not two-point.
        """
        if self.dpsi is None or np.any(self.head < 0):
            return None
        g = self.grid
        axis_seg = {}
        for offset, start, stop, shape in self.segments:
            if sum(offset) == 1 and np.count_nonzero(offset) == 1:
                axis_seg[int(np.argmax(offset))] = self.dpsi[start:stop].reshape(shape)
        if len(axis_seg) != g.ndim:
            return None
        # spanning tree: along axis 0 from the corner, then axis 1 from that line, ...
        psi = np.zeros((1,) * g.ndim)
        for k in range(g.ndim):
            z = axis_seg[k][tuple(
                slice(0, n - 1) if j == k else (slice(0, 1) if j > k else slice(None))
                for j, n in enumerate(g.shape))]
            psi = psi + np.concatenate([np.zeros_like(psi), np.cumsum(z, axis=k)], axis=k)
        flat = psi.ravel()
        mismatch = np.abs(flat[self.head] - flat[self.tail] - self.dpsi)
        if np.all(mismatch <= rtol * (1.0 + np.abs(self.dpsi))):
            return psi
        return None

    @cached_property
    def flux_matrix(self) -> sp.csr_matrix:
        """``(E, size)`` sparse matrix with ``F = flux_matrix @ p``."""
        if self.given_flux_matrix is not None:
            return self.given_flux_matrix
        E, n = self.tail.size, self.grid.size
        inner = self.head >= 0
        return sp.csr_matrix(
            (np.concatenate([self.forward, -self.backward[inner]]),
             (np.concatenate([np.arange(E), np.flatnonzero(inner)]),
              np.concatenate([self.tail, self.head[inner]]))),
            shape=(E, n),
        )

    def flux(self, p: np.ndarray) -> np.ndarray:
        """Net flux along every edge for density ``p`` (``grid.shape`` or flat)."""
        return self.flux_matrix @ np.asarray(p, dtype=float).ravel()

    def divergence(self, F: np.ndarray) -> np.ndarray:
        """``dp/dt`` caused by edge fluxes ``F`` (flat, length ``grid.size``)."""
        n = self.grid.size
        inner = self.head >= 0
        return np.bincount(self.head[inner], F[inner], minlength=n) - np.bincount(self.tail, F, minlength=n)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The generator ``A`` (``dp/dt = A p``), CSR, C-order flattening."""
        n = self.grid.size
        if self.forward is None or self.given_flux_matrix is not None:  # general (multi-point) fluxes
            inner = self.head >= 0
            E = len(self.tail)
            rows = np.concatenate([self.head[inner], self.tail])
            cols = np.concatenate([np.flatnonzero(inner), np.arange(E)])
            vals = np.concatenate([np.ones(inner.sum()), -np.ones(E)])
            div = sp.csr_matrix((vals, (rows, cols)), shape=(n, E))
            return (div @ self.flux_matrix).tocsr()
        inner = self.head >= 0
        t, h = self.tail, self.head
        diag = -np.bincount(t, self.forward, minlength=n) - np.bincount(h[inner], self.backward[inner], minlength=n)
        rows = np.concatenate([h[inner], t[inner], np.arange(n)])
        cols = np.concatenate([t[inner], h[inner], np.arange(n)])
        vals = np.concatenate([self.forward[inner], self.backward[inner], diag])
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))

    def current(self, p: np.ndarray) -> np.ndarray:
        """Cell-centred probability current ``(ndim, *grid.shape)``.

        ``J(x) = 1/2 sum_e F_e delta_e`` over the edges touching the cell, the
        discrete counterpart of ``b p - D grad p``.
        """
        F = self.flux(p)
        n, d = self.grid.size, self.grid.ndim
        inner = self.head >= 0
        J = np.empty((d, n))
        for k in range(d):
            w = 0.5 * F * self.delta[:, k]
            J[k] = np.bincount(self.tail, w, minlength=n) + np.bincount(self.head[inner], w[inner], minlength=n)
        return J.reshape((d,) + self.grid.shape)
