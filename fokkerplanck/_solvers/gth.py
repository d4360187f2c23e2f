"""Subtraction-free (GTH) elimination for Markov generators and sub-generators.

A generator ``A`` (``dp/dt = A p``) has non-negative off-diagonal rates
``W = offdiag(A)`` and columns that sum to ``-leak`` (``leak = 0`` for a
generator; ``leak >= 0`` is the rate of absorption, e.g. through an absorbing
wall, for a sub-generator). Gaussian elimination on ``A`` computes each pivot as a
difference ``a_kk - (...)`` of nearly equal numbers when the chain is
metastable: the pivot, and everything after it, loses ``log10(1/gap)`` digits.
The Grassmann–Taksar–Heyman (GTH, 1985) variant never forms that difference: the
pivot of cell ``k`` is recomputed as the sum of the (updated, non-negative) rates
out of ``k`` plus its (updated) leak, and every update adds a product of
non-negative numbers. Every quantity is then a sum of non-negative terms, so
each carries a relative error of a few ``eps`` per operation, whatever the
spectral gap: O'Cinneide (1993) shows that the stationary vector is computed with
*entrywise* relative error ``O(n eps)`` — a cell with density ``1e-200`` gets
its leading digits right — and that relative perturbations of size ``eps`` of the
rates move every entry of ``p`` by at most ``O(n eps)`` relatively.

Elimination order: nested dissection of the grid
-------------------------------------------------
On a structured grid the cells are split recursively by separator slabs (one
cell thick per cell of stencil reach; the first cut of a periodic axis is the
slab at index 0). Cells are eliminated from the leaves of the dissection tree
up, one *round* per tree height: the groups of a round (leaf boxes, or the
separators of boxes of equal height) are never adjacent, so a round eliminates
all of them at once with a batched dense GTH on their frontal matrices
(``group cells + the cells they touch``), without a Python loop over cells or
groups. The Schur complement of each group on its boundary (its *update
matrix*, the stochastic complement of the group) is added into its parent's
frontal matrix, as in a multifrontal factorization. Inside a frontal matrix the
pivots are taken in panels: a short loop over the pivots of a panel updates the
panel, and one batched matrix product of non-negative factors updates the
rest. Fill and work are those of nested dissection: ``O(n log n)`` and
``O(n^1.5)`` in 2-D.

The factorization gives, without one subtraction:

* :meth:`Elimination.null_vector`: ``A p = 0``, ``p > 0`` (a generator);
* :meth:`Elimination.solve`: ``M x = b`` for ``b >= 0``, ``M = -A`` a
  non-singular M-matrix (a sub-generator with some leak), ``x >= 0``;
* :meth:`Elimination.reduced`: the generator reduced (stochastic complement,
  Meyer 1989) onto a kept set of cells, with entrywise relative accuracy.

References: W. K. Grassmann, M. I. Taksar, D. P. Heyman, Regenerative analysis
and steady state distributions for Markov chains, Oper. Res. 33 (1985);
C. A. O'Cinneide, Entrywise perturbation theory and error analysis for Markov
chains, Numer. Math. 65 (1993); C. D. Meyer, Stochastic complementation,
uncoupling Markov chains, and the theory of nearly reducible systems, SIAM Rev.
31 (1989); A. George, Nested dissection of a regular finite element mesh, SIAM
J. Numer. Anal. 10 (1973).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._util.linalg import one_blas_thread

__all__ = ["Elimination", "factor", "gth_null_vector"]

#: Cells per leaf box of the dissection (measured: 16 is fastest in 2-D).
LEAF = 16

#: Frontal sizes from which the trailing update goes to BLAS ``matmul``; below it a
#: batched ``einsum`` avoids one threaded BLAS call per group (measured: 20x faster
#: on a loaded machine for many small frontal matrices).
BLAS_FROM = 400

#: Frontal matrices with at least this many slots to eliminate (and more than one
#: boundary slot) are eliminated by blocks (:func:`_gth_blocked`).
BLOCKED_FROM = 8

#: Frontal matrices up to this size are eliminated with the batch index last.
SMALL = 64

#: Entries of the batch of small frontal matrices updated at once (2 MB: in cache).
SMALL_CHUNK = 2 ** 18


def _geometry(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, ...]) -> tuple[int, list[bool]]:
    """Stencil reach (cells) and periodic axes, read off the sparsity pattern."""
    ur = np.unravel_index(rows, shape)
    uc = np.unravel_index(cols, shape)
    reach, periodic = 1, []
    for k, nk in enumerate(shape):
        dd = np.abs(ur[k] - uc[k])
        wrap = dd > nk // 2
        periodic.append(bool(wrap.any()))
        dd = np.where(wrap, nk - dd, dd)
        if dd.size:
            reach = max(reach, int(dd.max()))
    return reach, periodic


def _dissection(shape: tuple[int, ...], periodic: list[bool], w: int, leaf: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nested dissection of a box grid by slabs ``w`` cells thick (read-only arrays).

    Returns the group of every cell (C order), the height of every group in the
    dissection tree (leaves 0) and its parent (-1 at the root). A loop over the
    boxes of the recursion (``~ size / leaf`` of them), not over cells. It depends on
    the geometry only, so it is cached: the density-split passes of
    :func:`~fokkerplanck.stationary` and repeated solves on one grid reuse it (measured
    at 512^2: 0.16 s of a 4.7-5.1 s elimination).
    """
    return _dissection_cached(tuple(shape), tuple(bool(p) for p in periodic), int(w), int(leaf))


