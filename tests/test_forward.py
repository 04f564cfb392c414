"""Forward mode: jvp and jacfwd against finite differences and closed forms."""

import inspect
import math

import numpy as np
import pytest

from adcompiler import grad
from adcompiler.transforms import _compiled_jvp, jacfwd, jvp


def directional(f, args, tangents, eps=1e-6):
    plus = [a + eps * t if t is not None else a for a, t in zip(args, tangents)]
    minus = [a - eps * t if t is not None else a for a, t in zip(args, tangents)]
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)


def chain(x, y):
    a = np.sin(x) * np.exp(-x * x) + x**3
    b = np.tanh(a) / (1.0 + y * y) - np.cos(y)
    c = np.sqrt(np.abs(b) + 1.0) + np.log1p(x * x) + np.expm1(y / 3.0)
    return np.sum(np.maximum(c, 0.5) * np.minimum(a, 1.0)) + np.mean(
        np.square(b) - np.log(2.0 + a * a)
    )


def matrices(W, x, b):
    h = np.tanh(W @ x + b)
    return np.dot(h, h) + np.sum(np.outer(h, x).T) + np.sum(W.T.reshape(-1) ** 2.5)


def scalars(x, y):
    return max(x, y) * min(x, 2.0 * y) + abs(x - y) + math.tan(x) / math.sqrt(y)


def reductions(x, y):
    """The reductions to an extreme entry, norms, variances, running sums and `%`,
    along each kind of axis."""
    rows = np.max(x, axis=1) @ np.min(y, axis=1)
    kept = np.sum(np.max(x, axis=0, keepdims=True) * np.linalg.norm(y, axis=0))
    whole = np.max(x) * np.linalg.norm(y) + np.min(y * x)
    norms = np.sum(np.linalg.norm(x, axis=1, keepdims=True))
    spread = np.var(x) * np.sum(np.std(y, axis=1, ddof=1, keepdims=True))
    spread += np.prod(y[0]) + np.sum(np.prod(x, axis=0, keepdims=True))
    spread += np.sum(np.cumsum(x, axis=1) * np.flip(np.roll(y, 1, axis=0), 0)) + np.sum(
        np.squeeze(x[:1]) ** 2
    )
    return rows + kept + whole + norms + np.sum(x % (y * y + 1.0)) + spread


def elementary(x, y):
    """Each elementwise function beyond the basic ones, in range for any x and y."""
    r, q = 1.0 + x * x, 2.0 + y * y
    hyperbolic = np.sinh(x) * np.cosh(y) + np.arcsinh(x * y) + np.arccosh(q)
    inverse = (
        np.arcsin(x / r) + np.arccos(y / q) + np.arctan(y) + np.arctanh(x / (1 + r))
    )
    logs = np.log2(r) + np.log10(q) + np.exp2(x) + np.cbrt(y + 5.0) + np.reciprocal(r)
    binary = np.arctan2(x, q) + np.hypot(r, y) + np.logaddexp(x, y)
    return np.sum(hyperbolic * inverse + logs * binary)


CASES = [
    (chain, lambda r: (r.normal(size=5), r.normal(size=5))),
    (chain, lambda r: (r.normal(size=(3, 1)), r.normal(size=(1, 4)))),
    (
        matrices,
        lambda r: (r.uniform(0.5, 1, size=(3, 3)), r.normal(size=3), r.normal(size=3)),
    ),
    (scalars, lambda r: (0.3, 1.7)),
    (reductions, lambda r: (r.normal(size=(3, 4)), r.normal(size=(3, 4)))),
    (elementary, lambda r: (r.normal(size=5), r.normal(size=5))),
    (elementary, lambda r: (r.normal(size=(3, 1)), r.normal(size=(1, 4)))),
]


def test_jvp_of_a_maximum_shared_by_ties_is_their_mean(out_dir):
    """Where entries tie for the maximum, the tangent is the mean of theirs, as
    the gradient splits evenly among them: ⟨∇f, v⟩ = J v there too."""

    def top(x):
        return np.max(x) + np.sum(np.min(x * x, axis=0, keepdims=True))

    x = np.array([[1.0, 3.0], [3.0, -1.0]])
    v = np.array([[0.5, 2.0], [4.0, 1.0]])
    _, t = jvp(top, (x,), (v,))
    assert t == (2.0 + 4.0) / 2 + 2 * 1.0 * 0.5 + 2 * -1.0 * 1.0
    assert t == np.sum(grad(top)(x) * v)


