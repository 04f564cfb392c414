"""np.linalg.cholesky, np.linalg.eigh and np.linalg.eigvalsh (rules/linalg.py):
against central finite differences in float64, the hand-derived formulas,
float32, example arguments, forward mode and second derivatives.

NumPy reads one triangle of A; the derivatives are those of a function of a
symmetric A, as JAX's: a perturbation E counts as ½(E + Eᵀ) and the gradient
is symmetric. Finite differences therefore take `f(½(X + Xᵀ))`, whose
gradient is exactly that symmetric one, and tangents are symmetric."""

import inspect
import warnings

import numpy as np
import pytest
from conftest import numeric_grad
from test_rules import _float32_case

from adcompiler import ADCompileError, grad, hessian, hvp, jvp


@pytest.fixture(autouse=True)
def _jvp_and_hessian_compile_elsewhere(out_dir):
    """`jvp`, `hessian` and `hvp` compile into each test's own folder."""


def spd(rng, *shape):
    """Symmetric positive definite matrices (or a stack of them), well conditioned
    and with eigenvalues well apart."""
    n = shape[-1]
    B = rng.normal(size=shape)
    return B @ np.swapaxes(B, -1, -2) + n * np.eye(n)


def sym(X):
    return 0.5 * (X + np.swapaxes(X, -1, -2))


def symmetric_grad(f, A):
    """Finite differences of f over symmetric perturbations: the gradient of
    X ↦ f(½(X + Xᵀ)) at A, which is symmetric."""
    return numeric_grad(lambda X: f(sym(X)), [A], 0)


def check_symmetric(gen, f, A, rtol=1e-6):
    """grad(f) against symmetric finite differences (to their rounding error,
    about 1e-10 |f|); float32 stays float32; the gradient compiled for example
    arguments is the generic one."""
    got = grad(f, out=gen)(A)
    assert got.shape == A.shape and got.dtype == np.float64
    atol = 1e-8 + 1e-9 * abs(f(A))
    np.testing.assert_allclose(got, symmetric_grad(f, A), rtol=rtol, atol=atol)
    np.testing.assert_allclose(got, np.swapaxes(got, -1, -2), rtol=1e-12)
    _float32_case(gen, f, (A,), (0,))
    specialized = grad(f, out=gen, example_args=(A,))(A)
    np.testing.assert_allclose(specialized, got, rtol=1e-12, atol=1e-14)
    return got


def jvp_symmetric(f, A, E, rtol=1e-6):
    """jvp along E + Eᵀ against central differences."""
    V = E + np.swapaxes(E, -1, -2)
    _, t = jvp(f, (A,), (V,))
    h = 1e-6
    fd = (f(A + h * V) - f(A - h * V)) / (2 * h)
    np.testing.assert_allclose(t, fd, rtol=rtol, atol=1e-8)


def hvp_symmetric(f, gen, A, E, rtol=1e-5):
    """The Hessian along E + Eᵀ against central differences of the gradient."""
    V = E + np.swapaxes(E, -1, -2)
    g = grad(f, out=gen)
    h = 1e-5
    fd = (g(A + h * V) - g(A - h * V)) / (2 * h)
    np.testing.assert_allclose(hvp(f, (A,), (V,)), fd, rtol=rtol, atol=1e-7)


# -- np.linalg.cholesky ---------------------------------------------------------------


def chol_weighted(A):
    L = np.linalg.cholesky(A)
    return np.sum(L * np.arange(L.shape[-1] * L.shape[-1]).reshape(L.shape[-2:]))


def chol_squares(A):
    L = np.linalg.cholesky(A)
    return np.sum(np.sin(L) ** 2 * np.cos(np.arange(L.shape[-1]))) + np.sum(
        L[..., 1, 0]
    )


def logdet_by_cholesky(A):
    L = np.linalg.cholesky(A)
    return 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)))


