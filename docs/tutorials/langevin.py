"""Langevin dynamics: the Gibbs density and a Bayesian posterior.

Gradient flow with noise, ``dPhi = -grad L dt + sigma dB``, has the stationary density
``p = exp(-2 L / sigma^2) / Z``: the gradient flow ``-p grad L`` and the diffusion flow
``-(sigma^2 / 2) grad p`` cancel. ``sigma`` acts as a temperature ``T = sigma^2 / 2``.
With a training loss ``L = mean_i[-ln P(y_i | x_i, Phi)] + lambda |Phi|^2`` over ``n``
examples and ``sigma^2 = 2 / n``, the Gibbs density is Bayes' posterior
``P(Phi | data) ∝ prod_i P(y_i | x_i, Phi) * exp(-n lambda |Phi|^2)``.

Run: ``python docs/tutorials/langevin.py``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp

# --- 1. the double well at three temperatures -------------------------------------
U = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2
grid = fp.Grid(bounds=[(-3, 3)], shape=600)
x = grid.centers[0]
fig, ax = plt.subplots(figsize=(6, 3.4))
for T, ref in [(0.25, 0.832745), (0.1, 0.871363), (0.05, 0.936834)]:
    res = fp.stationary(fp.langevin(U, sigma=np.sqrt(2 * T)), grid)
    ex2 = grid.integrate(res.density * x**2)
    print(f"T = {T:4.2f}: method {res.method!r}, E x^2 = {ex2:.6f} (reference {ref}), "
          f"max |p - Gibbs| = {np.abs(res.density - fp.gibbs(grid, U, T)).max():.1e}")
    ax.plot(x, res.density, label=f"T = sigma^2/2 = {T}")
top = ax.get_ylim()[1]
ax.plot(x, (U(x[:, None]) + 0.25) * top / 2, "k:", lw=1, label="L(x) (shifted, scaled)")
ax.set(xlabel="x", ylabel="p(x)", ylim=(0, top), title="Gibbs densities exp(-2L/sigma^2) of the double well")
ax.legend(fontsize=8)
fig.tight_layout()

# --- 2. a Bayesian posterior: logistic regression, Phi = (w, b) --------------------
rng = np.random.default_rng(1)
n = 30
xd = rng.standard_normal(n)
yd = np.where(rng.random(n) < 1 / (1 + np.exp(-(2.0 * xd - 0.5))), 1.0, -1.0)   # labels +-1
prior_var = 4.0
lam = 1 / (2 * n * prior_var)            # lambda |Phi|^2 with n lambda = 1 / (2 prior_var)


def margins(phi):
    return yd * (phi[..., 0, None] * xd + phi[..., 1, None])          # (..., n)


def loss(phi):
    """Average negative log-likelihood plus the regularizer."""
    return np.logaddexp(0.0, -margins(phi)).mean(-1) + lam * (phi**2).sum(-1)


def grad(phi):
    s = -yd / (1 + np.exp(margins(phi)))                               # d nll / d(w x + b)
    return np.stack([(s * xd).mean(-1), s.mean(-1)], axis=-1) + 2 * lam * phi


sde = fp.langevin(loss, sigma=np.sqrt(2 / n), grad=grad)
grid2 = fp.Grid(bounds=[(-1.5, 8.0), (-3.0, 2.0)], shape=(152, 80))
post = fp.stationary(sde, grid2)
phi = grid2.points()
log_bayes = -np.logaddexp(0.0, -margins(phi)).sum(-1) - (phi**2).sum(-1) / (2 * prior_var)
bayes = np.exp(log_bayes - log_bayes.max())
bayes /= grid2.integrate(bayes)                                        # Bayes' rule on the grid
print(f"posterior: method {post.method!r}, L1(stationary, Bayes) = {grid2.integrate(np.abs(post.density - bayes)):.1e}")
print(f"posterior mean (w, b) = {np.round(grid2.mean(post.density), 3)}, sd = "
      f"{np.round(np.sqrt(np.diag(grid2.cov(post.density))), 3)}")

# Langevin particles, started from the Gaussian with the posterior's mean and covariance
# (a Laplace-like guess: it misses the skew) and run for three relaxation times
gap = fp.spectral_gap(sde, grid2)
t_end = 3 / gap
x0 = rng.multivariate_normal(grid2.mean(post.density), grid2.cov(post.density), size=10_000)
x0 = x0[np.all((x0 > [-1.5, -3.0]) & (x0 < [8.0, 2.0]), axis=1)]  # inside the grid
pt = fp.simulate(sde, x0, t_end=t_end, dt=0.05, grid=grid2, rng=2)
cmp = fp.compare(post, pt)
print(f"relaxation time 1/gap = {1 / gap:.1f}; particles after t = {t_end:.0f}: "
      f"L1 = {cmp.l1:.3f} (noise floor {cmp.noise_floor:.3f}), chi2 p = {cmp.chi2_pvalue:.2f}")
fp.plotting.compare(post, pt, exact=bayes, comparison=cmp,
                    title="Posterior of logistic regression: Langevin stationary density vs particles")
plt.show()
