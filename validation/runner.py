"""Run the validation cases and write ``validation-report/report.md`` with PNG figures.

``python -m validation`` runs every case (the lecture's systems from
:mod:`validation.cases` and the SGD cases of :mod:`validation.sgd_cases`);
``--quick`` runs the reduced setting (fewer particles, coarser grids) for CI;
``--case NAME`` (repeatable) runs some; ``--list`` lists them. The exit code is 0 when
every case run passed its own acceptance criterion, 1 otherwise (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from ._common import pyplot

__all__ = ["all_cases", "run", "main", "QUICK_CASES"]

#: Cases run by ``--quick`` (the SGD cases with real minibatch SGD are the slow ones).
QUICK_CASES = (
    "brownian_heat_kernel", "langevin_1d", "langevin_2d",
    "convention_ito", "convention_stratonovich", "convention_isothermal",
    "two_temperature", "forcing_gibbs", "quadratic_noncommuting", "diffusion_flow_alpha",
    "sgd_two_temperature", "sgd_double_well", "exit_time",
    "kramers_double_well", "hypoelliptic_ou", "sgd_product_balance", "heavy_ball_sgd",
    "metastable_torus",
)


def all_cases() -> dict[str, Callable[[bool], dict[str, Any]]]:
    """Every case by name: the classic systems, the SGD cases, the exit problem,
    degenerate noise (inertia, hypoelliptic OU, rank-deficient and heavy-ball SGD), then
    the metastable non-reversible torus."""
    from .cases import CASES
    from .exit_cases import CASES as EXIT_CASES
    from .kinetic_cases import CASES as KINETIC_CASES
    from .metastable_cases import CASES as METASTABLE_CASES
    from .sgd_cases import CASES as SGD_CASES

    groups = (CASES, SGD_CASES, EXIT_CASES, KINETIC_CASES, METASTABLE_CASES)
    cases = {name: case for group in groups for name, case in group.items()}
    assert len(cases) == sum(len(g) for g in groups), "case names must differ"
    return cases


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**NO**"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if v == 0:
            return "0"
        if 1e-3 <= abs(v) < 1e4:
            return f"{v:.{digits}g}"
        return f"{v:.{max(digits - 1, 1)}e}"
    return str(v)


def _seconds(v: Any) -> str:
    return "–" if v is None else f"{float(v):.2f}"




def _first(r: dict[str, Any], suffixes: Sequence[str]) -> Any:
    """The first value whose key (before any ``@``) ends with one of ``suffixes``."""
    for k, v in r.items():
        base = k.split("@")[0]
        if any(base.endswith(s) for s in suffixes) and not isinstance(v, (list, dict)):
            return v
    return None


def _table_fields(r: dict[str, Any]) -> dict[str, Any]:
    """The table's columns; the SGD cases name theirs differently (first match wins)."""
    grid_err = r.get("grid_error")
    if grid_err is None:
        grid_err = _first(r, ("vs_closed_form", "l1_grid_vs_exact_ito", "grid_vs_exact", "grid_vs_sde_exact"))
    verdict = r.get("verdict")
    if verdict is None:
        c = _first(r, ("consistent",))
        verdict = None if c is None else ("consistent" if c else "INCONSISTENT")
    ratio = r.get("l1_ratio", _first(r, ("l1_ratio",)))
    return {
        "grid_error": grid_err,
        "n_particles": r.get("n_particles", _first(r, ("n_chains", "chains"))),
        "particle_l1": r.get("particle_l1"),
        "noise_floor": r.get("noise_floor"),
        "l1_ratio": ratio,
        "chi2_pvalue": r.get("chi2_pvalue", _first(r, ("chi2_pvalue",))),
        "verdict": verdict,
    }


_COLUMNS = (
    "| case | grid | grid vs exact | particles | particle L1 | noise floor | L1/floor | chi2 p | verdict "
    "| grid s | particles s | total s | passed |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _row(name: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {name} |" + " – |" * 10 + f" {r['total_seconds']:.2f} | **ERROR** |"
    f = _table_fields(r)
    cells = [
        name,
        r.get("grid", "–"),
        _fmt(f["grid_error"], 2),
        _fmt(f["n_particles"]),
        _fmt(f["particle_l1"]),
        _fmt(f["noise_floor"]),
        _fmt(f["l1_ratio"]),
        _fmt(f["chi2_pvalue"], 2),
        f["verdict"] or "–",
        _seconds(r.get("t_grid")),
        _seconds(r.get("t_particles")),
        f"{r['total_seconds']:.2f}",
        "yes" if r.get("passed") else "**NO**",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _details(name: str, r: dict[str, Any], png: str | None) -> str:
    lines = [f"### {name}", ""]
    if r.get("system"):
        lines += [f"*{r['system']}*", ""]
    if r.get("summary"):
        lines += [str(r["summary"]), ""]
    if "error" in r:
        lines += ["```", str(r["error"]).rstrip(), "```", ""]
    if r.get("grid_error_what"):
        lines += [f"grid vs exact = {r['grid_error_what']}.", ""]
    skip = {"figure", "summary", "system", "error", "grid_error_what"}
    metrics = [(k, v) for k, v in r.items() if k not in skip]
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v, 6) if isinstance(v, float) else v} |" for k, v in metrics]
        lines.append("")
    if png:
        lines += [f"![{name}]({png})", ""]
    return "\n".join(lines)


