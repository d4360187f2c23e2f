"""Parameter sweeps: one function over many parameter sets, on any executor.

:func:`sweep` calls ``fn(**p)`` for every parameter set ``p`` and returns a
:class:`SweepResult` with the results in the order of the parameter sets. Where the
calls run is one argument: ``executor=None`` runs them one after the other in this
process; any :class:`concurrent.futures.Executor` (a ``ThreadPoolExecutor``, a
``ProcessPoolExecutor``, or ``client.get_executor()`` of a ``dask.distributed``
client — or the client itself) runs them there. The results do not depend on where
they ran: the same function of the same arguments gives the same numbers, and the
order is that of ``params``, not of completion.

The function travels to the workers by pickling (except for threads), so it should
build everything it needs from plain parameters:

>>> import numpy as np
>>> import fokkerplanck as fp
>>> def density(temperature, n=64):
...     grid = fp.Grid(bounds=[(-3, 3)], shape=n)
...     sde = fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=np.sqrt(2 * temperature))
...     return fp.stationary(sde, grid).density
>>> res = fp.sweep(density, {"temperature": [0.2, 0.5, 1.0]})
>>> res.stack().shape
(3, 64)

Reproducibility: results equal the serial run's exactly when ``fn`` is deterministic:
each call is the same function of the same arguments, only elsewhere. Randomness must
come in through the arguments (``rng=`` of :func:`sweep`, or a seed parameter), never
from global state. Warnings raised in worker processes stay in those processes (their
stderr or the dask worker logs).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import math
import pickle
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._util.progress import progress_bar
from ._util.rng import rng_children
from ._util.summary import Summary, Text
from ._util.validate import positive

__all__ = ["ERRORS", "SweepError", "SweepResult", "expand", "sweep"]

#: What :func:`sweep` does when a parameter set fails.
ERRORS = ("raise", "collect")

_PICKLE_HINT = (
    " The function, its parameters and its return value travel between processes by "
    "pickling: make `fn` a module-level function (not a lambda or a closure) that builds "
    "the SDE and grid inside from plain numbers, and return arrays or numbers (for "
    "example `fp.stationary(...).density`), not objects holding user callables. Dask "
    "pickles with cloudpickle, which also handles lambdas and functions defined in a "
    "script or notebook."
)


class SweepError(RuntimeError):
    """A parameter set of a sweep failed (``errors="raise"``).

    The exception raised by ``fn`` is the ``__cause__``.

    Attributes
    ----------
    index : int
        Position of the failed parameter set in :attr:`SweepResult.params`.
    params : dict
        The failed parameter set.
    """

    def __init__(self, message: str, index: int, params: dict) -> None:
        super().__init__(message)
        self.index = index
        self.params = params

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.index, self.params))


@dataclass(frozen=True, eq=False, repr=False)
class SweepResult(Summary):
    """Results of :func:`sweep`, in the order of the parameter sets.

    Attributes
    ----------
    params : tuple of dict
        The parameter sets, expanded (one dict per call).
    results : tuple
        ``fn(**params[i])`` at position ``i``; ``None`` where the call failed
        (``errors="collect"``).
    errors : dict of int to Exception
        The exception of each failed parameter set, by index; empty on success.
    shape : tuple of int
        ``(len(values), ...)`` per key for a Cartesian product (``params`` given as
        a dict of lists), ``(len(params),)`` for a list of dicts. :meth:`stack`
        reshapes to it.
    seconds : ndarray, shape (len(params),)
        Wall time of each call, measured where it ran.
    wall_seconds : float
        Wall time of the whole sweep, as seen by the caller.
    executor : str
        Where the calls ran (``"serial"`` or the executor's class name).
    success : bool
        Every parameter set succeeded.
    message : str
        How many failed, and the first failure.
    error_estimate : float
        ``nan``: each result carries its own.
    """

    params: tuple[dict, ...]
    results: tuple
    errors: dict[int, BaseException] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wall_seconds: float = 0.0
    executor: str = "serial"

    @property
    def success(self) -> bool:
        """True when every parameter set succeeded."""
        return not self.errors

    @property
    def message(self) -> str:
        if not self.errors:
            return ""
        i = min(self.errors)
        return (f"{len(self.errors)} of {len(self)} parameter sets failed; the first, {i}: "
                f"{type(self.errors[i]).__name__}: {self.errors[i]}")

    error_estimate = math.nan
    _error_meaning = "not computed: each result carries its own"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("n", len(self)), ("shape", Text(str(self.shape))),
                ("keys", Text(str(sorted({k for p in self.params for k in p})))),
                ("failed", len(self.errors)), ("executor", self.executor), ("wall_seconds", self.wall_seconds)]

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> Any:
        return self.results[i]

    def __iter__(self) -> Any:
        return iter(self.results)

    def stack(self, key: str | Callable | None = None) -> np.ndarray:
        """The results as one array of shape ``(*self.shape, *result_shape)``.

        Parameters
        ----------
        key : str or callable, optional
            Take ``result[key]`` (a dict or mapping result) or ``key(result)``
            from each result first.

        Raises
        ------
        ValueError
            Some parameter sets failed, or the results do not share one shape.
        """
        if self.errors:
            raise ValueError(
                f"{len(self.errors)} of {len(self)} parameter sets failed (indices "
                f"{sorted(self.errors)[:10]}); there is nothing to stack in their place. "
                "Stack the successful ones by hand from `results`."
            )
        items: Sequence[Any]
        if key is None:
            items = self.results
        elif callable(key):
            items = [key(r) for r in self.results]
        else:
            items = [r[key] for r in self.results]
        arrays = [np.asarray(r) for r in items]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"The results have different shapes {sorted(shapes)}; they cannot be stacked.")
        item_shape = arrays[0].shape if arrays else ()
        return np.stack(arrays).reshape(*self.shape, *item_shape) if arrays else np.zeros(self.shape)

    def table(self) -> dict[str, list]:
        """Columns for a table, one row per parameter set (``pandas.DataFrame(res.table())``).

        One column per parameter; the result as column ``"result"`` when it is a
        number (or a 0-d array), or one column per key when it is a mapping of
        numbers; ``"seconds"``; and ``"error"`` (``None`` or ``"Type: message"``)
        when some set failed.
        """
        keys: list[str] = []
        for p in self.params:
            keys += [k for k in p if k not in keys]
        cols: dict[str, list] = {k: [p.get(k) for p in self.params] for k in keys}
        ok = [r for i, r in enumerate(self.results) if i not in self.errors]
        if ok and all(isinstance(r, Mapping) for r in ok):
            rkeys: list[str] = []
            for r in ok:
                rkeys += [k for k in r if k not in rkeys and _is_scalar(r[k])]
            for k in rkeys:
                name = k if k not in cols else f"result.{k}"
                cols[name] = [None if (i in self.errors or not isinstance(r, Mapping)) else _scalar(r.get(k))
                              for i, r in enumerate(self.results)]
        elif ok and all(_is_scalar(r) for r in ok):
            cols["result" if "result" not in cols else "result_"] = [
                None if i in self.errors else _scalar(r) for i, r in enumerate(self.results)
            ]
        cols["seconds"] = [float(s) for s in self.seconds]
        if self.errors:
            cols["error"] = [
                f"{type(self.errors[i]).__name__}: {self.errors[i]}" if i in self.errors else None
                for i in range(len(self))
            ]
        return cols



def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, complex, bool, np.generic, str)) or (
        isinstance(v, np.ndarray) and v.ndim == 0
    )


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, (np.generic, np.ndarray)) else v


# ----------------------------------------------------------------- parameters
def expand(
    params: Iterable[Mapping[str, Any]] | Mapping[str, Iterable[Any]],
) -> tuple[list[dict], tuple[int, ...]]:
    """Parameter sets from a list of dicts, or from a dict of lists (Cartesian product).

    Parameters
    ----------
    params : iterable of mappings, or mapping of sequences
        A list of dicts is taken as it is: one call per dict. A dict of lists is the
        Cartesian product of its values, in the order of the keys, the *last* key
        varying fastest (as nested ``for`` loops, or :func:`itertools.product`).

    Returns
    -------
    sets : list of dict
    shape : tuple of int
        ``(len(values) for each key)`` for a dict, ``(len(sets),)`` for a list.

    Examples
    --------
    Public as ``fp.expand_params``:

    >>> import fokkerplanck as fp
    >>> fp.expand_params({"T": [0.5, 1.0], "n": [32, 64]})
    ([{'T': 0.5, 'n': 32}, {'T': 0.5, 'n': 64}, {'T': 1.0, 'n': 32}, {'T': 1.0, 'n': 64}], (2, 2))
    """
    if isinstance(params, Mapping):
        keys, values = [], []
        for k, v in params.items():
            if not isinstance(k, str):
                raise TypeError(f"Parameter names must be strings (keywords of `fn`), got {k!r}.")
            if isinstance(v, np.ndarray):
                if v.ndim == 0:
                    v = None  # a scalar: rejected below
                else:
                    v = list(v.tolist()) if v.ndim == 1 else list(v)
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                raise TypeError(
                    f"`params` is a dict, so it is read as a grid of values: each entry must be a "
                    f"list of the values to sweep, but {k!r} is {params[k]!r}. To hold a "
                    f"parameter fixed write {k}=[{params[k]!r}] (or bind it with "
                    "functools.partial); to give each call its own set, pass a list of dicts."
                )
            keys.append(k)
            values.append(list(v))
        sets = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
        return sets, tuple(len(v) for v in values)
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(
            "`params` must be a list of dicts (one per call) or a dict of lists (their "
            f"Cartesian product), got {type(params).__name__}."
        )
    sets = []
    for i, p in enumerate(params):
        if not isinstance(p, Mapping):
            raise TypeError(
                f"`params[{i}]` is {type(p).__name__} {p!r}; every parameter set must be a dict "
                "of keyword arguments of `fn`."
            )
        bad = [k for k in p if not isinstance(k, str)]
        if bad:
            raise TypeError(f"Parameter names must be strings (keywords of `fn`); `params[{i}]` has {bad[0]!r}.")
        sets.append(dict(p))
    return sets, (len(sets),)


# ------------------------------------------------------------ the remote call
class _Failure:
    """An exception raised by ``fn`` where it ran, with its formatted traceback.

    Pickles even when the exception does not (a :class:`ConvergenceError` carrying a
    result that holds a lambda, say): it is then replaced by a ``RuntimeError``
    naming the original type and message.
    """

    def __init__(self, exc: BaseException, tb: str) -> None:
        self.exc = exc
        self.tb = tb

    def __reduce__(self) -> tuple:
        try:
            pickle.dumps(self.exc)
            exc: BaseException = self.exc
        except Exception:  # noqa: BLE001  (whatever pickling raises, ship a plain copy)
            exc = RuntimeError(f"{type(self.exc).__module__}.{type(self.exc).__qualname__}: {self.exc}")
        return (_Failure, (exc, self.tb))


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in another process (as in ``concurrent.futures``)."""

    def __init__(self, tb: str) -> None:
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


def _call(fn: Callable, params: dict, rng: np.random.Generator | None) -> tuple[Any, float]:
    """Run one parameter set where the executor puts it; never raises."""
    t0 = time.perf_counter()
    try:
        value = fn(**params) if rng is None else fn(**params, rng=rng)
    except Exception as exc:  # noqa: BLE001  (a sweep records every failing point and goes on)
        return _Failure(exc, traceback.format_exc()), time.perf_counter() - t0
    return value, time.perf_counter() - t0


def _describe(params: dict, limit: int = 200) -> str:
    text = repr(params)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_pickling_error(exc: BaseException) -> bool:
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, pickle.PicklingError) or "pickl" in str(cur).lower():
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _check_picklable(fn: Callable, sets: list[dict]) -> None:
    """Fail early, with the idiom, where a ProcessPoolExecutor would fail late."""
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(
            f"`fn` ({getattr(fn, '__qualname__', fn)!r}) cannot be pickled ({exc}), so a "
            "ProcessPoolExecutor cannot send it to its workers." + _PICKLE_HINT
        ) from exc
    for i, p in enumerate(sets):
        try:
            pickle.dumps(p)
        except Exception as exc:
            raise TypeError(
                f"Parameter set {i} {_describe(p)} cannot be pickled ({exc}), so a "
                "ProcessPoolExecutor cannot send it to its workers." + _PICKLE_HINT
            ) from exc


