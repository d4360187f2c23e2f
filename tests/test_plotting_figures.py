"""Figures a reader can use: every plot function takes the same labelling keywords,
2-D evolutions share one colour scale and draw every requested time, streamlines stay
where the density matters, and the figure carries the labels and colorbars it needs.

The checks inspect the Figure objects (axes, labels, colorbars, artists), so they fail
when a panel, a label or a colorbar goes missing.
"""

import inspect
import warnings

import numpy as np
import pytest
from matplotlib.collections import LineCollection

import fokkerplanck as fp
from fokkerplanck import plotting

FUNCS = [plotting.density, plotting.compare, plotting.current, plotting.evolution,
         plotting.convergence, plotting.modes]


def _panels(fig):
    return [a for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"]


def _colorbars(fig):
    """Colorbars: figure-level ones and those glued to a panel (its child axes)."""
    return [c for a in fig.axes for c in [a, *a.child_axes] if c.get_label() == "<colorbar>"]


@pytest.fixture(scope="module")
def ou():
    grid = fp.Grid([(-3, 3), (-2, 2)], (48, 32))
    sde = fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1.0, 0.5], [0.5, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        res = fp.stationary(sde, grid)
    return sde, grid, res


@pytest.fixture(scope="module")
def ev2(ou):
    sde, grid, _ = ou
    t = [0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6]           # seven times: more than one row
    p0 = fp.gaussian(grid, [1.0, 0.3], 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        ev = fp.evolve(sde, grid, p0, t)
    pt = fp.simulate(sde, p0, 1.6, dt=0.02, grid=grid, n=400, t_eval=t, rng=3)
    return ev, pt


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_every_function_takes_and_documents_the_same_keywords(func):
    sig = inspect.signature(func)
    doc = inspect.getdoc(func)
    for kw in ("xlabel", "ylabel", "title", "filename", "ax"):
        assert kw in sig.parameters, f"{func.__name__} lacks `{kw}=`"
        assert sig.parameters[kw].kind is inspect.Parameter.KEYWORD_ONLY
        assert kw in doc.split("Returns")[0], f"{func.__name__} does not document `{kw}`"


def test_evolution_2d_draws_every_time_on_one_scale_with_one_colorbar(ev2):
    ev, pt = ev2
    fig = plotting.evolution(ev, pt, xlabel="q1", ylabel="q2", title="relaxation")
    panels = _panels(fig)
    assert len(panels) == 2 * len(ev.t)                      # grid + particles per time
    titles = [a.get_title() for a in panels]
    for t in ev.t:
        assert f"grid, t = {t:.3g}" in titles
        assert any(s.startswith("particles") and s.endswith(f"t = {t:.3g}") for s in titles)
    assert all(a.get_xlabel() == "q1" and a.get_ylabel() == "q2" for a in panels)
    climits = {im.get_clim() for a in panels for im in a.get_images()}
    assert len(climits) == 1                                  # one colour scale for all
    assert climits.pop()[1] == pytest.approx(float(np.max(ev.density)))
    cbars = _colorbars(fig)
    assert len(cbars) == 1 and "density" in cbars[0].get_ylabel()
    assert fig._suptitle.get_text() == "relaxation"


def test_evolution_keeps_requested_times_in_order_and_refuses_bad_ones(ev2):
    ev, _ = ev2
    fig = plotting.evolution(ev, times=[6, 0, 3, 3])
    assert [a.get_title() for a in _panels(fig)] == [
        "grid, t = 1.6", "grid, t = 0", "grid, t = 0.2", "grid, t = 0.2"]
    with pytest.raises(ValueError, match="times.*indices into ev.t"):
        plotting.evolution(ev, times=[7])
    with pytest.raises(ValueError, match="times"):
        plotting.evolution(ev, times=[0.5])
    with pytest.raises(ValueError, match="empty"):
        plotting.evolution(ev, times=[])


def test_evolution_with_many_times_warns_and_keeps_first_and_last():
    grid = fp.Grid([(-4, 4)], 64)
    t = np.linspace(0, 2, 30)
    ev = fp.evolve(fp.ornstein_uhlenbeck(1.0, 1.0), grid, fp.gaussian(grid, 1.0, 0.3), t)
    with pytest.warns(fp.FokkerPlanckWarning, match="12 of the 30 times"):
        fig = plotting.evolution(ev)
    titles = [a.get_title() for a in _panels(fig)]
    assert len(titles) == 12 and titles[0] == "t = 0" and titles[-1] == "t = 2"
    assert all(a.get_xlabel() == "x" and a.get_ylabel() == "density" for a in _panels(fig))


def test_current_streamlines_only_where_the_density_matters(ou):
    _, grid, res = ou
    fig = plotting.current(res, xlabel="a", ylabel="b")
    ax = _panels(fig)[0]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert lines, "no streamlines"
    pts = np.concatenate([np.concatenate(seg) for c in lines for seg in [c.get_segments()] if seg])
    idx = np.stack([np.clip(np.searchsorted(grid.edges[k], pts[:, k]) - 1, 0, grid.shape[k] - 1)
                    for k in range(2)], axis=1)
    p = res.density[idx[:, 0], idx[:, 1]]
    # a streamline vertex may sit in the cell next to the last kept one (interpolation)
    assert p.min() > 1e-4 * res.density.max()
    assert (res.density < 1e-3 * res.density.max()).any()      # there was a tail to leave out
    labels = [c.get_ylabel() for c in _colorbars(fig)]
    assert any("|J|" in s for s in labels) and "density" in labels
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"
    assert ax.get_aspect() == 1.0                              # a 6 x 4 box: equal aspect
    with pytest.raises(ValueError, match="floor"):
        plotting.current(res, floor=1.5)


def test_maps_label_axes_and_explain_dashed_contours(ou, tmp_path):
    sde, grid, res = ou
    exact = fp.gaussian_density(grid, 0.0, fp.lyapunov(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]),
                                normalise=True)
    f = tmp_path / "d.png"
    fig = plotting.density(res, exact=exact, xlabel="u", ylabel="v", filename=f)
    ax = _panels(fig)[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("u", "v")
    assert "dashed red" in ax.get_title() and len(_colorbars(fig)) == 1
    assert f.stat().st_size > 1000
    x = np.random.default_rng(0).multivariate_normal([0, 0], fp.lyapunov(np.diag([1.0, 4.0]),
                                                     [[1, .5], [.5, 1]]), size=2000)
    fig = plotting.compare(res, x, exact=exact, xlabel="u", ylabel="v")
    panels = _panels(fig)
    assert "dashed red" in panels[0].get_title()
    assert [a.get_xlabel() for a in panels] == ["u", "u", "u", "v"]
    assert all(a.get_ylabel() for a in panels) and len(_colorbars(fig)) == 2
    fig = plotting.modes(fp.modes(sde, grid, 2), xlabel="u")
    assert len(_colorbars(fig)) == 2 and all(a.get_xlabel() == "u" for a in _panels(fig))


def test_convergence_names_reference_slopes_in_the_legend_not_on_the_data():
    fig = plotting.convergence([20, 40, 80, 160], [1e-5, 6e-7, 4e-8, 2.5e-9], orders=(2, 4),
                               xlabel="N", ylabel="L1 error", title="conv")
    ax = fig.axes[0]
    assert not ax.texts                                        # no text sitting on markers
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[1:] == ["reference N^-2", "reference N^-4"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("N", "L1 error")


def test_legend_sits_where_the_curves_are_not():
    grid1 = fp.Grid([(-4, 4)], 80)
    r1 = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), grid1)
    fig = plotting.density(r1, exact=fp.gaussian_density(grid1, 0.0, 0.5, normalise=True))
    ax = fig.axes[0]
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    xy = ax.transData.transform(np.column_stack([grid1.centers[0], r1.density]))
    assert not ((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)).any()


def test_demo_shows_particle_progress_and_explains_its_contours(tmp_path, capsys):
    from fokkerplanck.cli import main

    out = tmp_path / "demo.png"
    assert main(["demo", "--quick", "--particles", "2000", "--shape", "32", "-o", str(out)]) == 0
    cap = capsys.readouterr()
    assert "simulate" in cap.err and "100%" in cap.err          # the tqdm bar of the particle step
    assert "dashed red" in cap.out and "simulating 2000 particles" in cap.out
    assert main(["demo", "--quick", "--particles", "2000", "--shape", "32", "-o", str(out),
                 "--no-progress"]) == 0
    assert "simulate" not in capsys.readouterr().err
