"""Indexing, index assignment, augmented assignment and array functions."""

import numpy as np
import pytest
from adcheck import check

from adcompiler import ADCompileError, grad

A = np.arange(12.0).reshape(3, 4) / 10 - 0.5
V = np.array([0.3, -1.2, 0.7, 2.0])


def int_index(x):
    return x[0, 1] * x[2, 3] + np.sum(x[1] ** 2)


def negative_index(x):
    return np.sum(x[-1] * x[-2])


def slices(x):
    return np.sum(x[1:, ::2] ** 2) + np.sum(x[:, 1:3])


def newaxis(x):
    return np.sum(x[:, None] * x[None, :])


def int_array(x, idx):
    return np.sum(x[idx] ** 2)


def mask(x):
    return np.sum(x[x > 0] ** 3)


def index_assign(x):
    y = np.zeros(4)
    y[0] = x[0] * 2.0
    y[1:3] = np.sin(x[1:3])
    z = y * y
    y[3] = np.sum(z)
    return np.sum(y * x)


def index_aug_assign(x):
    y = x * 1.0
    y[:, 0] += np.tanh(x[:, 1])
    y[1] *= 3.0
    y[2] -= x[0]
    y[0, :] /= 2.0
    return np.sum(y**2) + np.sum(y[:, 0])


def aug_names(x):
    s = x * 1.0
    s += x
    s -= 0.5 * x
    s *= x
    s /= 2.0
    return np.sum(s)


def tuples(x):
    a, b = x[0], x[1]
    t = (a, b)
    c, d = t
    n, m = x.shape
    return np.sum(c * d) * n / m


INDEXING = [
    ("int_index", int_index, (A,)),
    ("negative_index", negative_index, (A,)),
    ("slices_and_tuples_of_slices", slices, (A,)),
    ("none_newaxis", newaxis, (V,)),
    ("integer_array", int_array, (V, [0, 2, 2, 3])),
    ("boolean_mask", mask, (V,)),
    ("index_assignment_read_again", index_assign, (V,)),
    ("index_augmented_assignment", index_aug_assign, (A,)),
    ("augmented_assignment", aug_names, (V,)),
    ("tuple_packing_unpacking", tuples, (A,)),
]


@pytest.mark.parametrize("name, f, args", INDEXING, ids=[c[0] for c in INDEXING])
def test_indexing(out_dir, name, f, args):
    check(f, *args)


def test_scatter_add_for_repeated_indices(out_dir):
    """An index known only at run time is added with `_add_at`: np.add.at, which
    adds once for each time an entry repeats, or `d[i] += g` for one integer."""
    source = check(int_array, V, [1, 1, 1])
    assert "_add_at(" in source
    check(int_array, V, 2)
    g = grad(int_array)
    np.testing.assert_array_equal(g(V, np.int64(3)), g(V, 3))
    np.testing.assert_array_equal(g(V, np.array([0, 2, 0])), g(V, [0, 2, 0]))


def test_an_index_known_at_run_time_is_differentiated_again(out_dir):
    """hessian reads `_add_at(d, i, g)` and `np.zeros(t.shape, t.dtype)` (the
    gradient's np.zeros_like, without its wrapper) back."""
    from adcompiler import hessian

    def f(x, i):
        t = np.tanh(x) * x
        return np.sum(t[i] ** 2) + np.sum(t * t)

    source = check(f, V, 2)
    assert "np.zeros(t.shape, t.dtype)" in source and "_add_at(" in source
    g = grad(f)
    for i in (2, np.int64(1), [1, 1, 3]):
        fd = [(g(V + 1e-6 * e, i) - g(V - 1e-6 * e, i)) / 2e-6 for e in np.eye(4)]
        np.testing.assert_allclose(hessian(f)(V, i), np.stack(fd, -1), atol=1e-6)


def test_basic_index_adjoint_is_in_place(out_dir):
    source = check(int_index, A)
    assert "np.add.at" not in source and "] += " in source


def where_clip(x):
    return np.sum(np.where(x > 0, x**2, -x)) + np.sum(np.clip(x, -0.5, 0.5) ** 2)


def joins(x):
    a = np.concatenate([x, x**2])
    b = np.stack((x, np.sin(x)), axis=1)
    c = np.array([x[0], x[1] * 2.0])
    return np.sum(a * a) + np.sum(b[:, 1] * b[:, 0]) + np.sum(c)


def reductions(x):
    return (
        np.linalg.norm(x)
        + np.sum(np.max(x, axis=0))
        + np.min(x)
        + np.sum(np.linalg.norm(x, axis=1))
        + np.sum(x.max(axis=1))
    )


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


FUNCTIONS = [
    ("where_and_clip", where_clip, (V,)),
    ("concatenate_stack_array", joins, (V,)),
    ("norm_max_min_with_axis", reductions, (A,)),
    ("logsumexp_vector", logsumexp, (V,)),
    ("logsumexp_matrix", logsumexp, (A,)),
]


