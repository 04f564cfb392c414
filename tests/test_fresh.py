"""A returned gradient never shares memory with the caller's arrays (autodiff/fresh.py).

Simplification can make a gradient an input itself (the gradient of
`np.sum(x * y)` with respect to `x` is `y`); it is copied at the return, so
that updating the gradient in place leaves the caller's arrays alone.
"""

import numpy as np
from adcheck import check, code_of
from conftest import numeric_grad

from adcompiler import grad, value_and_grad, vjp


def dot(x, y):
    return np.sum(x * y)


def with_transpose(x, Y):
    return np.sum(x * Y.T)


def with_row(x, Y):
    return np.sum(x * Y[0])


def picked(x, y, z, c):
    return np.sum(x * (y if c > 0.0 else z))


def squares(x):
    return np.sum(x * x)


def scalars(x, y):
    return x * y


def in_a_dict(p, y):
    return np.sum(p["w"] * y)


def scaled(x):
    return x * 1.0


def assert_owned(d, *inputs):
    for a in inputs:
        assert not np.shares_memory(d, a)


def test_a_gradient_that_is_an_argument_is_a_copy(out_dir, rng, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # simplify makes it `y`
    x, y = rng.normal(size=3), rng.normal(size=3)
    code = check(dot, x, y)
    d_x = grad(dot)(x, y)
    assert_owned(d_x, x, y)
    kept = y.copy()
    d_x *= 2.0  # an update in place of the gradient
    np.testing.assert_array_equal(y, kept)
    assert "d_x = _own(_unbroadcast(y, x))" in code


def test_views_and_picks_of_arguments_are_copies(out_dir, rng):
    x, Y = rng.normal(size=3), rng.normal(size=(3, 3))
    check(with_transpose, x, Y)
    assert_owned(grad(with_transpose)(x, Y), Y)
    check(with_row, x, Y)
    assert_owned(grad(with_row)(x, Y), Y)
    y, z = rng.normal(size=3), rng.normal(size=3)
    for c in (1.0, -1.0):
        check(picked, x, y, z, c)
        assert_owned(grad(picked)(x, y, z, c), y, z)


def test_a_computed_gradient_is_not_copied_again(out_dir, rng):
    code = check(squares, rng.normal(size=3))
    assert "_own" not in code and ".copy()" not in code


def test_python_floats_stay_floats(out_dir):
    d_x, d_y = grad(scalars, argnums=(0, 1))(2.0, 3.0)
    assert (d_x, d_y) == (3.0, 2.0) and type(d_x) is float and type(d_y) is float


def test_a_containers_leaves_are_copies(out_dir, rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    d = grad(in_a_dict)({"w": x}, y)
    np.testing.assert_array_equal(d["w"], y)
    assert_owned(d["w"], x, y)


def test_value_and_grad_and_vjp_own_their_gradients(out_dir, rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    value, d_x = value_and_grad(dot)(x, y)
    assert value == np.sum(x * y)
    np.testing.assert_array_equal(d_x, y)
    assert_owned(d_x, y)
    _, backward = vjp(scaled, x)
    u = rng.normal(size=3)
    (d,) = backward(u)
    np.testing.assert_array_equal(d, u)
    assert_owned(d, u)


def test_compiled_for_examples_the_copy_is_a_method(out_dir, rng, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    x, y = rng.normal(size=3), rng.normal(size=3)
    for checks in (True, False):
        g = grad(dot, example_args=(x, y), checks=checks)
        assert "d_x = y.copy()" in code_of(g)
        assert_owned(g(x, y), y)


def test_a_copied_gradient_differentiates_again(out_dir, rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    g = grad(dot)

    def norm_of_gradient(y):
        return np.sum(g(x, y) ** 2)

    got = grad(norm_of_gradient)(y)
    np.testing.assert_allclose(got, numeric_grad(norm_of_gradient, [y], 0), rtol=1e-6)
    np.testing.assert_allclose(got, 2.0 * y)


def summed_against_a_transpose(x, y, Z):
    return np.sum((x + y) * Z.T)


def test_one_value_returned_for_two_gradients_is_two_copies(out_dir, rng):
    x, y, Z = (rng.normal(size=(3, 3)) for _ in range(3))
    for examples in (None, (x, y, Z)):
        g = grad(summed_against_a_transpose, argnums=(0, 1), example_args=examples)
        d_x, d_y = g(x, y, Z)
        np.testing.assert_array_equal(d_x, Z.T)
        np.testing.assert_array_equal(d_y, Z.T)
        assert_owned(d_x, Z, d_y)
        assert_owned(d_y, Z)


def two_sums(x, y, z, n):
    z = z + y
    return np.sum(x) + np.sum(y) + np.sum(z)


def test_two_gradients_are_never_one_array(out_dir, rng):
    # compiled for examples, d_x and d_z are the same np.ones_like(x); a later
    # gradient naming it left d_x reading a name that no longer existed
    # (NameError, found by the long profile), and then both were one array
    x, z = rng.normal(size=3), rng.normal(size=3)
    for examples in (None, (x, 0.5, z, 2)):
        g = grad(two_sums, argnums=(0, 1, 2), example_args=examples)
        d_x, d_y, d_z = g(x, 0.5, z, 2)
        np.testing.assert_array_equal(d_x, np.ones(3))
        np.testing.assert_array_equal(d_z, np.ones(3))
        assert d_y == 4.0
        assert_owned(d_x, d_z)
