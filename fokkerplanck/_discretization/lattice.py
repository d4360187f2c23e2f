"""Decomposition of SPD matrices into non-negative sums over integer stencil offsets.

For a symmetric positive definite ``D`` (``d = 1, 2, 3``) Selling's reduction finds
integer offsets ``e_k`` and weights ``w_k >= 0`` with ``D = sum_k w_k e_k e_k^T``.
Applying a 1-D monotone flux along each ``e_k`` then yields an M-matrix for *every*
SPD ``D``, however anisotropic (Fehrenbach & Mirebeau, "Sparse non-negative stencils
for anisotropic diffusion", J. Math. Imaging Vis. 49, 2014).

The reduction keeps a superbase ``v_0..v_d`` (integer vectors summing to zero,
spanning the lattice) and flips it until it is *obtuse*: ``v_i^T D v_j <= 0`` for
all ``i != j``. Then ``D = -sum_{i<j} (v_i^T D v_j) e_ij e_ij^T`` with ``e_ij``
orthogonal to the other superbase vectors (``e_ij = perp(v_k)`` in 2-D,
``v_k x v_l`` in 3-D).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["selling"]


def _reduce(D: np.ndarray, v: np.ndarray, max_iter: int = 200) -> np.ndarray:
    """Flip superbases ``v`` ``(P, d+1, d)`` until obtuse w.r.t. ``D`` ``(P, d, d)``."""
    d = D.shape[-1]
    pairs = list(itertools.combinations(range(d + 1), 2))
    scale = np.einsum("pii->p", D)
    for _ in range(max_iter):
        Dv = np.einsum("pij,pkj->pki", D, v)  # (P, d+1, d): D v_k
        s = np.stack([np.einsum("pi,pi->p", v[:, i], Dv[:, j]) for i, j in pairs], axis=1)
        k = np.argmax(s, axis=1)
        todo = s[np.arange(len(s)), k] > 1e-14 * scale
        if not todo.any():
            return v
        for m, (i, j) in enumerate(pairs):
            sel = todo & (k == m)
            if not sel.any():
                continue
            vi = v[sel, i].copy()
            rest = [r for r in range(d + 1) if r not in (i, j)]
            if d == 2:
                v[sel, rest[0]] = vi - v[sel, j]
            else:  # d == 3: both other vectors absorb v_i
                for r in rest:
                    v[sel, r] = v[sel, r] + vi
            v[sel, i] = -vi
    raise RuntimeError("Selling reduction did not converge; is the matrix SPD?")


def selling(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and weights with ``D = sum_k w_k e_k e_k^T``.

    Parameters
    ----------
    D : array, shape ``(..., d, d)``
        Symmetric positive definite, ``d`` in 1, 2, 3.

    Returns
    -------
    offsets : int array, shape ``(..., K, d)``
        ``K = 1, 3, 6`` for ``d = 1, 2, 3``; each offset is normalised so that its
        first nonzero entry is positive.
    weights : array, shape ``(..., K)``, all ``>= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck._discretization.lattice import selling
    >>> e, w = selling(np.array([[2.0, 0.9], [0.9, 1.0]]))
    >>> bool(np.allclose(np.einsum("k,ki,kj->ij", w, e, e), [[2.0, 0.9], [0.9, 1.0]]))
    True
    """
    D = np.asarray(D, dtype=float)
    d = D.shape[-1]
    lead = D.shape[:-2]
    if d == 1:
        return np.ones(lead + (1, 1), dtype=np.int64), D[..., 0]
    if d not in (2, 3):
        raise ValueError(f"Selling's decomposition is implemented for d <= 3, got d = {d}.")
    Df = D.reshape(-1, d, d)
    P = Df.shape[0]
    base = np.vstack([np.eye(d, dtype=np.int64), -np.ones((1, d), dtype=np.int64)])
    v = _reduce(Df, np.repeat(base[None], P, axis=0))
    pairs = list(itertools.combinations(range(d + 1), 2))
    offsets, weights = [], []
    for i, j in pairs:
        rest = [r for r in range(d + 1) if r not in (i, j)]
        if d == 2:
            a = v[:, rest[0]]
            e = np.stack([-a[:, 1], a[:, 0]], axis=1)
        else:
            e = np.cross(v[:, rest[0]], v[:, rest[1]])
        w = -np.einsum("pi,pij,pj->p", v[:, i], Df, v[:, j])
        offsets.append(e)
        weights.append(np.maximum(w, 0.0))
    e = np.stack(offsets, axis=1)
    # canonical sign: first nonzero entry positive
    first = np.take_along_axis(e, np.argmax(e != 0, axis=-1)[..., None], axis=-1)
    e = e * np.sign(first)
    return e.reshape(lead + e.shape[1:]), np.stack(weights, axis=1).reshape(lead + (len(pairs),))
