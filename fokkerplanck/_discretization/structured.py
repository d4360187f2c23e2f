r"""Structure-preserving fluxes for drifts ``-(M + Q) grad H``.

When the SDE is given as a loss ``H``, a constant symmetric positive semi-definite
*mobility* ``M`` and a constant antisymmetric ``Q`` with noise covariance
``C = 2 T M`` (:attr:`SDE.structure <fokkerplanck.SDE.structure>`), the flux is

.. math::  J = b\,p - T M \nabla p = -T M \rho\,\nabla u + T (Q\nabla\rho)\,u,
           \qquad \rho = e^{-H/T},\quad u = p/\rho ,

a symmetric (reversible) part that vanishes for constant ``u`` and an antisymmetric
part ``T (Q grad rho) u`` whose coefficient field is divergence-free. Both are
discretized so that these two facts hold exactly on the grid:

* **Symmetric part**: Scharfetter–Gummel-type fluxes along a non-negative stencil
  decomposition of ``T M`` (its axes, or Selling's decomposition) with the exact
  edge potential ``(H_j - H_i) / T``; there are edges only where ``M`` has
  diffusion. Each such flux vanishes when ``p_j / p_i = rho_j / rho_i``.
* **Antisymmetric part**: the face integral of ``T (Q grad rho)`` is, for each pair
  of axes ``(k, l)``, a difference of ``rho`` at the two *hinges* of the face (the
  cell corners in the ``(k, l)`` plane), ``c_f = T Q_kl (rho_{l+} - rho_{l-}) /
  (h_k h_l)``. The same hinge values enter the faces of both axes of the pair, so
  ``c`` sums to zero around every cell to round-off, whatever the hinge values.
  The face flux is ``c_f`` times ``u`` on the face: central where the symmetric
  flux on the same face is strong enough to keep every off-diagonal non-negative,
  upwind (``u`` of the cell ``c_f`` flows out of) or the most central monotone blend
  elsewhere (scheme ``"sg"``); scheme ``"sg2"`` takes the third-order
  upwind-biased value ``5/6 u_up + 1/3 u_down - 1/6 u_upup`` there instead.

Consequences: ``A exp(-H/T) = 0`` to round-off (the flux of ``u = 1`` is ``c_f``,
which is divergence-free), columns sum to zero, and with scheme ``"sg"`` every
off-diagonal is ``>= 0``. On reflecting walls the hinge values are set to zero,
which makes the antisymmetric flux through the wall vanish while keeping ``c``
divergence-free, so ``exp(-H/T)`` stays exactly stationary in a box too (the
continuous problem with reflecting walls has it only when the rotational current
is tangent to the walls; the difference is of the size of the density at the
walls). Along directions without noise (the positions of kinetic Langevin) scheme
``"sg"`` is upwind, hence first order in transients and spectra (Godunov: a linear
monotone scheme for pure advection is at most first order); scheme ``"sg2"`` is second
order there, still exact at stationarity and conservative, but not monotone. Plain
central differences there would be second order too, but they decouple odd and even
cells along a noiseless axis and produce spurious slow modes (kinetic Langevin in a
double well: a spurious eigenvalue -0.0174 below the true Kramers mode -0.0225).
"""

from __future__ import annotations

import numpy as np

from .._model.grid import Grid
from .._model.sde import SDE
from .fluxes import EdgeBuilder, Triplets, TwoPointFluxes, block, block_centres, edge_indices
from .lattice import selling
from .weights import bernoulli_pair, fitted_pair

__all__ = ["structured_fluxes"]


