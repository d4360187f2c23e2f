"""Input checks shared by the public functions: one wording for one kind of mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["positive", "positive_int", "definite_field"]


def positive(name: str, value: Any, what: str = "number", hint: str = "") -> float:
    """``value`` as a positive finite float, or an error naming ``name``.

    A value that is not a number raises ``TypeError``; zero, negative, NaN or
    infinite values raise ``ValueError``. ``hint`` is appended to the latter.
    """
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"`{name}` must be a positive {what}, got {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a positive {what}, got {value!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"`{name}` must be positive and finite, got {value!r}.{hint}")
    return v


def positive_int(name: str, value: Any) -> int:
    """``value`` as a positive int (bools refused), or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def definite_field(name: str, c: np.ndarray, x: np.ndarray, point: str = "x") -> np.ndarray:
    """Check a covariance field ``c`` ``(..., d, d)`` at points ``x`` ``(..., d)``.

    Symmetric, no negative eigenvalues, and not singular, where singular is judged
    against the largest eigenvalue of the whole field (judged per point it means
    nothing in 1-D). Raises a ``ValueError`` naming the first offending point;
    returns ``c``.
    """
    c = np.asarray(c, dtype=float)
    tol = 1e-14 * max(float(np.abs(c).max(initial=0.0)), 1e-300)
    close = np.isclose(c, np.swapaxes(c, -1, -2), rtol=1e-10, atol=tol).all(axis=(-1, -2))
    if not np.all(close):
        i = np.unravel_index(np.argmax(~close), close.shape) if close.ndim else ()
        raise ValueError(
            f"`{name}` returned a non-symmetric matrix at {point} = {np.asarray(x[i]).tolist()}: "
            f"{c[i].tolist()}."
        )
    w = np.linalg.eigvalsh(c)
    top = max(float(w[..., -1].max(initial=0.0)), 1e-300)
    for mask, what, fix in (
        (w[..., 0] < -1e-10 * top, "is not positive semi-definite",
         "a covariance must have no negative eigenvalues; check the callable there"),
        (w[..., 0] <= 1e-12 * top, "is singular (the noise vanishes in some direction)",
         "the Fokker-Planck equation degenerates there: every direction needs some noise at "
         "every point of the grid, cell faces included; shrink the grid away from that point "
         "or add a small constant to the covariance"),
    ):
        if np.any(mask):
            i = np.unravel_index(np.argmax(mask), mask.shape) if mask.ndim else ()
            raise ValueError(
                f"`{name}` {what} at {point} = {np.asarray(x[i]).tolist()} (eigenvalues "
                f"{w[i].tolist()}); {fix}."
            )
    return c
