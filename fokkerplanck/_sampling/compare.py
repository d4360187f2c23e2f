"""A grid density against particles: distances, statistical tests, noise floor.

:func:`compare` histograms particles on the cells of the density's grid and
measures how far the two are apart *relative to what sampling alone explains*:
the L1 distance beside its noise floor, a chi-square goodness-of-fit test with
the expected counts from the grid density, a Kolmogorov–Smirnov test in 1-D, and
moments with standard errors. The verdict ``consistent`` is a test with a
controlled false-alarm rate ``alpha``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

from .._model.grid import Grid
from .._util.summary import Summary
from .._util.validate import nan_rows, real_array, show

__all__ = ["Comparison", "compare"]

#: Expected count below which cells are pooled for the chi-square test.
MIN_EXPECTED = 5.0

_HEADER = (
    "| n | L1 | noise floor | L1/floor | TV | Hellinger | chi2/dof | chi2 p | KS p | verdict |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True, eq=False, repr=False)
class Comparison(Summary):
    """Result of :func:`compare`.

    Attributes
    ----------
    n : int
        Number of particles (including those outside the grid or absorbed).
    n_inside : int
        Particles that fall in a cell of the grid.
    l1 : float
        ``integral |p - hist| = sum_b |P_b - c_b / n|`` over the cells.
    tv : float
        Total variation, ``l1 / 2``.
    hellinger : float
        ``sqrt(1/2 sum_b (sqrt(P_b) - sqrt(c_b/n))^2)`` over the cells and the
        outside of the grid.
    noise_floor : float
        Expected L1 from sampling alone, ``sqrt(2 / (pi n)) sum_b sqrt(P_b (1 - P_b))``.
    chi2, chi2_dof, chi2_pvalue : float, int, float
        Pearson's statistic over the pooled bins, its degrees of freedom (bins - 1)
        and p-value.
    n_bins : int
        Number of chi-square bins after pooling cells with expected count < 5.
    ks_statistic, ks_pvalue : float or None
        One-sample Kolmogorov–Smirnov test of the particles inside the grid against
        the grid CDF (1-D only; ``None`` otherwise). Informational: it is sensitive
        to the within-cell shape of the density, which a grid cannot resolve.
    mean, mean_se : ndarray (d,)
        Particle mean and its standard error ``sqrt(diag(cov) / n)`` (particles
        inside the grid).
    cov, cov_se : ndarray (d, d)
        Particle covariance and the standard errors of its entries.
    grid_mean, grid_cov : ndarray
        Moments of the grid density (midpoint rule).
    mean_z : ndarray (d,)
        z-scores of the particles' *binned* mean (particles moved to their cell
        centres) against the grid density's mean, in units of its standard error
        under the density (see :func:`compare`).
    alpha : float
        False-alarm level of the verdict.
    consistent : bool
        ``chi2_pvalue >= alpha / 2`` and every ``|mean_z| <= z_crit`` (two-sided
        level ``alpha / (2 d)``): no test rejects at a Bonferroni-corrected level,
        so the false-alarm rate is at most ``alpha``.
    histogram, density : ndarray (grid.shape)
        The particle histogram (density units) and the grid density compared.
    grid : Grid
    success : bool
        The statistics could be computed (some particle inside the grid); the
        verdict itself is ``consistent``.
    message : str
        :meth:`explain`: the verdict in words.
    error_estimate : float
        ``noise_floor``: the L1 distance that sampling noise alone produces, the
        uncertainty of ``l1``.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-5, 5)], shape=50)
    >>> p = fp.gaussian_density(grid, [0.0], 1.0, normalise=True)
    >>> x = np.random.default_rng(0).normal(size=(20_000, 1))
    >>> c = fp.compare(p, x, grid=grid)
    >>> c.consistent, bool(c.l1 < 2 * c.noise_floor)
    (True, True)
    """

    n: int
    n_inside: int
    l1: float
    tv: float
    hellinger: float
    noise_floor: float
    chi2: float
    chi2_dof: int
    chi2_pvalue: float
    n_bins: int
    ks_statistic: float | None
    ks_pvalue: float | None
    mean: np.ndarray
    mean_se: np.ndarray
    cov: np.ndarray
    cov_se: np.ndarray
    grid_mean: np.ndarray
    grid_cov: np.ndarray
    mean_z: np.ndarray
    alpha: float
    consistent: bool
    histogram: np.ndarray = field(repr=False)
    density: np.ndarray = field(repr=False)
    grid: Grid = field(repr=False)

    @property
    def l1_ratio(self) -> float:
        """``l1 / noise_floor``: about 1 when the only error is sampling noise."""
        return self.l1 / self.noise_floor if self.noise_floor > 0 else math.inf

    def table(self, header: bool = True) -> str:
        """A short Markdown table row (with a header row if ``header``)."""
        ks = "–" if self.ks_pvalue is None else f"{self.ks_pvalue:.3g}"
        row = (
            f"| {self.n} | {self.l1:.4g} | {self.noise_floor:.4g} | {self.l1_ratio:.2f} | "
            f"{self.tv:.4g} | {self.hellinger:.4g} | {self.chi2:.1f}/{self.chi2_dof} | "
            f"{self.chi2_pvalue:.3g} | {ks} | "
            f"{'consistent' if self.consistent else 'INCONSISTENT'} |"
        )
        return f"{_HEADER}\n{row}" if header else row

    @property
    def z_crit(self) -> float:
        """The ``|mean_z|`` limit of the verdict: the two-sided ``alpha / (2 d)`` normal quantile."""
        return float(-scipy.special.ndtri(self.alpha / (4 * len(self.mean_z))))

    @property
    def failed_tests(self) -> tuple[str, ...]:
        """The tests that reject: ``"chi2"`` and ``"mean[k]"`` per axis ``k``; empty when consistent."""
        out = ["chi2"] if self.chi2_pvalue < self.alpha / 2 else []
        out += [f"mean[{k}]" for k, z in enumerate(self.mean_z) if abs(z) > self.z_crit]
        return tuple(out)

    def explain(self) -> str:
        """The verdict in words: which test failed, by how much, and the likely cause.

        Examples
        --------
        >>> import numpy as np
        >>> import fokkerplanck as fp
        >>> grid = fp.Grid(bounds=[(-5, 5)], shape=50)
        >>> p = fp.gaussian_density(grid, [0.0], 1.0, normalise=True)
        >>> x = np.random.default_rng(0).normal(0.1, 1.0, size=(20_000, 1))
        >>> print(fp.compare(p, x, grid=grid).explain())  # doctest: +ELLIPSIS
        INCONSISTENT: the mean test rejects on axis 0 (z = ..., limit 2.81)...
        """
        zc = self.z_crit
        stats = (f"L1/noise floor = {self.l1_ratio:.2f}, chi2 p = {self.chi2_pvalue:.3g} "
                 f"(limit {self.alpha / 2:.3g}), max |mean z| = {float(np.max(np.abs(self.mean_z))):.2f} "
                 f"(limit {zc:.2f})")
        if self.consistent:
            return f"consistent at alpha = {self.alpha:g}: no test rejects ({stats})."
        if self.n_inside == 0:
            return ("INCONSISTENT: no particle is inside the grid (all are outside the box or "
                    "absorbed) while the density has its mass there; check the particles' start, "
                    "the box, and that the particles are of this SDE.")
        failed = self.failed_tests
        means = [int(f[5:-1]) for f in failed if f.startswith("mean")]
        parts = []
        if means:
            axes = ", ".join(f"axis {k} (z = {self.mean_z[k]:.2f}" + ")" for k in means)
            parts.append(f"the mean test rejects on {axes.replace(')', f', limit {zc:.2f})')}")
        if "chi2" in failed:
            chi = "inf (particles where the density has no mass)" if math.isinf(self.chi2) else \
                f"{self.chi2:.1f} on {self.chi2_dof} degrees of freedom"
            parts.append(f"the chi-square test rejects (chi2 = {chi}, p = {self.chi2_pvalue:.3g} < "
                         f"{self.alpha / 2:.3g})")
        other = f"L1/noise floor = {self.l1_ratio:.2f}"
        if "chi2" not in failed:
            other = f"chi2 p = {self.chi2_pvalue:.3g} passes; {other}"
        head = f"INCONSISTENT: {' and '.join(parts)}; {other}."
        if "chi2" in failed and math.isinf(self.chi2):
            cause = ("Likely cause: particles sit where the density has no mass (outside the box "
                     "while the density has all its mass inside, or in cells where it is zero): a "
                     "box too small for the particles' tails, a wrong boundary, or particles of "
                     "another SDE.")
        elif "chi2" not in failed and self.l1_ratio < 1.5:
            cause = ("Likely cause: a small shift of the whole distribution that only the mean test "
                     "sees: particles not yet relaxed (t_end shorter than a few relaxation times "
                     "1/gap; see fp.spectral_gap), the O(dt) bias of Euler-Maruyama (halve dt: the "
                     "bias halves), or the O(eta) gap between SGD and its SDE.")
        elif self.l1_ratio > 2:
            cause = ("Likely cause: the shapes differ beyond sampling noise: particles not yet "
                     "relaxed (t_end shorter than a few relaxation times 1/gap), a time step too "
                     "large (Euler-Maruyama's O(dt) bias), the O(eta) gap of the SGD SDE, or a "
                     "different equation (convention, temperature, boundary).")
        else:
            cause = ("Likely cause: a small systematic difference that this many particles resolve: "
                     "the O(dt) bias of Euler-Maruyama (halve dt), the O(eta) gap between SGD and "
                     "its SDE, the grid's own discretization error (refine the grid), or particles "
                     "not yet fully relaxed.")
        return f"{head} {cause}"

    def __str__(self) -> str:
        return f"{self.table()}\n{self.explain()}"

    _error_meaning = "the noise floor: L1 from sampling alone"
    _show_message = False  # str() prints the table and explain()

    @property
    def success(self) -> bool:
        return bool(self.n_inside > 0)

    @property
    def message(self) -> str:
        return self.explain()

    @property
    def error_estimate(self) -> float:
        return float(self.noise_floor)

    def _summary_items(self) -> list[tuple[str, Any]]:
        return [("n", self.n), ("n_inside", self.n_inside), ("l1", self.l1), ("noise_floor", self.noise_floor),
                ("chi2_pvalue", self.chi2_pvalue), ("max_abs_mean_z", float(np.max(np.abs(self.mean_z)))),
                ("consistent", self.consistent), ("failed_tests", self.failed_tests), ("grid", self.grid)]


# ------------------------------------------------------------------- helpers
def on_grid(density_or_result: Any, grid: Grid | None) -> tuple[np.ndarray, Grid]:
    """``(array of grid.shape, grid)`` from a result (``.density``, ``.grid``) or an array
    with ``grid=``; no check of the values (plots also show signed fields)."""
    if hasattr(density_or_result, "density") and hasattr(density_or_result, "grid"):
        if grid is not None and grid is not density_or_result.grid:
            raise ValueError(
                "`grid` was given together with a result that has its own grid; drop `grid=`."
            )
        p, grid = density_or_result.density, density_or_result.grid
    else:
        if grid is None:
            raise ValueError(
                "a density given as an array needs the grid it lives on: pass `grid=`, or "
                "pass a result object with `.density` and `.grid`."
            )
        p = density_or_result
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a fokkerplanck.Grid, got {type(grid).__name__}.")
    p = real_array("density_or_result", p, " (the density)")
    if p.shape != grid.shape:
        raise ValueError(
            f"the density has shape {p.shape} but the grid has shape {grid.shape}; "
            "evaluate the density at grid.points()."
        )
    return p, grid


def _as_density(density_or_result: Any, grid: Grid | None) -> tuple[np.ndarray, Grid]:
    """:func:`on_grid`, and the values must be a density: finite, >= 0, some mass."""
    p, grid = on_grid(density_or_result, grid)
    if not np.all(np.isfinite(p)):
        raise ValueError("the density contains NaN or inf; give a finite density.")
    pmax = float(p.max()) if p.size else 0.0
    if pmax <= 0:
        raise ValueError("the density is zero (or negative) everywhere; give a density with mass.")
    if p.min() < -1e-8 * pmax:
        i = np.unravel_index(int(np.argmin(p)), p.shape)
        raise ValueError(
            f"the density is negative ({float(p[i]):.3g} at cell {tuple(int(j) for j in i)}); "
            "a density must be >= 0."
        )
    return np.maximum(p, 0.0), grid


def _as_points(particles: Any, grid: Grid) -> np.ndarray:
    result = hasattr(particles, "x") and hasattr(particles, "exit_time")
    x = particles.x if result else particles
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`particles` must be a Particles result or an array of points (n, {grid.ndim}), got a string.")
    try:
        x = real_array("particles", x)
    except TypeError as err:
        if "complex" in str(err):
            raise
        raise TypeError(
            f"`particles` must be a Particles result or an array of points (n, {grid.ndim}), "
            f"got {type(particles).__name__}."
        ) from None
    if x.ndim != 2 or x.shape[1] != grid.ndim or x.shape[0] == 0:
        hint = " For 1-D points write x[:, None]." if x.ndim == 1 else ""
        raise ValueError(
            f"`particles` must be a Particles result or points of shape (n, {grid.ndim}) "
            f"for this {grid.ndim}-D grid (n >= 1), got shape {x.shape}.{hint}"
        )
    nan_rows("particles", x)  # NaN rows (absorbed particles) count as outside the grid
    return x


def _cell_counts(x: np.ndarray, grid: Grid) -> np.ndarray:
    """Counts per cell (flattened C order); rows that are NaN or outside are dropped."""
    x = x[np.isfinite(x).all(axis=1)]
    lo, hi = grid.lower, grid.upper
    per = np.asarray(grid.periodic)
    if per.any():
        x = x.copy()
        x[:, per] = lo[per] + np.mod(x[:, per] - lo[per], (hi - lo)[per])
    x = x[((x >= lo) & (x <= hi)).all(axis=1)]
    h = np.asarray(grid.spacing)
    idx = np.floor((x - lo) / h).astype(np.int64)
    np.clip(idx, 0, np.asarray(grid.shape) - 1, out=idx)  # x == hi lands in the last cell
    flat = np.ravel_multi_index(tuple(idx.T), grid.shape) if idx.size else np.zeros(0, np.int64)
    return np.bincount(flat, minlength=grid.size).astype(float)


def _pool(expected: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool bins with expected count < 5, smallest first, into bins of >= 5.

    The partition depends on the expected counts only (not on the data), so the
    chi-square statistic keeps its null distribution.
    """
    big = expected >= MIN_EXPECTED
    small = np.flatnonzero(~big)
    order = small[np.argsort(expected[small], kind="stable")]
    ce = np.concatenate([[0.0], np.cumsum(expected[order])])
    co = np.concatenate([[0.0], np.cumsum(observed[order])])
    # greedy, smallest first: a pooled bin takes the next cells until it expects >= 5;
    # one bisection of the cumulative sums per pooled bin (not a step per cell)
    cum, cuts = ce.tolist(), [0]
    while True:
        j = bisect.bisect_left(cum, cum[cuts[-1]] + MIN_EXPECTED, lo=cuts[-1] + 1)
        if j >= len(cum):
            break
        cuts.append(j)
    e_out = np.concatenate([expected[big], np.diff(ce[cuts])])
    o_out = np.concatenate([observed[big], np.diff(co[cuts])])
    rest_e, rest_o = ce[-1] - ce[cuts[-1]], co[-1] - co[cuts[-1]]
    if rest_e > 0 or rest_o > 0:  # a remainder below 5: join the smallest bin
        if e_out.size:
            j = int(np.argmin(e_out))
            e_out[j] += rest_e
            o_out[j] += rest_o
        else:
            e_out, o_out = np.array([rest_e]), np.array([rest_o])
    return e_out, o_out


