"""Gradients compiled for example arguments, and gradients that check nothing.

`grad(f, example_args=...)` knows each argument's kind, shape and dtype: the
generated code sums broadcast axes by shape, casts nothing, checks one guard
at entry. `checks=False` drops every check. Each test shows what the generated
code lost and that the gradient still matches finite differences; the guard's
tests show what a call with other arguments gets.
"""

import re

import numpy as np
import pytest
from adcheck import code_of
from conftest import numeric_grad

from adcompiler import ADCompileError, grad, value_and_grad
from adcompiler.frontend import Lowering, read_source
from adcompiler.passes.specialize import trace


@pytest.fixture(autouse=True)
def every_pass_on(monkeypatch):
    """What specialization removes is shown with every pass on."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)


def fd_check(g, f, args, argnums):
    got = g(*args)
    for k, d in zip(argnums, got):
        want = numeric_grad(f, list(args), k)
        assert np.shape(d) == np.shape(args[k])
        assert np.asarray(d).dtype == np.asarray(args[k]).dtype
        np.testing.assert_allclose(d, want, rtol=1e-6, atol=1e-8)


def score(W, x, b, u):
    z = W @ x + b
    return u @ np.tanh(z)


def layer(W, b, c, X):
    return np.sum(np.tanh(X @ W + b) * c)


def test_examples_remove_checks_casts_and_generic_helpers(out_dir, rng):
    args = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=4),
    )
    generic = code_of(grad(score, argnums=(0, 2)))
    g = grad(score, argnums=(0, 2), example_args=args)
    fd_check(g, score, args, (0, 2))
    code = code_of(g)
    for gone in (
        "_unbroadcast(",
        "_astype_like(",
        "_check_float(",
        "_matmul_lhs(",
        "scalar output",
    ):
        assert gone in generic and gone not in code
    assert "d_W = d_z[:, None] * x" in code  # np.outer without its conversions
    assert "W.shape != (4, 4)" in code and "W.dtype is not _FLOAT64" in code
    assert '_FLOAT64 = np.dtype("float64")' in code_of(g) or "_FLOAT64" in g.__globals__


@pytest.mark.parametrize(
    "b_shape, summed",
    [
        ((3,), "_sum_over_batch(d_"),  # a product with ones (helpers.py)
        ((1, 3), "sum(axis=0, keepdims=True)"),
        ((5, 1), "_sum_rows(d_t3, axis=1, keepdims=True)"),  # along the rows, too
    ],
)
def test_broadcast_axes_are_summed_by_shape(out_dir, rng, b_shape, summed):
    args = (
        rng.normal(size=(2, 3)),
        rng.normal(size=b_shape),
        0.7,
        rng.normal(size=(5, 2)),
    )
    g = grad(layer, argnums=(0, 1, 2), example_args=args)
    fd_check(g, layer, args, (0, 1, 2))
    d_b = next(line for line in code_of(g).splitlines() if "d_b = " in line)
    assert "_unbroadcast" not in d_b and summed in d_b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_bias_sum_is_read_back_and_keeps_its_dtype(out_dir, rng, dtype):
    """`d_b = _sum_over_batch(d_t2)`: forward mode over the gradient reads the
    helper back as the sum over the batch it is; float32 stays float32."""
    from adcompiler import jacfwd

    def f(W, b, X):
        return np.sum(np.tanh(X @ W + b) ** 2)

    W, b, X = (rng.normal(size=s).astype(dtype) for s in [(3, 2), (2,), (5, 3)])
    g = grad(f, argnums=1, example_args=(W, b, X))
    assert "d_b = _sum_over_batch(" in code_of(g)
    assert g(W, b, X).dtype == dtype
    if dtype == np.float64:
        want = numeric_grad(f, [W, b, X], 1)
        np.testing.assert_allclose(g(W, b, X), want, rtol=1e-6, atol=1e-9)
        fd = [(g(W, b + 1e-6 * e, X) - g(W, b - 1e-6 * e, X)) / 2e-6 for e in np.eye(2)]
        H = jacfwd(g, argnums=1)(W, b, X)
        np.testing.assert_allclose(H, np.stack(fd, -1), atol=1e-6)


def test_the_guard_names_the_argument_that_differs(out_dir, rng):
    args = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=4),
    )
    g = grad(score, argnums=(0, 2), example_args=args)
    W, x, b, u = args
    cases = [
        (
            (rng.normal(size=(5, 5)), x, b, u),
            "`W` must be a float64 array of shape (4, 4), got a float64 array of shape (5, 5)",
        ),
        (
            (W, x.astype(np.float32), b, u),
            "`x` must be a float64 array of shape (4,), got a float32 array",
        ),
        ((W, x, list(b), u), "`b` must be a float64 array of shape (4,), got list"),
        ((W, x, b, 1.0), "`u` must be a float64 array of shape (4,), got float 1.0"),
    ]
    for bad, message in cases:
        with pytest.raises(TypeError) as info:
            g(*bad)
        assert message in str(info.value)
        assert "compiled for example arguments" in str(info.value)


def test_python_float_examples(out_dir):
    def f(x, y, z):
        return (x + y) * max(y, z)

    g = grad(f, argnums=(0, 1, 2), example_args=(1.0, 2.0, 0.0))
    assert g(1.0, 2.0, 0.0) == (2.0, 5.0, 0.0)
    assert g(1.0, -2.0, 0.5) == (0.5, 0.5, -1.0)
    code = code_of(g)
    assert (
        "type(x) is not float or type(y) is not float or type(z) is not float" in code
    )
    assert "_astype_like" not in code and "_check_float(" not in code.replace(
        "_check_examples", ""
    )
    with pytest.raises(TypeError, match="`y` must be a Python float, got int 2"):
        g(1.0, 2, 0.0)


def test_checks_false_checks_nothing(out_dir, rng):
    def f(x, y, z):
        return (x + y) * max(y, z)

    code = code_of(grad(f, argnums=(0, 1, 2), checks=False))
    assert "_check_float" not in code and "raise" not in code
    assert "_astype_like" in code  # without examples the dtypes are not known
    code = code_of(
        grad(f, argnums=(0, 1, 2), checks=False, example_args=(1.0, 2.0, 0.0))
    )
    body = code.split('"""')[-1]
    # the one `if` left is max's (the branches pass groups its picks)
    assert body.count("if ") == 1 and "    if z > y:" in body
    assert "_check" not in code and "raise" not in code
    assert grad(f, argnums=(0, 1, 2), checks=False, example_args=(1.0, 2.0, 0.0))(
        1.0, 2.0, 0.0
    ) == (2.0, 5.0, 0.0)

    args = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=4),
    )
    g = grad(score, argnums=(0, 2), example_args=args, checks=False)
    fd_check(g, score, args, (0, 2))
    assert "if " not in code_of(g)


