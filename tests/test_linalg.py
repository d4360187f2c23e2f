"""Small kernels of ``fokkerplanck._util.linalg`` against NumPy's general answers."""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from fokkerplanck._util.linalg import outflow, pinned, scaled_pinned, unique_rows


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 200), st.integers(0, 2**32 - 1), st.booleans())
def test_unique_rows_is_numpys_unique(ncols, nrows, seed, integer):
    rng = np.random.default_rng(seed)
    pool = rng.integers(-3, 4, size=(5, ncols))            # few distinct rows, as edge vectors
    a = pool[rng.integers(0, 5, nrows)]
    if not integer:
        a = a * 0.0125
    rows, inverse = unique_rows(a)
    ref_rows, ref_inverse = np.unique(a, axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(inverse, ref_inverse.ravel())


def test_unique_rows_with_colliding_keys_falls_back_to_numpy():
    # the rows are keyed by a dot product with (sqrt 2, sqrt 3): (sqrt 3, 0) and
    # (0, sqrt 2) are distinct rows with the same key, so the exact check must catch it
    w = np.sqrt([2.0, 3.0])
    a = np.array([[w[1], 0.0], [0.0, w[0]], [w[1], 0.0]])
    assert a[0] @ w == a[1] @ w
    rows, inverse = unique_rows(a)
    ref_rows, ref_inverse = np.unique(a, axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(inverse, ref_inverse.ravel())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), log_scale=st.floats(-300, 300), rank_one=st.booleans())
def test_closed_form_2x2_eigh_matches_lapack_also_near_singular(seed, log_scale, rank_one):
    # the closed form of sym_eigh against LAPACK's eigh, with rank-one (singular) and badly
    # scaled matrices: eigenvalues to a few eps of the larger one, orthonormal vectors that
    # rebuild the matrix, and psd_pinv's kernel projector finding the singular direction
    from fokkerplanck._util.linalg import CLOSED_FORM_FROM, psd_pinv, sym_eigh

    rng = np.random.default_rng(seed)
    n = CLOSED_FORM_FROM + 36
    v = rng.normal(size=(n, 2, 1))
    c = v @ np.swapaxes(v, -1, -2)
    if not rank_one:
        u = rng.normal(size=(n, 2, 1))
        c = c + u @ np.swapaxes(u, -1, -2)
    c = c * 10.0 ** log_scale
    w, V = sym_eigh(c)
    top = np.abs(np.linalg.eigvalsh(c)).max(axis=-1, keepdims=True)
    assert np.all(np.abs(w - np.linalg.eigvalsh(c)) <= 8 * np.finfo(float).eps * top)
    np.testing.assert_allclose(np.swapaxes(V, -1, -2) @ V, np.broadcast_to(np.eye(2), c.shape), atol=1e-14)
    rebuilt = V @ (w[..., None] * np.swapaxes(V, -1, -2))
    assert np.all(np.abs(rebuilt - c) <= 8 * np.finfo(float).eps * top[..., None])
    if rank_one:   # the kernel is found: P0 of rank one (where the top eigenvalue clears
        # psd_pinv's absolute floor of 1e-300, below which a matrix counts as zero)
        _, P0 = psd_pinv(c)
        clear = top[:, 0] > 1e-290
        np.testing.assert_allclose(np.trace(P0, axis1=-2, axis2=-1)[clear], 1.0, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**32 - 1),
       st.sampled_from(["stored", "zeros", "int64", "missing", "duplicates"]))
