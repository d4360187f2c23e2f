"""Row blocks of the generator from a slab and its halo (the PETSc backend's assembly):
the rows a process assembles are the whole grid's rows, for every scheme, boundary,
noise kind and split (the density split too, where only part of the grid has a
correlated covariance); no MPI needed."""

import itertools
import warnings

import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck._discretization.slab import partition, slab

H = np.array([[1.0, 1.0], [-1.0, 1.0]])


def _periodic_drift(x, t=None):
    a, b = x[..., 0] * np.pi / 3, x[..., 1] * np.pi / 3
    return np.stack([np.sin(a) + np.cos(b), -np.cos(a) + 0.5 * np.sin(b)], -1)


def _state_cov(x, t=None):
    s = 1 + 0.3 * np.sin(x[..., 0] * np.pi / 3) ** 2
    return np.einsum("...,ij->...ij", s, np.array([[1.0, 0.4], [0.4, 1.0]]))


NOISES = {
    "correlated": dict(cov=[[1.0, 0.5], [0.5, 1.0]]),
    "state-dependent": dict(cov=_state_cov),
    "one axis": dict(cov=[[0.0, 0.0], [0.0, 1.0]]),
}
BOUNDARIES = ["reflecting", "periodic", [("absorbing", "reflecting"), "periodic"]]


def _rel(A, B):
    return float(abs(A - B).max() / abs(B).max())


@pytest.mark.parametrize("noise, boundary, scheme", [
    (n, b, s) for n, b, s in itertools.product(NOISES, range(len(BOUNDARIES)), fp.SCHEMES)
    if not (s == "highorder" and b == 2)])
def test_slab_rows_are_the_whole_grids_rows(noise, boundary, scheme):
    sde = fp.SDE(drift=_periodic_drift, ndim=2, **NOISES[noise])
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=(20, 12), boundary=BOUNDARIES[boundary])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        A = fp.generator(sde, grid, scheme=scheme)
        for parts in (1, 2, 3, 6):
            for a, b in partition(20, parts):
                assert _rel(slab(sde, grid, a, b, scheme=scheme).rows(), A[a * 12:b * 12]) < 1e-13


@pytest.mark.parametrize("boundary", [0, 1])
def test_slab_rows_of_the_density_split_are_the_whole_grids_rows(boundary):
    sde = fp.SDE(drift=_periodic_drift, ndim=2, cov=_state_cov)
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=(20, 12), boundary=BOUNDARIES[boundary])
    x = grid.points()
    p = np.exp(-(x ** 2).sum(-1) / 3 + 0.2 * np.sin(3 * x[..., 1])).ravel()
    A = fp.fluxes(sde, grid).density_split(p).matrix
    for a, b in partition(20, 3):
        s = slab(sde, grid, a, b)
        assert _rel(s.density_split(p[s.global_index], True).rows(), A[a * 12:b * 12]) < 1e-13


def test_a_slab_splits_as_the_whole_grid_where_only_part_of_it_is_correlated():
    # correlated only for x0 > 1: a slab there has diagonal (Selling) edges, one at x0 < 0
    # has none, and the split decides for the whole grid (no face factor anywhere)
    def cov(x, t=None):
        c = 0.5 * np.clip(x[..., 0] - 1.0, 0.0, 1.0)
        out = np.zeros(x.shape[:-1] + (2, 2))
        out[..., 0, 0] = out[..., 1, 1] = 1.0
        out[..., 0, 1] = out[..., 1, 0] = c
        return out

    sde = fp.SDE(drift=_periodic_drift, ndim=2, cov=cov)
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=24)
    fl = fp.fluxes(sde, grid)
    x = grid.points()
    p = np.exp(-(x ** 2).sum(-1) / 3 + 0.2 * np.sin(3 * x[..., 1])).ravel()
    A = fl.density_split(p).matrix
    assert fl.selling
    for a, b in partition(24, 3):
        s = slab(sde, grid, a, b)
        assert _rel(s.density_split(p[s.global_index], fl.selling).rows(), A[a * 24:b * 24]) < 1e-13
    s = slab(sde, grid, 0, 8)
    assert not s.fluxes.selling     # this slab alone would have decided otherwise (3.8 % off)
    assert _rel(s.density_split(p[s.global_index], False).rows(), A[:8 * 24]) > 1e-3


def test_slab_rows_in_three_dimensions_with_a_long_stencil():
    # a strongly correlated covariance: Selling offsets of two cells
    C = np.array([[1.0, 0.9, 0.3], [0.9, 1.0, 0.5], [0.3, 0.5, 1.0]])
    M = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, -0.5, 1.0]])
    sde = fp.ornstein_uhlenbeck(M, C)
    grid = fp.Grid(bounds=[(-3, 3)] * 3, shape=(12, 7, 6))
    A = fp.generator(sde, grid)
    plane = 7 * 6
    for a, b in partition(12, 4):
        s = slab(sde, grid, a, b)
        assert s.local.shape[0] <= (b - a) + 2 * (s.fluxes.longest_offset + 2)
        assert _rel(s.rows(), A[a * plane:b * plane]) < 1e-13


def test_the_halo_widens_to_a_long_stencil():
    th = 0.3   # nearly singular along an irrational direction: offsets of 11 cells (warned)
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    sde = fp.ornstein_uhlenbeck(np.eye(2), R @ np.diag([1.0, 0.002]) @ R.T)
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=(40, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        A = fp.generator(sde, grid)
        s = slab(sde, grid, 20, 25)
    assert s.fluxes.longest_offset == 11 and s.local.shape[0] == 5 + 2 * 13
    assert _rel(s.rows(), A[20 * 12:25 * 12]) < 1e-13


def test_a_slab_refuses_an_sde_that_does_not_repeat_across_a_periodic_axis():
    grid = fp.Grid(bounds=[(-3, 3)] * 2, shape=12, boundary="periodic")
    with pytest.raises(ValueError, match="Axis 0 is periodic, but the SDE's drift"):
        slab(fp.ornstein_uhlenbeck(H, np.eye(2)), grid, 0, 6)


def test_partition_is_balanced_and_refuses_more_parts_than_planes():
    assert partition(10, 3) == [(0, 3), (3, 6), (6, 10)]
    with pytest.raises(ValueError, match="at least 3 planes each .* at most 4 processes"):
        partition(12, 5)    # a slab is a grid: 3 planes at least
