"""List comprehensions and generator expressions: the loop that builds the list
(adcompiler/comprehensions.py), differentiated as that loop written out."""

import inspect

import numpy as np
import pytest
from adcheck import check, code_of

from adcompiler import ADCompileError, grad, hessian, jvp

X = np.array([0.7, -1.2, 1.9])
Y = np.array([0.3, 0.5, -0.4])
W = np.array([[0.2, -0.1, 0.4], [0.5, 0.3, -0.2]])
XS = np.array([[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]])


def squares(x):
    return sum(x[i] ** 2 for i in range(3))


def layer(x, W):
    hs = [np.tanh(W[k] @ x) for k in range(len(W))]
    return np.sum(np.stack(hs))


def layer_loop(x, W):
    hs = []
    for k in range(len(W)):
        hs.append(np.tanh(W[k] @ x))
    return np.sum(np.stack(hs))


def mean_dot(xs, w):
    return np.mean(np.array([np.dot(w, x) for x in xs]))


def positive_squares(x):
    return sum([v * v for v in x if v > 0])


def pairs(x):  # two `for` clauses, the second reading the first; an `if` between
    return sum(x[i] * x[j] for i in range(3) if x[i] > -1.0 for j in range(i, 3))


def outer_sum(x):  # a comprehension inside a comprehension
    return np.sum(np.array([[np.sin(a) * b for b in x] for a in x]))


def in_loop(x):
    acc = 0.0
    for j in range(2):
        acc = acc + sum(x[i] * (j + 1.0) for i in range(3))
    return acc


def in_branch(x):
    if np.sum(x) > 0:
        y = sum(t * t for t in x)
    else:
        y = np.sum(np.stack([np.exp(t) for t in x]))
    return y


def in_if_expression(x):
    return sum(t for t in x) if x[0] > 0 else sum(np.sin(t) for t in x)


def in_while_test(x):
    n, s = 0, 0.0
    while sum(x[i] for i in range(n)) < 2.0 and n < 3:
        s = s + x[n] ** 2
        n = n + 1
    return s


def enumerate_zip(x, y):
    return sum(i * t for i, t in enumerate(x)) + sum(p * q for p, q in zip(x, y))


def with_start(x):
    return sum((np.cos(t) for t in x), 1.0)


def rebinds_its_source(xs):  # `xs` on the left and read by the comprehension
    xs = [np.tanh(v) for v in xs]
    return np.sum(np.concatenate([v * v for v in xs]))


def shadows(x):
    v = x * 2.0
    s = sum(v * w for v in x for w in [v])  # the element `v`, not `x * 2`
    return s + np.sum(v)  # `x * 2` again


def reads_outer_in_first_iterable(x):
    return np.sum(np.array([x * 3.0 for x in x]))  # `in x`: the argument


def list_of_generator(x):
    parts = list(np.sin(x * k) for k in range(1, 4))
    return np.sum(parts[0] * parts[2])


def tuple_of_generator(x):
    a, b, c = tuple(np.sin(x * k) for k in range(1, 4))
    return np.sum(a * c + b)


def list_of_a_list_grown(x):
    parts = list([x, 2.0 * x])
    parts.append(x**3)
    return np.sum(parts[1] ** 2 + parts[2])


def list_of_a_tuple(x):
    pair = (x, np.cos(x))
    xs = list(pair)
    return np.sum(xs[0] * xs[1])


def list_of_rows(x):
    rows = list(x)
    return np.sum(np.stack(rows) ** 2) + np.sum(rows[0] * rows[-1])


def empty_list_grown(x):
    ys = list()
    for k in range(3):
        ys.append(x * k)
    return np.sum(ys[2] ** 2) + sum(tuple(ys[k][0] for k in range(3)))


def same_name_twice(x):
    a = [t * 2.0 for t in x]
    b = [t * np.sin(t) for t in x]
    return np.sum(np.stack(a) * np.stack(b))


@pytest.mark.parametrize(
    "f, args, argnums",
    [
        (squares, (X,), 0),
        (layer, (X, W), (0, 1)),
        (mean_dot, (XS, X), (0, 1)),
        (positive_squares, (X,), 0),
        (pairs, (X,), 0),
        (outer_sum, (X,), 0),
        (in_loop, (X,), 0),
        (in_branch, (X,), 0),
        (in_branch, (-X - 1.0,), 0),
        (in_if_expression, (X,), 0),
        (in_if_expression, (-X,), 0),
        (in_while_test, (X,), 0),
        (enumerate_zip, (X, Y), (0, 1)),
        (with_start, (X,), 0),
        (rebinds_its_source, (XS,), 0),
        (shadows, (X,), 0),
        (reads_outer_in_first_iterable, (X,), 0),
        (same_name_twice, (X,), 0),
        (list_of_generator, (X,), 0),
        (tuple_of_generator, (X,), 0),
        (list_of_a_list_grown, (X,), 0),
        (list_of_a_tuple, (X,), 0),
        (list_of_rows, (X,), 0),
        (list_of_rows, (XS,), 0),
        (empty_list_grown, (X,), 0),
    ],
    ids=lambda a: getattr(a, "__name__", ""),
)
def test_matches_finite_differences(out_dir, f, args, argnums):
    check(f, *args, argnums=argnums)


