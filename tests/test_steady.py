"""passes/steady.py: a generic gradient's loops, derived for trips that keep
their shapes, checked a trip, with the general gradient where a trip does not."""

import inspect
import re

import numpy as np
import pytest
from adcheck import check, code_of
from conftest import numeric_grad

from adcompiler import grad, hessian, passes, value_and_grad


@pytest.fixture(autouse=True)
def _every_pass(monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)


def rnn_loss(W, U, b, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h**2)


def rnn_problem(rng, T=5, n=4, d=3):
    return (
        rng.normal(size=(n, n)) * 0.5,
        rng.normal(size=(n, d)),
        rng.normal(size=n),
        rng.normal(size=n),
        rng.normal(size=(T, d)),
    )


def backward_loop(code: str) -> str:
    return code.split("for t in reversed")[1]


def module_of(g) -> str:
    return inspect.getsource(inspect.getmodule(g))


def counting_general(g, monkeypatch) -> list:
    """Count the calls the gradient `g` makes to its general function."""
    module = inspect.getmodule(g)
    (name,) = [n for n in vars(module) if n.endswith("_general")]
    general, calls = getattr(module, name), []

    def counted(*args, **kwargs):
        calls.append(args)
        return general(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_rnns_backward_trip_has_no_unbroadcast(out_dir, rng):
    """The benchmark's RNN: one comparison of shapes a forward trip; the backward
    trip neither sums to shapes nor pops values kept for them."""
    code = check(rnn_loss, *rnn_problem(rng), argnums=(0, 1, 2))
    assert re.search(
        r"if not h_1\.shape == shape_h0 == t\d\.shape == t\d\.shape:\n"
        r"\s+return _grad_rnn_loss_general\(W, U, b, h0, xs\)",
        code,
    )
    assert "shape_h0 = np.shape(h0)" in code
    back = backward_loop(code)
    assert "_unbroadcast(" not in back
    assert "h = tape.pop()" in back  # the trip's h, for d_W; nothing for shapes
    general = module_of(grad(rnn_loss, argnums=(0, 1, 2)))
    general = general.split("def _grad_rnn_loss_general")[1]
    assert "_unbroadcast(d_" in backward_loop(general)


def test_the_rnn_equals_the_hand_written_bptt(out_dir, rng):
    from benchmarks.workloads import hand_rnn

    g = grad(rnn_loss, argnums=(0, 1, 2))
    for T in (0, 1, 6):
        args = rnn_problem(rng, T=T)
        for d, want in zip(g(*args), hand_rnn(*args)):
            np.testing.assert_allclose(d, want, rtol=1e-12, atol=1e-14)


def grows(W, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t])  # xs[t] of shape (2, 3) makes h (2, 3)
    return np.sum(h**2)


@pytest.mark.parametrize(
    "rows, general",
    [
        ((4, 3), False),  # every trip keeps h's shape
        ((4, 2, 3), True),  # the first trip spreads h: (3,) -> (2, 3)
        ((0, 3), False),  # no trip
    ],
)
def test_a_trip_that_spreads_a_value_takes_the_general_gradient(
    out_dir, rng, monkeypatch, rows, general
):
    W, h0, xs = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), rng.normal(size=rows)
    g = grad(grows, argnums=(0, 1))
    calls = counting_general(g, monkeypatch)
    got = g(W, h0, xs)
    assert len(calls) == int(general)
    for k in (0, 1):
        want = numeric_grad(grows, [W, h0, xs], k)
        assert got[k].shape == want.shape
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-8)


def test_a_later_trip_that_spreads_a_value_takes_the_general_gradient(
    out_dir, rng, monkeypatch
):
    """The check is made on every trip, not only the first."""
    W, h0 = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    xs = [rng.normal(size=3), rng.normal(size=3), rng.normal(size=(2, 3))]
    g = grad(grows, argnums=(0, 1))
    calls = counting_general(g, monkeypatch)
    got = g(W, h0, xs)
    assert len(calls) == 1
    for k in (0, 1):
        want = numeric_grad(grows, [W, h0, xs], k)
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-8)