@pytest.mark.parametrize("f", [chol_weighted, chol_squares, logdet_by_cholesky])
@pytest.mark.parametrize("stack", [(), (2,)], ids=["matrix", "stack"])
def test_cholesky(gen, rng, f, stack):
    A = spd(rng, *stack, 4, 4)
    check_symmetric(gen, f, A)
    jvp_symmetric(f, A, rng.normal(size=A.shape))


def test_cholesky_logdet_gradient_is_the_inverse(gen, rng):
    """d 2·sum(log(diag(L))) / dA = d log det A / dA = A⁻¹ (symmetric)."""
    for A in (spd(rng, 5, 5), spd(rng, 3, 4, 4)):
        np.testing.assert_allclose(
            grad(logdet_by_cholesky, out=gen)(A), np.linalg.inv(A), rtol=1e-10
        )


def test_cholesky_jvp_is_the_symmetric_part(rng):
    """A tangent that is not symmetric counts as its symmetric part."""
    A, E = spd(rng, 4, 4), rng.normal(size=(4, 4))
    _, t = jvp(chol_squares, (A,), (E,))
    _, want = jvp(chol_squares, (A,), (sym(E),))
    np.testing.assert_allclose(t, want, rtol=1e-12)


def test_cholesky_jvp_of_the_factor(rng):
    """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ): the factor's tangent itself, lower triangular."""

    def factor(A):
        return np.linalg.cholesky(A)

    A, E = spd(rng, 4, 4), rng.normal(size=(4, 4))
    V = E + E.T
    _, t = jvp(factor, (A,), (V,))
    h = 1e-6
    fd = (factor(A + h * V) - factor(A - h * V)) / (2 * h)
    np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)
    assert np.all(np.triu(t, 1) == 0.0)


@pytest.mark.parametrize("f", [chol_squares, logdet_by_cholesky])
def test_hessian_through_cholesky(gen, rng, f):
    A = spd(rng, 3, 3)
    hvp_symmetric(f, gen, A, rng.normal(size=(3, 3)))


def test_hessian_of_logdet_by_cholesky(rng):
    """The gradient of log det A is A⁻¹; its derivative along a symmetric V is
    -A⁻¹ V A⁻¹."""
    A = spd(rng, 3, 3)
    E = rng.normal(size=(3, 3))
    V = E + E.T
    Y = np.linalg.inv(A)
    H = hessian(logdet_by_cholesky)(A)
    np.testing.assert_allclose(np.tensordot(H, V, 2), -Y @ V @ Y, atol=1e-10)


# -- np.linalg.eigh ---------------------------------------------------------------------


def eigh_unpacked(A):
    w, V = np.linalg.eigh(A)
    B = np.arange(V.shape[-1] * V.shape[-1]).reshape(V.shape[-2:]) / 7.0
    # squares and quadratic forms of columns: the sign of each column drops out
    return np.sum(w**2) + np.sum(V**2 * B) + np.sum(V[..., 0] * (V @ B)[..., 0])


def eigh_indexed(A):
    return np.sum(np.linalg.eigh(A)[0] * np.linalg.eigh(A)[-1][..., 1] ** 2)


def eigh_fields(A):
    result = np.linalg.eigh(A)
    return np.sum(np.sin(result.eigenvalues)) + np.sum(result.eigenvectors**4)


@pytest.mark.parametrize("f", [eigh_unpacked, eigh_indexed, eigh_fields])
@pytest.mark.parametrize("stack", [(), (2,)], ids=["matrix", "stack"])
def test_eigh(gen, rng, f, stack):
    A = spd(rng, *stack, 4, 4)
    check_symmetric(gen, f, A)
    jvp_symmetric(f, A, rng.normal(size=A.shape))


