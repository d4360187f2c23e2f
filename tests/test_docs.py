"""The documentation's examples are tests: tutorials, page examples, docstrings, the build.

* every tutorial script in ``docs/tutorials/`` runs (matplotlib ``agg``) and produces
  the numbers its page quotes;
* every inline ``{plot}`` example of the Markdown pages runs;
* every docstring example of the package modules passes ``doctest`` (modules whose
  optional dependencies are missing are skipped);
* ``sphinx-build -W`` (warnings are errors) builds the site, when Sphinx and the
  extensions of the ``docs`` extra are installed (marked slow: several minutes, since it
  runs every tutorial once more for the figures).
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import importlib.util
import io
import pkgutil
import re
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("agg")

import fokkerplanck as fp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.py"))


def run_script(path: Path) -> tuple[dict, str]:
    """Run a script as ``__main__`` the way the plot directive does; return its globals and output."""
    import matplotlib.pyplot as plt

    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        ns = runpy.run_path(str(path), run_name="__main__")
    n_figures = len(plt.get_fignums())
    plt.close("all")
    ns["_n_figures"] = n_figures
    return ns, out.getvalue()


def number(text: str, pattern: str) -> float:
    """The first float captured by ``pattern`` in ``text``."""
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not found in the output:\n{text}"
    return float(m.group(1))


# --------------------------------------------------------------------- tutorials
def test_every_tutorial_has_a_page_and_a_test():
    names = {p.stem for p in TUTORIALS}
    assert names == set(CHECKS), f"tutorial scripts {sorted(names)} vs checks {sorted(CHECKS)}"
    for name in names:
        page = (DOCS / "tutorials" / f"{name}.md").read_text()
        assert f".. plot:: tutorials/{name}.py" in page and f"{{literalinclude}} {name}.py" in page
        assert name in (DOCS / "tutorials" / "index.md").read_text()


def check_brownian(ns, out):
    for t in (1.0, 4.0):
        assert number(out, rf"t = {t:4.2f}: L1\(grid, exact\) = (\S+),") < 1e-3
    assert np.allclose(ns["ev"].mass, 1.0, atol=1e-11)
    var = ns["ev_fine"].cov()[:, 0, 0]
    assert np.allclose(var, ns["s0"] + ns["sigma"] ** 2 * ns["t_fine"], rtol=2e-3)


def check_langevin(ns, out):
    for ref in ("0.832745", "0.871363", "0.936834"):
        assert f"E x^2 = {ref} (reference {ref})" in out
    for m in re.findall(r"max \|p - Gibbs\| = (\S+)", out):
        assert float(m) < 1e-12
    assert number(out, r"L1\(stationary, Bayes\) = (\S+)") < 1e-12
    assert ns["cmp"].consistent


def check_general_sde(ns, out):
    for conv, tol in (("ito", 1e-6), ("stratonovich", 1e-5), ("isothermal", 1e-4)):
        line = next(s for s in out.splitlines() if s.strip().startswith(conv + ":"))
        assert number(line, r"L1\(grid, exact\) = (\S+);") < tol
        grid_m2, box_m2 = number(line, r"E x\^2 grid (\S+)"), number(line, r"\(exact (\S+) on the box")
        assert abs(grid_m2 - box_m2) < 2e-3
        assert number(line, r"particles L1 (\S+) vs") < 1.3 * number(line, r"noise floor (\S+)$")


def check_two_temperature(ns, out):
    assert number(out, r"L1\(grid, two-temperature formula\) = (\S+),") < 1e-12
    assert number(out, r"L1\(grid, Gibbs at T = 0.15\) = (\S+)") > 0.3
    assert number(out, r"forced rates: L1\(grid, Gibbs exp\(-2L/eta'\)\) = (\S+)") < 1e-10
    assert number(out, r"coupled loss, forced rates: L1\(grid, Gibbs\) = (\S+)") < 1e-10
    assert ns["cmp"].consistent


def check_quadratic(ns, out):
    G = ns["grid"]
    np.testing.assert_allclose(G.cov(ns["res"].density), ns["C"], atol=2e-4)
    assert abs(number(out, r"E\[L\] grid (\S+),") - 0.25) < 1e-3
    assert number(out, r"entropy production (\S+) ") > 0.1
    u_cov = np.array(ast.literal_eval(out.split("diagonal = T_i): ")[1].splitlines()[0]))
    np.testing.assert_allclose(np.diag(u_cov), ns["hc"].temperature, rtol=2e-3)
    line = next(s for s in out.splitlines() if s.startswith("eta = 0.2:"))
    sgd_var, discrete = number(line, r"real SGD (\S+),"), number(line, r"exact discrete (\S+)")
    assert abs(sgd_var - discrete) < 0.05 * discrete


def check_sgd_data(ns, out):
    v_sde, v_sgd = ns["var_sde"], ns["var_sgd"]
    assert np.all(v_sgd[-1] > v_sde[-1] * 1.05)               # O(eta) excess at eta = 0.2
    np.testing.assert_allclose(v_sgd[0], v_sde[0], rtol=0.05)  # small eta: the SDE limit
    assert "eta = 0.01: Var(w) SDE 1.33e-03, real SGD 1.35e-03" in out
    assert "eta = 0.20: Var(w) SDE 3.42e-02, real SGD 3.94e-02" in out
    assert number(out, r"eta = 0.01: .* chi2 p = (\S+)") > 0.01          # the SDE limit holds
    assert number(out, r"eta = 0.05: .* chi2 p = (\S+)") < 1e-3          # the O(eta) gap shows


def check_inertia(ns, out):
    assert number(out, r"L1\(grid, exp\(-\(U \+ v\^2/2\)/T\)\) = (\S+),") < 1e-10
    ratio = {float(g): float(r) for g, r in re.findall(r"gamma = (\S+): k = .* ratio (\S+)", out)}
    assert 0.9 < ratio[1.0] < 1.02 and 0.85 < ratio[4.0] < 0.97      # Kramers (x 0.91 finite barrier)
    assert ratio[0.02] < ratio[0.05] < ratio[0.2] < 0.7                # the turnover
    np.testing.assert_allclose(ns["ou4"].cov(), ns["S"], atol=1e-3)    # Lyapunov, rank-1 noise
    for line in (s for s in out.splitlines() if s.startswith("heavy ball")):
        assert abs(number(line, r"Var w / T = (\S+),") - 1) < 0.05
        assert abs(number(line, r"Var p / T = (\S+) ") - 1) < 0.05


CHECKS = {
    "brownian": check_brownian,
    "langevin": check_langevin,
    "general_sde": check_general_sde,
    "two_temperature": check_two_temperature,
    "quadratic": check_quadratic,
    "sgd_data": check_sgd_data,
    "inertia": check_inertia,
}


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_and_gives_the_numbers_on_its_page(path):
    ns, out = run_script(path)
    assert ns["_n_figures"] >= 1, "a tutorial must draw its figures"
    CHECKS[path.stem](ns, out)


# ------------------------------------------------------- inline examples of the pages
def plot_blocks(page: Path) -> list[str]:
    """Inline code of the ``.. plot::`` directives (inside ``{eval-rst}``) of a MyST page."""
    blocks = re.findall(r"^\.\. plot::[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n)+)", page.read_text(), flags=re.M)
    out = []
    for b in blocks:
        lines = [l[3:] if l.startswith("   ") else l.strip() for l in b.splitlines()]
        code = "\n".join(l for l in lines if not l.startswith(":")).strip()
        if code and not code.startswith("```"):
            out.append(code.split("```")[0])
    return out


PAGE_EXAMPLES = [(p, k, code) for p in sorted([*DOCS.glob("*.md"), DOCS / "index.rst"])
                 for k, code in enumerate(plot_blocks(p))]


@pytest.mark.parametrize("page, k, code", PAGE_EXAMPLES, ids=[f"{p.stem}-{k}" for p, k, _ in PAGE_EXAMPLES])
def test_page_example_runs(page, k, code, tmp_path):
    script = tmp_path / "example.py"
    script.write_text("import numpy as np\nimport matplotlib.pyplot as plt\n" + code)
    ns, out = run_script(script)
    assert ns["_n_figures"] >= 1
    if page.stem == "getting-started":
        # the output the page quotes
        assert "| 20000 | 0.08777 | 0.09027 | 0.97 |" in out and "consistent" in out
    if page.stem == "theory":
        assert "alpha = 0.500000000000" in out
        np.testing.assert_allclose(ns["net"], 0.5 * ns["sigma"] ** 2 * ns["x"] * ns["p"](ns["x"]), atol=2e-3)
    if page.stem == "numerics":
        assert 1.9 < number(out, r"sg observed order (\S+)") < 2.2
        assert number(out, r"highorder observed order (\S+)") > 3.5


def test_getting_started_quotes_the_first_example_numbers():
    grid = fp.Grid(bounds=[(-3, 3)], shape=600)
    L = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2  # noqa: E731
    sde = fp.langevin(L, sigma=np.sqrt(0.2))
    res = fp.stationary(sde, grid)
    assert f"{grid.integrate(res.density * grid.points()[..., 0] ** 2):.6f}" == "0.871363"
    assert f"{fp.spectral_gap(sde, grid):.4f}" == "0.0335"


# --------------------------------------------------------------------- docstrings
def package_modules() -> list[str]:
    names = ["fokkerplanck"]
    names += [m.name for m in pkgutil.walk_packages(fp.__path__, "fokkerplanck.")]
    return names


@pytest.mark.parametrize("modname", package_modules())
def test_docstring_examples(modname):
    try:
        mod = importlib.import_module(modname)
    except ImportError as exc:  # an optional dependency is missing
        pytest.skip(f"{modname}: {exc}")
    mod = sys.modules[modname]  # not the function that shares the module's name
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    # an empty namespace, not the module's globals: every example imports what it uses, so
    # it runs as written when copied into a session
    for test in finder.find(mod, modname, globs={}):
        if test.examples:
            runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {modname}:\n{out.getvalue()}"


def test_every_public_name_is_documented():
    for name in fp.__all__:
        obj = getattr(fp, name)
        if callable(obj) or isinstance(obj, type):
            assert (obj.__doc__ or "").strip(), f"fp.{name} has no docstring"


def test_api_reference_lists_every_public_name():
    conf = runpy.run_path(str(DOCS / "conf.py"))  # writes docs/api/index.rst
    text = (DOCS / "api" / "index.rst").read_text()
    entries = set(re.findall(r"^   ~?(fokkerplanck[\w.]*)$", text, flags=re.M))
    entries |= set(re.findall(r"^\.\. autodata:: (fokkerplanck[\w.]*)$", text, flags=re.M))
    for name in fp.__all__:
        target = conf["_target"](name) if callable(getattr(fp, name)) else f"{conf['_module_of'](name)}.{name}"
        assert target in entries, f"fp.{name} ({target}) is missing from the API reference"
    for sub in ("plotting", "testing"):
        mod = importlib.import_module(f"fokkerplanck.{sub}")
        for name in mod.__all__:
            assert re.search(rf"fokkerplanck\.[\w.]*\b{name}$", text, flags=re.M), f"{sub}.{name} missing"


# --------------------------------------------------------------------- the build
SPHINX_MODULES = ("sphinx", "numpydoc", "myst_parser")


@pytest.mark.slow
@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in SPHINX_MODULES),
                    reason="needs the docs extra: pip install '.[docs]'")
def test_sphinx_build_has_no_warnings(tmp_path):
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert (tmp_path / "html" / "index.html").exists()
    assert (tmp_path / "html" / "api" / "index.html").exists()
