"""np.linalg.inv, solve and det (rules/linalg.py), and np.moveaxis: against finite
differences, the hand-derived formulas, float32, stacks of matrices, forward mode."""

import numpy as np
import pytest
from test_rules import _float32_case, check

from adcompiler import grad, hessian, jvp


def well_conditioned(rng, *shape):
    """Matrices (or a stack of them) safely away from singular."""
    n = shape[-1]
    return rng.normal(size=shape) + 3.0 * np.eye(n)


def f_inv(A, W):
    return np.sum(np.linalg.inv(A) * W)


def f_solve(A, b, w):
    return np.sum(np.linalg.solve(A, b) * w)


def f_det(A):
    return np.sum(np.linalg.det(A))


def f_moveaxis(x, w):
    return np.sum(np.moveaxis(x, 0, -1) * w)


@pytest.mark.parametrize("stack", [(), (2,)], ids=["matrix", "stack"])
def test_inv(gen, rng, stack):
    A = well_conditioned(rng, *stack, 3, 3)
    W = rng.normal(size=A.shape)
    (d_A,) = check(gen, f_inv, (A, W), (0,))
    Y = np.linalg.inv(A)
    Yt = np.swapaxes(Y, -1, -2)
    np.testing.assert_allclose(d_A, -Yt @ W @ Yt, rtol=1e-12)  # -Y^T W Y^T


@pytest.mark.parametrize(
    "b_shape", [(3,), (3, 2), (2, 3, 1)], ids=["vector", "matrix", "stack"]
)
def test_solve(gen, rng, b_shape):
    A = well_conditioned(rng, *b_shape[:-2], 3, 3)
    b, w = rng.normal(size=b_shape), rng.normal(size=b_shape)
    d_A, d_b = check(gen, f_solve, (A, b, w), (0, 1))
    x = np.linalg.solve(A, b)
    np.testing.assert_allclose(d_b, np.linalg.solve(np.swapaxes(A, -1, -2), w))
    outer = np.outer(d_b, x) if x.ndim == 1 else d_b @ np.swapaxes(x, -1, -2)
    np.testing.assert_allclose(d_A, -outer, rtol=1e-12)


@pytest.mark.parametrize("stack", [(), (2,)], ids=["matrix", "stack"])
def test_det_is_jacobis_formula(gen, rng, stack):
    A = well_conditioned(rng, *stack, 3, 3)
    (d_A,) = check(gen, f_det, (A,), (0,))
    adjugate_t = np.linalg.det(A)[..., None, None] * np.swapaxes(
        np.linalg.inv(A), -1, -2
    )
    np.testing.assert_allclose(d_A, adjugate_t, rtol=1e-12)


def test_moveaxis(gen, rng):
    x = rng.normal(size=(2, 3, 4))
    check(gen, f_moveaxis, (x, rng.normal(size=(3, 4, 2))), (0,))


def test_compiled_for_a_matrix_reads_as_numpy(gen, rng, monkeypatch):
    """Where the examples show a matrix, the transposes are `.T` and the products `@`."""
    import inspect

    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # the shape facts

    A, W = well_conditioned(rng, 3, 3), rng.normal(size=(3, 3))
    g = grad(f_inv, out=gen, example_args=(A, W))
    source = inspect.getsource(g)
    assert "_matmul" not in source and "moveaxis" not in source
    np.testing.assert_allclose(g(A, W), grad(f_inv, out=gen)(A, W), rtol=1e-14)


@pytest.mark.parametrize("f", [f_inv, f_det])
def test_float32(gen, rng, f):
    A = well_conditioned(rng, 3, 3)
    args = (A, rng.normal(size=(3, 3))) if f is f_inv else (A,)
    _float32_case(gen, f, args, (0,))


def test_jvp_of_solve_inv_and_det(gen, rng, out_dir):
    def f(A, b):
        return np.sum(np.linalg.solve(A, b) * np.linalg.inv(A)[0]) + np.linalg.det(A)

    A, b = well_conditioned(rng, 3, 3), rng.normal(size=3)
    tA, tb = rng.normal(size=(3, 3)), rng.normal(size=3)
    _, t = jvp(f, (A, b), (tA, tb))
    h = 1e-6
    fd = (f(A + h * tA, b + h * tb) - f(A - h * tA, b - h * tb)) / (2 * h)
    assert np.isclose(t, fd, rtol=1e-7)
    g = grad(f, argnums=(0, 1), out=gen)(A, b)
    assert np.isclose(t, np.sum(g[0] * tA) + np.sum(g[1] * tb), rtol=1e-10)


