r"""Two-point edge weights: the Bernoulli pair, the flattened conductance and a per-edge split.

A monotone two-point flux along an edge with potential drop ``z`` is
``F = w [f(z) p_i - f(-z) p_j]``; it vanishes on the local equilibrium
``p_j / p_i = e^{-z}`` when ``f(z) / f(-z) = e^{-z}``, i.e. ``f(z) = e^{-z/2} g(z)`` with
an even conductance ``g``. :func:`bernoulli_pair` gives Scharfetter–Gummel's ``f = B``
(``g = s(z) = (z/2) / sinh(z/2)``); :func:`fitted_pair` the
flattened ``g_K``. With ``a = log(p_i / p_j)`` and ``c = z - a`` the flux is exactly
``-w sqrt(p_i p_j) c g(z) / s(c)``: the truncation error of the weight depends on the
part ``c`` of ``z`` that drives a current, which ``z`` alone does not carry, so no
function of ``z`` is best for every drift (docs/numerics.md, "The conductance").
:func:`split_ratio` takes ``c`` per edge: from the density
(:func:`density_split_ratio`, what the analysis asks for) or from a Hodge split of
``z`` (:func:`split_weights`, a density-free estimate).

Where they are used: the generator's default is :func:`bernoulli_pair` (exact
transport at every cell Péclet number: transients, spectra, exit times);
``conductance="flat"`` gives :func:`fitted_pair`. :func:`~fokkerplanck.stationary`
of a non-gradient drift iterates the density split
(``TwoPointFluxes.density_split``, :func:`split_ratio`) to its fixed point. The Hodge
split (:func:`split_weights`) is measured (``benchmarks/bench_torus.py --weights``,
``tests/test_weights.py``) but not used: it is wrong where the unweighted split is not
the stationary one (walls, running states).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from .._util.linalg import unique_rows

__all__ = [
    "FLATNESS",
    "bernoulli",
    "bernoulli_pair",
    "density_split_ratio",
    "face_log_factor",
    "fitted_pair",
    "hodge_split",
    "log_s",
    "split_pair",
    "split_ratio",
    "split_terms",
    "split_weights",
]

#: ``K`` of the flattened conductance ``g = 1 - (1 - s)^K (1 + (K - 1) s)`` of :func:`fitted_pair`.
FLATNESS = 6


def bernoulli_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B(z), B(-z))`` with ``B(z) = z / (e^z - 1)``, accurate for all real ``z``.

    With ``a = |z|``: ``B(-a) = a / (1 - e^{-a})`` and ``B(a) = B(-a) e^{-a}``, from
    ``expm1`` and ``exp`` of non-positive numbers and no subtraction, so neither
    overflows nor cancels (``B(a)`` underflows gracefully to zero for huge ``a``).
    ``B(0) = 1``.
    """
    z = np.asarray(z, dtype=float)
    na = np.asarray(np.negative(np.abs(z)))
    big = np.asarray(np.expm1(na))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(na, big, out=big)  # B(-a) = a / (1 - e^{-a}) (0 / 0 at a = 0)
    small = na > -1e-300
    if small.any():
        big[small] = 1.0
    # B(a) = B(-a) e^{-a} goes to the positive side: B(z) = B(-a) e^{min(-z, 0)} and
    # B(-z) = B(-a) e^{min(z, 0)} (the same products as choosing with np.where, 4x faster)
    forward = np.exp(np.minimum(np.negative(z), 0.0, out=na), out=na)
    forward *= big
    backward = np.asarray(np.exp(np.minimum(z, 0.0)))
    backward *= big
    return forward, backward


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
    vanishes only for ``kappa = 0``; Scharfetter–Gummel has ``kappa = -1/24`` (16x
    less accurate shallow-well mass on the metastable torus of the tests). Where the
    drift is not balanced by the density gradient (running states, fast rotations) it
    is the other way round: Scharfetter–Gummel's advective flux is exact at every
    Péclet number, this one is off by ``1 / s(z) - 1 ~ z^2 / 24`` (docs/numerics.md). ``g = 1``
    instead lets the downhill rate grow like ``e^{|z|/2}`` rather than ``|z|``
    (inconsistent advection at high cell Péclet numbers). This pair (``conductance="flat"``) is

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
    ratio = _ratio_flat(z)
    return b * ratio, bm * ratio


