"""Heavy-ball (momentum) SGD as a phase-space SDE.

Heavy ball, ``m' = beta m - eta g_hat(Phi)``, ``Phi' = Phi + m'``, is taken in the scaling
``1 - beta = gamma sqrt(eta)`` (``gamma`` fixed as ``eta -> 0``), the one in which inertia
survives the small-step limit. With time ``t = n sqrt(eta)`` and velocity
``p = m / sqrt(eta)`` one step reads ``p' - p = -sqrt(eta) (g + gamma p) - sqrt(eta) xi``
(``xi`` the gradient noise, covariance ``Sigma / B``) and ``Phi' - Phi = sqrt(eta) p'``:
a symplectic-Euler step ``dt = sqrt(eta)`` of

    dPhi = p dt,   dp = (-g(Phi) - gamma p) dt + sqrt(sqrt(eta) Sigma / B) dB,

Langevin dynamics with inertia at temperature ``T = eta Sigma / (2 B (1 - beta))`` (the
effective rate ``eta / (1 - beta)``). With ``1 - beta`` of order one the velocity
relaxes within a few steps and the plain SGD SDE with rate ``eta / (1 - beta)`` is
recovered (``gamma -> infinity``).

How close real heavy ball is to this SDE (measured in the validation case
``sgd_heavy_ball``):

* Second moments: ``O(eta)``. On ``h Phi^2 / 2``, ``Var Phi`` is ``T / h (1 + eta h / 4
  + ...)``; the central velocity ``(m_k + m_{k+1}) / (2 sqrt(eta))`` (what
  :func:`~fokkerplanck.run_sgd` records) has exactly the variance ``T``, where ``m_k``
  alone is off by ``O(sqrt(eta))``.
* Shape: the SDE keeps only the covariance of the minibatch noise. The velocity is a
  weighted sum of the last ``~1 / (1 - beta)`` minibatch gradients, so their skewness
  ``s`` and excess kurtosis ``k`` reach it reduced only to (linear response about a
  minimum, ``K`` the velocity's response to a unit kick)
  ``-eta^(1/4) s / sqrt(B) int K^3 / (int K^2)^(3/2)`` and
  ``eta^(1/2) k / B int K^4 / (int K^2)^2``: of order ``(1 - beta)^(1/2)`` and
  ``1 - beta``, larger than the ``O(eta)`` above (plain SGD averages over
  ``~1 / (eta h)`` steps: ``O(eta^(1/2))`` and ``O(eta)``). Heavy-tailed per-example
  gradients (least squares with heteroscedastic noise, ``k`` of 8 to 15) and ``B = 1``
  give a velocity visibly more peaked and heavy-tailed than the SDE's; a batch size
  with ``sqrt(eta) k / B`` small brings the shape within the noise floor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._model.sde import SDE

Array = np.ndarray


def heavy_ball(grad: Callable[[Array], Array], noise: Any, d: int | None, eta: float,
                beta: float, loss: Callable[[Array], Array] | None = None) -> SDE:
    """The phase-space SDE of heavy-ball SGD, from the plain SGD SDE's pieces.

    ``grad`` is ``g(Phi)``, ``noise`` the plain SGD SDE's covariance ``eta Sigma_B``
    (a number, a ``(d, d)`` matrix or a callable of ``Phi``). Time ``t = n sqrt(eta)``,
    velocity ``p = m / sqrt(eta)``, friction ``gamma = (1 - beta) / sqrt(eta)``:
    ``dPhi = p dt``, ``dp = (-g - gamma p) dt + sqrt(sqrt(eta) Sigma_B) dB``.
    """
    if d is None:
        raise ValueError("`momentum` needs the number of parameters: pass `ndim=`.")
    if 2 * d > 4:
        raise ValueError(
            f"With `momentum` the SDE lives on (Phi, p), 2 d = {2 * d} dimensions; the grid "
            "handles up to 4 (d <= 2). Use fp.run_sgd for larger models."
        )
    root = np.sqrt(eta)
    gamma = (1.0 - beta) / root

    def drift(z: Array) -> Array:
        z = np.asarray(z, dtype=float)
        x, p = z[..., :d], z[..., d:]
        return np.concatenate([p, -np.asarray(grad(x), dtype=float) - gamma * p], axis=-1)

    if callable(noise):
        fn = noise

        def cov(z: Array) -> Array:
            z = np.asarray(z, dtype=float)
            out = np.zeros(z.shape[:-1] + (2 * d, 2 * d))
            out[..., d:, d:] = np.asarray(fn(z[..., :d]), dtype=float) / root
            return out

        return SDE(drift=drift, cov=cov, ndim=2 * d)
    c = np.asarray(noise, dtype=float)
    c = c * np.eye(d) if c.ndim == 0 else c
    full = np.zeros((2 * d, 2 * d))
    full[d:, d:] = c / root
    if loss is not None and np.allclose(c, c[0, 0] * np.eye(d), rtol=1e-12, atol=0):
        # isotropic noise: Kramers' equation in the form -(M + Q) grad H, exp(-H / T) exact
        eye, zero = np.eye(d), np.zeros((d, d))

        def energy(z: Array) -> Array:
            z = np.asarray(z, dtype=float)
            return np.asarray(loss(z[..., :d]), dtype=float) + 0.5 * (z[..., d:] ** 2).sum(-1)

        def grad_energy(z: Array) -> Array:
            z = np.asarray(z, dtype=float)
            return np.concatenate([np.asarray(grad(z[..., :d]), dtype=float), z[..., d:]], axis=-1)

        return SDE(loss=energy, grad=grad_energy, cov=full,
                   mobility=np.diag(np.r_[np.zeros(d), np.full(d, gamma)]),
                   antisymmetric=np.block([[zero, -eye], [eye, zero]]), ndim=2 * d)
    return SDE(drift=drift, cov=full, ndim=2 * d)


