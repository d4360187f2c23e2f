"""Cell-centred rectangular grids: geometry, boundaries and quadrature.

A :class:`Grid` splits the box ``prod_k [lo_k, hi_k]`` into ``shape`` equal cells.
Unknowns are cell averages located at the cell centres; arrays on the grid have
shape ``grid.shape`` (C order when flattened, as in :func:`~fokkerplanck.generator`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np

from .._util.memory import check_memory
from .._util.validate import nan_rows

__all__ = ["BOUNDARY_KINDS", "Grid", "tensor_points"]

#: Largest number of cells a grid may have (sparse index arrays are int32 beyond it).
MAX_CELLS = 2e8

#: Bytes a generator needs per cell and axis while it is assembled (measured: about 220,
#: 380 and 560 bytes per cell in 1, 2 and 3 dimensions).
GENERATOR_BYTES_PER_CELL_AXIS = 190

#: Cell widths must be at least this fraction of the coordinates' magnitude, so the
#: cell centres and faces are distinct floating-point numbers with digits to spare.
MIN_RELATIVE_SPACING = 1e-10

#: The boundary kinds a side of an axis can have.
BOUNDARY_KINDS = ("reflecting", "periodic", "absorbing")

BoundarySpec: TypeAlias = "str | Sequence[str | Sequence[str]]"


def _check_kind(kind: object, where: str) -> str:
    if not isinstance(kind, str) or kind not in BOUNDARY_KINDS:
        import difflib

        close = difflib.get_close_matches(kind, BOUNDARY_KINDS, n=1, cutoff=0.6) \
            if isinstance(kind, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f" {where}" if where else ""
        raise ValueError(
            f"`boundary`{where} is {kind!r}; each kind must be one of "
            f"{', '.join(map(repr, BOUNDARY_KINDS))}.{hint}"
        )
    return kind


def _axis_boundary(spec: object, axis: int) -> tuple[str, str]:
    """Normalise one axis' boundary: a kind, or a (lower, upper) pair of kinds."""
    if isinstance(spec, str):
        kind = _check_kind(spec, f"for axis {axis}")
        return (kind, kind)
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        lo = _check_kind(spec[0], f"for the lower side of axis {axis}")
        hi = _check_kind(spec[1], f"for the upper side of axis {axis}")
        if "periodic" in (lo, hi) and lo != hi:
            raise ValueError(
                f"`boundary` for axis {axis} is {tuple(spec)!r}: 'periodic' joins both "
                "sides of an axis and cannot be half of a (lower, upper) pair; write "
                "'periodic' for the whole axis."
            )
        return (lo, hi)
    raise ValueError(
        f"`boundary` for axis {axis} is {spec!r}; give a kind from {BOUNDARY_KINDS} "
        "or a (lower, upper) pair of non-periodic kinds."
    )


def _normalise_boundary(boundary: BoundarySpec, ndim: int) -> tuple[tuple[str, str], ...]:
    if isinstance(boundary, str):
        kind = _check_kind(boundary, "")
        return tuple((kind, kind) for _ in range(ndim))
    if not isinstance(boundary, (tuple, list)):
        raise TypeError(
            f"`boundary` must be a string or a sequence with one entry per axis, "
            f"got {type(boundary).__name__}."
        )
    if ndim == 1 and len(boundary) == 2 and all(isinstance(b, str) for b in boundary):
        raise ValueError(
            f"`boundary={tuple(boundary)!r}` is ambiguous on a 1-D grid: it could be "
            "one kind per axis (but there is one axis) or a (lower, upper) pair. Write "
            f"boundary=[{tuple(boundary)!r}] for a (lower, upper) pair, or "
            f"boundary={boundary[0]!r} for the same kind on both sides."
        )
    if len(boundary) != ndim:
        raise ValueError(
            f"`boundary` has {len(boundary)} entries but the grid has {ndim} axes; "
            "give one kind (or one (lower, upper) pair) per axis, or a single kind."
        )
    return tuple(_axis_boundary(b, k) for k, b in enumerate(boundary))


