"""Small linear-algebra kernels shared by the solvers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["factorize", "has_pyamg", "is_metzler", "off_diagonal", "one_blas_thread", "pinned", "psd_factor", "psd_pinv", "rows_times", "sym_eigh", "unique_rows"]

#: Problems below this many cells skip :func:`one_blas_thread` (its few ms would show).
ONE_THREAD_FROM = 4096

_controller: Any = None


@contextmanager
def one_blas_thread(cells: int = ONE_THREAD_FROM) -> Iterator[None]:
    """Run the enclosed solve with one BLAS thread (when ``threadpoolctl`` is installed).

    The solvers' BLAS calls are many and small (GMRES's Arnoldi steps, AMG's coarse
    solve, the batched frontal updates of GTH). On a machine shared with other work a
    threaded BLAS pool spends more time waiting for its threads than computing:
    measured on 2 cores at load 9-11, AMG-GMRES on a 128^2 periodic problem took 7.9 s
    with the default pool and 0.5 s with one thread, and the GTH elimination that
    followed 26 s and 1.9 s. Problems under ``cells`` cells are left alone.
    """
    global _controller
    if cells < ONE_THREAD_FROM:
        yield
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional dependency
        yield
        return
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


def has_pyamg() -> bool:
    """Whether pyamg (the optional extra ``fokkerplanck[amg]``) is installed, without
    importing it."""
    import importlib.util

    return importlib.util.find_spec("pyamg") is not None


def factorize(M: sp.spmatrix) -> Any:
    """SuperLU factorization with the ``MMD_AT_PLUS_A`` ordering.

    The generator and ``I - c A`` are structurally symmetric, so minimum degree on
    ``A + A^T`` suits them (it halved fill and time against COLAMD at 512^2), and
    they are column diagonally dominant (zero column sums, non-negative
    off-diagonals), so partial pivoting keeps the diagonal and the ordering holds.
    """
    return spla.splu(sp.csc_matrix(M), permc_spec="MMD_AT_PLUS_A")


def rows_times(v: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``v @ M.T`` for many short rows ``v`` ``(..., d)``, ``d <= 4``, without BLAS.

    A thin product like this goes to threaded BLAS, whose threads cost 20-100x the
    arithmetic on a busy machine (measured: 2-5 ms vs 60-250 ms at 512^2 cells);
    a loop over the ``d`` columns is as fast when idle and predictable when not.
    """
    out = v[..., :1] * M[:, 0]
    for j in range(1, M.shape[1]):
        out = out + v[..., j:j + 1] * M[:, j]
    return out


def psd_factor(c: np.ndarray) -> np.ndarray:
    """``S`` with ``S S^T = c`` for positive semi-definite ``c`` ``(..., d, d)``.

    The Cholesky factor when every matrix is definite, else the symmetric square
    root ``V sqrt(max(w, 0)) V^T`` from ``eigh`` (for rank-deficient noise: a
    degenerate direction gets no noise). Either way ``S`` is ``(..., d, d)``.
    """
    c = np.asarray(c, dtype=float)
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(c)
        return (V * np.sqrt(np.maximum(w, 0.0))[..., None, :]) @ np.swapaxes(V, -1, -2)


#: Batches of symmetric 2 x 2 matrices from this many on are decomposed in closed form
#: (:func:`sym_eigh`): LAPACK's batched ``eigh`` costs about 1 microsecond per matrix
#: (0.25 s for the 262144 midpoints of a 512^2 grid, ten times per assembly with a
#: state-dependent covariance: 3.5 s of it).
CLOSED_FORM_FROM = 64


