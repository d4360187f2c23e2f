"""The null vector of a generator by AMG in the variables of a guess, with a bound on
every cell's error.

A normwise iterative solve of ``A p = 0`` is accurate where the density is large and
not in its tails (measured: negatives at ``1e-20`` of the maximum), and nothing in its
residual says whether the split of mass between metastable wells is right. Both are
repaired here by one change of variables and one extra solve.

Variables. Given a positive guess ``g`` of the null vector (a coarser grid's density,
or the previous pass of the density-split fixed point), write ``p = g q`` and scale
cell ``i``'s balance by ``1 / (outflow_i g_i)``::

    M = S (-A) G,   G = diag(g),   S = diag(1 / (outflow g)),

so ``M`` has a unit diagonal and ``q`` is near 1 in every cell, from the mode to a
tail at ``1e-200``: a normwise small residual of ``M q`` is then small in every cell.
``q`` is pinned to 1 at the guess's largest cell ``k``; the other rows, ``M_r q_r =
b_r`` (``b_r = -M[r, k]``), are solved by GMRES preconditioned with Ruge–Stüben AMG,
in rounds of iterative refinement until the residual stops falling.

The bound. For a monotone scheme ``-A`` without row and column ``k`` is a
non-singular M-matrix (a Z-matrix whose columns are diagonally dominant, strictly
where they feed ``k``, on a connected grid), and so is ``M_r``: ``M_r^-1 >= 0``
entrywise. The error of the computed ``q`` is ``M_r^-1 res`` with ``res = b - M_r
q``, so in every cell::

    |q_i - q*_i| <= E y_i,   E = max|res| (+ its rounding),   y = M_r^-1 1.

``y`` costs one more solve, loosely: for an approximation ``y~`` with residual
``r_y = 1 - M_r y~``, ``y <= y~ / (1 - max|r_y|)`` componentwise (again because
``M_r^-1 >= 0``). The relative error of ``p_i = g_i q_i`` is then at most
``E y_i / (q_i - E y_i)``, a bound on every cell's relative error, split between wells
included: for a metastable problem ``y`` grows like the exit time (one over the
spectral gap) and the bound says the split is not determined. The rounding of the
residual and of the scaled entries (a few ``eps`` relative each) is added to ``E``
as ``gamma (|M_r| |q| + |b|)``, ``gamma = (entries per row + 4) eps``.

Two stages. :class:`Solve` keeps the scaled system and its AMG hierarchy between a
:meth:`~Solve.loose` solve (one GMRES solve to a tolerance, no bound: a density-split
pass that only sets the next pass's weights) and :meth:`~Solve.certify`, which goes on
from there to round-off and the bound; :func:`null_vector` is the two in one call.

Two stopping rules. A loose solve stops when scipy's GMRES, preconditioned from the
left, has divided the preconditioned residual (about the error) and the true residual by
its tolerance. The bound is made of true residuals, so ``y`` and the refinement run
GMRES preconditioned from the right (``krylov.gmres``), which knows the true residual at
every iteration and stops at the first that meets the bound's need: ``|1 - M_r y|_2 <=
0.5`` for ``y``, ``max(rtol |r|_2, E_floor)`` for the refinement. Measured in the default solve at 512^2
(rotational double well, ``error_estimate=False``): ``y`` in 9 GMRES iterations instead
of 13, the refinement in 7 instead of 12; with pyamg's V-cycle without its residual norms
(``vcycle.py``), 2.8 -> 2.3 s in a fresh process (``benchmarks/bench_versions.py``).

Measured on the rotational double well of ``benchmarks/bench_peers.py`` at 512^2
(guess from 256^2 interpolated in ``log p``): ``q`` between 0.03 and 1.04, residual
3e-16 after two rounds (27 GMRES iterations), ``max y`` 2.7e5, a bound of 2.6e-9 on
every cell's relative error where the error against GTH is 2.5e-13.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._model.grid import Grid
from .._util.linalg import outflow, scaled_pinned
from . import krylov as _krylov
from .estimate import to_grid
from .vcycle import v_cycle

__all__ = ["STALE", "STALL_BUDGET", "STALL_WINDOW", "Hierarchy", "Monitor", "Refined", "Solve", "Stalled",
           "interpolate_log", "null_vector"]

#: GMRES gives up when the residual fell by less than 2x over this many iterations, or
#: when its average rate so far predicts more than ``STALL_BUDGET`` iterations in all.
STALL_WINDOW = 20
STALL_BUDGET = 150

#: Options of pyamg's Ruge–Stüben hierarchy (:meth:`Solve._hierarchy`): a connection
#: counts as strong from 0.1 of the row's largest (pyamg's default: 0.25). The scaled
#: systems couple cells through drift-weighted rates of very different sizes; more of
#: them strong gives coarse levels that follow the flow. Measured (``bench_versions.py``,
#: one fresh process each, the same answers; docs/numerics.md): rotational double well
#: 3.9 -> 3.1 s at 512^2 and 16.8 -> 13.5 s at 1024^2, 3-D 64^3 5.0 -> 4.8 s, full
#: covariance 48^3 4.2 -> 3.6 s, metastable torus 512^2 9.5 -> 8.4 s; GMRES from ``q = 1``
#: to 1e-10 on the last pass at 512^2 in 11 instead of 14 iterations. Direct
#: interpolation was as fast on those, but its V-cycle diverged (preconditioned residual
#: 1e20) on an OU process with a full covariance guessed from an isotropic density, where
#: classical interpolation converges.
RUGE_STUBEN: dict[str, Any] = {"strength": ("classical", {"theta": 0.1})}

#: Rounds of iterative refinement at most (each one GMRES solve).
ROUNDS = 5

#: The tolerance of the loose solve that gives ``q`` to the give-up test of
#: :meth:`Solve.certify` where no loose solve came before (``y`` is judged relative to ``q``).
GIVE_UP_RTOL = 1e-6

#: A loose answer whose ``q`` spans more than this (largest over smallest) is far from its
#: guess: before giving up on it, :meth:`Solve.certify` tries once more in its variables.
FAR = 1e3


class Stalled(Exception):
    """Raised from the GMRES callback when the residual history says it will not converge."""


class Monitor:
    """Residual history of a GMRES solve and its stall test (see :data:`STALL_WINDOW`).

    ``tol``: the residual GMRES stops at, relative to its first (what the budget test
    extrapolates to; no budget test where it is 0).

    Measured: where AMG-GMRES converges (2-D/3-D rotational drift) it needs 10-25
    iterations per round; the periodic metastable torus stalled for thousands of
    iterations (200-300 s at 128^2) before this test, and now stops within
    ``STALL_WINDOW`` to a few times that.
    """

    def __init__(self, tol: float, watch: bool = True) -> None:
        self.tol, self.watch = tol, watch
        self.history: list[float] = []

    def __call__(self, r: float) -> None:
        h = self.history
        h.append(float(r))
        i = len(h) - 1
        if not self.watch:   # keeps the history only
            return
        if not math.isfinite(h[i]):   # a NaN preconditioner: no later iteration can help
            raise Stalled("the residual is not finite (the AMG preconditioner is not)")
        if i < STALL_WINDOW or not h[0] > 0 or h[i] == 0.0:
            return
        if not h[i] < 0.5 * h[i - STALL_WINDOW]:
            raise Stalled(f"the residual fell by less than 2x over the last {STALL_WINDOW} iterations")
        rate = (h[i] / h[0]) ** (1.0 / i)
        if rate < 1.0 and self.tol > 0 and i + math.log(self.tol * h[0] / h[i]) / math.log(rate) > STALL_BUDGET:
            raise Stalled(f"its rate so far ({rate:.3f} per iteration) needs more than {STALL_BUDGET} iterations")


@dataclass(frozen=True)
class Refined:
    """The outcome of :func:`null_vector`.

    ``p``: the density (unnormalised, ``p[k] = g[k]``), or ``None`` when the solve
    stopped; ``bound``: every cell's relative error after normalisation is at most this
    (``inf`` when it could not be bounded; ``nan`` when not asked for); ``iterations``: GMRES iterations in all; ``why``: empty, or why the
    solve stopped; ``unbounded``: why an answer has no finite bound.
    """

    p: np.ndarray | None
    bound: float
    iterations: int
    why: str
    unbounded: str = ""


def null_vector(A: sp.csr_matrix, guess: np.ndarray, *, bounded: bool, maxiter: int, rtol: float = 1e-10,
                limit: float = 1e-6, give_up: bool = False) -> Refined:
    """``A p = 0`` by AMG-GMRES in the variables ``q = p / guess``, with its error bound.

    Parameters
    ----------
    A : csr_matrix
        The generator (columns sum to zero).
    guess : ndarray
        A positive guess of the null vector (any scale).
    bounded : bool
        Whether to bound the error (one more solve; it needs ``A``'s off-diagonals
        ``>= 0``, a monotone scheme). Without it, refinement to round-off and no bound
        (a guess, or a non-monotone scheme).
    maxiter : int
        GMRES restarts of the first round.
    rtol : float
        The first round's GMRES tolerance (later rounds refine to round-off).
    limit : float
        The bound wanted: above it, the solve is repeated once in the variables of its
        own answer (where the guess was far off, ``q`` is tiny in some cells and the
        bound, relative to ``q``, large; measured ``q`` down to 2e-9 in the corners of a
        3-D rotating OU at 24^3, guessed from 12^3, bound 1.4e-5 before and 6e-12 after).
    give_up : bool
        Stop (``p`` is ``None``, ``why`` says so) as soon as ``y`` shows that rounding
        alone keeps the bound above ``limit``: a metastable chain, for a caller that
        has an exact method to fall back on. ``y`` is solved first for this (measured
        on the periodic metastable torus at 512^2: 10 s of refinement to a bound of
        8e-4 saved). The bound is relative to ``q``, so ``y / q`` is judged, ``q`` from
        a loose solve where none came before; a loose answer far from the guess (``q``
        spanning more than :data:`FAR`) is solved once more in its own variables
        instead of giving up.

    Returns
    -------
    Refined

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> from fokkerplanck._solvers.refined import null_vector
    >>> grid = fp.Grid(bounds=[(-4, 4)] * 2, shape=40)
    >>> A = fp.generator(fp.ornstein_uhlenbeck([[1, 1], [-1, 1]], 1.0), grid).tocsr()
    >>> guess = np.exp(-(grid.points() ** 2).sum(-1)).ravel()    # the continuum density
    >>> out = null_vector(A, guess, bounded=True, maxiter=20)
    >>> bool(out.bound < 1e-9), bool(np.abs(A @ out.p).max() < 1e-13 * out.p.max())
    (True, True)
    """
    solve = Solve(A, guess, maxiter)
    if not bounded:
        p, why = solve.loose(rtol, rounds=ROUNDS)
        return Refined(p, math.nan if not why else math.inf, solve.iterations, why)
    return solve.certify(rtol, limit, give_up)


#: A reused hierarchy goes stale (the next pass builds its own) when a solve with it takes
#: more than this many times the GMRES iterations of the solve it was built for, plus 3.
STALE = 1.5


@dataclass(frozen=True)
class Hierarchy:
    """The AMG preconditioner of one density-split pass, handed to the next.

    The passes' matrices differ by the density-split weights and by the scaling of their
    guesses, which settle as the split converges, so the coarse levels of a pass's
    hierarchy precondition the next pass nearly as well, and their setup (as costly as a
    loose solve in 3-D) is saved; the finest level is replaced by the next pass's own
    ``M_r`` (its smoother then works on that system, and the previous ``M_r`` is let go).
    GMRES runs on the next pass's own ``M_r``, so its answer, residual and bound are that
    system's; the hierarchy only changes the iteration count. ``prec``: the preconditioner
    (one V-cycle of ``ml``, pyamg's multilevel solver); ``k``: the pinned cell (the next
    pass pins the same one, where it holds at least half of its guess's maximum; else it
    builds its own); ``size``: cells; ``stale_after``: GMRES iterations above which a
    solve with it hands on nothing (:data:`STALE`). A solve that stops with it (stall,
    breakdown) is repeated with a fresh hierarchy.
    """

    prec: Any
    ml: Any
    k: int
    size: int
    stale_after: int


class Solve:
    """One AMG solve of ``A p = 0`` in the variables of a guess, in two stages.

    :meth:`loose` solves to a tolerance, without a bound (a density-split pass that is
    not the last); :meth:`certify` then goes on from there, in the same variables and
    with the same AMG hierarchy, to round-off and the bound (see the module docstring).
    A far guess (bound above ``limit``) is solved once more in the variables of its
    answer, by a new ``Solve``. ``iterations``: GMRES iterations so far, all stages.
    """

    def __init__(self, A: sp.csr_matrix | tuple[sp.csr_matrix, np.ndarray], guess: np.ndarray, maxiter: int,
                 reuse: Hierarchy | None = None) -> None:
        # the generator of the rates (as GTH's): the diagonal rebuilt as minus the column
        # sums of the off-diagonals, not read (stored diagonals can differ, e.g. self-loops);
        # ``A`` may be given as ``(A, outflow)`` already
        self.A, self.outflow = A if isinstance(A, tuple) else (sp.csr_matrix(A), outflow(A))
        self.n = self.A.shape[0]
        self.maxiter, self.iterations = maxiter, 0
        self.why = ""
        self.q: np.ndarray | None = None
        self.reused: Hierarchy | None = None   # the hierarchy is another system's (see :class:`Hierarchy`)
        self.fresh_iterations = 0              # GMRES iterations of the first solve with a fresh hierarchy
        self._setup(np.asarray(guess, dtype=float), reuse)

    def _setup(self, g: np.ndarray, reuse: Hierarchy | None = None) -> None:
        """The scaled, pinned system in the variables of ``g`` and its AMG hierarchy (or
        ``reuse``'s, where it pins a cell that holds at least half of ``g``'s maximum)."""
        n = self.n
        self.g = g
        with np.errstate(divide="ignore", over="ignore"):
            s = 1.0 / (self.outflow * g)
        self.prec: Any = None
        if not (np.all(g > 0) and np.all(np.isfinite(s)) and np.all(s > 0)):
            self.why = "the guess is not positive, or a cell has no outflow"
            return
        self.k = int(np.argmax(g))
        if reuse is not None and reuse.size == n and g[reuse.k] >= 0.5 * g[self.k]:
            self.k, self.reused = reuse.k, reuse
        self.Mr, self.b, self.keep = scaled_pinned(self.A, s, g, self.k)   # M = S (-A) G, pinned
        if self.reused is not None:   # its finest level smooths this system (and lets the last one go)
            self.reused.ml.levels[0].A = self.Mr
            self.prec = self.reused.prec
        self.gamma = (int(np.diff(self.Mr.indptr).max(initial=0)) + 4) * np.finfo(float).eps
        self.floor = self.gamma * float(np.abs(_abs(self.Mr) @ np.ones(n - 1) + np.abs(self.b)).max())  # at q = 1
        if self.prec is None:
            self._hierarchy()

    def _hierarchy(self) -> None:
        """A fresh Ruge–Stüben hierarchy of ``M_r``."""
        import pyamg

        self.prec, self.reused, self.fresh_iterations = None, None, 0
        try:
            with contextlib.redirect_stdout(io.StringIO()):   # pyamg prints its breakdowns
                self.ml = pyamg.ruge_stuben_solver(self.Mr, **RUGE_STUBEN)
                self.prec = v_cycle(self.ml)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:   # a singular or NaN hierarchy
            self.why = f"AMG failed ({type(err).__name__}: {err})"

    def hierarchy(self) -> Hierarchy | None:
        """This solve's AMG hierarchy, for the next density-split pass (:class:`Hierarchy`),
        or ``None`` where there is none or it has gone stale."""
        if self.prec is None or self.why:
            return None
        if self.reused is not None:
            if self.fresh_iterations > self.reused.stale_after:
                return None
            return self.reused
        return Hierarchy(self.prec, self.ml, self.k, self.n, int(STALE * self.fresh_iterations) + 3)

    def _run(self, b: np.ndarray, x: np.ndarray, rtol: float, target: float, rounds: int, residual: bool = True
             ) -> tuple[np.ndarray, str]:
        x0 = x
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                x, its, why = _refine(self.Mr, b, x, self.prec, self.maxiter, rtol, target, rounds, residual)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            its, why = 0, f"AMG failed ({type(err).__name__}: {err})"
        self.iterations += its
        if why and self.reused is not None:   # another system's hierarchy: once more with this one's own
            self._hierarchy()
            return self._run(b, x0, rtol, target, rounds, residual) if not self.why else (x, self.why)
        if not self.fresh_iterations:
            self.fresh_iterations = its   # (for a reused hierarchy: its first solve's count, against stale_after)
        return x, why

    def _density(self) -> np.ndarray:
        assert self.q is not None
        p = np.empty(self.n)
        p[self.keep], p[self.k] = self.g[self.keep] * self.q, self.g[self.k]
        return p

    def loose(self, rtol: float, rounds: int = 1) -> tuple[np.ndarray | None, str]:
        """``(p, why)``: one GMRES solve to ``rtol`` from ``q = 1``, and ``rounds - 1`` more
        of refinement towards round-off (``p`` ``None`` where it stopped, ``why`` says why)."""
        if self.why:
            return None, self.why
        self.q, self.why = self._from_one(rtol, rounds)
        return (None, self.why) if self.why else (self._density(), "")

    def _from_one(self, rtol: float, rounds: int) -> tuple[np.ndarray, str]:
        """``(q, why)``: the loose solve from ``q = 1`` (the left-preconditioned test)."""
        return self._run(self.b, np.ones(len(self.b)), rtol, self.floor, rounds, residual=False)

    def certify(self, rtol: float = 1e-10, limit: float = 1e-6, give_up: bool = False) -> Refined:
        """From :meth:`loose`'s ``q`` (or ``q = 1``): ``y`` first, then refinement to
        round-off, and the bound (see :func:`null_vector` for ``limit`` and ``give_up``)."""
        out = self._certify(rtol, limit, give_up)
        if out.p is not None and out.bound > limit and np.all(out.p > 0):
            # the guess was far off somewhere (q tiny there, and the bound with it): once
            # more in the variables of this answer, where q is near 1 in every cell
            second = Solve((self.A, self.outflow), out.p, self.maxiter)._certify(rtol, limit, give_up)
            out = replace(second, iterations=out.iterations + second.iterations)
        return out

    def _y(self, y: np.ndarray | None = None) -> tuple[np.ndarray, float, str]:
        """``(y, rho, why)``: ``y ~ M_r^-1 1`` from zero until ``|1 - M_r y|_2 <= 0.5``, or on
        from ``y`` to 0.1 (true residuals, ``krylov.gmres``); ``rho = max|1 - M_r y|`` plus
        its rounding (``y <= y~ / (1 - rho)``)."""
        one = np.ones(len(self.b))
        y, why = self._run(one, np.zeros(len(one)), 0.0, 0.5, ROUNDS) if y is None else self._run(one, y, 0.0, 0.1,
                                                                                                    ROUNDS)
        rho = np.abs(1.0 - self.Mr @ y).max() + self.gamma * np.abs(_abs(self.Mr) @ np.abs(y) + 1.0).max()
        return y, float(rho), why

    def _certify(self, rtol: float, limit: float, give_up: bool) -> Refined:
        if self.why:
            return Refined(None, math.inf, self.iterations, self.why)
        b = self.b
        # y = M_r^-1 1 first: it says whether the bound can be reached at all. The bound has
        # 1 / (1 - rho); y stops at |1 - M_r y|_2 <= 0.5, so rho <= 0.5 unless its rounds
        # ran out (with scipy's left-preconditioned test it was 0.90 at 512^2). Where
        # rho > 0.5 all the same, y is solved further where rho >= 1, or where the bound or
        # the decision to give up would depend on it
        def valid(y: np.ndarray, rho: float, why: str) -> bool:   # (y >= 0 with rho < 1 also proves M_r a
            return not why and rho < 1.0 and bool(np.all(y >= 0))  # non-singular M-matrix, whatever its graph

        def reach(y: np.ndarray, rho: float) -> float:   # the bound that rounding alone leaves: the
            q = self.q if self.q is not None else 1.0    # bound is relative to q (the loose one, if any)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(q > 0, y / q, np.inf)
            return 2.0 * self.floor * float(ratio.max()) / (1.0 - rho)

        y, rho, why_y = self._y()
        tight = bool(why_y) or not rho > 0.5
        if not tight and (not valid(y, rho, why_y) or (give_up and reach(y, rho) > limit)):
            (y, rho, why_y), tight = self._y(y), True
        if give_up and self.q is None and valid(y, rho, why_y) and reach(y, rho) > limit:
            # far from the guess, y is large where q is: judge y / q, with q from a loose solve
            # (measured: a 3-D full-covariance well at 16^3 guessed from 8^3, q from 1e-3 to
            # 6e5, max y 5.4e8 but max y / q 1840)
            q, why_q = self._from_one(GIVE_UP_RTOL, 1)
            if not why_q:
                self.q = q
        unbounded = ""
        if not valid(y, rho, why_y):
            unbounded = "the solve for the bound (y = M^-1 1) did not converge"
        elif give_up and reach(y, rho) > limit:
            loose = self.q
            if loose is not None and np.all(loose > 0) and loose.max() > FAR * loose.min():
                # the variables, not (yet) a metastable chain: certify() solves once more in
                # those of this loose answer, where the floor and y are the answer's own
                return Refined(self._density(), math.inf, self.iterations, "")
            return Refined(None, math.inf, self.iterations,
                           f"rounding alone keeps its bound above {reach(y, rho):.1e} > {limit:g} "
                           f"(M^-1 1 up to {y.max():.1e}, a metastable chain): the split between "
                           "metastable regions is not determined")
        start = self.q if self.q is not None else np.ones(len(b))
        self.q, why = self._run(b, start, rtol, self.floor, ROUNDS)
        if why:
            return Refined(None, math.inf, self.iterations, why)
        p, q = self._density(), self.q
        if unbounded:
            return Refined(p, math.inf, self.iterations, "", unbounded)
        res = np.abs(b - self.Mr @ q).max() + self.gamma * np.abs(_abs(self.Mr) @ np.abs(q) + np.abs(b)).max()
        bound, why_not = _bound(q, res, y, rho)
        if not tight and not bound <= limit:
            y2, rho2, why_y = self._y(y)
            if valid(y2, rho2, why_y):
                bound, why_not = _bound(q, res, y2, rho2)
        if why_not:
            return Refined(p, math.inf, self.iterations, "", why_not)
        return Refined(p, bound, self.iterations, "")


def _abs(M: sp.csr_matrix) -> sp.csr_matrix:
    """``|M|`` entrywise, sharing ``M``'s index arrays (no copy of them)."""
    return sp.csr_matrix((np.abs(M.data), M.indices, M.indptr), shape=M.shape)


