r"""The conservative finite-volume generator of the Fokker–Planck equation.

The Fokker–Planck equation in flux form is

.. math::  \partial_t p = -\nabla\cdot J, \qquad J = b\,p - D\,\nabla p,
           \qquad D = C/2,\quad b = \mu_{\rm Ito} - \nabla\cdot D,

(:meth:`SDE.flux_drift <fokkerplanck.SDE.flux_drift>` gives ``b`` in every
convention). This subpackage (``_discretization``) is the only place that knows
how it is discretized.

Scheme ``"sg"`` (default): the diffusion matrix is written as
``D = sum_e w_e delta_e delta_e^T`` with integer stencil offsets ``e`` and
``w_e >= 0`` (the axes when ``D`` is diagonal, Selling's decomposition otherwise),
``delta_e = e * spacing`` the physical edge. Along every edge ``i -> j = i + e``
the Scharfetter–Gummel flux

.. math::  F_e = w_e\,[B(\Delta\psi_e)\,p_i - B(-\Delta\psi_e)\,p_j], \qquad
           B(z) = z / (e^z - 1),\quad
           \Delta\psi_e = -\int_0^1 \delta_e^T D^{-1} b(x_i + s\delta_e)\,ds

is subtracted from cell ``i`` and added to cell ``j``. Every column of the matrix
sums to zero (mass is conserved to round-off) and every off-diagonal is ``>= 0``
(positivity). Zero edge flux means ``p_j / p_i = exp(-Delta psi)`` exactly: with a
loss and constant diagonal noise, ``Delta psi = (L_j - L_i) / D_kk`` from exact loss
differences, so Gibbs densities are reproduced at the cell centres to round-off.
Otherwise the edge integral uses Simpson's rule. ``conductance="flat"`` replaces ``B``
by ``fitted_pair`` (module ``weights``): the same ratio ``B(z) / B(-z) = e^{-z}`` with a
conductance that is flat for small ``|z|``; :func:`~fokkerplanck.stationary` refines the
conductance of non-gradient drifts by the density split (``TwoPointFluxes.density_split``).
Drifts given as ``-(M + Q) grad H`` (``SDE.structure``) use ``structured.py``. Scheme ``"upwind"`` is the
first-order monotone fallback, scheme ``"highorder"`` a fourth-order conservative
(non-monotone) scheme for smooth problems, see :func:`highorder_fluxes`.

Absorbing walls put ``p = 0`` on the wall, half a cell from the last centre; the
outflow is a half-edge flux. Reflecting walls drop the edges that would cross them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._model.grid import Grid
from .._model.sde import SDE
from .._util.errors import warn
from .._util.linalg import psd_pinv, rows_times, sym_eigh
from .._util.validate import covariance, positive
from .fluxes import (
    EdgeBuilder,
    Fluxes,
    Segment,
    Triplets,
    TwoPointFluxes,
    block,
    block_centres,
    centres_of,
    edge_indices,
)
from .highorder import highorder_fluxes
from .lattice import selling
from .structured import structured_fluxes
from .weights import bernoulli, bernoulli_pair, fitted_pair

__all__ = ["CONDUCTANCES", "SCHEMES", "Fluxes", "bernoulli", "fitted_pair", "fluxes", "generator"]

#: Discretizations understood by :func:`generator`.
SCHEMES = ("sg", "upwind", "highorder", "sg2")

#: Conductances of the exponentially fitted edges (schemes ``"sg"``, ``"sg2"``):
#: Scharfetter–Gummel and the flattened ``fitted_pair`` (module ``weights``).
CONDUCTANCES = ("sg", "flat")

#: Offsets longer than this (in cells, max-norm) trigger a warning.
LONG_OFFSET = 3

#: A pair of two-point weights ``(f(z), f(-z))``.
WeightFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _upwind_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order upwind weights ``(1 + max(-z, 0), 1 + max(z, 0))``."""
    return 1.0 + np.maximum(-z, 0.0), 1.0 + np.maximum(z, 0.0)


