"""fp.compare: distances, noise floor, chi-square pooling, verdict calibration."""

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats

import fokkerplanck as fp
from fokkerplanck._sampling.compare import MIN_EXPECTED, _pool


def _normal_cells(grid):
    """Exact cell averages of N(0, I) on ``grid`` (product of 1-D CDF differences)."""
    masses = [np.diff(scipy.stats.norm.cdf(e)) for e in grid.edges]
    P = masses[0]
    for m in masses[1:]:
        P = np.multiply.outer(P, m)
    return P / grid.cell_volume


@pytest.fixture
def grid1():
    return fp.Grid([(-4, 4)], 40)


# ------------------------------------------------------------ calibration


@pytest.mark.parametrize("d, n_cells, n", [(1, 40, 2000), (2, 12, 1000)])
def test_false_alarm_rate_is_at_most_nominal_and_noise_floor_is_the_mean_l1(d, n_cells, n):
    # Exact samples against exact cell masses: "inconsistent" must be a rare false alarm
    # (Bonferroni: rate <= alpha), and the noise floor must be the expected L1.
    grid = fp.Grid([(-3.5, 3.5)] * d, n_cells)
    dens = _normal_cells(grid)
    alpha, seeds = 0.05, 600
    alarms, ratios, pvals = 0, [], []
    for s in range(seeds):
        x = np.random.default_rng(s).standard_normal((n, d))
        c = fp.compare(dens, x, grid=grid, alpha=alpha)
        alarms += not c.consistent
        ratios.append(c.l1 / c.noise_floor)
        pvals.append(c.chi2_pvalue)
    rate = alarms / seeds
    sd = np.sqrt(alpha * (1 - alpha) / seeds)
    assert alpha / 3 < rate < alpha + 3 * sd, rate
    # chi-square p-values are uniform under the null: the 5 % tail holds ~5 %
    assert abs(np.mean(np.array(pvals) < 0.05) - 0.05) < 3 * sd
    # mean L1 equals the noise floor (within 3 standard errors of the mean ratio, + 2 % for the
    # normal approximation of cell counts)
    r = np.array(ratios)
    assert abs(r.mean() - 1) < 3 * r.std() / np.sqrt(seeds) + 0.02, r.mean()


def test_noise_floor_formula_reference_value():
    # the noise floor E L1 ~ sqrt(2/(pi n)) sum_b sqrt(P_b (1 - P_b)): N(0,1), h = 0.1, n = 3.2e5 gives ~0.0099
    grid = fp.Grid([(-6, 6)], 120)
    x = np.random.default_rng(0).standard_normal((320_000, 1))
    c = fp.compare(_normal_cells(grid), x, grid=grid)
    assert c.noise_floor == pytest.approx(0.0099, abs=2e-4)
    assert c.consistent


# ------------------------------------------------------------------ power


@pytest.mark.parametrize("transform", [lambda x: x + 0.1, lambda x: 1.1 * x, lambda x: np.abs(x) * np.sign(x + 0.3)])
def test_wrong_density_is_inconsistent(grid1, transform):
    x = np.random.default_rng(1).standard_normal((20_000, 1))
    dens = _normal_cells(grid1)
    assert fp.compare(dens, x, grid=grid1).consistent
    bad = fp.compare(dens, transform(x), grid=grid1)
    assert not bad.consistent, bad.table()
    assert bad.l1 > bad.noise_floor


def test_mean_shift_is_caught_by_the_moment_test():
    # A shift of 0.04 sd at n = 20000 is 5.7 standard errors: the mean z-score sees it.
    grid = fp.Grid([(-5, 5)], 20)
    x = np.random.default_rng(2).standard_normal((20_000, 1)) + 0.04
    c = fp.compare(_normal_cells(grid), x, grid=grid)
    assert c.mean_z[0] > 4
    assert not c.consistent


# ---------------------------------------------------------------- details


def test_statistics_against_hand_computation():
    grid = fp.Grid([(0, 3)], 3)
    dens = np.array([0.5, 0.3, 0.2])  # cell masses (h = 1)
    x = np.array([[0.1], [0.2], [1.5], [2.5], [2.9], [3.0], [-1.0], [np.nan]])
    c = fp.compare(dens, x, grid=grid)
    freq = np.array([2, 1, 3]) / 8  # x == 3.0 (the upper wall) lands in the last cell
    assert c.n == 8 and c.n_inside == 6
    assert c.l1 == pytest.approx(np.abs(dens - freq).sum())
    assert c.tv == pytest.approx(c.l1 / 2)
    hell = np.sqrt(0.5 * (((np.sqrt(dens) - np.sqrt(freq)) ** 2).sum() + (0 - np.sqrt(2 / 8)) ** 2))
    assert c.hellinger == pytest.approx(hell)
    floor = np.sqrt(2 / (np.pi * 8)) * np.sqrt(dens * (1 - dens)).sum()
    assert c.noise_floor == pytest.approx(floor)
    np.testing.assert_allclose(c.histogram, freq)
    # the density has mass one on the grid, so the 2 particles outside are impossible
    assert c.chi2 == np.inf and c.chi2_pvalue == 0 and not c.consistent


