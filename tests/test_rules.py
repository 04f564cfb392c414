"""Every rule of the first table, checked against central finite differences.

Each function under test is scalar-valued and weights its primitive's result
with a fixed random `w` (not differentiated), so the adjoint reaching the
primitive is an arbitrary array rather than ones. Each gradient is compiled
once, before any argument is seen, and then run on several shapes: a Python
float, a 0-d array, a vector and a matrix.
"""

import inspect
import math
import re

import numpy as np
import pytest
from conftest import numeric_grad

from adcompiler import grad
from adcompiler.rules.core import NO_RULE_YET

RTOL, ATOL = 1e-6, 1e-8


def sample(shape, domain, rng, dtype=np.float64):
    """A value of `shape` (None: a Python float) drawn from `domain`."""
    size = () if shape is None else shape
    if domain == "real":
        x = rng.normal(size=size)
    elif domain == "pos":
        x = rng.uniform(0.5, 2.0, size=size)
    elif domain == "small":  # inside tan's and log1p's comfortable range
        x = rng.uniform(-0.7, 0.9, size=size)
    elif domain == "above1":  # arccosh's
        x = rng.uniform(1.2, 3.0, size=size)
    elif domain == "nonzero":  # away from the kinks of abs/max and the pole of 1/x
        x = rng.uniform(0.5, 2.0, size=size) * rng.choice([-1.0, 1.0], size=size)
    else:
        raise AssertionError(domain)
    return float(x) if shape is None else np.asarray(x, dtype=dtype)


def check(gen, f, args, argnums):
    """grad(f) matches finite differences; each gradient has its parameter's shape and dtype."""
    got = grad(f, argnums=argnums, out=gen)(*args)
    if isinstance(argnums, int):
        got, argnums = (got,), (argnums,)
    assert len(got) == len(argnums)
    for i, g in zip(argnums, got):
        want = numeric_grad(f, list(args), i)
        assert np.shape(g) == np.shape(args[i]), (f.__name__, i)
        if isinstance(args[i], np.ndarray):
            assert np.asarray(g).dtype == np.float64, (f.__name__, i)
        np.testing.assert_allclose(g, want, rtol=RTOL, atol=ATOL, err_msg=f"arg {i}")
    return got


# -- elementwise functions of one argument ------------------------------------


def f_exp(x, w):
    return np.sum(np.exp(x) * w)


def f_log(x, w):
    return np.sum(np.log(x) * w)


def f_log1p(x, w):
    return np.sum(np.log1p(x) * w)


def f_expm1(x, w):
    return np.sum(np.expm1(x) * w)


def f_sin(x, w):
    return np.sum(np.sin(x) * w)


def f_cos(x, w):
    return np.sum(np.cos(x) * w)


def f_tan(x, w):
    return np.sum(np.tan(x) * w)


def f_tanh(x, w):
    return np.sum(np.tanh(x) * w)


def f_sqrt(x, w):
    return np.sum(np.sqrt(x) * w)


def f_square(x, w):
    return np.sum(np.square(x) * w)


def f_abs(x, w):
    return np.sum(np.abs(x) * w)


def f_sinh(x, w):
    return np.sum(np.sinh(x) * w)


def f_cosh(x, w):
    return np.sum(np.cosh(x) * w)


def f_arcsin(x, w):
    return np.sum(np.arcsin(x) * w)


def f_arccos(x, w):
    return np.sum(np.arccos(x) * w)


def f_arctan(x, w):
    return np.sum(np.arctan(x) * w)


def f_arcsinh(x, w):
    return np.sum(np.arcsinh(x) * w)


def f_arccosh(x, w):
    return np.sum(np.arccosh(x) * w)


def f_arctanh(x, w):
    return np.sum(np.arctanh(x) * w)


def f_log2(x, w):
    return np.sum(np.log2(x) * w)


def f_log10(x, w):
    return np.sum(np.log10(x) * w)


def f_exp2(x, w):
    return np.sum(np.exp2(x) * w)


def f_reciprocal(x, w):
    return np.sum(np.reciprocal(x) * w)


def f_cbrt(x, w):
    return np.sum(np.cbrt(x) * w)


def f_neg(x, w):
    return np.sum(-x * w)


def f_pow_float(x, w):
    return np.sum(x**2.5 * w)


def f_pow_int(x, w):
    return np.sum(x**3 * w)


def f_pow_negative(x, w):
    return np.sum(x**-1.5 * w)


def f_pow_half(x, w):
    return np.sum(x**0.5 * w)


def f_rpow(x, w):
    return np.sum(2.0**x * w)


def f_rdiv(x, w):
    return np.sum(3.0 / x * w)


def f_rsub(x, w):
    return np.sum((1.5 - x) * w)


def f_scale(x, w):
    return np.sum(x * 2.0 / 4.0 + 1.0 + w * x)