@pytest.mark.parametrize("name, f, args", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_array_function(out_dir, name, f, args):
    check(f, *args)


def lists_in_loop(x, n):
    hs = []
    h = x
    for _ in range(n):
        h = np.tanh(h + 0.5)
        hs.append(h)
    a = np.stack(hs)
    b = np.array(hs)
    c = np.concatenate(hs)
    return (
        np.sum(a**2) + np.sum(b[:, 0]) + np.sum(c * c) + np.sum(sum(hs)) + np.sum(hs[1])
    )


def list_literal(x):
    xs = [x, x * 2.0, np.sin(x)]
    s = 0.0
    for v in xs:
        s = s + np.sum(v * v)
    return s


def test_lists(out_dir):
    check(lists_in_loop, V, 3)
    check(list_literal, V)


def flags_and_sizes(x, n, flag):
    s = 0.0
    for k in range(n):
        s = s + np.sum(x) * k
    if flag:
        s = s * 2.0
    return s


def test_int_and_bool_arguments(out_dir):
    check(flags_and_sizes, V, 3, True)
    check(flags_and_sizes, V, 2, False)


def test_nested_subscript_assignment_is_reported(out_dir):
    def f(x):
        y = x * 1.0
        y[0][1] = 2.0
        return np.sum(y)

    with pytest.raises(ADCompileError, match="test_indexing.py:.*only `name"):
        grad(f)(A)


def update_in_loop(x, z):
    y = x * 2.0
    w = y * y  # reads y as it was before the loop
    for i in range(2):
        y[-1] = np.sin(z[i])
    return np.sum(w) + np.sum(np.sin(y))


def test_index_assignment_in_a_loop_leaves_the_first_value_alone(out_dir):
    """The loop's `y[-1] = ...` works on a copy: `y_1 = y` enters the loop, and
    `d_y = ... + 2.0 * y` after it still needs y as it was. Updating y_1 in place
    changed y too (a silently wrong d_x[-1]; found by the long random profile)."""
    x, z = np.array([0.3, 0.7, 1.1]), np.array([0.2, 0.4])
    y = 2.0 * x
    y[-1] = np.sin(z[1])
    want = 8.0 * x + 2.0 * np.cos(y) * np.array([1.0, 1.0, 0.0])
    np.testing.assert_allclose(grad(update_in_loop)(x, z), want, rtol=1e-12)
    check(update_in_loop, x, z)


def shift_a_row(x, w):
    y = 1.0 * x
    y[-1, :] -= 2.0
    return np.sum(y * w)


def scale_and_map_entries(x, w):
    y = x.copy()
    y[0] *= np.tanh(w[0])
    y[1:] = np.sin(y[1:])
    return np.sum(y * w)


def test_an_update_of_entries_writes_their_adjoint_back(out_dir, monkeypatch):
    # `y[i] = f(y[i])` gives `y` the adjoint with entries `i` zeroed plus, in a
    # buffer of zeros, what goes through `f`: the sum is the adjoint with those
    # entries written, and just the adjoint where `f` passes it on (`y[i] -= c`)
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    source = check(shift_a_row, A, A[::-1] + 1.0, argnums=(0, 1))
    assert "zeros_like" not in source and "= 0.0" not in source
    source = check(scale_and_map_entries, A, A + 1.0, argnums=(0, 1))
    assert "d_y_1[1:] = d_t5" in source and "d_x[0] = d_t1" in source
    assert "np.zeros_like(x)" not in source


def repeated_fancy_update(x, s):
    y = x.copy()
    y[[0, 0, 2]] += x[1] ** 2
    y[[-1, 3, 1]] = np.sin(x[:3]) * s  # -1 and 3 are one entry
    return np.sum(y * y)


def masked_update(x):
    y = x * 1.0
    y[x > 0.0] *= 3.0
    return np.sum(y * y)


def test_of_two_writes_to_one_entry_the_last_stays(out_dir):
    # `y[[0, 0, 2]] += v` adds v to y[0] once: NumPy keeps the last write, so
    # only the entries of v that stay reach y (the gradient was doubled)
    source = check(repeated_fancy_update, V, 0.7, argnums=(0, 1))
    assert "_last_writes(" in source
    check(masked_update, V)


def cross_entropy(logits, labels):
    """Softmax cross-entropy with integer labels, picked by `np.arange` rows."""
    m = np.max(logits, axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def test_cross_entropy_with_integer_labels(out_dir):
    """d/d logits = (softmax - onehot) / N, with the labels as an index array."""
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(5, 4)), np.array([0, 3, 3, 1, 2])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    want = (p - np.eye(4)[labels]) / 5
    np.testing.assert_allclose(grad(cross_entropy)(logits, labels), want, atol=1e-15)


def filled(v, x):
    return np.sum(np.full(x.shape, v) * x) + np.sum(np.full((2, 3), v * v))


def test_full_passes_its_value_on(out_dir):
    """Every entry of np.full(shape, v) is v: v's adjoint sums them."""
    x = np.arange(6.0).reshape(2, 3)
    assert grad(filled)(0.5, x) == np.sum(x) + 6 * 2 * 0.5
    check(filled, 0.5, x, argnums=(0, 1))
    d_x = grad(filled, argnums=1)(0.5, x.astype(np.float32))
    assert d_x.dtype == np.float32  # np.full of a Python float is float64
