"""The SGD stochastic differential equation, built from a loss or from data,
real minibatch SGD to check it against, and exact references.

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

Functions
---------
:func:`sgd`
    The SDE from a loss and a gradient-noise covariance.
:func:`sgd_from_data`
    The SDE from per-example losses or gradients and a data set (state-dependent noise).
:func:`run_sgd`
    Real minibatch SGD, many independent chains at once.
:func:`two_temperature`, :func:`sgd_cov`, :func:`discrete_sgd_cov`, :func:`hessian_coordinates`
    Exact references.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import numpy as np
import scipy.linalg

from .._util.errors import ConvergenceError
from .._util.summary import Summary, Text
from .._util.validate import covariance, positive, positive_int
from .._model.grid import Grid
from .._model.models import lyapunov
from .._model.sde import SDE, FD_OFFSETS, FD_WEIGHTS

__all__ = [
    "sgd", "sgd_from_data", "run_sgd", "SGDRun",
    "two_temperature", "sgd_cov", "discrete_sgd_cov",
    "hessian_coordinates", "HessianCoordinates", "data_gradient_stats",
]

Array = np.ndarray
Data = Union[Array, Sequence[Array]]

#: Elements (floats) of per-example gradients held in memory at once.
_CHUNK_ELEMENTS = 2**21


# ============================================================== input checks
def _lr(value: Any, name: str = "lr") -> float:
    return positive(name, value, "learning rate",
                    " SGD needs eta > 0 (time is the sum of the learning rates).")


def _batch(batch_size: Any, n_data: int | None = None) -> int:
    b = positive_int("batch_size", batch_size)
    if n_data is not None and b > n_data:
        raise ValueError(
            f"`batch_size={b}` is larger than the data set ({n_data} examples); use a "
            f"batch size between 1 and {n_data}."
        )
    return b


def _momentum(value: Any) -> float:
    """Heavy-ball momentum ``0 <= beta < 1`` (0: plain SGD)."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"`momentum` must be a number in [0, 1), got {value!r}.")
    try:
        b = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`momentum` must be a number in [0, 1), got {value!r}.") from None
    if not (np.isfinite(b) and 0.0 <= b < 1.0):
        raise ValueError(f"`momentum` must be in [0, 1) (beta = 1 never forgets), got {value!r}.")
    return b


