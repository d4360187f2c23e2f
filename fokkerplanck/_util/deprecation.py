"""Old spellings of the public API, accepted for one release with a :class:`DeprecationWarning`.

Two decorators keep old calls working while the signature shows only the new
spelling (``inspect.signature`` follows ``__wrapped__``):

* :func:`renamed_keywords` for a keyword argument that was renamed
  (``tol=`` -> ``rtol=``);
* :func:`old_argument_order` for a function whose positional arguments were
  reordered, when the first argument tells an old call from a new one (the
  density builders now take the grid first).

Every warning names the new spelling, so the fix is in the message.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["old_argument_order", "renamed_keywords"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Accept the old keyword ``old=`` of ``renames = {old: new}`` as ``new=``, with a warning.

    Giving both spellings is a :class:`TypeError`.

    Examples
    --------
    >>> import warnings
    >>> from fokkerplanck._util.deprecation import renamed_keywords
    >>> @renamed_keywords(tol="rtol")
    ... def solve(x, *, rtol=1e-10):
    ...     return rtol
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     r = solve(1, tol=1e-3)
    >>> r, str(w[0].message)
    (0.001, '`solve(tol=...)` is deprecated and will be removed in the next release; write `solve(rtol=...)`.')
    """

    def decorate(f: F) -> F:
        name = f.__name__

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"`{name}` got both `{old}=` (the old spelling) and `{new}=`; give only `{new}=`."
                        )
                    warnings.warn(
                        f"`{name}({old}=...)` is deprecated and will be removed in the next release; "
                        f"write `{name}({new}=...)`.",
                        DeprecationWarning, stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return f(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def old_argument_order(old: tuple[str, ...], new_first: type) -> Callable[[F], F]:
    """Accept calls in the old positional order ``old`` with a warning.

    A call is read in the new order when it has no positional argument or its first
    one is an instance of ``new_first`` (for the density builders, a
    :class:`~fokkerplanck.Grid`); otherwise its positional arguments are matched
    to the names ``old`` and passed by keyword. The new function's parameters must
    carry the same names.

    Examples
    --------
    >>> import warnings
    >>> from fokkerplanck._util.deprecation import old_argument_order
    >>> @old_argument_order(("a", "text"), new_first=str)
    ... def f(text, a):
    ...     return text * a
    >>> f("ab", 2)
    'abab'
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     r = f(2, "ab")
    >>> r, str(w[0].message)
    ('abab', '`f(a, text)` is deprecated and will be removed in the next release; write `f(text, a)`.')
    """

    def decorate(f: F) -> F:
        import inspect

        name = f.__name__
        params = inspect.signature(f).parameters
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.POSITIONAL_ONLY)
        new = tuple(p for p, v in params.items() if v.kind in kinds)
        if sorted(new) != sorted(old):
            raise TypeError(f"old_argument_order: {old} is not a reordering of {new}")

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not args or isinstance(args[0], new_first):
                return f(*args, **kwargs)
            if len(args) > len(old):
                raise TypeError(f"`{name}` takes at most {len(old)} positional arguments, got {len(args)}.")
            named = dict(zip(old, args))
            both = sorted(named.keys() & kwargs.keys())
            if both:
                raise TypeError(f"`{name}` got multiple values for {both}.")
            warnings.warn(
                f"`{name}({', '.join(old)})` is deprecated and will be removed in the next release; "
                f"write `{name}({', '.join(new)})`.",
                DeprecationWarning, stacklevel=2,
            )
            return f(**named, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
