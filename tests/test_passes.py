"""Each optimization pass, shown by what it removes; `passes.disabled` turns them off.

Every test compiles one function twice, with all passes and without the pass
under test, checks that both give the finite-difference gradient, and shows
what the pass took out of the generated code.
"""

import inspect
import re

import numpy as np
import pytest
from adcheck import check
from conftest import numeric_grad

from adcompiler import grad, passes


@pytest.fixture(autouse=True)
def every_pass_on(monkeypatch):
    """These tests compare with and without a pass, whatever ADC_PASSES_OFF says."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)


def compiled_both_ways(f, args, name, argnums=0):
    """The generated source with every pass, and without the pass `name`."""
    sources = []
    for off in ((), (name,)):
        with passes.disabled(*off) if off else _nothing():
            g = grad(f, argnums=argnums)
            got = g(*args)
            want = numeric_grad(f, list(args), argnums)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
            sources.append(
                "\n".join(
                    line.split("  # ")[0] for line in inspect.getsource(g).splitlines()
                )
            )
    return sources


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def identities(x):
    return np.sum((x * 1.0 + 0.0) ** 2)


def test_simplify_removes_identities_and_reduces_powers(out_dir, rng):
    on, off = compiled_both_ways(identities, (rng.normal(size=4),), "simplify")
    assert "* 1.0" not in on and "+ 0.0" not in on and "**" not in on
    assert "* 1.0" in off and "** 1" in off  # 2 * x ** (2 - 1), literally


def penalized(w, X, y):
    return np.sum((np.tanh(X @ w) - y) ** 2) + 0.5 * np.sum(w**2)


def penalized_by(w, X, y, lam):
    return np.sum((np.tanh(X @ w) - y) ** 2) + 0.5 * lam * np.sum(w * w)


def test_simplify_makes_two_scalings_by_constants_one(out_dir, rng):
    """`2.0 * (0.5 * w)`, the adjoint of `0.5 * np.sum(w**2)`, is `w`: 2.0 * 0.5
    is exact, so is the product with a power of two. `2.0 * (t * w)` with a
    number `t = 0.5 * lam` is `lam * w`, one pass over `w`."""
    args = (rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5))
    on, off = compiled_both_ways(penalized, args, "simplify")
    assert re.search(r"d_w = w \+ ", on) and "0.5" not in on
    assert "0.5 * (2 * w**1)" in off  # simplify off: the power rule, literally
    on, off = compiled_both_ways(penalized_by, (*args, 0.7), "simplify")
    assert re.search(r"d_w = lam \* w \+ ", on) and "0.5" not in on
    assert "2.0 * (d_t" in off


def repeated(x):
    return np.sum(np.tanh(x) * np.tanh(x))


def test_cse_computes_a_repeated_expression_once(out_dir, rng):
    on, off = compiled_both_ways(repeated, (rng.normal(size=4),), "cse")
    assert on.count("np.tanh") == 1
    assert off.count("np.tanh") >= 2


def unused_value(x):
    return np.sum(np.sin(x))


def test_dce_drops_the_value_grad_does_not_need(out_dir, rng):
    on, off = compiled_both_ways(unused_value, (rng.normal(size=4),), "dce")
    assert "np.sin" not in on  # only cos(x) is needed for the gradient
    assert "np.sin" in off


def same_shapes(x):
    return np.sum(np.tanh(x) * x)


def test_shape_facts_drop_unbroadcast_where_shapes_agree(out_dir, rng):
    on, off = compiled_both_ways(same_shapes, (rng.normal(size=(3, 2)),), "shapes")
    assert "_unbroadcast" not in on
    assert "_unbroadcast" in off


def weighted(x, w):
    return np.sum(x * w)


def test_standins_build_no_array_of_ones(out_dir, rng):
    x, w = rng.normal(size=5), rng.normal(size=5)
    on, off = compiled_both_ways(weighted, (x, w), "standins")
    assert "full_like" not in on and "ones_like" not in on
    assert "ones_like" in off or "full_like" in off


def entries(x):
    return (
        np.sum(x[:, 0]) + 2.0 * np.sum(x[[0, 0, 2]]) + np.sum(x[x > 0.5]) + np.sum(x**3)
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_standin_is_added_into_entries_as_it_is(out_dir, rng, dtype):
    """The adjoint of `np.sum(x[:, 0])` is `d[:, 0] += 1.0`, not `+=
    np.ones_like(x[:, 0])`; np.add.at broadcasts the number the same way over an
    index that repeats an entry or a mask. float32 stays float32."""
    x = rng.normal(size=(4, 3)).astype(dtype)
    on, off = compiled_both_ways(entries, (x.astype(np.float64),), "standins")
    assert "[:, 0] += 1.0" in on and "ones_like" not in on and "full_like" not in on
    assert "ones_like" in off
    assert grad(entries)(x).dtype == dtype


def rnn(W, h):
    for _ in range(3):
        h = np.tanh(W @ h)
    return np.sum(h)


def test_inplace_accumulates_loop_adjoints_in_place(out_dir, rng):
    W, h = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    with passes.disabled("batch"):  # which would sum d_W after the loop instead
        on, off = compiled_both_ways(rnn, (W, h), "inplace")
    assert "d_W +=" in on
    assert "d_W +=" not in off


def rnn_inputs(W, U, b, h, xs):
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h**2)


def test_batch_sums_a_loops_outer_products_after_it(out_dir, rng):
    """One outer product and one `+=` per trip become two list appends per trip
    and one matrix product after the loop: `d_W = G.T @ H`."""
    args = (
        rng.normal(size=(3, 3)) * 0.5,
        rng.normal(size=(3, 2)),
        rng.normal(size=3),
        rng.normal(size=3),
        rng.normal(size=(4, 2)),
    )
    on, off = compiled_both_ways(rnn_inputs, args, "batch")
    assert "d_W = _matmul_lhs_sum(gs_W, xs_W, W)" in on
    assert "d_W +=" not in on and "d_W +=" in off
    g = grad(rnn_inputs, argnums=(0, 1, 2))
    code = inspect.getsource(g)
    # the rows of xs, in trip order, are xs itself: no list of them
    assert re.search(r"d_U = _matmul_lhs_rows_sum\(gs_\w+, xs, U\)", code)
    assert "xs_U" not in code and " = xs[t]" not in code
    # the hand-written batched BPTT of benchmarks/workloads.py, to rounding
    from benchmarks.workloads import hand_rnn

    got = g(*args)
    for d, want in zip(got, hand_rnn(*args)):
        np.testing.assert_allclose(d, want, rtol=1e-12, atol=1e-14)
    # a loop with no trips: zeros of the weights' shapes
    empty = g(*args[:4], np.zeros((0, 2)))
    assert [d.shape for d in empty] == [(3, 3), (3, 2), (3,)]
    assert not any(np.any(d) for d in empty)


def test_unknown_pass_names_are_refused():
    with pytest.raises(ValueError, match="unknown passes"):
        with passes.disabled("fast"):
            pass


def test_the_setting_is_part_of_the_cache_key(out_dir, rng):
    a = grad(unused_value)
    text_on = open(inspect.getfile(a)).read()
    with passes.disabled():
        b = grad(unused_value)
    text_off = open(inspect.getfile(b)).read()
    assert inspect.getfile(a) == inspect.getfile(b)  # the same file, regenerated
    assert text_on != text_off


def log_softmax_ce(z, Y):
    m = np.max(z, axis=1, keepdims=True)
    shifted = z - m
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * logp)


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def softmax_weighted(z, w):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return np.sum(w * (e / np.sum(e, axis=-1, keepdims=True)))


def shift_used_elsewhere(z):
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return np.sum(s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))) + np.sum(m * m)


def summed_over_another_axis(z):
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return np.sum(s - np.log(np.sum(np.exp(s), axis=0, keepdims=True)))


@pytest.mark.parametrize(
    "f, extra",
    [(log_softmax_ce, "Y"), (logsumexp, None), (softmax_weighted, "w")],
    ids=["log-softmax", "logsumexp", "softmax"],
)
def test_shift_drops_the_adjoint_of_the_stabilizing_max(out_dir, rng, f, extra):
    z = rng.normal(size=(4, 5))
    args = (z,) if extra is None else (z, rng.normal(size=(4, 5)))
    on, off = compiled_both_ways(f, args, "shift")
    assert "== m" not in on and "t == " not in on  # no tie mask, no count
    assert "==" in off  # without the pass, the max's adjoint splits ties


@pytest.mark.parametrize("f", [shift_used_elsewhere, summed_over_another_axis])
def test_shift_keeps_the_adjoint_when_the_max_matters(out_dir, rng, f):
    z = rng.normal(size=(4, 5))
    on, off = compiled_both_ways(f, (z,), "shift")
    assert "==" in on  # the max's adjoint is written: its derivative is not zero here


def softmax_ce(W, X, Y):
    z = X @ W
    m = np.max(z, axis=1, keepdims=True)
    logp = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def test_shapes_are_read_from_values_computed_anyway(out_dir, rng):
    """`_unbroadcast(g, logp)` would keep `logp` and its `np.log` alive for a shape;
    `logp` has the shape of `z`, computed anyway. `X.shape[0]` is an int, so the
    result is a proven scalar and is not computed for a check either."""
    args = (
        rng.normal(size=(4, 3)),
        rng.normal(size=(5, 4)),
        np.eye(3)[[0, 2, 1, 1, 0]],
    )
    on, off = compiled_both_ways(softmax_ce, args, "shapes")
    assert "np.log" not in on and "needs a scalar output" not in on
    assert "np.log" in off and "needs a scalar output" in off


def softmax_rows(W, X):
    p = np.exp(X @ W)
    p = p / np.sum(p, axis=-1, keepdims=True)
    return np.sum(p * p * np.arange(p.shape[-1]))


def layer_norm(x, gamma):
    mu = np.mean(x, axis=-1, keepdims=True)
    xhat = (x - mu) / np.sqrt(np.mean((x - mu) ** 2, axis=-1, keepdims=True) + 1e-5)
    return np.sum(np.tanh(gamma * xhat))


def test_a_reductions_adjoint_is_not_spread_where_the_sum_broadcasts(out_dir, rng):
    """The adjoint of a softmax's normalizer, or of a layer norm's mean, reaches
    its operand as `np.broadcast_to(g, np.shape(p))`; where the operand's other
    contribution has that shape already, adding `g` to it broadcasts as well,
    without the call (`d_p = d_p_1 / t3 - t4`)."""
    args = (rng.normal(size=(3, 4)), rng.normal(size=(5, 3)))
    on, off = compiled_both_ways(softmax_rows, args, "shapes")
    assert "broadcast_to" not in on and "broadcast_to" in off
    assert re.search(r"d_p = d_p_1 / t\d+ - t\d+\n", on)
    x, gamma = rng.normal(size=(4, 6)), rng.normal(size=6)
    g = grad(layer_norm, example_args=(x, gamma))
    np.testing.assert_allclose(
        g(x, gamma), numeric_grad(layer_norm, [x, gamma], 0), rtol=1e-6, atol=1e-8
    )
    code = inspect.getsource(g)
    # the mean's count is 6, which the example arguments tell
    assert "broadcast_to" not in code and "_count(" not in code and " / 6" in code
    generic = inspect.getsource(grad(layer_norm))
    assert "_count(" in generic and "broadcast_to" in generic  # d_t1's shape unknown
    check(layer_norm, x, gamma)


def relu_and_clamp(x):
    return np.sum(np.maximum(x, 0.0) ** 2 + np.minimum(x, 1.0) + np.maximum(x, x[0]))


def test_max_against_a_constant_is_one_step_function(out_dir, rng):
    """A ReLU's adjoint: `g * _step(x)`, one step where the tie split against
    another value takes two `where`s and two comparisons. Same gradient, 0.5 at
    the ties, NaN where x is NaN."""
    source = check(relu_and_clamp, rng.normal(size=6))
    assert "_step(x)" in source  # max(x, 0.0): no `x - 0.0`
    assert "_step(1.0 - x)" in source  # min(x, 1.0)
    assert source.count("np.where") == 3  # against x[0]: the tie split, both ways
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 0.3])
    # 2 max(x, 0) step(x) + step(1 - x) + 1, half steps at the ties 0 and 1;
    # x[0] ties with itself in max(x, x[0]) and gets both halves
    want = np.array([2.0, 2.0, 3.0, 3.5, 5.0, 2.6])
    np.testing.assert_allclose(grad(relu_and_clamp)(x), want)
    assert np.isnan(grad(relu_and_clamp)(np.array([np.nan, 1.0]))[0])
    # from 4096 entries on, _step is written with np.sign: the same step
    big = np.concatenate([x, np.nan, 3.0 + rng.random(5000)], axis=None)
    got = grad(relu_and_clamp)(big)
    np.testing.assert_allclose(got[1:6], want[1:6])
    assert np.isnan(got[6])


def rnn_row(W, h, xs):
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h**2)


def rnn_cols(W, h, xs):
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h**2)


@pytest.mark.parametrize(
    "f, h_shape, helper",
    [
        (rnn_row, (3,), "_matmul_rhs_sum(xs_W, gs_W, W)"),
        (rnn_row, (2, 3), "_matmul_rhs_sum(xs_W, gs_W, W)"),  # rows of a batch
        (rnn_cols, (3,), "_matmul_lhs_sum(gs_W, xs_W, W)"),
        (rnn_cols, (3, 2), "_matmul_lhs_sum(gs_W, xs_W, W)"),  # columns of a batch
    ],
)
def test_batched_products_match_finite_differences(out_dir, rng, f, h_shape, helper):
    """Vectors take the stacked product; a batch (matrices) the sum of products."""
    W = rng.normal(size=(3, 3)) * 0.5
    source = check(f, W, rng.normal(size=h_shape), rng.normal(size=(4,) + h_shape))
    assert helper in source


def normalized(z):
    s = np.sum(np.exp(z), axis=(0, 2), keepdims=True)
    m = np.mean(z * z, axis=-1, keepdims=True)
    t = np.max(np.tanh(z), keepdims=True)
    return np.sum(np.sin(np.exp(z) / s + np.log(m) * z - t * z))


def test_a_keepdims_reduction_takes_its_adjoint_as_a_sum_over_its_axes(out_dir, rng):
    """`s` in `x / s` with `s = np.sum(x, axis=A, keepdims=True)` has the shape of
    `x` with the axes A kept at 1: a contribution of `x`'s shape goes back to it as
    its sum over A, kept, without `_unbroadcast`'s look at the shapes at run time."""
    z = rng.normal(size=(2, 3, 4))
    on, off = compiled_both_ways(normalized, (z,), "shapes")
    assert "_unbroadcast" not in on
    assert "axis=(0, 2), keepdims=True" in on and "axis=-1, keepdims=True" in on
    assert on.count("_unbroadcast(") < off.count("_unbroadcast(")
    check(normalized, z)


