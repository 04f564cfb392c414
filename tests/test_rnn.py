"""A vanilla RNN in a Python loop against hand-written backpropagation through time."""

import inspect

import numpy as np
import pytest
from adcheck import check, code_of

from adcompiler import grad


def rnn_loss(W, U, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h**2)


def bptt(W, U, b, h0, xs):
    """Backpropagation through time, by hand."""
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(W @ hs[-1] + U @ xs[t] + b))
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dh = 2.0 * hs[-1]
    for t in reversed(range(xs.shape[0])):
        dz = dh * (1.0 - hs[t + 1] ** 2)
        dW += np.outer(dz, hs[t])
        dU += np.outer(dz, xs[t])
        db += dz
        dh = W.T @ dz
    return dW, dU, db, dh


def problem(T, hidden=8, inputs=5, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)
    U = rng.normal(size=(hidden, inputs)) / np.sqrt(inputs)
    b = rng.normal(size=hidden) * 0.1
    h0 = rng.normal(size=hidden) * 0.1
    xs = rng.normal(size=(T, inputs))
    return W, U, b, h0, xs


@pytest.mark.parametrize("T", [1, 5, 50])
def test_rnn_matches_bptt(out_dir, T):
    args = problem(T)
    got = grad(rnn_loss, argnums=(0, 1, 2, 3))(*args)
    want = bptt(*args)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-10)


def test_rnn_gradient_is_a_reversed_loop(out_dir):
    source = inspect.getsource(grad(rnn_loss, argnums=(0, 1, 2, 3)))
    assert "for t in range(" in source
    assert "for t in reversed(range(" in source
    assert source.count("np.tanh(") == 1
    assert source.count("tape.pop()") == 1


def test_generic_rnn_computes_tanh_derivative_for_all_trips_at_once(
    out_dir, monkeypatch
):
    # shapes unknown: the trips' h are stacked at run time (`_stack_trips`)
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    code = code_of(grad(rnn_loss, argnums=(0, 1, 2, 3)))
    assert "H_1 = _stack_trips(h_1_trips)" in code
    assert "1.0 - H_1 * H_1" in code and "1.0 - h_1 * h_1" not in code
    for T in (0, 1, 3):
        args = problem(T)
        got = grad(rnn_loss, argnums=(0, 1, 2, 3))(*args)
        for g, w in zip(got, bptt(*args)):
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-10)


def grow(x, v, s):
    h = x
    for _t in range(2):
        h = np.tanh(np.outer(h, v) * s)  # (2,), then (2, 3), then (6, 3)
    return np.sum(h * h)


def scalar_loop(x, w):
    for _t in range(4):
        x = np.tanh(x * w) * 2.0
    return x


def test_trips_of_different_shapes_or_floats_are_stacked_right(out_dir, monkeypatch):
    # trips whose shapes differ make an object array of them; Python floats an array
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    rng = np.random.default_rng(1)
    code = check(grow, rng.normal(size=2), rng.normal(size=3), 0.7, argnums=(0, 1, 2))
    assert "_stack_trips(" in code
    check(scalar_loop, 0.3, 1.2, argnums=(0, 1))
    # the gradient for trips that keep their shapes stacks scalars as one
    # array; the general one, for any trips, stacks them at run time
    module = inspect.getsource(inspect.getmodule(grad(scalar_loop, argnums=(0, 1))))
    assert "t1_all = np.array(t1_trips)" in module and "_stack_trips(" in module
