"""Layer 4: sampling -- Euler-Maruyama particles and grid-vs-particle comparison.

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""
