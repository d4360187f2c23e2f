"""Matplotlib figures of densities, particles, currents, evolutions and convergence.

matplotlib is imported inside the functions, so ``import fokkerplanck`` never pays for
it. Every function takes the same keywords, documented in its signature:

* ``xlabel=``, ``ylabel=``: axis names. ``xlabel`` names the first coordinate (default
  ``"x"``); ``ylabel`` names the second coordinate on 2-D maps (default ``"y"``) and the
  plotted quantity on curves (default ``"density"``, ``"error"``, ...);
* ``title=``: a title (the figure's suptitle, or the first given axes' title);
* ``filename=``: save the figure there (PNG, PDF, ... by its suffix; ``dpi=110``);
* ``ax=``: draw into existing axes (one ``Axes``, or a sequence of them for
  multi-panel figures) instead of a new figure.

Each returns the :class:`~matplotlib.figure.Figure` it drew on. Maps of a box whose sides
differ by at most a factor 3 are drawn with equal aspect; colour scales carry colorbars;
legends go where they hide the least data.

Functions
---------
:func:`density`
    A density on a 1-D grid as a curve (with the exact curve), on a 2-D grid as a heatmap
    with contours (with the exact density's contours dashed).
:func:`compare`
    A grid density against particles: 1-D curve over the particle histogram; 2-D
    grid heatmap, particle histogram beside it, both marginals overlaid.
:func:`current`
    Streamlines of the probability current over the density (2-D), ``J(x)`` in 1-D.
:func:`evolution`
    Densities from :func:`~fokkerplanck.evolve` at several times against particle
    snapshots at the same times.
:func:`convergence`
    Error against grid size on log-log axes with reference slopes.
:func:`modes`
    The slowest relaxation modes of :func:`~fokkerplanck.modes`.

Examples
--------
>>> import numpy as np, fokkerplanck as fp
>>> from fokkerplanck import plotting
>>> grid = fp.Grid(bounds=[(-4, 4), (-2, 2)], shape=(80, 40))
>>> sde = fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
>>> res = fp.stationary(sde, grid)
>>> pt = fp.simulate(sde, np.zeros((2000, 2)), 3.0, dt=0.01, grid=grid, rng=0)
>>> fig = plotting.compare(res, pt)            # heatmaps + both marginals
>>> len([a for a in fig.axes if a.get_label() != "<colorbar>"])
4
>>> fig = plotting.current(res)                # streamlines: H and cov do not commute
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._model.grid import Grid

__all__ = ["compare", "convergence", "current", "density", "evolution", "modes"]

_DPI = 110

#: Streamlines of the current are drawn where the density exceeds this share of its maximum.
CURRENT_FLOOR = 1e-3

#: Most panels :func:`evolution` draws when ``times`` is not given.
MAX_TIMES = 12

# ------------------------------------------------------------------ helpers
def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any, n: int, *, ncols: int | None = None,
          panel: tuple[float, float] = (4.6, 3.8)) -> tuple[Any, list[Any]]:
    """``(fig, [axes])``: new axes in a grid of ``n`` panels, or the ones given."""
    if ax is not None:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) < n:
            raise ValueError(
                f"`ax` holds {len(axes)} axes but this figure draws {n} panels; pass a "
                f"sequence of {n} axes or leave `ax=None`."
            )
        return axes[0].figure, axes[:n]
    plt = _plt()
    ncols = min(n, ncols or n)
    nrows = -(-n // ncols)
    fig, axs = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows),
                            squeeze=False, layout="constrained")
    flat = list(axs.ravel())
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat[:n]


def _finish(fig: Any, title: str | None, filename: Any, *, own: bool, ax: Any = None) -> Any:
    """Title (a suptitle on our own figure, else on the first given axes), layout, save."""
    if title:
        if own:
            fig.suptitle(title)
        elif ax is not None:
            next(iter(np.ravel(np.asarray(ax, dtype=object)))).set_title(title)
    if own and fig.get_layout_engine() is None:  # pragma: no cover - ours are constrained
        fig.tight_layout()
    if filename is not None:
        fig.savefig(filename, dpi=_DPI)
    return fig


def _unpack(result_or_density: Any, grid: Grid | None) -> tuple[np.ndarray, Grid]:
    """``(density, grid)`` from a result object (``.density``, ``.grid``) or an array."""
    from ._sampling.compare import on_grid

    return on_grid(result_or_density, grid)


def _exact_array(exact: Any, grid: Grid) -> np.ndarray | None:
    """An exact density given as an array on the grid or a callable of points ``(..., d)``."""
    if exact is None:
        return None
    e = exact(grid.points()) if callable(exact) else exact
    e = np.asarray(e, dtype=float)
    if e.shape != grid.shape:
        raise ValueError(f"`exact` has shape {e.shape}; it must be the grid shape {grid.shape}.")
    return e


def _points(particles: Any, d: int) -> np.ndarray:
    x = getattr(particles, "x", particles)
    x = np.asarray(x, dtype=float)
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"`particles` must be Particles or points of shape (n, {d}), got {x.shape}.")
    return x[np.isfinite(x).all(axis=1)]


def _extent(grid: Grid) -> list[float]:
    (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
    return [x0, x1, y0, y1]


def _aspect(grid: Grid) -> str:
    """``"equal"`` for a 2-D box whose sides differ by at most a factor 3, else ``"auto"``."""
    (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
    r = (y1 - y0) / (x1 - x0)
    return "equal" if 1 / 3 <= r <= 3 else "auto"


def _map_panel(grid: Grid, width: float, extra: float) -> tuple[float, float]:
    """Figure size for one map of ``width`` inches (``extra`` for colorbars) at its aspect."""
    (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
    r = (y1 - y0) / (x1 - x0) if _aspect(grid) == "equal" else 0.8
    return width + extra, width * r + 1.0


def _names(d: int, xlabel: str | None, ylabel: str | None) -> list[str]:
    """Coordinate names: ``xlabel``, ``ylabel`` for the first two, then ``z``, ``w``."""
    names = ["x", "y", "z", "w"][:d]
    if xlabel is not None:
        names[0] = xlabel
    if ylabel is not None and d > 1:
        names[1] = ylabel
    return names


def _colorbar(ax: Any, mappable: Any, label: str | None, slot: int = 0) -> Any:
    """A colorbar 11 points wide glued to the right of ``ax`` as drawn (after its aspect
    shrinks it), as tall as ``ax``; ``slot=1`` puts a second one beyond the first's labels."""
    from matplotlib.transforms import Bbox

    fig = ax.figure

    def locate(cax: Any, renderer: Any) -> Any:
        ax.apply_aspect()
        bb = ax.get_position(original=False)
        w_in, _ = fig.get_size_inches()
        x0 = bb.x1 + (6 + 62 * slot) / 72 / w_in
        return Bbox.from_bounds(x0, bb.y0, 11 / 72 / w_in, bb.height)

    cax = ax.inset_axes((1.0, 0.0, 0.05, 1.0))
    cax.set_axes_locator(locate)
    cb = fig.colorbar(mappable, cax=cax, label=label)
    cax.set_label("<colorbar>")
    return cb