def _heavy_ball(grad: Callable[[Array], Array], noise: Any, d: int | None, eta: float,
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


def _square(name: str, value: Any, d: int | None = None) -> Array:
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = np.atleast_2d(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"`{name}` must be a square (d, d) matrix, got shape {np.shape(value)}.")
    if d is not None and a.shape[0] != d:
        raise ValueError(f"`{name}` is {a.shape[0]}x{a.shape[0]} but the problem has d = {d} parameters.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` must be finite, got {a.tolist()}.")
    return a


def _symmetric(name: str, a: Array, *, definite: bool, semi: bool = False) -> Array:
    scale = np.abs(a).max() if a.size else 1.0
    if not np.allclose(a, a.T, rtol=1e-8, atol=1e-8 * scale):  # FD Hessians pass
        raise ValueError(f"`{name}` must be symmetric, got {a.tolist()}.")
    a = 0.5 * (a + a.T)
    w = np.linalg.eigvalsh(a)
    if definite and w[0] <= 1e-13 * max(w[-1], 0.0) or (semi and w[0] < -1e-12 * max(abs(w[-1]), 1e-300)):
        kind = "positive semi-definite" if semi else "positive definite"
        raise ValueError(f"`{name}` must be {kind}; its eigenvalues are {w.tolist()}.")
    return a


def _noise_matrix(cov: Any, d: int | None) -> tuple[Array | Callable, int | None]:
    """Gradient covariance ``Sigma``: scalar, (d,), (d, d) or callable -> constant matrix
    (0-d for a scalar) or the callable, and the dimension it implies."""
    if callable(cov):
        return cov, d
    a = np.asarray(cov, dtype=float)
    if a.ndim == 0:
        return np.asarray(positive("cov", cov, "variance")), d
    if a.ndim == 1:
        if not np.all(np.isfinite(a) & (a >= 0)) or not np.any(a > 0):
            raise ValueError(
                f"`cov` (per-parameter variances) must be non-negative, and not all zero, got {a.tolist()}."
            )
        a = np.diag(a)
    a = _square("cov", a)
    if d is not None and a.shape[0] != d:
        raise ValueError(f"`cov` is {a.shape[0]}x{a.shape[0]} but the problem has d = {d} parameters.")
    return covariance("cov", a), a.shape[0]


def _preconditioner(lr_per_param: Any, d: int | None) -> tuple[Array | None, int | None]:
    """``lr_per_param`` -> (P as a (d, d) matrix or a 0-d scalar, d); None stays None."""
    if lr_per_param is None:
        return None, d
    p = np.asarray(lr_per_param, dtype=float)
    if p.ndim == 0:
        return np.asarray(_lr(p, "lr_per_param")), d
    if p.ndim == 1:
        if d is not None and p.shape[0] != d:
            raise ValueError(
                f"`lr_per_param` has {p.shape[0]} entries but the problem has d = {d} "
                "parameters; give one learning rate per parameter."
            )
        if not np.all(np.isfinite(p) & (p > 0)):
            raise ValueError(f"`lr_per_param` must hold positive, finite rates, got {p.tolist()}.")
        return np.diag(p), p.shape[0]
    if p.ndim == 2:
        if d is not None and p.shape != (d, d):
            raise ValueError(
                f"`lr_per_param` has shape {p.shape} but the problem has d = {d} "
                f"parameters; give a ({d},) vector of rates or a ({d}, {d}) preconditioner."
            )
        p = _symmetric("lr_per_param", _square("lr_per_param", p), definite=True)
        return p, p.shape[0]
    raise ValueError(
        f"`lr_per_param` must be a scalar, a (d,) vector or a (d, d) matrix, got shape {p.shape}."
    )


def _check_psd_field(c: Array, x: Array, name: str) -> Array:
    """Symmetric and positive semi-definite at every point; raise naming the point."""
    return covariance(name, c, x, point="Phi")


# ============================================================== the SDE from a loss
def _strict_grad(fn: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """``grad`` must return exactly the shape of its input (no silent broadcasting)."""

    def grad(x: Array) -> Array:
        x = np.asarray(x, dtype=float)
        g = np.asarray(fn(x), dtype=float)
        if g.shape != x.shape:
            raise ValueError(
                f"`grad` returned shape {g.shape} for parameters of shape {x.shape}; the "
                "gradient of the loss must have the parameters' shape (..., d)."
            )
        return g

    return grad


def _mobility_and_noise(
    lr: float, P: Array | None, batch_size: int
) -> tuple[Array | float, Callable[[Array], Array]]:
    """Drift matrix ``M = P / eta`` (a float when it is a multiple of I) and the map
    ``Sigma -> P Sigma P / (eta B)`` (``eta Sigma / B`` without P)."""
    if P is None:
        return 1.0, lambda s: s * (lr / batch_size)
    if P.ndim == 0:
        p = float(P)
        return p / lr, lambda s: s * (p * p / (lr * batch_size))
    return P / lr, lambda s: P @ s @ P / (lr * batch_size)


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

    Heavy ball, ``m' = beta m - eta g_hat(Phi)``, ``Phi' = Phi + m'``: with time
    ``t = n sqrt(eta)``, velocity ``p = m / sqrt(eta)`` and ``1 - beta = gamma sqrt(eta)``
    one step reads ``p' - p = -sqrt(eta) (g + gamma p) - sqrt(eta) xi`` (``xi`` the
    gradient noise, covariance ``Sigma / B``) and ``Phi' - Phi = sqrt(eta) p'``: a step
    ``dt = sqrt(eta)`` of

        dPhi = p dt,   dp = (-g(Phi) - gamma p) dt + sqrt(sqrt(eta) Sigma / B) dB,

    Langevin dynamics with inertia. This is the scaling where inertia matters: with
    ``1 - beta`` of order ``sqrt(eta)`` the friction ``gamma`` stays finite as
    ``eta -> 0``; with ``1 - beta`` of order one the velocity relaxes within a few
    steps and the plain SGD SDE with the effective rate ``eta / (1 - beta)`` is
    recovered (the ``gamma -> infinity`` limit). The temperature
    ``T = sqrt(eta) Sigma / (2 B gamma) = eta Sigma / (2 B (1 - beta))``: for
    ``Sigma = s I`` and any loss the density is ``exp(-(L + |p|^2 / 2) / T)`` (then the
    SDE carries that structure, :attr:`SDE.structure`, and the grid keeps it exact). Real
    heavy-ball SGD (:func:`run_sgd` with ``momentum``) is a symplectic-Euler step of
    this SDE: on a quadratic ``h Phi^2 / 2`` its stationary ``Var Phi`` is
    ``T / h (1 + eta h / 4 + ...)`` (``O(eta)``), and with the central velocity
    ``(m_k + m_{k+1}) / (2 sqrt(eta))`` its ``Var p`` is ``T`` exactly.

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
    eta = _lr(lr)
    B = _batch(batch_size)
    sigma, d = _noise_matrix(cov, ndim)
    P, d = _preconditioner(lr_per_param, d)
    if ndim is not None and d is not None and d != ndim:
        raise ValueError(f"`ndim={ndim}` but `cov`/`lr_per_param` imply d = {d}.")
    M, scale = _mobility_and_noise(eta, P, B)
    if grad is not None:
        if not callable(grad):
            raise TypeError(f"`grad` must be callable, got {type(grad).__name__}.")
        grad = _strict_grad(grad)
    beta = _momentum(momentum)
    if beta and P is not None:
        raise ValueError("`momentum` with `lr_per_param` is not supported; give one of them.")

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
            return scale(_check_psd_field(c, x, "cov"))

        noise_arg: Any = noise
    elif sigma.ndim == 0:
        if P is not None and P.ndim == 2:
            noise_arg = scale(float(sigma) * np.eye(P.shape[0]))
        else:
            noise_arg = float(scale(sigma))
    else:
        noise_arg = scale(sigma)

    if beta:
        base = SDE(loss=loss, grad=grad, sigma=1.0, ndim=d)
        return _heavy_ball(base.grad_loss, noise_arg, d, eta, beta, base.loss)
    if np.ndim(M) == 0:
        m = float(M)
        if m == 1.0:
            return SDE(loss=loss, grad=grad, cov=noise_arg, ndim=d)
        return SDE(
            loss=lambda x: m * np.asarray(loss(x), dtype=float),
            grad=None if grad is None else (lambda x: m * np.asarray(grad(x), dtype=float)),
            cov=noise_arg, ndim=d,
        )
    # general preconditioner: the drift is -M grad L, no longer a gradient field
    base = SDE(loss=loss, grad=grad, sigma=1.0, ndim=d)
    Mm = np.asarray(M)

    def drift(x: Array) -> Array:
        return -(base.grad_loss(x) @ Mm.T)

    return SDE(drift=drift, cov=noise_arg, ndim=d)


# ============================================================== data
def _as_data(data: Data) -> tuple[tuple[Array, ...], bool, int]:
    """Validate ``data``: an array with one row per example, or a tuple of them."""
    is_tuple = isinstance(data, (tuple, list))
    parts = tuple(data) if is_tuple else (data,)
    if not parts:
        raise ValueError("`data` is empty; give an array (n, ...) or a tuple of arrays.")
    arrays = []
    for k, a in enumerate(parts):
        a = np.asarray(a)
        where = f"`data[{k}]`" if is_tuple else "`data`"
        if a.ndim == 0:
            raise ValueError(f"{where} must have one row per example, got a scalar.")
        if a.dtype.kind in "fc":
            bad = ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"{where} contains NaN or inf ({int(bad.sum())} of {a.shape[0]} "
                    f"examples, first at row {i}: {a[i].tolist()}); drop or impute "
                    "those examples first."
                )
        arrays.append(a)
    n = arrays[0].shape[0]
    for k, a in enumerate(arrays):
        if a.shape[0] != n:
            raise ValueError(
                f"`data` arrays have different numbers of rows ({n} and {a.shape[0]} for "
                f"data[{k}]); every array needs one row per example."
            )
    if n == 0:
        raise ValueError("`data` has no examples.")
    return tuple(arrays), is_tuple, n


