"""`adc compile`, `adc check`, `adc show`, `adc ir`, and `python -m adcompiler`."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adcompiler import cli

ROOT = Path(__file__).resolve().parent.parent

GOOD = textwrap.dedent("""\
    import numpy as np

    from adcompiler import grad, value_and_grad


    def score(W, x, b, u):
        z = W @ x + b
        h = np.tanh(z)
        return u @ h


    grad_score = grad(score, argnums=(0, 2))
    vg_score = value_and_grad(score)
    """)

MIXED = textwrap.dedent("""\
    import numpy as np

    from adcompiler import grad


    @grad
    def first(x):
        return np.sum(x * x)


    @grad
    def broken(x):
        return np.sum({v for v in x})


    @grad
    def last(x):
        return np.sum(np.exp(x))
    """)


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "nets.py").write_text(GOOD)
    return src


def adc(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_writes_one_module_per_function(project, tmp_path, capsys):
    out = tmp_path / "gen"
    code, stdout, err = adc(capsys, "compile", project, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.glob("*.py")) == [
        "nets__grad_score__W_b.py",
        "nets__value_and_grad_score__W.py",
    ]
    assert stdout.count("compiled: ") == 2
    assert (
        stdout.splitlines()[-1] == "2 function(s): 2 compiled, 0 up to date, 0 failed"
    )
    code, stdout, _ = adc(capsys, "compile", project / "nets.py", "--out", out)
    assert code == 0 and stdout.count("up to date: ") == 2


def test_compile_force_regenerates_up_to_date_modules(project, tmp_path, capsys):
    """After a change to the compiler itself (the cache key holds its version, not
    its code), `--force` rewrites modules that are up to date."""
    out = tmp_path / "gen"
    adc(capsys, "compile", project, "--out", out)
    module = out / "nets__grad_score__W_b.py"
    before = module.read_text()
    code, stdout, _ = adc(capsys, "compile", project, "--out", out)
    assert stdout.count("up to date: ") == 2
    code, stdout, err = adc(capsys, "compile", project, "--out", out, "--force")
    assert code == 0, err
    assert stdout.count("compiled: ") == 2 and "up to date:" not in stdout
    assert module.read_text() == before
    code, _, _ = adc(capsys, "check", project, "--out", out)
    assert code == 0


def test_one_bad_function_among_good_ones(tmp_path, capsys):
    (tmp_path / "mixed.py").write_text(MIXED)
    out = tmp_path / "gen"
    code, stdout, err = adc(capsys, "compile", tmp_path / "mixed.py", "--out", out)
    assert code == 1
    assert sorted(p.name for p in out.glob("*.py")) == [
        "mixed__grad_first__x.py",
        "mixed__grad_last__x.py",
    ]
    assert f"{tmp_path / 'mixed.py'}:13:19: error: a set comprehension" in err
    assert "2 compiled, 0 up to date, 1 failed" in stdout


def test_file_that_fails_to_import_is_reported(tmp_path, capsys):
    (tmp_path / "oops.py").write_text("import no_such_module_here\n")
    (tmp_path / "fine.py").write_text(GOOD)
    code, stdout, err = adc(capsys, "compile", tmp_path, "--out", tmp_path / "gen")
    assert code == 1
    assert "oops.py: error: the file failed to import: ModuleNotFoundError" in err
    assert "2 compiled" in stdout


def test_missing_path_is_an_error(tmp_path, capsys):
    code, _, err = adc(capsys, "compile", tmp_path / "nope.py")
    assert code == 2 and "no such file or folder" in err


def test_check_up_to_date(project, tmp_path, capsys):
    out = tmp_path / "gen"
    adc(capsys, "compile", project, "--out", out)
    code, stdout, _ = adc(capsys, "check", project, "--out", out)
    assert code == 0 and "2 generated module(s) up to date" in stdout


def test_check_missing_writes_nothing(project, tmp_path, capsys):
    out = tmp_path / "gen"
    code, stdout, _ = adc(capsys, "check", project, "--out", out)
    assert code == 1
    assert f"{out / 'nets__grad_score__W_b.py'}: missing" in stdout
    assert not out.exists()


def test_check_stale_origin(project, tmp_path, capsys):
    out = tmp_path / "gen"
    adc(capsys, "compile", project, "--out", out)
    nets = project / "nets.py"
    nets.write_text(nets.read_text().replace("np.tanh(z)", "np.tanh(2 * z)"))
    before = {p: p.stat().st_mtime_ns for p in out.glob("*.py")}
    code, stdout, _ = adc(capsys, "check", project, "--out", out)
    assert code == 1
    assert stdout.count("stale: origin source changed") == 2
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.py")} == before


def test_check_stale_compiler_version(project, tmp_path, capsys):
    out = tmp_path / "gen"
    adc(capsys, "compile", project, "--out", out)
    path = out / "nets__grad_score__W_b.py"
    path.write_text(path.read_text().replace("# adcompiler: ", "# adcompiler: 0.0.", 1))
    code, stdout, _ = adc(capsys, "check", project, "--out", out)
    assert code == 1 and f"{path}: stale: compiled by adcompiler 0.0." in stdout


def test_check_edited_by_hand(project, tmp_path, capsys):
    out = tmp_path / "gen"
    adc(capsys, "compile", project, "--out", out)
    path = out / "nets__value_and_grad_score__W.py"
    path.write_text(path.read_text() + "# a note\n")
    code, stdout, _ = adc(capsys, "check", project, "--out", out)
    assert code == 1 and f"{path}: edited: edited by hand" in stdout
    assert "nets__grad_score__W_b.py" not in stdout


def test_check_after_a_function_failed_to_compile(tmp_path, capsys):
    (tmp_path / "mixed.py").write_text(MIXED)
    out = tmp_path / "gen"
    adc(capsys, "compile", tmp_path, "--out", out)
    code, stdout, _ = adc(capsys, "check", tmp_path, "--out", out)
    assert code == 1
    assert stdout.splitlines() == [
        f"{out / 'mixed__grad_broken__x.py'}: missing: no generated module "
        f"(for mixed.py:11 broken)",
        "1 of 3 generated module(s) need `adc compile`",
    ]


def test_show_prints_the_generated_code(project, tmp_path, capsys):
    out = tmp_path / "gen"
    code, stdout, _ = adc(capsys, "show", f"{project / 'nets.py'}::score", "--out", out)
    assert code == 0
    assert "def grad_score(W, x, b, u):" in stdout
    assert "def value_and_grad_score(W, x, b, u):" in stdout
    assert "is missing" in stdout and not out.exists()  # shown, not written
    adc(capsys, "compile", project, "--out", out)
    code, stdout, _ = adc(
        capsys, "show", f"{project / 'nets.py'}::grad_score", "--out", out
    )
    assert stdout == (out / "nets__grad_score__W_b.py").read_text()


def test_show_unknown_function(project, capsys):
    with pytest.raises(SystemExit, match="no function 'nope'.*marked: score"):
        cli.main(["show", f"{project / 'nets.py'}::nope"])
    with pytest.raises(SystemExit, match="FILE::FUNC"):
        cli.main(["show", "nets.py"])


def test_show_a_failing_function(tmp_path, capsys):
    (tmp_path / "mixed.py").write_text(MIXED)
    code, _, err = adc(capsys, "show", f"{tmp_path / 'mixed.py'}::broken")
    assert code == 1 and "error: a set comprehension" in err


def test_ir_prints_before_and_after(project, capsys):
    code, stdout, _ = adc(capsys, "ir", f"{project / 'nets.py'}::grad_score")
    assert code == 0
    before, after = stdout.split("the adjoint")
    assert (
        "SSA IR before differentiation" in before and "def score(W, x, b, u):" in before
    )
    assert "h = tanh(z)" in before and "d_z" not in before
    assert "def grad_score(W, x, b, u):" in after and "d_z" in after
    assert "return d_W, d_b" in after


def test_python_dash_m_works_the_same(project, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "gen"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "adcompiler",
            "compile",
            str(project),
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "2 function(s): 2 compiled" in run.stdout
    check = subprocess.run(
        [sys.executable, "-m", "adcompiler", "check", str(project), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_committed_generated_folder_is_current(capsys, monkeypatch):
    """What CI runs: `adc check examples --out generated` (committed with every pass on)."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    os.chdir(ROOT)
    code, stdout, err = adc(capsys, "check", "examples", "--out", "generated")
    assert code == 0, stdout + err


def test_examples_compile_without_the_examples_extra():
    """The README's first command installs only the package: scikit-learn and SciPy
    are imported where the examples use them, not when `adc` imports the files."""
    code = (
        "import sys; sys.modules['sklearn'] = sys.modules['scipy'] = None\n"
        "from adcompiler.cli import main\n"
        "sys.exit(main(['check', 'examples', '--out', 'generated']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ADC_PASSES_OFF"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
