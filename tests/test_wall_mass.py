"""The wall-mass warning fires where the box biases the moments and stays silent where
the bias is below the discretization error: one ResolutionWarning per call, all walls
in one message (see ``WALL_MASS`` in ``fokkerplanck._solvers.resolution``)."""

import warnings

import numpy as np
import pytest

import fokkerplanck as fp

SD = np.sqrt(0.5)                       # stationary standard deviation of dx = -x dt + dB


def _solve(a: float, per_sd: int):
    grid = fp.Grid([(-a * SD, a * SD)], round(2 * a * per_sd))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), grid)
    bias = abs(grid.cov(res.density)[0, 0] / 0.5 - 1)   # detailed balance: only the box biases it
    walls = [x for x in w if issubclass(x.category, fp.ResolutionWarning) and "walls" in str(x.message)]
    return bias, walls


@pytest.mark.parametrize("per_sd", [5, 10])
@pytest.mark.parametrize("a", [2.5, 3.0, 3.25])
def test_warns_once_where_the_box_biases_the_variance(a, per_sd):
    bias, walls = _solve(a, per_sd)
    assert bias > 5e-3
    assert len(walls) == 1
    msg = str(walls[0].message)
    assert "lower wall of axis 0" in msg and "upper wall of axis 0" in msg and "widen `bounds`" in msg


@pytest.mark.parametrize("per_sd", [5, 10])
def test_silent_where_the_bias_is_below_a_second_order_error(per_sd):
    bias, walls = _solve(4.5, per_sd)
    assert bias < 2e-4 and not walls


def test_one_warning_for_every_wall_of_a_2d_box():
    grid = fp.Grid([(-2, 2), (-2, 2)], 40)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fp.stationary(fp.ornstein_uhlenbeck(np.eye(2), 2 * np.eye(2)), grid)
    walls = [x for x in w if "walls" in str(x.message)]
    assert len(walls) == 1
    assert all(f"{s} wall of axis {k}" in str(walls[0].message) for s in ("lower", "upper") for k in (0, 1))