# (function, domain, hand-derived derivative of the primitive)
UNARY = [
    (f_exp, "real", np.exp),
    (f_log, "pos", lambda x: 1 / x),
    (f_log1p, "small", lambda x: 1 / (1 + x)),
    (f_expm1, "real", np.exp),
    (f_sin, "real", np.cos),
    (f_cos, "real", lambda x: -np.sin(x)),
    (f_tan, "small", lambda x: 1 / np.cos(x) ** 2),
    (f_tanh, "real", lambda x: 1 - np.tanh(x) ** 2),
    (f_sqrt, "pos", lambda x: 0.5 / np.sqrt(x)),
    (f_square, "real", lambda x: 2 * x),
    (f_abs, "nonzero", np.sign),
    (f_sinh, "real", np.cosh),
    (f_cosh, "real", np.sinh),
    (f_arcsin, "small", lambda x: 1 / np.sqrt(1 - x**2)),
    (f_arccos, "small", lambda x: -1 / np.sqrt(1 - x**2)),
    (f_arctan, "real", lambda x: 1 / (1 + x**2)),
    (f_arcsinh, "real", lambda x: 1 / np.sqrt(x**2 + 1)),
    (f_arccosh, "above1", lambda x: 1 / np.sqrt(x**2 - 1)),
    (f_arctanh, "small", lambda x: 1 / (1 - x**2)),
    (f_log2, "pos", lambda x: 1 / (x * np.log(2.0))),
    (f_log10, "pos", lambda x: 1 / (x * np.log(10.0))),
    (f_exp2, "real", lambda x: np.log(2.0) * 2.0**x),
    (f_reciprocal, "nonzero", lambda x: -1 / x**2),
    (f_cbrt, "nonzero", lambda x: 1 / (3 * np.cbrt(x) ** 2)),
    (f_neg, "real", lambda x: -np.ones_like(x)),
    (f_pow_float, "pos", lambda x: 2.5 * x**1.5),
    (f_pow_int, "real", lambda x: 3 * x**2),
    (f_pow_negative, "pos", lambda x: -1.5 * x**-2.5),
    (f_pow_half, "pos", lambda x: 0.5 * x**-0.5),
    (f_rpow, "real", lambda x: np.log(2.0) * 2.0**x),
    (f_rdiv, "nonzero", lambda x: -3.0 / x**2),
    (f_rsub, "real", lambda x: -np.ones_like(x)),
    (f_scale, None, None),
]
SHAPES = [None, (), (4,), (3, 4)]
SHAPE_IDS = ["float", "0d", "1d", "2d"]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("f, domain, deriv", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_unary(gen, rng, f, domain, deriv, shape):
    x = sample(shape, domain or "real", rng)
    w = sample(shape, "real", rng)
    (d_x,) = check(gen, f, (x, w), (0,))
    if deriv is not None:  # the formula by hand, too
        np.testing.assert_allclose(d_x, w * deriv(np.asarray(x)), rtol=1e-12, atol=0)


def test_tanh_formula(gen, rng):
    """d/dx sum(tanh(x)) = 1 - tanh(x)², exactly as written by hand."""

    def f(x):
        return np.sum(np.tanh(x))

    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(
        grad(f, out=gen)(x), 1 - np.tanh(x) ** 2, rtol=1e-14, atol=1e-15
    )


# -- elementwise functions of two arguments, broadcasting every way ------------


def f_add(a, b, w):
    return np.sum((a + b) * w)


def f_sub(a, b, w):
    return np.sum((a - b) * w)


def f_mul(a, b, w):
    return np.sum(a * b * w)


def f_div(a, b, w):
    return np.sum(a / b * w)


def f_pow(a, b, w):
    return np.sum(a**b * w)


def f_maximum(a, b, w):
    return np.sum(np.maximum(a, b) * w)


def f_minimum(a, b, w):
    return np.sum(np.minimum(a, b) * w)


def f_np_add(a, b, w):
    return np.sum(np.add(a, b) * w)


def f_np_multiply(a, b, w):
    return np.sum(np.multiply(a, b) * w)


def f_np_power(a, b, w):
    return np.sum(np.power(a, b) * w)


def f_arctan2(a, b, w):
    return np.sum(np.arctan2(a, b) * w)


def f_hypot(a, b, w):
    return np.sum(np.hypot(a, b) * w)


def f_logaddexp(a, b, w):
    return np.sum(np.logaddexp(a, b) * w)


# (function, domain of a, domain of b)
BINARY = [
    (f_add, "real", "real"),
    (f_sub, "real", "real"),
    (f_mul, "real", "real"),
    (f_div, "real", "nonzero"),
    (f_pow, "pos", "real"),
    (f_maximum, "real", "real"),
    (f_minimum, "real", "real"),
    (f_np_add, "real", "real"),
    (f_np_multiply, "real", "real"),
    (f_np_power, "pos", "real"),
    (f_arctan2, "real", "nonzero"),
    (f_hypot, "nonzero", "nonzero"),
    (f_logaddexp, "real", "real"),
]
BROADCASTS = [
    (None, None),
    ((), ()),
    (None, (3, 4)),
    ((3, 4), None),
    ((), (3,)),
    ((3,), ()),
    ((4,), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((1, 4), (3, 1)),
    ((1,), (3,)),
    ((3,), (1,)),
    ((3, 4), (3, 4)),
    ((3, 1), (3, 4)),
    ((2, 3, 4), (3, 1)),
    ((1, 3, 1), (2, 1, 4)),
]


def _id(shape):
    return "f" if shape is None else "x".join(map(str, shape)) or "0d"


@pytest.mark.parametrize(
    "sa, sb", BROADCASTS, ids=[f"{_id(a)}-{_id(b)}" for a, b in BROADCASTS]
)
@pytest.mark.parametrize(
    "f, da, db", BINARY, ids=[b[0].__name__.removeprefix("f_") for b in BINARY]
)
def test_binary(gen, rng, f, da, db, sa, sb):
    a, b = sample(sa, da, rng), sample(sb, db, rng)
    out_shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    w = sample(None if sa is None and sb is None else out_shape, "real", rng)
    check(gen, f, (a, b, w), (0, 1))
    check(gen, f, (a, b, w), 1)  # one argument alone: the other gets no adjoint code


def f_pow_param(x, p, w):
    return np.sum(x**p * w)


@pytest.mark.parametrize("shape", [None, (), (3,), (2, 3)], ids=_id)
def test_pow_float_exponent_argument(gen, rng, shape):
    """A float exponent passed as an argument, differentiated or not."""
    x, w = sample(shape, "pos", rng), sample(shape, "real", rng)
    check(gen, f_pow_param, (x, 1.7, w), (0, 1))
    check(gen, f_pow_param, (x, -0.3, w), 0)


def f_same_operand(x, w):
    return np.sum((x * x + x / (x + 2.0) - x) * w)


def test_fan_out_sums_contributions(gen, rng):
    x, w = rng.uniform(0.5, 2, size=(3, 4)), rng.normal(size=(3, 4))
    check(gen, f_same_operand, (x, w), 0)


# -- builtins and math on Python floats ------------------------------------------


def m_exp(x, w):
    return math.exp(x) * w


def m_log(x, w):
    return math.log(x) * w


def m_log1p(x, w):
    return math.log1p(x) * w


def m_expm1(x, w):
    return math.expm1(x) * w


def m_sin(x, w):
    return math.sin(x) * w


def m_cos(x, w):
    return math.cos(x) * w


def m_tan(x, w):
    return math.tan(x) * w


def m_tanh(x, w):
    return math.tanh(x) * w


def m_sqrt(x, w):
    return math.sqrt(x) * w


def m_fabs(x, w):
    return math.fabs(x) * w


def m_abs(x, w):
    return abs(x) * w


def m_pow(x, w):
    return math.pow(x, 1.5) * w


def m_sinh(x, w):
    return math.sinh(x) * w


def m_cosh(x, w):
    return math.cosh(x) * w


def m_asin(x, w):
    return math.asin(x) * w


def m_acos(x, w):
    return math.acos(x) * w


def m_atan(x, w):
    return math.atan(x) * w


def m_asinh(x, w):
    return math.asinh(x) * w


def m_acosh(x, w):
    return math.acosh(x) * w


def m_atanh(x, w):
    return math.atanh(x) * w


def m_log2(x, w):
    return math.log2(x) * w


def m_log10(x, w):
    return math.log10(x) * w


def m_atan2(x, w):
    return math.atan2(x, w + 3.0) * w


MATH = [
    (m_exp, "real"),
    (m_log, "pos"),
    (m_log1p, "small"),
    (m_expm1, "real"),
    (m_sin, "real"),
    (m_cos, "real"),
    (m_tan, "small"),
    (m_tanh, "real"),
    (m_sqrt, "pos"),
    (m_fabs, "nonzero"),
    (m_abs, "nonzero"),
    (m_pow, "pos"),
    (m_sinh, "real"),
    (m_cosh, "real"),
    (m_asin, "small"),
    (m_acos, "small"),
    (m_atan, "real"),
    (m_asinh, "real"),
    (m_acosh, "above1"),
    (m_atanh, "small"),
    (m_log2, "pos"),
    (m_log10, "pos"),
    (m_atan2, "real"),
]


@pytest.mark.parametrize("f, domain", MATH, ids=[m[0].__name__ for m in MATH])
def test_math_on_floats(gen, rng, f, domain):
    for _ in range(3):
        x, w = sample(None, domain, rng), sample(None, "real", rng)
        (d_x,) = check(gen, f, (x, w), (0,))
        assert np.ndim(d_x) == 0


def b_max(a, b, w):
    return max(a, b) * w


def b_min(a, b, w):
    return min(a, b) * w


def b_max3(a, b, w):
    return max(a * w, b, a + b) - min(b, 2.0 * a, w)


def m_pow_args(a, b, w):
    return math.pow(a, b) * w


@pytest.mark.parametrize("f", [b_max, b_min, b_max3, m_pow_args])
def test_builtins_on_floats(gen, rng, f):
    for _ in range(5):
        a, b = sample(None, "pos", rng), sample(None, "pos", rng)
        check(gen, f, (a, b, sample(None, "real", rng)), (0, 1))


# -- linear algebra ---------------------------------------------------------------


def f_matmul(a, b, w):
    return np.sum((a @ b) * w)


def f_dot(a, b, w):
    return np.sum(np.dot(a, b) * w)


def f_dot_method(a, b, w):
    return np.sum(a.dot(b) * w)


def f_np_matmul(a, b, w):
    return np.sum(np.matmul(a, b) * w)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4))]


