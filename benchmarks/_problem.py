"""The benchmark problem, shared by every runner (NumPy only, no fokkerplanck import).

2-D double well ``U = (x^2 - 1)^2 + y^2 / 2`` at ``T = 0.5`` on ``[-2.5, 2.5]^2`` with
reflecting walls; the SDE is ``dX = F dt + sqrt(2 T) dW`` with

* ``force`` / ``potential``:  ``F = -grad U``;
* ``rotational``:             ``F = -(I - a J) grad U``, ``J = [[0, 1], [-1, 0]]``, ``a = 1``.

All three have the stationary density ``exp(-U / T) / Z``. Unknowns sit at the cell
centres ``x_i = -2.5 + (i + 1/2) h``, ``h = 5 / N``. The reference is
``p_exact = exp(-U(x_i) / T) / Z`` with ``Z = h^2 sum_i exp(-U(x_i) / T)`` (the
cell-centre midpoint sum, so that every code is judged by the same discrete
normalisation), and ``L1 = h^2 sum_i |p_i - p_exact_i|``.
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np

LO, HI = -2.5, 2.5
LENGTH = HI - LO
T = 0.5
A_ROT = 1.0
VARIANTS = ("force", "potential", "rotational")


def U(x, y):
    return (x**2 - 1.0) ** 2 + 0.5 * y**2


def grad_U(x, y):
    return 4.0 * x * (x**2 - 1.0), y


def force(x, y, variant="force"):
    """``F = -(I - a J) grad U`` (``a = 0`` unless ``variant == 'rotational'``)."""
    gx, gy = grad_U(x, y)
    a = A_ROT if variant == "rotational" else 0.0
    # (I - aJ) g = (g_x - a g_y, g_y + a g_x)
    return -(gx - a * gy), -(gy + a * gx)


def spacing(n):
    return LENGTH / n


def centers(n):
    return LO + (np.arange(n) + 0.5) * spacing(n)


def exact(n):
    """``p_exact`` on the ``n x n`` cell centres (midpoint-sum normalisation)."""
    c = centers(n)
    X, Y = np.meshgrid(c, c, indexing="ij")
    u = U(X, Y)
    w = np.exp(-(u - u.min()) / T)
    return w / (w.sum() * spacing(n) ** 2)


def l1(p, n):
    return float(spacing(n) ** 2 * np.abs(np.asarray(p).reshape(n, n) - exact(n)).sum())


def restrict(fine, n):
    """Values of a fine ``M x M`` cell-centre field at the centres of the ``n x n`` grid.

    ``M = r n``: for odd ``r`` a coarse centre is a fine centre (injection); for even
    ``r`` it is the corner shared by four fine cells (their mean, O(h_fine^2)).
    """
    fine = np.asarray(fine)
    m = fine.shape[0]
    if m % n:
        raise ValueError(f"reference size {m} is not a multiple of {n}")
    r = m // n
    if r % 2:
        return fine[r // 2::r, r // 2::r]
    a, b = r // 2 - 1, r // 2
    return 0.25 * (fine[a::r, a::r] + fine[a::r, b::r] + fine[b::r, a::r] + fine[b::r, b::r])


def l1_ref(p, n, ref_path):
    """L1 against a fine-grid reference density saved as .npy (None if unavailable)."""
    import os
    if not ref_path or not os.path.exists(ref_path):
        return None
    q = restrict(np.load(ref_path), n)
    q = q / (q.sum() * spacing(n) ** 2)
    return float(spacing(n) ** 2 * np.abs(np.asarray(p).reshape(n, n) - q).sum())


def peak_mb():
    """Peak resident set size of this process in MB (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(record):
    """Print the one result line the harness reads."""
    record["peak_mb"] = peak_mb()
    sys.stdout.write("RESULT " + json.dumps(record) + "\n")
    sys.stdout.flush()