def _grid_cdf_1d(P: np.ndarray, grid: Grid):
    """CDF (on the grid, normalised to 1) piecewise linear within each cell."""
    edges = grid.edges[0]
    F = np.concatenate([[0.0], np.cumsum(P)])
    F /= F[-1]

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.interp(x, edges, F)

    return cdf


# -------------------------------------------------------------------- compare
def compare(
    density_or_result: Any,
    particles: Any,
    *,
    grid: Grid | None = None,
    alpha: float = 0.01,
) -> Comparison:
    r"""Compare a density on a grid with particles: distances, tests and a verdict.

    Parameters
    ----------
    density_or_result : ndarray or result
        A density of shape ``grid.shape`` (then pass ``grid=``), or an object with
        ``.density`` and ``.grid`` such as :class:`~fokkerplanck.StationaryResult`.
    particles : Particles or ndarray (n, d)
        Particles from :func:`~fokkerplanck.simulate` (absorbed ones, ``NaN``,
        count as outside the grid) or points. Rows NaN in only some coordinates,
        and points that are all NaN, are refused.
    grid : Grid, optional
        The grid of a density array.
    alpha : float
        False-alarm level of ``consistent`` (``0 < alpha < 1``).

    Returns
    -------
    Comparison

    Notes
    -----
    Cell masses are ``P_b = p_b * cell_volume`` (the finite-volume meaning of a
    cell value). If they sum to less than 1 the rest, ``P_out = 1 - sum P_b``, is
    the probability of being outside the grid (tails of an exact density,
    mass absorbed at a wall) and gets its own chi-square bin with the particles
    outside the grid; a total above 1 (up to 1 %, quadrature round-off) is
    renormalised, more is an error.

    With ``c_b`` particles of ``n`` in cell ``b``:

    * ``l1 = sum_b |P_b - c_b/n|``, ``tv = l1 / 2``; the **noise floor** is
      ``E l1`` under pure sampling noise: ``c_b/n - P_b`` is approximately normal
      with variance ``P_b (1 - P_b) / n``, and ``E|N(0, s^2)| = s sqrt(2/pi)``, so
      ``E l1 ~ sqrt(2/(pi n)) sum_b sqrt(P_b (1 - P_b))``.
    * chi-square: ``sum (O - E)^2 / E`` over bins with ``E = n P``; cells with
      ``E < 5`` are pooled, smallest expected counts first, into bins of
      ``E >= 5`` (the partition does not depend on the data); ``bins - 1``
      degrees of freedom. A particle in a cell (or outside the grid) where the
      density has exactly zero mass is impossible under the density: then
      ``chi2 = inf`` and the p-value is 0.
    * moments: the particles' binned mean (each particle at its cell centre) is
      compared with the density's midpoint-rule mean, with standard error
      ``sqrt(Var_p(x_k) / n_inside)`` taken from the density itself (the null
      hypothesis), so the cell discretization cancels exactly.
    * ``consistent`` when the chi-square p-value is ``>= alpha / 2`` and every
      ``|mean_z|`` is within the two-sided ``alpha / (2 d)`` normal quantile: a
      Bonferroni union of ``1 + d`` tests, so a correct density is declared
      inconsistent with probability at most ``alpha``. The verdict is about
      consistency *at this n*: with enough particles it will expose the grid's
      own discretization error.

    Examples
    --------
    >>> import numpy as np
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-5, 5)], shape=100)
    >>> p = np.exp(-grid.centers[0]**2 / 2) / np.sqrt(2 * np.pi)
    >>> x = np.random.default_rng(0).standard_normal((10000, 1))
    >>> cmp = fp.compare(p, x, grid=grid)
    >>> cmp.consistent, bool(cmp.l1 < 2 * cmp.noise_floor)
    (True, True)
    >>> fp.compare(p, 1.3 * x, grid=grid).consistent   # too wide
    False
    """
    p, grid = _as_density(density_or_result, grid)
    x = _as_points(particles, grid)
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"`alpha` must be in (0, 1), got {show(alpha)}.")
    n = x.shape[0]
    d = grid.ndim
    P, p_out = _cell_masses(p, grid)
    counts = _cell_counts(x, grid)
    n_in = int(counts.sum())
    l1, tv, hellinger, noise_floor = _distances(P, p_out, counts, n)
    chi2, dof, pval, k = _chi_square(P, p_out, counts, n)
    ks_stat, ks_p = _ks_1d(x, P, grid) if d == 1 and n_in > 0 else (None, None)
    mean, mean_se, cov, cov_se = _particle_moments(x, d)
    Pin = P.reshape(grid.shape)
    grid_mean = grid.mean(Pin) if Pin.sum() > 0 else np.full(d, np.nan)
    grid_cov = grid.cov(Pin) if Pin.sum() > 0 else np.full((d, d), np.nan)
    mean_z = _binned_mean_z(Pin, counts, n_in, grid)
    z_crit = float(-scipy.special.ndtri(a / (4 * d)))
    consistent = bool(pval >= a / 2 and np.all(np.abs(mean_z) <= z_crit))

    return Comparison(
        n=int(n), n_inside=n_in, l1=l1, tv=tv, hellinger=hellinger, noise_floor=noise_floor,
        chi2=chi2, chi2_dof=int(dof), chi2_pvalue=pval, n_bins=int(k),
        ks_statistic=ks_stat, ks_pvalue=ks_p, mean=mean, mean_se=mean_se, cov=cov,
        cov_se=cov_se, grid_mean=grid_mean, grid_cov=grid_cov, mean_z=mean_z, alpha=a,
        consistent=consistent, histogram=counts.reshape(grid.shape) / (n * grid.cell_volume),
        density=p, grid=grid,
    )


