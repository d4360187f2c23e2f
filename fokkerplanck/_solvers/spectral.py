"""Relaxation spectrum of the generator: spectral gap and slow modes.

Eigenvalues of ``A`` have ``Re(lambda) <= 0``; ``lambda_0 = 0`` belongs to the
stationary density. A mode relaxes at the *rate* ``-Re(lambda)`` and, when
``lambda`` is complex (non-reversible dynamics: rotation, circulation), oscillates
at the *frequency* ``|Im(lambda)|``; a conjugate pair is one mode.

Two solvers, chosen automatically:

* **Shift-invert Arnoldi/Lanczos** (ARPACK) finds the eigenvalues nearest a small
  positive shift ``s``: all of them inside a disk ``|lambda - s| <= R``. Sorting
  those by real part gives the slowest modes *of the disk*. A mode that decays
  slowly but oscillates fast lies outside the disk and is missed, so the disk is
  enlarged until it reaches well beyond the frequencies found, and the
  result reports ``frequency_window``: every eigenvalue with rate at most
  ``rates[-1]`` and frequency at most ``frequency_window`` is among those found.
  Beyond the window nothing is guaranteed (weak noise with strong rotation has
  slow modes at arbitrarily high frequencies). When the discrete rates satisfy
  detailed balance, ``A`` is similar to the symmetric ``S = P^{-1/2} A P^{1/2}``
  (``S_ij = sqrt(a_ij a_ji)``): the spectrum is real, the window infinite, and
  ``eigsh`` is used.
* **Reduction between metastable sets** for rates below round-off of the matrix
  norm (``|lambda| < 1e6 eps ||A||``, where ARPACK's absolute error ``eps ||A||``
  is not small against ``|lambda|``). One cell per well is kept (the local minima
  of ``psi`` under detailed balance, else the local maxima of the stationary
  density from GTH elimination), every other cell is eliminated by
  subtraction-free Gaussian elimination (GTH, :mod:`.gth`), and the slow
  eigenvalues come from the small reduced problem with componentwise relative
  accuracy (see :func:`_reduced_eigenvalues` for the derivation and the error
  estimate). It needs a monotone scheme (non-negative off-diagonal rates) and a
  closed grid (no absorbing wall).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._discretization.fluxes import Fluxes, TwoPointFluxes
from .._discretization.generator import check_problem, check_tolerance, fluxes
from .._model.grid import Grid
from .._model.sde import SDE
from .._util.deprecation import renamed_keywords
from .._util.errors import ConvergenceError, warn
from .._util.linalg import factorize, is_metzler
from .._util.summary import Summary, Text
from .._util.validate import positive_int
from .estimate import ORDER, estimate_error
from .gth import factor
from .resolution import check_resolution
from .stationary import stationary

__all__ = ["Modes", "modes", "spectral_gap"]

_EPS = np.finfo(float).eps
#: below ``_REDUCE * eps * ||A||`` a rate from ARPACK has relative error above ~1e-6
#: and the reduction between metastable sets is tried
_REDUCE = 1e6
#: below ``_ROUNDOFF * eps * ||A||`` ARPACK cannot resolve a rate at all (relative
#: error above 1e-3): the reduction must certify it or the call raises
_ROUNDOFF = 1e3
#: most cells kept by the reduction (one per metastable well)
_MAX_KEPT = 64
#: the ARPACK disk is enlarged up to this many eigenvalues
_MAX_NEV = 256


@dataclass(frozen=True, eq=False, repr=False)
class Modes(Summary):
    """Slowest relaxation modes, ordered by rate (``-Re lambda``), slowest first.

    A complex-conjugate pair of eigenvalues is one oscillating mode, listed once
    (with ``Im lambda > 0``).

    Attributes
    ----------
    rates : ndarray ``(k,)``
        ``-Re(lambda)``, non-decreasing: ``rates[0]`` is the spectral gap.
    frequencies : ndarray ``(k,)``
        ``|Im(lambda)|``; zero for a non-oscillating mode.
    oscillating : ndarray of bool ``(k,)``
        Whether the mode is a conjugate pair (``frequencies > 0``).
    eigenvalues : ndarray ``(k,)``, complex
        ``-rates + 1j * frequencies``.
    modes : ndarray ``(k, *grid.shape)``
        Right eigenvectors (density perturbations), normalised to max ``|.|`` = 1;
        complex when some mode oscillates.
    error_estimate : ndarray ``(k,)``
        Estimated relative error of each rate against the continuous problem: the
        discretization error (Richardson against the same modes on a partner grid,
        see :func:`~fokkerplanck.estimate_error`) plus ``solver_error / rate``;
        ``nan`` when not asked for (``error_estimate=False``).
    solver_error : ndarray ``(k,)``
        Estimated absolute error of each rate against the exact eigenvalue of the
        discrete generator (round-off and solver error).
    frequency_window : float
        Every eigenvalue with rate ``<= rates[-1]`` and frequency ``<=
        frequency_window`` has been found; ``inf`` when the spectrum is real.
    method : str
        ``"eigsh"`` (detailed balance), ``"eigs"``, with ``"+reduction"`` when
        some rates come from the reduction between metastable sets.
    success : bool
    message : str
    grid : Grid
    symmetric : bool
        Whether the symmetrized (detailed-balance) path was used.
    """

    rates: np.ndarray
    eigenvalues: np.ndarray
    modes: np.ndarray = field(repr=False)
    grid: Grid = field(repr=False)
    symmetric: bool
    frequencies: np.ndarray = field(default_factory=lambda: np.zeros(0))
    oscillating: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    solver_error: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frequency_window: float = np.inf
    method: str = "eigs"
    success: bool = True
    message: str = ""
    error_estimate: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def gap(self) -> float:
        """The spectral gap, ``rates[0]``."""
        return float(self.rates[0])

    _error_meaning = "relative error of each rate"

    def _summary_items(self) -> list[tuple[str, Any]]:
        parts = [f"{r:.6g}" + (f"±{f:.4g}i" if f > 0 else "") for r, f in zip(self.rates, self.frequencies)]
        if len(parts) > 6:
            parts = parts[:5] + [f"... ({len(parts)} modes)"]
        return [("rates", Text(f"[{', '.join(parts)}]")), ("method", self.method),
                ("frequency_window", self.frequency_window), ("grid", self.grid)]


# ---------------------------------------------------------------- shift-invert
def _symmetrized(fl: Fluxes, A: sp.csr_matrix) -> sp.csc_matrix:
    """``S = P^{-1/2} A P^{1/2}``: off-diagonals ``sqrt(a_ij a_ji)``, same diagonal."""
    assert isinstance(fl, TwoPointFluxes)  # two-point scheme (has psi)
    inner = fl.head >= 0
    sym = np.sqrt(fl.forward[inner] * fl.backward[inner])
    t, h = fl.tail[inner], fl.head[inner]
    n = A.shape[0]
    return sp.csc_matrix((np.concatenate([sym, sym, A.diagonal()]),
                          (np.concatenate([t, h, np.arange(n)]),
                           np.concatenate([h, t, np.arange(n)]))), shape=A.shape)


def _arpack(M: sp.spmatrix, nev: int, shift: float, tol: float, symmetric: bool, lu):
    """``nev`` eigenpairs of ``M`` nearest ``shift`` (shift-invert with a given LU)."""
    n = M.shape[0]
    op = spla.LinearOperator((n, n), matvec=lu.solve, dtype=float)
    if symmetric:
        vals, vecs = spla.eigsh(M, k=nev, sigma=shift, which="LM", tol=tol, OPinv=op)
        return vals.astype(complex), vecs.astype(complex)
    return spla.eigs(M, k=nev, sigma=shift, which="LM", tol=tol, OPinv=op)


def _one_per_pair(vals: np.ndarray, vecs: np.ndarray, osc_tol: np.ndarray):
    """Keep one eigenvalue per conjugate pair (``Im >= 0``); snap real ones to real."""
    im = vals.imag
    real = np.abs(im) <= osc_tol
    vals = np.where(real, vals.real + 0j, vals)
    keep = real | (im > 0)
    # a lone member with Im < 0 (its partner outside the disk) is replaced by its conjugate
    lone = ~keep & ~np.any(np.abs(vals[:, None] - np.conj(vals)[None, :]) <= osc_tol[:, None]
                           + osc_tol[None, :], axis=1)
    vals = np.where(lone, np.conj(vals), vals)
    vecs = np.where(lone[None, :], np.conj(vecs), vecs)
    keep |= lone
    return vals[keep], vecs[:, keep], real[keep]


def _frequency_window(found: np.ndarray, shift: float, rate: float) -> float:
    """Largest ``Y``: every eigenvalue with ``-Re <= rate`` and ``|Im| <= Y`` is in the disk."""
    R2 = float(np.max(np.abs(found - shift)) ** 2)
    return float(np.sqrt(max(R2 - (shift + rate) ** 2, 0.0)))


def _search(M: sp.spmatrix, psi: np.ndarray | None, k: int, shift: float, tol: float,
            closed: bool, norm: float) -> tuple[np.ndarray, ...]:
    """ARPACK near ``shift``, the disk enlarged until it reaches past the ``k`` slowest modes.

    Returns all eigenvalues found and, sorted by rate, one per conjugate pair (the
    stationary one dropped on a closed grid): eigenvalues, density-space vectors
    and whether each is real.
    """
    n = M.shape[0]
    symmetric = psi is not None
    lu = factorize(M - shift * sp.identity(n, format="csc"))
    # a real spectrum is ordered by distance to the shift; a complex one needs a wider disk
    nev = min(n - 2, k + 1 if symmetric else 2 * k + 6)
    while True:
        vals, vecs = _arpack(M, nev, shift, tol, symmetric, lu)
        if psi is not None:
            vecs = vecs * np.exp(-0.5 * (psi.ravel() - psi.min()))[:, None]
        order = np.argsort(-vals.real, kind="stable")
        vals, vecs = vals[order], vecs[:, order]
        reps, rvecs, real = _one_per_pair(vals, vecs, 1e-8 * np.abs(vals) + 10 * _EPS * norm)
        if closed:  # drop exactly the eigenvalue nearest 0 (the stationary one)
            drop = int(np.argmin(np.abs(reps)))
            reps, rvecs, real = np.delete(reps, drop), np.delete(rvecs, drop, axis=1), np.delete(real, drop)
        done = nev >= min(n - 2, _MAX_NEV)
        if reps.size >= k and not symmetric:
            rk = -reps[k - 1].real
            target = max(2.0 * rk, 1.5 * float(np.abs(reps[:k].imag).max()))
            done |= _frequency_window(vals, shift, rk) >= target
        if done or (symmetric and reps.size >= k):
            return vals, reps, rvecs, real
        nev = min(n - 2, _MAX_NEV, 2 * nev)


# ------------------------------------------------------ subtraction-free reduction
def _sub_generator_solver(A: sp.csr_matrix, keep: np.ndarray, shape: tuple[int, ...]):
    """``solve(b) = (-A_EE)^{-1} b`` on the cells ``E`` outside ``keep`` (``b >= 0``).

    ``A`` is a generator (closed grid). ``A_EE`` is a sub-generator whose leak is
    the rate into the kept cells; its GTH factorization (nested dissection of the
    grid) never subtracts, so for ``b >= 0`` the solution has componentwise
    relative accuracy.
    """
    n = A.shape[0]
    inE = np.ones(n)
    inE[keep] = 0.0
    sub = sp.diags(inE) @ A @ sp.diags(inE)
    leak = np.asarray(A[keep].sum(axis=0)).ravel() * inE   # rates into K: sums of rates
    leak[keep] = 1.0                          # kept cells: isolated, x_K = b_K = 0
    el = factor(sub, leak=leak, shape=shape)

    def solve(b: np.ndarray) -> np.ndarray:
        b = np.where(inE[:, None] > 0, b, 0.0)
        return np.stack([el.solve(b[:, j]) for j in range(b.shape[1])], axis=1)

    return solve


def _reduced_eigenvalues(A: sp.csr_matrix, keep: np.ndarray, shape: tuple[int, ...]):
    """Slow eigenvalues of ``A`` from its exact reduction onto the cells ``keep``.

    Split the cells into kept ``K`` and eliminated ``E``. ``A v = lambda v`` is
    equivalent to the nonlinear ``m x m`` problem
    ``S(lambda) v_K = lambda v_K`` with
    ``S(lambda) = A_KK - A_KE (A_EE - lambda)^{-1} A_EK`` and
    ``v_E = -(A_EE - lambda)^{-1} A_EK v_K``. With ``N = (-A_EE)^{-1} >= 0``
    (entrywise; its column sums are the mean times to reach ``K``),
    ``S(lambda) = S_0 - lambda B_2 + lambda^2 B_3 - ...``,
    ``S_0 = A_KK + A_KE N A_EK`` (the stochastic complement, a generator) and
    ``B_j = A_KE N^j A_EK >= 0``. So

        ``S_0 v_K = lambda (I + B_2 - lambda B_3) v_K + O(lambda^3 ||B_4||)``.

    On a closed grid ``1_K^T A_KE = 1_E^T (-A_EE)``, so the column sums of ``B_j``
    are those of ``N^{j-1} A_EK`` (``B_2``: the mass the harmonic extension of a
    kept cell puts on ``E``), and ``1^T N x <= tau 1^T x`` for ``x >= 0`` with
    ``tau`` the longest mean time to reach ``K`` from ``E``. Hence
    ``||B_{j+1}||_1 <= tau ||B_j||_1``: when ``K`` holds a cell in every
    metastable well, ``tau`` is a relaxation time *inside* the wells, not the
    exponentially long time between them, and the relative error of the linear
    problem is ``O(|lambda| tau)``, that of the quadratic one
    ``O((|lambda| tau)^2)``. For two wells with negligible cross terms in ``B_2``,
    ``lambda ~ -(s_21 / b_1 + s_12 / b_2)``, ``b_k`` the column sums of ``I + B_2``:
    the rate of the chain watched on ``K`` times the share of its well's mass that
    sits at the kept cell, i.e. capacity over well mass (Bovier, Eckhoff, Gayrard
    and Klein 2004). The reported error estimate is the change from the linear to
    the quadratic problem, ``~ |lambda| (|lambda| tau)``, plus round-off.
    ``S_0``, ``B_2``, ``B_3`` come from subtraction-free GTH solves
    (componentwise relative accuracy) and the small problem is solved in
    50-digit arithmetic (mpmath) with the diagonal of ``S_0`` rebuilt from its
    column sums, so the eigenvalues keep that relative accuracy even when the
    rates between wells span many orders of magnitude.

    Returns
    -------
    lam : complex ndarray ``(m,)``, one of them exactly 0 (the stationary one)
    vec : complex ndarray ``(n, m)`` right eigenvectors (first order in ``E``)
    err : ndarray ``(m,)`` absolute error estimates
    """
    import mpmath as mp  # a declared dependency (also that of sympy), imported only here

    A = sp.csr_matrix(A)
    K = np.sort(np.asarray(keep))
    m = K.size
    solve = _sub_generator_solver(A, K, shape)
    A_EK = A[:, K].toarray()
    A_EK[K] = 0.0
    Y = solve(A_EK)                          # N A_EK: harmonic extensions of the kept cells
    Z2 = solve(Y)                            # N^2 A_EK
    Z3 = solve(Z2)                           # N^3 A_EK
    inE = np.ones(A.shape[0])
    inE[K] = 0.0
    A_KE = A[K] @ sp.diags(inE)              # rows of K, columns of E
    B2, B3 = A_KE @ Z2, A_KE @ Z3
    W = A[K][:, K].toarray() + A_KE @ Y      # stochastic complement, off-diagonal part
    np.fill_diagonal(W, 0.0)
    with mp.workdps(50):
        S0 = mp.matrix(W.tolist())
        for j in range(m):                   # diagonal = -(column sum), exactly
            S0[j, j] = -mp.fsum(S0[i, j] for i in range(m) if i != j)
        I2 = mp.eye(m) + mp.matrix(B2.tolist())
        B3m = mp.matrix(B3.tolist())
        lin, _ = mp.eig(mp.inverse(I2) * S0)
        lam = np.zeros(m, complex)
        err = np.zeros(m)
        vK = np.zeros((m, m), complex)
        for j, l0 in enumerate(lin):
            E, ER = mp.eig(mp.inverse(I2 - l0 * B3m) * S0)
            i = int(np.argmin([abs(e - l0) for e in E]))
            lam[j] = complex(E[i])
            err[j] = float(abs(E[i] - l0))
            vK[:, j] = [complex(ER[r, i]) for r in range(m)]
    err += 1e2 * m * _EPS * np.abs(lam)
    z = int(np.argmin(np.abs(lam)))           # the stationary eigenvalue is exactly 0
    lam[z], err[z] = 0.0, 0.0
    # v_E = Y v_K + O(lambda): the mode on all cells
    vec = Y.astype(complex) @ vK
    vec[K] = vK
    return lam, vec, err


def _local_maxima(field: np.ndarray, grid: Grid) -> np.ndarray:
    """Flat indices of the local maxima of ``field`` over the ``3^d`` neighbourhood
    (periodic axes wrap), one cell per plateau; ``-inf`` entries are never maxima."""
    import scipy.ndimage as ndi  # (here: 80 ms of the first solve's imports for a rare path)

    f = field.reshape(grid.shape)
    mode = ["wrap" if p else "nearest" for p in grid.periodic]
    mask = (f >= ndi.maximum_filter(f, size=3, mode=mode)) & np.isfinite(f)
    labels, count = ndi.label(mask, structure=np.ones((3,) * grid.ndim))
    _, first = np.unique(labels.ravel(), return_index=True)
    return first[1:] if count else np.zeros(0, int)   # label 0 is the background


def _well_bottoms(A: sp.csr_matrix, grid: Grid, psi: np.ndarray | None) -> np.ndarray:
    """One cell per well: local minima of ``psi`` (detailed balance) or local maxima of
    the stationary density from GTH elimination, whose entrywise relative accuracy
    resolves wells of any depth (no threshold on their mass)."""
    if psi is not None:
        return _local_maxima(-psi.ravel(), grid)
    p = factor(A, shape=grid.shape).null_vector()
    with np.errstate(divide="ignore"):
        return _local_maxima(np.log(p), grid)


# --------------------------------------------------------------------- public
@renamed_keywords(tol="rtol")
def modes(sde: SDE, grid: Grid, k: int = 4, *, scheme: str = "sg", rtol: float = 1e-10,
          error_estimate: bool = True, conductance: str = "sg") -> Modes:
    """The ``k`` slowest relaxation modes of ``sde`` on ``grid``, ordered by rate.

    The rate of a mode is ``-Re(lambda)``; a complex-conjugate pair (an
    oscillating mode, frequency ``|Im(lambda)|``) counts once. Eigenvalues come
    from shift-invert ARPACK near 0, enlarged until the searched disk reaches
    twice beyond the rates and frequencies found (``frequency_window`` on the
    result says how far the search is complete); rates below round-off of the
    matrix norm come from the exact reduction onto one cell per metastable well
    (module docstring).

    Parameters
    ----------
    sde, grid : SDE, Grid
    k : int
        Number of modes besides the stationary one.
    scheme : str
        Discretization (:func:`fokkerplanck.generator`).
    rtol : float
        ARPACK tolerance (relative, on ``lambda - shift``). Formerly ``tol=``,
        accepted for one release with a :class:`DeprecationWarning`.
    error_estimate : bool
        Also compute the modes on a partner grid (1-D: three times the cells; else
        half per axis) and report each rate's estimated relative error (default).
    conductance : {"sg", "flat", "split"}
        The weights of the generator (docs/numerics.md, "The conductance"). ``"sg"``
        (default): the generator of :func:`fokkerplanck.generator` and
        :func:`fokkerplanck.evolve`, exact in transport: right for fast, transient
        modes. ``"split"``: the generator :func:`fokkerplanck.stationary` ends with
        (weights split by the stationary density; closed grids only; 2-5 more solves):
        right for the slow modes of metastable non-gradient problems, whose
        eigenfunctions are in local equilibrium inside the wells. Measured on the
        rotating metastable torus (``T = 0.1``, gap 5.177e-8): relative error of the gap
        at 64^2 / 128^2 / 256^2 is 69 % / 15 % / 3.6 % with ``"sg"``, 9.4 % / 2.3 % /
        0.57 % with ``"flat"``, 1.6 % / 0.44 % / 0.11 % with ``"split"``. For fast
        rotations ``"sg"`` is the more accurate (rotating OU ``-1 + 3i`` at 48^2: error
        0.026 with ``"sg"``, 0.041 ``"split"``, 0.165 ``"flat"``). ``"sg"`` and
        ``"split"`` are identical for gradient drifts. The split weights come from
        ``stationary(sde, grid, scheme=scheme)`` (method ``"auto"``), whether or not that
        density is certified (large 3-D grids).

    Returns
    -------
    Modes

    Raises
    ------
    ConvergenceError
        A rate lies below round-off (``|lambda| < 1e3 eps ||A||``) and the reduction
        between metastable sets cannot certify it to 1e-3 relative.

    Examples
    --------
    Ornstein–Uhlenbeck ``dx = -x dt + dB`` relaxes at rates 1, 2, 3, ...:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> m = fp.modes(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid(bounds=[(-6, 6)], shape=400), k=3)
    >>> np.round(m.rates, 2)
    array([1., 2., 3.])

    With rotation, drift ``-H x`` with ``H = [[1, -3], [3, 1]]``: the slowest
    mode is the oscillating pair ``-1 ± 3i``:

    >>> H = np.array([[1.0, -3.0], [3.0, 1.0]])
    >>> sde = fp.SDE(drift=lambda x: -x @ H.T, sigma=np.eye(2))
    >>> m = fp.modes(sde, fp.Grid(bounds=[(-4.5, 4.5), (-4.5, 4.5)], shape=(128, 128)), k=2)
    >>> np.round(m.rates, 1), np.round(m.frequencies, 1), m.oscillating
    (array([1., 2.]), array([3., 0.]), array([ True, False]))
    """
    check_problem(sde, grid)
    tol = check_tolerance(rtol, "rtol")
    k = positive_int("k", k)
    if sde.time_dependent:
        raise ValueError("`modes` needs a time-independent SDE (`time_dependent=False`).")
    if k + 1 >= grid.size - 1:
        raise ValueError(f"`k={k}` is too large for a grid of {grid.size} cells.")
    fl = _generator_fluxes(sde, grid, scheme, conductance)
    A = fl.matrix
    norm = 2.0 * float(np.abs(A.diagonal()).max())       # ||A||_1 for zero column sums
    shift = 1e-9 * norm
    psi = None if grid.has_absorbing else fl.potential()
    symmetric = psi is not None
    M = _symmetrized(fl, A) if symmetric else A.tocsc()
    closed = not grid.has_absorbing
    vals, reps, rvecs, real = _search(M, psi, k, shift, tol, closed, norm)
    err = 10 * _EPS * norm + tol * np.abs(reps - shift)
    method = "eigsh" if symmetric else "eigs"
    message = ""
    if closed:
        reps, rvecs, real, err, used = _metastable(A, grid, psi, vals, (reps, rvecs, real, err), norm)
        if used:
            method += "+reduction"
    reps, rvecs, real, err = reps[:k], rvecs[:, :k], real[:k], err[:k]
    if reps.size < k:
        raise ConvergenceError(f"Found {reps.size} modes, fewer than `k={k}`; lower `k`.")
    window = np.inf if symmetric else _frequency_window(vals, shift, -reps[-1].real)
    if not symmetric and window < max(2.0 * -reps[-1].real, 1.5 * float(np.abs(reps.imag).max())):
        message = (f"the search is complete only up to frequency {window:.3g}: a mode with "
                   "rate below the last one reported and a higher frequency may be missed")
        warn(f"`modes`: {message} (ask for fewer modes, `k`).")
    big = np.argmax(np.abs(rvecs), axis=0)
    rvecs = rvecs / rvecs[big, np.arange(rvecs.shape[1])]  # phase: largest entry = 1
    out = rvecs.real if real.all() else rvecs
    res = Modes(rates=-reps.real, eigenvalues=np.where(real, reps.real + 0j, reps),
                modes=out.T.reshape((reps.size,) + grid.shape), grid=grid, symmetric=symmetric,
                frequencies=np.where(real, 0.0, np.abs(reps.imag)), oscillating=~real,
                solver_error=err, frequency_window=window, method=method, success=True,
                message=message, error_estimate=np.full(reps.size, np.nan))
    # where the answer lives: the stationary density (detailed balance), else the modes
    weight = np.exp(-(psi - psi.min())) if psi is not None else np.abs(res.modes).sum(axis=0)
    check_resolution(fl, weight, "modes", density=psi is not None)
    if error_estimate:
        est = estimate_error(lambda g: modes(sde, g, k, scheme=scheme, rtol=tol, error_estimate=False,
                                             conductance=conductance).rates,
                             grid, order=ORDER[scheme], value=res.rates)
        res = replace(res, error_estimate=np.asarray(est.error, dtype=float) + err / res.rates)
    return res


#: Conductances understood by :func:`modes` (see its ``conductance`` parameter).
CONDUCTANCES = ("sg", "flat", "split")


def _generator_fluxes(sde: SDE, grid: Grid, scheme: str, conductance: str) -> Fluxes:
    """The fluxes whose generator :func:`modes` diagonalizes."""
    if conductance not in CONDUCTANCES:
        raise ValueError(f"`conductance` must be one of {CONDUCTANCES}, got {conductance!r}.")
    if conductance != "split":
        return fluxes(sde, grid, scheme=scheme, conductance=conductance)
    if grid.has_absorbing:
        raise ValueError("conductance='split' takes the weights from the stationary density, which does "
                         "not exist with absorbing walls; use conductance='sg' (or 'flat').")
    res = stationary(sde, grid, scheme=scheme, error_estimate=False)
    assert res.fluxes is not None
    return res.fluxes


def _metastable(A: sp.csr_matrix, grid: Grid, psi: np.ndarray | None, vals: np.ndarray,
                modes_: tuple[np.ndarray, ...], norm: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Replace the rates below ``_REDUCE eps ||A||`` by those of the reduction, or raise.

    ``vals``: all ARPACK eigenvalues; ``modes_``: the modes so far (one per pair,
    stationary one dropped) as ``(eigenvalues, vectors, real, error_estimate)``.
    Where the reduction is certified (relative error estimate <= 1e-6) and more
    accurate than ARPACK it also replaces faster rates. Returns the new modes and
    whether the reduction was used.
    """
    reps, rvecs, real, err = modes_
    small = _REDUCE * _EPS * norm
    cluster = np.abs(vals) < small          # all ARPACK values there, the stationary one too
    if cluster.sum() < 2:
        return reps, rvecs, real, err, False
    monotone = is_metzler(A)
    keep = _well_bottoms(A, grid, psi) if monotone else np.zeros(0, int)
    hopeless = _ROUNDOFF * _EPS * norm
    if not monotone and np.any(np.abs(reps) < hopeless):
        raise ConvergenceError(
            f"A relaxation rate lies below round-off ({hopeless:.2g} = 1e3 eps ||A||) and the "
            "scheme has negative rates, so the subtraction-free reduction between metastable "
            "wells does not apply; use a monotone scheme (`scheme='sg'`).")
    if keep.size < 2 or keep.size > _MAX_KEPT:
        if np.any(np.abs(reps) < hopeless):
            raise ConvergenceError(
                f"A relaxation rate lies below round-off ({hopeless:.2g} = 1e3 eps ||A||) and "
                f"the stationary density has {keep.size} local maxima, so the reduction between "
                f"metastable wells (2 to {_MAX_KEPT} kept cells) does not apply (a rough "
                "potential or an under-resolved grid); refine the grid, smooth the potential "
                "or raise the temperature.")
        return reps, rvecs, real, err, False
    lam, vec, lerr = _reduced_eigenvalues(A, keep, grid.shape)
    osc = np.abs(lam.imag) > 1e-8 * np.abs(lam)
    lam = np.where(osc, lam.real + 1j * np.abs(lam.imag), lam.real + 0j)
    # one per conjugate pair (both members now read Im >= 0); none for the stationary 0
    close = np.abs(lam[:, None] - lam[None, :]) <= 1e-8 * np.abs(lam)[None, :]
    first = ~np.any(np.tril(close, -1), axis=1) & (lam != 0)
    cert = first & (lerr <= 1e-6 * np.abs(lam))
    slow = np.abs(reps) < small                       # ARPACK has too few digits there
    use = cert & (np.abs(lam) < small)
    if use.sum() < slow.sum():
        if np.any(np.abs(reps[slow]) < hopeless):
            raise ConvergenceError(
                f"{int(slow.sum())} relaxation rates lie below {small:.2g} (round-off of the "
                f"generator's norm {norm:.3g}) but the reduction onto {keep.size} metastable "
                f"cells certifies {int(use.sum())} of them; the wells are not resolved: refine "
                "the grid or raise the temperature.")
        return reps, rvecs, real, err, False          # ARPACK's values are still fair
    # faster rates where the reduction is certified and more accurate than ARPACK
    gap = np.abs(reps[:, None] - lam[None, :])
    agree = (gap <= err[:, None] + lerr[None, :]) & (lerr[None, :] < err[:, None]) & cert[None, :]
    agree[slow] = False
    use |= agree.any(axis=0)
    keep_arpack = ~slow & ~agree.any(axis=1)
    reps = np.concatenate([lam[use], reps[keep_arpack]])
    rvecs = np.concatenate([vec[:, use], rvecs[:, keep_arpack]], axis=1)
    real = np.concatenate([~osc[use], real[keep_arpack]])
    err = np.concatenate([lerr[use], err[keep_arpack]])
    order = np.argsort(-reps.real, kind="stable")
    return reps[order], rvecs[:, order], real[order], err[order], True


