"""Custom rules: @custom_vjp for the user's functions, defvjp for functions the compiler cannot read."""

import inspect
import math

import numpy as np
import pytest
from conftest import numeric_grad
from scipy.special import erf, expit

import adcompiler
from adcompiler import grad, jvp, vjp
from adcompiler.errors import ADCompileError


@adcompiler.custom_vjp
def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@logsumexp.defvjp
def logsumexp_vjp(g, out, x):
    """The softmax, from the result: no second pass over max."""
    return (g * np.exp(x - out),)


@adcompiler.custom_vjp
def halved(x):
    return x * x


@halved.defvjp
def halved_vjp(g, out, x):
    # deliberately not the derivative of x * x: shows which rule runs
    return (g * 0.5,)


@adcompiler.custom_vjp
def scaled_sum(x, y):
    return np.sum(x) * y


@scaled_sum.defvjp
def scaled_sum_wrong(g, out, x, y):
    return np.sum(g * y), g * np.sum(x)  # the first has the wrong shape


def uses_logsumexp(w, x):
    return logsumexp(x @ w) + 0.1 * np.sum(w**2)


def uses_halved(x):
    return np.sum(halved(x))


def uses_scaled_sum(x, y):
    return scaled_sum(x, y)


def expit_vjp(g, out, x):
    return (g * out * (1.0 - out),)


def erf_vjp(g, out, x):
    return (g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x),)


adcompiler.defvjp(expit, expit_vjp)
adcompiler.defvjp(erf, erf_vjp)


def uses_scipy(x):
    return np.sum(expit(x) * erf(x / 2.0))


def test_custom_logsumexp_matches_finite_differences(out_dir, rng):
    w, x = rng.normal(size=3), rng.normal(size=(5, 3)) * 20  # large: stable rule
    g = grad(uses_logsumexp)(w, x)
    np.testing.assert_allclose(g, numeric_grad(uses_logsumexp, [w, x], 0), rtol=1e-5)
    text = inspect.getsource(grad(uses_logsumexp))
    assert "np.exp(x" in text or "np.exp(t" in text  # the rule's body, inlined


def test_the_custom_rule_is_used_instead_of_the_derived_one(out_dir):
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(grad(uses_halved)(x), 0.5)  # not 2 x
    text = inspect.getsource(grad(uses_halved))
    (d_x,) = [ln for ln in text.splitlines() if ln.strip().startswith("d_x = ")]
    assert "0.5" in d_x and "x * x" not in text.split("d_x = ")[1]  # no derived rule
    assert "raise ValueError" in text  # the cotangent's shape is checked
    # forward mode differentiates the function's own body
    _, t = jvp(uses_halved, (x,), (np.ones(3),))
    assert np.isclose(t, np.sum(2 * x))


def test_vjp_sees_the_custom_rule(out_dir):
    x = np.array([1.0, 2.0])
    out, vjp_fn = vjp(halved, x)  # called directly: its body, derived rule
    np.testing.assert_allclose(out, x * x)
    _, vjp_fn = vjp(uses_halved, x)
    np.testing.assert_allclose(vjp_fn(1.0)[0], 0.5)


def test_registered_third_party_functions(out_dir, rng):
    x = rng.normal(size=4)
    g = grad(uses_scipy)
    np.testing.assert_allclose(g(x), numeric_grad(uses_scipy, [x], 0), rtol=1e-6)
    text = inspect.getsource(inspect.getmodule(g))
    assert "from scipy.special import erf, expit" in text or (
        "from scipy.special import erf" in text
        and "from scipy.special import expit" in text
    )
    assert "np.exp(-" in text  # erf's rule, inlined


def test_wrong_output_shape_of_a_custom_rule(out_dir, rng):
    x, y = rng.normal(size=3), 2.0
    g = grad(uses_scaled_sum, argnums=(0, 1))
    with pytest.raises(ValueError, match="scaled_sum_wrong returned a cotangent"):
        g(x, y)


def test_wrong_number_of_cotangents(out_dir):
    @adcompiler.custom_vjp
    def twice(x, y):
        return x * y

    def one_cotangent(g, out, x, y):
        return (g * y,)

    twice.defvjp(one_cotangent)

    def uses_twice(x, y):
        return np.sum(twice(x, y))

    with pytest.raises(ADCompileError, match="returns 1 cotangents"):
        grad(uses_twice)


def test_rule_must_be_a_def_with_the_right_parameters():
    with pytest.raises(ADCompileError, match="lambda"):
        adcompiler.defvjp(expit, lambda g, out, x: (g,))

    def bad(g, x):
        return (g,)

    with pytest.raises(ADCompileError, match=r"\(g, out"):
        halved.defvjp(bad)