def sym_eigh(c: np.ndarray, vectors: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``np.linalg.eigh`` of symmetric ``c`` ``(..., d, d)`` (ascending ``w``, columns of
    ``V``), in closed form for many ``2 x 2`` matrices.

    With ``c = m I + r [[cos 2t, sin 2t], [sin 2t, -cos 2t]]``: ``w = m -+ r``,
    ``V = [[-sin t, cos t], [cos t, sin t]]``; the eigenvalues carry an absolute error
    of a few ``eps`` times the larger, as LAPACK's do. ``V`` is ``None`` unless
    ``vectors``.

    >>> import numpy as np
    >>> from fokkerplanck._util.linalg import sym_eigh
    >>> c = np.random.default_rng(0).normal(size=(100, 2, 2)); c = c + np.swapaxes(c, -1, -2)
    >>> w, V = sym_eigh(c)
    >>> bool(np.allclose(V @ (w[..., None] * np.swapaxes(V, -1, -2)), c, atol=1e-13))
    True
    >>> bool(np.allclose(w, np.linalg.eigvalsh(c), atol=1e-13))
    True
    """
    c = np.asarray(c, dtype=float)
    if c.shape[-1] != 2 or c.ndim < 3 or c[..., 0, 0].size < CLOSED_FORM_FROM:
        if vectors:
            return np.linalg.eigh(c)
        return np.linalg.eigvalsh(c), None
    a, b, d = c[..., 0, 0], 0.5 * (c[..., 0, 1] + c[..., 1, 0]), c[..., 1, 1]
    m, half = 0.5 * (a + d), 0.5 * (a - d)
    r = np.hypot(half, b)
    w = np.stack([m - r, m + r], axis=-1)
    if not vectors:
        return w, None
    t = 0.5 * np.arctan2(b, half)
    cos, sin = np.cos(t), np.sin(t)
    V = np.empty(c.shape)
    V[..., 0, 0], V[..., 0, 1], V[..., 1, 0], V[..., 1, 1] = -sin, cos, cos, sin
    return w, V


def psd_pinv(D: np.ndarray, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-inverse of symmetric PSD ``D`` ``(..., d, d)`` and the projector on its kernel.

    Eigenvalues below ``rtol`` times the largest one of the same matrix count as
    zero. Returns ``(D^+, P0)`` with ``D D^+ = I - P0``: ``D^+ b`` is the part of a
    drift ``b`` that diffusion can carry, ``P0 b`` the part it cannot.
    """
    D = np.asarray(D, dtype=float)
    w, V = sym_eigh(D)
    assert V is not None
    cut = rtol * np.maximum(w[..., -1:], 0.0)
    nz = w > np.maximum(cut, 1e-300)
    inv = np.where(nz, 1.0 / np.where(nz, w, 1.0), 0.0)
    if D.shape[-1] == 2 and D.ndim >= 3:   # entry by entry: batched 2 x 2 matmuls cost 2x more
        return _outer_sum(V, inv), _outer_sum(V, (~nz).astype(float))
    Vt = np.swapaxes(V, -1, -2)
    return (V * inv[..., None, :]) @ Vt, (V * (~nz)[..., None, :]) @ Vt


def _outer_sum(V: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``V diag(s) V^T`` for a batch of ``2 x 2`` ``V``, entry by entry (symmetric)."""
    out = np.empty(V.shape)
    for i, j in ((0, 0), (0, 1), (1, 1)):
        out[..., i, j] = V[..., i, 0] * s[..., 0] * V[..., j, 0] + V[..., i, 1] * s[..., 1] * V[..., j, 1]
    out[..., 1, 0] = out[..., 0, 1]
    return out


def is_metzler(A: sp.spmatrix) -> bool:
    """Whether every off-diagonal entry of ``A`` is ``>= 0`` (a Markov generator's sign
    pattern, which the subtraction-free solvers and the certificate need)."""
    W = sp.coo_matrix(A)
    return bool(np.all(W.data[W.row != W.col] >= 0))


def off_diagonal(A: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(W, c)``: the off-diagonal part of ``A`` and its column sums (outflow rates)."""
    A = sp.csr_matrix(A)
    W = (A - sp.diags(A.diagonal())).tocsr()
    W.eliminate_zeros()
    return W, np.asarray(W.sum(axis=0)).ravel()


def outflow(A: sp.spmatrix) -> np.ndarray:
    """The column sums of ``A``'s off-diagonal entries (the rates out of each state), as
    :func:`off_diagonal` gives them, without a copy of the matrix."""
    A = sp.csr_matrix(A)
    off = A.indices != _rows(A)
    return np.bincount(A.indices[off], A.data[off], minlength=A.shape[1])


def _rows(A: sp.csr_matrix) -> np.ndarray:
    """The row of every stored entry of a CSR matrix (in ``A.indices``' dtype)."""
    return np.repeat(np.arange(A.shape[0], dtype=A.indices.dtype), np.diff(A.indptr))


def pinned(A: sp.spmatrix, k: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """``A x = 0`` with ``x_k = 1``: ``(A_r, b, keep)``, the rows and columns other than
    ``k``, the right-hand side ``-A[keep, k]`` and the mask of the other cells."""
    keep = np.ones(A.shape[0], dtype=bool)
    keep[k] = False
    Ak = sp.csr_matrix(A)[keep]
    return Ak[:, keep].tocsr(), -Ak[:, [k]].toarray().ravel(), keep


def scaled_pinned(A: sp.csr_matrix, s: np.ndarray, g: np.ndarray, k: int
                  ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """:func:`pinned` of ``M = I - diag(s) W diag(g)``, ``W`` the off-diagonal part of ``A``.

    Written over ``A``'s CSR arrays where ``A`` is canonical and stores every diagonal
    entry (the package's generators): no intermediate matrix, where the sparse
    arithmetic ``pinned(I - diags(s) @ W @ diags(g), k)`` makes four (0.35 GB each at
    128^3 with a full covariance). The same entries to the last bit (each off-diagonal
    is ``-((s_i W_ij) g_j)``, as the products round; entries that round to zero dropped,
    as the sparse difference drops them); otherwise by that arithmetic. Row ``k`` is one
    slice of the arrays and column ``k`` a few entries, so they are dropped by one mask
    (measured at 96^3 with a full covariance, 11.3M entries: 0.11 s against 0.18-0.21 s
    for a mask built from five whole-array comparisons).

    >>> import numpy as np, scipy.sparse as sp
    >>> from fokkerplanck._util.linalg import scaled_pinned
    >>> A = sp.csr_matrix([[-1.0, 2.0, 0.0], [1.0, -3.0, 4.0], [0.0, 1.0, -4.0]])
    >>> Mr, b, keep = scaled_pinned(A, np.array([1.0, 1 / 3, 1 / 4]), np.ones(3), 1)
    >>> Mr.toarray().tolist(), b.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [2.0, 0.25])
    """
    n = A.shape[0]
    A = sp.csr_matrix(A)
    indptr, indices = A.indptr, A.indices
    counts = np.diff(indptr)
    diag = np.flatnonzero(indices == _rows(A))
    if not A.has_canonical_format or diag.size != n:
        return pinned(sp.identity(n, format="csr") - sp.diags(s) @ off_diagonal(A)[0] @ sp.diags(g), k)
    vals = np.repeat(np.asarray(s, dtype=float), counts)
    vals *= A.data
    vals *= np.asarray(g, dtype=float)[indices]
    np.negative(vals, out=vals)
    vals[diag] = 1.0
    del diag
    at_k = np.flatnonzero(indices == k)                      # column k, its diagonal included
    rows_k = np.searchsorted(indptr, at_k, side="right") - 1
    off = rows_k != k
    b = np.zeros(n)
    b[rows_k[off]] = -vals[at_k[off]]
    take = np.ones(vals.size, dtype=bool)
    take[indptr[k]:indptr[k + 1]] = False                    # row k
    take[at_k] = False
    np.subtract.at(counts, rows_k[off], 1)   # (counts is np.diff's own array)
    if np.count_nonzero(vals) != vals.size:                  # entries that round to zero
        zero = vals == 0
        np.subtract.at(counts, _rows(A)[zero & take], 1)
        take &= ~zero
    vals, cols = vals[take], indices[take]
    del take
    np.subtract(cols, 1, out=cols, where=cols > k)
    keep = np.ones(n, dtype=bool)
    keep[k] = False
    new_indptr = np.zeros(n, dtype=indptr.dtype)
    np.cumsum(counts[keep], out=new_indptr[1:])
    Mr = sp.csr_matrix((vals, cols, new_indptr), shape=(n - 1, n - 1))
    Mr.has_canonical_format = True
    return Mr, b[keep], keep


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` for a tall 2-D array with few
    distinct rows (edge vectors, stencil offsets), with the inverse flattened.

    Each row is keyed by one dot product with fixed weights and the keys are sorted as
    a 1-D array; the answer is then checked exactly (``rows[inverse] == a``) and the
    general ``np.unique`` answers where two rows shared a key. Measured on the 520k edge
    vectors of a 512^2 grid: 0.07 s against 1.1 s.

    >>> import numpy as np
    >>> from fokkerplanck._util.linalg import unique_rows
    >>> rows, inverse = unique_rows(np.array([[0, 1], [1, 0], [0, 1]]))
    >>> rows.tolist(), inverse.tolist()
    ([[0, 1], [1, 0]], [0, 1, 0])
    """
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        rows, inverse = np.unique(a, axis=0, return_inverse=True)
        return rows, inverse.ravel()
    weights = np.sqrt(np.arange(2, a.shape[1] + 2))      # rationally independent
    _, first, key_inverse = np.unique(a.astype(float) @ weights, return_index=True, return_inverse=True)
    rows = a[first]
    if not np.array_equal(rows[key_inverse], a):          # two rows shared a key
        rows, inverse = np.unique(a, axis=0, return_inverse=True)
        return rows, inverse.ravel()
    order = np.lexsort(rows.T[::-1])                      # np.unique's (lexicographic) order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rows[order], rank[key_inverse.ravel()]
