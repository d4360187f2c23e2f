"""Layer 3: solvers on the generator -- stationary, spectral, evolve, exit problems, extrapolation.

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""

from . import (
    distributed,  # noqa: F401  (registers backend="petsc" with stationary.BACKENDS)
    distributed_evolve,  # noqa: F401  (registers backend="petsc" with evolve.BACKENDS)
)
