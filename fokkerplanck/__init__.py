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
edges. Every name is imported on first use (``import fokkerplanck`` loads neither
NumPy nor SciPy: about 0.02 s instead of about 1 s), so scripts that only need part
of the package pay only for that part.

>>> import fokkerplanck as fp
>>> grid = fp.Grid(bounds=[(-3, 3)], shape=200)
>>> res = fp.stationary(fp.langevin(lambda x: x[..., 0]**4 / 4 - x[..., 0]**2 / 2, sigma=0.5), grid)
>>> round(grid.integrate(res.density), 12)
1.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._util.errors import ConvergenceError, FokkerPlanckWarning, ResolutionWarning
from ._util.version import __version__ as __version__

if TYPE_CHECKING:  # the names below are imported on first use (see __getattr__)
    from ._applications.data import data_gradient_stats, sgd_from_data
    from ._applications.minibatch import SGDRun, run_sgd
    from ._applications.quadratic import (
        HessianCoordinates,
        discrete_sgd_cov,
        hessian_coordinates,
        sgd_cov,
        two_temperature,
    )
    from ._applications.sgd import sgd
    from ._discretization.fluxes import Fluxes
    from ._discretization.generator import SCHEMES, fluxes, generator
    from ._model.grid import Grid
    from ._model.initial import gaussian, point_mass, uniform
    from ._model.models import (
        brownian,
        gaussian_density,
        gibbs,
        heat_kernel,
        langevin,
        lyapunov,
        ornstein_uhlenbeck,
        underdamped_langevin,
    )
    from ._model.sde import SDE
    from ._sampling.compare import Comparison, compare
    from ._sampling.particles import Particles, simulate
    from ._solvers.estimate import ErrorEstimate, estimate_error
    from ._solvers.evolve import Evolution, evolve
    from ._solvers.exits import (
        EscapeRate,
        ExitTime,
        QuasiStationary,
        escape_rate,
        exit_time,
        quasi_stationary,
        survival,
    )
    from ._solvers.extrapolate import Extrapolation, richardson
    from ._solvers.irreversibility import (
        Equilibrium,
        entropy_production,
        equilibrium_test,
    )
    from ._solvers.spectral import Modes, modes, spectral_gap
    from ._solvers.stationary import StationaryResult, stationary
    from ._solvers.stationary import certificate as stationary_certificate
    from ._solvers.stationary import certificate_bound as stationary_certificate_bound
    from ._solvers.stationary import residual as stationary_residual
    from ._sweep import SweepError, SweepResult, sweep
    from ._sweep import expand as expand_params
    from .io import load, save

__all__ = [
    "SCHEMES",
    "SDE",
    "Comparison",
    "ConvergenceError",
    "Equilibrium",
    "ErrorEstimate",
    "EscapeRate",
    "Evolution",
    "ExitTime",
    "Extrapolation",
    "Fluxes",
    "FokkerPlanckWarning",
    "Grid",
    "HessianCoordinates",
    "Modes",
    "Particles",
    "QuasiStationary",
    "ResolutionWarning",
    "SGDRun",
    "StationaryResult",
    "SweepError",
    "SweepResult",
    "brownian",
    "compare",
    "data_gradient_stats",
    "discrete_sgd_cov",
    "entropy_production",
    "equilibrium_test",
    "escape_rate",
    "estimate_error",
    "evolve",
    "exit_time",
    "expand_params",
    "fluxes",
    "gaussian",
    "gaussian_density",
    "generator",
    "gibbs",
    "heat_kernel",
    "hessian_coordinates",
    "langevin",
    "load",
    "lyapunov",
    "modes",
    "ornstein_uhlenbeck",
    "point_mass",
    "quasi_stationary",
    "richardson",
    "run_sgd",
    "save",
    "sgd",
    "sgd_cov",
    "sgd_from_data",
    "simulate",
    "spectral_gap",
    "stationary",
    "stationary_certificate",
    "stationary_certificate_bound",
    "stationary_residual",
    "survival",
    "sweep",
    "two_temperature",
    "underdamped_langevin",
    "uniform",
]

#: Public submodules (the edges), imported on first use.
_SUBMODULES = ("plotting", "testing", "cli", "io")