def _take(arrays: tuple[Array, ...], is_tuple: bool, index: Any) -> Any:
    rows = tuple(a[index] for a in arrays)
    return rows if is_tuple else rows[0]


class _PerExample:
    """Evaluates per-example gradients ``(m, d) x rows -> (m, n_rows, d)``."""

    def __init__(self, fn: Callable, kind: str, arrays: tuple[Array, ...], is_tuple: bool,
                 fd_step: float) -> None:
        if not callable(fn):
            raise TypeError(f"`per_example` must be callable, got {type(fn).__name__}.")
        if kind not in ("loss", "grad"):
            raise ValueError(f"`kind` must be 'loss' or 'grad', got {kind!r}.")
        self.fn, self.kind, self.arrays, self.is_tuple = fn, kind, arrays, is_tuple
        self.fd_step = float(fd_step)
        self.n = arrays[0].shape[0]

    def rows(self, index: Any) -> Any:
        return _take(self.arrays, self.is_tuple, index)

    def _call(self, phi: Array, rows: Any, want: tuple[int, ...]) -> Array:
        out = np.asarray(self.fn(phi, rows), dtype=float)
        if out.shape != want:
            what = "gradient" if self.kind == "grad" else "loss"
            tail = f", {want[-1]}" if self.kind == "grad" else ""
            raise ValueError(
                f"`per_example` ({what}) returned shape {out.shape} for parameters of shape "
                f"{phi.shape} and data rows with leading shape {want[:phi.ndim - 1] if phi.ndim > 1 else want[:-1]}; "
                f"it must broadcast parameters (..., d) against examples and return "
                f"(...{tail}), here {want}."
            )
        return out

    def grads(self, phi: Array, rows: Any, lead: tuple[int, ...]) -> Array:
        """Per-example gradients at ``phi`` (broadcast against ``rows``) -> ``(*lead, d)``."""
        d = phi.shape[-1]
        if self.kind == "grad":
            g = self._call(phi, rows, lead + (d,))
        else:
            h = self.fd_step
            g = np.zeros(lead + (d,))
            for j in range(d):
                for o, w in zip(FD_OFFSETS, FD_WEIGHTS):
                    if w == 0:
                        continue
                    shifted = phi.copy()
                    shifted[..., j] += o * h
                    g[..., j] += w * self._call(shifted, rows, lead)
            g /= h
        if not np.all(np.isfinite(g)):
            raise ValueError(
                "`per_example` returned a non-finite value (NaN or inf); check it at the "
                "parameters and examples used."
            )
        return g


