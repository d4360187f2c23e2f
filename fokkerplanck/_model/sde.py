"""The stochastic differential equation ``dx = mu(x, t) dt + sigma(x, t) dB``.

One :class:`SDE` object feeds the grid solver and the particle simulation. It
knows the drift (optionally ``-grad L`` of a loss plus a user drift), the noise
(``sigma`` or its covariance ``C = sigma sigma^T``) and the stochastic-calculus
convention, and it converts between them:

* :meth:`SDE.ito_drift` — the drift of the equivalent Ito SDE (what Euler–Maruyama
  steps with);
* :meth:`SDE.flux_drift` — ``b`` in the flux form of the Fokker–Planck equation
  ``dp/dt = -div J``, ``J = b p - 1/2 C grad p``, i.e. ``b = mu_ito - 1/2 div C``.

Derivatives the user does not supply (``grad L``, ``div C``, ``d sigma``) are
taken with fourth-order central finite-difference weights (``FD_WEIGHTS``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._util.linalg import psd_factor
from .._util.validate import covariance, real_array, show

__all__ = ["CONVENTIONS", "SDE", "Structure"]


class Structure(NamedTuple):
    """Drift ``-(mobility + antisymmetric) grad H`` with noise ``cov = 2 T mobility``.

    Then ``exp(-H / T)`` is stationary and the generator keeps it so exactly
    (see :attr:`SDE.structure`).
    """

    mobility: np.ndarray
    antisymmetric: np.ndarray
    temperature: float


#: Stochastic-calculus conventions understood by :class:`SDE`.
CONVENTIONS = ("ito", "stratonovich", "isothermal")

Array = np.ndarray


#: Fourth-order central first-derivative stencil, ``f'(x) ~ sum_m w_m f(x + o_m h) / h``
#: (the classical ``(1, -8, 0, 8, -1) / 12``; the centre has weight 0 and is never
#: evaluated). Written out rather than computed so that importing the package does not
#: import findiff and sympy; ``tests/test_sde.py`` checks it against findiff.
FD_OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0])
FD_WEIGHTS = np.array([1.0, -8.0, 8.0, -1.0]) / 12.0


def _rel(shape: tuple[int, ...], x: Array) -> str:
    """``shape`` written relative to the points' leading axes, ``(..., 2)``; the leading
    axes are the solver's own (cells, stencil offsets), not the user's."""
    lead = x.shape[:-1]
    if len(shape) >= len(lead) and tuple(shape[: len(lead)]) == lead:
        rest = shape[len(lead):]
        return "(...)" if not rest else "(..., " + ", ".join(map(str, rest)) + ")"
    return str(tuple(shape))


def _finite(name: str, value: Array, x: Array) -> Array:
    """Raise naming the first point where ``value`` is not finite."""
    if not np.all(np.isfinite(value)):
        lead = value.shape[: x.ndim - 1]
        bad = ~np.isfinite(value.reshape(*lead, -1)).all(axis=-1) if lead else None
        where = ""
        if bad is not None and bad.any():
            where = f" at x = {x[np.unravel_index(np.argmax(bad), lead)].tolist()}"
        raise ValueError(
            f"`{name}` returned a non-finite value (NaN or inf){where}; check the "
            "callable there, or shrink the grid to where it is defined."
        )
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_arity(name: str, fn: Callable, time_dependent: bool) -> None:
    """Refuse a callable whose positional arguments do not match how the SDE calls it."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins, ufuncs: nothing to read
        return
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    pos = [p for p in sig.parameters.values() if p.kind in kinds]
    required = [p.name for p in pos if p.default is inspect.Parameter.empty]
    star = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values())
    if not time_dependent and len(required) >= 2:
        raise TypeError(
            f"`{name}` takes {len(required)} arguments ({', '.join(required)}) but the SDE calls it "
            f"as {name}(x). For a time-dependent {name}(x, t) pass `time_dependent=True`."
        )
    if time_dependent and len(pos) < 2 and not star:
        raise TypeError(
            f"`{name}` takes one argument but `time_dependent=True` calls it as {name}(x, t); "
            "give it a time argument (lambda x, t: ...) or drop time_dependent."
        )


