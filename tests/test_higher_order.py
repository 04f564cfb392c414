"""Higher order: generated code differentiated again (grad of grad, hessian, hvp)."""

import inspect

import numpy as np
import pytest

from adcompiler import grad, hessian, hvp, jacfwd
from adcompiler.errors import ADCompileError


def sin_times_x(x):
    return np.sin(x) * x


def just_sin(x):
    return np.sin(x)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    """The closed form: tridiagonal."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] = H[i + 1, i] = -400 * x[i]
    return H


def quadratic_net(x, A, W):
    return x @ A @ x + np.sum(np.tanh(W @ x))


def test_third_derivative_of_sin(out_dir):
    d1 = grad(just_sin)
    d2 = grad(d1)
    d3 = grad(d2)
    for x in (0.0, 0.3, 1.7, -2.5):
        assert np.isclose(d1(x), np.cos(x))
        assert np.isclose(d2(x), -np.sin(x))
        assert np.isclose(d3(x), -np.cos(x))


def test_grad_of_grad_is_generated_code_read_back(out_dir):
    d2 = grad(grad(sin_times_x))
    text = inspect.getsource(d2)
    assert "def grad_grad_sin_times_x(x):" in text
    x = 0.7
    assert np.isclose(d2(x), 2 * np.cos(x) - x * np.sin(x))


def test_grad_of_grad_through_matmul_helpers(out_dir, rng):
    def f(x, W, v, u):
        return u @ np.tanh(W @ (x * v))

    W, v, u = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
    g = grad(f)
    gg = grad(g)
    x, eps = 0.4, 1e-5
    fd = (g(x + eps, W, v, u) - g(x - eps, W, v, u)) / (2 * eps)
    assert np.isclose(gg(x, W, v, u), fd, rtol=1e-6)


def test_grad_of_grad_reads_back_each_form_of_the_scalar_check(out_dir, rng):
    """The check that `a @ b` is a scalar asks a NumPy operand for `.ndim` and
    `.shape` and an argument through `np.asarray`; grad of grad reads
    each form back as the check, not as code to differentiate."""

    def first_known(x, W, u):
        return np.tanh(W * x) @ u

    def second_known(x, W, u):
        return u @ np.tanh(W * x)

    def both_known(x, W):
        return np.tanh(W * x) @ np.sin(W * x)

    W, u = rng.normal(size=4), rng.normal(size=4)
    for f, args, form in [
        (first_known, (W, u), ".ndim != 1 or t"),
        (second_known, (W, u), "np.asarray(u).shape != t"),
        (both_known, (W,), ".shape != t"),
    ]:
        g = grad(f)
        assert form in inspect.getsource(g)
        x, eps = 0.3, 1e-5
        fd = (g(x + eps, *args) - g(x - eps, *args)) / (2 * eps)
        assert np.isclose(grad(g)(x, *args), fd, rtol=1e-6)


def test_hessian_of_rosenbrock(out_dir, rng):
    for x in (np.array([1.2, 0.8, -0.3, 0.5]), rng.normal(size=6)):
        H = hessian(rosenbrock)(x)
        np.testing.assert_allclose(H, rosenbrock_hessian(x), rtol=1e-12, atol=1e-9)


def test_hessian_with_matmul_closed_form(out_dir, rng):
    A, W, x = rng.normal(size=(4, 4)), rng.normal(size=(3, 4)), rng.normal(size=4)
    H = hessian(quadratic_net)(x, A, W)
    t = np.tanh(W @ x)
    want = A + A.T + W.T @ np.diag(-2 * t * (1 - t**2)) @ W
    np.testing.assert_allclose(H, want, atol=1e-12)
    # forward-over-reverse agrees with finite differences of the gradient
    g = grad(quadratic_net)
    fd = np.stack(
        [(g(x + 1e-6 * e, A, W) - g(x - 1e-6 * e, A, W)) / 2e-6 for e in np.eye(4)],
        axis=-1,
    )
    np.testing.assert_allclose(H, fd, atol=1e-6)


def test_hvp_is_hessian_times_vector(out_dir, rng):
    x, v = rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(
        hvp(rosenbrock, x, v), rosenbrock_hessian(x) @ v, rtol=1e-12, atol=1e-9
    )
    A, W = rng.normal(size=(5, 5)), rng.normal(size=(3, 5))
    Hv = hvp(quadratic_net, (x, A, W), (v, None, None))
    np.testing.assert_allclose(Hv, hessian(quadratic_net)(x, A, W) @ v, atol=1e-12)


def test_jacfwd_of_grad_equals_hessian(out_dir, rng):
    x = rng.normal(size=4)
    np.testing.assert_allclose(
        jacfwd(grad(rosenbrock))(x), hessian(rosenbrock)(x), atol=0
    )


def test_hessian_takes_one_argnum(out_dir):
    with pytest.raises(ADCompileError, match="argnums"):
        hessian(rosenbrock, argnums=(0,))


def test_hessian_of_logsumexp_shifted_by_its_maximum(out_dir, rng):
    """The shift by the maximum, as softmax cross-entropy writes it, has no
    curvature: the Hessian is diag(p) - p pᵀ."""

    def logsumexp(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    x = rng.normal(size=5)
    p = np.exp(x - x.max()) / np.sum(np.exp(x - x.max()))
    H = hessian(logsumexp)(x)
    np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), atol=1e-12)


def gradient_fd(f, x, *rest, eps=1e-6):
    """The Jacobian of `grad(f)` by central differences, shape `x.shape + x.shape`."""
    g = grad(f)
    columns = [
        (g(x + eps * e, *rest) - g(x - eps * e, *rest)) / (2 * eps)
        for e in np.eye(x.size).reshape((x.size,) + x.shape)
    ]
    return np.stack(columns, axis=-1).reshape(x.shape + x.shape)


def listed(x):
    """A gradient with a list in it: the appends, np.stack, np.array, sum and
    np.concatenate of a list, its entries read back, and a part that is constant."""
    xs = [np.ones(3)]
    xs.append(np.sin(x) * x)
    xs.append(x**3)
    ys = [x[:2] ** 2, np.cos(x)]
    total = np.sum(np.stack(xs, axis=1) ** 2) + np.sum(np.array(xs) * x)
    total += np.sum(sum(xs) ** 3) + np.sum(np.concatenate(ys) ** 2)
    return total + np.sum(xs[1] * xs[2])


def test_hessian_through_a_list_of_arrays(out_dir, rng):
    """The generated gradient builds the list again and splits its adjoint back
    into a list (`_repeat_like`, `_split_like`, `_zeros_list`): forward mode
    differentiates each."""
    x = rng.normal(size=3)
    H = hessian(listed)(x)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H, gradient_fd(listed, x), rtol=1e-6, atol=1e-6)
    v = rng.normal(size=3)
    np.testing.assert_allclose(hvp(listed, x, v), H @ v, rtol=1e-12)


def product(x):
    return np.prod(x)


def row_products(X):
    return np.sum(np.prod(X, axis=1))


def product_hessian(x):
    """The closed form: H[i, j] = the product of the entries other than i and j, 0 at i = j."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                H[i, j] = np.prod(np.delete(x, [i, j]))
    return H


