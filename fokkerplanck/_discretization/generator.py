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
Otherwise the edge integral uses Simpson's rule. The weights are not ``B`` itself but
``fitted_pair`` (module ``weights``): the same ratio ``B(z) / B(-z) = e^{-z}`` with a
conductance that is flat for small ``|z|`` (accurate tails for non-gradient drifts).
Drifts given as ``-(M + Q) grad H`` (``SDE.structure``) use ``structured.py``. Scheme ``"upwind"`` is the
first-order monotone fallback, scheme ``"highorder"`` a fourth-order conservative
(non-monotone) scheme for smooth problems, see :func:`highorder_fluxes`.

Absorbing walls put ``p = 0`` on the wall, half a cell from the last centre; the
outflow is a half-edge flux. Reflecting walls drop the edges that would cross them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._util.errors import warn
from .._util.linalg import psd_pinv, rows_times
from .._util.validate import covariance, positive
from .._model.grid import Grid
from .fluxes import Fluxes, block
from .highorder import highorder_fluxes
from .lattice import selling
from .weights import bernoulli, bernoulli_pair, fitted_pair  # noqa: F401  (public here too)
from .._model.sde import SDE

__all__ = ["generator", "fluxes", "Fluxes", "SCHEMES", "bernoulli", "fitted_pair"]

#: Discretizations understood by :func:`generator`.
SCHEMES = ("sg", "upwind", "highorder", "sg2")

#: Offsets longer than this (in cells, max-norm) trigger a warning.
LONG_OFFSET = 3


def _upwind_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order upwind weights ``(1 + max(-z, 0), 1 + max(z, 0))``."""
    return 1.0 + np.maximum(-z, 0.0), 1.0 + np.maximum(z, 0.0)


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"`scheme` must be one of {SCHEMES}, got {scheme!r}.")


# --------------------------------------------------------------------- edges
def _edge_indices(grid: Grid, offset: np.ndarray, coords: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Cells ``i`` with ``i + offset`` inside (wrapping periodic axes).

    Returns the flat tail and head indices, the tail centres ``(E, d)`` and a mask
    of the edges that wrap around a periodic axis.
    """
    src, dst, wraps = [], [], []
    for k, (n, e) in enumerate(zip(grid.shape, offset)):
        e = int(e)
        if grid.periodic[k]:
            s = np.arange(n)
            t = (s + e) % n
            wraps.append(t != s + e)
        else:
            s = np.arange(max(0, -e), n - max(0, e))
            t = s + e
            wraps.append(np.zeros(len(s), dtype=bool))
        src.append(s)
        dst.append(t)
    tail, x = block(grid, src, coords)
    head, _ = block(grid, dst)
    shape = tuple(len(s) for s in src)
    wrap = np.zeros(shape, dtype=bool)
    for k, m in enumerate(wraps):  # (np.ix_ would read boolean arrays as masks)
        wrap = wrap | m.reshape([-1 if j == k else 1 for j in range(grid.ndim)])
    return tail, head, x, wrap.ravel()


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

    Where ``D`` is singular and not diagonal (its kernel is not spanned by axes),
    ``REGULARIZE * lambda_max`` is added along the kernel, in index space
    (``D / (h h^T)``), unless ``exact`` (a constant ``D`` that Selling's reduction
    already decomposes exactly). Returns ``(D, regularized)``, the mask of points
    changed.
    """
    D = 0.5 * np.asarray(sde.cov(x, t), dtype=float)
    d = D.shape[-1]
    mask = np.zeros(D.shape[:-2], dtype=bool)
    hh = np.outer(h, h)
    off = np.abs((D - np.einsum("...ii->...i", D)[..., None] * np.eye(d)) / hh).max(axis=(-1, -2))
    if exact or not np.any(off > 0):
        return D, mask
    w, V = np.linalg.eigh(D / hh)
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
            "approximation there, not a converging one. Rotate the coordinates so that the "
            "noiseless directions are axes, or check the answer with fp.simulate, which "
            "needs no such approximation."
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


def _decomposition(sde: SDE, grid: Grid, t: float | None, Dc: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Stencil offsets ``(K, d)`` of ``D`` in index space and their weights.

    Returns ``(offsets, constant_weights (K,), centre_weights (K, size))``: the
    first weights for constant noise (``Dc``), the second (the decomposition at every
    cell centre) for state-dependent noise; the other is ``None``. Zero weights (no
    noise along an axis) are kept; the caller drops their edges.
    """
    d = grid.ndim
    h = np.asarray(grid.spacing)
    if Dc is not None:
        Dt = Dc / np.outer(h, h)
        if np.all(Dc == np.diag(np.diag(Dc))):
            return np.eye(d, dtype=np.int64), np.diag(Dt).copy(), None
        if d > 3:
            raise ValueError("Full (non-diagonal) covariance is supported up to 3 dimensions.")
        e, w = selling(Dt)
        keep = w > 0
        return e[keep], w[keep], None
    # state-dependent: check semi-definite at every centre, then decompose there
    x = grid.points().reshape(-1, d)
    _check_psd(0.5 * np.asarray(sde.cov(x, t), dtype=float), x)
    D, mask = _diffusion_at(sde, x, t, h)
    _warn_regularized(int(mask.sum()), len(x))
    Dt = D / np.outer(h, h)
    off = Dt - np.einsum("pii->pi", Dt)[..., None] * np.eye(d)
    if not np.any(off):
        return np.eye(d, dtype=np.int64), None, np.einsum("pii->ip", Dt).copy()
    if d > 3:
        raise ValueError("Full (non-diagonal) covariance is supported up to 3 dimensions.")
    e, w = selling(Dt)
    offsets = np.unique(np.vstack([e[w > 0], np.eye(d, dtype=np.int64)]), axis=0)
    centre = np.stack([(w * (np.all(e == o, axis=-1) | np.all(e == -o, axis=-1))).sum(-1) for o in offsets])
    return offsets, None, centre