def _normalise_shape(shape: Any, ndim: int) -> tuple[int, ...]:
    """``shape`` as one positive cell count per axis, or an error naming it."""
    items = [shape] if np.ndim(shape) == 0 else (list(shape) if np.ndim(shape) == 1 else None)
    if items is None:
        raise ValueError(f"`shape` must be an int or a sequence of ints, got an array of shape {np.shape(shape)}.")
    counts = []
    for n in items:
        if isinstance(n, (str, bytes, bool, np.bool_)) or not isinstance(n, (int, float, np.integer, np.floating)):
            raise TypeError(
                f"`shape` must be an int or a sequence of ints (cells per axis), got {shape!r}"
                + (f"; write shape={int(n)}, not a string." if isinstance(n, str) and n.strip().isdigit() else ".")
            )
        v = float(n)
        if not math.isfinite(v) or v != round(v):
            raise ValueError(f"`shape` must hold finite integers (cells per axis), got {shape!r}.")
        if v > MAX_CELLS:
            raise ValueError(
                f"`shape={shape!r}` asks for {v:.3g} cells on one axis, more than {MAX_CELLS:.0e} in "
                "all; coarsen the grid."
            )
        counts.append(int(v))
    shp = tuple(counts)
    if len(shp) == 1 and ndim > 1 and np.ndim(shape) == 0:
        shp = shp * ndim
    if len(shp) != ndim:
        raise ValueError(
            f"`shape` has {len(shp)} entries but `bounds` has {ndim} axes; give one "
            "cell count per axis."
        )
    if min(shp) < 3:
        raise ValueError(f"`shape={shp}`: every axis needs at least 3 cells; refine the grid.")
    return shp


def _check_memory(shp: tuple[int, ...], shape: Any) -> None:
    """Refuse grids whose generator cannot fit in this machine's memory, up front."""
    cells = float(np.prod(np.array(shp, dtype=float)))
    if cells > MAX_CELLS:
        raise ValueError(
            f"`shape={shape!r}` asks for {cells:.3g} cells, more than {MAX_CELLS:.0e}; no generator "
            "of that size can be indexed. Coarsen the grid."
        )
    check_memory(cells * len(shp) * GENERATOR_BYTES_PER_CELL_AXIS,
                 f"`shape={shape!r}` ({cells:.3g} cells): a generator on them "
                 f"({GENERATOR_BYTES_PER_CELL_AXIS * len(shp)} bytes per cell)",
                 "coarsen the grid.", total=True)


def tensor_points(axes: Sequence[np.ndarray]) -> np.ndarray:
    """The points ``axes[0] x axes[1] x ...``, shape ``(*lengths, ndim)``: each coordinate
    written once into its column (``stack(meshgrid)`` writes it three times)."""
    d = len(axes)
    out = np.empty(tuple(len(a) for a in axes) + (d,))
    for k, a in enumerate(axes):
        out[..., k] = np.asarray(a, dtype=float).reshape([-1 if j == k else 1 for j in range(d)])
    return out


