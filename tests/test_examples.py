"""Every example runs as a user runs it (smoke tests), with its figures checked."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name, out_dir, timeout=60):
    env = dict(os.environ, ADC_GENERATED=str(out_dir), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_seed_backprop(out_dir):
    assert "grad f(1, 2, 0) = (2.0, 5.0, 0.0)" in run_example(
        "seed_backprop.py", out_dir
    )


def test_seed_nn(out_dir):
    assert "matches delta x^T and delta: True" in run_example("seed_nn.py", out_dir)


def test_logistic_regression_matches_scikit_learn(out_dir):
    pytest.importorskip("sklearn")
    text = run_example("logistic_regression.py", out_dir)
    ours = float(text.split("loss ")[1].split(",")[0])
    theirs = float(text.split("scikit-learn's solution: loss ")[1].split(",")[0])
    assert ours <= theirs + 1e-9
    assert float(text.split("gradient norm at the optimum ")[1].split()[0]) < 1e-4
