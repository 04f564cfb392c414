"""vjp, jacrev and jacobian: reverse mode with a cotangent instead of a scalar seed."""

import importlib.util
import inspect

import numpy as np
import pytest

import adcompiler
from adcompiler import jacfwd, jacobian, jacrev, jvp, passes, vjp
from adcompiler.errors import ADCompileError


def numeric_jacobian(f, args, i, eps=1e-6):
    """Central differences: shape out.shape + args[i].shape."""
    args = [np.array(a, dtype=float) if np.ndim(a) else a for a in args]
    x = np.array(args[i], dtype=float)
    cols = []
    for k in range(x.size):
        d = np.zeros(x.size)
        d[k] = eps
        plus = list(args)
        minus = list(args)
        plus[i] = x + d.reshape(x.shape)
        minus[i] = x - d.reshape(x.shape)
        cols.append((np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps))
    out = np.stack(cols, axis=-1)
    return out.reshape(np.shape(f(*args)) + x.shape)


def layer(W, x, b):
    return np.tanh(W @ x + b) * np.exp(-0.1 * b)


def two_outputs(x, y):
    s = np.sin(x) * y
    return s, np.sum(s**2) + np.cos(y[0])


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def rnn(W, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return h


def branchy(x):
    if np.sum(x) > 0:
        y = x * x
    else:
        y = -x
    return y * 2.0


def test_vjp_matches_finite_differences(out_dir, rng):
    W, x, b = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
    out, vjp_fn = vjp(layer, W, x, b)
    np.testing.assert_allclose(out, layer(W, x, b))
    u = rng.normal(size=3)
    d_W, d_x, d_b = vjp_fn(u)
    for i, got in enumerate((d_W, d_x, d_b)):
        J = numeric_jacobian(layer, (W, x, b), i)
        want = np.tensordot(u, J, axes=1)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_vjp_of_a_tuple_valued_function(out_dir, rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    (s, total), vjp_fn = vjp(two_outputs, x, y)
    np.testing.assert_allclose(total, two_outputs(x, y)[1])
    u, w = rng.normal(size=3), 0.7
    d_x, d_y = vjp_fn((u, w))
    for i, got in enumerate((d_x, d_y)):
        J0 = numeric_jacobian(lambda *a: two_outputs(*a)[0], (x, y), i)
        J1 = numeric_jacobian(lambda *a: two_outputs(*a)[1], (x, y), i)
        np.testing.assert_allclose(got, u @ J0 + w * J1, rtol=1e-6, atol=1e-8)


def test_backward_is_a_nested_def_and_runs_many_times(out_dir, rng):
    W, h0, xs = (
        rng.normal(size=(3, 3)) * 0.5,
        rng.normal(size=3),
        rng.normal(size=(5, 3)),
    )
    out, vjp_fn = vjp(rnn, W, h0, xs[:, :])
    # xs is differentiated too (a float array): three cotangents
    text = inspect.getsource(inspect.getmodule(vjp_fn))
    assert "    def backward(d_" in text
    assert "tape_b = list(tape)" in text  # backward may run again: it pops from a copy
    u = rng.normal(size=3)
    first = vjp_fn(u)
    second = vjp_fn(u)  # the tape is copied, not consumed
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        first[0],
        np.tensordot(u, numeric_jacobian(rnn, (W, h0, xs), 0), axes=1),
        rtol=1e-6,
        atol=1e-8,
    )


def test_vjp_through_a_branch(out_dir, rng):
    for x in (np.array([1.0, 2.0, -0.5]), np.array([-1.0, -2.0, 0.5])):
        _, vjp_fn = vjp(branchy, x)
        u = rng.normal(size=3)
        (d_x,) = vjp_fn(u)
        np.testing.assert_allclose(
            d_x, u @ numeric_jacobian(branchy, (x,), 0), rtol=1e-6, atol=1e-8
        )


def test_vjp_skips_integer_arguments(out_dir, rng):
    def scaled(x, n):
        return x * n

    out, vjp_fn = vjp(scaled, np.array([1.0, 2.0]), 3)
    d_x, d_n = vjp_fn(np.array([1.0, 1.0]))
    np.testing.assert_allclose(d_x, [3.0, 3.0])
    assert d_n is None


def test_jacrev_of_softmax_is_diag_minus_outer(out_dir, rng):
    x = rng.normal(size=5)
    p = softmax(x)
    J = jacrev(softmax)(x)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), atol=1e-12)
    np.testing.assert_allclose(jacobian(softmax)(x), J)