@pytest.mark.parametrize(
    "x",
    [[0.3, -0.5, 1.2, 2.0], [0.3, 0.0, 1.2, 2.0], [0.0, -0.5, 0.0, 2.0]],
    ids=["no zero", "one zero", "two zeros"],
)
def test_hessian_of_a_product_is_exact_where_entries_are_zero(out_dir, x):
    """The gradient of np.prod is `_prod_others(x)`, made without dividing by x;
    its forward rule (`_prod_others_jvp`) is too, so an entry of 0 (or two) gives
    the closed form exactly, not 0/0."""
    x = np.array(x)
    H = hessian(product)(x)
    np.testing.assert_allclose(H, product_hessian(x), rtol=1e-14, atol=0)
    np.testing.assert_allclose(H, gradient_fd(product, x), atol=1e-8)
    X = np.stack([x, x[::-1] + 1.0, x * x])
    H = hessian(row_products)(X)
    assert H.shape == (3, 4, 3, 4)
    for r in range(3):
        np.testing.assert_allclose(H[r, :, r], product_hessian(X[r]), rtol=1e-14)
        others = np.delete(np.arange(3), r)
        np.testing.assert_array_equal(H[r, :, others], 0.0)
    np.testing.assert_allclose(H, gradient_fd(row_products, X), atol=1e-8)