def test_scaled_pinned_is_the_sparse_arithmetic_to_the_last_bit(n, seed, kind):
    # M = I - diag(s) W diag(g), W the off-diagonal part of A, without row and column k:
    # written from A's arrays where A is canonical and stores its diagonal (rates over 24
    # decades, some of whose products underflow to 0 and are dropped; explicit zeros; int64
    # indices), by the sparse arithmetic otherwise (a row without a stored diagonal;
    # duplicate entries), and the test checks which way it went
    import fokkerplanck._util.linalg as linalg

    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, n)) < 0.3, 10.0 ** rng.uniform(-12, 12, (n, n)), 0.0)
    dense[rng.random((n, n)) < 0.05] = 1e-300
    dense[(np.arange(n) + 1) % n, np.arange(n)] += 1.0   # every column has an outflow
    np.fill_diagonal(dense, 0.0)
    dense -= np.diag(dense.sum(axis=0))
    if kind == "missing":
        dense[0, 0] = 0.0
    A = sp.csr_matrix(dense)
    if kind == "zeros":   # explicit zeros off the diagonal, still canonical
        coo = A.tocoo()
        extra = (coo.row + 2) % n
        A = sp.csr_matrix((np.r_[coo.data, np.zeros(n)], (np.r_[coo.row, extra[:n] if n <= coo.nnz else
                                                                np.arange(n)], np.r_[coo.col, np.arange(n)])),
                          shape=(n, n))
        A.sum_duplicates()
    if kind == "int64":   # (the constructor casts int64 index arrays back to int32: set them after it)
        A.indices, A.indptr = A.indices.astype(np.int64), A.indptr.astype(np.int64)
        assert A.indices.dtype == np.int64 and A.indptr.dtype == np.int64
    if kind == "duplicates":   # a row's entry written twice, in halves (not summed)
        data, indices, indptr = [], [], [0]
        for i in range(n):
            row = slice(A.indptr[i], A.indptr[i + 1])
            data += [*(A.data[row] / 2), *(A.data[row] / 2)]
            indices += [*A.indices[row], *A.indices[row]]
            indptr.append(len(data))
        A = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(n, n))
        A.has_canonical_format = False
    W = sp.csr_matrix(dense - np.diag(np.diag(dense)))
    W.eliminate_zeros()
    np.testing.assert_array_equal(outflow(sp.csr_matrix(dense)), np.asarray(W.sum(axis=0)).ravel())
    g, s = 10.0 ** rng.uniform(-100, 100, n), 10.0 ** rng.uniform(-100, 100, n)
    k = int(rng.integers(n))
    arithmetic = []
    real = linalg.pinned

    def spy(*args):
        arithmetic.append(True)
        return real(*args)

    linalg.pinned = spy
    try:
        Mr, b, keep = scaled_pinned(A, s, g, k)
    finally:
        linalg.pinned = real
    assert bool(arithmetic) == (kind in ("missing", "duplicates"))
    ref, ref_b, ref_keep = pinned(sp.identity(n, format="csr") - sp.diags(s) @ W @ sp.diags(g), k)
    assert Mr.shape == ref.shape and (bool(arithmetic) or Mr.has_canonical_format)
    if arithmetic:   # (the arithmetic on a non-canonical A leaves the rows' columns unsorted)
        Mr = Mr.copy()
        Mr.sort_indices()
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(Mr, name), getattr(ref, name))
    np.testing.assert_array_equal(b, ref_b)
    np.testing.assert_array_equal(keep, ref_keep)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**32 - 1), st.sampled_from(["generator", "negative", "nan", "duplicates",
                                                                       "csr_array", "coo"]))
def test_is_metzler_and_outflow_are_their_definitions(n, seed, kind):
    # is_metzler: every stored off-diagonal entry >= 0 (NaN is not), checked entry by entry
    # against the COO definition; outflow: the column sums of the off-diagonal entries,
    # to the last bit of the sparse arithmetic (off_diagonal)
    from fokkerplanck._util.linalg import is_metzler, off_diagonal

    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, n)) < 0.4, 10.0 ** rng.uniform(-12, 12, (n, n)), 0.0)
    np.fill_diagonal(dense, 0.0)
    dense -= np.diag(dense.sum(axis=0))
    i, j = int(rng.integers(n)), int(rng.integers(n))
    if kind == "negative" and i != j:
        dense[i, j] = -1.0
    if kind == "nan":
        dense[i, j] = np.nan
    A = sp.csr_matrix(dense)
    if kind == "duplicates":   # row i stores column (i + 1) % n once more, negative (not summed)
        end = A.indptr[i + 1]
        A = sp.csr_matrix((np.insert(A.data, end, -1.0), np.insert(A.indices, end, (i + 1) % n),
                           A.indptr + (np.arange(n + 1) > i)), shape=(n, n))
        A.has_canonical_format = False
    if kind == "csr_array":
        A = sp.csr_array(A)
    if kind == "coo":
        A = sp.coo_matrix(A)
    W = sp.coo_matrix(A)
    expected = bool(np.all(W.data[W.row != W.col] >= 0))
    assert is_metzler(A) == expected
    # and from the construction alone: a negative or NaN off the diagonal, or the stored
    # negative duplicate (off the diagonal unless n = 1), make it not Metzler
    assert expected == {"negative": i == j, "nan": i == j, "duplicates": n == 1}.get(kind, True)
    if kind in ("generator", "negative", "csr_array"):
        # (bitwise: bincount and scipy's column sum add the entries in the same order)
        np.testing.assert_array_equal(outflow(A), off_diagonal(A)[1])
