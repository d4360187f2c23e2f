"""Input checks shared by the public functions: one wording for one kind of mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["positive", "positive_int"]


def positive(name: str, value: Any, what: str = "number", hint: str = "") -> float:
    """``value`` as a positive finite float, or an error naming ``name``.

    A value that is not a number raises ``TypeError``; zero, negative, NaN or
    infinite values raise ``ValueError``. ``hint`` is appended to the latter.
    """
    if isinstance(value, bool):
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
