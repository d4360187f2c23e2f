"""Inertia and degenerate noise: Kramers' equation, a hypoelliptic OU process and
heavy-ball SGD.

Noise that acts on some directions only (a positive *semi*-definite covariance) is what
Langevin dynamics with inertia has: ``dx = v dt``, ``dv = (-U'(x) - gamma v) dt + sigma dB``.
The position gets no noise, yet the density spreads in ``x`` because the velocity
carries the noise there. The stationary density is the phase-space Gibbs density
``exp(-(U(x) + v^2/2) / T)``, ``T = sigma^2 / (2 gamma)``, whatever the friction.

Run: ``python docs/tutorials/inertia.py``.
"""

import math

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp

U = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2        # double well, barrier 1/4
dU = lambda x: x**3 - x
T = 0.1

# --- 1. Kramers' equation: the phase-space Gibbs density ------------------------------
gamma = 1.0
sde = fp.underdamped_langevin(U, gamma, sigma=math.sqrt(2 * gamma * T), grad=dU)
grid = fp.Grid(bounds=[(-2.2, 2.2), (-1.6, 1.6)], shape=128)
res = fp.stationary(sde, grid)
H = lambda z: U(z) + 0.5 * z[..., 1] ** 2
exact = fp.gibbs(grid, H, T)
print(f"gamma = {gamma}: L1(grid, exp(-(U + v^2/2)/T)) = {grid.integrate(abs(res.density - exact)):.2e}, "
      f"E v^2 = {grid.integrate(res.density * grid.points()[..., 1] ** 2):.4f} (T = {T})")

fig, axs = plt.subplots(1, 2, figsize=(11, 4))
axs[0].contourf(grid.centers[0], grid.centers[1], res.density.T, levels=20, cmap="viridis")
axs[0].contour(grid.centers[0], grid.centers[1], exact.T, levels=8, colors="w", linewidths=0.6)
axs[0].set(xlabel="x", ylabel="v", title="phase-space density (filled) and Gibbs (lines)")
axs[1].plot(grid.centers[0], grid.marginal(res.density, 0), label="grid, x-marginal")
axs[1].plot(grid.centers[0], grid.marginal(exact, 0), "k--", label="exp(-U/T) (overdamped Gibbs)")
axs[1].set(xlabel="x", title="the x-marginal is the overdamped Gibbs density")
axs[1].legend(fontsize=8)
fig.tight_layout()

# --- 2. escape rate across the friction: Kramers and the turnover ---------------------
w0, wb, dE = math.sqrt(2.0), 1.0, 0.25


def kramers(g):
    return (math.sqrt(g * g / 4 + wb * wb) - g / 2) / wb * w0 / (2 * math.pi) * math.exp(-dE / T)


gammas = [0.02, 0.05, 0.2, 1.0, 4.0]
rates = []
for g in gammas:
    s = fp.underdamped_langevin(U, g, math.sqrt(2 * g * T), grad=dU)
    # k = gap / 2 (two wells); the problem is smooth: the fourth-order scheme converges at 64^2
    rates.append(0.5 * fp.spectral_gap(s, fp.Grid(bounds=[(-2.2, 2.2), (-1.6, 1.6)], shape=64), scheme="highorder"))
    print(f"gamma = {g:4.2f}: k = {rates[-1]:.3e}, Kramers {kramers(g):.3e}, ratio {rates[-1] / kramers(g):.3f}")
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.loglog(gammas, rates, "o-", label="grid: spectral gap / 2")
gg = np.geomspace(0.015, 6, 100)
ax.loglog(gg, [kramers(g) for g in gg], "k--", label="Kramers (moderate-to-strong friction)")
ax.loglog(gg, 0.5 * gg * (4 / 3) / T * w0 / (2 * np.pi) * np.exp(-dE / T), "C2:",
          label="energy diffusion: gamma I / (2 T) (well to well)")
ax.set(xlabel="friction gamma", ylabel="escape rate", ylim=(5e-4, 3e-2), title=f"Kramers turnover, T = {T}")
ax.legend(fontsize=8)
fig.tight_layout()

# --- 3. a hypoelliptic OU process: noise of rank one ----------------------------------
Hm = np.array([[0.0, -1.0], [0.5, 1.5]])            # x' = v, v' = -x/2 - 3v/2 + dB
C = np.diag([0.0, 1.0])
S = fp.lyapunov(Hm, C)                              # H S + S H^T = C
ou_grid = fp.Grid(bounds=[(-4.5, 4.5), (-3, 3)], shape=128)
ou = fp.stationary(fp.ornstein_uhlenbeck(Hm, C), ou_grid)                       # monotone, first order in x
ou4 = fp.stationary(fp.ornstein_uhlenbeck(Hm, C), ou_grid, scheme="highorder")  # fourth order
print(f"hypoelliptic OU: Lyapunov S = {np.round(S, 4).tolist()}; grid cov {np.round(ou.cov(), 3).tolist()} "
      f"(scheme 'sg'), {np.round(ou4.cov(), 4).tolist()} (scheme 'highorder')")

# --- 4. heavy-ball SGD: inertia in the optimizer --------------------------------------
rng = np.random.default_rng(0)
y = rng.normal(size=(400, 1))
y -= y.mean()
s2 = float(y.var())                                 # l_i = (w - y_i)^2 / 2: H = 1, Sigma = s2
for eta in (0.0025, 0.04):
    beta = 1 - math.sqrt(eta)                       # 1 - beta = gamma sqrt(eta), gamma = 1
    run = fp.run_sgd(lambda w, yi: w - yi, y, np.zeros(1), eta, int(25 / math.sqrt(eta)),
                     n_chains=20_000, momentum=beta, rng=1)
    Tm = eta * s2 / (2 * (1 - beta))
    print(f"heavy ball eta = {eta}: Var w / T = {run.x.var() / Tm:.3f}, Var p / T = {run.v.var() / Tm:.3f} "
          f"(the SDE: 1 and 1; exact discrete Var w / T = {1 + eta / 4:.3f} to O(eta^2))")