@pytest.mark.parametrize(
    "sa, sb", MATMUL_SHAPES, ids=[f"{_id(a)}@{_id(b)}" for a, b in MATMUL_SHAPES]
)
@pytest.mark.parametrize("f", [f_matmul, f_dot, f_dot_method, f_np_matmul])
def test_matmul_unknown_ranks(gen, rng, f, sa, sb):
    """Compiled without knowing the ranks: one gradient serves every combination."""
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    w = sample(np.shape(a @ b), "real", rng)
    check(gen, f, (a, b, w), (0, 1))


@pytest.mark.parametrize("op", ["a @ b", "np.dot(a, b)"])
@pytest.mark.parametrize(
    "sa, sb", MATMUL_SHAPES, ids=[f"{_id(a)}@{_id(b)}" for a, b in MATMUL_SHAPES]
)
def test_matmul_known_ranks(gen, build, rng, op, sa, sb):
    """Ranks the compiler can prove (from reshape) pick the plain formula: g bᵀ, aᵀ g, outer."""
    f = build(f"""
        def f(a, b, w):
            a2 = a.reshape({sa!r})
            b2 = b.reshape({sb!r})
            return np.sum({op.replace("a", "a2").replace("b", "b2")} * w)
        """)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    w = sample(np.shape(a @ b), "real", rng)
    check(gen, f, (a, b, w), (0, 1))


