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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._model.grid import Grid
from .._model.sde import SDE
from .._util.deprecation import renamed_keywords
from .._util.memory import check_memory, format_bytes
from .._util.progress import progress_bar
from .._util.rng import rng_children
from .._util.summary import Summary, Text
from .._util.validate import positive as _check_positive
from .._util.validate import positive_int, real_array

__all__ = ["Particles", "simulate"]

#: Default number of particles advanced together (a memory chunk).
DEFAULT_CHUNK_SIZE = 2**15


@dataclass(frozen=True, eq=False, repr=False)
class Particles(Summary):
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
    success : bool
        Always True for a returned run (a blow-up raises).
    message : str
        How many particles are alive at ``t``.
    error_estimate : float
        ``nan``: Euler–Maruyama carries no estimate of its own;
        :func:`~fokkerplanck.compare` measures sampling noise (``noise_floor``) and
        the time-step bias against a grid answer.

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

    success = True
    error_estimate = math.nan
    _error_meaning = "not computed: sampling noise and dt bias are measured by fp.compare"

    @property
    def message(self) -> str:
        return f"{int(self.alive.sum())} of {self.n} particles alive at t = {self.t:g}"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("n", self.n), ("ndim", self.ndim), ("t", self.t), ("alive", int(self.alive.sum())),
                ("dt", self.dt), ("n_steps", self.n_steps),
                ("snapshots", None if self.snapshots is None else Text(str(self.snapshots.shape)))]


# --------------------------------------------------------------------- helpers
def _time_grid(t_end: float, dt: float, save_at: np.ndarray | None) -> np.ndarray:
    """Step times ``0 = t_0 < ... < t_K = t_end``: multiples of ``dt`` plus the output times ``save_at``.

    Points closer than ``1e-9 dt`` are merged, so ``t_end = K dt`` up to round-off
    gives exactly ``K`` equal steps.
    """
    tol = 1e-9 * dt
    k = math.floor(t_end / dt + 1e-9)
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
            f"its minimum is {np.nanmin(p)!r}."
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
    check_memory(need, what, "use fewer particles (`n`), fewer `t_eval` times, or a larger `dt`.")