def _label_map(ax: Any, names: Sequence[str]) -> None:
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])


def _legend(ax: Any, **kw: Any) -> Any:
    """A legend where it hides the least, after 25% headroom above non-negative curves."""
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "linear" and lo >= -0.05 * abs(hi):
        ax.set_ylim(lo, lo + 1.25 * (hi - lo))
    kw.setdefault("fontsize", 8)
    return ax.legend(loc="best", framealpha=0.85, **kw)


def _heatmap(ax: Any, p2: np.ndarray, grid: Grid, names: Sequence[str], *, vmax: float | None = None,
             contours: int = 8, contour_of: np.ndarray | None = None, cmap: str = "viridis",
             label: str = "density", colorbar: bool = True) -> Any:
    """``p2`` (indexed [x, y]) as an image with x to the right, plus white contour lines."""
    top = vmax if vmax is not None else float(p2.max())
    im = ax.imshow(p2.T, origin="lower", extent=_extent(grid), aspect=_aspect(grid), cmap=cmap,
                   vmin=0.0, vmax=top, interpolation="nearest")
    c = contour_of if contour_of is not None else p2
    if contours and np.ptp(c) > 0:
        X, Y = np.meshgrid(*grid.centers[:2], indexing="ij")
        levels = np.linspace(0, float(c.max()), contours + 2)[1:-1]
        ax.contour(X, Y, c, levels=levels, colors="w", linewidths=0.7)
    if colorbar:
        _colorbar(ax, im, label)
    _label_map(ax, names)
    return im


def _signed(ax: Any, f2: np.ndarray, grid: Grid, names: Sequence[str], *, label: str | None = None) -> Any:
    """A signed field (a difference of densities, a mode) in diverging colours, symmetric scale."""
    v = float(np.abs(f2).max()) or 1.0
    im = ax.imshow(f2.T, origin="lower", extent=_extent(grid), aspect=_aspect(grid), cmap="RdBu_r",
                   vmin=-v, vmax=v, interpolation="nearest")
    _colorbar(ax, im, label)
    _label_map(ax, names)
    return im


def _exact_contours(ax: Any, e: np.ndarray | None, grid: Grid, top: float, n: int = 10) -> bool:
    """Dashed red contours of the exact density ``e`` (2-D) at ``n - 2`` levels below ``top``;
    ``True`` when drawn."""
    if e is None or not np.ptp(e) > 0:
        return False
    X, Y = np.meshgrid(*grid.centers, indexing="ij")
    levels = np.linspace(0, top, n)[1:-1]
    ax.contour(X, Y, e, levels=levels, colors="r", linestyles="--", linewidths=0.7)
    return True


def _marginal_panels(axs: Sequence[Any], grid: Grid, p: np.ndarray, hist: np.ndarray,
                     e: np.ndarray | None, names: Sequence[str]) -> None:
    """One panel per axis: particle histogram (steps), grid marginal, exact marginal (dashed)."""
    for k, a in enumerate(axs):
        a.stairs(grid.marginal(hist, k), grid.edges[k], color="C1", lw=1.0, label="particles")
        a.plot(grid.centers[k], grid.marginal(p, k), "C0-", lw=1.6, label="grid")
        if e is not None:
            a.plot(grid.centers[k], grid.marginal(e, k), "k--", lw=1.0, label="exact")
        a.set_xlabel(names[k])
        a.set_ylabel(f"marginal density of {names[k]}")
        _legend(a)