def log_s(z: np.ndarray) -> np.ndarray:
    """``log s(z)`` with ``s(z) = (z/2) / sinh(z/2)``, stable for all real ``z`` (0 at 0).

    ``log a - a - log1p(-e^{-2a}) + log 2`` with ``a = |z| / 2``, ``-a^2 / 6`` below
    ``a = 1e-4`` and ``-inf`` at ``|z| = inf``; written in place, three arrays of ``z``'s size (measured on 12.4M
    edges, 128^3 with a full covariance: 0.57 s per call with a dozen temporaries).

    >>> import numpy as np
    >>> from fokkerplanck._discretization.weights import log_s
    >>> z = np.array([0.0, 1e-5, 2.0, -40.0])
    >>> bool(np.allclose(log_s(z), [0.0, -(5e-6) ** 2 / 6, np.log(1 / np.sinh(1.0)), np.log(20 / np.sinh(20.0))]))
    True
    """
    z = np.asarray(z, dtype=float)
    a = np.abs(z, out=np.empty(z.shape))   # (arrays, also for a scalar z: written in place below)
    a *= 0.5
    tail = np.multiply(a, -2.0, out=np.empty(z.shape))
    np.exp(tail, out=tail)
    np.negative(tail, out=tail)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log1p(tail, out=tail)           # log1p(-e^{-2a})
        out = np.log(a, out=np.empty(z.shape))
        out -= a
        out -= tail
    out += np.log(2.0)
    tiny = a < 1e-4
    small = a[tiny]
    out[tiny] = -small * small / 6         # log s = -a^2/6 + O(a^4)
    out[np.isinf(a)] = -np.inf             # (inf - inf above)
    return out


def _ratio_flat(z: np.ndarray) -> np.ndarray:
    """``g_K(z) / s(z)`` of :func:`fitted_pair` (between 1 and 2.4), stable for all ``z``."""
    half = 0.5 * np.abs(np.asarray(z, dtype=float))
    tiny, huge = half < 1e-8, half >= 700.0
    with np.errstate(over="ignore", divide="ignore"):
        s = np.where(tiny, 1.0, half / np.sinh(np.where(tiny | huge, 1.0, half)))
        s = np.where(huge, 0.0, s)  # s = (|z|/2) / sinh(|z|/2) = sqrt(B(z) B(-z))
        K = FLATNESS
        g = -np.expm1(K * np.log1p(-s) + np.log1p((K - 1) * s))
        # g / s -> 1 as s -> 0 (g = s + K (K - 1) s^2 / 2 + ...)
        return np.where(s > 1e-12, g / np.where(s > 1e-12, s, 1.0), 1.0 + 0.5 * K * (K - 1) * s)


