"""Matrix products written `a.dot(b)` (passes/products.py, rules/numpy.py).

np.dot agrees with `@` where `b` is a vector or a matrix and `a` is not a
scalar, and skips matmul's ufunc dispatch. Each test shows which products the
generated code writes with `.dot` and which keep `@`, and that the gradient
matches finite differences either way.
"""

import re

import numpy as np
import pytest
from adcheck import code_of
from conftest import numeric_grad

from adcompiler import grad, hessian, passes
from adcompiler.helpers import defined


@pytest.fixture(autouse=True)
def every_pass_on(monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)


def fd_check(g, f, args, argnums):
    got = g(*args)
    got = got if isinstance(got, tuple) else (got,)
    for k, d in zip(argnums, got):
        assert np.shape(d) == np.shape(args[k])
        np.testing.assert_allclose(
            d, numeric_grad(f, list(args), k), rtol=1e-6, atol=1e-8
        )


def layer(W, b, X, Y):
    h = np.tanh(X @ W + b)
    return np.sum((h @ W.T - Y) ** 2)


def score(W, x, b, u):
    return u @ np.tanh(W @ x + b)


def test_products_of_matrices_and_vectors_are_dot_calls(out_dir, rng):
    args = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        rng.normal(size=(6, 4)),
        rng.normal(size=(6, 4)),
    )
    g = grad(layer, argnums=(0, 1, 2), example_args=args)
    fd_check(g, layer, args, (0, 1, 2))
    code = code_of(g)
    assert " @ " not in code and "_matmul" not in code
    assert "np.tanh(X.dot(W) + b)" in code  # the primal's own product
    assert "X.T.dot(" in code  # and the adjoints'
    with passes.disabled("dot"):
        off = code_of(grad(layer, argnums=(0, 1, 2), example_args=args))
    assert ".dot(" not in off and "X @ W" in off
    vector = (rng.normal(size=(3, 3)), *rng.normal(size=(3, 3)))
    g = grad(score, argnums=(0, 1), example_args=vector)
    fd_check(g, score, vector, (0, 1))
    code = code_of(g)
    # W.T @ g for the vector x is g @ W, with no transposed view
    assert "W.dot(x)" in code and ".dot(W)" in code and " @ " not in code


def stack_right(A, B):
    return np.sum(np.tanh(A @ B))


def test_a_stack_of_matrices_on_the_right_keeps_matmul(out_dir, rng):
    """np.dot(A, B) of a stack B pairs A's last axis with B's second-to-last and
    keeps every other axis: (3, 4) and (2, 4, 5) give (3, 2, 5), not (2, 3, 5)."""
    args = (rng.normal(size=(3, 4)), rng.normal(size=(2, 4, 5)))
    g = grad(stack_right, argnums=(0, 1), example_args=args)
    fd_check(g, stack_right, args, (0, 1))
    code = code_of(g)
    assert "A @ B" in code and "A.dot(B)" not in code


def test_a_stack_of_matrices_on_the_left_is_a_dot(out_dir, rng):
    """np.dot of a stack A and a matrix B is matmul's stack of products."""
    args = (rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5)))
    g = grad(stack_right, argnums=(0, 1), example_args=args)
    fd_check(g, stack_right, args, (0, 1))
    assert "A.dot(B)" in code_of(g)


def test_ranks_unknown_keep_matmul(out_dir, rng):
    """Without example arguments, `W @ x` may be a stack times a stack."""
    code = code_of(grad(score, argnums=(0, 1)))
    assert "W @ x" in code and "W.dot(" not in code
    for shapes in [((2, 3, 3), (3,)), ((3, 3), (2, 3, 4)), ((3, 3), (3,))]:
        args = tuple(rng.normal(size=s) for s in shapes)
        fd_check(grad(stack_right, argnums=(0, 1)), stack_right, args, (0, 1))


def gram(x):
    M = np.outer(x, x) + np.eye(len(x))
    return np.sum(np.tanh(M @ M))


def test_second_derivatives_read_the_dot_calls_back(out_dir, rng):
    """A generic gradient knows `np.outer`'s rank: its products are `.dot`
    calls, which forward mode reads back as np.dot for the Hessian."""
    x = rng.normal(size=3) / 2
    g = grad(gram)
    fd_check(g, gram, (x,), (0,))
    assert ".dot(" in code_of(g)
    H = hessian(gram)(x)
    fd = np.stack(
        [(g(x + 1e-6 * e) - g(x - 1e-6 * e)) / 2e-6 for e in np.eye(3)], axis=-1
    )
    np.testing.assert_allclose(H, fd, atol=1e-6)


