"""Time evolution spread over MPI processes: :func:`fokkerplanck.evolve` with ``backend="petsc"``.

:func:`~fokkerplanck.evolve` runs every step through a few operations of an
:class:`~fokkerplanck._solvers.evolve.Algebra` (products with the generator, solves with
``I - c A``, sums and maxima). This module supplies them over PETSc, so the step rule,
the plan of growing steps, TR-BDF2, backward Euler and the mass correction are the
serial code, unchanged:

- A vector is the density on the process's own slab of planes of axis 0
  (:func:`~fokkerplanck._discretization.slab.partition`), a generator the rows of those
  cells (:func:`~fokkerplanck._discretization.slab.slab`: assembled from the slab and a
  halo; no process holds the whole matrix), in a distributed PETSc matrix.
- ``I - c A`` gets one solver per step length (cached as serially; a time-dependent SDE
  assembles and sets one up at every stage time): GMRES with block-Jacobi ILU(0) first,
  cheap where steps are short; a solve that misses the tolerance escalates that step
  length's solver to GMRES with BoomerAMG, then to MUMPS's LU (:data:`STAGES`, with the
  measurements behind the order). PETSc options under the prefix ``fp_`` override each
  stage's choices.
- Every solve is checked as :mod:`~fokkerplanck._solvers.shifted` says (an iterative
  answer by its L1 residual, a bound on its error; MUMPS's by its backward error), else
  :class:`~fokkerplanck.ConvergenceError` after the last stage; ``Evolution.message``
  counts the solves and iterations and names every escalation.
- Sums and maxima run over processes, so every process takes the same steps.
- The densities come back gathered on every process, on process 0, or as each
  process's slab (``gather=``), as for the stationary solve.
- The error estimate's partner grid (half the planes) runs on the same processes; where
  it has fewer than three planes per process, the processes beyond one per three planes
  own no cell of it.

``method="expm"`` is not available (``expm_multiply`` needs the whole matrix).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._discretization.slab import partition, slab
from .._model.grid import Grid
from .._model.sde import SDE
from .distributed import (
    GATHERS,
    OPTIONS_PREFIX,
    Comm,
    direct,
    gather_vector,
    petsc,
    set_boomeramg_options,
    slab_grid,
    together,
)
from .evolve import BACKENDS, Algebra

#: The solvers of ``I - c A``, tried in this order until one meets the check of
#: :mod:`~fokkerplanck._solvers.shifted`: GMRES with block-Jacobi ILU(0), GMRES with hypre's BoomerAMG
#: (:data:`~fokkerplanck._solvers.distributed.BOOMERAMG_OPTIONS`), MUMPS's LU. Measured on
#: the 3-D rotating OU (TR-BDF2 to t = 2, 51 steps, 5 step lengths, 2 processes): at
#: 48^3, 4.3 s and 0.32 GB per process with ILU, 19.5 s and 0.38 GB with BoomerAMG,
#: 45 s and 3.2 GB with MUMPS; at 32^3 the serial scipy run took 52 s and 1.9 GB.
STAGES = ("ilu", "amg", "lu")

#: GMRES of the iterative stages: restart, relative tolerance, most iterations.
ITERATIVE_RESTART, ITERATIVE_RTOL, ITERATIVE_MAXIT = 60, 1e-12, 300


class _Rows:
    """The owned rows of a generator as a distributed PETSc matrix; ``A @ v`` on owned parts."""

    def __init__(self, algebra: PetscAlgebra, rows: sp.csr_matrix) -> None:
        self.algebra, self.rows = algebra, rows
        self.mat = algebra.matrix(rows)
        self.norm1 = float(self.mat.norm(algebra.PETSc.NormType.NORM_1))

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        a = self.algebra
        a.x.getArray()[:] = v
        self.mat.mult(a.x, a.y)
        return a.y.getArray().copy()


class _Stage:
    """One stage of :data:`STAGES` for ``I - c A``: a PETSc KSP (options under ``fp_``
    override its choices); the check and escalation are the serial
    :class:`~fokkerplanck._solvers.shifted.StagedSolver`'s."""

    def __init__(self, algebra: PetscAlgebra, A: _Rows, c: float, name: str) -> None:
        PETSc = algebra.PETSc
        self.algebra, self.direct = algebra, name == "lu"
        eye = sp.csr_matrix((np.ones(algebra.m), (np.arange(algebra.m), algebra.rstart + np.arange(algebra.m))),
                            shape=A.rows.shape)
        M = sp.csr_matrix(eye - c * A.rows)
        M.sort_indices()
        self.mat = algebra.matrix(M)
        ksp = self.ksp = PETSc.KSP().create(comm=algebra.comm.comm)
        ksp.setOptionsPrefix(OPTIONS_PREFIX)
        ksp.setOperators(self.mat)
        if self.direct:
            direct(PETSc, ksp)
            return
        ksp.setType("gmres")
        ksp.setGMRESRestart(ITERATIVE_RESTART)
        ksp.setTolerances(rtol=ITERATIVE_RTOL, atol=0.0, max_it=ITERATIVE_MAXIT)
        pc = ksp.getPC()
        if name == "ilu":
            pc.setType("bjacobi")   # ILU(0) of every process's block: I - c A is an M-matrix
        else:
            pc.setType("hypre")
            pc.setHYPREType("boomeramg")
            set_boomeramg_options(PETSc)
        ksp.setFromOptions()
        ksp.setUp()

    def solve(self, b: np.ndarray) -> tuple[np.ndarray, bool]:
        a = self.algebra
        a.x.getArray()[:] = b   # the algebra's two work vectors: right side and answer
        if self.ksp.getType() != "preonly":   # an iterative solver starts from b (a short step's answer)
            self.ksp.setInitialGuessNonzero(True)
            a.y.getArray()[:] = b
        self.ksp.solve(a.x, a.y)
        a.iterations += self.ksp.getIterationNumber()
        return a.y.getArray().copy(), self.ksp.getConvergedReason() >= 0

    def free(self) -> None:
        self.ksp.destroy()
        self.mat.destroy()