def _cell_masses(p: np.ndarray, grid: Grid) -> tuple[np.ndarray, float]:
    """Cell masses ``P_b`` (flattened) and the mass outside the grid, ``1 - sum P_b``."""
    P = p.ravel() * grid.cell_volume
    mass = float(P.sum())
    if mass > 1.01:
        raise ValueError(
            f"the density integrates to {mass:.6g} > 1 on the grid; normalise it "
            "(divide by grid.integrate(p))."
        )
    if mass > 1.0:
        P = P / mass
        mass = 1.0
    p_out = 1.0 - mass
    if p_out < 1e-12:  # round-off of a density of unit mass: nothing outside the grid
        p_out = 0.0
    return P, p_out


def _distances(P: np.ndarray, p_out: float, counts: np.ndarray, n: int) -> tuple[float, float, float, float]:
    """L1, total variation, Hellinger distance and the L1 noise floor."""
    c_out = n - int(counts.sum())
    freq = counts / n
    l1 = float(np.abs(P - freq).sum())
    with np.errstate(invalid="ignore"):
        hell2 = 0.5 * (float(((np.sqrt(P) - np.sqrt(freq)) ** 2).sum())
                       + (math.sqrt(p_out) - math.sqrt(c_out / n)) ** 2)
    hellinger = math.sqrt(max(hell2, 0.0))
    noise_floor = math.sqrt(2.0 / (math.pi * n)) * float(np.sqrt(P * np.clip(1.0 - P, 0.0, None)).sum())
    return l1, 0.5 * l1, hellinger, noise_floor


