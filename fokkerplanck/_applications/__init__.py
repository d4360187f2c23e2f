"""Layer 5: applications -- stochastic gradient descent as an SDE.

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""