def summed_steps(W, xs, ks):
    total = 0.0
    for t in range(len(xs)):
        y = W @ xs[t]
        log_p = y - np.log(np.sum(np.exp(y)))
        total = total - log_p[ks[t]]
    return total


def test_a_sum_over_the_trips_is_checked_to_stay_a_number(out_dir, rng, monkeypatch):
    """`total = 0.0` carried: its next value is checked to be a scalar, so the
    backward trip takes its adjoint for one, and the result, `total`, needs no
    check of its own after the loop (the general gradient keeps its check)."""
    W, xs = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    code = check(summed_steps, W, xs, [0, 2, 1, 1, 0])
    assert re.search(r"if not total_1\.shape == \(\)", code)
    assert "_unbroadcast(" not in backward_loop(code)
    g = grad(summed_steps)
    fast, general = module_of(g).split("def _grad_summed_steps_general")
    assert "needs a scalar output" not in fast and "needs a scalar output" in general
    # a row of indices per trip makes `total` an array: grad refuses it
    calls = counting_general(g, monkeypatch)
    with pytest.raises(TypeError, match="needs a scalar output"):
        g(W, xs, [[0, 1]] * 5)
    assert len(calls) == 1


def test_value_and_grad_and_float32_through_the_general_gradient(
    out_dir, rng, monkeypatch
):
    W, h0 = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    xs = rng.normal(size=(4, 2, 3))
    vg = value_and_grad(grows, argnums=(0, 1))
    calls = counting_general(vg, monkeypatch)
    value, (dW, dh0) = vg(W, h0, xs)
    assert len(calls) == 1
    assert value == pytest.approx(grows(W, h0, xs), rel=1e-12)
    np.testing.assert_allclose(dW, numeric_grad(grows, [W, h0, xs], 0), rtol=1e-6)
    args32 = [a.astype(np.float32) for a in (W, h0, xs)]
    for d, a in zip(grad(grows, argnums=(0, 1))(*args32), args32):
        assert d.dtype == np.float32 and d.shape == a.shape


def test_hessian_reads_both_gradients_back(out_dir, rng):
    """Forward mode over the generated gradient follows its call to the general one."""
    W, h0 = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    g = grad(grows)
    for xs in (rng.normal(size=(3, 3)), rng.normal(size=(3, 2, 3))):
        H = hessian(grows)(W, h0, xs)
        eps = 1e-5
        want = np.zeros((3, 3, 3, 3))
        for i in range(3):
            for j in range(3):
                E = np.zeros((3, 3))
                E[i, j] = eps
                want[..., i, j] = (g(W + E, h0, xs) - g(W - E, h0, xs)) / (2 * eps)
        np.testing.assert_allclose(H, want, rtol=1e-5, atol=1e-7)


def test_with_the_pass_off_there_is_one_general_gradient(out_dir, rng):
    args = rnn_problem(rng)
    with passes.disabled("steady"):
        g = grad(rnn_loss, argnums=(0, 1, 2))
        text = module_of(g)
        assert "_general" not in text and "same_shapes" not in text
        assert "_unbroadcast(" in backward_loop(code_of(g))
        want = g(*args)
    for d, w in zip(grad(rnn_loss, argnums=(0, 1, 2))(*args), want):
        np.testing.assert_allclose(d, w, rtol=1e-12, atol=1e-14)


def test_nothing_to_gain_no_second_function(out_dir, rng):
    """With example arguments the shapes are known: no premise, no general
    function; nor where the loop's shapes are proven already."""
    args = rnn_problem(rng)
    text = module_of(grad(rnn_loss, argnums=(0, 1, 2), example_args=args))
    assert "_general" not in text

    def scaled(x):
        for _ in range(3):
            x = np.tanh(x) * 2.0  # of x's shape, whatever it is
        return np.sum(x)

    text = module_of(grad(scaled))
    assert "_general" not in text


def accumulated(x, s):
    total = 0.0
    for _ in range(3):
        total = total + x * s
    return np.sum(total)