@pytest.mark.parametrize("f, make", CASES)
def test_jvp_matches_finite_differences(out_dir, rng, f, make):
    args = [
        np.asarray(a, dtype=np.float64) if np.ndim(a) else float(a) for a in make(rng)
    ]
    tangents = [rng.normal(size=np.shape(a)) if np.ndim(a) else 0.7 for a in args]
    value, t_out = jvp(f, args, tangents)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(
        t_out, directional(f, args, tangents), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("f, make", CASES)
def test_jvp_agrees_with_grad(out_dir, rng, f, make):
    """⟨∇f, v⟩ = J v for scalar f: forward and reverse mode from the same rule table."""
    args = [
        np.asarray(a, dtype=np.float64) if np.ndim(a) else float(a) for a in make(rng)
    ]
    v = [rng.normal(size=np.shape(a)) if np.ndim(a) else 0.7 for a in args]
    grads = grad(f, argnums=tuple(range(len(args))))(*args)
    _, t_out = jvp(f, args, v)
    assert np.isclose(sum(np.sum(g * t) for g, t in zip(grads, v)), t_out, rtol=1e-10)


def softmax(x):
    e = np.exp(x - np.sum(x) / 4.0)
    return e / np.sum(e)


def test_jacfwd_of_softmax_is_diag_minus_outer(out_dir, rng):
    x = rng.normal(size=4)
    p = softmax(x)
    np.testing.assert_allclose(
        jacfwd(softmax)(x), np.diag(p) - np.outer(p, p), atol=1e-14
    )


def affine(A, x):
    return A @ x + 1.0


def test_jacfwd_shapes(out_dir, rng):
    A, x = rng.normal(size=(2, 3)), rng.normal(size=3)
    jA, jx = jacfwd(affine, argnums=(0, 1))(A, x)
    assert jA.shape == (2, 2, 3) and jx.shape == (2, 3)
    np.testing.assert_allclose(jx, A)
    np.testing.assert_allclose(jA[1, 1], x)
    np.testing.assert_allclose(jA[0, 1], 0.0)


def test_untouched_arguments_get_no_tangent_code(out_dir):
    source = inspect.getsource(_compiled_jvp(matrices, (1,)))
    assert "W_dot" not in source and "b_dot" not in source
    assert source.count("np.tanh") == 1


def test_float32_tangents_stay_float32(out_dir, rng):
    x = rng.normal(size=5).astype(np.float32)
    y = rng.normal(size=5).astype(np.float32)
    _, t_out = jvp(chain, (x, y), (np.ones_like(x), np.ones_like(y)))
    assert np.asarray(t_out).dtype == np.float32


def test_tangent_shape_mismatch_is_an_error(out_dir):
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        jvp(softmax, (np.ones(3),), (np.ones(4),))


def appended(x, y):
    """A list built in straight-line code, some of its parts constant, joined and
    summed each way NumPy and Python do."""
    xs = [np.ones(3)]
    xs.append(np.sin(x) * y)
    xs.append(np.arange(3.0))
    xs.append(x * x)
    ys = [x[:2], np.cos(x)]
    total = np.sum(np.stack(xs) ** 2) + np.sum(np.array(xs) * x)
    total += np.sum(sum(xs) ** 3) + np.sum(np.concatenate(ys) ** 2)
    return total + np.sum(xs[1] * xs[3]) + np.sum(np.stack(xs, axis=1)[0])


def test_jvp_of_a_list_built_in_straight_line_code(out_dir, rng):
    """The tangent of a list is the list of its parts' tangents, a zero array for
    a part that depends on no input; np.stack, np.array, sum and np.concatenate
    of it are those of the tangents."""
    x, y = rng.normal(size=3), 0.7
    vx, vy = rng.normal(size=3), -0.4
    value, t_out = jvp(appended, (x, y), (vx, vy))
    assert value == appended(x, y)
    np.testing.assert_allclose(
        t_out, directional(appended, (x, y), (vx, vy)), rtol=1e-6
    )
    gx, gy = grad(appended, argnums=(0, 1))(x, y)
    assert np.isclose(t_out, gx @ vx + gy * vy, rtol=1e-12)
    source = inspect.getsource(_compiled_jvp(appended, (0, 1)))
    assert "xs_dot = []" in source or "_zeros_list(xs)" in source
    # y alone: the parts that depend on x only have zero tangents
    _, t_y = jvp(appended, (x, y), (None, vy))
    assert np.isclose(t_y, gy * vy, rtol=1e-12)


@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)])
def test_prod_others_jvp_is_exact_with_zeros(axis):
    """`_prod_others_jvp(x, t, axis)`, the forward rule of np.prod's gradient
    helper: the sum over the other entries j of t[j] times the product of the
    entries other than both, compared with that sum written out, where one entry
    of a product, or two, is 0."""
    from adcompiler.helpers import defined

    prod_others_jvp = defined("_prod_others_jvp")["_prod_others_jvp"]
    rng = np.random.default_rng(7)
    x, t = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    x[0, 1, 2] = x[1, 2, 0] = x[1, 2, 3] = 0.0
    axes = (0, 1, 2) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    kept = [a for a in range(3) if a not in [b % 3 for b in axes]]
    want = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        row = [j for j in np.ndindex(x.shape) if all(j[a] == i[a] for a in kept)]
        for j in row:
            if j != i:
                others = [x[k] for k in row if k not in (i, j)]
                want[i] += t[j] * np.prod(others)
    got = prod_others_jvp(x, t, axis)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    single = prod_others_jvp(x.astype(np.float32), t.astype(np.float32), axis)
    assert single.dtype == np.float32