def _bound(q: np.ndarray, res: float, y: np.ndarray, rho: float) -> tuple[float, str]:
    """``(bound, why not)``: every cell's relative error after normalisation, from the
    residual ``res`` (with its rounding) and ``y~`` with ``rho`` (module docstring)."""
    error = res * y / (1.0 - rho)
    if not np.all(error < q):
        return math.inf, "the answer is not positive in every cell (to its bound)"
    delta = float((error / (q - error)).max(initial=0.0))
    # normalising by the sum moves every relative error by at most another delta
    return (2.0 * delta / (1.0 - delta) if delta < 1.0 else math.inf), ""


def _refine(M: sp.csr_matrix, b: np.ndarray, x: np.ndarray, prec: Any, maxiter: int, rtol: float,
            target: float = 0.0, rounds: int = ROUNDS, residual: bool = False) -> tuple[np.ndarray, int, str]:
    """Rounds of ``x += GMRES(M, b - M x)`` until ``max|b - M x| <= target`` or a round no
    longer divides it by 10; ``(x, iterations, why)``, ``why`` non-empty when the first
    round stalls (see :class:`Monitor`) or fails. Later rounds are one GMRES cycle each:
    they work at the rounding level, where a stall is the expected end.

    ``residual``: GMRES stops on the true residual, ``|b - M x|_2 <= max(rtol |r|_2,
    target)`` with ``r`` the round's (``krylov.gmres``, preconditioned from the right:
    what the bound is made of); else on the left-preconditioned residual and the true one
    falling by ``rtol`` (scipy's ``gmres``; the first is about the error, what a loose
    solve wants; see ``krylov.py``)."""
    iterations, last = 0, math.inf
    for round_ in range(rounds):
        r = b - M @ x
        size = float(np.abs(r).max())
        if not np.isfinite(size):
            return x, iterations, "the solve produced non-finite values"
        if size <= target or not size < 0.1 * last:
            break
        last = size
        cycles = maxiter if round_ == 0 else 1
        if residual:   # (the stall test predicts the iterations to where GMRES stops)
            norm = float(np.linalg.norm(r))
            atol = max(rtol * norm, target)
            mon = Monitor(atol / norm, watch=round_ == 0)
        else:
            mon = Monitor(rtol, watch=round_ == 0)
        try:
            if residual:
                dx, converged = _krylov.gmres(M, r, getattr(prec, "matvec", prec), atol=atol, restart=60,
                                              maxiter=cycles, callback=mon)
                info = 0 if converged else 1
            else:
                dx, info = spla.gmres(M, r, M=prec, rtol=rtol, atol=0.0, restart=60, maxiter=cycles, callback=mon,
                                      callback_type="pr_norm")
        except Stalled as err:
            return x, iterations + len(mon.history), str(err)
        iterations += len(mon.history)
        if info != 0 and round_ == 0 and not np.abs(b - M @ (x + dx)).max() < 0.1 * size:
            return x, iterations, (f"maxiter={maxiter} restarts reached" if len(mon.history) >= maxiter
                                   else f"GMRES broke down after {len(mon.history)} iterations")
        x = x + dx
    return x, iterations, ""


