"""The package namespace: functions that share their module's name stay functions."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name, result", [("compare", "Comparison"), ("stationary", "StationaryResult"),
                                          ("evolve", "Evolution"), ("sweep", "SweepResult")])
def test_function_survives_importing_its_module_first(name, result):
    # Regression: importing a submodule binds the *module* to ``fokkerplanck.<name>``
    # unless __init__ binds the function eagerly. Fresh interpreter: import order matters.
    code = (
        "import inspect, fokkerplanck as fp\n"
        f"from fokkerplanck.{name} import {result}\n"
        f"import fokkerplanck.{name}\n"
        f"assert inspect.isfunction(fp.{name}), fp.{name}\n"
        f"assert fp.{result} is {result}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves():
    import fokkerplanck as fp

    missing = [name for name in fp.__all__ if not hasattr(fp, name)]
    assert not missing
