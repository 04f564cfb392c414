"""The helpers generated modules carry (helpers.HELPERS), run on their own."""

import numpy as np
import pytest

from adcompiler.helpers import defined


def _helper(name):
    return defined(name)[name]


@pytest.mark.parametrize(
    "g_shape, x_shape",
    [
        ((4, 3), (3,)),  # leading axis: a bias's sum over a batch
        ((1, 3), (3,)),
        ((4, 3), (1, 3)),  # an axis of length 1
        ((2, 4, 3), (4, 1)),  # both
        ((2, 4, 3), (1, 1, 1)),
        ((5,), ()),  # to a scalar
        ((3, 1), (3, 4)),  # smaller than x: a stand-in spread over it
        ((), (2, 3)),
    ],
)
def test_unbroadcast_sums_back_to_the_shape_of_x(g_shape, x_shape):
    unbroadcast = _helper("_unbroadcast")
    rng = np.random.default_rng(0)
    g = rng.normal(size=g_shape).astype(np.float32)
    x = np.zeros(x_shape, dtype=np.float32)
    got = unbroadcast(g, x)
    assert np.shape(got) == x_shape and got.dtype == np.float32
    if len(g_shape) >= len(x_shape) and np.size(g) >= np.size(x):
        # the adjoint of broadcasting: <unbroadcast(g), v> == <g, broadcast(v)>
        v = rng.normal(size=x_shape)
        lhs = np.sum(got * v)
        rhs = np.sum(g * np.broadcast_to(v, g_shape))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-5)
    else:
        np.testing.assert_allclose(got, np.broadcast_to(g, x_shape))
    same = rng.normal(size=x_shape)
    assert unbroadcast(same, x) is same  # nothing to do, nothing copied


def test_unbroadcast_to_a_numpy_value_gives_a_numpy_value():
    """Codegen calls NumPy methods on `_unbroadcast(g, x)` when `x` is a NumPy
    value (`.sum(axis=1)` for `np.sum`), so a Python float `g` standing for a
    NumPy scalar `x` comes back as one, in `x`'s dtype; for a float `x` it stays
    a float."""
    unbroadcast = _helper("_unbroadcast")
    got = unbroadcast(2.0, np.float32(1.0))
    assert isinstance(got, np.float32) and got == 2.0
    got = unbroadcast(2.0, np.zeros((), dtype=np.float64))
    assert isinstance(got, np.float64) and got.shape == () and got == 2.0
    assert type(unbroadcast(2.0, 1.0)) is float


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((8, 4), np.float64),  # a small MLP's batch: a cached vector of ones
        ((8, 4), np.float32),  # float32 stays float32
        ((1, 3), np.float64),
        ((0, 3), np.float64),  # an empty batch sums to zeros
        ((2000, 3), np.float64),  # a long batch: ones made for the call, not kept
        ((8, 4), np.float16),  # not BLAS's: np.add.reduce
        ((2, 4, 3), np.float64),  # not a matrix: np.add.reduce
        ((5,), np.float64),
    ],
)
def test_sum_over_batch_is_the_sum_over_axis_0(shape, dtype):
    sum_over_batch = _helper("_sum_over_batch")
    ones = sum_over_batch.__globals__["_ONES"]
    rng = np.random.default_rng(0)
    g = rng.normal(size=shape).astype(dtype)
    for layout in [g, np.asfortranarray(g), g[:, ::2] if g.ndim == 2 else g]:
        got = sum_over_batch(layout)
        want = np.sum(layout.astype(np.float64), axis=0)
        assert got.dtype == dtype and got.shape == want.shape
        tol = {np.float16: 1e-2, np.float32: 1e-5}.get(dtype, 1e-12)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    kept = {n for n, _ in ones}
    assert all(n <= 1024 for n in kept)  # a long batch's ones are not kept
    assert all(not v.flags.writeable for v in ones.values())


