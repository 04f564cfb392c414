"""In-place updates another name sees (adcompiler/inplace.py).

Python's `y1 += x`, `y1[0] = v` and `np.exp(t, out=t)` write into the array
itself; adcompiler reads them as new values. Where another name for the same
array is read afterwards, the two differ and the function is refused. Where
nothing else sees the array, the update compiles and the gradient is right.
"""

import numpy as np
import pytest
from conftest import numeric_grad

from adcompiler import ADCompileError, grad

X = np.array([0.3, -0.7, 0.5])
Y = np.array([0.2, 0.4, -0.1])


def alias_then_add(x, y):
    y1 = y
    y1 += x
    return np.sum(y * y1)


def alias_in_a_loop(x, y):
    # the seed-589 program of the long profile, shrunk: from the second trip
    # on, `y1` is `y`, and `y1 += x` changes `y`, which the next trip reads
    y1 = x.copy()
    k = 0
    while k < 2:
        k += 1
        y1 += x
        v = np.sum(np.tanh(y))
        y1 = y
    return np.sum(y1) + v


def view_then_write(x):
    y = x * 2.0
    v = y[:2]
    y[0] = 5.0
    return np.sum(v) * np.sum(y)


def list_then_update(x):
    hs = []
    h = x * 1.0
    for _ in range(2):
        h += np.tanh(h)
        hs.append(h)
    return np.sum(hs[0] * hs[1])


def out_into_alias(x):
    t = np.sin(x)
    s = t
    np.exp(t, out=t)
    return np.sum(s) + np.sum(t)


def alias_in_a_branch(x, y):
    # `y1` is read by nothing after the branch, but `y` is: an update is an
    # effect even where its value is dead, inside a branch too
    y1 = y
    if np.sum(x) > 0.0:
        y1 += x
    return np.sum(y * y)


def alias_before_a_branch(x, y):
    y1 = y
    y1 += x
    if np.sum(x) > 0.0:
        x = x * 2.0
    return np.sum(y * x)


def argument_read_after_its_alias_changes(h0, w):
    h = h0
    for _ in range(2):
        h += np.tanh(w * h)
    return np.sum(h) + np.sum(h0)


@pytest.mark.parametrize(
    "f, line, target, other",
    [
        (alias_then_add, "y1 += x", "y1", "y"),
        (alias_in_a_loop, "y1 += x", "y1", "y"),
        (view_then_write, "y[0] = 5.0", "y", "v"),
        (list_then_update, "h += np.tanh(h)", "h", "hs"),
        (out_into_alias, "np.exp(t, out=t)", "t", "s"),
        (argument_read_after_its_alias_changes, "h += np.tanh(w * h)", "h", "h0"),
        (alias_in_a_branch, "y1 += x", "y1", "y"),
        (alias_before_a_branch, "y1 += x", "y1", "y"),
    ],
)
def test_an_update_another_name_reads_is_refused(out_dir, f, line, target, other):
    # each really differs: Python's value is not the value with new arrays
    with pytest.raises(ADCompileError) as e:
        grad(f, argnums=0, out=out_dir)
    text = str(e.value)
    assert e.value.loc.file == __file__
    assert e.value.loc.text.strip() == line
    assert f"writes into the array `{target}` holds, which `{other}` may" in text
    assert f"`{other}` is read afterwards" in text
    assert f"hint: give `{target}` an array of its own first" in text


def _new_arrays(x, y):
    """The values of the refused functions with every update a new array, as
    adcompiler would have read them."""
    y2 = 2.0 * x
    h = x * 1.0
    hs = []
    for _ in range(2):
        h = h + np.tanh(h)
        hs.append(h)
    g = y.copy()
    for _ in range(2):
        g = g + np.tanh(x * g)
    return {
        alias_then_add: np.sum(y * (y + x)),
        alias_in_a_loop: np.sum(y) + np.sum(np.tanh(y)),
        view_then_write: np.sum(y2[:2]) * (np.sum(y2) - y2[0] + 5.0),
        list_then_update: np.sum(hs[0] * hs[1]),
        out_into_alias: np.sum(np.sin(x)) + np.sum(np.exp(np.sin(x))),
        argument_read_after_its_alias_changes: np.sum(g) + np.sum(y),
        alias_in_a_branch: np.sum(y * y),
        alias_before_a_branch: np.sum(y * 2.0 * x),
    }