def _stencil(Dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (first non-zero component positive) and weights with ``Dt = sum w e e^T``."""
    d = Dt.shape[0]
    if np.all(Dt == np.diag(np.diag(Dt))):
        e, w = np.eye(d, dtype=np.int64), np.diag(Dt).copy()
    else:
        try:
            e, w = selling(Dt)
            exact = np.abs(np.einsum("k,ki,kj->ij", w, e, e) - Dt).max() <= 1e-10 * np.abs(Dt).max()
        except RuntimeError:
            exact = False
        if not exact:
            raise ValueError(
                "`mobility` is singular in a direction that is not a short lattice direction "
                f"of this grid (mobility / (h h^T) = {Dt.tolist()}); no non-negative two-point "
                "stencil carries it. Rotate the coordinates so that the noiseless directions "
                "are grid axes."
            )
    keep = w > 0
    e, w = e[keep], w[keep]
    first = e[np.arange(len(e)), np.argmax(e != 0, axis=1)]
    return e * np.where(first < 0, -1, 1)[:, None], w


def _face_positions(grid: Grid, k: int) -> np.ndarray:
    """Positions of the cell faces along axis ``k`` (``n`` of them if periodic, else ``n + 1``)."""
    e = np.asarray(grid.edges[k], dtype=float)
    return e[:-1] if grid.periodic[k] else e


def _hinge_log_rho(sde: SDE, grid: Grid, k: int, l: int, T: float) -> np.ndarray:
    """``-H / T`` at the hinges of the ``(k, l)`` plane (faces along ``k`` and ``l``,
    centres along the other axes); ``-inf`` on reflecting walls."""
    axes = [np.asarray(c, dtype=float) for c in grid.centers]
    axes[k], axes[l] = _face_positions(grid, k), _face_positions(grid, l)
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    lh = -sde.loss(pts) / T
    for a in (k, l):
        if grid.periodic[a]:
            continue
        lo, hi = grid.boundary[a]
        idx: list[int | slice] = [slice(None)] * grid.ndim
        if lo == "reflecting":
            idx[a] = 0
            lh[tuple(idx)] = -np.inf
        if hi == "reflecting":
            idx[a] = -1
            lh[tuple(idx)] = -np.inf
    return lh


def _face_rates(sde: SDE, grid: Grid, k: int, Q: np.ndarray, T: float, lc: np.ndarray,
                hinges: dict[tuple[int, int], np.ndarray], tail_idx: np.ndarray,
                head_idx: np.ndarray, face_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c_f / rho_tail`` and ``c_f / rho_head`` on the faces along axis ``k``.

    ``tail_idx``, ``head_idx``: cell indices along ``k`` of the two sides (``-1``: no
    cell, an absorbing wall), ``face_idx``: the face index along ``k``. Arrays have the
    grid's shape with axis ``k`` of the faces' length. ``hinges``: the hinge values of
    each plane ``(k, l)``, ``k < l``, filled on first use.
    """
    h = np.asarray(grid.spacing)
    shape = list(grid.shape)
    shape[k] = len(face_idx)
    r_t, r_h = np.zeros(shape), np.zeros(shape)
    lt = np.take(lc, np.maximum(tail_idx, 0), axis=k)
    lhd = np.take(lc, np.maximum(head_idx, 0), axis=k)
    for l in range(grid.ndim):
        if l == k or Q[k, l] == 0:
            continue
        pair = (min(k, l), max(k, l))  # the (k, l) and (l, k) hinges are the same points
        if pair not in hinges:
            hinges[pair] = _hinge_log_rho(sde, grid, k, l, T)
        lh = np.take(hinges[pair], face_idx, axis=k)
        n_l = grid.shape[l]
        plus = np.take(lh, (np.arange(n_l) + 1) % lh.shape[l], axis=l)
        minus = np.take(lh, np.arange(n_l), axis=l)
        coef = T * Q[k, l] / (h[k] * h[l])
        with np.errstate(over="ignore"):
            r_t += coef * (np.exp(plus - lt) - np.exp(minus - lt))
            r_h += coef * (np.exp(plus - lhd) - np.exp(minus - lhd))
    return r_t, r_h


def structured_fluxes(sde: SDE, grid: Grid, scheme: str = "sg", conductance: str = "sg") -> TwoPointFluxes:
    """Fluxes of ``-(M + Q) grad H`` drifts that keep ``exp(-H/T)`` exactly stationary.

    Parameters
    ----------
    sde : SDE
        With ``sde.structure`` not ``None`` (see :attr:`fokkerplanck.SDE.structure`).
    grid : Grid
    scheme : {"sg", "sg2"}
        How ``u = p exp(H/T)`` is taken on a face for the antisymmetric flux:
        ``"sg"`` central where the diffusion on the face keeps the off-diagonals
        non-negative, upwind-blended elsewhere (monotone); ``"sg2"`` the third-order
        upwind-biased value where ``"sg"`` blends (second order, not monotone).
    conductance : {"sg", "flat"}
        The weight function of the symmetric part's edges (see
        :func:`~fokkerplanck.generator`); ``exp(-H/T)`` is exact with either.

    Returns
    -------
    TwoPointFluxes

    Examples
    --------
    Kinetic Langevin in a double well: the phase-space Gibbs density is in the
    kernel to round-off, although there is no noise on the position.

    >>> import fokkerplanck as fp
    >>> T, gamma = 0.5, 1.0
    >>> sde = fp.SDE(loss=lambda z: z[..., 0]**4 / 4 - z[..., 0]**2 / 2 + z[..., 1]**2 / 2,
    ...              cov=[[0, 0], [0, 2 * T * gamma]], mobility=[[0, 0], [0, gamma]],
    ...              antisymmetric=[[0, -1], [1, 0]])
    >>> grid = fp.Grid(bounds=[(-2.5, 2.5), (-3, 3)], shape=(40, 30))
    >>> A = fp.generator(sde, grid)
    >>> p = fp.gibbs(grid, lambda z: z[..., 0]**4 / 4 - z[..., 0]**2 / 2 + z[..., 1]**2 / 2, T)
    >>> bool(abs(A @ p.ravel()).max() < 1e-12 * abs(A).max() * p.max())
    True
    """
    st = sde.structure
    assert st is not None, "structured_fluxes needs sde.structure"
    M, Q, T = st.mobility, st.antisymmetric, st.temperature
    d = grid.ndim
    h = np.asarray(grid.spacing)
    lc = (-sde.loss(grid.points()) / T).reshape(grid.shape)
    lflat = lc.ravel()
    hinges: dict[tuple[int, int], np.ndarray] = {}  # -H/T at the hinges of each plane, computed once
    no_dpsi = np.zeros(0)  # the rotational part has no edge potential
    weight_pair = fitted_pair if conductance == "flat" else bernoulli_pair
    edges = EdgeBuilder(grid)  # (edges.third, scheme "sg2": the third cell of upwind-biased faces)
    # ---- symmetric part: exact edge potentials along the stencil of T M
    offsets, weights = _stencil(T * M / np.outer(h, h))
    axis_sym: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, float]] = {}
    for e, w in zip(offsets, weights):
        tail, head, _, _ = edge_indices(grid, e, coords=False)
        if tail.size == 0:
            continue
        z = lflat[tail] - lflat[head]  # (H_j - H_i) / T
        f, b = weight_pair(z)
        if np.count_nonzero(e) == 1:
            axis_sym[int(np.argmax(e != 0))] = (w * f, w * b, np.abs(z), float(w))
            continue
        edges.add(tail, head, e, w * f, w * b, no_dpsi, np.abs(z), np.full(tail.size, w))
    # ---- antisymmetric part (+ the symmetric axis edges on the same faces)
    for k in range(d):
        n = grid.shape[k]
        e = np.eye(d, dtype=np.int64)[k]
        rotating = bool(np.any(Q[k] != 0))
        if k not in axis_sym and not rotating:
            continue
        tail, head, _, _ = edge_indices(grid, e, coords=False)
        if tail.size == 0:
            continue
        if k in axis_sym:
            fs, bs, zs, w = axis_sym[k]
        else:
            fs = bs = zs = np.zeros(tail.size)
            w = 0.0
        fa = ba = np.zeros(tail.size)
        if rotating:
            s = np.arange(n if grid.periodic[k] else n - 1)
            r_t, r_h = _face_rates(sde, grid, k, Q, T, lc, hinges, s, (s + 1) % n, (s + 1) % len(_face_positions(grid, k)))
            r_t, r_h = r_t.ravel(), r_h.ravel()
            up = r_t >= 0  # c_f >= 0: flows tail -> head
            # the most central blend that keeps both off-diagonals >= 0
            with np.errstate(divide="ignore", invalid="ignore"):
                need = np.where(up, 1 - 2 * bs / np.abs(r_h), 1 - 2 * fs / np.abs(r_t))
            theta = np.clip(np.nan_to_num(need, nan=0.0), 0.0, 1.0)
            a = 0.5 * (1 + np.where(up, theta, -theta))  # weight of u_tail
            fa, ba = r_t * a, -r_h * (1 - a)
            if scheme == "sg2":  # upwind-biased third-order u where the blend is not central
                fa, ba = _kappa(grid, k, s, up, theta, r_t, r_h, fa, ba, lc, edges.third, edges.size)
        f_tot, b_tot = fs + fa, bs + ba
        if scheme == "sg":  # at the blend's bound one of them is 0 up to round-off
            f_tot, b_tot = np.maximum(f_tot, 0.0), np.maximum(b_tot, 0.0)
        edges.add(tail, head, e, f_tot, b_tot, no_dpsi, zs, np.broadcast_to(w, tail.size))
    # ---- absorbing walls: half-edges to p = 0 on the wall
    for k in range(d):
        for side, kind in zip((-1, 1), grid.boundary[k]):
            if kind != "absorbing":
                continue
            n = grid.shape[k]
            cell = np.array([0 if side < 0 else n - 1])
            idx = [np.arange(m) for m in grid.shape]
            idx[k] = cell
            tail, x = block(grid, idx), block_centres(grid, idx)
            e = np.zeros(d, dtype=np.int64)
            e[k] = side
            out = np.zeros(tail.size)
            W = T * M[k, k] / h[k] ** 2
            if W > 0:
                z = (sde.loss(x + 0.5 * e * h) - sde.loss(x)) / T
                out += 2 * W * weight_pair(z)[0]
            if np.any(Q[k] != 0):
                face = np.array([0 if side < 0 else len(_face_positions(grid, k)) - 1])
                r_t, _ = _face_rates(sde, grid, k, Q, T, lc, hinges, cell, cell, face)
                out += np.maximum(side * r_t.ravel(), 0.0)
            edges.add(tail, np.full(tail.size, -1), e, out, np.zeros(tail.size), no_dpsi, np.zeros(tail.size),
                      np.full(tail.size, W))
    longest = int(np.abs(offsets).max()) if len(offsets) else 1
    # scheme "sg2": three-point faces, a general flux matrix (forward/backward: the two-point part)
    return edges.build(grid, scheme, longest, potential=False, general=scheme == "sg2", conductance=conductance)


