"""What the benchmark drivers and their child runners share: the commit stamp, the
children's environment, time formatting, and importing the solvers before the clock."""

from __future__ import annotations

import importlib
import os
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def core_version() -> str:
    """Commit of the checkout being measured (the core changes quickly)."""
    try:
        out = subprocess.run(["git", "-C", HERE, "log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--", "../fokkerplanck"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (out.stdout.strip() or "unknown") + (" + uncommitted changes in fokkerplanck/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def child_env(blas_threads: int | None) -> dict:
    """The children's environment: ours unchanged, unless ``blas_threads`` pins the BLAS pools."""
    env = dict(os.environ)
    if blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(blas_threads)
    return env


def fmt_t(x: float | None) -> str:
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def warm_imports():
    """Import fokkerplanck and the lazy solvers before the clock starts; return the package.

    Attribute access, not ``import fokkerplanck.stationary`` (older layouts rebound
    ``fp.stationary`` to the module that way).
    """
    import fokkerplanck as fp

    fp.generator, fp.stationary  # noqa: B018
    try:
        importlib.import_module("pyamg")
    except ImportError:
        pass
    return fp


def load_line() -> str:
    la = os.getloadavg()
    try:
        up = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:  # pragma: no cover
        up = ""
    return f"load average {la[0]:.2f}, {la[1]:.2f}, {la[2]:.2f} ({os.cpu_count()} cores) — `{up}`"


def median_time(fn, repeats: int = 3, cheap: float = 2.0):
    """Median wall time of ``fn()`` over ``repeats`` runs (one run if the first is slow)."""
    times, out = [], None
    for k in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if k == 0 and times[0] > cheap:
            break
    return statistics.median(times), len(times), out