def test_particles_outside_a_full_mass_density_are_inconsistent():
    grid = fp.Grid([(0, 1)], 10)
    x = np.random.default_rng(0).uniform(0, 1, (5000, 1))
    x[:20] = 2.0  # 20 particles where the density says there is nothing
    c = fp.compare(np.ones(10), x, grid=grid)
    assert c.chi2 == np.inf and c.chi2_pvalue == 0.0 and not c.consistent


def test_mass_outside_the_grid_gets_its_own_bin():
    # The exact N(0, 1) cell masses on [-2, 2] sum to 0.954; the particles beyond are expected.
    grid = fp.Grid([(-2, 2)], 20)
    x = np.random.default_rng(3).standard_normal((20_000, 1))
    c = fp.compare(_normal_cells(grid), x, grid=grid)
    assert c.n_inside < c.n
    assert c.consistent, c.table()


def test_pooling_keeps_totals_and_minimum_expected_count():
    rng = np.random.default_rng(0)
    e = rng.exponential(3.0, 500) * (rng.random(500) < 0.7)
    o = rng.poisson(e).astype(float)
    eb, ob = _pool(e, o)
    assert eb.sum() == pytest.approx(e.sum()) and ob.sum() == o.sum()
    assert np.all(eb >= MIN_EXPECTED)


def test_ks_only_in_1d_and_result_objects_accepted(grid1):
    x = np.random.default_rng(4).standard_normal((5000, 1))
    res = SimpleNamespace(density=_normal_cells(grid1), grid=grid1)
    c = fp.compare(res, x)
    assert c.ks_pvalue is not None and c.ks_pvalue > 0.01
    grid2 = fp.Grid([(-4, 4)] * 2, 16)
    c2 = fp.compare(_normal_cells(grid2), np.random.default_rng(4).standard_normal((5000, 2)), grid=grid2)
    assert c2.ks_pvalue is None and c2.consistent
    assert np.all(np.abs(c2.mean) < 4 * c2.mean_se)
    assert np.all(np.abs(c2.cov - np.eye(2)) < 4 * c2.cov_se)
    # the grid's covariance is that of the cell masses placed at the centres (exact; N(0, 1)
    # truncated to [-4, 4] plus Sheppard's h^2/12 = 0.0208), not the unit covariance
    m, c = np.diff(scipy.stats.norm.cdf(grid2.edges[0])), grid2.centers[0]
    np.testing.assert_allclose(c2.grid_cov, np.dot(m, c**2) / m.sum() * np.eye(2), rtol=1e-12, atol=1e-15)


def test_accepts_particles_with_absorbed_ones():
    # Brownian motion absorbed at 0 and 1: the survivors' positions and the absorbed (NaN).
    grid = fp.Grid([(0, 1)], 10, boundary="absorbing")
    pt = fp.simulate(fp.brownian(1.0), np.full((4000, 1), 0.5), 0.2, dt=1e-3, grid=grid, rng=0)
    assert not pt.alive.all()
    # exact density at t = 0.2 (sine series): mass = survival, the rest is "outside"
    x = grid.centers[0]
    k = np.arange(1, 200)
    p = (2 * np.sin(k * np.pi / 2)[:, None] * np.sin(k[:, None] * np.pi * x)
         * np.exp(-(k[:, None] * np.pi) ** 2 * 0.2 / 2)).sum(axis=0)
    # cell averages: integrate the sine series over each cell exactly
    e = grid.edges[0]
    cells = (2 * np.sin(k * np.pi / 2)[:, None] * (np.cos(k[:, None] * np.pi * e[:-1]) - np.cos(k[:, None] * np.pi * e[1:]))
             / (k[:, None] * np.pi) * np.exp(-(k[:, None] * np.pi) ** 2 * 0.2 / 2)).sum(axis=0) / grid.spacing[0]
    assert np.allclose(cells, p, rtol=0.05)
    c = fp.compare(cells, pt, grid=grid)
    assert c.n == 4000 and c.n_inside == pt.alive.sum()
    assert c.consistent, c.table()


def test_table_and_str():
    grid = fp.Grid([(-4, 4)], 40)
    c = fp.compare(_normal_cells(grid), np.random.default_rng(0).standard_normal((1000, 1)), grid=grid)
    s = str(c)
    assert s.startswith("| n | L1 |") and s.count("\n") == 3 and "consistent" in s
    assert s.splitlines()[-1] == c.explain() and c.explain().startswith("consistent at alpha = 0.01")
    assert c.table(header=False).count("\n") == 0
    assert c.l1_ratio == pytest.approx(c.l1 / c.noise_floor)


# -------------------------------------------------------------- bad input


