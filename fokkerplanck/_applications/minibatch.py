"""Real minibatch SGD (plain, preconditioned or heavy ball) for many independent chains
at once: the process the SGD SDE of :mod:`.sgd` and :mod:`.data` approximates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._util.errors import ConvergenceError
from .._util.summary import Summary, Text
from .._util.validate import positive_int
from .data import Data, PerExample, as_data
from .inputs import check_batch, check_lr, check_momentum, preconditioner

__all__ = ["SGDRun", "run_sgd"]

Array = np.ndarray


@dataclass(frozen=True, eq=False, repr=False)
class SGDRun(Summary):
    """Iterates of :func:`run_sgd`.

    Attributes
    ----------
    x : ndarray (n_kept * n_chains, d)
        The recorded iterates, pooled (what :func:`fokkerplanck.compare` and
        :meth:`Grid.histogram` take). With the default ``thin=None`` only the final
        iterate of each chain is kept: independent samples.
    chains : ndarray (n_kept, n_chains, d)
        The same iterates by record and chain.
    steps : ndarray (n_kept,)
        SGD step counts of the records; ``t = steps * lr`` in SDE time.
    t : ndarray (n_kept,)
        SDE times ``steps * lr`` (the sum of the reference learning rates);
        ``steps * sqrt(lr)`` with momentum.
    lr, batch_size, replace, burn_in, momentum
        The run's settings.
    v : ndarray (n_kept * n_chains, d) or None
        With momentum, the velocities ``m / sqrt(lr)`` of the records (see
        :attr:`phase`).
    success, message, error_estimate
        True, ``""`` and ``nan``: samples carry no error estimate of their own
        (:func:`~fokkerplanck.compare` measures them against a grid answer).

    Examples
    --------
    Real SGD on ``l_i(w) = (w - y_i)^2 / 2``: iterates scatter around the mean of ``y``.

    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> y = np.random.default_rng(0).normal(size=(200, 1))
    >>> run = fp.run_sgd(lambda w, yi: w - yi, y, np.zeros(1), lr=0.05, n_steps=400,
    ...                  n_chains=500, burn_in=200, rng=1)
    >>> bool(abs(run.x.mean() - y.mean()) < 0.02)
    True
    """

    x: Array
    chains: Array
    steps: Array
    t: Array
    lr: float
    batch_size: int
    replace: bool
    burn_in: int
    momentum: float = 0.0
    v: Array | None = None

    @property
    def phase(self) -> Array:
        """``(x, v)`` side by side, ``(n, 2 d)``: the points of the phase-space SDE
        of heavy-ball SGD (``momentum > 0`` only)."""
        if self.v is None:
            raise ValueError("This run has no velocities: it was run without `momentum`.")
        return np.concatenate([self.x, self.v], axis=1)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Array:
        """``np.asarray(run)`` is ``run.x``, so a run can go wherever points go."""
        return np.asarray(self.x, dtype=dtype)

    @property
    def final(self) -> Array:
        """Last iterate of every chain, ``(n_chains, d)``."""
        return self.chains[-1]

    success = True
    message = ""
    error_estimate = math.nan
    _error_meaning = "not computed: fp.compare measures samples against a grid answer"

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("points", Text(str(self.x.shape))), ("chains", int(self.chains.shape[1])),
                ("records", int(self.chains.shape[0])), ("lr", self.lr), ("batch_size", self.batch_size),
                ("momentum", self.momentum), ("t", float(self.t[-1]) if len(self.t) else math.nan)]


def subsets(rng: np.random.Generator, n_chains: int, N: int, B: int) -> Array:
    """``B`` distinct indices out of ``N`` for each chain (uniform subsets)."""
    if B == 1:
        return rng.integers(0, N, size=(n_chains, 1))
    if 4 * B > N:
        return np.argpartition(rng.random((n_chains, N)), B - 1, axis=1)[:, :B]
    # Floyd's algorithm, vectorized over chains: O(B^2) per chain
    sel = np.empty((n_chains, B), dtype=np.int64)
    for k, j in enumerate(range(N - B, N)):
        t = rng.integers(0, j + 1, size=n_chains)
        dup = (sel[:, :k] == t[:, None]).any(axis=1) if k else np.zeros(n_chains, bool)
        sel[:, k] = np.where(dup, j, t)
    return sel


def run_sgd(
    per_example_grad: Callable,
    data: Data,
    x0: Any,
    lr: float,
    n_steps: int,
    *,
    batch_size: int = 1,
    n_chains: int | None = None,
    replace: bool = True,
    burn_in: int | None = None,
    thin: int | None = None,
    lr_per_param: Any = None,
    momentum: float = 0.0,
    rng: Any = None,
) -> SGDRun:
    r"""Real minibatch SGD, ``Phi' = Phi - eta mean_{i in batch} grad l_i(Phi)``, for many
    independent chains at once.

    Every step draws a fresh minibatch for every chain independently: ``B`` indices
    uniformly with replacement (``replace=True``) or ``B`` distinct indices
    (``replace=False``) — the two samplings :func:`sgd_from_data` models. The loop runs
    over steps; chains are vectorized.

    Parameters
    ----------
    per_example_grad : callable
        ``f(Phi, example) -> grad l(Phi; example)`` broadcasting like a ufunc (see
        :func:`sgd_from_data`): called with ``Phi`` of shape ``(n_chains, 1, d)`` and
        example rows of leading shape ``(n_chains, B)``; must return
        ``(n_chains, B, d)``.
    data : array (N, ...) or tuple of arrays with N rows
    x0 : array (d,) or (n_chains, d)
        Starting parameters (one for all chains, or one per chain).
    lr : float
        Learning rate ``eta`` (the reference rate with ``lr_per_param``).
    n_steps : int
        Number of SGD steps per chain.
    batch_size : int
        ``1 <= B <= N``.
    n_chains : int, optional
        Number of chains (default 1000, or ``len(x0)`` for a 2-D ``x0``).
    replace : bool
        Minibatch sampling, see above.
    burn_in : int, optional
        Steps discarded before recording (default ``n_steps // 2``). Only used with
        ``thin``.
    thin : int, optional
        Record every ``thin``-th iterate after ``burn_in``, ending at the last step.
        ``None`` (default) records only the final iterate of every chain: independent
        samples. Records within one chain are correlated over about
        ``1 / (eta lambda_min(H))`` steps.
    lr_per_param : float, (d,) or (d, d) array, optional
        Per-parameter rates ``eta_i`` or a preconditioner ``P``: ``Phi' = Phi - P g_hat``.
    momentum : float
        Heavy-ball momentum ``0 <= beta < 1``: ``m' = beta m - eta g_hat``,
        ``Phi' = Phi + m'`` from ``m = 0``. The run then also records the velocities
        ``p = (m_k + m_{k+1}) / (2 sqrt(eta))`` of the recorded ``Phi_k`` (``.v``; the
        central difference ``(Phi_{k+1} - Phi_{k-1}) / (2 sqrt(eta))``, which costs one
        step more: on a quadratic its stationary variance is exactly that of the SDE,
        where ``m_k`` alone is off by ``O(sqrt(eta))``) and its times are
        ``t = steps sqrt(eta)``, the clock of the phase-space SDE
        ``fp.sgd(..., momentum=beta)``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    SGDRun
        ``.x`` (pooled records, ``(n, d)``), ``.chains``, ``.steps``, ``.t``.

    Raises
    ------
    ValueError
        Bad ``lr``, ``batch_size``, ``data`` (NaN), ``x0`` shape, ``lr_per_param``
        length, or a gradient of the wrong shape.
    fokkerplanck.ConvergenceError
        The iterates became non-finite (learning rate too large: on a quadratic SGD
        needs ``eta lambda_max(H) < 2``); ``.result`` holds the step reached.

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> xs = np.random.default_rng(1).normal(size=(500, 1))    # l_i = (p - x_i)^2 / 2
    >>> run = fp.run_sgd(lambda p, x: p - x, xs - xs.mean(), np.zeros(1), lr=0.1,
    ...                  n_steps=200, n_chains=2000, rng=0)
    >>> run.x.shape
    (2000, 1)
    >>> bool(abs(run.x.var() / (0.1 * xs.var() / (2 - 0.1)) - 1) < 0.1)   # discrete SGD
    True
    """
    eta = check_lr(lr)
    arrays, is_tuple, N = as_data(data)
    B = check_batch(batch_size, N)
    n_steps = positive_int("n_steps", n_steps)
    x = _starts(x0, n_chains)
    d = x.shape[1]
    P, _ = preconditioner(lr_per_param, d)
    beta = check_momentum(momentum, P)
    record, burn = _schedule(n_steps, burn_in, thin)
    rng = np.random.default_rng(rng)
    pe = PerExample(per_example_grad, "grad", arrays, is_tuple, 1e-3)
    out, vel = _iterate(pe, x, record, n_steps, eta, P, beta, B, bool(replace), rng)
    return SGDRun(
        x=out.reshape(-1, d), chains=out, steps=record,
        t=record * (np.sqrt(eta) if beta else eta), lr=eta,
        batch_size=B, replace=bool(replace), burn_in=burn, momentum=beta,
        v=None if vel is None else vel.reshape(-1, d),
    )


def _starts(x0: Any, n_chains: int | None) -> Array:
    """Starting points ``(n_chains, d)`` from one ``(d,)`` start or one per chain."""
    x = np.array(x0, dtype=float)
    if x.ndim == 1:
        n_chains = 1000 if n_chains is None else positive_int("n_chains", n_chains)
        x = np.broadcast_to(x, (n_chains, x.shape[0])).copy()
    elif x.ndim == 2:
        if n_chains is not None and n_chains != x.shape[0]:
            raise ValueError(
                f"`x0` has {x.shape[0]} rows but `n_chains={n_chains}`; give one start per "
                "chain, or a single (d,) start."
            )
    else:
        raise ValueError(f"`x0` must have shape (d,) or (n_chains, d), got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("`x0` must be finite.")
    return x


def _schedule(n_steps: int, burn_in: int | None, thin: int | None) -> tuple[Array, int]:
    """The recorded step numbers and the burn-in."""
    if thin is None:
        burn = n_steps - 1 if burn_in is None else int(burn_in)
        record = np.array([n_steps])
    else:
        thin = positive_int("thin", thin)
        burn = n_steps // 2 if burn_in is None else int(burn_in)
        record = np.arange(n_steps, burn, -thin)[::-1]
    if not 0 <= burn < n_steps:
        raise ValueError(f"`burn_in` must be in [0, n_steps) = [0, {n_steps}), got {burn_in!r}.")
    return record, burn


def _iterate(pe: PerExample, x: Array, record: Array, n_steps: int, eta: float, P: Array | None,
             beta: float, B: int, replace: bool, rng: np.random.Generator) -> tuple[Array, Array | None]:
    """Run the chains ``x`` (updated in place); the iterates at the steps ``record`` and,
    with momentum, their central velocities."""
    n_chains, d = x.shape
    N = pe.n
    m = np.zeros_like(x) if beta else None
    out = np.empty((record.size, n_chains, d))
    vel = np.empty((record.size, n_chains, d)) if beta else None
    k = 0
    pending: list[tuple[int, Array]] = []   # records waiting for the next step's m
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, n_steps + 1 + bool(beta)):
            idx = rng.integers(0, N, size=(n_chains, B)) if replace else subsets(rng, n_chains, N, B)
            try:
                g = pe.grads(x[:, None, :], pe.rows(idx), (n_chains, B)).mean(axis=1)
            except ValueError as err:
                if "non-finite" not in str(err):
                    raise
                g = np.full_like(x, np.nan)
            if m is not None:
                m *= beta
                m -= eta * g
                x += m
            elif P is None:
                x -= eta * g
            elif P.ndim == 0:
                x -= float(P) * g
            else:
                x -= g @ P.T
            _check_finite(x, step, n_steps)
            if vel is not None and m is not None:
                for j, m_before in pending:  # central velocity (m_k + m_{k+1}) / 2
                    vel[j] = 0.5 * (m_before + m) / np.sqrt(eta)
                pending.clear()
            if k < record.size and step == record[k]:
                out[k] = x
                if m is not None:
                    pending.append((k, m.copy()))
                k += 1
    return out, vel


def _check_finite(x: Array, step: int, n_steps: int) -> None:
    if not np.all(np.isfinite(x)):
        bad = int(np.argmax(~np.isfinite(x).all(axis=1)))
        raise ConvergenceError(
            f"SGD diverged: chain {bad} became non-finite at step {step} of "
            f"{n_steps}. The learning rate is probably too large (on a quadratic "
            "loss SGD is stable only for eta * lambda_max(H) < 2); lower `lr`.",
            result={"step": step, "x": x.copy()},
        )
