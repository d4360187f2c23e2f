"""Exceptions and warnings raised by :mod:`fokkerplanck`."""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Any

__all__ = ["ConvergenceError", "FokkerPlanckWarning", "ResolutionWarning", "warn"]


class ConvergenceError(RuntimeError):
    """A solver did not reach its tolerance.

    Attributes
    ----------
    result : object or None
        The partial result (for example a :class:`~fokkerplanck.StationaryResult`
        with ``success=False``) so the caller can inspect how far it got.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> err = fp.ConvergenceError("GMRES stalled", result={"iterations": 200})
    >>> isinstance(err, RuntimeError), err.result["iterations"]
    (True, 200)
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class FokkerPlanckWarning(UserWarning):
    """Legal but suspicious input: a domain that is too small, a coarse grid, ...

    Examples
    --------
    A box that cuts off the density's tails:

    >>> import warnings, fokkerplanck as fp
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = fp.stationary(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=10))
    >>> issubclass(caught[0].category, fp.FokkerPlanckWarning)
    True
    """


class ResolutionWarning(FokkerPlanckWarning):
    """The grid does not resolve the answer: a cell Peclet number above 5 where the
    answer lives, an answer only a few cells wide, or mass piled against a
    reflecting wall (see ``docs/trust.md``). At most one per solver call, listing
    every finding; a ``FokkerPlanckWarning``, so filters on that catch it too.

    Examples
    --------
    >>> import warnings, fokkerplanck as fp
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = fp.stationary(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=10))
    >>> [w.category.__name__ for w in caught]
    ['ResolutionWarning']
    """


def warn(message: str, category: type[Warning] | None = None) -> None:
    """Issue a :class:`FokkerPlanckWarning` attributed to the first caller outside the package.

    Fixed ``stacklevel`` values point inside the package whenever the call depth
    differs (``generator`` vs ``stationary`` vs ``evolve``); this walks the stack.
    """
    level = 2  # stacklevel 2 is warn()'s caller
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("fokkerplanck"):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category or FokkerPlanckWarning, stacklevel=level)
