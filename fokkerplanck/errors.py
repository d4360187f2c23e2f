"""Exceptions and warnings raised by :mod:`fokkerplanck`."""

from __future__ import annotations

from typing import Any

__all__ = ["ConvergenceError", "FokkerPlanckWarning"]


class ConvergenceError(RuntimeError):
    """A solver did not reach its tolerance.

    Attributes
    ----------
    result : object or None
        The partial result (for example a :class:`~fokkerplanck.StationaryResult`
        with ``success=False``) so the caller can inspect how far it got.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class FokkerPlanckWarning(UserWarning):
    """Legal but suspicious input: a domain that is too small, a coarse grid, ..."""