def _check_scheme(scheme: str, conductance: str = "sg") -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"`scheme` must be one of {SCHEMES}, got {scheme!r}.")
    if conductance not in CONDUCTANCES:
        raise ValueError(f"`conductance` must be one of {CONDUCTANCES}, got {conductance!r}.")
    if conductance != "sg" and scheme not in ("sg", "sg2"):
        raise ValueError(f"`conductance={conductance!r}` applies to the exponentially fitted schemes "
                         f"'sg' and 'sg2'; scheme {scheme!r} has no conductance. Use conductance='sg'.")


# --------------------------------------------------------------- two-point
#: Where the noise is singular in a direction that is not along the grid axes (and,
#: for constant noise, not a short lattice direction either), no non-negative
#: two-point stencil of bounded length represents it; the generator adds diffusion
#: ``REGULARIZE * lambda_max`` (in cell units) along the noiseless direction there.
REGULARIZE = 0.03

#: Eigenvalues below this times the largest one at a point count as zero noise.
SINGULAR_RTOL = 1e-12


def _diffusion_at(sde: SDE, x: np.ndarray, t: float | None, h: np.ndarray,
                  exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``D = C / 2`` at points ``x``, regularized where no stencil can carry it.

    See ``_regularized``. Returns ``(D, regularized)``, the mask of points changed.
    """
    return _regularized(0.5 * np.asarray(sde.cov(x, t), dtype=float), h, exact)


def _regularized(D: np.ndarray, h: np.ndarray, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``D`` regularized where no stencil can carry it.

    Where ``D`` is singular and not diagonal (its kernel is not spanned by axes),
    ``REGULARIZE * lambda_max`` is added along the kernel, in index space
    (``D / (h h^T)``), unless ``exact`` (a constant ``D`` that Selling's reduction
    already decomposes exactly). Returns ``(D, regularized)``, the mask of points
    changed.
    """
    d = D.shape[-1]
    mask = np.zeros(D.shape[:-2], dtype=bool)
    hh = np.outer(h, h)
    off = np.abs((D - np.einsum("...ii->...i", D)[..., None] * np.eye(d)) / hh).max(axis=(-1, -2))
    if exact or not np.any(off > 0):
        return D, mask
    w, V = sym_eigh(D / hh)
    assert V is not None
    top = np.maximum(w[..., -1], 0.0)
    mask = (w[..., 0] <= SINGULAR_RTOL * top) & (off > SINGULAR_RTOL * top)
    if mask.any():
        Vk = np.where((w <= SINGULAR_RTOL * top[..., None])[..., None, :], V, 0.0)
        add = REGULARIZE * top[..., None, None] * (Vk @ np.swapaxes(Vk, -1, -2))
        D = np.where(mask[..., None, None], D + add * hh, D)
    return D, mask


def _check_psd(D: np.ndarray, x: np.ndarray) -> None:
    """Raise naming the first point where the diffusion matrix is not semi-definite."""
    covariance("cov", 2 * D, x)


def _warn_regularized(count: int, total: int) -> None:
    if count:
        warn(
            f"The noise covariance is singular at {count} of {total} points in a direction "
            "that is not along a grid axis; no monotone stencil of bounded length carries "
            f"such noise, so the generator adds diffusion {REGULARIZE} x the largest "
            "eigenvalue (in cell units) along the noiseless direction there: an O(1) "
            "approximation there, not a converging one (an OU with rank-1 noise along "
            "(1, 1.21): L1 error 7.2e-2 to 7.8e-2 on every grid from 32^2 to 256^2). Where the density "
            "is smooth, scheme='highorder' converges (not monotone; fourth order on that OU, "
            "L1 1e-4 at 128^2); where it concentrates on curves, rotate the coordinates so "
            "that the noiseless directions are axes; or check the answer with fp.simulate, "
            "which needs no such approximation."
        )


def _lattice_exact(Dt: np.ndarray) -> bool:
    """Whether Selling's reduction of constant semi-definite ``Dt`` is exact and short."""
    try:
        e, w = selling(Dt)
    except RuntimeError:
        return False
    used = w > 0
    err = np.abs(np.einsum("k,ki,kj->ij", w, e, e) - Dt).max()
    longest = int(np.abs(e[used]).max(initial=1))
    return bool(err <= 1e-10 * np.abs(Dt).max() and longest <= LONG_OFFSET)


def _constant_diffusion(sde: SDE, grid: Grid, t: float | None) -> np.ndarray:
    d = grid.ndim
    h = np.asarray(grid.spacing)
    D = 0.5 * np.asarray(sde.cov(np.zeros(d), t), dtype=float)
    exact = d == 1 or np.all(D == np.diag(np.diag(D))) or d > 3 or _lattice_exact(D / np.outer(h, h))
    D, mask = _diffusion_at(sde, np.zeros(d), t, h, exact=bool(exact))
    _warn_regularized(int(mask.any()) * grid.size, grid.size)
    return D


def _unique_rows(e: np.ndarray) -> np.ndarray:
    """``np.unique(e, axis=0)`` for small integer rows, by counting (no sort of ``e``)."""
    lo = int(e.min())
    base = int(e.max()) - lo + 1
    weights = base ** np.arange(e.shape[1] - 1, -1, -1, dtype=np.int64)
    code = np.flatnonzero(np.bincount((e - lo) @ weights, minlength=base ** e.shape[1]))
    return (code[:, None] // weights % base + lo).astype(e.dtype)


class _Stencil(NamedTuple):
    """Stencil offsets ``(K, d)`` in index space and their weights: ``constant`` ``(K,)``
    for constant noise, else ``centre`` ``(K, size)`` (the decomposition at every
    centre) and the regularized ``D`` at the centres ``(size, d, d)``."""

    offsets: np.ndarray
    constant: np.ndarray | None
    centre: np.ndarray | None
    D_centres: np.ndarray | None


def _decomposition(sde: SDE, grid: Grid, t: float | None, Dc: np.ndarray | None) -> _Stencil:
    """The stencil of ``D`` (see ``_Stencil``). Zero weights (no noise along an
    axis) are kept; the caller drops their edges."""
    d = grid.ndim
    h = np.asarray(grid.spacing)
    if Dc is not None:
        Dt = Dc / np.outer(h, h)
        if np.all(Dc == np.diag(np.diag(Dc))):
            return _Stencil(np.eye(d, dtype=np.int64), np.diag(Dt).copy(), None, None)
        if d > 3:
            raise ValueError("Full (non-diagonal) covariance is supported up to 3 dimensions.")
        e, w = selling(Dt)
        keep = w > 0
        return _Stencil(e[keep], w[keep], None, None)
    # state-dependent: check semi-definite at every centre, then decompose there
    x = grid.points().reshape(-1, d)
    D0 = 0.5 * np.asarray(sde.cov(x, t), dtype=float)
    _check_psd(D0, x)
    D, mask = _regularized(D0, h)
    _warn_regularized(int(mask.sum()), len(x))
    Dt = D / np.outer(h, h)
    off = Dt - np.einsum("pii->pi", Dt)[..., None] * np.eye(d)
    if not np.any(off):
        return _Stencil(np.eye(d, dtype=np.int64), None, np.einsum("pii->ip", Dt).copy(), D)
    if d > 3:
        raise ValueError("Full (non-diagonal) covariance is supported up to 3 dimensions.")
    e, w = selling(Dt)
    offsets = _unique_rows(np.vstack([e[w > 0], np.eye(d, dtype=np.int64)]))
    centre = np.stack([(w * (np.all(e == o, axis=-1) | np.all(e == -o, axis=-1))).sum(-1) for o in offsets])
    return _Stencil(offsets, None, centre, D)


def _edge_weights(D: np.ndarray, offset: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Weight of ``offset`` in the decomposition of ``D`` (regularized, at the midpoints)."""
    D = D / np.outer(h, h)
    d = D.shape[-1]
    if np.all(offset >= 0) and offset.sum() == 1:  # axis edge
        k = int(np.argmax(offset))
        off = D - np.einsum("pii->pi", D)[..., None] * np.eye(d)
        if not np.any(off):
            return D[:, k, k].copy()
    e, w = selling(D)
    match = np.all(e == offset, axis=-1) | np.all(e == -offset, axis=-1)
    return np.asarray((w * match).sum(axis=-1))


class _Potential:
    """Evaluates ``Delta psi = -int delta^T D^+ b`` along edges (Simpson's rule).

    ``g = D^+ b`` is evaluated once at the cell centres and once per edge at the
    midpoint; wrap-around edges are evaluated at their unwrapped end. With
    ``exact_loss`` the ``-grad L`` part is replaced by exact loss differences
    ``(L_j - L_i) / D_kk`` and only the remaining drift is integrated. Where ``D``
    is singular, ``D g`` is only the part of ``b`` in its range; :meth:`rest` gives
    the other part, ``P0 b`` (``P0`` the projector on the kernel of ``D``), which
    diffusion cannot carry and upwind advection edges do. ``D_centres``: the
    (checked, regularized) diffusion at the centres when it is state-dependent.
    """

    def __init__(self, sde: SDE, grid: Grid, exact_loss: bool, Dc: np.ndarray | None, t: float | None,
                 ito_form: bool = False, D_centres: np.ndarray | None = None):
        self.sde, self.exact_loss, self.t, self.ito_form = sde, exact_loss, t, ito_form
        self.h = np.asarray(grid.spacing)
        self.inverse: tuple[np.ndarray, np.ndarray] | None = None
        if Dc is not None:
            self.inverse = psd_pinv(Dc, SINGULAR_RTOL)
        self.degenerate = self.inverse is None or bool(np.any(self.inverse[1]))
        self.grid = grid
        xc = grid.points().reshape(-1, grid.ndim)
        self.integrate = not (exact_loss and not sde.has_extra_drift)
        self.gc: list[np.ndarray] = []   # the components of g at the centres (read, never written)
        if self.integrate:
            self.gc = (self._g_columns(xc, range(grid.ndim)) if D_centres is None
                       else list(self.g(xc, D_centres, check=False).T))
        self.Lc = sde.loss(xc) if exact_loss else np.zeros(0)

    def _drift(self, x: np.ndarray) -> np.ndarray:
        sde, t = self.sde, self.t
        if self.exact_loss:
            return sde.extra_drift(x, t)
        if self.ito_form:  # J = mu_ito p - div(D p): no derivative of D is needed
            return sde.ito_drift(x, t)
        return sde.flux_drift(x, t)  # J = b p - D grad p

    def _inverse(self, x: np.ndarray, D: np.ndarray | None = None, check: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(D^+, P0)`` at ``x`` (``D``: the regularized diffusion there, if known)."""
        if self.inverse is not None:
            return self.inverse
        if D is None:
            D = _diffusion_at(self.sde, x, self.t, self.h)[0]
        if check:
            _check_psd(D, x)
        return psd_pinv(D, SINGULAR_RTOL)

    def both(self, x: np.ndarray, D: np.ndarray | None = None, check: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
        """``(g, P0 b)`` at ``x`` from one evaluation of the drift and of ``D``."""
        b = self._drift(x)
        Dinv, P0 = self._inverse(x, D, check)
        return _apply(Dinv, b), (_apply(P0, b) if self.degenerate else np.zeros(x.shape))

    def g(self, x: np.ndarray, D: np.ndarray | None = None, check: bool = True) -> np.ndarray:
        return _apply(self._inverse(x, D, check)[0], self._drift(x))

    def _g_columns(self, x: np.ndarray, axes: np.ndarray | range) -> list[np.ndarray]:
        """Components ``axes`` of ``g`` at ``x`` (with constant noise only those are
        computed, each a contiguous array, by the operations of ``rows_times``; terms of a
        zero coefficient are left out)."""
        if self.inverse is None:
            g = self.g(x)
            return [g[:, k] for k in axes]
        b, M = self._drift(x), self.inverse[0]
        out = []
        for k in axes:
            col = b[..., 0] * M[k, 0]
            for j in range(1, M.shape[1]):
                if M[k, j] != 0:
                    col += b[..., j] * M[k, j]
            out.append(col)
        return out

    def rest(self, x: np.ndarray) -> np.ndarray:
        """``P0 b``: the drift that no diffusion carries (zero where ``D`` is regular)."""
        if not self.degenerate:
            return np.zeros(x.shape)
        return _apply(self._inverse(x)[1], self._drift(x))

    def edges(self, tail: np.ndarray, head: np.ndarray, mid: np.ndarray, step: np.ndarray,
              wrap: np.ndarray, g_mid: np.ndarray | None = None) -> np.ndarray:
        """``Delta psi`` on the edges ``tail -> head`` of one offset (physical ``step``)
        with midpoints ``mid``; ``g_mid``: ``g`` there, if already evaluated."""
        out = None
        if self.integrate:  # only the components along the step are needed
            axes = np.flatnonzero(step)
            ends = centres_of(self.grid, tail[wrap]) + step if wrap.any() else None   # unwrapped heads
            g_wrap = self.g(ends) if ends is not None else None
            mids = self._g_columns(mid, axes) if g_mid is None else [g_mid[:, k] for k in axes]
            acc = None
            for k, mid_k in zip(axes, mids):   # Simpson's rule, in place: tail + 4 mid + head
                end = self.gc[k][head]
                if g_wrap is not None:
                    end[wrap] = g_wrap[:, k]
                term = self.gc[k][tail]
                term += 4 * mid_k
                term += end
                term *= step[k]
                acc = term if acc is None else acc + term
            assert acc is not None
            acc /= 6.0
            out = np.subtract(0.0, acc, out=acc)
        if out is None:
            out = np.zeros(len(tail))
        if self.exact_loss:
            dL = self.Lc[head] - self.Lc[tail]
            if wrap.any():
                dL[wrap] = self.sde.loss(centres_of(self.grid, tail[wrap]) + step) - self.Lc[tail[wrap]]
            out += dL * self._inv_dkk(step)
        return out

    def half_edges(self, x: np.ndarray, step: np.ndarray) -> np.ndarray:
        """From a centre to the wall half a cell away (``x + step / 2``)."""
        out = np.zeros(len(x))
        wall = x + 0.5 * step
        if self.integrate:
            out -= 0.5 * _along(self.g(x) + 4 * self.g(x + 0.25 * step) + self.g(wall), step) / 6.0
        if self.exact_loss:
            out += (self.sde.loss(wall) - self.sde.loss(x)) * self._inv_dkk(step)
        return out

    def _inv_dkk(self, step: np.ndarray) -> float:
        # axis edge, diagonal D: delta^T D^-1 grad L integrates to (L_j - L_i) / D_kk
        assert self.inverse is not None  # exact loss differences need constant noise
        return float(step @ self.inverse[0] @ step / (step @ step))


def _apply(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``M b`` for a constant ``M`` ``(d, d)`` or one per point ``(..., d, d)``."""
    if M.ndim == 2:
        return rows_times(b, M)
    return np.einsum("...ij,...j->...i", M, b)


def _along(v: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``v @ step`` for rows ``v`` ``(E, d)``, touching only the nonzero components."""
    out = np.zeros(len(v))
    for k in np.flatnonzero(step):
        out += v[:, k] * step[k]
    return out


def _advection_edges(grid: Grid, potential: _Potential, edges: EdgeBuilder, rest_mid: dict[int, np.ndarray],
                     third: bool) -> None:
    """Upwind edges along the axes for the drift no diffusion carries (``P0 b``).

    Along axis ``k`` the flux from cell ``i`` to ``j = i + e_k`` is
    ``(u^+ p_i - u^- p_j) / h_k`` with ``u`` the ``k``-th component of ``P0 b`` at
    the face (``rest_mid[k]`` if already evaluated): the Scharfetter-Gummel flux in
    its limit of zero diffusion, first order, conservative and monotone. Edges with
    ``u = 0`` everywhere are left out.

    With ``third`` (scheme ``"sg2"``) the face value of ``p`` is instead the
    upwind-biased ``5/6 p_up + 1/3 p_down - 1/6 p_upup`` (third order, dissipative, not
    monotone; upwind where ``upup`` lies beyond a wall); the coefficients of the third
    cell go to ``edges.third``.
    """
    h = np.asarray(grid.spacing)
    for k in range(grid.ndim):
        e = np.eye(grid.ndim, dtype=np.int64)[k]
        tail, head, xm, _ = edge_indices(grid, e, coords=k not in rest_mid, at=0.5)
        if tail.size == 0:
            continue
        u = rest_mid[k] if k in rest_mid else potential.rest(xm)[:, k]
        moving = u != 0
        if not moving.any():
            continue
        tail, head, u = tail[moving], head[moving], u[moving]
        f, b = np.maximum(u, 0.0) / h[k], np.maximum(-u, 0.0) / h[k]
        if third:
            n = grid.shape[k]
            up = u > 0
            at = np.unravel_index(np.where(up, tail, head), grid.shape)
            far_k = at[k] + np.where(up, -1, 1)
            ok = (far_k >= 0) & (far_k < n) if not grid.periodic[k] else np.ones(u.size, dtype=bool)
            far = np.ravel_multi_index(tuple(far_k % n if j == k else a for j, a in enumerate(at)), grid.shape)
            v = u / h[k]
            f = np.where(ok, np.where(up, 5 / 6, 1 / 3) * v, f)
            b = np.where(ok, -np.where(up, 1 / 3, 5 / 6) * v, b)
            e_ok = np.flatnonzero(ok)
            edges.third.append(Triplets(edges.size + e_ok, far[e_ok], -v[e_ok] / 6))
        edges.add(tail, head, e, f, b, np.full(tail.size, np.nan), np.zeros(tail.size), np.zeros(tail.size))


def _absorbing_edges(sde: SDE, grid: Grid, t: float | None, st: _Stencil, Dc: np.ndarray | None,
                     ito_form: bool, potential: _Potential, weight_fn: WeightFn, edges: EdgeBuilder) -> None:
    """Half-edges from the boundary cells to absorbing walls (``p = 0`` on the wall)."""
    d = grid.ndim
    h = np.asarray(grid.spacing)
    for k in range(d):
        for side, kind in zip((-1, 1), grid.boundary[k]):
            if kind != "absorbing":
                continue
            e = np.zeros(d, dtype=np.int64)
            e[k] = side
            idx = [np.arange(n) for n in grid.shape]
            idx[k] = np.array([0 if side < 0 else grid.shape[k] - 1])
            tail, x = block(grid, idx), block_centres(grid, idx)
            if Dc is not None:
                w = np.full(len(x), Dc[k, k] / h[k] ** 2)
            elif ito_form:
                assert st.centre is not None
                w = st.centre[int(np.flatnonzero(np.all(st.offsets == np.abs(e), axis=1))[0])][tail]
            else:
                w = _diffusion_at(sde, x + 0.25 * (e * h), t, h)[0][:, k, k] / h[k] ** 2
            z = potential.half_edges(x, e * h)
            with np.errstate(invalid="ignore"):
                out = np.where(w > 0, 2 * w * weight_fn(z)[0], 0.0)
            if potential.degenerate:  # drift without diffusion leaves at the wall's speed
                out = out + np.maximum(side * potential.rest(x + 0.5 * e * h)[:, k], 0.0) / h[k]
            edges.add(tail, np.full(tail.size, -1), e, out, np.zeros(tail.size), z, np.abs(z), w)


def _two_point(sde: SDE, grid: Grid, scheme: str, t: float | None, conductance: str) -> TwoPointFluxes:
    h = np.asarray(grid.spacing)
    Dc = _constant_diffusion(sde, grid, t) if sde.noise_is_constant else None
    st = _decomposition(sde, grid, t, Dc)
    # Ito and Stratonovich with state-dependent noise: the flux mu_ito p - div(D p) with
    # D = sum_e w_e delta_e delta_e^T is sum_e delta_e [a_e w_e p - (delta_e . grad)(w_e p)]:
    # Scharfetter-Gummel acts on u = w_e p, weights at the cell centres. Isothermal keeps
    # the current form b p - D grad p (b = mu) with weights at the edge midpoints.
    ito_form = st.centre is not None and sde.convention != "isothermal"
    diagonal = Dc is not None and np.all(Dc == np.diag(np.diag(Dc))) and np.all(np.diag(Dc) > 0)
    exact_loss = bool(sde.has_loss and diagonal and scheme in ("sg", "sg2"))
    weight_fn: WeightFn = (_upwind_pair if scheme == "upwind" else
                           fitted_pair if conductance == "flat" else bernoulli_pair)
    potential = _Potential(sde, grid, exact_loss, Dc, t, ito_form, st.D_centres)
    need_coords = potential.integrate or Dc is None  # the midpoints (wrap-around heads: centres_of)
    edges = EdgeBuilder(grid)
    rest_mid: dict[int, np.ndarray] = {}  # P0 b at the midpoints of the axis edges, component k
    for k, e in enumerate(st.offsets):
        step = e * h
        tail, head, xm, wrap = edge_indices(grid, e, coords=need_coords, at=0.5)   # xm: the midpoints
        if tail.size == 0 or (st.constant is not None and st.constant[k] <= 0):
            continue
        g_mid = None
        if Dc is None:  # state-dependent noise: D at the midpoints once, for weights, g and P0 b
            Dm = _diffusion_at(sde, xm, t, h)[0]
            g_mid, r_mid = potential.both(xm, Dm)
            axis = np.flatnonzero(e)
            if potential.degenerate and axis.size == 1 and e[axis[0]] == 1:
                rest_mid[int(axis[0])] = r_mid[:, int(axis[0])]
        if ito_form:
            assert st.centre is not None
            w_tail, w_head = st.centre[k][tail], st.centre[k][head]
            w = np.maximum(w_tail, w_head)
        elif st.constant is not None:
            w = st.constant[k]
        else:
            w = _edge_weights(Dm, e, h)
        z = potential.edges(tail, head, xm, step, wrap, g_mid)
        keep = w > 0
        if keep.all():
            shape = tuple(n if grid.periodic[j] else n - abs(int(e[j])) for j, n in enumerate(grid.shape))
            edges.segments.append(Segment(tuple(int(v) for v in e), edges.size, edges.size + tail.size, shape))
        else:
            tail, head, z, w = tail[keep], head[keep], z[keep], w[keep]
            if ito_form:
                w_tail, w_head = w_tail[keep], w_head[keep]
        bz, bmz = weight_fn(z)
        # the drop of psi whose exp(-psi) the rates hold in balance, log(backward / forward):
        # z for the fitted weights, not for upwind's (whose ratio is not e^-z)
        drop = np.log(bmz / bz) if scheme == "upwind" else z
        if ito_form:
            with np.errstate(divide="ignore", invalid="ignore"):  # one-way edges: nan
                dpsi = np.where((w_tail > 0) & (w_head > 0), drop + np.log(w_head / w_tail), np.nan)
            edges.add(tail, head, e, w_tail * bz, w_head * bmz, dpsi, np.abs(z), np.broadcast_to(w, z.shape))
        else:
            edges.add(tail, head, e, w * bz, w * bmz, drop, np.abs(z), np.broadcast_to(w, z.shape))
    _absorbing_edges(sde, grid, t, st, Dc, ito_form, potential, weight_fn, edges)
    if potential.degenerate:
        _advection_edges(grid, potential, edges, rest_mid, scheme == "sg2")
    return edges.build(grid, scheme, int(np.abs(st.offsets).max()), potential=True, conductance=conductance)


def check_problem(sde: SDE, grid: Grid) -> None:
    """Check the types of ``sde`` and ``grid`` and that their dimensions agree."""
    if not isinstance(sde, SDE):
        raise TypeError(f"`sde` must be a fokkerplanck.SDE, got {type(sde).__name__}.")
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid, got {type(grid).__name__}.")
    if sde.ndim is not None and sde.ndim != grid.ndim:
        raise ValueError(
            f"The SDE is {sde.ndim}-dimensional but the grid has {grid.ndim} axes; "
            "give the grid one (lo, hi) pair per SDE coordinate."
        )


def check_tolerance(tol: float, name: str = "tol") -> float:
    """A positive finite tolerance, or a clear error naming it."""
    try:
        return positive(name, tol, "tolerance")
    except TypeError as err:
        raise ValueError(str(err)) from None


def fluxes(sde: SDE, grid: Grid, *, scheme: str = "sg", t: float | None = None, conductance: str = "sg"
           ) -> Fluxes:
    """The edges and fluxes of the discretization (see :class:`Fluxes`).

    Parameters are those of :func:`generator`.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> fl = fp.fluxes(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=5))
    >>> fl.tail, fl.head          # four interior edges, reflecting walls carry none
    (array([0, 1, 2, 3]), array([1, 2, 3, 4]))
    """
    _check_scheme(scheme, conductance)
    check_problem(sde, grid)
    if sde.time_dependent and t is None:
        raise ValueError(
            "This SDE is time-dependent: pass `t=` to assemble the generator at a time, "
            "or use fp.evolve, which does so at every step."
        )
    tt = t if sde.time_dependent else None
    sample = np.unravel_index(np.linspace(0, grid.size - 1, min(grid.size, 64)).astype(int), grid.shape)
    sde.check(np.stack([np.asarray(c)[i] for c, i in zip(grid.centers, sample)], axis=-1), tt)  # 64 centres
    if scheme == "highorder":
        return highorder_fluxes(sde, grid, tt)
    structure = getattr(sde, "structure", None)
    if structure is not None and scheme in ("sg", "sg2"):
        fl: Fluxes = structured_fluxes(sde, grid, scheme, conductance)
    else:
        fl = _two_point(sde, grid, scheme, tt, conductance)
    if fl.longest_offset > LONG_OFFSET:
        warn(
            f"The covariance is so anisotropic on this grid that the stencil needs offsets "
            f"of {fl.longest_offset} cells; edges crossing walls are dropped and accuracy "
            "near walls suffers. Refine the grid along the strongly diffusing axis, or "
            "rescale the axes.",
        )
    return fl


def generator(sde: SDE, grid: Grid, *, scheme: str = "sg", t: float | None = None, conductance: str = "sg"
              ) -> sp.csr_matrix:
    """The Fokker–Planck generator ``A`` with ``dp/dt = A p`` on ``grid``.

    Parameters
    ----------
    sde : SDE
    grid : Grid
    scheme : {"sg", "upwind", "highorder", "sg2"}
        ``"sg"`` (default): exponentially fitted (Scharfetter–Gummel) fluxes along a
        non-negative stencil decomposition of the diffusion; second order, monotone,
        exact Gibbs with a loss and constant diagonal noise, and for drifts
        ``-(M + Q) grad H`` given with their structure
        (:attr:`SDE.structure <fokkerplanck.SDE.structure>`, e.g. kinetic Langevin).
        ``"upwind"``: first order, monotone. ``"highorder"``: fourth order on smooth
        problems, conservative but not monotone (reflecting and periodic boundaries
        only). ``"sg2"``: like ``"sg"``, but where ``"sg"`` upwinds because there is no
        noise (degenerate noise; the rotational flux of structured drifts), a
        third-order upwind-biased face value: second order along noiseless
        directions, still conservative and exact where ``"sg"`` is, not monotone.
        Identical to ``"sg"`` when every direction has noise.
    t : float, optional
        Time, for a time-dependent SDE.
    conductance : {"sg", "flat"}
        The weight function of the exponentially fitted edges (docs/numerics.md, "The
        conductance"). ``"sg"`` (default): Scharfetter–Gummel, whose advective flux is
        exact at every cell Péclet number (transients, spectra, running states).
        ``"flat"``: :func:`~fokkerplanck._discretization.weights.fitted_pair`, flat for
        small Péclet numbers: more accurate stationary tails where a rotation follows the
        level sets of the density, but transport too fast by ``~ z^2 / 24`` (18 % at cell
        Péclet 2). Both keep exact Gibbs densities, conservation and monotonicity.
        (:func:`~fokkerplanck.stationary` refines the conductance itself, see there.)

    Returns
    -------
    scipy.sparse.csr_matrix, shape ``(grid.size, grid.size)``
        Acting on the C-order flattened cell densities. Columns sum to zero (to
        round-off) except where mass leaves through absorbing walls; off-diagonals
        are ``>= 0`` for the monotone schemes.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-2, 2), (-2, 2)], shape=(20, 30), boundary="periodic")
    >>> A = fp.generator(fp.SDE(drift=lambda x: np.sin(x), cov=[[1, .9], [.9, 1]]), grid)
    >>> A.shape
    (600, 600)
    >>> bool(abs(A.sum(axis=0)).max() < 1e-12)  # columns sum to zero: mass is conserved
    True
    >>> import scipy.sparse as sp
    >>> bool((A - sp.diags(A.diagonal())).min() >= 0)  # monotone even at correlation 0.9
    True
    """
    return fluxes(sde, grid, scheme=scheme, t=t, conductance=conductance).matrix