def _helpers():
    namespace = defined("_matmul_lhs", "_matmul_rhs")
    return namespace["_matmul_lhs"], namespace["_matmul_rhs"]


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3, 4), (4, 5)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((2, 3, 4), (4, 5)),
        ((3, 4), (2, 4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((4,), (4,)),
    ],
)
def test_generic_helpers_agree_with_matmul(rng, a_shape, b_shape):
    """`_matmul_lhs` and `_matmul_rhs` take np.dot's path for a matrix operand:
    the adjoints are those of `a @ b`, summed over any stack `a` or `b` was
    broadcast along."""
    lhs, rhs = _helpers()
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    out = a @ b
    g = rng.normal(size=np.shape(out))
    # d(sum(g * (a @ b))) by finite differences is exact for a bilinear form
    for k, (helper, want_of) in enumerate(
        [(lambda: lhs(g, b, a), a), (lambda: rhs(a, g, b), b)]
    ):
        got = helper()
        want = numeric_grad(lambda a, b: np.sum(g * (a @ b)), [a, b], k)
        assert np.shape(got) == np.shape(want_of)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def dot_tanh(a, b):
    t = np.dot(a, b)
    return np.sum(np.tanh(t) + 0.3 * t * t)


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((), (3, 3)),  # np.dot of a scalar multiplies
        ((3, 3), ()),
        ((), (3,)),
        ((3,), (3,)),
        ((3, 4), (2, 4, 5)),  # a stack b: a's last axis with b's second-to-last
        ((2, 3, 4), (3, 4, 5)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4, 5)),  # a stack a: matmul's stack of products
        ((3, 4), (4,)),
    ],
)
def test_np_dot_of_any_ranks(out_dir, rng, a_shape, b_shape):
    """np.dot is not matmul where an operand is a scalar or `b` a stack: the
    generic gradient's `_dot_lhs`/`_dot_rhs` see the ranks at run time, the
    one compiled for examples knows them."""
    args = tuple(
        rng.normal(size=s) if s else float(rng.normal()) for s in (a_shape, b_shape)
    )
    fd_check(grad(dot_tanh, argnums=(0, 1)), dot_tanh, args, (0, 1))
    g = grad(dot_tanh, argnums=(0, 1), example_args=args)
    fd_check(g, dot_tanh, args, (0, 1))


def dot_scaled(s, B):
    return np.sum(np.tanh(np.dot(s, B)))


def test_second_derivatives_through_np_dot_helpers(out_dir, rng):
    """The generic gradient of np.dot, read back: reverse over reverse (the
    vector-Jacobian products of `_dot_lhs` and `_dot_rhs`) and forward over
    reverse (their tangents) agree with finite differences of the gradient."""
    B = rng.normal(size=(2, 3)) / 2
    g = grad(dot_scaled)  # d/ds: `_dot_lhs(...)`, a scalar
    assert "_dot_lhs(" in code_of(g)
    s, eps = 0.3, 1e-6
    fd = (g(s + eps, B) - g(s - eps, B)) / (2 * eps)
    assert np.isclose(grad(g)(s, B), fd, rtol=1e-6)
    d_B = grad(g, argnums=1)(s, B)
    np.testing.assert_allclose(d_B, numeric_grad(g, [s, B], 1), rtol=1e-6, atol=1e-8)
    x = rng.normal(size=4) / 2
    B3 = rng.normal(size=(2, 4, 3)) / 2
    H = hessian(dot_tanh)(x, B3)
    gx = grad(dot_tanh)
    fd = np.stack(
        [(gx(x + 1e-6 * e, B3) - gx(x - 1e-6 * e, B3)) / 2e-6 for e in np.eye(4)],
        axis=-1,
    )
    np.testing.assert_allclose(H, fd, atol=1e-6)


def log_softmax_loss(W, X, Y):
    z = X @ W
    m = np.max(z, axis=1, keepdims=True)
    logp = z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return -np.sum(Y * logp) + np.sum(np.sum(z * z, axis=1) ** 2)


@pytest.mark.parametrize("examples", [False, True])
def test_row_sums_are_products_with_ones(out_dir, rng, examples):
    """A matrix's sums along its rows, the softmax's and their adjoints, are
    `_sum_rows` calls (BLAS's product with ones); with `dot` off, np.sum's."""
    args = (rng.normal(size=(3, 4)), rng.normal(size=(5, 3)), rng.normal(size=(5, 4)))
    examples = {"example_args": args} if examples else {}
    g = grad(log_softmax_loss, argnums=(0, 1), **examples)
    fd_check(g, log_softmax_loss, args, (0, 1))
    code = code_of(g)
    assert code.count("_sum_rows(") >= 3 and "sum(axis=1" not in code
    assert "_sum_rows(t" in code and "keepdims=True)" in code
    with passes.disabled("dot"):
        off = code_of(grad(log_softmax_loss, argnums=(0, 1), **examples))
    assert "_sum_rows" not in off and "sum(axis=1" in off


def cube_rows(x):
    return np.sum(np.sum(x * x, axis=1) ** 2) + np.sum(np.sum(x, axis=-1) ** 3)


def tanh_rows(x):
    mu = np.mean(x, axis=-1, keepdims=True)
    return np.sum(np.tanh(x - mu)) + np.sum(np.mean((x - mu) ** 2, axis=1) ** 2)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (3, 2000), (4, 3)])