def test_a_sum_that_becomes_an_array_takes_the_general_gradient(
    out_dir, rng, monkeypatch
):
    """`total = 0.0` is taken to stay a number, which makes `x * s` one: an
    array `x` is no error, its first trip falls back."""
    g = grad(accumulated, argnums=(0, 1))
    calls = counting_general(g, monkeypatch)
    for x in (0.7, rng.normal(size=3)):
        got = g(x, 1.3)
        for k in (0, 1):
            want = numeric_grad(accumulated, [x, 1.3], k)
            np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-8)
    assert len(calls) == 1


def then_while(x, xs):
    h = x
    for t in range(len(xs)):
        h = np.tanh(h * xs[t])
    k = 0
    while k < 1 and (np.sum(h) > 100.0 or np.sum(h) < 100.0):
        k += 1
        h = h * 2.0
    return np.sum(h * h)


def test_only_the_shape_test_is_rewritten(out_dir, rng):
    """The trip's test is written as text; another `not (a and (b or c))` in the
    same function (a `while` condition) keeps its parentheses. (A random
    program whose `or` lost them looped forever.)"""
    x, xs = rng.normal(size=3), rng.normal(size=(4, 3))
    code = code_of(grad(then_while))
    assert "if not (k < 1 and (" in code
    check(then_while, x, xs)


def matvec(W, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h * h)


def test_the_rnns_products_are_np_dot_where_the_ranks_are_checked(out_dir, rng):
    """`W @ h` of a matrix `W` and a state of rank 1 or 2 that the trips keep
    is `np.dot(W, h)`, its adjoint `W_T.dot(g)`: the ranks checked once."""
    code = code_of(grad(rnn_loss, argnums=(0, 1, 2)))
    assert "if not (np.ndim(W) == 2 and 1 <= np.ndim(h0) <= 2):" in code
    assert "t2 = np.dot(W, h)" in code and "W_T = np.transpose(W)" in code
    assert "d_h_2 = W_T.dot(d_t5)" in backward_loop(code)
    assert "_matmul_rhs(" not in code


def matches_differences(f, g, args, general, monkeypatch):
    """`g`, the gradient of `f` in its first two arguments, calls its general
    function where `general` says, and matches finite differences."""
    calls = counting_general(g, monkeypatch)
    got = g(*args)
    assert len(calls) == int(general)
    for k in (0, 1):
        want = numeric_grad(f, [np.asarray(args[0], float), *args[1:]], k)
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-8)


def weights(rng, shape):
    """A matrix of that shape; for None, a list of lists (np.dot takes it)."""
    if shape is None:
        return [[0.1, 0.2, 0.0], [0.3, -0.1, 0.2], [0.0, 0.1, 0.4]]
    return rng.normal(size=shape) * 0.5


@pytest.mark.parametrize(
    "W, h0, rows, general",
    [
        ((3, 3), (3,), (4, 3), False),  # a vector state
        ((3, 3), (3, 2), (4, 3, 2), False),  # a matrix of states
        ((2, 3, 3), (2, 3, 1), (4, 2, 3, 1), True),  # a stack of matrices W
        ((3, 3), (2, 3, 2), (4, 2, 3, 2), True),  # a state of rank 3
        (None, (3,), (4, 3), False),  # W a list of lists: np.dot takes it
    ],
)
def test_products_of_other_ranks_take_the_general_gradient(
    out_dir, rng, monkeypatch, W, h0, rows, general
):
    args = [weights(rng, W), rng.normal(size=h0), rng.normal(size=rows)]
    g = grad(matvec, argnums=(0, 1))
    matches_differences(matvec, g, args, general, monkeypatch)


def rows_rnn(W, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h * h)


