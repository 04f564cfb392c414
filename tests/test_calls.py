"""Calls to the user's own functions, nested defs and closures."""

import numpy as np
import pytest
from adcheck import check
from user_helpers import layer

from adcompiler import ADCompileError, grad

W = np.array([[0.2, -0.5, 0.1], [0.4, 0.3, -0.2]])
X = np.array([0.5, -0.2, 0.3])
B = np.array([0.1, -0.1])


def square_sum(v, scale=1.0):
    return scale * np.sum(v * v)


def twice(v):
    return square_sum(v) + square_sum(v * 2.0, scale=0.5)


def uses_helper(W, x, b):
    h = layer(W, x, b)
    z = layer(W, x, b, act=False)
    return square_sum(h) + twice(z)


def pair(v):
    return np.sin(v), np.cos(v)


def tuple_return(x):
    s, c = pair(x)
    return np.sum(s * c)


def nested_def(x, w):
    def inner(v):
        return np.tanh(v * w)

    return np.sum(inner(x) + inner(x * x))


def make_loss(M, c):
    def loss(x):
        return np.sum((M @ x - c) ** 2) + np.sum(M)

    return loss


def recursive(x, n):
    if n == 0:
        return np.sum(x)
    return recursive(x * 2.0, n - 1)


def test_helpers(out_dir):
    check(uses_helper, W, X, B, argnums=(0, 1, 2))
    check(tuple_return, X)
    check(nested_def, X, 0.7, argnums=(0, 1))


def test_helper_code_is_inlined(out_dir):
    source = check(uses_helper, W, X, B, argnums=(0, 2))
    assert "layer(" not in source and "affine(" not in source
    assert source.count("np.tanh(") == 1


def test_closure_over_arrays_is_constant(out_dir):
    loss = make_loss(W, B)
    source = check(loss, X)
    assert "*, M, c" in source


def test_helper_edit_changes_the_hash(out_dir):
    from adcompiler.frontend import dependency_text

    assert "def layer" in dependency_text(uses_helper)
    assert "def affine" in dependency_text(uses_helper)


def test_recursion_is_reported(out_dir):
    with pytest.raises(ADCompileError, match="test_calls.py:.*recursive"):
        grad(recursive)(X, 2)
