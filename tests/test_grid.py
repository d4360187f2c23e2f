import numpy as np
import pytest

import fokkerplanck as fp


def test_geometry_and_quadrature():
    g = fp.Grid(bounds=[(-1, 1), (0, 3)], shape=(4, 6))
    assert g.ndim == 2 and g.size == 24 and g.spacing == (0.5, 0.5) and g.cell_volume == 0.25
    np.testing.assert_allclose(g.centers[0], [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_allclose(g.edges[1], np.arange(7) * 0.5)
    assert g.points().shape == (4, 6, 2)
    # midpoint rule is exact for linear functions
    x = g.points()
    assert g.integrate(x[..., 0] + 2 * x[..., 1]) == pytest.approx(0 + 2 * 4.5 * 2)


def test_moments_of_a_gaussian():
    g = fp.Grid(bounds=[(-12, 12), (-12, 12)], shape=(240, 240))
    C = np.array([[1.0, 0.6], [0.6, 2.0]])
    p = fp.gaussian_density(g, [0.5, -1.0], C)
    assert g.integrate(p) == pytest.approx(1, abs=1e-9)
    np.testing.assert_allclose(g.mean(p), [0.5, -1.0], atol=1e-9)
    np.testing.assert_allclose(g.cov(p), C, atol=1e-8)  # midpoint rule: spectral for Gaussians
    m = g.marginal(p, 1)
    np.testing.assert_allclose(m, np.exp(-(g.centers[1] + 1) ** 2 / 4) / np.sqrt(4 * np.pi), atol=1e-9)


def test_histogram_counts_and_periodic_wrap():
    g = fp.Grid(bounds=[(0, 3), (0, 3)], shape=(3, 3), boundary=("periodic", "reflecting"))
    # second sample wraps to the first cell; the last lies outside the reflecting axis
    x = np.array([[0.5, 0.5], [3.5, 0.5], [2.5, 1.5], [2.5, 5.0]])
    h = g.histogram(x)
    expected = np.zeros((3, 3))
    expected[0, 0], expected[2, 1] = 2, 1
    np.testing.assert_allclose(h * len(x) * g.cell_volume, expected)
    assert g.integrate(h) == pytest.approx(3 / 4)  # the fraction of samples inside


@pytest.mark.parametrize(
    "boundary, expected",
    [
        ("periodic", (("periodic", "periodic"),) * 2),
        (("periodic", "reflecting"), (("periodic", "periodic"), ("reflecting", "reflecting"))),
        ([("reflecting", "absorbing"), "periodic"], (("reflecting", "absorbing"), ("periodic", "periodic"))),
    ],
)
def test_boundary_spellings(boundary, expected):
    assert fp.Grid(bounds=[(0, 1)] * 2, shape=5, boundary=boundary).boundary == expected


def test_per_side_pair_in_1d():
    g = fp.Grid(bounds=[(0, 1)], shape=5, boundary=[("reflecting", "absorbing")])
    assert g.boundary == (("reflecting", "absorbing"),) and g.has_absorbing


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bounds=[(1, 0)], shape=5), "lo < hi"),
        (dict(bounds=[(0, 0)], shape=5), "lo < hi"),
        (dict(bounds=[(0, np.inf)], shape=5), "finite"),
        (dict(bounds=[(0, 1)], shape=2), "at least 3 cells"),
        (dict(bounds=[(0, 1), (0, 1)], shape=(5,)), "one cell count per axis"),
        (dict(bounds=(0, 1), shape=5), "list of pairs"),
        (dict(bounds=[(0, 1)] * 5, shape=5), "1 to 4"),
        (dict(bounds=[(0, 1)], shape=5, boundary="sticky"), "sticky"),
        (dict(bounds=[(0, 1)], shape=5, boundary=("reflecting", "absorbing")), "ambiguous"),
        (dict(bounds=[(0, 1)] * 2, shape=5, boundary=[("periodic", "reflecting"), "periodic"]), "half of"),
        (dict(bounds=[(0, 1)] * 2, shape=5, boundary=["periodic"] * 3), "3 entries"),
        (dict(bounds=[(0, 1)], shape=5.5), "integers"),
    ],
)
def test_bad_grids(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fp.Grid(**kwargs)


def test_bad_fields():
    g = fp.Grid(bounds=[(0, 1)], shape=5)
    with pytest.raises(ValueError, match="grid shape"):
        g.integrate(np.ones(4))
    with pytest.raises(ValueError, match=r"\(n, 1\)"):
        g.histogram(np.ones((3, 2)))
    with pytest.raises(ValueError, match="out of range"):
        g.marginal(np.ones(5), 3)


def test_normalised_boundary_round_trips_including_periodic():
    # regression: refined() passed ("periodic", "periodic") back into Grid, which refused it
    g = fp.Grid(bounds=[(0, 1), (0, 2)], shape=(5, 6), boundary=[("reflecting", "absorbing"), "periodic"])
    r = g.refined(3)
    assert r.shape == (15, 18) and r.boundary == g.boundary
    assert fp.Grid(g.bounds, g.shape, g.boundary).boundary == g.boundary


def test_a_sample_on_the_upper_wall_is_in_the_last_cell():
    g = fp.Grid(bounds=[(0, 1)], shape=4)
    np.testing.assert_allclose(g.histogram(np.array([[1.0], [0.5]])) * g.cell_volume, [0, 0, 0.5, 0.5])


def test_locate_is_safe_for_huge_and_boundary_coordinates():
    g = fp.Grid(bounds=[(-2.5, 2.5)], shape=256)
    x = np.array([[np.nextafter(2.5, 0)], [2.5], [1e300], [-1e300], [np.nan]])
    idx, inside = g.locate(x)
    assert idx[:2, 0].tolist() == [255, 255]          # inside, rounding onto the upper wall
    assert inside.tolist() == [True, True, False, False, False]
    assert g.histogram(np.full((5, 1), 1e300)).sum() == 0


@pytest.mark.parametrize("shape", [(7,), (3, 5), (4, 3, 6), (3, 4, 3, 5)])
def test_strides_step_the_flat_index_as_numpy_ravels_it(shape):
    grid = fp.Grid(bounds=[(0, 1)] * len(shape), shape=shape)
    for k in range(len(shape)):
        unit = np.zeros(len(shape), dtype=int)
        unit[k] = 1
        assert grid.strides[k] == np.ravel_multi_index(tuple(unit), shape)