def log_softmax_loss(w, x, y):
    z = x @ w
    return -np.sum(y * (z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))))


def test_a_sum_of_a_negation_is_the_negation_of_the_sum(out_dir, rng):
    """The adjoint of `s` in `z - s` is `-g` summed over the kept axis. Summing `g`
    and negating the small result passes over `g` once, not twice (and the
    negation then moves into the sum it ends in: `d_z = d_t2 - d_t3 * t1`);
    the sum along the rows is a product with ones (`_sum_rows`, passes/products.py);
    without that, because `_unbroadcast(g, z)` is a NumPy value when `z` is, the
    sum is the method, which costs microseconds less than `np.sum` on a small array."""
    w, x, y = (rng.normal(size=s) for s in [(4, 3), (5, 4), (5, 3)])
    on, off = compiled_both_ways(log_softmax_loss, (w, x, y), "simplify")
    assert "= _sum_rows(d_t2, axis=1, keepdims=True) / " in on
    assert "d_z = d_t2 - d_t3 * t1" in on
    assert "np.sum(" not in on and "(-d_" not in on and "(-d_t2" not in on
    assert "_sum_rows(-d_t2, axis=1, keepdims=True)" in off
    on, off = compiled_both_ways(log_softmax_loss, (w, x, y), "dot")
    assert "= d_t2.sum(axis=1, keepdims=True) / " in off and "np.sum(" not in off
    check(log_softmax_loss, w, x, y)