@pytest.mark.parametrize(
    "W, h0, rows, general",
    [
        ((3, 3), (3,), (4, 3), False),  # a row state
        ((3, 3), (2, 3), (4, 2, 3), False),  # a batch of row states
        ((2, 3, 3), (2, 1, 3), (4, 2, 1, 3), True),  # a stack of matrices W
        ((3, 3), (2, 2, 3), (4, 2, 2, 3), True),  # a state of rank 3
        (None, (3,), (4, 3), False),  # W a list of lists: np.dot takes it
    ],
)
def test_a_state_times_a_matrix_is_np_dot_where_the_ranks_are_checked(
    out_dir, rng, monkeypatch, W, h0, rows, general
):
    """`h @ W`, the rows convention: `np.dot(h, W)` and the adjoint
    `np.dot(g, W_T)`, under the same check of ranks as `W @ h`."""
    args = [weights(rng, W), rng.normal(size=h0), rng.normal(size=rows)]
    g = grad(rows_rnn, argnums=(0, 1))
    code = code_of(g)
    assert "if not (np.ndim(W) == 2 and 1 <= np.ndim(h0) <= 2):" in code
    assert re.search(r"t\d = np.dot\(h, W\)", code)
    assert re.search(r"d_h_\d = np.dot\(d_t\d+, W_T\)", backward_loop(code))
    assert "_matmul_lhs(" not in code.split("def _grad_rows_rnn_general")[0]
    matches_differences(rows_rnn, g, args, general, monkeypatch)


def read_out(W, V, h0, xs):
    h = h0
    total = 0.0
    for t in range(len(xs)):
        y = V @ h  # a read-out of the state before the update
        total = total + np.sum(y * y) + np.sum(W @ h)
        h = np.tanh(W @ h + xs[t])
    return total


@pytest.mark.parametrize("h0, rows", [((3,), (5, 3)), ((3, 2), (5, 3, 2))])
def test_every_product_with_the_carried_state_is_np_dot(
    out_dir, rng, monkeypatch, h0, rows
):
    """`V @ h` and both of `W`'s products: np.dot, one `W_T` for `W`."""
    args = [rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(2, 3)), rng.normal(size=h0)]
    args.append(rng.normal(size=rows))
    g = grad(read_out, argnums=(0, 1, 2))
    code = code_of(g).split("def _grad_read_out_general")[0]
    assert "np.ndim(V) == 2 and 1 <= np.ndim(h0) <= 2 and np.ndim(W) == 2" in code
    assert "y = np.dot(V, h)" in code and "_matmul_rhs(" not in code
    assert code.count("np.transpose(W)") == 1 and "V_T.dot(" in code
    calls = counting_general(g, monkeypatch)
    got = g(*args)
    assert calls == []
    for k in (0, 1, 2):
        want = numeric_grad(read_out, list(args), k)
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)


def spread_read_out(W, V, c, h0, xs):
    h = h0
    total = 0.0
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        y = V @ h  # a read-out after the update: of `h_1`, which the trip makes
        total = total + np.sum(y * c)
    return total


@pytest.mark.parametrize(
    "h0, V, c, rows, general",
    [
        ((4,), (5, 4), (5,), (6, 4), False),
        ((4, 2), (5, 4), (5, 2), (6, 4, 2), False),
        # `xs[t]` spreads `h_1` into a stack on the first trip: np.dot would give
        # (5, 2, 3) where `@` gives (2, 5, 3), and `y * c` would fail
        ((3,), (5, 4), (2, 5, 3), (1, 2, 4, 3), True),
    ],
)
def test_a_read_out_after_the_update_is_checked_before_its_product(
    out_dir, rng, monkeypatch, h0, V, c, rows, general
):
    """`V @ h_1` runs before the trip's end: `h_1`'s group of the trip's check
    is compared just before it, and the product is np.dot."""
    W = rng.normal(size=(h0[0], h0[0])) * 0.5
    args = [W, rng.normal(size=V), rng.normal(size=c)]
    args += [rng.normal(size=h0), rng.normal(size=rows)]
    g = grad(spread_read_out, argnums=(0, 1))
    matches_differences(spread_read_out, g, args, general, monkeypatch)
    code = code_of(g).split("def _grad_spread_read_out_general")[0]
    early = re.search(
        r"if not h_1.shape == shape_h0 == t\d.shape:\n.*\n +y = np.dot", code
    )
    assert early and "V_T.dot(" in code and "_matmul_rhs(" not in code
    assert code.count("h_1.shape ==") == 1  # not in the trip's check at its end too


