"""The validation suite: cases return the report fields, the runner writes report.md
and the figures, the command line lists, selects and refuses unknown cases."""

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from validation import runner  # noqa: E402
from validation.cases import CASES  # noqa: E402

FIELDS = ("system", "grid", "grid_error", "n_particles", "chi2_pvalue", "verdict", "t_grid",
          "t_particles", "passed", "summary", "figure")


def test_every_model_system_has_a_case():
    names = set(CASES)
    for needed in ("brownian_heat_kernel", "langevin_1d", "langevin_2d", "convention_ito",
                   "convention_stratonovich", "convention_isothermal", "two_temperature",
                   "forcing_gibbs", "quadratic_noncommuting", "diffusion_flow_alpha"):
        assert needed in names
    assert set(runner.QUICK_CASES) <= set(runner.all_cases())
    # every case module's registry reaches the runner (the report shows them all)
    from validation import exit_cases, kinetic_cases, metastable_cases, sgd_cases

    assert (set(sgd_cases.CASES) | set(exit_cases.CASES) | set(kinetic_cases.CASES)
            | set(metastable_cases.CASES) | names == set(runner.all_cases()))


def test_quick_run_writes_report(tmp_path):
    names = ["diffusion_flow_alpha", "brownian_heat_kernel", "convention_ito"]
    results = runner.run(names, quick=True, outdir=tmp_path, verbose=False)
    assert list(results) == names
    for name, r in results.items():
        assert r["passed"], (name, r.get("summary"), r.get("error"))
        for key in FIELDS[:-1]:
            assert key in r, (name, key)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "| case | grid | grid vs exact |" in report
    for name in names:
        assert f"| {name} |" in report and f"![{name}]({name}.png)" in report
    # alpha = 1/2 by quadrature, and the particles agree with it
    a = results["diffusion_flow_alpha"]
    assert abs(a["alpha_quadrature"] - 0.5) < 1e-12
    assert abs(a["alpha_particles_z"]) < 4
    # the Ito particles reject the other conventions' densities
    ito = results["convention_ito"]
    assert ito["verdict"] == "consistent"
    assert ito["verdict_vs_stratonovich_density"] == "INCONSISTENT"
    assert ito["verdict_vs_isothermal_density"] == "INCONSISTENT"


def test_a_failing_case_is_reported_not_raised(tmp_path, monkeypatch):
    def broken(quick):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "all_cases", lambda: {"broken": broken})
    results = runner.run(["broken"], quick=True, outdir=tmp_path, verbose=False)
    assert "boom" in results["broken"]["error"]
    assert "**ERROR**" in (tmp_path / "report.md").read_text()


def test_main_list_and_unknown_case(capsys):
    assert runner.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "langevin_2d" in out and "[quick]" in out
    assert runner.main(["--case", "no_such_case"]) == 2
    assert "no_such_case" in capsys.readouterr().err


def test_python_m_validation_one_case(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "validation", "--quick", "--case", "diffusion_flow_alpha",
         "--outdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1/1 passed" in proc.stdout
    assert (tmp_path / "report.md").exists()
