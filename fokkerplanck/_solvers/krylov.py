"""GMRES preconditioned from the right, stopped on the true residual.

scipy's ``gmres`` preconditions from the left: a cycle's inner loop ends when the
*preconditioned* residual ``|P (b - A x)|`` has fallen by ``rtol``, and the solve ends
when the true residual has fallen by ``rtol`` too (else it restarts with a tighter inner
test). With a good preconditioner (``P ~ A^-1``) the preconditioned residual is about the
error, which is what a loose solve wants (``refined.Solve.loose``: a density-split pass
whose answer only sets the next pass's weights). The bound of ``refined.py`` is made of
the *true* residual alone (``max|b - A x|`` for the answer, ``max|1 - M y|`` for ``y =
M^-1 1``), and there the inner test costs iterations: for ``y`` of the scaled systems,
whose ``|P 1|`` is as large as ``y`` (up to 3e5 at 512^2), it ended the first cycle after
3 iterations with a true residual of 790; the restart took 13 in all where 9 reach
``max|r| < 0.5`` without restarting; the refinement went to 1e-18 where the bound needs
4e-15 (12 iterations where 7 do, from the same start).

:func:`gmres` runs Arnoldi on ``A P`` (``x = P u``): the least-squares residual of its
Hessenberg system *is* the true residual's 2-norm (in exact arithmetic), known at every
iteration without forming ``x``, so it stops at the first iteration where ``|b - A x|_2
<= atol`` (which bounds the max-norm too). Classical Gram–Schmidt with one
re-orthogonalization where a vector lost more than 30 % of its norm (Daniel, Gragg,
Kaufman and Stewart 1976), two matrix-vector products with the basis per iteration
(BLAS). Forming ``x`` costs one more application of ``P`` per cycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg as sla

__all__ = ["gmres"]


def gmres(A: Any, b: np.ndarray, prec: Callable[[np.ndarray], np.ndarray], *, atol: float, restart: int = 60,
          maxiter: int = 1, callback: Callable[[float], None] | None = None) -> tuple[np.ndarray, bool]:
    """``(x, converged)``: ``A x = b`` from ``x = 0`` by restarted GMRES preconditioned
    from the right by ``prec``, until the true residual's 2-norm is at most ``atol``.

    Parameters
    ----------
    A : sparse matrix or LinearOperator
        Anything with ``A @ v``.
    b : ndarray
        The right-hand side.
    prec : callable
        ``v -> P v``, an approximate inverse of ``A`` (one AMG V-cycle).
    atol : float
        Stop when ``|b - A x|_2 <= atol`` (the Arnoldi estimate inside a cycle, the true
        residual at its end).
    restart : int
        Iterations per cycle (the basis kept: ``restart + 1`` vectors).
    maxiter : int
        Cycles at most.
    callback : callable, optional
        Called after every iteration with the residual estimate relative to ``|b|_2``
        (it may raise to stop the solve, as ``refined.Monitor`` does).

    Returns
    -------
    x : ndarray
    converged : bool
        Whether the true residual reached ``atol`` (``False`` also where it is not finite).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fokkerplanck._solvers.krylov import gmres
    >>> n = 200
    >>> A = sp.diags([-1.2, 2.0, -0.8], [-1, 0, 1], shape=(n, n), format="csr")  # advection-diffusion
    >>> b = np.ones(n)
    >>> x, ok = gmres(A, b, lambda v: v / 2.0, atol=1e-10, restart=300)
    >>> ok, bool(np.linalg.norm(b - A @ x) <= 1e-10)
    (True, True)
    """
    n = b.shape[0]
    x = np.zeros(n)
    r = np.array(b, dtype=float)
    beta = float(np.linalg.norm(r))
    scale = beta
    if not beta > atol:
        return x, bool(np.isfinite(beta))
    m = max(1, min(restart, n))
    V = np.empty((m + 1, n))   # (pages are touched only as the basis grows)
    R = np.zeros((m, m))       # the Hessenberg matrix, rotated to upper triangular
    cs, sn = np.zeros(m), np.zeros(m)
    for _ in range(maxiter):
        np.multiply(r, 1.0 / beta, out=V[0])
        g = np.zeros(m + 1)
        g[0] = beta
        k = 0
        for j in range(m):
            w = A @ prec(V[j])
            before = float(np.linalg.norm(w))
            h = V[: j + 1] @ w
            w -= V[: j + 1].T @ h
            after = float(np.linalg.norm(w))
            if after < 0.7 * before:   # cancellation: once more against the basis
                h2 = V[: j + 1] @ w
                w -= V[: j + 1].T @ h2
                h += h2
                after = float(np.linalg.norm(w))
            for i in range(j):   # the previous rotations on the new column
                h[i], h[i + 1] = cs[i] * h[i] + sn[i] * h[i + 1], -sn[i] * h[i] + cs[i] * h[i + 1]
            rho = math.hypot(h[j], after)
            if not (rho > 0.0 and math.isfinite(rho)):   # a singular or non-finite step: end the cycle here
                break
            cs[j], sn[j] = h[j] / rho, after / rho
            h[j] = rho
            R[: j + 1, j] = h
            g[j], g[j + 1] = cs[j] * g[j], -sn[j] * g[j]
            k = j + 1
            estimate = abs(g[j + 1])
            if callback is not None:
                callback(estimate / scale)
            if estimate <= atol or after == 0.0:
                break
            np.multiply(w, 1.0 / after, out=V[j + 1])
        if k:
            u = sla.solve_triangular(R[:k, :k], g[:k], check_finite=False)
            x += prec(V[:k].T @ u)
        r = b - A @ x
        beta = float(np.linalg.norm(r))
        if not math.isfinite(beta):
            return x, False
        if beta <= atol or not k:
            return x, beta <= atol
    return x, False
