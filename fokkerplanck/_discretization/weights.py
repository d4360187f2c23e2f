r"""Two-point edge weights: the Bernoulli pair and the fitted pair with flattened conductance.

A monotone two-point flux along an edge with potential drop ``z`` is
``F = w [f(z) p_i - f(-z) p_j]``; it vanishes on the local equilibrium
``p_j / p_i = e^{-z}`` when ``f(z) / f(-z) = e^{-z}``. :func:`bernoulli_pair` gives
Scharfetter–Gummel's ``f = B``; :func:`fitted_pair` (the default of the package) the
same ratio with a conductance that is flat for small ``|z|`` (see its docstring and
docs/numerics.md).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bernoulli_pair", "bernoulli", "fitted_pair", "FLATNESS"]

#: ``K`` of the flattened conductance ``g = 1 - (1 - s)^K (1 + (K - 1) s)`` of :func:`fitted_pair`.
FLATNESS = 6


def bernoulli_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B(z), B(-z))`` with ``B(z) = z / (e^z - 1)``, accurate for all real ``z``.

    With ``a = |z|``: ``B(-a) = a / (1 - e^{-a})`` and ``B(a) = B(-a) e^{-a}``, from
    one ``exp`` and one ``expm1`` and no subtraction, so neither overflows nor
    cancels (``B(a)`` underflows gracefully to zero for huge ``a``). ``B(0) = 1``.
    """
    z = np.asarray(z, dtype=float)
    a = np.abs(z)
    small = a < 1e-300
    den = -np.expm1(-np.where(small, 1.0, a))
    big = np.where(small, 1.0, a / den)  # B(-a)
    little = big * np.exp(-a)  # B(a)
    pos = z > 0
    return np.where(pos, little, big), np.where(pos, big, little)


def bernoulli(z: np.ndarray) -> np.ndarray:
    """``B(z) = z / (e^z - 1)``, stable for all real ``z`` (``B(0) = 1``)."""
    return bernoulli_pair(z)[0]


def fitted_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``(f(z), f(-z))``: the exponentially fitted weights with flattened conductance.

    Every monotone two-point flux ``F = w [f(z) p_i - f(-z) p_j]`` that vanishes on
    the local equilibrium ``p_j / p_i = e^{-z}`` has ``f(z) = e^{-z/2} g(z)`` with an
    even *conductance* ``g``. Scharfetter–Gummel (:func:`bernoulli_pair`) has
    ``g = s(z) = (z/2) / sinh(z/2)``, the square-root approximation ``g = 1``.

    For gradient drifts ``g`` does not change the stationary density. For
    non-gradient ones it does: the stationary current is rescaled edge by edge by
    ``g(z_e)``, differently along different axes. For a density ``e^{-U/T}`` carried
    by a rotational drift ``v`` (``v . grad U = 0``), a conductance
    ``g = 1 + kappa z^2 + ...`` leaves a residual containing
    ``4 kappa (h^2 / T^3) (v_x d_x U)^2 p``, of one sign along the whole orbit, which
    vanishes only for ``kappa = 0``; Scharfetter–Gummel has ``kappa = -1/24`` (14x
    less accurate shallow-well mass on the metastable torus of the tests). ``g = 1``
    instead lets the downhill rate grow like ``e^{|z|/2}`` rather than ``|z|``
    (inconsistent advection at high cell Péclet numbers). The package therefore uses

    .. math::  g(z) = 1 - (1 - s)^K\,(1 + (K - 1)s), \qquad K = 6,

    equal to ``1 - O(z^{2K})`` for small ``|z|`` (``g > 0.999`` for ``|z| < 2.6``)
    and to ``s (1 + O(s))`` for large ``|z|``: upwinding, as Scharfetter–Gummel,
    once the cell Péclet number is large. ``f(z) / f(-z) = e^{-z}`` exactly (the
    factor ``g / s``, between 1 and 2.4, is even); ``1 - g`` is evaluated as
    ``exp(K log1p(-s) + log1p((K - 1) s))`` without cancellation.

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck._discretization.weights import fitted_pair
    >>> f, fm = fitted_pair(np.array([-50.0, 0.0, 1.0]))
    >>> np.round(f, 4)                       # ~ |z| downhill (upwind), 1 at z = 0
    array([50.    ,  1.    ,  0.6065])
    >>> bool(np.allclose(f / fm, np.exp(-np.array([-50.0, 0.0, 1.0]))))
    True
    """
    b, bm = bernoulli_pair(z)
    half = 0.5 * np.abs(np.asarray(z, dtype=float))
    tiny, huge = half < 1e-8, half >= 700.0
    with np.errstate(over="ignore", divide="ignore"):
        s = np.where(tiny, 1.0, half / np.sinh(np.where(tiny | huge, 1.0, half)))
        s = np.where(huge, 0.0, s)  # s = (|z|/2) / sinh(|z|/2) = sqrt(B(z) B(-z))
        K = FLATNESS
        g = -np.expm1(K * np.log1p(-s) + np.log1p((K - 1) * s))
        # g / s -> 1 as s -> 0 (g = s + K (K - 1) s^2 / 2 + ...)
        ratio = np.where(s > 1e-12, g / np.where(s > 1e-12, s, 1.0), 1.0 + 0.5 * K * (K - 1) * s)
    return b * ratio, bm * ratio