def test_eigh_eigenvalue_gradient_is_the_projector(gen, rng):
    """d w_k / dA = v_k v_kᵀ, through eigh and through eigvalsh."""

    def by_eigh(A):
        return np.linalg.eigh(A).eigenvalues[1]

    def by_eigvalsh(A):
        return np.linalg.eigvalsh(A)[1]

    A = spd(rng, 4, 4)
    v = np.linalg.eigh(A)[1][:, 1]
    for f in (by_eigh, by_eigvalsh):
        np.testing.assert_allclose(grad(f, out=gen)(A), np.outer(v, v), atol=1e-12)


def test_eigh_jvp_of_the_pair(rng):
    """The tangents of both entries: ẇ = diag(Vᵀ Ȧ V), and V̇ against finite
    differences (the columns' signs fixed by the first row)."""

    def values(A):
        return np.linalg.eigh(A)[0]

    def vectors(A):
        V = np.linalg.eigh(A)[1]
        return V * np.sign(V[0])

    A, E = spd(rng, 4, 4), rng.normal(size=(4, 4))
    V = E + E.T
    h = 1e-6
    for f in (values, vectors):
        _, t = jvp(f, (A,), (V,))
        fd = (f(A + h * V) - f(A - h * V)) / (2 * h)
        np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)


def test_eigh_jvp_is_the_symmetric_part(rng):
    A, E = spd(rng, 4, 4), rng.normal(size=(4, 4))
    _, t = jvp(eigh_unpacked, (A,), (E,))
    _, want = jvp(eigh_unpacked, (A,), (sym(E),))
    np.testing.assert_allclose(t, want, rtol=1e-12)


def test_eigh_pair_unpacked_keeps_both_names(gen, rng):
    """`w, V = np.linalg.eigh(A)`: the generated code says `w` and `V` (and
    `sign`, `logdet` for slogdet's pair), and their adjoints `d_w` and `d_V`."""

    def f(A):
        w, V = np.linalg.eigh(A)
        sign, logdet = np.linalg.slogdet(A)
        return np.sum(w**2) + np.sum(V**2 * A) + sign * logdet**2

    text = inspect.getsource(grad(f, out=gen, example_args=(spd(rng, 3, 3),)))
    lines = [line.split("  # ")[0].strip() for line in text.splitlines()]
    for name in ("w", "V", "sign", "logdet"):
        assert any(line.startswith(f"{name} = ") for line in lines), name
    assert any(line.startswith("d_w = ") for line in lines)
    assert any(line.startswith("d_V = ") for line in lines)


