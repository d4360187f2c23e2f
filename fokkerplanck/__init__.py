"""Densities of stochastic differential equations on a grid.

``fokkerplanck`` discretizes the Fokker–Planck equation of an SDE
``dx = mu(x, t) dt + sigma(x, t) dB`` with a conservative, monotone finite-volume
generator (one sparse SciPy matrix), finds stationary densities as its null vector,
evolves densities in time, and validates them against Euler–Maruyama particles.

>>> import fokkerplanck as fp
>>> grid = fp.Grid(bounds=[(-3, 3)], shape=200)
>>> res = fp.stationary(fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=0.5), grid)
>>> round(grid.integrate(res.density), 12)
1.0
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConvergenceError, FokkerPlanckWarning
from .grid import Grid
from .sde import SDE

# Functions that share their module's name (stationary, evolve, compare, sweep) are
# bound here eagerly: importing a submodule sets the package attribute of that name to
# the module, and only an import in __init__ makes the function win for good.
from .models import brownian, gaussian_density, gibbs, heat_kernel, langevin, lyapunov, ornstein_uhlenbeck
from .operator import SCHEMES, Fluxes, fluxes, generator
from .stationary import StationaryResult, stationary
from .stationary import residual as stationary_residual
from .spectral import modes, spectral_gap
from .evolve import Evolution, evolve
from .initial import gaussian, point_mass, uniform
from .particles import Particles, simulate
from .compare import Comparison, compare
from .extrapolate import Extrapolation, richardson
from .sweep import SweepError, SweepResult, sweep
from .sgd import (SGDRun, data_gradient_stats, discrete_sgd_cov, hessian_coordinates, run_sgd, sgd,
                  sgd_cov, sgd_from_data, two_temperature)

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use, so that optional
# pieces such as plotting cost nothing until they are asked for)
_LAZY = {
    "brownian": "models", "langevin": "models", "ornstein_uhlenbeck": "models",
    "gibbs": "models", "gaussian_density": "models", "heat_kernel": "models",
    "lyapunov": "models",
    "sgd": "sgd", "sgd_from_data": "sgd", "run_sgd": "sgd",
    "discrete_sgd_cov": "sgd", "two_temperature": "sgd", "hessian_coordinates": "sgd",
    "sgd_cov": "sgd", "SGDRun": "sgd", "data_gradient_stats": "sgd",
    "generator": "operator", "Fluxes": "operator", "fluxes": "operator", "SCHEMES": "operator",
    "stationary": "stationary", "StationaryResult": "stationary",
    "spectral_gap": "spectral", "modes": "spectral",
    "evolve": "evolve", "Evolution": "evolve",
    "gaussian": "initial", "point_mass": "initial", "uniform": "initial",
    "simulate": "particles", "Particles": "particles",
    "compare": "compare", "Comparison": "compare",
    "exit_time": "exits", "quasi_stationary": "exits", "entropy_production": "exits",
    "survival": "exits", "escape_rate": "exits", "equilibrium_test": "exits",
    "QuasiStationary": "exits", "Equilibrium": "exits",
    "save": "io", "load": "io",
    "sweep": "sweep", "SweepResult": "sweep", "SweepError": "sweep",
    "richardson": "extrapolate", "Extrapolation": "extrapolate",
}
_SUBMODULES = {"plotting", "testing", "models", "operator", "cli", "sgd", "io"}

__all__ = ["ConvergenceError", "FokkerPlanckWarning", "Grid", "SDE", "stationary_residual", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fokkerplanck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
