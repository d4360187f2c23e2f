"""The subtraction-free (GTH) stationary solve vs pinned SuperLU (issue 10 benchmark row).

The metastable, non-reversible torus ``U = -cos 2x - 0.3 cos x - cos y`` with drift
``-(I - J) grad U`` at T = 0.05 (barrier / T = 34), periodic and reflecting, 256^2 and
512^2 cells. For each configuration a fresh child process (one BLAS thread: on a
shared machine threaded BLAS costs more than it gains) times, as the median of 3,

* LU: ``_util.linalg.factorize`` (SuperLU, ``MMD_AT_PLUS_A``) of the generator pinned
  at its densest cell, plus the solve;
* GTH: ``_solvers.gth.factor`` (nested dissection, batched dense GTH) plus
  ``null_vector()``;

and reports the stored factor entries (LU: ``L.nnz + U.nnz``; GTH: ``Elimination.fill``,
padding included), the componentwise certificate of each answer and the mass of the
shallow well (exact on the periodic torus: 6.635e-6; LU's split is not determined).

    python benchmarks/bench_stationary.py            # 256^2 and 512^2 (~3 min quiet)
    python benchmarks/bench_stationary.py --quick    # 128^2 and 256^2
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from _harness import child_env, core_version, fmt_t, load_line, median_time

SADDLE = np.arccos(-0.075)


def one(n: int, boundary: str) -> dict:
    import scipy.sparse as sp

    import fokkerplanck as fp
    from fokkerplanck._solvers.gth import factor
    from fokkerplanck._util.linalg import factorize

    T = 0.05

    def drift(x):
        gx = 2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0])
        gy = np.sin(x[..., 1])
        return -np.stack([gx + gy, gy - gx], -1)

    grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=n, boundary=boundary)
    A = sp.csr_matrix(fp.generator(fp.SDE(drift=drift, sigma=np.sqrt(2 * T), ndim=2), grid))

    def gth():
        E = factor(A, shape=grid.shape)
        return E, E.null_vector()

    t_gth, runs_gth, (E, p_gth) = median_time(gth)
    k = int(np.argmax(p_gth))
    keep = np.ones(A.shape[0], bool)
    keep[k] = False

    def lu():
        Ak = A[keep]
        rhs = -Ak[:, [k]].toarray().ravel()
        f = factorize(Ak[:, keep])
        p = np.empty(A.shape[0])
        p[k] = 1.0
        p[keep] = f.solve(rhs)
        return f, p

    t_lu, runs_lu, (f, p_lu) = median_time(lu)
    shallow = (grid.centers[0] > SADDLE)

    def mass(p):
        p = p.reshape(grid.shape)
        return float(p[shallow].sum() / p.sum())

    return dict(n=n, boundary=boundary, t_lu=t_lu, t_gth=t_gth, runs=min(runs_lu, runs_gth),
                fill_lu=int(f.L.nnz + f.U.nnz), fill_gth=int(E.fill),
                cert_lu=fp.stationary_certificate(A, np.abs(p_lu) / np.abs(p_lu).max()),
                cert_gth=fp.stationary_certificate(A, p_gth),
                mass_lu=mass(p_lu), mass_gth=mass(p_gth))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print("RESULT " + json.dumps(one(int(sys.argv[2]), sys.argv[3])), flush=True)
        return
    sizes = (128, 256) if "--quick" in sys.argv else (256, 512)
    rows = []
    for n in sizes:
        for boundary in ("periodic", "reflecting"):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", str(n), boundary],
                                 capture_output=True, text=True, env=child_env(1), check=True)
            rows.append(json.loads(out.stdout.split("RESULT ", 1)[1]))
            print(f"... {n}^2 {boundary} done", file=sys.stderr, flush=True)
    print(f"Stationary solve, metastable torus T = 0.05 — core {core_version()}; {load_line()}\n")
    print("| grid | LU s | GTH s | GTH / LU | LU fill | GTH fill | LU certificate | GTH certificate "
          "| shallow mass LU | shallow mass GTH |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']}^2 {r['boundary']} | {fmt_t(r['t_lu'])} | {fmt_t(r['t_gth'])} | "
              f"{r['t_gth'] / r['t_lu']:.2f} | {r['fill_lu'] / 1e6:.1f}M | {r['fill_gth'] / 1e6:.1f}M | "
              f"{r['cert_lu']:.1e} | {r['cert_gth']:.1e} | {r['mass_lu']:.3e} | {r['mass_gth']:.3e} |")


if __name__ == "__main__":
    main()