STACKED = [
    ((2, 3, 4), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


@pytest.mark.parametrize(
    "sa, sb", STACKED, ids=[f"{_id(a)}@{_id(b)}" for a, b in STACKED]
)
@pytest.mark.parametrize("f", [f_matmul, f_np_matmul])
def test_stacked_matmul_unknown_ranks(gen, rng, f, sa, sb):
    """Stacks of matrices broadcast against each other and against a matrix or a
    vector: each gradient is summed to its operand's shape (a batch of
    sequences times one weight matrix, `X @ W`, sums over the batch)."""
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    w = sample(np.shape(a @ b), "real", rng)
    check(gen, f, (a, b, w), (0, 1))


@pytest.mark.parametrize(
    "sa, sb", STACKED, ids=[f"{_id(a)}@{_id(b)}" for a, b in STACKED]
)
def test_stacked_matmul_has_the_broadcast_rank(gen, build, rng, sa, sb):
    """(2, 3, 4) @ (2, 4, 5) is (2, 3, 5): rank 3, not the 4 of np.dot's rule.
    np.tile's adjoint reshapes by the rank it is told, so a wrong one fails."""
    f = build(f"""
        def f(a, b, w):
            a2 = a.reshape({sa!r})
            b2 = b.reshape({sb!r})
            return np.sum(np.tile(a2 @ b2, 2) * w)
        """)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    w = sample(np.shape(np.tile(a @ b, 2)), "real", rng)
    check(gen, f, (a, b, w), (0, 1))


def f_tanh_product(a, b):
    return np.sum(np.tanh(a @ b) ** 2)


@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5))])
def test_summed_product_reads_back(tmp_path, out_dir, rng, sa, sb):
    """Where ranks are unknown, `_matmul_lhs(g, b, a)` sums the product to the
    shape of `a` itself (one call, not `_unbroadcast(_matmul_lhs(g, b), a)`), and
    a second derivative reads it back as the two steps: the Hessian, forward
    over the gradient, matches central differences of the gradient."""
    from adcompiler import hessian

    g = grad(f_tanh_product, argnums=(0, 1), out=tmp_path)
    src = inspect.getsource(g)
    assert re.search(r"_matmul_lhs\(d_\w+, b, a\)", src)
    assert re.search(r"_matmul_rhs\(a, d_\w+, b\)", src)
    assert "_unbroadcast(_matmul" not in src
    args = [rng.normal(size=sa) * 0.5, rng.normal(size=sb) * 0.5]
    for k, shape in enumerate((sa, sb)):  # through `_matmul_lhs`, `_matmul_rhs`
        H = hessian(f_tanh_product, argnums=k)(*args)
        want = np.empty(shape + shape)
        for i in np.ndindex(*shape):
            up, down = [x.copy() for x in args], [x.copy() for x in args]
            up[k][i] += 1e-6
            down[k][i] -= 1e-6
            want[(...,) + i] = (g(*up)[k] - g(*down)[k]) / 2e-6
        np.testing.assert_allclose(H, want, rtol=1e-5, atol=1e-8)


def f_outer(a, b, w):
    return np.sum(np.outer(a, b) * w)


def f_bilinear(x, A, y):
    return x @ A @ y


def test_outer(gen, rng):
    a, b = rng.normal(size=3), rng.normal(size=4)
    check(gen, f_outer, (a, b, rng.normal(size=(3, 4))), (0, 1))


def test_bilinear_form(gen, rng):
    x, A, y = rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=4)
    d_x, d_A, d_y = check(gen, f_bilinear, (x, A, y), (0, 1, 2))
    np.testing.assert_allclose(d_A, np.outer(x, y), rtol=1e-14)
    np.testing.assert_allclose(d_x, A @ y, rtol=1e-14)


# -- reductions -----------------------------------------------------------------

AXES = [None, 0, 1, 2, -1, -3, (0, 1), (0, 2), (-1, 0), (0, 1, 2), ()]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=repr)
@pytest.mark.parametrize("fn", ["sum", "mean", "var", "std", "prod"])
def test_reduction_axis(gen, build, rng, fn, axis, keepdims):
    if fn == "std" and axis == ():
        pytest.skip("the deviation of one entry is 0, where sqrt has no derivative")
    f = build(f"""
        def f(x, w):
            return np.sum(np.{fn}(x, axis={axis!r}, keepdims={keepdims}) * w)
        """)
    x = rng.normal(size=(2, 3, 4))
    w = sample(np.shape(getattr(np, fn)(x, axis=axis, keepdims=keepdims)), "real", rng)
    check(gen, f, (x, w), (0,))


