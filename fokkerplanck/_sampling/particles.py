"""Euler–Maruyama particle simulation of an :class:`~fokkerplanck.SDE`.

:func:`simulate` advances many independent particles with the Euler–Maruyama
scheme, vectorized over particles (the only Python loops run over time steps
and over memory chunks of particles). It takes the *same* :class:`SDE` object
as the grid solver and, when a :class:`~fokkerplanck.Grid` is given, the same
boundaries: reflection at reflecting walls, wrapping at periodic ones, and
removal with a recorded exit time at absorbing ones. The result is a frozen
:class:`Particles`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._util.validate import positive as _check_positive, positive_int, real_array, show
from .._util.memory import check_memory, format_bytes
from .._util.progress import progress_bar
from .._util.rng import rng_children
from .._model.grid import Grid
from .._model.sde import SDE

__all__ = ["simulate", "Particles"]

#: Default number of particles advanced together (a memory chunk).
DEFAULT_CHUNK_SIZE = 2**15


@dataclass(frozen=True, eq=False)
class Particles:
    """Particles advanced by :func:`simulate`.

    Attributes
    ----------
    x : ndarray, shape (n, d)
        Positions at time ``t``. Particles removed at an absorbing wall are ``NaN``.
    t : float
        Final time (``t_end``).
    snapshots : ndarray, shape (len(save_at), n, d), or None
        Positions at the times ``save_at`` (``NaN`` once a particle is removed).
    save_at : ndarray or None
        The snapshot times, sorted.
    exit_time : ndarray, shape (n,)
        Time at which each particle was absorbed (the midpoint of the step in
        which the crossing was detected); ``inf`` for survivors.
    alive : ndarray of bool, shape (n,)
        ``exit_time == inf``.
    dt : float
        The (nominal) time step.
    n_steps : int
        Number of Euler–Maruyama steps taken by each particle.
    chunk_size : int
        Particles per chunk (results are reproducible for a fixed ``rng`` and
        ``chunk_size``).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> pt = fp.simulate(fp.brownian(1.0), np.zeros((1000, 1)), 1.0, dt=0.01, rng=0)
    >>> pt.n, pt.ndim, bool(pt.alive.all())
    (1000, 1, True)
    """

    x: np.ndarray
    t: float
    snapshots: np.ndarray | None
    save_at: np.ndarray | None
    exit_time: np.ndarray
    alive: np.ndarray
    dt: float
    n_steps: int
    chunk_size: int

    @property
    def n(self) -> int:
        """Number of particles (alive or not)."""
        return int(self.x.shape[0])

    @property
    def ndim(self) -> int:
        return int(self.x.shape[1])

    def survival(self, t: float | np.ndarray) -> float | np.ndarray:
        """Fraction of particles not yet absorbed at time(s) ``t``."""
        tt = np.asarray(t, dtype=float)
        s = (self.exit_time[None, :] > tt.reshape(-1, 1)).mean(axis=1)
        return float(s[0]) if tt.ndim == 0 else s.reshape(tt.shape)

    def __repr__(self) -> str:
        return (
            f"Particles(n={self.n}, ndim={self.ndim}, t={self.t}, alive={int(self.alive.sum())}, "
            f"dt={self.dt}, n_steps={self.n_steps}, snapshots="
            f"{None if self.snapshots is None else self.snapshots.shape})"
        )


# --------------------------------------------------------------------- helpers
def _time_grid(t_end: float, dt: float, save_at: np.ndarray | None) -> np.ndarray:
    """Step times ``0 = t_0 < ... < t_K = t_end``: multiples of ``dt`` plus ``save_at``.

    Points closer than ``1e-9 dt`` are merged, so ``t_end = K dt`` up to round-off
    gives exactly ``K`` equal steps.
    """
    tol = 1e-9 * dt
    k = int(math.floor(t_end / dt + 1e-9))
    times = np.arange(k + 1) * dt
    if t_end - times[-1] > tol:
        times = np.append(times, t_end)
    else:
        times[-1] = t_end
    if save_at is not None and save_at.size:
        # snap the nearest step time onto a save time within tol (the ends stay put);
        # a save time with no step time near it becomes a step time of its own
        pos = np.searchsorted(times, save_at)
        lo = np.clip(pos - 1, 0, times.size - 1)
        hi = np.clip(pos, 0, times.size - 1)
        near_lo = np.abs(times[lo] - save_at) <= tol
        near = near_lo | (np.abs(times[hi] - save_at) <= tol)
        q = np.where(near_lo, lo, hi)
        inner = near & (q != 0) & (q != times.size - 1)
        times[q[inner]] = save_at[inner]
        if not near.all():
            times = np.union1d(times, save_at[~near])
    return times




def sample_density(p: np.ndarray, grid: Grid, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points from a density on ``grid``: a cell by its mass, then uniform in the cell."""
    p = np.asarray(p, dtype=float)
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(
            "`x0` (a density on the grid) must be finite and non-negative; "
            f"its minimum is {show(np.nanmin(p))}."
        )
    cdf = np.cumsum(p.ravel())
    if not cdf[-1] > 0:
        raise ValueError("`x0` (a density on the grid) is zero everywhere; give a density with mass.")
    cdf /= cdf[-1]
    cell = np.searchsorted(cdf, rng.random(n), side="right")
    np.minimum(cell, grid.size - 1, out=cell)
    idx = np.stack(np.unravel_index(cell, grid.shape), axis=-1)
    h = np.asarray(grid.spacing)
    return grid.lower + (idx + rng.random((n, grid.ndim))) * h