def test_hessian_of_log_det(gen, rng, out_dir):
    """d² log det A / dA_ij dA_kl = -(A⁻¹)_li (A⁻¹)_jk."""

    def log_det(A):
        return np.log(np.linalg.det(A))

    A = well_conditioned(rng, 3, 3)
    Y = np.linalg.inv(A)
    np.testing.assert_allclose(
        hessian(log_det)(A), -np.einsum("li,jk->ijkl", Y, Y), atol=1e-12
    )


# -- einsum -------------------------------------------------------------------------


def f_matmul(a, b, w):
    return np.sum(np.einsum("ij,jk->ik", a, b) * w)


def f_three(a, b, w):
    return np.sum(np.einsum("ij,jk,ik->i", a, b, w) ** 2)


def f_inner(a, b, w):
    return np.einsum("ij,ji", a, b) * np.sum(w)  # implicit output: a scalar


def f_summed_out(a, b, w):
    return np.sum(np.einsum("ij->j", a) * b[:, 0]) + np.sum(np.einsum("ji", a) * b)


def f_batched(a, b, w):
    return np.sum(np.einsum("bij,bj->bi", np.stack([a, 2.0 * a]), b.T[:2]) * w[0])


def f_ellipsis(a, b, w):
    """`...` for the stack's axes, on one operand of two: the adjoint of the other
    sums over them."""
    stack = np.stack([a, 2.0 * a, a * a])
    return np.sum(np.einsum("...ij,jk->...ik", stack, b) ** 2) + np.sum(
        np.einsum("...i,...i", stack, a) * w[0, 0]
    )


def f_ellipsis_summed(a, b, w):
    return np.sum(np.einsum("...j,j->...", a, b[:, 0])) + np.sum(
        np.einsum("...,...", a, a)
    )


@pytest.mark.parametrize(
    "f",
    [
        f_matmul,
        f_three,
        f_inner,
        f_summed_out,
        f_batched,
        f_ellipsis,
        f_ellipsis_summed,
    ],
)
def test_einsum(gen, rng, f):
    a, b, w = rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    check(gen, f, (a, b, w), (0, 1, 2))
    _float32_case(gen, f, (a, b, w), (0, 1, 2))
    g = grad(f, argnums=(0, 1, 2), out=gen, example_args=(a, b, w))(a, b, w)
    for got, want in zip(g, grad(f, argnums=(0, 1, 2), out=gen)(a, b, w)):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_einsum_adjoint_reads_as_the_matmul_one(gen, rng):
    """The adjoint of `a` in "ij,jk->ik" is g bᵀ, written as one einsum."""
    import inspect

    a, b, w = rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    g = grad(f_matmul, argnums=(0, 1), out=gen)
    source = inspect.getsource(g)
    assert 'np.einsum("ik,jk->ij", ' in source and 'np.einsum("ik,ij->jk", ' in source
    d_a, d_b = g(a, b, w)
    np.testing.assert_allclose(d_a, w @ b.T)
    np.testing.assert_allclose(d_b, a.T @ w)


def test_jvp_of_einsum(gen, rng, out_dir):
    args = [rng.normal(size=s) for s in ((2, 3), (3, 2), (2, 2))]
    tangents = [rng.normal(size=a.shape) for a in args]
    _, t = jvp(f_three, args, tangents)
    g = grad(f_three, argnums=(0, 1, 2), out=gen)(*args)
    assert np.isclose(t, sum(np.sum(d * v) for d, v in zip(g, tangents)), rtol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        ('np.einsum("...j...,j->...", a, b)', "are not letters"),
        ('np.einsum("ii->i", a)', "repeat a letter"),
        ('np.einsum("ij,jk->ik", a)', "name 2 operands, the call passes 1"),
        ('np.einsum("ij->q", a)', "names a letter no operand has"),
        ("np.einsum(s, a)", "as a string constant"),
        ('np.einsum("ij->i", a, optimize=True)', "takes no keyword arguments"),
    ],
)
def test_einsum_beyond_the_rules_is_refused(tmp_path, call, message):
    from adcompiler import ADCompileError

    path = tmp_path / "refused.py"
    path.write_text(
        f"import numpy as np\n\n\ndef f(a, b, s):\n    return np.sum({call})\n"
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location("refused", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ADCompileError, match=message) as info:
        grad(module.f, out=tmp_path / "g")
    assert "refused.py:5:" in str(info.value)