def test_eigh_repeated_eigenvalue(gen):
    """At a repeated eigenvalue the eigenvalues' gradient is still finite (no gap
    is computed for it); the eigenvectors' is not: they have no derivative
    there, and the gaps are infinite, as in JAX."""

    def values(A):
        w, V = np.linalg.eigh(A)
        return np.sum(w**2)

    def vectors(A):
        w, V = np.linalg.eigh(A)
        return np.sum(V**2 * np.arange(9.0).reshape(3, 3))

    A = np.diag([1.0, 1.0, 2.0])
    np.testing.assert_allclose(grad(values, out=gen)(A), 2.0 * A, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert not np.all(np.isfinite(grad(vectors, out=gen)(A)))


@pytest.mark.parametrize("f", [eigh_unpacked, eigh_fields])
def test_hessian_through_eigh(gen, rng, f):
    A = spd(rng, 3, 3)
    hvp_symmetric(f, gen, A, rng.normal(size=(3, 3)))


# -- np.linalg.eigvalsh -------------------------------------------------------------------


def eigvalsh_cubes(A):
    return np.sum((np.linalg.eigvalsh(A) / 4.0) ** 3)


def eigvalsh_weighted(A):
    w = np.linalg.eigvalsh(A)
    return np.sum(np.exp(w / 10.0) * np.arange(1.0, w.shape[-1] + 1.0))


@pytest.mark.parametrize("f", [eigvalsh_cubes, eigvalsh_weighted])
@pytest.mark.parametrize("stack", [(), (2,)], ids=["matrix", "stack"])
def test_eigvalsh(gen, rng, f, stack):
    A = spd(rng, *stack, 4, 4)
    check_symmetric(gen, f, A)
    jvp_symmetric(f, A, rng.normal(size=A.shape))


def test_eigvalsh_sum_gradient_is_the_identity(gen, rng):
    """sum(eigvalsh(A)) = trace(A): its gradient is I, for each matrix of a stack."""

    def f(A):
        return np.sum(np.linalg.eigvalsh(A))

    A = spd(rng, 2, 4, 4)
    np.testing.assert_allclose(
        grad(f, out=gen)(A), np.broadcast_to(np.eye(4), A.shape), atol=1e-12
    )


def test_hessian_through_eigvalsh(gen, rng):
    A = spd(rng, 3, 3)
    hvp_symmetric(eigvalsh_cubes, gen, A, rng.normal(size=(3, 3)))
    # sum of squares of the eigenvalues is the Frobenius norm squared: H = 2 I
    # on symmetric directions
    E = rng.normal(size=(3, 3))
    V = E + E.T

    def squares(A):
        return np.sum(np.linalg.eigvalsh(A) ** 2)

    H = hessian(squares)(A)
    np.testing.assert_allclose(np.tensordot(H, V, 2), 2.0 * V, atol=1e-10)


def test_options_not_supported_are_refused(gen):
    def f(A):
        return np.sum(np.linalg.eigh(A, UPLO="U")[0])

    with pytest.raises(ADCompileError):
        grad(f, out=gen)


# -- reverse over reverse ----------------------------------------------------------------


def cholesky_shifted(x, A):
    return np.sum(np.linalg.cholesky(A + x * np.eye(3)) ** 3)


def eigh_shifted(x, A):
    w, V = np.linalg.eigh(A + x * np.diag(np.arange(3.0)))
    return np.sum(w**3) + np.sum(V**2 * np.arange(9.0).reshape(3, 3))


def eigvalsh_shifted(x, A):
    return np.sum(np.linalg.eigvalsh(A + x * np.diag(np.arange(3.0))) ** 3)


@pytest.mark.parametrize("f", [cholesky_shifted, eigh_shifted, eigvalsh_shifted])
def test_grad_of_grad(gen, rng, f):
    """Reverse over reverse: the gradient, read back, differentiated again."""
    A = spd(rng, 3, 3)
    g = grad(f, out=gen)
    gg = grad(g, out=gen)
    x, h = 0.3, 1e-5
    fd = (g(x + h, A) - g(x - h, A)) / (2 * h)
    np.testing.assert_allclose(gg(x, A), fd, rtol=1e-6)


def slogdet_read_twice(A):
    r = np.linalg.slogdet(A)
    sign, logdet = r
    return logdet + 2.0 * r[1] + r.logabsdet


def eigh_read_twice(A):
    r = np.linalg.eigh(A)
    w, V = r
    return np.sum(w**2) + np.sum(r[0] ** 3) + np.sum(r.eigenvectors[:, 0] ** 2 * w)


def test_a_pair_read_again_after_unpacking(out_dir):
    """An entry of a pair unpacked (`sign, logdet = r`) takes the name it is
    given; reading it again from the pair (`r[1]`, `r.logabsdet`) reads that
    name, not the temporary it replaced. d/dA of 4 log|det A| = 4 A⁻ᵀ."""
    A = np.array([[2.0, 0.5], [0.3, 1.5]])
    np.testing.assert_allclose(
        grad(slogdet_read_twice)(A), 4.0 * np.linalg.inv(A).T, rtol=1e-12
    )
    S = np.array([[2.0, 0.4, 0.1], [0.4, 1.0, -0.3], [0.1, -0.3, 3.0]])
    want = numeric_grad(lambda X: eigh_read_twice((X + X.T) / 2), [S], 0)
    np.testing.assert_allclose(grad(eigh_read_twice)(S), want, rtol=1e-6, atol=1e-8)
