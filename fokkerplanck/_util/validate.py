"""Input checks shared by the public functions: one wording for one kind of mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["positive", "positive_int", "covariance"]


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
    w = np.linalg.eigvalsh(0.5 * (c + np.swapaxes(c, -1, -2)))
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

