"""The short summary every result prints: ``repr`` and ``str`` in a few lines.

Every public result type (``StationaryResult``, ``Modes``, ``Evolution``,
``QuasiStationary``, ``ExitTime``, ``Particles``, ``Comparison``, ...) carries the same
core fields -- ``success``, ``message`` and ``error_estimate`` -- and inherits its
``repr`` from :class:`Summary`::

    StationaryResult(method='gth', grid=64x64 on [-5, 5]x[-3, 3], residual=2.2e-16)
      success=True, error_estimate=0.0002924 (L1 norm of the density error)
      message: certified ...

The first line names the result and its key numbers, the second says whether it can be
trusted and how accurate it is, a third (when there is one) repeats the message. Arrays
of more than :data:`MAX_LISTED` numbers print as their shape, never as their values.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

__all__ = ["MAX_LISTED", "MAX_MESSAGE", "Summary", "Text", "format_value"]

#: Arrays with more entries print as their shape.
MAX_LISTED = 6

#: Longest message printed (characters); longer ones are cut with "...".
MAX_MESSAGE = 240


class Text(str):
    """A summary value printed as it is (no quotes), e.g. ``Text("[1, 2±3i]")``."""

    __slots__ = ()


def _number(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    x = float(v)
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def format_value(v: Any) -> str:
    """A compact text for one summary item: numbers to 4 digits, short arrays listed,
    long arrays as their shape, a grid as its cells and box, strings quoted.

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck._util.summary import format_value
    >>> format_value(np.array([1.0, 2.5e-7])), format_value(np.zeros((3, 240))), format_value(0.1 + 0.2)
    ('[1, 2.5e-07]', '<array (3, 240)>', '0.3')
    """
    if v is None:
        return "None"
    if isinstance(v, Text):
        return str(v)
    if isinstance(v, str):
        return repr(v)
    if hasattr(v, "bounds") and hasattr(v, "shape") and hasattr(v, "boundary"):  # a Grid
        box = "x".join(f"[{lo:g}, {hi:g}]" for lo, hi in v.bounds)
        return f"{'x'.join(str(n) for n in v.shape)} on {box}"
    if isinstance(v, (tuple, list)) and all(isinstance(x, str) for x in v):
        return repr(tuple(v))
    if isinstance(v, (np.ndarray, list, tuple)):
        a = np.asarray(v)
        if a.dtype == object or a.size > MAX_LISTED or a.ndim > 1:
            return f"<array {a.shape}>"
        return "[" + ", ".join(_number(x) for x in a.ravel()) + "]"
    try:
        return _number(v)
    except (TypeError, ValueError):
        return repr(v)


def _error(v: Any) -> str:
    a = np.asarray(v, dtype=float) if v is not None else np.asarray(math.nan)
    if a.ndim == 0:
        return _number(float(a))
    if a.size <= MAX_LISTED:
        return format_value(a)
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return f"{_number(float(a.ravel()[0]))} (all {a.size})"
    return f"max {_number(float(finite.max()))} over {a.size}"


class Summary:
    """Mixin giving a result dataclass its short ``repr``/``str`` (declare the dataclass
    with ``repr=False`` so that its generated ``repr`` does not replace this one).

    A subclass lists its key numbers in :meth:`_summary_items` and says in
    ``_error_meaning`` what its ``error_estimate`` measures; ``success``, ``message``
    and ``error_estimate`` are read from the instance.
    """

    __slots__ = ()

    #: What ``error_estimate`` measures (printed after it).
    _error_meaning: ClassVar[str] = ""

    #: Whether ``repr`` repeats ``message`` (off where ``str`` shows it in full).
    _show_message: ClassVar[bool] = True

    def _summary_items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` pairs for the first line: what, shape, key numbers."""
        return []

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={format_value(v)}" for k, v in self._summary_items())
        lines = [f"{type(self).__name__}({items})"]
        err = _error(getattr(self, "error_estimate", math.nan))
        meaning = f" ({self._error_meaning})" if self._error_meaning else ""
        lines.append(f"  success={bool(getattr(self, 'success', True))}, error_estimate={err}{meaning}")
        message = " ".join(str(getattr(self, "message", "") or "").split()) if self._show_message else ""
        if message:
            if len(message) > MAX_MESSAGE:
                message = message[: MAX_MESSAGE - 3].rstrip() + "..."
            lines.append(f"  message: {message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.__repr__()
