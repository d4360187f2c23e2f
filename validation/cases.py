"""Validation cases: one per system of the lecture notes.

Every case is a function ``case_xxx(quick: bool) -> dict``. The dict holds

* the table fields: ``system``, ``grid`` (shape), ``grid_error`` (L1 of the grid
  density against the exact one, or the case's own grid-vs-exact measure, named in
  ``grid_error_what``), ``n_particles``, ``particle_l1``, ``noise_floor``,
  ``chi2_pvalue``, ``verdict`` (from :func:`fokkerplanck.compare`), ``t_grid`` and
  ``t_particles`` (seconds);
* ``passed`` (the case's acceptance criterion), a one-line ``summary``, further
  metrics, and a matplotlib ``figure``.

``quick=True`` uses fewer particles and coarser grids (a few seconds per case);
``quick=False`` is the report setting.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable

import numpy as np
import scipy.integrate
import scipy.special
import scipy.stats

import fokkerplanck as fp
from fokkerplanck import plotting
from fokkerplanck import sgd_cov

from ._common import comparison_fields, pyplot

__all__ = ["CASES"]


# ------------------------------------------------------------------ helpers
class _Timer:
    def __enter__(self) -> "_Timer":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.t0


def _quiet(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with the package's wall-mass warnings silenced (the boxes are chosen)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        return fn(*args, **kwargs)


def _shape(grid: fp.Grid) -> str:
    return " x ".join(str(n) for n in grid.shape)


def _l1(p: np.ndarray, q: np.ndarray, grid: fp.Grid) -> float:
    return float(grid.integrate(np.abs(p - q)))


def _normalised(p: np.ndarray, grid: fp.Grid) -> np.ndarray:
    return p / grid.integrate(p)


def _symmetric_gaussian(n: int, mean: np.ndarray, sd: np.ndarray, rng: np.random.Generator,
                        grid: fp.Grid) -> np.ndarray:
    """``n`` Gaussian points, antithetic pairs about ``mean`` (an exactly symmetric start),
    clipped into the (symmetric) box of ``grid``."""
    half = rng.standard_normal((n // 2, len(mean))) * sd
    x = mean + np.concatenate([half, -half])
    margin = 1e-6 * (grid.upper - grid.lower)
    return np.clip(x, grid.lower + margin, grid.upper - margin)


# ======================================================= 1. Brownian motion
def case_brownian_heat_kernel(quick: bool = False) -> dict[str, Any]:
    """Brownian motion ``dx = sigma dB`` (the lecture's diffusion): evolve vs heat kernel vs particles.

    The density starts as ``N(0, s0^2)``; at time ``t`` it is ``N(0, s0^2 + sigma^2 t)``
    (the lecture's ``z(t) = z(0) + eps``, ``eps ~ N(0, t sigma^2)``). The grid evolves
    with TR-BDF2; particles take exact Gaussian increments (Euler–Maruyama is exact for
    Brownian motion), so every difference is the grid's or sampling noise.
    """
    sigma, s0 = 1.0, 0.3
    times = np.array([0.0, 0.1, 0.5, 1.0, 2.0])
    grid = fp.Grid([(-8.0, 8.0)], 160 if quick else 400)
    n = 100_000 if quick else 1_000_000
    sde = fp.brownian(sigma)
    with _Timer() as tg:
        p0 = fp.gaussian(grid, 0.0, s0**2)
        ev = fp.evolve(sde, grid, p0, times, method="tr-bdf2", dt=0.01 if quick else 0.004)
    exact = [fp.heat_kernel(grid, 0.0, sigma, t + s0**2 / sigma**2) for t in times]
    errors = [_l1(ev.density[k], exact[k], grid) for k in range(len(times))]
    rng = np.random.default_rng(11)
    with _Timer() as tp:
        x0 = s0 * rng.standard_normal((n, 1))
        pt = fp.simulate(sde, x0, float(times[-1]), dt=0.05, grid=grid, t_eval=times, rng=12)
    cmps = [fp.compare(ev.density[k], pt.snapshots[k], grid=grid) for k in range(1, len(times))]
    final = cmps[-1]
    var_grid = float(ev.cov()[-1][0, 0])
    var_exact = s0**2 + sigma**2 * times[-1]
    fig = plotting.evolution(ev, pt, exact=exact,
                             title="Brownian motion: evolve (grid) vs heat kernel (dashed) vs particles")
    ax = fig.axes[5]
    ax.set_visible(True)
    ts = times[1:]
    ax.semilogy(ts, errors[1:], "o-", label="grid vs heat kernel (L1)")
    ax.semilogy(ts, [c.l1 for c in cmps], "s-", label="particles vs grid (L1)")
    ax.semilogy(ts, [c.noise_floor for c in cmps], "k:", label="noise floor")
    ax.set_xlabel("t")
    ax.set_title("errors over time", fontsize=9)
    ax.legend(fontsize=8)
    out = {
        "system": "Brownian motion dx = dB from N(0, 0.3^2): heat kernel N(0, 0.09 + t)",
        "grid": _shape(grid),
        "grid_error": max(errors),
        "grid_error_what": "max over t of L1(grid, heat kernel)",
        **comparison_fields(final),
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "l1_vs_exact_by_time": [round(e, 8) for e in errors],
        "min_chi2_pvalue_over_times": min(c.chi2_pvalue for c in cmps),
        "all_times_consistent": all(c.consistent for c in cmps),
        "var_grid_t2": var_grid,
        "var_exact_t2": var_exact,
        "mass_drift": float(np.abs(ev.mass - 1).max()),
    }
    out["passed"] = bool(max(errors) < (5e-3 if quick else 1e-3) and final.consistent
                         and abs(var_grid - var_exact) < 1e-2 and out["mass_drift"] < 1e-10)
    out["summary"] = (f"L1 vs heat kernel <= {max(errors):.1e} at t in {times[1:].tolist()}; "
                      f"Var(t=2) {var_grid:.5f} (exact {var_exact:.5f}); particles "
                      f"{'consistent' if out['all_times_consistent'] else 'INCONSISTENT'} at every time")
    out["figure"] = fig
    return out


# ======================================================= 2. Langevin 1-D
def _double_well(x: np.ndarray) -> np.ndarray:
    return x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2


def case_langevin_1d(quick: bool = False) -> dict[str, Any]:
    """Langevin dynamics in the double well ``U = x^4/4 - x^2/2``: Gibbs ``exp(-2U/sigma^2)``.

    Checks the stationary density against Gibbs and the reference ``E x^2`` (T = 0.25:
    0.832745), and against Euler–Maruyama particles started symmetric about 0.
    """
    T = 0.25
    sigma = math.sqrt(2 * T)
    grid = fp.Grid([(-3.0, 3.0)], 200 if quick else 600)
    sde = fp.langevin(_double_well, sigma, grad=lambda x: x**3 - x)
    with _Timer() as tg:
        res = fp.stationary(sde, grid)
    exact = fp.gibbs(grid, _double_well, T)
    x2 = float(grid.integrate(res.density * grid.centers[0] ** 2))
    n = 20_000 if quick else 100_000
    dt = 5e-3
    with _Timer() as tp:
        x0 = _symmetric_gaussian(n, np.zeros(1), np.array([0.7]), np.random.default_rng(21), grid)
        pt = fp.simulate(sde, x0, 5.0, dt=dt, grid=grid, rng=22)
    cmp = fp.compare(res, pt)
    # relaxation: the spectral gap at T = 0.1 against the reference 3.354529e-2
    grid_gap = fp.Grid([(-3.0, 3.0)], 600)
    md = fp.modes(fp.langevin(_double_well, math.sqrt(0.2), grad=lambda x: x**3 - x), grid_gap, k=3)
    gap_ref = 3.354529e-2
    plt = pyplot()
    fig, axs = plt.subplots(1, 2, figsize=(13, 4.4))
    plotting.compare(res, pt, exact=exact, comparison=cmp, ax=axs[0])
    plotting.modes(md, ax=axs[1])
    axs[1].set_title(f"slowest modes at T = 0.1: gap {md.rates[0]:.6e} (reference {gap_ref:.6e})", fontsize=9)
    fig.suptitle(f"Langevin, double well U = x^4/4 - x^2/2: T = {T}, grid vs Gibbs vs particles; relaxation modes")
    fig.tight_layout()
    out = {
        "system": "Langevin dx = -U'(x) dt + sigma dB, U = x^4/4 - x^2/2, T = sigma^2/2 = 0.25",
        "grid": _shape(grid),
        "grid_error": _l1(res.density, exact, grid),
        "grid_error_what": "L1(grid, Gibbs)",
        **comparison_fields(cmp),
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "E_x2_grid": x2,
        "E_x2_reference": 0.832745,
        "spectral_gap_T0.1": float(md.rates[0]),
        "spectral_gap_reference": gap_ref,
        "method": res.method,
        "residual": res.residual,
    }
    out["passed"] = bool(out["grid_error"] < 1e-10 and abs(x2 - 0.832745) < 2e-5 and cmp.consistent
                         and abs(md.rates[0] / gap_ref - 1) < 1e-3)
    out["summary"] = (f"Gibbs to L1 {out['grid_error']:.1e} ({res.method}); E x^2 = {x2:.6f} "
                      f"(reference 0.832745); spectral gap at T = 0.1 {md.rates[0]:.6e} (reference "
                      f"{gap_ref:.6e}); particles l1/noise {cmp.l1_ratio:.2f}")
    out["figure"] = fig
    return out


# ======================================================= 3. Langevin 2-D
def _dw2(x: np.ndarray) -> np.ndarray:
    u, v = x[..., 0], x[..., 1]
    return (u**2 - 1) ** 2 / 4 + (v - 0.5 * u) ** 2 / 2 + 0.15 * np.cos(2 * u) * np.cos(v)


def _dw2_grad(x: np.ndarray) -> np.ndarray:
    u, v = x[..., 0], x[..., 1]
    r = v - 0.5 * u
    return np.stack([u**3 - u - 0.5 * r - 0.3 * np.sin(2 * u) * np.cos(v),
                     r - 0.15 * np.cos(2 * u) * np.sin(v)], axis=-1)


def case_langevin_2d(quick: bool = False) -> dict[str, Any]:
    """2-D Langevin in a tilted, rippled double well ``U = (x^2-1)^2/4 + (y - x/2)^2/2 + 0.15 cos 2x cos y``.

    Two grid solutions: from the loss (exact loss differences: Gibbs to round-off) and from
    the drift ``-grad U`` alone (Simpson edge integrals; a real discretization error, whose
    convergence with the grid is plotted), both against ``exp(-2U/sigma^2)``, and particles.
    """
    sigma = 0.8
    T = sigma**2 / 2
    bounds = [(-3.0, 3.0), (-3.0, 3.0)]
    shape = (80, 80) if quick else (160, 160)
    grid = fp.Grid(bounds, shape)
    sde = fp.langevin(_dw2, sigma, grad=_dw2_grad)
    sde_drift = fp.SDE(drift=lambda x: -_dw2_grad(x), sigma=sigma)
    with _Timer() as tg:
        res = _quiet(fp.stationary, sde, grid)
    res_d = _quiet(fp.stationary, sde_drift, grid)
    exact = fp.gibbs(grid, _dw2, T)
    ns = [20, 40, 80] if quick else [20, 40, 80, 160, 320]
    conv = []
    for m in ns:
        g = fp.Grid(bounds, (m, m))
        conv.append(_l1(_quiet(fp.stationary, sde_drift, g).density, fp.gibbs(g, _dw2, T), g))
    n = 30_000 if quick else 100_000
    dt = 1e-2 if quick else 5e-3
    with _Timer() as tp:
        x0 = _symmetric_gaussian(n, np.zeros(2), np.array([0.8, 0.8]), np.random.default_rng(31), grid)
        pt = fp.simulate(sde, x0, 5.0, dt=dt, grid=grid, rng=32)
    cmp = fp.compare(res, pt)
    plt = pyplot()
    fig = plt.figure(figsize=(16, 8.6))
    axs = [fig.add_subplot(2, 3, k) for k in (1, 2, 4, 5)]
    plotting.compare(res, pt, exact=exact, comparison=cmp, ax=axs)
    axc = fig.add_subplot(2, 3, 3)
    plotting.convergence(ns, {"drift only (Simpson) vs Gibbs": conv}, orders=(2, 4), ax=axc,
                         ylabel="L1 error")
    axc.set_title("grid convergence from the drift alone", fontsize=9)
    ax6 = fig.add_subplot(2, 3, 6)
    plotting.density(res_d.density - exact, grid, ax=ax6, label="grid - Gibbs")
    ax6.set_title(f"drift-only grid minus Gibbs at {shape}", fontsize=9)
    fig.suptitle("Langevin 2-D: tilted rippled double well, sigma = 0.8 — grid vs Gibbs vs particles")
    fig.tight_layout()
    rate = float(-np.polyfit(np.log(ns), np.log(conv), 1)[0])
    out = {
        "system": "Langevin 2-D, U = (x^2-1)^2/4 + (y-x/2)^2/2 + 0.15 cos 2x cos y, sigma = 0.8",
        "grid": _shape(grid),
        "grid_error": _l1(res.density, exact, grid),
        "grid_error_what": "L1(grid from the loss, Gibbs)",
        **comparison_fields(cmp),
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "grid_error_drift_only": _l1(res_d.density, exact, grid),
        "drift_only_convergence_order": rate,
        "method": res.method,
        "method_drift_only": res_d.method,
    }
    out["passed"] = bool(out["grid_error"] < 1e-10 and out["grid_error_drift_only"] < 1e-3
                         and rate > 3.0 and cmp.consistent)
    out["summary"] = (f"from the loss: Gibbs to L1 {out['grid_error']:.1e}; from the drift: "
                      f"L1 {out['grid_error_drift_only']:.1e}, order {rate:.2f}; particles "
                      f"l1/noise {cmp.l1_ratio:.2f}")
    out["figure"] = fig
    return out


# ======================================================= 4. conventions
_CONV_EXACT = {
    "ito": (lambda x: 8 / (3 * np.pi) * (1 + x**2) ** -3, 1 / 3),
    "stratonovich": (lambda x: 0.75 * (1 + x**2) ** -2.5, 1 / 2),
    "isothermal": (lambda x: 2 / np.pi * (1 + x**2) ** -2, 1.0),
}


def _conv_sde(convention: str) -> fp.SDE:
    return fp.SDE(
        drift=lambda x: -x,
        sigma=lambda x: np.sqrt((1 + x[..., 0] ** 2) / 2)[..., None, None],
        convention=convention,
    )


def _case_convention(convention: str, quick: bool) -> dict[str, Any]:
    L = 12.0
    grid = fp.Grid([(-L, L)], 240 if quick else 960)
    sde = _conv_sde(convention)
    with _Timer() as tg:
        res = _quiet(fp.stationary, sde, grid)
    dens = {c: _normalised(f(grid.centers[0]), grid) for c, (f, _) in _CONV_EXACT.items()}
    exact = dens[convention]
    x2_exact_trunc = float(grid.integrate(exact * grid.centers[0] ** 2))
    x2 = float(grid.integrate(res.density * grid.centers[0] ** 2))
    n = 30_000 if quick else 100_000
    dt = 4e-3
    # The Ito drifts are -x (3/2 ...), -3x/4 and -x/2: the isothermal tails relax at rate
    # 1/2 only, so the particles start from the exact closed-form density (inverse CDF,
    # antithetic pairs) and run t = 4: a test that Euler–Maruyama in this convention
    # keeps the density stationary, and that the grid density is that density.
    with _Timer() as tp:
        f_exact = _CONV_EXACT[convention][0]
        xf = np.linspace(-L, L, 200_001)
        fx = f_exact(xf)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (fx[1:] + fx[:-1]))])
        cdf /= cdf[-1]
        u = np.random.default_rng(41).random(n // 2)
        x0 = np.interp(np.concatenate([u, 1 - u]), cdf, xf)[:, None]
        pt = fp.simulate(sde, x0, 4.0, dt=dt, grid=grid, rng=42)
    cmp = fp.compare(res, pt)
    others = {c: fp.compare(d, pt, grid=grid) for c, d in dens.items() if c != convention}
    fig = plotting.compare(res, pt, exact=exact, comparison=cmp)
    ax = fig.axes[0]
    for k, c in enumerate(others):
        ax.plot(grid.centers[0], dens[c], ":", color=f"C{k + 2}", lw=1.2, label=f"exact {c} (wrong here)")
    ax.set_xlim(-4, 4)
    ax.legend(fontsize=8)
    fig.suptitle(f"drift -x, C(x) = (1+x^2)/2, {convention}: grid vs exact vs {convention} particles",
                 fontsize=10)
    fig.tight_layout()
    f, x2_inf = _CONV_EXACT[convention]
    out = {
        "system": f"dx = -x dt + sqrt((1+x^2)/2) dB, {convention}",
        "grid": _shape(grid),
        "grid_error": _l1(res.density, exact, grid),
        "grid_error_what": "L1(grid, exact on the box)",
        **comparison_fields(cmp),
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "E_x2_grid": x2,
        "E_x2_exact_on_box": x2_exact_trunc,
        "E_x2_exact_free_space": x2_inf,
        **{f"chi2_pvalue_vs_{c}_density": o.chi2_pvalue for c, o in others.items()},
        **{f"verdict_vs_{c}_density": ("consistent" if o.consistent else "INCONSISTENT")
           for c, o in others.items()},
    }
    out["passed"] = bool(out["grid_error"] < (2e-3 if quick else 2e-4) and cmp.consistent
                         and not any(o.consistent for o in others.values()))
    out["summary"] = (f"L1 to exact {out['grid_error']:.1e}; E x^2 = {x2:.4f} (exact on the box "
                      f"{x2_exact_trunc:.4f}, free space {x2_inf:.4f}); {convention} particles: "
                      f"{out['verdict']} with own density, " + ", ".join(
                          f"p = {o.chi2_pvalue:.1e} vs {c}" for c, o in others.items()))
    out["figure"] = fig
    return out


def case_convention_ito(quick: bool = False) -> dict[str, Any]:
    """State-dependent noise, Ito: ``p = 8/(3 pi) (1+x^2)^-3``, ``E x^2 = 1/3``."""
    return _case_convention("ito", quick)


def case_convention_stratonovich(quick: bool = False) -> dict[str, Any]:
    """State-dependent noise, Stratonovich: ``p = 3/4 (1+x^2)^-5/2``, ``E x^2 = 1/2``."""
    return _case_convention("stratonovich", quick)


def case_convention_isothermal(quick: bool = False) -> dict[str, Any]:
    """State-dependent noise, isothermal (flux ``-1/2 C grad p``): ``p = 2/pi (1+x^2)^-2``."""
    return _case_convention("isothermal", quick)


# ======================================================= 5. two temperatures
def _lx(u: np.ndarray) -> np.ndarray:
    return (u[..., 0] ** 2 - 1) ** 2 / 4


def _ly(u: np.ndarray) -> np.ndarray:
    return 0.5 * u[..., 0] ** 2


def _loss_sep(x: np.ndarray) -> np.ndarray:
    return _lx(x[..., :1]) + _ly(x[..., 1:])


def _grad_sep(x: np.ndarray) -> np.ndarray:
    return np.stack([x[..., 0] ** 3 - x[..., 0], x[..., 1]], axis=-1)


def _case_sgd_separable(quick: bool, forced: bool) -> dict[str, Any]:
    eta, sx, sy = 0.5, 0.6, 1.2
    if forced:
        eta_p = eta * sx * sy  # eta' : eta_i = eta'/sigma_i^2
        rates = [eta_p / sx**2, eta_p / sy**2]
        sde = fp.sgd(_loss_sep, eta, [sx**2, sy**2], grad=_grad_sep, lr_per_param=rates)
    else:
        rates = [eta, eta]
        sde = fp.sgd(_loss_sep, eta, [sx**2, sy**2], grad=_grad_sep)
    Tx, Ty = rates[0] * sx**2 / 2, rates[1] * sy**2 / 2
    bx = 1 + 5 * math.sqrt(Tx)
    by = 6 * math.sqrt(Ty)
    grid = fp.Grid([(-bx, bx), (-by, by)], (80, 80) if quick else (200, 200))
    with _Timer() as tg:
        res = _quiet(fp.stationary, sde, grid)
    exact = fp.two_temperature(_lx, _ly, rates, sx, sy, grid)
    gibbs_x = fp.gibbs(grid, _loss_sep, Tx)
    gibbs_y = fp.gibbs(grid, _loss_sep, Ty)
    n = 30_000 if quick else 100_000
    dt = 1e-2 if quick else 5e-3
    t_end = 8.0
    with _Timer() as tp:
        # start in both wells (antithetic pairs: an exactly symmetric start)
        x0 = _symmetric_gaussian(n, np.zeros(2), np.array([0.3, 0.6]), np.random.default_rng(51 + forced), grid)
        x0[:, 0] += np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * np.sign(x0[:, 0] + 1e-300)
        pt = fp.simulate(sde, x0, t_end, dt=dt, grid=grid, rng=52 + forced)
    cmp = fp.compare(res, pt)
    kind = "forced Gibbs, eta_i = eta'/sigma_i^2" if forced else "plain SGD, two temperatures"
    fig = plotting.compare(res, pt, exact=exact, comparison=cmp,
                           title=f"SGD SDE on L(x) + L(y), {kind}: T_x = {Tx:.3g}, T_y = {Ty:.3g}")
    out = {
        "system": (f"SGD SDE, L = (x^2-1)^2/4 + y^2/2, Sigma = diag({sx**2:.2f}, {sy**2:.2f}), "
                   + (f"eta_i = {rates[0]:.3g}, {rates[1]:.3g} (eta' = {eta * sx * sy:.3g})" if forced
                      else f"eta = {eta}")),
        "grid": _shape(grid),
        "grid_error": _l1(res.density, exact, grid),
        "grid_error_what": "L1(grid, closed form)" + (" = Gibbs exp(-2L/eta')" if forced else ""),
        **comparison_fields(cmp),
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "temperature_x": Tx,
        "temperature_y": Ty,
        "l1_closed_form_vs_gibbs_Tx": _l1(exact, gibbs_x, grid),
        "l1_closed_form_vs_gibbs_Ty": _l1(exact, gibbs_y, grid),
        "method": res.method,
    }
    gibbs_ok = (out["l1_closed_form_vs_gibbs_Tx"] < 1e-10) if forced else (
        min(out["l1_closed_form_vs_gibbs_Tx"], out["l1_closed_form_vs_gibbs_Ty"]) > 0.1)
    out["passed"] = bool(out["grid_error"] < 1e-3 and cmp.consistent and gibbs_ok)
    out["summary"] = (f"grid vs closed form L1 {out['grid_error']:.1e}; temperatures {Tx:.3g}, {Ty:.3g}; "
                      f"closed form vs Gibbs(T_x) L1 {out['l1_closed_form_vs_gibbs_Tx']:.2g}"
                      + ("" if forced else f", vs Gibbs(T_y) {out['l1_closed_form_vs_gibbs_Ty']:.2g} (not Gibbs)")
                      + f"; particles l1/noise {cmp.l1_ratio:.2f}")
    out["figure"] = fig
    return out


def case_two_temperature(quick: bool = False) -> dict[str, Any]:
    """The lecture's 2-D stationary density with two temperatures ``eta sigma_x^2/2``, ``eta sigma_y^2/2``."""
    return _case_sgd_separable(quick, forced=False)


def case_forcing_gibbs(quick: bool = False) -> dict[str, Any]:
    """Per-parameter rates ``eta_i = eta'/sigma_i^2`` force the Gibbs density ``exp(-2L/eta')``."""
    return _case_sgd_separable(quick, forced=True)


# ======================================================= 6. quadratic, non-commuting
def case_quadratic_noncommuting(quick: bool = False) -> dict[str, Any]:
    """Locally quadratic loss ``Phi^T H Phi / 2`` with noise ``Sigma`` that does not commute with ``H``.

    The SGD SDE is an OU process: Gaussian with ``H C + C H = eta Sigma`` (Lyapunov), a
    nonzero stationary current (no detailed balance), ``E[L] = eta tr(Sigma)/4``. The
    lecture's per-mode formula (Hessian-normalized coordinates) is exact only when
    ``H`` and ``Sigma`` commute; its covariance is reported beside the Lyapunov one.
    """
    H = np.array([[1.0, 0.0], [0.0, 4.0]])
    Sigma = np.array([[1.0, 0.8], [0.8, 1.0]])
    eta = 0.5
    C = sgd_cov(H, Sigma, eta)
    sd = np.sqrt(np.diag(C))
    b = 6 * sd
    grid = fp.Grid([(-b[0], b[0]), (-b[1], b[1])], (80, 80) if quick else (200, 200))
    loss = lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, H, x)  # noqa: E731
    sde = fp.sgd(loss, eta, Sigma, grad=lambda x: x @ H.T)
    with _Timer() as tg:
        res = _quiet(fp.stationary, sde, grid)
    exact = fp.gaussian_density(grid, 0.0, C, normalise=True)
    J = res.current()
    # exact current of a Gaussian OU: J = (-H x + 1/2 eta Sigma C^-1 x) p
    pts = grid.points()
    B = -H + 0.5 * eta * Sigma @ np.linalg.inv(C)
    J_exact = np.moveaxis(pts @ B.T * exact[..., None], -1, 0)
    j_err = float(grid.integrate(np.linalg.norm(J - J_exact, axis=0)) / grid.integrate(np.linalg.norm(J_exact, axis=0)))
    EL_grid = float(grid.integrate(res.density * loss(pts)))
    EL_exact = eta * np.trace(Sigma) / 4
    hc = fp.hessian_coordinates(H, Sigma, eta)
    n = 30_000 if quick else 150_000
    dt = 5e-3 if quick else 2e-3
    with _Timer() as tp:
        x0 = _symmetric_gaussian(n, np.zeros(2), sd, np.random.default_rng(61), grid)
        pt = fp.simulate(sde, x0, 6.0, dt=dt, grid=grid, rng=62)
    cmp = fp.compare(res, pt)
    plt = pyplot()
    fig = plt.figure(figsize=(16, 8.6))
    axs = [fig.add_subplot(2, 3, k) for k in (1, 2, 4, 5)]
    plotting.compare(res, pt, exact=exact, comparison=cmp, ax=axs)
    axj = fig.add_subplot(2, 3, 3)
    plotting.current(res, ax=axj)
    axj.set_title(f"stationary current (rel. error vs exact {j_err:.1e})", fontsize=9)
    ax6 = fig.add_subplot(2, 3, 6)
    labels = ["C_xx", "C_xy", "C_yy"]
    idx = [(0, 0), (0, 1), (1, 1)]
    vals = {
        "Lyapunov (exact)": [C[i] for i in idx],
        "grid": [res.cov()[i] for i in idx],
        "particles": [cmp.cov[i] for i in idx],
        "lecture's mode formula (exact only for H^-1-preconditioned SGD)": [hc.cov[i] for i in idx],
    }
    w = 0.2
    for k, (lab, v) in enumerate(vals.items()):
        ax6.bar(np.arange(3) + (k - 1.5) * w, v, w, label=lab)
    ax6.set_xticks(range(3), labels)
    ax6.axhline(0, color="0.5", lw=0.6)
    ax6.legend(fontsize=7)
    ax6.set_title("stationary covariance", fontsize=9)
    fig.suptitle("SGD SDE, L = Phi^T H Phi/2, H = diag(1, 4), Sigma = [[1, .8], [.8, 1]], eta = 0.5")
    fig.tight_layout()
    out = {
        "system": "SGD SDE, quadratic loss H = diag(1,4), Sigma = [[1,.8],[.8,1]] (non-commuting), eta = 0.5",
        "grid": _shape(grid),
        "grid_error": _l1(res.density, exact, grid),
        "grid_error_what": "L1(grid, Lyapunov Gaussian)",
        **comparison_fields(cmp),
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "current_rel_error": j_err,
        "max_current": float(np.abs(J).max()),
        "E_L_grid": EL_grid,
        "E_L_exact": EL_exact,
        "cov_lyapunov": np.round(C, 6).tolist(),
        "cov_grid": np.round(res.cov(), 6).tolist(),
        "cov_mode_formula": np.round(hc.cov, 6).tolist(),
        "method": res.method,
    }
    out["passed"] = bool(out["grid_error"] < 5e-3 and j_err < 5e-2 and abs(EL_grid - EL_exact) < (1e-2 if quick else 2e-3) * EL_exact
                         and cmp.consistent)
    out["summary"] = (f"Gaussian to L1 {out['grid_error']:.1e}; current nonzero (max {out['max_current']:.3g}, "
                      f"rel. error {j_err:.1e}); E[L] = {EL_grid:.5f} (eta tr Sigma/4 = {EL_exact:.5f}); "
                      f"mode formula C_xy = {hc.cov[0, 1]:.4f} vs Lyapunov {C[0, 1]:.4f}; particles "
                      f"l1/noise {cmp.l1_ratio:.2f}")
    out["figure"] = fig
    return out


# ======================================================= 7. diffusion flow, alpha = 1/2
_MIX = ((0.6, -1.0, 0.5), (0.4, 1.2, 0.7))  # (weight, mean, sd)


def _mix_cdf(x: np.ndarray, extra_var: float = 0.0) -> np.ndarray:
    return sum(w * scipy.stats.norm.cdf(x, m, math.sqrt(s**2 + extra_var)) for w, m, s in _MIX)


def _mix_pdf(x: np.ndarray) -> np.ndarray:
    return sum(w * scipy.stats.norm.pdf(x, m, s) for w, m, s in _MIX)


def _mix_dpdf(x: np.ndarray) -> np.ndarray:
    return sum(-w * (x - m) / s**2 * scipy.stats.norm.pdf(x, m, s) for w, m, s in _MIX)


def _mix_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    k = rng.choice(len(_MIX), size=n, p=[w for w, _, _ in _MIX])
    m = np.array([m for _, m, _ in _MIX])[k]
    s = np.array([s for _, _, s in _MIX])[k]
    return m + s * rng.standard_normal(n)


def case_diffusion_flow_alpha(quick: bool = False) -> dict[str, Any]:
    """The appendix: diffusion flow ``= -alpha sigma^2 p'(x)`` with ``alpha = 2 int_0^inf u Phi(-u) du = 1/2``.

    1. ``alpha`` by quadrature (and the integration by parts ``int_0^inf u^2 phi(u) du``).
    2. Many particles from a bimodal density take one Euler–Maruyama step
       ``x + sigma sqrt(dt) eps``; the net mass crossing each point ``x0`` upwards per unit
       time is measured and fitted to ``-alpha sigma^2 p'(x0)`` (one-parameter least
       squares, with its standard error). The exact finite-``dt`` transfer (the density
       convolved with ``N(0, sigma^2 dt)``) gives a chi-square test of the counts.
    3. The grid's Brownian face fluxes on the same density equal ``-1/2 sigma^2 p'``, and
       the grid density evolved over the same ``dt`` matches the particles after their
       step (``fp.compare``, the particles of the first chunk).
    """
    sigma = 1.0
    dt = 4e-3
    alpha_quad = 2 * scipy.integrate.quad(lambda u: u * scipy.stats.norm.cdf(-u), 0, np.inf)[0]
    alpha_parts = scipy.integrate.quad(lambda u: u**2 * scipy.stats.norm.pdf(u), 0, np.inf)[0]
    n = 2_000_000 if quick else 20_000_000
    x0s = np.linspace(-2.5, 3.0, 23)
    rng = np.random.default_rng(71)
    with _Timer() as tp:
        up = np.zeros_like(x0s)
        chunk = 2_000_000
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            x = np.sort(_mix_sample(m, rng))
            y = np.sort(x + sigma * math.sqrt(dt) * rng.standard_normal(m))
            if start == 0:
                y_first = y.copy()  # for fp.compare against the grid evolved over dt
            # net count crossing x0 upwards = #(y > x0) - #(x > x0)
            up += np.searchsorted(x, x0s) - np.searchsorted(y, x0s)
    flow = up / n / dt  # net mass per unit time in +x direction
    exact_fin = (_mix_cdf(x0s) - _mix_cdf(x0s, sigma**2 * dt)) / dt
    # variance of the net count: each particle crossing either way contributes +-1
    # P(crossing) ~ sigma sqrt(dt) p(x0) * 2 int Phi(-u) du = sigma sqrt(dt) p sqrt(2/pi)
    cross = sigma * math.sqrt(dt) * _mix_pdf(x0s) * math.sqrt(2 / math.pi)
    se = np.sqrt(cross / n) / dt
    grad = -sigma**2 * _mix_dpdf(x0s)
    alpha_hat = float(np.sum(flow * grad / se**2) / np.sum(grad**2 / se**2))
    alpha_se = float(1 / math.sqrt(np.sum(grad**2 / se**2)))
    chi2 = float(np.sum(((flow - exact_fin) / se) ** 2))
    pval = float(scipy.stats.chi2.sf(chi2, len(x0s)))
    # grid: the Brownian flux on the same density
    grid = fp.Grid([(-5.0, 6.0)], 400 if quick else 1100)
    with _Timer() as tg:
        Jg = fp.fluxes(fp.brownian(sigma), grid).current(_mix_pdf(grid.centers[0]))[0]
        # the same step on the grid: evolve the density over dt, compare with the
        # particles after their one Euler–Maruyama step (exact for Brownian motion)
        p0 = _mix_cdf(grid.edges[0])
        p0 = np.diff(p0) / grid.spacing[0]  # exact cell averages
        ev = fp.evolve(fp.brownian(sigma), grid, p0, [0.0, dt], method="expm")
    cmp = fp.compare(ev.density[-1], y_first[:, None], grid=grid)
    exact_after = np.diff(_mix_cdf(grid.edges[0], sigma**2 * dt)) / grid.spacing[0]
    step_err = float(grid.integrate(np.abs(ev.density[-1] - exact_after)))
    J_exact = -0.5 * sigma**2 * _mix_dpdf(grid.centers[0])
    j_err = float(np.abs(Jg - J_exact)[5:-5].max() / np.abs(J_exact).max())
    plt = pyplot()
    fig, axs = plt.subplots(1, 2, figsize=(13, 4.6))
    a = axs[0]
    xs = grid.centers[0]
    a.plot(xs, J_exact, "k-", lw=1.4, label="-1/2 sigma^2 p'(x)  (alpha = 1/2)")
    a.plot(xs, Jg, "C0--", lw=1.2, label="grid current (Brownian fluxes)")
    a.errorbar(x0s, flow, yerr=2 * se, fmt="o", color="C1", ms=4,
               label=f"particles: net transfer / dt ({n:.0e}, dt = {dt:g})")
    a.plot(xs, _mix_pdf(xs) * 0.5 * np.abs(J_exact).max() / _mix_pdf(xs).max(), color="0.7", lw=0.8,
           label="p(x) (scaled)")
    a.axhline(0, color="0.5", lw=0.5)
    a.set_xlabel("x")
    a.set_ylabel("diffusion flow (mass per unit time, +x)")
    a.legend(fontsize=8)
    a.set_title(f"alpha from particles = {alpha_hat:.4f} +- {alpha_se:.4f}", fontsize=9)
    b = axs[1]
    u = np.linspace(0, 5, 400)
    b.plot(u, 2 * u * scipy.stats.norm.cdf(-u), label="2 u Phi(-u)")
    b.plot(u, u**2 * scipy.stats.norm.pdf(u), "--", label="u^2 phi(u) (after integration by parts)")
    b.fill_between(u, 0, 2 * u * scipy.stats.norm.cdf(-u), alpha=0.2)
    b.set_xlabel("u")
    b.set_title(f"alpha = 2 int u Phi(-u) du = {alpha_quad:.12f} (quadrature)", fontsize=9)
    b.legend(fontsize=8)
    fig.suptitle("The lecture's diffusion flow -alpha sigma^2 p'(x), alpha = 1/2")
    fig.tight_layout()
    z_alpha = (alpha_hat - 0.5) / alpha_se
    out = {
        "system": "diffusion flow of the appendix: alpha = 2 int_0^inf u Phi(-u) du",
        "grid": _shape(grid),
        "grid_error": j_err,
        "grid_error_what": "max |grid current + 1/2 sigma^2 p'| / max |p'/2|",
        **comparison_fields(cmp),
        "n_particles_net_transfer": n,
        "grid_step_l1_vs_exact": step_err,
        "chi2_pvalue_net_transfer": pval,
        "t_grid": tg.seconds,
        "t_particles": tp.seconds,
        "alpha_quadrature": alpha_quad,
        "alpha_integration_by_parts": alpha_parts,
        "alpha_particles": alpha_hat,
        "alpha_particles_se": alpha_se,
        "alpha_particles_z": z_alpha,
        "chi2_net_transfer_vs_exact_dt": chi2,
        "chi2_dof": len(x0s),
    }
    out["passed"] = bool(abs(alpha_quad - 0.5) < 1e-10 and abs(alpha_parts - 0.5) < 1e-10
                         and pval >= 0.005 and abs(z_alpha) < 3.5 and cmp.consistent
                         and j_err < (5e-3 if quick else 1e-3))
    out["summary"] = (f"alpha by quadrature {alpha_quad:.12f}; from {n:.0e} particles {alpha_hat:.4f} +- "
                      f"{alpha_se:.4f} (z = {z_alpha:+.2f}); net transfer vs exact finite-dt: chi2 "
                      f"{chi2:.1f}/{len(x0s)}, p = {pval:.2g}; grid current = -1/2 sigma^2 p' to {j_err:.1e}; "
                      f"grid evolved over dt vs {cmp.n:.0e} particles: l1/noise {cmp.l1_ratio:.2f}")
    out["figure"] = fig
    return out


# ------------------------------------------------------------------ registry
CASES: dict[str, Callable[[bool], dict[str, Any]]] = {
    "brownian_heat_kernel": case_brownian_heat_kernel,
    "langevin_1d": case_langevin_1d,
    "langevin_2d": case_langevin_2d,
    "convention_ito": case_convention_ito,
    "convention_stratonovich": case_convention_stratonovich,
    "convention_isothermal": case_convention_isothermal,
    "two_temperature": case_two_temperature,
    "forcing_gibbs": case_forcing_gibbs,
    "quadratic_noncommuting": case_quadratic_noncommuting,
    "diffusion_flow_alpha": case_diffusion_flow_alpha,
}