def run(
    names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    outdir: str | os.PathLike = "validation-report",
    verbose: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run the cases ``names`` (default: all, or :data:`QUICK_CASES` with ``quick``).

    Writes ``outdir/report.md`` and ``outdir/<case>.png``; returns the results by name
    (figures removed; an exception in a case is recorded under ``"error"``).
    """
    plt = pyplot()

    cases = all_cases()
    if names is None:
        names = [n for n in (QUICK_CASES if quick else cases) if n in cases]
    unknown = [n for n in names if n not in cases]
    if unknown:
        raise KeyError(f"unknown case(s) {unknown}; choose from {list(cases)}.")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    pngs: dict[str, str | None] = {}
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        try:
            r = dict(cases[name](quick))
        except Exception:
            r = {"error": traceback.format_exc(), "passed": False}
            r_err = True
        else:
            r_err = False
        r["total_seconds"] = time.perf_counter() - t0
        fig = r.pop("figure", None)
        png = None
        if fig is not None:
            png = f"{name}.png"
            fig.savefig(out / png, dpi=100)
            plt.close(fig)
        results[name] = r
        pngs[name] = png
        if verbose:
            status = "ERROR" if r_err else ("PASS" if r.get("passed") else "FAIL")
            print(f"{name:28s} {status:5s} {r['total_seconds']:7.1f} s  {r.get('summary', '')}", flush=True)
            if r_err:
                print(r["error"], file=sys.stderr)
    total = time.perf_counter() - t_all
    _write_report(out / "report.md", results, pngs, quick=quick, total=total)
    if verbose:
        n_pass = sum(bool(r.get("passed")) for r in results.values())
        print(f"{n_pass}/{len(results)} passed in {total:.1f} s; report: {out / 'report.md'}")
    return results


def _write_report(path: Path, results: dict[str, dict[str, Any]], pngs: dict[str, str | None], *,
                  quick: bool, total: float) -> None:
    import fokkerplanck

    n_pass = sum(bool(r.get("passed")) for r in results.values())
    head = [
        "# fokkerplanck validation report",
        "",
        f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC · fokkerplanck {fokkerplanck.__version__} · "
        f"Python {platform.python_version()} · {os.cpu_count()} CPUs · "
        f"{'quick' if quick else 'full'} setting · {n_pass}/{len(results)} cases passed · "
        f"{total:.1f} s",
        "",
        "Columns: *grid vs exact* is the L1 distance of the grid density to the exact density "
        "(or the case's own measure, see its section); *particle L1*, *noise floor* (the L1 "
        "expected from sampling alone), *chi2 p* and *verdict* come from `fp.compare` of the "
        "grid density with Euler–Maruyama particles (for the SGD cases: with real minibatch "
        "SGD at the smallest learning rate); times are wall seconds.",
        "",
        _COLUMNS,
        *[_row(n, r) for n, r in results.items()],
        "",
        "## Cases",
        "",
    ]
    body = [_details(n, r, pngs.get(n)) for n, r in results.items()]
    path.write_text("\n".join(head) + "\n" + "\n".join(body), encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m validation",
        description="Validate fokkerplanck on the lecture's systems: grid vs exact densities, "
                    "grid vs particles; writes validation-report/report.md and PNG figures.",
    )
    p.add_argument("--quick", action="store_true",
                   help="reduced setting for CI (fewer particles, coarser grids; < 2 minutes)")
    p.add_argument("--case", action="append", metavar="NAME",
                   help="run only this case (repeatable); see --list")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--outdir", default="validation-report", help="report directory (default: %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    cases = all_cases()
    if args.list:
        for name, fn in cases.items():
            doc = (fn.__doc__ or "").strip().splitlines()
            quick = " [quick]" if name in QUICK_CASES else ""
            print(f"{name:28s}{quick:8s} {doc[0] if doc else ''}")
        return 0
    if args.case:
        unknown = [c for c in args.case if c not in cases]
        if unknown:
            print(f"error: unknown case(s) {', '.join(unknown)}; run with --list to see the "
                  f"cases: {', '.join(cases)}", file=sys.stderr)
            return 2
    results = run(args.case, quick=args.quick, outdir=args.outdir)
    return 0 if all(r.get("passed") for r in results.values()) else 1
