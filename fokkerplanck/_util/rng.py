"""Independent random generators derived from one seed."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["rng_children"]


def rng_children(rng: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent generators (one per chunk, or per sweep point), derived
    deterministically from ``rng``."""
    rng = np.random.default_rng(rng)
    entropy = rng.integers(0, 2**63, size=4, dtype=np.int64).tolist()
    bitgen = type(rng.bit_generator)
    return [np.random.Generator(bitgen(ss)) for ss in np.random.SeedSequence(entropy).spawn(n)]
