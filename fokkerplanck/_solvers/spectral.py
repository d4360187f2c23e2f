"""Relaxation spectrum of the generator: spectral gap and slow modes.

Eigenvalues of ``A`` have ``Re(lambda) <= 0``; ``lambda_0 = 0`` belongs to the
stationary density. The slow modes are the eigenvalues nearest zero, found by
shift-invert ARPACK at a small positive shift (``A - s I`` is non-singular).
When the discrete rates satisfy detailed balance, ``A`` is similar to the
symmetric matrix ``S = P^{-1/2} A P^{1/2}`` (``S_ij = sqrt(a_ij a_ji)``), whose
real spectrum ``eigsh`` computes more accurately; the modes are mapped back.
Exactly one eigenvalue — the one nearest 0 — is dropped: no threshold, since
metastable gaps can be tiny.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._model.grid import Grid
from .._util.validate import positive_int
from .._discretization.generator import check_problem, check_tolerance, fluxes
from .._model.sde import SDE
from .estimate import ORDER, estimate_error
from .resolution import check_resolution

__all__ = ["modes", "spectral_gap", "Modes"]


@dataclass(frozen=True, eq=False)
class Modes:
    """Slowest relaxation modes.

    Attributes
    ----------
    rates : ndarray ``(k,)``
        ``-Re(lambda)``, increasing: the first is the spectral gap.
    eigenvalues : ndarray ``(k,)``, complex
    modes : ndarray ``(k, *grid.shape)``
        Right eigenvectors (density perturbations), normalised to ``max |v| = 1``.
    grid : Grid
    symmetric : bool
        Whether the symmetrized (detailed-balance) path was used.
    error_estimate : ndarray ``(k,)`` or None
        Estimated relative discretization error of each rate, from the same modes on
        a partner grid (Richardson, see :func:`~fokkerplanck.estimate_error`);
        ``None`` when not asked for.
    """

    rates: np.ndarray
    eigenvalues: np.ndarray
    modes: np.ndarray
    grid: Grid
    symmetric: bool
    error_estimate: np.ndarray | None = None


def modes(sde: SDE, grid: Grid, k: int = 4, *, scheme: str = "sg", tol: float = 1e-10,
          error_estimate: bool = True) -> Modes:
    """The ``k`` slowest relaxation rates and modes of ``sde`` on ``grid``.

    Parameters
    ----------
    sde, grid : SDE, Grid
    k : int
        Number of modes besides the stationary one.
    scheme : str
        Discretization (:func:`fokkerplanck.generator`).
    tol : float
        ARPACK tolerance.
    error_estimate : bool
        Also compute the modes on a partner grid (1-D: three times the cells; else
        half per axis) and report each rate's estimated relative error (default).

    Examples
    --------
    Ornstein–Uhlenbeck ``dx = -x dt + dB`` relaxes at rates 1, 2, 3, ...:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> m = fp.modes(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid(bounds=[(-6, 6)], shape=400), k=3)
    >>> np.round(m.rates, 2)
    array([1., 2., 3.])
    """
    check_problem(sde, grid)
    tol = check_tolerance(tol)
    k = positive_int("k", k)
    if sde.time_dependent:
        raise ValueError("`modes` needs a time-independent SDE (`time_dependent=False`).")
    k = int(k)
    if k + 1 >= grid.size - 1:
        raise ValueError(f"`k={k}` is too large for a grid of {grid.size} cells.")
    fl = fluxes(sde, grid, scheme=scheme)
    A = fl.matrix
    shift = 1e-9 * np.abs(A.diagonal()).max()
    psi = None if grid.has_absorbing else fl.potential()
    if psi is not None:
        # S = P^{-1/2} A P^{1/2}, off-diagonals sqrt(a_ij a_ji)
        inner = fl.head >= 0
        sym = np.sqrt(fl.forward[inner] * fl.backward[inner])
        t, h = fl.tail[inner], fl.head[inner]
        S = sp.csr_matrix((np.concatenate([sym, sym, A.diagonal()]),
                           (np.concatenate([t, h, np.arange(grid.size)]),
                            np.concatenate([h, t, np.arange(grid.size)]))), shape=A.shape)
        vals, vecs = spla.eigsh(S.tocsc(), k=k + 1, sigma=shift, which="LM", tol=tol)
        vecs = vecs * np.exp(-0.5 * (psi.ravel() - psi.min()))[:, None]
        vals = vals.astype(complex)
    else:
        vals, vecs = spla.eigs(A.tocsc(), k=k + 1, sigma=shift, which="LM", tol=tol)
    order = np.argsort(-vals.real)
    vals, vecs = vals[order], vecs[:, order]
    if not grid.has_absorbing:  # drop exactly the eigenvalue nearest 0 (the stationary one)
        drop = int(np.argmin(np.abs(vals)))
        vals, vecs = np.delete(vals, drop), np.delete(vecs, drop, axis=1)
    else:
        vals, vecs = vals[:k], vecs[:, :k]
    vecs = vecs / np.abs(vecs).max(axis=0)
    if np.all(np.abs(vals.imag) <= 1e-12 * np.abs(vals)):
        vecs = vecs.real
    res = Modes(-vals.real, vals, vecs.T.reshape((len(vals),) + grid.shape), grid, psi is not None)
    # where the answer lives: the stationary density (detailed balance), else the modes
    weight = np.exp(-(psi - psi.min())) if psi is not None else np.abs(res.modes).sum(axis=0)
    check_resolution(fl, weight, "modes", density=psi is not None)
    if error_estimate:
        est = estimate_error(lambda g: modes(sde, g, k, scheme=scheme, tol=tol, error_estimate=False).rates,
                             grid, order=ORDER[scheme], value=res.rates)
        res = replace(res, error_estimate=np.asarray(est.error, dtype=float))
    return res


def spectral_gap(sde: SDE, grid: Grid, *, scheme: str = "sg", tol: float = 1e-10) -> float:
    """Relaxation rate: the smallest nonzero ``-Re(lambda)`` of the generator.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> L = lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2
    >>> gap = fp.spectral_gap(fp.langevin(L, sigma=np.sqrt(0.2)), fp.Grid(bounds=[(-3, 3)], shape=2400))
    >>> f"{gap:.4e}"  # second order in h; the exact value is 3.354529e-2
    '3.3545e-02'
    """
    return float(modes(sde, grid, k=1, scheme=scheme, tol=tol, error_estimate=False).rates[0])