@dataclass(frozen=True, eq=False, init=False)
class Grid:
    """A cell-centred rectangular grid in 1 to 4 dimensions.

    Parameters
    ----------
    bounds : sequence of (lo, hi)
        The box, one ``(lo, hi)`` pair per axis, ``lo < hi``, both finite.
    shape : int or sequence of int
        Number of cells per axis (at least 3 each). An int is used for every axis.
    boundary : str or sequence, default ``"reflecting"``
        ``"reflecting"`` (zero flux), ``"periodic"`` (the axis wraps) or
        ``"absorbing"`` (density zero on the wall, mass leaves). One kind for every
        side, one per axis (``("periodic", "reflecting")``), or per side with a
        ``(lower, upper)`` pair in place of an axis' kind
        (``[("reflecting", "absorbing"), "periodic"]``). In 1-D write a per-side pair
        as ``[("reflecting", "absorbing")]``.

    Attributes
    ----------
    ndim, shape, size : int, tuple of int, int
    bounds : tuple of (float, float)
    boundary : tuple of (str, str)
        Normalised: a ``(lower, upper)`` pair for every axis.
    spacing : tuple of float
        Cell width per axis.
    cell_volume : float
    centers : tuple of ndarray
        Cell-centre coordinates per axis.
    edges : tuple of ndarray
        Face coordinates per axis (``shape[k] + 1`` of them).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-1, 1)], shape=4)
    >>> grid.centers[0]
    array([-0.75, -0.25,  0.25,  0.75])
    >>> grid.integrate(np.full(grid.shape, 0.5))
    1.0
    """

    bounds: tuple[tuple[float, float], ...]
    shape: tuple[int, ...]
    boundary: tuple[tuple[str, str], ...] = field(default=())

    def __init__(
        self,
        bounds: Sequence[Sequence[float]],
        shape: int | Sequence[int],
        boundary: BoundarySpec = "reflecting",
    ) -> None:
        try:
            b = np.asarray(bounds, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"`bounds` must be a sequence of (lo, hi) pairs, got {bounds!r}."
            ) from None
        if b.ndim == 1 and b.size == 2:
            raise ValueError(
                f"`bounds={tuple(bounds)!r}` is one pair; write it as a list of pairs, "
                f"bounds=[{tuple(bounds)!r}], one pair per axis."
            )
        if b.ndim != 2 or b.shape[1] != 2 or not 1 <= b.shape[0] <= 4:
            raise ValueError(
                f"`bounds` must be 1 to 4 (lo, hi) pairs, got array of shape {b.shape}."
            )
        ndim = b.shape[0]
        if not np.all(np.isfinite(b)):
            raise ValueError(f"`bounds` must be finite, got {b.tolist()}.")
        bad = np.flatnonzero(b[:, 0] >= b[:, 1])
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"`bounds` for axis {k} is {tuple(b[k].tolist())}: need lo < hi; swap or widen it."
            )
        shp = _normalise_shape(shape, ndim)
        with np.errstate(over="ignore"):
            widths = b[:, 1] - b[:, 0]
        for k in range(ndim):
            lo, hi = float(b[k, 0]), float(b[k, 1])
            h = float(widths[k]) / shp[k]
            scale = max(abs(lo), abs(hi))
            if not (math.isfinite(widths[k]) and 1e-100 < h < 1e100):
                raise ValueError(
                    f"`bounds` for axis {k} is ({lo:g}, {hi:g}): with {shp[k]} cells the cell "
                    f"width is {h:.3g}, outside the range 1e-100 .. 1e100 the generator's "
                    "1/h^2 terms can represent; rescale the coordinate (measure x in other units)."
                )
            if h < MIN_RELATIVE_SPACING * scale:
                raise ValueError(
                    f"`bounds` for axis {k} is ({lo:.17g}, {hi:.17g}): the cell width {h:.3g} is "
                    f"below {MIN_RELATIVE_SPACING:g} of the coordinates' magnitude {scale:.3g}, so "
                    "cell centres lose their digits to round-off; shift the coordinate so the box "
                    "sits near 0 (x - x_centre), or use fewer cells."
                )
        _check_memory(shp, shape)
        object.__setattr__(self, "bounds", tuple((float(lo), float(hi)) for lo, hi in b))
        object.__setattr__(self, "shape", shp)
        object.__setattr__(self, "boundary", _normalise_boundary(boundary, ndim))

    # ------------------------------------------------------------------ geometry
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @cached_property
    def spacing(self) -> tuple[float, ...]:
        return tuple((hi - lo) / n for (lo, hi), n in zip(self.bounds, self.shape))

    @cached_property
    def strides(self) -> tuple[int, ...]:
        """How far one cell along each axis moves the flat (C-order) cell index."""
        return tuple(int(np.prod(self.shape[k + 1:])) for k in range(self.ndim))

    @cached_property
    def cell_volume(self) -> float:
        return float(np.prod(self.spacing))

    @cached_property
    def lower(self) -> np.ndarray:
        """Lower corner of the box, shape ``(ndim,)``."""
        return np.array([lo for lo, _ in self.bounds])

    @cached_property
    def upper(self) -> np.ndarray:
        """Upper corner of the box, shape ``(ndim,)``."""
        return np.array([hi for _, hi in self.bounds])

    @cached_property
    def centers(self) -> tuple[np.ndarray, ...]:
        return tuple(
            lo + (np.arange(n) + 0.5) * h
            for (lo, _), n, h in zip(self.bounds, self.shape, self.spacing)
        )

    @cached_property
    def edges(self) -> tuple[np.ndarray, ...]:
        return tuple(
            lo + np.arange(n + 1) * h
            for (lo, _), n, h in zip(self.bounds, self.shape, self.spacing)
        )

    @property
    def periodic(self) -> tuple[bool, ...]:
        """Whether each axis wraps."""
        return tuple(lo == "periodic" for lo, _ in self.boundary)

    @property
    def has_absorbing(self) -> bool:
        return any("absorbing" in pair for pair in self.boundary)

    def points(self) -> np.ndarray:
        """Cell centres as an array of shape ``(*shape, ndim)``."""
        return tensor_points(self.centers)

    def refined(self, factor: int = 2) -> Grid:
        """The same box and boundaries with ``factor`` times as many cells per axis."""
        return Grid(self.bounds, tuple(factor * n for n in self.shape), self.boundary)

    def __repr__(self) -> str:
        return f"Grid(bounds={list(self.bounds)}, shape={self.shape}, boundary={list(self.boundary)})"

    # ---------------------------------------------------------------- quadrature
    def _check_field(self, f: np.ndarray, name: str = "f") -> np.ndarray:
        f = np.asarray(f, dtype=float)
        if f.shape[f.ndim - self.ndim:] != self.shape or f.ndim < self.ndim:
            raise ValueError(
                f"`{name}` has shape {f.shape}; its last axes must be the grid shape "
                f"{self.shape}."
            )
        return f

    def integrate(self, f: np.ndarray) -> float | np.ndarray:
        """Midpoint-rule integral ``sum f * cell_volume`` over the last ``ndim`` axes."""
        f = self._check_field(f)
        axes = tuple(range(f.ndim - self.ndim, f.ndim))
        out = f.sum(axis=axes) * self.cell_volume
        return float(out) if np.ndim(out) == 0 else out

    def marginal(self, p: np.ndarray, axis: int | Sequence[int] = 0) -> np.ndarray:
        """Marginal density of ``p`` on the kept ``axis`` (or axes), integrating out the rest."""
        p = self._check_field(p, "p")
        keep = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        for k in keep:
            if not -self.ndim <= k < self.ndim:
                raise ValueError(f"`axis={k}` is out of range for a {self.ndim}-D grid.")
        keep = tuple(sorted(k % self.ndim for k in keep))
        drop = tuple(k for k in range(self.ndim) if k not in keep)
        lead = p.ndim - self.ndim
        vol = float(np.prod([self.spacing[k] for k in drop])) if drop else 1.0
        return p.sum(axis=tuple(lead + k for k in drop)) * vol

    def mean(self, p: np.ndarray) -> np.ndarray:
        """Mean ``integral x p(x) dx / integral p``, shape ``(ndim,)``."""
        p = self._check_field(p, "p")
        mass = p.sum()
        return np.array(
            [np.dot(self.marginal(p, k).ravel(), self.centers[k]) * self.spacing[k] for k in range(self.ndim)]
        ) / (mass * self.cell_volume)

    def cov(self, p: np.ndarray) -> np.ndarray:
        """Covariance of ``p`` (normalised), shape ``(ndim, ndim)``; midpoint rule."""
        p = self._check_field(p, "p")
        w = (p / p.sum()).ravel()
        x = self.points().reshape(-1, self.ndim) - self.mean(p)
        return (x * w[:, None]).T @ x

    # ----------------------------------------------------------------- sampling
    def locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell multi-indices of points ``x`` ``(n, ndim)``; and a mask of points inside.

        Periodic axes wrap; points outside a non-periodic axis are flagged outside.
        """
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.ndim:
            raise ValueError(
                f"`samples` must have shape (n, {self.ndim}) for this {self.ndim}-D grid, "
                f"got {x.shape}."
            )
        h = np.asarray(self.spacing)
        shape = np.asarray(self.shape)
        per = np.asarray(self.periodic)
        with np.errstate(invalid="ignore", over="ignore"):
            f = (x - self.lower) / h
            f[:, per] = np.mod(f[:, per], shape[per])  # wrap before any integer cast
            # clip into [-1, n] so huge finite coordinates cannot overflow int64
            f = np.clip(np.where(np.isfinite(f), np.floor(f), -1.0), -1.0, shape.astype(float))
        idx = f.astype(np.int64)
        # the box is closed: a point on an upper wall (or rounding onto it) is in the last cell
        on_wall = (idx == shape) & (x <= self.upper) & ~per
        idx[on_wall] -= 1
        inside = np.all((idx >= 0) & (idx < shape), axis=1) & np.all(np.isfinite(x), axis=1)
        return idx, inside

    def histogram(self, samples: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Density estimate on the cells from samples of shape ``(n, ndim)``.

        Counts per cell divided by ``(n * cell_volume)`` (or the total weight): the
        result integrates to the fraction of samples that fall inside the box.
        Periodic axes wrap the samples first. Points outside the box count in
        ``n`` but in no cell, and so do rows that are entirely ``NaN`` (the absorbed
        particles of :func:`~fokkerplanck.simulate`); rows NaN in some coordinates
        only, or samples that are all NaN, raise a ``ValueError``.
        """
        idx, inside = self.locate(samples)
        n = idx.shape[0]
        if n == 0:
            raise ValueError("`samples` is empty; need at least one sample.")
        nan_rows("samples", np.asarray(samples, dtype=float))
        flat = np.ravel_multi_index(tuple(idx[inside].T), self.shape)
        if weights is None:
            counts = np.bincount(flat, minlength=self.size).astype(float)
            total = float(n)
        else:
            weights = np.asarray(weights, dtype=float)
            if weights.shape != (n,):
                raise ValueError(f"`weights` must have shape ({n},), got {weights.shape}.")
            counts = np.bincount(flat, weights=weights[inside], minlength=self.size)
            total = float(weights.sum())
        return counts.reshape(self.shape) / (total * self.cell_volume)
