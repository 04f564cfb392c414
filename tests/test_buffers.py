"""Buffer reuse (passes/buffers.py): with example arguments, a large elementwise
result is written into an array whose last use has passed.

Most tests lower `MIN_BYTES` to 0, so that arrays small enough for finite
differences are written into too; one test keeps the threshold and checks that
small arrays are left alone.
"""

import re

import numpy as np
import pytest
from adcheck import code_of
from conftest import numeric_grad

import adcompiler.passes.buffers as buffers
from adcompiler import ADCompileError, grad, passes


@pytest.fixture
def every_size(monkeypatch):
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)


def fd_check(g, f, args, argnums):
    got = g(*args)
    gots = got if isinstance(got, tuple) else (got,)
    for k, d in zip(argnums, gots):
        assert d.shape == np.shape(args[k]) and d.dtype == np.float64
        np.testing.assert_allclose(
            d, numeric_grad(f, list(args), k), rtol=1e-6, atol=1e-8
        )


def chain(x):
    return np.sum(np.sin(x) * np.exp(-(x**2)) + x**3)


def hand_chain(x):
    e = np.exp(-x * x)
    return e * (np.cos(x) - 2.0 * x * np.sin(x)) + 3.0 * x * x


def test_the_chain_writes_into_the_arrays_it_no_longer_needs(out_dir, monkeypatch):
    """At the default threshold, 10⁵ elements: the expert's in-place code."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    x = np.random.default_rng(0).normal(size=10**5)
    g = grad(chain, example_args=(x,), checks=False)
    code = code_of(g)
    # the ufunc of a dead temporary writes over it; `x - s` into `s`, and on in place
    assert re.search(r"np\.exp\((t\d+), out=\1\)", code)
    assert re.search(r"np\.subtract\(x, (t\d+), out=\1\)\n +\1 \*= x", code)
    # three named arrays, sin(x), x * x and -(x * x), hold all the rest
    named = [ln for ln in code.splitlines() if re.match(r" +\w+ = ", ln)]
    assert len([ln for ln in named if "out=" not in ln]) == 3
    np.testing.assert_allclose(g(x), hand_chain(x), rtol=1e-12, atol=1e-12)
    # a directional finite difference, as the array is too large for each entry
    v = np.random.default_rng(1).normal(size=x.shape)
    eps = 1e-6
    fd = (chain(x + eps * v) - chain(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(g(x) @ v, fd, rtol=1e-6)
    assert not np.shares_memory(g(x), x)


def test_small_arrays_are_left_alone(out_dir, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    x = np.random.default_rng(0).normal(size=1000)  # 8 KB, under MIN_BYTES
    code = code_of(grad(chain, example_args=(x,)))
    assert "out=" not in code and "*=" not in code


def test_the_switch_turns_it_off(out_dir, every_size, rng):
    x = rng.normal(size=6)
    with passes.disabled("buffers"):
        g = grad(chain, example_args=(x,))
    assert "out=" not in code_of(g)
    fd_check(g, chain, (x,), (0,))


def test_a_generic_gradient_knows_no_shapes_and_is_left_alone(out_dir, every_size, rng):
    x = rng.normal(size=6)
    g = grad(chain)
    assert "out=" not in code_of(g)
    fd_check(g, chain, (x,), (0,))


def reread(x):
    t = np.exp(x)
    u = np.sin(t)
    return np.sum(u * t) + np.sum(np.cos(t) * x)


def test_an_array_read_later_is_not_written_into(out_dir, every_size, rng):
    """`t` is read by three statements: no result before the last may take it."""
    x = rng.normal(size=5)
    g = grad(reread, example_args=(x,))
    fd_check(g, reread, (x,), (0,))
    code = code_of(g)
    assert "out=t," not in code.split("np.cos(t")[0]


def with_view(x, y):
    t = x * y
    s = t.T
    return np.sum(np.exp(t) * s)


def test_an_array_with_a_view_is_not_written_into(out_dir, every_size, rng):
    args = (rng.normal(size=(4, 4)), rng.normal(size=(4, 4)))
    g = grad(with_view, argnums=(0, 1), example_args=args)
    fd_check(g, with_view, args, (0, 1))
    code = code_of(g)
    assert "out=t)" not in code and "t *=" not in code


def inputs_only(x, y):
    return np.sum(np.tanh(x) * y)


def test_arguments_are_never_written_into(out_dir, every_size, rng):
    x, y = rng.normal(size=5), rng.normal(size=5)
    keep = x.copy(), y.copy()
    g = grad(inputs_only, argnums=(0, 1), example_args=(x, y))
    d_x, d_y = g(x, y)
    np.testing.assert_array_equal(x, keep[0])
    np.testing.assert_array_equal(y, keep[1])
    assert not np.shares_memory(d_x, d_y)
    for d in (d_x, d_y):
        assert not np.shares_memory(d, x) and not np.shares_memory(d, y)
    fd_check(g, inputs_only, (x, y), (0, 1))
    code = code_of(g)
    assert "out=x" not in code and "out=y" not in code


def scaled(x, k):
    return np.sum(np.exp(x * k) * k)


def test_integer_arrays_are_not_buffers_of_float_results(out_dir, every_size, rng):
    x, k = rng.normal(size=5), np.arange(5)
    g = grad(scaled, example_args=(x, k))
    fd_check(g, scaled, (x, k), (0,))
    assert "out=k" not in code_of(g)


def test_float32_stays_float32(out_dir, every_size, rng):
    x = rng.normal(size=6).astype(np.float32)
    g = grad(chain, example_args=(x,))
    got = g(x)
    assert got.dtype == np.float32 and "out=" in code_of(g)
    np.testing.assert_allclose(got, hand_chain(x.astype(np.float64)), rtol=1e-5)


def mixed(x, y):
    return np.sum(np.exp(x) * y)


def test_no_result_is_narrowed_into_a_float32_array(out_dir, every_size, rng):
    """`exp(x) * y` is float64 when `y` is: `exp(x)`, float32, cannot hold it."""
    x, y = rng.normal(size=4).astype(np.float32), rng.normal(size=4)
    g = grad(mixed, argnums=(0, 1), example_args=(x, y))
    d_x, d_y = g(x, y)
    assert d_x.dtype == np.float32 and d_y.dtype == np.float64
    np.testing.assert_allclose(d_x, np.exp(x.astype(np.float64)) * y, rtol=1e-6)


def mlp(W1, b1, W2, X):
    h = np.tanh(X @ W1 + b1)
    return np.sum(np.log1p(np.exp(h @ W2)))


def test_a_small_network_matches_finite_differences(out_dir, every_size, rng):
    args = (
        rng.normal(size=(3, 4)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=(5, 3)),
    )
    g = grad(mlp, argnums=(0, 1, 2), example_args=args)
    assert "out=" in code_of(g) or "*=" in code_of(g)
    fd_check(g, mlp, args, (0, 1, 2))


def test_a_gradient_with_buffers_differentiates_again(out_dir, every_size, rng):
    """The frontend reads `np.exp(t, out=t)` and `t *= x` back as rebindings."""
    x = rng.normal(size=4)
    g = grad(chain, example_args=(x,))
    assert "out=" in code_of(g)
    v = rng.normal(size=4)

    def along(x):
        return np.sum(g(x) * v)

    hv = grad(along)(x)
    want = numeric_grad(along, [x], 0)
    np.testing.assert_allclose(hv, want, rtol=1e-5, atol=1e-7)


def user_out(x):
    t = x * x
    np.exp(t, out=t)
    u = np.multiply(t, x, out=t)
    return np.sum(u)


def test_out_in_user_code_rebinds_the_name(out_dir, rng):
    x = rng.normal(size=5)
    g = grad(user_out)
    np.testing.assert_allclose(
        g(x), numeric_grad(lambda x: np.sum(np.exp(x * x) * x), [x], 0), rtol=1e-6
    )


def sum_out(x):
    t = x * x
    np.sum(t, out=t)
    return np.sum(t)


def test_out_of_anything_but_a_ufunc_is_an_error(out_dir, rng):
    with pytest.raises(ADCompileError, match="only a NumPy ufunc writing into"):
        grad(sum_out)(rng.normal(size=3))
