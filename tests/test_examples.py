"""Every example runs as a user runs it (smoke tests), with its figures checked."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import numeric_grad

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


def load_example(name):
    """Import examples/<name>.py as a module (its `grad` calls compile into out_dir)."""
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", ROOT / "examples" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_dict_grad(loss, grads, params, args):
    for key, value in params.items():

        def f(leaf, key=key):
            return loss({**params, key: leaf}, *args)

        expected = numeric_grad(f, [value], 0)
        assert grads[key].shape == value.shape, key
        np.testing.assert_allclose(grads[key], expected, rtol=1e-6, atol=1e-8)


def test_mlp_digits_gradient_matches_finite_differences(out_dir, rng):
    pytest.importorskip("sklearn")
    mlp = load_example("mlp_digits")
    params = mlp.init_params(rng, n_in=5, n_hidden=4, n_out=3)
    params = {k: v + rng.normal(size=v.shape) * 0.1 for k, v in params.items()}
    X = rng.normal(size=(6, 5))
    Y = np.eye(3)[rng.integers(0, 3, size=6)]
    grads = mlp.grad_loss(params, X, Y)
    assert set(grads) == set(params)
    check_dict_grad(mlp.loss, grads, params, (X, Y))
    # and the textbook form: d_z = (softmax(z) - Y) / n
    h = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    z = h @ params["W2"] + params["b2"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    d_z = (p / p.sum(axis=1, keepdims=True) - Y) / len(X)
    np.testing.assert_allclose(grads["W2"], h.T @ d_z, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["b2"], d_z.sum(axis=0), rtol=1e-10, atol=1e-14)


def test_char_rnn_gradient_matches_finite_differences(out_dir, rng):
    rnn = load_example("char_rnn")
    vocab, hidden, steps = 4, 3, 5
    params = rnn.init_params(rng, vocab, hidden)
    params = {k: v + rng.normal(size=v.shape) * 0.5 for k, v in params.items()}
    ids = rng.integers(0, vocab, size=steps + 1)
    xs, targets = np.eye(vocab)[ids[:-1]], ids[1:]
    h0 = rng.normal(size=hidden) * 0.1
    value, grads = rnn.loss_and_grad(params, xs, targets, h0)
    np.testing.assert_allclose(value, rnn.loss(params, xs, targets, h0), rtol=1e-12)
    assert set(grads) == set(params)
    check_dict_grad(rnn.loss, grads, params, (xs, targets, h0))


def test_mlp_digits_reaches_95_percent(out_dir):
    pytest.importorskip("sklearn")
    text = run_example("mlp_digits.py", out_dir, timeout=30)
    epochs = [line for line in text.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 30 and "test accuracy" in epochs[0]
    assert float(text.split("final test accuracy ")[1].split()[0]) >= 0.95


def test_char_rnn_loss_goes_down(out_dir):
    text = run_example("char_rnn.py", out_dir, timeout=30)
    curve = [
        float(line.split("loss per character ")[1].split()[0])
        for line in text.splitlines()
        if line.startswith("step")
    ]
    assert len(curve) >= 5
    summary = text.split("loss per character: initial ")[1]
    initial = float(summary.split(",")[0])
    final = float(summary.split("steps) ")[1].split()[0])
    assert initial == curve[0] and final == curve[-1]
    assert final < 0.8 * initial
