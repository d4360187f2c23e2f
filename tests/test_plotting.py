"""Plotting: every function returns a Figure with the expected artists, honours
``ax=``/``title=``/``filename=`` and refuses mismatched input."""

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.image import AxesImage

import fokkerplanck as fp
from fokkerplanck import plotting


@pytest.fixture(scope="module")
def ou2():
    grid = fp.Grid([(-3, 3), (-2, 2)], (40, 30))
    H, C = np.diag([1.0, 4.0]), [[1.0, 0.5], [0.5, 1.0]]
    sde = fp.ornstein_uhlenbeck(H, C)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        res = fp.stationary(sde, grid)
    exact = fp.gaussian_density(grid, 0.0, fp.lyapunov(H, C), normalise=True)
    x = np.random.default_rng(0).multivariate_normal([0, 0], fp.lyapunov(H, C), size=4000)
    return sde, grid, res, exact, x


@pytest.fixture(scope="module")
def ou1():
    grid = fp.Grid([(-4, 4)], 80)
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    res = fp.stationary(sde, grid)
    exact = fp.gaussian_density(grid, 0.0, 0.5, normalise=True)
    x = np.random.default_rng(1).normal(0, np.sqrt(0.5), size=(3000, 1))
    return sde, grid, res, exact, x


def _images(fig):
    return [a for ax in fig.axes for a in ax.get_images() if isinstance(a, AxesImage)]


def test_density_1d_curves_and_file(ou1, tmp_path):
    _, grid, res, exact, _ = ou1
    f = tmp_path / "d.png"
    fig = plotting.density(res, exact=exact, title="OU", filename=f)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    assert np.allclose(ax.get_lines()[0].get_ydata(), res.density)
    assert f.stat().st_size > 1000
    assert fig._suptitle.get_text() == "OU"


def test_density_array_needs_grid(ou1):
    _, grid, res, _, _ = ou1
    with pytest.raises(ValueError, match="grid="):
        plotting.density(res.density)
    with pytest.raises(ValueError, match="shape"):
        plotting.density(res.density[:-1], grid)
    fig = plotting.density(res.density, grid, log=True)
    assert fig.axes[0].get_yscale() == "log"


def test_density_2d_heatmap_contours_exact(ou2):
    _, grid, res, exact, _ = ou2
    fig = plotting.density(res, exact=exact)
    assert len(_images(fig)) == 1
    assert np.allclose(_images(fig)[0].get_array().T, res.density)
    ax = fig.axes[0]
    assert len(ax.collections) >= 2  # grid contours + exact contours (dashed)


def test_density_into_given_axes(ou1):
    import matplotlib.pyplot as plt

    _, _, res, _, _ = ou1
    fig0, ax = plt.subplots()
    fig = plotting.density(res, ax=ax, title="mine")
    assert fig is fig0 and ax.get_title() == "mine"


def test_compare_1d(ou1):
    _, grid, res, exact, x = ou1
    fig = plotting.compare(res, x, exact=exact)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("particles" in s for s in labels) and "grid" in labels and "exact" in labels
    assert "noise floor" in ax.get_title()


def test_compare_2d_panels(ou2):
    _, grid, res, exact, x = ou2
    fig = plotting.compare(res, x, exact=exact)
    visible = [a for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"]
    assert len(visible) == 4
    imgs = _images(fig)
    assert len(imgs) == 2
    hist = grid.histogram(x)
    assert np.allclose(imgs[1].get_array().T, hist)
    # marginals: grid line + exact line on each marginal axis
    for k, ax in enumerate(visible[2:]):
        lines = ax.get_lines()
        assert np.allclose(lines[0].get_ydata(), grid.marginal(res.density, k))
        assert len(lines) == 2


def test_compare_2d_with_axes_and_particles_object(ou2):
    import matplotlib.pyplot as plt

    sde, grid, res, _, _ = ou2
    pt = fp.simulate(sde, np.zeros((500, 2)), 0.5, dt=0.05, grid=grid, rng=0)
    fig0, axs = plt.subplots(2, 2)
    fig = plotting.compare(res, pt, ax=axs)
    assert fig is fig0
    with pytest.raises(ValueError, match="4 panels"):
        plotting.compare(res, pt, ax=axs[0, 0])


def test_current_streamlines(ou2):
    _, grid, res, _, _ = ou2
    fig = plotting.current(res)
    ax = fig.axes[0]
    assert any(isinstance(c, LineCollection) for c in ax.collections)  # streamplot lines
    assert "max |J|" in ax.get_title()


def test_current_zero_for_detailed_balance(ou1):
    grid = fp.Grid([(-4.5, 4.5), (-4.5, 4.5)], 30)
    res = fp.stationary(fp.langevin(lambda x: 0.5 * (x**2).sum(-1), 1.0), grid)
    fig = plotting.current(res)
    assert "detailed balance" in fig.axes[0].get_title()
    fig1 = plotting.current(ou1[2])
    assert len(fig1.axes[0].get_lines()) == 1


def test_evolution_1d_and_2d(ou1, ou2):
    sde, grid, _, _, _ = ou1
    t = [0.0, 0.2, 1.0]
    ev = fp.evolve(sde, grid, fp.gaussian(grid, 1.0, 0.05), t)
    pt = fp.simulate(sde, fp.gaussian(grid, 1.0, 0.05), 1.0, dt=0.05, grid=grid, n=500, t_eval=t, rng=0)
    fig = plotting.evolution(ev, pt, exact=lambda s: None)
    assert len([a for a in fig.axes if a.get_visible()]) == 3
    assert fig.axes[1].get_title() == "t = 0.2"
    sde2, grid2, _, _, _ = ou2
    ev2 = fp.evolve(sde2, grid2, fp.gaussian(grid2, [1, 0], 0.1), t)
    pt2 = fp.simulate(sde2, fp.gaussian(grid2, [1, 0], 0.1), 1.0, dt=0.05, grid=grid2, n=500, t_eval=t, rng=0)
    fig2 = plotting.evolution(ev2, pt2)
    assert len(_images(fig2)) == 6
    with pytest.raises(ValueError, match="snapshots"):
        plotting.evolution(ev2, [pt2.x])


def test_convergence_slopes():
    ns = [16, 32, 64, 128]
    err = [1.0 / n**2 for n in ns]
    fig = plotting.convergence(ns, {"second order": err}, orders=(1, 2))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "order 2.00" in ax.get_legend().get_texts()[0].get_text()
    assert len(ax.get_lines()) == 3  # data + two reference slopes
    with pytest.raises(ValueError, match="grid sizes"):
        plotting.convergence(ns, err[:-1])


def test_modes(ou1):
    sde, grid, _, _, _ = ou1
    fig = plotting.modes(fp.modes(sde, grid, 2))
    assert len(fig.axes[0].get_lines()) == 3  # two modes + zero line