def interpolate_log(p: np.ndarray, coarse: Grid, grid: Grid) -> np.ndarray:
    """``exp`` of ``log p`` on ``coarse`` interpolated to ``grid``'s cells (the error
    estimate's ``estimate.to_grid``: six-point Lagrange, periodic axes wrapped), limited
    to the coarse values around each cell. Non-positive values of ``p`` (underflow, or
    the negative tails of a non-monotone scheme) take the smallest positive value.
    Returns a positive array of ``grid.size`` values, largest 1, none below the smallest
    normal number.

    The limit: each value lies within the smallest and largest of the (up to ``2^d``)
    coarse cells around it, widened by half the steepest step of ``log p`` between
    neighbouring coarse cells along each axis, summed over the axes (so a log-linear
    field continued beyond the outermost coarse centres, a quarter of a coarse cell along
    each axis, is not limited). A six-point interpolant on a coarse grid of few cells
    overshoots where ``log p`` is steep near a wall: on a 3-D double well with a full
    covariance, 8^3 to 16^3, it put ``log g`` at -83 where the coarse density's smallest
    is -28 (steps of up to 21 between neighbours); AMG in those variables broke down and
    GTH answered (1.1 s; 0.3 s by AMG with the limit; at 20^3 1.65 against 0.40 s). Where
    the interpolant stays within the limit the guess is unchanged (log-linear fields,
    exactly).

    >>> import numpy as np, fokkerplanck as fp
    >>> from fokkerplanck._solvers.refined import interpolate_log
    >>> coarse, fine = fp.Grid(bounds=[(0, 1)], shape=8), fp.Grid(bounds=[(0, 1)], shape=16)
    >>> logp = np.array([0.0, -1, -2, -3, -4, -5, -26, -27])   # a steep step near the wall
    >>> g = np.log(interpolate_log(np.exp(logp), coarse, fine))
    >>> round(float(g[-1] - g[0]), 2)   # six-point -7.5; limited: -27 + 21/2 - 0.25 (first cell +0.25)
    -16.75
    """
    p = np.asarray(p, dtype=float).reshape(coarse.shape)
    positive = p[p > 0]
    floor = positive.min() if positive.size else 1.0
    lp = np.log(np.where(p > 0, p, floor))
    v = to_grid(lp, coarse, grid)
    allowed = 0.5 * sum(float(np.abs(np.diff(lp, axis=k)).max(initial=0.0)) for k in range(coarse.ndim))
    lo, hi = _bracket(lp, coarse, grid)
    np.clip(v, lo - allowed, hi + allowed, out=v)
    return np.exp(np.maximum(v - v.max(), math.log(np.finfo(float).tiny))).ravel()   # no cell underflows


def _bracket(values: np.ndarray, coarse: Grid, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest of ``values`` on ``coarse`` over the coarse centres on
    either side of each of ``grid``'s centres, along every axis (the ``2^d`` around a
    cell; the outermost one alone beyond a wall's last centre; periodic axes wrapped).
    Separable: the extremes over a product of index pairs are taken one axis at a time."""
    lo = hi = values
    for k in range(coarse.ndim):
        centres, n = coarse.centers[k], coarse.shape[k]
        j = np.searchsorted(centres, grid.centers[k])
        if coarse.periodic[k]:
            before, after = (j - 1) % n, j % n
        else:
            before, after = np.clip(j - 1, 0, n - 1), np.clip(j, 0, n - 1)
        lo = np.minimum(np.take(lo, before, axis=k), np.take(lo, after, axis=k))
        hi = np.maximum(np.take(hi, before, axis=k), np.take(hi, after, axis=k))
    return lo, hi