SPELLINGS = [
    "np.sum(x)",
    "np.mean(x)",
    "np.var(x)",
    "x.std()",
    "x.var(axis=-1, ddof=1)",
    "np.std(x, 0, ddof=1, keepdims=True)",
    "x.prod()",
    "np.prod(x, axis=0, keepdims=True)",
    "x.sum()",
    "x.mean()",
    "np.sum(x, 0)",
    "x.sum(axis=-1)",
    "x.mean(0)",
    "np.mean(x, axis=None, keepdims=True)",
    "x.sum(keepdims=True)",
]


@pytest.mark.parametrize(
    "expr, shape",
    [
        (expr, shape)
        for shape in [(), (4,), (3, 4)]
        for expr in SPELLINGS
        # a 0-d array has no axis 0; its deviation is 0, where std has no derivative
        if shape or not ("0" in expr or "-1" in expr or "std" in expr)
    ],
)
def test_reduction_spellings(gen, build, rng, expr, shape):
    f = build(f"def f(x, w):\n    return np.sum({expr} * w)\n")
    x = rng.normal(size=shape)
    w = sample(np.shape(eval(expr)), "real", rng)
    check(gen, f, (x, w), 0)


def f_mean_direct(x):
    return np.mean(x)


def f_var_direct(x):
    return np.var(x, ddof=1)


def test_prod_where_entries_are_zero(gen):
    """d prod / dx_i is the product of the others: with one zero in a row, only
    the zero's entry gets a gradient; with two, none does. Not prod / x."""

    def f(x, w):
        return np.sum(np.prod(x, axis=1) * w)

    x = np.array([[2.0, 3.0, 4.0], [0.0, 3.0, 5.0], [0.0, 2.0, 0.0]])
    want = np.array([[12.0, 8.0, 6.0], [15.0, 0.0, 0.0], [0.0, 0.0, 0.0]]) * [
        [1.0],
        [-2.0],
        [0.5],
    ]
    d_x = grad(f, out=gen)(x, np.array([1.0, -2.0, 0.5]))
    np.testing.assert_array_equal(d_x, want)


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_and_std_formulas(gen, rng, ddof):
    """d var / dx = 2 (x - mean) / (n - ddof); d std / dx = (x - mean) / ((n - ddof) std)."""

    def var_rows(x, w):
        return np.sum(np.var(x, axis=1, ddof=ddof) * w)

    def std_rows(x, w):
        return np.sum(np.std(x, axis=1, ddof=ddof) * w)

    x, w = rng.normal(size=(3, 5)), rng.normal(size=3)
    deviation = (x - x.mean(axis=1, keepdims=True)) / (5 - ddof)
    d_var = grad(var_rows, out=gen)(x, w)
    np.testing.assert_allclose(d_var, 2 * deviation * w[:, None], rtol=1e-12)
    d_std = grad(std_rows, out=gen)(x, w)
    std = x.std(axis=1, ddof=ddof, keepdims=True)
    np.testing.assert_allclose(d_std, deviation / std * w[:, None], rtol=1e-12)


def f_sum_axis0(x):
    return np.sum(x, axis=0)


@pytest.mark.parametrize("f", [f_mean_direct, f_sum_axis0, f_var_direct])
def test_reduction_as_result(gen, rng, f):
    """The reduction is the result itself: the seed is the constant 1."""
    x = rng.normal(size=5)
    check(gen, f, (x,), 0)


# -- transposes and reshapes -----------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("x.T", (3, 4)),
        ("x.T", (4,)),
        ("x.T", (2, 3, 4)),
        ("np.transpose(x)", (3, 4)),
        ("np.transpose(x)", (2, 3, 4)),
        ("np.transpose(x, (1, 0))", (3, 4)),
        ("np.transpose(x, (2, 0, 1))", (2, 3, 4)),
        ("np.transpose(x, axes=(1, 2, 0))", (2, 3, 4)),
        ("np.transpose(x, (0, -1, 1))", (2, 3, 4)),
        ("x.transpose()", (3, 4)),
        ("x.transpose((1, 0, 2))", (2, 3, 4)),
        ("x.reshape(2, 6)", (3, 4)),
        ("x.reshape((4, 3))", (3, 4)),
        ("x.reshape(-1)", (3, 4)),
        ("x.reshape(2, -1, 2)", (3, 4)),
        ("np.reshape(x, (6, 2))", (3, 4)),
        ("np.reshape(x, -1)", (2, 3, 4)),
        ("np.reshape(x, (3, 4))", (12,)),
        ("x.reshape(())", (1,)),
        ("np.squeeze(x)", (3, 1, 4)),
        ("x.squeeze(axis=0)", (1, 4)),
        ("np.squeeze(x, (0, 2))", (1, 3, 1)),
        ("np.flip(x)", (3, 4)),
        ("np.flip(x, 1)", (3, 4)),
        ("np.flip(x, axis=(0, -1))", (2, 3, 4)),
        ("np.cumsum(x)", (3, 4)),
        ("np.cumsum(x, axis=1)", (3, 4)),
        ("x.cumsum(-1)", (2, 3, 4)),
        ("np.cumsum(x, 0)", (5,)),
        ("np.roll(x, 2)", (3, 4)),
        ("np.roll(x, -1, axis=1)", (3, 4)),
        ("np.roll(x, (1, 2), axis=(0, 2))", (2, 3, 4)),
    ],
)
def test_shape_ops(gen, build, rng, expr, shape):
    f = build(f"def f(x, w):\n    return np.sum({expr} * w)\n")
    x = rng.normal(size=shape)
    w = rng.normal(size=np.shape(eval(expr)))
    check(gen, f, (x, w), 0)


