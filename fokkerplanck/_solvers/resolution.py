"""Resolution check: does the grid see the answer?

One check, called by every grid solver (:func:`~fokkerplanck.stationary`,
:func:`~fokkerplanck.evolve`, :func:`~fokkerplanck.modes`,
:func:`~fokkerplanck.quasi_stationary`, :func:`~fokkerplanck.exit_time`), that
issues at most one :class:`~fokkerplanck.ResolutionWarning` per call listing every
way the grid fails to represent the answer where it lives:

* **cell Peclet number along every stencil direction**, on edges touching a cell
  that holds more than :data:`FLOOR` of the answer's maximum (further out, in the
  tails, ``|Delta psi|`` grows without harm). ``|Delta psi|`` on an edge
  is the log-ratio of the two neighbouring densities at local equilibrium; above
  :data:`PECLET_LIMIT` the density changes by more than ``e^5`` from one cell to the
  next, and neither the scheme's error expansion nor the midpoint quadrature of
  moments holds. Every direction counts, however light its diffusion weight: an
  anisotropic problem is under-resolved along its weakly diffusing axis even where
  another axis carries most of the rate. (:func:`~fokkerplanck.stationary` skips
  it for detailed-balance solves, whose centre values are exact however steep.)
* **width.** The answer's marginal along an axis covers fewer than
  :data:`MIN_WIDTH` cells (inverse participation ratio ``(sum m)^2 / sum m^2``,
  3.5 standard deviations for a Gaussian) without filling the axis.
* **walls** (densities only). More than :data:`WALL_MASS` of the mass sits in the
  outermost cells of the reflecting walls, all sides together: the box probably
  cuts off a tail, which biases every moment by about that much.

These are alarms for grids that cannot represent the answer at all; on a grid that
can, ``error_estimate`` (:mod:`.estimate`) says how large the error is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._discretization.weights import log_s
from .._model.grid import Grid
from .._util.errors import ResolutionWarning, warn
from .._util.linalg import unique_rows

__all__ = ["FLOOR", "MIN_WIDTH", "PECLET_LIMIT", "TRANSPORT_RTOL", "WALL_MASS", "check_resolution"]

#: ``|Delta psi|`` (cell Peclet number) above which the grid does not resolve the density.
PECLET_LIMIT = 5.0

#: Transient solves (``evolve``, ``modes``): largest relative error of the edge
#: weights' transport speed, ``|g(z) / s(z) - 1|``, on edges where the answer lives.
TRANSPORT_RTOL = 0.1
#: The callers whose answers are not stationary (the transport check applies to them).
TRANSIENT = ("evolve", "modes")

#: Fewest cells a marginal of the answer must cover (inverse participation ratio).
MIN_WIDTH = 4.0

#: Largest share of the mass in the outermost cells of the reflecting walls. Where it
#: matters: a reflecting wall at distance ``a`` from the mean of a tail of width ``s``
#: cuts off about ``q s^2 / (a h)`` of the mass (``q`` the wall cells' share, ``h`` the
#: spacing; Mills' ratio), which moves the variance by about ``q a / h`` relative, i.e.
#: 10-40 ``q`` at 5-10 cells per standard deviation and the wall 3.5-4.5 of them out
#: (measured on the OU process: 11-36 ``q``). At ``1e-4`` the bias reaches ``1e-3``,
#: the size of a second-order scheme's error at ten cells per standard deviation
#: (``h^2 / 12 s^2``); the earlier ``1e-6`` warned at biases of ``1e-5``, far below
#: the discretization error, and so on nearly every grid.
WALL_MASS = 1e-4

#: Cells below this fraction of the answer's maximum do not count for the Peclet check
#: (a Gaussian then warns when its standard deviation is below ~0.75 cells).
FLOOR = 1e-3


def _direction(step: np.ndarray) -> str:
    nz = np.flatnonzero(step)
    if len(nz) == 1 and abs(step[nz[0]]) == 1:
        return f"axis {int(nz[0])}"
    return f"offset {tuple(int(v) for v in step)}"


def _dense_edges(fl: Any, w: np.ndarray) -> np.ndarray:
    """Edges touching a cell that holds more than :data:`FLOOR` of the answer's maximum."""
    inner = fl.head >= 0
    heavy = w > FLOOR * w.max()
    return heavy[fl.tail] | (inner & heavy[np.where(inner, fl.head, 0)])


def _transport(fl: Any, w: np.ndarray) -> list[str]:
    """Transient solves: the largest relative error of the edge weights' transport speed.

    A two-point flux ``w [f(z) p_i - f(-z) p_j]`` with ``f(z) = e^{-z/2} g(z)`` moves a
    smooth non-equilibrium density with the drift times ``g(z) / s(z)``,
    ``s(z) = (z/2) / sinh(z/2)`` (docs/numerics.md, "The conductance"): exactly for
    Scharfetter-Gummel (``g = s``, the default), too fast by ``g/s - 1`` otherwise -- for
    the flattened conductance (``conductance="flat"``) 4 % at cell Peclet 1, 18 % at 2, a
    factor 5.7 at 7.5. Stationary densities do not see it (their flux vanishes at local
    equilibrium). Nor do the slow modes computed with the density-split weights
    (``modes(..., conductance="split")``): those weights differ from
    Scharfetter-Gummel on purpose, by the split of each edge's potential that the
    stationary density carries, and the check would read that as a transport error.
    """
    if fl is None or getattr(fl, "edge_potential", None) is None or fl.forward.size == 0:
        return []
    if getattr(fl, "conductance", "sg") == "split":
        return []
    dense = _dense_edges(fl, w) & (np.broadcast_to(fl.weight, fl.forward.shape) > 0)
    if not dense.any():
        return []
    z = fl.dpsi[dense]
    wt = np.broadcast_to(fl.weight, fl.forward.shape)[dense]
    with np.errstate(divide="ignore"):
        log_ratio = np.log(fl.forward[dense] / wt) + 0.5 * z - log_s(z)
    worst = float(np.expm1(np.abs(log_ratio)).max(initial=0.0))
    if not worst > TRANSPORT_RTOL:
        return []
    return [(f"the edge weights move the density up to {worst:.0%} faster or slower than its drift "
             f"where the answer lives (cell Peclet number up to {float(np.abs(z).max()):.1f}); "
             "refine the grid (transport error ~ (cell Peclet)^2 / 24) or assemble with "
             "conductance='sg' (Scharfetter-Gummel, the default), exact in transport")]