def hodge_split(tail: np.ndarray, head: np.ndarray, z: np.ndarray, w: np.ndarray, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    r"""Split edge potentials ``z`` into a gradient part and a divergence-free rest.

    ``a = phi[head] - phi[tail]`` with ``phi`` minimising
    ``sum_e w_e (z_e - phi[head_e] + phi[tail_e])^2`` (a weighted graph Laplacian,
    one cell of every connected component pinned), and ``c = z - a``: the discrete
    Helmholtz–Hodge decomposition, ``sum_e w_e c_e = 0`` into every cell. For a drift
    ``-(M + Q) grad H`` with ``Q grad H`` divergence-free in the metric of ``D``, ``a``
    is the drop of ``H / T`` (the local equilibrium) and ``c`` the part that drives the
    stationary current. Gradient drifts give ``c = 0`` (to the solver's round-off).

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck._discretization.weights import hodge_split
    >>> tail, head = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0])   # a 4-cycle
    >>> a, c = hodge_split(tail, head, np.array([1.0, 1.0, 1.0, 1.0]), np.ones(4), 4)
    >>> np.round(a, 12) + 0.0, c                                      # pure circulation
    (array([0., 0., 0., 0.]), array([1., 1., 1., 1.]))
    """
    E = z.size
    rows = np.concatenate([np.arange(E), np.arange(E)])
    G = sp.csr_matrix((np.concatenate([np.ones(E), -np.ones(E)]), (rows, np.concatenate([head, tail]))),
                      shape=(E, n))
    L = (G.T @ sp.diags(w) @ G).tocsc()
    _, label = connected_components(L, directed=False)
    pins = np.unique(label, return_index=True)[1]
    L = L + sp.csc_matrix((np.ones(pins.size), (pins, pins)), shape=(n, n))
    phi = spla.spsolve(L, G.T @ (w * z), permc_spec="MMD_AT_PLUS_A")
    a = phi[head] - phi[tail]
    return a, z - a


def split_pair(z: np.ndarray, c: np.ndarray, perp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``(f(z), f(-z))`` with the per-edge conductance of the truncation-error analysis.

    ``g = min(s(c), g_K(z)) exp(perp / 24)``: ``c`` the part of the edge potential ``z``
    that drives a stationary current (its divergence-free part), ``perp`` the mean
    square equilibrium drop across the edge (:func:`hodge_split`; to leading order ``24 *``
    :func:`face_log_factor` with ``curvature=False``), ``g_K`` the flattened conductance of
    :func:`fitted_pair`. To leading order in the cell Péclet number this makes the
    two-point flux of a stationary current equal to its average over the face
    (docs/numerics.md, "The conductance"): ``s(c)`` cancels the ``c^2 / 24`` of the
    exponential fit, ``exp(perp / 24)`` is the face average of ``e^{-phi}``. ``g_K(z)``
    bounds it by upwinding once ``|z|`` is large. ``f(z) / f(-z) = e^{-z}`` holds
    exactly, so Gibbs exactness, monotonicity and detailed balance (when it holds) are
    kept.

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck._discretization.weights import bernoulli_pair, fitted_pair, split_pair
    >>> z = np.array([-3.0, 0.5, 2.0])
    >>> f, fm = split_pair(z, c=z, perp=np.zeros(3))   # all of z drives a current: SG
    >>> bool(np.allclose(f, bernoulli_pair(z)[0]))
    True
    >>> f, fm = split_pair(z, c=0 * z, perp=np.zeros(3))  # none of it: the flattened pair
    >>> bool(np.allclose(f, fitted_pair(z)[0]))
    True
    """
    z = np.asarray(z, dtype=float)
    return _scaled_bernoulli(z, split_ratio(z, c, np.asarray(perp, dtype=float) / 24))


def _scaled_bernoulli(z: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(r B(z), r B(-z))``: a conductance ratio applied to Scharfetter–Gummel's pair."""
    b, bm = bernoulli_pair(z)
    return b * r, bm * r


def split_ratio(z: np.ndarray, c: np.ndarray, log_face: np.ndarray,
                z_terms: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``g / s(z)`` with ``g = min(s(c), g_K(z)) e^{log_face}``: the factor that turns
    Scharfetter–Gummel rates into split ones (even in ``z`` and ``c``; clipped to
    ``e^{+-50}``, so never 0 nor ``inf``: the generator stays irreducible).
    ``log_face`` is the log of the face average of the density over its two-point
    value (:func:`face_log_factor`; ``perp / 24`` in :func:`split_pair`); ``z_terms``:
    :func:`split_terms` of ``z``, if already known."""
    z = np.asarray(z, dtype=float)
    log_s_z, log_flat = z_terms if z_terms is not None else split_terms(z)
    log_face = np.asarray(log_face, dtype=float)
    log_r = np.empty(np.broadcast_shapes(np.shape(c), np.shape(log_s_z), np.shape(log_flat), log_face.shape))
    np.subtract(log_s(c), log_s_z, out=log_r)   # (in place: arrays of the edges' size)
    np.minimum(log_r, log_flat, out=log_r)
    np.add(log_r, log_face, out=log_r)
    np.clip(log_r, -50.0, 50.0, out=log_r)
    np.exp(log_r, out=log_r)
    return log_r if log_r.ndim else log_r[()]   # (a scalar for scalars, as np.exp gives)


def split_terms(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log s(z), log(g_K(z) / s(z)))``: the part of :func:`split_ratio` that depends on
    the edges' Péclet numbers alone (the same in every pass of the density split, so
    ``TwoPointFluxes`` keeps it: two thirds of a pass's re-weighting at 96^3)."""
    z = np.asarray(z, dtype=float)
    return log_s(z), np.log(_ratio_flat(z))


def face_log_factor(tail: np.ndarray, head: np.ndarray, direction: np.ndarray, a: np.ndarray, n: int,
                    curvature: bool = True) -> np.ndarray:
    r"""``log`` of (face average of ``p``) / ``sqrt(p_tail p_head)`` on every edge, to ``O(h^2)``.

    ``a = log(p_tail / p_head)`` per edge, ``direction`` an integer label per edge.
    With ``phi = -log p`` quadratic near the face, the midpoint value is
    ``sqrt(p_i p_j) e^{h^2 phi'' / 8}`` along the edge and the average over the face
    multiplies it by ``(sinh(a_perp / 2) / (a_perp / 2)) (1 - h_perp^2 phi_perp'' / 24)``
    per transverse direction: the first factor is the average of ``e^{-phi}`` where
    ``phi`` falls linearly across the face, by ``a_perp = h_perp phi_perp'`` per cell
    (exactly), ``1 + a_perp^2 / 24`` to leading order. In cell units ``h phi' = a``
    and ``h^2 phi'' = -Delta^2 log p = a_{out} - a_{in}`` (the drop on the edge out of
    a cell minus the one into it, along the same direction):

    .. math::  \log\frac{\bar p_{\rm face}}{\sqrt{p_ip_j}} = -\frac{\overline{\Delta_k^2\log p}}{8}
               + \sum_{j \ne k} \Bigl(\overline{\log\frac{\sinh(a_j/2)}{a_j/2}}
               + \frac{\overline{\Delta_j^2\log p}}{24}\Bigr),

    bars the means over the two cells of the edge (of the second differences: over
    those of the two that have an edge on both sides along ``j``). The face is the
    cell face of an axis edge, the other directions are the transverse axes:
    :func:`density_split_ratio` uses it on axis stencils only. ``curvature=False``
    keeps only the ``sinh`` terms (what :func:`split_weights` uses: the Hodge split
    gives drops, not a density).

    The exact ``sinh`` factor, not its leading term ``a_j^2 / 24``: where the density
    falls steeply across a face (cell Péclet numbers of 10-20 in the tails of a
    rotating double well at ``32^2``), ``a^2 / 24`` grows quadratically (16.7 against
    7.0 in ``log`` at ``a = 20``), and multiplied those edges' rates by up to 1700 (26
    with the exact term; split of the Scharfetter-Gummel density at ``32^2`` and ``32^3``).
    Measured (rotating double well, ``T = 0.5``): the density split, which did not
    converge at ``24^2``-``32^2`` nor at ``32^3`` (AMG stalled on its passes, 15 s),
    converges at ``32^2`` and ``32^3`` (5 passes; at ``32^3`` by AMG, 3.1 s), L1 to the exact density
    1.71e-2 -> 1.58e-2 (Scharfetter-Gummel: 2.07e-2); at ``24^2`` 3.94e-2 -> 3.32e-2
    (3.64e-2). Example: a Gaussian on a 1-D grid, ``h^2 phi'' = 1`` everywhere:

    >>> import numpy as np
    >>> from fokkerplanck._discretization.weights import face_log_factor
    >>> x = np.arange(6.0); logp = -x**2 / 2                # h = 1, phi'' = 1
    >>> tail, head = np.arange(5), np.arange(1, 6)
    >>> np.round(face_log_factor(tail, head, np.zeros(5, int), logp[tail] - logp[head], 6), 4)
    array([0.125, 0.125, 0.125, 0.125, 0.125])
    """
    labels = np.unique(direction)
    mean_across, second, has = {}, {}, {}
    for j in labels:
        on = direction == j
        t, h, aj = tail[on], head[on], a[on]
        cnt = np.bincount(t, minlength=n) + np.bincount(h, minlength=n)
        across = -log_s(aj)   # log(sinh(a/2) / (a/2)) = a^2/24 + O(a^4)
        mean_across[j] = (np.bincount(t, across, minlength=n) + np.bincount(h, across, minlength=n)) / np.maximum(cnt, 1)
        has[j] = ((np.bincount(t, minlength=n) > 0) & (np.bincount(h, minlength=n) > 0)).astype(float)
        second[j] = has[j] * (np.bincount(h, aj, minlength=n) - np.bincount(t, aj, minlength=n))

    def mean2(v: dict, j: int, t: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Mean of the second difference over the edge's cells that have one."""
        return (v[j][t] + v[j][h]) / np.maximum(has[j][t] + has[j][h], 1.0)

    out = np.zeros(a.size)
    for k in labels:
        on = np.flatnonzero(direction == k)
        t, h = tail[on], head[on]
        if curvature:
            out[on] -= mean2(second, k, t, h) / 8
        for j in labels[labels != k]:
            out[on] += 0.5 * (mean_across[j][t] + mean_across[j][h]) + (mean2(second, j, t, h) / 24 if curvature else 0)
    return out


def split_weights(tail: np.ndarray, head: np.ndarray, z: np.ndarray, w: np.ndarray, delta: np.ndarray, n: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(f(z), f(-z))`` of :func:`split_pair` for a whole set of two-point edges, with
    the exact transverse face term of :func:`face_log_factor` (``curvature=False``) in
    place of ``perp / 24`` (the same to leading order).

    ``tail, head`` (cells, no wall half-edges), ``z`` the edge potentials, ``w`` the
    edge weights of the diffusion (the metric of the Hodge split), ``delta`` the edge
    vectors (edges with equal vectors are one direction), ``n`` the number of cells.
    One sparse symmetric solve (:func:`hodge_split`) plus ``O(E)`` work.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> from fokkerplanck._discretization.weights import split_weights
    >>> grid = fp.Grid(bounds=[(-3, 3), (-3, 3)], shape=16)
    >>> fl = fp.fluxes(fp.SDE(drift=lambda x: -x, sigma=1.0), grid)   # a gradient drift
    >>> f, fm = split_weights(fl.tail, fl.head, fl.dpsi, np.broadcast_to(fl.weight, fl.dpsi.shape),
    ...                       fl.delta, grid.size)
    >>> bool(np.allclose(fm / f, np.exp(fl.dpsi)))   # the equilibrium ratio is untouched
    True
    """
    _, c = hodge_split(tail, head, z, w, n)
    direction = unique_rows(delta)[1]
    return _scaled_bernoulli(z, split_ratio(z, c, face_log_factor(tail, head, direction, z - c, n, curvature=False)))


def density_split_ratio(tail: np.ndarray, head: np.ndarray, dpsi: np.ndarray, z: np.ndarray, direction: np.ndarray,
                        p: np.ndarray, n: int, selling: bool,
                        z_terms: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The factor :func:`split_ratio` that turns Scharfetter–Gummel rates into the
    density-split ones, on two-point edges between cells.

    ``dpsi`` the edge potentials (the log-ratio of the local equilibrium), ``z`` the
    argument of the Bernoulli weights (``dpsi`` itself, or the one of the Itô form; only
    ``|z|`` matters), ``direction`` an integer label per edge (equal edge vectors, equal
    labels: ``TwoPointFluxes.directions``), ``p`` a positive density.
    ``a = log(p[tail] / p[head])`` is the drop of the density,
    ``c = dpsi - a`` the part of the edge potential that drives a current, and the face
    factor :func:`face_log_factor` the face average of ``p``: to leading order the
    two-point flux then equals the face average of the current ``p v`` that ``p``
    carries (docs/numerics.md, "The conductance"). On stencils with diagonal offsets
    (``selling``: Selling's decomposition of a correlated diffusion, anywhere on the
    grid, so that a part of the grid decides as the whole grid does) only ``s(c)`` is
    used: the face factor is derived for axis faces. ``z_terms``: :func:`split_terms`
    of ``z``, if already known.
    """
    logp = np.log(np.asarray(p, dtype=float))
    a = logp[tail] - logp[head]
    if selling:
        # a Selling stencil: the flux through a cell face is shared between the axis edge
        # and the diagonal ones, and the face factor (derived for axis faces) does not
        # apply (measured on 2-D OUs with correlated noise: with the face factor on every
        # edge, the same L1; on the axis edges only, worse; docs/numerics.md)
        return split_ratio(z, dpsi - a, np.zeros(a.size), z_terms)
    return split_ratio(z, dpsi - a, face_log_factor(tail, head, direction, a, n), z_terms)