def test_jacobian_shape_is_out_shape_plus_in_shape(out_dir, rng):
    def f(W, x):
        return np.tanh(W @ x)[:, None] * x[None, :]

    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    JW, Jx = jacrev(f, argnums=(0, 1))(W, x)
    assert JW.shape == (3, 4, 3, 4) and Jx.shape == (3, 4, 4)
    np.testing.assert_allclose(JW, numeric_jacobian(f, (W, x), 0), atol=1e-7)
    np.testing.assert_allclose(Jx, jacfwd(f, argnums=1)(W, x), atol=1e-12)


def test_jacrev_rejects_integer_inputs(out_dir):
    with pytest.raises(TypeError, match="int"):
        jacrev(softmax)(np.arange(3))


# -- jvp and vjp agree: <u, J v> == <J^T u, v> on random functions from the table ------

_UNARY = [
    "np.sin({})",
    "np.cos({})",
    "np.tanh({})",
    "np.exp(0.3 * {})",
    "np.log1p({} ** 2)",
    "np.sqrt(1.5 + {} ** 2)",
    "np.abs({})",
    "np.square({})",
    "-{}",
    "np.expm1(0.2 * {})",
    "np.arctan({})",
]
_BINARY = [
    "{} + {}",
    "{} - {}",
    "{} * {}",
    "{} / (2.0 + {} ** 2)",
    "np.maximum({}, {})",
    "np.minimum({}, {})",
    "np.where({0} > {1}, {0}, 2.0 * {1})",
]


