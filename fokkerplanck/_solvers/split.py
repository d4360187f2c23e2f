"""The density split's fixed point: one loop of passes for every backend.

A pass re-weights the Scharfetter–Gummel edges by a density ``p``
(``TwoPointFluxes.density_split``) and solves for the null vector of the re-weighted
generator; the fixed point ``p -> null vector`` is the default ``conductance="split"``
of :func:`~fokkerplanck.stationary`. The rule that drives the passes is written once,
here (:func:`fixed_point`):

* stop when a pass changes ``log p`` by less than :data:`SPLIT_RTOL` on the cells holding
  ``1 - 1e-6`` of the mass, after :data:`SPLIT_MAX_PASSES` passes, or when a pass changes
  it more than the one before (no contraction);
* from the second pass on, extrapolate the density the weights come from (Anderson,
  depth 1, in ``log p``: :func:`anderson`); an extrapolated pass that does not contract
  or gives no density (or would need a slower solve than the passes before: AMG
  stalls) is rejected, and the plain step from the pass before is taken instead, plain
  passes on;
* where loose passes look converged, stop contracting or give no density, the best of
  them is certified (solved again if it is an earlier one), and where its certified
  density moved from the loose one (a metastable chain, whose split between wells a loose
  solve does not determine) the passes go on certified, with a budget of their own;
* where the passes do not converge, the pass whose answer agreed best with its weights is
  solved again and returned.

A backend says how a pass is solved and how sums and maxima run over its processes
(:class:`Backend`): the serial solver (``stationary.py``: GTH, AMG passes that are loose
but the last, hierarchies handed from pass to pass) and the PETSc one (``distributed.py``:
each pass a distributed solve, sums over MPI processes) run the same passes by
construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

__all__ = ["SPLIT_ANDERSON", "SPLIT_MAX_PASSES", "SPLIT_RTOL", "Backend", "anderson", "bulk_cells", "fixed_point",
           "log_change", "not_converged", "split_density"]

#: The density-split fixed point stops when a pass changes ``log p`` by less than this
#: on the cells holding ``1 - 1e-6`` of the mass. Measured contraction per pass: 0.03-0.2
#: on the metastable torus (T = 0.1-0.03) and the running ring, 0.2 on a rotating OU at
#: cell Peclet 3, 0.5 at cell Peclet 13 (which then stops at :data:`SPLIT_MAX_PASSES`).
SPLIT_RTOL = 1e-3
SPLIT_MAX_PASSES = 8

#: The density split's passes are extrapolated (:func:`anderson`).
SPLIT_ANDERSON = True


class Backend(Protocol):
    """How one backend solves a pass and reduces over its processes.

    The backend keeps the pass it solved last (``solve``) apart from the current one
    (``accept`` makes it current), so that a pass whose answer is not a density leaves
    the one before in place.
    """

    def total(self, a: np.ndarray) -> float:
        """The sum of ``a`` over all processes."""

    def largest(self, v: float) -> float:
        """The largest of ``v`` over all processes."""

    def bulk(self, p: np.ndarray) -> np.ndarray:
        """The cells (an index or a mask) holding ``1 - 1e-6`` of the mass of ``p >= 0``."""

    def solve(self, used: np.ndarray, loose: bool, tentative: bool = False) -> tuple[np.ndarray | None, bool]:
        """A pass with the weights of ``used``: its answer as a density to split by
        (``None`` where it is not one) and whether it was solved loosely (no bound yet);
        ``loose``: it may be; ``tentative``: ``used`` is extrapolated, and the pass may
        give up (``None``) where its solve would need a slower method than the passes
        before it (the loop then takes the plain step instead)."""

    def accept(self) -> None:
        """The pass solved last becomes the current one."""

    def certify(self) -> np.ndarray | None:
        """The current (loose) pass solved to its bound: its density to split by, or None."""

    def note(self, text: str) -> None:
        """A note on the current pass (it goes into the result's message)."""


def bulk_cells(p: np.ndarray) -> np.ndarray:
    """The cells holding ``1 - 1e-6`` of the mass of ``p``, as a mask: those whose share is
    at least that of the last of the largest cells that hold it (cells of equal share all
    in or all out), and above the smallest normal number (one process; the distributed
    solver cuts at the same value, ``distributed._bulk_threshold``).

    The shares are sorted, not their cells: measured 0.13 s instead of 0.29 s at 128^3
    (an argsort before), once per density-split pass.

    >>> import numpy as np
    >>> from fokkerplanck._solvers.split import bulk_cells
    >>> bulk_cells(np.array([1e-9, 0.5, 0.25, 0.25, 1e-12])).tolist()
    [False, True, True, True, False]
    """
    q = np.abs(np.asarray(p, dtype=float))
    total = q.sum()
    if not (q.size and np.isfinite(total) and total > 0):   # (no mass to hold: no cells)
        return np.zeros(q.shape, dtype=bool)
    q /= total
    shares = np.sort(q)[::-1]
    last = min(int(np.searchsorted(np.cumsum(shares), 1.0 - 1e-6)), shares.size - 1)
    return q >= max(float(shares[last]), np.finfo(float).tiny)


def split_density(p: np.ndarray | None, total: Callable[[np.ndarray], float] = lambda a: float(a.sum()),
                  largest: Callable[[float], float] = float) -> np.ndarray | None:
    """``p`` as a density to split by, or ``None``: finite, not zero, of one sign up to
    negatives holding less than ``1e-6`` of the mass (the tails of the non-monotone
    scheme ``"sg2"``: measured down to 5e-7 of the maximum at 512^2), which are set to 0
    (cells at or below zero keep Scharfetter-Gummel weights, see
    ``TwoPointFluxes.density_split``). ``total``, ``largest``: the sum of an array and
    the largest of a number over all processes (a :class:`Backend`'s; default: this one's).

    >>> import numpy as np
    >>> from fokkerplanck._solvers.split import split_density
    >>> split_density(np.array([-2.0, -1.0, 1e-9])).tolist()   # one sign, a tiny negative tail
    [2.0, 1.0, 0.0]
    >>> split_density(np.array([2.0, -1.0])) is None, split_density(np.zeros(2)) is None
    (True, True)
    """
    if p is None or largest(0.0 if np.all(np.isfinite(p)) else 1.0) > 0:
        return None
    if largest(float(np.abs(p).max(initial=0.0))) == 0:
        return None
    p = p if total(p) > 0 else -p
    if total(-p[p < 0]) > 1e-6 * total(p[p > 0]):
        return None
    return np.maximum(p, 0.0)


def log_change(p: np.ndarray | None, used: np.ndarray, cells: np.ndarray, backend: Backend) -> float:
    """``max |log(p / sum p) - log(used / sum used)|`` over ``cells`` and all processes
    (``inf`` where ``p`` is ``None``)."""
    if p is None:
        return math.inf
    with np.errstate(divide="ignore"):
        here = np.abs(np.log(p[cells] / backend.total(p)) - np.log(used[cells] / backend.total(used)))
    return backend.largest(float(here.max(initial=0.0)))


def fixed_point(p: np.ndarray, backend: Backend) -> tuple[int, float]:
    """Density-split passes from the density ``p`` (module docstring); ``(passes,
    change)``: how many passes were accepted and the change of ``log p`` of the pass
    returned (the backend's current one). Certifying that pass, where it is still loose,
    is left to the caller."""
    change, prev = math.inf, math.inf   # prev: the change the next pass must stay below
    passes, certified, limit = 0, False, SPLIT_MAX_PASSES   # certified: every pass from here is certified
    history: tuple[np.ndarray, np.ndarray] | None = None    # Anderson: (x, G(x)) of the pass before
    extrapolated, plain, loose = False, False, False
    # the smallest change, its pass, its weights and its (first) answer
    best: tuple[float, int, np.ndarray | None, np.ndarray | None] = (math.inf, 0, None, None)
    current: np.ndarray | None = p
    image: np.ndarray | None = None   # the answer of the pass before (where a rejected extrapolation restarts)

    def again(weights: np.ndarray, text: str) -> tuple[np.ndarray | None, float]:
        """The pass of ``weights`` solved again, certified, as the current one: its
        density and its change of ``log p``."""
        answer, _ = backend.solve(weights, loose=False)
        backend.accept()
        backend.note(text)
        return answer, log_change(answer, weights, backend.bulk(weights), backend)

    while current is not None and passes < limit:
        used = current
        cells = backend.bulk(used)
        p_new, loose_new = backend.solve(used, loose=not certified, tentative=extrapolated)
        if p_new is not None:
            backend.accept()
            passes, current, loose = passes + 1, p_new, loose_new
            change = log_change(p_new, used, cells, backend)
            best = (change, passes, used, p_new) if change < best[0] else best
        if extrapolated and (p_new is None or change > prev):   # rejected: the plain step from the pass
            if p_new is None:                                      # before instead, which must contract
                backend.note(f"split pass {passes + 1}, from an extrapolated density, gave no density to keep: "
                             "took the plain step instead")       # against that pass (prev)
            plain, extrapolated, current = True, False, image
            continue
        if p_new is None:
            backend.note(f"split pass {passes + 1} gave a density that is not positive; kept the one before")
        if p_new is None or change <= SPLIT_RTOL or change > prev:
            if certified or not loose or best[2] is None or best[3] is None:
                break   # (where an earlier pass is the best, it is solved again, certified, below)
            # loose passes that converged, stopped contracting or gave no density: the best of them certified
            weights, answer = best[2], best[3]
            if best[1] == passes:
                current = backend.certify()
            else:
                current, change = again(weights, f"returned to split pass {best[1]} (solved again, certified; "
                                                 "its change of log p was the smallest)")
                passes += 1   # (a pass: the certified passes may go on from it)
                best = (change, passes, weights, answer)   # (so that it is not solved a third time below)
            certified = True
            drift = log_change(current, answer, backend.bulk(answer), backend)
            if drift <= 0.1 * SPLIT_RTOL:
                break
            backend.note(f"the loose AMG passes were {drift:.1e} off in log p from this pass's certified "
                         "density (a metastable chain): the passes went on with certified solves")
            change, prev, limit = math.inf, math.inf, passes + SPLIT_MAX_PASSES   # a budget of their own
            best = (math.inf, 0, None, None)   # (the loose passes' changes were not measured on true densities)
        prev = change
        extrapolated = SPLIT_ANDERSON and not certified and not plain and history is not None
        image = current
        if current is not None:
            history, current = anderson(used, current, history, cells, extrapolated, backend.total)
            extrapolated = extrapolated and current is not image
    if change > SPLIT_RTOL and best[0] < change and best[2] is not None:   # the most self-consistent pass
        _, change = again(best[2], f"returned split pass {best[1]} (solved again, certified; its change of log p "
                                   "was the smallest)")
    return passes, change


def not_converged(where: str, passes: int, change: float, fluxes: bool = False) -> str:
    """The warning of a density split that stopped before its fixed point (``fluxes``:
    the result returns the generator of its weights as ``.fluxes``)."""
    return (f"{where}: the density split did not reach its fixed point in {passes} passes (the pass returned "
            f"changed log p by {change:.1e} > {SPLIT_RTOL:g}); the density is exact for the generator "
            f"{'it returns (.fluxes)' if fluxes else 'of its weights'}, whose weights lie between "
            "Scharfetter-Gummel and the fixed point. Measured where this happens (cell Peclet numbers above 3, "
            "strong rotation): from 10^4 times more accurate than conductance='sg' (a rotating OU at cell Peclet 13) "
            "to 1.6x less accurate (a rotating double well on 16^2 or 16^3 cells, which do not resolve its "
            "wells); error_estimate says how accurate. Refine the grid to converge faster.")


def anderson(used: np.ndarray, image: np.ndarray, history: tuple[np.ndarray, np.ndarray] | None,
             cells: np.ndarray, extrapolate: bool, total: Callable[[np.ndarray], float] | None = None
             ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """``(history, p)``: the density the next density-split pass takes its weights from.

    One step of Anderson acceleration (depth 1) of the fixed point ``x -> G(x)`` in
    ``log p``, from this pass (``used``: the density its weights came from, ``image``: its
    answer) and the one before (``history``, as this function returned it); ``image``
    itself where not ``extrapolate``. The coefficient is fitted on ``cells`` (the bulk,
    where the changes are measured); cells where a density is 0 get 0. For a linear
    contraction of rate ``r`` the step is Aitken's, ``theta = r / (r - 1)``, clipped to
    [-3, 0] (``r`` up to 0.75, no step backwards). ``total``: the sum of an array over
    all processes (the distributed solver's; default: this one's). The answer is still a
    solve's null vector of the generator the last pass built, and the split stops when it
    agrees with the density the weights came from (:data:`SPLIT_RTOL`).

    Measured and not adopted: depth 2 (a least-squares fit of two differences) on the 3-D
    full-covariance OU at 24^3 and 32^3 took as many passes (6), its last changes 30 %
    smaller.

    Examples
    --------
    A contraction ``x -> 0.5 x + 1`` (fixed point 2) of ``x = log(p_0 / p_1)`` on two cells
    (the normalisation makes it not quite linear in ``log p``):

    >>> import numpy as np
    >>> from fokkerplanck._solvers.split import anderson
    >>> G = lambda x: 0.5 * x + 1.0
    >>> dens = lambda x: np.exp([x, 0.0]) / np.exp([x, 0.0]).sum()
    >>> history, _ = anderson(dens(0.0), dens(G(0.0)), None, np.arange(2), False)
    >>> _, p = anderson(dens(G(0.0)), dens(G(G(0.0))), history, np.arange(2), True)
    >>> G(G(0.0)), round(float(np.log(p[0] / p[1])), 2)   # two plain steps; extrapolated
    (1.5, 1.98)
    """
    total = total if total is not None else (lambda a: float(a.sum()))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x, gx = np.log(used / total(used)), np.log(image / total(image))
        if not extrapolate or history is None:
            return (x, gx), image
        x0, g0 = history
        f, df = (gx - x)[cells], ((gx - x) - (g0 - x0))[cells]
        fit = np.isfinite(f) & np.isfinite(df)
        denominator = total(df[fit] * df[fit])
        theta = float(np.clip(total(f[fit] * df[fit]) / denominator, -3.0, 0.0)) if denominator > 0 else 0.0
        if theta == 0.0:   # no step (the clip): the plain one, ``image`` itself
            return (x, gx), image
        step = gx - theta * (gx - g0)
        step = np.where(np.isfinite(step), step, gx)   # (gx where the density before was 0)
        return (x, gx), np.where(np.isfinite(step), np.exp(step), 0.0)
