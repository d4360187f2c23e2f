"""Helpers shared by the validation case modules and the runner."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["comparison_fields", "fields_by", "pyplot", "standalone"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, on the ``agg`` backend unless pyplot was already imported
    (then the caller's backend stands): the cases only write PNG files."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("agg")
    import matplotlib.pyplot as plt

    return plt


def comparison_fields(cmp: Any) -> dict[str, Any]:
    """The report's particle columns from a :class:`fokkerplanck.Comparison`."""
    return {
        "n_particles": int(cmp.n),
        "particle_l1": float(cmp.l1),
        "noise_floor": float(cmp.noise_floor),
        "l1_ratio": float(cmp.l1_ratio),
        "chi2_pvalue": float(cmp.chi2_pvalue),
        "verdict": "consistent" if cmp.consistent else "INCONSISTENT",
        "consistent": bool(cmp.consistent),
    }


def fields_by(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any]:
    """One flat dict from rows of metrics: ``"<metric>@<row[key]>"`` for every other field."""
    return {f"{name}@{r[key]}": v for r in rows for name, v in r.items() if name != key}


def standalone(cases: Mapping[str, Callable[[bool], dict[str, Any]]],
               argv: list[str] | None = None) -> int:
    """Run ``cases`` (``--quick`` in ``argv``), print a line each, save ``<name>.png``.

    Returns 1 if any case failed, else 0 (a ``main`` for ``python -m validation.xxx``).
    """
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    failed = 0
    for name, case in cases.items():
        result = case(quick)
        result.pop("figure").savefig(f"{name}.png", dpi=90)
        failed += not result["passed"]
        print(f"{name}: {'PASS' if result['passed'] else 'FAIL'} ({result['seconds']:.1f} s) "
              f"{result['summary']}")
    return int(failed > 0)
