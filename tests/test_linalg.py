"""np.linalg.inv, solve and det (rules/linalg.py), and np.moveaxis: against finite
differences, the hand-derived formulas, float32, stacks of matrices, forward mode."""

import numpy as np
import pytest
from test_rules import _float32_case, check

from adcompiler import grad, hessian, jvp


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


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


def test_compiled_for_a_matrix_reads_as_numpy(gen, rng):
    """Where the examples show a matrix, the transposes are `.T` and the products `@`."""
    import inspect

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
