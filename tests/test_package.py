"""The package namespace: functions that share their module's name stay functions."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name, result, module", [
    ("compare", "Comparison", "_sampling.compare"), ("stationary", "StationaryResult", "_solvers.stationary"),
    ("evolve", "Evolution", "_solvers.evolve"), ("sweep", "SweepResult", "_sweep")])
def test_function_survives_importing_its_module_first(name, result, module):
    # The implementation modules are private (``fokkerplanck._solvers.stationary``), so
    # importing one never rebinds ``fp.stationary``. Fresh interpreter: import order matters.
    code = (
        "import inspect\n"
        f"from fokkerplanck.{module} import {result}\n"
        f"import fokkerplanck.{module}\n"
        "import fokkerplanck as fp\n"
        f"assert inspect.isfunction(fp.{name}), fp.{name}\n"
        f"assert fp.{result} is {result}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves():
    import fokkerplanck as fp

    missing = [name for name in fp.__all__ if not hasattr(fp, name)]
    assert not missing
