import numpy as np
import pytest

import fokkerplanck as fp

H = np.diag([1.0, 4.0])
NOISE = np.array([[1.0, 0.5], [0.5, 1.0]])


def test_richardson_makes_sg_fourth_order_on_the_nonequilibrium_ou():
    sde = fp.ornstein_uhlenbeck(H, NOISE)
    S = fp.lyapunov(H, NOISE)
    errs, estimates = [], []
    for n in (32, 48):
        grid = fp.Grid(bounds=[(-6, 6), (-3.5, 3.5)], shape=n)
        ex = fp.richardson(lambda g: fp.stationary(sde, g).density, grid)
        exact = fp.gaussian_density(grid, np.zeros(2), S)
        errs.append(grid.integrate(np.abs(ex.density - exact)))
        fine_grid = grid.refined(3)
        fine_err = fine_grid.integrate(np.abs(ex.fine - fp.gaussian_density(fine_grid, np.zeros(2), S)))
        estimates.append((ex.error_estimate, fine_err))
    assert np.log(errs[0] / errs[1]) / np.log(48 / 32) > 3.5
    assert errs[1] < 5e-6
    for estimate, actual in estimates:  # the estimate of the fine error is within 30 %
        assert estimate == pytest.approx(actual, rel=0.3)


def test_richardson_in_1d_with_the_highorder_scheme():
    sde = fp.SDE(drift=lambda x: -x + 0.5 * np.sin(x), sigma=1.0)
    grid = fp.Grid(bounds=[(-6, 6)], shape=30)
    exact = np.exp(-(grid.centers[0] ** 2) - np.cos(grid.centers[0]))
    exact /= grid.integrate(exact)
    plain = grid.integrate(np.abs(fp.stationary(sde, grid, scheme="highorder").density - exact))
    ex = fp.richardson(lambda g: fp.stationary(sde, g, scheme="highorder").density, grid, order=4)
    assert grid.integrate(np.abs(ex.density - exact)) < plain / 100


@pytest.mark.parametrize("kwargs, match", [(dict(factor=2), "odd"), (dict(factor=3.5), "odd"), (dict(order=0), "order")])
def test_bad_richardson_arguments(kwargs, match):
    grid = fp.Grid(bounds=[(0, 1)], shape=5)
    with pytest.raises(ValueError, match=match):
        fp.richardson(lambda g: np.ones(g.shape), grid, **kwargs)


def test_solve_returning_the_wrong_shape():
    grid = fp.Grid(bounds=[(0, 1)], shape=5)
    with pytest.raises(ValueError, match="returned shape"):
        fp.richardson(lambda g: np.ones(3), grid)