def test_sums_that_are_not_row_sums_of_short_float_rows(out_dir, rng, shape):
    """Where the shapes are known, a sum over a stack's middle axis stays np.sum;
    without them `_sum_rows` sees the rank, and rows longer than 1024 or of
    float16, at run time and calls np.sum."""
    x = rng.normal(size=shape) / (2 * np.sqrt(shape[-1]))  # sums of about 1
    fd_check(grad(cube_rows), cube_rows, (x,), (0,))
    assert "_sum_rows(" in code_of(grad(cube_rows))
    g = grad(cube_rows, example_args=(x,))
    fd_check(g, cube_rows, (x,), (0,))
    assert ("_sum_rows(" in code_of(g)) == (len(shape) == 2)
    h = x.astype(np.float16)
    want = grad(cube_rows)(h.astype(np.float64))
    got = grad(cube_rows)(h)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)


def scaled_rows(s, X):
    return np.sum(np.sum(np.tanh(s * X), axis=1) ** 2)


def test_second_derivatives_read_row_sums_back(out_dir, rng):
    """`_sum_rows` and `_mean_rows` in a gradient are read back as the sum and the
    mean they are: forward over reverse and reverse over reverse agree with
    finite differences."""
    x = rng.normal(size=(2, 3)) / 2
    basis = np.eye(6).reshape(6, 2, 3)
    for f, helper in [(cube_rows, "_sum_rows("), (tanh_rows, "_mean_rows(")]:
        g = grad(f)
        assert helper in code_of(g)
        H = hessian(f)(x)
        fd = np.stack([(g(x + 1e-6 * e) - g(x - 1e-6 * e)) / 2e-6 for e in basis], -1)
        np.testing.assert_allclose(H, fd.reshape(2, 3, 2, 3), atol=1e-5)
    X, s = rng.normal(size=(4, 3)), 0.7
    d_s = grad(scaled_rows)  # a scalar, through `_sum_rows(t, axis=1)`
    assert "_sum_rows(" in code_of(d_s)
    fd = (d_s(s + 1e-6, X) - d_s(s - 1e-6, X)) / 2e-6
    assert np.isclose(grad(d_s)(s, X), fd, rtol=1e-6)
    d_X = grad(d_s, argnums=1)(s, X)
    np.testing.assert_allclose(d_X, numeric_grad(d_s, [s, X], 1), rtol=1e-6, atol=1e-8)


def centered_rows(x, gamma):
    mu = np.mean(x, axis=1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1)
    return np.sum(gamma * (x - mu)) + np.sum(np.sqrt(var + 1.0))


@pytest.mark.parametrize("examples", [False, True])
def test_row_means_are_row_sums_divided(out_dir, rng, examples):
    """A mean along a matrix's rows is `_mean_rows`, which skips np.mean's Python
    wrapper; with `dot` off, np.mean's method. The adjoint of a keepdims mean
    adds to another of its operand's contributions without a broadcast."""
    args = (rng.normal(size=(5, 3)), rng.normal(size=3))
    examples = {"example_args": args} if examples else {}
    g = grad(centered_rows, argnums=(0, 1), **examples)
    fd_check(g, centered_rows, args, (0, 1))
    code = code_of(g)
    assert "mu = _mean_rows(x, axis=1, keepdims=True)" in code
    assert "_mean_rows(t1 * t1, axis=-1)" in code and "mean(" not in code
    with passes.disabled("dot"):
        off = code_of(grad(centered_rows, argnums=(0, 1), **examples))
    assert "_mean_rows" not in off and "mean(axis=-1)" in off
    for x in (rng.normal(size=(2, 5, 3)), rng.normal(size=(5, 3)).astype(np.float32)):
        y = (x, rng.normal(size=3).astype(x.dtype))
        d = grad(centered_rows, argnums=(0, 1))(*y)  # np.mean's; float32 kept
        assert [a.dtype for a in d] == [x.dtype] * 2
        if x.dtype == np.float64:
            fd_check(grad(centered_rows, argnums=(0, 1)), centered_rows, y, (0, 1))


def nearest_centers(mu, X):
    d = X[:, None, :] - mu[None, :, :]
    sq = np.sum(d * d, axis=-1)
    m = np.min(sq, axis=1, keepdims=True)
    return np.sum(m[:, 0] - np.log(np.sum(np.exp(m - sq), axis=1)))


def test_shapes_through_new_axes_keep_a_stacks_sum_numpys(out_dir, rng):
    """Example arguments tell the shape of `X[:, None, :]` and of
    `np.expand_dims(g, 1)` (NumPy's answer, on a view that allocates nothing):
    the sum over the last axis of a stack stays np.sum's, and the adjoint of
    the kept `m` is a row sum, not `_unbroadcast`."""
    args = (rng.normal(size=(3, 2)), rng.normal(size=(10, 2)))
    g = grad(nearest_centers, example_args=args)
    fd_check(g, nearest_centers, args, (0,))
    code = code_of(g)
    assert "sq = (d * d).sum(axis=-1)" in code
    assert re.search(r"d_m = t\d+ \+ _sum_rows\(d_t\d+, axis=1, keepdims=True\)", code)
    fd_check(grad(nearest_centers), nearest_centers, args, (0,))
