"""Solves with ``I - c A``, the matrix of every implicit step of :func:`~fokkerplanck.evolve`.

``A`` is a generator (Metzler, column sums zero or negative) and ``c > 0``, so
``I - c A`` is a non-singular M-matrix, strongly diagonally dominant when ``c`` is
small against the fast rates, and near singular when ``c`` is far beyond the
relaxation time. No one solver suits the whole range, so a :class:`StagedSolver` tries
the stages of its algebra in turn (``Algebra.stages``: cheap iterative ones first, a
sparse LU last) and keeps, for its step length, the first that passes the check:

- **The check.** An iterative answer is accepted when its L1 residual is at most
  :data:`SOLVE_RTOL` of ``||b||_1``. For a generator of a monotone scheme (Metzler,
  column sums <= 0) ``(I - c A)^{-1}`` is non-negative with column sums <= 1, so
  ``||(I - c A)^{-1}||_1 <= 1`` and the residual bounds the L1 error of the step itself,
  whatever ``c``. (A normwise backward error is not enough: its denominator grows with
  ``c ||A||_1``, and on a metastable problem a Jacobi answer that had moved no mass
  between the wells passed it at ``c = 1e8`` with an L1 error of 0.97.) A direct answer
  cannot meet that bound when ``c ||A||_1`` approaches ``1/eps`` (the backward-Euler cap),
  and need not: it is checked by its normwise backward error in L1,
  ``||b - (I - c A) x||_1 / (||b||_1 + (1 + c ||A||_1) ||x||_1) <= SOLVE_RTOL`` -- on the
  PETSc backend; serially SuperLU is not checked (its backward error is round-off times
  its growth, which diagonal dominance bounds). Either way the stage's own stopping
  rule does not decide. A solve that fails escalates its step length to the next stage
  (named in the run's message; later step lengths start there) or, after the last,
  raises :class:`~fokkerplanck.ConvergenceError`; a non-finite answer always fails.
- **Mass.** An iterative answer balances total mass only to its tolerance, and those
  errors add up over steps; it is scaled (a change within the tolerance) to satisfy the
  balance of total mass, ``(1 - c 1^T A) x = 1^T b``, exactly, as an LU answer does.
- **Serial stages** (3-D and more; in 1-D and 2-D SuperLU alone, whose fill is small):
  GMRES with Jacobi (:func:`jacobi_gmres`), GMRES with pyamg's Ruge–Stüben AMG
  (:func:`amg_gmres`; skipped where pyamg is not installed), SuperLU. Measured on a 3-D rotating OU at 32^3 (one solve,
  rtol 1e-12): Jacobi 7 / 22 / 106 iterations, 0.01 / 0.04 / 0.4 s at
  ``c = 0.005 / 0.05 / 0.5``; AMG 0.2–0.4 s (setup 0.13 s) up to ``c = 5``; at
  ``c = 500`` AMG needs 311 iterations (4 s). SuperLU's factorization alone took about
  10 s there and 1.9 GB.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._util.errors import ConvergenceError
from .._util.linalg import factorize
from .vcycle import v_cycle

#: Largest normwise backward error (L1) of a checked solve (module docstring).
SOLVE_RTOL = 1e-9

#: GMRES of the serial iterative stages: restart length, relative tolerance, and most
#: restarts (Jacobi: one cycle, it is the cheap first try; AMG: five).
GMRES_RESTART, GMRES_RTOL = 60, 1e-12
JACOBI_CYCLES, AMG_CYCLES = 1, 5


class StagedSolver:
    """Solves ``(I - c A) x = b`` with the first of ``algebra.stages`` that passes the
    check (module docstring); ``solve(b)`` returns ``x``, ``free()`` releases it. It
    starts at the stage the run last needed (``algebra.start_stage``): a longer step is
    no easier, and a time-dependent run would otherwise escalate at every step."""

    def __init__(self, algebra: Any, A: Any, c: float) -> None:
        self.algebra, self.A, self.c = algebra, A, c
        self.stage = min(algebra.start_stage, len(algebra.stages) - 1)
        self.impl = algebra.stage(A, c, algebra.stages[self.stage])
        self._columns: np.ndarray | None = None
        self._norm1: float | None = None

    def _mass_row(self) -> np.ndarray:
        """``1 - c (column sums of A)`` on this process's cells."""
        if self._columns is None:
            self._columns = 1.0 - self.c * self.algebra.column_vector(self.A)
        return self._columns

    def _error(self, b: np.ndarray, x: np.ndarray) -> float:
        """The checked quantity of the module docstring: the relative L1 residual of an
        iterative answer, the normwise backward error of a direct one (inf if not finite)."""
        a = self.algebra
        residual = a.total(float(np.abs(b - x + self.c * (self.A @ x)).sum()))
        size = a.total(float(np.abs(b).sum()))
        if self.impl.direct:
            if self._norm1 is None:
                self._norm1 = a.norm1(self.A)
            size += (1.0 + self.c * self._norm1) * a.total(float(np.abs(x).sum()))
        error = residual / size if size > 0 else (0.0 if residual == 0 else math.inf)
        return error if math.isfinite(error) else math.inf

    def solve(self, b: np.ndarray) -> np.ndarray:
        a = self.algebra
        while True:
            x, converged = self.impl.solve(b)
            a.solves += 1
            if self.impl.direct and not a.check_direct:
                return x
            if not self.impl.direct:
                balance = a.total(float(self._mass_row() @ x))
                if balance > 0:
                    x = x * (a.total(float(b.sum())) / balance)
            error = self._error(b, x)
            if error <= SOLVE_RTOL:   # the check, whatever the stage's own stopping rule said
                return x
            names = a.stages
            what = "backward error" if self.impl.direct else "relative L1 residual"
            if self.stage == len(names) - 1:
                raise ConvergenceError(
                    f"evolve: a solve with I - {self.c:.3g} A left the {what} {error:.1e} > {SOLVE_RTOL:g} "
                    f"after every solver {names} (converged: {converged}){a.hint}.", None)
            a.escalations.append(f"{names[self.stage]} -> {names[self.stage + 1]} at c = {self.c:.3g} "
                                 f"({what} {error:.1e}, converged: {converged})")
            self.impl.free()
            self.stage += 1
            a.start_stage = max(a.start_stage, self.stage)
            self.impl = a.stage(self.A, self.c, names[self.stage])

    def free(self) -> None:
        self.impl.free()