def test_float32_examples_keep_the_casts(out_dir, rng):
    def f(x, y):
        return np.sum(x * y)

    x32 = rng.normal(size=3).astype(np.float32)
    g = grad(f, argnums=(0, 1), example_args=(x32, rng.normal(size=3)))
    dx, dy = g(x32, rng.normal(size=3))
    assert dx.dtype == np.float32 and dy.dtype == np.float64
    assert "_astype_like" in code_of(g)


def test_a_non_scalar_result_is_an_error_at_compile_time(out_dir, rng):
    def f(x):
        return np.tanh(x)

    with pytest.raises(
        ADCompileError, match=r"returns an array of shape \(3,\); grad needs a scalar"
    ):
        grad(f, example_args=(rng.normal(size=3),))


def test_an_integer_example_for_a_differentiated_argument_is_refused(out_dir):
    def f(x):
        return np.sum(x * x)

    with pytest.raises(TypeError, match="example for `x` is a int64 array"):
        grad(f, example_args=(np.arange(3),))
    with pytest.raises(TypeError, match="example_args must be a tuple .* got ndarray"):
        grad(f, example_args=np.ones(3))
    with pytest.raises(TypeError, match="example_args has 2 values; .*f takes 1"):
        grad(f, example_args=(np.ones(3), 1.0))