def test_bad_inputs(grid1):
    x = np.zeros((10, 1))
    dens = _normal_cells(grid1)
    with pytest.raises(ValueError, match="pass `grid=`"):
        fp.compare(dens, x)
    with pytest.raises(ValueError, match=r"density has shape \(39,\) but the grid has shape \(40,\)"):
        fp.compare(dens[:-1], x, grid=grid1)
    bad = dens.copy()
    bad[3] = -0.1
    with pytest.raises(ValueError, match="negative"):
        fp.compare(bad, x, grid=grid1)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        fp.compare(bad, x, grid=grid1)
    with pytest.raises(ValueError, match=r"integrates to 1.99\d+ > 1 on the grid; normalise it"):
        fp.compare(2 * dens, x, grid=grid1)
    with pytest.raises(ValueError, match="zero"):
        fp.compare(0 * dens, x, grid=grid1)
    with pytest.raises(ValueError, match=r"points of shape \(n, 1\).*x\[:, None\]"):
        fp.compare(dens, np.zeros(10), grid=grid1)
    with pytest.raises(ValueError, match=r"got shape \(10, 2\)"):
        fp.compare(dens, np.zeros((10, 2)), grid=grid1)
    with pytest.raises(ValueError, match="`alpha` must be in"):
        fp.compare(dens, x, grid=grid1, alpha=1.5)
    res = SimpleNamespace(density=dens, grid=grid1)
    with pytest.raises(ValueError, match="drop `grid=`"):
        fp.compare(res, x, grid=fp.Grid([(-4, 4)], 40))
    with pytest.raises(TypeError, match="fokkerplanck.Grid"):
        fp.compare(dens, x, grid=[(-4, 4)])


def test_comparison_is_frozen(grid1):
    c = fp.compare(_normal_cells(grid1), np.zeros((10, 1)), grid=grid1)
    with pytest.raises(AttributeError):
        c.consistent = True


# ------------------------------------------------------- verdicts that explain
def test_explain_names_the_failed_test_and_the_likely_cause():
    grid = fp.Grid([(-5, 5)], 50)
    p = fp.gaussian_density(grid, [0.0], 1.0, normalise=True)
    rng = np.random.default_rng(0)
    # a shift of 0.03 sd at n = 20000: only the mean test sees it (z ~ 4.9, L1/floor ~ 1.4)
    c = fp.compare(p, rng.normal(0.03, 1.0, (20_000, 1)), grid=grid)
    assert c.failed_tests == ("mean[0]",) and not c.consistent
    text = c.explain()
    assert text.startswith("INCONSISTENT: the mean test rejects on axis 0 (z = 4.90, limit 2.81)")
    assert "chi2 p = 0.00564 passes" in text and "relaxation times 1/gap" in text and "O(dt)" in text
    assert c.z_crit == pytest.approx(2.807, abs=1e-3)
    # too wide: the chi-square test rejects (and particles beyond the box are impossible)
    wide = fp.compare(p, rng.normal(0.0, 1.3, (20_000, 1)), grid=grid)
    assert "chi2" in wide.failed_tests and "the chi-square test rejects" in wide.explain()
    # nothing inside
    out = fp.compare(p, np.full((10, 1), 7.0), grid=grid)
    assert "no particle is inside the grid" in out.explain()


def test_nan_points_are_refused_unless_whole_rows_of_absorbed_particles():
    grid = fp.Grid([(-5, 5), (-5, 5)], 20)
    p = np.full(grid.shape, 1 / 100.0)
    with pytest.raises(ValueError, match="all 50 points are NaN"):
        fp.compare(p, np.full((50, 2), np.nan), grid=grid)
    with pytest.raises(ValueError, match="all 5 points are NaN"):
        grid.histogram(np.full((5, 2), np.nan))
    half = np.zeros((4, 2))
    half[1, 0] = np.nan
    with pytest.raises(ValueError, match="row 1 .*NaN in some coordinates only"):
        fp.compare(p, half, grid=grid)
    with pytest.raises(ValueError, match="row 1"):
        grid.histogram(half)
    # whole NaN rows (absorbed particles) still count as outside
    x = np.zeros((4, 2))
    x[3] = np.nan
    assert fp.compare(p, x, grid=grid).n_inside == 3
    assert grid.integrate(grid.histogram(x)) == pytest.approx(0.75)


def test_complex_points_and_densities_are_refused():
    grid = fp.Grid([(-5, 5)], 20)
    p = np.full(grid.shape, 0.1)
    with pytest.raises(TypeError, match="`particles` is complex"):
        fp.compare(p, np.zeros((5, 1)) + 1j, grid=grid)
    with pytest.raises(TypeError, match="density.*is complex"):
        fp.compare(p + 0j, np.zeros((5, 1)), grid=grid)


def test_repr_is_a_short_summary():
    grid = fp.Grid([(-4, 4)], 400)
    c = fp.compare(_normal_cells(grid), np.random.default_rng(0).standard_normal((1000, 1)), grid=grid)
    r = repr(c)
    assert r.startswith("Comparison(n=1000, n_inside=1000, l1=") and "failed_tests=()" in r
    assert len(r) < 400 and "array" not in r
