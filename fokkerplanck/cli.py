"""The ``fokkerplanck`` command.

Subcommands::

    fokkerplanck demo [--output PNG] [--particles N] [--shape N] [--seed S] [--quick] [--no-progress]
    fokkerplanck validate [--quick] [--case NAME ...] [--list] [--outdir DIR]
    fokkerplanck solve PROBLEM.toml [--output PREFIX] [--method M] [--particles N --t-end T --dt DT] [--force]
    fokkerplanck evolve PROBLEM.toml --t-end T [--times K] [--start X,Y] [--output PREFIX] [--force]
    fokkerplanck exit-time PROBLEM.toml [--output PREFIX] [--force]
    fokkerplanck --version

``demo`` solves a classic 2-D system (Langevin dynamics in a tilted double
well) on a grid, checks it against the exact Gibbs density and against Euler–Maruyama
particles, writes the comparison figure and prints a Markdown table. ``validate`` runs
the validation suite (``python -m validation``). ``solve`` reads a problem from a TOML
file — a loss or a drift, and the noise, as expressions in ``x``, ``y``, ``z`` — solves
for the stationary density and writes it as ``.npz`` with a PNG. ``evolve`` evolves a
density from a uniform start (or a point) over ``[0, T]`` and ``exit-time`` solves for the
mean exit time through the grid's absorbing walls, from the same problem file. Output
paths in the file are relative to the file's folder; existing files are not overwritten
unless ``--force`` is given.

Expressions are parsed with :mod:`ast` and evaluated by walking the tree: only numbers,
the variables of the grid's axes (``x``, ``y``, ``z``), ``pi``, ``e``, user constants,
``+ - * / ** %``, unary minus and a whitelist of numpy functions, each with exactly its
number of inputs (no ``out`` argument), are allowed. User text is never passed to ``eval``
or ``exec``; arithmetic is in float64, so overflow gives ``inf`` (reported) rather than an
exception.

:func:`main` parses arguments and calls the public API; it returns the exit code
(0 success, 1 a failed validation, 2 bad input with a message on stderr).
"""

from __future__ import annotations

import argparse
import ast
import math
import operator
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = ["FUNCTIONS", "Expression", "ExpressionError", "ProblemError", "load_problem", "main"]

#: Functions an expression may call (numpy ufuncs, elementwise).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "arctan2": np.arctan2,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log10": np.log10,
    "sqrt": np.sqrt, "abs": np.abs, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "minimum": np.minimum, "maximum": np.maximum, "hypot": np.hypot,
}
_CONSTANTS = {"pi": np.float64(math.pi), "e": np.float64(math.e)}
_AXES = ("x", "y", "z")
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_LENGTH = 2000
_MAX_DEPTH = 60