def f_transpose_matmul(A, B, w):
    return np.sum((A.T @ B.reshape(4, 2)).T * w)


def test_cumsum_formula(gen, rng):
    """Entry i reaches the running sums i, i+1, ...: the adjoint is the running
    sum of the weights from the end."""

    def f(x, w):
        return np.sum(np.cumsum(x, axis=1) * w)

    x, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    want = np.flip(np.cumsum(np.flip(w, 1), axis=1), 1)
    np.testing.assert_allclose(grad(f, out=gen)(x, w), want, rtol=1e-14)


def f_roll_by_counter(x, w):
    total = 0.0
    for t in range(3):
        total = total + np.sum(np.roll(x, t) * w[t])
    return total


def test_roll_by_a_loop_counter(gen, rng):
    check(gen, f_roll_by_counter, (rng.normal(size=4), rng.normal(size=(3, 4))), 0)


def test_shape_ops_compose(gen, rng):
    A, B = rng.normal(size=(3, 5)), rng.normal(size=(2, 2, 2))
    with pytest.raises(ValueError):  # 3 rows @ 4 rows: the shapes are checked by NumPy
        grad(f_transpose_matmul, out=gen)(A, B, rng.normal(size=(2, 5)))
    A = rng.normal(size=(4, 5))
    check(gen, f_transpose_matmul, (A, B, rng.normal(size=(2, 5))), (0, 1))


# -- the network of the notes, pieced together from the table -------------------------


def f_layer(W, x, b, u):
    z = W @ x + b
    h = np.tanh(z)
    return (
        np.mean(u * h) + 0.5 * np.sum(np.square(W)) - np.log1p(np.exp(-np.abs(b))).sum()
    )


def test_composite_layer(gen, rng):
    W, x, b, u = (
        rng.normal(size=(4, 3)),
        rng.normal(size=3),
        rng.normal(size=4),
        rng.normal(size=4),
    )
    check(gen, f_layer, (W, x, b, u), (0, 1, 2, 3))


# -- dtypes: float32 in, float32 out ------------------------------------------------


def _float32_case(gen, f, args, argnums):
    """The float32 gradient is float32 and agrees with the float64 one to float32 precision."""
    args64 = [np.asarray(a, dtype=np.float64) for a in args]
    args32 = [np.asarray(a, dtype=np.float32) for a in args]
    want = grad(f, argnums=argnums, out=gen)(*args64)
    got = grad(f, argnums=argnums, out=gen)(*args32)
    for i, g32, g64 in zip(argnums, got, want):
        assert np.asarray(g32).dtype == np.float32, (f.__name__, i)
        assert np.asarray(g64).dtype == np.float64, (f.__name__, i)
        assert np.shape(g32) == np.shape(args[i])
        np.testing.assert_allclose(g32, g64, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(), (3, 4)], ids=_id)
@pytest.mark.parametrize("f, domain, deriv", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_float32_unary(gen, rng, f, domain, deriv, shape):
    x, w = sample(shape, domain or "real", rng), sample(shape, "real", rng)
    _float32_case(gen, f, (x, w), (0,))


@pytest.mark.parametrize(
    "sa, sb",
    [((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3,)), ((2, 1, 4), (3, 1))],
    ids=str,
)
@pytest.mark.parametrize(
    "f, da, db", BINARY, ids=[b[0].__name__.removeprefix("f_") for b in BINARY]
)
def test_float32_binary(gen, rng, f, da, db, sa, sb):
    a, b = sample(sa, da, rng), sample(sb, db, rng)
    w = sample(np.broadcast_shapes(sa, sb), "real", rng)
    _float32_case(gen, f, (a, b, w), (0, 1))


@pytest.mark.parametrize(
    "f, shapes",
    [
        (f_matmul, [(3,), (3,), ()]),
        (f_matmul, [(2, 3), (3,), (2,)]),
        (f_dot, [(3,), (3, 2), (2,)]),
        (f_dot, [(2, 3), (3, 4), (2, 4)]),
        (f_outer, [(3,), (4,), (3, 4)]),
        (f_bilinear, [(3,), (3, 4), (4,)]),
        (f_layer, [(4, 3), (3,), (4,), (4,)]),
        (f_mean_direct, [(5,)]),
        (f_sum_axis0, [(5,)]),
        (f_pow_param, [(3,), (), (3,)]),
    ],
    ids=lambda v: getattr(v, "__name__", "") or None,
)
def test_float32_other(gen, rng, f, shapes):
    args = [sample(s, "pos", rng) for s in shapes]
    _float32_case(gen, f, args, tuple(range(len(args))))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)], ids=repr)