def rnn_row_inputs(W, U, b, h, xs):
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t] @ U + b)
    return np.sum(h**2)


def rnn_matrix_inputs(W, U, H, xs):
    for x in xs:  # each x a matrix: U @ x is a matrix product per trip
        H = np.tanh(W @ H + U @ x)
    return np.sum(H**2)


def rnn_shape_loop(W, U, h, xs):
    for t in range(np.shape(xs)[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h**2)


def test_hoist_makes_a_loops_input_products_one_product_before_it(out_dir, rng):
    """`U @ xs[t]` with the same `U` on every trip of a loop over all of `xs` is
    one product before the loop, read a row per trip, as an expert writes it:
    `U_xs = _matmul_rows(U, xs)` (`xs @ U.T` for vectors), then `U_xs[t]`."""
    W, U, b, h = (rng.normal(size=s) * 0.5 for s in [(3, 3), (3, 2), (3,), (3,)])
    xs = rng.normal(size=(4, 2))
    on, off = compiled_both_ways(rnn_inputs, (W, U, b, h, xs), "hoist", 1)
    assert "U_xs = _matmul_rows(U, xs)" in on and "= U_xs[t]" in on
    assert "U @ " not in on and "U @ xs[t]" in off and "_matmul_rows" not in off
    # the row form, xs[t] @ U
    on, off = compiled_both_ways(rnn_row_inputs, (W, U.T, b, h, xs), "hoist", 1)
    assert "xs_U = _rows_matmul(xs, U)" in on and "@ U" not in on
    assert "_matmul_rhs_rows_sum(xs, gs_U, U)" in on  # and no list of the rows
    # matrices per trip, a `for x in xs` loop, a loop to np.shape(xs)[0], a list
    H, X3 = rng.normal(size=(3, 5)), rng.normal(size=(4, 2, 5))
    on, _ = compiled_both_ways(rnn_matrix_inputs, (W, U, H, X3), "hoist", 1)
    assert "_matmul_rows(U, xs)" in on
    on, _ = compiled_both_ways(rnn_shape_loop, (W, U, h, xs), "hoist", 1)
    assert "_matmul_rows(U, xs)" in on
    check(rnn_inputs, W, U, b, h, list(xs), argnums=(0, 1, 2))


def rnn_may_stop(W, U, h, xs):
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t])
        if np.sum(h) > 1.0:
            break
    return np.sum(h**2)