def squares(x):
    return np.sum(x**2) + np.sum(x**3.0 * 0.5)


@pytest.mark.parametrize("off", ["", "all"])
def test_jvp_of_a_constant_power_takes_no_log(out_dir, monkeypatch, off):
    """The exponent of `x ** 2` has no tangent, so the rule writes no `log(x)`
    term, which warns at negative x: not left for dce to drop, so not there
    with every pass off either."""
    import warnings

    monkeypatch.setenv("ADC_PASSES_OFF", off)
    x, v = np.array([-1.5, 2.0, -0.25]), np.array([0.5, -1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, t = jvp(squares, (x,), (v,))
    np.testing.assert_allclose(t, np.sum((2 * x + 1.5 * x**2) * v), rtol=1e-12)
    assert "log" not in inspect.getsource(_compiled_jvp(squares, (0,)))


def appended_in_a_loop(x, n):
    """Appends inside a `for` (a part that depends on x, or a constant one, by
    branch), then np.stack of the list; a `while` on the data after it."""
    xs = []
    h = x
    for i in range(n):
        h = np.tanh(h * 1.5 + i)
        if i % 2 == 0:
            xs.append(h * x)
        else:
            xs.append(np.ones(3))
    s = np.sum(np.stack(xs) ** 2)
    while s < 50.0:
        s = s * 1.5 + np.sum(x * x)
    return s


def test_jvp_through_loops_and_branches(out_dir, rng):
    """A loop carries the tangent of each value it carries that depends on x,
    a branch merges the tangents with the values, and the list's tangent is
    appended to in the loop as the list is."""
    x, v = rng.normal(size=3), rng.normal(size=3)
    for n in (1, 4):
        value, t_out = jvp(appended_in_a_loop, (x, n), (v, None))
        assert value == appended_in_a_loop(x, n)
        np.testing.assert_allclose(
            t_out,
            directional(appended_in_a_loop, (x, n), (v, None)),
            rtol=1e-6,
        )
        assert np.isclose(t_out, grad(appended_in_a_loop)(x, n) @ v, rtol=1e-12)
    source = inspect.getsource(_compiled_jvp(appended_in_a_loop, (0,)))
    assert "for i in range(n):" in source and "while " in source
    assert "xs_dot = []" in source or "xs_1_dot = []" in source


def _without_forward_rule():
    from adcompiler.rules import PRIMS
    from adcompiler.rules.core import NO_RULE_YET

    return sorted(
        n
        for n, p in PRIMS.items()
        if p.jvp is None and (p.differentiable or n in NO_RULE_YET)
    )


@pytest.mark.parametrize("prim", _without_forward_rule())
def test_a_missing_forward_rule_on_a_varied_argument_is_an_error(prim):
    """Where a tangent reaches a primitive without a forward rule (a backward
    sweep's in-place update, say), forward mode raises, never gives a zero."""
    from adcompiler import ADCompileError
    from adcompiler.autodiff.emitter import Names
    from adcompiler.autodiff.forward import forward
    from adcompiler.errors import Loc
    from adcompiler.ir import Assign, Block, Function, Var
    from adcompiler.rules import PRIMS
    from adcompiler.rules.core import NO_RULE_YET

    p = PRIMS[prim]
    n = max(len(p.vjp), 1 + max(NO_RULE_YET.get(prim, (0,))))
    i = NO_RULE_YET.get(prim, (0,))[0]
    args = tuple(Var("x") if k == i else Var("c") for k in range(n))
    stmt = Assign(("_t1",), prim, args, {}, Loc("f.py", 3, 4))
    fn = Function("f", ["x", "c"], Block([stmt], (Var("_t1"),)), Loc("f.py", 2, 0))
    with pytest.raises(ADCompileError, match="no forward-mode rule") as info:
        forward(fn, (0,), "jvp_f", Names({"x", "c"}))
    assert str(info.value).startswith("f.py:3:5:")
