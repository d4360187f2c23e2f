"""The ``fokkerplanck`` command: demo, solve from TOML, validate, and clear errors
(exit code 2) for bad problem files and unsafe expressions."""

import textwrap

import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck.cli import Expression, ExpressionError, main

GOOD = """
title = "tilted double well"
loss = "(x**2 - 1)**2 / 4 + (y - a*x)**2 / 2"
sigma = 0.8
[constants]
a = 0.5
[grid]
bounds = [[-3, 3], [-3, 3]]
shape = [48, 40]
"""


def _write(tmp_path, text, name="p.toml"):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text))
    return f


def test_help_for_every_command(capsys):
    assert main(["--help"]) == 0
    for cmd in ("demo", "validate", "solve", "evolve", "exit-time"):
        assert main([cmd, "--help"]) == 0
        assert f"fokkerplanck {cmd}" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["frobnicate"]) == 2


def test_demo_quick(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--quick", "--particles", "4000", "--shape", "40", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| grid L1 vs exact | particles | particle L1 | noise floor | chi2 p | verdict |" in text
    assert "consistent" in text
    assert out.stat().st_size > 10_000


def test_solve_matches_gibbs(tmp_path, capsys):
    f = _write(tmp_path, GOOD)
    assert main(["solve", str(f)]) == 0
    assert "wrote" in capsys.readouterr().out
    data = np.load(tmp_path / "p.npz")
    grid = fp.Grid([(-3, 3), (-3, 3)], (48, 40))
    L = lambda x: (x[..., 0] ** 2 - 1) ** 2 / 4 + (x[..., 1] - 0.5 * x[..., 0]) ** 2 / 2  # noqa: E731
    assert np.abs(data["density"] - fp.gibbs(grid, L, 0.32)).max() < 1e-10
    assert np.allclose(data["centers_1"], grid.centers[1])
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_solve_state_dependent_stratonovich_1d(tmp_path, capsys):
    f = _write(tmp_path, """
        drift = "-x"
        sigma = "sqrt((1 + x**2) / 2)"
        convention = "stratonovich"
        [grid]
        bounds = [-12, 12]
        shape = 400
        [output]
        npz = "s.npz"
        png = "s.png"
    """)
    # output paths in the file are relative to the file's folder, not the working directory
    assert main(["solve", str(f)]) == 0
    d = np.load(tmp_path / "s.npz")
    x, p = d["centers_0"], d["density"]
    assert abs((p * x**2).sum() * (x[1] - x[0]) - 0.4948) < 1e-3  # E x^2 = 1/2 less the tails


def test_solve_output_prefix_and_matrix_noise(tmp_path):
    f = _write(tmp_path, """
        drift = ["-x + y", "-4*y"]
        cov = [[1, 0.5], [0.5, "1 + 0*x"]]
        [grid]
        bounds = [[-4, 4], [-3, 3]]
        shape = 30
        boundary = ["reflecting", "periodic"]
    """)
    assert main(["solve", str(f), "-o", str(tmp_path / "out" / "r")]) == 0
    assert (tmp_path / "out" / "r.npz").exists() and (tmp_path / "out" / "r.png").exists()


@pytest.mark.parametrize(
    "line, message",
    [
        ('loss = "__import__(\'os\').system(\'echo hacked\')"', "whitelisted functions"),
        ('loss = "x.real"', "attribute access"),
        ('loss = "(lambda: 1)()"', "whitelisted functions"),
        ('loss = "lambda: 1"', "lambda"),
        ('loss = "x[0]"', "subscripts"),
        ('loss = "x**"', "not a valid expression"),
        ('loss = "x**2 + q"', "unknown variable 'q'"),
        ('loss = "x**2 + z"', "unknown variable 'z'"),
        ('loss = "exp(x, out=x)"', "keyword arguments"),
        ('loss = "\'abc\'"', "not a number"),
        ('loss = "x if y else 1"', "IfExp is not allowed"),
        ('loss = "[x for x in ()]"', "ListComp is not allowed"),
        ('loss = "x < 1"', "Compare is not allowed"),
        ('loss = "sin"', "must be called"),
        ('loss = "open(x)"', "unknown or forbidden function 'open'"),
    ],
)
def test_unsafe_or_bad_expression_exit_2(tmp_path, capsys, line, message):
    f = _write(tmp_path, f"{line}\nsigma = 1\n[grid]\nbounds = [[-3, 3], [-3, 3]]\nshape = 20\n")
    assert main(["solve", str(f)]) == 2
    err = capsys.readouterr().err
    assert "fokkerplanck solve: error:" in err and message in err
    assert not (tmp_path / "p.npz").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD + "foo = 1\n", "unknown key 'foo'"),
        (GOOD.replace("shape = [48, 40]", "shape = [48, 40]\ncells = 3"), "unknown key 'cells' in [grid]"),
        (GOOD.replace("[constants]", "[output]\nnpz = 'a.npz'\nformat = 'x'\n[constants]"), "unknown key 'format'"),
        (GOOD.replace("sigma = 0.8", ""), "exactly one of `sigma`"),
        (GOOD.replace('loss = "(x**2 - 1)**2 / 4 + (y - a*x)**2 / 2"', ""), "give a `loss`"),
        (GOOD.replace("[grid]", "[grd]"), "unknown key 'grd'"),
        (GOOD.replace("bounds = [[-3, 3], [-3, 3]]", "bounds = [[3, -3], [-3, 3]]"), "lo < hi"),
        (GOOD.replace("a = 0.5", "a = 'half'"), "must be a number"),
        (GOOD.replace("a = 0.5", "x = 0.5"), "shadows"),
        (GOOD.replace("sigma = 0.8", 'drift = ["-x"]\nsigma = 0.8'), "one expression per axis"),
        (GOOD.replace("sigma = 0.8", "sigma = [1, 2, 3]"), "per-axis list needs 2"),
        ("loss = = 1", "not valid TOML"),
        (GOOD.replace("sigma = 0.8", 'sigma = 0.8\nconvention = "weird"'), "convention"),
    ],
)
def test_bad_problem_file_exit_2(tmp_path, capsys, text, message):
    f = _write(tmp_path, text)
    assert main(["solve", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_solve_with_particles(tmp_path, capsys):
    f = _write(tmp_path, GOOD)
    assert main(["solve", str(f), "--particles", "3000", "--t-end", "3", "--dt", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "| particles | t_end | dt | particle L1 | noise floor | chi2 p | verdict |" in out
    assert (tmp_path / "p-particles.png").exists()
    assert main(["solve", str(f), "--particles", "3000", "--dt", "-1"]) == 2
    assert "--dt" in capsys.readouterr().err


def test_missing_file_exit_2(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_expression_evaluator_values():
    f = Expression("a * sin(x) ** 2 + sqrt(abs(y)) - -pi % 2", ["x", "y"], {"a": 2.0})
    pts = np.array([[0.3, -4.0], [1.0, 9.0]])
    want = 2 * np.sin(pts[:, 0]) ** 2 + np.sqrt(np.abs(pts[:, 1])) - (-np.pi % 2)
    assert np.allclose(f(pts), want)
    assert Expression("2 * pi", ["x"]).is_constant
    assert Expression("3", ["x"])(np.zeros((4, 1))).shape == (4,)
    with pytest.raises(ExpressionError):
        Expression("x" * 3000, ["x"])
    with pytest.raises(ExpressionError):
        Expression(True, ["x"])


def test_validate_list(capsys):
    assert main(["validate", "--list"]) == 0
    assert "diffusion_flow_alpha" in capsys.readouterr().out


# ------------------------------------------------------------ issue 16: CLI hardening
def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fokkerplanck {fp.__version__}"


@pytest.mark.parametrize("text, message", [
    ("-x + 0*sin(x, x)", "sin() takes 1 argument, got 2"),
    ("maximum(x, x, x)", "maximum() takes 2 arguments, got 3"),
    ("x^4", "write ** (x**4, not x^4)"),
    ("exp(" * 80 + "x" + ")" * 80, "nested|too many"),
    ("-" * 1500 + "x", "nested"),
])
def test_expression_refuses_out_arguments_xor_and_deep_nesting(text, message):
    import re

    with pytest.raises(ExpressionError, match=message if "|" in message else re.escape(message)):
        Expression(text, ["x"])


def test_out_argument_cannot_write_into_the_points():
    pts = np.array([[1.0], [2.0]])
    with pytest.raises(ExpressionError):
        Expression("-x + 0*sin(x, x)", ["x"])(pts)
    np.testing.assert_array_equal(pts, [[1.0], [2.0]])


@pytest.mark.parametrize("line, message", [
    ('loss = "9**9**9"', r"is not finite \(inf\)"),
    ('loss = "1/0 + x"', r"is not finite \(inf\)"),
    ('loss = "log(x)"', "is not finite"),
    ('drift = ["-x", "y / 0"]', r"drift\[1\]"),
    ('loss = "' + "sin(" * 80 + "x" + ")" * 80 + '"', r"nested \d+ levels deep, more than 60"),
])
def test_overflow_division_and_nesting_exit_2_without_traceback(tmp_path, capsys, line, message):
    import re

    f = _write(tmp_path, f"{line}\nsigma = 1\n[grid]\nbounds = [[-3, 3], [-3, 3]]\nshape = 20\n")
    assert main(["solve", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fokkerplanck solve: error:") and re.search(message, err), err
    assert "Traceback" not in err


def test_binary_or_directory_problem_file_exit_2(tmp_path, capsys):
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["solve", str(binary)]) == 2
    assert "not a text (UTF-8) TOML file" in capsys.readouterr().err
    assert main(["solve", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_output_paths_resolve_against_the_problem_file_and_are_not_overwritten(tmp_path, capsys, monkeypatch):
    sub = tmp_path / "problems"
    sub.mkdir()
    f = _write(sub, GOOD + '[output]\nnpz = "res/d.npz"\npng = "figs/d.png"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["solve", str(f)]) == 0
    assert (sub / "res" / "d.npz").exists() and (sub / "figs" / "d.png").exists()
    assert not (tmp_path / "res").exists()
    stamp = (sub / "res" / "d.npz").stat().st_mtime_ns
    assert main(["solve", str(f)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (sub / "res" / "d.npz").stat().st_mtime_ns == stamp
    assert main(["solve", str(f), "--force"]) == 0


@pytest.mark.parametrize("output, message", [
    ('png = "x.txt"', "must end in a figure type"),
    ('npz = "x.csv"', "must end in .npz"),
    ("npz = 3", "must be a file name"),
])
def test_bad_output_names_exit_2_before_anything_is_written(tmp_path, capsys, output, message):
    f = _write(tmp_path, GOOD + f"[output]\n{output}\n")
    assert main(["solve", str(f)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [f]


def test_unwritable_png_folder_fails_before_the_npz_is_written(tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file where the png folder should be")
    f = _write(tmp_path, GOOD + '[output]\nnpz = "d.npz"\npng = "blocker/d.png"\n')
    assert main(["solve", str(f)]) == 2
    assert "cannot create the folder" in capsys.readouterr().err
    assert not (tmp_path / "d.npz").exists()


BROWNIAN_BOX = """
title = "Brownian motion in an absorbing box"
drift = "0"
sigma = 1
[grid]
bounds = [0, 1]
shape = 200
boundary = "absorbing"
"""


def test_exit_time_command_matches_the_closed_form(tmp_path, capsys):
    f = _write(tmp_path, BROWNIAN_BOX)
    assert main(["exit-time", str(f)]) == 0
    assert "max exit time" in capsys.readouterr().out
    d = np.load(tmp_path / "p-exit-time.npz")
    x = d["centers_0"]
    np.testing.assert_allclose(d["exit_time"], x * (1 - x), atol=2e-5)   # tau = x (1 - x) / sigma^2
    assert (tmp_path / "p-exit-time.png").stat().st_size > 5_000
    reflecting = _write(tmp_path, BROWNIAN_BOX.replace('"absorbing"', '"reflecting"'), "r.toml")
    assert main(["exit-time", str(reflecting)]) == 2
    assert "absorbing" in capsys.readouterr().err


def test_evolve_command_matches_the_heat_kernel_mass(tmp_path, capsys):
    f = _write(tmp_path, BROWNIAN_BOX)
    assert main(["evolve", str(f), "--t-end", "0.2", "--times", "3", "--start", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "| t | mass | mean |" in out
    d = np.load(tmp_path / "p-evolve.npz")
    assert d["density"].shape == (3, 200) and np.allclose(d["t"], [0, 0.1, 0.2])
    # survival of Brownian motion from the middle of [0, 1] (sigma = 1): the sine series
    k = np.arange(1, 400, 2)
    surv = (4 / np.pi * np.sin(k * np.pi / 2) / k * np.exp(-(k * np.pi) ** 2 * 0.2 / 2)).sum()
    assert abs(d["mass"][-1] - surv) < 2e-3
    assert main(["evolve", str(f), "--t-end", "-1"]) == 2
    assert main(["evolve", str(f), "--t-end", "1", "--start", "a,b"]) == 2