def updated_twice(W, V, U, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        y = np.tanh(V @ h)
        h = h + 0.5 * (U @ y)
    return np.sum(h * h)


def test_a_product_before_its_groups_last_value_keeps_matmul(out_dir, rng, monkeypatch):
    """`V @ h_1` comes before `h_2`, whose shape `h_1`'s group also checks: the
    group cannot be compared before the product, which keeps `@`."""
    args = [
        rng.normal(size=(3, 3)) * 0.5,
        rng.normal(size=(2, 3)),
        rng.normal(size=(3, 2)),
    ]
    args += [rng.normal(size=3), rng.normal(size=(4, 3))]
    g = grad(updated_twice, argnums=(0, 1))
    code = code_of(g).split("def _grad_updated_twice_general")[0]
    assert re.search(r"np.tanh\(V @ h_1\)", code) and "np.dot(W, h)" in code
    matches_differences(updated_twice, g, args, False, monkeypatch)


def into_buffer(W, V, h0, xs):
    h = h0
    out = np.zeros((len(xs), 2))
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        out[t] = V @ h
    return np.sum(out**2)


def test_a_trip_whose_one_check_moves_before_a_product(out_dir, rng, monkeypatch):
    """The trip's only group of shapes is compared before `V @ h_1`, and no
    comparison is left at the trip's end (an equal statement there once took
    the early one's place)."""
    args = [rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(2, 3))]
    args += [rng.normal(size=3), rng.normal(size=(4, 3))]
    g = grad(into_buffer, argnums=(0, 1))
    code = code_of(g).split("def _grad_into_buffer_general")[0]
    trip = code.split("for t in range(t1):")[1].split("for t in reversed")[0]
    assert trip.count("h_1.shape == shape_h0") == 1
    assert trip.index("h_1.shape == shape_h0") < trip.index("np.dot(V, h_1)")
    matches_differences(into_buffer, g, args, False, monkeypatch)


def step_losses(W, V, h0, xs):
    h = h0
    total = 0.0
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        total = total + np.sum(h * h) + np.sum(V * h)
    return total


@pytest.mark.parametrize(
    "h0, rows, V, general",
    [
        ((3,), (5, 3), (3,), False),  # a loss a step, of the state's shape
        ((3, 2), (5, 3, 2), (3, 2), False),  # a batch of states
        ((3,), (5, 3), (2, 3), True),  # `V * h` spreads a step's loss: general
        ((3,), (5, 3, 1), (3,), True),  # the rows spread the state: general
    ],
)
def test_a_loss_a_step_keeps_its_adjoint_a_number(
    out_dir, rng, monkeypatch, h0, rows, V, general
):
    """`total = total + np.sum(h * h)` a trip: the trips' checks keep `total` a
    number and `h` its initial shape, so their adjoints keep those shapes too
    (assumed, and proven by the backward trip's own adjoints): the adjoint of
    each step's sum stays the number `d_total`, never an array filled with it."""
    g = grad(step_losses, argnums=(0, 1))
    fast = module_of(g).split("def _grad_step_losses_general")[0]
    assert "full_like" not in fast
    assert "d_total * h_1" in backward_loop(fast)
    args = (weights(rng, (3, 3)), rng.normal(size=V), rng.normal(size=h0))
    matches_differences(
        step_losses, g, (*args, rng.normal(size=rows)), general, monkeypatch
    )


def test_an_adjoint_not_proven_to_keep_its_shape_is_derived_without_it(
    out_dir, rng, monkeypatch
):
    """In `then_while`, the facts do not show the while loop's backward trip
    keeping `h`'s shape: the fast gradient, derived assuming it, is derived
    again without, and still has a general function to fall back on."""
    from adcompiler.autodiff import reverse

    raised = []

    class Counted(reverse._Unproven):
        def __init__(self, *args):
            raised.append(args)
            super().__init__(*args)

    monkeypatch.setattr(reverse, "_Unproven", Counted)
    x, xs = rng.normal(size=3), rng.normal(size=(4, 3))
    check(then_while, x, xs)
    assert raised == [("h",)]
    assert "def _grad_then_while_general" in module_of(grad(then_while))
