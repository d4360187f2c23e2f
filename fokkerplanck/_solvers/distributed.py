"""One stationary solve spread over MPI processes: the PETSc backend.

``fp.stationary(sde, grid, backend="petsc")``, run as ``mpiexec -n K python script.py``
(the same script that runs serially), splits axis 0 of the grid into ``K`` slabs of
planes. Every process assembles only the rows of its own cells, from its slab and a
halo of a few planes (``fokkerplanck/_discretization/slab.py``): no process ever holds
the whole matrix. The rows go into one distributed PETSc matrix (``MPIAIJ``), pinned at
one cell like the serial LU path, and MUMPS factorizes it in parallel.

The answer is certified the way the serial iterative solvers are: the componentwise
balance certificate (:func:`~fokkerplanck.stationary_certificate`) of every owned cell,
computed by its process from its slab (the halo completes every owned cell's inflow and
outflow), then the largest over processes. What this backend cannot certify is the
split of mass between metastable regions, which the serial default gets from GTH's
subtraction-free elimination (or LU's condition estimate): there is no distributed GTH
or condition estimate here, and the message says so.

The default conductance ``"split"`` runs the same fixed point as the serial solver
(:data:`~fokkerplanck._solvers.split.SPLIT_RTOL`, at most ``SPLIT_MAX_PASSES``
passes, each a full distributed solve), with the density's halo exchanged between
neighbouring processes before each re-weighting. Where detailed balance holds on every
slab (and axis 0 does not wrap, so no cycle escapes the slabs) the density is
``exp(-psi)``, summed by each slab and stitched across them, with no solve and no pass,
as serially. An error raised on one process is raised on all (``together``), so none
waits forever in a collective operation.

``fp.spectral_gap(sde, grid, backend="petsc")`` assembles the same rows and asks SLEPc
for the eigenvalues nearest zero by shift-invert with MUMPS (:func:`spectral_gap_petsc`).

petsc4py (and slepc4py) are imported only when this backend is asked for: ``pip install
"fokkerplanck[petsc]"`` over a system PETSc and SLEPc (docs: "Beyond one machine").
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._discretization.fluxes import TwoPointFluxes
from .._discretization.slab import Slab, partition, slab
from .._model.grid import Grid
from .._model.sde import SDE
from .._util.errors import ConvergenceError, warn
from .._util.linalg import off_diagonal
from .estimate import ORDER, estimate_error
from .spectral import GAP_BACKENDS
from .split import SPLIT_RTOL, fixed_point, not_converged, split_density
from .stationary import BACKENDS, StationaryResult, balance, certificate, certificate_bound

#: What ``gather=`` accepts: every process gets the whole density, process 0 does
#: (the others their slab), or every process keeps its slab.
GATHERS = ("all", "root", "none")

#: Direct solvers tried in this order (PETSc's names).
FACTOR_SOLVERS = ("mumps", "superlu_dist")

#: ``method="amg"``: GMRES(restart) preconditioned by hypre's BoomerAMG to this relative
#: residual, at most this many iterations (measured: 15 iterations on a 3-D rotating OU).
AMG_RTOL, AMG_RESTART, AMG_MAXIT = 1e-12, 100, 1000

#: Prefix of this backend's PETSc options (``-fp_ksp_rtol``, ``-fp_pc_hypre_...``): the
#: command line or PETSC_OPTIONS tune its solvers, and nothing it sets reaches others.
OPTIONS_PREFIX = "fp_"

#: BoomerAMG's options for 3-D stencils of up to 27 points (PETSc option names, set
#: under :data:`OPTIONS_PREFIX` unless given there). Measured at 96^3 with 2 processes:
#: setup and solve 41 s with hypre's defaults (16 iterations), 18 s with these (46).
BOOMERAMG_OPTIONS = {
    "pc_hypre_boomeramg_strong_threshold": "0.6", "pc_hypre_boomeramg_coarsen_type": "HMIS",
    "pc_hypre_boomeramg_interp_type": "ext+i", "pc_hypre_boomeramg_P_max": "4",
    "pc_hypre_boomeramg_agg_nl": "1",
}


def set_boomeramg_options(PETSc: Any) -> None:
    """:data:`BOOMERAMG_OPTIONS` under this package's prefix (other PETSc solvers of the
    user see none), where the user has not set them."""
    options = PETSc.Options()
    for name, value in BOOMERAMG_OPTIONS.items():
        if not options.hasName(OPTIONS_PREFIX + name):
            options.setValue(OPTIONS_PREFIX + name, value)


def direct(PETSc: Any, ksp: Any) -> str:
    """Make ``ksp`` a parallel LU (the first of :data:`FACTOR_SOLVERS` that this PETSc has),
    set up; PETSc options under the prefix override. Returns the factor solver's name."""
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    for name in FACTOR_SOLVERS:
        try:
            pc.setFactorSolverType(name)
            ksp.setFromOptions()
            ksp.setUp()
        except PETSc.Error:
            continue
        return str(pc.getFactorSolverType())
    raise RuntimeError(f"PETSc has none of the direct solvers {FACTOR_SOLVERS}: build it with MUMPS.")