def test_each_specialization_is_its_own_module(out_dir, rng):
    a = grad(
        score,
        argnums=(0, 2),
        example_args=(np.ones((3, 3)), np.ones(3), np.ones(3), np.ones(3)),
    )
    b = grad(
        score,
        argnums=(0, 2),
        example_args=(np.ones((5, 5)), np.ones(5), np.ones(5), np.ones(5)),
    )
    c = grad(score, argnums=(0, 2))
    files = {f.__code__.co_filename for f in (a, b, c)}
    assert len(files) == 3
    assert all("__like_" in name for name in files - {c.__code__.co_filename})
    again = grad(
        score,
        argnums=(0, 2),
        example_args=(np.zeros((3, 3)), np.zeros(3), np.zeros(3), np.zeros(3)),
    )
    assert again.__code__.co_filename == a.__code__.co_filename


class Spec:
    """A shape and a dtype and nothing else, like `jax.ShapeDtypeStruct`."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)


def test_decorator_with_shape_and_dtype_examples(out_dir, rng):
    @grad(
        argnums=(0, 1),
        example_args=(
            Spec((2, 3), "float64"),
            Spec((3,), "float64"),
            0.5,
            Spec((5, 2), "float64"),
        ),
    )
    def g(W, b, c, X):
        return np.sum(np.tanh(X @ W + b) * c)

    args = (rng.normal(size=(2, 3)), rng.normal(size=3), 0.5, rng.normal(size=(5, 2)))
    fd_check(g, layer, args, (0, 1))
    assert "_unbroadcast" not in code_of(g)


def test_value_and_grad_with_examples(out_dir, rng):
    args = (rng.normal(size=(2, 3)), rng.normal(size=3), 0.5, rng.normal(size=(5, 2)))
    value, (dW, db) = value_and_grad(layer, argnums=(0, 1), example_args=args)(*args)
    assert value == pytest.approx(layer(*args))
    np.testing.assert_allclose(db, numeric_grad(layer, list(args), 1), rtol=1e-6)


def masked(x, w):
    y = x[x > 0.0]  # how many: the data decides
    h = np.tanh(w * x)
    return np.sum(y * y) + np.sum(h[:2]) + np.sum(h * h)


def test_shapes_the_data_decides_are_not_traced(out_dir, rng):
    x, w = rng.normal(size=6), 0.3
    fn = Lowering(read_source(masked)).lower()
    traced = trace(fn, {"x": x, "w": w})
    masks = {s.out for s in fn.body.stmts if s.prim == "gt"}
    (masked_x,) = [
        s.out
        for s in fn.body.stmts
        if s.prim == "getitem" and getattr(s.args[1], "name", None) in masks
    ]
    assert traced["x"] == (6,) and traced["h"] == (6,)
    assert masked_x not in traced  # x[x > 0]: the data decides its length
    g = grad(masked, argnums=(0, 1), example_args=(x, w))
    for signs in ([1, 1, 1, -1, -1, -1], [1, -1, -1, -1, -1, -1], [1] * 6):
        other = np.abs(rng.normal(size=6)) * signs
        fd_check(g, masked, (other, w), (0, 1))


def rnn(W, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h * h)


def test_loops_stay_generic_inside_and_still_match(out_dir, rng):
    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=3), rng.normal(size=(4, 3)))
    g = grad(rnn, argnums=(0, 1), example_args=args)
    fd_check(g, rnn, args, (0, 1))
    longer = (args[0], args[1], rng.normal(size=(4, 3)))
    fd_check(g, rnn, longer, (0, 1))


def test_a_specialized_gradient_differentiated_again_keeps_its_guard(out_dir, rng):
    def f(x, w):
        return np.sum(np.sin(x * w) * x)

    x, w = rng.normal(size=3), 0.7
    g = grad(f, argnums=1, example_args=(x, w))
    h = grad(g, argnums=1)  # d²f/dw²
    want = numeric_grad(lambda x, w: g(x, float(w)), [x, w], 1)
    np.testing.assert_allclose(h(x, w), want, rtol=1e-6)
    assert "_check_examples(" in code_of(h)
    with pytest.raises(TypeError, match="`x` must be a float64 array of shape"):
        h(np.ones(4), w)


def acc(b, xs):
    s = 0.0
    for t in range(len(xs)):
        s = s + np.sum(np.sin(xs[t] * b))
    return s


@pytest.mark.parametrize("trips", [4, 0])
def test_a_trips_adjoint_of_a_known_shape_is_summed_after_the_loop(out_dir, rng, trips):
    """`d_b += d_t3 * t2` on every trip becomes an append, and one sum of the
    stacked list after the loop, where the shapes show each term has b's shape."""
    args = (rng.normal(size=3), rng.normal(size=(trips, 3)))
    g = grad(acc, example_args=args)
    np.testing.assert_allclose(g(*args), numeric_grad(acc, list(args), 0), rtol=1e-6)
    code = code_of(g)
    assert "gs_b.append(" in code and "d_b +=" not in code
    if trips:  # stacked once, summed as an expert does
        assert "G_b = np.array(gs_b)" in code and "d_b = G_b.sum(axis=0)" in code
    else:  # no trip: the stack gets its rows' shape, and the sum b's
        assert "G_b = np.array(gs_b).reshape(-1, 3)" in code
        assert g(*args).shape == (3,) and not g(*args).any()


