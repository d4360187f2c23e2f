"""Classic SDEs (Brownian motion, Langevin dynamics, Ornstein–Uhlenbeck) as :class:`~fokkerplanck.SDE` constructors, and exact densities.

Constructors: :func:`brownian`, :func:`langevin`, :func:`ornstein_uhlenbeck`
(the SGD SDE lives in :mod:`fokkerplanck.sgd`). Exact references:
:func:`gibbs`, :func:`gaussian_density`, :func:`heat_kernel`, :func:`lyapunov`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from .._util.deprecation import old_argument_order
from .._util.linalg import rows_times
from .._util.validate import covariance as _covariance
from .._util.validate import positive as _positive
from .._util.validate import real_array, show
from .grid import Grid
from .sde import SDE

__all__ = [
    "brownian",
    "gaussian_density",
    "gibbs",
    "heat_kernel",
    "langevin",
    "lyapunov",
    "ornstein_uhlenbeck",
    "underdamped_langevin",
]


def brownian(sigma: float = 1.0, ndim: int = 1) -> SDE:
    """Brownian motion ``dx = sigma dB`` (the limit of the random walk ``z(t + dt) = z(t) + sigma eps sqrt(dt)``).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> fp.brownian(0.5, ndim=2).cov(np.zeros(2))
    array([[0.25, 0.  ],
           [0.  , 0.25]])
    """
    return SDE(sigma=_positive("sigma", sigma), ndim=ndim)


def langevin(loss: Callable, sigma: float | np.ndarray, grad: Callable | None = None, *, ndim: int | None = None) -> SDE:
    """Langevin dynamics ``dx = -grad L(x) dt + sigma dB``.

    The stationary density is the Gibbs density ``exp(-2 L / sigma^2) / Z`` (for
    scalar ``sigma``); the grid solver reproduces it at the cell centres to
    round-off.

    Parameters
    ----------
    loss : callable
        ``L(x) -> (...)`` for ``x`` of shape ``(..., d)``.
    sigma : float or (d,) array
        Temperature parameter (noise amplitude); a vector gives one per axis.
    grad : callable, optional
        ``grad L``; finite differences of ``loss`` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> sde = fp.langevin(lambda x: 0.5 * x[..., 0]**2, sigma=1.0)
    >>> grid = fp.Grid(bounds=[(-6, 6)], shape=120)
    >>> p = fp.stationary(sde, grid).density
    >>> bool(np.allclose(p, fp.gibbs(grid, lambda x: 0.5 * x[..., 0]**2, 0.5), rtol=1e-10))
    True
    """
    try:
        s = np.asarray(sigma, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`sigma` must be a positive number or per-axis vector, got {sigma!r}.") from None
    if s.ndim == 0:
        _positive("sigma", float(s))
    elif s.ndim == 1:
        if not np.all(np.isfinite(s) & (s > 0)):
            raise ValueError(f"`sigma` must be positive, got {s.tolist()}.")
    else:
        raise ValueError(
            f"`sigma` for Langevin dynamics is a scalar or a per-axis vector, got shape "
            f"{s.shape}; for a full noise matrix build fp.SDE(loss=..., sigma=...)."
        )
    return SDE(loss=loss, grad=grad, sigma=s if s.ndim else float(s), ndim=ndim)


def underdamped_langevin(loss: Callable, gamma: float, sigma: float, grad: Callable | None = None,
                         *, ndim: int = 1) -> SDE:
    r"""Langevin dynamics with inertia (Kramers' equation) on the phase space ``(x, v)``.

    .. math::  dx = v\,dt, \qquad dv = (-\nabla L(x) - \gamma v)\,dt + \sigma\,dB,

    an SDE in ``2 ndim`` dimensions (the positions first, then the velocities) whose
    noise acts on the velocities only: its covariance ``diag(0, sigma^2)`` is
    singular. It is built in the form ``-(M + Q) grad H`` with the energy
    ``H = L(x) + |v|^2 / 2`` as its ``loss``, ``M = diag(0, gamma)``,
    ``Q = [[0, -I], [I, 0]]`` (:attr:`SDE.structure`), so that the generator keeps
    the stationary density exact. Its stationary density is the phase-space Gibbs density

    .. math::  p(x, v) \propto \exp\bigl(-(L(x) + |v|^2/2) / T\bigr),
               \qquad T = \sigma^2 / (2\gamma),

    (fluctuation-dissipation), whatever ``gamma``; the marginal in ``x`` is that
    of overdamped Langevin dynamics at the same ``T``. Large ``gamma`` is the
    overdamped limit (on the time scale ``gamma t``), small ``gamma`` the
    underdamped one where energy diffuses slowly.

    Parameters
    ----------
    loss : callable
        ``L(x) -> (...)`` for positions ``x`` of shape ``(..., ndim)``.
    gamma : float
        Friction, ``> 0``.
    sigma : float
        Noise amplitude on the velocities, ``> 0``.
    grad : callable, optional
        ``grad L`` (``(..., ndim) -> (..., ndim)``); fourth-order finite
        differences of ``loss`` otherwise.
    ndim : int
        Number of positions ``d`` (``1`` or ``2``; the phase space has ``2 d`` axes).

    Returns
    -------
    SDE
        On ``z = (x, v)``; use a grid with ``2 ndim`` axes.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> sde = fp.underdamped_langevin(lambda x: 0.5 * x[..., 0]**2, gamma=1.0, sigma=1.0)
    >>> grid = fp.Grid(bounds=[(-4, 4), (-4, 4)], shape=64)
    >>> p = fp.stationary(sde, grid).density
    >>> exact = fp.gibbs(grid, lambda z: 0.5 * (z**2).sum(-1), 0.5)   # T = 1 / 2
    >>> bool(grid.integrate(abs(p - exact)) < 1e-12)
    True
    >>> sde.structure.temperature
    0.5
    """
    if not callable(loss):
        raise TypeError(f"`loss` must be callable, got {type(loss).__name__}.")
    g = _positive("gamma", gamma)
    s = _positive("sigma", sigma, hint=" For noise on positions too, build fp.SDE(drift=..., cov=...).")
    if isinstance(ndim, bool) or ndim not in (1, 2):
        raise ValueError(f"`ndim` (the number of positions) must be 1 or 2, got {ndim!r}; the phase space has 2 * ndim axes.")
    d = int(ndim)
    force = SDE(loss=loss, grad=grad, sigma=1.0, ndim=d)

    def energy(z: np.ndarray) -> np.ndarray:
        return force.loss(z[..., :d]) + 0.5 * (z[..., d:] ** 2).sum(-1)

    def grad_energy(z: np.ndarray) -> np.ndarray:
        return np.concatenate([force.grad_loss(z[..., :d]), z[..., d:]], axis=-1)

    eye, zero = np.eye(d), np.zeros((d, d))
    return SDE(loss=energy, grad=grad_energy, cov=np.diag(np.r_[np.zeros(d), np.full(d, s * s)]),
               mobility=np.diag(np.r_[np.zeros(d), np.full(d, g)]),
               antisymmetric=np.block([[zero, -eye], [eye, zero]]), ndim=2 * d)


def ornstein_uhlenbeck(H: Any, cov: Any, *, mean: Any = None) -> SDE:
    """Ornstein–Uhlenbeck ``dx = -H (x - m) dt + cov^(1/2) dB``.

    The stationary density is Gaussian with mean ``m`` and the covariance ``S``
    solving ``H S + S H^T = cov`` (:func:`lyapunov`), when ``H`` is stable.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> fp.lyapunov(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
    array([[0.5  , 0.1  ],
           [0.1  , 0.125]])
    """
    try:
        Hm = np.atleast_2d(np.asarray(H, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"`H` must be a square matrix of numbers (or a scalar), got {H!r}.") from None
    if Hm.ndim != 2 or Hm.shape[0] != Hm.shape[1] or not np.all(np.isfinite(Hm)):
        raise ValueError(f"`H` must be a finite square matrix (or a scalar), got shape {np.shape(H)}.")
    d = Hm.shape[0]
    if np.any(np.linalg.eigvals(Hm).real <= 0):
        raise ValueError(
            f"`H` has eigenvalues {np.linalg.eigvals(Hm).tolist()}; all real parts must be "
            "positive for the process to have a stationary density."
        )
    if mean is None:
        m = np.zeros(d)
    else:
        m = real_array("mean", mean)
        if m.shape not in ((), (1,), (d,)) or not np.all(np.isfinite(m)):
            raise ValueError(
                f"`mean` must be a finite number or {d} numbers (one per axis of the {d}-D "
                f"process), got {show(mean)}."
            )
        m = np.broadcast_to(m, (d,)).copy()
    c = np.asarray(cov, dtype=float)
    if c.ndim == 2 and c.shape != (d, d):
        raise ValueError(f"`cov` has shape {c.shape} but `H` is {d}x{d}.")

    def drift(x: np.ndarray) -> np.ndarray:
        return -rows_times(x - m, Hm)

    return SDE(drift=drift, cov=c, ndim=d)


def lyapunov(H: Any, cov: Any) -> np.ndarray:
    """Stationary covariance ``S`` of ``dx = -H x dt + cov^(1/2) dB``: ``H S + S H^T = cov``.

    ``cov`` may be singular (noise in some directions only): ``S`` is still positive
    definite when the drift carries the noise into every direction (Kalman's rank
    condition on ``(H, cov)``), as for Langevin dynamics with inertia.

    Examples
    --------
    A non-commuting Hessian and noise:

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> fp.lyapunov(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
    array([[0.5  , 0.1  ],
           [0.1  , 0.125]])

    Noise on the velocity only (``dx = v dt``, ``dv = -x dt - v dt + dB``):

    >>> np.round(fp.lyapunov([[0.0, -1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]), 12)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    Hm = np.atleast_2d(np.asarray(H, dtype=float))
    d = Hm.shape[0]
    if Hm.ndim != 2 or Hm.shape != (d, d) or not np.all(np.isfinite(Hm)):
        raise ValueError(f"`H` must be a finite square matrix (or a scalar), got shape {np.shape(H)}.")
    ev = np.linalg.eigvals(Hm)
    if np.any(ev.real <= 0):
        raise ValueError(
            f"`H` has eigenvalues {ev.tolist()}; all real parts must be positive for a "
            "stationary covariance to exist."
        )
    c = np.asarray(cov, dtype=float)
    c = c * np.eye(d) if c.ndim == 0 else (np.diag(c) if c.ndim == 1 else c)
    if c.shape != (d, d):
        raise ValueError(f"`cov` has shape {c.shape} but `H` is {d}x{d}.")
    S = scipy.linalg.solve_continuous_lyapunov(Hm, _covariance("cov", c))
    return 0.5 * (S + S.T)


def _normalised(logp: np.ndarray, grid: Grid) -> np.ndarray:
    p = np.exp(logp - logp.max())
    return p / grid.integrate(p)


def _check_grid(grid: Any) -> Grid:
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid, got {type(grid).__name__}.")
    return grid


@old_argument_order(("loss", "temperature", "grid"), new_first=Grid)
def gibbs(grid: Grid, loss: Callable, temperature: float) -> np.ndarray:
    """Gibbs density ``exp(-L / T) / Z`` at the cell centres, normalised on ``grid``.

    For Langevin dynamics with noise ``sigma``, ``T = sigma^2 / 2``. Like every
    density builder the grid comes first; the old order ``gibbs(loss, temperature,
    grid)`` still works for one release, with a :class:`DeprecationWarning`.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-8, 8)], shape=160)
    >>> p = fp.gibbs(grid, lambda x: 0.5 * x[..., 0]**2, 1.0)   # N(0, 1)
    >>> round(grid.integrate(p), 12), round(grid.integrate(p * grid.centers[0]**2), 6)
    (1.0, 1.0)
    """
    grid = _check_grid(grid)
    if not callable(loss):
        raise TypeError(f"`loss` must be callable, got {type(loss).__name__}.")
    T = _positive("temperature", temperature)
    return _normalised(-np.asarray(loss(grid.points()), dtype=float) / T, grid)


@old_argument_order(("mean", "cov", "grid"), new_first=Grid)
def gaussian_density(grid: Grid, mean: Any, cov: Any, *, normalise: bool = False) -> np.ndarray:
    """Gaussian density ``N(mean, cov)`` at the cell centres.

    With ``normalise=True`` it is rescaled to unit mass on the grid (the exact
    density of the truncated problem up to the box); otherwise the exact
    free-space density. The grid comes first, as in :func:`~fokkerplanck.gaussian`
    (the initial density, always normalised); the old order
    ``gaussian_density(mean, cov, grid)`` still works for one release, with a
    :class:`DeprecationWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-10, 10), (-10, 10)], shape=200)
    >>> p = fp.gaussian_density(grid, [1.0, 0.0], [[2.0, 0.5], [0.5, 1.0]])
    >>> np.round(grid.cov(p), 6)
    array([[2. , 0.5],
           [0.5, 1. ]])
    """
    grid = _check_grid(grid)
    d = grid.ndim
    m = np.broadcast_to(np.asarray(mean, dtype=float), (d,))
    c = np.asarray(cov, dtype=float)
    c = c * np.eye(d) if c.ndim == 0 else (np.diag(c) if c.ndim == 1 else c)
    c = _covariance("cov", c, definite=True, hint="A Gaussian density needs a non-singular covariance.")
    if c.shape != (d, d):
        raise ValueError(f"`cov` has shape {c.shape} but the grid has {d} axes.")
    x = grid.points() - m
    sol = np.linalg.solve(c, x.reshape(-1, d).T).T.reshape(x.shape)
    logp = -0.5 * np.sum(x * sol, axis=-1) - 0.5 * np.linalg.slogdet(2 * np.pi * c)[1]
    return _normalised(logp, grid) if normalise else np.exp(logp)


@old_argument_order(("x0", "sigma", "t", "grid"), new_first=Grid)
def heat_kernel(grid: Grid, x0: Any, sigma: float, t: float) -> np.ndarray:
    """Density of ``x0 + sigma B_t`` (free space): ``N(x0, sigma^2 t I)`` at the centres.

    The grid comes first, as for every density builder; the old order
    ``heat_kernel(x0, sigma, t, grid)`` still works for one release, with a
    :class:`DeprecationWarning`.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-10, 10)], shape=400)
    >>> p = fp.heat_kernel(grid, [0.0], sigma=0.5, t=4.0)   # variance 0.25 * 4
    >>> round(grid.integrate(p * grid.centers[0]**2), 6)
    1.0
    """
    return gaussian_density(grid, x0, _positive("sigma", sigma) ** 2 * _positive("t", t))