def rnn_first_rows(W, U, h, xs):
    for t in range(2):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h**2)


def rnn_changing_weight(W, U, h, xs):
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t])
        U = 0.9 * U
    return np.sum(h**2)


@pytest.mark.parametrize("f", [rnn_may_stop, rnn_first_rows, rnn_changing_weight])
def test_hoist_leaves_loops_that_may_not_multiply_every_row_alike(out_dir, rng, f):
    """A loop that may stop early, or stops before the last row, would compute
    rows it never reads; a weight that changes in the loop is not invariant."""
    W, U, h = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(3, 2)), rng.normal(size=3)
    xs = rng.normal(size=(4, 2))
    on, off = compiled_both_ways(f, (W, U, h, xs), "hoist", 1)
    assert "_matmul_rows" not in on and on == off


def rnn_updates_its_input(W, h, xs):
    for t in range(len(xs)):
        v = W @ xs[t]
        v += np.tanh(h)  # in place on a row of the hoisted product: it must copy
        v *= 0.5
        h = h + v * v
    return np.sum(h**2)


def rnn_sets_an_input_entry(W, h, xs):
    for t in range(len(xs)):
        v = xs[t] @ W
        v[0] += 1.0
        h = np.tanh(h + v)
    return np.sum(h**2) + np.sum(xs)


