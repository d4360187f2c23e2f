r"""Irreversibility of a stationary state: detailed balance and entropy production.

For stationary states (reflecting/periodic boundaries):

* :func:`equilibrium_test` compares the stationary current with the diffusive
  flux scale ``|D grad p|``; at equilibrium (detailed balance) ``J = 0``.
* :func:`entropy_production` is the rate
  ``e_p = integral J^T D^{-1} J / p dx`` with ``D = C / 2``: zero exactly for
  reversible systems, positive with a stationary current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._discretization.generator import check_problem
from .._model.grid import Grid
from .._model.sde import SDE
from .._util.summary import Summary
from .._util.validate import covariance, show
from .stationary import StationaryResult, stationary

__all__ = ["Equilibrium", "entropy_production", "equilibrium_test"]


# ------------------------------------------------------ detailed balance, e_p
def _stationary_of(obj: Any, grid: Grid | None, scheme: str, who: str) -> Any:

    if isinstance(obj, StationaryResult):
        if grid is not None and grid is not obj.grid:
            raise ValueError(f"`{who}`: `grid` was given with a StationaryResult that has its own grid; drop `grid=`.")
        if obj.fluxes is None or obj.sde is None:
            raise ValueError(
                f"`{who}` needs the SDE and fluxes of the result, which a result read back with "
                "fp.load does not have; solve again with fp.stationary.")
        return obj
    if isinstance(obj, SDE):
        if grid is None:
            raise ValueError(f"`{who}(sde, grid)`: pass the `grid` too, or a StationaryResult.")
        check_problem(obj, grid)
        if obj.time_dependent:
            raise ValueError(
                f"`{who}` needs a time-independent SDE, but this one was built with "
                "`time_dependent=True`; a moving drift has no stationary state.")
        return stationary(obj, grid, scheme=scheme, error_estimate=False)
    raise TypeError(f"`{who}` takes an SDE and a Grid, or a StationaryResult; got {type(obj).__name__}.")


def _diffusion(res: Any) -> np.ndarray:
    """``D = C / 2`` at the cell centres, ``(size, d, d)`` or ``(d, d)`` if constant."""
    g, sde = res.grid, res.sde
    if sde.noise_is_constant:
        return 0.5 * np.asarray(sde.cov(np.zeros(g.ndim)), dtype=float)
    return 0.5 * np.asarray(sde.cov(g.points().reshape(-1, g.ndim)), dtype=float)


def _local_entropy_production(res: Any) -> np.ndarray:
    """``J^T D^{-1} J / p`` per cell (0 where ``p`` underflows), ``grid.shape``."""
    g = res.grid
    p = np.asarray(res.density, dtype=float).ravel()
    J = np.asarray(res.current(), dtype=float).reshape(g.ndim, -1).T  # (size, d)
    D = _diffusion(res)
    covariance("cov", 2 * D, None if D.ndim == 2 else g.points().reshape(-1, g.ndim), definite=True,
               hint="The entropy production J^T D^-1 J / p needs noise in every direction: where "
                    "there is none, the current has parts (like dx = v dt) that no noise can "
                    "reverse and the formula diverges; for Langevin dynamics with inertia use the "
                    "time-reversal with odd velocities instead.")
    if D.ndim == 2:
        v = np.linalg.solve(D, J.T).T
    else:
        v = np.linalg.solve(D, J[..., None])[..., 0]
    quad = np.einsum("ni,ni->n", J, v)
    keep = p > 1e-30 * p.max()  # below this the cell's share is below 1e-30 * p_max |v|^2
    out = np.zeros_like(p)
    out[keep] = quad[keep] / p[keep]
    return out.reshape(g.shape)


def entropy_production(sde: Any, grid: Grid | None = None, *, scheme: str = "sg") -> float:
    r"""Stationary entropy production rate ``e_p = integral J^T D^{-1} J / p dx``.

    Parameters
    ----------
    sde : SDE or StationaryResult
        An SDE (then ``grid`` is required and the stationary density is solved for),
        or the result of :func:`~fokkerplanck.stationary`.
    grid : Grid, optional
        Reflecting and/or periodic boundaries.
    scheme : str
        Discretization, when solving.

    Returns
    -------
    float
        ``>= 0``; zero (to round-off) for reversible systems, positive when the
        stationary state carries a current.

    Notes
    -----
    With ``D = C / 2`` and the stationary current ``J = b p - D grad p``
    (:meth:`StationaryResult.current`, the cell-centred discrete current that is
    consistent with the generator), the entropy production rate (in units of
    ``k_B`` per unit time) is

    .. math:: e_p = \int \frac{J^T D^{-1} J}{p}\,dx \ge 0,

    midpoint rule over the cells; cells where ``p < 1e-30 max p`` (underflow)
    contribute nothing. For the Ornstein–Uhlenbeck process
    ``dx = -H x dt + B dW``, ``D = B B^T / 2``, stationary covariance ``S``
    (``H S + S H^T = 2 D``), ``J = (D S^{-1} - H) x p`` and

    .. math:: e_p = \operatorname{tr}(D^{-1} H S H^T) - \operatorname{tr} H,

    zero exactly when ``H D`` is symmetric (``J = 0``).

    Examples
    --------
    The non-commuting SGD / OU case: ``H = diag(1, 4)``, noise
    ``[[1, .5], [.5, 1]]``; exact ``e_p = 0.6`` (second order in ``h``: 0.5888,
    0.5972, 0.5993 on 48^2, 96^2, 192^2 cells).

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> sde = fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
    >>> grid = fp.Grid(bounds=[(-4, 4), (-2, 2)], shape=(96, 96))
    >>> round(fp.entropy_production(sde, grid), 3)
    0.597
    """
    res = _stationary_of(sde, grid, scheme, "entropy_production")
    return float(res.grid.integrate(_local_entropy_production(res)))


@dataclass(frozen=True, eq=False, repr=False)
class Equilibrium(Summary):
    """Verdict of :func:`equilibrium_test`.

    Attributes
    ----------
    equilibrium : bool
        ``ratio <= rtol``: no stationary current beyond the discretization error.
    ratio : float
        ``current_norm / flux_scale``.
    current_norm : float
        ``integral |J| dx`` (Euclidean norm per cell).
    flux_scale : float
        ``integral |D grad p| dx``, the size of either flux that balances at
        equilibrium (``b p`` and ``D grad p``).
    rtol : float
    detailed_balance : bool
        Whether the discrete rates satisfy Kolmogorov's criterion exactly (then
        ``J = 0`` to round-off on the grid).
    entropy_production : float
        :func:`entropy_production` of the state.
    message : str
    success : bool
        Always True (the verdict is ``equilibrium``).
    error_estimate : float
        ``nan``: ``rtol`` sets the discretization error the verdict allows.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-4, 4)] * 2, shape=48)
    >>> gibbs = fp.stationary(fp.langevin(lambda x: 0.5 * (x**2).sum(-1), 1.0), grid)
    >>> ou = fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]), grid)
    >>> fp.equilibrium_test(gibbs).equilibrium, fp.equilibrium_test(ou).equilibrium
    (True, False)
    """

    equilibrium: bool
    ratio: float
    current_norm: float
    flux_scale: float
    rtol: float
    detailed_balance: bool
    entropy_production: float
    message: str

    success = True
    error_estimate = math.nan
    _error_meaning = "not computed; rtol is the allowance for discretization error"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("equilibrium", self.equilibrium), ("ratio", self.ratio), ("rtol", self.rtol),
                ("entropy_production", self.entropy_production), ("detailed_balance", self.detailed_balance)]

    def __bool__(self) -> bool:
        return self.equilibrium


def equilibrium_test(res: Any, grid: Grid | None = None, *, rtol: float = 1e-3, scheme: str = "sg") -> Equilibrium:
    r"""Whether a stationary state is an equilibrium (detailed balance, no current).

    Parameters
    ----------
    res : StationaryResult or SDE
        A result of :func:`~fokkerplanck.stationary`, or an SDE (then pass ``grid``).
    grid : Grid, optional
        With an SDE.
    rtol : float
        Largest ``|J| / |D grad p|`` still called equilibrium. The grid current of
        a reversible system is zero to round-off when the discrete rates satisfy
        detailed balance, and of the order of the discretization error otherwise
        (``O(h^2)`` to ``O(h^4)``); irreversible systems give ``O(1)``.
    scheme : str
        Discretization, when solving.

    Returns
    -------
    Equilibrium
        Truthy when the state is an equilibrium.

    Notes
    -----
    ``ratio = integral |J| / integral |D grad p|`` with the discrete current ``J``
    of :meth:`StationaryResult.current` and ``grad p`` by second-order central
    differences. Both fluxes that cancel at equilibrium, ``b p`` and
    ``D grad p``, are of the size of ``flux_scale``.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-4, 4), (-2, 2)], shape=(48, 48))
    >>> fp.equilibrium_test(fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), 1.0), grid)).equilibrium
    True
    >>> t = fp.equilibrium_test(fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]), grid))
    >>> t.equilibrium, t.ratio > 0.1
    (False, True)
    """
    if not (isinstance(rtol, (int, float)) and math.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"`rtol` must be a non-negative number, got {show(rtol)}.")
    res = _stationary_of(res, grid, scheme, "equilibrium_test")
    g = res.grid
    p = np.asarray(res.density, dtype=float)
    J = np.asarray(res.current(), dtype=float)
    Jn = np.sqrt(np.sum(J**2, axis=0))
    grads = [np.gradient(p, h, axis=k, edge_order=2) if not g.periodic[k]
             else (np.roll(p, -1, axis=k) - np.roll(p, 1, axis=k)) / (2 * h)
             for k, h in enumerate(g.spacing)]
    G = np.stack(grads, axis=-1).reshape(-1, g.ndim)
    D = _diffusion(res)
    DG = G @ D.T if D.ndim == 2 else np.einsum("nij,nj->ni", D, G)
    current_norm = float(g.integrate(Jn))
    scale = float(g.integrate(np.sqrt(np.sum(DG**2, axis=-1)).reshape(g.shape)))
    if scale > 0:
        ratio = current_norm / scale
    else:
        ratio = 0.0 if current_norm == 0 else math.inf
    psi = res.fluxes.potential()
    ep = float(g.integrate(_local_entropy_production(res)))
    eq = bool(ratio <= rtol)
    msg = (f"{'equilibrium' if eq else 'NOT an equilibrium'}: |J| / |D grad p| = {ratio:.3g} "
           f"({'<=' if eq else '>'} rtol={rtol:g}); entropy production {ep:.4g}"
           + ("; the discrete rates satisfy detailed balance" if psi is not None else ""))
    return Equilibrium(eq, ratio, current_norm, scale, float(rtol), psi is not None, ep, msg)