#: Spectral gaps of other backends, by name (``backend=``): ``"petsc"`` (SLEPc) registers
#: itself (``fokkerplanck/_solvers/distributed.py``).
GAP_BACKENDS: dict[str, Any] = {}


@renamed_keywords(tol="rtol")
def spectral_gap(sde: SDE, grid: Grid, *, scheme: str = "sg", rtol: float = 1e-10,
                 full_output: bool = False, conductance: str = "sg", backend: str = "scipy") -> Any:
    """Relaxation rate: the smallest nonzero ``-Re(lambda)`` of the generator.

    Ranked by real part, so an oscillating pair counts by its decay rate; for the
    frequency and what the search covers, use :func:`modes` (or ``full_output``).
    Gaps below round-off of the generator's norm (deep metastability) are
    computed with relative accuracy by the reduction between metastable wells
    (see :func:`modes`), or a :class:`ConvergenceError` says why they cannot be.

    Parameters
    ----------
    sde, grid : SDE, Grid
    scheme : str
        Discretization (:func:`fokkerplanck.generator`).
    tol : float
        ARPACK tolerance (relative, on ``lambda - shift``).
    full_output : bool
        Return the :class:`Modes` result of ``modes(sde, grid, k=1)`` instead of the
        float: ``gap``, ``frequencies``, ``success``, ``message`` and
        ``error_estimate`` (the gap's estimated relative error, from one more
        solve on a partner grid; the float alone skips that solve).
    conductance : {"sg", "flat", "split"}
        The generator's weights, see :func:`modes`: ``"split"`` for the escape rate
        of a metastable non-gradient problem.
    backend : {"scipy", "petsc"}
        ``"petsc"``: SLEPc's shift-invert (MUMPS) over ``mpiexec -n K`` processes, each
        assembling only its own rows (docs: "Beyond one machine"); ``"sg"``/``"flat"``
        conductances, no ``full_output``, no reduction for gaps below round-off.

    Returns
    -------
    float or Modes
        The gap, or (``full_output=True``) the :class:`Modes` result whose ``gap``
        it is.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> L = lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2
    >>> gap = fp.spectral_gap(fp.langevin(L, sigma=np.sqrt(0.2)), fp.Grid(bounds=[(-3, 3)], shape=2400))
    >>> f"{gap:.4e}"  # second order in h; the exact value is 3.354529e-2
    '3.3545e-02'

    At ``T = 0.005`` the gap, 8.6e-23, is 1e10 times below round-off of the
    generator's norm; it comes from the reduction onto the two well bottoms:

    >>> sde = fp.langevin(L, sigma=np.sqrt(2 * 0.005))
    >>> f"{fp.spectral_gap(sde, fp.Grid(bounds=[(-3, 3)], shape=2400)):.4e}"
    '8.6171e-23'

    With ``full_output=True`` the gap comes with its estimated relative error
    (OU ``dx = -x dt + dB``, exact gap 1):

    >>> m = fp.spectral_gap(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid(bounds=[(-6, 6)], shape=200),
    ...                     full_output=True)
    >>> true = abs(m.gap - 1.0)
    >>> m.success, bool(true / 3 < m.error_estimate[0] < 3 * true)
    (True, True)
    """
    if backend != "scipy":
        if backend not in GAP_BACKENDS or full_output:
            raise ValueError(f"`backend` must be 'scipy' or one of {sorted(GAP_BACKENDS)} (without full_output), "
                             f"got {backend!r}" + (" with full_output=True." if full_output else "."))
        return GAP_BACKENDS[backend](sde, grid, scheme=scheme, rtol=rtol, conductance=conductance)
    if full_output:
        return modes(sde, grid, k=1, scheme=scheme, rtol=rtol, error_estimate=True, conductance=conductance)
    return modes(sde, grid, k=1, scheme=scheme, rtol=rtol, error_estimate=False, conductance=conductance).gap
