"""A general SDE with state-dependent noise: Ito, Stratonovich and isothermal.

``dx = mu(x) dt + sigma(x) dB`` with ``C = sigma sigma^T`` depending on ``x``. The
lecture's step ``x(t + dt) = x(t) + mu dt + sigma(x(t)) eps sqrt(dt)`` evaluates the
noise at the *start* of the step: that is Ito, and its Fokker–Planck equation is
``dp/dt = -div(mu p) + 1/2 sum_ij d_i d_j (C_ij p)``. Stratonovich (noise at the
midpoint) and the "isothermal" reading of the lecture's diffusion flow
``-1/2 C grad p`` are different processes once ``C`` varies. Example from the design
notes: drift ``-x`` and ``C(x) = (1 + x^2) / 2``,

* Ito:          ``p = 8 / (3 pi) (1 + x^2)^-3``,   ``E x^2 = 1/3``;
* Stratonovich: ``p = 3/4 (1 + x^2)^-5/2``,        ``E x^2 = 1/2``;
* isothermal:   ``p = 2 / pi (1 + x^2)^-2``,       ``E x^2 = 1``.

Run: ``python docs/tutorials/general_sde.py``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp

drift = lambda x: -x
sigma = lambda x: np.sqrt((1 + x[..., :1, None] ** 2) / 2)          # (..., 1, 1)
exact = {
    "ito": (lambda x: 8 / (3 * np.pi) * (1 + x**2) ** -3.0, 1 / 3),
    "stratonovich": (lambda x: 0.75 * (1 + x**2) ** -2.5, 1 / 2),
    "isothermal": (lambda x: 2 / np.pi * (1 + x**2) ** -2.0, 1.0),
}
grid = fp.Grid(bounds=[(-25, 25)], shape=1000)
x = grid.centers[0]
rng = np.random.default_rng(0)

fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
for k, (convention, (p_exact, ex2)) in enumerate(exact.items()):
    sde = fp.SDE(drift=drift, sigma=sigma, convention=convention)
    res = fp.stationary(sde, grid)
    pt = fp.simulate(sde, rng.standard_normal((30_000, 1)) * 0.5, t_end=6.0, dt=5e-3,
                     grid=grid, rng=k)
    cmp = fp.compare(res, pt)
    err = grid.integrate(np.abs(res.density - p_exact(x)))
    box = grid.integrate(p_exact(x) * x**2) / grid.integrate(p_exact(x))   # exact, on the box
    print(f"{convention:>12}: E x^2 grid {grid.integrate(res.density * x**2):.4f} "
          f"(exact {box:.4f} on the box, {ex2:.4f} on the line; particles {np.mean(pt.x**2):.3f}); "
          f"L1(grid, exact) = {err:.1e}; "
          f"particles L1 {cmp.l1:.3f} vs noise floor {cmp.noise_floor:.3f}")
    line, = axs[0].plot(x, res.density, lw=1.5, label=f"{convention} (grid)")
    axs[0].plot(x, p_exact(x), "k:", lw=1)
    edges = np.linspace(-4, 4, 81)
    axs[0].hist(pt.x[:, 0], edges, density=True, histtype="step", color=line.get_color(), alpha=0.6)
    axs[1].semilogy(x, res.density, color=line.get_color(), label=convention)
    axs[1].semilogy(x, p_exact(x), "k:", lw=1)
axs[0].set(xlim=(-4, 4), xlabel="x", ylabel="p(x)", title="Grid (line), particles (steps), exact (dotted)")
axs[0].legend(fontsize=8)
axs[1].set(xlim=(0, 25), ylim=(1e-9, 2), xlabel="x", title="Tails: (1+x^2)^-3, ^-5/2, ^-2")
axs[1].legend(fontsize=8)
fig.tight_layout()

# the Ito drift each convention amounts to (what Euler–Maruyama steps with)
fig, ax = plt.subplots(figsize=(5, 3.2))
xs = np.linspace(-3, 3, 61)[:, None]
for convention in exact:
    ax.plot(xs[:, 0], fp.SDE(drift=drift, sigma=sigma, convention=convention).ito_drift(xs)[:, 0], label=convention)
ax.set(xlabel="x", ylabel="Ito drift", title="Same mu and sigma, three Ito drifts")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
