"""Loops that build a Python list: the backward sweep takes the list's adjoint
apart from its end with `pop()` (passes/lists.py), one entry a trip, instead
of slicing a copy of it (`g[:-1]`) on every trip, which costs O(T²) in all."""

import numpy as np
import pytest
from adcheck import check, code_of
from conftest import numeric_grad

from adcompiler import grad, hessian, passes

W = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3], [-0.2, 0.2, 0.1]])
XS = np.array(
    [
        [0.5, -0.3, 0.8],
        [-0.6, 0.2, 0.1],
        [0.9, 0.4, -0.7],
        [0.2, -0.8, 0.3],
        [-0.1, 0.6, 0.5],
    ]
)


def rnn(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    return sum(np.sum(q * q) for q in hs)


def comprehension(W, xs):
    hs = [np.tanh(W @ x) for x in xs]
    return sum(np.sum(h * h) for h in hs)


def summed(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h * h)
    return np.sum(sum(hs))


def read_back_later(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    total = 0.0
    for k in range(len(hs)):
        total = total + np.sum(hs[k] * hs[len(hs) - 1 - k])
    return total


def used_twice(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    return np.sum(sum(hs) ** 2) + np.sum(np.stack(hs) ** 3)


def stacked(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def twice_a_trip(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
        hs.append(np.sin(h))
    return sum(np.sum(q * q * q) for q in hs)


def conditional(W, xs):
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        if xs[t, 0] > 0:
            hs.append(h * 2.0)
    return sum(np.sum(q * q) for q in hs)


def two_lists(W, xs):
    hs = []
    cs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
        cs.append(np.cos(h))
    return sum(np.sum(a * b) for a, b in zip(hs, cs))


def while_loop(W, xs):
    hs = []
    h = np.zeros(3)
    t = 0
    while t < len(xs):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
        t = t + 1
    return sum(np.sum(q * q) for q in hs)


def mixed(W, xs):
    """Entries that depend on W and entries that do not: the second's adjoint
    is dropped (`d_hs.pop()` as a statement)."""
    hs = []
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
        hs.append(xs[t] * 2.0)
    return sum(np.sum(q * q) for q in hs)


def reads_last(W, xs):
    """The list read inside the loop that builds it: the tape keeps the list
    itself, which later trips append to, so the zero adjoint of its entries
    at the trip is made like the adjoint after the trip, not like the list."""
    hs = [np.zeros(3)]
    for t in range(len(xs)):
        hs.append(np.tanh(W @ hs[-1] + xs[t]))
    return np.sum(np.stack(hs) ** 2)


def reads_all_inside(W, xs):
    hs = [np.zeros(3)]
    s = 0.0
    for t in range(len(xs)):
        s = s + np.sum(sum(hs) * xs[t])
        hs.append(np.tanh(W @ hs[-1] + xs[t]))
    return s + np.sum(hs[-1])


FUNCTIONS = [
    rnn,
    comprehension,
    summed,
    read_back_later,
    used_twice,
    stacked,
    twice_a_trip,
    conditional,
    two_lists,
    while_loop,
    mixed,
    reads_last,
    reads_all_inside,
]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_matches_finite_differences(out_dir, f):
    check(f, W, XS)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_float32_stays_float32(out_dir, f):
    d = grad(f)(W.astype(np.float32), XS.astype(np.float32))
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, grad(f)(W, XS), rtol=1e-4, atol=1e-5)


def test_the_gradient_can_be_called_again(out_dir):
    """The adjoint lists are the gradient's own: a second call, or a longer
    sequence, starts from new ones."""
    g = grad(rnn)
    first = g(W, XS)
    np.testing.assert_array_equal(g(W, XS), first)
    longer = np.concatenate([XS, XS[::-1]])
    np.testing.assert_allclose(
        g(W, longer), numeric_grad(rnn, [W, longer], 0), rtol=1e-6, atol=1e-6
    )


def _backward_loops(code: str) -> list[str]:
    """The text of each backward loop (`for ... in reversed(...)`)."""
    loops, current = [], None
    for line in code.splitlines():
        if "in reversed(range(" in line:
            current = [line]
            loops.append(current)
        elif current is not None:
            if line.startswith(" " * (len(current[0]) - len(current[0].lstrip()) + 1)):
                current.append(line)
            else:
                current = None
    return ["\n".join(lines) for lines in loops]


@pytest.mark.parametrize(
    "f, pops",
    [
        (rnn, 2),  # the generator's list of terms, and hs
        (comprehension, 2),
        (summed, 1),
        (read_back_later, 1),
        (used_twice, 1),
        (twice_a_trip, 3),  # two a trip, and the generator's terms
        (conditional, 2),
        (two_lists, 3),  # the terms, then hs and cs in one loop
        (while_loop, 2),
        (mixed, 3),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_backward_loops_pop_instead_of_slicing(out_dir, f, pops):
    """Each backward trip takes the last entry of a list's adjoint with `pop()`,
    O(1), and no trip copies the list (`d_hs[:-1]`): the sweep is linear in
    the number of trips. (Speed itself is measured in benchmarks.)"""
    if not passes.enabled("inplace"):
        pytest.skip("the pops are the inplace pass's")
    code = code_of(grad(f))
    loops = _backward_loops(code)
    assert loops
    for loop in loops:
        assert "[:-1]" not in loop, loop
    popped = [ln for ln in code.splitlines() if ".pop()" in ln and "tape" not in ln]
    assert len(popped) == pops, code


def test_the_example_reads_as_written_by_hand(out_dir):
    if not passes.enabled("inplace"):
        pytest.skip("the pops are the inplace pass's")
    code = code_of(grad(rnn))
    assert "d_terms_3 = _repeat_like(1.0, terms)" in code
    assert "d_t7 = d_terms_3.pop()" in code
    assert "d_hs_1 = d_hs_3\n" in code
    assert "= d_hs_1.pop()" in code


def test_a_stacked_list_keeps_its_view(out_dir):
    """Where the list was stacked, its adjoint is an array: `g[:-1]` is a view
    (O(1)) and an array has no `pop`, so the slice stays."""
    code = code_of(grad(stacked))
    assert ".pop()" not in code.replace("tape_1.pop()", "").replace("tape.pop()", "")


def test_a_cotangent_list_is_not_popped(out_dir):
    """vjp's cotangent of a returned list is the caller's: it is not shrunk."""
    from adcompiler import vjp

    def f(W, xs):
        hs = []
        h = np.zeros(3)
        for t in range(len(xs)):
            h = np.tanh(W @ h + xs[t])
            hs.append(h)
        return hs

    out, back = vjp(f, W, XS)
    cot = [np.ones(3) * (k + 1) for k in range(len(out))]
    kept = [c.copy() for c in cot]
    (d_W,) = back(cot)[:1]

    def scalar(W, xs):
        return sum(np.sum(c * h) for c, h in zip(kept, f(W, xs)))

    np.testing.assert_allclose(
        d_W, numeric_grad(scalar, [W, XS], 0), rtol=1e-6, atol=1e-6
    )
    assert len(cot) == len(kept)
    for c, k in zip(cot, kept):
        np.testing.assert_array_equal(c, k)


@pytest.mark.parametrize(
    "f",
    [rnn, conditional, twice_a_trip, used_twice, mixed, reads_all_inside],
    ids=lambda f: f.__name__,
)
def test_hessian_reads_the_pops_back(out_dir, f):
    """hessian differentiates the gradient in forward mode: the tangent of an
    adjoint list is popped along with it."""
    H = hessian(f)(W, XS)
    eps = 1e-5
    want = np.zeros((3, 3, 3, 3))
    g = grad(f)
    for i in range(3):
        for j in range(3):
            up, down = W.copy(), W.copy()
            up[i, j] += eps
            down[i, j] -= eps
            want[:, :, i, j] = (g(up, XS) - g(down, XS)) / (2 * eps)
    np.testing.assert_allclose(H, want, rtol=1e-5, atol=1e-7)