def stacked_in_a_loop(x):
    """Appends in a `for`, then np.stack of the list (the backward loop slices
    the stacked adjoint)."""
    xs = []
    for i in range(3):
        xs.append(np.sin(x) * (i + 1.0))
    return np.sum(np.stack(xs) ** 2 * x)


def recurrent(x, W):
    """The state through a loop (`_stack_trips` of its trips, `_matmul_rhs` back),
    a sum accumulated over the trips (a tape and `_unbroadcast_sum`) and a `while`
    that stops early (a trip count)."""
    h, total = x, 0.0
    for _ in range(3):
        h = np.tanh(W @ h)
        total = total + np.sum(np.sin(h * x))
    while total < 5.0:
        total = total * 2.0 + np.sum(x * x)
    return total + np.sum(h**2)


def rows(W, xs):
    """A loop over the rows of xs: the trips' products summed after the backward
    loop (`_matmul_lhs_rows_sum`, `_matmul_rhs_rows_sum`)."""
    s = 0.0
    for t in range(xs.shape[0]):
        s = s + np.sum(np.tanh(W @ xs[t]) * np.sin(xs[t] @ W))
    return s


def test_hessian_through_loops(out_dir, rng):
    """A gradient's backward sweep is a reversed loop over a tape: forward mode
    reads it back (the tangent tape pushed and popped with the tape, the sums
    over trips differentiated) and the Hessian matches finite differences of
    the gradient."""
    x, W = rng.normal(size=3), rng.normal(size=(3, 3)) * 0.6
    xs = rng.normal(size=(4, 3))
    for f, args in [(stacked_in_a_loop, (x,)), (recurrent, (x, W)), (rows, (W, xs))]:
        H = hessian(f)(*args)
        np.testing.assert_allclose(H, gradient_fd(f, *args), rtol=1e-6, atol=1e-6)
        v = rng.normal(size=args[0].shape)
        Hv = hvp(f, args, (v,) + (None,) * (len(args) - 1))
        np.testing.assert_allclose(Hv, np.tensordot(H, v, v.ndim), rtol=1e-10)
    source = inspect.getsource(grad(recurrent))
    assert "reversed(range(" in source and ".pop()" in source


def test_grad_of_a_gradient_with_a_loop_is_refused(out_dir, rng):
    """Reverse mode does not read a backward sweep back: grad of the gradient of
    a function with a loop raises at the reversed loop, and points to hessian."""
    with pytest.raises(ADCompileError, match="cannot be differentiated again") as info:
        grad(lambda_free_sum(grad(stacked_in_a_loop)))(rng.normal(size=3))
    assert "__grad_stacked_in_a_loop__x.py:" in str(info.value)
    assert "hessian" in str(info.value)


def lambda_free_sum(g):
    def summed(x):
        return np.sum(g(x))

    return summed


def gathered(x):
    """Reads by an integer array (an entry twice) and by a mask: the gradient
    scatters back with `_add_at`, which is np.add.at for them."""
    return np.sum(x[np.array([0, 0, 2])] ** 3) + np.sum(np.sin(x[x > 0]) * x[x > 0])


def test_hessian_through_integer_array_and_mask_indexing(out_dir, rng):
    x = np.array([0.3, -0.5, 1.2, 0.7])
    assert "_add_at(" in inspect.getsource(grad(gathered))
    H = hessian(gathered)(x)
    np.testing.assert_allclose(H, gradient_fd(gathered, x), rtol=1e-6, atol=1e-6)


WEIGHTS = np.array([1.0, 2.0, -3.0])


def weighted_sines(x):
    return np.sum(np.sin(x) * WEIGHTS)


def test_second_derivatives_of_a_function_reading_an_array(out_dir):
    """An array read from the module is a constant of the gradient (a keyword-only
    parameter, bound when the module is loaded); forward mode over the gradient
    keeps it one too. H = diag(-sin(x) w)."""
    from adcompiler import jvp

    x = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(
        hessian(weighted_sines)(x), np.diag(-np.sin(x) * WEIGHTS), atol=1e-15
    )
    v = np.array([1.0, 0.5, -2.0])
    np.testing.assert_allclose(
        hvp(weighted_sines, (x,), (v,)), -np.sin(x) * WEIGHTS * v
    )
    value, tangent = jvp(weighted_sines, (x,), (v,))
    assert np.isclose(value, weighted_sines(x))
    assert np.isclose(tangent, np.sum(np.cos(x) * WEIGHTS * v))