def _chi_square(P: np.ndarray, p_out: float, counts: np.ndarray, n: int) -> tuple[float, int, float, int]:
    """Pearson's chi-square over pooled bins (the outside of the grid is one more cell):
    statistic, degrees of freedom, p-value and number of bins."""
    c_out = n - int(counts.sum())
    expected = np.append(P * n, p_out * n)
    observed = np.append(counts, float(c_out))
    if p_out == 0.0 and c_out == 0:
        expected, observed = expected[:-1], observed[:-1]
    impossible = int(observed[expected == 0].sum())  # particles where the density has no mass
    e_b, o_b = _pool(expected, observed)
    k = e_b.size
    if impossible:
        return math.inf, max(k - 1, 1), 0.0, k
    if k < 2:
        return 0.0, 0, 1.0, k
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(e_b > 0, (o_b - e_b) ** 2 / np.where(e_b > 0, e_b, 1.0),
                         np.where(o_b > 0, np.inf, 0.0))
    chi2 = float(terms.sum())
    dof = k - 1
    pval = float(scipy.special.chdtrc(dof, chi2)) if math.isfinite(chi2) else 0.0
    return chi2, dof, pval, k


def _ks_1d(x: np.ndarray, P: np.ndarray, grid: Grid) -> tuple[float | None, float | None]:
    """One-sample Kolmogorov–Smirnov test of the particles inside a 1-D grid against its CDF."""
    xf = x[np.isfinite(x).all(axis=1), 0]
    lo, hi = grid.bounds[0]
    if grid.periodic[0]:
        xf = lo + np.mod(xf - lo, hi - lo)
    inside_pts = xf[(xf >= lo) & (xf <= hi)]
    if not (P.sum() > 0 and inside_pts.size):
        return None, None
    from scipy.stats import kstest  # only here: importing scipy.stats costs ~0.5 s

    res = kstest(inside_pts, _grid_cdf_1d(P, grid))
    return float(res.statistic), float(res.pvalue)


