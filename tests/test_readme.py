"""The README's first example runs and prints what the README says it prints."""

import contextlib
import io
import pathlib
import re
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_first_example_prints_its_comments():
    text = README.read_text()
    code = re.search(r"## A first example\n\n```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert float(lines[0]) == pytest.approx(0.871363, abs=1e-6)  # "# 0.871363 (E x^2)"
    assert float(lines[1]) == pytest.approx(3.3547e-2, abs=5e-7)  # "# 3.3547e-02"
    assert "| consistent |" in lines[-2]
    assert lines[-1].startswith("consistent at alpha = 0.01: no test rejects"), lines[-1]
