"""The SGD SDE of a model and a data set: per-example gradients, their mean and
covariance ``Sigma(Phi)`` over the data set, and the SDE with that state-dependent noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._model.sde import FD_OFFSETS, FD_WEIGHTS, SDE
from .._util.validate import positive
from .inputs import (
    check_batch,
    check_lr,
    check_momentum,
    check_psd_field,
    mobility_and_noise,
    preconditioner,
)
from .momentum import heavy_ball

__all__ = ["data_gradient_stats", "sgd_from_data"]

Array = np.ndarray
Data = Array | Sequence[Array]

#: Elements (floats) of per-example gradients held in memory at once.
CHUNK_ELEMENTS = 2**21


def as_data(data: Data) -> tuple[tuple[Array, ...], bool, int]:
    """Validate ``data``: an array with one row per example, or a tuple of them."""
    is_tuple = isinstance(data, (tuple, list))
    parts = tuple(data) if is_tuple else (data,)
    if not parts:
        raise ValueError("`data` is empty; give an array (n, ...) or a tuple of arrays.")
    arrays = []
    for k, a in enumerate(parts):
        a = np.asarray(a)
        where = f"`data[{k}]`" if is_tuple else "`data`"
        if a.ndim == 0:
            raise ValueError(f"{where} must have one row per example, got a scalar.")
        if a.dtype.kind in "fc":
            bad = ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"{where} contains NaN or inf ({int(bad.sum())} of {a.shape[0]} "
                    f"examples, first at row {i}: {a[i].tolist()}); drop or impute "
                    "those examples first."
                )
        arrays.append(a)
    n = arrays[0].shape[0]
    for k, a in enumerate(arrays):
        if a.shape[0] != n:
            raise ValueError(
                f"`data` arrays have different numbers of rows ({n} and {a.shape[0]} for "
                f"data[{k}]); every array needs one row per example."
            )
    if n == 0:
        raise ValueError("`data` has no examples.")
    return tuple(arrays), is_tuple, n


def take_rows(arrays: tuple[Array, ...], is_tuple: bool, index: Any) -> Any:
    rows = tuple(a[index] for a in arrays)
    return rows if is_tuple else rows[0]


class PerExample:
    """Evaluates per-example gradients ``(m, d) x rows -> (m, n_rows, d)``."""

    def __init__(self, fn: Callable, kind: str, arrays: tuple[Array, ...], is_tuple: bool,
                 fd_step: float) -> None:
        if not callable(fn):
            raise TypeError(f"`per_example` must be callable, got {type(fn).__name__}.")
        if kind not in ("loss", "grad"):
            raise ValueError(f"`kind` must be 'loss' or 'grad', got {kind!r}.")
        self.fn, self.kind, self.arrays, self.is_tuple = fn, kind, arrays, is_tuple
        self.fd_step = float(fd_step)
        self.n = arrays[0].shape[0]

    def rows(self, index: Any) -> Any:
        return take_rows(self.arrays, self.is_tuple, index)

    def _call(self, phi: Array, rows: Any, want: tuple[int, ...]) -> Array:
        out = np.asarray(self.fn(phi, rows), dtype=float)
        if out.shape != want:
            what = "gradient" if self.kind == "grad" else "loss"
            tail = f", {want[-1]}" if self.kind == "grad" else ""
            raise ValueError(
                f"`per_example` ({what}) returned shape {out.shape} for parameters of shape "
                f"{phi.shape} and data rows with leading shape {want[:phi.ndim - 1] if phi.ndim > 1 else want[:-1]}; "
                f"it must broadcast parameters (..., d) against examples and return "
                f"(...{tail}), here {want}."
            )
        return out

    def grads(self, phi: Array, rows: Any, lead: tuple[int, ...]) -> Array:
        """Per-example gradients at ``phi`` (broadcast against ``rows``) -> ``(*lead, d)``."""
        d = phi.shape[-1]
        if self.kind == "grad":
            g = self._call(phi, rows, lead + (d,))
        else:
            h = self.fd_step
            g = np.zeros(lead + (d,))
            for j in range(d):
                for o, w in zip(FD_OFFSETS, FD_WEIGHTS):
                    if w == 0:
                        continue
                    shifted = phi.copy()
                    shifted[..., j] += o * h
                    g[..., j] += w * self._call(shifted, rows, lead)
            g /= h
        if not np.all(np.isfinite(g)):
            raise ValueError(
                "`per_example` returned a non-finite value (NaN or inf); check it at the "
                "parameters and examples used."
            )
        return g

    def mean_loss(self, x: Array, chunk_elements: int) -> Array:
        """Mean per-example loss over the data set at parameters ``x`` (..., d)."""
        x = np.asarray(x, dtype=float)
        lead = x.shape[:-1]
        xf = x.reshape(-1, x.shape[-1])
        total = np.zeros(xf.shape[0])
        step = max(1, chunk_elements // max(1, xf.shape[0]))
        for b in range(0, self.n, step):
            nb = min(self.n, b + step) - b
            total += self._call(xf[:, None, :], self.rows(slice(b, b + nb)), (xf.shape[0], nb)).sum(1)
        return (total / self.n).reshape(lead)


def data_gradient_stats(
    per_example: Callable,
    data: Data,
    phi: Array,
    *,
    kind: str = "loss",
    fd_step: float = 1e-3,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> tuple[Array, Array]:
    """Mean and population covariance of per-example gradients at parameters ``phi``.

    ``g(Phi) = mean_i grad l_i(Phi)`` and ``Sigma(Phi) = (1/N) sum_i (grad l_i - g)
    (grad l_i - g)^T``, chunked over points and examples and combined with Chan's
    pairwise update (no ``E[g g^T] - g g^T`` cancellation).

    Parameters
    ----------
    per_example, data, kind, fd_step
        As in :func:`sgd_from_data`.
    phi : array (..., d)
    chunk_elements : int
        Per-example gradient entries held at once.

    Returns
    -------
    mean : (..., d)
    cov : (..., d, d)

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck import data_gradient_stats
    >>> grad = lambda p, x: p - x                     # l_i = |p - x_i|^2 / 2
    >>> x = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> g, S = data_gradient_stats(grad, x, np.zeros(2), kind="grad")
    >>> g, S
    (array([-1.,  0.]), array([[1., 0.],
           [0., 0.]]))
    """
    arrays, is_tuple, _ = as_data(data)
    pe = PerExample(per_example, kind, arrays, is_tuple, fd_step)
    return gradient_stats(pe, np.asarray(phi, dtype=float), chunk_elements)


def gradient_stats(pe: PerExample, phi: Array, chunk_elements: int = CHUNK_ELEMENTS) -> tuple[Array, Array]:
    if phi.ndim == 0:
        raise ValueError("parameters must have shape (..., d).")
    lead, d = phi.shape[:-1], phi.shape[-1]
    x = phi.reshape(-1, d)
    m, N = x.shape[0], pe.n
    cost = d * (1 if pe.kind == "grad" else 2)
    n_chunk = int(min(N, max(16, chunk_elements // (cost * max(1, min(m, 4096))))))
    m_chunk = int(max(1, chunk_elements // (cost * n_chunk)))
    mean = np.empty((m, d))
    cov = np.empty((m, d, d))
    for a in range(0, m, m_chunk):
        xa = x[a:a + m_chunk]
        mc = xa.shape[0]
        count = 0
        mu = np.zeros((mc, d))
        m2 = np.zeros((mc, d, d))
        for b in range(0, N, n_chunk):
            nb = min(N, b + n_chunk) - b
            g = pe.grads(xa[:, None, :], pe.rows(slice(b, b + nb)), (mc, nb))
            mb = g.mean(axis=1)
            r = g - mb[:, None, :]
            m2b = np.matmul(np.swapaxes(r, 1, 2), r)
            tot = count + nb
            delta = mb - mu
            mu = mu + delta * (nb / tot)
            m2 = m2 + m2b + delta[:, :, None] * delta[:, None, :] * (count * nb / tot)
            count = tot
        mean[a:a + mc] = mu
        cov[a:a + mc] = m2 / N
    return mean.reshape(*lead, d), cov.reshape(*lead, d, d)


class StatsCache:
    """Remember the statistics at the last few point sets (drift and cov are asked for
    at the same points by the solvers)."""

    def __init__(self, fn: Callable[[Array], tuple[Array, Array]], size: int = 4) -> None:
        self.fn, self.size = fn, size
        self.items: list[tuple[tuple[tuple[int, ...], int], tuple[Array, Array], Array]] = []

    def __call__(self, x: Array) -> tuple[Array, Array]:
        x = np.ascontiguousarray(x, dtype=float)
        key = (x.shape, hash(x.tobytes()))
        for k, v, xs in self.items:
            if k == key and np.array_equal(xs, x):
                return v
        v = self.fn(x)
        self.items.append((key, v, x.copy()))
        if len(self.items) > self.size:
            self.items.pop(0)
        return v


def sgd_from_data(
    per_example: Callable,
    data: Data,
    lr: float,
    batch_size: int = 1,
    *,
    kind: str = "loss",
    replace: bool = True,
    lr_per_param: Any = None,
    ndim: int | None = None,
    fd_step: float = 1e-3,
    chunk_elements: int = CHUNK_ELEMENTS,
    momentum: float = 0.0,
) -> SDE:
    r"""The SGD SDE of a model and a data set, with state-dependent noise ``Sigma(Phi)``.

    ``dPhi = -g(Phi) dt + sqrt(eta Sigma_B(Phi)) dB`` (Ito), with ``g`` the mean of the
    per-example gradients ``grad l_i(Phi)`` over the ``N`` examples and ``Sigma_B`` the
    covariance of a minibatch-mean gradient, ``Cov_i[grad l_i] / B`` for ``B`` examples
    drawn independently (``replace=True``), times the finite-population correction
    ``(N - B) / (N - 1)`` for ``B`` *distinct* examples, a fresh random subset every
    step (``replace=False``).

    ``Cov_i`` is the population covariance over the data set (divided by ``N``). These
    match :func:`run_sgd` with the same ``replace``; epoch-wise reshuffling correlates
    successive steps and is *not* this SDE.

    Parameters
    ----------
    per_example : callable
        ``f(Phi, example)``: a per-example loss ``l_i(Phi)`` (``kind="loss"``) or its
        gradient (``kind="grad"``). It must broadcast like a ufunc: ``Phi`` has shape
        ``(..., d)`` and the example rows (``data[i]``, or a tuple of rows) carry
        leading axes that broadcast against ``Phi``'s leading axes; it returns
        ``(...)`` (loss) or ``(..., d)`` (gradient). For instance, with ``data`` of
        shape ``(N, 3)`` holding ``(x1, x2, y)``::

            def per_example(p, row):   # squared error of y ~ p . x
                return 0.5 * ((p * row[..., :2]).sum(-1) - row[..., 2]) ** 2

    data : array (N, ...) or tuple of arrays with N rows
        The training set. NaN or inf is refused.
    lr : float
        Learning rate ``eta > 0`` (the reference rate with ``lr_per_param``).
    batch_size : int
        ``1 <= B <= N``.
    kind : {"loss", "grad"}
        What ``per_example`` returns (losses: fourth-order differences of step ``fd_step``).
    fd_step : float
        Finite-difference step for ``kind="loss"``.
    replace : bool
        Minibatches drawn with replacement (default) or without; see above.
    lr_per_param : float, (d,) or (d, d) array, optional
        Per-parameter rates or a preconditioner ``P``, as in :func:`sgd`.
    ndim : int, optional
        Number of parameters ``d`` (else the grid's; the callable is checked when ``d``
        is known).
    chunk_elements : int
        Per-example gradient entries held in memory at once (``2**21``: 16 MB).
    momentum : float
        Heavy-ball momentum ``0 <= beta < 1``: the phase-space SDE on ``(Phi, p)``
        (``ndim`` needed), as in :func:`sgd`.

    Returns
    -------
    SDE
        State-dependent noise, Ito convention; with ``kind="loss"`` and no
        per-parameter rates also the mean loss (``sde.loss``). Drift and covariance at
        the same points cost one pass over the data (the statistics are cached).

    Raises
    ------
    ValueError
        ``lr <= 0``; ``batch_size`` outside ``[1, N]``; NaN/inf in ``data``; one example;
        ``per_example`` of the wrong shape; ``lr_per_param`` of the wrong length.

    Examples
    --------
    >>> import numpy as np, fokkerplanck as fp
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200); y = 2 * x + rng.normal(size=200)
    >>> data = np.column_stack([x, np.ones(200), y])
    >>> grad = lambda p, r: ((p * r[..., :2]).sum(-1) - r[..., 2])[..., None] * r[..., :2]
    >>> sde = fp.sgd_from_data(grad, data, lr=0.05, batch_size=4, kind="grad", ndim=2)
    >>> sde.cov(np.array([2.0, 0.0])).shape
    (2, 2)
    """
    eta = check_lr(lr)
    arrays, is_tuple, N = as_data(data)
    B = check_batch(batch_size, N)
    _check_sampling(N, replace)
    fd_step = positive("fd_step", fd_step)
    pe = PerExample(per_example, kind, arrays, is_tuple, fd_step)
    P, d = preconditioner(lr_per_param, ndim)
    if ndim is not None and d != ndim:
        raise ValueError(f"`ndim={ndim}` but `lr_per_param` implies d = {d}.")
    fpc = _finite_population(N, B, replace)
    beta = check_momentum(momentum, P)
    M, scale = mobility_and_noise(eta, P, B)
    stats = StatsCache(lambda x: gradient_stats(pe, x, chunk_elements), size=12)

    def mean_grad(x: Array) -> Array:
        return stats(np.asarray(x, dtype=float))[0]

    def noise(x: Array) -> Array:
        x = np.asarray(x, dtype=float)
        sigma = stats(x)[1]
        check_psd_field(sigma, x, "cov")
        return scale(sigma * fpc)

    if beta:
        return heavy_ball(mean_grad, noise, d, eta, beta)
    if np.ndim(M) == 0 and kind == "loss":
        m = float(M)
        return SDE(loss=lambda x: m * pe.mean_loss(x, chunk_elements), grad=lambda x: m * mean_grad(x),
                   cov=noise, ndim=d)
    Mm = np.asarray(M)
    if Mm.ndim == 0:
        return SDE(drift=lambda x: -float(Mm) * mean_grad(x), cov=noise, ndim=d)
    return SDE(drift=lambda x: -(mean_grad(x) @ Mm.T), cov=noise, ndim=d)


def _check_sampling(N: int, replace: Any) -> None:
    if N < 2:
        raise ValueError("`data` has one example: its gradient has no noise; give at least two.")
    if not isinstance(replace, (bool, np.bool_)):
        raise TypeError(f"`replace` must be True or False, got {replace!r}.")


def _finite_population(N: int, B: int, replace: bool) -> float:
    """``(N - B) / (N - 1)`` for minibatches of distinct examples, 1 with replacement."""
    fpc = 1.0 if replace else (N - B) / (N - 1)
    if fpc == 0.0:
        raise ValueError(
            f"`batch_size={B}` equals the data set size with `replace=False`: every "
            "minibatch is the full data set and SGD has no noise; use a smaller batch."
        )
    return fpc