@pytest.mark.parametrize("f", [rnn_updates_its_input, rnn_sets_an_input_entry])
def test_a_hoisted_row_updated_in_place_leaves_the_other_rows_alone(out_dir, rng, f):
    """A row of `W_xs` is a view: an update of it in the loop works on a copy,
    so the rows of later trips, and the backward sweep's, stay as computed."""
    W, h = rng.normal(size=(3, 2)) * 0.5, rng.normal(size=3) * 0.1
    xs = rng.normal(size=(4, 2)) * 0.3
    W = W if f is rnn_updates_its_input else W.T
    source = check(f, W, h, xs, argnums=(0, 1, 2))
    assert "_matmul_rows(W, xs)" in source or "_rows_matmul(xs, W)" in source


def grads_both_ways(f, points, argnums):
    """The generated source with every pass and without `branches`, after checking
    each gradient at every point against finite differences."""
    sources = []
    for off in ((), ("branches",)):
        with passes.disabled(*off) if off else _nothing():
            g = grad(f, argnums=argnums)
            for args in points:
                got = g(*args)
                for i, k in enumerate(argnums):
                    want = numeric_grad(f, list(args), k)
                    np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-8)
            sources.append(
                "\n".join(
                    line.split("  # ")[0] for line in inspect.getsource(g).splitlines()
                )
            )
    return sources