#: Public name -> (private module, name there), imported on first access.
_LAZY: dict[str, tuple[str, str]] = {
    "Grid": ("._model.grid", "Grid"),
    "SDE": ("._model.sde", "SDE"),
    "brownian": ("._model.models", "brownian"),
    "gaussian_density": ("._model.models", "gaussian_density"),
    "gibbs": ("._model.models", "gibbs"),
    "heat_kernel": ("._model.models", "heat_kernel"),
    "langevin": ("._model.models", "langevin"),
    "lyapunov": ("._model.models", "lyapunov"),
    "ornstein_uhlenbeck": ("._model.models", "ornstein_uhlenbeck"),
    "underdamped_langevin": ("._model.models", "underdamped_langevin"),
    "gaussian": ("._model.initial", "gaussian"),
    "point_mass": ("._model.initial", "point_mass"),
    "uniform": ("._model.initial", "uniform"),
    "SCHEMES": ("._discretization.generator", "SCHEMES"),
    "fluxes": ("._discretization.generator", "fluxes"),
    "generator": ("._discretization.generator", "generator"),
    "Fluxes": ("._discretization.fluxes", "Fluxes"),
    "StationaryResult": ("._solvers.stationary", "StationaryResult"),
    "stationary": ("._solvers.stationary", "stationary"),
    "stationary_residual": ("._solvers.stationary", "residual"),
    "stationary_certificate": ("._solvers.stationary", "certificate"),
    "stationary_certificate_bound": ("._solvers.stationary", "certificate_bound"),
    "Modes": ("._solvers.spectral", "Modes"),
    "modes": ("._solvers.spectral", "modes"),
    "spectral_gap": ("._solvers.spectral", "spectral_gap"),
    "Evolution": ("._solvers.evolve", "Evolution"),
    "evolve": ("._solvers.evolve", "evolve"),
    "EscapeRate": ("._solvers.exits", "EscapeRate"),
    "ExitTime": ("._solvers.exits", "ExitTime"),
    "QuasiStationary": ("._solvers.exits", "QuasiStationary"),
    "escape_rate": ("._solvers.exits", "escape_rate"),
    "exit_time": ("._solvers.exits", "exit_time"),
    "quasi_stationary": ("._solvers.exits", "quasi_stationary"),
    "survival": ("._solvers.exits", "survival"),
    "Equilibrium": ("._solvers.irreversibility", "Equilibrium"),
    "entropy_production": ("._solvers.irreversibility", "entropy_production"),
    "equilibrium_test": ("._solvers.irreversibility", "equilibrium_test"),
    "Extrapolation": ("._solvers.extrapolate", "Extrapolation"),
    "richardson": ("._solvers.extrapolate", "richardson"),
    "ErrorEstimate": ("._solvers.estimate", "ErrorEstimate"),
    "estimate_error": ("._solvers.estimate", "estimate_error"),
    "Particles": ("._sampling.particles", "Particles"),
    "simulate": ("._sampling.particles", "simulate"),
    "Comparison": ("._sampling.compare", "Comparison"),
    "compare": ("._sampling.compare", "compare"),
    "sgd": ("._applications.sgd", "sgd"),
    "data_gradient_stats": ("._applications.data", "data_gradient_stats"),
    "sgd_from_data": ("._applications.data", "sgd_from_data"),
    "SGDRun": ("._applications.minibatch", "SGDRun"),
    "run_sgd": ("._applications.minibatch", "run_sgd"),
    "HessianCoordinates": ("._applications.quadratic", "HessianCoordinates"),
    "discrete_sgd_cov": ("._applications.quadratic", "discrete_sgd_cov"),
    "hessian_coordinates": ("._applications.quadratic", "hessian_coordinates"),
    "sgd_cov": ("._applications.quadratic", "sgd_cov"),
    "two_temperature": ("._applications.quadratic", "two_temperature"),
    "SweepError": ("._sweep", "SweepError"),
    "SweepResult": ("._sweep", "SweepResult"),
    "sweep": ("._sweep", "sweep"),
    "expand_params": ("._sweep", "expand"),
    "load": (".io", "load"),
    "save": (".io", "save"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module, __name__), attr)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fokkerplanck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
