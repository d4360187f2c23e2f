"""The SGD SDE from a loss and a gradient-noise covariance (plain or heavy ball).

SGD with learning rate ``eta`` and minibatch gradients ``g_hat`` (mean ``g = grad L``,
covariance ``Sigma / B`` for batch size ``B``) takes steps
``Phi' = Phi - eta g_hat``. With *time = sum of the learning rates* (``t = n eta``) the
central limit theorem gives the SGD SDE (Li, Tai and E 2017; Mandt, Hoffman and Blei 2017)::

    dPhi = -g(Phi) dt + sqrt(eta Sigma(Phi) / B) dB        (Ito, as discrete SGD is)

Per-parameter learning rates ``eta_i`` (or a symmetric preconditioner ``P``, steps
``Phi' = Phi - P g_hat``), with time still counted in units of a *reference* rate
``eta`` (``t = n eta``), give::

    dPhi = -(P / eta) g dt + sqrt(P Sigma P / (eta B)) dB .

The stationary density does not depend on the reference rate (it only sets the clock).
With ``P = eta' Sigma^-1`` (``eta_i = eta' / sigma_i^2`` for diagonal
noise) the noise satisfies fluctuation–dissipation and the density is the Gibbs density
``exp(-2 L / eta')`` ("forcing a Gibbs distribution").

The other SGD modules: :mod:`.data` (the SDE from per-example gradients and a data set),
:mod:`.minibatch` (real minibatch SGD), :mod:`.momentum` (the heavy-ball phase-space
SDE), :mod:`.quadratic` (exact references), :mod:`.inputs` (shared checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._model.sde import SDE
from .inputs import (
    check_batch,
    check_lr,
    check_momentum,
    check_psd_field,
    mobility_and_noise,
    noise_matrix,
    preconditioner,
    strict_grad,
)
from .momentum import heavy_ball

__all__ = ["sgd"]

Array = np.ndarray


def sgd(
    loss: Callable[[Array], Array],
    lr: float,
    cov: Any,
    grad: Callable[[Array], Array] | None = None,
    lr_per_param: Any = None,
    *,
    batch_size: int = 1,
    ndim: int | None = None,
    momentum: float = 0.0,
) -> SDE:
    r"""The SGD SDE ``dPhi = -g dt + sqrt(eta Sigma / B) dB`` for a loss.

    Time is the sum of the learning rates: one SGD step of rate ``eta`` advances ``t``
    by ``eta``.

    Parameters
    ----------
    loss : callable
        The (mean) training loss ``L(Phi) -> (...)`` for parameters ``Phi`` of shape
        ``(..., d)``.
    lr : float
        Learning rate ``eta > 0``. With ``lr_per_param`` it is the *reference* rate
        that sets the clock (``t = n eta``); the stationary density does not depend on
        it then.
    cov : float, (d,) array, (d, d) array or callable
        ``Sigma``, the covariance of a *single-example* gradient ``g_hat`` (a scalar
        means ``Sigma = cov I``; a vector the diagonal), or a callable
        ``Sigma(Phi) -> (..., d, d)`` for state-dependent noise (Ito convention, as
        discrete SGD is). The minibatch covariance is ``Sigma / batch_size`` (sampling
        with replacement; for minibatches drawn without replacement from ``N``
        examples multiply ``Sigma`` by ``(N - B) / (N - 1)``, or use
        :func:`sgd_from_data` with ``replace=False``).
    grad : callable, optional
        ``grad L(Phi) -> (..., d)``; fourth-order finite differences of ``loss``
        otherwise.
    lr_per_param : float, (d,) array or (d, d) array, optional
        Per-parameter learning rates ``eta_i`` (the step is ``Phi_i -= eta_i g_hat_i``),
        or a symmetric positive-definite preconditioner ``P`` (``Phi -= P g_hat``).
        Absolute rates, not multiples of ``lr``.
    batch_size : int
        Minibatch size ``B >= 1``.
    ndim : int, optional
        Number of parameters ``d`` when neither ``cov`` nor ``lr_per_param`` says it
        (then the SDE's callables are checked at construction).
    momentum : float
        Heavy-ball momentum ``0 <= beta < 1``. ``beta > 0`` returns the phase-space SDE
        of SGD with momentum (see Notes), on ``(Phi, p)`` in ``2 d`` dimensions.

    Returns
    -------
    SDE
        Plain SGD: ``SDE(loss=L, grad=grad, cov=eta Sigma / B)`` — the drift is exactly
        ``-grad L``, and with a constant diagonal ``Sigma`` and a separable loss the
        grid solver's stationary density is the exact (two-temperature) product
        density at the cell centres. A scalar ``lr_per_param = p`` scales the loss by
        ``p / eta``. Per-parameter rates: ``SDE(drift=-(P / eta) grad L,
        cov=P Sigma P / (eta B))`` (no ``loss``: the drift is not a gradient).

    Raises
    ------
    ValueError
        ``lr <= 0``, ``batch_size < 1``, ``lr_per_param`` of the wrong length, a
        covariance that is not symmetric positive semi-definite (for a callable: when it is
        evaluated, naming the point), or a ``grad`` returning the wrong shape.

    Notes
    -----
    ``P = diag(eta_i)``, time in units of the reference rate ``eta``: ``n`` steps take
    ``t = n eta``, move the mean by ``-n P g = -(P / eta) g t`` and add noise of
    covariance ``n P Sigma P / B = (P Sigma P / (eta B)) t``. For diagonal ``Sigma =
    diag(sigma_i^2)`` and a separable loss the density is the product
    ``exp(-sum_i 2 L_i / (eta_i sigma_i^2))``; ``eta_i = eta' / sigma_i^2`` makes it the
    Gibbs density ``exp(-2 L / eta')`` — for every loss, since then the noise covariance
    is ``eta'`` times the drift matrix.

    Heavy ball (``m' = beta m - eta g_hat``, ``Phi' = Phi + m'``) is taken in the scaling
    ``1 - beta = gamma sqrt(eta)``, where inertia survives as ``eta -> 0``: with time
    ``t = n sqrt(eta)`` and velocity ``p = m / sqrt(eta)`` one step is a step
    ``sqrt(eta)`` of ``dPhi = p dt``, ``dp = (-g - gamma p) dt + sqrt(sqrt(eta) Sigma / B)
    dB`` at ``T = eta Sigma / (2 B (1 - beta))``. For ``Sigma = s I`` its density is
    ``exp(-(L + |p|^2 / 2) / T)`` for any loss (kept exact on the grid). Real heavy ball
    (:func:`run_sgd`) matches its variance to ``O(eta)`` and its shape to
    ``O((1 - beta)^(1/2) / sqrt(B))`` for skewed or heavy-tailed per-example gradients
    (:mod:`fokkerplanck._applications.momentum`).

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> loss = lambda p: 0.5 * (p**2).sum(-1)
    >>> sde = fp.sgd(loss, lr=0.1, cov=[1.0, 4.0])
    >>> sde.cov(np.zeros(2))
    array([[0.1, 0. ],
           [0. , 0.4]])
    >>> forced = fp.sgd(loss, lr=0.1, cov=[1.0, 4.0], lr_per_param=[0.1, 0.025])
    >>> forced.drift(np.array([1.0, 1.0])), np.diag(forced.cov(np.zeros(2)))
    (array([-1.  , -0.25]), array([0.1  , 0.025]))
    >>> hb = fp.sgd(loss, lr=0.01, cov=1.0, ndim=1, momentum=0.9)   # gamma = 0.1 / 0.1 = 1
    >>> hb.drift(np.array([1.0, 2.0])), np.diag(hb.cov(np.zeros(2)))
    (array([ 2., -3.]), array([0. , 0.1]))
    """
    if not callable(loss):
        raise TypeError(f"`loss` must be callable, got {type(loss).__name__}.")
    eta = check_lr(lr)
    B = check_batch(batch_size)
    sigma, d = noise_matrix(cov, ndim)
    P, d = preconditioner(lr_per_param, d)
    if ndim is not None and d is not None and d != ndim:
        raise ValueError(f"`ndim={ndim}` but `cov`/`lr_per_param` imply d = {d}.")
    M, scale = mobility_and_noise(eta, P, B)
    grad = strict_grad(grad)
    beta = check_momentum(momentum, P)
    noise_arg = _scaled_noise(sigma, P, scale)
    if beta:
        base = SDE(loss=loss, grad=grad, sigma=1.0, ndim=d)
        return heavy_ball(base.grad_loss, noise_arg, d, eta, beta, base.loss)
    return _with_mobility(loss, grad, M, noise_arg, d)


def _scaled_noise(sigma: Any, P: Array | None, scale: Callable[[Any], Any]) -> Any:
    """The SDE's noise covariance from ``Sigma`` (0-d, (d, d) or a callable, as
    :func:`.inputs.noise_matrix` returns it) and the map ``Sigma -> P Sigma P / (eta B)``."""
    if callable(sigma):
        fn = sigma

        def noise(x: Array) -> Array:
            x = np.asarray(x, dtype=float)
            c = np.asarray(fn(x), dtype=float)
            dd = x.shape[-1]
            if c.shape != x.shape[:-1] + (dd, dd):
                raise ValueError(
                    f"`cov` returned shape {c.shape} for parameters of shape {x.shape}; it "
                    f"must return (..., {dd}, {dd})."
                )
            if not np.all(np.isfinite(c)):
                raise ValueError("`cov` returned a non-finite value; check the callable.")
            return scale(check_psd_field(c, x, "cov"))

        return noise
    if sigma.ndim == 0:
        if P is not None and P.ndim == 2:
            return scale(float(sigma) * np.eye(P.shape[0]))
        return float(scale(sigma))
    return scale(sigma)


def _with_mobility(loss: Callable[[Array], Array], grad: Callable[[Array], Array] | None,
                   M: Array | float, noise: Any, d: int | None) -> SDE:
    """``dPhi = -M grad L dt + noise``: a gradient SDE when ``M`` is a number."""
    if np.ndim(M) == 0:
        m = float(M)
        if m == 1.0:
            return SDE(loss=loss, grad=grad, cov=noise, ndim=d)
        return SDE(
            loss=lambda x: m * np.asarray(loss(x), dtype=float),
            grad=None if grad is None else (lambda x: m * np.asarray(grad(x), dtype=float)),
            cov=noise, ndim=d,
        )
    # general preconditioner: the drift is -M grad L, no longer a gradient field
    base = SDE(loss=loss, grad=grad, sigma=1.0, ndim=d)
    Mm = np.asarray(M)

    def drift(x: Array) -> Array:
        return -(base.grad_loss(x) @ Mm.T)

    return SDE(drift=drift, cov=noise, ndim=d)
