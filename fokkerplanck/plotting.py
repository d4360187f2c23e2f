"""Matplotlib figures of densities, particles, currents, evolutions and convergence.

matplotlib is imported inside the functions, so ``import fokkerplanck`` never pays for
it. Every function takes the same keywords — ``ax=`` (draw into existing axes: one
``Axes``, or a sequence of them for multi-panel figures), ``title=`` and ``filename=``
(save the figure there, ``dpi=110``) — and returns the :class:`~matplotlib.figure.Figure`
it drew on.

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

from typing import Any, Sequence

import numpy as np

from ._model.grid import Grid

__all__ = ["density", "compare", "current", "evolution", "convergence", "modes"]

_DPI = 110


# ------------------------------------------------------------------ helpers
def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any, n: int, *, ncols: int | None = None, panel: tuple[float, float] = (4.6, 3.8)):
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
    fig, axs = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False)
    axs = list(axs.ravel())
    for extra in axs[n:]:
        extra.set_visible(False)
    return fig, axs[:n]


def _finish(fig: Any, title: str | None, filename: Any, *, own: bool, ax: Any = None) -> Any:
    """Title (a suptitle on our own figure, else on the first given axes), layout, save."""
    if title:
        if own:
            fig.suptitle(title)
        else:
            first = list(np.ravel(np.asarray(ax, dtype=object)))[0] if ax is not None else None
            if first is not None:
                first.set_title(title)
    if own:
        try:
            fig.tight_layout()
        except Exception:  # pragma: no cover - tight_layout is best effort
            pass
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


def _extent(grid: Grid, axes: tuple[int, int] = (0, 1)) -> list[float]:
    (x0, x1), (y0, y1) = grid.bounds[axes[0]], grid.bounds[axes[1]]
    return [x0, x1, y0, y1]


def _heatmap(ax: Any, p2: np.ndarray, grid: Grid, *, vmax: float | None = None, contours: int = 8,
             contour_of: np.ndarray | None = None, cmap: str = "viridis", label: str = "density") -> Any:
    """``p2`` (indexed [x, y]) as an image with x to the right, plus contour lines."""
    im = ax.imshow(p2.T, origin="lower", extent=_extent(grid), aspect="auto", cmap=cmap,
                   vmin=0.0, vmax=vmax if vmax is not None else float(p2.max()), interpolation="nearest")
    c = contour_of if contour_of is not None else p2
    if contours and np.ptp(c) > 0:
        X, Y = np.meshgrid(*grid.centers[:2], indexing="ij")
        levels = np.linspace(0, float(c.max()), contours + 2)[1:-1]
        ax.contour(X, Y, c, levels=levels, colors="w", linewidths=0.7)
    ax.figure.colorbar(im, ax=ax, label=label, fraction=0.046, pad=0.03)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return im


def _axis_names(d: int) -> list[str]:
    return ["x", "y", "z", "w"][:d]


def _signed(ax: Any, f2: np.ndarray, grid: Grid, *, label: str | None = None) -> Any:
    """A signed field (a difference of densities, a mode) in diverging colours, symmetric scale."""
    v = float(np.abs(f2).max()) or 1.0
    im = ax.imshow(f2.T, origin="lower", extent=_extent(grid), aspect="auto", cmap="RdBu_r",
                   vmin=-v, vmax=v, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, label=label, fraction=0.046, pad=0.03)
    return im


def _exact_contours(ax: Any, e: np.ndarray | None, grid: Grid, top: float, n: int = 10) -> None:
    """Dashed red contours of the exact density ``e`` (2-D) at ``n - 2`` levels below ``top``."""
    if e is not None and np.ptp(e) > 0:
        X, Y = np.meshgrid(*grid.centers, indexing="ij")
        levels = np.linspace(0, top, n)[1:-1]
        ax.contour(X, Y, e, levels=levels, colors="r", linestyles="--", linewidths=0.7)


def _marginal_panels(axs: Sequence[Any], grid: Grid, p: np.ndarray, hist: np.ndarray,
                     e: np.ndarray | None, *, ylabel: bool = False) -> None:
    """One panel per axis: particle histogram (steps), grid marginal, exact marginal (dashed)."""
    names = _axis_names(grid.ndim)
    for k, a in enumerate(axs):
        a.stairs(grid.marginal(hist, k), grid.edges[k], color="C1", lw=1.0, label="particles")
        a.plot(grid.centers[k], grid.marginal(p, k), "C0-", lw=1.6, label="grid")
        if e is not None:
            a.plot(grid.centers[k], grid.marginal(e, k), "k--", lw=1.0, label="exact")
        a.set_xlabel(names[k])
        if ylabel:
            a.set_ylabel(f"marginal density of {names[k]}")
        a.legend(fontsize=8)


# ------------------------------------------------------------------ density
def density(
    result_or_density: Any,
    grid: Grid | None = None,
    exact: Any = None,
    *,
    label: str = "grid",
    log: bool = False,
    ax: Any = None,
    title: str | None = None,
    filename: Any = None,
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
        a dashed curve in 1-D, dashed contours in 2-D.
    label : str
        Legend label of the grid density (1-D).
    log : bool
        Logarithmic density axis (1-D) or colour scale of ``log10 p`` (2-D).
    ax, title, filename
        See the module docstring.

    Returns
    -------
    matplotlib.figure.Figure
        1-D: one axes with a line per density. 2-D: a heatmap (an ``AxesImage``)
        with contour lines. 3-D and up: one panel per axis with the marginals.
    """
    p, grid = _unpack(result_or_density, grid)
    e = _exact_array(exact, grid)
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
            a.set_xlabel("x")
            a.set_ylabel("density")
            a.legend()
        elif grid.ndim == 2:
            fig, (a,) = _axes(ax, 1, panel=(5.6, 4.6))
            if log:
                lp = np.log10(np.maximum(p, p.max() * 1e-12))
                im = a.imshow(lp.T, origin="lower", extent=_extent(grid), aspect="auto")
                fig.colorbar(im, ax=a, label="log10 density")
                a.set_xlabel("x")
                a.set_ylabel("y")
            elif p.min() < 0:
                _signed(a, p, grid, label=label)
                a.set_xlabel("x")
                a.set_ylabel("y")
            else:
                _heatmap(a, p, grid)
            _exact_contours(a, e, grid, float(p.max()))
        else:
            fig, axs = _axes(ax, grid.ndim)
            for k, a in enumerate(axs):
                a.plot(grid.centers[k], grid.marginal(p, k), "C0-", label=label)
                if e is not None:
                    a.plot(grid.centers[k], grid.marginal(e, k), "k--", lw=1.0, label="exact")
                a.set_xlabel(_axis_names(grid.ndim)[k])
                a.legend()
    return _finish(fig, title, filename, own=own, ax=ax)