def test_a_loop_appends_an_adjoint_once_for_every_product_it_feeds(out_dir, rng):
    def rnn_in(W, U, h, xs):
        for t in range(len(xs)):
            h = np.tanh(W @ h + U @ xs[t])
        return np.sum(h * h)

    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=(3, 2)), rng.normal(size=3))
    args += (rng.normal(size=(5, 2)),)
    g = grad(rnn_in, argnums=(0, 1), example_args=args)
    fd_check(g, rnn_in, args, (0, 1))
    code = code_of(g)
    # d_W and d_U are both sums over the trips of the same adjoint's products:
    # one list, stacked once, and xs read in the list's order (last trip first)
    assert code.count(".append(d_") == 1 and code.count("np.array(gs_") == 1
    assert re.search(r"d_U = (t\d+|G_U\.T)\.dot\(xs\[::-1\]\)", code)


def test_batched_sums_after_a_loop_for_rows_on_the_left_and_matrices(out_dir, rng):
    def rows_left(W, U, h, xs):
        for t in range(len(xs)):
            h = np.tanh(h @ W + xs[t] @ U)
        return np.sum(h * h)

    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=(2, 3)), rng.normal(size=3))
    args += (rng.normal(size=(5, 2)),)
    g = grad(rows_left, argnums=(0, 1), example_args=args)
    fd_check(g, rows_left, args, (0, 1))
    code = code_of(g)
    assert "xs[::-1].T.dot(" in code and "_matmul" not in code.split("for t in")[-1]

    # d_W and d_U are products with the same adjoint: it is appended once
    # (the others: h_2 of each trip for tanh', the tape of h, and h for d_W)
    assert code.count(".append(") == 4 and "d_W = G_W.T.dot(G_U)" in code

    def matrices(W, H, xs):  # each trip's adjoint of W is a matrix of W's shape
        for t in range(len(xs)):
            H = np.tanh(W @ H + xs[t])
        return np.sum(H * H)

    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=(3, 2)))
    args += (rng.normal(size=(4, 3, 2)),)
    g = grad(matrices, argnums=(0, 1), example_args=args)
    fd_check(g, matrices, args, (0, 1))
    assert "d_W = G_W.sum(axis=0)" in code_of(g)


