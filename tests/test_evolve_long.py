"""evolve at long horizons: mass 1 and the stationary density at any t, in seconds."""

import time
import warnings

import numpy as np
import pytest

import fokkerplanck as fp


@pytest.mark.parametrize("method", ["auto", "tr-bdf2", "backward_euler"])
def test_ou_to_1e20_keeps_mass_and_reaches_the_stationary_density(method):
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    grid = fp.Grid(bounds=[(-6, 6)], shape=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        ev = fp.evolve(sde, grid, fp.gaussian(grid, 2.0, 0.1), [0.0, 1.0, 1e20], method=method)
    assert np.abs(ev.mass - 1).max() < 1e-12
    stat = fp.stationary(sde, grid, conductance="sg").density   # the generator's own null vector
    assert grid.integrate(np.abs(ev.density[-1] - stat)) < 1e-10
    assert ev.n_steps < 25_000


def test_2d_to_1e12_in_few_steps():
    sde = fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]])
    grid = fp.Grid(bounds=[(-5, 5), (-3, 3)], shape=48)
    ev = fp.evolve(sde, grid, fp.gaussian(grid, [1.0, 0.5], 0.05), [0.0, 1e12])
    stat = fp.stationary(sde, grid, conductance="sg").density   # the generator's own null vector
    assert abs(ev.mass[-1] - 1) < 1e-12 and grid.integrate(np.abs(ev.density[-1] - stat)) < 1e-9
    assert ev.n_steps < 1000 and ev.nlu < 60


def test_growing_steps_keep_the_accuracy_of_the_rule():
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    grid = fp.Grid(bounds=[(-6, 6)], shape=120)
    ts = [0.0, 0.5, 2.0, 10.0, 100.0]
    ref = fp.evolve(sde, grid, fp.gaussian(grid, 2.0, 0.1), ts, method="expm")
    ev = fp.evolve(sde, grid, fp.gaussian(grid, 2.0, 0.1), ts, method="tr-bdf2", rtol=1e-4)
    err = [grid.integrate(np.abs(a - b)) for a, b in zip(ev.density, ref.density)]
    assert max(err) < 1e-3


def test_expm_long_horizon_takes_seconds():
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    grid = fp.Grid(bounds=[(-6, 6)], shape=64)
    t = time.perf_counter()
    ev = fp.evolve(sde, grid, fp.gaussian(grid, 2.0, 0.1), [0.0, 1e5], method="expm")
    assert time.perf_counter() - t < 10
    stat = fp.stationary(sde, grid, conductance="sg").density   # the generator's own null vector
    assert abs(ev.mass[-1] - 1) < 1e-12 and grid.integrate(np.abs(ev.density[-1] - stat)) < 1e-10


def test_absorbing_long_horizon_decays_without_negatives():
    grid = fp.Grid(bounds=[(0, 1)], shape=50, boundary="absorbing")
    sde = fp.brownian(1.0)
    qs = fp.quasi_stationary(sde, grid)
    ev = fp.evolve(sde, grid, qs.density, [0.0, 1.0, 1e6])
    assert abs(ev.mass[1] - np.exp(-qs.rate)) < 1e-4  # rtol, relative to the mass of p0
    assert ev.density.min() >= 0 and ev.mass[-1] < 1e-300