def _draw(sampler: Any, n: Any, rng: np.random.Generator, d: int | None) -> np.ndarray:
    """``n`` starting points from ``sampler(n, rng)`` or ``sampler.rvs(size=n, random_state=rng)``."""
    if n is None:
        raise ValueError("`x0` is a sampler; pass the number of particles as `n=...`.")
    n = positive_int("n", n)
    try:
        x = sampler.rvs(size=n, random_state=rng) if hasattr(sampler, "rvs") else sampler(n, rng)
    except TypeError as err:
        raise TypeError(
            f"`x0` is a sampler, called as x0(n, rng) (or x0.rvs(size=n, random_state=rng)); it "
            f"failed: {err}"
        ) from err
    x = np.asarray(x, dtype=float)
    if x.shape == (n,) and d in (1, None):
        x = x[:, None]
    return x


class _Walls:
    """Boundary handling of one grid for arrays of positions (n, d), in place."""

    def __init__(self, grid: Grid | None):
        self.axes: list[tuple[int, float, float, str, str]] = []
        self.absorbing: list[tuple[int, float, float, str, str]] = []
        if grid is None:
            return
        for k, ((lo, hi), (blo, bhi)) in enumerate(zip(grid.bounds, grid.boundary)):
            self.axes.append((k, lo, hi, blo, bhi))
        self.absorbing = [(k, lo, hi, blo, bhi) for k, lo, hi, blo, bhi in self.axes
                          if "absorbing" in (blo, bhi)]

    def apply(self, x: np.ndarray) -> np.ndarray | None:
        """Reflect/wrap ``x`` in place; return a mask of absorbed rows (or None).

        Only the rows outside an axis' interval are touched (a cheap min/max check
        first), so the cost is a couple of passes over each column.
        """
        dead = None
        for k, lo, hi, blo, bhi in self.axes:
            col = x[:, k]
            if col.min() >= lo and col.max() <= hi:
                continue
            rows = np.flatnonzero((col < lo) | (col > hi))
            v = col[rows]
            L = hi - lo
            if blo == "periodic":
                v = lo + np.mod(v - lo, L)
            elif blo == "reflecting" and bhi == "reflecting":
                # fold: any number of mirror reflections in closed form
                y = np.mod(v - lo, 2 * L)
                v = lo + np.minimum(y, 2 * L - y)
            else:
                # an absorbing side: reflect until inside or beyond an absorbing wall
                gone = np.zeros(v.shape, dtype=bool)
                for _ in range(64):
                    below = (v < lo) & ~gone
                    above = (v > hi) & ~gone
                    if not (below.any() or above.any()):
                        break
                    if blo == "absorbing":
                        gone |= below
                    else:
                        v[below] = 2 * lo - v[below]
                    if bhi == "absorbing":
                        gone |= above
                    else:
                        v[above] = 2 * hi - v[above]
                if gone.any():
                    v[gone] = 0.5 * (lo + hi)  # parked inside; the row is removed
                    mask = np.zeros(x.shape[0], dtype=bool)
                    mask[rows[gone]] = True
                    dead = mask if dead is None else dead | mask
            col[rows] = v
        return dead


