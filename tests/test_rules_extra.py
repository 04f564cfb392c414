"""The rules of NumPy's joining, reshaping and difference functions beyond the first
table, each checked in reverse mode against central finite differences, in
forward mode against the gradient (⟨∇f, v⟩ = J v), in float32, and compiled for
example arguments (where the ranks are known and the adjoint is written without
a run-time helper)."""

import inspect

import numpy as np
import pytest
from conftest import numeric_grad

from adcompiler import grad
from adcompiler.errors import ADCompileError
from adcompiler.transforms import jvp

RTOL, ATOL = 1e-6, 1e-8


def check_expr(gen, build, rng, expr, *shapes, positive=False):
    """`np.sum(<expr of a, b, ...> * w)`: its gradient with respect to every array
    against finite differences, its jvp against the gradient, the float32
    gradient, and the gradient compiled for examples."""
    names = "abc"[: len(shapes)]
    f = build(f"def f({', '.join(names)}, w):\n    return np.sum({expr} * w)\n")
    args = [rng.normal(size=s) for s in shapes]
    if positive:
        args = [np.abs(a) + 0.5 for a in args]
    w = rng.normal(size=np.shape(eval(expr, {"np": np}, dict(zip(names, args)))))
    nums = tuple(range(len(shapes)))
    args = [*args, w]
    got = grad(f, argnums=nums, out=gen)(*args)
    for i, g in zip(nums, got):
        assert np.shape(g) == shapes[i] and np.asarray(g).dtype == np.float64
        want = numeric_grad(f, args, i)
        np.testing.assert_allclose(g, want, rtol=RTOL, atol=ATOL, err_msg=expr)
    tangents = [rng.normal(size=s) for s in shapes]
    _, t = jvp(f, args, [*tangents, None])
    assert np.isclose(t, sum(np.sum(g * v) for g, v in zip(got, tangents)))
    got32 = grad(f, argnums=nums, out=gen)(*[a.astype(np.float32) for a in args])
    for g32, g in zip(got32, got):
        assert np.asarray(g32).dtype == np.float32
        np.testing.assert_allclose(g32, g, rtol=1e-3, atol=1e-4)
    specialized = grad(f, argnums=nums, out=gen, example_args=tuple(args))
    for g_ex, g in zip(specialized(*args), got):
        np.testing.assert_allclose(g_ex, g, rtol=1e-12, atol=1e-14)
    return f


# -- joining: np.hstack, np.vstack, np.column_stack --------------------------------------


@pytest.mark.parametrize(
    "expr, shapes",
    [
        ("np.hstack([a, b])", [(3,), (2,)]),
        ("np.hstack((a, b, a))", [(2, 3), (2, 1)]),
        ("np.hstack([a, b])", [(2, 3, 2), (2, 1, 2)]),
        ("np.vstack((a, b))", [(3,), (3,)]),
        ("np.vstack([a, b])", [(3,), (2, 3)]),
        ("np.vstack([a, b])", [(2, 3), (1, 3)]),
        ("np.column_stack([a, b])", [(3,), (3,)]),
        ("np.column_stack((a, b, a))", [(3, 2), (3,)]),
    ],
)
def test_joins(gen, build, rng, expr, shapes):
    check_expr(gen, build, rng, expr, *shapes)


def test_joins_of_known_ranks_need_no_helper(gen, build, rng, monkeypatch):
    """For examples, a vstack of vectors gives each its row of the adjoint and a
    column_stack of matrices its columns, as a concatenation does."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    f = build("def f(a, b):\n    return np.sum(np.sin(np.vstack((a, b))))\n")
    x = rng.normal(size=3)
    source = inspect.getsource(grad(f, argnums=(0, 1), out=gen, example_args=(x, x)))
    assert "np.take(d_t1, 0, axis=0)" in source
    assert "_joined_part" not in source and "_own" not in source


def test_join_of_a_list_built_in_a_loop_is_an_error(gen, build):
    f = build("""
        def f(x):
            rows = []
            for i in range(2):
                rows.append(x * i)
            return np.sum(np.vstack(rows))
        """)
    with pytest.raises(ADCompileError, match="built in a loop"):
        grad(f, out=gen)


# -- np.swapaxes, np.atleast_1d, np.atleast_2d -------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.swapaxes(a, 0, 1)", (3, 4)),
        ("np.swapaxes(a, 0, -1)", (2, 3, 4)),
        ("a.swapaxes(2, 1)", (2, 3, 4)),
        ("np.atleast_1d(a)", ()),
        ("np.atleast_1d(a)", (3,)),
        ("np.atleast_2d(a)", (3,)),
        ("np.atleast_2d(a)", (2, 3)),
        ("np.atleast_2d(a)", (2, 1, 3)),
    ],
)
def test_axes_and_ranks(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_swapaxes_adjoint_swaps_back(gen, build, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    f = build("def f(a, w):\n    return np.sum(np.swapaxes(a, 0, 2) * w)\n")
    source = inspect.getsource(grad(f, out=gen))
    assert "d_a = _own(np.swapaxes(d_t1, 0, 2))" in source


# -- np.diff ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.diff(a)", (5,)),
        ("np.diff(a, axis=0)", (3, 4)),
        ("np.diff(a, 2)", (3, 5)),
        ("np.diff(a, n=3, axis=1)", (2, 5, 3)),
        ("np.diff(a, 1, -2)", (2, 4, 3)),
        ("np.diff(a, 0)", (3,)),
        ("np.diff(a) ** 2", (1,)),
    ],
)
def test_diff(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_diff_adjoint_reads_like_a_hand_written_one(gen, build, monkeypatch):
    """The difference of neighbours sends g to the later one and -g to the earlier."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    f = build("def f(x, w):\n    return np.sum(np.diff(x, axis=0) * w)\n")
    x = np.ones((4, 3))
    source = inspect.getsource(grad(f, out=gen, example_args=(x, x[1:])))
    assert "d_x[:-1] -= w" in source and "d_x[1:] += w" in source
    assert "np.diff" not in source


