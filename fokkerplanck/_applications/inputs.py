"""Input checks shared by the SGD builders and real SGD: learning rates, batch sizes,
momentum, gradient-noise covariances and preconditioners, and the map from the SGD
step to the SDE's drift matrix and noise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._util.validate import covariance, positive, positive_int

Array = np.ndarray


def check_lr(value: Any, name: str = "lr") -> float:
    return positive(name, value, "learning rate",
                    " SGD needs eta > 0 (time is the sum of the learning rates).")


def check_batch(batch_size: Any, n_data: int | None = None) -> int:
    b = positive_int("batch_size", batch_size)
    if n_data is not None and b > n_data:
        raise ValueError(
            f"`batch_size={b}` is larger than the data set ({n_data} examples); use a "
            f"batch size between 1 and {n_data}."
        )
    return b


def check_momentum(value: Any, lr_per_param: Any = None) -> float:
    """Heavy-ball momentum ``0 <= beta < 1`` (0: plain SGD); refused with a preconditioner."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"`momentum` must be a number in [0, 1), got {value!r}.")
    try:
        b = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`momentum` must be a number in [0, 1), got {value!r}.") from None
    if not (np.isfinite(b) and 0.0 <= b < 1.0):
        raise ValueError(f"`momentum` must be in [0, 1) (beta = 1 never forgets), got {value!r}.")
    if b and lr_per_param is not None:
        raise ValueError("`momentum` with `lr_per_param` is not supported; give one of them.")
    return b


def square_matrix(name: str, value: Any, d: int | None = None) -> Array:
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


def symmetric_matrix(name: str, a: Array, *, definite: bool) -> Array:
    """A Hessian: symmetric to finite-difference accuracy (``1e-8``, looser than
    :func:`~fokkerplanck._util.validate.covariance`), indefinite allowed unless
    ``definite``."""
    scale = np.abs(a).max() if a.size else 1.0
    if not np.allclose(a, a.T, rtol=1e-8, atol=1e-8 * scale):  # FD Hessians pass
        raise ValueError(f"`{name}` must be symmetric, got {a.tolist()}.")
    a = 0.5 * (a + a.T)
    w = np.linalg.eigvalsh(a)
    if definite and w[0] <= 1e-13 * max(w[-1], 0.0):
        raise ValueError(f"`{name}` must be positive definite; its eigenvalues are {w.tolist()}.")
    return a


def noise_matrix(cov: Any, d: int | None) -> tuple[Array | Callable, int | None]:
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
    a = square_matrix("cov", a)
    if d is not None and a.shape[0] != d:
        raise ValueError(f"`cov` is {a.shape[0]}x{a.shape[0]} but the problem has d = {d} parameters.")
    return covariance("cov", a), a.shape[0]


def preconditioner(lr_per_param: Any, d: int | None) -> tuple[Array | None, int | None]:
    """``lr_per_param`` -> (P as a (d, d) matrix or a 0-d scalar, d); None stays None."""
    if lr_per_param is None:
        return None, d
    p = np.asarray(lr_per_param, dtype=float)
    if p.ndim == 0:
        return np.asarray(check_lr(p, "lr_per_param")), d
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
        p = covariance("lr_per_param", square_matrix("lr_per_param", p), definite=True)
        return p, p.shape[0]
    raise ValueError(
        f"`lr_per_param` must be a scalar, a (d,) vector or a (d, d) matrix, got shape {p.shape}."
    )


def check_psd_field(c: Array, x: Array, name: str) -> Array:
    """Symmetric and positive semi-definite at every point; raise naming the point."""
    return covariance(name, c, x, point="Phi")

def strict_grad(fn: Callable[[Array], Array] | None) -> Callable[[Array], Array] | None:
    """``grad`` must be callable and return exactly the shape of its input (no silent
    broadcasting); ``None`` stays ``None``."""
    if fn is None:
        return None
    if not callable(fn):
        raise TypeError(f"`grad` must be callable, got {type(fn).__name__}.")

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


def mobility_and_noise(
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