class PetscAlgebra(Algebra):
    """:class:`~fokkerplanck._solvers.evolve.Algebra` over the MPI processes, each owning
    the cells of its slab of axis 0 (module docstring)."""

    expm = False
    slabs = True
    check_direct = True
    #: Solvers kept: each holds ``I - c A`` and its preconditioner or factor, as large as
    #: the generator or larger (a growing-step plan uses each step length once in a row).
    cache = 2

    def __init__(self, grid: Grid, gather: str = "all", *, idle: bool = False) -> None:
        if gather not in GATHERS:
            raise ValueError(f"`gather` must be one of {GATHERS}, got {gather!r}.")
        super().__init__(grid)
        self.PETSc = petsc()
        self.comm = Comm(self.PETSc)
        self.gather = gather
        self.root = self.comm.rank == 0
        # idle=True (the error estimate's coarser partner): processes beyond one per three
        # planes own no cell rather than refuse
        n0, size = grid.shape[0], self.comm.size
        active = max(1, min(size, n0 // 3)) if idle else size
        slabs = partition(n0, active) + [(n0, n0)] * (size - active)
        self.start, self.stop = slabs[self.comm.rank]
        plane = grid.size // grid.shape[0]
        self.rstart, self.m = self.start * plane, (self.stop - self.start) * plane
        self.x = self.PETSc.Vec().createMPI((self.m, grid.size), comm=self.comm.comm)
        self.y = self.x.duplicate()
        self.hint = f"; with solvers set through PETSc options (prefix {OPTIONS_PREFIX}), tighten -{OPTIONS_PREFIX}ksp_rtol"

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES

    def matrix(self, rows: sp.csr_matrix) -> Any:
        """The distributed PETSc matrix whose rows here are ``rows`` (sorted CSR)."""
        PETSc = self.PETSc
        n = (self.m, self.grid.size)
        M = PETSc.Mat().createAIJ(size=(n, n), comm=self.comm.comm,
                                  csr=(rows.indptr.astype(PETSc.IntType), rows.indices.astype(PETSc.IntType),
                                       rows.data))
        M.assemble()
        return M

    def agree(self, fn: Any, *args: Any) -> Any:
        return together(self.comm, fn, *args)

    def close(self) -> None:
        self.x.destroy()
        self.y.destroy()
        self.PETSc.garbage_cleanup(self.comm.comm)

    def assemble(self, sde: SDE, scheme: str, t: float | None) -> tuple[Any, Any]:
        # petsc4py parks the objects Python drops (the generator and solvers of earlier
        # stage times) until this collective call frees them
        self.PETSc.garbage_cleanup(self.comm.comm)
        def owned_rows() -> tuple[sp.csr_matrix, Any]:
            if self.m == 0:   # an idle process
                return sp.csr_matrix((0, self.grid.size)), None
            sl = slab(sde, self.grid, self.start, self.stop, scheme=scheme, t=t)
            return sl.rows(), sl.fluxes

        rows, fl = together(self.comm, owned_rows)
        rows.sort_indices()
        return _Rows(self, rows), fl

    def operator(self, A: Any, t: float | None) -> Any:
        return A

    def local(self, p: np.ndarray) -> np.ndarray:
        return p.ravel()[self.rstart:self.rstart + self.m].copy()

    def stage(self, A: Any, c: float, name: str) -> Any:
        return together(self.comm, _Stage, self, A, c, name)

    def column_vector(self, A: Any) -> np.ndarray:
        self.x.set(1.0)
        A.mat.multTranspose(self.x, self.y)
        return self.y.getArray().copy()

    def total(self, x: float) -> float:
        return self.comm.sum(x)

    def largest(self, x: float) -> float:
        return self.comm.max(x)

    def norm1(self, A: Any) -> float:
        return A.norm1

    def column_sums(self, A: Any) -> float:
        self.x.set(1.0)
        A.mat.multTranspose(self.x, self.y)
        return float(self.y.norm(self.PETSc.NormType.NORM_INFINITY))

    def collect(self, out: np.ndarray) -> tuple[np.ndarray, Grid]:
        if self.gather != "none":
            rows = [gather_vector(self.comm, self.x, row, root_only=self.gather == "root") for row in out]
            whole = [row for row in rows if row is not None]
            if len(whole) == len(out):
                return np.stack(whole).reshape((len(out),) + self.grid.shape), self.grid
        own = slab_grid(self.grid, self.start, self.stop)
        return out.reshape((len(out),) + own.shape), own

    def describe(self) -> str:
        return f"{self.comm.size} MPI processes; PETSc: " + super().describe()

    def on(self, grid: Grid) -> Algebra:
        return PetscAlgebra(grid, "all", idle=True)


BACKENDS["petsc"] = PetscAlgebra