def _particle_moments(x: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, its standard error, covariance and the standard errors of its entries
    (particles with finite positions; NaN with fewer than two)."""
    xin = x[np.isfinite(x).all(axis=1)]
    if xin.shape[0] < 2:
        mean = xin.mean(axis=0) if xin.shape[0] else np.full(d, np.nan)
        nan = np.full((d, d), np.nan)
        return mean, np.full(d, np.nan), nan, nan
    mean = xin.mean(axis=0)
    xc = xin - mean
    cov = xc.T @ xc / (xin.shape[0] - 1)
    mean_se = np.sqrt(np.diag(cov) / xin.shape[0])
    cov_se = np.empty((d, d))
    for i in range(d):
        for j in range(i + 1):
            cov_se[i, j] = cov_se[j, i] = (xc[:, i] * xc[:, j]).std(ddof=1) / math.sqrt(xin.shape[0])
    return mean, mean_se, cov, cov_se


def _binned_mean_z(Pin: np.ndarray, counts: np.ndarray, n_in: int, grid: Grid) -> np.ndarray:
    """Per axis, the z-score of the particles' binned mean against the density's mean,
    with the standard error under the density."""
    d = grid.ndim
    mean_z = np.zeros(d)
    if not (n_in > 0 and Pin.sum() > 0):
        return mean_z
    for ax in range(d):
        others = tuple(j for j in range(d) if j != ax)
        w = Pin.sum(axis=others)
        w = w / w.sum()
        c = grid.centers[ax]
        mu = float(w @ c)
        var = float(w @ (c - mu) ** 2)
        cnt = counts.reshape(grid.shape).sum(axis=others)
        binned_mean = float(cnt @ c) / n_in
        se = math.sqrt(var / n_in) if var > 0 else 0.0
        diff = binned_mean - mu
        mean_z[ax] = diff / se if se > 0 else (0.0 if abs(diff) < 1e-12 else math.inf)
    return mean_z
