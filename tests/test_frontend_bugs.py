"""Regressions for bugs the inventory (test_inventory.py) found, each checked
against central finite differences."""

import inspect

import numpy as np
from adcheck import check, code_of
from conftest import numeric_grad

from adcompiler import grad, jacfwd, jvp, value_and_grad

X = np.array([0.3, -1.2, 2.0])
Y = np.array([1.5, 0.7, 1.1])


# -- chained assignment: `z = w = x * y` ------------------------------------------


def chained(x, y):
    z = w = x * y
    return np.sum(z + w * x)


def chained_three(x, y):
    a = b = c = np.tanh(x) * y
    b = b * x
    return np.sum(a * b + c)


def chained_into_index(x, y):
    z = x * 1.0
    z[0] = w = x[1] * y[2]
    return np.sum(z * w)


def test_chained_assignment_defines_every_name(out_dir):
    # Binding `z` renamed the temporary `t1` to `z`; `w` still read `t1`, which the
    # generated code never defined (NameError), and `w`'s adjoint was dropped.
    check(chained, X, Y, argnums=(0, 1))


def test_chained_assignment_of_three_names_then_one_rebound(out_dir):
    check(chained_three, X, Y, argnums=(0, 1))


def test_chained_assignment_into_an_index_and_a_name(out_dir):
    check(chained_into_index, X, Y, argnums=(0, 1))


# -- parameter defaults ------------------------------------------------------------

W0 = np.array([1.0, -2.0, 0.5])


def scaled(x, y, z=2.0):
    return np.sum(x * y * z)


def mixed(x, w=W0, z=-2.0, axis=(0,)):
    return np.sum(x * w * z) + len(axis)


def array_before_literal(x, z=2.0, w=W0):
    return np.sum(np.tanh(x * w) * z)


def test_literal_default_stays_in_the_signature(out_dir):
    # The generated def listed the parameters without their defaults:
    # `grad_f() missing 1 required positional argument: 'z'`.
    g = grad(scaled, argnums=(0, 1))
    assert inspect.signature(g) == inspect.signature(scaled)
    assert "z=2.0" in inspect.getsource(g).splitlines()[0]
    check(scaled, X, Y, argnums=(0, 1))
    check(scaled, X, Y, 3.0, argnums=(0, 1, 2))


def test_default_of_a_differentiated_parameter(out_dir):
    d_x, d_z = grad(scaled, argnums=(0, 2))(X, Y)
    np.testing.assert_allclose(d_x, numeric_grad(scaled, [X, Y], 0), rtol=1e-6)
    np.testing.assert_allclose(d_z, np.sum(X * Y), rtol=1e-6)
    value, d_y = value_and_grad(scaled, argnums=1)(X, Y)
    assert value == scaled(X, Y)
    np.testing.assert_allclose(d_y, numeric_grad(scaled, [X, Y], 1), rtol=1e-6)


def test_array_defaults_are_bound_when_loaded(out_dir):
    # An array default cannot be spelt in the generated file: the file's
    # parameter has none, and the loaded function gets the origin's value.
    for f in (mixed, array_before_literal):
        g = grad(f)
        assert str(inspect.signature(g)) == str(inspect.signature(f))
        np.testing.assert_allclose(g(X), numeric_grad(f, [X], 0), rtol=1e-6)
    first = inspect.getsource(grad(mixed)).splitlines()[0]
    assert "(x, w, z=-2.0, axis=(0,))" in first
    assert "(x, z, w)" in inspect.getsource(grad(array_before_literal)).splitlines()[0]


def test_jvp_and_jacfwd_fill_in_defaults(out_dir):
    # jvp's tangents follow all the primals, so its signature cannot keep the
    # defaults: jvp and jacfwd fill them in before calling it.
    value, tangent = jvp(scaled, (X, Y), (np.ones(3), None))
    assert value == scaled(X, Y)
    np.testing.assert_allclose(tangent, np.sum(2.0 * Y), rtol=1e-12)
    np.testing.assert_allclose(
        jacfwd(array_before_literal)(X), numeric_grad(array_before_literal, [X], 0)
    )


def test_code_of_a_default_is_readable(out_dir):
    assert code_of(grad(scaled)).startswith("def grad_scaled(x, y, z=2.0):")
