"""Validation case for exit problems (issue 7): escape from the left well of the double
well ``U = x^4/4 - x^2/2``, ``dx = -U'(x) dt + sqrt(2T) dB``, reflecting at -3 and
absorbing at +1 (the other minimum).

Four answers side by side, over temperatures ``T``:

* the exact mean first-passage time from ``x = -1``, the 1-D double integral
  ``tau(x) = int_x^b (1/T) e^{U(y)/T} int_a^y e^{-U(z)/T} dz dy`` by scipy quadrature;
* the grid's ``fp.exit_time`` (``A^T tau = -1``) and ``fp.quasi_stationary`` decay rate;
* Kramers' asymptotic rate ``k = sqrt(U''(-1) |U''(0)|) / (2 pi) e^{-1/(4T)}``, whose
  relative error is ``O(T)``: Laplace's method gives ``1 / (k tau) = 1 - 1.5 T + O(T^2)``
  (``3T/4`` from the well and from the barrier);
* Euler–Maruyama exit times of particles started at ``x = -1`` (``fp.simulate`` with the
  absorbing grid);
* the slowest relaxation modes of the same well with reflecting walls on ``[-3, 3]``
  (``fp.modes``): the spectral gap is the inter-well relaxation rate ``~ 2 k``.

Run standalone: ``python -m validation.exit_cases [--quick]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import integrate

import fokkerplanck as fp

from ._common import pyplot, standalone

__all__ = ["CASES", "case_exit_time", "exact_mfpt", "kramers_rate"]

A, B = -3.0, 1.0   # reflecting wall, absorbing wall


def _U(x: Any) -> Any:
    return x**4 / 4 - x**2 / 2


def exact_mfpt(x0: float, T: float, a: float = A, b: float = B) -> float:
    """Exact mean exit time from ``x0`` (reflecting at ``a``, absorbing at ``b``), quadrature.

    The exponents are shifted by ``U(-1)`` so nothing overflows at small ``T``.
    """
    inner = lambda y: integrate.quad(lambda z: math.exp(-(_U(z) - _U(-1.0)) / T), a, y,
                                     epsabs=0, epsrel=1e-12, limit=200)[0]
    pts = [p for p in (-1.0, 0.0) if x0 < p < b]
    return integrate.quad(lambda y: math.exp((_U(y) - _U(-1.0)) / T) / T * inner(y), x0, b,
                          points=pts or None, epsabs=0, epsrel=1e-11, limit=200)[0]


def kramers_rate(T: float) -> float:
    """``sqrt(U''(min) |U''(max)|) / (2 pi) exp(-Delta U / T)`` with ``U'' = 2, -1``, ``Delta U = 1/4``."""
    return math.sqrt(2.0 * 1.0) / (2 * math.pi) * math.exp(-0.25 / T)


def _sde(T: float) -> fp.SDE:
    return fp.langevin(lambda x: _U(x[..., 0]), sigma=math.sqrt(2 * T),
                       grad=lambda x: x**3 - x)


def case_exit_time(quick: bool = False) -> dict[str, Any]:
    """MFPT (grid vs exact double integral vs particles), quasi-stationary rate, Kramers.

    Returns metrics, ``passed``, ``summary`` and the ``figure``.
    """
    t0 = time.perf_counter()
    temps = (0.03, 0.05, 0.1, 0.2) if quick else (0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25)
    n = 400 if quick else 1600
    grid = fp.Grid([(A, B)], n, boundary=[("reflecting", "absorbing")])
    x = grid.centers[0]
    grid_sym = fp.Grid([(-3.0, 3.0)], 300 if quick else 600)
    rows: list[dict[str, Any]] = []
    for T in temps:
        sde = _sde(T)
        ts = time.perf_counter()
        tau = fp.exit_time(sde, grid)
        q = fp.quasi_stationary(sde, grid)
        solve = time.perf_counter() - ts
        ex = exact_mfpt(-1.0, T)
        g = float(np.interp(-1.0, x, tau))
        k = kramers_rate(T)
        # relaxation between the wells (reflecting on [-3, 3]): spectral gap ~ k_LR + k_RL = 2 k
        gap = fp.spectral_gap(sde, grid_sym)
        rows.append({"T": T, "exact": ex, "grid": g, "grid_rel": g / ex - 1, "qsd_time": q.mean_exit_time, "gap": gap,
                         "gap_over_2_over_mfpt": gap * ex / 2,
                         "qsd_rel": q.mean_exit_time / ex - 1, "kramers_time": 1 / k,
                         "kramers_rel": 1 / (k * ex) - 1, "seconds": solve, "tau": tau, "qsd": q.density})

    # particles at the highest temperature (shortest exit times)
    Tp = 0.25
    n_p, dt = (1000, 0.01) if quick else (4000, 0.005)
    sde = _sde(Tp)
    tau_p = fp.exit_time(sde, grid)
    ex_p = exact_mfpt(-1.0, Tp)
    pt = fp.simulate(sde, np.full((n_p, 1), -1.0), 12 * ex_p, dt=dt, grid=grid, rng=2026)
    et = pt.exit_time[np.isfinite(pt.exit_time)]
    censored = int(pt.n - et.size)
    pm, pse = float(et.mean()), float(et.std(ddof=1) / math.sqrt(et.size))
    z = (pm - ex_p) / pse

    # profile check at T = 0.1 against the double integral at a few points
    T_prof = 0.1
    probes = np.array([-2.5, -1.5, -1.0, -0.5, 0.0, 0.5, 0.9])
    tau_prof = fp.exit_time(_sde(T_prof), grid)
    exact_prof = np.array([exact_mfpt(p, T_prof) for p in probes])
    prof_rel = float(np.max(np.abs(np.interp(probes, x, tau_prof) / exact_prof - 1)))

    # ---- figure
    plt = pyplot()
    fig, axs = plt.subplots(2, 2, figsize=(13, 9.5), layout="constrained")
    axes = axs.ravel()
    ax = axes[0]
    ax.semilogy(x, tau_prof, "C0-", label=f"grid tau(x), T={T_prof}")
    ax.semilogy(probes, exact_prof, "ko", ms=4, label="exact double integral")
    ax.semilogy(x, tau_p, "C1-", label=f"grid tau(x), T={Tp}")
    ax.errorbar([-1.0], [pm], yerr=[2 * pse], fmt="s", color="C3", ms=5,
                label=f"particles (n={n_p}, dt={dt}), +-2 SE")
    ax.set_xlabel("start x")
    ax.set_ylabel("mean exit time")
    ax.set_title("Mean first-passage time to x = 1 (absorbing wall)")
    ax.legend(fontsize=9, loc="lower left")
    ax = axes[1]
    invT = np.array([1 / r["T"] for r in rows])
    ax.semilogy(invT, [1 / r["exact"] for r in rows], "ko", label="1 / exact MFPT")
    ax.semilogy(invT, [1 / r["grid"] for r in rows], "C0x", ms=8, label="1 / grid MFPT")
    ax.semilogy(invT, [1 / r["qsd_time"] for r in rows], "C2+", ms=9, label="quasi-stationary rate")
    tt = np.linspace(invT.min(), invT.max(), 100)
    ax.semilogy(tt, [kramers_rate(1 / s) for s in tt], "C3-", lw=1, label="Kramers")
    ax.semilogy(invT, [r["gap"] / 2 for r in rows], "C4^", ms=5, mfc="none",
                label="spectral gap / 2 (reflecting [-3, 3])")
    ax.set_xlabel("1 / T")
    ax.set_ylabel("escape rate")
    ax.set_title("Arrhenius plot")
    ax.legend(fontsize=9, loc="upper right")
    ax = axes[2]
    Ts = np.array([r["T"] for r in rows])
    ax.plot(Ts, [r["kramers_rel"] for r in rows], "C3o-", label="k_exact / k_Kramers - 1")
    ax.plot(Ts, -1.5 * Ts, "k--", lw=0.8, label="-1.5 T (first Laplace correction)")
    ax.plot(Ts, [r["qsd_rel"] for r in rows], "C2s-", ms=4, label="1/(rate MFPT) - 1 (quasi-stationary)")
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("relative error")
    ax.set_title("Kramers' relative error is O(T)")
    ax.legend(fontsize=9, loc="lower left")
    ax = axes[3]
    T_m = 0.1
    m = fp.modes(_sde(T_m), grid_sym, k=3)
    xs = grid_sym.centers[0]
    for j in range(3):
        ax.plot(xs, m.modes[j], f"C{j}-", lw=1.2, label=f"mode {j + 1}: rate {m.rates[j]:.4g}")
    r0 = rows[len(rows) // 2]
    qsd = np.asarray(r0["qsd"], dtype=float)
    ax.fill_between(x, 0.0, qsd / qsd.max(), color="C2", alpha=0.2,
                    label=f"QSD, T={r0['T']}, scaled to max 1")
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("x")
    ax.set_ylabel("mode (max |mode| = 1)")
    ax.set_ylim(-1.15, 1.6)
    ax.set_title(f"Slowest modes at T={T_m} (fp.modes); QSD = quasi-stationary density")
    ax.legend(fontsize=8, loc="upper left", ncols=2)

    low = [r for r in rows if r["T"] <= 0.05]
    grid_rel = max(abs(r["grid_rel"]) for r in rows)
    kramers_ok = all(abs(r["kramers_rel"] + 1.5 * r["T"]) < 10 * r["T"] ** 2 for r in low)
    coldest = min(rows, key=lambda r: r["T"])
    gap_ok = abs(m.rates[0] / 3.354529e-2 - 1) < (1e-3 if quick else 1e-4)   # design reference
    passed = bool(gap_ok and grid_rel < (2e-3 if quick else 2e-4) and prof_rel < (2e-3 if quick else 2e-4)
                  and kramers_ok and abs(z) < 4 and censored == 0
                  and abs(coldest["qsd_rel"]) < 2e-3)
    out: dict[str, Any] = {}
    for r in rows:
        for key in ("exact", "grid", "grid_rel", "qsd_time", "qsd_rel", "kramers_time", "kramers_rel", "gap",
                    "gap_over_2_over_mfpt"):
            out[f"{key}@T={r['T']}"] = float(r[key])
    out.update(
        cells=n, grid_max_rel_error=grid_rel, profile_max_rel_error_T0_1=prof_rel,
        particle_mean_exit=pm, particle_se=pse, particle_exact=ex_p, particle_z=float(z),
        particle_censored=censored, kramers_within_asymptotic_error=kramers_ok,
        spectral_gap_T0_1=float(m.rates[0]), spectral_gap_reference_T0_1=3.354529e-2,
        kramers_rel_coldest=float(coldest["kramers_rel"]), qsd_rel_coldest=float(coldest["qsd_rel"]),
        passed=passed, seconds=time.perf_counter() - t0,
        summary=(
            f"grid MFPT vs double integral max rel err {grid_rel:.1e} ({n} cells); Kramers at "
            f"T={coldest['T']}: {100 * coldest['kramers_rel']:+.1f}% (-1.5T = {-150 * coldest['T']:+.1f}%); "
            f"1/QSD rate vs MFPT {coldest['qsd_rel']:+.1e}; particles T={Tp}: {pm:.3f} +- {pse:.3f} vs "
            f"{ex_p:.3f} (z = {z:+.2f})"
        ),
        figure=fig,
    )
    return out


CASES: dict[str, Callable[[bool], dict[str, Any]]] = {"exit_time": case_exit_time}


def main(argv: list[str] | None = None) -> int:
    """Run the case, print its summary, save ``exit_time.png``."""
    return standalone(CASES, argv)


if __name__ == "__main__":
    raise SystemExit(main())