class _Direct:
    """SuperLU of ``I - c A``."""

    direct = True

    def __init__(self, M: sp.spmatrix) -> None:
        self.lu = factorize(M)

    def solve(self, b: np.ndarray) -> tuple[np.ndarray, bool]:
        return self.lu.solve(b), True

    def free(self) -> None:
        self.lu = None


class _Krylov:
    """GMRES on ``M`` with a preconditioner, from the guess ``b``; counts iterations."""

    direct = False

    def __init__(self, algebra: Any, M: sp.csr_matrix, precondition: Any, cycles: int) -> None:
        self.algebra, self.M, self.precondition, self.cycles = algebra, M, precondition, cycles

    def solve(self, b: np.ndarray) -> tuple[np.ndarray, bool]:
        count = [0]

        def step(_: Any) -> None:
            count[0] += 1

        x, info = spla.gmres(self.M, b, x0=b.copy(), M=self.precondition, rtol=GMRES_RTOL, atol=0.0,
                             restart=GMRES_RESTART, maxiter=self.cycles, callback=step, callback_type="pr_norm")
        self.algebra.iterations += count[0]
        return x, info == 0

    def free(self) -> None:
        self.precondition = None


def shifted(A: sp.spmatrix, c: float) -> sp.csr_matrix:
    """``I - c A`` in CSR."""
    return sp.csr_matrix(sp.identity(A.shape[0], format="csr") - c * A)


def direct(A: sp.spmatrix, c: float) -> _Direct:
    """The serial direct stage: SuperLU (``MMD_AT_PLUS_A`` ordering)."""
    return _Direct(shifted(A, c).tocsc())


def jacobi_gmres(algebra: Any, A: sp.spmatrix, c: float) -> _Krylov:
    """The first serial iterative stage: GMRES preconditioned by the inverse diagonal."""
    M = shifted(A, c)
    d = 1.0 / M.diagonal()
    return _Krylov(algebra, M, spla.LinearOperator(M.shape, lambda v: d * v, dtype=float), JACOBI_CYCLES)


def amg_gmres(algebra: Any, A: sp.spmatrix, c: float) -> _Krylov:
    """The second serial iterative stage: GMRES preconditioned by a V-cycle of pyamg's
    Ruge–Stüben AMG on ``I - c A``."""
    import pyamg

    M = shifted(A, c)
    ml = pyamg.ruge_stuben_solver(M, strength=("classical", {"theta": 0.25}))
    return _Krylov(algebra, M, v_cycle(ml), AMG_CYCLES)
