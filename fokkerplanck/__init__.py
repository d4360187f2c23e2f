"""Densities of stochastic differential equations on a grid.

``fokkerplanck`` discretizes the Fokker–Planck equation of an SDE
``dx = mu(x, t) dt + sigma(x, t) dB`` with a conservative, monotone finite-volume
generator (one sparse SciPy matrix), finds stationary densities as its null vector,
evolves densities in time, and validates them against Euler–Maruyama particles.

Every public name lives in this one namespace; the implementation sits in private
subpackages, one per layer (see ``docs/architecture.md``): ``_util`` (errors, checks),
``_model`` (grid, SDE, closed forms), ``_discretization`` (generator, fluxes, schemes),
``_solvers`` (stationary, spectral, evolve, exits), ``_sampling`` (particles, compare),
``_applications`` (SGD). The public submodules :mod:`fokkerplanck.plotting`,
:mod:`fokkerplanck.testing`, :mod:`fokkerplanck.io` and :mod:`fokkerplanck.cli` are the
edges; plotting, testing and cli are imported on first use.

>>> import fokkerplanck as fp
>>> grid = fp.Grid(bounds=[(-3, 3)], shape=200)
>>> res = fp.stationary(fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=0.5), grid)
>>> round(grid.integrate(res.density), 12)
1.0
"""

from __future__ import annotations

import importlib
from typing import Any

from ._util.version import __version__ as __version__
from ._util.errors import ConvergenceError, FokkerPlanckWarning, ResolutionWarning
from ._model.grid import Grid
from ._model.sde import SDE
from ._model.models import (brownian, gaussian_density, gibbs, heat_kernel, langevin, lyapunov,
                            ornstein_uhlenbeck, underdamped_langevin)
from ._model.initial import gaussian, point_mass, uniform
from ._discretization.generator import SCHEMES, fluxes, generator
from ._discretization.fluxes import Fluxes
from ._solvers.stationary import StationaryResult, stationary
from ._solvers.stationary import residual as stationary_residual
from ._solvers.stationary import certificate as stationary_certificate
from ._solvers.stationary import certificate_bound as stationary_certificate_bound
from ._solvers.spectral import Modes, modes, spectral_gap
from ._solvers.evolve import Evolution, evolve
from ._solvers.exits import (Equilibrium, QuasiStationary, entropy_production, equilibrium_test,
                             escape_rate, exit_time, quasi_stationary, survival)
from ._solvers.extrapolate import Extrapolation, richardson
from ._solvers.estimate import ErrorEstimate, estimate_error
from ._sampling.particles import Particles, simulate
from ._sampling.compare import Comparison, compare
from ._applications.sgd import (HessianCoordinates, SGDRun, data_gradient_stats, discrete_sgd_cov, hessian_coordinates,
                                run_sgd, sgd, sgd_cov, sgd_from_data, two_temperature)
from ._sweep import SweepError, SweepResult, sweep
from ._sweep import expand as expand_params
from .io import load, save

__all__ = [
    # errors
    "ConvergenceError", "FokkerPlanckWarning", "ResolutionWarning",
    # model
    "Grid", "SDE", "brownian", "langevin", "underdamped_langevin", "ornstein_uhlenbeck",
    "gibbs", "gaussian_density", "heat_kernel", "lyapunov",
    "gaussian", "point_mass", "uniform",
    # discretization
    "generator", "fluxes", "Fluxes", "SCHEMES",
    # solvers
    "stationary", "StationaryResult", "stationary_residual", "stationary_certificate",
    "stationary_certificate_bound",
    "spectral_gap", "modes", "Modes",
    "evolve", "Evolution",
    "exit_time", "quasi_stationary", "QuasiStationary", "survival", "escape_rate",
    "entropy_production", "equilibrium_test", "Equilibrium",
    "richardson", "Extrapolation", "estimate_error", "ErrorEstimate",
    # sampling
    "simulate", "Particles", "compare", "Comparison",
    # applications
    "sgd", "sgd_from_data", "run_sgd", "SGDRun", "sgd_cov", "discrete_sgd_cov",
    "data_gradient_stats", "two_temperature", "hessian_coordinates", "HessianCoordinates",
    # edges
    "sweep", "SweepResult", "SweepError", "expand_params", "save", "load",
]

#: Public submodules (the edges), imported on first use.
_SUBMODULES = ("plotting", "testing", "cli", "io")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fokkerplanck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