def _constant_matrix(value: Any, name: str, ndim: int | None) -> tuple[Array, int | None]:
    """Scalar, per-axis vector or matrix -> (matrix or scalar array, ndim)."""
    raw = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if raw is None or raw.dtype.kind in "USOc":
        try:
            if raw is None or raw.dtype.kind in "USc":
                raise TypeError
            a = real_array(name, raw)  # an object array of numbers is fine
        except (TypeError, ValueError):
            what = "a string" if raw is None or raw.dtype.kind in "US" else (
                "complex" if raw.dtype.kind == "c" else show(value))
            fix = f"; write {name}={float(value)}" if isinstance(value, str) and _is_number(value) else ""
            raise TypeError(
                f"`{name}` must be a real number, an array of real numbers or a callable, got "
                f"{what} {value!r}{fix}."
            ) from None
    else:
        a = np.asarray(raw, dtype=float)
    if a.ndim == 0:
        return a, ndim
    if a.ndim == 1:
        return np.diag(a), a.shape[0]
    if a.ndim == 2:
        return a, a.shape[0]
    raise ValueError(
        f"`{name}` must be a scalar, a per-axis vector (d,), a matrix or a callable; "
        f"got an array of shape {a.shape}."
    )


class SDE:
    """An SDE ``dx = mu(x, t) dt + sigma(x, t) dB`` in ``d`` dimensions.

    Parameters
    ----------
    drift : callable, optional
        ``f(x) -> (..., d)`` for points ``x`` of shape ``(..., d)`` (``f(x, t)`` when
        ``time_dependent``). Added to ``-grad L`` when a ``loss`` is given.
    loss : callable, optional
        ``L(x) -> (...)``. The total drift is ``-grad L + drift``. With constant
        diagonal noise the grid solver uses exact loss differences, so the Gibbs
        density ``exp(-2 L / sigma^2)`` is stationary to round-off.
    grad : callable, optional
        ``grad L`` (``(..., d) -> (..., d)``). Without it the gradient is taken with
        fourth-order finite-difference weights of step ``fd_step``.
    sigma : float, array or callable, optional
        Noise matrix: a scalar (``sigma I``), a per-axis vector (``diag``), a
        ``(d, m)`` matrix, or a callable returning ``(..., d, m)``.
    cov : float, array or callable, optional
        ``C = sigma sigma^T`` instead of ``sigma``: scalar, ``(d,)``, ``(d, d)``
        matrix, or a callable returning ``(..., d, d)``. Give ``sigma`` or ``cov``.
        The noise may be degenerate (``cov`` positive semi-definite, ``sigma`` of
        any rank, e.g. noise on velocities only); only non-symmetric covariances,
        negative eigenvalues (beyond round-off relative to the largest) and no noise
        at all are refused.
    convention : {"ito", "stratonovich", "isothermal"}
        How ``sigma(x)`` multiplies ``dB``. ``"stratonovich"`` needs ``sigma``.
        ``"isothermal"`` (Hänggi–Klimontovich) makes the diffusive flux
        ``-1/2 C grad p`` (Hänggi–Klimontovich; the diffusion flow ``-1/2 Sigma grad p`` taken literally). All three
        agree when the noise is constant.
    time_dependent : bool
        If True, ``drift``, ``sigma``/``cov`` callables take ``(x, t)``.
    ndim : int, optional
        Dimension, when it cannot be read off the noise. ``None`` leaves the SDE
        dimension-agnostic (e.g. ``drift=lambda x: -x``, ``sigma=1``): it then takes
        the dimension of the grid it is used with.
    fd_step : float
        Step of the finite-difference derivatives (default ``1e-3``).
    mobility, antisymmetric : array (d, d), optional
        With a ``loss`` ``H``: the drift becomes ``-(mobility + antisymmetric) grad H``
        (plus ``drift``), with ``mobility`` symmetric positive semi-definite (default
        the identity, i.e. the plain ``-grad H``) and ``antisymmetric`` antisymmetric
        (default 0). When moreover ``cov = 2 T mobility`` for a scalar ``T`` and there
        is no ``drift``, ``exp(-H / T)`` is stationary (for every antisymmetric part)
        and the grid solver keeps it so to round-off, also where ``mobility`` (and the
        noise) is singular, e.g. kinetic Langevin (:attr:`structure`).

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> sde = fp.SDE(loss=lambda x: 0.5 * (x**2).sum(-1), sigma=1.0)
    >>> sde.drift(np.array([[2.0]]))
    array([[-2.]])
    """

    def __init__(
        self,
        drift: Callable | None = None,
        *,
        loss: Callable | None = None,
        grad: Callable | None = None,
        sigma: Any = None,
        cov: Any = None,
        convention: str = "ito",
        time_dependent: bool = False,
        ndim: int | None = None,
        fd_step: float = 1e-3,
        mobility: Any = None,
        antisymmetric: Any = None,
    ) -> None:
        if convention not in CONVENTIONS:
            raise ValueError(f"`convention` must be one of {CONVENTIONS}, got {convention!r}.")
        if (sigma is None) == (cov is None):
            raise ValueError(
                "Give exactly one of `sigma` (the noise matrix) or `cov` "
                "(its covariance sigma sigma^T)"
                + (", not both." if sigma is not None else "; the SDE has no noise.")
            )
        if convention == "stratonovich" and sigma is None:
            raise ValueError(
                "`convention='stratonovich'` needs `sigma` (the noise-induced drift "
                "depends on sigma, not only on cov = sigma sigma^T); pass sigma=..."
            )
        for name, fn in (("drift", drift), ("loss", loss), ("grad", grad)):
            if fn is not None and not callable(fn):
                raise TypeError(f"`{name}` must be callable, got {type(fn).__name__}.")
        if grad is not None and loss is None:
            raise ValueError("`grad` was given without `loss`; pass the loss too, or pass the gradient as `drift` (negated).")
        if drift is None and loss is None:
            drift = None  # pure diffusion
        if ndim is not None and (int(ndim) != ndim or not 1 <= ndim <= 4):
            raise ValueError(f"`ndim` must be 1, 2, 3 or 4, got {show(ndim)}.")
        if not isinstance(fd_step, (int, float, np.number)) or not (np.isfinite(fd_step) and fd_step > 0):
            raise ValueError(f"`fd_step` must be positive and finite, got {show(fd_step)}.")

        for name, fn in (("drift", drift), ("sigma" if sigma is not None else "cov", sigma if sigma is not None else cov)):
            if callable(fn):
                _check_arity(name, fn, bool(time_dependent))
        self.convention = convention
        self.time_dependent = bool(time_dependent)
        self.fd_step = float(fd_step)
        self._user_drift = drift
        self._loss = loss
        self._grad = grad
        self._mobility, self._antisym, ndim = _structure_matrices(mobility, antisymmetric, loss, ndim)
        self._noise_name = "sigma" if sigma is not None else "cov"
        noise = sigma if sigma is not None else cov
        self._noise_fn: Callable | None = None
        self._noise_const: Array | None = None
        if callable(noise):
            self._noise_fn = noise
        else:
            self._noise_const, nd = _constant_matrix(noise, self._noise_name, ndim)
            if ndim is not None and nd is not None and nd != ndim:
                raise ValueError(f"`{self._noise_name}` is {nd}-dimensional but `ndim={ndim}`.")
            ndim = nd if nd is not None else ndim
            self._check_constant_noise()
        # Callables are checked where they are evaluated (the grid's centres in
        # fp.generator, the particles' starting points in fp.simulate), never at made-up
        # points, which may lie outside the user's domain (sqrt(x) noise on x >= 0).
        self._ndim = None if ndim is None else int(ndim)

    # ----------------------------------------------------------- construction
    def _const_noise(self) -> Array:
        """The constant ``sigma`` or ``cov`` (only called when the noise is constant)."""
        assert self._noise_const is not None, "the noise is state-dependent"
        return self._noise_const

    def _check_constant_noise(self) -> None:
        a, name = self._const_noise(), self._noise_name
        if not np.all(np.isfinite(a)):
            raise ValueError(f"`{name}` must be finite, got {a.tolist()}.")
        if a.ndim == 0:
            if a <= 0:
                raise ValueError(f"`{name}` must be positive, got {float(a)}.")
            return
        c = covariance(name, a if name == "cov" else a @ a.T)
        if not np.any(c):
            raise ValueError(f"`{name}` is zero: the SDE has no noise. Give some noise.")

    @property
    def ndim(self) -> int | None:
        """Dimension, or ``None`` for a dimension-agnostic SDE."""
        return self._ndim

    @property
    def structure(self) -> Structure | None:
        """``Structure(mobility, antisymmetric, temperature)`` when the drift is
        ``-(M + Q) grad H`` (``loss`` with ``mobility`` and/or ``antisymmetric``, no
        other ``drift``) and the noise is constant with ``cov = 2 T M``; else ``None``.

        Then ``exp(-H / T)`` is the stationary density whatever ``Q`` is, and
        :func:`fokkerplanck.generator` uses fluxes that keep it stationary to
        round-off (with diffusion only along the directions where ``M`` has it).

        Examples
        --------
        Kinetic Langevin ``dx = v dt``, ``dv = (-L'(x) - gamma v) dt + sigma dB`` is
        ``H = L(x) + v^2 / 2``, ``M = diag(0, gamma)``, ``Q = [[0, -1], [1, 0]]``:

        >>> import numpy as np
        >>> import fokkerplanck as fp
        >>> gamma, sigma = 2.0, 1.0
        >>> sde = fp.SDE(loss=lambda z: z[..., 0]**2 / 2 + z[..., 1]**2 / 2,
        ...              cov=[[0, 0], [0, sigma**2]], mobility=[[0, 0], [0, gamma]],
        ...              antisymmetric=[[0, -1], [1, 0]])
        >>> sde.structure.temperature          # sigma^2 / (2 gamma)
        0.25
        >>> sde.drift(np.array([[1.0, 3.0]]))  # (v, -x - gamma v)
        array([[ 3., -7.]])
        """
        if (self._loss is None or (self._mobility is None and self._antisym is None)
                or self._user_drift is not None or self._noise_fn is not None or self._ndim is None
                or self.time_dependent):
            return None
        d = self._ndim
        M = np.eye(d) if self._mobility is None else self._mobility
        Q = np.zeros((d, d)) if self._antisym is None else self._antisym
        C = self._constant_cov(d)
        T = 0.5 * float(np.sum(C * M)) / float(np.sum(M * M))
        if not (T > 0 and np.allclose(C, 2 * T * M, rtol=0, atol=1e-10 * np.abs(C).max())):
            return None
        return Structure(M.copy(), Q.copy(), T)

    @property
    def has_loss(self) -> bool:
        return self._loss is not None

    @property
    def has_drift(self) -> bool:
        """Whether there is any drift (loss or user drift)."""
        return self._loss is not None or self._user_drift is not None

    @property
    def noise_is_constant(self) -> bool:
        return self._noise_fn is None

    @property
    def noise_is_diagonal(self) -> bool:
        """Constant noise whose covariance is diagonal."""
        if self._noise_fn is not None:
            return False
        c = self._constant_cov(self._ndim or 1)
        return bool(np.all(c == np.diag(np.diag(c))))

    def __repr__(self) -> str:
        parts = []
        if self._loss is not None:
            parts.append("loss")
        if self._user_drift is not None:
            parts.append("drift")
        noise = "callable" if self._noise_fn else np.array2string(np.asarray(self._noise_const), precision=4)
        return (
            f"SDE({', '.join(parts) or 'no drift'}, {self._noise_name}={noise}, "
            f"convention={self.convention!r}, ndim={self._ndim})"
        )

    # ----------------------------------------------------------- evaluation
    def _call(self, fn: Callable, x: Array, t: float | None, name: str = "drift") -> Array:
        if self.time_dependent:
            if t is None:
                raise ValueError(
                    "This SDE is time-dependent (`time_dependent=True`): pass a time `t`. "
                    "`stationary` and other time-independent solvers refuse it."
                )
            return real_array(name, fn(x, t), " (the value it returned)")
        return real_array(name, fn(x), " (the value it returned)")

    def _dim(self, x: Array) -> int:
        d = x.shape[-1]
        if self._ndim is not None and d != self._ndim:
            raise ValueError(f"points have {d} coordinates but the SDE is {self._ndim}-dimensional.")
        return d

    def _checked(self, name: str, value: Array, x: Array, tail: tuple[int, ...]) -> Array:
        want = x.shape[:-1] + tail
        if value.shape != want:
            try:
                if value.shape[value.ndim - len(tail):] != tail or value.ndim < len(tail):
                    raise ValueError  # only leading (point) axes may broadcast
                value = np.broadcast_to(value, want)
            except ValueError:
                d = x.shape[-1]
                hint = "vectorize it over the leading axes"
                if not tail and value.shape == x.shape:
                    hint = ("it returns one value per coordinate, but a loss is one number per "
                            "point: reduce over the last axis, e.g. (x**2).sum(-1) or x[..., 0]**2")
                elif len(tail) == 2 and d > 1 and value.shape == x.shape:
                    hint = (f"for a diagonal matrix s of shape (..., {d}) return "
                            f"s[..., None] * np.eye({d})")
                raise ValueError(
                    f"`{name}` returned shape {_rel(value.shape, x)} for points of shape (..., {d}); "
                    f"it must return {('(..., ' + ', '.join(map(str, tail)) + ')') if tail else '(...)'}"
                    f" ({hint})."
                ) from None
        return _finite(name, value, x)

    def loss(self, x: Array) -> Array:
        """The loss ``L(x)``, shape ``(...)``."""
        if self._loss is None:
            raise ValueError("This SDE has no `loss`.")
        x = np.asarray(x, dtype=float)
        return self._checked("loss", real_array("loss", self._loss(x), " (the value it returned)"), x, ())

    def grad_loss(self, x: Array) -> Array:
        """``grad L(x)``, shape ``(..., d)``: the user's ``grad`` or 4th-order differences."""
        x = np.asarray(x, dtype=float)
        d = self._dim(x)
        if self._grad is not None:
            return self._checked("grad", real_array("grad", self._grad(x), " (the value it returned)"), x, (d,))
        h = self.fd_step
        shifts = FD_OFFSETS[:, None, None] * h * np.eye(d)[None]  # (m, d, d)
        xs = x[..., None, None, :] + shifts  # (..., m, d, d)
        values = self.loss(xs)  # (..., m, d)
        return np.einsum("...md,m->...d", values, FD_WEIGHTS) / h

    @property
    def has_extra_drift(self) -> bool:
        """Whether a drift is given besides ``-grad L`` (a ``drift``, or ``mobility`` /
        ``antisymmetric`` that make the loss drift ``-(M + Q) grad L``)."""
        return self._user_drift is not None or self._mobility is not None or self._antisym is not None

    def extra_drift(self, x: Array, t: float | None = None) -> Array:
        """The drift besides ``-grad L`` (the ``drift`` argument), zeros if none."""
        x = np.asarray(x, dtype=float)
        d = self._dim(x)
        out = np.zeros(x.shape)
        if self._user_drift is not None:
            out = self._checked("drift", self._call(self._user_drift, x, t), x, (d,))
        if self._mobility is not None or self._antisym is not None:
            K = (np.zeros((d, d)) if self._mobility is None else self._mobility - np.eye(d))
            if self._antisym is not None:
                K = K + self._antisym
            out = out - self.grad_loss(x) @ K.T  # -(M + Q - I) grad L
        return out

    def drift(self, x: Array, t: float | None = None) -> Array:
        """The drift ``mu(x, t) = -grad L + f`` as given (in the SDE's convention)."""
        out = self.extra_drift(x, t)
        if self._loss is not None:
            out = out - self.grad_loss(x)
        return out

    def _constant_cov(self, d: int) -> Array:
        a = self._const_noise()
        if a.ndim == 0:
            c = float(a) * np.eye(d) if self._noise_name == "cov" else float(a) ** 2 * np.eye(d)
        else:
            c = a if self._noise_name == "cov" else a @ a.T
        return c

    def sigma(self, x: Array, t: float | None = None) -> Array:
        """Noise matrix ``sigma(x, t)``, shape ``(..., d, m)``.

        When the SDE was given ``cov``, this is its Cholesky factor (a symmetric
        square root where ``cov`` is singular).
        """
        x = np.asarray(x, dtype=float)
        d = self._dim(x)
        if self._noise_name == "sigma":
            if self._noise_fn is not None:
                s = self._call(self._noise_fn, x, t, "sigma")
                if d == 1 and s.shape in (x.shape[:-1], x.shape):
                    s = s.reshape(x.shape[:-1] + (1, 1))  # 1-D: sigma(x) as (...,) or (..., 1)
                if s.ndim < 2 or s.shape[-2] != d:
                    raise ValueError(
                        f"`sigma` returned shape {_rel(s.shape, x)} for points of shape (..., {d}); "
                        f"it must return a matrix per point, (..., {d}, m). For a diagonal noise "
                        f"s of shape (..., {d}) return s[..., None] * np.eye({d})."
                    )
                return self._checked("sigma", s, x, s.shape[-2:])
            a = self._const_noise()
            s = float(a) * np.eye(d) if a.ndim == 0 else a
            return np.broadcast_to(s, x.shape[:-1] + s.shape)
        return psd_factor(self.cov(x, t))

    def cov(self, x: Array, t: float | None = None) -> Array:
        """Noise covariance ``C = sigma sigma^T``, shape ``(..., d, d)``."""
        x = np.asarray(x, dtype=float)
        d = self._dim(x)
        if self._noise_fn is None:
            return np.broadcast_to(self._constant_cov(d), x.shape[:-1] + (d, d))
        if self._noise_name == "sigma":
            s = self.sigma(x, t)
            return s @ np.swapaxes(s, -1, -2)
        c = self._call(self._noise_fn, x, t, "cov")
        if d == 1 and c.shape in (x.shape[:-1], x.shape):
            c = c.reshape(x.shape[:-1] + (1, 1))  # 1-D: cov(x) as (...,) or (..., 1)
        c = self._checked("cov", c, x, (d, d))
        if not np.allclose(c, np.swapaxes(c, -1, -2), rtol=1e-10, atol=1e-14):
            raise ValueError("`cov` returned a non-symmetric matrix; it must be symmetric (..., d, d).")
        return c

    def _partial(self, fn: Callable[[Array], Array], x: Array, k: int) -> Array:
        """4th-order central difference of ``fn`` along axis ``k`` at ``x``."""
        h = self.fd_step
        step = np.zeros(x.shape[-1])
        step[k] = h
        return sum(w * fn(x + o * step) for o, w in zip(FD_OFFSETS, FD_WEIGHTS)) / h

    def div_cov(self, x: Array, t: float | None = None) -> Array:
        """``(div C)_i = sum_j d_j C_ij``, shape ``(..., d)``; zero for constant noise."""
        x = np.asarray(x, dtype=float)
        d = self._dim(x)
        if self._noise_fn is None:
            return np.zeros(x.shape)

        def column(j: int) -> Callable[[Array], Array]:
            return lambda y: self.cov(y, t)[..., :, j]

        total = self._partial(column(0), x, 0)
        for j in range(1, d):
            total = total + self._partial(column(j), x, j)
        return total

    def ito_drift(self, x: Array, t: float | None = None) -> Array:
        """Drift of the equivalent Ito SDE (what Euler–Maruyama uses).

        Stratonovich: ``mu_i + 1/2 sum_jk sigma_kj d_k sigma_ij``. Isothermal:
        ``mu + 1/2 div C``. Ito: ``mu``.
        """
        x = np.asarray(x, dtype=float)
        mu = self.drift(x, t)
        if self._noise_fn is None or self.convention == "ito":
            return mu
        if self.convention == "isothermal":
            return mu + 0.5 * self.div_cov(x, t)
        s = self.sigma(x, t)
        corr = sum(
            np.einsum("...j,...ij->...i", s[..., k, :], self._partial(lambda y: self.sigma(y, t), x, k))
            for k in range(x.shape[-1])
        )
        return mu + 0.5 * corr

    def flux_drift(self, x: Array, t: float | None = None) -> Array:
        """``b`` in the flux ``J = b p - 1/2 C grad p``: ``ito_drift - 1/2 div C``."""
        x = np.asarray(x, dtype=float)
        if self._noise_fn is None:
            return self.drift(x, t)
        if self.convention == "isothermal":
            return self.drift(x, t)
        return self.ito_drift(x, t) - 0.5 * self.div_cov(x, t)

    def check(self, x: Array, t: float | None = 0.0) -> None:
        """Evaluate every callable at points ``x`` ``(..., d)`` and check shapes, finiteness
        and positive semi-definite noise; raise naming the callable and the point."""
        x = np.asarray(x, dtype=float)
        tt = t if self.time_dependent else None
        self.drift(x, tt)
        c = self.cov(x, tt)
        if self._noise_fn is not None:
            covariance(self._noise_name if self._noise_name == "cov" else "sigma sigma^T", c, x)


