"""Layer 0: errors, input checks, small linear-algebra kernels, progress bars, random generators.

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""