def test_a_loops_elementwise_work_on_trip_values_is_done_for_all_trips_at_once(
    out_dir, rng
):
    """tanh' of the RNN, `1.0 - h * h` on each backward trip, is computed once on
    the stacked trips before the backward loop, and read a row per trip."""
    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=3), rng.normal(size=(6, 3)))
    g = grad(rnn, argnums=(0, 1), example_args=args)
    fd_check(g, rnn, args, (0, 1))
    code = code_of(g)
    assert "h_1_trips.append(h_1)" in code and "H_1 = np.array(h_1_trips)" in code
    assert "1.0 - H_1 * H_1" in code and "1.0 - h_1 * h_1" not in code
    # a loop of no trips
    empty = (args[0], args[1], np.zeros((0, 3)))
    g0 = grad(rnn, argnums=(0, 1), example_args=empty)
    d_W, d_h0 = g0(*empty)
    assert not d_W.any() and np.array_equal(d_h0, 2.0 * args[1])


def nested(W, h, xs):
    for _ in range(2):
        for t in range(len(xs)):
            h = np.tanh(W @ h + xs[t])
    return np.sum(h * h)


def test_a_nested_loop_keeps_its_work_in_the_trips(out_dir, rng):
    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=3), rng.normal(size=(4, 3)))
    g = grad(nested, argnums=(0, 1), example_args=args)
    fd_check(g, nested, args, (0, 1))
    assert "_trips" not in code_of(g)


def test_an_unproven_carried_shape_compiles_again_without_the_assumption(
    out_dir, rng, monkeypatch
):
    """The first sweep, which assumes carried adjoints keep their shapes, works on
    a copy of the IR: when it gives up, the second starts from the original."""
    import adcompiler.autodiff.reverse as reverse

    sweeps = []
    first = reverse._reverse

    def give_up_once(*args, assume=False, **kwargs):
        sweeps.append(assume)
        if assume:
            first(*args, assume=assume, **kwargs)  # mutates its copy of the IR
            raise reverse._Unproven("h")
        return first(*args, **kwargs)

    monkeypatch.setattr(reverse, "_reverse", give_up_once)
    args = (rng.normal(size=(3, 3)) / 2, rng.normal(size=3), rng.normal(size=(5, 3)))
    g = grad(rnn, argnums=(0, 1), example_args=args)
    assert sweeps == [True, False]
    fd_check(g, rnn, args, (0, 1))
    assert "_unbroadcast(" in code_of(g)  # the adjoint's shape was not assumed


def kept_row(x, y, z):
    z = np.sum(z, axis=-2, keepdims=True)
    z *= np.tanh(x)
    v1 = np.where(
        np.clip(z, -0.5, 0.5) >= -0.2, y @ x, np.min(z, axis=0, keepdims=True)
    )
    return np.sum(y) + np.sum(z) + np.sum(v1)


def test_shapes_the_examples_tell_apart_stay_apart(out_dir, rng):
    """A keepdims (1, 3) times a (3,) is (1, 3): the shape facts' rule that a
    keepdims reduction fits into its operand must not make it a (3,) (a case
    the random programs found)."""
    args = (rng.normal(size=3), rng.normal(size=3), rng.normal(size=(1, 3)))
    g = grad(kept_row, argnums=(0, 1, 2), example_args=args)
    fd_check(g, kept_row, args, (0, 1, 2))


def relu_score(x, w):
    return np.sum(np.maximum(x, 0.0) * w) + np.sum(np.minimum(x, 1.0))


def test_a_large_relu_step_is_written_with_sign_and_still_splits_ties(out_dir, rng):
    """`np.heaviside` branches on every entry: from SIGN_STEP_ENTRIES on, the
    same step is `0.5 * np.sign(x) + 0.5`, ties (x = 0, x = 1) still halved."""
    from adcompiler.autodiff.emitter import SIGN_STEP_ENTRIES

    n = SIGN_STEP_ENTRIES
    x, w = rng.normal(size=n), rng.normal(size=n)
    x[:3] = 0.0
    x[3:6] = 1.0
    g = grad(relu_score, example_args=(x, w))
    code = code_of(g)
    assert "np.sign(x)" in code and "heaviside" not in code
    # the step is scaled in place, but sign writes a new array: in place its
    # loop branches on every entry (passes/buffers.py)
    assert "*= 0.5" in code and "np.sign(x, out=" not in code
    want = w * np.where(x > 0.0, 1.0, np.where(x == 0.0, 0.5, 0.0))
    want += np.where(x < 1.0, 1.0, np.where(x == 1.0, 0.5, 0.0))
    np.testing.assert_array_equal(g(x, w), want)
    small = (x[:64], w[:64])  # below it, one ufunc is cheaper
    g_small = grad(relu_score, example_args=small)
    assert re.search(r"np\.heaviside\(\s*x, 0\.5\s*\)", code_of(g_small))
    np.testing.assert_array_equal(g_small(*small), want[:64])


