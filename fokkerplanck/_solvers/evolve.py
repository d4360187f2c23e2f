r"""Time integration of the Fokker–Planck equation ``dp/dt = A p``.

:func:`evolve` advances a cell-average density with the generator ``A`` of
:func:`~fokkerplanck.generator` and returns an :class:`Evolution`. Three methods:

``"backward_euler"``
    ``(I - h A) p_{n+1} = p_n``. First order, L-stable, and the only linear method
    that keeps every density non-negative for every step: ``I - h A`` is an
    M-matrix, so its inverse is entrywise non-negative.
``"tr-bdf2"``
    A trapezoidal stage to ``t_n + gamma h`` followed by BDF2 through
    ``t_n, t_n + gamma h, t_{n+1}``, ``gamma = 2 - sqrt 2``. Second order and
    L-stable; both stages solve with the same matrix ``I - (gamma/2) h A``, so one
    sparse LU serves each step length.
``"expm"``
    ``p(t) = exp((t - t0) A) p0`` by :func:`scipy.sparse.linalg.expm_multiply`:
    exact in time (to round-off), at a cost that grows like ``(t - t0) ||A||_1``;
    long horizons go to a dense ``expm`` (small grids) or to TR-BDF2.

Steps grow geometrically once the fast modes have decayed, so any horizon (``t =
1e20``) costs a few hundred steps, and every method keeps the mass of ``p0`` when
the columns of ``A`` sum to zero (reflecting and periodic boundaries; see
Details below); with absorbing walls :attr:`Evolution.mass` records the loss.

Details
-------
``A`` is Metzler (non-negative off-diagonals) with zero column sums, so
``I - c A`` (``c > 0``) is a column-diagonally-dominant M-matrix: its inverse is
non-negative and preserves mass. Each distinct step size is factorized once with
:func:`scipy.sparse.linalg.splu` (``permc_spec="MMD_AT_PLUS_A"``) and the factor
is reused for every step (the intervals of a uniform ``t_eval`` all share one); in 3-D
and more, where SuperLU's fill is large, each step size gets a checked, staged solver
instead (GMRES with Jacobi, then AMG, then SuperLU: ``fokkerplanck/_solvers/shifted.py``).

**Backward Euler**: ``(I - h A_{n+1}) p_{n+1} = p_n``: positive for every ``h``.

**TR-BDF2** with ``gamma = 2 - sqrt 2``:

.. math::

    (I - \tfrac{\gamma h}{2} A_{n+\gamma}) p_* &= (I + \tfrac{\gamma h}{2} A_n) p_n \\
    (I - \tfrac{1-\gamma}{2-\gamma} h A_{n+1}) p_{n+1} &=
        \tfrac{1}{\gamma(2-\gamma)} p_* - \tfrac{(1-\gamma)^2}{\gamma(2-\gamma)} p_n

and ``(1 - gamma)/(2 - gamma) = gamma/2`` exactly for this ``gamma``, so both
stages use ``I - (gamma h/2) A``. The right-hand coefficients sum to 1, so mass
is conserved; the stage-1 right side ``I + (gamma h/2) A`` has a negative
diagonal once ``h max|a_ii| > 2/gamma ~ 3.41``, and the second stage subtracts
``p_n``, so TR-BDF2 can produce small negative values for large steps (a
warning reports them). For a time-dependent SDE ``A_n = A(t_n)``,
``A_{n+gamma} = A(t_n + gamma h)`` and ``A_{n+1} = A(t_{n+1})``, which keeps
second order; this costs two assemblies and two LU factorizations per step.

**expm**: :func:`scipy.sparse.linalg.expm_multiply` from one output time to the
next; refused for a time-dependent SDE. Its cost grows like ``tau ||A||_1`` for
an interval ``tau``: beyond ``2e3`` products a dense ``scipy.linalg.expm``
(scaling and squaring, ``O(n^3 log(tau ||A||_1))``) replaces it on grids of up
to 1000 cells; on larger grids the run switches to TR-BDF2 with a warning. A
long horizon never costs minutes (``t = 1e5`` on 64 cells: milliseconds).

**Default step** (``dt=None``): with ``r = (||A^3 p0||_1/||p0||_1)^(1/3)`` the rate
of the fastest mode present in ``p0``, and ``t_1`` the first output time after
``t0``, the step makes the estimated global error
``C h^q lambda^(q+1) t exp(-lambda t)`` of every mode ``lambda <= r``, at every
output time ``t >= t_1``, at most ``rtol`` (``q`` the order, ``C`` the error
constant: ``sqrt(2)/2 - 2/3`` for TR-BDF2, ``1/2`` for backward Euler). Fast
modes that have decayed by ``t_1`` do not shrink the step (L-stability damps
them), so a point mass observed at late times does not force tiny steps.

**Growing steps** (time-independent SDE, ``dt=None``): at elapsed time ``s`` the
step may be ``max(h, kappa s)``, ``h`` the step above. With ``h(s) = kappa s``
the error of a mode ``lambda`` at time ``T`` is about
``C kappa^q (lambda T)^(q+1) exp(-lambda T) / (q + 1)``, largest at
``lambda T = q + 1``; ``kappa`` (:func:`growth_rate`) makes that ``rtol``
(``kappa = 0.074`` for TR-BDF2 at ``rtol = 1e-4``). Steps are ``h 2^k`` (one
factorization per doubling; intervals shorter than ``h / kappa`` keep equal
steps, so a uniform ``t_eval`` still shares one factor), and any horizon costs
``O(log(t_end / h) / kappa)`` steps: OU from ``t = 0`` to ``1e20``, ~900.
TR-BDF2 steps longer than ``1e8 / ||A||_1`` are taken with backward Euler (the
explicit half-stage would multiply the round-off of ``A p`` by ``h``; a huge
backward-Euler step projects onto the stationary density).

**Mass**: every method conserves mass exactly in exact arithmetic when the
columns of ``A`` sum to zero. In floating point a step of length ``h`` can move
it by about ``eps h ||A||_1``, which dominates for steps far beyond the
relaxation time; so when the columns of ``A`` sum to zero (to ``1e-10``
relative) each step rescales the density to the mass of ``p0``: a round-off
correction, never a modelling one (absorbing walls and user generators with
killing are left alone).

**auto**: ``"expm"`` when the SDE is time-independent and
``(t_end - t0) ||A||_1 <= 2 * n``, with ``n`` the TR-BDF2 step count of the
default rule (``expm_multiply`` costs about ``(t_end - t0) ||A||_1`` products
with ``A``; a TR-BDF2 step costs two triangular solves and a product); else
``"tr-bdf2"``.

**Error estimate** (``error_estimate=True``, the default): the same evolution
(same method, ``dt`` and ``rtol``) on a grid with half the cells per axis, ``p0``
carried over by six-point Lagrange interpolation (negatives of the interpolation
clipped, mass kept), and Richardson's formula on the two densities at every output
time (:func:`~fokkerplanck.estimate_error`): the L1 norm of the spatial
discretization error of each density. Tracks the true error within a few percent on
OU and heat-kernel problems with exact answers (docs, "When to trust an answer").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .._discretization.generator import check_problem, fluxes
from .._model.grid import Grid
from .._model.sde import SDE
from .._util.errors import warn
from .._util.linalg import has_pyamg
from .._util.memory import check_memory
from .._util.progress import progress_bar
from .._util.summary import Summary
from .._util.validate import positive as _check_positive
from .._util.validate import positive_int, real_array, show
from .estimate import ORDER, estimate_error, partner_grid, to_grid
from .resolution import check_resolution
from .shifted import SOLVE_RTOL, StagedSolver, amg_gmres, direct, jacobi_gmres

__all__ = ["BACKENDS", "METHODS", "Algebra", "Evolution", "evolve"]

#: Time-integration methods understood by :func:`evolve`.
METHODS = ("auto", "backward_euler", "tr-bdf2", "expm")

#: TR-BDF2 stage fraction; makes both stage matrices equal to ``I - (gamma/2) h A``.
GAMMA = 2.0 - math.sqrt(2.0)

# Leading local error constants |R(z) - e^z| / |z|^(q+1) of the one-step methods
# (R is the stability function): TR-BDF2 sqrt(2)/2 - 2/3, backward Euler 1/2.
_ERROR_CONSTANT = {"tr-bdf2": (math.sqrt(2.0) / 2 - 2.0 / 3.0, 2), "backward_euler": (0.5, 1)}

# "auto" picks expm when its estimated cost, ~ (t_end - t0) ||A||_1 products with A,
# is below this many times the TR-BDF2 step count (one step is two triangular solves
# and a product, each solve costing several products' worth of memory traffic).
_EXPM_COST_RATIO = 2.0

# TR-BDF2 steps longer than this over ||A||_1 are taken with backward Euler instead: the
# explicit half-stage multiplies the round-off of A p by h, backward Euler never does.
_TR_BDF2_CAP = 1e8

# A backward-Euler step longer than this over ||A||_1 is taken with this length: beyond it
# the identity in I - h A is below the round-off of h A, and a generator whose columns sum
# to zero exactly makes the factor exactly singular. Such a step already projects onto the
# stationary density unless the spectral gap is below ~1e-12 ||A||_1, which double
# precision does not resolve in any case.
_BE_CAP = 1e12

# expm_multiply costs ~ (t - t0) ||A||_1 products with A; above this many a run uses a
# dense expm (scaling and squaring, up to _DENSE_EXPM cells) or TR-BDF2 (with a warning).
_EXPM_MAX_COST = 2e3
_DENSE_EXPM = 1000


@dataclass(frozen=True, eq=False, repr=False)
class Evolution(Summary):
    """Densities on a grid at the requested times; returned by :func:`evolve`.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        The output times (``t_eval``).
    density : ndarray, shape ``(n_t, *grid.shape)``
        Cell-average densities at ``t``.
    mass : ndarray, shape (n_t,)
        ``grid.integrate(density[k])``: constant to round-off with reflecting and
        periodic boundaries, decreasing with absorbing ones.
    method : str
        The method used (``"auto"`` resolved to what it chose).
    n_steps : int
        Time steps taken (0 for ``"expm"``).
    nlu : int
        Solvers of ``I - c A`` set up, one per step length: sparse LU factorizations in
        1-D and 2-D; in 3-D the first of GMRES with Jacobi, GMRES with AMG and sparse
        LU that meets its check (docs: "Time evolution", Factorizations).
    n_assemble : int
        Generators assembled (1 for a time-independent SDE).
    dt : float or None
        The largest step used (``None`` for ``"expm"``).
    grid : Grid
    error_estimate : ndarray, shape (n_t,)
        Estimated L1 norm ``integral |p_h(t) - p(t)| dx`` of the spatial
        discretization error of ``density`` at each time, from the same evolution
        on a partner grid (Richardson, see :func:`~fokkerplanck.estimate_error`; 1-D:
        three times the cells, else half per axis; ``p0`` carried over by six-point
        interpolation). The time-stepping error is controlled separately by
        ``rtol``. ``nan`` when not asked for (``error_estimate=False``) or with a
        user ``generator``; ``inf`` when there is no partner grid.
    success : bool
        Always True for a returned evolution (failures raise).
    message : str

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-6, 6)], shape=240)
    >>> ev = fp.evolve(fp.brownian(1.0), grid, fp.gaussian(grid, 0.0, 0.25), [0.0, 0.75])
    >>> np.round(ev.cov()[:, 0, 0], 3)        # variance 0.25 + t
    array([0.25, 1.  ])
    >>> print(ev)                             # doctest: +ELLIPSIS
    Evolution(method=..., n_t=2, t=[0, 0.75], n_steps=..., grid=240 on [-6, 6], mass=[1, 1])
      success=True, error_estimate=[..., ...] (L1 norm of the density's discretization error at each time)
    """

    t: np.ndarray
    density: np.ndarray
    mass: np.ndarray
    method: str
    n_steps: int
    nlu: int
    n_assemble: int
    dt: float | None
    grid: Grid
    error_estimate: Any = math.nan
    success: bool = True
    message: str = ""

    _error_meaning = "L1 norm of the density's discretization error at each time"

    def __len__(self) -> int:
        return len(self.t)

    def mean(self) -> np.ndarray:
        """Mean of the density at each output time, shape ``(n_t, ndim)``."""
        return np.array([self.grid.mean(p) for p in self.density])

    def cov(self) -> np.ndarray:
        """Covariance of the density at each output time, shape ``(n_t, ndim, ndim)``."""
        return np.array([self.grid.cov(p) for p in self.density])

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("method", self.method), ("n_t", len(self.t)), ("t", [self.t[0], self.t[-1]]),
                ("n_steps", self.n_steps), ("grid", self.grid),
                ("mass", [float(self.mass.min()), float(self.mass.max())])]


# ---------------------------------------------------------------- input checks
def _check_p0(p0: Any, grid: Grid) -> np.ndarray:
    try:
        p = np.array(real_array("p0", p0))
    except TypeError as err:
        if "complex" in str(err):
            raise
        raise TypeError(f"`p0` must be an array of shape {grid.shape}, got {type(p0).__name__}.") from None
    except ValueError:
        raise TypeError(f"`p0` must be an array of shape {grid.shape}, got {type(p0).__name__}.") from None
    if p.shape != grid.shape:
        hint = " (flattened; reshape it to grid.shape)" if p.shape == (grid.size,) and grid.ndim > 1 else ""
        raise ValueError(f"`p0` has shape {p.shape}{hint} but the grid has shape {grid.shape}.")
    if not np.all(np.isfinite(p)):
        n_bad = int(np.count_nonzero(~np.isfinite(p)))
        raise ValueError(f"`p0` has {n_bad} non-finite values (NaN or inf); a density must be finite.")
    top = float(np.abs(p).max()) if p.size else 0.0
    low = float(p.min())
    if low < -1e-12 * top:
        idx = np.unravel_index(int(np.argmin(p)), p.shape)
        raise ValueError(
            f"`p0` has negative values (min {low:.3g} at cell {tuple(int(i) for i in idx)}); "
            "a density must be >= 0. Clip round-off negatives with np.clip(p0, 0, None)."
        )
    mass = grid.integrate(p)
    if not mass > 0:
        raise ValueError(
            f"`p0` has mass {mass:.3g}; it must be positive. Build it with fp.gaussian, "
            "fp.point_mass or fp.uniform, which normalise to unit mass."
        )
    return p


def _check_times(t_eval: Any, t0: float) -> np.ndarray:
    if not np.isfinite(t0):
        raise ValueError(f"`t0` must be finite, got {show(t0)}.")
    try:
        t = np.atleast_1d(np.asarray(t_eval, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"`t_eval` must be a 1-D array of times, got {t_eval!r}.") from None
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`t_eval` must be a non-empty 1-D array of times, got shape {t.shape}.")
    if not np.all(np.isfinite(t)):
        raise ValueError("`t_eval` contains NaN or inf; output times must be finite.")
    if t[0] < t0:
        raise ValueError(
            f"`t_eval` starts at {t[0]:g}, before `t0={t0:g}` (the time of `p0`); output "
            "times must be >= t0 (negative times are not allowed with the default t0=0)."
        )
    if t.size > 1 and np.any(np.diff(t) <= 0):
        k = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise ValueError(
            f"`t_eval` must be strictly increasing; t_eval[{k}]={t[k]:g} >= "
            f"t_eval[{k + 1}]={t[k + 1]:g}. Sort it (np.unique sorts and drops repeats)."
        )
    return t


def _as_matrix(A: Any, grid: Grid, t: float | None) -> scipy.sparse.csc_matrix:
    if not (scipy.sparse.issparse(A) or isinstance(A, np.ndarray)):
        raise TypeError(f"the generator must be a sparse matrix, got {type(A).__name__}.")
    if A.shape != (grid.size, grid.size):
        where = "" if t is None else f" at t={t:g}"
        raise ValueError(
            f"the generator{where} has shape {A.shape}; it must be (grid.size, grid.size) = "
            f"({grid.size}, {grid.size})."
        )
    return scipy.sparse.csc_matrix(A, dtype=float)


class Algebra:
    """The vectors, products and solves of one run of :func:`evolve`, on one process.

    Every step of :func:`evolve` goes through these few operations, so a backend that
    spreads the grid over processes (``backend="petsc"``,
    ``fokkerplanck/_solvers/distributed_evolve.py``) substitutes its own and the step
    rule, the plan, TR-BDF2 and the mass correction stay one code. Here a vector is the
    whole density (flattened), a generator a scipy CSC matrix, a solve SuperLU's, and
    the reductions are identities; in a distributed algebra a vector is the process's
    own cells and the reductions run over processes.
    """

    #: Whether ``method="expm"`` is available (``expm_multiply`` needs the whole matrix).
    expm = True
    #: Whether this process reports (progress bars).
    root = True
    #: Whether the generator of :meth:`assemble` holds only this process's rows.
    slabs = False
    #: Whether a direct stage's solves are checked too (:mod:`~fokkerplanck._solvers.shifted`).
    check_direct = False
    #: Solvers of ``I - c A`` kept, one per step length (non-uniform ``t_eval``).
    cache = 4

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.solves = self.iterations = self.start_stage = 0
        self.escalations: list[str] = []
        #: Added to a solve's ConvergenceError (the PETSc backend names its options).
        self.hint = ""

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages of a :class:`~fokkerplanck._solvers.shifted.StagedSolver`: SuperLU
        alone in 1-D and 2-D (little fill); in 3-D and more, where its fill grows like
        ``N^(4/3)``, GMRES with Jacobi, then with AMG, then SuperLU."""
        if self.grid.ndim <= 2:
            return ("lu",)
        return ("jacobi", "amg", "lu") if has_pyamg() else ("jacobi", "lu")

    def agree(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``; on several processes, an error raised on any is raised on all
        (input checks that one process alone fails must not leave the others waiting)."""
        return fn(*args)

    def close(self) -> None:
        """Release what the run holds (distributed objects)."""

    def assemble(self, sde: SDE, scheme: str, t: float | None) -> tuple[Any, Any]:
        """``(generator, its Fluxes)`` at time ``t`` (``None``: time-independent)."""
        fl = fluxes(sde, self.grid, scheme=scheme, t=t)
        return fl.matrix, fl

    def operator(self, A: Any, t: float | None) -> Any:
        """A user's (or :meth:`assemble`'s) generator, checked, in this algebra's form."""
        return _as_matrix(A, self.grid, t)

    def local(self, p: np.ndarray) -> np.ndarray:
        """This process's part of a density on the whole grid, flattened."""
        return p.ravel()

    def factor(self, A: Any, c: float) -> StagedSolver:
        """A solver of ``I - c A``: an object with ``solve(b)`` and ``free()``."""
        return StagedSolver(self, A, c)

    def stage(self, A: Any, c: float, name: str) -> Any:
        """One stage of :attr:`stages` for ``I - c A``: ``solve(b) -> (x, converged)``,
        ``direct``, ``free()``."""
        if name == "jacobi":
            return jacobi_gmres(self, A, c)
        if name == "amg":
            return amg_gmres(self, A, c)
        return direct(A, c)

    def free(self, factor: Any) -> None:
        """Release a solver that is no longer used (distributed objects hold memory)."""
        factor.free()

    def column_vector(self, A: Any) -> np.ndarray:
        """The column sums of ``A`` on this process's cells."""
        return np.asarray(A.sum(axis=0)).ravel()

    def total(self, x: float) -> float:
        """The sum of ``x`` over processes."""
        return float(x)

    def largest(self, x: float) -> float:
        """The largest ``x`` over processes."""
        return float(x)

    def norm1(self, A: Any) -> float:
        """``||A||_1``, the largest column sum of ``|A|``."""
        return float(abs(A).sum(axis=0).max()) if A.shape[0] else 0.0

    def column_sums(self, A: Any) -> float:
        """The largest ``|column sum|`` of ``A`` (0 when it conserves mass)."""
        return float(np.abs(np.asarray(A.sum(axis=0))).max())

    def collect(self, out: np.ndarray) -> tuple[np.ndarray, Grid]:
        """The densities to return, ``(n_t, *grid.shape)``, and their grid, from every
        process's ``out`` ``(n_t, own cells)``."""
        return out.reshape((len(out),) + self.grid.shape), self.grid

    def describe(self) -> str:
        """What the run's solves did (the :class:`Evolution`'s ``message``; empty for
        SuperLU alone)."""
        if self.solves == 0 or (self.stages == ("lu",) and not self.check_direct):
            return ""
        text = (f"{self.solves} solves with I - c A ({' -> '.join(self.stages)}), {self.iterations} Krylov "
                f"iterations; each iterative answer's L1 residual at most {SOLVE_RTOL:g} of its right side "
                "(a bound on the step's L1 error)")
        if self.escalations:
            text += "; solver escalated " + ", ".join(self.escalations)
        return text

    def on(self, grid: Grid) -> Algebra:
        """The same algebra on another grid (the error estimate's partner)."""
        return type(self)(grid)


#: Algebras of other backends (``backend=``), built as ``BACKENDS[name](grid, gather)``:
#: ``"petsc"`` registers itself (``fokkerplanck/_solvers/distributed_evolve.py``).
BACKENDS: dict[str, Callable[[Grid, str], Algebra]] = {}


class _Generator:
    """``A`` or ``t -> A(t)``; counts assemblies."""

    def __init__(self, sde: SDE, algebra: Algebra, scheme: str, generator: Any) -> None:
        self.algebra = algebra
        self.time_dependent = bool(getattr(sde, "time_dependent", False))
        self.n_assemble = 0
        self._const: Any = None
        self.fluxes: Any = None  # the latest assembled discretization (for the resolution check)
        if generator is None:
            if self.time_dependent:
                self._fn: Callable[[float], Any] = lambda t: self._assemble(sde, scheme, t)
            else:
                self._fn = lambda t: self._assemble(sde, scheme, None)
        elif callable(generator) and not scipy.sparse.issparse(generator):
            self._fn = generator  # called once (and cached) for a time-independent SDE
        else:
            if self.time_dependent:
                raise ValueError(
                    "`generator` is a fixed matrix but the SDE is time-dependent; pass a "
                    "callable t -> A(t), or leave `generator=None`."
                )
            self._const = algebra.operator(generator, None)
            self._fn = lambda t: generator

    def _assemble(self, sde: SDE, scheme: str, t: float | None) -> Any:
        A, self.fluxes = self.algebra.assemble(sde, scheme, t)
        return A

    def __call__(self, t: float) -> Any:
        if self._const is not None:
            return self._const
        A = self.algebra.operator(self._fn(t), t if self.time_dependent else None)
        self.n_assemble += 1
        if not self.time_dependent:
            self._const = A
        return A


# ------------------------------------------------------------ step-size rule
def _fast_rate(A: Any, v: np.ndarray, algebra: Algebra) -> float:
    """``r = (||A^3 p0||_1 / ||p0||_1)^(1/3)``: the rate of the fastest mode present in p0."""
    n0 = algebra.total(float(np.abs(v).sum()))
    with np.errstate(over="ignore", invalid="ignore"):
        w = A @ (A @ (A @ v))
        n3 = algebra.total(float(np.abs(w).sum()))
    if not np.isfinite(n3):
        return algebra.norm1(A)
    return float((n3 / n0) ** (1.0 / 3.0))


def default_dt(method: str, rate: float, t_first: float, rtol: float) -> float:
    """The default step of :func:`evolve` (the rule documented there).

    The global error of a mode ``exp(-lambda t)`` after steps ``h`` of a method of
    order ``q`` with error constant ``C`` is about
    ``C h^q lambda^(q+1) t exp(-lambda t)``. The step makes the largest such error
    over modes ``lambda <= rate`` and output times ``t >= t_first`` equal ``rtol``.
    """
    C, q = _ERROR_CONSTANT[method]
    if rate <= 0:
        return math.inf
    lam = rate * np.geomspace(1e-6, 1.0, 400)
    u = lam * t_first
    # max over t >= t_first of lambda t exp(-lambda t): 1/e, or at t_first if later
    phi = np.where(u <= 1.0, math.exp(-1.0), u * np.exp(-np.minimum(u, 700.0)))
    worst = float(np.max(lam**q * phi))
    if worst <= 0:
        return math.inf
    return (rtol / (C * worst)) ** (1.0 / q)


def growth_rate(method: str, rtol: float) -> float:
    """``kappa``: steps may grow like ``h <= kappa (t - t0)`` (the rule in :func:`evolve`).

    With ``h(s) = kappa s`` the global error of a mode ``exp(-lambda t)`` at time ``T``
    is about ``C lambda^(q+1) exp(-lambda T) int_0^T h^q ds
    = C kappa^q (lambda T)^(q+1) exp(-lambda T) / (q + 1)``, largest at
    ``lambda T = q + 1``; ``kappa`` makes that largest error ``rtol``.
    """
    C, q = _ERROR_CONSTANT[method]
    peak = ((q + 1) / math.e) ** (q + 1)
    return float(((q + 1) * rtol / (C * peak)) ** (1.0 / q))


def _plan(t_out: np.ndarray, t0: float, h_max: float, kappa: float | None) -> list[list[tuple[int, float]]]:
    """Steps for each interval between output times, as ``(count, length)`` runs (they
    sum to the interval).

    The step allowed at elapsed time ``s`` is ``max(h_max, kappa s)``. An interval
    shorter than ``h / kappa`` (the allowed step ``h`` at its start changes little across
    it) is split into equal steps, so a uniform ``t_eval`` reuses one factorization; a
    longer one takes steps ``h_max 2^k`` that double as ``kappa s`` allows
    (geometric growth: ``O(log(t_end / h_max) / kappa)`` steps to any horizon, one
    factorization per doubling).
    """
    plan: list[list[tuple[int, float]]] = []
    t_prev = t0
    for tk in t_out:
        tk = float(tk)
        span = tk - t_prev
        runs: list[tuple[int, float]] = []
        if span > 0:
            h_a = h_max if kappa is None else max(h_max, kappa * (t_prev - t0))
            if kappa is None or span * kappa <= h_a or span <= h_a:
                n = max(1, math.ceil(span / h_a * (1 - 1e-12)))
                runs = [(n, span / n)]
            else:
                t = t_prev
                while True:
                    allow = max(h_max, kappa * (t - t0))
                    h = h_max * 2.0 ** math.floor(math.log2(allow / h_max) + 1e-12)
                    remaining = tk - t
                    if remaining <= 2 * h * (1 + 1e-12):
                        n = max(1, math.ceil(remaining / h * (1 - 1e-12)))
                        runs.append((n, remaining / n))
                        break
                    # steps of h until kappa (t - t0) reaches 2 h (or the interval ends)
                    m = max(1, min(int((2 * h / kappa - (t - t0)) / h), int(remaining / h) - 2))
                    runs.append((m, h))
                    t += m * h
        plan.append(runs)
        t_prev = tk
    return plan


# --------------------------------------------------------------------- driver
def evolve(sde: SDE, grid: Grid, p0: Any, t_eval: Any, *, method: str = "auto",
           dt: float | None = None, rtol: float = 1e-4, t0: float = 0.0, max_steps: int = 20_000,
           progress: bool = False, scheme: str = "sg", generator: Any = None,
           error_estimate: bool = True, backend: str = "scipy", gather: str = "all") -> Evolution:
    """Evolve a density under the Fokker–Planck equation ``dp/dt = A(t) p``.

    Parameters
    ----------
    sde : SDE
        The SDE. With ``sde.time_dependent`` the generator ``A(t)`` is re-assembled
        at every stage time.
    grid : Grid
    p0 : array_like, shape grid.shape
        Initial cell-average density at time ``t0`` (>= 0, positive mass; it need
        not be normalised). :func:`~fokkerplanck.gaussian`,
        :func:`~fokkerplanck.point_mass` and :func:`~fokkerplanck.uniform` build one.
    t_eval : float or array_like, shape (n_t,)
        Strictly increasing output times, all ``>= t0``; a scalar is one output time,
        the final one. Steps land on every one exactly (``t_eval[0] == t0`` returns
        ``p0`` itself first). The same word as in :func:`~fokkerplanck.simulate`.
    method : {"auto", "backward_euler", "tr-bdf2", "expm"}
        See Notes. ``"auto"`` picks ``"expm"`` for a time-independent SDE when it is
        cheap (small ``(t_end - t0) ||A||_1``), else ``"tr-bdf2"``.
    dt : float, optional
        Largest time step. Each interval between output times is split into equal
        steps no longer than ``dt`` (they do not grow). Default: the rule in Notes.
    rtol : float
        Target error of the default step rule, relative to the mass of ``p0``
        (ignored when ``dt`` is given and by ``"expm"``).
    t0 : float
        Time of ``p0`` (matters for time-dependent SDEs).
    max_steps : int
        Most steps the default rule may choose; beyond it the step is lengthened and
        a :class:`~fokkerplanck.FokkerPlanckWarning` says so (pass ``dt`` to insist).
    progress : bool
        Show a :mod:`tqdm` progress bar over the steps.
    scheme : str
        Generator scheme, passed to :func:`~fokkerplanck.generator`.
    generator : sparse matrix or callable, optional
        A precomputed generator ``A`` (time-independent SDE), or a callable
        ``t -> A(t)`` (time-dependent SDE), used instead of assembling one (then
        there is no error estimate: ``nan``).
    error_estimate : bool
        Also evolve on a partner grid with half the cells per axis and report the
        estimated L1 discretization error of the density at every output time,
        :attr:`Evolution.error_estimate` (default; ``False`` skips that run).
    backend, gather : {"scipy", "petsc"}, {"all", "root", "none"}
        ``"petsc"``: one run over ``mpiexec -n K`` processes, each holding the rows of
        its slab of axis 0, with checked GMRES solves that escalate to MUMPS's LU (docs:
        "Beyond one machine"); ``"expm"`` is not available there and ``"auto"`` means
        ``"tr-bdf2"``. ``gather``: who gets the whole densities (``"root"``:
        process 0; ``"none"``: every process returns its slab of axis 0).

    Returns
    -------
    Evolution
        ``t``, ``density`` ``(n_t, *grid.shape)``, ``mass``, ``error_estimate``
        ``(n_t,)``, ``success``, ``message`` and counters (``n_steps``, ``nlu``,
        ``n_assemble``).

    Raises
    ------
    ValueError
        ``p0`` of the wrong shape, non-finite, with negative values or non-positive
        mass; ``t_eval`` empty, not strictly increasing, non-finite or before ``t0``;
        an unknown ``method``; ``"expm"`` with a time-dependent SDE; ``dt``/``rtol``
        not positive.
    ConvergenceError
        A solve with ``I - c A`` failed its check with every solver (3-D and the PETSc
        backend: docs, "Time evolution", Factorizations).

    Notes
    -----
    Backward Euler keeps every density non-negative for every step; TR-BDF2 is
    second order and L-stable, and both solve with one sparse LU per step length;
    ``"expm"`` is exact in time. The default step makes the estimated global
    time-stepping error of every mode at most ``rtol``, and steps grow
    geometrically once the fast modes have decayed, so any horizon costs a few
    hundred steps. Mass is conserved to round-off when the columns of ``A`` sum to
    zero. The derivations (stability, the step rule, the growth rate ``kappa``, the
    mass correction and the ``"auto"`` rule) are in the module documentation
    (API reference, "Time evolution").

    The error estimate costs one more run with half the cells per axis: +25 % to
    +50 % of the time in 2-D, about twice a (millisecond) 1-D run.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-6, 6)], shape=240)
    >>> sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    >>> ev = fp.evolve(sde, grid, fp.gaussian(grid, mean=2.0, cov=0.1), [0.0, 0.5, 1.0],
    ...                method="tr-bdf2", dt=0.01)
    >>> ev.density.shape
    (3, 240)
    >>> bool(np.allclose(ev.mass, 1.0, rtol=1e-12))
    True
    >>> np.round(ev.mean()[:, 0], 2)   # exact: 2 exp(-t) = 2, 1.213, 0.736
    array([2.  , 1.21, 0.74])

    The L1 error of each density, estimated and exact (the Gaussian
    ``N(2 exp(-t), 0.1 exp(-2t) + (1 - exp(-2t)) / 2)``):

    >>> t = ev.t[-1]
    >>> exact = fp.gaussian(grid, 2 * np.exp(-t), 0.1 * np.exp(-2 * t) + (1 - np.exp(-2 * t)) / 2)
    >>> true = grid.integrate(np.abs(ev.density[-1] - exact))
    >>> bool(true / 3 < ev.error_estimate[-1] < 3 * true)
    True
    """
    algebra = _algebra(backend, gather, grid, method, generator)
    if error_estimate and gather != "all":   # a process holding a slab cannot compare whole densities
        warn("evolve: error_estimate needs gather='all' (it compares whole densities); it is nan here.")
        error_estimate = False
    ev = _evolve(sde, grid, p0, t_eval, method, dt, rtol, t0, max_steps, progress, scheme, generator, algebra)
    if not error_estimate or generator is not None:  # no generator on a partner grid
        return ev if not error_estimate else replace(ev, error_estimate=np.full(len(ev.t), math.nan))
    return _estimated(ev, sde, p0, dt, rtol, float(t0), max_steps, scheme, algebra)


def _estimated(ev: Evolution, sde: SDE, p0: Any, dt: float | None, rtol: float, t0: float, max_steps: int,
               scheme: str, algebra: Algebra) -> Evolution:
    """``ev`` with its error estimate: the same run on the partner grid (same method)."""
    grid = ev.grid
    est = estimate_error(
        lambda g: _evolve(sde, g, _transfer(np.asarray(p0, dtype=float), grid, g), ev.t, ev.method, dt, rtol,
                          t0, max_steps, False, scheme, None, algebra.on(g)).density,
        grid, order=ORDER.get(scheme, 2), value=ev.density, partner=partner_grid(grid, coarsen=True))
    return replace(ev, error_estimate=np.asarray(est.error, dtype=float) * np.ones(len(ev.t)))


def _algebra(backend: str, gather: str, grid: Grid, method: str, generator: Any) -> Algebra:
    """The algebra of ``backend`` (:data:`BACKENDS`), after checking the arguments."""
    if backend == "scipy":
        if gather != "all":
            raise ValueError(f"`gather={gather!r}` applies to backend='petsc'; the scipy backend returns the "
                             "whole densities. Leave `gather` out.")
        return Algebra(grid)
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be 'scipy' or one of {sorted(BACKENDS)}, got {backend!r}.")
    if method == "expm":
        raise ValueError(f"backend={backend!r} steps with sparse LU: `method` must be 'auto', 'tr-bdf2' or "
                         "'backward_euler' (expm_multiply needs the whole matrix on one process).")
    if generator is not None:
        raise ValueError(f"backend={backend!r} assembles the rows of every process itself: leave `generator` out.")
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid, got {type(grid).__name__}.")
    return BACKENDS[backend](grid, gather)


def _transfer(p: np.ndarray, grid: Grid, partner: Grid) -> np.ndarray:
    """``p`` on ``partner``'s centres (six-point Lagrange interpolation, as the error
    estimate compares fields), negatives of the interpolation clipped, same mass."""
    q = np.maximum(to_grid(p, grid, partner), 0.0)
    mass = partner.integrate(q)
    return q * (grid.integrate(p) / mass) if mass > 0 else q


def _evolve(sde: SDE, grid: Grid, p0: Any, t_eval: Any, method: str, dt: float | None, rtol: float,
            t0: float, max_steps: int, progress: bool, scheme: str, generator: Any, algebra: Algebra
            ) -> Evolution:
    """:func:`evolve` without the error estimate; releases the algebra's objects after."""
    try:
        return _run(sde, grid, p0, t_eval, method, dt, rtol, t0, max_steps, progress, scheme, generator, algebra)
    finally:
        algebra.close()


def _run(sde: SDE, grid: Grid, p0: Any, t_eval: Any, method: str, dt: float | None, rtol: float,
         t0: float, max_steps: int, progress: bool, scheme: str, generator: Any, algebra: Algebra) -> Evolution:
    """The body of :func:`_evolve`."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    p, t_out, t0, rtol, dt, max_steps = algebra.agree(_inputs, sde, grid, p0, t_eval, method, dt, rtol, t0,
                                                      max_steps)
    time_dependent = bool(sde.time_dependent)
    gen = _Generator(sde, algebra, scheme, generator)
    A0 = gen(t0)
    v = algebra.local(p)
    norm1 = algebra.norm1(A0)
    span = float(t_out[-1]) - t0
    method = _choose_method(method, A0, v, t_out, t0, dt, rtol, time_dependent, norm1, algebra)
    progress = progress and algebra.root
    if method == "expm":
        return _checked(_run_expm(gen, A0, v, t_out, t0, progress, algebra, norm1), gen, t0)
    # no growth for a time-dependent SDE (its forcing sets its own time scale) or a given dt
    kappa = growth_rate(method, rtol) if not time_dependent and dt is None else None
    if span == 0:
        h = math.inf
    elif dt is None:
        h, kappa = _default_step(method, A0, v, t_out, t0, rtol, kappa, max_steps, algebra)
    else:
        h = dt
    plan = _plan(t_out, t0, h, kappa) if span > 0 else [[] for _ in t_out]
    return _checked(_run_steps(gen, A0, v, t_out, plan, method, time_dependent, progress, algebra, norm1),
                    gen, t0)


def _inputs(sde: SDE, grid: Grid, p0: Any, t_eval: Any, method: str, dt: float | None, rtol: float, t0: float,
            max_steps: int) -> tuple[np.ndarray, np.ndarray, float, float, float | None, int]:
    """The checked ``(p0, t_eval, t0, rtol, dt, max_steps)`` of :func:`evolve`."""
    check_problem(sde, grid)
    p = _check_p0(p0, grid)
    t_out = _check_times(t_eval, float(t0))
    check_memory(8.0 * t_out.size * (grid.size + 1),
                 f"Storing the density at {t_out.size} times (`t_eval`) on {grid.size} cells",
                 "ask for fewer output times in `t_eval`, or a coarser grid.")
    rtol = _check_positive("rtol", rtol)
    if dt is not None:
        dt = _check_positive("dt", dt)
    max_steps = positive_int("max_steps", max_steps)
    if method == "expm" and sde.time_dependent:
        raise ValueError(
            "`method='expm'` needs a time-independent SDE (exp(tA) is the exact solution "
            "only for constant A); use method='tr-bdf2' (second order) or 'backward_euler'."
        )
    return p, t_out, float(t0), rtol, dt, max_steps


def _first_output(t_out: np.ndarray, t0: float) -> float:
    """Elapsed time to the first output time after ``t0`` (0 when there is none)."""
    later = t_out[t_out > t0]
    return float(later[0] - t0) if later.size else 0.0


def _count(t_out: np.ndarray, t0: float, h: float, kappa: float | None) -> int:
    """Steps of the plan for step ``h`` and growth ``kappa``."""
    return sum(n for runs in _plan(t_out, t0, h, kappa) for n, _ in runs)


def _choose_method(method: str, A0: Any, v: np.ndarray, t_out: np.ndarray, t0: float, dt: float | None,
                   rtol: float, time_dependent: bool, norm1: float, algebra: Algebra) -> str:
    """Resolve ``"auto"`` (module docstring, Details) and send an unaffordable
    ``"expm"`` to TR-BDF2 with a warning."""
    span = float(t_out[-1]) - t0
    size = algebra.grid.size
    if method == "auto":
        if not algebra.expm:
            method = "tr-bdf2"
        elif time_dependent or span == 0:
            method = "tr-bdf2" if span > 0 else "expm"
        else:
            h = dt if dt is not None else default_dt("tr-bdf2", _fast_rate(A0, v, algebra),
                                                     _first_output(t_out, t0), rtol)
            n_tr = _count(t_out, t0, min(h, span), growth_rate("tr-bdf2", rtol) if dt is None else None)
            method = "expm" if span * norm1 <= _EXPM_COST_RATIO * n_tr else "tr-bdf2"
    if method == "expm" and span * norm1 > _EXPM_MAX_COST and size > _DENSE_EXPM:
        warn(
            f"method='expm' to t - t0 = {span:.3g} would cost ~{span * norm1:.2g} products "
            f"with the generator (||A||_1 = {norm1:.3g}) on {size} cells; using "
            "method='tr-bdf2' (steps that grow with t) instead.")
        method = "tr-bdf2"
    return method


def _default_step(method: str, A0: Any, v: np.ndarray, t_out: np.ndarray, t0: float, rtol: float,
                  kappa: float | None, max_steps: int, algebra: Algebra) -> tuple[float, float | None]:
    """``(h, kappa)`` of the default step rule, lengthened (with a warning) when it would
    take more than ``max_steps`` steps."""
    span = float(t_out[-1]) - t0
    h = min(default_dt(method, _fast_rate(A0, v, algebra), _first_output(t_out, t0), rtol), span)
    n = _count(t_out, t0, h, kappa)
    if n <= max_steps:
        return h, kappa
    h_new = max(h, span / max_steps)
    k_new = None if kappa is None else kappa * h_new / h
    while _count(t_out, t0, h_new, k_new) > max_steps:
        h_new *= 1.1
        k_new = None if k_new is None else k_new * 1.1
    warn(
        f"the default step rule asks for {n} steps (dt={h:.3g}) to reach rtol={rtol:g}; "
        f"taking at most `max_steps={max_steps}` (dt={h_new:.3g}) instead. Pass a "
        "larger `max_steps`, an explicit `dt`, or a larger `rtol`.")
    return h_new, k_new


def _checked(ev: Evolution, gen: _Generator, t0: float) -> Evolution:
    """Run the resolution check on where the output densities after ``t0`` live (each
    normalised to unit mass, summed). A distributed run checks the gathered densities
    without the Peclet numbers (each process holds only its slab's fluxes)."""
    if ev.grid.shape != gen.algebra.grid.shape:
        return ev   # a slab: the whole densities are elsewhere
    later = ev.density[ev.t > t0]
    mass = later.reshape(len(later), -1).sum(axis=1)
    keep = mass > 0
    if keep.any():
        scale = (1.0 / mass[keep]).reshape((-1,) + (1,) * ev.grid.ndim)
        fl = None if gen.algebra.slabs else gen.fluxes
        check_resolution(fl, (later[keep] * scale).sum(axis=0), "evolve", grid=ev.grid)
    return ev


def _finish(algebra: Algebra, t_out: np.ndarray, out: np.ndarray, method: str, n_steps: int,
            nlu: int, n_assemble: int, dt: float | None) -> Evolution:
    """The :class:`Evolution` of the densities ``out`` ``(n_t, own cells)``."""
    grid = algebra.grid
    mass = np.array([algebra.total(float(row.sum())) for row in out]) * grid.cell_volume
    top = algebra.largest(float(np.abs(out).max(initial=0.0)))
    low = -algebra.largest(float(-out.min(initial=math.inf)))
    if low < -1e-6 * top:
        warn(
            f"`{method}` produced negative densities (min {low:.3g}, max {top:.3g}); the "
            "step is too long for a positive solution. Use method='backward_euler' "
            "(positive for every step) or a smaller `dt`.")
    density, where = algebra.collect(out)
    return Evolution(
        t=t_out.copy(), density=density, mass=mass, method=method, n_steps=n_steps,
        nlu=nlu, n_assemble=n_assemble, dt=dt, grid=where, error_estimate=np.full(len(t_out), math.nan),
        message=algebra.describe(),
    )


def _conserves(A: Any, algebra: Algebra, norm1: float) -> bool:
    """Whether the columns of ``A`` sum to zero (no absorbing side, no killing)."""
    if algebra.grid.has_absorbing:
        return False
    return algebra.column_sums(A) <= 1e-10 * max(norm1, 1e-300)


def _run_expm(gen: _Generator, A: Any, v: np.ndarray, t_out: np.ndarray, t0: float,
              progress: bool, algebra: Algebra, norm1: float) -> Evolution:
    out = np.empty((len(t_out), v.size))
    mass = float(v.sum())
    conserves = _conserves(A, algebra, norm1)
    t_prev = t0
    trace = float(A.diagonal().sum())
    dense = None
    bar = progress_bar(len(t_out), progress, "evolve (expm)")
    try:
        for k, tk in enumerate(t_out):
            tau = float(tk - t_prev)
            if tau > 0:
                if tau * norm1 > _EXPM_MAX_COST:  # dense scaling and squaring: O(n^3 log(tau ||A||))
                    if dense is None:
                        dense = A.toarray()
                    v = scipy.linalg.expm(tau * dense) @ v
                else:
                    v = scipy.sparse.linalg.expm_multiply(tau * A, v, traceA=tau * trace)
                if conserves:  # round-off correction (module docstring, Details: Mass)
                    v = v * (mass / v.sum())
            out[k] = v
            t_prev = float(tk)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return _finish(algebra, t_out, out, "expm", 0, 0, gen.n_assemble, None)


class _Factors:
    """The factorizations of ``I - c A`` of a time-independent run, by ``(euler, c)``:
    the last ``algebra.cache`` kept (a uniform ``t_eval`` shares one)."""

    def __init__(self, algebra: Algebra) -> None:
        self.algebra = algebra
        self.cache: dict[tuple[bool, float], Any] = {}
        self.count = 0

    def get(self, A: Any, c: float, euler: bool) -> Any:
        key = (euler, float(f"{c:.12g}"))
        lu = self.cache.get(key)
        if lu is None:
            lu = self.new(A, c)
            if len(self.cache) >= self.algebra.cache:
                self.algebra.free(self.cache.pop(next(iter(self.cache))))
            self.cache[key] = lu
        return lu

    def new(self, A: Any, c: float) -> Any:
        """A factorization outside the cache (a time-dependent generator)."""
        self.count += 1
        return self.algebra.factor(A, c)

    def clear(self) -> None:
        for lu in self.cache.values():
            self.algebra.free(lu)
        self.cache.clear()


def _run_steps(gen: _Generator, A0: Any, v: np.ndarray, t_out: np.ndarray,
               plan: list[list[tuple[int, float]]], method: str, time_dependent: bool, progress: bool,
               algebra: Algebra, norm1: float) -> Evolution:
    out = np.empty((len(t_out), v.size))
    g = GAMMA
    c_old = (1.0 - g) ** 2 / (g * (2.0 - g))
    c_star = 1.0 / (g * (2.0 - g))
    n_total = sum(n for runs in plan for n, _ in runs)
    # TR-BDF2 steps beyond the cap go to backward Euler (see _TR_BDF2_CAP)
    h_cap = _TR_BDF2_CAP / norm1 if norm1 > 0 else math.inf
    conserves = not time_dependent and _conserves(A0, algebra, norm1)
    mass = algebra.total(float(v.sum()))

    factors = _Factors(algebra)
    lu: Any = None
    v = v.copy()
    A_now = A0  # A(t) at the current time (time-dependent: reused as the next A_n)
    bar = progress_bar(n_total, progress, f"evolve ({method})")
    t = _start_time(t_out, plan)
    try:
        for k, runs in enumerate(plan):
            steps = [h for n, h in runs for _ in range(n)]
            for i, h in enumerate(steps):
                t_next = t + h if i < len(steps) - 1 else float(t_out[k])
                euler = method == "backward_euler" or h > h_cap
                c = min(h, _BE_CAP / norm1) if euler and norm1 > 0 else (h if euler else 0.5 * g * h)
                if not time_dependent:
                    lu = factors.get(A0, c, euler)
                if euler:
                    if time_dependent:
                        A_now = gen(t_next)
                        lu = factors.new(A_now, c)
                    v = lu.solve(v)
                    if time_dependent:
                        algebra.free(lu)
                else:
                    if time_dependent:
                        rhs = v + c * (A_now @ v)
                        lu_g = factors.new(gen(t + g * h), c)
                        star = lu_g.solve(rhs)
                        algebra.free(lu_g)
                        A_now = gen(t_next)
                        lu = factors.new(A_now, c)
                        v = lu.solve(c_star * star - c_old * v)
                        algebra.free(lu)
                    else:
                        star = lu.solve(v + c * (A0 @ v))
                        v = lu.solve(c_star * star - c_old * v)
                if conserves:  # round-off correction (module docstring, Details: Mass)
                    v *= mass / algebra.total(float(v.sum()))
                t = t_next
                if bar is not None:
                    bar.update(1)
            t = float(t_out[k])
            out[k] = v
    finally:
        factors.clear()
        if bar is not None:
            bar.close()
    h_used = max((h for runs in plan for _, h in runs), default=None)
    return _finish(algebra, t_out, out, method, n_total, factors.count, gen.n_assemble, h_used)


def _start_time(t_out: np.ndarray, plan: list[list[tuple[int, float]]]) -> float:
    """``t0``: the first output time minus the steps before it."""
    return float(t_out[0]) - float(sum(n * h for n, h in plan[0])) if plan and plan[0] else float(t_out[0])