@pytest.mark.parametrize("fn", ["sum", "mean", "var", "std", "prod"])
def test_float32_reductions(gen, build, rng, fn, axis, keepdims):
    f = build(f"""
        def f(x, w):
            return np.sum(np.{fn}(x, axis={axis!r}, keepdims={keepdims}) * w)
        """)
    x = rng.normal(size=(2, 3, 4))
    w = sample(np.shape(getattr(np, fn)(x, axis=axis, keepdims=keepdims)), "real", rng)
    _float32_case(gen, f, (x, w), (0,))


@pytest.mark.parametrize(
    "expr",
    ["x.T", "np.transpose(x, (1, 0))", "x.reshape(-1)", "np.mean(x)", "np.sum(x)"],
)
def test_float32_shape_ops_and_seed(gen, build, rng, expr):
    f = build(f"def f(x):\n    return np.sum({expr})\n")
    _float32_case(gen, f, (rng.normal(size=(3, 4)),), (0,))


def test_int_and_one_tuple_argnums_share_a_folder(gen, rng):
    """`argnums=0` gives an array and `argnums=(0,)` a 1-tuple, even compiled side by side."""
    x, w = rng.normal(size=3), rng.normal(size=3)
    single = grad(f_sin, argnums=0, out=gen)(x, w)
    (one,) = grad(f_sin, argnums=(0,), out=gen)(x, w)
    assert isinstance(single, np.ndarray) and single.shape == (3,)
    assert isinstance(grad(f_sin, argnums=0, out=gen)(x, w), np.ndarray)
    np.testing.assert_array_equal(single, one)


# -- ties and kinks, as the README documents them ------------------------------------


def test_maximum_minimum_split_ties_evenly(gen, rng):
    a = np.array([[1.0, 2.0, 3.0, -1.0], [0.5, 0.5, 7.0, 2.0]])
    b = np.array([[1.0, 1.0, 4.0, -1.0], [0.5, 0.6, 7.0, 1.0]])
    w = rng.normal(size=a.shape)
    d_a, d_b = grad(f_maximum, argnums=(0, 1), out=gen)(a, b, w)
    np.testing.assert_array_equal(d_a, w * np.where(a == b, 0.5, a > b))
    np.testing.assert_array_equal(d_b, w * np.where(a == b, 0.5, b > a))
    d_a, d_b = grad(f_minimum, argnums=(0, 1), out=gen)(a, b, w)
    np.testing.assert_array_equal(d_a, w * np.where(a == b, 0.5, a < b))
    np.testing.assert_array_equal(d_b, w * np.where(a == b, 0.5, b < a))


def relu(x, w):
    return np.sum(np.maximum(x, 0.0) * w)


def relu_flipped(x, w):
    return np.sum(np.minimum(0.0, -x) * w)


def test_relu_kink_is_one_half(gen):
    x, w = np.array([-1.0, 0.0, 2.0]), np.array([2.0, 4.0, 8.0])
    np.testing.assert_array_equal(grad(relu, out=gen)(x, w), [0.0, 2.0, 8.0])
    np.testing.assert_array_equal(grad(relu_flipped, out=gen)(x, w), [0.0, -2.0, -8.0])


def max_same(x, w):
    return np.sum(np.maximum(x, x) * w)


def test_maximum_of_a_value_with_itself(gen, rng):
    """Both halves of a tie reach the same value: the gradient is whole again."""
    x, w = rng.normal(size=4), rng.normal(size=4)
    np.testing.assert_array_equal(grad(max_same, out=gen)(x, w), w)


@pytest.mark.parametrize("f", [b_max, b_min])
def test_builtin_max_min_ties_go_to_the_first(gen, f):
    d_a, d_b = grad(f, argnums=(0, 1), out=gen)(1.5, 1.5, 3.0)
    assert (d_a, d_b) == (3.0, 0.0)


def b_max3_plain(a, b, c):
    return max(a, b, c)


def b_min3_plain(a, b, c):
    return min(a, b, c)


@pytest.mark.parametrize(
    "f, args, want",
    [
        (b_max3_plain, (2.0, 2.0, 2.0), (1.0, 0.0, 0.0)),
        (b_max3_plain, (1.0, 2.0, 2.0), (0.0, 1.0, 0.0)),
        (b_max3_plain, (1.0, 2.0, 3.0), (0.0, 0.0, 1.0)),
        (b_min3_plain, (2.0, 2.0, 2.0), (1.0, 0.0, 0.0)),
        (b_min3_plain, (3.0, 1.0, 1.0), (0.0, 1.0, 0.0)),
        (b_min3_plain, (3.0, 2.0, 1.0), (0.0, 0.0, 1.0)),
    ],
)
def test_builtin_max_min_follow_the_argument_python_returns(gen, f, args, want):
    assert grad(f, argnums=(0, 1, 2), out=gen)(*args) == want


@pytest.mark.parametrize("f", [f_abs, m_abs, m_fabs])
def test_abs_derivative_is_zero_at_zero(gen, f):
    if f is f_abs:
        x, w = np.array([-2.0, 0.0, 3.0, -0.0]), np.array([5.0, 5.0, 5.0, 5.0])
        np.testing.assert_array_equal(grad(f, out=gen)(x, w), [-5.0, 0.0, 5.0, 0.0])
    else:
        assert grad(f, out=gen)(0.0, 5.0) == 0.0
        assert grad(f, out=gen)(-0.0, 5.0) == 0.0
        assert grad(f, out=gen)(-2.0, 5.0) == -5.0


