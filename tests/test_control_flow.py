"""Branches and loops, each checked against central finite differences."""

import re

import numpy as np
import pytest
from adcheck import check
from conftest import numeric_grad

from adcompiler import ADCompileError, grad, passes

X = np.array([0.5, -0.2, 0.3])
Y = np.array([1.0, 2.0, -3.0])


# -- branches -------------------------------------------------------------------------


def if_else(x, y):
    if np.sum(x) > 0:
        z = x * y
    else:
        z = np.sin(x)
    return np.sum(z * z)


def elif_chain(x):
    s = np.sum(x)
    if s > 1.0:
        r = s * s
    elif s < -1.0:
        r = -s
    else:
        r = np.sum(np.exp(x))
    return r


def early_return(x):
    s = np.sum(x)
    if s > 1.0:
        return s * s
    elif s < -1.0:
        return -s
    return np.sum(np.exp(x))


def cond_expr(x):
    y = np.tanh(x) if np.all(x > 0) else x * 2.0
    return np.sum(y)


def bool_ops(x, y):
    if np.sum(x) > 0 and not np.any(y > 5) or np.max(x) > 10:
        z = x * y
    else:
        z = x
    return np.sum(z)


def defined_in_one_branch(x, flag):
    if flag:
        w = np.exp(x)
    out = np.sum(x)
    if flag:
        out = out + np.sum(w)
    return out


def no_else(x):
    y = x * 2.0
    if np.sum(x) < 0:
        y = y * y
    return np.sum(y)


BRANCHES = [
    ("if_else", if_else, (Y,), (0, 1)),
    ("elif_chain", elif_chain, (), 0),
    ("early_return", early_return, (), 0),
    ("conditional_expression", cond_expr, (), 0),
    ("and_or_not_all_any", bool_ops, (Y,), (0, 1)),
    ("if_without_else", no_else, (), 0),
]


@pytest.mark.parametrize("x", [X, -3 * X, 3 * np.abs(X)], ids=["mixed", "neg", "pos"])
@pytest.mark.parametrize(
    "name, f, rest, argnums", BRANCHES, ids=[c[0] for c in BRANCHES]
)
def test_branch(out_dir, name, f, rest, argnums, x):
    check(f, x, *rest, argnums=argnums)


def test_value_defined_in_one_branch(out_dir):
    check(defined_in_one_branch, X, True)
    check(defined_in_one_branch, X, False)


def defined_in_one_nested_branch(x, a, b):
    v = np.sum(x * x)
    if a > 0.0:
        z = x * 2.0
    elif b > 0.0:
        if b > 1.0:
            z = x * 3.0
        else:
            z = x * 4.0
            w = v
    else:
        z = x
    if a <= 0.0 and 0.0 < b <= 1.0:
        z = z + w
    return np.sum(z)


@pytest.mark.parametrize("a, b", [(1.0, 0.5), (-1.0, 2.0), (-1.0, 0.5), (-1.0, -1.0)])
def test_value_defined_in_one_nested_branch(out_dir, a, b):
    # `w` is set on one path of the inner `if` only; the outer one copies the
    # inner one's result into its own (found by the random programs:
    # UnboundLocalError on every other path)
    check(defined_in_one_nested_branch, X, a, b)


