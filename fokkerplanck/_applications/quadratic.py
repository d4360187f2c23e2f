"""Quadratic minima and separable losses: exact densities and covariances of SGD and of
its SDE (two temperatures, Lyapunov equations, Hessian-normalized coordinates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from .._model.grid import Grid
from .._model.models import lyapunov
from .._util.summary import Summary
from .inputs import (
    check_batch,
    check_lr,
    noise_matrix,
    preconditioner,
    square_matrix,
    symmetric_matrix,
)

__all__ = ["HessianCoordinates", "discrete_sgd_cov", "hessian_coordinates", "sgd_cov", "two_temperature"]

Array = np.ndarray


def two_temperature(
    loss_x: Callable[[Array], Array],
    loss_y: Callable[[Array], Array],
    eta: float | Sequence[float],
    sigma_x: float,
    sigma_y: float,
    grid: Grid,
) -> Array:
    r"""The two-temperature density of SGD on a separable loss.

    ``p(x, y) = exp(-2 L_x(x) / (eta_x sigma_x^2) - 2 L_y(y) / (eta_y sigma_y^2)) / Z``
    at the cell centres of a 2-D ``grid``, normalised on it. It is the stationary
    density of ``fp.sgd(L_x + L_y, eta, cov=[sigma_x**2, sigma_y**2])`` — not a Gibbs
    density unless ``eta_x sigma_x^2 = eta_y sigma_y^2``.

    Parameters
    ----------
    loss_x, loss_y : callable
        Losses of one coordinate, called with points of shape ``(..., 1)``.
    eta : float or (eta_x, eta_y)
        Learning rate, or one per parameter ("forcing a Gibbs distribution":
        ``eta_i = eta' / sigma_i^2``).
    sigma_x, sigma_y : float
        Standard deviations of the single-example gradient components.
    grid : Grid
        A 2-D grid.

    Returns
    -------
    ndarray, ``grid.shape``

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid([(-4, 4), (-4, 4)], 64)
    >>> q = lambda u: 0.5 * u[..., 0] ** 2
    >>> p = fp.two_temperature(q, q, 0.5, 1.0, 2.0, grid)   # variances 0.25 and 1
    >>> np.round(np.diag(grid.cov(p)), 3)
    array([0.25 , 0.999])
    """
    if grid.ndim != 2:
        raise ValueError(f"`grid` must be 2-D for a two-temperature density, got {grid.ndim}-D.")
    e = np.broadcast_to(np.asarray(eta, dtype=float), (2,))
    ex, ey = check_lr(e[0], "eta"), check_lr(e[1], "eta")
    sx, sy = check_lr(sigma_x, "sigma_x"), check_lr(sigma_y, "sigma_y")
    pts = grid.points()
    lx = np.asarray(loss_x(pts[..., :1]), dtype=float)
    ly = np.asarray(loss_y(pts[..., 1:]), dtype=float)
    logp = -2.0 * lx / (ex * sx**2) - 2.0 * ly / (ey * sy**2)
    p = np.exp(logp - logp.max())
    return p / grid.integrate(p)


def _quadratic_inputs(H: Any, cov: Any, lr: Any, batch_size: Any, lr_per_param: Any = None,
                      *, definite: bool = False):
    """Checked ``(H, Sigma as (d, d), eta, B, P as (d, d))`` of a quadratic minimum."""
    Hm = symmetric_matrix("H", square_matrix("H", H), definite=definite)
    d = Hm.shape[0]
    S, _ = noise_matrix(cov, d)
    if callable(S):
        raise TypeError("`cov` must be a constant matrix here (the noise at the minimum).")
    S = float(S) * np.eye(d) if S.ndim == 0 else S
    eta = check_lr(lr)
    B = check_batch(batch_size)
    P, _ = preconditioner(lr_per_param, d)
    P = eta * np.eye(d) if P is None else (float(P) * np.eye(d) if P.ndim == 0 else P)
    return Hm, S, eta, B, P


def sgd_cov(H: Any, cov: Any, lr: float, *, batch_size: int = 1, lr_per_param: Any = None) -> Array:
    r"""Stationary covariance of the SGD *SDE* on the quadratic loss ``Phi^T H Phi / 2``.

    Solves ``H C + C H = eta Sigma / B`` (with a preconditioner, ``M H C + C H M =
    P Sigma P / (eta B)``, ``M = P / eta``) via :func:`fokkerplanck.lyapunov`. Then
    ``E[L] = tr(H C) / 2 = eta tr(Sigma) / (4 B)`` for every SPD ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck import sgd_cov
    >>> sgd_cov(np.diag([1.0, 4.0]), np.eye(2), 0.1)
    array([[0.05  , 0.    ],
           [0.    , 0.0125]])
    """
    Hm, S, eta, B, P = _quadratic_inputs(H, cov, lr, batch_size, lr_per_param)
    ev = np.linalg.eigvals((P / eta) @ Hm)
    if np.any(ev.real <= 0):
        raise ValueError(
            f"`H` (times the preconditioner) has eigenvalues {ev.tolist()}; all must have "
            "positive real part for a stationary density (a minimum, not a saddle)."
        )
    C = lyapunov((P / eta) @ Hm, P @ S @ P / (eta * B))
    return 0.5 * (C + C.T)


def discrete_sgd_cov(
    H: Any, cov: Any, lr: float, *, batch_size: int = 1, lr_per_param: Any = None
) -> Array:
    r"""Exact stationary covariance of *discrete* SGD on the quadratic loss ``Phi^T H Phi / 2``
    with additive gradient noise of covariance ``Sigma / B``.

    The iteration ``Phi' = Phi - P (H Phi + xi)`` (``P = eta I`` for plain SGD) has
    ``C = A C A^T + P Sigma P / B``, ``A = I - P H``, solved exactly with
    :func:`scipy.linalg.solve_discrete_lyapunov`. For plain SGD this is
    ``H C + C H - eta H C H = eta Sigma / B``: the SDE's Lyapunov equation plus an
    ``O(eta)`` correction, so discrete SGD is wider than the SDE predicts (1-D:
    ``eta sigma^2 / (h (2 - eta h))`` against ``eta sigma^2 / (2 h)``).

    Parameters
    ----------
    H : (d, d) array
        Symmetric Hessian.
    cov : float, (d,) or (d, d) array
        Single-example gradient covariance ``Sigma``.
    lr : float
        Learning rate ``eta``.
    batch_size : int
    lr_per_param : float, (d,) or (d, d) array, optional
        Per-parameter rates or preconditioner ``P`` (replaces ``eta I`` in the step).

    Raises
    ------
    ValueError
        If SGD does not converge in distribution (spectral radius of ``I - P H`` >= 1,
        e.g. ``eta lambda_max(H) >= 2``).

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> round(float(fp.discrete_sgd_cov(2.0, 1.0, 0.1)[0, 0]), 12)   # 0.1 / (2 * (2 - 0.2))
    0.027777777778
    """
    Hm, S, _, B, P = _quadratic_inputs(H, cov, lr, batch_size, lr_per_param)
    A = np.eye(Hm.shape[0]) - P @ Hm
    rho = float(np.max(np.abs(np.linalg.eigvals(A))))
    if rho >= 1.0:
        raise ValueError(
            f"SGD with these rates has no stationary distribution: the spectral radius of "
            f"I - eta H is {rho:.6g} >= 1 (plain SGD needs 0 < eta lambda(H) < 2 for every "
            "eigenvalue of H); lower `lr`."
        )
    C = scipy.linalg.solve_discrete_lyapunov(A, P @ S @ P.T / B)
    return 0.5 * (C + C.T)


@dataclass(frozen=True, eq=False, repr=False)
class HessianCoordinates(Summary):
    r"""Hessian-normalized mode coordinates of a quadratic minimum.

    ``u = transform @ Phi = U^T H^(1/2) Phi``: in ``z = H^(1/2) Phi`` the loss is
    ``|z|^2 / 2`` (Hessian ``I``), the single-example gradient ``d l / dz = H^(-1/2)
    g_hat`` has covariance ``Sigma_z = H^(-1/2) Sigma H^(-1/2)``, and ``U`` holds its
    eigenvectors (eigenvalues ``noise_var = sigma_i^2``).

    Attributes
    ----------
    transform : (d, d)
        ``Phi -> u``.
    inverse : (d, d)
        ``u -> Phi``.
    noise_var : (d,)
        ``sigma_i^2``, per-mode gradient-noise variances in the normalized coordinates.
    temperature : (d,)
        ``T_i = eta sigma_i^2 / (2 B)``: the density ``prod_i exp(-u_i^2 / (2 T_i))``,
        i.e. ``exp(-sum_i u_i^2 / (eta sigma_i^2))`` for ``B = 1`` (for
        ``L = |u|^2 / 2``; a factor 2 appears in the exponent for ``L = |u|^2``); ``T_i`` is the
        variance of mode ``i``.
    cov : (d, d)
        The implied covariance of ``Phi``, ``eta H^-1 Sigma H^-1 / (2 B)``.
    success, message, error_estimate
        True, ``""`` and ``nan``: closed forms, exact up to round-off.

    Notes
    -----
    SGD is not invariant under a change of coordinates: plain SGD written in ``z`` is
    SGD preconditioned by ``H``. The mode picture is therefore exact for SGD run *in*
    the normalized coordinates — in ``Phi``, the preconditioner ``P = eta H^-1``
    (``lr_per_param=eta * inv(H)``) — and for plain SGD only when ``H = I`` (for
    commuting ``H``, ``Sigma`` the plain-SGD variances are ``eta Sigma_i / (2 h_i)``
    along the common eigenvectors). Plain SGD's stationary covariance is always
    :func:`sgd_cov` (``H C + C H = eta Sigma``).
    """

    transform: Array
    inverse: Array
    noise_var: Array
    temperature: Array
    cov: Array
    lr: float
    batch_size: int

    success = True
    message = ""
    error_estimate = math.nan
    _error_meaning = "closed form"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("temperature", self.temperature), ("lr", self.lr), ("batch_size", self.batch_size)]

    def to_modes(self, phi: Array) -> Array:
        """``u = transform Phi`` for points ``(..., d)``."""
        return np.asarray(phi, dtype=float) @ self.transform.T

    def from_modes(self, u: Array) -> Array:
        """``Phi = inverse u`` for points ``(..., d)``."""
        return np.asarray(u, dtype=float) @ self.inverse.T


def hessian_coordinates(H: Any, cov: Any, lr: float, *, batch_size: int = 1) -> HessianCoordinates:
    r"""Hessian-normalized coordinates, noise modes and per-mode temperatures.

    See :class:`HessianCoordinates` for what the numbers mean and when the mode
    picture is exact.

    Parameters
    ----------
    H : (d, d) array
        Symmetric positive-definite Hessian at the minimum.
    cov : float, (d,) or (d, d) array
        Single-example gradient covariance ``Sigma`` (in the original coordinates).
    lr : float
    batch_size : int

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> hc = fp.hessian_coordinates(np.eye(2), np.diag([1.0, 4.0]), 0.1)
    >>> hc.temperature          # eta sigma_i^2 / 2, ascending
    array([0.05, 0.2 ])
    """
    Hm, S, eta, B, _ = _quadratic_inputs(H, cov, lr, batch_size, definite=True)
    w, V = np.linalg.eigh(Hm)
    h_half = (V * np.sqrt(w)) @ V.T
    h_mhalf = (V / np.sqrt(w)) @ V.T
    Sz = h_mhalf @ S @ h_mhalf
    s2, U = np.linalg.eigh(0.5 * (Sz + Sz.T))
    T = eta * s2 / (2 * B)
    transform = U.T @ h_half
    inverse = h_mhalf @ U
    C = (inverse * T) @ inverse.T
    return HessianCoordinates(
        transform=transform, inverse=inverse, noise_var=s2, temperature=T,
        cov=0.5 * (C + C.T), lr=eta, batch_size=B,
    )