def modulo(x, y):
    return np.sum(np.sin(x % y) * (x // 0.5))


def test_modulo_and_floor_division(out_dir, rng):
    """`%` has derivative 1 in x and -floor(x/y) in y; `//` is piecewise constant (0)."""
    x = rng.uniform(1.0, 3.0, size=5)
    y = rng.uniform(0.6, 0.9, size=5)
    d_x, d_y = grad(modulo, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(
        d_x, numeric_grad(modulo, [x, y], 0), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        d_y, numeric_grad(modulo, [x, y], 1), rtol=1e-6, atol=1e-8
    )


def clip_both(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) ** 2)


def outer_nd(a, b):
    return np.sum(np.sin(np.multiply.outer(a, b)))


def test_clip_bounds_given_as_arrays_are_differentiated(out_dir):
    x = np.array([-2.0, 0.3, 0.7, 3.0])
    lo = np.array([-1.0, -0.5, 0.9, -1.0])
    hi = np.array([1.0, 1.0, 2.0, 2.5])
    got = grad(clip_both, argnums=(0, 1, 2))(x, lo, hi)
    for i, g in enumerate(got):
        np.testing.assert_allclose(
            g, numeric_grad(clip_both, [x, lo, hi], i), atol=1e-6
        )
    from adcompiler import jvp

    t = [np.ones(4), np.full(4, 2.0), np.full(4, 3.0)]
    _, tan = jvp(clip_both, (x, lo, hi), tuple(t))
    assert np.isclose(tan, sum(np.vdot(g, d) for g, d in zip(got, t)))


@pytest.mark.parametrize(
    "shapes", [((3,), (4,)), ((2, 3), (4,)), ((3,), ()), ((2,), (2, 2))]
)
def test_multiply_outer_any_ranks(out_dir, shapes):
    rng = np.random.default_rng(1)
    a, b = (rng.normal(size=s) for s in shapes)
    got = grad(outer_nd, argnums=(0, 1))(a, b)
    for i, g in enumerate(got):
        assert np.shape(g) == np.shape((a, b)[i])
        np.testing.assert_allclose(
            g, numeric_grad(outer_nd, [a, b], i), rtol=1e-6, atol=1e-8
        )


@pytest.mark.parametrize("prim", sorted(NO_RULE_YET))
def test_every_missing_rule_on_a_varied_argument_is_reported(prim):
    """A construct without a rule where a derivative flows is an error, never a zero."""
    from adcompiler import ADCompileError
    from adcompiler.autodiff.emitter import Names
    from adcompiler.autodiff.reverse import reverse
    from adcompiler.errors import Loc
    from adcompiler.ir import Assign, Block, Function, Var
    from adcompiler.rules import PRIMS

    n = len(PRIMS[prim].vjp)
    for i in NO_RULE_YET[prim]:
        args = tuple(Var("x") if k == i else Var("c") for k in range(n))
        stmt = Assign(("_t1",), prim, args, {}, Loc("f.py", 3, 4))
        fn = Function("f", ["x", "c"], Block([stmt], (Var("_t1"),)), Loc("f.py", 2, 0))
        with pytest.raises(ADCompileError, match=f"argument {i + 1}") as info:
            reverse(fn, (0,), False, "f", Names({"x", "c"}))
        assert str(info.value).startswith("f.py:3:5:")


@pytest.mark.parametrize("f, test", [(b_max, ">"), (b_min, "<")])
def test_builtin_max_min_become_one_comparison(gen, f, test):
    """`max(a, b)` is computed as `b if b > a else a` once its gradient needs
    `b > a`: one comparison, no call, and the same value as Python's, NaN too."""
    g = grad(f, argnums=(0, 1), out=gen)
    source = inspect.getsource(g)
    assert " max(" not in source and " min(" not in source
    assert source.count(f" {test} ") == 1
    for a, b in [(1.0, 2.0), (2.0, 1.0), (1.5, 1.5), (np.nan, 1.0), (1.0, np.nan)]:
        d_a, d_b = g(a, b, 3.0)
        builtin = max if f is b_max else min
        first = builtin(a, b) is a  # Python returns `a` unless `b` wins
        assert (d_a, d_b) == ((3.0, 0.0) if first else (0.0, 3.0))


@pytest.mark.parametrize(
    "sa, sb", MATMUL_SHAPES, ids=[f"{_id(a)}@{_id(b)}" for a, b in MATMUL_SHAPES]
)
def test_matmul_with_a_list_operand(out_dir, rng, sa, sb):
    """NumPy multiplies a list as it does an array: the other operand's gradient
    is the same whichever is passed."""
    a, b = rng.normal(size=sa), rng.normal(size=sb)

    def f(a, b):
        return np.sum(np.tanh(a @ b))

    want_a, want_b = grad(f, argnums=0)(a, b), grad(f, argnums=1)(a, b)
    np.testing.assert_allclose(grad(f, argnums=0)(a, b.tolist()), want_a)
    np.testing.assert_allclose(grad(f, argnums=1)(a.tolist(), b), want_b)
    np.testing.assert_allclose(want_a, numeric_grad(f, [a, b], 0), rtol=1e-6)
