"""Hardening: a catalogue of bad inputs across the public API (each answered by a
clear error that names the argument), hypothesis fuzzing of the public API's
arguments (only documented exceptions may escape), and steep losses (loss
differences of up to 1e4 temperatures across a cell) that must give finite, correct
densities."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fokkerplanck as fp

# ---------------------------------------------------------------- fixtures
G1 = fp.Grid([(-3, 3)], 30)
G2 = fp.Grid([(-3, 3), (-2, 2)], (12, 10))
GA = fp.Grid([(0, 1)], 20, boundary=[("reflecting", "absorbing")])
OU = fp.ornstein_uhlenbeck(1.0, 1.0)
OU2 = fp.ornstein_uhlenbeck(np.diag([1.0, 2.0]), 1.0)
TD = fp.SDE(drift=lambda x, t: -x, sigma=1.0, time_dependent=True, ndim=1)
P1 = fp.gaussian_density(G1, 0.0, 1.0, normalise=True)


def _on_grid(sde):
    """Callables are checked where evaluated: on a grid."""
    return fp.generator(sde, fp.Grid([(-1, 1)] * (sde.ndim or 1), 8))


def _res1():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)   # 2.5e-5 of the mass at the walls
        return fp.stationary(OU, G1)


# ----------------------------------------------------------- the catalogue
# (id, call, exception type, regex the message must contain: the argument's name)
CATALOGUE: list[tuple[str, Callable[[], Any], type, str]] = [
    # Grid
    ("grid-bounds-flat-pair", lambda: fp.Grid((-1, 1), 10), ValueError, "bounds"),
    ("grid-bounds-reversed", lambda: fp.Grid([(1, -1)], 10), ValueError, "bounds"),
    ("grid-bounds-nan", lambda: fp.Grid([(0, np.nan)], 10), ValueError, "bounds"),
    ("grid-bounds-inf", lambda: fp.Grid([(0, np.inf)], 10), ValueError, "bounds"),
    ("grid-bounds-5d", lambda: fp.Grid([(0, 1)] * 5, 4), ValueError, "bounds"),
    ("grid-bounds-strings", lambda: fp.Grid([("a", "b")], 10), ValueError, "bounds"),
    ("grid-shape-too-small", lambda: fp.Grid([(0, 1)], 2), ValueError, "shape"),
    ("grid-shape-fraction", lambda: fp.Grid([(0, 1)], 10.5), ValueError, "shape"),
    ("grid-shape-string", lambda: fp.Grid([(0, 1)], "ten"), TypeError, "shape"),
    ("grid-shape-wrong-length", lambda: fp.Grid([(0, 1), (0, 1)], (10, 10, 10)), ValueError, "shape"),
    ("grid-boundary-unknown", lambda: fp.Grid([(0, 1)], 10, boundary="sticky"), ValueError, "boundary"),
    ("grid-boundary-ambiguous-1d", lambda: fp.Grid([(0, 1)], 10, boundary=("reflecting", "absorbing")),
     ValueError, "boundary"),
    ("grid-boundary-periodic-half", lambda: fp.Grid([(0, 1)], 10, boundary=[("periodic", "absorbing")]),
     ValueError, "boundary"),
    ("grid-boundary-count", lambda: fp.Grid([(0, 1), (0, 1)], 10, boundary=["reflecting"] * 3),
     ValueError, "boundary"),
    ("grid-boundary-int", lambda: fp.Grid([(0, 1)], 10, boundary=3), TypeError, "boundary"),
    ("grid-integrate-shape", lambda: G1.integrate(np.ones(7)), ValueError, "f"),
    ("grid-marginal-axis", lambda: G2.marginal(np.ones(G2.shape), axis=4), ValueError, "axis"),
    ("grid-histogram-shape", lambda: G2.histogram(np.ones(5)), ValueError, "samples"),
    # SDE
    ("sde-no-noise", lambda: fp.SDE(drift=lambda x: -x), ValueError, "sigma"),
    ("sde-both-noises", lambda: fp.SDE(drift=lambda x: -x, sigma=1.0, cov=1.0), ValueError, "sigma"),
    ("sde-sigma-negative", lambda: fp.SDE(sigma=-1.0), ValueError, "sigma"),
    ("sde-sigma-nan", lambda: fp.SDE(sigma=np.nan), ValueError, "sigma"),
    ("sde-cov-asymmetric", lambda: fp.SDE(cov=[[1, 0.5], [0.2, 1]]), ValueError, "cov"),
    ("sde-cov-indefinite", lambda: fp.SDE(cov=[[1, 2], [2, 1]]), ValueError, "cov"),
    ("sde-cov-nonsquare", lambda: fp.SDE(cov=np.ones((2, 3))), ValueError, "cov"),
    ("sde-convention", lambda: fp.SDE(sigma=1.0, convention="weird"), ValueError, "convention"),
    ("sde-stratonovich-cov", lambda: fp.SDE(cov=1.0, convention="stratonovich"), ValueError, "sigma"),
    ("sde-drift-not-callable", lambda: fp.SDE(drift=3.0, sigma=1.0), TypeError, "drift"),
    ("sde-drift-shape", lambda: _on_grid(fp.SDE(drift=lambda x: x[..., 0], sigma=1.0, ndim=2)), ValueError, "drift"),
    ("sde-drift-nan", lambda: _on_grid(fp.SDE(drift=lambda x: x * np.nan, sigma=1.0, ndim=1)), ValueError, "drift"),
    ("sde-loss-shape", lambda: _on_grid(fp.SDE(loss=lambda x: x, sigma=1.0, ndim=2)), ValueError, "loss"),
    ("sde-grad-without-loss", lambda: fp.SDE(grad=lambda x: x, sigma=1.0), ValueError, "grad"),
    ("sde-ndim", lambda: fp.SDE(sigma=1.0, ndim=7), ValueError, "ndim"),
    ("sde-fd-step", lambda: fp.SDE(sigma=1.0, fd_step=0.0), ValueError, "fd_step"),
    ("sde-cov-callable-indefinite",
     lambda: _on_grid(fp.SDE(cov=lambda x: np.broadcast_to(np.array([[1.0, 2.0], [2.0, 1.0]]),
                                                           x.shape[:-1] + (2, 2)), ndim=2)), ValueError, "cov"),
    # models / initial densities
    ("langevin-sigma-matrix", lambda: fp.langevin(lambda x: x[..., 0] ** 2, sigma=np.eye(2)), ValueError, "sigma"),
    ("ou-unstable", lambda: fp.ornstein_uhlenbeck(-1.0, 1.0), ValueError, "H"),
    ("ou-cov-shape", lambda: fp.ornstein_uhlenbeck(np.eye(2), np.eye(3)), ValueError, "cov"),
    ("gaussian-cov-indefinite", lambda: fp.gaussian(G2, [0, 0], [[1, 2], [2, 1]]), ValueError, "cov"),
    ("point-mass-outside", lambda: fp.point_mass(G1, [10.0]), ValueError, "x"),
    ("gibbs-temperature", lambda: fp.gibbs(G1, lambda x: x[..., 0] ** 2, -1.0), ValueError, "temperature"),
    # generator
    ("generator-scheme", lambda: fp.generator(OU, G1, scheme="central"), ValueError, "scheme"),
    ("generator-dim-mismatch", lambda: fp.generator(OU2, G1), ValueError, "grid"),
    ("generator-time-dependent", lambda: fp.generator(TD, G1), ValueError, "t="),
    ("generator-grid-type", lambda: fp.generator(OU, [(-3, 3)]), TypeError, "grid"),
    ("generator-sde-type", lambda: fp.generator(lambda x: -x, G1), TypeError, "sde"),
    # stationary
    ("stationary-method", lambda: fp.stationary(OU, G1, method="magic"), ValueError, "method"),
    ("stationary-absorbing", lambda: fp.stationary(OU, GA), ValueError, "absorbing"),
    ("stationary-time-dependent", lambda: fp.stationary(TD, G1), ValueError, "time_dependent"),
    ("stationary-db-refused", lambda: fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]),
                                                    G2, method="detailed_balance"), ValueError, "detailed_balance"),
    # spectral
    ("modes-k", lambda: fp.modes(OU, G1, k=0), ValueError, "k"),
    ("modes-k-too-large", lambda: fp.modes(OU, G1, k=40), ValueError, "k"),
    # evolve
    ("evolve-p0-shape", lambda: fp.evolve(OU, G1, np.ones(7), [0, 1]), ValueError, "p0"),
    ("evolve-p0-negative", lambda: fp.evolve(OU, G1, P1 - 0.1, [0, 1]), ValueError, "p0"),
    ("evolve-p0-nan", lambda: fp.evolve(OU, G1, np.where(P1 > 0.3, np.nan, P1), [0, 1]), ValueError, "p0"),
    ("evolve-p0-zero", lambda: fp.evolve(OU, G1, np.zeros(G1.shape), [0, 1]), ValueError, "p0"),
    ("evolve-t-decreasing", lambda: fp.evolve(OU, G1, P1, [1, 0.5]), ValueError, "t_eval"),
    ("evolve-t-empty", lambda: fp.evolve(OU, G1, P1, []), ValueError, "t_eval"),
    ("evolve-t-before-t0", lambda: fp.evolve(OU, G1, P1, [-1, 1]), ValueError, "t_eval"),
    ("evolve-t-nan", lambda: fp.evolve(OU, G1, P1, [0, np.nan]), ValueError, "t_eval"),
    ("evolve-method", lambda: fp.evolve(OU, G1, P1, [0, 1], method="rk4"), ValueError, "method"),
    ("evolve-dt", lambda: fp.evolve(OU, G1, P1, [0, 1], dt=-0.1), ValueError, "dt"),
    ("evolve-rtol", lambda: fp.evolve(OU, G1, P1, [0, 1], rtol=0), ValueError, "rtol"),
    ("evolve-max-steps", lambda: fp.evolve(OU, G1, P1, [0, 1], max_steps=0), ValueError, "max_steps"),
    ("evolve-expm-time-dependent", lambda: fp.evolve(TD, G1, P1, [0, 1], method="expm"), ValueError, "expm"),
    # simulate
    ("simulate-t-end", lambda: fp.simulate(OU, np.zeros((5, 1)), 0.0), ValueError, "t_end"),
    ("simulate-dt-large", lambda: fp.simulate(OU, np.zeros((5, 1)), 1.0, dt=2.0), ValueError, "dt"),
    ("simulate-x0-dim", lambda: fp.simulate(OU2, np.zeros((5, 3)), 1.0, dt=0.1), ValueError, "x0"),
    ("simulate-x0-nan", lambda: fp.simulate(OU, np.full((5, 1), np.nan), 1.0, dt=0.1), ValueError, "x0"),
    ("simulate-x0-outside", lambda: fp.simulate(OU, np.full((5, 1), 9.0), 1.0, dt=0.1, grid=G1), ValueError, "x0"),
    ("simulate-density-without-n", lambda: fp.simulate(OU, P1, 1.0, dt=0.1, grid=G1), ValueError, "n"),
    ("simulate-t-eval", lambda: fp.simulate(OU, np.zeros((5, 1)), 1.0, dt=0.1, t_eval=[2.0]), ValueError, "t_eval"),
    ("simulate-chunk-size", lambda: fp.simulate(OU, np.zeros((5, 1)), 1.0, dt=0.1, chunk_size=0), ValueError,
     "chunk_size"),
    ("simulate-grid-type", lambda: fp.simulate(OU, np.zeros((5, 1)), 1.0, dt=0.1, grid="box"), TypeError, "grid"),
    # compare
    ("compare-alpha", lambda: fp.compare(P1, np.zeros((5, 1)), grid=G1, alpha=2.0), ValueError, "alpha"),
    ("compare-no-grid", lambda: fp.compare(P1, np.zeros((5, 1))), ValueError, "grid"),
    ("compare-1d-points", lambda: fp.compare(P1, np.zeros(5), grid=G1), ValueError, "particles"),
    ("compare-negative-density", lambda: fp.compare(P1 - 0.2, np.zeros((5, 1)), grid=G1), ValueError, "density"),
    ("compare-unnormalised", lambda: fp.compare(3 * P1, np.zeros((5, 1)), grid=G1), ValueError, "normalise"),
    # exits (this module's own)
    ("exit-time-no-absorbing", lambda: fp.exit_time(OU, G1), ValueError, "absorbing"),
    ("qsd-rtol", lambda: fp.quasi_stationary(fp.brownian(1.0), GA, rtol=0.0), ValueError, "rtol"),
    ("escape-start-outside", lambda: fp.escape_rate(fp.brownian(1.0), GA, start=[3.0]), ValueError, "start"),
    ("equilibrium-rtol", lambda: fp.equilibrium_test(_res1(), rtol=-1.0), ValueError, "rtol"),
    ("entropy-production-no-grid", lambda: fp.entropy_production(OU), ValueError, "grid"),
    # io
    ("save-not-a-result", lambda: fp.save(np.ones(3), "/tmp/fp-hardening-x"), TypeError, "result"),
    ("load-not-a-path", lambda: fp.load(3), TypeError, "path"),
    # found by this catalogue and the fuzz tests: unclear or missing errors (see XFAIL)
    ("simulate-rng-string", lambda: fp.simulate(OU, np.zeros((5, 1)), 1.0, dt=0.1, rng="seed"),
     (TypeError, ValueError), "rng"),
    ("grid-shape-astronomical", lambda: fp.Grid([(0, 1)], 1e30), ValueError, "shape"),
    ("sde-sigma-string", lambda: fp.SDE(sigma="big"), (TypeError, ValueError), "sigma"),
    ("sde-fd-step-string", lambda: fp.SDE(sigma=1.0, fd_step="a"), (TypeError, ValueError), "fd_step"),
    ("langevin-sigma-string", lambda: fp.langevin(lambda x: x[..., 0] ** 2, "a"), (TypeError, ValueError), "sigma"),
    ("ou-H-string", lambda: fp.ornstein_uhlenbeck("a", 1.0), (TypeError, ValueError), "H"),
    ("brownian-sigma-string", lambda: fp.brownian("a"), (TypeError, ValueError), "sigma"),
    ("stationary-rtol-negative", lambda: fp.stationary(OU, G1, rtol=-1.0), ValueError, "rtol"),
    ("stationary-rtol-string", lambda: fp.stationary(OU, G1, rtol="a"), (TypeError, ValueError), "rtol"),
    ("stationary-amg-maxiter-zero", lambda: fp.stationary(OU2, G2, method="amg", maxiter=0), ValueError, "maxiter"),
    ("stationary-sde-type", lambda: fp.stationary("sde", G1), TypeError, "sde"),
    ("stationary-grid-type", lambda: fp.stationary(OU, "grid"), TypeError, "grid"),
    ("spectral-gap-grid-type", lambda: fp.spectral_gap(OU, "grid"), TypeError, "grid"),
    ("modes-k-string", lambda: fp.modes(OU, G1, k="a"), (TypeError, ValueError), "`k`"),
    ("modes-rtol-negative", lambda: fp.modes(OU, G1, rtol=-1.0), ValueError, "rtol"),
    ("compare-particles-string", lambda: fp.compare(P1, "abc", grid=G1), (TypeError, ValueError), "particles"),
]

# Bad inputs answered unclearly (or silently accepted) by modules owned by others:
# kept in the catalogue as strict xfails, reported with a reproducer.
XFAIL: dict[str, str] = {}  # all 16 entries found by this catalogue were fixed at the source


def _catalogue_params():
    out = []
    for name, call, exc, pattern in CATALOGUE:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[name])] if name in XFAIL else []
        out.append(pytest.param(call, exc, pattern, id=name, marks=marks))
    return out


def test_catalogue_is_large_and_distinct():
    names = [c[0] for c in CATALOGUE]
    assert len(names) == len(set(names))
    assert len(names) >= 40


@pytest.mark.filterwarnings("ignore::fokkerplanck.FokkerPlanckWarning")
@pytest.mark.parametrize("call, exc, pattern", _catalogue_params())
def test_bad_input_gives_clear_error(call, exc, pattern):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    # the message names the argument (in backticks, as `name` or `name=...`) and is a sentence
    assert pattern in msg, msg
    assert len(msg) > 20, msg


# ==================================================================== fuzzing
# Every public call below may only raise the documented exceptions; warnings must be
# FokkerPlanckWarning. The known offenders listed in XFAIL are kept out of the domains.
ALLOWED = (ValueError, TypeError, fp.ConvergenceError)
FUZZ_COUNT: dict[str, int] = {}
FUZZ_OK: dict[str, int] = {}   # calls that returned (valid inputs reaching the numerics)

JUNK = [None, "abc", [], {}, -1, 0, 1.5, np.nan, np.inf, -np.inf, [1, 2, 3], [[1, 2], [3, 4]],
        np.zeros((2, 2, 2)), True, object()]
junk = st.sampled_from(JUNK)
real = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.integers(-5, 5))
def fuzz(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


LAST_WARNINGS: list[str] = []


def _call(name: str, fn: Callable[[], Any]) -> Any:
    FUZZ_COUNT[name] = FUZZ_COUNT.get(name, 0) + 1
    LAST_WARNINGS.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
            FUZZ_OK[name] = FUZZ_OK.get(name, 0) + 1
        except ALLOWED:
            out = None
    for w in caught:
        assert issubclass(w.category, fp.FokkerPlanckWarning), f"{name}: {w.category.__name__}: {w.message}"
        LAST_WARNINGS.append(str(w.message))
    return out


pair = st.tuples(real, real)
bounds_st = st.one_of(junk, st.lists(pair, min_size=0, max_size=5), pair)
shape_st = st.one_of(st.sampled_from([None, "abc", [], 1.5, np.nan, -1, True, [1, 2, 3]]),
                     st.integers(-3, 12), st.lists(st.integers(-1, 12), max_size=4),
                     st.floats(0, 12, allow_nan=False))
kind = st.sampled_from(["reflecting", "periodic", "absorbing", "sticky", "", None, 3])
boundary_st = st.one_of(kind, st.lists(st.one_of(kind, st.tuples(kind, kind), st.lists(kind, max_size=3)), max_size=4),
                        st.tuples(kind, kind), junk)


@fuzz(400)
@given(bounds_st, shape_st, boundary_st)
def test_fuzz_grid(bounds, shape, boundary):
    g = _call("Grid", lambda: fp.Grid(bounds, shape, boundary))
    if g is not None:
        assert g.size == math.prod(g.shape) and all(n >= 3 for n in g.shape)
        for (lo, hi), c in zip(g.bounds, g.centers):
            assert lo < c[0] and c[-1] < hi
        assert g.integrate(np.ones(g.shape)) == pytest.approx(math.prod(hi - lo for lo, hi in g.bounds))


def _args(data: Any, spec: dict[str, tuple[list, list]]) -> dict[str, Any]:
    """Valid values for every argument except up to two, drawn from their bad values."""
    broken = data.draw(st.sets(st.sampled_from(sorted(spec)), max_size=2), label="broken")
    return {k: data.draw(st.sampled_from(bad if k in broken else good), label=k)
            for k, (good, bad) in spec.items()}


def _noise(d: int) -> tuple[list, list]:
    M = np.random.default_rng(d).normal(size=(d, d))
    good = [1.0, 0.3, np.full(d, 0.7), M @ M.T + 0.5 * np.eye(d),
            lambda x: np.broadcast_to(np.eye(d), x.shape[:-1] + (d, d)),
            lambda x: np.eye(d) * (1 + 0.5 * np.sin(x[..., :1, None]))]
    bad = [0.0, -1.0, np.nan, np.inf, np.arange(d) * 1.0, M - 10, np.eye(d + 1), np.ones((2, 2, 2)),
           [[1.0, 1.2], [1.2, 1.0]], lambda x: np.ones(x.shape[:-1]),
           lambda x: -np.broadcast_to(np.eye(d), x.shape[:-1] + (d, d)), "abc", None]
    return good, bad


DRIFTS = ([None, lambda x: -x, lambda x: -(x**3) + x, lambda x: np.sin(x), lambda x: 0 * x + 0.5],
          [lambda x: x[..., :1] if x.shape[-1] > 1 else x[..., 0], lambda x: np.full(x.shape, np.nan),
           lambda x: np.zeros(x.shape[:-1]), 7, "drift"])


def _grid_for(d: int, kinds: tuple, n: int) -> fp.Grid:
    return fp.Grid([(-2.0, 2.0)] * d, n, boundary=list(kinds[:d]))


kinds_st = st.tuples(*[st.sampled_from(["reflecting", "periodic", "absorbing", ("reflecting", "absorbing")])] * 3)


@fuzz(300)
@given(st.integers(1, 3), kinds_st, st.integers(3, 9), st.data())
def test_fuzz_sde_generator_stationary(d, kinds, n, data):
    noise_good, noise_bad = _noise(d)
    a = _args(data, {
        "drift": DRIFTS, "noise": (noise_good, noise_bad),
        "noise_name": (["sigma", "cov"], ["sigma", "cov"]),
        "convention": (["ito", "isothermal", "stratonovich"], ["bogus", None, 3]),
        "ndim": ([None, d], [0, 1.5, d + 1, "2"]),
        "scheme": (["sg", "upwind", "highorder"], ["central", None]),
        "method": (["auto", "lu", "eigs"], ["bogus", "detailed_balance", 3]),
    })
    sde = _call("SDE", lambda: fp.SDE(drift=a["drift"], **{a["noise_name"]: a["noise"]},
                                      convention=a["convention"], ndim=a["ndim"]))
    if sde is None:
        return
    grid = _grid_for(d, kinds, n)
    A = _call("generator", lambda: fp.generator(sde, grid, scheme=a["scheme"]))
    if A is not None:
        assert A.shape == (grid.size, grid.size)
        assert np.all(np.isfinite(A.data))
        if a["scheme"] != "highorder":
            colsum = np.asarray(A.sum(axis=0)).ravel()
            assert colsum.max() <= 1e-9 * max(1.0, abs(A.diagonal()).max())
    res = _call("stationary", lambda: fp.stationary(sde, grid, method=a["method"], scheme=a["scheme"]))
    if res is not None:
        p = res.density
        assert np.all(np.isfinite(p)) and p.min() >= 0
        assert grid.integrate(p) == pytest.approx(1.0, abs=1e-9)


GP = fp.Grid([(-3, 3)], 30, boundary="periodic")
GAB = fp.Grid([(-3, 3)], 30, boundary="absorbing")
EVOLVE = {
    "sde": ([OU, TD, fp.brownian(1.0)], [OU2, "sde", None]),
    "grid": ([G1, GAB, GP], [G2, "grid", None]),
    "p0": ([P1, np.ones(G1.shape), P1.tolist(), P1 - 1e-14], [P1[:-1], -P1, np.zeros(G1.shape),
           np.where(P1 > 0.3, np.nan, P1), np.where(P1 > 0.3, np.inf, P1), "abc", None, P1.reshape(-1, 1)]),
    "t_eval": ([[0, 1], [0.0, 0.1, 0.2], [1.0], [0, 1e-12], np.linspace(0, 1, 7), 2.0],
               [[], [1, 0.5], [0, np.nan], [-1, 1], "abc", [[0, 1]], [0, 0]]),
    "method": (["auto", "backward_euler", "tr-bdf2", "expm"], ["rk4", None, 3]),
    "dt": ([None, 0.1, 0.02, 1e9], [0, -1, np.nan, "a"]),
    "rtol": ([1e-4, 1e-2], [0, -1, np.nan, "x"]),
}


@fuzz(150)
@given(st.data())
def test_fuzz_evolve(data):
    a = _args(data, EVOLVE)
    ev = _call("evolve", lambda: fp.evolve(a["sde"], a["grid"], a["p0"], a["t_eval"], method=a["method"],
                                           dt=a["dt"], rtol=a["rtol"], max_steps=500))
    if ev is not None:
        assert np.all(np.isfinite(ev.density))
        if ev.density.min() < -1e-9 * ev.density.max():
            # documented: TR-BDF2 with long steps may undershoot, and says so
            assert ev.method == "tr-bdf2" and any("negative" in w for w in LAST_WARNINGS), LAST_WARNINGS
        assert np.all(np.diff(ev.mass) <= 1e-9 * ev.mass[0])


SIMULATE = {
    "sde": ([OU, TD, fp.brownian(1.0)], [OU2, "sde"]),
    "x0": ([np.zeros((20, 1)), [[0.0]], np.linspace(-1, 1, 20)[:, None]],
           [np.zeros((20, 2)), np.zeros(20), np.full((20, 1), np.nan), np.full((20, 1), 9.0), np.zeros((0, 1)),
            "abc", None, np.zeros((3, 1, 1))]),
    "t_end": ([1.0, 0.05], [0, -1, np.nan, np.inf, "a"]),
    "dt": ([0.01, 0.05], [2.0, 0, -0.1, np.nan, "a"]),
    "grid": ([None, G1, GA, GP], ["grid", G2]),
    "rng": ([0, 1, None, np.random.default_rng(3)], [-1, "seed", 1.5]),
    "t_eval": ([None, [0.5], [0.25, 0.5]], [[2.0], [-1], "a"]),
    "chunk_size": ([2**15, 7], [0, -1, 1.5]),
}


@fuzz(150)
@given(st.data())
def test_fuzz_simulate(data):
    a = _args(data, SIMULATE)
    if a["rng"] == "seed":   # known: numpy's message does not name `rng` (XFAIL simulate-rng-string)
        a["rng"] = 0
    t_eval = a["t_eval"]
    if isinstance(t_eval, list) and isinstance(a["t_end"], float) and t_eval and max(t_eval) > a["t_end"]:
        t_eval = None
    pt = _call("simulate", lambda: fp.simulate(a["sde"], a["x0"], a["t_end"], dt=a["dt"], grid=a["grid"],
                                               rng=a["rng"], t_eval=t_eval, chunk_size=a["chunk_size"]))
    if pt is not None:
        alive = pt.alive
        assert np.all(np.isfinite(pt.x[alive])) and np.all(np.isnan(pt.x[~alive]))


COMPARE = {
    "density": ([P1, P1 / 2, _res1], [3 * P1, -P1, np.zeros(G1.shape), np.where(P1 > 0.3, np.nan, P1), P1[:-1],
                                     None]),
    "particles": ([np.zeros((50, 1)), np.random.default_rng(0).normal(size=(200, 1)), np.full((5, 1), np.nan),
                   np.full((5, 1), 1e300), [[0.0], [1.0]]], [np.zeros(50), np.zeros((0, 1)), np.zeros((5, 2)), None]),
    "alpha": ([0.01, 0.5], [0, 1, 2, -1, np.nan, "a"]),
    "grid": ([G1], [G2, "grid"]),
}


@fuzz(120)
@given(st.data())
def test_fuzz_compare(data):
    a = _args(data, COMPARE)
    dens = a["density"]() if callable(a["density"]) else a["density"]
    grid = None if hasattr(dens, "grid") else a["grid"]
    cmp = _call("compare", lambda: fp.compare(dens, a["particles"], grid=grid, alpha=a["alpha"]))
    if cmp is not None:
        assert 0 <= cmp.chi2_pvalue <= 1 and cmp.l1 >= 0 and math.isfinite(cmp.noise_floor)


@fuzz(120)
@given(st.integers(1, 2), kinds_st, st.integers(3, 12), st.data())
def test_fuzz_exit_problems(d, kinds, n, data):
    drift = data.draw(st.sampled_from([None, lambda x: -x, lambda x: 1.0 + 0 * x, lambda x: -(x**3) + x]))
    sigma = data.draw(st.sampled_from([1.0, 0.2, 0.05]))
    sde = fp.SDE(drift=drift, sigma=sigma, ndim=d)
    grid = _grid_for(d, kinds, n)
    tau = _call("exit_time", lambda: fp.exit_time(sde, grid))
    q = _call("quasi_stationary", lambda: fp.quasi_stationary(sde, grid))
    if tau is not None:
        assert np.all(np.isfinite(tau)) and tau.min() >= 0
    if q is not None:
        assert q.rate > 0 and q.density.min() >= 0
        if tau is not None:   # the exact identity <tau, q> = 1 / rate
            assert grid.integrate(tau * q.density) == pytest.approx(1 / q.rate, rel=1e-6)


# ============================================================== steep losses
def _gibbs_log(loss: Callable, T: float, grid: fp.Grid) -> np.ndarray:
    """Gibbs density at the centres, normalised, computed in log space (underflow to 0)."""
    z = -(loss(grid.points()) - loss(grid.points()).min()) / T
    p = np.exp(z)
    return p / grid.integrate(p)


@pytest.mark.parametrize("drop", [1e1, 1e2, 1e3, 1e4])
def test_steep_loss_1d_exact_gibbs(drop):
    # L = k x^2 / 2 on [-1, 1], 100 cells: the loss drop across the outermost cell is `drop` T
    grid = fp.Grid([(-1, 1)], 100)
    h = grid.spacing[0]
    T = 1e-3
    k = drop * T / (0.5 * (1.0 - (1.0 - h) ** 2))
    loss = lambda x: 0.5 * k * x[..., 0] ** 2
    exact = _gibbs_log(loss, T, grid)
    for sde in (fp.langevin(loss, sigma=math.sqrt(2 * T)),              # exact loss differences
                fp.SDE(drift=lambda x: -k * x, sigma=math.sqrt(2 * T))):  # Simpson (exact for linear drift)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fp.FokkerPlanckWarning)   # the cell Peclet warning is expected
            p = fp.stationary(sde, grid).density
        assert np.all(np.isfinite(p)) and p.min() >= 0
        assert grid.integrate(p) == pytest.approx(1.0, abs=1e-12)
        assert grid.integrate(np.abs(p - exact)) < 1e-9
        big = exact > 1e-200 * exact.max()
        np.testing.assert_allclose(p[big], exact[big], rtol=1e-6)


def test_steep_double_well_and_tilt_1d():
    # barrier 1e3 T, tilted: all mass in the lower well, density finite and exact
    T = 2.5e-4
    loss = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2 + 0.05 * x[..., 0]
    grid = fp.Grid([(-1.6, 1.6)], 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        p = fp.stationary(fp.langevin(loss, sigma=math.sqrt(2 * T)), grid).density
    exact = _gibbs_log(loss, T, grid)
    assert grid.integrate(np.abs(p - exact)) < 1e-9
    assert grid.integrate(p * (grid.centers[0] > 0)) < 1e-100


@pytest.mark.filterwarnings("ignore::fokkerplanck.FokkerPlanckWarning")
def test_steep_2d_full_covariance_stays_finite_and_concentrated():
    # OU with H = 500 I, correlated noise: cell Peclet numbers in the hundreds
    grid = fp.Grid([(-1, 1), (-1, 1)], (40, 40))
    sde = fp.ornstein_uhlenbeck(500 * np.eye(2), 0.02 * np.array([[1.0, 0.6], [0.6, 1.0]]))
    res = fp.stationary(sde, grid)
    p = res.density
    assert np.all(np.isfinite(p)) and p.min() >= 0
    assert grid.integrate(p) == pytest.approx(1.0, abs=1e-12)
    h = grid.spacing[0]
    assert np.all(np.abs(res.mean()) < h)
    x = grid.points()
    near = np.all(np.abs(x) < 2 * h, axis=-1)
    assert grid.integrate(p * near) > 0.99
    ev = fp.evolve(sde, grid, fp.uniform(grid), [0, 1e-3, 1.0], method="backward_euler", dt=1e-3)
    assert np.all(np.isfinite(ev.density)) and ev.density.min() >= 0
    assert np.allclose(ev.mass, 1.0, rtol=1e-12)
    assert grid.integrate(np.abs(ev.density[-1] - p)) < 1e-6


def test_steep_exit_problems_give_clear_errors_not_garbage():
    # a barrier of 1e4 T: the mean exit time (~e^10000) overflows float64
    T = 2.5e-5
    sde = fp.langevin(lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2, sigma=math.sqrt(2 * T),
                      grad=lambda x: x**3 - x)
    grid = fp.Grid([(-2, 1)], 300, boundary=[("reflecting", "absorbing")])
    with pytest.raises(fp.ConvergenceError, match="overflow"):
        fp.exit_time(sde, grid)
    with pytest.raises(fp.ConvergenceError, match="double precision"):
        fp.quasi_stationary(sde, grid)


def test_fuzz_example_count():
    # runs after the fuzz tests in file order; the count is reported in the docs
    total = sum(FUZZ_COUNT.values())
    print(f"fuzz calls per entry point: {FUZZ_COUNT}; total {total}; returned normally: {FUZZ_OK}")
    if FUZZ_COUNT:
        assert total >= 1000


# ================================================ issue 16: bad input found by a user
@pytest.mark.parametrize("bounds, shape, exc, pattern", [
    ([(-1e308, 1e308)], 10, ValueError, "cell width is inf"),
    ([(0, 1e-320)], 10, ValueError, "rescale the coordinate"),
    ([(1e10, 1e10 + 1e-3)], 100, ValueError, "round-off"),
    ([(0, 1)], "100", TypeError, "write shape=100"),
    ([(0, 1)], np.inf, ValueError, "finite integers"),
    ([(0, 1)], [np.inf], ValueError, "finite integers"),
    ([(0, 1)], 1e30, ValueError, "coarsen"),
    ([(0, 1)], True, TypeError, "shape"),
])
def test_grid_refuses_unrepresentable_boxes_and_shapes(bounds, shape, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fp.Grid(bounds, shape)


def test_grid_too_large_for_memory_is_refused_up_front_with_an_estimate():
    from fokkerplanck._util import memory

    have = memory.total_memory()
    side = int(np.sqrt(1.5 * have / 380)) + 1   # 1.5 x the machine's memory at 380 bytes/cell
    with pytest.raises(ValueError, match=r"needs about .* GiB .*more than this machine's .* of memory"):
        fp.Grid([(0, 1), (0, 1)], side)
    fp.Grid([(0, 1), (0, 1)], 2000)  # 4e6 cells: fine


def test_boundary_typo_suggests_the_kind():
    with pytest.raises(ValueError, match="Did you mean 'reflecting'"):
        fp.Grid([(0, 1)], 10, boundary="reflective")
    with pytest.raises(ValueError, match="Did you mean 'absorbing'"):
        fp.Grid([(0, 1)], 10, boundary=[("reflecting", "absorbent")])


@pytest.mark.parametrize("noise", ["0.5", ["0.5", "1"], 1 + 1j, np.array([1.0, 2.0]) + 0j])
def test_sde_noise_must_be_real_numbers(noise):
    with pytest.raises(TypeError, match="`sigma` must be a real number"):
        fp.SDE(drift=lambda x: -x, sigma=noise)


@pytest.mark.filterwarnings("error")  # no ComplexWarning: an error instead
def test_complex_callables_and_arrays_are_refused_not_truncated():
    grid = fp.Grid([(-3, 3)], 30)
    ou = fp.ornstein_uhlenbeck(1.0, 1.0)
    p0 = fp.gaussian_density(grid, 0.0, 1.0, normalise=True)
    with pytest.raises(TypeError, match="`drift` .* is complex"):   # where it is evaluated
        fp.generator(fp.SDE(drift=lambda x: -x + 1j * x, sigma=1.0, ndim=1), grid)
    with pytest.raises(TypeError, match="`loss` .* is complex"):
        fp.generator(fp.SDE(loss=lambda x: (x**2).sum(-1) + 0j, sigma=1.0, ndim=1), grid)
    with pytest.raises(TypeError, match="`x0` is complex"):
        fp.simulate(ou, np.zeros((5, 1)) + 1j, 1.0, dt=0.1)
    with pytest.raises(TypeError, match="`p0` .*complex"):
        fp.evolve(ou, grid, p0 + 0j, [0, 1])


def test_time_dependent_callable_without_the_flag_says_so():
    with pytest.raises(TypeError, match=r"takes 2 arguments \(x, t\).*time_dependent=True"):
        fp.SDE(drift=lambda x, t: -x, sigma=1.0)
    with pytest.raises(TypeError, match=r"calls it as drift\(x, t\)"):
        fp.SDE(drift=lambda x: -x, sigma=1.0, time_dependent=True)
    with pytest.raises(TypeError, match="sigma"):
        fp.SDE(drift=lambda x: -x, sigma=lambda x, t: 1.0 + 0 * x[..., None])
    fp.SDE(drift=lambda x, t=0.0: -x, sigma=1.0, ndim=1)   # a default for t is fine
    fp.SDE(drift=np.negative, sigma=1.0, ndim=1)            # no signature to read: fine


def test_ou_mean_of_the_wrong_length_names_mean():
    with pytest.raises(ValueError, match="`mean` must be a finite number or 2 numbers"):
        fp.ornstein_uhlenbeck(np.eye(2), 1.0, mean=[0, 0, 0])


def test_loss_of_the_wrong_shape_reports_the_users_shape():
    with pytest.raises(ValueError) as info:
        fp.stationary(fp.SDE(loss=lambda x: x, sigma=1.0), fp.Grid([(-3, 3)] * 2, 8))
    msg = str(info.value)
    assert "returned shape (..., 2) for points of shape (..., 2)" in msg and "(x**2).sum(-1)" in msg
    assert "(64" not in msg and ", 5, " not in msg


@pytest.mark.filterwarnings("ignore::fokkerplanck.FokkerPlanckWarning")
def test_one_dimensional_sigma_callables_may_return_a_number_per_point():
    grid = fp.Grid([(-5, 5)], 80)
    ref = fp.stationary(fp.SDE(drift=lambda x: -x, sigma=lambda x: (1 + 0.1 * x**2)[..., None]), grid)
    for s in (lambda x: 1 + 0.1 * x[..., 0] ** 2, lambda x: 1 + 0.1 * x**2):
        res = fp.stationary(fp.SDE(drift=lambda x: -x, sigma=s), grid)
        np.testing.assert_array_equal(res.density, ref.density)
    with pytest.raises(ValueError, match=r"s\[..., None\] \* np.eye\(2\)"):   # where evaluated
        fp.generator(fp.SDE(drift=lambda x: -x, sigma=lambda x: 1 + 0 * x, ndim=2), fp.Grid([(-1, 1)] * 2, 8))


def test_messages_format_numpy_numbers_plainly():
    for call in (lambda: fp.simulate(OU, np.zeros((5, 1)), np.float64(-1.0)),
                 lambda: fp.Grid([(np.float64(1.0), np.float64(0.0))], 10),
                 lambda: fp.SDE(sigma=1.0, fd_step=np.float64(-1.0)),
                 lambda: fp.SDE(sigma=1.0, ndim=np.int64(7)),
                 lambda: fp.compare(P1, np.zeros((5, 1)), grid=G1, alpha=np.float64(2.0)),
                 lambda: fp.Grid([(0, 1)], np.float64(2.0)),
                 lambda: fp.sweep(len, [{}], timeout=np.float64(-1.0))):
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        assert "np.float64" not in str(info.value) and "np.int" not in str(info.value), str(info.value)


def test_euler_maruyama_blow_up_names_dt():
    sde = fp.SDE(drift=lambda x: -x**3, sigma=1.0)
    with pytest.raises(ValueError, match=r"unstable when `dt=1` is too large .*reduce dt"):
        fp.simulate(sde, np.full((10, 1), 3.0), 50.0, dt=1.0, rng=0)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(x0=np.zeros((5, 1)), dt=1e-12), r"1e\+12 Euler–Maruyama steps .*TiB"),
    (dict(x0=np.zeros(30), n=10**12, grid=G1), r"10{12} particles .*needs about .*more than the .* available"),
    (dict(x0=np.zeros((10**7, 1)), dt=1e-3, t_eval=np.linspace(0, 1, 10**5)),
     r"with 100000 snapshots needs about"),
])
def test_simulate_refuses_runs_that_cannot_fit_in_memory(kwargs, pattern):
    kwargs = {"dt": 0.1, **kwargs}
    x0 = kwargs.pop("x0")
    x0 = np.full(G1.shape, 1 / 6) if x0.shape == (30,) else x0
    with pytest.raises(ValueError, match=pattern):
        fp.simulate(OU, x0, 1.0, **kwargs)


def test_many_save_times_need_no_dense_save_by_step_matrix():
    import tracemalloc

    save = np.linspace(0, 1, 4000)
    tracemalloc.start()
    pt = fp.simulate(fp.brownian(1.0), np.zeros((10, 1)), 1.0, dt=2e-5, t_eval=save, rng=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert pt.snapshots.shape == (4000, 10, 1)
    assert peak < 30e6, peak   # the dense (save, step) matrix was 4000 x 54000 x 8 = 1.7 GB
    # every snapshot is taken at its own time: the step times contain the save times
    pt2 = fp.simulate(fp.brownian(1.0), np.zeros((3, 1)), 1.0, dt=0.1, t_eval=[0, 0.25, 0.3, 1.0], rng=1)
    assert pt2.n_steps == 11 and np.isnan(pt2.snapshots).sum() == 0
    np.testing.assert_array_equal(pt2.snapshots[0], 0.0)
    np.testing.assert_array_equal(pt2.snapshots[-1], pt2.x)


def test_serial_sweep_that_overran_its_timeout_does_not_report_success():
    import concurrent.futures as cf
    import time

    def nap(secs):
        time.sleep(secs)

    with pytest.raises(cf.TimeoutError, match="1 of 1 parameter sets done when `timeout=0.05` s ran out"):
        fp.sweep(nap, [{"secs": 0.2}], timeout=0.05)
    assert fp.sweep(nap, [{"secs": 0.0}], timeout=5.0).success


def test_evolve_refuses_output_that_cannot_fit_in_memory():
    from fokkerplanck._util import memory

    grid = fp.Grid([(-3, 3)], 30)
    n_t = int(memory.available_memory() / (8 * 31)) * 2
    p0 = fp.gaussian_density(grid, 0.0, 1.0, normalise=True)
    with pytest.raises(ValueError, match=r"Storing the density at .* times \(`t_eval`\) on 30 cells needs about"):
        fp.evolve(OU, grid, p0, np.arange(n_t, dtype=float))


INTERRUPTED = {
    "simulate-threads": """
