"""The generator: conservation, monotonicity, consistency of the current, boundaries."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

import fokkerplanck as fp
from fokkerplanck._discretization.generator import bernoulli

KINDS = ["reflecting", "periodic", "absorbing"]


@st.composite
def problems(draw, max_dim=2):
    d = draw(st.integers(1, max_dim))
    shape = tuple(draw(st.integers(3, 9)) for _ in range(d))
    boundary = []
    for _ in range(d):
        kind = draw(st.sampled_from(KINDS + ["pair"]))
        boundary.append(kind if kind != "pair" else (draw(st.sampled_from(["reflecting", "absorbing"])),
                                                      draw(st.sampled_from(["reflecting", "absorbing"]))))
    grid = fp.Grid(bounds=[(-1.5, 1.0 + k) for k in range(d)], shape=shape, boundary=boundary)
    # a random SPD covariance, up to correlation 0.999 and scale ratio 1e3
    angle = draw(st.floats(0, np.pi))
    logs = draw(st.lists(st.floats(-3, 0.5), min_size=d, max_size=d))
    if d == 2:
        Q = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        cov = Q @ np.diag(10.0 ** np.array(logs)) @ Q.T
    else:
        cov = np.diag(10.0 ** np.array(logs))
    a = np.array(draw(st.lists(st.floats(-3, 3), min_size=3, max_size=3)))
    drift = lambda x: a[0] * np.sin(2 * x + a[1]) + a[2] * x - x**3
    return grid, fp.SDE(drift=drift, cov=cov)


@given(problems())
def test_columns_sum_to_zero_and_off_diagonals_are_nonnegative(problem):
    grid, sde = problem
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        A = fp.generator(sde, grid).tocoo()
    scale = np.abs(A.diagonal()).max()
    off = A.row != A.col
    assert A.data[off].min(initial=0) >= 0
    colsum = np.asarray(A.sum(axis=0)).ravel()
    if not grid.has_absorbing:
        assert np.abs(colsum).max() <= 1e-12 * scale
    else:  # the column sum is the (non-positive) outflow, only next to absorbing walls
        assert colsum.max() <= 1e-12 * scale


def test_selling_keeps_an_m_matrix_where_nine_points_would_not():
    # correlation 0.999: the 9-point stencil has negative off-diagonals here
    grid = fp.Grid(bounds=[(-2, 2), (-2, 2)], shape=(40, 50))
    C = np.array([[1.0, 0.999], [0.999, 1.0]])
    with pytest.warns(fp.FokkerPlanckWarning, match="anisotropic"):
        A = fp.generator(fp.SDE(drift=lambda x: -x, cov=C), grid)
    off = A - sp.diags(A.diagonal())
    assert off.min() >= 0


def test_divergence_of_fluxes_is_the_generator():
    grid = fp.Grid(bounds=[(-2, 2), (-1, 3)], shape=(13, 11), boundary=[("reflecting", "absorbing"), "periodic"])
    sde = fp.SDE(drift=lambda x: np.stack([np.sin(x[..., 1]), -x[..., 0]], -1), cov=[[1.0, 0.4], [0.4, 0.5]])
    fl = fp.fluxes(sde, grid)
    p = np.random.default_rng(1).random(grid.size)
    np.testing.assert_allclose(fl.divergence(fl.flux(p)), fl.matrix @ p, atol=1e-12 * np.abs(fl.matrix @ p).max())


def test_bernoulli_is_stable_and_exact():
    z = np.array([-800.0, -30.0, -1e-12, 0.0, 1e-12, 1e-3, 30.0, 800.0])
    with np.errstate(all="raise", under="ignore"):
        b = bernoulli(z)
    exact = np.array([800.0, 30.0 / (1 - np.exp(-30.0)), 1 + 5e-13, 1.0, 1 - 5e-13, 1e-3 / np.expm1(1e-3),  # B ~ 1 - z/2
                      30.0 * np.exp(-30.0) / (1 - np.exp(-30.0)), 0.0])
    np.testing.assert_allclose(b, exact, rtol=1e-14, atol=1e-300)
    # B(-z) is computed without the cancelling identity B(-z) = B(z) + z
    exact_neg = np.array([0.0, 30.0 * np.exp(-30.0) / (1 - np.exp(-30.0)), 1 - 5e-13, 1.0, 1 + 5e-13,
                          -1e-3 / np.expm1(-1e-3), 30.0 / (1 - np.exp(-30.0)), 800.0])
    np.testing.assert_allclose(bernoulli(-z), exact_neg, rtol=1e-14, atol=1e-300)


def test_steep_loss_gives_finite_rates():
    grid = fp.Grid(bounds=[(-1, 1)], shape=20)
    A = fp.generator(fp.langevin(lambda x: 2e3 * x[..., 0] ** 2, sigma=0.1), grid)
    assert np.all(np.isfinite(A.data))


def test_absorbing_outflow_is_a_half_cell_flux():
    # pure diffusion D = 1/2, one cell next to an absorbing wall: rate 2 D / h^2
    grid = fp.Grid(bounds=[(0, 1)], shape=10, boundary=[("reflecting", "absorbing")])
    A = fp.generator(fp.brownian(1.0), grid)
    colsum = np.asarray(A.sum(axis=0)).ravel()
    np.testing.assert_allclose(colsum[:-1], 0, atol=1e-12)
    assert colsum[-1] == pytest.approx(-2 * 0.5 / 0.1**2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda g: fp.generator(fp.brownian(1.0, ndim=2), g), "2-dimensional but the grid has 1"),
        (lambda g: fp.generator(fp.brownian(1.0), g, scheme="central"), "scheme"),
        (lambda g: fp.generator(fp.SDE(drift=lambda x, t: -x, sigma=1.0, time_dependent=True), g), "time-dependent"),
        (lambda g: fp.generator("not an sde", g), "fokkerplanck.SDE"),
    ],
)
def test_bad_generator_calls(call, match):
    grid = fp.Grid(bounds=[(0, 1)], shape=5)
    with pytest.raises((ValueError, TypeError), match=match):
        call(grid)


@pytest.mark.parametrize("boundary", ["reflecting", "periodic", ("periodic", "reflecting")])
def test_highorder_generator_conserves_mass_and_matches_its_fluxes(boundary):
    grid = fp.Grid(bounds=[(-2, 2), (-1, 2)], shape=(9, 7), boundary=boundary)
    sde = fp.SDE(drift=lambda x: np.sin(x) - 0.1 * x, cov=lambda x: np.broadcast_to([[1.0, 0.3], [0.3, 0.8]], x.shape[:-1] + (2, 2)) * (1 + 0.1 * x[..., :1, None] ** 2), ndim=2)
    fl = fp.fluxes(sde, grid, scheme="highorder")
    A = fl.matrix
    assert np.abs(np.asarray(A.sum(axis=0))).max() <= 1e-12 * np.abs(A.diagonal()).max()
    p = np.random.default_rng(3).random(grid.size)
    np.testing.assert_allclose(fl.divergence(fl.flux(p)), A @ p, atol=1e-12 * np.abs(A @ p).max())


def test_highorder_refuses_absorbing_walls():
    grid = fp.Grid(bounds=[(0, 1)], shape=8, boundary="absorbing")
    with pytest.raises(ValueError, match="scheme='sg'"):
        fp.generator(fp.brownian(1.0), grid, scheme="highorder")


def _coo_generator(fl):
    """The generator of two-point fluxes by COO, summing duplicates (the reference)."""
    n, inner = fl.grid.size, fl.head >= 0
    t, h = fl.tail, fl.head
    diag = -np.bincount(t, fl.forward, minlength=n) - np.bincount(h[inner], fl.backward[inner], minlength=n)
    rows = np.concatenate([h[inner], t[inner], np.arange(n)])
    cols = np.concatenate([t[inner], h[inner], np.arange(n)])
    A = sp.coo_matrix((np.concatenate([fl.forward[inner], fl.backward[inner], diag]), (rows, cols)), shape=(n, n))
    return A.tocsr(), diag


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 3), sizes=st.lists(st.integers(3, 7), min_size=3, max_size=3),
       kinds=st.lists(st.sampled_from(["periodic", "reflecting", "absorbing"]), min_size=3, max_size=3),
       rho=st.floats(-0.95, 0.95), rank_one=st.booleans(), seed=st.integers(0, 2**16))
def test_grouped_csr_is_the_coo_generator_to_the_last_bit(d, sizes, kinds, rho, rank_one, seed):
    # the generator is written as CSR from the edge groups (fluxes.generator_csr); it must
    # equal COO assembly with duplicates summed, entry for entry and bit for bit, on tiny
    # periodic axes (offsets that wrap onto each other or onto the cell itself: COO), with
    # absorbing walls, long stencil offsets of a correlated covariance, and rank-one noise
    # (upwind advection edges along an axis that also carries stencil edges)
    from fokkerplanck._discretization.fluxes import generator_csr

    rng = np.random.default_rng(seed)
    cov = np.eye(d)
    if d >= 2:
        cov[0, 1] = cov[1, 0] = rho
    if rank_one:
        v = rng.normal(size=d)
        cov = np.outer(v, v)
    shift = rng.normal(size=d)
    sde = fp.SDE(drift=lambda x: -(x - shift) + 0.5 * np.roll(x, 1, axis=-1), cov=cov)
    grid = fp.Grid(bounds=[(-2, 2)] * d, shape=tuple(sizes[:d]), boundary=kinds[:d])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl = fp.fluxes(sde, grid)
    ref, diag = _coo_generator(fl)
    A = fl.matrix
    assert A.has_sorted_indices
    np.testing.assert_array_equal(A.indptr, ref.indptr)
    np.testing.assert_array_equal(A.indices, ref.indices)
    np.testing.assert_array_equal(A.data.view(np.int64), ref.data.view(np.int64))
    if all(k != "periodic" for k in kinds[:d]):   # no wrap-around: the grouped path is taken
        assert generator_csr(fl, diag) is not None


def test_strided_csr_writes_only_whole_segments_in_c_order():
    # a group that is a whole Segment (every edge of its offset, C order) writes its CSR
    # slots by strided slices; the same edges in another order break that contract and must
    # go through the flat writes, still the COO generator to the last bit
    from dataclasses import replace

    from fokkerplanck._discretization.fluxes import _segment_blocks

    grid = fp.Grid(bounds=[(-2, 2)] * 2, shape=(6, 5))
    fl = fp.fluxes(fp.SDE(drift=lambda x: -x + 0.5 * x[..., ::-1], sigma=0.8, ndim=2), grid)
    assert len(_segment_blocks(fl)) == 2
    seg = fl.edge_potential.segments[0]
    perm = np.arange(fl.tail.size)
    perm[seg.start:seg.stop] = perm[seg.start:seg.stop][::-1]
    reordered = replace(fl, tail=fl.tail[perm], head=fl.head[perm], forward=fl.forward[perm],
                        backward=fl.backward[perm], peclet=fl.peclet[perm], weight=fl.weight[perm])
    assert len(_segment_blocks(reordered)) == 1
    for f in (fl, reordered):
        ref, _ = _coo_generator(f)
        np.testing.assert_array_equal(f.matrix.toarray().view(np.int64), ref.toarray().view(np.int64))


def test_grouped_csr_leaves_offsets_that_wrap_onto_each_other_to_coo():
    # a correlation of 0.99 on a periodic 3 x 4 grid needs the stencil offset (3, 4), which
    # wraps onto the cell itself: that matrix goes through COO; at 0.8 on 3 x 5 the offsets
    # (1, 1), (1, 2), (0, 1) stay apart and the groups write it
    from fokkerplanck._discretization.fluxes import generator_csr

    for rho, shape, grouped in ((0.99, (3, 4), False), (0.8, (3, 5), True)):
        sde = fp.SDE(drift=lambda x: -x, cov=[[1, rho], [rho, 1]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fl = fp.fluxes(sde, fp.Grid(bounds=[(-1, 1)] * 2, shape=shape, boundary="periodic"))
        ref, diag = _coo_generator(fl)
        assert (generator_csr(fl, diag) is not None) == grouped
        np.testing.assert_array_equal(fl.matrix.toarray(), ref.toarray())


def test_grouped_csr_needs_every_edge_in_a_group():
    # fluxes whose groups do not cover their edges (e.g. rebuilt without them) go through COO
    from dataclasses import replace

    from fokkerplanck._discretization.fluxes import generator_csr

    fl = fp.fluxes(fp.SDE(drift=lambda x: -x, cov=[[1, 0.5], [0.5, 1]]), fp.Grid(bounds=[(-1, 1)] * 2, shape=5))
    bare = replace(fl, groups=())
    ref, diag = _coo_generator(bare)
    assert generator_csr(bare, diag) is None
    np.testing.assert_array_equal(bare.matrix.toarray(), ref.toarray())
    np.testing.assert_array_equal(fl.matrix.toarray(), ref.toarray())


def test_forgotten_matrices_are_built_again_the_same():
    # Fluxes.forget_matrices drops the cached generator and flux matrix (the density split
    # lets go of a superseded pass's); the next access builds them again, to the last bit
    grid = fp.Grid(bounds=[(-2, 2), (-2, 2)], shape=(12, 9), boundary=["periodic", "reflecting"])
    fl = fp.fluxes(fp.SDE(drift=lambda x: -x + np.array([0.5, 0.0]), cov=[[1.0, 0.4], [0.4, 0.5]]), grid)
    A, F = fl.matrix, fl.flux_matrix
    fl.forget_matrices()
    assert "matrix" not in vars(fl) and "flux_matrix" not in vars(fl)
    B, G = fl.matrix, fl.flux_matrix
    assert B is not A and G is not F
    for old, new in ((A, B), (F, G)):
        assert (old != new).nnz == 0 and np.array_equal(old.indptr, new.indptr)


def test_edge_vectors_come_from_the_groups_without_being_stored():
    # two-point fluxes keep one vector per stencil offset (groups), not one per edge: every
    # edge's vector (tail to head, wrap-around and absorbing-wall half-edges included)
    # equals the one the cell geometry gives, and the direction labels group equal vectors
    grid = fp.Grid(bounds=[(-2, 2)] * 3, shape=(6, 5, 4), boundary=["periodic", "absorbing", "reflecting"])
    fl = fp.fluxes(fp.SDE(drift=lambda x: -x, cov=[[1.0, 0.4, 0.2], [0.4, 0.8, 0.3], [0.2, 0.3, 0.6]]), grid)
    assert fl.vectors is None
    h, shape = np.asarray(grid.spacing), np.array(grid.shape)
    tail = np.stack(np.unravel_index(fl.tail, grid.shape), -1)
    inner = fl.head >= 0
    steps = np.stack(np.unravel_index(fl.head[inner], grid.shape), -1) - tail[inner]
    steps = np.where(np.abs(steps) == shape - 1, -np.sign(steps), steps)   # (periodic axis 0 wraps)
    expected = np.zeros((fl.tail.size, 3))
    expected[inner] = steps * h
    wall = np.flatnonzero(~inner)   # half-edges to the absorbing walls of axis 1
    assert wall.size == 2 * 6 * 4
    low = tail[wall, 1] == 0
    assert np.all(low | (tail[wall, 1] == shape[1] - 1))
    expected[wall, 1] = np.where(low, -h[1], h[1])
    np.testing.assert_array_equal(fl.delta, expected)
    rows, label = fl.directions
    ref_rows, ref_label = np.unique(expected, axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(label, ref_label.ravel())
    from dataclasses import replace

    with pytest.raises(ValueError, match="no edge vectors"):
        replace(fl, groups=()).delta   # neither vectors nor groups: a clear error