# ------------------------------------------------------------------ density
def density(
    result_or_density: Any,
    grid: Grid | None = None,
    exact: Any = None,
    *,
    label: str = "grid",
    log: bool = False,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    filename: Any = None,
    ax: Any = None,
) -> Any:
    """Plot a density on its grid.

    Parameters
    ----------
    result_or_density : StationaryResult, ndarray
        A result with ``.density`` and ``.grid``, or an array of ``grid.shape``.
    grid : Grid, optional
        Needed with an array.
    exact : ndarray or callable, optional
        The exact density at the cell centres (or a callable of points ``(..., d)``):
        a dashed curve in 1-D, dashed red contours in 2-D (the panel title says so).
    label : str
        Legend label of the grid density (1-D); colorbar label in 2-D (default there
        ``"density"``).
    log : bool
        Logarithmic density axis (1-D) or colour scale of ``log10 p`` (2-D).
    xlabel, ylabel : str, optional
        Axis names: the first coordinate (default ``"x"``); the second coordinate on a
        2-D map (default ``"y"``), the density axis of a curve (default ``"density"``).
    title : str, optional
        Figure title (the suptitle of a new figure, else the given axes' title).
    filename : str or path-like, optional
        Save the figure there (format by suffix, ``dpi=110``).
    ax : Axes or sequence of Axes, optional
        Draw into these axes (one; one per axis in 3-D and up) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        1-D: one axes with a line per density. 2-D: a heatmap (an ``AxesImage``) with a
        colorbar and white contour lines. 3-D and up: one panel per axis with the marginals.

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> from fokkerplanck import plotting
    >>> grid = fp.Grid([(-3, 3), (-3, 3)], 40)
    >>> res = fp.stationary(fp.ornstein_uhlenbeck(np.eye(2), np.eye(2)), grid)
    >>> fig = plotting.density(res, xlabel="position", ylabel="velocity", title="OU")
    >>> fig.axes[0].get_xlabel(), [c.get_ylabel() for c in fig.axes[0].child_axes]   # its colorbar
    ('position', ['density'])
    """
    p, grid = _unpack(result_or_density, grid)
    e = _exact_array(exact, grid)
    names = _names(grid.ndim, xlabel, ylabel if grid.ndim > 1 else None)
    own = ax is None
    with np.errstate(all="ignore"):
        if grid.ndim == 1:
            fig, (a,) = _axes(ax, 1, panel=(6.0, 4.0))
            x = grid.centers[0]
            a.plot(x, p, "C0-", lw=1.6, label=label)
            if e is not None:
                a.plot(x, e, "k--", lw=1.0, label="exact")
            if log:
                a.set_yscale("log")
            a.set_xlabel(names[0])
            a.set_ylabel(ylabel if ylabel is not None else "density")
            _legend(a)
        elif grid.ndim == 2:
            fig, (a,) = _axes(ax, 1, panel=_map_panel(grid, 4.4, 1.4))
            label = "density" if label == "grid" else label     # the colorbar's label
            if log:
                lp = np.log10(np.maximum(p, p.max() * 1e-12))
                im = a.imshow(lp.T, origin="lower", extent=_extent(grid), aspect=_aspect(grid))
                _colorbar(a, im, f"log10 {label}")
                _label_map(a, names)
            elif p.min() < 0:
                _signed(a, p, grid, names, label=label)
            else:
                _heatmap(a, p, grid, names, label=label)
            if _exact_contours(a, e, grid, float(p.max())):
                a.set_title("dashed red: exact density contours", fontsize=9)
        else:
            fig, axs = _axes(ax, grid.ndim)
            for k, a in enumerate(axs):
                a.plot(grid.centers[k], grid.marginal(p, k), "C0-", label=label)
                if e is not None:
                    a.plot(grid.centers[k], grid.marginal(e, k), "k--", lw=1.0, label="exact")
                a.set_xlabel(names[k])
                a.set_ylabel(f"marginal density of {names[k]}")
                _legend(a)
    return _finish(fig, title, filename, own=own, ax=ax)


# ------------------------------------------------------------------ compare
def _display_merge(p: np.ndarray, display_bins: int | None) -> int:
    """How many adjacent 1-D cells to merge so ~``display_bins`` bins span the support."""
    if display_bins == 0:
        return 1
    target = 100 if display_bins is None else int(display_bins)
    big = np.flatnonzero(p > 1e-3 * p.max()) if p.max() > 0 else np.arange(p.size)
    width = (big[-1] - big[0] + 1) if big.size else p.size
    return max(1, round(width / max(target, 1)))


