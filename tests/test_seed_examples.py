"""The two examples of the notes, as the end-to-end issue states them."""

import inspect
import re

import numpy as np
import pytest

from adcompiler import grad, value_and_grad


def f(x, y, z):
    return (x + y) * max(y, z)


def score(W, x, b, u):
    return u @ np.tanh(W @ x + b)


def test_backprop_example(out_dir):
    assert grad(f, argnums=(0, 1, 2))(1.0, 2.0, 0.0) == (2.0, 5.0, 0.0)


def test_backprop_example_single_argnum(out_dir):
    assert grad(f)(1.0, 2.0, 0.0) == 2.0
    assert grad(f, argnums=1)(1.0, 2.0, 0.0) == 5.0


@pytest.mark.parametrize("n", [3, 100, 200])  # 200: d_W by einsum (40000 entries)
def test_network_gradient_is_shared_delta(out_dir, rng, n):
    W, x, b, u = (
        rng.normal(size=(n, n)),
        rng.normal(size=n),
        rng.normal(size=n),
        rng.normal(size=n),
    )
    d_W, d_b = grad(score, argnums=(0, 2))(W, x, b, u)
    delta = u * (1 - np.tanh(W @ x + b) ** 2)
    np.testing.assert_allclose(d_W, np.outer(delta, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(d_b, delta, rtol=0, atol=1e-12)
    assert d_W.shape == W.shape and d_b.shape == b.shape


def test_network_generated_code_shape(out_dir):
    source = inspect.getsource(grad(score, argnums=(0, 2)))
    assert source.count("np.tanh") == 1
    assert (
        "ones_like" not in source and "np.diag" not in source and "zeros" not in source
    )
    # δ is formed once and read by both d_W and d_b
    delta_lines = [line for line in source.splitlines() if "1.0 - " in line]
    assert len(delta_lines) == 1
    delta = delta_lines[0].split("=")[0].strip()
    assert any(
        line.strip().startswith("d_b =") and delta in line
        for line in source.splitlines()
    )
    assert any(
        line.strip().startswith("d_W =") and "d_" in line
        for line in source.splitlines()
    )


def test_generated_function_is_real(out_dir):
    g = grad(score, argnums=(0, 2))
    assert inspect.getfile(g).startswith(str(out_dir))
    assert inspect.getsource(g).startswith("def grad_score(W, x, b, u):")
    text = open(inspect.getfile(g)).read()
    assert "import numpy as np" in text
    imports = [
        line for line in text.splitlines() if line.startswith(("import", "from"))
    ]
    assert imports == ["import numpy as np"]


def test_value_and_grad(out_dir, rng):
    W, x, b, u = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=4),
    )
    value, (_, d_b) = value_and_grad(score, argnums=(0, 2))(W, x, b, u)
    assert value == pytest.approx(score(W, x, b, u))
    np.testing.assert_allclose(d_b, grad(score, argnums=2)(W, x, b, u))


def test_decorator_forms(out_dir):
    @grad
    def square(x):
        return x * x

    @grad(argnums=(0, 1))
    def prod(x, y):
        return x * y

    assert square(3.0) == 6.0
    assert prod(2.0, 5.0) == (5.0, 2.0)


def test_non_scalar_output_raises(out_dir, rng):
    g = grad(score, argnums=0)
    with pytest.raises(TypeError, match="scalar output"):
        g(np.ones((3, 3)), np.ones(3), np.ones(3), np.ones((2, 3)))


def test_score_is_checked_on_its_operands_not_computed(out_dir, rng, monkeypatch):
    """grad needs the score to be a scalar but not its value: `u @ h` is a scalar
    exactly when u and h are vectors of one length, which is checked instead."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # dead-code elimination on
    g = grad(score, argnums=0)
    source = inspect.getsource(g)
    assert "u @ " not in source.split("raise")[0]  # only in the error message
    # np.tanh(...) is a NumPy array: its own shape and rank, without a call
    assert re.search(
        r"if np.asarray\(u\).shape != (\w+).shape or \1.ndim != 1:", source
    )
    W, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    with pytest.raises(TypeError, match=r"scalar output, got shape \(2,\)"):
        g(W, x, np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match="matmul"):  # what score itself raises
        g(W, x, np.ones(3), np.ones(1))
    with pytest.raises(ValueError, match="matmul"):
        score(W, x, np.ones(3), np.ones(1))
    # u as a list is a vector too, as in score itself
    np.testing.assert_allclose(
        g(W, x, np.ones(3), [1.0, 2.0, 3.0]), g(W, x, np.ones(3), np.arange(1.0, 4))
    )