def seed(x, y, z):
    return (x + y) * max(y, z)


def test_branches_makes_the_adjoint_of_max_one_if(out_dir):
    points = [(1.0, 2.0, 0.0), (1.0, 0.5, 2.0), (-3.0, 1.5, -1.0)]
    on, off = grads_both_ways(seed, points, (0, 1, 2))
    assert "    if z > y:" in on
    assert " else " not in on  # no conditional expression is left
    assert "d_y = z" in on and "d_y = t1 + y" in on  # 0.0 + z is z in its branch
    assert off.count(" else ") == 3  # the forward pick and the two shares


def two_extremes(x, y, z):
    a = max(x, y)
    b = min(x * z, y)
    return a * b + max(x, y) * z


def test_branches_groups_by_condition(out_dir):
    # every order of x, y and x * z, y
    points = [(1.0, 2.0, 0.5), (2.0, 1.0, 0.25), (2.0, 1.0, 3.0), (-1.0, 2.0, -4.0)]
    on, off = grads_both_ways(two_extremes, points, (0, 1, 2))
    # the forward pick of max(x, y) is read by the shares of min: it stays one
    assert on.count(" else ") == 1 and off.count(" else ") >= 6


def read_between(x, y):
    m = max(x, y)
    e = np.exp(m)  # reads the forward pick: its group closes before this call
    return e * x + m


def test_branches_closes_a_group_before_a_call_that_reads_it(out_dir):
    points = [(0.5, 0.25), (0.25, 0.5)]
    on, _ = grads_both_ways(read_between, points, (0, 1))
    lines = on.splitlines()
    call = next(i for i, line in enumerate(lines) if "np.exp(" in line)
    assert any(" if " in line and " else " in line for line in lines[:call])


def arrays_on_one_condition(x, c):
    v = x if c > 0.0 else 2.0 * x
    w = np.sin(x) if c > 0.0 else x * x
    return np.sum(v * w)


def test_branches_with_array_values(out_dir, rng):
    x = rng.normal(size=4)
    on, off = grads_both_ways(arrays_on_one_condition, [(x, 1.0), (x, -1.0)], (0,))
    # four conditional values on c > 0.0, the forward two and their adjoints: one if
    assert on.count(" else ") == 0 and on.count("    if c > 0.0:") == 1
    assert off.count(" else ") + off.count("if t1:") >= 4
    assert "v = " not in on and "w = " not in on  # read only inside the if


def max_in_a_loop(x, y):
    s = 0.0
    for _ in range(3):
        s = s + max(s * x, y) * x
    return s


def test_branches_in_a_loop_body(out_dir):
    points = [(0.5, 0.25), (2.0, 0.5), (-1.5, 0.5)]  # no ties: max has a kink there
    on, off = grads_both_ways(max_in_a_loop, points, (0, 1))
    assert on.count(" else ") < off.count(" else ")