def data_gradient_stats(
    per_example: Callable,
    data: Data,
    phi: Array,
    *,
    kind: str = "loss",
    fd_step: float = 1e-3,
    chunk_elements: int = _CHUNK_ELEMENTS,
) -> tuple[Array, Array]:
    """Mean and population covariance of per-example gradients at parameters ``phi``.

    ``g(Phi) = mean_i grad l_i(Phi)`` and ``Sigma(Phi) = (1/N) sum_i (grad l_i - g)
    (grad l_i - g)^T``, chunked over points and examples and combined with Chan's
    pairwise update (no ``E[g g^T] - g g^T`` cancellation).

    Parameters
    ----------
    per_example, data, kind, fd_step
        As in :func:`sgd_from_data`.
    phi : array (..., d)
    chunk_elements : int
        Per-example gradient entries held at once.

    Returns
    -------
    mean : (..., d)
    cov : (..., d, d)

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck import data_gradient_stats
    >>> grad = lambda p, x: p - x                     # l_i = |p - x_i|^2 / 2
    >>> x = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> g, S = data_gradient_stats(grad, x, np.zeros(2), kind="grad")
    >>> g, S
    (array([-1.,  0.]), array([[1., 0.],
           [0., 0.]]))
    """
    arrays, is_tuple, _ = _as_data(data)
    pe = _PerExample(per_example, kind, arrays, is_tuple, fd_step)
    return _stats(pe, np.asarray(phi, dtype=float), chunk_elements)