def test_branch_code_reads_as_if(out_dir, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # this shows what a pass does
    source = check(if_else, X, Y)
    # the forward `if` and the backward one are one `if` (the branches pass),
    # each branch computing z and its adjoint, as one writes it by hand
    assert source.count("    if np.sum(x) > 0:\n") == 1 and " else " not in source
    assert "z_1 = np.sin(x)" in source.split("else:")[1]
    with passes.disabled("branches"):
        apart = check(if_else, X, Y)
    assert " if t1 else " in apart and "    if t1:\n" in apart


# -- loops ----------------------------------------------------------------------------


def for_range(x, n):
    h = x
    for _ in range(n):
        h = np.sin(h) * x
    return np.sum(h)


def for_range_start_stop_step(x, a, b):
    s = 0.0
    for k in range(a, b, 2):
        s = s + np.sum(x**2) * k
    return s


def for_rows(x):
    s = 0.0
    for row in x:
        s = s + np.sum(np.tanh(row))
    return s


def for_shape(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sum(x[i] * x[i]) / (i + 1)
    return s


def for_zip_enumerate(x, y):
    s = 0.0
    for i, (a) in enumerate(x):
        s = s + a * i
    for a, b in zip(x, y):
        s = s + a * b
    return s


def while_fixed_point(x):
    y = x
    err = 1.0
    k = 0
    while err > 1e-12 and k < 100:
        y_new = 0.5 * np.cos(y) + 0.1 * x
        err = np.max(np.abs(y_new - y))
        y = y_new
        k = k + 1
    return np.sum(y)


def loop_break(x):
    s = 0.0
    for i in range(10):
        s = s + np.sum(x * i)
        if s > 3.0:
            break
        s = s * 1.5
    return s


def loop_continue(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s = s + np.sum(np.sin(x * i))
    return s


def nested(x, n):
    h = x
    for i in range(n):
        for j in range(i + 1):
            h = np.tanh(h * 1.1 + j)
    return np.sum(h)


def return_in_loop(x):
    s = 0.0
    for i in range(10):
        s = s + np.sum(x * x) * i
        if s > 2.0:
            return s * 2.0
    return s


def branch_in_loop(x):
    h = x
    for _ in range(4):
        if np.sum(h) > 0:
            h = np.sin(h) * 2.0
        else:
            z = h * h
            h = z + 1.0
    return np.sum(h)


def fill_in_loop(x):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = x[i] * y[i - 1] + np.sin(x[i])
    return np.sum(y * y)


def while_in_for(x):
    s = x
    for i in range(3):
        k = 0
        while np.sum(s * s) < 10.0 * (i + 1) and k < 20:
            s = s * 1.3 + 0.1
            k += 1
    return np.sum(s)


def return_in_nested(x):
    h = x
    for i in range(4):
        for j in range(3):
            h = np.tanh(h + 0.3 * j)
            if np.sum(h) > 1.5 + i:
                return np.sum(h * h)
    return np.sum(h)


def swap(x, y):
    a, b = x, y
    for _ in range(3):
        a, b = b, a * b + 0.1
    return np.sum(a - b)


def defined_in_body(x):
    for i in range(3):
        last = x * i
    return np.sum(last * last)


def one_branch_in_loop(x):
    h = x
    for i in range(4):
        if i % 2 == 0:
            w = np.sin(h)
        h = h * 0.9
        if i % 2 == 0:
            h = h * w
    return np.sum(h)


LOOPS = [
    ("value_defined_in_one_branch_in_loop", one_branch_in_loop, (X,)),
    ("index_assignment_in_loop", fill_in_loop, (X,)),
    ("while_in_for", while_in_for, (X,)),
    ("return_in_nested_loops", return_in_nested, (X,)),
    ("parallel_assignment", swap, (X, Y)),
    ("value_defined_in_body", defined_in_body, (X,)),
    ("for_range_0", for_range, (X, 0)),
    ("for_range_1", for_range, (X, 1)),
    ("for_range_3", for_range, (X, 3)),
    ("for_range_start_stop_step", for_range_start_stop_step, (X, 1, 8)),
    ("for_rows_of_array", for_rows, (np.arange(6.0).reshape(2, 3) / 7,)),
    ("for_range_of_shape", for_shape, (np.arange(6.0).reshape(3, 2) / 7,)),
    ("zip_and_enumerate", for_zip_enumerate, (X, Y)),
    ("while_fixed_point", while_fixed_point, (X,)),
    ("break", loop_break, (X,)),
    ("break_early", loop_break, (10 * X,)),
    ("break_never", loop_break, (0.01 * X,)),
    ("continue", loop_continue, (X,)),
    ("nested_loops", nested, (X, 3)),
    ("return_in_loop", return_in_loop, (X,)),
    ("return_in_loop_never", return_in_loop, (0.01 * X,)),
    ("branch_in_loop", branch_in_loop, (X,)),
    ("branch_in_loop_other_way", branch_in_loop, (-X,)),
]


@pytest.mark.parametrize("name, f, args", LOOPS, ids=[c[0] for c in LOOPS])
def test_loop(out_dir, name, f, args):
    check(f, *args, argnums=(0, 1) if f in (for_zip_enumerate, swap) else 0)


def test_backward_loop_is_a_reversed_loop(out_dir):
    source = check(for_range, X, 5)
    assert "reversed(range(n))" in source
    assert source.count("np.sin(") == 1
    assert "tape.append" in source and "tape.pop()" in source


def test_while_records_trip_count(out_dir):
    source = check(while_fixed_point, X)
    assert "while " in source and "for _ in range(trips)" in source


def test_break_records_trip_count(out_dir):
    source = check(loop_break, X)
    assert "break" in source and "range(trips)" in source


def test_loop_else_is_reported(out_dir):
    def f(x):
        for _ in range(3):
            x = x * 2
        else:
            x = x + 1
        return np.sum(x)

    with pytest.raises(ADCompileError, match="test_control_flow.py:.*else"):
        grad(f)(X)


# -- everything together --------------------------------------------------------------


def clipped_steps(h, W, n):
    """A helper: a loop with a branch inside."""
    for k in range(n):
        z = W @ h
        if np.max(np.abs(z)) > 1.0:
            h = z / np.max(np.abs(z))
        else:
            h = np.tanh(z) + 0.1 * k
    return h


def combined(params, x, n):
    h = clipped_steps(x, params["W"], n)
    h = clipped_steps(h * params["s"], params["W"], n)
    total = 0.0
    for i, v in enumerate(h):
        if v > 0 and i % 2 == 0:
            total += v**2
        elif v < -0.5:
            continue
        else:
            total -= v
    return total


def test_branch_in_loop_in_helper_with_container(out_dir):
    rng = np.random.default_rng(3)
    params = {"W": rng.normal(size=(3, 3)), "s": np.array([0.5, 2.0, -1.0])}
    for n in (0, 1, 4):
        g = grad(combined)(params, X, n)
        for key in params:

            def f(v, key=key, n=n):
                return combined({**params, key: v}, X, n)

            want = numeric_grad(f, [params[key]], 0)
            np.testing.assert_allclose(g[key], want, rtol=1e-6, atol=1e-8)
    check(lambda_free_combined, X, 3)


def lambda_free_combined(x, n):
    return combined({"W": np.eye(3) * 0.9, "s": x}, x, n)


def squaring(x):
    s = 0.1
    for _ in range(3):
        s = s * s + np.sum(x)
    return s


def test_value_and_grad_of_a_loop(out_dir):
    from adcompiler import value_and_grad

    for f, args in [(squaring, (X,)), (loop_break, (X,)), (while_fixed_point, (X,))]:
        value, g = value_and_grad(f)(*args)
        assert value == pytest.approx(f(*args), rel=1e-12)
        np.testing.assert_allclose(g, grad(f)(*args), rtol=1e-12)
    check(squaring, X)


def loop_over_own_length(x, y):
    for i in range(len(x)):
        x = np.tanh(x * (-y)) + 0.1 * i
    return np.sum(x) + np.sum(y)


def loop_over_rows_it_changes(xs, w):
    total = 0.0
    for row in xs:  # the rows of the xs the loop started from
        total = total + np.sum(np.sin(row * w))
        xs = xs * 2.0
    return total + np.sum(xs)


def test_what_a_loop_runs_over_is_read_before_it(out_dir, rng):
    """`range(len(x))` and `for row in xs` are evaluated once, before the loop,
    from the values it starts with, even when the loop assigns `x` or `xs`
    (the bound read the loop's own name for the value and was unbound)."""
    x, y = rng.normal(size=3), rng.normal(size=3)
    check(loop_over_own_length, x, y, argnums=(0, 1))
    xs, w = rng.normal(size=(3, 2)), rng.normal(size=2)
    check(loop_over_rows_it_changes, xs, w, argnums=(0, 1))


def tanh_in_loop(x, W):
    s = 0.0
    for t in range(3):
        s = s + np.sum(np.tanh(W @ x) * t)
    return s


def test_a_temporary_stacked_over_trips_keeps_its_name(out_dir, rng, monkeypatch):
    """The trips' values of an unnamed `np.tanh(W @ x)` are a list and a stack
    (the `batch` pass) named after it (`t1_trips`, `t1_all`), not a bare
    temporary or `_T2`."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    x, W = rng.normal(size=3), rng.normal(size=(3, 3))
    source = check(tanh_in_loop, x, W)
    trips = re.search(r"\b(t\d+)_trips = \[\]", source)
    assert trips, source
    t = trips.group(1)
    assert f"{t}_trips.append({t})" in source
    assert f"{t}_all = _stack_trips({t}_trips)" in source
    assert "_T" not in source
