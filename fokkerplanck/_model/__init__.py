"""Layer 1: the model -- Grid, SDE, closed-form models and reference densities, initial densities.

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""