def _resolve_executor(executor: Any) -> Any:
    if executor is None or isinstance(executor, cf.Executor):
        return executor
    if hasattr(executor, "get_executor"):  # a dask.distributed Client
        # pure=False: every set runs, as on the other executors (dask would otherwise
        # compute equal (fn, params) once and could reuse results still in memory)
        return executor.get_executor(pure=False)
    if callable(getattr(executor, "submit", None)):
        return executor
    raise TypeError(
        "`executor` must be None (serial), a concurrent.futures.Executor "
        "(ThreadPoolExecutor, ProcessPoolExecutor, client.get_executor() of dask.distributed) "
        f"or a dask.distributed Client, got {type(executor).__name__}."
    )


# ------------------------------------------------------------------- the verb
def sweep(
    fn: Callable[..., Any],
    params: Iterable[Mapping[str, Any]] | Mapping[str, Iterable[Any]],
    *,
    executor: Any = None,
    errors: str = "raise",
    rng: Any = None,
    timeout: float | None = None,
    progress: bool = False,
) -> SweepResult:
    """Call ``fn(**p)`` for every parameter set ``p``, serially or on an executor.

    Parameters
    ----------
    fn : callable
        Called with each parameter set as keyword arguments: ``fn(**p)``. For a
        process or cluster executor it must be picklable — a module-level function
        that builds the SDE and grid inside from plain numbers — and so must what it
        returns (arrays and numbers, e.g. ``fp.stationary(...).density``). Bind
        fixed arguments with :func:`functools.partial`.
    params : list of dict, or dict of lists
        A list of dicts: one call per dict, in order. A dict of lists: the Cartesian
        product of the values, in the order of the keys, the last key varying
        fastest (``{"T": [1, 2], "n": [32, 64]}`` gives ``(1, 32), (1, 64), (2, 32),
        (2, 64)``); :attr:`SweepResult.shape` is then ``(2, 2)``. See :func:`expand`.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where the calls run. ``None`` (default): one after the other in this process.
        A ``ThreadPoolExecutor``, ``ProcessPoolExecutor`` or ``client.get_executor()``
        (or the ``Client`` itself): all calls are submitted at once. The caller owns
        the executor: :func:`sweep` neither creates nor shuts it down.
    errors : {"raise", "collect"}
        ``"raise"``: the first failed parameter set (in the order of ``params``)
        raises :class:`SweepError` naming it, and pending calls are cancelled.
        ``"collect"``: every call runs; failures are in :attr:`SweepResult.errors`
        and their ``results`` entry is ``None``.
    rng : int, Generator or SeedSequence, optional
        If given, each call also receives ``rng=`` an independent
        :class:`numpy.random.Generator`, derived from ``rng`` and the position of the
        parameter set alone, so random sweeps (particles, SGD runs) give the same
        numbers on every executor.
    timeout : float, optional
        Seconds to wait for the whole sweep (as ``Executor.map``); then pending calls
        are cancelled and :class:`TimeoutError` is raised. A serial sweep checks it
        after every call (the last one included), so a sweep that overran it never
        returns as a success.
    progress : bool
        Show a :mod:`tqdm` progress bar over the parameter sets.

    Returns
    -------
    SweepResult
        ``params``, ``results`` (in the order of ``params``), ``errors``, ``shape``,
        per-call ``seconds``; ``stack()`` and ``table()``.

    Raises
    ------
    SweepError
        ``errors="raise"`` and a call raised; the message names the parameter set,
        the original exception is the ``__cause__`` (with the worker's traceback).
    TypeError
        ``fn`` not callable; malformed ``params``; for a ``ProcessPoolExecutor``,
        ``fn`` or a parameter set that cannot be pickled.
    TimeoutError
        The sweep took longer than ``timeout``.

    Notes
    -----
    Ctrl-C (``KeyboardInterrupt``) cancels the pending calls and shuts the executor
    down without waiting; the worker processes of a ``ProcessPoolExecutor`` are
    terminated (threads cannot be: a call running in a thread finishes in the
    background). The executor cannot be used afterwards.

    Reproducibility across executors: see the module notes.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> def variance(temperature):
    ...     grid = fp.Grid(bounds=[(-6, 6)], shape=240)
    ...     p = fp.stationary(fp.langevin(lambda x: x[..., 0]**2 / 2, sigma=np.sqrt(2 * temperature)), grid).density
    ...     return grid.cov(p)[0, 0]
    >>> res = fp.sweep(variance, {"temperature": [0.25, 0.5, 1.0]})
    >>> np.round(res.stack(), 3)
    array([0.25, 0.5 , 1.  ])

    The same sweep on two processes, or on a Dask cluster, changes one argument::

        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(2) as ex:
            res = fp.sweep(variance, {"temperature": [0.25, 0.5, 1.0]}, executor=ex)

        from dask.distributed import Client
        with Client("tcp://scheduler:8786") as client:
            res = fp.sweep(variance, {"temperature": [0.25, 0.5, 1.0]}, executor=client)
    """
    sets, shape, rngs, timeout = _check_sweep(fn, params, errors, timeout, rng)
    n = len(sets)
    ex = _resolve_executor(executor)
    name = "serial" if ex is None else type(ex).__name__
    if isinstance(ex, cf.ProcessPoolExecutor):
        _check_picklable(fn, sets)

    bar = progress_bar(n, progress, "sweep", unit="set")

    t0 = time.perf_counter()
    deadline = None if timeout is None else t0 + timeout
    outcomes: list[Any] = [None] * n
    try:
        if ex is None:
            _run_serial(fn, sets, rngs, outcomes, errors, deadline, timeout, bar)
        else:
            _run_executor(ex, fn, sets, rngs, outcomes, errors, deadline, timeout, bar)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0

    results, failed, seconds = _collect(outcomes)
    return SweepResult(tuple(sets), tuple(results), failed, shape, seconds, wall, name)


