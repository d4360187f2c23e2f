"""Sphinx configuration for the fokkerplanck documentation.

Build (warnings are errors, as CI does)::

    pip install -e ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

The API reference (``docs/api/``) is generated here from ``fokkerplanck.__all__`` and
the submodules, so a new public name appears without editing any page. The figures
of the tutorials and of the numerics page are computed at build time by the
matplotlib plot directive.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("agg")

import fokkerplanck  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

project = "fokkerplanck"
author = "the fokkerplanck developers"
copyright = "2026, the fokkerplanck developers"
release = version = fokkerplanck.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "api/*.inc", "tutorials/README.md"]
html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"fokkerplanck {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# Offline previews: FOKKERPLANCK_DOCS_MATHJAX=/usr/share/javascript/mathjax/MathJax.js
# (Debian's libjs-mathjax, MathJax 2) renders the formulas without the CDN.
if os.environ.get("FOKKERPLANCK_DOCS_MATHJAX"):
    mathjax_path = "file://" + os.environ["FOKKERPLANCK_DOCS_MATHJAX"] + "?config=TeX-AMS-MML_HTMLorMML"
    mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                                   "processClass": "math|tex2jax_process"}}
    myst_update_mathjax = False

# -- MyST (Markdown pages) ---------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# -- autodoc / autosummary / numpydoc ----------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"           # the numpydoc Parameters sections carry the types
autodoc_member_order = "bysource"
autodoc_default_options = {"exclude-members": "__init__, __new__"}
numpydoc_show_class_members = False  # members are documented by autodoc below the class
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- plot directive ----------------------------------------------------------------
plot_basedir = str(HERE)            # file names relative to docs/
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"
plot_rcparams = {"figure.dpi": 100, "savefig.bbox": "tight", "font.size": 10}
plot_apply_rcparams = True

# (Python warnings raised inside the plotted scripts, e.g. FokkerPlanckWarning, go to
# stderr; they are not Sphinx warnings and do not fail a -W build.)


# -- generated API reference -------------------------------------------------------
#: (section title, modules whose names in ``fokkerplanck.__all__`` it lists, blurb)
SECTIONS = [
    ("Problem: grid and SDE", ["_model.grid", "_model.sde"],
     "What is solved: the box and its boundaries, and the stochastic differential equation."),
    ("Model systems and exact densities", ["_model.models"],
     "Constructors for Brownian motion, Langevin dynamics and Ornstein–Uhlenbeck "
     "processes, and closed-form reference densities."),
    ("SGD", ["_applications.sgd", "_applications.data", "_applications.minibatch", "_applications.quadratic"],
     "The SGD SDE from a loss or from data, real minibatch SGD, exact quadratic references."),
    ("The generator", ["_discretization.generator", "_discretization.fluxes"],
     "The conservative finite-volume matrix ``A`` with ``dp/dt = A p`` and its edge fluxes."),
    ("Stationary densities and the spectrum", ["_solvers.stationary", "_solvers.spectral", "_solvers.extrapolate",
                                                "_solvers.estimate"],
     "The null vector of ``A``; relaxation rates and slow modes; Richardson extrapolation "
     "across grids and the error estimate of every grid answer."),
    ("Time evolution", ["_solvers.evolve", "_model.initial"],
     "Densities over time and initial densities."),
    ("Particles and comparison", ["_sampling.particles", "_sampling.compare"],
     "Euler–Maruyama particles with the same SDE and boundaries; grid vs particles statistics."),
    ("Exit problems and irreversibility", ["_solvers.exits", "_solvers.irreversibility"],
     "Mean first-passage times, quasi-stationary densities, survival, escape rates, "
     "detailed balance and entropy production."),
    ("Sweeps and files", ["_sweep", "io"],
     "Parameter sweeps on any executor; saving and loading results."),
    ("Errors and warnings", ["_util.errors"], ""),
]

#: submodules documented with all their public names (not only those in __all__)
SUBMODULES = [
    ("fokkerplanck.plotting", "Figures"),
    ("fokkerplanck.testing", "Testing helpers"),
    ("fokkerplanck.cli", "Command line"),
]

#: scheme internals worth a reference entry
INTERNALS = [
    ("fokkerplanck._discretization.weights", ["bernoulli", "bernoulli_pair", "fitted_pair"]),
    ("fokkerplanck._discretization.structured", ["structured_fluxes"]),
    ("fokkerplanck._discretization.lattice", ["selling"]),
    ("fokkerplanck._discretization.highorder", ["highorder_fluxes"]),
    ("fokkerplanck._solvers.evolve", ["default_dt", "growth_rate"]),
    ("fokkerplanck._solvers.resolution", ["check_resolution"]),
]


def _module_of(name: str) -> str:
    """The (private) module that defines ``fp.<name>``; aliases fall back to the package."""
    obj = getattr(fokkerplanck, name)
    return getattr(obj, "__module__", "fokkerplanck")


def _target(name: str) -> str:
    """The dotted path autosummary documents ``fp.<name>`` under: the public one."""
    return f"fokkerplanck.{name}"


def _try_import(modname: str):
    try:
        return importlib.import_module(modname)
    except ImportError:
        return None


def _autosummary(entries: list[str], short: bool = True) -> list[str]:
    out = ["", ".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
    out += [f"   {'~' if short else ''}{e}" for e in entries]
    return out + [""]


def _is_data(modname: str, name: str) -> bool:
    importlib.import_module(modname)
    obj = getattr(sys.modules[modname], name, None)
    if obj is None:  # an alias defined in the package namespace
        obj = getattr(fokkerplanck, name)
    return not (callable(obj) or isinstance(obj, type))


def write_api(app=None) -> None:
    """Write ``docs/api/index.rst`` from ``fokkerplanck.__all__`` and the submodules."""
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    public = list(fokkerplanck.__all__)
    by_module: dict[str, list[str]] = {}
    for name in public:
        by_module.setdefault(_module_of(name), []).append(name)
    done: set[str] = set()
    lines = [
        ".. _api:", "", "API reference", "=============", "",
        "Everything below is generated from the docstrings. Every name is importable from",
        "the package itself (``import fokkerplanck as fp; fp.<name>``); the entries show",
        "the module that defines it.", "",
    ]
    data_lines: list[str] = []
    for title, mods, blurb in SECTIONS:
        entries = []
        for m in mods:
            full = f"fokkerplanck.{m}"
            for name in by_module.get(full, []):
                if _is_data(full, name):
                    data_lines += [f".. autodata:: {full}.{name}", "   :no-value:", ""]
                    done.add(name)
                    continue
                entries.append(_target(name))
                done.add(name)
        if not entries:
            continue
        lines += [title, "-" * len(title), ""]
        if blurb:
            lines += [blurb, ""]
        lines += _autosummary(entries)
    rest = [n for n in public if n not in done]
    if rest:
        lines += ["Other names", "-----------", ""]
        lines += _autosummary([_target(n) for n in rest])
    if data_lines:
        lines += ["Constants", "---------", ""] + data_lines

    listed = {_target(n) for n in public}
    lines += ["Submodules", "----------", ""]
    for modname, title in SUBMODULES:
        mod = _try_import(modname)
        if mod is None:
            continue
        doc = [" ".join((mod.__doc__ or "").strip().split("\n\n")[0].split())]
        lines += [f"``{modname}`` — {title}", "~" * (len(modname) + len(title) + 7), ""]
        if doc:
            lines += [doc[0], ""]
        names = [n for n in getattr(mod, "__all__", []) if not n.startswith("_")]
        funcs = [f"{modname}.{n}" for n in names if not _is_data(modname, n)]
        if any(f in listed for f in funcs):
            lines += ["Also listed above: "
                      + ", ".join(f"``{f.rsplit('.', 1)[1]}``" for f in funcs if f in listed) + ".", ""]
            funcs = [f for f in funcs if f not in listed]
        consts = [n for n in names if _is_data(modname, n)]
        if funcs:
            lines += _autosummary(funcs)
        for n in consts:
            lines += [f".. autodata:: {modname}.{n}", "   :no-value:", ""]
    # the public edge modules, then the implementation modules (their docstrings carry
    # the mathematics of each part)
    mods = sorted(m.name for m in pkgutil.walk_packages(fokkerplanck.__path__, "fokkerplanck.")
                  if not m.ispkg and not m.name.rsplit(".", 1)[1].startswith("_"))
    lines += ["Modules", "-------", "",
              "The module docstrings: the mathematics and the methods of each part.", ""]
    lines += _autosummary([m for m in mods if _try_import(m) is not None], short=False)
    lines += ["Scheme internals", "----------------", "",
              "Building blocks of the generator, documented for readers of the numerics page.", ""]
    entries = []
    for modname, names in INTERNALS:
        mod = _try_import(modname)
        entries += [f"{modname}.{n}" for n in names if mod is not None and hasattr(mod, n)]
    lines += _autosummary(entries)
    text = "\n".join(lines) + "\n"
    target = api / "index.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


# -- the guide pages written alongside the modules ----------------------------------
#: pages of docs/ written with the features, in reading order (others follow by name)
GUIDE_ORDER = ["evolve", "particles", "exits", "sgd", "sweep", "cli", "validation", "testing"]
#: pages of docs/ that index.rst lists itself
OWN = {"index", "getting-started", "theory", "numerics", "validation-results", "benchmarks"}


def write_guide_toc(app=None) -> None:
    """Write the toctree of the per-feature pages (``docs/*.md`` not listed elsewhere)."""
    pages = sorted(p.stem for p in HERE.glob("*.md") if p.stem not in OWN)
    pages.sort(key=lambda s: (GUIDE_ORDER.index(s) if s in GUIDE_ORDER else len(GUIDE_ORDER), s))
    lines = [".. toctree::", "   :maxdepth: 1", "   :caption: User guide", ""]
    lines += [f"   {p}" for p in pages] + [""]
    text = "\n".join(lines)
    target = HERE / "api" / "guide.inc"
    target.parent.mkdir(exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def write_benchmarks(app=None) -> None:
    """Copy ``benchmarks/README.md`` (if it exists) where the benchmarks page includes it."""
    src = ROOT / "benchmarks" / "README.md"
    text = src.read_text() if src.exists() else (
        "*`benchmarks/README.md` has not been written yet; run the scripts in "
        "`benchmarks/` to produce the tables.*\n")
    # the page has its own title: drop the README's (its "##" sections stay level 2)
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    text = "\n".join(lines)
    target = HERE / "api" / "benchmarks.inc"
    if not target.exists() or target.read_text() != text + "\n":
        target.write_text(text + "\n")


write_api()
write_guide_toc()
write_benchmarks()


def setup(app):
    return {"parallel_read_safe": True}
