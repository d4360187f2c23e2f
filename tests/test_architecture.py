"""The layers of the package, checked from the source (docs/architecture.md).

Every module belongs to one layer; a module imports only from its own layer or
lower ones, never a ``_private`` name of another module, and the module import graph
has no cycles. The check reads the source with ``ast`` (imports inside functions
count too), so it needs no import of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fokkerplanck"

#: layer of each top-level part of the package (subpackage or module)
LAYERS = {
    "_util": 0,
    "_model": 1,
    "_discretization": 2,
    "_solvers": 3,
    "_sampling": 4,
    "_applications": 5,
    "_sweep": 6, "io": 6, "plotting": 6, "testing": 6,
    "__init__": 7,
    "cli": 8,  # the command line calls the public namespace, nothing else
}


def _modules() -> dict[str, Path]:
    """Dotted name (relative to the package, e.g. ``_solvers.stationary``) -> path."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def _resolve(importer: str, node: ast.ImportFrom) -> str | None:
    """The package-relative dotted module an ``ImportFrom`` refers to (None: outside)."""
    if node.level == 0:
        if node.module is None or not (node.module == "fokkerplanck" or node.module.startswith("fokkerplanck.")):
            return None
        return node.module.removeprefix("fokkerplanck").lstrip(".") or "__init__"
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".") if is_package and importer != "__init__" else importer.split(".")[:-1]
    if importer == "__init__":
        base = []
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    target = ".".join(base + ([node.module] if node.module else []))
    return target or "__init__"


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(target module, imported names, line) for every package import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target is None:
                continue
            for alias in node.names:
                sub = alias.name if target == "__init__" else f"{target}.{alias.name}"
                if sub in MODULES:  # ``from . import plotting``: a module
                    found.append((sub, [], node.lineno))
                else:
                    found.append((target, [alias.name], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "fokkerplanck" or a.name.startswith("fokkerplanck."):
                    found.append((a.name.removeprefix("fokkerplanck").lstrip(".") or "__init__", [], node.lineno))
    return found


def test_every_module_has_a_layer():
    assert all(m.split(".")[0] in LAYERS for m in MODULES), sorted(MODULES)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "__init__"))
def test_imports_go_down_the_layers(module):
    for target, _, line in _imports(module):
        assert _layer(target) <= _layer(module), (
            f"fokkerplanck.{module} (layer {_layer(module)}) imports fokkerplanck.{target} "
            f"(layer {_layer(target)}) at line {line}: lower layers never import higher ones."
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_modules(module):
    for target, names, line in _imports(module):
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert target == module or not private, (
            f"fokkerplanck.{module} imports the private {private} of fokkerplanck.{target} "
            f"at line {line}: give it a public name in a module both may import."
        )


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in _imports(m) if t != m} for m in MODULES}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t] if t in path else [m, t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """The AST reader finds an upward and a private import (a check that cannot fail is no check)."""
    fake = tmp_path / "_model" / "bad.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from .._solvers.stationary import _pin_guess\n")
    monkeypatch.setitem(MODULES, "_model.bad", fake)
    (target, names, _), = _imports("_model.bad")
    assert target == "_solvers.stationary" and names == ["_pin_guess"]
    assert _layer(target) > _layer("_model.bad")


# ------------------------------------------------------------ function length
#: Longest function allowed, in source lines from ``def`` (or its first decorator) to
#: its last line, docstring included.
MAX_FUNCTION_LINES = 120

#: Functions still over the limit, ``"module:qualified.name"``. Other branches are
#: splitting them; the list only shrinks: an entry that is no longer too long fails
#: the test too, so it is removed when its function is split. Nothing may be added.
TOO_LONG_FOR_NOW = frozenset({
})


def _function_lengths(module: str) -> dict[str, int]:
    """``"module:qualified.name" -> lines`` for every function and method of ``module``."""
    out: dict[str, int] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                name = f"{prefix}{child.name}"
                out[f"{module}:{name}"] = (child.end_lineno or child.lineno) - first + 1
                walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(MODULES[module].read_text()), "")
    return out


def _too_long() -> dict[str, int]:
    lengths = {k: v for m in MODULES for k, v in _function_lengths(m).items()}
    return {k: v for k, v in lengths.items() if v > MAX_FUNCTION_LINES}


def test_no_function_over_120_lines():
    long = _too_long()
    new = {k: v for k, v in long.items() if k not in TOO_LONG_FOR_NOW}
    assert not new, (
        f"functions over {MAX_FUNCTION_LINES} lines: {new}; split them into named steps "
        "(a frozen dataclass for state that several steps share)."
    )
    done = sorted(TOO_LONG_FOR_NOW - long.keys())
    assert not done, f"{done} are no longer over {MAX_FUNCTION_LINES} lines: remove them from TOO_LONG_FOR_NOW."


def test_the_length_check_sees_a_long_function(tmp_path, monkeypatch):
    fake = tmp_path / "_model" / "long.py"
    fake.parent.mkdir()
    body = "".join(f"        x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    fake.write_text(f"class A:\n    @staticmethod\n    def f():\n{body}\n\ndef g():\n    pass\n")
    monkeypatch.setitem(MODULES, "_model.long", fake)
    lengths = _function_lengths("_model.long")
    assert lengths == {"_model.long:A.f": MAX_FUNCTION_LINES + 2, "_model.long:g": 2}
    assert "_model.long:A.f" in _too_long()
