"""Error estimate against the true error on cases with exact answers (the table in
docs/trust.md): ``python -m validation.error_estimates`` prints it as Markdown.

Each reference is independent of the package: closed forms, ``scipy.integrate.quad``.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.integrate import quad
from scipy.special import erf, gammainc, gammaln

import fokkerplanck as fp


def main() -> None:
    warnings.simplefilter("ignore")
    print("| case | answer | grid | estimate | true error | estimate / true |\n|---|---|---|---|---|---|")
    rows = []
    def row(case, what, grid, est, true):
        rows.append((case, what, "x".join(map(str, grid.shape)), est, true))
        print(f"| {case} | {what} | {rows[-1][2]} | {est:.2e} | {true:.2e} | {est/true:.2f} |", flush=True)

    H, C = np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]
    sde = fp.ornstein_uhlenbeck(H, C)
    for scheme, ns in (("sg", (32, 64, 128)), ("highorder", (64, 128))):
        for n in ns:
            grid = fp.Grid(bounds=[(-6, 6), (-3.5, 3.5)], shape=n)
            exact = fp.gaussian_density(grid, np.zeros(2), fp.lyapunov(H, C))
            res = fp.stationary(sde, grid, scheme=scheme)
            row(f"OU H=diag(1,4), C=[[1,.5],[.5,1]], {scheme}", "density L1", grid, res.error_estimate,
                grid.integrate(abs(res.density - exact)))

    T = 0.1
    U = lambda x: -np.cos(2 * x[..., 0]) - 0.3 * np.cos(x[..., 0]) - np.cos(x[..., 1])
    def drift(x):
        gx = 2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0]); gy = np.sin(x[..., 1])
        return np.stack([-(gx - gy), -(gy + gx)], -1)
    tor = fp.SDE(drift=drift, sigma=np.sqrt(2 * T), ndim=2)
    shallow = lambda g, p: g.integrate(p * (g.points()[..., 0] > np.pi / 2))
    for n in (64, 128, 256):
        grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=n, boundary="periodic")
        u = U(grid.points()); ex = np.exp(-(u - u.min()) / T); ex /= grid.integrate(ex)
        res = fp.stationary(tor, grid)
        row("torus double well, non-reversible, T=0.1", "density L1", grid, res.error_estimate,
            grid.integrate(abs(res.density - ex)))
        est = fp.estimate_error(lambda g: shallow(g, fp.stationary(tor, g, error_estimate=False).density), grid,
                                value=shallow(grid, res.density))
        # exact shallow-well mass: fine quadrature of exp(-U/T)
        xs = np.linspace(-np.pi/2, 3*np.pi/2, 4001)[:-1] + np.pi/4000
        ux = -np.cos(2*xs) - 0.3*np.cos(xs)
        wx = np.exp(-(ux - ux.min())/T); m_exact = wx[xs > np.pi/2].sum()/wx.sum()
        row("torus double well, non-reversible, T=0.1", "shallow-well mass (rel.)", grid, est.error,
            abs(est.value - m_exact) / m_exact)

    EX = {"ito": lambda x: (1 + x**2) ** -3.0, "stratonovich": lambda x: (1 + x**2) ** -2.5,
          "isothermal": lambda x: (1 + x**2) ** -2.0}
    for conv, f in EX.items():
        sde = fp.SDE(drift=lambda x: -x, sigma=lambda x: np.sqrt((1 + x[..., 0] ** 2) / 2)[..., None, None],
                     convention=conv)
        Z = quad(f, -12, 12, epsabs=0, epsrel=1e-13)[0]
        m2 = quad(lambda y: y * y * f(y), -12, 12, epsabs=0, epsrel=1e-13)[0] / Z
        for n in (240, 960):
            grid = fp.Grid([(-12, 12)], n)
            res = fp.stationary(sde, grid)
            row(f"convention {conv} (drift -x, C = (1+x^2)/2)", "density L1", grid, res.error_estimate,
                grid.integrate(abs(res.density - f(grid.centers[0]) / Z)))
            est = fp.estimate_error(lambda g: g.integrate(fp.stationary(sde, g, error_estimate=False).density
                                                          * g.centers[0] ** 2), grid)
            row(f"convention {conv} (drift -x, C = (1+x^2)/2)", "E x^2 (rel.)", grid, est.error, abs(est.value - m2) / m2)

    dw = fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=np.sqrt(0.2))
    for n in (300, 600, 2400):
        grid = fp.Grid(bounds=[(-3, 3)], shape=n)
        m = fp.modes(dw, grid, k=1)
        row("double well x^4/4 - x^2/2, T = 0.1", "spectral gap (rel.)", grid, m.error_estimate[0],
            abs(m.rates[0] - 3.354529e-2) / 3.354529e-2)

    for v in (0.0, 20.0):
        for n in (50, 200):
            grid = fp.Grid(bounds=[(0, 1)], shape=n, boundary="absorbing")
            qs = fp.quasi_stationary(fp.SDE(drift=lambda x: v + 0 * x, sigma=1.0, ndim=1), grid)
            ex = v**2 / 2 + np.pi**2 / 2
            row(f"drift {v:g} on [0, 1], absorbing", "quasi-stationary rate (rel.)", grid, qs.error_estimate,
                abs(qs.rate - ex) / ex)

    ou = fp.ornstein_uhlenbeck(1.0, 1.0)
    inner = lambda y: np.exp(y**2) * np.sqrt(np.pi) * erf(y)
    for n in (40, 160):
        grid = fp.Grid(bounds=[(0, 2)], shape=n, boundary=[("reflecting", "absorbing")])
        tau = np.array([quad(inner, xi, 2)[0] for xi in grid.centers[0]])
        est = fp.estimate_error(lambda g: fp.exit_time(ou, g), grid)
        row("OU exit from [0, 2) (reflecting at 0)", "exit time, L1", grid, est.error, grid.integrate(abs(est.value - tau)))

    a, b, s = 1.0, 0.5, 0.8
    k, rate = 2 * a / s**2, 2 * b / s**2
    cir = fp.SDE(drift=lambda x: a - b * x, sigma=lambda x: (s * np.sqrt(x))[..., None], ndim=1)
    for n in (60, 240):
        grid = fp.Grid([(0, 12)], n)
        x = grid.centers[0]
        exact = np.exp(k * np.log(rate) + (k - 1) * np.log(x) - rate * x - gammaln(k)) / gammainc(k, rate * 12)
        res = fp.stationary(cir, grid)
        row("CIR (1 - x/2) dt + 0.8 sqrt(x) dB on [0, 12]", "density L1", grid, res.error_estimate,
            grid.integrate(abs(res.density - exact)))
    r = np.array([e / t for *_, e, t in rows])
    print("ratio range", r.min(), r.max())


if __name__ == "__main__":
    main()
