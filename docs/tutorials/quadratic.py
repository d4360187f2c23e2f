"""Near a quadratic minimum: non-commuting Hessian and noise, currents, mode coordinates.

For ``L = Phi^T H Phi / 2`` and constant gradient noise ``Sigma`` the SGD SDE
``dPhi = -H Phi dt + sqrt(eta Sigma) dB`` is an Ornstein–Uhlenbeck process. Its
stationary density is Gaussian with ``H C + C H = eta Sigma`` (a Lyapunov equation),
and ``E[L] = tr(H C) / 2 = eta tr(Sigma) / 4`` for *every* SPD ``H``. When ``H`` and
``Sigma`` do not commute, the density is not ``exp(-L/T)`` for any ``T`` and the
stationary state carries a probability current that circulates around the minimum.

The lecture normalizes the Hessian to ``I`` (``z = H^(1/2) Phi``) and reads off
``p ∝ exp(-sum_i u_i^2 / (eta sigma_i^2))`` in the noise eigenbasis ``u`` — variance
``eta sigma_i^2 / 2`` per mode. (The slide's ``2 Phi_i^2`` belongs to ``L = |Phi|^2``.)
Since SGD is not coordinate invariant, that picture is exact for SGD run *in* the
normalized coordinates, i.e. preconditioned by ``eta H^-1``.

Run: ``python docs/tutorials/quadratic.py``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp
from fokkerplanck import sgd_cov

H = np.array([[1.0, 0.0], [0.0, 4.0]])
Sigma = np.array([[1.0, 0.5], [0.5, 1.0]])            # H Sigma != Sigma H
eta = 0.5
L = lambda p: 0.5 * np.einsum("...i,ij,...j->...", p, H, p)
sde = fp.sgd(L, eta, Sigma, grad=lambda p: p @ H)      # dPhi = -H Phi dt + sqrt(eta Sigma) dB
grid = fp.Grid(bounds=[(-2.6, 2.6), (-1.3, 1.3)], shape=(144, 96))
res = fp.stationary(sde, grid)

C = sgd_cov(H, Sigma, eta)                              # H C + C H = eta Sigma
print("Lyapunov covariance C =", np.round(C, 4).tolist())
print("grid covariance       =", np.round(grid.cov(res.density), 4).tolist())
print(f"E[L] grid {grid.integrate(res.density * L(grid.points())):.5f}, eta tr(Sigma)/4 = {eta * np.trace(Sigma) / 4:.5f}")
print(f"L1(grid, Gaussian(0, C)) = {grid.integrate(abs(res.density - fp.gaussian_density(grid, [0, 0], C))):.1e}")
print(f"entropy production {fp.entropy_production(res):.4f} (0 only at equilibrium); "
      f"{fp.equilibrium_test(res).message}")
fp.plotting.current(res, title="Stationary current of SGD near a minimum, H and Sigma not commuting")

# the density is not Gibbs: exp(-L/T) with the matching E[L] has the wrong shape
T = eta * np.trace(Sigma) / 4 / 1.0                      # E[L] = T for a 2-D Gibbs density of a quadratic
fig, axs = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
X, Y = np.meshgrid(*grid.centers, indexing="ij")
axs[0].contour(X, Y, res.density, 6, colors="C0")
axs[0].contour(X, Y, fp.gibbs(grid, L, T), 6, colors="C3", linestyles="--")
axs[0].set(title="plain SGD (blue) vs Gibbs exp(-L/T), same E[L] (red)", xlabel="Phi_1", ylabel="Phi_2")

# --- the lecture's mode picture, with SGD preconditioned by eta H^-1 ----------------
hc = fp.hessian_coordinates(H, Sigma, eta)
pre = fp.sgd(L, eta, Sigma, grad=lambda p: p @ H, lr_per_param=eta * np.linalg.inv(H))
res_pre = fp.stationary(pre, grid)
print("mode temperatures T_i = eta sigma_i^2 / 2:", np.round(hc.temperature, 4).tolist())
u_cov = hc.transform @ grid.cov(res_pre.density) @ hc.transform.T
print("preconditioned SGD, covariance of the modes u (diagonal = T_i):", np.round(u_cov, 4).tolist())
axs[1].contour(X, Y, res_pre.density, 6, colors="C2")
axs[1].contour(X, Y, fp.gaussian_density(grid, [0, 0], hc.cov), 6, colors="k", linestyles=":")
for k in range(2):
    v = hc.inverse[:, k] * np.sqrt(hc.temperature[k])
    axs[1].annotate("", xy=v, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="k"))
axs[1].set(title="SGD preconditioned by eta H^-1 (green), mode formula (dotted)", xlabel="Phi_1")
for ax in axs:
    ax.set(xlim=(-1.6, 1.6), ylim=(-0.8, 0.8), aspect="equal")
    ax.title.set_fontsize(10)
fig.tight_layout()

# --- real SGD with additive noise: discrete SGD is wider by O(eta) -----------------
rng = np.random.default_rng(0)
xi = rng.standard_normal((4000, 2))
xi = (xi - xi.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(xi.T, bias=True))).T  # exactly cov I
data = xi @ np.linalg.cholesky(Sigma).T                 # per-example noise, cov exactly Sigma
for lr in (0.05, 0.2):
    run = fp.run_sgd(lambda p, row: p @ H + row, data, np.zeros(2), lr, n_steps=int(12 / lr),
                     n_chains=20_000, rng=1)
    emp = np.cov(run.x.T)
    print(f"eta = {lr}: Var(Phi_2) real SGD {emp[1, 1]:.5f}, SDE {sgd_cov(H, Sigma, lr)[1, 1]:.5f}, "
          f"exact discrete {fp.discrete_sgd_cov(H, Sigma, lr)[1, 1]:.5f}")
plt.show()