import numpy as np, fokkerplanck as fp
sde = fp.SDE(drift=lambda x: -x, sigma=1.0)
print('go', flush=True)
fp.simulate(sde, np.zeros((40000, 1)), 1e3, dt=1e-3, chunk_size=5000, workers=2)
""",
    "sweep-processes": """
import time, fokkerplanck as fp
from concurrent.futures import ProcessPoolExecutor
def slow(s):
    time.sleep(s)
if __name__ == '__main__':
    with ProcessPoolExecutor(2) as ex:
        ex.submit(int, 1).result()
        print('go', flush=True)
        fp.sweep(slow, {'s': [120] * 4}, executor=ex)
""",
}


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGINT") or __import__("sys").platform == "win32",
                    reason="POSIX signals")
@pytest.mark.parametrize("name", sorted(INTERRUPTED))
def test_ctrl_c_stops_threaded_simulate_and_process_sweeps_promptly(name, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "run.py"
    # a shell's background job ignores SIGINT, and so would the child: restore Ctrl-C
    script.write_text("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
                      + INTERRUPTED[name])
    import os
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(fp.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "go"
        time.sleep(1.0)
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)   # to the parent only: worker processes must be stopped by it
        rc = proc.wait(timeout=30)
        seconds = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc != 0 and "KeyboardInterrupt" in proc.stderr.read()
    assert seconds < 10, seconds   # before the fix: minutes (the whole run)
