"""Edge fluxes of a discretization: the data every scheme produces.

A discretization is a set of edges between cells (``tail -> head``, ``head = -1``
for an absorbing wall) with a net flux ``F_e`` that is linear in the density.
:class:`Fluxes` turns them into the generator (``divergence(flux(p)) == A p``), the
probability current and, when the rates satisfy detailed balance, the potential.
Two kinds exist: ``TwoPointFluxes`` (``F_e = forward_e p_tail - backward_e
p_head``, plus, for scheme ``"sg2"``, a third cell on some faces) from
:mod:`.generator` and :mod:`.structured`, and ``MatrixFluxes`` (any flux
matrix) from :mod:`.highorder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from .._model.grid import Grid, tensor_points
from .._util.linalg import unique_rows

__all__ = [
    "EdgeBuilder",
    "EdgePotential",
    "Fluxes",
    "Group",
    "MatrixFluxes",
    "Segment",
    "Triplets",
    "TwoPointFluxes",
    "block",
    "block_centres",
    "centres_of",
    "edge_indices",
    "generator_csr",
]


def block(grid: Grid, ranges: list[np.ndarray]) -> np.ndarray:
    """Flat (C-order) indices of the cells ``ranges[0] x ranges[1] x ...``."""
    for r, n in zip(ranges, grid.shape):
        r = np.asarray(r)
        if r.size and (r.min() < 0 or r.max() >= n):
            raise ValueError(f"cell indices {r.min()}..{r.max()} outside an axis of {n} cells")
    strides = grid.strides
    out = np.asarray(ranges[0], dtype=np.int64) * strides[0]
    for r, stride in zip(ranges[1:], strides[1:]):   # (5x faster than ravel_multi_index of np.ix_)
        out = np.add.outer(out, np.asarray(r, dtype=np.int64) * stride)
    return out.ravel()


def block_centres(grid: Grid, ranges: list[np.ndarray], shift: np.ndarray | None = None) -> np.ndarray:
    """Centres ``(n, ndim)`` of the cells ``ranges[0] x ranges[1] x ...`` (C order), plus
    ``shift`` (a physical vector) where given."""
    return tensor_points([grid.centers[k][r] if shift is None or not shift[k] else grid.centers[k][r] + shift[k]
                          for k, r in enumerate(ranges)]).reshape(-1, grid.ndim)


def edge_indices(grid: Grid, offset: np.ndarray, coords: bool = True, at: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cells ``i`` with ``i + offset`` inside (wrapping periodic axes).

    Returns the flat tail and head indices, the points ``tail centre + at * offset * h``
    ``(E, d)`` (``at = 0``: the tail centres, ``0.5``: the edge midpoints; ``(0, d)``
    unless ``coords``) and a mask of the edges that wrap around a periodic axis.
    """
    src, dst, wraps = [], [], []
    for k, (n, e) in enumerate(zip(grid.shape, offset)):
        e = int(e)
        if grid.periodic[k]:
            s = np.arange(n)
            t = (s + e) % n
            wraps.append(t != s + e)
        else:
            s = np.arange(max(0, -e), n - max(0, e))
            t = s + e
            wraps.append(np.zeros(len(s), dtype=bool))
        src.append(s)
        dst.append(t)
    tail, head = block(grid, src), block(grid, dst)
    shift = at * (np.asarray(offset) * np.asarray(grid.spacing)) if at else None
    x = block_centres(grid, src, shift) if coords else np.empty((0, grid.ndim))
    shape = tuple(len(s) for s in src)
    wrap = np.zeros(shape, dtype=bool)
    for k, m in enumerate(wraps):  # (np.ix_ would read boolean arrays as masks)
        wrap = wrap | m.reshape([-1 if j == k else 1 for j in range(grid.ndim)])
    return tail, head, x, wrap.ravel()


def centres_of(grid: Grid, cells: np.ndarray) -> np.ndarray:
    """Centres ``(len(cells), ndim)`` of the cells with flat (C-order) indices ``cells``."""
    at = np.unravel_index(cells, grid.shape)
    return np.stack([grid.centers[k][i] for k, i in enumerate(at)], axis=-1).reshape(-1, grid.ndim)


