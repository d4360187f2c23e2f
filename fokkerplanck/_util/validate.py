"""Input checks shared by the public functions: one wording for one kind of mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["positive", "positive_int", "definite_field", "real_array", "show", "nan_rows"]


def show(value: Any) -> str:
    """A value for an error message: numbers as ``3.0`` (never ``np.float64(3.0)``),
    arrays as nested lists, anything else by its ``repr``."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        return repr(value.tolist()) if value.size <= 20 else f"<array of shape {value.shape}>"
    return repr(value)


def real_array(name: str, value: Any, what: str = "") -> np.ndarray:
    """``value`` as a float array; complex values raise a ``TypeError`` naming ``name``.

    ``numpy.asarray(z, dtype=float)`` drops the imaginary part of a complex array with
    only a ``ComplexWarning``; a density, drift or position is real, so an imaginary
    part is a mistake to report, not to discard. ``what`` says where the value came
    from (``" (returned by the callable)"``).
    """
    a = np.asarray(value)
    if np.iscomplexobj(a):
        big = float(np.abs(a.imag).max(initial=0.0))
        raise TypeError(
            f"`{name}`{what} is complex (largest imaginary part {big:.3g}); it must be real. "
            "If the imaginary part is round-off, pass its real part (`.real`)."
        )
    if a.dtype.kind in "US":
        raise TypeError(f"`{name}`{what} must be numbers, got strings {show(a)}.")
    try:
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}`{what} must be an array of real numbers, got {show(value)}.") from None


def nan_rows(name: str, x: np.ndarray) -> np.ndarray:
    """Mask of the rows of points ``x`` ``(n, d)`` that are entirely NaN.

    A NaN row is a removed particle (an absorbed one of ``simulate``, which counts as
    outside the grid). A row NaN in some coordinates only is not a position, and
    points that are all NaN leave nothing to count: both raise a ``ValueError``.
    """
    nan = np.isnan(x)
    partial = nan.any(axis=1) & ~nan.all(axis=1)
    if partial.any():
        i = int(np.argmax(partial))
        raise ValueError(
            f"`{name}` row {i} is {x[i].tolist()}: NaN in some coordinates only, which is not a "
            f"position ({int(partial.sum())} such rows). Removed (absorbed) particles are NaN in "
            "every coordinate; fix or drop these rows."
        )
    rows = nan.all(axis=1) if x.shape[1] else np.zeros(x.shape[0], dtype=bool)
    if x.shape[0] and rows.all():
        raise ValueError(
            f"`{name}`: all {x.shape[0]} points are NaN (removed or absorbed particles, or a "
            "computation that failed); there is nothing to count."
        )
    return rows


def positive(name: str, value: Any, what: str = "number", hint: str = "") -> float:
    """``value`` as a positive finite float, or an error naming ``name``.

    A value that is not a number raises ``TypeError``; zero, negative, NaN or
    infinite values raise ``ValueError``. ``hint`` is appended to the latter.
    """
    if isinstance(value, (bool, str, bytes, complex, np.complexfloating)):
        raise TypeError(f"`{name}` must be a positive {what}, got {show(value)}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a positive {what}, got {show(value)}.") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"`{name}` must be positive and finite, got {show(value)}.{hint}")
    return v


def positive_int(name: str, value: Any) -> int:
    """``value`` as a positive int (bools refused), or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {show(value)}.")
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