def _check_simulate_memory(n: int, d: int, n_steps: float, n_save: int, dt: float) -> None:
    """Refuse a run whose arrays cannot fit: the time grid (4 arrays of ``n_steps``
    floats), positions in and out and the exit times, and ``n_save`` snapshots."""
    need = 32.0 * (n_steps + 1) + 8.0 * n * (3 * d + 2 + n_save * d)
    if n_steps > 1e10:
        raise ValueError(
            f"`dt={dt:g}` makes {n_steps:.3g} Euler–Maruyama steps (their times alone need "
            f"{format_bytes(32.0 * n_steps)}); take a larger dt or a shorter t_end."
        )
    what = (f"Simulating {n} particles in {d}-D over {n_steps:.3g} steps"
            + (f" with {n_save} snapshots" if n_save else ""))
    check_memory(need, what, "use fewer particles (`n`), fewer `save_at` times, or a larger `dt`.")


# ------------------------------------------------------------------ simulate
def simulate(
    sde: SDE,
    x0: np.ndarray,
    t_end: float,
    *,
    dt: float = 1e-3,
    grid: Grid | None = None,
    rng: Any = None,
    save_at: Sequence[float] | np.ndarray | None = None,
    n: int | None = None,
    progress: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    bridge: bool = True,
    workers: int = 1,
) -> Particles:
    r"""Advance independent particles of ``sde`` with Euler–Maruyama to ``t_end``.

    Parameters
    ----------
    sde : SDE
        The equation; Euler–Maruyama steps with :meth:`SDE.ito_drift` and
        :meth:`SDE.sigma`, so the Stratonovich and isothermal conventions are
        handled by the SDE object. Time-dependent SDEs receive the step's
        start time.
    x0 : ndarray (n, d), ndarray grid.shape, or a sampler
        Initial positions; or a density on ``grid`` (then ``n`` is required):
        cells are drawn by their mass, positions uniformly within the cell; or a
        sampler (then ``n`` is required): a callable ``x0(n, rng) -> (n, d)``, or
        an object with scipy's ``rvs(size=n, random_state=rng)`` such as a frozen
        ``scipy.stats`` distribution (a 1-D one may return ``(n,)``).
    t_end : float
        Final time, ``> 0``.
    dt : float
        Time step, ``0 < dt <= t_end``. If ``t_end`` (or a ``save_at`` time) is
        not a multiple of ``dt`` a shorter step lands on it exactly.
    grid : Grid, optional
        Domain and boundaries, as the grid solver sees them. ``None``: free space.
    rng : int, Generator or None
        Normalised with :func:`numpy.random.default_rng`.
    save_at : sequence of float, optional
        Times in ``[0, t_end]`` at which to store snapshots of all positions.
    n : int, optional
        Number of particles when ``x0`` is a density or a sampler.
    progress : bool
        Show a :mod:`tqdm` progress bar.
    chunk_size : int
        Particles advanced together; bounds the working memory (about
        ``10 * chunk_size * d`` doubles beyond the output), so 1e7 particles
        fit easily.
    bridge : bool
        At absorbing walls, also remove a particle whose two consecutive
        positions are inside with the Brownian-bridge crossing probability
        ``exp(-2 a_0 a_1 / (C_kk dt))`` (``a`` the distances to the wall). This
        makes exit times first-order accurate in ``dt`` instead of
        ``O(sqrt(dt))``.
    workers : int
        Threads advancing chunks concurrently (NumPy releases the GIL while it
        draws normals and does array arithmetic). Results do not depend on it:
        every chunk has its own generator. The SDE's callables must then be
        thread-safe (pure NumPy functions are).

    Returns
    -------
    Particles

    Raises
    ------
    ValueError
        Bad ``x0`` (shape, outside a non-periodic grid axis, non-finite), ``dt <= 0``,
        ``dt > t_end``, mismatched dimensions of ``grid``, ``sde`` and ``x0``,
        ``save_at`` outside ``[0, t_end]``, or non-finite positions during the run
        (the message names the step and how many particles).

    Notes
    -----
    The scheme, for step ``k`` of length ``dt_k`` and ``Z ~ N(0, I)``:

    .. math:: x_{k+1} = x_k + \mu_{Ito}(x_k, t_k)\,dt_k + \sigma(x_k, t_k) \sqrt{dt_k}\, Z

    followed by the boundaries of ``grid``: a reflecting wall mirrors the part of
    the step beyond it (repeatedly, until the particle is inside), a periodic axis
    wraps, an absorbing wall removes the particle (``x`` becomes ``NaN``; the
    midpoint of the step in which the crossing was detected is its exit time). Euler–Maruyama has weak order 1; its
    stationary density is biased by ``O(dt)`` (for OU ``dx = -theta x dt +
    sigma dB`` the variance is ``sigma^2 / (theta (2 - theta dt))``).

    Randomness: ``rng`` first samples ``x0`` (if a density), then seeds one
    independent generator per chunk, so results are bit-identical for the same
    ``rng`` seed, ``chunk_size`` and inputs. Constant noise (``sde.noise_is_constant``)
    is factored once; the normals are drawn into a preallocated buffer.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> sde = fp.SDE(drift=lambda x: -x, sigma=1.0)
    >>> pt = fp.simulate(sde, np.zeros((20000, 1)), 5.0, dt=0.01, rng=1)
    >>> round(float(pt.x.var()), 1)  # EM: 1 / (2 - 0.01) = 0.503
    0.5
    >>> grid = fp.Grid(bounds=[(0, 1)], shape=50, boundary="absorbing")
    >>> pt = fp.simulate(fp.brownian(1.0), np.full((2000, 1), 0.5), 2.0, dt=1e-3, grid=grid, rng=2)
    >>> bool(abs(pt.exit_time.mean() - 0.25) < 0.02)   # exact mean exit time x(1-x)/sigma^2
    True
    """
    if not isinstance(sde, SDE):
        raise TypeError(f"`sde` must be a fokkerplanck.SDE, got {type(sde).__name__}.")
    if grid is not None and not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid or None, got {type(grid).__name__}.")
    t_end = _check_positive("t_end", t_end)
    dt = _check_positive("dt", dt)
    if dt > t_end * (1 + 1e-12):
        raise ValueError(
            f"`dt={dt}` is larger than `t_end={t_end}`; take dt <= t_end (typically "
            "t_end / dt of hundreds of steps or more)."
        )
    chunk_size = positive_int("chunk_size", chunk_size)
    workers = positive_int("workers", workers)
    if grid is not None and sde.ndim is not None and sde.ndim != grid.ndim:
        raise ValueError(
            f"`grid` is {grid.ndim}-dimensional but `sde` is {sde.ndim}-dimensional; "
            "use a grid with one axis per SDE coordinate."
        )
    try:
        rng = np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise TypeError(
            f"`rng` must be None, an int seed, a SeedSequence or a numpy Generator, got {rng!r}."
        ) from None

    # ---- memory, before anything is allocated
    sampler = callable(x0) or hasattr(x0, "rvs")
    n_save = 0 if save_at is None else int(np.size(save_at))
    if sampler or n is not None:
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0:
            _check_simulate_memory(int(n), (grid.ndim if grid is not None else sde.ndim) or 1,
                                   t_end / dt, n_save, dt)
    elif hasattr(x0, "shape") and len(np.shape(x0)) == 2:
        _check_simulate_memory(int(np.shape(x0)[0]), int(np.shape(x0)[1]), t_end / dt, n_save, dt)
    else:
        _check_simulate_memory(1, 1, t_end / dt, n_save, dt)

    # ---- initial positions
    if sampler:
        x0 = _draw(x0, n, rng, grid.ndim if grid is not None else sde.ndim)
        n = None
    x0_arr = real_array("x0", x0)
    if not sampler and grid is not None and x0_arr.shape == grid.shape:
        if n is None:
            raise ValueError(
                f"`x0` has the grid shape {grid.shape}, so it is read as a density to "
                "sample from; pass the number of particles as `n=...` (or give points "
                f"of shape (n, {grid.ndim}))."
            )
        x_init = sample_density(x0_arr, grid, positive_int("n", n), rng)
    else:
        if n is not None:
            raise ValueError(
                f"`n={n}` is only used when `x0` is a density on the grid; `x0` has shape "
                f"{x0_arr.shape}, read as points. Drop `n`."
            )
        d_expect = grid.ndim if grid is not None else sde.ndim
        if x0_arr.ndim != 2 or (d_expect is not None and x0_arr.shape[1] != d_expect) or x0_arr.shape[0] == 0:
            dd = d_expect if d_expect is not None else "d"
            hint = " For 1-D points write x0[:, None]." if x0_arr.ndim == 1 else ""
            dens = f" or a density of the grid shape {grid.shape} (with n=...)" if grid is not None else ""
            raise ValueError(
                f"`x0` must be an array of points of shape (n, {dd}){dens}; got shape "
                f"{x0_arr.shape}.{hint}"
            )
        if not np.all(np.isfinite(x0_arr)):
            raise ValueError("`x0` contains NaN or inf; give finite starting points.")
        x_init = x0_arr
        if grid is not None:
            per = np.asarray(grid.periodic)
            outside = ((x_init < grid.lower) | (x_init > grid.upper)) & ~per
            if outside.any():
                i, k = np.argwhere(outside)[0]
                raise ValueError(
                    f"`x0` has {int(outside.any(axis=1).sum())} points outside the grid; the "
                    f"first, x0[{i}] = {x_init[i].tolist()}, is outside axis {k} bounds "
                    f"{grid.bounds[k]}. Start the particles inside the grid."
                )
            if per.any():
                x_init = x_init.copy()
                lo, L = grid.lower[per], (grid.upper - grid.lower)[per]
                x_init[:, per] = lo + np.mod(x_init[:, per] - lo, L)
    n_part, d = x_init.shape
    if sde.ndim is not None and d != sde.ndim:
        raise ValueError(
            f"`x0` points have {d} coordinates but `sde` is {sde.ndim}-dimensional."
        )
    # the callables, checked where they are first evaluated: at (up to 64 of) the particles
    sde.check(x_init[np.linspace(0, n_part - 1, min(n_part, 64)).astype(int)])

    # ---- time grid and snapshots
    if save_at is not None:
        sv = np.sort(np.atleast_1d(np.asarray(save_at, dtype=float)))
        if sv.ndim != 1 or not np.all(np.isfinite(sv)) or sv[0] < 0 or sv[-1] > t_end * (1 + 1e-12):
            raise ValueError(
                f"`save_at` must be times in [0, t_end={t_end}], got {np.asarray(save_at).tolist()}."
            )
        sv = np.minimum(sv, t_end)
    else:
        sv = None
    times = _time_grid(t_end, dt, sv)
    n_steps = times.size - 1
    snap_index = None
    snapshots = None
    if sv is not None:
        # the step time nearest each save time (searchsorted: no dense save-by-step matrix)
        i = np.clip(np.searchsorted(times, sv), 1, times.size - 1)
        snap_index = np.where(sv - times[i - 1] <= times[i] - sv, i - 1, i)
        snapshots = np.full((sv.size, n_part, d), np.nan)

    # ---- noise set-up
    t_probe = 0.0 if sde.time_dependent else None
    const_noise = sde.noise_is_constant
    if const_noise:
        S = np.array(sde.sigma(np.zeros((1, d)), t_probe)[0])  # (d, m)
        m = S.shape[1]
        if m == d and np.all(S == np.diag(np.diag(S))):
            sdiag = np.diag(S).copy()
            S_kind = "scalar" if np.all(sdiag == sdiag[0]) else "diag"
        else:
            S_kind = "full"
        C_diag = (S**2).sum(axis=1)
    else:
        m = np.asarray(sde.sigma(x_init[:1], t_probe)).shape[-1]
        S_kind = "state"
        C_diag = None
    has_drift = sde.has_drift or (not const_noise and sde.convention != "ito")

    walls = _Walls(grid)
    exit_time = np.full(n_part, np.inf)
    x_out = np.empty((n_part, d))
    n_chunks = max(1, -(-n_part // chunk_size))
    children = rng_children(rng, n_chunks)

    bar = progress_bar(n_chunks * n_steps, progress, "simulate")

    steps = np.diff(times)
    sqrt_steps = np.sqrt(steps)
    stop = threading.Event()

    def run(c: int) -> None:
        lo_i, hi_i = c * chunk_size, min(n_part, (c + 1) * chunk_size)
        _run_chunk(
            sde, x_init[lo_i:hi_i], lo_i, times, steps, sqrt_steps, children[c],
            walls, S_kind, S if const_noise else None, C_diag, m, has_drift,
            x_out, exit_time, snapshots, snap_index, bar, bridge, stop,
        )

    try:
        if workers == 1 or n_chunks == 1:
            for c in range(n_chunks):
                run(c)
        else:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=min(workers, n_chunks))
            try:
                for fut in [pool.submit(run, c) for c in range(n_chunks)]:
                    fut.result()  # re-raise the first error, in chunk order
            except BaseException:
                # Ctrl-C or a failed chunk: running chunks stop at their next step,
                # pending ones never start
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    finally:
        if bar is not None:
            bar.close()

    return Particles(
        x=x_out, t=t_end, snapshots=snapshots, save_at=sv, exit_time=exit_time,
        alive=np.isinf(exit_time), dt=dt, n_steps=n_steps, chunk_size=chunk_size,
    )


def _run_chunk(
    sde: SDE, x_start: np.ndarray, offset: int, times: np.ndarray, steps: np.ndarray,
    sqrt_steps: np.ndarray, rng: np.random.Generator, walls: _Walls, S_kind: str,
    S: np.ndarray | None, C_diag: np.ndarray | None, m: int, has_drift: bool,
    x_out: np.ndarray, exit_time: np.ndarray, snapshots: np.ndarray | None,
    snap_index: np.ndarray | None, bar: Any, bridge: bool, stop: threading.Event,
) -> None:
    """Advance one chunk of particles through all time steps (in place into the outputs)."""
    n0, d = x_start.shape
    x = np.array(x_start, dtype=float, order="C")
    ids = np.arange(offset, offset + n0)  # global index of each active row
    zbuf = np.empty((n0, m))
    nbuf = np.empty((n0, d)) if S_kind == "full" else None
    td = sde.time_dependent
    absorbing = bridge and bool(walls.axes) and bool(walls.absorbing)
    snaps_at: dict[int, list[int]] = {}  # step index -> snapshot numbers taken there
    if snap_index is not None:
        for j, k in enumerate(snap_index):
            snaps_at.setdefault(int(k), []).append(j)
    if 0 in snaps_at:
        for j in snaps_at[0]:
            snapshots[j, ids] = x

    for k in range(steps.size):
        if stop.is_set():  # another chunk failed, or Ctrl-C: the run is abandoned
            return
        na = x.shape[0]
        if na == 0:
            if bar is not None:
                bar.update(steps.size - k)
            break
        t = float(times[k]) if td else None
        h, sh = float(steps[k]), float(sqrt_steps[k])
        z = zbuf[:na]
        rng.standard_normal(out=z)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                # ---- noise increment sigma sqrt(dt) Z
                if S_kind == "scalar":
                    z *= S[0, 0] * sh
                    inc = z
                elif S_kind == "diag":
                    z *= np.diag(S) * sh
                    inc = z
                elif S_kind == "full":
                    inc = nbuf[:na]
                    np.matmul(z, S.T, out=inc)
                    inc *= sh
                else:
                    Sx = sde.sigma(x, t)  # (na, d, m)
                    inc = np.einsum("nij,nj->ni", Sx, z)
                    inc *= sh
                x_prev = x.copy() if absorbing else None
                # ---- drift
                if has_drift:
                    mu = np.asarray(sde.ito_drift(x, t), dtype=float)
                    if mu.flags.writeable and mu.shape == x.shape and not np.shares_memory(mu, x):
                        mu *= h
                        x += mu
                    else:
                        x += h * mu
                x += inc
                total = np.add.reduce(x, axis=None)
        except ValueError as err:
            hint = ""
            if "non-finite" in str(err):
                with np.errstate(invalid="ignore", over="ignore"):
                    fin = np.abs(x[np.isfinite(x)])  # the positions at the start of the step
                reach = float(fin.max(initial=0.0))
                start = float(np.abs(x_start).max(initial=0.0))
                if k > 0 and reach > 100.0 * (1.0 + start):
                    hint = (
                        f" The particles started within |x| <= {start:.3g} and had grown to |x| = "
                        f"{reach:.3g} after {k} steps: explicit Euler–Maruyama is unstable when "
                        f"`dt={steps[k]:.3g}` is too large for the drift's stiffness (about dt > "
                        "2 / |d drift / dx|); reduce dt."
                    )
            raise ValueError(
                f"Euler–Maruyama step {k + 1} of {steps.size} (t = {times[k]:.6g}), "
                f"{na} particles active in this chunk: {err}{hint}"
            ) from err
        if not math.isfinite(total):
            bad = ~np.isfinite(x).all(axis=1)
            nbad = int(bad.sum())
            if nbad:
                i = int(ids[np.argmax(bad)])
                raise ValueError(
                    f"Non-finite particle positions at step {k + 1} of {steps.size} "
                    f"(t = {times[k + 1]:.6g}): {nbad} of {na} particles in this chunk "
                    f"(first: particle {i}). The drift or noise blows up there, or `dt={steps[k]:.3g}` "
                    "is too large for the drift's stiffness; reduce dt or use a grid with walls."
                )
        # ---- boundaries
        dead = walls.apply(x) if walls.axes else None
        if absorbing:
            if S_kind == "state":
                cd = (Sx**2).sum(axis=-1)  # (na, d): C_kk at the step start
            else:
                cd = C_diag
            extra = _bridge_crossings(x_prev, x, walls, cd, h, rng)
            if extra is not None:
                dead = extra if dead is None else (dead | extra)
        if dead is not None and dead.any():
            exit_time[ids[dead]] = times[k] + 0.5 * h
            keep = ~dead
            x = x[keep]
            ids = ids[keep]
        if k + 1 in snaps_at:
            for j in snaps_at[k + 1]:
                snapshots[j, ids] = x
        if bar is not None:
            bar.update(1)
    x_out[offset:offset + n0] = np.nan
    x_out[ids] = x


def _bridge_crossings(
    x0: np.ndarray, x1: np.ndarray, walls: _Walls, cdiag: np.ndarray, h: float,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Rows whose Brownian bridge from ``x0`` to ``x1`` touched an absorbing wall.

    The probability that a Brownian path with variance ``c`` per unit time,
    pinned at distances ``a0, a1 > 0`` from a wall over a step ``h``, touches it
    is ``exp(-2 a0 a1 / (c h))``. Only rows within ~6 standard deviations of a
    wall draw a uniform (deterministically in row order).
    """
    dead = None
    for k, lo, hi, blo, bhi in walls.absorbing:
        ck = cdiag[..., k]
        scale = np.sqrt(ck * h)
        for wall, kind, sgn in ((lo, blo, 1.0), (hi, bhi, -1.0)):
            if kind != "absorbing":
                continue
            a0 = sgn * (x0[:, k] - wall)
            near = a0 < 6.0 * scale
            if not near.any():
                continue
            rows = np.flatnonzero(near)
            a1 = sgn * (x1[rows, k] - wall)
            c_rows = ck[rows] if np.ndim(ck) else ck
            expo = -2.0 * np.maximum(a0[rows], 0.0) * np.maximum(a1, 0.0) / (c_rows * h)
            with np.errstate(under="ignore"):
                prob = np.exp(expo)
            hit = rng.random(rows.size) < prob
            if hit.any():
                mask = np.zeros(x0.shape[0], dtype=bool)
                mask[rows[hit]] = True
                dead = mask if dead is None else dead | mask
    return dead
