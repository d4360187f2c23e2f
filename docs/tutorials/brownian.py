"""Brownian motion: the lecture's diffusion, on a grid, against the heat kernel.

The lecture starts from the discrete process ``z(n + 1) = z(n) + sigma eps`` and notes
that ``z(n) = z(0) + sigma eps sqrt(n)`` samples it in one step. Its continuous-time
limit is Brownian motion ``dz = sigma dB``, whose Fokker–Planck equation is the heat
equation ``dp/dt = (sigma^2 / 2) d^2 p / dx^2``. Started from ``N(0, s0)`` the density
at time ``t`` is ``N(0, s0 + sigma^2 t)`` (the heat kernel convolved with the start).

Run: ``python docs/tutorials/brownian.py`` (prints the numbers, shows three figures).
"""

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp

sigma, s0 = 1.0, 0.05
rng = np.random.default_rng(0)

# --- 1. the discrete process, stepped and sampled in one go -----------------------
n_steps, n_paths = 50, 20_000
z_stepped = np.sqrt(s0) * rng.standard_normal(n_paths)          # z(0) ~ pop = N(0, s0)
for _ in range(n_steps):
    z_stepped = z_stepped + sigma * rng.standard_normal(n_paths)  # z(n+1) = z(n) + sigma eps
z_direct = np.sqrt(s0) * rng.standard_normal(n_paths) + sigma * np.sqrt(n_steps) * rng.standard_normal(n_paths)
print(f"variance after {n_steps} steps: stepped {z_stepped.var():.2f}, "
      f"sampled directly {z_direct.var():.2f}, exact {s0 + n_steps * sigma**2:.2f}")

fig, ax = plt.subplots(figsize=(6, 3.2))
bins = np.linspace(-25, 25, 61)
ax.hist(z_stepped, bins, density=True, histtype="step", lw=1.5, label="z(n+1) = z(n) + sigma eps")
ax.hist(z_direct, bins, density=True, histtype="step", lw=1.5, label="z(0) + sigma eps sqrt(n)")
xs = np.linspace(-25, 25, 400)
v = s0 + n_steps * sigma**2
ax.plot(xs, np.exp(-xs**2 / (2 * v)) / np.sqrt(2 * np.pi * v), "k--", lw=1, label="N(0, s0 + n sigma^2)")
ax.set(xlabel="z(50)", ylabel="density", title="Two ways to sample the discrete diffusion")
ax.legend(fontsize=8)
fig.tight_layout()

# --- 2. the density on a grid: the heat equation ---------------------------------
grid = fp.Grid(bounds=[(-8, 8)], shape=400)                      # reflecting walls, far away
sde = fp.brownian(sigma)                                         # dz = sigma dB
p0 = fp.gaussian(grid, mean=[0.0], cov=s0)
t_eval = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
ev = fp.evolve(sde, grid, p0, t_eval)                            # TR-BDF2 by default
pt = fp.simulate(sde, np.sqrt(s0) * rng.standard_normal((100_000, 1)), t_end=4.0,
                 dt=1e-2, grid=grid, rng=1, t_eval=t_eval)


def exact(t):
    """Heat kernel convolved with the initial N(0, s0)."""
    return fp.gaussian_density(grid, [0.0], s0 + sigma**2 * t)


for k, t in enumerate(t_eval):
    err = grid.integrate(np.abs(ev.density[k] - exact(t)))
    print(f"t = {t:4.2f}: L1(grid, exact) = {err:.1e}, mass = {ev.mass[k]:.15f}")
fig = fp.plotting.evolution(ev, pt, exact=exact,
                            title="Grid density (line), particles (histogram), heat kernel (dashed)")
for ax in fig.axes:
    ax.set_xlim(-6, 6)

# --- 3. the variance grows linearly: Var = s0 + sigma^2 t ------------------------
t_fine = np.linspace(0, 4, 41)
ev_fine = fp.evolve(sde, grid, p0, t_fine)
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(t_fine, ev_fine.cov()[:, 0, 0], "o", ms=4, label="grid, Var of p(t)")
ax.plot(t_fine, s0 + sigma**2 * t_fine, "k-", lw=1, label="s0 + sigma^2 t")
ax.set(xlabel="t", ylabel="variance", title="Diffusion spreads linearly in time")
ax.legend()
fig.tight_layout()
plt.show()