def _depth(node: ast.AST) -> int:
    """Nesting depth of an expression tree, without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))
    return deepest


class ExpressionError(ValueError):
    """An expression that is malformed, unsafe, or uses an unknown name."""


class ProblemError(ValueError):
    """A problem file with unknown keys, missing or inconsistent entries."""


# ================================================================ expressions
class Expression:
    """A safe arithmetic expression of the axis variables, e.g. ``"(x**2 - 1)**2 / 4 + y**2 / 2"``.

    Parameters
    ----------
    text : str
        The expression.
    variables : sequence of str
        Names bound to the coordinates of a point (``x``, ``y``, ``z`` for the axes).
    constants : dict, optional
        User constants (numbers), in addition to ``pi`` and ``e``.
    where : str
        Where the expression comes from (for error messages), e.g. ``"loss"``.

    Raises
    ------
    ExpressionError
        Syntax errors, any construct other than numbers, names, ``+ - * / ** %``, unary
        minus and calls of :data:`FUNCTIONS` (attribute access, subscripts, lambdas,
        comprehensions, keyword arguments, strings ...), and unknown names.

    Examples
    --------
    >>> import numpy as np
    >>> from fokkerplanck.cli import Expression
    >>> f = Expression("x**2 + a * sin(y)", ["x", "y"], {"a": 2.0})
    >>> float(f(np.array([1.0, 0.0])))
    1.0
    """

    def __init__(self, text: Any, variables: Sequence[str], constants: dict[str, float] | None = None,
                 *, where: str = "expression") -> None:
        if isinstance(text, bool) or not isinstance(text, (str, int, float)):
            raise ExpressionError(
                f"`{where}` must be a number or an expression string, got {type(text).__name__} {text!r}."
            )
        self.text = str(text)
        self.where = where
        self.variables = tuple(variables)
        self.constants = {**_CONSTANTS, **{k: np.float64(v) for k, v in (constants or {}).items()}}
        if len(self.text) > _MAX_LENGTH:
            raise ExpressionError(f"`{where}` is longer than {_MAX_LENGTH} characters.")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(
                f"`{where}` = {self.text!r} is not a valid expression: {exc.msg} "
                f"(column {exc.offset})."
            ) from None
        except (RecursionError, MemoryError):
            raise ExpressionError(f"`{where}` is nested too deeply to parse.") from None
        depth = _depth(tree.body)
        if depth > _MAX_DEPTH:
            raise ExpressionError(
                f"`{where}` is nested {depth} levels deep, more than {_MAX_DEPTH}; simplify it.")
        self._check(tree.body)
        self._tree = tree.body
        self.names = sorted({n.id for n in ast.walk(tree.body) if isinstance(n, ast.Name)} - set(FUNCTIONS))

    # ---------------------------------------------------------------- checking
    def _fail(self, node: ast.AST, what: str) -> NoReturn:
        col = getattr(node, "col_offset", None)
        at = f" at column {col + 1}" if col is not None else ""
        raise ExpressionError(
            f"`{self.where}` = {self.text!r}: {what}{at}. Allowed: numbers, the variables "
            f"{', '.join(self.variables)}, pi, e, constants from [constants], + - * / ** %, unary "
            f"minus, and the functions {', '.join(sorted(FUNCTIONS))}."
        )

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self._fail(node, f"the literal {node.value!r} is not a number")
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                self._fail(node, f"the function {node.id!r} must be called, e.g. {node.id}(x)")
            if node.id not in self.variables and node.id not in self.constants:
                hint = ""
                if node.id in _AXES:
                    hint = f" (this problem has {len(self.variables)} axes: {', '.join(self.variables)})"
                self._fail(node, f"unknown variable {node.id!r}{hint}")
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):
                self._fail(node, "^ is not a power in Python expressions; write ** (x**4, not x^4)")
            if type(node.op) not in _BINOPS:
                self._fail(node, f"the operator {type(node.op).__name__} is not allowed")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                self._fail(node, f"the unary operator {type(node.op).__name__} is not allowed")
            self._check(node.operand)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                self._fail(node, "only calls of whitelisted functions by name are allowed")
            if node.func.id not in FUNCTIONS:
                self._fail(node, f"unknown or forbidden function {node.func.id!r}")
            if node.keywords:
                self._fail(node, "keyword arguments are not allowed")
            nin = getattr(FUNCTIONS[node.func.id], "nin", 1)
            if len(node.args) != nin:
                self._fail(node, f"{node.func.id}() takes {nin} argument{'s' if nin > 1 else ''}, "
                                 f"got {len(node.args)} (numpy's extra arguments such as `out` "
                                 "are not allowed)")
            for a in node.args:
                if isinstance(a, ast.Starred):
                    self._fail(a, "starred arguments are not allowed")
                self._check(a)
        elif isinstance(node, ast.Attribute):
            self._fail(node, "attribute access is not allowed")
        elif isinstance(node, ast.Lambda):
            self._fail(node, "lambda is not allowed")
        elif isinstance(node, ast.Subscript):
            self._fail(node, "subscripts are not allowed")
        else:
            self._fail(node, f"{type(node).__name__} is not allowed")

    # ---------------------------------------------------------------- evaluation
    def _eval(self, node: ast.AST, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return np.float64(node.value)  # type: ignore[arg-type]  # numbers only (checked); float64: overflow and 1/0 give inf, not exceptions
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else self.constants[node.id]
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, env))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return FUNCTIONS[node.func.id](*(self._eval(a, env) for a in node.args))
        raise ExpressionError(f"cannot evaluate {type(node).__name__}")  # pragma: no cover - checked

    @property
    def is_constant(self) -> bool:
        """True when no axis variable occurs."""
        return not any(n in self.variables for n in self.names)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        """Evaluate at points ``(..., d)``; returns ``(...)``."""
        pts = np.asarray(pts, dtype=float)
        env = {v: pts[..., k] for k, v in enumerate(self.variables)}
        try:
            with np.errstate(all="ignore"):
                val = self._eval(self._tree, env)
        except (ArithmeticError, RecursionError, MemoryError) as exc:
            raise ExpressionError(f"`{self.where}` = {self.text!r} cannot be evaluated: {exc}.") from None
        out = np.broadcast_to(np.asarray(val, dtype=float), pts.shape[:-1]).copy()
        bad = ~np.isfinite(out)
        if bad.any():
            i = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
            at = ", ".join(f"{v} = {float(pts[i][k]):.6g}" for k, v in enumerate(self.variables))
            raise ExpressionError(
                f"`{self.where}` = {self.text!r} is not finite ({float(out[i])}) at {at or 'every point'}; "
                "keep it finite on the whole grid (overflow, division by zero, log of 0 ...)."
            )
        return out

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


# ================================================================ problem files
_TOP_KEYS = {"loss", "drift", "sigma", "cov", "convention", "constants", "grid", "output", "solver", "title"}
_GRID_KEYS = {"bounds", "shape", "boundary"}
_OUTPUT_KEYS = {"npz", "png"}
_SOLVER_KEYS = {"method"}


def _unknown(keys: Any, allowed: set[str], where: str) -> None:
    bad = sorted(set(keys) - allowed)
    if bad:
        raise ProblemError(
            f"unknown key{'s' if len(bad) > 1 else ''} {', '.join(repr(b) for b in bad)} in {where}; "
            f"allowed keys are {', '.join(sorted(allowed))}."
        )


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ProblemError("reading TOML needs Python >= 3.11 or `pip install tomli`.") from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProblemError(f"problem file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise ProblemError(f"{str(path)!r} is a directory, not a problem file.") from None
    except OSError as exc:
        raise ProblemError(f"cannot read {str(path)!r}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ProblemError(f"{str(path)!r} is not a text (UTF-8) TOML file.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(f"{str(path)!r} is not valid TOML: {exc}") from None


def _noise(spec: Any, d: int, variables: Sequence[str], constants: dict[str, float], name: str) -> Any:
    """A noise entry: number, expression, per-axis list, or d x d matrix (numbers or expressions)."""
    def expr(v: Any, where: str) -> Expression:
        return Expression(v, variables, constants, where=where)

    cells: Any   # an Expression, a list of them, or a list of rows of them
    if isinstance(spec, list):
        if all(isinstance(r, list) for r in spec):
            if len(spec) != d or any(len(r) != d for r in spec):
                raise ProblemError(f"`{name}` as a matrix must be {d} x {d} for this {d}-D grid.")
            cells = [[expr(v, f"{name}[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(spec)]
            kind = "matrix"
        elif any(isinstance(r, list) for r in spec):
            raise ProblemError(f"`{name}` mixes numbers and rows; give a list of {d} entries or a {d} x {d} matrix.")
        else:
            if len(spec) != d:
                raise ProblemError(f"`{name}` as a per-axis list needs {d} entries for this {d}-D grid, got {len(spec)}.")
            cells = [expr(v, f"{name}[{i}]") for i, v in enumerate(spec)]
            kind = "diagonal"
    else:
        cells = expr(spec, name)
        kind = "scalar"
    if kind == "scalar":
        flat = [cells]
    elif kind == "diagonal":
        flat = list(cells)
    else:
        flat = [c for row in cells for c in row]
    if all(c.is_constant for c in flat):
        one = np.zeros((1, d))
        if kind == "scalar":
            return float(cells(one)[0])
        if kind == "diagonal":
            return np.array([float(c(one)[0]) for c in cells])
        return np.array([[float(c(one)[0]) for c in row] for row in cells])

    def field(pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=float)
        lead = pts.shape[:-1]
        if kind == "scalar":
            return cells(pts)[..., None, None] * np.eye(d)
        if kind == "diagonal":
            out = np.zeros(lead + (d, d))
            for i, c in enumerate(cells):
                out[..., i, i] = c(pts)
            return out
        return np.stack([np.stack([c(pts) for c in row], axis=-1) for row in cells], axis=-2)

    return field


def _drift(spec: Any, d: int, variables: Any, constants: dict[str, float]) -> Any:
    """The drift callable ``(..., d) -> (..., d)`` from one expression per axis."""
    if not isinstance(spec, list):
        spec = [spec]
    if len(spec) != d:
        raise ProblemError(f"`drift` needs one expression per axis ({d}), got {len(spec)}.")
    comps = [Expression(v, variables, constants, where=f"drift[{i}]") for i, v in enumerate(spec)]

    def drift(pts: np.ndarray) -> np.ndarray:
        return np.stack([c(pts) for c in comps], axis=-1)

    return drift


def load_problem(path: str | Path) -> dict[str, Any]:
    """Read a problem TOML into ``{"sde", "grid", "npz", "png", "method", "title"}``.

    The file::

        title = "double well"            # optional
        loss = "(x**2 - 1)**2 / 4 + y**2 / 2"   # and/or
        drift = ["-x", "-y"]             # one expression per axis (a string in 1-D)
        sigma = 0.8                      # number, expression, per-axis list, or matrix
        # cov = [[1, 0.5], [0.5, 1]]     # instead of sigma
        convention = "ito"               # "stratonovich", "isothermal"
        [constants]
        a = 1.5
        [grid]
        bounds = [[-3, 3], [-3, 3]]
        shape = [128, 128]               # or one int
        boundary = "reflecting"          # or a list per axis
        [output]                         # optional; default: next to the TOML file
        npz = "density.npz"
        png = "density.png"
        [solver]
        method = "auto"

    Raises
    ------
    ProblemError, ExpressionError
        Unknown keys, missing entries, bad expressions (both are ``ValueError``).
    """
    import fokkerplanck as fp

    path = Path(path)
    doc = _read_toml(path)
    _unknown(doc, _TOP_KEYS, "the problem file (top level)")
    for section, allowed in (("grid", _GRID_KEYS), ("output", _OUTPUT_KEYS), ("solver", _SOLVER_KEYS)):
        if section in doc:
            if not isinstance(doc[section], dict):
                raise ProblemError(f"`{section}` must be a table ([{section}]).")
            _unknown(doc[section], allowed, f"[{section}]")
    if "grid" not in doc:
        raise ProblemError("the problem file needs a [grid] table with `bounds` and `shape`.")
    g = doc["grid"]
    for key in ("bounds", "shape"):
        if key not in g:
            raise ProblemError(f"[grid] needs `{key}`.")
    bounds = g["bounds"]
    if isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds):
        bounds = [bounds]  # 1-D convenience: bounds = [-3, 3]
    try:
        grid = fp.Grid(bounds, g["shape"], g.get("boundary", "reflecting"))
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"[grid]: {exc}") from None
    d = grid.ndim
    if d > 3:
        raise ProblemError(f"expressions use x, y, z: at most 3 axes, got {d}.")
    variables = _AXES[:d]
    constants = doc.get("constants", {})
    if not isinstance(constants, dict):
        raise ProblemError("`constants` must be a table of numbers ([constants]).")
    for k, v in constants.items():
        if k in _AXES or k in FUNCTIONS or k in _CONSTANTS:
            raise ProblemError(f"constant {k!r} shadows a variable, function or built-in constant; rename it.")
        if not k.isidentifier():
            raise ProblemError(f"constant name {k!r} is not an identifier.")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ProblemError(f"constant {k!r} must be a number, got {v!r}.")
    constants = {k: float(v) for k, v in constants.items()}

    if "loss" not in doc and "drift" not in doc:
        raise ProblemError("give a `loss` (expression) or a `drift` (one expression per axis), or both.")
    loss = Expression(doc["loss"], variables, constants, where="loss") if "loss" in doc else None
    drift = _drift(doc["drift"], d, variables, constants) if "drift" in doc else None
    if ("sigma" in doc) == ("cov" in doc):
        raise ProblemError("give exactly one of `sigma` (noise matrix) or `cov` (its covariance).")
    key = "sigma" if "sigma" in doc else "cov"
    noise = _noise(doc[key], d, variables, constants, key)
    convention = doc.get("convention", "ito")
    try:
        sde = fp.SDE(drift=drift, loss=loss, ndim=d, convention=convention, **{key: noise})
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"the SDE is not valid: {exc}") from None
    out = doc.get("output", {})
    stem = path.with_suffix("")
    method = doc.get("solver", {}).get("method", "auto")
    files = {}
    for key, default in (("npz", stem.with_suffix(".npz")), ("png", stem.with_suffix(".png"))):
        if key in out and not isinstance(out[key], str):
            raise ProblemError(f"[output] `{key}` must be a file name (a string), got {out[key]!r}.")
        files[key] = path.parent / out[key] if key in out else default  # relative to the file
    _check_suffixes(files["npz"], files["png"], "[output]")
    return {
        "sde": sde, "grid": grid, "title": str(doc.get("title", path.stem)),
        "npz": files["npz"], "png": files["png"], "method": method,
    }


def _figure_types() -> set[str]:
    from matplotlib.backend_bases import FigureCanvasBase

    return {f".{k}" for k in FigureCanvasBase.get_supported_filetypes()}


def _check_suffixes(npz: Path, png: Path, where: str) -> None:
    if npz.suffix != ".npz":
        raise ProblemError(f"{where}: the data file {str(npz)!r} must end in .npz.")
    if png.suffix.lower() not in _figure_types():
        raise ProblemError(
            f"{where}: the figure {str(png)!r} must end in a figure type matplotlib writes "
            f"({', '.join(sorted(_figure_types()))}), e.g. .png.")


# ================================================================ subcommands
def _fail(prog: str, msg: str) -> int:
    print(f"{prog}: error: {msg}", file=sys.stderr)
    return 2


def _outputs(args: argparse.Namespace, prob: dict[str, Any], tag: str) -> tuple[Path, Path]:
    """The data and figure paths of a command: ``--output PREFIX`` or the problem's
    ``[output]`` names (``tag`` inserted before the suffix, e.g. ``-evolve``). Refuses to
    overwrite existing files without ``--force``; creates the folders up front, so no
    file is written when one of them cannot be."""
    if args.output:
        npz, png = Path(args.output + tag + ".npz"), Path(args.output + tag + ".png")
    else:
        npz, png = prob["npz"], prob["png"]
        if tag:
            npz = npz.with_name(npz.stem + tag + npz.suffix)
            png = png.with_name(png.stem + tag + png.suffix)
    _check_suffixes(npz, png, "--output")
    for f in (npz, png):
        if f.is_dir():
            raise ProblemError(f"the output {str(f)!r} is a directory.")
        if f.exists() and not args.force:
            raise ProblemError(f"{str(f)!r} exists; pass --force to overwrite it, or --output "
                               "another prefix.")
    for f in (npz, png):
        try:
            f.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProblemError(f"cannot create the folder of {str(f)!r}: {exc.strerror or exc}.") from None
    return npz, png


def _cmd_evolve(args: argparse.Namespace) -> int:
    import fokkerplanck as fp

    from . import plotting

    prog = "fokkerplanck evolve"
    if not (math.isfinite(args.t_end) and args.t_end > 0):
        return _fail(prog, f"`--t-end` must be positive and finite, got {args.t_end}.")
    if args.times < 2:
        return _fail(prog, f"`--times` must be >= 2, got {args.times}.")
    try:
        prob = load_problem(args.problem)
        npz, png = _outputs(args, prob, "-evolve")
        grid = prob["grid"]
        if args.start:
            try:
                x = [float(v) for v in args.start.split(",")]
            except ValueError:
                raise ProblemError(f"`--start` must be {grid.ndim} comma-separated numbers, got {args.start!r}.") from None
            p0, start = fp.point_mass(grid, x), f"point mass at {x}"
        else:
            p0, start = fp.uniform(grid), "uniform"
        t = np.linspace(0.0, args.t_end, args.times)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", fp.FokkerPlanckWarning)
            ev = fp.evolve(prob["sde"], grid, p0, t)
        seconds = time.perf_counter() - t0
    except (ProblemError, ExpressionError, ValueError, TypeError) as exc:
        return _fail(prog, str(exc))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    arrays = {f"centers_{k}": c for k, c in enumerate(grid.centers)}
    np.savez(npz, t=ev.t, density=ev.density, mass=ev.mass, bounds=np.array(grid.bounds),
             shape=np.array(grid.shape), boundary=np.array(grid.boundary), **arrays)
    plotting.evolution(ev, title=f"{prob['title']}: {start} start", filename=png)
    print("| t | mass | mean |\n|---|---|---|")
    for k in range(len(ev.t)):
        m = ev.mass[k]
        mean = grid.mean(ev.density[k]) if m > 0 else np.full(grid.ndim, np.nan)
        print(f"| {ev.t[k]:.4g} | {m:.12f} | {np.array2string(mean, precision=4)} |")
    print(f"({ev.method}, {ev.n_steps} steps, {seconds:.3f} s)\nwrote {npz} and {png}")
    return 0


def _cmd_exit_time(args: argparse.Namespace) -> int:
    import fokkerplanck as fp

    from . import plotting

    prog = "fokkerplanck exit-time"
    try:
        prob = load_problem(args.problem)
        npz, png = _outputs(args, prob, "-exit-time")
        grid = prob["grid"]
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", fp.FokkerPlanckWarning)
            tau = fp.exit_time(prob["sde"], grid)
        seconds = time.perf_counter() - t0
    except (ProblemError, ExpressionError, ValueError, TypeError) as exc:
        return _fail(prog, str(exc))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    arrays = {f"centers_{k}": c for k, c in enumerate(grid.centers)}
    np.savez(npz, exit_time=tau, bounds=np.array(grid.bounds), shape=np.array(grid.shape),
             boundary=np.array(grid.boundary), **arrays)
    plotting.density(tau, grid, label="mean exit time", title=f"{prob['title']}: mean exit time",
                     filename=png)
    i = np.unravel_index(int(np.argmax(tau)), tau.shape)
    where = [float(c[j]) for c, j in zip(grid.centers, i)]
    print("| problem | grid | max exit time | at | mean over a uniform start | seconds |\n"
          "|---|---|---|---|---|---|")
    print(f"| {prob['title']} | {' x '.join(map(str, grid.shape))} | {float(tau.max()):.6g} | "
          f"{np.array2string(np.array(where), precision=4)} | {float(tau.mean()):.6g} | {seconds:.3f} |")
    print(f"wrote {npz} and {png}")
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    import fokkerplanck as fp

    from . import plotting

    prog = "fokkerplanck solve"
    if args.particles and not (args.dt > 0 and args.t_end >= args.dt and math.isfinite(args.t_end)):
        return _fail(prog, f"need 0 < --dt <= --t-end (finite) for the particles, got dt={args.dt}, "
                           f"t_end={args.t_end}.")
    try:
        prob = load_problem(args.problem)
        npz, png = _outputs(args, prob, "")
    except (ProblemError, ExpressionError) as exc:
        return _fail(prog, str(exc))
    grid, sde = prob["grid"], prob["sde"]
    method = args.method or prob["method"]
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", fp.FokkerPlanckWarning)
            res = fp.stationary(sde, grid, method=method)
    except (ValueError, TypeError) as exc:
        return _fail(prog, str(exc))
    seconds = time.perf_counter() - t0
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    arrays = {f"centers_{k}": c for k, c in enumerate(grid.centers)}
    np.savez(
        npz, density=res.density, bounds=np.array(grid.bounds), shape=np.array(grid.shape),
        boundary=np.array(grid.boundary), current=res.current(), **arrays,
    )
    if grid.ndim <= 2:
        if grid.ndim == 2:
            plotting.current(res, title=prob["title"], filename=png)
        else:
            plotting.density(res, title=prob["title"], filename=png)
    else:
        plotting.density(res, title=prob["title"], filename=png)
    mean = grid.mean(res.density)
    print(f"| problem | grid | method | residual | mass | mean | seconds |\n|---|---|---|---|---|---|---|\n"
          f"| {prob['title']} | {' x '.join(map(str, grid.shape))} | {res.method} | {res.residual:.2e} | "
          f"{grid.integrate(res.density):.12f} | {np.array2string(mean, precision=4)} | {seconds:.3f} |")
    print(f"wrote {npz} and {png}")
    if args.particles:
        return _solve_particles(args, res, png)
    return 0


def _solve_particles(args: argparse.Namespace, res: Any, png: Path) -> int:
    """Check a solved density against Euler–Maruyama particles started uniformly on the grid."""
    import fokkerplanck as fp

    from . import plotting

    prog = "fokkerplanck solve"
    grid = res.grid
    if args.particles < 100:
        return _fail(prog, f"`--particles` must be >= 100, got {args.particles}.")
    t0 = time.perf_counter()
    try:
        pt = fp.simulate(res.sde, fp.uniform(grid), args.t_end, dt=args.dt, grid=grid,
                         n=args.particles, rng=args.seed)
    except (ValueError, TypeError) as exc:
        return _fail(prog, str(exc))
    seconds = time.perf_counter() - t0
    cmp = fp.compare(res, pt)
    out = png.with_name(png.stem + "-particles" + png.suffix)
    plotting.compare(res, pt, comparison=cmp, filename=out,
                     title=f"grid density vs {pt.n} particles (uniform start, t = {args.t_end:g}, dt = {args.dt:g})")
    print()
    print("| particles | t_end | dt | particle L1 | noise floor | chi2 p | verdict | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {pt.n} | {args.t_end:g} | {args.dt:g} | {cmp.l1:.4f} | {cmp.noise_floor:.4f} | "
          f"{cmp.chi2_pvalue:.3g} | {'consistent' if cmp.consistent else 'INCONSISTENT'} | {seconds:.2f} |")
    print(f"wrote {out}")
    return 0


def _demo_loss(x: np.ndarray) -> np.ndarray:
    u, v = x[..., 0], x[..., 1]
    return (u**2 - 1) ** 2 / 4 + (v - 0.5 * u) ** 2 / 2


def _demo_grad(x: np.ndarray) -> np.ndarray:
    u, v = x[..., 0], x[..., 1]
    r = v - 0.5 * u
    return np.stack([u**3 - u - 0.5 * r, r], axis=-1)


def _cmd_demo(args: argparse.Namespace) -> int:
    import fokkerplanck as fp

    from . import plotting

    prog = "fokkerplanck demo"
    n = args.particles if args.particles is not None else (20_000 if args.quick else 100_000)
    shape = args.shape if args.shape is not None else (64 if args.quick else 160)
    if n < 100 or shape < 8:
        return _fail(prog, "`--particles` must be >= 100 and `--shape` >= 8.")
    sigma = 0.8
    T = sigma**2 / 2
    dt = 1e-2 if args.quick else 5e-3
    t_end = 5.0
    sde = fp.langevin(_demo_loss, sigma, grad=_demo_grad)
    grid = fp.Grid([(-3.0, 3.0), (-3.0, 3.0)], (shape, shape))
    print(f"Langevin dynamics dx = -grad L dt + {sigma} dB, L = (x^2-1)^2/4 + (y - x/2)^2/2 "
          f"(double well); exact density exp(-2L/sigma^2)/Z.", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
        res = fp.stationary(sde, grid)
    t_grid = time.perf_counter() - t0
    exact = fp.gibbs(grid, _demo_loss, T)
    l1_exact = float(grid.integrate(np.abs(res.density - exact)))
    rng = np.random.default_rng(args.seed)
    half = rng.standard_normal((n // 2, 2)) * 0.8
    x0 = np.clip(np.concatenate([half, -half]), -2.999, 2.999)
    t0 = time.perf_counter()
    print(f"grid {shape} x {shape} solved in {t_grid:.2f} s; simulating {n} particles to t = {t_end:g} "
          f"(dt = {dt:g}, {round(t_end / dt)} steps)", flush=True)
    pt = fp.simulate(sde, x0, t_end, dt=dt, grid=grid, rng=args.seed + 1, progress=not args.no_progress)
    t_part = time.perf_counter() - t0
    cmp = fp.compare(res, pt)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    plotting.compare(res, pt, exact=exact, comparison=cmp, filename=out,
                     title="fokkerplanck demo: 2-D double-well Langevin, grid vs Gibbs vs particles")
    print()
    print("| grid | grid L1 vs exact | particles | particle L1 | noise floor | chi2 p | verdict | grid s | particles s |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {shape} x {shape} ({res.method}) | {l1_exact:.2e} | {pt.n} (dt {dt:g}, t {t_end:g}) | "
          f"{cmp.l1:.4f} | {cmp.noise_floor:.4f} | {cmp.chi2_pvalue:.3g} | "
          f"{'consistent' if cmp.consistent else 'INCONSISTENT'} | {t_grid:.3f} | {t_part:.2f} |")
    print(f"\nwrote {out}: grid density (white contours) with the exact Gibbs density's contours "
          "dashed red; the particle histogram under the grid's contours; both marginals "
          "(grid line, particle steps, exact dashed).")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parents[1]
    if (root / "validation" / "runner.py").exists() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from validation.runner import main as run_main
    except ImportError:
        return _fail("fokkerplanck validate",
                     "the validation suite (validation/) is not importable; run from a source "
                     "checkout of fokkerplanck (it is not part of the installed package).")
    argv: list[str] = []
    if args.quick:
        argv.append("--quick")
    for c in args.case or []:
        argv += ["--case", c]
    if args.list:
        argv.append("--list")
    if args.outdir:
        argv += ["--outdir", args.outdir]
    return run_main(argv)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fokkerplanck",
        description="Densities of SDEs on a grid (Fokker-Planck), validated against particles.",
    )
    from ._util.version import __version__

    p.add_argument("--version", action="version", version=f"fokkerplanck {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{demo,validate,solve,evolve,exit-time}")
    d = sub.add_parser(
        "demo", help="solve a 2-D Langevin system, validate against particles, write a figure",
        description="Solve 2-D double-well Langevin dynamics on a grid, compare with the exact Gibbs "
                    "density and with Euler-Maruyama particles, write the comparison figure and "
                    "print a Markdown table.",
    )
    d.add_argument("--output", "-o", default="fokkerplanck-demo.png", help="figure path (default: %(default)s)")
    d.add_argument("--particles", type=int, default=None, help="number of particles (default 100000; 20000 with --quick)")
    d.add_argument("--shape", type=int, default=None, help="cells per axis (default 160; 64 with --quick)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    d.add_argument("--quick", action="store_true", help="fewer particles, coarser grid, larger time step")
    d.add_argument("--no-progress", action="store_true", help="no progress bar for the particle step")
    d.set_defaults(func=_cmd_demo)
    v = sub.add_parser(
        "validate", help="run the validation suite (python -m validation)",
        description="Run the validation suite and write validation-report/report.md with PNG figures.",
    )
    v.add_argument("--quick", action="store_true", help="reduced setting (< 2 minutes)")
    v.add_argument("--case", action="append", metavar="NAME", help="run one case (repeatable)")
    v.add_argument("--list", action="store_true", help="list the cases")
    v.add_argument("--outdir", default=None, help="report directory (default: validation-report)")
    v.set_defaults(func=_cmd_validate)
    s = _problem_command(
        sub, "solve", "stationary density of a problem given in a TOML file",
        "Read a problem (loss or drift and noise as expressions in x, y, z; grid "
        "bounds, shape, boundary) from a TOML file, solve for the stationary density, "
        "write it as .npz and a PNG. See `fokkerplanck.cli.load_problem` for the format.",
        "PREFIX.npz and PREFIX.png", _cmd_solve)
    s.add_argument("--method", default=None, help="null-vector method (auto, detailed_balance, lu, amg, eigs)")
    s.add_argument("--particles", type=int, default=0, metavar="N",
                   help="also run N Euler-Maruyama particles from a uniform start and compare (fp.compare)")
    s.add_argument("--t-end", type=float, default=10.0, help="particle simulation time (default: %(default)s); "
                   "make it several relaxation times")
    s.add_argument("--dt", type=float, default=5e-3, help="particle time step (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="particle random seed (default: %(default)s)")
    e = _problem_command(
        sub, "evolve", "evolve a density of a problem given in a TOML file",
        "Read a problem file (as for `solve`), evolve a uniform density (or a point "
        "mass, --start) to --t-end, write the densities at --times equally spaced "
        "times as .npz and a PNG, and print mass and mean.",
        "PREFIX-evolve.npz and .png", _cmd_evolve)
    e.add_argument("--t-end", type=float, required=True, help="final time")
    e.add_argument("--times", type=int, default=5, help="output times, from 0 to T (default: %(default)s)")
    e.add_argument("--start", default=None, metavar="X[,Y,Z]", help="start from a point mass there (default: uniform)")
    _problem_command(
        sub, "exit-time", "mean exit time through the absorbing walls of a problem's grid",
        "Read a problem file (as for `solve`; [grid] boundary must have an absorbing "
        "side), solve for the mean exit time from every cell, write it as .npz and a PNG.",
        "PREFIX-exit-time.npz and .png", _cmd_exit_time)
    return p


def _problem_command(sub: Any, name: str, summary: str, description: str, writes: str,
                     func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A subcommand on a TOML problem file: its ``problem``, ``--output`` and ``--force``."""
    c = sub.add_parser(name, help=summary, description=description)
    c.add_argument("problem", help="the problem file (.toml)")
    c.add_argument("--output", "-o", default=None, help=f"output prefix: writes {writes}")
    c.add_argument("--force", action="store_true", help="overwrite existing output files")
    c.set_defaults(func=func)
    return c


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fokkerplanck`` command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("agg")
    prog = f"fokkerplanck {args.command}"
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (ProblemError, ExpressionError, ValueError, TypeError, OSError, MemoryError) as exc:
        # the last line of defence: a message and exit code 2, never a traceback
        return _fail(prog, f"{exc}" if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