def _peclet(fl: Any, w: np.ndarray) -> list[str]:
    """Largest ``|Delta psi|`` per stencil direction on edges touching a cell that counts."""
    if fl is None or getattr(fl, "peclet", None) is None or fl.peclet.size == 0:
        return []
    dense = _dense_edges(fl, w)
    if not dense.any():
        return []
    steps = np.rint(fl.delta[dense] / np.asarray(fl.grid.spacing)).astype(np.int64)
    lead = np.argmax(steps != 0, axis=1)
    steps = steps * np.sign(steps[np.arange(len(steps)), lead])[:, None]  # +e and -e alike
    dirs, which = unique_rows(steps)
    worst = np.full(len(dirs), -np.inf)
    np.maximum.at(worst, which.ravel(), fl.peclet[dense])
    bad = np.flatnonzero(worst > PECLET_LIMIT)
    if bad.size == 0:
        return []
    bad = bad[np.argsort(-worst[bad])]
    names = ", ".join(f"{_direction(dirs[i])} ({worst[i]:.1f})" for i in bad)
    return [(f"the cell Peclet number exceeds {PECLET_LIMIT:g} where the answer lives, along "
             f"{names}: the density changes by more than e^{PECLET_LIMIT:g} from one cell to "
             "the next there; refine along that direction")]


def _width(grid: Grid, w: np.ndarray) -> list[str]:
    p = w.reshape(grid.shape)
    out = []
    for k in range(grid.ndim):
        m = p.sum(axis=tuple(j for j in range(grid.ndim) if j != k))
        s2 = float(np.sum(m**2))
        if s2 <= 0:
            continue
        width = float(m.sum()) ** 2 / s2
        if width < MIN_WIDTH and width < 0.9 * grid.shape[k]:
            out.append(f"the answer covers only {width:.1f} cells along axis {k}; use more cells there")
    return out


def _walls(grid: Grid, w: np.ndarray) -> list[str]:
    q = w.reshape(grid.shape)
    total = float(q.sum())
    if total <= 0:
        return []
    seen = np.zeros(grid.shape, dtype=bool)
    parts = []
    for k, pair in enumerate(grid.boundary):
        for side, kind in zip(("lower", "upper"), pair):
            if kind != "reflecting":
                continue
            sl = [slice(None)] * grid.ndim
            sl[k] = slice(0, 1) if side == "lower" else slice(-1, None)
            share = float(q[tuple(sl)].sum()) / total
            if share > 0.1 * WALL_MASS:
                parts.append(f"{side} wall of axis {k}: {share:.1e}")
            seen[tuple(sl)] = True
    mass = float(q[seen].sum()) / total
    if mass <= WALL_MASS:
        return []
    return [(f"{mass:.1e} of the mass sits in the outermost cells of the reflecting walls "
             f"({'; '.join(parts)}): if the process is not confined there, widen `bounds`")]


def check_resolution(fl: Any, weight: np.ndarray | None, who: str, *, grid: Grid | None = None,
                     density: bool = True) -> list[str]:
    """Warn (one :class:`~fokkerplanck.ResolutionWarning`) when the grid under-resolves
    the answer ``weight`` (a density, a mode's modulus, or ``None``: every cell counts).

    Parameters
    ----------
    fl : Fluxes or None
        The discretization (``None``: no Peclet check, e.g. a user-supplied generator).
    weight : ndarray or None
        Where the answer lives; its modulus is used.
    who : str
        The solver, named in the warning.
    grid : Grid, optional
        When ``fl`` is ``None``.
    density : bool
        Whether ``weight`` is a density (then the wall check applies).

    Returns
    -------
    list of str
        The findings (empty when the grid resolves the answer).

    Examples
    --------
    A four-cell grid for a double well at temperature 0.1:

    >>> import numpy as np
    >>> import warnings, fokkerplanck as fp
    >>> sde = fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=np.sqrt(0.2))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = fp.stationary(sde, fp.Grid(bounds=[(-3, 3)], shape=4))
    >>> [w.category.__name__ for w in caught]
    ['ResolutionWarning']
    """
    grid = fl.grid if fl is not None else grid
    if grid is None:
        raise TypeError("check_resolution needs `fl` or `grid`.")
    if weight is None:
        w = np.ones(grid.size)
    else:
        w = np.abs(np.asarray(weight, dtype=float)).ravel()
    if w.size != grid.size or not np.all(np.isfinite(w)) or not w.max() > 0:
        return []
    found = _peclet(fl, w) + _width(grid, w)
    if who in TRANSIENT:
        found += _transport(fl, w)
    if density:
        found += _walls(grid, w)
    if found:
        warn(f"{who}: the grid {grid.shape} may not represent the answer: " + "; ".join(found) + ".",
             ResolutionWarning)
    return found