def _check_sweep(fn: Any, params: Any, errors: str, timeout: float | None,
                 rng: Any) -> tuple[list[dict[str, Any]], Any, list[Any], float | None]:
    """The parameter sets, their shape, one generator per set (or ``None``) and the
    timeout, after checking :func:`sweep`'s arguments."""
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}.")
    if errors not in ERRORS:
        raise ValueError(f"`errors` must be one of {ERRORS}, got {errors!r}.")
    if timeout is not None:
        timeout = positive("timeout", timeout, "number of seconds", " Pass None for no limit.")
    sets, shape = expand(params)
    n = len(sets)
    if rng is not None:
        clash = [i for i, p in enumerate(sets) if "rng" in p]
        if clash:
            raise ValueError(
                f"Parameter set {clash[0]} already has an `rng` entry, and `rng=` was also "
                "given to sweep; pass one or the other."
            )
        rngs: list[Any] = rng_children(rng, n)
    else:
        rngs = [None] * n
    return sets, shape, rngs, timeout


def _collect(outcomes: list[Any]) -> tuple[list[Any], dict[int, BaseException], np.ndarray]:
    """``(results, failed, seconds)`` from the ``(value or exception, seconds)`` pairs."""
    n = len(outcomes)
    results: list[Any] = []
    seconds, failed = np.zeros(n), {}
    for i, (value, sec) in enumerate(outcomes):
        seconds[i] = sec
        if isinstance(value, BaseException):
            failed[i] = value
            results.append(None)
        else:
            results.append(value)
    return results, failed, seconds