@pytest.mark.parametrize(
    "call, message",
    [
        ("np.diff(x, k)", "`n` of `np.diff` must be a constant integer"),
        ("np.diff(x, axis=1.0)", "`axis` of `np.diff` must be a constant integer"),
        ("np.diff(x, prepend=0.0)", "does not take the argument `prepend`"),
    ],
)
def test_diff_forms_not_supported(gen, build, call, message):
    f = build(f"def f(x, k):\n    return np.sum({call})\n")
    with pytest.raises(ADCompileError, match=message):
        grad(f, out=gen)


# -- np.vdot, np.average, np.fmax/np.fmin, np.linalg.norm's ord ------------------------


@pytest.mark.parametrize(
    "expr, shapes",
    [
        ("np.vdot(a, b)", [(4,), (4,)]),
        ("np.vdot(a, np.tanh(b))", [(2, 3), (6,)]),
        ("np.fmax(a, b)", [(3, 4), (4,)]),
        ("np.fmin(a, b)", [(3,), (3,)]),
        ("np.fmax(a, 0.1) + np.fmin(0.2, b)", [(5,), (5,)]),
        ("np.linalg.norm(a, 1, axis=1)", [(3, 4)]),
        ("np.linalg.norm(a, 2, axis=0, keepdims=True)", [(3, 4)]),
        ("np.linalg.norm(a, np.inf, axis=-1)", [(2, 3, 4)]),
        ("np.linalg.norm(a, -np.inf, axis=0)", [(3, 4)]),
        ("np.linalg.norm(a, 'fro')", [(3, 4)]),
        ("np.linalg.norm(np.ravel(a), 1)", [(3, 4)]),
        ("np.linalg.norm(a, 2)", [(4,)]),
        ("np.linalg.norm(np.ravel(a), ord=np.inf)", [(3, 4)]),
    ],
)
def test_products_extremes_norms(gen, build, rng, expr, shapes):
    check_expr(gen, build, rng, expr, *shapes)


@pytest.mark.parametrize(
    "expr, shapes",
    [
        ("np.average(a)", [(3, 4)]),
        ("np.average(a, 1)", [(3, 4)]),
        ("np.average(a, weights=b)", [(3, 4), (3, 4)]),
        ("np.average(a, axis=0, weights=b)", [(3, 4), (3, 4)]),
        ("np.average(a, axis=1, weights=b)", [(3, 4), (4,)]),
        ("np.average(a, axis=0, weights=b)", [(3, 4), (3,)]),
        ("np.average(a, axis=-2, weights=b)", [(2, 3, 4), (3,)]),
        ("np.average(a, axis=0, weights=b)", [(5,), (5,)]),
    ],
)
def test_average(gen, build, rng, expr, shapes):
    check_expr(gen, build, rng, expr, *shapes, positive=True)


def test_fmax_splits_ties_as_maximum_does(gen, build):
    f = build("def f(a, b):\n    return np.sum(np.fmax(a, b) * np.array([1.0, 2.0]))\n")
    d_a, d_b = grad(f, argnums=(0, 1), out=gen)(np.array([1.0, 3.0]), np.ones(2))
    np.testing.assert_array_equal(d_a, [0.5, 2.0])
    np.testing.assert_array_equal(d_b, [0.5, 0.0])