def _kappa(grid: Grid, k: int, s: np.ndarray, up: np.ndarray, theta: np.ndarray, r_t: np.ndarray,
           r_h: np.ndarray, fa: np.ndarray, ba: np.ndarray, lc: np.ndarray, corr: list[Triplets], start: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Scheme ``"sg2"``: on faces whose monotone blend is not central (``theta > 0``) take
    ``u_f = 5/6 u_up + 1/3 u_down - 1/6 u_upup`` (the kappa = 1/3 upwind-biased
    reconstruction: third order, dissipative, no odd-even modes); the weights sum to 1,
    so ``u = 1`` still gives the flux ``c_f`` and ``exp(-H/T)`` stays exact. Faces whose
    upwind-upwind cell lies beyond a wall keep the blend. Appends the third cell's
    coefficients to ``corr``; returns the new two-point coefficients."""
    n = grid.shape[k]
    shape = list(grid.shape)
    shape[k] = s.size
    bc = [1] * grid.ndim
    bc[k] = s.size
    sk = np.broadcast_to(s.reshape(bc), shape).ravel()
    far = np.where(up, sk - 1, sk + 2)
    if grid.periodic[k]:
        ok = theta > 0
        far = far % n
    else:
        ok = (theta > 0) & (far >= 0) & (far < n)
        far = np.clip(far, 0, n - 1)
    # flat index of the upwind-upwind cell: the face's tail cell moved along axis k
    rest = np.unravel_index(np.arange(sk.size), shape)
    multi = list(rest)
    multi[k] = far
    far_flat = np.ravel_multi_index(tuple(multi), grid.shape)
    lt = lc.ravel()[np.ravel_multi_index(tuple(rest[:k]) + (sk,) + tuple(rest[k + 1:]), grid.shape)]
    lh = lc.ravel()[np.ravel_multi_index(tuple(rest[:k]) + ((sk + 1) % n,) + tuple(rest[k + 1:]), grid.shape)]
    lf = lc.ravel()[far_flat]
    w_up, w_down, w_far = 5.0 / 6.0, 1.0 / 3.0, -1.0 / 6.0
    a_t = np.where(up, w_up, w_down)  # weight of u_tail, u_head
    a_h = np.where(up, w_down, w_up)
    fa = np.where(ok, r_t * a_t, fa)
    ba = np.where(ok, -r_h * a_h, ba)
    # c / rho_far = r_t rho_tail / rho_far (up) or r_h rho_head / rho_far (down)
    with np.errstate(over="ignore"):
        c_far = np.where(up, r_t * np.exp(lt - lf), r_h * np.exp(lh - lf))
    e = np.flatnonzero(ok)
    corr.append(Triplets(start + e, far_flat[e], w_far * c_far[e]))
    return fa, ba