def test_a_function_ending_in_an_if_returns_from_its_branches(out_dir, rng):
    # compiled for examples (no casts at the return), the seed's gradient reads
    # as the hand-written one: each branch returns its own values
    for checks in (True, False):
        g = grad(seed, argnums=(0, 1, 2), example_args=(1.0, 2.0, 0.0), checks=checks)
        body = inspect.getsource(g).split('"""')[-1]
        lines = [line.split("  # ")[0].strip() for line in body.splitlines()]
        tail = lines[lines.index("t1 = x + y") :]
        assert tail[:4] == [
            "t1 = x + y",
            "if z > y:",
            "return z, z, t1",
            "return y, t1 + y, 0.0",
        ]
        for args in [
            (1.0, 2.0, 0.0),
            (1.0, 0.5, 2.0),
            (-3.0, 1.5, -1.0),
            (1.0, 2.0, 2.0),
        ]:
            want = [numeric_grad(seed, list(args), k) for k in range(3)]
            if args[1] != args[2]:  # at the tie max has a kink
                np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
        assert g(1.0, 2.0, 2.0) == (2.0, 5.0, 0.0)  # the tie goes to y, as max's does
    # an `if` over arrays, forward and backward merged, returns from both too
    x = rng.normal(size=4)
    g = grad(arrays_on_one_condition, example_args=(x, 1.0), checks=False)
    code = inspect.getsource(g)
    assert code.count("return ") == 2 and "    if c > 0.0:" in code
    for c in (1.0, -1.0):
        want = numeric_grad(arrays_on_one_condition, [x, c], 0)
        np.testing.assert_allclose(g(x, c), want, rtol=1e-6, atol=1e-8)


def log_softmax_ce(W, X, Y):
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * logp)


def test_a_negation_moves_into_the_sum_it_ends_in(out_dir, rng, monkeypatch):
    """`-s` then `-s / t` then `x + (-s / t) * e` is `x - s / t * e`: one
    pass over an array fewer (passes/negation.py)."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    Y = np.eye(3)[rng.integers(0, 3, size=5)]
    source = check(log_softmax_ce, rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), Y)
    assert "= -" not in source.replace("= -1", "")  # no negated array left
    assert re.search(r"d_\w+ = d_\w+ - d_\w+ \* t\d+", source)


def negations(x, y, z):
    a = np.sin(x) * (np.cos(y) - z)  # d: -sin(y) * (sin(x) * g) into d_y
    b = (-x) * (-y) + z  # two negations into one product
    c = (-np.tanh(x)) - y  # `(-t) - y` needs its negation: it stays
    return np.sum(a + b * b + np.exp(c))


def test_negations_through_products_and_both_sides_of_a_sum(out_dir, rng):
    args = [rng.normal(size=4) for _ in range(3)]
    check(negations, *args, argnums=(0, 1, 2))


def softmax_steps(W, xs, ks):
    total = 0.0
    for t in range(len(xs)):
        y = W @ xs[t]
        shifted = y - np.max(y)
        log_p = shifted - np.log(np.sum(np.exp(shifted)))
        total = total - log_p[ks[t]]
    return total


def test_a_negation_in_a_loop_moves_into_its_sum_there(out_dir, rng, monkeypatch):
    """A trip's values are read only in the loop (its tape pushes are in it):
    the negation of the softmax adjoint moves in the backward trip too."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    W, xs = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    source = check(softmax_steps, W, xs, [0, 2, 1, 1, 0])
    loop = source.split("for t in reversed")[1]
    # no adjoint array is negated: `-d_total`, a number, is the loss's
    assert ".sum() / " in loop and set(re.findall(r"= -(\w+)", loop)) <= {"d_total"}


def logistic(w, X, y):
    margin = y * (X @ w)
    return np.mean(np.log1p(np.exp(-margin)))


