"""The SGD SDE built from data, against real minibatch SGD.

Least-squares linear regression ``y ≈ w x + b`` on ``N`` examples, parameters
``Phi = (w, b)``. The per-example gradient is ``r (x, 1)`` with residual
``r = w x + b - y``; :func:`fokkerplanck.sgd_from_data` computes its mean ``g(Phi)`` and
covariance ``Sigma(Phi)`` over the data set at every point the solver asks for — the
noise depends on ``Phi`` — and builds the lecture's SDE

    dPhi = -g(Phi) dt + sqrt(eta Sigma(Phi) / B) dB     (time = sum of learning rates).

:func:`fokkerplanck.run_sgd` runs real SGD (many independent chains, minibatches drawn
with replacement) for comparison. The SDE is the small-``eta`` limit: at larger rates
discrete SGD is wider by ``O(eta)``.

Run: ``python docs/tutorials/sgd_data.py``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fokkerplanck as fp
from fokkerplanck import sgd_cov

rng = np.random.default_rng(0)
N = 200
x = rng.standard_normal(N)
y = 1.5 * x - 0.5 + 0.5 * rng.standard_normal(N)
data = np.stack([x, np.ones(N), y], axis=-1)            # one row (x, 1, y) per example
phi_star = np.linalg.lstsq(data[:, :2], y, rcond=None)[0]  # the minimizer of the loss


def per_example_grad(p, row):
    """Gradient of (w x + b - y)^2 / 2; p (..., 2) broadcasts against rows (..., 3)."""
    r = (p * row[..., :2]).sum(-1) - row[..., 2]
    return r[..., None] * row[..., :2]


H = data[:, :2].T @ data[:, :2] / N                    # Hessian of the mean loss
Sigma_star = np.cov(per_example_grad(phi_star, data).T, bias=True)   # gradient noise at phi_star

rates = [0.01, 0.05, 0.2]
var_sde, var_sgd = [], []
for lr in rates:
    sde = fp.sgd_from_data(per_example_grad, data, lr=lr, batch_size=1, kind="grad", ndim=2)
    # box: 8 standard deviations of the linearized SDE (H, Sigma at the minimizer) per axis
    sd = np.sqrt(np.diag(sgd_cov(H, Sigma_star, lr)))
    grid = fp.Grid(bounds=[(phi_star[k] - 8 * sd[k], phi_star[k] + 8 * sd[k]) for k in range(2)], shape=60)
    res = fp.stationary(sde, grid)
    run = fp.run_sgd(per_example_grad, data, x0=phi_star, lr=lr, n_steps=int(8 / lr),
                     n_chains=20_000, rng=1)
    cmp = fp.compare(res, run.x)
    var_sde.append(np.diag(grid.cov(res.density)))
    var_sgd.append(np.var(run.x, axis=0))
    print(f"eta = {lr:4.2f}: Var(w) SDE {var_sde[-1][0]:.2e}, real SGD {var_sgd[-1][0]:.2e}; "
          f"L1 {cmp.l1:.3f} vs noise floor {cmp.noise_floor:.3f}, chi2 p = {cmp.chi2_pvalue:.3f}")
    if lr == 0.01:
        fp.plotting.compare(res, run.x, comparison=cmp,
                            title="eta = 0.01: SGD SDE from data (grid) vs real SGD (20000 chains)")

var_sde, var_sgd = np.array(var_sde), np.array(var_sgd)
fig, ax = plt.subplots(figsize=(5.5, 3.6))
for k, name in enumerate(["w", "b"]):
    ax.plot(rates, var_sgd[:, k] / np.array(rates), "o", color=f"C{k}", label=f"real SGD, Var({name}) / eta")
    ax.plot(rates, var_sde[:, k] / np.array(rates), "-", color=f"C{k}", label=f"SDE, Var({name}) / eta")
ax.set(xlabel="learning rate eta", ylabel="variance / eta",
       title="Real SGD is wider than its SDE by O(eta)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