def _coarsen(h: np.ndarray, edges: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge groups of ``k`` equal cells of a density histogram (a partial last group too)."""
    if k <= 1:
        return h, edges
    n = h.size
    starts = np.arange(0, n, k)
    sums = np.add.reduceat(h, starts)
    counts = np.diff(np.append(starts, n))
    return sums / counts, np.append(edges[starts], edges[-1])


def compare(
    res: Any,
    particles: Any,
    exact: Any = None,
    *,
    grid: Grid | None = None,
    comparison: Any = None,
    display_bins: int | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    filename: Any = None,
    ax: Any = None,
) -> Any:
    """A grid density against particles.

    Parameters
    ----------
    res : StationaryResult or ndarray
        The grid density (``.density``, ``.grid``), or an array with ``grid=``.
    particles : Particles or ndarray (n, d)
        Particle positions (absorbed ones, ``NaN``, are dropped).
    exact : ndarray or callable, optional
        Exact density on the grid (or a callable of points): dashed black curves, and
        in 2-D dashed red contours on the grid panel.
    grid : Grid, optional
        With an array ``res``.
    comparison : Comparison, optional
        A precomputed :func:`fokkerplanck.compare` result whose L1, noise floor and
        chi-square p-value are written on the figure; computed here if omitted.
    display_bins : int, optional
        1-D: about how many histogram bins to draw across the support of the density
        (adjacent grid cells are merged for display only; the statistics use the grid's
        cells). Default 100; ``0`` draws every cell.
    xlabel, ylabel : str, optional
        Axis names: the first coordinate (default ``"x"``); the second coordinate in
        2-D (default ``"y"``), the density axis in 1-D (default ``"density"``).
    title : str, optional
        Figure title (the suptitle of a new figure, else the first axes' title).
    filename : str or path-like, optional
        Save the figure there (format by suffix, ``dpi=110``).
    ax : Axes or sequence of Axes, optional
        1-D: one axes. 2-D: four axes (grid, particles, x marginal, y marginal).
        3-D and up: one per axis (marginals).

    Returns
    -------
    matplotlib.figure.Figure
        1-D: the grid curve, the particle histogram (a step line) and the exact curve.
        2-D: grid heatmap with white contours (exact contours dashed red); particle
        histogram on the same cells and colour scale with the grid's contours over it;
        both marginals (grid line, particle steps, exact dashed).
    """
    from ._sampling.compare import compare as _compare

    p, g = _unpack(res, grid)
    x = _points(particles, g.ndim)
    e = _exact_array(exact, g)
    names = _names(g.ndim, xlabel, ylabel if g.ndim > 1 else None)
    if comparison is None:
        try:
            comparison = _compare(p, x, grid=g)
        except ValueError:
            comparison = None
    if comparison is not None and getattr(comparison, "grid", None) is g:
        # the histogram the statistics were computed from (compare bins points that round
        # onto the upper wall into the last cell; Grid.locate drops them)
        hist = np.asarray(comparison.histogram, dtype=float)
    else:
        hist = g.histogram(x) if len(x) else np.zeros(g.shape)
    stats = ""
    if comparison is not None:
        stats = (f"L1 = {comparison.l1:.3g} (noise floor {comparison.noise_floor:.3g}), "
                 f"chi2 p = {comparison.chi2_pvalue:.3g}, "
                 f"{'consistent' if comparison.consistent else 'INCONSISTENT'}")
    own = ax is None
    with np.errstate(all="ignore"):
        if g.ndim == 1:
            fig, (a,) = _axes(ax, 1, panel=(6.4, 4.2))
            c = g.centers[0]
            k = _display_merge(p, display_bins)
            hk, ek = _coarsen(hist, g.edges[0], k)
            a.stairs(hk, ek, color="C1", lw=1.0,
                     label=f"particles (n={len(x)}" + (f", {k} cells per bin)" if k > 1 else ")"))
            a.plot(c, p, "C0-", lw=1.6, label="grid")
            if e is not None:
                a.plot(c, e, "k--", lw=1.0, label="exact")
            a.set_xlabel(names[0])
            a.set_ylabel(ylabel if ylabel is not None else "density")
            _legend(a)
            if stats:
                a.set_title(stats, fontsize=8)
        elif g.ndim == 2:
            fig, axs = _axes(ax, 4, ncols=2, panel=(5.4, 4.3))
            vmax = float(max(p.max(), 1e-300))
            _heatmap(axs[0], p, g, names, vmax=vmax)
            drawn = _exact_contours(axs[0], e, g, vmax)
            axs[0].set_title("grid density (white contours)"
                             + (", exact (dashed red)" if drawn else ""), fontsize=9)
            _heatmap(axs[1], hist, g, names, vmax=vmax, contour_of=p, label="particle density")
            axs[1].set_title(f"particles (n={len(x)}), grid contours", fontsize=9)
            _marginal_panels(axs[2:], g, p, hist, e, names)
            if stats:
                axs[2].set_title(stats, fontsize=8)
        else:
            fig, axs = _axes(ax, g.ndim)
            _marginal_panels(axs, g, p, hist, e, names)
            if stats:
                axs[0].set_title(stats, fontsize=8)
    return _finish(fig, title, filename, own=own, ax=ax)


# ------------------------------------------------------------------ current
def current(
    res: Any,
    *,
    J: np.ndarray | None = None,
    grid: Grid | None = None,
    density: np.ndarray | None = None,
    density_norm: bool = True,
    floor: float = CURRENT_FLOOR,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    filename: Any = None,
    ax: Any = None,
) -> Any:
    """Streamlines of the probability current over the density.

    Parameters
    ----------
    res : StationaryResult
        A result with ``.current()``, ``.density`` and ``.grid``; or pass ``J=``,
        ``density=`` and ``grid=`` explicitly (then ``res`` may be ``None``).
    J : ndarray ``(ndim, *grid.shape)``, optional
        The current (default ``res.current()``).
    density_norm : bool
        Colour the streamlines by ``|J|``, with a colorbar (their width also grows with
        ``|J|``); ``False`` draws them white.
    floor : float
        Streamlines are drawn only where the density exceeds ``floor`` times its
        maximum (default :data:`CURRENT_FLOOR` = 1e-3): in the far tails the current
        is tiny and its direction carries no information.
    xlabel, ylabel : str, optional
        Axis names: the first coordinate (default ``"x"``); the second coordinate in
        2-D (default ``"y"``), the current axis in 1-D (default ``"probability current J"``).
    title : str, optional
        Figure title (the suptitle of a new figure, else the given axes' title).
    filename : str or path-like, optional
        Save the figure there (format by suffix, ``dpi=110``).
    ax : Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        2-D: the density heatmap (colorbar) with a ``streamplot`` of ``J`` where the
        density matters (colorbar ``|J|``); the title says when ``J`` is zero to
        round-off (detailed balance). 1-D: ``J(x)`` as a curve (constant in a stationary
        state).
    """
    if res is not None:
        p, grid = _unpack(res, grid)
        if J is None:
            J = res.current()
    elif density is None or grid is None or J is None:
        raise ValueError("without a result pass `J=`, `density=` and `grid=`.")
    if density is not None:
        p = np.asarray(density, dtype=float)
    if not 0 <= float(floor) < 1:
        raise ValueError(f"`floor` must be in [0, 1) (a share of the density's maximum), got {float(floor)}.")
    J = np.asarray(J, dtype=float)
    if J.shape != (grid.ndim,) + grid.shape:
        raise ValueError(f"`J` has shape {J.shape}; expected {(grid.ndim,) + grid.shape}.")
    names = _names(grid.ndim, xlabel, ylabel if grid.ndim > 1 else None)
    own = ax is None
    with np.errstate(all="ignore"):
        if grid.ndim == 1:
            fig, (a,) = _axes(ax, 1, panel=(6.0, 4.0))
            a.plot(grid.centers[0], J[0], "C3-")
            a.set_xlabel(names[0])
            a.set_ylabel(ylabel if ylabel is not None else "probability current J")
        elif grid.ndim == 2:
            fig, (a,) = _axes(ax, 1, panel=_map_panel(grid, 4.6, 2.6))
            _heatmap(a, p, grid, names, contours=6)
            _streamlines(a, p, J, grid, float(floor), density_norm)
        else:
            raise ValueError(f"`current` plots 1-D and 2-D grids, got a {grid.ndim}-D grid.")
    return _finish(fig, title, filename, own=own, ax=ax)


def _streamlines(a: Any, p: np.ndarray, J: np.ndarray, grid: Grid, floor: float, colour: bool) -> None:
    """``streamplot`` of ``J`` masked where ``p <= floor * max p``; a ``|J|`` colorbar."""
    speed = np.hypot(J[0], J[1])
    keep = p > floor * float(p.max())
    smax = float(speed[keep].max()) if keep.any() else 0.0
    if not smax > 1e-12 * max(float(p.max()), 1e-300):
        a.set_title(f"no current (max |J| = {smax:.2g}): detailed balance", fontsize=9)
        return
    X, Y = np.meshgrid(*grid.centers, indexing="xy")
    hide = ~keep.T
    u = np.ma.masked_where(hide, J[0].T)
    v = np.ma.masked_where(hide, J[1].T)
    lw = 0.6 + 1.8 * np.where(hide, 0.0, speed.T) / smax
    kw: dict[str, Any] = {"density": 1.2, "linewidth": lw, "arrowsize": 0.9}
    if colour:
        kw.update(color=np.where(hide, 0.0, speed.T), cmap="autumn", norm=_normalize(0.0, smax))
    else:
        kw.update(color="w")
    sp = a.streamplot(X, Y, u, v, **kw)
    if colour:
        _colorbar(a, sp.lines, "|J| (current)", slot=1)
    a.set_xlim(*grid.bounds[0])
    a.set_ylim(*grid.bounds[1])
    a.set_title(f"current where p > {floor:g} max p: max |J| = {smax:.3g}", fontsize=9)


def _normalize(lo: float, hi: float) -> Any:
    from matplotlib.colors import Normalize

    return Normalize(vmin=lo, vmax=hi)


# ------------------------------------------------------------------ evolution
def _snapshots(particles_snapshots: Any, n_t: int, d: int) -> list[np.ndarray] | None:
    if particles_snapshots is None:
        return None
    s = getattr(particles_snapshots, "snapshots", particles_snapshots)
    if s is None:
        raise ValueError("`particles_snapshots` has no snapshots: simulate with `t_eval=ev.t`.")
    s = [np.asarray(v, dtype=float) for v in s]
    if len(s) != n_t:
        raise ValueError(f"`particles_snapshots` holds {len(s)} snapshots for {n_t} times; pass one per time.")
    return [v[np.isfinite(v).all(axis=1)] if v.ndim == 2 else v for v in s]


def _time_indices(times: Sequence[int] | None, n_t: int) -> list[int]:
    """Indices into ``ev.t`` to draw: all given ones, in order; by default every time
    (at most :data:`MAX_TIMES`, evenly chosen with the first and last, and a warning)."""
    if times is None:
        if n_t <= MAX_TIMES:
            return list(range(n_t))
        from ._util.errors import warn

        warn(f"`evolution` draws {MAX_TIMES} of the {n_t} times (evenly chosen, the first and last "
             "included); pass `times=` (indices into ev.t) to choose them.")
        return sorted(set(np.linspace(0, n_t - 1, MAX_TIMES).round().astype(int).tolist()))
    out = []
    for i in np.ravel(np.asarray(times)):
        if not float(i).is_integer() or not -n_t <= int(i) < n_t:
            raise ValueError(f"`times` are indices into ev.t (0 to {n_t - 1}); got {float(i):g}. "
                             "Use np.searchsorted(ev.t, t) to turn times into indices.")
        out.append(int(i) % n_t)
    if not out:
        raise ValueError("`times` is empty; give at least one index into ev.t.")
    return out


def _evolution_1d(axs: Sequence[Any], grid: Grid, dens: np.ndarray, t: np.ndarray, times: list[int],
                  snaps: list[np.ndarray] | None, exact_at: Any, names: Sequence[str], ylabel: str) -> None:
    for a, i in zip(axs, times):
        if snaps is not None and len(snaps[i]):
            a.stairs(grid.histogram(snaps[i]), grid.edges[0], color="C1", lw=1.0, label="particles")
        a.plot(grid.centers[0], dens[i], "C0-", lw=1.5, label="grid")
        e = exact_at(i)
        if e is not None:
            a.plot(grid.centers[0], e, "k--", lw=1.0, label="exact")
        a.set_title(f"t = {t[i]:.3g}", fontsize=9)
        a.set_xlabel(names[0])
        a.set_ylabel(ylabel)
    # zoom to where any of the drawn densities has mass
    big = np.flatnonzero((dens[times] > 1e-4 * dens[times].max(axis=1, keepdims=True)).any(axis=0))
    if big.size:
        e0, e1 = grid.edges[0][big[0]], grid.edges[0][big[-1] + 1]
        pad = 0.05 * (e1 - e0)
        for a in axs:
            a.set_xlim(max(e0 - pad, grid.bounds[0][0]), min(e1 + pad, grid.bounds[0][1]))
    _legend(axs[0])


def _evolution_2d(fig: Any, arr: np.ndarray, grid: Grid, dens: np.ndarray, t: np.ndarray, times: list[int],
                  snaps: list[np.ndarray] | None, exact_at: Any, names: Sequence[str]) -> None:
    """``arr[r, j]``: row 0 the grid density at ``times[j]``, row 1 the particles; one
    colour scale (the largest drawn density) and one colorbar for every panel."""
    vmax = float(max(dens[times].max(), 1e-300))
    X, Y = np.meshgrid(*grid.centers, indexing="ij")
    lv = np.linspace(0, vmax, 9)[1:-1]
    dashed = False
    im = None
    for j, i in enumerate(times):
        a = arr[0, j]
        im = _heatmap(a, dens[i], grid, names, vmax=vmax, contours=0, colorbar=False)
        if np.ptp(dens[i]) > 0:
            a.contour(X, Y, dens[i], levels=lv, colors="w", linewidths=0.6)
        dashed |= _exact_contours(a, exact_at(i), grid, vmax, n=9)
        a.set_title(f"grid, t = {t[i]:.3g}", fontsize=9)
        if snaps is not None:
            b = arr[1, j]
            h = grid.histogram(snaps[i]) if len(snaps[i]) else np.zeros(grid.shape)
            _heatmap(b, h, grid, names, vmax=vmax, contours=0, colorbar=False)
            if np.ptp(dens[i]) > 0:
                b.contour(X, Y, dens[i], levels=lv, colors="w", linewidths=0.6)
            b.set_title(f"particles (n={len(snaps[i])}), t = {t[i]:.3g}", fontsize=9)
    label = "density (one scale for all panels)"
    fig.colorbar(im, ax=[a for a in arr.ravel() if a is not None], label=label, shrink=0.8, aspect=30)
    if dashed:
        fig.supxlabel("white: grid density contours; dashed red: exact density contours", fontsize=8)


def evolution(
    ev: Any,
    particles_snapshots: Any = None,
    *,
    exact: Any = None,
    times: Sequence[int] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    filename: Any = None,
    ax: Any = None,
) -> Any:
    """Densities over time from :func:`~fokkerplanck.evolve` against particle snapshots.

    Parameters
    ----------
    ev : Evolution
        ``ev.t``, ``ev.density`` ``(n_t, *grid.shape)``, ``ev.grid``.
    particles_snapshots : Particles or sequence of (n, d) arrays, optional
        Particles simulated with ``t_eval=ev.t`` (their ``.snapshots``), or one array
        of positions per time.
    exact : callable or sequence of arrays, optional
        ``exact(t) -> density on the grid`` or one array per time (dashed).
    times : sequence of int, optional
        Indices into ``ev.t`` to draw, every one of them in the order given. Default:
        every time (more than :data:`MAX_TIMES` = 12: twelve evenly chosen, with a
        warning).
    xlabel, ylabel : str, optional
        Axis names: the first coordinate (default ``"x"``); the second coordinate in
        2-D (default ``"y"``), the density axis in 1-D (default ``"density"``).
    title : str, optional
        Figure title (the suptitle of a new figure, else the first axes' title).
    filename : str or path-like, optional
        Save the figure there (format by suffix, ``dpi=110``).
    ax : sequence of Axes, optional
        1-D: one per time. 2-D: one per time, or two per time with particles (all grid
        panels first, then all particle panels).

    Returns
    -------
    matplotlib.figure.Figure
        1-D: one panel per time (grid curve, particle histogram, exact), at most three
        per row. 2-D: one panel per time (at most four per row), with particles a second
        panel under each holding their histogram; every panel on one colour scale with
        one colorbar, grid contours white, exact contours dashed red.

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> from fokkerplanck import plotting
    >>> grid = fp.Grid([(-4, 4), (-4, 4)], 32)
    >>> sde = fp.ornstein_uhlenbeck(np.eye(2), np.eye(2))
    >>> ev = fp.evolve(sde, grid, fp.gaussian(grid, [1, 0], 0.3), [0.0, 0.5, 1.0, 2.0, 4.0])
    >>> fig = plotting.evolution(ev)
    >>> [a.get_title() for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"]
    ['grid, t = 0', 'grid, t = 0.5', 'grid, t = 1', 'grid, t = 2', 'grid, t = 4']
    """
    grid = ev.grid
    dens = np.asarray(ev.density, dtype=float)
    t = np.asarray(ev.t, dtype=float)
    n_t = dens.shape[0]
    snaps = _snapshots(particles_snapshots, n_t, grid.ndim)
    picked = _time_indices(times, n_t)
    names = _names(grid.ndim, xlabel, ylabel if grid.ndim > 1 else None)

    def exact_at(i: int) -> np.ndarray | None:
        if exact is None:
            return None
        e = exact(float(t[i])) if callable(exact) else exact[i]
        return None if e is None else np.asarray(e, dtype=float).reshape(grid.shape)

    own = ax is None
    n = len(picked)
    with np.errstate(all="ignore"):
        if grid.ndim == 1:
            fig, axs = _axes(ax, n, ncols=min(n, 3), panel=(4.4, 3.4))
            _evolution_1d(axs, grid, dens, t, picked, snaps, exact_at, names,
                          ylabel if ylabel is not None else "density")
        elif grid.ndim == 2:
            rows = 2 if snaps is not None else 1
            if ax is None:
                blocks = -(-n // 4)
                ncols = -(-n // blocks)
                (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
                ph = 2.8 * (y1 - y0) / (x1 - x0) + 0.8 if _aspect(grid) == "equal" else 3.0
                fig, grid_axes = _plt().subplots(rows * blocks, ncols, squeeze=False, layout="constrained",
                                                 figsize=(3.3 * ncols + 1.0, ph * rows * blocks))
                arr = np.empty((rows, n), dtype=object)
                for j in range(blocks * ncols):
                    b, c = divmod(j, ncols)
                    for r in range(rows):
                        if j < n:
                            arr[r, j] = grid_axes[b * rows + r, c]
                        else:
                            grid_axes[b * rows + r, c].set_visible(False)
            else:
                fig, flat = _axes(ax, rows * n)
                arr = np.asarray(flat, dtype=object).reshape(rows, n)
            _evolution_2d(fig, arr, grid, dens, t, picked, snaps, exact_at, names)
        else:
            raise ValueError(f"`evolution` plots 1-D and 2-D grids, got a {grid.ndim}-D grid.")
    return _finish(fig, title, filename, own=own, ax=ax)


# ------------------------------------------------------------------ convergence
def convergence(
    ns: Any,
    errors: Any,
    orders: Sequence[float] = (1, 2),
    *,
    labels: Sequence[str] | None = None,
    xlabel: str | None = "cells per axis N",
    ylabel: str | None = "error",
    title: str | None = None,
    filename: Any = None,
    ax: Any = None,
) -> Any:
    """Error against grid size on log-log axes, with reference slopes ``N^-order``.

    Parameters
    ----------
    ns : sequence of int
        Grid sizes (cells per axis).
    errors : sequence of float, 2-D array ``(n_series, len(ns))`` or dict label -> sequence
        One or several error series.
    orders : sequence of float
        Reference slopes, drawn as grey lines (one line style each, named in the legend)
        through the first point of the first series. The fitted order of each series
        (least squares in log-log) goes in the legend.
    labels : sequence of str, optional
        Legend labels of the series (with a dict, its keys).
    xlabel, ylabel : str, optional
        Axis names (default ``"cells per axis N"`` and ``"error"``).
    title : str, optional
        Figure title (the suptitle of a new figure, else the given axes' title).
    filename : str or path-like, optional
        Save the figure there (format by suffix, ``dpi=110``).
    ax : Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from fokkerplanck import plotting
    >>> fig = plotting.convergence([16, 32, 64], [1e-2, 2.5e-3, 6.25e-4], orders=(2,))
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['error (order 2.00)', 'reference N^-2']
    """
    n = np.asarray(ns, dtype=float)
    if isinstance(errors, dict):
        labels = list(errors)
        series = [np.asarray(v, dtype=float) for v in errors.values()]
    else:
        arr = np.asarray(errors, dtype=float)
        series = [arr] if arr.ndim == 1 else list(arr)
        labels = list(labels) if labels is not None else [f"series {k}" for k in range(len(series))]
        if len(series) == 1 and labels == ["series 0"]:
            labels = ["error"]
    for s in series:
        if s.shape != n.shape:
            raise ValueError(f"an error series has {s.shape[0] if s.ndim else 0} values for {n.size} grid sizes.")
    own = ax is None
    fig, (a,) = _axes(ax, 1, panel=(5.6, 4.4))
    with np.errstate(all="ignore"):
        for k, (s, lab) in enumerate(zip(series, labels)):
            ok = (s > 0) & np.isfinite(s)
            slope = ""
            if ok.sum() >= 2:
                fit = np.polyfit(np.log(n[ok]), np.log(s[ok]), 1)[0]
                slope = f" (order {-fit:.2f})"
            a.loglog(n[ok], s[ok], "o-", color=f"C{k}", label=f"{lab}{slope}")
        ref = series[0]
        ok = (ref > 0) & np.isfinite(ref)
        if ok.any():
            i0 = int(np.flatnonzero(ok)[0])
            styles = [":", "--", "-.", (0, (1, 3))]
            for j, q in enumerate(orders):
                a.loglog(n, ref[i0] * (n / n[i0]) ** (-float(q)), linestyle=styles[j % len(styles)],
                         color="0.45", lw=1.0, label=f"reference N^-{q:g}")
    from matplotlib.ticker import FixedLocator, NullLocator

    a.xaxis.set_major_locator(FixedLocator(n.tolist()))
    a.xaxis.set_minor_locator(NullLocator())
    a.set_xticklabels([f"{v:g}" for v in n])
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    _legend(a)
    a.grid(True, which="both", alpha=0.3)
    return _finish(fig, title, filename, own=own, ax=ax)


# ------------------------------------------------------------------ modes
def modes(
    modes_result: Any,
    *,
    k: int | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    filename: Any = None,
    ax: Any = None,
) -> Any:
    """The slowest relaxation modes (``fp.modes``), labelled with their rates.

    Parameters
    ----------
    modes_result : Modes
        From :func:`~fokkerplanck.modes` (``.modes``, ``.rates``, ``.grid``).
    k : int, optional
        Draw the first ``k`` modes (default all).
    xlabel, ylabel : str, optional
        Axis names: the first coordinate (default ``"x"``); the second coordinate in
        2-D (default ``"y"``), the mode axis in 1-D (default ``"mode (real part)"``).
    title : str, optional
        Figure title (the suptitle of a new figure, else the first axes' title).
    filename : str or path-like, optional
        Save the figure there (format by suffix, ``dpi=110``).
    ax : Axes or sequence of Axes, optional
        1-D: one axes. 2-D: one per mode.

    Returns
    -------
    matplotlib.figure.Figure
        1-D: one axes with a curve per mode; 2-D: one heatmap per mode (diverging
        colours, symmetric scale, a colorbar each).
    """
    grid = modes_result.grid
    m = np.real(np.asarray(modes_result.modes))
    rates = np.asarray(modes_result.rates)
    k = m.shape[0] if k is None else min(int(k), m.shape[0])
    names = _names(grid.ndim, xlabel, ylabel if grid.ndim > 1 else None)
    own = ax is None
    if grid.ndim == 1:
        fig, (a,) = _axes(ax, 1, panel=(6.0, 4.0))
        for i in range(k):
            a.plot(grid.centers[0], m[i], label=f"mode {i + 1}: rate {rates[i].real:.4g}")
        a.axhline(0, color="0.6", lw=0.6)
        a.set_xlabel(names[0])
        a.set_ylabel(ylabel if ylabel is not None else "mode (real part)")
        _legend(a)
    elif grid.ndim == 2:
        fig, axs = _axes(ax, k, ncols=min(k, 4), panel=(4.0, 3.4))
        for i, a in enumerate(axs):
            _signed(a, m[i], grid, names, label="mode (real part)")
            a.set_title(f"mode {i + 1}: rate {rates[i].real:.4g}", fontsize=9)
    else:
        raise ValueError(f"`modes` plots 1-D and 2-D grids, got a {grid.ndim}-D grid.")
    return _finish(fig, title, filename, own=own, ax=ax)
