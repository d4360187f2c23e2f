"""Input checks shared by the public functions: one wording for one kind of mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .linalg import sym_eigh

__all__ = ["covariance", "nan_rows", "positive", "positive_int", "real_array", "show"]


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


#: Relative tolerances of :func:`covariance`, against the largest eigenvalue.
SYMMETRY_RTOL = 1e-10
NEGATIVE_RTOL = 1e-10
SINGULAR_RTOL = 1e-12


def covariance(name: str, c: Any, x: np.ndarray | None = None, *, definite: bool = False,
               point: str = "x", hint: str = "") -> np.ndarray:
    """Check a covariance matrix ``(d, d)`` or field ``(..., d, d)``; return it as floats.

    The one covariance check of the package. A covariance must be finite, symmetric
    and have no negative eigenvalue; with ``definite=True`` it must also be
    non-singular (a Gaussian density or a preconditioner needs that; noise does
    not). Every tolerance is relative to the largest eigenvalue of the whole field
    (per point it would mean nothing for a 1-D field that vanishes somewhere):
    asymmetry up to ``SYMMETRY_RTOL``, negative eigenvalues down to
    ``-NEGATIVE_RTOL`` (round-off of a semi-definite matrix) are accepted, and
    ``definite`` refuses eigenvalues below ``SINGULAR_RTOL``.

    Parameters
    ----------
    name : str
        The argument named in errors.
    c : array_like, ``(d, d)`` or ``(..., d, d)``
    x : array, ``(..., d)``, optional
        The points of a field, named in errors.
    definite : bool
        Also refuse singular matrices.
    point : str
        What the points are called in errors (``"x"``, ``"Phi"``).
    hint : str
        Appended to the error about singular matrices.

    Raises
    ------
    ValueError
        Naming ``name``, the first offending point and its eigenvalues.

    Examples
    --------
    >>> from fokkerplanck._util.validate import covariance
    >>> covariance("cov", [[1.0, 1.0], [1.0, 1.0]]).tolist()   # singular noise is fine
    [[1.0, 1.0], [1.0, 1.0]]
    >>> covariance("cov", [[1.0, 2.0], [2.0, 1.0]])
    Traceback (most recent call last):
    ...
    ValueError: `cov` is not positive semi-definite (eigenvalues [-1.0, 3.0]); a covariance has no negative eigenvalue.
    """
    try:
        c = np.asarray(c, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of numbers, got {c!r}.") from None
    if c.ndim < 2 or c.shape[-1] != c.shape[-2]:
        raise ValueError(f"`{name}` must be square (d, d), got shape {c.shape}.")
    lead = c.shape[:-2]

    def where(mask: np.ndarray) -> tuple[tuple, str]:
        if not lead:
            return (), ""
        i = np.unravel_index(np.argmax(mask), lead)
        at = f" at {point} = {np.asarray(x[i]).tolist()}" if x is not None else f" at index {tuple(int(j) for j in i)}"
        return i, at

    finite = np.isfinite(c).all(axis=(-1, -2))
    if not finite.all():
        i, at = where(~finite)
        raise ValueError(f"`{name}` is not finite{at}: {c[i].tolist()}.")
    scale = max(float(np.abs(c).max(initial=0.0)), 1e-300)
    sym = (np.abs(c - np.swapaxes(c, -1, -2)) <= SYMMETRY_RTOL * scale).all(axis=(-1, -2))
    if not sym.all():
        i, at = where(~sym)
        raise ValueError(f"`{name}` is not symmetric{at}: {c[i].tolist()}.")
    w = sym_eigh(0.5 * (c + np.swapaxes(c, -1, -2)), vectors=False)[0]
    top = max(float(w[..., -1].max(initial=0.0)), 1e-300)
    negative = w[..., 0] < -NEGATIVE_RTOL * top
    if negative.any():
        i, at = where(negative)
        raise ValueError(
            f"`{name}` is not positive semi-definite{at} (eigenvalues {w[i].tolist()}); a "
            "covariance has no negative eigenvalue."
        )
    if definite:
        singular = w[..., 0] <= SINGULAR_RTOL * top
        if singular.any():
            i, at = where(singular)
            raise ValueError(
                f"`{name}` is singular{at} (eigenvalues {w[i].tolist()}); it must be positive "
                f"definite here.{(' ' + hint) if hint else ''}"
            )
    return c