def _run_serial(fn: Callable, sets: list[dict], rngs: list, outcomes: list, errors: str,
                deadline: float | None, timeout: float | None, bar: Any) -> None:
    for i, (p, r) in enumerate(zip(sets, rngs)):
        outcomes[i] = _settle(i, p, _call(fn, p, r), errors)
        if bar is not None:
            bar.update()
        # checked after every call, the last included: a serial sweep cannot stop a
        # running call, but one that overran the limit never reports success
        if deadline is not None and time.perf_counter() > deadline:
            raise cf.TimeoutError(
                f"sweep: {i + 1} of {len(sets)} parameter sets done when `timeout={timeout:g}` s "
                f"ran out (the last call took {outcomes[i][1]:.3g} s; a serial sweep checks the "
                "limit between calls). Raise the timeout or use an executor."
            )


def _run_executor(ex: Any, fn: Callable, sets: list[dict], rngs: list, outcomes: list,
                  errors: str, deadline: float | None, timeout: float | None, bar: Any) -> None:
    # positional arguments only: dask's executor reads keywords such as `workers`,
    # `key` or `priority` as its own options.
    futures: list[Any] = []
    done: dict[int, Any] = {}
    try:
        for p, r in zip(sets, rngs):
            futures.append(ex.submit(_call, fn, p, r))
        index = {id(f): i for i, f in enumerate(futures)}
        if all(isinstance(f, cf.Future) for f in futures):
            remaining = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
            completed = cf.as_completed(futures, timeout=remaining)
        else:  # a duck-typed executor: wait in order
            completed = iter(futures)
        next_i = 0  # settle in the order of params, so "raise" names the first failure
        for f in completed:
            i = index[id(f)]
            remaining = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
            try:
                done[i] = f.result(timeout=remaining)
            except (cf.TimeoutError, TimeoutError):
                raise
            except BaseException as exc:  # the executor failed to run or return it
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                done[i] = (exc, float("nan"))
            if bar is not None:
                bar.update()
            while next_i in done:
                outcomes[next_i] = _settle(next_i, sets[next_i], done.pop(next_i), errors)
                next_i += 1
    except (cf.TimeoutError, TimeoutError):
        for f in futures:
            f.cancel()
        n_done = sum(1 for f in futures if f.done() and not f.cancelled())
        raise cf.TimeoutError(
            f"sweep: {n_done} of {len(sets)} parameter sets done after `timeout={timeout}` s; "
            "the pending ones were cancelled (running ones may finish in the background)."
        ) from None
    except BaseException as exc:
        for f in futures:
            f.cancel()
        if isinstance(exc, KeyboardInterrupt):
            _stop_workers(ex)
        raise


