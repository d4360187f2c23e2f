"""Exceptions and warnings raised by :mod:`fokkerplanck`."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any

__all__ = ["ConvergenceError", "FokkerPlanckWarning", "ResolutionWarning", "held", "warn"]

#: The warnings held by the innermost :func:`held` of this thread (or task), else ``None``.
_HOLD: ContextVar[list[tuple[str, type[Warning]]] | None] = ContextVar("fokkerplanck_held_warnings", default=None)


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
    Inside :func:`held` the warning is kept in its list instead.
    """
    hold = _HOLD.get()
    if hold is not None:
        hold.append((message, category or FokkerPlanckWarning))
        return
    level = 2  # stacklevel 2 is warn()'s caller
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("fokkerplanck"):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category or FokkerPlanckWarning, stacklevel=level)


@contextmanager
def held() -> Iterator[list[tuple[str, type[Warning]]]]:
    """Hold the package's warnings (every :func:`warn`) issued inside, in this thread only.

    Yields the list of ``(message, category)`` held; the caller drops them, or issues them
    again with :func:`warn` (to an enclosing ``held``, if any). A solve on a helper grid
    (the error estimate's partner) whose warnings are not the caller's uses it.
    ``warnings.catch_warnings`` would do the same through the process-wide filters,
    which is not thread-safe: in ``fp.sweep`` with threads, one call's filter change hid
    or let through another call's warnings. Other warnings (numpy's, scipy's, pyamg's,
    a user's code inside a held solve) are not held: they are issued as usual.

    Examples
    --------
    >>> from fokkerplanck._util.errors import held, warn
    >>> with held() as kept:
    ...     warn("on the helper grid")
    >>> kept[0][0]
    'on the helper grid'
    """
    kept: list[tuple[str, type[Warning]]] = []
    token = _HOLD.set(kept)
    try:
        yield kept
    finally:
        _HOLD.reset(token)
