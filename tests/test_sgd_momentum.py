"""Heavy-ball SGD against its phase-space SDE (1 - beta = gamma sqrt(eta)): exact moment
equations, real heavy-ball SGD, and why the chi-square rejects when the minibatch noise is
far from Gaussian (docs/sgd.md, validation case ``sgd_heavy_ball``)."""

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fokkerplanck as fp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from validation.sgd_cases import (
    gaussian_heavy_ball,
    grid_shape,
    heavy_ball_exact,
    heavy_ball_grad,
    heavy_ball_problem,
    heavy_ball_sde_density,
    response_integrals,
    shape_stats,
)

LIN = heavy_ball_problem("linreg", np.random.default_rng(51))
QUAD = heavy_ball_problem("quadratic", np.random.default_rng(52))


def _run(prob, eta, B, chains, seed):
    beta = 1 - math.sqrt(eta)
    return fp.run_sgd(heavy_ball_grad, prob["data"], np.array([prob["w_star"]]), eta, int(30 / math.sqrt(eta)),
                      batch_size=B, n_chains=chains, momentum=beta, rng=seed)


def test_grid_matches_the_exact_moments_of_the_phase_space_sde_with_state_dependent_noise():
    # Ito moment equations: E delta p = 0, Var p = h Var delta, 2 gamma Var p = sqrt(eta) E Sigma(w) / B
    for eta, B in ((0.01, 1), (0.04, 4)):
        beta = 1 - math.sqrt(eta)
        p, grid = heavy_ball_sde_density(LIN, eta, beta, B, 48)
        ex = heavy_ball_exact(LIN, eta, beta, B, 1.0)
        C = grid.cov(p)
        assert C[0, 0] / ex["var_w_sde"] == pytest.approx(1, abs=1e-3)
        assert C[1, 1] / ex["var_p_sde"] == pytest.approx(1, abs=1e-3)
        assert abs(C[0, 1]) < 1e-3 * math.sqrt(C[0, 0] * C[1, 1])


def test_exact_discrete_heavy_ball_deviates_from_the_sde_by_order_eta():
    # quadratic: the known 1 + eta h / 4; least squares: also O(eta) (16x eta -> ~16x)
    ex = heavy_ball_exact(QUAD, 1e-4, 1 - 1e-2, 1, 1.0)
    assert (ex["var_w"] / ex["var_w_sde"] - 1) / 1e-4 == pytest.approx(QUAD["h"] / 4, rel=0.02)
    devs = [heavy_ball_exact(LIN, e, 1 - math.sqrt(e), 32, 1.0) for e in (0.0025, 0.04)]
    d = [x["var_w"] / x["var_w_sde"] - 1 for x in devs]
    assert 0 < d[0] < 2e-3 and d[1] / d[0] == pytest.approx(16, rel=0.25)


def test_real_heavy_ball_sgd_agrees_with_the_sde_at_small_eta_and_its_variance_is_the_exact_one():
    for prob, B in ((QUAD, 1), (LIN, 16)):
        eta = 0.01
        beta = 1 - math.sqrt(eta)
        run = _run(prob, eta, B, 20_000, 3)
        p, grid = heavy_ball_sde_density(prob, eta, beta, B, 48)
        cmp = fp.compare(p, run.phase, grid=grid)
        assert cmp.consistent, cmp.explain()
        ex = heavy_ball_exact(prob, eta, beta, B, 1.0)
        se = math.sqrt(2 / 20_000)
        assert run.x.var() / ex["var_w"] == pytest.approx(1, abs=4 * se)
        assert run.v.var() / ex["var_p"] == pytest.approx(1, abs=4 * se)


def test_non_gaussian_minibatch_noise_is_why_the_chi_square_rejects_with_batch_size_one():
    eta, B = 0.01, 1
    beta = 1 - math.sqrt(eta)
    p, grid = heavy_ball_sde_density(LIN, eta, beta, B, 48)
    real = _run(LIN, eta, B, 20_000, 4).phase
    gauss = gaussian_heavy_ball(LIN, eta, beta, B, int(30 / math.sqrt(eta)), 20_000, np.random.default_rng(5))
    assert not fp.compare(p, real, grid=grid).consistent          # rejected ...
    assert fp.compare(p, gauss, grid=grid).consistent             # ... but not for Gaussian noise
    # the velocity's excess kurtosis: the SDE's own, plus the noise's (kurtosis 7.9) through
    # the momentum's short memory, sqrt(eta) kurt_xi / B int K^4 / (int K^2)^2
    k = response_integrals(LIN["h"], 1.0)
    predicted = math.sqrt(eta) * shape_stats(LIN["xi"])[1] / B * k["p4"] / k["p2"] ** 2
    excess = shape_stats(real[:, 1])[1] - grid_shape(p, grid, 1)[1]
    assert 0.5 < excess / predicted < 2.0
    assert abs(shape_stats(gauss[:, 1])[1] - grid_shape(p, grid, 1)[1]) < 0.3 * predicted


def test_momentum_inputs_are_checked():
    with pytest.raises(ValueError, match="momentum"):
        fp.sgd_from_data(heavy_ball_grad, LIN["data"], 0.01, kind="grad", ndim=1, momentum=1.0)
    with pytest.raises(ValueError, match="`momentum` with `lr_per_param`"):
        fp.run_sgd(heavy_ball_grad, LIN["data"], np.zeros(1), 0.01, 5, momentum=0.5, lr_per_param=0.1)
    with pytest.raises(ValueError, match="ndim"):
        fp.sgd_from_data(heavy_ball_grad, LIN["data"], 0.01, kind="grad", momentum=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sde = fp.sgd_from_data(heavy_ball_grad, LIN["data"], 0.01, kind="grad", ndim=1, momentum=0.9)
    assert sde.ndim == 2 and np.allclose(sde.cov(np.array([1.0, 0.0]))[0], 0.0)