def _stop_workers(ex: Any) -> None:
    """Ctrl-C: shut the executor down without waiting; kill a process pool's workers.

    Threads cannot be killed: a call already running in a thread finishes in the
    background, pending ones never start.
    """
    procs = []
    if isinstance(ex, cf.ProcessPoolExecutor):  # shutdown() forgets them: take them first
        procs = list((getattr(ex, "_processes", None) or {}).values())
    shutdown = getattr(ex, "shutdown", None)
    if isinstance(ex, cf.Executor) and callable(shutdown):
        with contextlib.suppress(Exception):  # best effort while interrupted
            shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):  # already gone
            proc.terminate()


def _settle(i: int, params: dict, outcome: tuple[Any, float], errors: str) -> tuple[Any, float]:
    """Turn a failure into the exception to keep, or raise it (``errors="raise"``)."""
    value, sec = outcome
    if isinstance(value, _Failure):
        exc = value.exc
        if exc.__traceback__ is None and exc.__cause__ is None:  # crossed a process boundary
            exc.__cause__ = _RemoteTraceback(f'\n"""\n{value.tb}"""')
        value = exc
    elif isinstance(value, BaseException):
        exc = value
    else:
        return value, sec
    if errors == "collect":
        return exc, sec
    hint = _PICKLE_HINT if _is_pickling_error(exc) else ""
    raise SweepError(
        f"Parameter set {i} {_describe(params)} failed: {type(exc).__name__}: "
        f"{str(exc).rstrip().rstrip('.')}.{hint} "
        "Pass errors='collect' to run the others and collect the failures.",
        i, params,
    ) from exc