# ------------------------------------------------------------------ compare
def _display_merge(p: np.ndarray, display_bins: int | None) -> int:
    """How many adjacent 1-D cells to merge so ~``display_bins`` bins span the support."""
    if display_bins == 0:
        return 1
    target = 100 if display_bins is None else int(display_bins)
    big = np.flatnonzero(p > 1e-3 * p.max()) if p.max() > 0 else np.arange(p.size)
    width = (big[-1] - big[0] + 1) if big.size else p.size
    return max(1, int(round(width / max(target, 1))))


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
    ax: Any = None,
    title: str | None = None,
    filename: Any = None,
) -> Any:
    """A grid density against particles.

    Parameters
    ----------
    res : StationaryResult or ndarray
        The grid density (``.density``, ``.grid``), or an array with ``grid=``.
    particles : Particles or ndarray (n, d)
        Particle positions (absorbed ones, ``NaN``, are dropped).
    exact : ndarray or callable, optional
        Exact density on the grid (or a callable of points).
    grid : Grid, optional
        With an array ``res``.
    comparison : Comparison, optional
        A precomputed :func:`fokkerplanck.compare` result whose L1, noise floor and
        chi-square p-value are written on the figure; computed here if omitted.
    display_bins : int, optional
        1-D: about how many histogram bins to draw across the support of the density
        (adjacent grid cells are merged for display only; the statistics use the grid's
        cells). Default 100; ``0`` draws every cell.
    ax : Axes or sequence of Axes, optional
        1-D: one axes. 2-D: four axes (grid, particles, x marginal, y marginal).
        3-D and up: one per axis (marginals).

    Returns
    -------
    matplotlib.figure.Figure
        1-D: the grid curve, the particle histogram (a step line) and the exact curve.
        2-D: grid heatmap with contours; particle histogram on the same cells and
        colour scale with the grid's contours over it; both marginals (grid line,
        particle steps, exact dashed).
    """
    from ._sampling.compare import compare as _compare

    p, grid = _unpack(res, grid)
    x = _points(particles, grid.ndim)
    e = _exact_array(exact, grid)
    if comparison is None:
        try:
            comparison = _compare(p, x, grid=grid)
        except ValueError:
            comparison = None
    if comparison is not None and getattr(comparison, "grid", None) is grid:
        # the histogram the statistics were computed from (compare bins points that round
        # onto the upper wall into the last cell; Grid.locate drops them)
        hist = np.asarray(comparison.histogram, dtype=float)
    else:
        hist = grid.histogram(x) if len(x) else np.zeros(grid.shape)
    stats = ""
    if comparison is not None:
        stats = (f"L1 = {comparison.l1:.3g} (noise floor {comparison.noise_floor:.3g}), "
                 f"chi2 p = {comparison.chi2_pvalue:.3g}, "
                 f"{'consistent' if comparison.consistent else 'INCONSISTENT'}")
    own = ax is None
    with np.errstate(all="ignore"):
        if grid.ndim == 1:
            fig, (a,) = _axes(ax, 1, panel=(6.4, 4.2))
            c = grid.centers[0]
            k = _display_merge(p, display_bins)
            hk, ek = _coarsen(hist, grid.edges[0], k)
            a.stairs(hk, ek, color="C1", lw=1.0,
                     label=f"particles (n={len(x)}" + (f", {k} cells per bin)" if k > 1 else ")"))
            a.plot(c, p, "C0-", lw=1.6, label="grid")
            if e is not None:
                a.plot(c, e, "k--", lw=1.0, label="exact")
            a.set_xlabel("x")
            a.set_ylabel("density")
            a.legend(fontsize=8)
            if stats:
                a.set_title(stats, fontsize=8)
        elif grid.ndim == 2:
            fig, axs = _axes(ax, 4, ncols=2, panel=(5.4, 4.3))
            vmax = float(max(p.max(), 1e-300))
            _heatmap(axs[0], p, grid, vmax=vmax)
            axs[0].set_title("grid density", fontsize=9)
            _heatmap(axs[1], hist, grid, vmax=vmax, contour_of=p, label="particle density")
            axs[1].set_title(f"particles (n={len(x)}), grid contours", fontsize=9)
            _exact_contours(axs[0], e, grid, vmax)
            _marginal_panels(axs[2:], grid, p, hist, e, ylabel=True)
            if stats:
                axs[2].set_title(stats, fontsize=8)
        else:
            fig, axs = _axes(ax, grid.ndim)
            _marginal_panels(axs, grid, p, hist, e)
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
    ax: Any = None,
    title: str | None = None,
    filename: Any = None,
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
        Colour the streamlines by ``|J|`` (their width also grows with ``|J|``).

    Returns
    -------
    matplotlib.figure.Figure
        2-D: the density heatmap with a ``streamplot`` of ``J`` (white where ``J`` is
        zero to round-off: detailed balance). 1-D: ``J(x)`` as a curve (constant in a
        stationary state).
    """
    if res is not None:
        p, grid = _unpack(res, grid)
        if J is None:
            J = res.current()
    else:
        if density is None or grid is None or J is None:
            raise ValueError("without a result pass `J=`, `density=` and `grid=`.")
    if density is not None:
        p = np.asarray(density, dtype=float)
    J = np.asarray(J, dtype=float)
    if J.shape != (grid.ndim,) + grid.shape:
        raise ValueError(f"`J` has shape {J.shape}; expected {(grid.ndim,) + grid.shape}.")
    own = ax is None
    with np.errstate(all="ignore"):
        if grid.ndim == 1:
            fig, (a,) = _axes(ax, 1, panel=(6.0, 4.0))
            a.plot(grid.centers[0], J[0], "C3-")
            a.set_xlabel("x")
            a.set_ylabel("probability current J")
        elif grid.ndim == 2:
            fig, (a,) = _axes(ax, 1, panel=(6.0, 5.0))
            _heatmap(a, p, grid, contours=6)
            speed = np.hypot(J[0], J[1])
            smax = float(speed.max())
            if smax > 1e-12 * max(float(p.max()), 1e-300):
                X, Y = np.meshgrid(*grid.centers, indexing="xy")
                lw = 0.6 + 1.8 * speed.T / smax
                kw: dict[str, Any] = dict(density=1.2, linewidth=lw, arrowsize=0.9)
                if density_norm:
                    kw.update(color=speed.T, cmap="autumn")
                else:
                    kw.update(color="w")
                a.streamplot(X, Y, J[0].T, J[1].T, **kw)
                a.set_xlim(*grid.bounds[0])
                a.set_ylim(*grid.bounds[1])
                a.set_title(f"current: max |J| = {smax:.3g}", fontsize=9)
            else:
                a.set_title(f"no current (max |J| = {smax:.2g}): detailed balance", fontsize=9)
        else:
            raise ValueError(f"`current` plots 1-D and 2-D grids, got a {grid.ndim}-D grid.")
    return _finish(fig, title, filename, own=own, ax=ax)


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


def evolution(
    ev: Any,
    particles_snapshots: Any = None,
    *,
    exact: Any = None,
    times: Sequence[int] | None = None,
    ax: Any = None,
    title: str | None = None,
    filename: Any = None,
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
        Indices into ``ev.t`` to draw (default: all, at most 6 evenly chosen).

    Returns
    -------
    matplotlib.figure.Figure
        1-D: one panel per time (grid curve, particle histogram, exact). 2-D: one
        column per time, the grid density on top and the particle histogram below
        (same colour scale, grid contours over both).
    """
    grid = ev.grid
    dens = np.asarray(ev.density, dtype=float)
    n_t = dens.shape[0]
    snaps = _snapshots(particles_snapshots, n_t, grid.ndim)
    if times is None:
        times = list(range(n_t)) if n_t <= 6 else sorted(set(np.linspace(0, n_t - 1, 6).round().astype(int)))
    times = [int(i) for i in times]

    def exact_at(i: int) -> np.ndarray | None:
        if exact is None:
            return None
        e = exact(float(ev.t[i])) if callable(exact) else exact[i]
        return None if e is None else np.asarray(e, dtype=float).reshape(grid.shape)

    own = ax is None
    with np.errstate(all="ignore"):
        if grid.ndim == 1:
            fig, axs = _axes(ax, len(times), ncols=min(len(times), 3), panel=(4.4, 3.4))
            for a, i in zip(axs, times):
                if snaps is not None and len(snaps[i]):
                    a.stairs(grid.histogram(snaps[i]), grid.edges[0], color="C1", lw=1.0, label="particles")
                a.plot(grid.centers[0], dens[i], "C0-", lw=1.5, label="grid")
                e = exact_at(i)
                if e is not None:
                    a.plot(grid.centers[0], e, "k--", lw=1.0, label="exact")
                a.set_title(f"t = {ev.t[i]:.3g}", fontsize=9)
                a.set_xlabel("x")
            # zoom to where any of the drawn densities has mass
            big = np.flatnonzero((dens[times] > 1e-4 * dens[times].max(axis=1, keepdims=True)).any(axis=0))
            if big.size:
                e0, e1 = grid.edges[0][big[0]], grid.edges[0][big[-1] + 1]
                pad = 0.05 * (e1 - e0)
                for a in axs:
                    a.set_xlim(max(e0 - pad, grid.bounds[0][0]), min(e1 + pad, grid.bounds[0][1]))
            axs[0].legend(fontsize=8)
        elif grid.ndim == 2:
            rows = 2 if snaps is not None else 1
            if ax is None:
                plt = _plt()
                fig, arr = plt.subplots(rows, len(times), figsize=(3.6 * len(times), 3.2 * rows), squeeze=False)
            else:
                fig, flat = _axes(ax, rows * len(times))
                arr = np.asarray(flat, dtype=object).reshape(rows, len(times))
            for j, i in enumerate(times):
                vmax = float(dens[i].max())
                a = arr[0, j]
                a.imshow(dens[i].T, origin="lower", extent=_extent(grid), aspect="auto", vmin=0, vmax=vmax)
                X, Y = np.meshgrid(*grid.centers, indexing="ij")
                if np.ptp(dens[i]) > 0:
                    lv = np.linspace(0, vmax, 7)[1:-1]
                    a.contour(X, Y, dens[i], levels=lv, colors="w", linewidths=0.6)
                    _exact_contours(a, exact_at(i), grid, vmax, n=7)
                a.set_title(f"grid, t = {ev.t[i]:.3g}", fontsize=9)
                if snaps is not None:
                    b = arr[1, j]
                    h = grid.histogram(snaps[i]) if len(snaps[i]) else np.zeros(grid.shape)
                    b.imshow(h.T, origin="lower", extent=_extent(grid), aspect="auto", vmin=0, vmax=vmax)
                    if np.ptp(dens[i]) > 0:
                        b.contour(X, Y, dens[i], levels=lv, colors="w", linewidths=0.6)
                    b.set_title(f"particles, t = {ev.t[i]:.3g}", fontsize=9)
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
    xlabel: str = "cells per axis N",
    ylabel: str = "error",
    ax: Any = None,
    title: str | None = None,
    filename: Any = None,
) -> Any:
    """Error against grid size on log-log axes, with reference slopes ``N^-order``.

    Parameters
    ----------
    ns : sequence of int
        Grid sizes (cells per axis).
    errors : sequence of float, 2-D array ``(n_series, len(ns))`` or dict label -> sequence
        One or several error series.
    orders : sequence of float
        Reference slopes, drawn as dotted lines through the first point of the first
        series. The fitted order of each series (least squares in log-log) goes in
        the legend.

    Returns
    -------
    matplotlib.figure.Figure
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
            for q in orders:
                a.loglog(n, ref[i0] * (n / n[i0]) ** (-float(q)), ":", color="0.4", lw=1.0)
                j = max(len(n) - 2, 0)
                a.annotate(f"N^-{q:g}", (n[j], ref[i0] * (n[j] / n[i0]) ** (-float(q))),
                           textcoords="offset points", xytext=(0, 4), fontsize=8, color="0.3")
    from matplotlib.ticker import FixedLocator, NullLocator

    a.xaxis.set_major_locator(FixedLocator(n))
    a.xaxis.set_minor_locator(NullLocator())
    a.set_xticklabels([f"{v:g}" for v in n])
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    a.legend(fontsize=8)
    a.grid(True, which="both", alpha=0.3)
    return _finish(fig, title, filename, own=own, ax=ax)


# ------------------------------------------------------------------ modes
def modes(
    modes_result: Any,
    *,
    k: int | None = None,
    ax: Any = None,
    title: str | None = None,
    filename: Any = None,
) -> Any:
    """The slowest relaxation modes (``fp.modes``), labelled with their rates.

    Returns
    -------
    matplotlib.figure.Figure
        1-D: one axes with a curve per mode; 2-D: one heatmap per mode (diverging
        colours, symmetric scale).
    """
    grid = modes_result.grid
    m = np.real(np.asarray(modes_result.modes))
    rates = np.asarray(modes_result.rates)
    k = m.shape[0] if k is None else min(int(k), m.shape[0])
    own = ax is None
    if grid.ndim == 1:
        fig, (a,) = _axes(ax, 1, panel=(6.0, 4.0))
        for i in range(k):
            a.plot(grid.centers[0], m[i], label=f"rate {rates[i]:.4g}")
        a.axhline(0, color="0.6", lw=0.6)
        a.set_xlabel("x")
        a.legend(fontsize=8)
    elif grid.ndim == 2:
        fig, axs = _axes(ax, k, ncols=min(k, 4), panel=(4.0, 3.4))
        for i, a in enumerate(axs):
            _signed(a, m[i], grid)
            a.set_title(f"mode {i + 1}: rate {rates[i]:.4g}", fontsize=9)
    else:
        raise ValueError(f"`modes` plots 1-D and 2-D grids, got a {grid.ndim}-D grid.")
    return _finish(fig, title, filename, own=own, ax=ax)
