"""The PETSc backend under MPI, as users run it: ``mpiexec -n 2 python script.py``.

The distributed answer equals the serial one (2-D and 3-D, reflecting and periodic,
gradient and not) to solver precision, with its certificate; each process's slab
assembles about half the cells. Skipped where petsc4py or mpiexec is missing, unless
``FOKKERPLANCK_REQUIRE_PETSC`` is set (``.ci/run`` installs PETSc and sets it).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRED = bool(os.environ.get("FOKKERPLANCK_REQUIRE_PETSC"))
try:
    import petsc4py  # noqa: F401
    import slepc4py  # noqa: F401
    AVAILABLE = shutil.which("mpiexec") is not None
except ImportError:
    AVAILABLE = False
if not AVAILABLE and not REQUIRED:
    pytest.skip("petsc4py and mpiexec are not installed (docs: 'Beyond one machine')", allow_module_level=True)

SCRIPT = Path(__file__).parent / "mpi" / "stationary_cases.py"


def mpiexec(n: int) -> list[str]:
    """``mpiexec -n n``, with OpenMPI's flags for running as root (containers, CI)."""
    root = ["--allow-run-as-root", "--oversubscribe"] if os.geteuid() == 0 else []
    return ["mpiexec", "-n", str(n), *root]


ENV = {**os.environ, "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMP_NUM_THREADS": "1"}


def _run(n: int, script: Path, timeout: float) -> list[dict]:
    out = subprocess.run([*mpiexec(n), sys.executable, str(script)], capture_output=True, text=True,
                         timeout=timeout, env=ENV)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module", params=[2, 3], ids=["2 processes", "3 processes"])
def rows(request):
    # 3 processes: a middle slab with two cuts (on 2 cores, oversubscribed)
    return _run(request.param, SCRIPT, 1200)


def test_an_error_on_one_process_stops_every_process_and_absorbing_gaps_are_refused():
    # a covariance that is not semi-definite only in the last slab: before, process 0
    # waited in the next collective forever (timeout here: a hang fails the test)
    (r,) = _run(2, SCRIPT.parent / "error_cases.py", 180)
    assert "semi-definite" in r["one_rank_error"] or "another MPI process failed" in r["one_rank_error"], r
    assert "no null eigenvalue" in r["absorbing"], r


def test_two_processes_give_the_serial_density_with_its_certificate(rows):
    cases = [r for r in rows if "case" in r]
    assert len(cases) == 7
    for r in cases:
        assert r["success"] and r["residual"] <= r["bound"], r
        assert abs(r["mass"] - 1.0) < 1e-12, r
        # serial: GTH (or exact detailed balance); here MUMPS; the same split passes
        assert r["diff"] < 1e-12, r   # measured 6e-16 .. 3.8e-15
        assert "certified cell by cell; the split between metastable regions is not" in r["message"]


def test_amg_with_balance_sweeps_is_certified_and_agrees(rows):
    cases = [r for r in rows if "amg_diff" in r]
    assert len(cases) == 5
    for r in cases:
        assert r["amg_success"] and "balance sweeps" in r["amg_message"], r
        assert r["amg_diff"] < 1e-8, r


def test_the_spectral_gap_by_slepc_is_the_serial_one(rows):
    cases = [r for r in rows if "gap" in r]
    assert len(cases) == (2 if rows[0]["size"] == 2 else 0)
    for r in cases:   # measured 1e-10 .. 2.4e-10 relative (ARPACK's and SLEPc's tolerances)
        assert abs(r["gap"] - r["serial_gap"]) < 1e-8 * r["serial_gap"], r


def test_a_gap_below_round_off_is_refused_not_returned(rows):
    deep = next(r for r in rows if "refused" in r)
    assert deep["refused"] and "needs the serial fp.spectral_gap" in deep["why"], deep


def test_the_split_runs_the_same_passes_as_the_serial_solver(rows):
    for r in rows:
        if "case" not in r:
            continue
        if "detailed balance" in r["case"]:
            assert "conductance split" not in r["message"] + r["serial_message"], r
        else:
            serial = r["serial_message"].split("conductance split by the density: ")[1].split(" passes")[0]
            assert f"conductance split by the density: {serial} passes" in r["message"], r


def test_each_process_returns_its_slab_when_asked(rows):
    for r in rows:
        if "case" in r:
            assert r["piece"] < 1e-14, r   # two solves: the same to round-off (measured 0 .. 6e-17)


def test_a_process_assembles_only_its_slab_and_halo(rows):
    mem = next(r for r in rows if "memory" in r)
    if rows[0]["size"] != 2:
        pytest.skip("measured with 2 processes")
    # 48 planes in two slabs of 24, plus the first-guess halo of 5 planes (DEFAULT_HALO) on the cut side
    assert mem["largest_local_cells"] == (24 + 5) * 48 * 48 < 0.65 * mem["whole"]
