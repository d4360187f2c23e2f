"""Small kernels of ``fokkerplanck._util.linalg`` against NumPy's general answers."""

import numpy as np
from hypothesis import given, settings, strategies as st

from fokkerplanck._util.linalg import unique_rows


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
