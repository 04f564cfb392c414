"""Name resolution: whatever the user's imports and aliases, `tanh` is NumPy's tanh.

The frontend evaluates each callee against the function's globals, closure
and builtins, so every spelling below compiles to the same rule.
"""

import math
import math as m
from math import exp as math_exp

import numpy
import numpy as np
import pytest
from conftest import numeric_grad
from numpy import sum as npsum
from numpy import tanh
from numpy import tanh as th

from adcompiler import ADCompileError, grad

mynp = np
SCALE = 1.5


def check(f, args, argnum=0, out=None):
    got = grad(f, argnums=argnum, out=out)(*args)
    want = numeric_grad(f, list(args), argnum)
    assert np.shape(got) == np.shape(args[argnum])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    return got


def with_np(x):
    return np.sum(np.tanh(x) * x)


def with_numpy(x):
    return numpy.sum(numpy.tanh(x) * x)


def with_from_import(x):
    return npsum(tanh(x) * x)


def with_renamed_import(x):
    return npsum(th(x) * x)


def with_module_alias(x):
    return mynp.sum(mynp.tanh(x) * x)


def with_math(x):
    return math.exp(x) * math.sin(x) + m.cos(x) - math_exp(-x)


def with_global_number(x):
    return np.sum(np.tanh(x) * x) * SCALE + math.pi


@pytest.mark.parametrize(
    "f",
    [with_np, with_numpy, with_from_import, with_renamed_import, with_module_alias],
)
def test_numpy_spellings(out_dir, rng, f):
    x = rng.normal(size=(3, 2))
    d_x = check(f, (x,))
    t = np.tanh(x)
    np.testing.assert_allclose(d_x, t + x * (1 - t**2), rtol=1e-12)


def test_numpy_spellings_generate_the_same_code(out_dir):
    """Every alias resolves to the one rule: the generated bodies agree line for line."""
    import inspect

    def code(
        f,
    ):  # the body without the source-map comments, which name each origin line
        # (the scalar check, if any, names the function: name them all alike)
        body = inspect.getsource(grad(f)).split('"""')[-1].replace(f.__name__, "f")
        return "\n".join(line.split("  #")[0] for line in body.splitlines())

    bodies = {
        code(f) for f in [with_np, with_numpy, with_from_import, with_module_alias]
    }
    assert len(bodies) == 1, bodies


def test_math_spellings(out_dir):
    for x in (0.3, -1.2, 2.0):
        check(with_math, (x,))


def test_global_number_is_read(out_dir, rng):
    x = rng.normal(size=4)
    t = np.tanh(x)
    np.testing.assert_allclose(
        check(with_global_number, (x,)), SCALE * (t + x * (1 - t**2)), rtol=1e-12
    )


def test_changing_a_global_number_recompiles(out_dir, rng, monkeypatch):
    """A number read from the module is baked into the gradient: a new value, a new module."""
    x = rng.normal(size=4)
    before = grad(with_global_number)(x)
    monkeypatch.setattr(__import__(__name__), "SCALE", 3.0)
    after = grad(with_global_number)(x)
    np.testing.assert_allclose(after, 2 * before, rtol=1e-12)


def make_scaled(scale):
    def scaled(x):
        return np.sum(np.sin(x)) * scale

    return scaled


def test_closure_reading_a_float(out_dir, rng):
    x = rng.normal(size=3)
    np.testing.assert_allclose(check(make_scaled(2.0), (x,)), 2.0 * np.cos(x))
    # Same source, another captured value: a fresh gradient, not the cached one.
    np.testing.assert_allclose(check(make_scaled(-0.5), (x,)), -0.5 * np.cos(x))


def test_function_defined_inside_a_test(out_dir, rng):
    offset = 0.25

    def inner(x, y):
        z = x * y + offset
        return np.sum(np.tanh(z) ** 2)

    x, y = rng.normal(size=(2, 3)), rng.normal(size=3)
    check(inner, (x, y), 0)
    check(inner, (x, y), 1)


class Model:
    """A function indented in a class body, as a staticmethod."""

    @staticmethod
    def loss(W, x, b):
        z = W @ x + b
        return np.sum(np.tanh(z))

    @staticmethod
    def squared(x):
        y = x * x
        return np.mean(y)


def test_staticmethod_in_a_class_body(out_dir, rng):
    W, x, b = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
    for argnum in (0, 1, 2):
        check(Model.loss, (W, x, b), argnum)
    d_W, d_b = grad(Model.loss, argnums=(0, 2))(W, x, b)
    delta = 1 - np.tanh(W @ x + b) ** 2
    np.testing.assert_allclose(d_W, np.outer(delta, x), rtol=1e-12)
    np.testing.assert_allclose(d_b, delta, rtol=1e-12)
    np.testing.assert_allclose(Model().squared(x), np.mean(x * x))
    check(Model.squared, (x,))


def test_grad_in_a_class_body(out_dir, rng):
    """`grad` applied while the class body runs, to the staticmethod object itself."""

    class Net:
        @staticmethod
        def energy(x):
            return np.sum(np.exp(x) - x)

        d_energy = staticmethod(grad(energy))

    x = rng.normal(size=5)
    np.testing.assert_allclose(Net.d_energy(x), np.exp(x) - 1, rtol=1e-12)


def test_decorator_form_keeps_the_gradient(out_dir, rng):
    @grad
    def loss(w):
        return np.sum(w**2)

    w = rng.normal(size=3)
    np.testing.assert_allclose(loss(w), 2 * w)


def shadowed(np, x):
    return x * np


def test_a_parameter_named_np_is_refused(out_dir):
    """The generated module calls NumPy `np`: a parameter of that name is an error, not a crash."""
    with pytest.raises(ADCompileError, match="`np` names NumPy") as info:
        grad(shadowed)
    assert info.value.loc.line == shadowed.__code__.co_firstlineno
    assert info.value.loc.col == len("def shadowed(")


def locally_named_np(x):
    np = x * 2.0
    return np


def test_a_variable_named_np_is_refused(out_dir):
    with pytest.raises(ADCompileError, match="`np` names NumPy") as info:
        grad(locally_named_np)
    assert info.value.loc.line == locally_named_np.__code__.co_firstlineno + 1
