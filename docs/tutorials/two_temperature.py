"""Two temperatures, and forcing a Gibbs distribution with per-parameter rates.

SGD with rate ``eta`` and gradient-noise variances ``sigma_x^2, sigma_y^2`` on a
separable loss ``L(x, y) = L_x(x) + L_y(y)`` has the product density

    p(x, y) = exp(-2 L_x / (eta sigma_x^2) - 2 L_y / (eta sigma_y^2)) / Z,

two temperatures ``T_i = eta sigma_i^2 / 2``: not a Gibbs density of ``L``. With
per-parameter rates ``eta_i = eta' / sigma_i^2`` both temperatures become ``eta' / 2``
and ``p = exp(-2 L / eta') / Z`` — Gibbs. The fluctuation–dissipation argument behind
it does not need a separable loss; the second part checks a coupled one.

Run: ``python docs/tutorials/two_temperature.py``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp

Lx = lambda u: (u[..., 0] ** 2 - 1) ** 2 / 4          # a double well in x
Ly = lambda u: 0.5 * u[..., 0] ** 2                    # a quadratic in y
L = lambda p: Lx(p[..., :1]) + Ly(p[..., 1:])
eta, s2 = 0.02, np.array([15.0, 60.0])                 # rate, gradient-noise variances
eta_prime = 0.3                                        # target temperature eta'/2 = 0.15
grid = fp.Grid(bounds=[(-2.2, 2.2), (-4, 4)], shape=(132, 120))

plain = fp.stationary(fp.sgd(L, eta, s2), grid)
forced = fp.stationary(fp.sgd(L, eta, s2, lr_per_param=eta_prime / s2), grid)
two_T = fp.two_temperature(Lx, Ly, eta, np.sqrt(s2[0]), np.sqrt(s2[1]), grid)
gibbs = fp.gibbs(grid, L, eta_prime / 2)
print(f"temperatures eta sigma_i^2 / 2 = {eta * s2 / 2}")
print(f"plain rates:  L1(grid, two-temperature formula) = {grid.integrate(abs(plain.density - two_T)):.1e}, "
      f"L1(grid, Gibbs at T = {eta_prime / 2}) = {grid.integrate(abs(plain.density - gibbs)):.2f}")
print(f"forced rates: L1(grid, Gibbs exp(-2L/eta')) = {grid.integrate(abs(forced.density - gibbs)):.1e}")

fig, axs = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
X, Y = np.meshgrid(*grid.centers, indexing="ij")
for ax, p, title in [(axs[0], plain.density, "plain SGD: two temperatures"),
                     (axs[1], forced.density, "eta_i = eta'/sigma_i^2: Gibbs"),
                     (axs[2], gibbs, "Gibbs exp(-2L/eta')")]:
    ax.pcolormesh(X, Y, p, shading="auto", cmap="viridis")
    ax.contour(X, Y, L(grid.points()), levels=[0.1, 0.5, 1.5, 3], colors="w", linewidths=0.6)
    ax.set(title=title, xlabel="x")
axs[0].set_ylabel("y")
fig.suptitle("Stationary densities of the SGD SDE (white: level sets of L)")
fig.tight_layout()

# marginals: the plain run is hot in y (T = 0.6) and colder in x (T = 0.15)
fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
for k, name in enumerate("xy"):
    for p, label in [(plain.density, "plain"), (forced.density, "forced"), (two_T, "two-temperature formula")]:
        axs[k].plot(grid.centers[k], grid.marginal(p, k), "--" if "formula" in label else "-", label=label)
    axs[k].set(xlabel=name, ylabel=f"p({name})")
axs[0].legend(fontsize=8)
fig.tight_layout()

# --- a coupled (non-separable) loss: forcing still gives Gibbs --------------------
Lc = lambda p: (p[..., 0] ** 2 - 1) ** 2 / 4 + 0.5 * (p[..., 1] - 0.8 * p[..., 0]) ** 2
forced_c = fp.stationary(fp.sgd(Lc, eta, s2, lr_per_param=eta_prime / s2), grid)
print(f"coupled loss, forced rates: L1(grid, Gibbs) = "
      f"{grid.integrate(abs(forced_c.density - fp.gibbs(grid, Lc, eta_prime / 2))):.1e} "
      f"(method {forced_c.method!r})")
rng = np.random.default_rng(0)
pt = fp.simulate(fp.sgd(Lc, eta, s2, lr_per_param=eta_prime / s2), rng.uniform([-1.5, -2], [1.5, 2], size=(20_000, 2)),
                 t_end=24.0, dt=0.02, grid=grid, rng=1)
cmp = fp.compare(forced_c, pt)
print(f"SDE particles: L1 {cmp.l1:.3f} vs noise floor {cmp.noise_floor:.3f}, chi2 p = {cmp.chi2_pvalue:.2f}")
fp.plotting.compare(forced_c, pt, comparison=cmp, title="Coupled loss, forced rates: grid vs SDE particles")
plt.show()