def _structure_matrices(mobility: Any, antisymmetric: Any, loss: Any, ndim: int | None
                        ) -> tuple[Array | None, Array | None, int | None]:
    """Validate ``mobility`` (symmetric PSD) and ``antisymmetric`` (``Q^T = -Q``)."""
    out: list[Array | None] = []
    for name, value in (("mobility", mobility), ("antisymmetric", antisymmetric)):
        if value is None:
            out.append(None)
            continue
        if loss is None:
            raise ValueError(f"`{name}` multiplies grad loss: give `loss` too.")
        if callable(value):
            raise TypeError(f"`{name}` must be a constant (d, d) matrix, got a callable.")
        a = np.asarray(value, dtype=float)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.all(np.isfinite(a)):
            raise ValueError(f"`{name}` must be a finite square (d, d) matrix, got {a.tolist()}.")
        if ndim is not None and a.shape[0] != ndim:
            raise ValueError(f"`{name}` is {a.shape[0]}-dimensional but the SDE is {ndim}-dimensional.")
        ndim = a.shape[0]
        scale = max(np.abs(a).max(), 1e-300)
        if name == "mobility":
            a = covariance("mobility", a)
        elif not np.allclose(a, -a.T, rtol=0, atol=1e-12 * scale):
            raise ValueError(f"`antisymmetric` must satisfy Q^T = -Q, got {a.tolist()}.")
        out.append(a)
    return out[0], out[1], ndim
