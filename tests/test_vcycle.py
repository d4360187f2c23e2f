"""One V-cycle of a pyamg hierarchy without pyamg's residual norms (vcycle.py): the
same answer as pyamg's preconditioner to the last bit."""

import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck._solvers.vcycle import v_cycle
from fokkerplanck._util.linalg import outflow, scaled_pinned

pyamg = pytest.importorskip("pyamg")


def _scaled_rotating_ou(n):
    sde = fp.ornstein_uhlenbeck([[1.0, 2.0], [-2.0, 1.0]], [[1.0, 0.4], [0.4, 0.5]])
    grid = fp.Grid(bounds=[(-4, 4)] * 2, shape=n)
    A = fp.generator(sde, grid).tocsr()
    g = np.exp(-0.5 * (grid.points() ** 2).sum(-1)).ravel()
    Mr, _, _ = scaled_pinned(A, 1.0 / (outflow(A) * g), g, int(np.argmax(g)))
    return Mr


@pytest.mark.parametrize("theta", [0.1, 0.25])
def test_it_is_pyamgs_cycle_to_the_last_bit(theta):
    Mr = _scaled_rotating_ou(64)
    ml = pyamg.ruge_stuben_solver(Mr, strength=("classical", {"theta": theta}))
    assert len(ml.levels) > 3
    b = np.random.default_rng(1).standard_normal(Mr.shape[0])
    assert np.array_equal(v_cycle(ml) @ b, ml.aspreconditioner() @ b)


def test_a_replaced_finest_matrix_is_the_one_smoothed():
    # refined.Hierarchy hands a hierarchy on with the next pass's matrix on its finest
    # level: the cycle made before the replacement must use the new matrix
    old, new = _scaled_rotating_ou(48), _scaled_rotating_ou(48) * 1.5
    ml = pyamg.ruge_stuben_solver(old, strength=("classical", {"theta": 0.1}))
    prec = v_cycle(ml)
    b = np.ones(old.shape[0])
    before = prec @ b
    ml.levels[0].A = new
    after = prec @ b
    assert not np.array_equal(before, after)
    assert np.array_equal(after, ml.aspreconditioner() @ b)


def test_a_single_level_is_the_coarse_solve():
    A = pyamg.gallery.poisson((3, 3), format="csr")
    ml = pyamg.ruge_stuben_solver(A, max_coarse=100)
    assert len(ml.levels) == 1
    b = np.arange(9.0)
    np.testing.assert_allclose(v_cycle(ml) @ b, np.linalg.solve(A.toarray(), b), rtol=1e-12)
    assert np.array_equal(v_cycle(ml) @ b, ml.aspreconditioner() @ b)