def test_the_refused_functions_are_not_what_new_arrays_would_compute():
    """What the refusals protect from: Python's values are not the IR's."""
    new = _new_arrays(X, Y)
    python = {
        alias_then_add: alias_then_add(X, Y.copy()),
        alias_in_a_loop: alias_in_a_loop(X, Y.copy()),
        view_then_write: view_then_write(X),
        list_then_update: list_then_update(X),
        out_into_alias: out_into_alias(X),
        argument_read_after_its_alias_changes: argument_read_after_its_alias_changes(
            Y.copy(), X
        ),
        alias_in_a_branch: alias_in_a_branch(X, Y.copy()),
        alias_before_a_branch: alias_before_a_branch(X, Y.copy()),
    }
    for f, value in python.items():
        assert not np.isclose(value, new[f]), f.__name__


def own_copy(x, y):
    y1 = y.copy()
    y1 += x
    y1[0] = 2.0 * x[1]
    return np.sum(y * y1)


def scaled_copy(x):
    # `x * 1.0` is a new array in Python, though simplification reads it as `x`
    s = x * 1.0
    s += x
    s *= x
    return np.sum(s) + np.sum(x)


def accumulate(x):
    acc = np.zeros_like(x)
    k = 0
    for i in range(3):
        acc += x * i
        k += 1
    return np.sum(acc * acc) + k


def argument_updated_and_not_read_again(x, y):
    x += y  # the caller's array changes; the value is still x + y's
    x *= y
    return np.sum(x)


def dead_alias(x):
    y = x * 2.0
    unused = y  # noqa: F841 - read by nothing, so its change is never seen
    y += x
    return np.sum(y * y)


def fresh_each_trip(x):
    h = x
    hs = []
    for _ in range(2):
        h = np.tanh(h)
        h += 0.5
        hs.append(h)
    return np.sum(hs[0] * hs[1])


@pytest.mark.parametrize(
    "f, args",
    [
        (own_copy, (X, Y)),
        (scaled_copy, (X,)),
        (accumulate, (X,)),
        (argument_updated_and_not_read_again, (X, Y)),
        (dead_alias, (X,)),
        (fresh_each_trip, (X,)),
    ],
)
def test_an_update_nothing_else_sees_compiles_and_is_right(out_dir, f, args):
    g = grad(f, argnums=0, out=out_dir)
    got = g(*(a.copy() for a in args))
    want = numeric_grad(lambda *a: f(*(b.copy() for b in a)), list(args), 0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_a_number_updated_under_two_names_is_not_an_array(out_dir):
    def f(x, y):
        total = 0.0
        start = total
        total += np.sum(x * y)
        return total + start

    np.testing.assert_allclose(grad(f, out=out_dir)(X, Y), Y)


def entry_updated(x):
    s = x[0]
    s += 1.0
    return s * np.sum(x)


def entry_as_float(x):
    s = float(x[0])
    s += 1.0
    return s * np.sum(x)


def test_an_entry_of_unknown_rank_counts_as_a_row(out_dir):
    """As the README says: `x[0]` may be a row of `x`, so updating it is refused
    where `x` is read afterwards, and `float(x[0])` says it is a number."""
    with pytest.raises(ADCompileError, match="which `x` may hold too"):
        grad(entry_updated, out=out_dir)
    # float() passes the gradient on: (x0 + 1) * sum(x)
    want = (X[0] + 1.0) + np.array([X.sum(), 0.0, 0.0])
    np.testing.assert_allclose(grad(entry_as_float, out=out_dir)(X), want)


def out_into_another(x):
    b = np.cos(x)
    s = b
    np.exp(x, out=b)
    return np.sum(s * b)


def out_into_its_own(x):
    b = np.cos(x)
    np.exp(x, out=b)
    return np.sum(b * x)


def test_out_into_an_array_that_another_name_holds_is_refused(out_dir):
    """`np.exp(x, out=b)` writes into `b` without reading it: `s` sees it too."""
    with pytest.raises(ADCompileError, match="which `s` may hold too"):
        grad(out_into_another, out=out_dir)
    got = grad(out_into_its_own, out=out_dir)(X)
    np.testing.assert_allclose(got, np.exp(X) * X + np.exp(X), rtol=1e-12)