# ------------------------------------------------------------------ simulate
@renamed_keywords(save_at="t_eval")
def simulate(
    sde: SDE, x0: Any, t_end: float | None = None, *, dt: float = 1e-3, grid: Grid | None = None,
    rng: Any = None, t_eval: Sequence[float] | np.ndarray | None = None, n: int | None = None,
    progress: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE, bridge: bool = True,
    workers: int = 1,
) -> Particles:
    r"""Advance independent particles of ``sde`` with Euler–Maruyama to ``t_end``.

    The time words are those of :func:`~fokkerplanck.evolve`: ``t_end`` is the
    final time, ``t_eval`` the times at which the state is returned.

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
    t_end : float, optional
        Final time, ``> 0``; default ``max(t_eval)``.
    dt : float
        Time step, ``0 < dt <= t_end``. If ``t_end`` (or a ``t_eval`` time) is
        not a multiple of ``dt`` a shorter step lands on it exactly.
    grid : Grid, optional
        Domain and boundaries, as the grid solver sees them. ``None``: free space.
    rng : int, Generator or None
        Normalised with :func:`numpy.random.default_rng`.
    t_eval : sequence of float, optional
        Times in ``[0, t_end]`` at which to store snapshots of all positions
        (``Particles.snapshots``; the sorted times are ``Particles.save_at``).
        Formerly ``save_at=``, accepted for one release with a :class:`DeprecationWarning`.
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
        ``t_eval`` outside ``[0, t_end]``, or non-finite positions during the run
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
    t_end, dt, chunk_size, workers, rng = _check_simulate_args(sde, grid, t_end, t_eval, dt, chunk_size,
                                                               workers, rng)
    _check_simulate_memory_for(sde, x0, n, grid, t_end, dt, t_eval)
    x_init = _initial_positions(sde, x0, n, grid, rng)
    sv = _save_times(t_eval, t_end)
    run = _prepare(sde, x_init, grid, _time_grid(t_end, dt, sv), sv, bridge, progress, chunk_size, rng)
    try:
        _run_chunks(run, x_init, workers)
    finally:
        if run.bar is not None:
            run.bar.close()
    return Particles(
        x=run.x_out, t=t_end, snapshots=run.snapshots, save_at=sv, exit_time=run.exit_time,
        alive=np.isinf(run.exit_time), dt=dt, n_steps=run.steps.size, chunk_size=chunk_size,
    )


def _check_simulate_args(
    sde: Any, grid: Any, t_end: Any, t_eval: Any, dt: Any, chunk_size: Any, workers: Any, rng: Any,
) -> tuple[float, float, int, int, np.random.Generator]:
    """The scalar arguments of :func:`simulate`, checked and normalised (``t_end``
    defaults to the last of the times ``t_eval``)."""
    if t_end is None:
        sv = _save_times(t_eval, math.inf)
        if sv is None:
            raise TypeError("`simulate` needs the final time: pass `t_end`, or the output times `t_eval=`.")
        t_end = sv[-1]
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
        gen = np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise TypeError(
            f"`rng` must be None, an int seed, a SeedSequence or a numpy Generator, got {rng!r}."
        ) from None
    return t_end, dt, chunk_size, workers, gen


def _check_simulate_memory_for(
    sde: SDE, x0: Any, n: Any, grid: Grid | None, t_end: float, dt: float, t_eval: Any,
) -> None:
    """:func:`_check_simulate_memory` for the arguments of :func:`simulate`, before any allocation."""
    sampler = callable(x0) or hasattr(x0, "rvs")
    n_save = 0 if t_eval is None else int(np.size(t_eval))
    if sampler or n is not None:
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0:
            _check_simulate_memory(int(n), (grid.ndim if grid is not None else sde.ndim) or 1,
                                   t_end / dt, n_save, dt)
    elif hasattr(x0, "shape") and len(np.shape(x0)) == 2:
        _check_simulate_memory(int(np.shape(x0)[0]), int(np.shape(x0)[1]), t_end / dt, n_save, dt)
    else:
        _check_simulate_memory(1, 1, t_end / dt, n_save, dt)


def _initial_positions(sde: SDE, x0: Any, n: Any, grid: Grid | None, rng: np.random.Generator) -> np.ndarray:
    """The starting points ``(n, d)`` of :func:`simulate` from points, a density or a sampler."""
    sampler = callable(x0) or hasattr(x0, "rvs")
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
        x_init = _check_points(sde, x0_arr, grid)
    n_part, d = x_init.shape
    if sde.ndim is not None and d != sde.ndim:
        raise ValueError(
            f"`x0` points have {d} coordinates but `sde` is {sde.ndim}-dimensional."
        )
    # the callables, checked where they are first evaluated: at (up to 64 of) the particles
    sde.check(x_init[np.linspace(0, n_part - 1, min(n_part, 64)).astype(int)])
    return x_init


def _check_points(sde: SDE, x0_arr: np.ndarray, grid: Grid | None) -> np.ndarray:
    """Starting points given as an array: shape, finiteness, inside the grid (periodic axes wrapped)."""
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
    return x_init


def _save_times(t_eval: Any, t_end: float) -> np.ndarray | None:
    """The snapshot times, sorted, checked to lie in ``[0, t_end]``."""
    if t_eval is None:
        return None
    try:
        sv = np.sort(np.atleast_1d(np.asarray(t_eval, dtype=float)))
    except (TypeError, ValueError):
        raise TypeError(f"`t_eval` must be a 1-D array of times, got {t_eval!r}.") from None
    if sv.ndim != 1 or sv.size == 0 or not np.all(np.isfinite(sv)) or sv[0] < 0 or sv[-1] > t_end * (1 + 1e-12):
        where = f"[0, t_end={t_end}]" if math.isfinite(t_end) else "[0, inf)"
        raise ValueError(f"`t_eval` must be a non-empty set of times in {where}, got {np.asarray(t_eval).tolist()}.")
    return np.minimum(sv, t_end)


def _snaps_at(snap_index: np.ndarray | None) -> dict[int, list[int]]:
    """Step index -> the snapshot numbers taken there."""
    snaps_at: dict[int, list[int]] = {}
    if snap_index is not None:
        for j, k in enumerate(snap_index):
            snaps_at.setdefault(int(k), []).append(j)
    return snaps_at


@dataclass(frozen=True, eq=False)
class _Noise:
    """How a step draws its noise increment ``sigma sqrt(dt) Z``.

    ``kind`` is ``"scalar"``, ``"diag"`` or ``"full"`` for a constant noise matrix
    ``S`` (``d x m``), ``"state"`` when ``sigma`` is evaluated at every step;
    ``C_diag`` is the constant diagonal of ``S S^T`` (``None`` for ``"state"``).
    """

    kind: str
    S: np.ndarray | None
    C_diag: np.ndarray | None
    m: int
    has_drift: bool


def _noise_of(sde: SDE, x_init: np.ndarray) -> _Noise:
    """The :class:`_Noise` of ``sde`` (constant noise is factored once)."""
    d = x_init.shape[1]
    t_probe = 0.0 if sde.time_dependent else None
    const_noise = sde.noise_is_constant
    if const_noise:
        S = np.array(sde.sigma(np.zeros((1, d)), t_probe)[0])  # (d, m)
        m = S.shape[1]
        if m == d and np.all(S == np.diag(np.diag(S))):
            sdiag = np.diag(S).copy()
            kind = "scalar" if np.all(sdiag == sdiag[0]) else "diag"
        else:
            kind = "full"
        return _Noise(kind, S, (S**2).sum(axis=1), m, sde.has_drift)
    m = np.asarray(sde.sigma(x_init[:1], t_probe)).shape[-1]
    return _Noise("state", None, None, m, sde.has_drift or sde.convention != "ito")


@dataclass(frozen=True, eq=False)
class _Run:
    """What every chunk of one :func:`simulate` call shares.

    The inputs are read only; the outputs (``x_out``, ``exit_time``, ``snapshots``)
    are written by each chunk in its own rows, so chunks can run in threads.
    ``bridge`` is the Brownian-bridge test, on only when there is an absorbing wall;
    ``stop`` is set when the run is abandoned (an error in another chunk, Ctrl-C).
    """

    sde: SDE
    times: np.ndarray
    steps: np.ndarray
    sqrt_steps: np.ndarray
    walls: _Walls
    noise: _Noise
    bridge: bool
    x_out: np.ndarray
    exit_time: np.ndarray
    snapshots: np.ndarray | None
    snaps_at: dict[int, list[int]]
    bar: Any
    stop: threading.Event
    chunk_size: int
    rngs: list[np.random.Generator]


def _prepare(
    sde: SDE, x_init: np.ndarray, grid: Grid | None, times: np.ndarray, sv: np.ndarray | None,
    bridge: bool, progress: bool, chunk_size: int, rng: np.random.Generator,
) -> _Run:
    """The :class:`_Run` of :func:`simulate`: noise, walls, outputs, one generator per chunk."""
    n_part, d = x_init.shape
    snap_index = None
    snapshots = None
    if sv is not None:
        # the step time nearest each save time (searchsorted: no dense save-by-step matrix)
        i = np.clip(np.searchsorted(times, sv), 1, times.size - 1)
        snap_index = np.where(sv - times[i - 1] <= times[i] - sv, i - 1, i)
        snapshots = np.full((sv.size, n_part, d), np.nan)
    noise = _noise_of(sde, x_init)
    walls = _Walls(grid)
    n_chunks = max(1, -(-n_part // chunk_size))
    rngs = rng_children(rng, n_chunks)
    steps = np.diff(times)
    return _Run(
        sde=sde, times=times, steps=steps, sqrt_steps=np.sqrt(steps), walls=walls, noise=noise,
        bridge=bridge and bool(walls.axes) and bool(walls.absorbing),
        x_out=np.empty((n_part, d)), exit_time=np.full(n_part, np.inf),
        snapshots=snapshots, snaps_at=_snaps_at(snap_index),
        bar=progress_bar(n_chunks * steps.size, progress, "simulate"), stop=threading.Event(),
        chunk_size=chunk_size, rngs=rngs,
    )


def _run_chunks(run: _Run, x_init: np.ndarray, workers: int) -> None:
    """Advance every chunk of ``x_init``, in order or on ``workers`` threads."""
    n_part, size = x_init.shape[0], run.chunk_size
    n_chunks = len(run.rngs)

    def one(c: int) -> None:
        lo_i, hi_i = c * size, min(n_part, (c + 1) * size)
        _run_chunk(run, x_init[lo_i:hi_i], lo_i, run.rngs[c])

    if workers == 1 or n_chunks == 1:
        for c in range(n_chunks):
            one(c)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(workers, n_chunks))
    try:
        for fut in [pool.submit(one, c) for c in range(n_chunks)]:
            fut.result()  # re-raise the first error, in chunk order
    except BaseException:
        # Ctrl-C or a failed chunk: running chunks stop at their next step,
        # pending ones never start
        run.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_chunk(run: _Run, x_start: np.ndarray, offset: int, rng: np.random.Generator) -> None:
    """Advance one chunk of particles through all time steps (in place into the outputs)."""
    n0, d = x_start.shape
    x = np.array(x_start, dtype=float, order="C")
    ids = np.arange(offset, offset + n0)  # global index of each active row
    noise, steps, bar = run.noise, run.steps, run.bar
    zbuf = np.empty((n0, noise.m))
    nbuf = np.empty((n0, d)) if noise.kind == "full" else None
    td = run.sde.time_dependent
    _snapshot(run, 0, ids, x)

    for k in range(steps.size):
        if run.stop.is_set():  # another chunk failed, or Ctrl-C: the run is abandoned
            return
        na = x.shape[0]
        if na == 0:
            if bar is not None:
                bar.update(steps.size - k)
            break
        t = float(run.times[k]) if td else None
        h = float(steps[k])
        z = zbuf[:na]
        rng.standard_normal(out=z)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                inc, Sx = _increment(run, z, nbuf, x, t, float(run.sqrt_steps[k]))
                x_prev = x.copy() if run.bridge else None
                if noise.has_drift:
                    mu = np.asarray(run.sde.ito_drift(x, t), dtype=float)
                    if mu.flags.writeable and mu.shape == x.shape and not np.shares_memory(mu, x):
                        mu *= h
                        x += mu
                    else:
                        x += h * mu
                x += inc
                total = np.add.reduce(x, axis=None)
        except ValueError as err:
            raise _step_error(run, err, k, x, x_start, na) from err
        if not math.isfinite(total):
            _check_finite(run, k, x, ids)
        # ---- boundaries
        dead = run.walls.apply(x) if run.walls.axes else None
        if x_prev is not None:  # the Brownian-bridge test is on
            cd = (Sx**2).sum(axis=-1) if Sx is not None else noise.C_diag  # C_kk at the step start
            assert cd is not None
            extra = _bridge_crossings(x_prev, x, run.walls, cd, h, rng)
            if extra is not None:
                dead = extra if dead is None else (dead | extra)
        if dead is not None and dead.any():
            run.exit_time[ids[dead]] = run.times[k] + 0.5 * h
            keep = ~dead
            x = x[keep]
            ids = ids[keep]
        _snapshot(run, k + 1, ids, x)
        if bar is not None:
            bar.update(1)
    run.x_out[offset:offset + n0] = np.nan
    run.x_out[ids] = x


def _snapshot(run: _Run, step: int, ids: np.ndarray, x: np.ndarray) -> None:
    """Store the positions ``x`` of particles ``ids`` in every snapshot taken at ``step``."""
    if run.snapshots is not None:
        for j in run.snaps_at.get(step, ()):
            run.snapshots[j, ids] = x


def _increment(
    run: _Run, z: np.ndarray, nbuf: np.ndarray | None, x: np.ndarray, t: float | None, sh: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The noise increment ``sigma sqrt(dt) Z`` (in ``z`` or ``nbuf`` where it can be), and
    the state-dependent ``sigma(x)`` (``None`` for constant noise)."""
    noise = run.noise
    if noise.kind == "state":
        Sx = run.sde.sigma(x, t)  # (na, d, m)
        inc = np.einsum("nij,nj->ni", Sx, z)
        inc *= sh
        return inc, Sx
    S = noise.S
    assert S is not None  # constant noise: factored once
    if noise.kind == "scalar":
        np.multiply(z, S[0, 0] * sh, out=z)
        return z, None
    if noise.kind == "diag":
        np.multiply(z, np.diag(S) * sh, out=z)
        return z, None
    assert nbuf is not None  # "full": the increment has its own buffer
    inc = nbuf[:z.shape[0]]
    np.matmul(z, S.T, out=inc)
    inc *= sh
    return inc, None


def _step_error(run: _Run, err: ValueError, k: int, x: np.ndarray, x_start: np.ndarray, na: int) -> ValueError:
    """The error of a failed step ``k``: where and, for a blow-up, why (dt too large)."""
    steps = run.steps
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
    return ValueError(
        f"Euler–Maruyama step {k + 1} of {steps.size} (t = {run.times[k]:.6g}), "
        f"{na} particles active in this chunk: {err}{hint}"
    )


def _check_finite(run: _Run, k: int, x: np.ndarray, ids: np.ndarray) -> None:
    """Raise if a particle left the finite numbers in step ``k``."""
    bad = ~np.isfinite(x).all(axis=1)
    nbad = int(bad.sum())
    if nbad:
        i = int(ids[np.argmax(bad)])
        raise ValueError(
            f"Non-finite particle positions at step {k + 1} of {run.steps.size} "
            f"(t = {run.times[k + 1]:.6g}): {nbad} of {x.shape[0]} particles in this chunk "
            f"(first: particle {i}). The drift or noise blows up there, or `dt={run.steps[k]:.3g}` "
            "is too large for the drift's stiffness; reduce dt or use a grid with walls."
        )


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