def test_a_negation_that_ends_in_no_sum_moves_onto_a_number(out_dir, rng):
    """`d_t3 = d_t6 / (1 + t3)`, `d_t7 = d_t3 * t3`, `-d_t7`: the sign goes back
    through the products to the number `d_t5 = -1.0 / np.size(margin)`, one pass
    over the samples fewer (passes/negation.py)."""
    args = (rng.normal(size=3), rng.normal(size=(6, 3)), np.sign(rng.normal(size=6)))
    on, off = compiled_both_ways(logistic, args, "simplify")
    assert re.search(r"d_t\d+ = -1.0 / np.size\(", on), on
    assert not re.search(r"= -d_", on) and re.search(r"= -d_", off)


def _negation_ir(stmts, results, scalars=()):
    """A block of `stmts` (`(out, prim, *args)`, a string arg a name) after the pass."""
    from adcompiler.autodiff.emitter import Names
    from adcompiler.ir import Assign, Block, Const, Var
    from adcompiler.passes.negation import push_negations
    from adcompiler.passes.shapes import analyze

    def atom(a):
        return Var(a) if isinstance(a, str) else Const(a)

    block = Block(
        [Assign((o,), prim, tuple(atom(a) for a in args)) for o, prim, *args in stmts],
        tuple(Var(r) for r in results),
    )
    facts = analyze(block, known={name: () for name in scalars})
    push_negations(block, Names({"a", "b", "s"}), facts)
    return [
        (
            s.out,
            s.prim,
            *[getattr(a, "name", getattr(a, "value", None)) for a in s.args],
        )
        for s in block.stmts
    ]


@pytest.mark.parametrize(
    "stmts, scalars, want",
    [
        # onto a constant
        (
            [("t1", "mul", "a", 2.0), ("t2", "neg", "t1")],
            (),
            [("t2", "mul", "a", -2.0)],
        ),
        # a negation cancels
        (
            [("n", "neg", "b"), ("t1", "div", "a", "n"), ("t2", "neg", "t1")],
            (),
            [("t2", "div", "a", "b")],
        ),
        # onto a scalar, negated once
        (
            [("t1", "mul", "a", "s"), ("t2", "neg", "t1")],
            ("s",),
            [("neg_s", "neg", "s"), ("t2", "mul", "a", "neg_s")],
        ),
        # through a scalar's own quotient to its constant
        (
            [("k", "div", 1.0, "s"), ("t1", "mul", "a", "k"), ("t2", "neg", "t1")],
            ("s",),
            [("k", "div", -1.0, "s"), ("t2", "mul", "a", "k")],
        ),
        # a scalar's negation onto its constant, `-1.0 / s`
        (
            [("k", "div", 1.0, "s"), ("t2", "neg", "k")],
            ("s",),
            [("t2", "div", -1.0, "s")],
        ),
        # but not onto another scalar: it would cost a statement and save nothing
        (
            [("k", "mul", "s", "s"), ("t2", "neg", "k")],
            ("s",),
            [("k", "mul", "s", "s"), ("t2", "neg", "k")],
        ),
        # a product read twice keeps its sign: the negation stays
        (
            [("t1", "mul", "a", 2.0), ("t2", "neg", "t1"), ("t3", "mul", "t1", "t2")],
            (),
            [("t1", "mul", "a", 2.0), ("t2", "neg", "t1"), ("t3", "mul", "t1", "t2")],
        ),
        # nothing to land on: an array's negation stays
        (
            [("t1", "mul", "a", "b"), ("t2", "neg", "t1")],
            (),
            [("t1", "mul", "a", "b"), ("t2", "neg", "t1")],
        ),
    ],
)
def test_where_a_negation_lands(stmts, scalars, want):
    results = ["t3"] if stmts[-1][0] == "t3" else ["t2"]
    assert _negation_ir(stmts, results, scalars) == want


def centered(x):
    y = x - np.mean(x)
    return np.sum(y * y)


def test_a_reduction_over_every_axis_is_a_scalar(out_dir, rng):
    """`np.mean(x)` is one number whatever `x` is: its adjoint is a sum, and the
    difference has the shape of `x`, with no `_unbroadcast` to find out."""
    on, off = compiled_both_ways(centered, (rng.normal(size=(3, 2)),), "shapes")
    assert "_unbroadcast" not in on and "_unbroadcast" in off
    assert "d_x = d_y - d_y.sum() / np.size(x)" in on