class Segment(NamedTuple):
    """Edges ``start:stop`` are all the edges of stencil ``offset``, C-ordered ``shape``."""

    offset: tuple[int, ...]
    start: int
    stop: int
    shape: tuple[int, ...]


class Group(NamedTuple):
    """Edges ``start:stop`` were added together: one stencil ``offset`` (cells, tail to
    head), distinct tails and distinct heads, all inside or all through an absorbing
    wall. The generator is assembled from the groups directly (:func:`generator_csr`)."""

    offset: tuple[int, ...]
    start: int
    stop: int


@dataclass(frozen=True, eq=False)
class EdgePotential:
    """Drops ``dpsi = psi_head - psi_tail`` of a two-point scheme whose zero-flux
    state is ``p = exp(-psi)`` edge by edge (``nan``: a one-way edge), and the
    segments of full stencil offsets (a spanning tree is read off the axis ones)."""

    dpsi: np.ndarray
    segments: tuple[Segment, ...]


class Triplets(NamedTuple):
    """Extra flux-matrix entries ``F[edge] += value * p[cell]`` (a third cell per face)."""

    edge: np.ndarray
    cell: np.ndarray
    value: np.ndarray


@dataclass(frozen=True, eq=False)
class Fluxes:
    """The edges of a discretization and how their fluxes act on a density.

    Every edge ``e`` carries a net flux ``F_e`` (per unit cell volume and time) from
    cell ``tail[e]`` to cell ``head[e]`` (``head = -1``: out through an absorbing
    wall). ``flux(p)`` gives ``F`` as a linear function of ``p`` and
    ``divergence(F)`` the change of ``p`` it causes, so that
    ``divergence(flux(p)) == generator @ p``. The concrete kinds are
    ``TwoPointFluxes`` and ``MatrixFluxes``.

    Attributes
    ----------
    grid : Grid
    tail, head : int arrays ``(E,)``
    delta : array ``(E, ndim)``
        Physical vector of each edge (tail to head); built on each access where the
        fluxes keep one vector per stencil offset instead (``vectors=None``: the
        two-point fluxes of the package, 0.3 GB saved at 128^3 with a full covariance).
    scheme : str
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
    vectors: np.ndarray | None   # (E, ndim), or None: from the directions (TwoPointFluxes' groups)
    scheme: str
    longest_offset: int = 1

    @property
    def delta(self) -> np.ndarray:
        """Physical vector of every edge ``(E, ndim)``, tail to head."""
        if self.vectors is not None:
            return self.vectors
        rows, label = self.directions
        return rows[label]

    @cached_property
    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, label)``: the distinct edge vectors (lexicographic order) and each
        edge's index among them, as ``unique_rows(delta)``."""
        if self.vectors is None:
            raise ValueError("These fluxes keep no edge vectors (vectors=None) and no stencil groups that cover "
                             "every edge to build them from; construct them with vectors=(E, ndim) array.")
        return unique_rows(self.vectors)

    def potential(self, rtol: float = 1e-10) -> np.ndarray | None:
        """``psi`` with ``p = exp(-psi)`` stationary, if the rates satisfy detailed balance.

        ``None`` unless the scheme is two-point and gives edge potentials (see
        ``TwoPointFluxes.potential``).
        """
        return None

    @cached_property
    def flux_matrix(self) -> sp.csr_matrix:
        """``(E, size)`` sparse matrix with ``F = flux_matrix @ p``."""
        raise NotImplementedError  # pragma: no cover  (every kind defines it)

    def forget_matrices(self) -> None:
        """Drop the cached :attr:`matrix` and :attr:`flux_matrix` (built again on the next
        access): for a caller that holds several fluxes and needs the matrix of one at a
        time (the density split's passes: 0.3 GB each at 128^3 with a full covariance)."""
        for name in ("matrix", "flux_matrix"):
            self.__dict__.pop(name, None)

    def flux(self, p: np.ndarray) -> np.ndarray:
        """Net flux along every edge for density ``p`` (``grid.shape`` or flat)."""
        return np.asarray(self.flux_matrix @ np.asarray(p, dtype=float).ravel())

    def divergence(self, F: np.ndarray) -> np.ndarray:
        """``dp/dt`` caused by edge fluxes ``F`` (flat, length ``grid.size``)."""
        n = self.grid.size
        inner = self.head >= 0
        return np.bincount(self.head[inner], F[inner], minlength=n) - np.bincount(self.tail, F, minlength=n)

    def _divergence_times_flux(self) -> sp.csr_matrix:
        """``div @ flux_matrix``: the generator of general (multi-point) fluxes."""
        n = self.grid.size
        inner = self.head >= 0
        E = len(self.tail)
        rows = np.concatenate([self.head[inner], self.tail])
        cols = np.concatenate([np.flatnonzero(inner), np.arange(E)])
        vals = np.concatenate([np.ones(inner.sum()), -np.ones(E)])
        div = sp.csr_matrix((vals, (rows, cols)), shape=(n, E))
        return sp.csr_matrix(div @ self.flux_matrix)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The generator ``A`` (``dp/dt = A p``), CSR, C-order flattening."""
        return self._divergence_times_flux()

    def current(self, p: np.ndarray) -> np.ndarray:
        """Cell-centred probability current ``(ndim, *grid.shape)``.

        ``J(x) = 1/2 sum_e F_e delta_e`` over the edges touching the cell, the
        discrete counterpart of ``b p - D grad p``.
        """
        F = self.flux(p)
        n, d = self.grid.size, self.grid.ndim
        inner = self.head >= 0
        J = np.empty((d, n))
        delta = self.delta
        for k in range(d):
            w = 0.5 * F * delta[:, k]
            J[k] = np.bincount(self.tail, w, minlength=n) + np.bincount(self.head[inner], w[inner], minlength=n)
        return J.reshape((d,) + self.grid.shape)


@dataclass(frozen=True, eq=False, kw_only=True)
class MatrixFluxes(Fluxes):
    """Fluxes given by a general flux matrix ``F = given @ p`` (multi-point stencils)."""

    given: sp.csr_matrix = field(repr=False)

    @cached_property
    def flux_matrix(self) -> sp.csr_matrix:
        return self.given


@dataclass(frozen=True, eq=False, kw_only=True)
class TwoPointFluxes(Fluxes):
    """Two-point fluxes ``F_e = forward_e p_tail - backward_e p_head``.

    Besides the attributes of :class:`Fluxes`:

    Attributes
    ----------
    forward, backward : arrays ``(E,)``
        The rates, ``>= 0`` for the monotone schemes (``backward = 0`` on absorbing
        half-edges).
    peclet : array ``(E,)``
        ``|Delta psi|`` per edge (the cell Peclet number; 0 on pure advection edges).
    weight : array ``(E,)``
        The diffusion weight of each edge in cell units.
    edge_potential : EdgePotential or None
        Edge drops of ``psi`` when the scheme defines them (scheme ``"sg"``/``"upwind"``
        of plain drifts), for :meth:`potential`.
    third : Triplets or None
        Scheme ``"sg2"``: the third cell of the upwind-biased faces;
        ``forward``/``backward`` are then the two-point part of the flux matrix.
    conductance : str
        The conductance of the exponentially fitted edges: ``"sg"``
        (Scharfetter–Gummel), ``"flat"`` (:func:`~.weights.fitted_pair`) or
        ``"split"`` (:meth:`density_split`).
    """

    forward: np.ndarray = field(repr=False)
    backward: np.ndarray = field(repr=False)
    peclet: np.ndarray = field(repr=False)
    weight: np.ndarray = field(repr=False)
    edge_potential: EdgePotential | None = field(default=None, repr=False)
    third: Triplets | None = field(default=None, repr=False)
    conductance: str = "sg"
    groups: tuple[Group, ...] = field(default=(), repr=False)

    @property
    def dpsi(self) -> np.ndarray:
        """Drop of ``psi`` along each edge (``edge_potential.dpsi``).

        Raises ``ValueError`` for schemes without edge potentials (structured drifts).
        """
        if self.edge_potential is None:
            raise ValueError(f"scheme {self.scheme!r} gives no edge potentials for this SDE "
                             "(a drift given with its structure); use the plain drift.")
        return self.edge_potential.dpsi

    def potential(self, rtol: float = 1e-10) -> np.ndarray | None:
        """``psi`` with ``p = exp(-psi)`` stationary, if the rates satisfy detailed balance.

        Sums ``Delta psi`` along the axis edges (a spanning tree of the grid) and
        checks every edge, wrap-around and diagonal ones included (Kolmogorov's
        criterion). Returns ``None`` when some edge disagrees by more than
        ``rtol * (1 + |Delta psi|)``, the scheme gives no edge potentials or there
        are absorbing walls.
        """
        ep = self.edge_potential
        if ep is None or np.any(self.head < 0):
            return None
        g = self.grid
        axis_seg = {}
        for seg in ep.segments:
            if sum(seg.offset) == 1 and np.count_nonzero(seg.offset) == 1:
                axis_seg[int(np.argmax(seg.offset))] = ep.dpsi[seg.start:seg.stop].reshape(seg.shape)
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
        mismatch = np.abs(flat[self.head] - flat[self.tail] - ep.dpsi)
        if np.all(mismatch <= rtol * (1.0 + np.abs(ep.dpsi))):
            return psi
        return None

    def reweighted(self, f: np.ndarray, fm: np.ndarray) -> TwoPointFluxes:
        """The same edges with another conductance: rates ``weight * f`` forward and
        ``weight * fm`` backward (e.g. ``fm = f * exp(-dpsi)`` from
        :mod:`~fokkerplanck._discretization.weights`); :attr:`matrix` of the result is
        the generator with those weights. Not for three-point (``"sg2"``) faces."""
        if self.third is not None:
            raise ValueError("reweighted() needs two-point faces; scheme 'sg2' has three-point ones.")
        w = np.broadcast_to(self.weight, np.shape(f))
        return replace(self, forward=w * f, backward=w * fm)

    @cached_property
    def selling(self) -> bool:
        """Whether any weighted edge between cells is diagonal (a Selling stencil)."""
        cells = (self.head >= 0) & (np.broadcast_to(self.weight, self.tail.shape) > 0)
        rows, direction = self.directions
        return bool(np.any(np.count_nonzero(rows[np.unique(direction[cells])], axis=1) > 1))

    @property
    def grouped(self) -> bool:
        """Whether the :class:`Group` s hold every edge (then the edge vectors and the
        generator's CSR layout follow from their offsets)."""
        return bool(self.groups) and sum(g.stop - g.start for g in self.groups) == self.tail.size

    @cached_property
    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, label)``: the distinct edge vectors (lexicographic order) and each
        edge's index among them, as ``unique_rows(delta)``; from the :class:`Group` s
        where they hold every edge (one offset per group: no pass over ``delta``)."""
        if not self.grouped:
            return super().directions
        offsets = np.array([g.offset for g in self.groups], dtype=np.int64)
        distinct, of_group = np.unique(offsets, axis=0, return_inverse=True)
        rows = distinct * np.asarray(self.grid.spacing)
        order = np.lexsort(rows.T[::-1])   # unique_rows' order of the physical vectors
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        label = np.empty(self.tail.size, dtype=np.int8 if order.size < 128 else np.int64)   # (a few offsets)
        for g, k in zip(self.groups, of_group.ravel()):
            label[g.start:g.stop] = rank[k]
        return rows[order], label

    @cached_property
    def split_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`~.weights.split_terms` of every edge's Péclet number: the part of
        :meth:`density_split`'s weights that is the same in every pass."""
        from .weights import split_terms

        return split_terms(self.peclet)

    def density_split(self, p: np.ndarray, selling: bool | None = None) -> TwoPointFluxes:
        r"""The same edges with the conductance split by the density ``p``.

        On every exponentially fitted edge between two cells,
        ``a = log(p_tail / p_head)`` is the drop of the density and ``c = Delta psi - a``
        the part of the edge potential that drives a current; the Scharfetter–Gummel
        rates are multiplied by :func:`~.weights.density_split_ratio` (the conductance
        ``s(c)``, capped by the flattened ``g_K(z)`` where the density falls steeply,
        times the face average of ``p`` over ``sqrt(p_tail p_head)``). That
        keeps ``forward / backward`` (so exact Gibbs, conservation, monotonicity) and
        removes the leading weight-dependent truncation error of a current carried by
        ``p`` (docs/numerics.md, "The conductance"). Wall half-edges, pure advection
        edges and edges touching a cell whose ``p`` is not a positive normal number keep
        their Scharfetter–Gummel rates. With ``p`` the stationary density of the result
        (a fixed point, :func:`~fokkerplanck.stationary`), the stationary density's
        leading weight error vanishes on every edge.

        Only for fluxes with edge potentials (plain drifts, schemes ``"sg"`` and
        ``"sg2"``) assembled with ``conductance="sg"``; the third cells of ``"sg2"``
        faces (pure advection) are kept. ``selling``: whether the whole grid's stencil
        has diagonal edges (default :attr:`selling`; a slab of a larger grid passes the
        whole grid's answer, see ``slab.py``).

        Examples
        --------
        >>> import numpy as np
        >>> import fokkerplanck as fp
        >>> grid = fp.Grid(bounds=[(0, 2 * np.pi)], shape=64, boundary="periodic")
        >>> sde = fp.SDE(drift=lambda x: 1.5 + np.sin(x), sigma=0.2)     # a running state
        >>> fl = fp.fluxes(sde, grid)
        >>> p = fp.stationary(sde, grid, conductance="sg", error_estimate=False).density
        >>> split = fl.density_split(p)
        >>> split.conductance, bool(np.allclose(split.forward / split.backward, fl.forward / fl.backward))
        ('split', True)
        """
        from .weights import density_split_ratio

        if self.edge_potential is None or self.conductance != "sg" or self.scheme not in ("sg", "sg2"):
            raise ValueError("density_split() needs fluxes of scheme 'sg' or 'sg2' with edge potentials, "
                             f"assembled with conductance='sg' (got scheme {self.scheme!r}, conductance "
                             f"{self.conductance!r}).")
        p = np.asarray(p, dtype=float).ravel()
        if p.size != self.grid.size:
            raise ValueError(f"`p` has {p.size} values; the grid has {self.grid.size} cells.")
        normal = (p >= np.finfo(float).tiny) & np.isfinite(p)
        head = np.where(self.head >= 0, self.head, 0)
        weight = np.broadcast_to(self.weight, self.tail.shape)
        dpsi = self.dpsi
        use = (self.head >= 0) & np.isfinite(dpsi) & (weight > 0) & normal[self.tail] & normal[head]
        direction = self.directions[1]
        selling = self.selling if selling is None else selling
        terms = self.split_terms
        sel = slice(None) if use.all() else np.flatnonzero(use)   # (every edge: views, no copies)
        r = np.ones(self.tail.size)
        r[sel] = density_split_ratio(self.tail[sel], head[sel], dpsi[sel], self.peclet[sel], direction[sel],
                                     np.where(normal, p, 1.0), self.grid.size, selling,
                                     (terms[0][sel], terms[1][sel]))
        return replace(self, forward=self.forward * r, backward=self.backward * r, conductance="split")

    @cached_property
    def flux_matrix(self) -> sp.csr_matrix:
        E, n = self.tail.size, self.grid.size
        inner = self.head >= 0
        rows = [np.arange(E), np.flatnonzero(inner)]
        cols = [self.tail, self.head[inner]]
        vals = [self.forward, -self.backward[inner]]
        if self.third is not None:
            rows.append(self.third.edge)
            cols.append(self.third.cell)
            vals.append(self.third.value)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(E, n))

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The generator ``A`` (``dp/dt = A p``), CSR, C-order flattening."""
        if self.third is not None:  # three-point faces: div @ flux_matrix
            return self._divergence_times_flux()
        n = self.grid.size
        inner = self.head >= 0
        t, h = self.tail, self.head
        inward = (h, self.backward) if inner.all() else (h[inner], self.backward[inner])   # (no copies if no wall absorbs)
        diag = -np.bincount(t, self.forward, minlength=n) - np.bincount(*inward, minlength=n)
        A = generator_csr(self, diag)
        if A is not None:
            return A
        rows = np.concatenate([h[inner], t[inner], np.arange(n)])
        cols = np.concatenate([t[inner], h[inner], np.arange(n)])
        vals = np.concatenate([self.forward[inner], self.backward[inner], diag])
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


class EdgeBuilder:
    """Edges collected group by group (one stencil offset, one wall, one advection axis)."""

    def __init__(self, grid: Grid) -> None:
        self.groups: list[Group] = []
        self.tail: list[np.ndarray] = []
        self.head: list[np.ndarray] = []
        self.fwd: list[np.ndarray] = []
        self.bwd: list[np.ndarray] = []
        self.dpsi: list[np.ndarray] = []
        self.peclet: list[np.ndarray] = []
        self.weight: list[np.ndarray] = []
        self.segments: list[Segment] = []
        self.third: list[Triplets] = []
        self.size = 0

    def add(self, tail: np.ndarray, head: np.ndarray, offset: np.ndarray, fwd: np.ndarray, bwd: np.ndarray,
            dpsi: np.ndarray, peclet: np.ndarray, weight: np.ndarray) -> None:
        """One :class:`Group`: distinct tails, distinct heads, one stencil ``offset`` (cells)."""
        for store, value in ((self.tail, tail), (self.head, head), (self.fwd, fwd), (self.bwd, bwd),
                             (self.dpsi, dpsi), (self.peclet, peclet)):
            store.append(value)
        self.groups.append(Group(tuple(int(v) for v in offset), self.size, self.size + tail.size))
        self.weight.append(np.asarray(weight, dtype=float))
        self.size += tail.size

    def build(self, grid: Grid, scheme: str, longest: int, potential: bool, general: bool = False,
              conductance: str = "sg") -> TwoPointFluxes:
        """The fluxes; ``potential``: keep the edge drops; ``general``: keep the third
        cells even if there are none (the generator is then ``div @ flux_matrix``).
        The builder is spent: each list of groups is let go once joined, so that the next
        join reuses its memory (at 512^2, rotational drift: 26,000 page faults per
        assembly down to 14,000, 85 to 62 ms; see docs/performance.md, "Page faults")."""
        third = None
        if self.third or general:
            third = Triplets(*(np.concatenate([c[i] for c in self.third]) if self.third
                               else np.zeros(0, dtype=np.int64 if i < 2 else float) for i in range(3)))

        def join(parts: list[np.ndarray]) -> np.ndarray:
            out = np.concatenate(parts)
            parts.clear()
            return out

        tail, head, forward, backward = join(self.tail), join(self.head), join(self.fwd), join(self.bwd)
        peclet, weight = join(self.peclet), join(self.weight)
        dpsi = join(self.dpsi)
        return TwoPointFluxes(
            grid, tail, head, None, scheme, longest, forward=forward, backward=backward, peclet=peclet,
            weight=weight, edge_potential=EdgePotential(dpsi, tuple(self.segments)) if potential else None,
            third=third, conductance=conductance, groups=tuple(self.groups))


def generator_csr(fl: TwoPointFluxes, diag: np.ndarray) -> sp.csr_matrix | None:
    """The generator of two-point fluxes written as CSR from their :class:`Group` s, or
    ``None`` where the groups do not allow it (then the caller goes through COO).

    Every cell's row holds one slot per stencil offset ``o`` of a group and its
    negative, and the diagonal, ordered by the flat offset ``sum o_k stride_k``, which is
    the column order wherever no edge wraps. An edge ``t -> h`` of offset ``o`` puts
    ``forward`` at row ``h``, slot ``-o`` and ``backward`` at row ``t``, slot ``o``;
    tails and heads are distinct within a group, so each group writes each slot once,
    and groups of the same offset add up in the order a COO sum would. Needs: two
    offsets never reach the same cell (on a periodic axis shorter than twice the stencil
    they can: ``None``). Measured at 512^2: 6 ms against 43 ms for COO to CSR, the same
    matrix to the last bit.
    """
    grid = fl.grid
    n, d = grid.size, grid.ndim
    if not fl.grouped:   # edges outside the groups: COO
        return None
    strides = np.array(grid.strides, dtype=np.int64)
    offsets = {(0,) * d}
    for g in fl.groups:
        head = fl.head[g.start:g.stop]
        if head.size and head[0] >= 0:
            if np.any(head < 0):
                return None
            offsets.update((g.offset, tuple(-v for v in g.offset)))
    order = sorted(offsets, key=lambda o: int(np.dot(o, strides)))
    shape = np.array(grid.shape)
    per = np.array(grid.periodic)
    for i, a in enumerate(order):   # two offsets that reach the same cell: leave it to COO
        for b in order[i + 1:]:
            diff = np.subtract(a, b)
            if np.all(np.where(per, diff % shape == 0, diff == 0)):
                return None
    slot = {o: j for j, o in enumerate(order)}
    S = len(order)
    index = np.int32 if n * S < 2 ** 31 - 1 else np.int64
    vals = np.zeros(n * S)
    cols = np.full(n * S, -1, dtype=index)
    centre = slot[(0,) * d]
    vals.reshape(n, S)[:, centre], cols.reshape(n, S)[:, centre] = diag, np.arange(n)
    written: set[tuple[int, ...]] = set()
    V, C = vals.reshape(*grid.shape, S), cols.reshape(*grid.shape, S)

    def put(rows: np.ndarray | tuple[slice, ...], col: np.ndarray, offset: tuple[int, ...], rate: np.ndarray
            ) -> None:
        """Entries ``(row, col)`` of one group, ``rows`` flat or a block of slices (C order);
        a second group of the same offset adds, in the order a COO sum would (assignment
        is 2x faster than ``+=`` for the first)."""
        j = slot[offset]
        if isinstance(rows, tuple):   # strided writes, no index arithmetic
            where: Any = rows + (j,)
            v, c = V, C
            rate, col = rate.reshape(V[where].shape), col.reshape(V[where].shape)
        else:
            where, v, c = rows * S + j, vals, cols
        if offset in written:
            v[where] += rate
        else:
            v[where] = rate
        c[where] = col
        written.add(offset)

    blocks = _segment_blocks(fl)
    for g in fl.groups:
        t, h = fl.tail[g.start:g.stop], fl.head[g.start:g.stop]
        if h.size and h[0] >= 0:   # (an absorbing wall's group only feeds the diagonal)
            tails, heads = blocks.get((g.start, g.stop), (t, h))
            put(heads, t, tuple(-v for v in g.offset), fl.forward[g.start:g.stop])   # A[h, t] = forward
            put(tails, h, g.offset, fl.backward[g.start:g.stop])                    # A[t, h] = backward
    keep = cols >= 0
    count = np.zeros(n, dtype=np.int64)
    for j in range(S):   # entries per row (3x faster than count_nonzero along the rows)
        count += keep[j::S]
    indptr = np.zeros(n + 1, dtype=index)
    np.cumsum(count, out=indptr[1:])
    A = sp.csr_matrix((vals[keep], cols[keep], indptr), shape=(n, n))
    if any(grid.periodic):   # wrapped edges break the column order of their rows
        A.sort_indices()
    A.has_canonical_format = True
    return A


def _segment_blocks(fl: TwoPointFluxes) -> dict[tuple[int, int], tuple[tuple[slice, ...], tuple[slice, ...]]]:
    """The groups that are a whole :class:`Segment` (every edge of their offset, C order)
    and wrap around no axis, by ``(start, stop)``: the slices of the grid their tails and
    their heads fill (measured at 512^2: the generator's CSR in 7 ms instead of 12)."""
    grid = fl.grid
    strides = grid.strides
    out = {}
    for seg in fl.edge_potential.segments if fl.edge_potential is not None else ():
        if any(o and per for o, per in zip(seg.offset, grid.periodic)):
            continue
        tails = tuple(slice(max(0, -o), n - max(0, o)) for o, n in zip(seg.offset, grid.shape))
        heads = tuple(slice(max(0, o), n - max(0, -o)) for o, n in zip(seg.offset, grid.shape))
        # the Segment contract, checked where it is cheap: its size and its first and last tails
        size = int(np.prod([t.stop - t.start for t in tails]))
        first = int(sum(t.start * st for t, st in zip(tails, strides)))
        last = int(sum((t.stop - 1) * st for t, st in zip(tails, strides)))
        if size == 0 or seg.stop - seg.start != size or fl.tail[seg.start] != first or fl.tail[seg.stop - 1] != last:
            continue
        out[(seg.start, seg.stop)] = (tails, heads)
    return out