def test_sum_over_batch_keeps_nan_and_inf_and_subclasses():
    sum_over_batch = _helper("_sum_over_batch")
    g = np.array([[1.0, np.inf, np.nan, np.inf], [2.0, 1.0, 0.0, -np.inf]])
    # inf - inf warns "in dot" with NumPy 2.3.5 and 2.4.6, as NumPy's sum warns
    # "in reduce"; NumPy 2.2 does not ask BLAS's floating-point flags
    with np.errstate(invalid="ignore"):
        got = sum_over_batch(g)
    np.testing.assert_array_equal(got, [3.0, np.inf, np.nan, np.nan])
    m = np.ma.masked_array([[1.0, 2.0], [3.0, 4.0]], mask=[[0, 1], [0, 0]])
    got, want = sum_over_batch(m), np.add.reduce(m, 0)  # a subclass: NumPy's reduce
    assert type(got) is type(want)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((8, 4), np.float64),  # a small MLP's softmax: a cached column of ones
        ((8, 4), np.float32),  # float32 stays float32
        ((3, 1), np.float64),
        ((3, 0), np.float64),  # empty rows sum to zeros
        ((0, 3), np.float64),
        ((2, 1500), np.float64),  # long rows: NumPy's pairwise sum
        ((8, 4), np.float16),  # not BLAS's: np.sum
        ((8, 4), np.int32),  # np.sum's integer promotion
        ((2, 4, 3), np.float64),  # a stack: np.sum, whichever axis
        ((5,), np.float64),
    ],
)
@pytest.mark.parametrize("axis", [1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(
    "name, reduce", [("_sum_rows", np.sum), ("_mean_rows", np.mean)]
)
@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # np.mean, for both
def test_sum_and_mean_rows_are_np_sum_and_np_mean(
    shape, dtype, axis, keepdims, name, reduce
):
    helper = _helper(name)
    ones = helper.__globals__["_ONES"]
    rng = np.random.default_rng(0)
    x = (10 * rng.normal(size=shape)).astype(dtype)
    if x.ndim <= axis:  # NumPy's error
        with pytest.raises(getattr(np, "exceptions", np).AxisError):  # NumPy < 1.25
            helper(x, axis, keepdims=keepdims)
        return
    layouts = [x, np.asfortranarray(x), x[::2]] if x.ndim == 2 else [x]
    for layout in layouts:
        with np.errstate(invalid="ignore"):  # the mean of an empty row
            want = reduce(layout, axis=axis, keepdims=keepdims)
            got = helper(layout, axis, keepdims=keepdims)
        assert got.dtype == want.dtype and got.shape == want.shape
        tol = {np.float16: 1e-2, np.float32: 1e-5}.get(dtype, 1e-12)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
        assert type(got) is type(want)
    assert all(key[0] <= 1024 and key[1] in "fd" for key in ones)
    assert all(not v.flags.writeable for v in ones.values())


def test_sum_rows_keeps_nan_and_inf_lists_and_subclasses():
    sum_rows = _helper("_sum_rows")
    x = np.array([[1.0, np.inf, 2.0], [np.nan, 1.0, 0.0], [np.inf, -np.inf, 1.0]])
    with np.errstate(invalid="ignore"):  # inf - inf, as NumPy's sum warns
        got = sum_rows(x, 1, keepdims=True)
    np.testing.assert_array_equal(got, [[np.inf], [np.nan], [np.nan]])
    assert sum_rows([[1.0, 2.0], [3.0, 4.0]], 1).tolist() == [3.0, 7.0]
    m = np.ma.masked_array([[1.0, 2.0], [3.0, 4.0]], mask=[[0, 1], [0, 0]])
    got, want = sum_rows(m, 1), np.sum(m, axis=1)  # a subclass: np.sum
    assert type(got) is type(want)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "index",
    [3, np.int64(3), np.int32(-1), [1, 1, 3], np.array([0, 0]), (1, 2), slice(1, 3)],
)
@pytest.mark.parametrize("shape", [(4,), (4, 3)])
def test_add_at_adds_as_np_add_at(index, shape):
    """`_add_at` is np.add.at: an entry named twice takes both; one integer,
    which names one entry once, is added with `d[i] += g`."""
    if isinstance(index, tuple) and len(shape) == 1:
        return
    add_at = _helper("_add_at")
    rng = np.random.default_rng(0)
    d = rng.normal(size=shape)
    g = rng.normal(size=np.shape(d[index]))
    want = d.copy()
    np.add.at(want, index, g)
    add_at(d, index, g)
    np.testing.assert_array_equal(d, want)


@pytest.mark.parametrize(
    "side, x_shape, y_shape",
    [
        ("lhs", (3,), (4,)),  # outer products of vectors: one stacked product
        ("lhs", (2, 3), (4, 3)),  # g @ b.T of matrices: the plain sum
        ("rhs", (3,), (4,)),
        ("rhs", (2, 3), (2, 4)),  # a.T @ g
    ],
)
def test_matmul_sums_over_trips(side, x_shape, y_shape):
    """`_matmul_lhs_sum(gs, bs, a)` is `sum(_matmul_lhs(g, b))`, whatever the shapes."""
    rng = np.random.default_rng(1)
    one, total = _helper(f"_matmul_{side}"), _helper(f"_matmul_{side}_sum")
    xs = [rng.normal(size=x_shape).astype(np.float32) for _ in range(5)]
    ys = [rng.normal(size=y_shape).astype(np.float32) for _ in range(5)]
    want = sum(one(x, y) for x, y in zip(xs, ys))
    like = np.zeros_like(want)
    got = total(xs, ys, like)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got.dtype == np.float32 and got.shape == like.shape
    empty = total([], [], like)
    assert empty.shape == like.shape and not empty.any()


def test_outer_sum_only_stacks_vectors_of_one_length():
    outer_sum = _helper("_outer_sum")
    xs, ys = [np.ones(3), np.arange(3.0)], [np.ones(2), np.zeros(2)]
    np.testing.assert_array_equal(
        outer_sum(xs, ys), np.outer(xs[0], ys[0]) + np.outer(xs[1], ys[1])
    )
    assert outer_sum([np.ones(3), np.zeros(4)], ys) is None  # ragged
    assert outer_sum([np.ones((2, 3))], [np.ones((2, 2))]) is None  # matrices
    assert outer_sum([1.0, 2.0], [1.0, 2.0]) is None and outer_sum([], []) is None


def test_matmul_adjoints_take_a_float_cotangent_and_list_operands():
    """`a @ b` of two vectors is a scalar, whose cotangent may be a Python float;
    NumPy multiplies a list as it does an array, so an operand may be a list."""
    lhs, rhs = _helper("_matmul_lhs"), _helper("_matmul_rhs")
    b = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(lhs(0.5, b), [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(rhs(b, 0.5), [0.5, 1.0, 1.5])
    A = [[1.0, 2.0], [3.0, 4.0]]
    g = np.array([1.0, -1.0])
    np.testing.assert_array_equal(lhs(g, A), np.array(g) @ np.array(A).T)
    np.testing.assert_array_equal(rhs(A, g), np.array(A).T @ g)


@pytest.mark.parametrize("g_shape", [(), (200,), (3, 200), (3,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_outer_products_take_einsum_and_agree_exactly(g_shape, dtype):
    """From 16384 entries on, the matmul adjoints write an outer product with
    `np.einsum`, a third faster than broadcasting; the entries are the same
    products, bit for bit, in the same dtype and shape, for a cotangent of any
    rank; a small one is still a broadcast product."""
    lhs, rhs = _helper("_matmul_lhs"), _helper("_matmul_rhs")
    rng = np.random.default_rng(1)
    v = rng.normal(size={(): 100_000, (3,): 5}.get(g_shape, 100)).astype(dtype)
    g = rng.normal(size=g_shape).astype(dtype)
    want_lhs, want_rhs = np.multiply.outer(g, v), np.multiply.outer(v, g)
    if g.ndim > 1:  # `v @ b` for a stack b: v ⊗ g[k] for each of its matrices
        want_rhs = v[:, None] * g[..., None, :]
    assert (np.size(g) * v.size >= 16384) == (g_shape != (3,))  # (3,): broadcasting
    for got, want in [(lhs(g, v), want_lhs), (rhs(v, g), want_rhs)]:
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    float_g = lhs(2.0, v)  # a Python float cotangent, a large b
    np.testing.assert_array_equal(float_g, 2.0 * v.astype(np.float64))


@pytest.mark.parametrize(
    "a_shape, xs_shape",
    [
        ((3, 2), (5, 2)),  # vectors: xs @ a.T
        ((2,), (5, 2)),  # dot products: xs @ a
        ((3, 2), (5, 2, 4)),  # matrices: matmul stacks them
        ((2,), (5, 2, 4)),
        ((3, 2), (0, 2)),  # no rows
        ((4, 3, 2), (5, 2)),  # a stack of matrices: one product a row
    ],
)
def test_row_products_are_the_products_of_each_row(a_shape, xs_shape):
    """`_matmul_rows(a, xs)[t]` is `a @ xs[t]` and `_rows_matmul(xs, b)[t]` is
    `xs[t] @ b`, for every rank NumPy's matmul takes, and for a list of rows."""
    rows, rows_b = _helper("_matmul_rows"), _helper("_rows_matmul")
    rng = np.random.default_rng(2)
    a, xs = rng.normal(size=a_shape), rng.normal(size=xs_shape)
    got = rows(a, xs)
    assert len(got) == len(xs)
    for t in range(len(xs)):
        np.testing.assert_allclose(got[t], a @ xs[t], rtol=1e-12, atol=1e-14)
        assert np.shape(got[t]) == np.shape(a @ xs[t])
    b = np.swapaxes(a, -1, -2) if a.ndim > 1 else a
    xs_b = np.swapaxes(xs, -1, -2) if xs.ndim > 2 else xs
    got = rows_b(xs_b, b)
    for t in range(len(xs)):
        np.testing.assert_allclose(got[t], xs_b[t] @ b, rtol=1e-12, atol=1e-14)
    listed = rows(a, list(xs))
    for t in range(len(xs)):
        np.testing.assert_allclose(listed[t], a @ xs[t], rtol=1e-12, atol=1e-14)


def test_row_products_of_rows_that_differ_or_do_not_fit():
    """Rows of different shapes are multiplied one by one; rows that cannot be
    multiplied raise NumPy's own error, as the loop's first product would."""
    rows = _helper("_matmul_rows")
    a = np.ones((2, 3))
    ragged = [np.ones((3, 1)), np.ones((3, 2))]
    got = rows(a, ragged)
    assert [np.shape(g) for g in got] == [(2, 1), (2, 2)]
    with pytest.raises(ValueError, match="matmul"):
        rows(a, np.ones(4))  # rows that are numbers