def petsc() -> Any:
    """The ``petsc4py.PETSc`` module, or an ImportError that says how to install it."""
    try:
        import petsc4py
    except ImportError:
        raise ImportError(
            "backend='petsc' needs petsc4py over a PETSc built with MPI and MUMPS. On Debian/"
            "Ubuntu: apt install libpetsc-real3.18-dev, then PETSC_DIR=/usr/lib/petscdir/petsc3.18/"
            "x86_64-linux-gnu-real pip install --no-build-isolation petsc4py==3.18.5 (see the docs "
            "page 'Beyond one machine')."
        ) from None
    petsc4py.init()
    from petsc4py import PETSc
    return PETSc


class Comm:
    """Rank, size and the few reductions the solve needs, through PETSc alone."""

    def __init__(self, PETSc: Any) -> None:
        self.PETSc = PETSc
        self.comm = PETSc.COMM_WORLD
        self.rank, self.size = self.comm.getRank(), self.comm.getSize()
        self._v = PETSc.Vec().createMPI((1, self.size), comm=self.comm)

    def _reduce(self, value: float) -> Any:
        self._v.getArray()[0] = value
        return self._v

    def sum(self, value: float) -> float:
        return float(self._reduce(value).sum())

    def max(self, value: float) -> float:
        return float(self._reduce(value).max()[1])

    def allgather(self, value: float) -> np.ndarray:
        """Every process's ``value``, in rank order, on every process."""
        PETSc = self.PETSc
        self._v.getArray()[0] = value
        scatter, full = PETSc.Scatter.toAll(self._v)
        scatter.scatter(self._v, full, addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        out = full.getArray().copy()
        scatter.destroy()
        full.destroy()
        return out

    def argmax(self, value: float, where: int) -> int:
        """``where`` of the process with the largest ``value``."""
        best = self.max(value)
        return round(self.max(float(where) if value == best else -1.0))


def together(comm: Comm, fn: Any, *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)`` on every process; if it raises on any, raise on all (a process
    that raised alone would leave the others waiting in the next collective forever)."""
    try:
        out, error = fn(*args, **kw), None
    except Exception as err:  # noqa: BLE001 - re-raised below, on every process
        out, error = None, err
    if comm.max(0.0 if error is None else 1.0) > 0:
        if error is not None:
            raise error
        raise RuntimeError("another MPI process failed (it prints its own error); this one stops too, so that "
                           "none waits forever.")
    return out


class _Distributed:
    """The slab of one process and the PETSc objects that move its density around."""

    def __init__(self, PETSc: Any, comm: Comm, sl: Slab, method: str) -> None:
        self.PETSc, self.comm, self.slab, self.method = PETSc, comm, sl, method
        self.rstart = sl.start * sl.plane
        self.m = (sl.stop - sl.start) * sl.plane
        self.N = sl.grid.size
        self.x = PETSc.Vec().createMPI((self.m, self.N), comm=comm.comm)
        self.local = PETSc.Vec().createSeq(sl.local.size, comm=PETSc.COMM_SELF)
        index = PETSc.IS().createGeneral(sl.global_index.astype(PETSc.IntType), comm=PETSc.COMM_SELF)
        self.halo = PETSc.Scatter().create(self.x, index, self.local, None)
        self.solver = ""
        self.iterations = 0
        self.sweeps = 0
        if method == "amg":
            set_boomeramg_options(PETSc)
        self.failed = ""

    def matrix(self, rows: sp.csr_matrix) -> Any:
        """The distributed PETSc matrix whose rows here are ``rows`` (sorted CSR)."""
        PETSc = self.PETSc
        M = PETSc.Mat().createAIJ(size=((self.m, self.N), (self.m, self.N)), comm=self.comm.comm,
                                  csr=(rows.indptr.astype(PETSc.IntType), rows.indices.astype(PETSc.IntType),
                                       rows.data))
        M.assemble()
        return M

    def solve(self, rows: sp.csr_matrix, pin: int) -> np.ndarray:
        """The owned part of the null vector of the distributed matrix with these rows,
        pinned to 1 at global cell ``pin``."""
        PETSc = self.PETSc
        A = sp.csr_matrix(rows, copy=True)
        A.sort_indices()
        b = self.x.duplicate()
        b.set(0.0)
        if self.rstart <= pin < self.rstart + self.m:
            r = pin - self.rstart
            lo, hi = A.indptr[r], A.indptr[r + 1]
            A.data[lo:hi] = np.where(A.indices[lo:hi] == pin, 1.0, 0.0)
            b.getArray()[r] = 1.0
        M = self.matrix(A)
        ksp = PETSc.KSP().create(comm=self.comm.comm)
        ksp.setOptionsPrefix(OPTIONS_PREFIX)
        ksp.setOperators(M)
        pc = ksp.getPC()
        if self.method == "amg":
            ksp.setType("gmres")
            ksp.setGMRESRestart(AMG_RESTART)
            ksp.setTolerances(rtol=AMG_RTOL, atol=0.0, max_it=AMG_MAXIT)
            pc.setType("hypre")
            pc.setHYPREType("boomeramg")
            ksp.setFromOptions()   # PETSC_OPTIONS / the command line may tune the solver
            self.solver = "GMRES + hypre BoomerAMG"
        else:
            self.solver = f"LU ({direct(PETSc, ksp)})"
        self.x.set(0.0)
        ksp.solve(b, self.x)
        self.iterations += ksp.getIterationNumber()
        if ksp.getConvergedReason() < 0:
            self.failed = f"{self.solver} stopped after {ksp.getIterationNumber()} iterations " \
                          f"(PETSc reason {ksp.getConvergedReason()})"
        p = self.x.getArray().copy()
        ksp.destroy()
        M.destroy()
        b.destroy()
        return p

    def with_halo(self, p: np.ndarray) -> np.ndarray:
        """The density on this process's slab and halo, from every process's owned part."""
        self.x.getArray()[:] = p
        self.halo.scatter(self.x, self.local, addv=self.PETSc.InsertMode.INSERT,
                          mode=self.PETSc.ScatterMode.FORWARD)
        return self.local.getArray().copy()

    def gather(self, p: np.ndarray, root_only: bool) -> np.ndarray | None:
        """The whole density on every process (or on process 0 only)."""
        return gather_vector(self.comm, self.x, p, root_only)


def gather_vector(comm: Comm, x: Any, p: np.ndarray, root_only: bool) -> np.ndarray | None:
    """The whole vector whose owned part here is ``p``, on every process (or on process 0
    only; the others get None), through the distributed PETSc vector ``x`` (overwritten)."""
    PETSc = comm.PETSc
    x.getArray()[:] = p
    scatter, full = (PETSc.Scatter.toZero if root_only else PETSc.Scatter.toAll)(x)
    scatter.scatter(x, full, addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    out = full.getArray().copy() if (not root_only or comm.rank == 0) else None
    scatter.destroy()
    full.destroy()
    return out


def _bulk_threshold(comm: Comm, q: np.ndarray) -> float:
    """The smallest ``q`` of the cells holding ``1 - 1e-6`` of the mass (``q`` sums to 1
    over all processes): the value where the serial ``split.bulk_cells`` cuts, found by
    bisection on ``log q`` with one sum over processes per step."""
    hi = comm.max(float(q.max(initial=0.0)))
    lo = np.finfo(float).tiny
    a, b = math.log(lo), math.log(hi)
    for _ in range(80):
        mid = 0.5 * (a + b)
        if comm.sum(float(q[q >= math.exp(mid)].sum())) >= 1.0 - 1e-6:
            a = mid
        else:
            b = mid
    return math.exp(a)


def stationary_petsc(sde: SDE, grid: Grid, *, method: str = "lu", scheme: str = "sg", conductance: str = "split",
                     gather: str = "all", error_estimate: bool = True) -> StationaryResult:
    """The stationary density on ``grid``, solved by PETSc over the MPI processes.

    Called by :func:`fokkerplanck.stationary` with ``backend="petsc"`` (see there and
    the module docstring). ``method``: ``"lu"`` (MUMPS) or ``"amg"`` (GMRES with
    hypre's BoomerAMG, then balance sweeps until the certificate holds). ``gather``:
    ``"all"`` (every process returns the whole density), ``"root"`` (process 0 does;
    the others return their slab) or ``"none"`` (every process returns its slab: a
    result on the grid of its own planes of axis 0, whose density is the whole
    density's restriction there, integrating to that slab's mass).
    """
    if gather not in GATHERS:
        raise ValueError(f"`gather` must be one of {GATHERS}, got {gather!r}.")
    if scheme not in ("sg", "upwind"):
        raise ValueError(f"backend='petsc' supports the monotone schemes 'sg' and 'upwind' (its certificate and "
                         f"balance sweeps need a Markov generator), got scheme={scheme!r}.")
    PETSc = petsc()
    comm = Comm(PETSc)
    start, stop = partition(grid.shape[0], comm.size)[comm.rank]
    t0 = time.perf_counter()
    base = together(comm, slab, sde, grid, start, stop, scheme=scheme,
                     conductance="flat" if conductance == "flat" else "sg")
    dist = _Distributed(PETSc, comm, base, method)
    notes: list[str] = []
    bound = certificate_bound(grid.size, grid.ndim)

    def solve(sl: Slab) -> np.ndarray:
        rows = together(comm, sl.rows)
        # pin where the density is likely large: the cell with the least drift
        x = sl.local.points().reshape(-1, grid.ndim)[sl.owned]
        speed = np.linalg.norm(sde.flux_drift(x, None), axis=-1)
        k = int(np.argmin(speed))
        pin = comm.argmax(-float(speed[k]), dist.rstart + k)
        p = dist.solve(rows, pin)
        own = dist.rstart <= pin < dist.rstart + dist.m
        at_pin = comm.sum(float(p[pin - dist.rstart]) if own else 0.0)
        biggest = comm.max(float(np.abs(p).max(initial=0.0)))
        if not at_pin >= 1e-8 * biggest:
            notes.append(f"re-pinned at the density maximum (pinned value was {at_pin / biggest:.1e} of it)")
            i = int(np.argmax(np.abs(p)))
            pin = comm.argmax(float(np.abs(p[i])), dist.rstart + i)
            p = dist.solve(rows, pin)
        if dist.method == "amg":   # as the serial AMG path: balanced before it is used
            p = _certify(comm, dist, sl, p, bound, [])[0]
        return p

    sl, p = base, _detailed_balance(comm, base)
    if p is not None:   # exact, as serially: exp(-psi), no solve and no split pass
        dist.solver = "detailed balance (psi summed along the edges, stitched across slabs)"
    else:
        p = solve(base)
        if (conductance == "split" and isinstance(base.fluxes, TwoPointFluxes)
                and base.fluxes.edge_potential is not None and scheme == "sg"):
            sl, p = _split_passes(comm, dist, base, p, solve, notes)
    p, cert = _certify(comm, dist, sl, p, bound, notes)
    p = p / (comm.sum(float(p.sum())) * grid.cell_volume)
    ok = cert <= bound
    if dist.iterations or dist.sweeps:
        notes.append(f"{dist.iterations} Krylov iterations and {dist.sweeps} balance sweeps in all")
    notes.append(f"{comm.size} MPI processes, PETSc {dist.solver}" + (
        "; certified cell by cell; the split between metastable regions is not (no distributed GTH or condition "
        "estimate: for a metastable problem check it with the serial default on a grid that fits one machine)"
        if ok else ""))
    density, result_grid = _collect(dist, p, gather, grid, start, stop)
    res = StationaryResult(density, result_grid, sde, cert, "petsc", ok,
                           "; ".join(notes) if ok else
                           f"componentwise certificate {cert:.1e} > {bound:.1e}; " + "; ".join(notes),
                           scheme, dist.iterations, time.perf_counter() - t0, None)
    if not ok:
        raise ConvergenceError(f"stationary (petsc): componentwise certificate {cert:.1e} > {bound:.1e}: "
                               "probability flow does not balance in some cell"
                               + (f" ({dist.failed})" if dist.failed else "") + ".", res)
    if error_estimate:
        if gather == "all":
            est = estimate_error(lambda g: stationary_petsc(sde, g, method=method, scheme=scheme,
                                                            conductance=conductance, gather="all",
                                                            error_estimate=False).density,
                                 grid, order=ORDER[scheme], value=res.density)
            res = replace(res, error_estimate=float(est.error))
        else:
            warn("stationary (petsc): error_estimate needs gather='all' (it compares whole densities); "
                 "it is nan here.")
    return res


def _detailed_balance(comm: Comm, sl: Slab) -> np.ndarray | None:
    """The owned part of ``exp(-psi)`` where the rates satisfy detailed balance, as the
    serial ``"auto"`` returns it, else None.

    Every slab sums its own ``psi`` (``Fluxes.potential``, Kolmogorov's test on its
    edges); the constants are then stitched from the planes that neighbouring slabs
    share (a slab's halo holds the next slab's first plane). Not on a periodic axis 0,
    where a cycle winds through every slab and no slab sees it whole.
    """
    psi = sl.fluxes.potential() if not sl.grid.periodic[0] else None
    if comm.max(0.0 if psi is not None else 1.0) > 0:
        return None
    assert psi is not None
    psi = psi.ravel()
    first = comm.allgather(float(psi[sl.owned.start]))
    beyond = comm.allgather(float(psi[sl.owned.stop]) if sl.owned.stop < psi.size else 0.0)
    shift = np.concatenate([[0.0], np.cumsum(beyond[:-1] - first[1:])])[comm.rank]
    owned = psi[sl.owned] + shift
    low = -comm.max(float(-owned.min()))
    return np.exp(-(owned - low))


def _certify(comm: Comm, dist: _Distributed, sl: Slab, p: np.ndarray, bound: float, notes: list[str]
             ) -> tuple[np.ndarray, float]:
    """``(p >= 0, certificate)``, with balance sweeps where the certificate fails (the
    tails of an iterative solve; negative tails that LU can leave in metastable problems),
    as the serial AMG path does."""
    if comm.max(0.0 if np.all(np.isfinite(p)) else 1.0) > 0:
        raise ConvergenceError(f"stationary (petsc, {dist.solver}): the solve produced non-finite values"
                               + (f" ({dist.failed})" if dist.failed else "") + ".", None)
    if comm.sum(float(p.sum())) < 0:
        p = -p
    p = p / comm.max(float(np.abs(p).max(initial=0.0)))
    cert = comm.max(certificate(sl.fluxes.matrix, dist.with_halo(p), rows=sl.owned))
    if cert <= bound:
        return np.maximum(p, 0.0), cert
    W, outflow = off_diagonal(sl.fluxes.matrix)
    p, after, sweeps = balance(W[sl.owned], outflow[sl.owned], np.maximum(p, 0.0), bound, dist.with_halo, comm.max)
    dist.sweeps += sweeps
    notes.append(f"certificate {cert:.1e} after {dist.solver}; {sweeps} balance sweeps: {after:.1e}")
    return p, after


def _split_passes(comm: Comm, dist: _Distributed, base: Slab, p: np.ndarray, solve: Any,
                  notes: list[str]) -> tuple[Slab, np.ndarray]:
    """The serial solver's density split (``split.fixed_point``), each pass a distributed
    solve, sums and maxima over all processes: the same passes, the same extrapolation and,
    where the split does not converge, the same most self-consistent pass."""
    backend = _SlabPasses(comm, dist, base, p, solve, notes)
    q = split_density(p, backend.total, backend.largest)
    if q is None:
        notes.append("the Scharfetter-Gummel density is not positive: no density split")
        return base, p
    passes, change = fixed_point(q, backend)
    if passes:
        state = "converged" if change <= SPLIT_RTOL else "not converged"
        notes.insert(0, f"conductance split by the density: {passes} passes, {state} (last change of log p "
                        f"{change:.1e})")
        if change > SPLIT_RTOL:
            warn(not_converged("stationary (petsc)", passes, change))
    return backend.slab, backend.p


class _SlabPasses:
    """The distributed solver's density-split passes (``split.Backend``): a pass re-weights
    this process's slab by the density with its halo and solves the whole grid by
    ``solve``; the bulk is cut where the serial :func:`~.split.bulk_cells` cuts
    (:func:`_bulk_threshold`). Passes are certified, never loose."""

    def __init__(self, comm: Comm, dist: _Distributed, base: Slab, p: np.ndarray, solve: Any,
                 notes: list[str]) -> None:
        self.comm, self.dist, self.base, self.run, self.notes = comm, dist, base, solve, notes
        assert isinstance(base.fluxes, TwoPointFluxes)
        self.selling = comm.max(1.0 if base.fluxes.selling else 0.0) > 0   # as the whole grid decides
        self.slab, self.p = base, p   # the current pass (at first the first solve)
        self.solved: tuple[Slab, np.ndarray] | None = None

    def total(self, a: np.ndarray) -> float:
        return self.comm.sum(float(a.sum()))

    def largest(self, v: float) -> float:
        return self.comm.max(v)

    def bulk(self, p: np.ndarray) -> np.ndarray:
        q = p / self.total(p)
        return q >= _bulk_threshold(self.comm, q)

    def solve(self, used: np.ndarray, loose: bool, tentative: bool = False) -> tuple[np.ndarray | None, bool]:
        q = used / self.total(used)
        sl = together(self.comm, self.base.density_split, self.dist.with_halo(q), self.selling)
        self.solved = (sl, self.run(sl))
        return split_density(self.solved[1], self.total, self.largest), False

    def accept(self) -> None:
        assert self.solved is not None
        (self.slab, self.p), self.solved = self.solved, None

    def certify(self) -> np.ndarray | None:   # (never called: no pass is loose)
        return split_density(self.p, self.total, self.largest)

    def note(self, text: str) -> None:
        self.notes.append(text)


def _collect(dist: _Distributed, p: np.ndarray, gather: str, grid: Grid, start: int, stop: int
             ) -> tuple[np.ndarray, Grid]:
    """The density to return and its grid (the whole grid, or this process's slab)."""
    if gather != "none":
        full = dist.gather(p, root_only=gather == "root")
        if full is not None:
            return full.reshape(grid.shape), grid
    own = slab_grid(grid, start, stop)
    return p.reshape(own.shape), own


def slab_grid(grid: Grid, start: int, stop: int) -> Grid:
    """The grid of planes ``[start, stop)`` of axis 0 (reflecting at both ends): the grid of
    a density returned as a slab (``gather="none"``)."""
    lo, hi = grid.bounds[0]
    h = (hi - lo) / grid.shape[0]
    return Grid(bounds=[(lo + start * h, lo + stop * h), *grid.bounds[1:]], shape=(stop - start, *grid.shape[1:]),
                boundary=[("reflecting", "reflecting"), *grid.boundary[1:]])


def slepc() -> Any:
    """The ``slepc4py.SLEPc`` module, or an ImportError that says how to install it."""
    try:
        import slepc4py
    except ImportError:
        raise ImportError(
            "spectral_gap(backend='petsc') needs slepc4py over the system SLEPc: apt install "
            "libslepc-real3.18-dev, then SLEPC_DIR=/usr/lib/slepcdir/slepc3.18/x86_64-linux-gnu-real "
            "pip install --no-build-isolation slepc4py==3.18.3 (docs: 'Beyond one machine')."
        ) from None
    slepc4py.init()
    from slepc4py import SLEPc
    return SLEPc


#: Eigenvalues SLEPc computes nearest the shift; the gap is the smallest ``-Re`` among
#: them besides the null one (an oscillating pair with a smaller real part but a larger
#: modulus than all of them would be missed: the serial ``modes`` covers that case).
GAP_NEV = 6


def spectral_gap_petsc(sde: SDE, grid: Grid, *, scheme: str = "sg", rtol: float = 1e-10,
                       conductance: str = "sg") -> float:
    """The spectral gap by SLEPc's shift-invert (MUMPS) over the MPI processes.

    Called by :func:`fokkerplanck.spectral_gap` with ``backend="petsc"``. Every process
    assembles its rows as for :func:`stationary_petsc`; the shift is ``1e-7`` of the
    largest rate (the serial ``eigs`` path's), and the gap is the smallest ``-Re lambda``
    of the :data:`GAP_NEV` eigenvalues nearest it, the null eigenvalue excluded.
    """
    if conductance not in ("sg", "flat"):
        raise ValueError(f"spectral_gap(backend='petsc') takes conductance 'sg' or 'flat', got {conductance!r}.")
    if grid.has_absorbing:
        raise ValueError("spectral_gap(backend='petsc') needs reflecting or periodic walls: with an absorbing "
                         "wall there is no null eigenvalue to set aside, and the decay rate is the one nearest "
                         "zero. Use the serial fp.spectral_gap (or fp.escape_rate).")
    PETSc, SLEPc = petsc(), slepc()
    comm = Comm(PETSc)
    start, stop = partition(grid.shape[0], comm.size)[comm.rank]
    sl = together(comm, slab, sde, grid, start, stop, scheme=scheme, conductance=conductance)
    dist = _Distributed(PETSc, comm, sl, "lu")
    rows = together(comm, sl.rows)
    rows.sort_indices()
    M = dist.matrix(rows)
    shift = 1e-7 * comm.max(float(np.abs(rows.diagonal(dist.rstart)).max(initial=0.0)))
    eps = SLEPc.EPS().create(comm=comm.comm)
    eps.setOperators(M)
    eps.setProblemType(SLEPc.EPS.ProblemType.NHEP)
    eps.setDimensions(nev=GAP_NEV)
    eps.setTolerances(rtol, 1000)
    eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
    eps.setTarget(shift)
    eps.setOptionsPrefix(OPTIONS_PREFIX)
    st = eps.getST()
    st.setType(SLEPc.ST.Type.SINVERT)
    ksp = st.getKSP()
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    ksp.getPC().setFactorSolverType("mumps")
    eps.setFromOptions()
    eps.solve()
    n = eps.getConverged()
    values = np.array([eps.getEigenvalue(i) for i in range(n)])
    errors = np.array([eps.computeError(i) for i in range(n)])
    eps.destroy()
    M.destroy()
    if values.size < 2:
        raise ConvergenceError(f"spectral_gap (petsc): SLEPc converged {values.size} eigenvalue(s) near the "
                               "shift; need the null one and at least one more.", None)
    order = np.argsort(np.abs(values))
    values, errors = values[order], errors[order]
    k = 1 + int(np.argmin(-values[1:].real))
    gap, rate = float(-values[k].real), shift / 1e-7
    # no silent wrong answer: the null eigenvalue must stand apart from the gap, and the
    # gap must lie well above round-off of the largest rate (the serial solver's reduction
    # between metastable wells covers that case; this backend has none)
    if not (abs(values[0]) < 1e-3 * gap and gap > 1e-10 * rate and errors[k] < 1e-6):
        raise ConvergenceError(
            f"spectral_gap (petsc): cannot certify the gap {gap:.3e}: null eigenvalue {abs(values[0]):.1e}, "
            f"largest rate {rate:.1e}, SLEPc's relative error {errors[k]:.1e}. A gap this close to round-off "
            "(deep metastability) needs the serial fp.spectral_gap, whose reduction between wells computes it.",
            None)
    return gap


BACKENDS["petsc"] = stationary_petsc
GAP_BACKENDS["petsc"] = spectral_gap_petsc