@functools.lru_cache(maxsize=8)
def _dissection_cached(shape: tuple[int, ...], periodic: tuple[bool, ...], w: int, leaf: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    group = np.full(shape, -1, dtype=np.int64)
    heights: list[int] = []
    parent: list[int] = []

    def new(h: int, children: tuple[int, ...] = ()) -> int:
        heights.append(h)
        parent.append(-1)
        for c in children:
            if c >= 0:
                parent[c] = len(heights) - 1
        return len(heights) - 1

    def split(lo: list[int], hi: list[int]) -> tuple[int, int]:
        ext = [b - a for a, b in zip(lo, hi)]
        if min(ext) <= 0:
            return -1, -1
        k = ext.index(max(ext))
        if math.prod(ext) <= leaf or ext[k] < 2 * w + 1:
            g = new(0)
            group[tuple(slice(a, b) for a, b in zip(lo, hi))] = g
            return 0, g
        mid = lo[k] + (ext[k] - w) // 2
        h1, g1 = split(lo, hi[:k] + [mid] + hi[k + 1:])
        h2, g2 = split(lo[:k] + [mid + w] + lo[k + 1:], hi)
        h = max(h1, h2) + 1
        g = new(h, (g1, g2))
        sl = [slice(a, b) for a, b in zip(lo, hi)]
        sl[k] = slice(mid, mid + w)
        group[tuple(sl)] = g
        return h, g

    h, top = split([w if p else 0 for p in periodic], list(shape))
    if any(periodic):
        root = new(h + 1, (top,))
        for k, p in enumerate(periodic):
            if p:
                sl = [slice(None)] * len(shape)
                sl[k] = slice(0, w)
                sub = group[tuple(sl)]
                sub[sub < 0] = root
    out = (group.ravel(), np.array(heights), np.array(parent))
    for a in out:
        a.flags.writeable = False
    return out


def _gth_frontal(F: np.ndarray, L: np.ndarray, npiv: int) -> np.ndarray:
    """GTH elimination of the first ``npiv`` cells of a batch of frontal matrices.

    ``F[g, r, c]`` is the rate from slot ``c`` to slot ``r`` (diagonal ignored),
    ``L[g, c]`` the leak of slot ``c``. In place: afterwards ``F[:, :npiv, :]``
    and ``F[:, npiv:, :npiv]`` hold the factors, ``F[:, npiv:, npiv:]`` the rates
    of the reduced chain (Schur complement, diagonal meaningless) and
    ``L[:, npiv:]`` its leak. Returns the pivots ``(G, npiv)``: pivot ``k`` is
    the total rate out of slot ``k`` into the slots not yet eliminated, plus its
    leak — a sum, never a difference.

    Frontal matrices with at least as many boundary slots as slots to eliminate go to
    :func:`_gth_blocked` (batched matrix products: the nested dissection's fronts but
    the last); the others are eliminated pivot by pivot, in panels (the two triangular
    inverses of the blocks cost more than they save where the boundary is small:
    measured 0.24 against 0.12 s for 1000 slots with 2 boundary slots).
    """
    m = F.shape[1]
    if m <= SMALL:
        return _gth_small(F, L, npiv)
    if m - npiv >= max(npiv, 2) and npiv >= BLOCKED_FROM:   # (measured: equal at |B| = |I|)
        return _gth_blocked(F, L, npiv)
    return _gth_panels(F, L, npiv)


def _gth_blocked(F: np.ndarray, L: np.ndarray, npiv: int) -> np.ndarray:
    """:func:`_gth_frontal` by blocks: the eliminated slots ``I``, then the rest ``B`` at once.

    A pivot needs only the total rate out of its slot, so the rows of ``B`` and the leak
    enter the elimination of ``I`` as one summed row: ``I`` is eliminated (by panels) as a
    frontal matrix of ``|I| + 1`` slots, whose last slot holds that sum. With ``N`` the
    strict upper factor of ``I`` with its rows divided by the pivots, and ``K`` the strict
    lower factor with its columns divided by them, the rest follows from the elimination's
    recurrences in closed form::

        R = F_BI (1 - N)^-1,   l = L_I (1 - N)^-1,   X = (1 - K)^-1 F_IB,
        F_BB += R D^-1 X,      L_B += l D^-1 X,

    where ``R`` and ``X`` are the factors of ``B``'s rows and ``I``'s columns into ``B``
    (as the pivot-by-pivot elimination leaves them). ``N, K >= 0`` are nilpotent, so the
    inverses are non-negative, formed by :func:`_neumann_inverse` without a subtraction, and
    every product is of non-negative matrices: the elimination stays subtraction-free, in
    batched BLAS products. Measured on the periodic metastable torus at 512^2: the
    frontal eliminations took 1.6 instead of 3.2 s; the null vector agrees with the
    pivot-by-pivot one to 2e-15 relative in every cell.
    """
    G, m, _ = F.shape
    I, B = slice(0, npiv), slice(npiv, m)
    Fa = np.zeros((G, npiv + 1, npiv + 1))
    Fa[:, :npiv, :npiv] = F[:, I, I]
    Fa[:, npiv, :npiv] = F[:, B, I].sum(axis=1) + L[:, I]
    d = _gth_panels(Fa, np.zeros((G, npiv + 1)), npiv)
    N = np.triu(Fa[:, :npiv, :npiv], 1) / d[:, :, None]
    K = np.tril(Fa[:, :npiv, :npiv], -1) / d[:, None, :]
    upper_inv = _neumann_inverse(N)
    lower_inv = _neumann_inverse(K.transpose(0, 2, 1).copy()).transpose(0, 2, 1)
    R = F[:, B, I] @ upper_inv
    leak = (L[:, None, I] @ upper_inv)[:, 0]
    X = lower_inv @ F[:, I, B]
    F[:, B, B] += (R / d[:, None, :]) @ X
    L[:, B] += ((leak / d)[:, None, :] @ X)[:, 0]
    F[:, I, I] = Fa[:, :npiv, :npiv]
    F[:, I, B] = X
    F[:, B, I] = R
    return d


def _neumann_inverse(N: np.ndarray) -> np.ndarray:
    """``(1 - N)^-1 = 1 + N + N^2 + ...`` for a batch of strictly upper triangular
    ``N >= 0`` (entries on and below the diagonal must be 0), by halves: the inverse of
    ``[[1 - A, -C], [0, 1 - E]]`` has the corner ``(1 - A)^-1 C (1 - E)^-1``, a product of
    non-negative matrices; blocks of up to 16 rows are solved row by row (sums of
    non-negative products). No subtraction anywhere: entrywise relative accuracy."""
    G, n, _ = N.shape
    X = np.zeros((G, n, n))
    if n <= 16:
        for i in range(n - 1, -1, -1):
            X[:, i, i] = 1.0
            if i + 1 < n:
                X[:, i, i + 1:] = (N[:, i, None, i + 1:] @ X[:, i + 1:, i + 1:])[:, 0]
        return X
    h = n // 2
    X[:, :h, :h] = _neumann_inverse(np.ascontiguousarray(N[:, :h, :h]))
    X[:, h:, h:] = _neumann_inverse(np.ascontiguousarray(N[:, h:, h:]))
    X[:, :h, h:] = X[:, :h, :h] @ (N[:, :h, h:] @ X[:, h:, h:])
    return X


def _gth_panels(F: np.ndarray, L: np.ndarray, npiv: int) -> np.ndarray:
    """:func:`_gth_frontal` pivot by pivot: a short loop over the pivots of a panel
    updates the panel, one batched product of non-negative factors the rest."""
    G, m, _ = F.shape
    d = np.empty((G, npiv))
    nb = 16 if m < 400 else 32
    for k0 in range(0, npiv, nb):
        k1 = min(k0 + nb, npiv)
        for k in range(k0, k1):
            col = F[:, k + 1:, k]
            dk = col.sum(axis=1) + L[:, k]
            d[:, k] = dk
            f = col / dk[:, None]
            row = F[:, k, k + 1:]
            # the panel's columns, every row below k
            F[:, k + 1:, k + 1:k1] += f[:, :, None] * row[:, None, :k1 - k - 1]
            # the panel's rows, the columns right of the panel
            if k1 < m and k + 1 < k1:
                F[:, k + 1:k1, k1:] += f[:, :k1 - k - 1, None] * row[:, None, k1 - k - 1:]
            L[:, k + 1:k1] += (L[:, k] / dk)[:, None] * row[:, :k1 - k - 1]
        if k1 < m:
            left = np.ascontiguousarray(F[:, k1:, k0:k1] / d[:, None, k0:k1])
            up = np.ascontiguousarray(F[:, k0:k1, k1:])
            if m - k1 < BLAS_FROM:
                F[:, k1:, k1:] += np.einsum("gik,gkj->gij", left, up)
            else:
                F[:, k1:, k1:] += left @ up
            L[:, k1:] += np.einsum("gk,gkj->gj", L[:, k0:k1] / d[:, k0:k1], up)
    return d


def _gth_small(F: np.ndarray, L: np.ndarray, npiv: int) -> np.ndarray:
    """:func:`_gth_frontal` for many small frontal matrices: the batch index last
    (contiguous), one rank-1 update per pivot (measured 2.7x faster than the
    blocked form at 16384 frontal matrices of 28 slots), in chunks of
    :data:`SMALL_CHUNK` entries so that the update stays in cache (measured 1.7-2.6x
    faster than the whole batch at once, with the same result to the last bit)."""
    G, m, _ = F.shape
    chunk = max(1, SMALL_CHUNK // (m * m))
    d = np.empty((G, npiv))
    buf = np.empty(m * m * min(chunk, G))
    for g0 in range(0, G, chunk):
        g1 = min(G, g0 + chunk)
        Ft = np.ascontiguousarray(F[g0:g1].transpose(1, 2, 0))
        Lt = np.ascontiguousarray(L[g0:g1].T)
        for k in range(npiv):
            col = Ft[k + 1:, k]
            dk = col.sum(axis=0) + Lt[k]
            d[g0:g1, k] = dk
            row = Ft[k, k + 1:]
            r = m - k - 1
            upd = buf[:r * r * (g1 - g0)].reshape(r, r, g1 - g0)
            np.multiply((col / dk)[:, None, :], row[None, :, :], out=upd)
            Ft[k + 1:, k + 1:] += upd
            Lt[k + 1:] += (Lt[k] / dk) * row
        F[g0:g1] = Ft.transpose(2, 0, 1)
        L[g0:g1] = Lt.T
    return d


def _frontal_buckets(F: np.ndarray, L: np.ndarray, mI: int, nB: np.ndarray) -> np.ndarray:
    """:func:`_gth_frontal` on a round whose groups have ``nB[g]`` boundary cells, with
    the groups sorted into buckets of similar frontal size.

    A round's frontal matrices are padded to its largest group; near a reflecting wall
    a group has fewer boundary cells (a box in a corner about half of an interior
    one's), so one batch would spend its flops on padding. Each bucket is eliminated
    on the slots its groups use (the ``mI`` interior slots and the first ``max nB``
    boundary slots) and written back: padding slots are isolated (no rates, pivot 1),
    so the result is the same as for the padded batch, to the last bit. Measured on the
    512^2 reflecting grid: 5.2 instead of 6.5 GFlop.
    """
    G, m, _ = F.shape
    size = mI + nB
    # small fronts: the copies cost more than the padding (their time is overhead, not flops)
    if m <= SMALL or int(size.min()) * 5 >= int(size.max()) * 4:   # within 20 %: one batch
        return _gth_frontal(F, L, mI)
    quantum = max(4, int(size.max()) // 6)
    key = -(-size // quantum)
    d = np.ones((G, mI))
    for q in np.unique(key):
        idx = np.flatnonzero(key == q)
        mb = mI + int(nB[idx].max())
        Fb = F[idx, :mb, :mb]
        Lb = L[idx, :mb]
        d[idx] = _gth_frontal(Fb, Lb, mI)
        F[idx, :mb, :mb] = Fb
        L[idx, :mb] = Lb
    return d


@dataclass(eq=False)
class _Round:
    """The factors of one round of eliminations (``G`` groups, batched)."""

    cells: np.ndarray   # (nI,) cells eliminated in this round
    grp: np.ndarray     # (nI,) their group (0..G-1)
    loc: np.ndarray     # (nI,) their slot in the group's frontal matrix
    bcell: np.ndarray   # (G, mB) cell of each boundary slot (-1: padding)
    upper: np.ndarray   # (G, mI, mI + mB): rows of the eliminated slots
    lower: np.ndarray   # (G, mB, mI): boundary rows, eliminated columns
    d: np.ndarray       # (G, mI) pivots

    def forward(self, b: np.ndarray) -> np.ndarray:
        """Eliminate this round from ``b`` in place (``b`` grows at the boundary)."""
        G, mI = self.d.shape
        y = np.zeros((G, mI))
        y[self.grp, self.loc] = b[self.cells]
        yB = np.zeros(self.bcell.shape)
        for k in range(mI):
            t = y[:, k] / self.d[:, k]
            y[:, k + 1:] += self.upper[:, k + 1:, k] * t[:, None]
            yB += self.lower[:, :, k] * t[:, None]
        b[self.cells] = y[self.grp, self.loc]
        ok = self.bcell >= 0
        np.add.at(b, self.bcell[ok], yB[ok])
        return b

    def back(self, x: np.ndarray, b: np.ndarray | None) -> None:
        """Fill ``x`` on this round's cells from ``x`` on their boundary."""
        G, mI = self.d.shape
        y = np.zeros((G, mI + self.bcell.shape[1]))
        ok = self.bcell >= 0
        y[:, mI:][ok] = x[self.bcell[ok]]
        if b is not None:
            y[self.grp, self.loc] = b[self.cells]
        for k in range(mI - 1, -1, -1):
            y[:, k] = (y[:, k] + np.einsum("gc,gc->g", self.upper[:, k, k + 1:], y[:, k + 1:])) / self.d[:, k]
            if b is None and y[:, k].max() > 1e250:  # a null vector's scale is free: no overflow
                top = y[:, k].max()
                y /= top
                x /= top
        x[self.cells] = y[self.grp, self.loc]


class Elimination:
    """A subtraction-free factorization of a (sub-)generator; see :func:`factor`.

    Attributes
    ----------
    n : int
        Number of cells.
    kept : ndarray of int
        Cells not eliminated (``keep``, or the one cell that carries the scale of
        the null vector).
    fill : int
        Stored factor entries (padding included), comparable with ``L.nnz + U.nnz``
        of an LU factorization.
    seconds : float
        Wall time of the factorization.
    closed_classes : int
        Number of closed communicating classes of the chain (1 for an irreducible
        one; cells outside it are transient and get ``p = 0``). Several: the
        stationary density is not unique and :meth:`null_vector` raises.
    """

    def __init__(self, n: int, rounds: list[_Round], kept: np.ndarray, Wk: np.ndarray,
                 leak_k: np.ndarray, seconds: float, closed: int = 1, singular: bool = False) -> None:
        self.n = n
        self._singular = singular
        self.closed_classes = closed
        self._rounds = rounds
        self.kept = kept
        self._Wk = Wk
        self._leak_k = leak_k
        self.fill = int(sum(r.upper.size + r.lower.size for r in rounds))
        self.seconds = seconds
        self._last: _Round | None = None

    def reduced(self) -> tuple[np.ndarray, np.ndarray]:
        """The generator reduced onto the kept cells (stochastic complement).

        Returns
        -------
        A_kept : ndarray ``(k, k)``
            Off-diagonal ``[i, j]``: rate from kept cell ``j`` to kept cell ``i``
            of the chain watched only while it sits in kept cells (every path
            through eliminated cells summed, none of them subtracted). Diagonal:
            ``-(sum of the column's off-diagonals + leak)``.
        leak_kept : ndarray ``(k,)``
            Rate of absorption from each kept cell (0 for a generator).

        Examples
        --------
        Two wells joined by a saddle cell: reduced onto one cell per well, the chain is a
        two-state chain of escape rates (the rate up to the saddle times the chance 1/2
        of falling off on the other side), to the last digit:

        >>> import numpy as np, scipy.sparse as sp
        >>> from fokkerplanck._solvers.gth import factor
        >>> W = np.zeros((3, 3)); W[1, 0], W[0, 1] = 1e-20, 1.0; W[1, 2], W[2, 1] = 2e-20, 1.0
        >>> A_kept, _ = factor(sp.csr_matrix(W), keep=[0, 2]).reduced()
        >>> bool(np.all(A_kept == [[-5e-21, 1e-20], [5e-21, -1e-20]]))
        True
        """
        A = self._Wk.copy()
        np.fill_diagonal(A, 0.0)
        A[np.diag_indices_from(A)] = -(A.sum(axis=0) + self._leak_k)
        return A, self._leak_k.copy()

    def null_vector(self) -> np.ndarray:
        """``p >= 0`` with ``A p = 0``, ``sum(p) = 1``, entrywise relative accuracy ``O(n eps)``.

        Raises
        ------
        ValueError
            The chain has several closed classes (parts that exchange no mass): the
            null space has more than one dimension.
        FloatingPointError
            The density or the rates span more than the range of doubles.
        """
        if self.closed_classes != 1:
            raise ValueError(
                f"The chain has {self.closed_classes} closed classes (parts that exchange no "
                "mass with each other): its stationary density is not unique."
            )
        k = self.kept.size
        if k == 1:
            pk = np.ones(1)
        else:
            pk = gth_null_vector(self._Wk, self._leak_k)
        x = np.zeros(self.n)
        x[self.kept] = pk / pk.max()
        with np.errstate(all="ignore"):  # non-finite values are reported below
            for rnd in reversed(self._rounds):
                rnd.back(x, None)
            x = x / x.sum()
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(
                "GTH: the null vector over- or underflowed: some rates, or the density, span "
                "more than the 1e-308..1e308 range of doubles (a cell Peclet number above ~700)."
            )
        return x

    def _last_round(self) -> _Round:
        """The dense elimination of the kept cells, computed on the first solve and kept
        (a solve per right-hand side used to redo it: ``k^3`` flops each time)."""
        if self._last is None:
            k = self.kept.size
            Wk = self._Wk.copy()
            np.fill_diagonal(Wk, 0.0)
            F, L = Wk[None].copy(), self._leak_k[None].copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                d = _gth_frontal(F, L, k)
            if self._singular or not np.all(d > 0):
                raise ValueError(
                    "-A is singular: no leak reaches some cells (a generator, or a closed "
                    "set of cells without absorption); solve needs a sub-generator."
                )
            self._last = _Round(self.kept, np.zeros(k, dtype=np.int64), np.arange(k),
                                np.zeros((1, 0), np.int64), F[:, :k, :], F[:, k:, :k], d)
        return self._last

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``x >= 0`` with ``-A x = b`` for ``b >= 0`` (``A`` must leak somewhere).

        Raises
        ------
        ValueError
            ``b`` has negative entries, or ``-A`` is singular (no leak reaches the
            kept cells: a generator, or a closed class without absorption).
        """
        b = np.array(b, dtype=float).ravel()
        if b.shape != (self.n,):
            raise ValueError(f"`b` must have {self.n} entries, got {b.size}.")
        if np.any(b < 0) or not np.all(np.isfinite(b)):
            raise ValueError("`b` must be finite and >= 0 (the solve is subtraction-free only then).")
        last = self._last_round()
        for rnd in self._rounds:
            rnd.forward(b)
        last.forward(b)
        x = np.zeros(self.n)
        last.back(x, b)
        for rnd in reversed(self._rounds):
            rnd.back(x, b)
        return x


def gth_null_vector(W: np.ndarray, leak: np.ndarray | None = None) -> np.ndarray:
    """Null vector of a small dense generator by plain GTH (last cell kept).

    ``W[i, j]``: rate from ``j`` to ``i`` (diagonal ignored); ``leak`` is added to
    the pivots (0 for a generator). Returns ``p`` with ``sum(p) = 1``.

    Examples
    --------
    >>> from fokkerplanck._solvers.gth import gth_null_vector
    >>> gth_null_vector([[0, 2.0], [1e-30, 0]])      # 1 -> 0 at rate 2, 0 -> 1 at 1e-30
    array([1.e+00, 5.e-31])
    """
    W = np.array(W, dtype=float)
    m = W.shape[0]
    np.fill_diagonal(W, 0.0)
    L = np.zeros(m) if leak is None else np.array(leak, dtype=float)
    F = W[None]
    d = _gth_frontal(F, L[None], m - 1)
    y = np.zeros(m)
    y[-1] = 1.0
    for k in range(m - 2, -1, -1):
        y[k] = F[0, k, k + 1:] @ y[k + 1:] / d[0, k]
    return y / y.sum()


def factor(A: sp.spmatrix, *, leak: np.ndarray | None = None, keep: np.ndarray | None = None,
           shape: tuple[int, ...] | None = None) -> Elimination:
    """Subtraction-free (GTH) factorization of a generator or sub-generator.

    Parameters
    ----------
    A : sparse ``(n, n)``
        Generator (``dp/dt = A p``): off-diagonals ``>= 0``. Its diagonal is never
        read: each pivot is recomputed from the off-diagonals and ``leak``.
    leak : array ``(n,)``, optional
        Rate of absorption out of each cell (``>= 0``), i.e. ``-(column sums of A)``
        computed without cancellation (e.g. the rates through absorbing walls).
        ``None``: 0, ``A`` is a generator.
    keep : int array, optional
        Cells not to eliminate; :meth:`Elimination.reduced` then gives the
        generator reduced onto them. ``None``: all cells but one are eliminated.
    shape : tuple of int, optional
        The grid shape (C order) that orders the elimination (nested dissection).
        ``None``: a 1-D chain of ``n`` cells (correct for any ``A``, efficient for
        banded ones).

    Returns
    -------
    Elimination
        With ``.null_vector()``, ``.solve(b)`` and ``.reduced()``.

    Examples
    --------
    A two-well chain whose barrier makes ordinary LU lose every digit of the
    small well's mass; GTH gets it to round-off:

    >>> import numpy as np, scipy.sparse as sp
    >>> from fokkerplanck._solvers.gth import factor
    >>> x = np.linspace(-1.6, 1.6, 200); V = (x**2 - 1)**2 + 0.1 * x
    >>> T = 0.02                                    # barrier / T = 50
    >>> up, down = np.exp(-np.diff(V) / (2 * T)), np.exp(np.diff(V) / (2 * T))
    >>> A = sp.diags([up, down], [-1, 1]).tocsr()   # rates j -> j+1 (below), j+1 -> j (above)
    >>> p = factor(A).null_vector()                 # the diagonal of A is never read
    >>> gibbs = np.exp(-(V - V.min()) / T); gibbs /= gibbs.sum()
    >>> float(gibbs.min()) < 1e-40, bool(np.max(np.abs(p - gibbs) / gibbs) < 1e-12)
    (True, True)
    """
    t0 = time.perf_counter()
    if not sp.issparse(A):
        A = sp.csr_matrix(np.asarray(A, dtype=float))
    n = A.shape[0]
    if A.shape != (n, n):
        raise ValueError(f"`A` must be square, got shape {A.shape}.")
    C = sp.coo_matrix(A)
    off = (C.row != C.col) & (C.data != 0)
    r0, c0, v0 = C.row[off].astype(np.int64), C.col[off].astype(np.int64), C.data[off].astype(float)
    if np.any(v0 < 0) or not np.all(np.isfinite(v0)):
        raise ValueError("`A` must have finite, non-negative off-diagonal rates (a Markov generator).")
    leak = np.zeros(n) if leak is None else np.array(leak, dtype=float).ravel()
    if leak.shape != (n,) or np.any(leak < 0) or not np.all(np.isfinite(leak)):
        raise ValueError(f"`leak` must hold {n} finite numbers >= 0.")
    shape = (n,) if shape is None else tuple(int(s) for s in shape)
    if int(np.prod(shape)) != n:
        raise ValueError(f"`shape` {shape} has {int(np.prod(shape))} cells, `A` has {n}.")
    reach, periodic = _geometry(r0, c0, shape)
    group, heights, parent = _dissection(shape, periodic, reach, LEAF)
    keepmask = np.zeros(n, dtype=bool)
    closed = 1
    if keep is not None:
        keepmask[np.asarray(keep, dtype=np.int64).ravel()] = True
        if not keepmask.any():
            raise ValueError("`keep` is empty; pass None to eliminate all cells but one.")
    else:
        last = int(np.flatnonzero(group == int(np.argmax(heights)))[-1])
        if not leak.any():
            # the kept cell must be recurrent: in a closed class of the chain
            labels, closed_ids = _closed_classes(r0, c0, n)
            closed = closed_ids.size
            if labels[last] not in closed_ids:
                last = int(np.flatnonzero(labels == closed_ids[0])[-1])
        keepmask[last] = True
    for _ in range(4):
        with one_blas_thread(n):
            out = _eliminate(r0, c0, v0, leak, n, group.copy(), heights, parent, keepmask)
        if out[-1] < 0 or keep is not None or leak.any():
            break
        # a pivot underflowed to 0 (rates below 1e-308 after folding): that cell holds
        # the mass, so it becomes the reference cell and the elimination is redone
        keepmask[:] = False
        keepmask[out[-1]] = True
    rounds, kept, Wk, leak_k, singular, _ = out
    return Elimination(n, rounds, kept, Wk, leak_k, time.perf_counter() - t0, closed, singular)


def _eliminate(r0: np.ndarray, c0: np.ndarray, v0: np.ndarray, leak: np.ndarray, n: int,
               group: np.ndarray, heights: np.ndarray, parent: np.ndarray, keepmask: np.ndarray
               ) -> tuple[list[_Round], np.ndarray, np.ndarray, np.ndarray, bool, int]:
    """The rounds of :func:`factor`; also the first cell with a zero pivot (-1: none)."""

    group[keepmask] = -1
    H = int(heights.max()) + 1
    tcell = np.where(group >= 0, heights[np.maximum(group, 0)], H)
    # every rate goes to the frontal matrix of its endpoint eliminated first
    own = np.minimum(tcell[r0], tcell[c0])
    o = np.argsort(own, kind="stable")
    r0, c0, v0 = r0[o], c0[o], v0[o]
    ecut = np.searchsorted(own[o], np.arange(H + 2))
    co = np.lexsort((np.arange(n), group))
    co = co[group[co] >= 0]
    g_round = np.full(heights.size, -1)
    g_pos = np.full(heights.size, -1)
    pending: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    rounds: list[_Round] = []
    singular = False  # a zero pivot: some closed set of cells has no leak
    zero_cell = -1
    gloc = np.full(n, -1, dtype=np.int64)
    lloc = np.full(n, -1, dtype=np.int64)
    for h in range(H):
        gs = np.flatnonzero(heights == h)
        G = gs.size
        g_round[gs] = h
        g_pos[gs] = np.arange(G)
        cells = co[tcell[co] == h]
        grp = g_pos[group[cells]]
        starts = np.searchsorted(grp, np.arange(G))
        loc = np.arange(cells.size) - starts[grp]
        mI = int(loc.max()) + 1 if cells.size else 1
        gloc[cells] = grp
        lloc[cells] = loc
        r, c, v = r0[ecut[h]:ecut[h + 1]], c0[ecut[h]:ecut[h + 1]], v0[ecut[h]:ecut[h + 1]]
        g = np.where(gloc[r] >= 0, gloc[r], gloc[c])
        other = np.where(gloc[r] >= 0, c, r)
        out = gloc[other] < 0
        keys = [g[out] * n + other[out]]
        kids = []
        for rr in list(pending):
            Bc, Uc, par = pending[rr]
            mine = g_round[par] == h
            if not mine.any():
                continue
            pp, Bs = g_pos[par[mine]], Bc[mine]
            kids.append((pp, Bs, Uc[mine]))
            outside = (Bs >= 0) & (gloc[np.maximum(Bs, 0)] < 0)
            keys.append(np.broadcast_to(pp[:, None], Bs.shape)[outside] * n + Bs[outside])
            if mine.all():
                del pending[rr]
            else:
                pending[rr] = (Bc[~mine], Uc[~mine], par[~mine])
        key = np.sort(np.concatenate(keys))
        key = key[np.concatenate([[True], key[1:] != key[:-1]])] if key.size else key
        kg, kcell = key // n, key % n
        kloc = np.arange(key.size) - np.searchsorted(kg, np.arange(G))[kg]
        mB = int(kloc.max()) + 1 if key.size else 0
        m = mI + mB

        def slot(x: np.ndarray, gx: np.ndarray, mI: int = mI, kloc: np.ndarray = kloc,
                 key: np.ndarray = key) -> np.ndarray:
            """Slot of cell ``x`` in the frontal matrix of group ``gx`` (this round)."""
            s = lloc[x].copy()
            o = s < 0
            s[o] = mI + kloc[np.searchsorted(key, gx[o] * n + x[o])]
            return s

        flats, wts = [(g * m + slot(r, g)) * m + slot(c, g)], [v]
        for pp, Bs, Uc in kids:
            ok = Bs >= 0
            sl = np.zeros(Bs.shape, dtype=np.int64)
            sl[ok] = slot(Bs[ok], np.broadcast_to(pp[:, None], Bs.shape)[ok])
            flats.append(((pp[:, None, None] * m + sl[:, :, None]) * m + sl[:, None, :]).ravel())
            wts.append(Uc.ravel())
        F = np.bincount(np.concatenate(flats), np.concatenate(wts), minlength=G * m * m)
        F = F.astype(float, copy=False).reshape(G, m, m)  # (bincount of nothing is int)
        L = np.zeros((G, m))
        L[:, :mI] = 1.0  # padding slots: isolated, pivot 1
        L[grp, loc] = leak[cells]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = _frontal_buckets(F, L, mI, np.bincount(kg, minlength=G))
        if not np.all(d > 0):
            singular = True
            if zero_cell < 0:
                bad = ~(d[grp, loc] > 0)
                zero_cell = int(cells[np.argmax(bad)]) if bad.any() else -1
        bcell = np.full((G, mB), -1, dtype=np.int64)
        bcell[kg, kloc] = kcell
        if mB:
            U = F[:, mI:, mI:].copy()
            U[:, np.arange(mB), np.arange(mB)] = 0.0
            pending[h] = (bcell, U, parent[gs])
            ok = bcell >= 0
            leak = leak + np.bincount(bcell[ok], L[:, mI:][ok], minlength=n)
        rounds.append(_Round(cells, grp, loc, bcell, F[:, :mI, :].copy(), F[:, mI:, :mI].copy(), d))
        gloc[cells] = -2  # eliminated
        lloc[cells] = -1
    kept = np.flatnonzero(keepmask)
    kk = np.full(n, -1, dtype=np.int64)
    kk[kept] = np.arange(kept.size)
    Wk = np.zeros((kept.size, kept.size))
    r, c, v = r0[ecut[H]:], c0[ecut[H]:], v0[ecut[H]:]
    np.add.at(Wk, (kk[r], kk[c]), v)
    for Bc, Uc, _ in pending.values():
        ok = Bc >= 0
        idx = np.where(ok, kk[np.maximum(Bc, 0)], 0)
        flat = (idx[:, :, None] * kept.size + idx[:, None, :]).ravel()
        Wk += np.bincount(flat, Uc.ravel(), minlength=kept.size ** 2).reshape(Wk.shape).astype(float)
    np.fill_diagonal(Wk, 0.0)
    return rounds, kept, Wk, leak[kept], singular, zero_cell


def _closed_classes(rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Strongly connected class of every cell and the classes nothing leaves."""
    from scipy.sparse.csgraph import connected_components

    graph = sp.csr_matrix((np.ones(rows.size), (cols, rows)), shape=(n, n))  # edge j -> i
    _, labels = connected_components(graph, directed=True, connection="strong")
    leaves = np.zeros(labels.max() + 1, dtype=bool)
    leaves[labels[cols[labels[cols] != labels[rows]]]] = True
    return labels, np.flatnonzero(~leaves)