def _random_source(r, k) -> str:
    lines = [f"def rand{k}(x, y, W):", "    a = W @ x", "    b = y * 1.0"]
    names = ["a", "b", "x", "y"]
    for j in range(6):
        if r.random() < 0.5:
            expr = _UNARY[r.integers(len(_UNARY))].format(names[r.integers(len(names))])
        else:
            p, q = (names[r.integers(len(names))] for _ in range(2))
            expr = _BINARY[r.integers(len(_BINARY))].format(p, q)
        lines.append(f"    v{j} = {expr}")
        names.append(f"v{j}")
    lines.append(f"    return {names[-1]} + 0.5 * {names[-2]}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("k", range(8))
def test_jvp_and_vjp_agree_on_random_functions(out_dir, tmp_path, k):
    r = np.random.default_rng(100 + k)
    src = _random_source(r, k)
    if "arctan" in src:  # no rule: pick another table entry instead
        src = src.replace("np.arctan", "np.tanh")
    path = tmp_path / f"rand{k}.py"
    path.write_text("import numpy as np\n\n\n" + src)
    spec = importlib.util.spec_from_file_location(f"rand{k}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    f = getattr(module, f"rand{k}")
    x, y, W = r.normal(size=3), r.normal(size=3), r.normal(size=(3, 3))
    out, vjp_fn = vjp(f, x, y, W)
    u = r.normal(size=np.shape(out))
    v = (r.normal(size=3), r.normal(size=3), r.normal(size=(3, 3)))
    _, t_out = jvp(f, (x, y, W), v)
    lhs = np.sum(u * t_out)
    rhs = sum(np.sum(g * t) for g, t in zip(vjp_fn(u), v))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


def test_family_is_exported_lazily():
    for name in ("vjp", "jacrev", "jacobian", "hessian", "hvp"):
        assert callable(getattr(adcompiler, name))


def test_vjp_names_no_float_argument(out_dir):
    def f(n):
        return n * 2

    with pytest.raises((TypeError, ADCompileError)):
        vjp(f, 3)


# -- has_aux and stop_gradient ------------------------------------------------------------


def loss_with_aux(w, x):
    pred = np.tanh(x @ w)
    return np.sum(pred**2), pred


def test_grad_and_value_and_grad_with_aux(out_dir, rng):
    w, x = rng.normal(size=3), rng.normal(size=(4, 3))
    g, aux = adcompiler.grad(loss_with_aux, has_aux=True)(w, x)
    np.testing.assert_allclose(aux, np.tanh(x @ w))
    want = adcompiler.grad(lambda_free_loss)(w, x)
    np.testing.assert_allclose(g, want)
    (value, aux2), g2 = adcompiler.value_and_grad(loss_with_aux, has_aux=True)(w, x)
    assert np.isclose(value, np.sum(np.tanh(x @ w) ** 2))
    np.testing.assert_allclose(aux2, aux)
    np.testing.assert_allclose(g2, g)


def lambda_free_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def test_vjp_with_aux(out_dir, rng):
    w, x = rng.normal(size=3), rng.normal(size=(4, 3))
    out, vjp_fn, aux = vjp(loss_with_aux, w, x, has_aux=True)
    np.testing.assert_allclose(aux, np.tanh(x @ w))
    d_w, _ = vjp_fn(1.0)
    np.testing.assert_allclose(d_w, adcompiler.grad(lambda_free_loss)(w, x))


def three_values(x):
    return np.sum(x), x, x


def test_has_aux_needs_a_pair(out_dir):
    with pytest.raises(ADCompileError, match="pair"):
        adcompiler.grad(three_values, has_aux=True)


def with_stop(x, y):
    target = adcompiler.stop_gradient(np.tanh(y) * x)
    return np.sum((x - target) ** 2) + np.sum(x * adcompiler.stop_gradient(y))


def test_stop_gradient(out_dir, rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    d_x, d_y = adcompiler.grad(with_stop, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(d_x, 2 * (x - np.tanh(y) * x) + y)
    np.testing.assert_allclose(d_y, 0.0)
    assert adcompiler.stop_gradient(x) is x  # outside compiled code: the identity
    _, t_out = jvp(with_stop, (x, y), (np.ones(3), np.ones(3)))
    assert np.isclose(t_out, np.sum(2 * (x - np.tanh(y) * x) + y))
    text = inspect.getsource(adcompiler.grad(with_stop))
    assert "_stop_gradient(" in text


def rnn_projected(W, U, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return h


def test_vjp_of_a_loop_with_a_hoisted_input_projection(out_dir, rng):
    """The forward sweep makes `U @ xs[t]` one product before the loop (the
    `hoist` pass); `backward`, run twice, still gives every cotangent."""
    W, U, h0, xs = (
        rng.normal(size=(3, 3)) * 0.5,
        rng.normal(size=(3, 2)),
        rng.normal(size=3),
        rng.normal(size=(4, 2)),
    )
    out, vjp_fn = vjp(rnn_projected, W, U, h0, xs)
    hoisted = "_matmul_rows(U, xs)" in inspect.getsource(inspect.getmodule(vjp_fn))
    assert hoisted == passes.enabled("hoist")  # off under ADC_PASSES_OFF=all
    u = rng.normal(size=3)
    first, second = vjp_fn(u), vjp_fn(u)
    for k, (a, b) in enumerate(zip(first, second)):
        np.testing.assert_array_equal(a, b)
        want = np.tensordot(u, numeric_jacobian(rnn_projected, (W, U, h0, xs), k), 1)
        np.testing.assert_allclose(a, want, rtol=1e-6, atol=1e-8)