def test_hand_formulas(out_dir):
    np.testing.assert_allclose(grad(squares)(X), 2 * X)
    np.testing.assert_allclose(grad(positive_squares)(X), np.where(X > 0, 2 * X, 0))
    g = grad(squares)(X.astype(np.float32))
    assert g.dtype == np.float32 and g.shape == X.shape


def test_reads_as_the_loop_written_out(out_dir, monkeypatch):
    """The gradient of `hs = [... for k in ...]` is the one of the explicit loop."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    comp = code_of(grad(layer)).replace("grad_layer(", "grad_f(")
    loop = code_of(grad(layer_loop)).replace("grad_layer_loop(", "grad_f(")
    strip = lambda code: [ln for ln in code.splitlines() if "Generated from" not in ln]
    assert strip(comp) == strip(loop)
    assert "hs = []" in comp and "hs.append(" in comp


def test_names(out_dir, monkeypatch):
    """Each list takes its consumer's name (`terms` for `sum`, `rows` for
    `np.array`); a target colliding with a variable of the function is renamed."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    code = code_of(grad(squares))
    assert "terms = []" in code and "for i in range(3):" in code
    code = code_of(grad(reads_outer_in_first_iterable))
    assert "rows = []" in code and "x_1 = x[i]" in code
    assert "rows.append(x_1 * 3.0)" in code


def leaks(x):
    s = sum(t for t in x)
    return s + t  # <-  # noqa: F821


def set_comprehension(x):
    return np.sum(x) * len({t for t in x})  # <-


def dict_comprehension(x):
    d = {i: x[i] for i in range(2)}  # <-
    return d[0]


def stack_of_generator(x):
    return np.sum(np.stack(t * 2.0 for t in x))  # <-


def array_of_generator(x):
    return np.sum(np.array(t * 2.0 for t in x))  # <-


def max_of_generator(x):
    return max(t * 2.0 for t in x)  # <-


def list_of_an_expression(x):
    return np.sum(list(x * 2.0)[0])  # <-


def unknown_call_inside(x):
    return sum(np.fft.fft(t) for t in x)  # <-


@pytest.mark.parametrize(
    "f, message, at",
    [
        (leaks, "`t` is not defined here", "t  #"),
        (set_comprehension, "a set comprehension is not supported", "{t"),
        (dict_comprehension, "a dict comprehension is not supported", "{i"),
        (stack_of_generator, "`np.stack` takes a list, not a generator", "(t"),
        (array_of_generator, "`np.array` takes a list, not a generator", "(t"),
        (max_of_generator, "a generator expression is not supported", "(t"),
        (unknown_call_inside, "call to `np.fft.fft`, which adcompiler", "np.fft.fft"),
        (list_of_an_expression, "`list` of `x * 2.0`: adcompiler takes", "list("),
    ],
    ids=lambda a: getattr(a, "__name__", ""),
)
def test_errors_point_into_the_comprehension(out_dir, f, message, at):
    lines, first = inspect.getsourcelines(f)
    (i,) = [i for i, line in enumerate(lines) if "# <-" in line]
    where = f"{__file__}:{first + i}:{lines[i].index(at) + 1}: "
    with pytest.raises(ADCompileError) as info:
        grad(f)
    assert str(info.value).startswith(where + message), str(info.value)


@pytest.mark.parametrize("f", [tuple_of_generator, list_of_rows, empty_list_grown])
def test_hessian_through_list_and_tuple_calls(out_dir, f):
    """`list(...)` and `tuple(...)` are the list itself, in forward mode too."""
    g = grad(f)
    fd = np.stack(
        [(g(X + 1e-6 * e) - g(X - 1e-6 * e)) / 2e-6 for e in np.eye(3)], axis=-1
    )
    np.testing.assert_allclose(hessian(f)(X), fd, atol=1e-6)


def test_forward_mode_and_the_hessian_go_through_it_as_through_the_loop(out_dir):
    """A comprehension is the loop written out, in forward mode too: jvp and the
    Hessian agree with the explicit loop's and with finite differences."""
    out, tangent = jvp(layer, (X, W), (Y, None))
    out_loop, tangent_loop = jvp(layer_loop, (X, W), (Y, None))
    np.testing.assert_allclose((out, tangent), (out_loop, tangent_loop), rtol=1e-12)
    eps = 1e-6
    fd = (layer(X + eps * Y, W) - layer(X - eps * Y, W)) / (2 * eps)
    np.testing.assert_allclose(tangent, fd, rtol=1e-6)
    # d²/dx² of sum_k tanh(w_k . x) = sum_k -2 t_k (1 - t_k²) w_k w_kᵀ
    t = np.tanh(W @ X)
    want = (W.T * (-2.0 * t * (1.0 - t * t))) @ W
    np.testing.assert_allclose(hessian(layer)(X, W), want, rtol=1e-10, atol=1e-12)
