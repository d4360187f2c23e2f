"""One configuration of ``bench_versions.py`` in a fresh process (the tree under test on
``PYTHONPATH``): prints one ``RESULT {json}`` line.

Usage: ``python benchmarks/_versions_runner.py PROBLEM N EST`` with ``PROBLEM`` one of
``_methods_runner.py``'s problems or ``meta3d`` (a 3-D double well rotating in (y, z),
``D = 0.05``, ``N^3`` cells on ``[-1.8, 1.8] x [-1, 1]^2``), ``EST`` 1 for the error estimate.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _methods_runner import problem


def main(name: str, n: int, est: bool) -> None:
    import fokkerplanck as fp

    warnings.simplefilter("ignore")
    if name == "meta3d":
        grid = fp.Grid(bounds=[(-1.8, 1.8), (-1, 1), (-1, 1)], shape=(n, n, n))

        def drift(x):
            return np.stack([-4 * x[..., 0] * (x[..., 0] ** 2 - 1), -2 * x[..., 1] - x[..., 2],
                             -2 * x[..., 2] + x[..., 1]], -1)

        sde, logq = fp.SDE(drift=drift, sigma=np.sqrt(0.1)), None
    else:
        sde, grid, logq = problem(fp, name, n)
    t = time.perf_counter()
    r = fp.stationary(sde, grid, error_estimate=est)
    seconds = time.perf_counter() - t
    l1 = None
    if logq is not None:
        q = np.exp(logq - logq.max())
        q /= q.sum() * grid.cell_volume
        l1 = float(grid.integrate(np.abs(r.density - q)))
    record = {"name": name, "n": n, "est": est, "seconds": round(seconds, 2), "method": r.method,
              "success": bool(r.success), "L1": l1, "estimate": float(r.error_estimate) if est else None,
              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "message": r.message[:140]}
    print("RESULT", json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1")