def _stats(pe: _PerExample, phi: Array, chunk_elements: int = _CHUNK_ELEMENTS) -> tuple[Array, Array]:
    if phi.ndim == 0:
        raise ValueError("parameters must have shape (..., d).")
    lead, d = phi.shape[:-1], phi.shape[-1]
    x = phi.reshape(-1, d)
    m, N = x.shape[0], pe.n
    cost = d * (1 if pe.kind == "grad" else 2)
    n_chunk = int(min(N, max(16, chunk_elements // (cost * max(1, min(m, 4096))))))
    m_chunk = int(max(1, chunk_elements // (cost * n_chunk)))
    mean = np.empty((m, d))
    cov = np.empty((m, d, d))
    for a in range(0, m, m_chunk):
        xa = x[a:a + m_chunk]
        mc = xa.shape[0]
        count = 0
        mu = np.zeros((mc, d))
        m2 = np.zeros((mc, d, d))
        for b in range(0, N, n_chunk):
            nb = min(N, b + n_chunk) - b
            g = pe.grads(xa[:, None, :], pe.rows(slice(b, b + nb)), (mc, nb))
            mb = g.mean(axis=1)
            r = g - mb[:, None, :]
            m2b = np.matmul(np.swapaxes(r, 1, 2), r)
            tot = count + nb
            delta = mb - mu
            mu = mu + delta * (nb / tot)
            m2 = m2 + m2b + delta[:, :, None] * delta[:, None, :] * (count * nb / tot)
            count = tot
        mean[a:a + mc] = mu
        cov[a:a + mc] = m2 / N
    return mean.reshape(*lead, d), cov.reshape(*lead, d, d)


class _Cache:
    """Remember the statistics at the last few point sets (drift and cov are asked for
    at the same points by the solvers)."""

    def __init__(self, fn: Callable[[Array], tuple[Array, Array]], size: int = 4) -> None:
        self.fn, self.size, self.items = fn, size, []

    def __call__(self, x: Array) -> tuple[Array, Array]:
        x = np.ascontiguousarray(x, dtype=float)
        key = (x.shape, hash(x.tobytes()))
        for k, v, xs in self.items:
            if k == key and np.array_equal(xs, x):
                return v
        v = self.fn(x)
        self.items.append((key, v, x.copy()))
        if len(self.items) > self.size:
            self.items.pop(0)
        return v


def sgd_from_data(
    per_example: Callable,
    data: Data,
    lr: float,
    batch_size: int = 1,
    *,
    kind: str = "loss",
    replace: bool = True,
    lr_per_param: Any = None,
    ndim: int | None = None,
    fd_step: float = 1e-3,
    chunk_elements: int = _CHUNK_ELEMENTS,
    momentum: float = 0.0,
) -> SDE:
    r"""The SGD SDE of a model and a data set, with state-dependent noise ``Sigma(Phi)``.

    ``dPhi = -g(Phi) dt + sqrt(eta Sigma_B(Phi)) dB`` (Ito), with ``g`` the mean of the
    per-example gradients ``grad l_i(Phi)`` over the ``N`` examples and ``Sigma_B`` the
    covariance of a minibatch-mean gradient:

    * ``replace=True`` (``B`` examples drawn independently, uniformly):
      ``Sigma_B = Cov_i[grad l_i] / B``;
    * ``replace=False`` (``B`` *distinct* examples, a fresh random subset every step):
      ``Sigma_B = Cov_i[grad l_i] / B * (N - B) / (N - 1)`` — the finite-population
      correction, exact for the variance of a mean sampled without replacement.

    ``Cov_i`` is the population covariance over the data set (divided by ``N``), the
    exact covariance of one uniformly drawn example's gradient. These match
    :func:`run_sgd` with the same ``replace``. Epoch-wise reshuffling (each example
    once per epoch) correlates successive steps and is *not* this SDE.

    Parameters
    ----------
    per_example : callable
        ``f(Phi, example)``: a per-example loss ``l_i(Phi)`` (``kind="loss"``) or its
        gradient (``kind="grad"``). It must broadcast like a ufunc: ``Phi`` has shape
        ``(..., d)`` and the example rows (``data[i]``, or a tuple of rows) carry
        leading axes that broadcast against ``Phi``'s leading axes; it returns
        ``(...)`` (loss) or ``(..., d)`` (gradient). For instance, with ``data`` of
        shape ``(N, 3)`` holding ``(x1, x2, y)``::

            def per_example(p, row):   # squared error of y ~ p . x
                return 0.5 * ((p * row[..., :2]).sum(-1) - row[..., 2]) ** 2

    data : array (N, ...) or tuple of arrays with N rows
        The training set. NaN or inf is refused.
    lr : float
        Learning rate ``eta > 0`` (the reference rate with ``lr_per_param``).
    batch_size : int
        ``1 <= B <= N``.
    kind : {"loss", "grad"}
        What ``per_example`` returns. Losses are differentiated with fourth-order
        central differences of step ``fd_step``.
    replace : bool
        Minibatches drawn with replacement (default) or without; see above.
    lr_per_param : float, (d,) or (d, d) array, optional
        Per-parameter rates or a preconditioner ``P``, as in :func:`sgd`.
    ndim : int, optional
        Number of parameters ``d``. When known (here or from ``lr_per_param``) the
        callable is checked at construction; otherwise the SDE takes the grid's
        dimension and the check happens on first use.
    fd_step : float
        Finite-difference step for ``kind="loss"``.
    chunk_elements : int
        Per-example gradient entries held in memory at once (``2**21`` by default:
        about 16 MB per array).
    momentum : float
        Heavy-ball momentum ``0 <= beta < 1``: the phase-space SDE on ``(Phi, p)``
        (``ndim`` needed), as in :func:`sgd`.

    Returns
    -------
    SDE
        State-dependent noise, Ito convention. With ``kind="loss"`` and no
        per-parameter rates the SDE also carries the mean loss (``sde.loss``).
        Statistics are cached for the last few point sets, so the solver's calls to
        drift and covariance at the same points cost one pass over the data.

    Raises
    ------
    ValueError
        ``lr <= 0``; ``batch_size`` outside ``[1, N]``; NaN/inf in ``data``; fewer than
        two examples; ``per_example`` returning the wrong shape; ``lr_per_param`` of
        the wrong length; a covariance that is singular at an evaluated point (named).

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200); y = 2 * x + rng.normal(size=200)
    >>> data = np.column_stack([x, np.ones(200), y])
    >>> grad = lambda p, r: ((p * r[..., :2]).sum(-1) - r[..., 2])[..., None] * r[..., :2]
    >>> sde = fp.sgd_from_data(grad, data, lr=0.05, batch_size=4, kind="grad", ndim=2)
    >>> sde.cov(np.array([2.0, 0.0])).shape
    (2, 2)
    """
    eta = _lr(lr)
    arrays, is_tuple, N = _as_data(data)
    B = _batch(batch_size, N)
    if N < 2:
        raise ValueError("`data` has one example: its gradient has no noise; give at least two.")
    if not isinstance(replace, (bool, np.bool_)):
        raise TypeError(f"`replace` must be True or False, got {replace!r}.")
    fd_step = positive("fd_step", fd_step)
    pe = _PerExample(per_example, kind, arrays, is_tuple, fd_step)
    P, d = _preconditioner(lr_per_param, ndim)
    if ndim is not None and d != ndim:
        raise ValueError(f"`ndim={ndim}` but `lr_per_param` implies d = {d}.")
    fpc = 1.0 if replace else (N - B) / (N - 1)
    if fpc == 0.0:
        raise ValueError(
            f"`batch_size={B}` equals the data set size with `replace=False`: every "
            "minibatch is the full data set and SGD has no noise; use a smaller batch."
        )
    beta = _momentum(momentum)
    if beta and P is not None:
        raise ValueError("`momentum` with `lr_per_param` is not supported; give one of them.")
    M, scale = _mobility_and_noise(eta, P, B)
    stats = _Cache(lambda x: _stats(pe, x, chunk_elements), size=12)

    def mean_grad(x: Array) -> Array:
        return stats(np.asarray(x, dtype=float))[0]

    def noise(x: Array) -> Array:
        x = np.asarray(x, dtype=float)
        sigma = stats(x)[1]
        _check_psd_field(sigma, x, "cov")
        return scale(sigma * fpc)

    if beta:
        return _heavy_ball(mean_grad, noise, d, eta, beta)
    if np.ndim(M) == 0 and kind == "loss":
        m = float(M)

        def mean_loss(x: Array) -> Array:
            x = np.asarray(x, dtype=float)
            lead = x.shape[:-1]
            xf = x.reshape(-1, x.shape[-1])
            total = np.zeros(xf.shape[0])
            step = max(1, chunk_elements // max(1, xf.shape[0]))
            for b in range(0, N, step):
                nb = min(N, b + step) - b
                total += pe._call(xf[:, None, :], pe.rows(slice(b, b + nb)), (xf.shape[0], nb)).sum(1)
            return m * (total / N).reshape(lead)

        return SDE(loss=mean_loss, grad=lambda x: m * mean_grad(x), cov=noise, ndim=d)
    Mm = np.asarray(M)
    if Mm.ndim == 0:
        return SDE(drift=lambda x: -float(Mm) * mean_grad(x), cov=noise, ndim=d)
    return SDE(drift=lambda x: -(mean_grad(x) @ Mm.T), cov=noise, ndim=d)


# ============================================================== real SGD
@dataclass(frozen=True, eq=False, repr=False)
class SGDRun(Summary):
    """Iterates of :func:`run_sgd`.

    Attributes
    ----------
    x : ndarray (n_kept * n_chains, d)
        The recorded iterates, pooled (what :func:`fokkerplanck.compare` and
        :meth:`Grid.histogram` take). With the default ``thin=None`` only the final
        iterate of each chain is kept: independent samples.
    chains : ndarray (n_kept, n_chains, d)
        The same iterates by record and chain.
    steps : ndarray (n_kept,)
        SGD step counts of the records; ``t = steps * lr`` in SDE time.
    t : ndarray (n_kept,)
        SDE times ``steps * lr`` (the sum of the reference learning rates);
        ``steps * sqrt(lr)`` with momentum.
    lr, batch_size, replace, burn_in, momentum
        The run's settings.
    v : ndarray (n_kept * n_chains, d) or None
        With momentum, the velocities ``m / sqrt(lr)`` of the records (see
        :attr:`phase`).
    success, message, error_estimate
        True, ``""`` and ``nan``: samples carry no error estimate of their own
        (:func:`~fokkerplanck.compare` measures them against a grid answer).

    Examples
    --------
    Real SGD on ``l_i(w) = (w - y_i)^2 / 2``: iterates scatter around the mean of ``y``.

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> y = np.random.default_rng(0).normal(size=(200, 1))
    >>> run = fp.run_sgd(lambda w, yi: w - yi, y, np.zeros(1), lr=0.05, n_steps=400,
    ...                  n_chains=500, burn_in=200, rng=1)
    >>> bool(abs(run.x.mean() - y.mean()) < 0.02)
    True
    """

    x: Array
    chains: Array
    steps: Array
    t: Array
    lr: float
    batch_size: int
    replace: bool
    burn_in: int
    momentum: float = 0.0
    v: Array | None = None

    @property
    def phase(self) -> Array:
        """``(x, v)`` side by side, ``(n, 2 d)``: the points of the phase-space SDE
        of heavy-ball SGD (``momentum > 0`` only)."""
        if self.v is None:
            raise ValueError("This run has no velocities: it was run without `momentum`.")
        return np.concatenate([self.x, self.v], axis=1)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Array:
        """``np.asarray(run)`` is ``run.x``, so a run can go wherever points go."""
        return np.asarray(self.x, dtype=dtype)

    @property
    def final(self) -> Array:
        """Last iterate of every chain, ``(n_chains, d)``."""
        return self.chains[-1]

    success = True
    message = ""
    error_estimate = math.nan
    _error_meaning = "not computed: fp.compare measures samples against a grid answer"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("points", Text(str(self.x.shape))), ("chains", int(self.chains.shape[1])),
                ("records", int(self.chains.shape[0])), ("lr", self.lr), ("batch_size", self.batch_size),
                ("momentum", self.momentum), ("t", float(self.t[-1]) if len(self.t) else math.nan)]


def _subsets(rng: np.random.Generator, n_chains: int, N: int, B: int) -> Array:
    """``B`` distinct indices out of ``N`` for each chain (uniform subsets)."""
    if B == 1:
        return rng.integers(0, N, size=(n_chains, 1))
    if 4 * B > N:
        return np.argpartition(rng.random((n_chains, N)), B - 1, axis=1)[:, :B]
    # Floyd's algorithm, vectorized over chains: O(B^2) per chain
    sel = np.empty((n_chains, B), dtype=np.int64)
    for k, j in enumerate(range(N - B, N)):
        t = rng.integers(0, j + 1, size=n_chains)
        dup = (sel[:, :k] == t[:, None]).any(axis=1) if k else np.zeros(n_chains, bool)
        sel[:, k] = np.where(dup, j, t)
    return sel


def run_sgd(
    per_example_grad: Callable,
    data: Data,
    x0: Any,
    lr: float,
    n_steps: int,
    *,
    batch_size: int = 1,
    n_chains: int | None = None,
    replace: bool = True,
    burn_in: int | None = None,
    thin: int | None = None,
    lr_per_param: Any = None,
    momentum: float = 0.0,
    rng: Any = None,
) -> SGDRun:
    r"""Real minibatch SGD, ``Phi' = Phi - eta mean_{i in batch} grad l_i(Phi)``, for many
    independent chains at once.

    Every step draws a fresh minibatch for every chain independently: ``B`` indices
    uniformly with replacement (``replace=True``) or ``B`` distinct indices
    (``replace=False``) — the two samplings :func:`sgd_from_data` models. The loop runs
    over steps; chains are vectorized.

    Parameters
    ----------
    per_example_grad : callable
        ``f(Phi, example) -> grad l(Phi; example)`` broadcasting like a ufunc (see
        :func:`sgd_from_data`): called with ``Phi`` of shape ``(n_chains, 1, d)`` and
        example rows of leading shape ``(n_chains, B)``; must return
        ``(n_chains, B, d)``.
    data : array (N, ...) or tuple of arrays with N rows
    x0 : array (d,) or (n_chains, d)
        Starting parameters (one for all chains, or one per chain).
    lr : float
        Learning rate ``eta`` (the reference rate with ``lr_per_param``).
    n_steps : int
        Number of SGD steps per chain.
    batch_size : int
        ``1 <= B <= N``.
    n_chains : int, optional
        Number of chains (default 1000, or ``len(x0)`` for a 2-D ``x0``).
    replace : bool
        Minibatch sampling, see above.
    burn_in : int, optional
        Steps discarded before recording (default ``n_steps // 2``). Only used with
        ``thin``.
    thin : int, optional
        Record every ``thin``-th iterate after ``burn_in``, ending at the last step.
        ``None`` (default) records only the final iterate of every chain: independent
        samples. Records within one chain are correlated over about
        ``1 / (eta lambda_min(H))`` steps.
    lr_per_param : float, (d,) or (d, d) array, optional
        Per-parameter rates ``eta_i`` or a preconditioner ``P``: ``Phi' = Phi - P g_hat``.
    momentum : float
        Heavy-ball momentum ``0 <= beta < 1``: ``m' = beta m - eta g_hat``,
        ``Phi' = Phi + m'`` from ``m = 0``. The run then also records the velocities
        ``p = (m_k + m_{k+1}) / (2 sqrt(eta))`` of the recorded ``Phi_k`` (``.v``; the
        central difference ``(Phi_{k+1} - Phi_{k-1}) / (2 sqrt(eta))``, which costs one
        step more: on a quadratic its stationary variance is exactly that of the SDE,
        where ``m_k`` alone is off by ``O(sqrt(eta))``) and its times are
        ``t = steps sqrt(eta)``, the clock of the phase-space SDE
        ``fp.sgd(..., momentum=beta)``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    SGDRun
        ``.x`` (pooled records, ``(n, d)``), ``.chains``, ``.steps``, ``.t``.

    Raises
    ------
    ValueError
        Bad ``lr``, ``batch_size``, ``data`` (NaN), ``x0`` shape, ``lr_per_param``
        length, or a gradient of the wrong shape.
    fokkerplanck.ConvergenceError
        The iterates became non-finite (learning rate too large: on a quadratic SGD
        needs ``eta lambda_max(H) < 2``); ``.result`` holds the step reached.

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> xs = np.random.default_rng(1).normal(size=(500, 1))    # l_i = (p - x_i)^2 / 2
    >>> run = fp.run_sgd(lambda p, x: p - x, xs - xs.mean(), np.zeros(1), lr=0.1,
    ...                  n_steps=200, n_chains=2000, rng=0)
    >>> run.x.shape
    (2000, 1)
    >>> bool(abs(run.x.var() / (0.1 * xs.var() / (2 - 0.1)) - 1) < 0.1)   # discrete SGD
    True
    """
    eta = _lr(lr)
    arrays, is_tuple, N = _as_data(data)
    B = _batch(batch_size, N)
    n_steps = positive_int("n_steps", n_steps)
    x = np.array(x0, dtype=float)
    if x.ndim == 1:
        n_chains = 1000 if n_chains is None else positive_int("n_chains", n_chains)
        x = np.broadcast_to(x, (n_chains, x.shape[0])).copy()
    elif x.ndim == 2:
        if n_chains is not None and n_chains != x.shape[0]:
            raise ValueError(
                f"`x0` has {x.shape[0]} rows but `n_chains={n_chains}`; give one start per "
                "chain, or a single (d,) start."
            )
        n_chains = x.shape[0]
    else:
        raise ValueError(f"`x0` must have shape (d,) or (n_chains, d), got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("`x0` must be finite.")
    d = x.shape[1]
    P, _ = _preconditioner(lr_per_param, d)
    beta = _momentum(momentum)
    if beta and P is not None:
        raise ValueError("`momentum` with `lr_per_param` is not supported; give one of them.")
    m = np.zeros_like(x) if beta else None
    if thin is None:
        burn = n_steps - 1 if burn_in is None else int(burn_in)
        record = np.array([n_steps])
    else:
        thin = positive_int("thin", thin)
        burn = n_steps // 2 if burn_in is None else int(burn_in)
        record = np.arange(n_steps, burn, -thin)[::-1]
    if not 0 <= burn < n_steps:
        raise ValueError(f"`burn_in` must be in [0, n_steps) = [0, {n_steps}), got {burn_in!r}.")
    rng = np.random.default_rng(rng)
    pe = _PerExample(per_example_grad, "grad", arrays, is_tuple, 1e-3)
    out = np.empty((record.size, n_chains, d))
    vel = np.empty((record.size, n_chains, d)) if beta else None
    k = 0
    pending: list[tuple[int, Array]] = []   # records waiting for the next step's m
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, n_steps + 1 + bool(beta)):
            idx = rng.integers(0, N, size=(n_chains, B)) if replace else _subsets(rng, n_chains, N, B)
            try:
                g = pe.grads(x[:, None, :], pe.rows(idx), (n_chains, B)).mean(axis=1)
            except ValueError as err:
                if "non-finite" not in str(err):
                    raise
                g = np.full_like(x, np.nan)
            if m is not None:
                m *= beta
                m -= eta * g
                x += m
            elif P is None:
                x -= eta * g
            elif P.ndim == 0:
                x -= float(P) * g
            else:
                x -= g @ P.T
            if not np.all(np.isfinite(x)):
                bad = int(np.argmax(~np.isfinite(x).all(axis=1)))
                raise ConvergenceError(
                    f"SGD diverged: chain {bad} became non-finite at step {step} of "
                    f"{n_steps}. The learning rate is probably too large (on a quadratic "
                    "loss SGD is stable only for eta * lambda_max(H) < 2); lower `lr`.",
                    result={"step": step, "x": x.copy()},
                )
            if vel is not None:
                for j, m_before in pending:  # central velocity (m_k + m_{k+1}) / 2
                    vel[j] = 0.5 * (m_before + m) / np.sqrt(eta)
                pending.clear()
            if k < record.size and step == record[k]:
                out[k] = x
                if vel is not None:
                    pending.append((k, m.copy()))
                k += 1
    return SGDRun(
        x=out.reshape(-1, d), chains=out, steps=record,
        t=record * (np.sqrt(eta) if beta else eta), lr=eta,
        batch_size=B, replace=bool(replace), burn_in=burn, momentum=beta,
        v=None if vel is None else vel.reshape(-1, d),
    )


# ============================================================== exact references
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
    ex, ey = _lr(e[0], "eta"), _lr(e[1], "eta")
    sx, sy = _lr(sigma_x, "sigma_x"), _lr(sigma_y, "sigma_y")
    pts = grid.points()
    lx = np.asarray(loss_x(pts[..., :1]), dtype=float)
    ly = np.asarray(loss_y(pts[..., 1:]), dtype=float)
    logp = -2.0 * lx / (ex * sx**2) - 2.0 * ly / (ey * sy**2)
    p = np.exp(logp - logp.max())
    return p / grid.integrate(p)


def _quadratic_inputs(H: Any, cov: Any, lr: Any, batch_size: Any, lr_per_param: Any = None,
                      *, definite: bool = False):
    """Checked ``(H, Sigma as (d, d), eta, B, P as (d, d))`` of a quadratic minimum."""
    Hm = _symmetric("H", _square("H", H), definite=definite)
    d = Hm.shape[0]
    S, _ = _noise_matrix(cov, d)
    if callable(S):
        raise TypeError("`cov` must be a constant matrix here (the noise at the minimum).")
    S = float(S) * np.eye(d) if S.ndim == 0 else S
    eta = _lr(lr)
    B = _batch(batch_size)
    P, _ = _preconditioner(lr_per_param, d)
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
    Hm, S, eta, B, P = _quadratic_inputs(H, cov, lr, batch_size, lr_per_param)
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