def test_vector_norms_of_what_may_be_a_matrix(gen, build, rng, monkeypatch):
    """Without an axis, `ord=1` of a matrix is its largest column sum: where the
    shapes do not show a vector, the gradient checks that it gets one."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    f = build(
        "def f(x):\n    return np.linalg.norm(x, 1) + np.linalg.norm(x, -np.inf)\n"
    )
    x = rng.normal(size=5)
    for compiled in (grad(f, out=gen, example_args=(x,)), grad(f, out=gen)):
        got = compiled(x)
        np.testing.assert_allclose(got, numeric_grad(f, [x], 0), rtol=RTOL, atol=ATOL)
    assert "_vector" not in inspect.getsource(grad(f, out=gen, example_args=(x,)))
    with pytest.raises(ValueError, match="only vector norms"):
        grad(f, out=gen)(np.ones((2, 2)))


# -- np.take, np.triu, np.tril -----------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.take(a, 3)", (3, 4)),
        ("np.take(a, [2, 0, 2], axis=1)", (3, 4)),
        ("np.take(a, np.array([1, 1]), axis=0)", (3, 4)),
        ("np.take(a, -1, axis=-1)", (2, 3, 4)),
        ("np.take(a, [[0, 1], [1, 1]], axis=-2)", (2, 3, 4)),
        ("np.triu(a)", (4, 4)),
        ("np.triu(a, 1)", (3, 4)),
        ("np.tril(a, k=-1)", (2, 3, 3)),
        ("np.tril(a)", (4, 3)),
    ],
)
def test_take_and_triangles(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_take_by_an_index_argument(gen, build, rng):
    """Indices the caller passes (repeated ones too) gather their adjoints with np.add.at."""
    f = build("def f(a, idx, w):\n    return np.sum(np.take(a, idx, axis=1) * w)\n")
    a, w, idx = rng.normal(size=(3, 4)), rng.normal(size=(3, 3)), [3, 0, 3]
    got = grad(f, out=gen)(a, idx, w)
    np.testing.assert_allclose(got, numeric_grad(f, [a, idx, w], 0), rtol=RTOL)
    _, t = jvp(f, (a, idx, w), (np.ones_like(a), None, None))
    assert np.isclose(t, np.sum(got))


# -- np.tensordot ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shapes",
    [
        ("np.tensordot(a, b)", [(3, 4), (3, 4)]),
        ("np.tensordot(a, b, 1)", [(2, 3, 4), (4,)]),
        ("np.tensordot(a, b, axes=0)", [(2,), (3,)]),
        ("np.tensordot(a, b, axes=([1, 0], [0, 2]))", [(3, 4, 2), (4, 5, 3)]),
        ("np.tensordot(a, b, (2, -2))", [(2, 3, 4), (4, 2)]),
    ],
)
def test_tensordot(gen, build, rng, expr, shapes):
    check_expr(gen, build, rng, expr, *shapes)


def test_hessian_through_multiply_outer(out_dir):
    """The adjoint of np.multiply.outer is a tensordot, which now has rules of
    its own: its second derivative is forward mode over them."""
    from adcompiler import hessian

    def f(a, b):
        return np.sum(np.sin(np.multiply.outer(a, b)))

    a, b = np.array([0.3, 0.5, 0.7]), np.array([1.1, -0.4])
    want = -np.diag(np.sin(np.multiply.outer(a, b)) @ (b * b))
    np.testing.assert_allclose(hessian(f)(a, b), want, atol=1e-12)


# -- np.kron -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [[(3,), (2,)], [(2, 3), (2, 2)], [(2,), (3, 2)], [(2, 1, 3), (2, 2)]],
)
def test_kron(gen, build, rng, shapes):
    check_expr(gen, build, rng, "np.kron(a, b)", *shapes)


# -- np.cumprod --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.cumprod(a)", (3, 4)),
        ("np.cumprod(a, axis=1)", (3, 4)),
        ("a.cumprod(0)", (4,)),
        ("np.cumprod(a, -2)", (2, 3, 2)),
    ],
)
def test_cumprod(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_cumprod_is_exact_where_entries_are_zero(gen, build, rng):
    """A running product through a 0 still depends on that entry: no `out / x`."""
    f = build("def f(x, w):\n    return np.sum(np.cumprod(x, axis=1) * w)\n")
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    x[0, 1] = x[1, 0] = x[1, 2] = x[2, 3] = 0.0
    got = grad(f, out=gen)(x, w)
    np.testing.assert_allclose(got, numeric_grad(f, [x, w], 0), rtol=RTOL, atol=ATOL)
    v = rng.normal(size=x.shape)
    _, t = jvp(f, (x, w), (v, None))
    assert np.isclose(t, np.sum(got * v))
