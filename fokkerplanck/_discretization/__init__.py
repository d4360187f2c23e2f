"""Layer 2: the discretization -- the conservative generator, its edge fluxes, schemes, lattice decompositions.

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""