def rnn_bias(W, U, b, h, xs):
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h**2)


def test_an_invariant_addend_joins_the_hoisted_products(out_dir, rng, monkeypatch):
    """`W @ h + U @ xs[t] + b`: with examples, the input products are `xs @ U.T`
    before the loop, `b` is added to all of them there, and a trip reads one
    row (passes/hoist.py). Without examples the helper and the trip's `+ b` stay."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    args = (
        rng.normal(size=(4, 4)) / 2,
        rng.normal(size=(4, 3)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=(5, 3)),
    )
    g = grad(rnn_bias, argnums=(0, 1, 2, 3), example_args=args)
    code = code_of(g)
    assert "U_xs = xs.dot(U.T)" in code and "U_xs_b = U_xs + b" in code
    assert re.search(r"np\.tanh\(W\.dot\(h\w*\) \+ U_xs_b\[t\]\)", code)
    assert "_matmul_rows" not in code
    for k, d in enumerate(g(*args)):
        want = numeric_grad(rnn_bias, list(args), k)
        np.testing.assert_allclose(d, want, rtol=1e-6, atol=1e-9)
    generic = code_of(grad(rnn_bias, argnums=(0, 1, 2, 3)))
    assert "_matmul_rows(U, xs)" in generic and "U_xs_b" not in generic


def test_an_addend_that_would_grow_a_row_stays_in_the_loop(out_dir, rng, monkeypatch):
    """`b` of shape (2, 4) makes each trip's sum a matrix: `(U_xs + b)[t]`
    would not be `U_xs[t] + b`, so it is not folded."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    args = (
        rng.normal(size=(4, 4)) / 2,
        rng.normal(size=(4, 3)),
        rng.normal(size=(2, 4)),
        rng.normal(size=(2, 4)),
        rng.normal(size=(5, 3)),
    )

    def rnn_rows(W, U, b, h, xs):
        for t in range(len(xs)):
            h = np.tanh(h @ W + U @ xs[t] + b)
        return np.sum(h**2)

    g = grad(rnn_rows, argnums=(0, 1, 2), example_args=args)
    assert "U_xs_b" not in code_of(g)
    for k, d in enumerate(g(*args)):
        want = numeric_grad(rnn_rows, list(args), k)
        np.testing.assert_allclose(d, want, rtol=1e-6, atol=1e-9)


def outer_of_matrices(a, b, w):
    return np.sum(np.outer(a, b) * w)


def test_the_users_np_outer_flattens_a_matrix(out_dir, monkeypatch):
    """`np.outer` flattens operands of any rank, so its adjoints flatten the other
    factor and give back the operand's shape (the adjoint of a (2, 2) `a` was
    `w @ b`, of shape (4,)); only the outer products the compiler makes of known
    vectors are written `g[:, None] * x`."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(2, 2)), rng.normal(size=3), rng.normal(size=(4, 3)))
    g = grad(outer_of_matrices, argnums=(0, 1), example_args=args)
    code = code_of(g)
    assert "d_a = w.dot(b).reshape(" in code and "[:, None]" not in code
    fd_check(g, outer_of_matrices, args, (0, 1))
    fd_check(grad(outer_of_matrices, argnums=(0, 1)), outer_of_matrices, args, (0, 1))
    # the other way round: a vector first, a matrix second
    args = (rng.normal(size=3), rng.normal(size=(2, 2)), rng.normal(size=(3, 4)))
    fd_check(grad(outer_of_matrices, argnums=(0, 1)), outer_of_matrices, args, (0, 1))