def _edge_weights(sde: SDE, grid: Grid, offset: np.ndarray, xm: np.ndarray, t: float | None) -> np.ndarray:
    """Weight of ``offset`` in the decomposition of ``D`` at each midpoint ``xm``."""
    h = np.asarray(grid.spacing)
    D = _diffusion_at(sde, xm, t, h)[0] / np.outer(h, h)
    d = grid.ndim
    if np.all(offset >= 0) and offset.sum() == 1:  # axis edge
        k = int(np.argmax(offset))
        off = D - np.einsum("pii->pi", D)[..., None] * np.eye(d)
        if not np.any(off):
            return D[:, k, k].copy()
    e, w = selling(D)
    match = np.all(e == offset, axis=-1) | np.all(e == -offset, axis=-1)
    return (w * match).sum(axis=-1)


class _Potential:
    """Evaluates ``Delta psi = -int delta^T D^+ b`` along edges (Simpson's rule).

    ``g = D^+ b`` is evaluated once at the cell centres and once per edge at the
    midpoint; wrap-around edges are evaluated at their unwrapped end. With
    ``exact_loss`` the ``-grad L`` part is replaced by exact loss differences
    ``(L_j - L_i) / D_kk`` and only the remaining drift is integrated. Where ``D``
    is singular, ``D g`` is only the part of ``b`` in its range; :meth:`rest` gives
    the other part, ``P0 b`` (``P0`` the projector on the kernel of ``D``), which
    diffusion cannot carry and upwind advection edges do.
    """

    def __init__(self, sde: SDE, grid: Grid, exact_loss: bool, Dc: np.ndarray | None, t: float | None,
                 ito_form: bool = False):
        self.sde, self.exact_loss, self.t, self.ito_form = sde, exact_loss, t, ito_form
        self.h = np.asarray(grid.spacing)
        self.Dinv = self.P0 = None
        if Dc is not None:
            self.Dinv, self.P0 = psd_pinv(Dc, SINGULAR_RTOL)
        self.degenerate = Dc is None or bool(np.any(self.P0))
        self.xc = grid.points().reshape(-1, grid.ndim)
        self.integrate = not (exact_loss and not sde.has_extra_drift)
        self.gc = self.g(self.xc) if self.integrate else None
        self.Lc = sde.loss(self.xc) if exact_loss else None

    def _drift(self, x: np.ndarray) -> np.ndarray:
        sde, t = self.sde, self.t
        if self.exact_loss:
            return sde.extra_drift(x, t)
        if self.ito_form:  # J = mu_ito p - div(D p): no derivative of D is needed
            return sde.ito_drift(x, t)
        return sde.flux_drift(x, t)  # J = b p - D grad p

    def _inverse(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.Dinv is not None:
            return self.Dinv, self.P0
        D = _diffusion_at(self.sde, x, self.t, self.h)[0]
        _check_psd(D, x)
        return psd_pinv(D, SINGULAR_RTOL)

    def g(self, x: np.ndarray) -> np.ndarray:
        b = self._drift(x)
        Dinv, _ = self._inverse(x)
        if Dinv.ndim == 2:
            return rows_times(b, Dinv)
        return np.einsum("...ij,...j->...i", Dinv, b)

    def rest(self, x: np.ndarray) -> np.ndarray:
        """``P0 b``: the drift that no diffusion carries (zero where ``D`` is regular)."""
        if not self.degenerate:
            return np.zeros(x.shape)
        b = self._drift(x)
        _, P0 = self._inverse(x)
        if P0.ndim == 2:
            return rows_times(b, P0)
        return np.einsum("...ij,...j->...i", P0, b)

    def edges(self, tail: np.ndarray, head: np.ndarray, x: np.ndarray | None, step: np.ndarray,
              wrap: np.ndarray) -> np.ndarray:
        """``Delta psi`` on the edges ``tail -> head`` of one offset (physical ``step``)."""
        out = np.zeros(len(tail))
        if self.integrate:
            end = self.gc[head]
            if wrap.any():
                end[wrap] = self.g(x[wrap] + step)
            out -= _along(self.gc[tail] + 4 * self.g(x + 0.5 * step) + end, step) / 6.0
        if self.exact_loss:
            dL = self.Lc[head] - self.Lc[tail]
            if wrap.any():
                dL[wrap] = self.sde.loss(x[wrap] + step) - self.Lc[tail[wrap]]
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
        return float(step @ self.Dinv @ step / (step @ step))


def _along(v: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``v @ step`` for rows ``v`` ``(E, d)``, touching only the nonzero components."""
    out = np.zeros(len(v))
    for k in np.flatnonzero(step):
        out += v[:, k] * step[k]
    return out


def _advection_edges(grid: Grid, potential: _Potential, out: tuple[list, ...], corr: list | None = None) -> None:
    """Upwind edges along the axes for the drift no diffusion carries (``P0 b``).

    Along axis ``k`` the flux from cell ``i`` to ``j = i + e_k`` is
    ``(u^+ p_i - u^- p_j) / h_k`` with ``u`` the ``k``-th component of ``P0 b`` at
    the face: the Scharfetter-Gummel flux in its limit of zero diffusion, first order,
    conservative and monotone. Edges with ``u = 0`` everywhere are left out.

    With ``corr`` (scheme ``"sg2"``) the face value of ``p`` is instead the
    upwind-biased ``5/6 p_up + 1/3 p_down - 1/6 p_upup`` (third order, dissipative, not
    monotone; upwind where ``upup`` lies beyond a wall); the coefficients of the third
    cell are appended to ``corr`` as ``(edge, cell, value)``.
    """
    tails, heads, deltas, fwd, bwd, dpsis, zs, ws = out
    h = np.asarray(grid.spacing)
    for k in range(grid.ndim):
        e = np.eye(grid.ndim, dtype=np.int64)[k]
        tail, head, x, _ = _edge_indices(grid, e)
        if tail.size == 0:
            continue
        u = potential.rest(x + 0.5 * e * h)[:, k]
        moving = u != 0
        if not moving.any():
            continue
        tail, head, u = tail[moving], head[moving], u[moving]
        f, b = np.maximum(u, 0.0) / h[k], np.maximum(-u, 0.0) / h[k]
        if corr is not None:
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
            corr.append((sum(len(a) for a in tails) + e_ok, far[e_ok], -v[e_ok] / 6))
        tails.append(tail), heads.append(head), deltas.append(np.broadcast_to(e * h, (tail.size, grid.ndim)))
        fwd.append(f), bwd.append(b)
        dpsis.append(np.full(tail.size, np.nan)), zs.append(np.zeros(tail.size)), ws.append(np.zeros(tail.size))


def _two_point(sde: SDE, grid: Grid, scheme: str, t: float | None) -> Fluxes:
    d = grid.ndim
    h = np.asarray(grid.spacing)
    constant = sde.noise_is_constant
    Dc = _constant_diffusion(sde, grid, t) if constant else None
    offsets, const_w, centre_w = _decomposition(sde, grid, t, Dc)
    # Ito and Stratonovich with state-dependent noise: the flux mu_ito p - div(D p) with
    # D = sum_e w_e delta_e delta_e^T is sum_e delta_e [a_e w_e p - (delta_e . grad)(w_e p)]:
    # Scharfetter-Gummel acts on u = w_e p, weights at the cell centres. Isothermal keeps
    # the current form b p - D grad p (b = mu) with weights at the edge midpoints.
    ito_form = centre_w is not None and sde.convention != "isothermal"
    diagonal = constant and np.all(Dc == np.diag(np.diag(Dc))) and np.all(np.diag(Dc) > 0)
    exact_loss = sde.has_loss and diagonal and scheme in ("sg", "sg2")
    weight_fn = _upwind_pair if scheme == "upwind" else fitted_pair
    potential = _Potential(sde, grid, exact_loss, Dc, t, ito_form)
    need_coords = potential.integrate or not constant  # else only wrap-around edges need them
    tails, heads, deltas, fwd, bwd, dpsis, segments, zs, ws = [], [], [], [], [], [], [], [], []
    longest = int(np.abs(offsets).max())
    for k, e in enumerate(offsets):
        step = e * h
        wraps = any(grid.periodic[k] for k in np.flatnonzero(e))
        tail, head, x, wrap = _edge_indices(grid, e, coords=need_coords or wraps)
        if tail.size == 0 or (const_w is not None and const_w[k] <= 0):
            continue
        delta = np.broadcast_to(step, (tail.size, d))
        if ito_form:
            w_tail, w_head = centre_w[k][tail], centre_w[k][head]
            w = np.maximum(w_tail, w_head)
        else:
            w = const_w[k] if const_w is not None else _edge_weights(sde, grid, e, x + 0.5 * delta, t)
        z = potential.edges(tail, head, x, step, wrap)
        keep = w > 0
        if keep.all():
            start = sum(len(a) for a in tails)
            shape = tuple(n if grid.periodic[j] else n - abs(int(e[j])) for j, n in enumerate(grid.shape))
            segments.append((tuple(int(v) for v in e), start, start + tail.size, shape))
        else:
            tail, head, delta, z, w = tail[keep], head[keep], delta[keep], z[keep], w[keep]
            if ito_form:
                w_tail, w_head = w_tail[keep], w_head[keep]
        tails.append(tail), heads.append(head), deltas.append(delta), zs.append(np.abs(z))
        ws.append(np.broadcast_to(w, z.shape))
        bz, bmz = weight_fn(z)
        if ito_form:
            fwd.append(w_tail * bz), bwd.append(w_head * bmz)
            with np.errstate(divide="ignore", invalid="ignore"):  # one-way edges: nan
                dpsis.append(np.where((w_tail > 0) & (w_head > 0), z + np.log(w_head / w_tail), np.nan))
        else:
            fwd.append(w * bz), bwd.append(w * bmz)
            dpsis.append(z)
    # absorbing walls: half-edges from the boundary cells to the wall (p = 0 there)
    for k in range(d):
        for side, kind in zip((-1, 1), grid.boundary[k]):
            if kind != "absorbing":
                continue
            e = np.zeros(d, dtype=np.int64)
            e[k] = side
            idx = [np.arange(n) for n in grid.shape]
            idx[k] = np.array([0 if side < 0 else grid.shape[k] - 1])
            tail, x = block(grid, idx, coords=True)
            delta = np.broadcast_to(e * h, x.shape)
            if constant:
                w = np.full(len(x), Dc[k, k] / h[k] ** 2)
            elif ito_form:
                w = centre_w[int(np.flatnonzero(np.all(offsets == np.abs(e), axis=1))[0])][tail]
            else:
                w = _diffusion_at(sde, x + 0.25 * delta, t, h)[0][:, k, k] / h[k] ** 2
            z = potential.half_edges(x, e * h)
            with np.errstate(invalid="ignore"):
                out = np.where(w > 0, 2 * w * weight_fn(z)[0], 0.0)
            if potential.degenerate:  # drift without diffusion leaves at the wall's speed
                out = out + np.maximum(side * potential.rest(x + 0.5 * e * h)[:, k], 0.0) / h[k]
            tails.append(tail), heads.append(np.full(tail.size, -1)), deltas.append(delta)
            zs.append(np.abs(z)), ws.append(w)
            dpsis.append(z), fwd.append(out), bwd.append(np.zeros(tail.size))
    corr = [] if scheme == "sg2" else None
    if potential.degenerate:
        _advection_edges(grid, potential, (tails, heads, deltas, fwd, bwd, dpsis, zs, ws), corr)
    tail, head, fwd, bwd = np.concatenate(tails), np.concatenate(heads), np.concatenate(fwd), np.concatenate(bwd)
    matrix = None
    if corr:  # three-point advection faces: a general flux matrix (forward/backward: two-point part)
        inner = head >= 0
        rows = [np.arange(tail.size), np.flatnonzero(inner)] + [c[0] for c in corr]
        cols = [tail, head[inner]] + [c[1] for c in corr]
        vals = [fwd, -bwd[inner]] + [c[2] for c in corr]
        matrix = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(tail.size, grid.size))
    return Fluxes(grid, tail, head, np.concatenate(deltas),
                  scheme, matrix, np.concatenate(dpsis), fwd, bwd,
                  longest, tuple(segments), np.concatenate(zs), np.concatenate(ws))


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


def fluxes(sde: SDE, grid: Grid, *, scheme: str = "sg", t: float | None = None) -> Fluxes:
    """The edges and fluxes of the discretization (see :class:`Fluxes`).

    Parameters are those of :func:`generator`.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> fl = fp.fluxes(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=5))
    >>> fl.tail, fl.head          # four interior edges, reflecting walls carry none
    (array([0, 1, 2, 3]), array([1, 2, 3, 4]))
    """
    _check_scheme(scheme)
    check_problem(sde, grid)
    if sde.time_dependent and t is None:
        raise ValueError(
            "This SDE is time-dependent: pass `t=` to assemble the generator at a time, "
            "or use fp.evolve, which does so at every step."
        )
    tt = t if sde.time_dependent else None
    pts = grid.points().reshape(-1, grid.ndim)
    sde.check(pts[np.linspace(0, len(pts) - 1, min(len(pts), 64)).astype(int)], tt)
    if scheme == "highorder":

        return highorder_fluxes(sde, grid, tt)
    structure = getattr(sde, "structure", None)
    if structure is not None and scheme in ("sg", "sg2"):
        from .structured import structured_fluxes

        fl = structured_fluxes(sde, grid, scheme, _edge_indices)
    else:
        fl = _two_point(sde, grid, scheme, tt)
    if fl.longest_offset > LONG_OFFSET:
        warn(
            f"The covariance is so anisotropic on this grid that the stencil needs offsets "
            f"of {fl.longest_offset} cells; edges crossing walls are dropped and accuracy "
            "near walls suffers. Refine the grid along the strongly diffusing axis, or "
            "rescale the axes.",
        )
    return fl


def generator(sde: SDE, grid: Grid, *, scheme: str = "sg", t: float | None = None) -> sp.csr_matrix:
    """The Fokker–Planck generator ``A`` with ``dp/dt = A p`` on ``grid``.

    Parameters
    ----------
    sde : SDE
    grid : Grid
    scheme : {"sg", "upwind", "highorder", "sg2"}
        ``"sg"`` (default): exponentially fitted (Scharfetter–Gummel-type, see
        :func:`~fokkerplanck._discretization.weights.fitted_pair`) fluxes along a
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
    return fluxes(sde, grid, scheme=scheme, t=t).matrix
