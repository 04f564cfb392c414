"""np.inner, np.cross, np.linalg.matrix_power, np.linalg.svd (singular values
alone and the reduced triple), np.linalg.qr and np.linalg.pinv
(rules/linalg.py, frontend/numpy_calls.py): against central finite differences in
float64, hand formulas, float32, example arguments, forward mode and second
derivatives.

U and Vh of the SVD are defined up to the sign of each pair of singular
vectors: the functions of them tested here do not depend on it (squares and
even powers of columns, products of a column with its own entries), so that
finite differences, which may meet a flipped sign, still apply."""

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


def well(rng, *shape):
    """A matrix (or a stack) with singular values well apart and away from 0:
    2.4, 1.7, 1.0, ... times random orthogonal factors."""
    *stack, m, n = shape
    k = min(m, n)
    U = np.linalg.qr(rng.normal(size=(*stack, m, k)))[0]
    V = np.linalg.qr(rng.normal(size=(*stack, n, k)))[0]
    s = 1.0 + 0.7 * np.arange(k)[::-1]
    return (U * s) @ np.swapaxes(V, -1, -2)


def check(gen, f, args, argnums=(0,), rtol=1e-6):
    """grad(f) against central differences; float32 stays float32; the gradient
    compiled for example arguments is the generic one."""
    got = grad(f, argnums=argnums, out=gen)(*args)
    for i, g in zip(argnums, got):
        assert g.shape == np.shape(args[i]) and g.dtype == np.float64
        want = numeric_grad(f, list(args), i)
        np.testing.assert_allclose(g, want, rtol=rtol, atol=1e-8)
    _float32_case(gen, f, args, argnums)
    specialized = grad(f, argnums=argnums, out=gen, example_args=tuple(args))(*args)
    for g, s in zip(got, specialized):
        np.testing.assert_allclose(s, g, rtol=1e-12, atol=1e-13)
    return got


def check_forward(gen, f, args, rng, argnums=(0,), rtol=1e-6):
    """jvp against central differences of f, and the Hessian along the same
    direction (hvp, forward over reverse) against central differences of the
    gradient."""
    directions = [
        rng.normal(size=np.shape(a)) if i in argnums else None
        for i, a in enumerate(args)
    ]

    def moved(h):
        return [a if v is None else a + h * v for a, v in zip(args, directions)]

    _, t = jvp(f, tuple(args), tuple(directions))
    h = 1e-6
    fd = (f(*moved(h)) - f(*moved(-h))) / (2 * h)
    np.testing.assert_allclose(t, fd, rtol=rtol, atol=1e-8)
    g = grad(f, argnums=argnums, out=gen)
    h = 1e-5
    got = hvp(f, tuple(args), tuple(directions))
    got = got if isinstance(got, tuple) else (got,)
    for k, (hi, lo) in enumerate(zip(g(*moved(h)), g(*moved(-h)))):
        np.testing.assert_allclose(got[k], (hi - lo) / (2 * h), rtol=1e-5, atol=1e-7)


def source_lines(g):
    return [line.split("  # ")[0].strip() for line in inspect.getsource(g).splitlines()]


# -- np.inner ---------------------------------------------------------------------------


def inner_squares(a, b):
    return np.sum(np.inner(a, b) ** 2)


INNER_SHAPES = [((3,), (3,)), ((2, 3), (4, 3)), ((2, 3), (3,)), ((3,), (4, 3))]


@pytest.mark.parametrize("sa, sb", INNER_SHAPES + [((2, 2, 3), (4, 3))], ids=str)
def test_inner(gen, rng, sa, sb):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    check(gen, inner_squares, (a, b), (0, 1))


def test_inner_hand_formulas(gen, rng):
    """inner(A, B) = A Bᵀ: the gradient of sum(W ∘ A Bᵀ) is W B for A and Wᵀ A for
    B; of two vectors, each the other."""

    def weighted(A, B, W):
        return np.sum(np.inner(A, B) * W)

    A, B, W = rng.normal(size=(2, 3)), rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
    dA, dB = grad(weighted, argnums=(0, 1), out=gen)(A, B, W)
    np.testing.assert_allclose(dA, W @ B, rtol=1e-12)
    np.testing.assert_allclose(dB, W.T @ A, rtol=1e-12)
    a, b = rng.normal(size=3), rng.normal(size=3)
    da, db = grad(weighted, argnums=(0, 1), out=gen)(a, b, 1.0)
    np.testing.assert_allclose(da, b, rtol=1e-12)
    np.testing.assert_allclose(db, a, rtol=1e-12)


@pytest.mark.parametrize(
    "sa, sb", [((), (3,)), ((2, 3), ()), ((), ()), ((), (2, 2, 3))], ids=str
)
def test_inner_of_a_scalar(gen, rng, monkeypatch, sa, sb):
    """np.inner of a scalar multiplies: compiled for example arguments, the
    rules do; the generic gradient, which cannot tell a scalar from an array,
    calls `_inner_lhs`/`_inner_rhs`, which can (not a 3 × 3 outer product as
    the scalar's gradient). Second derivatives read the helpers back."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # what the passes write
    a, b = (rng.normal(size=s) if s else float(rng.normal()) for s in (sa, sb))
    generic = grad(inner_squares, argnums=(0, 1), out=gen)
    assert "_inner_lhs(" in inspect.getsource(generic)
    for g in (generic, grad(inner_squares, argnums=(0, 1), example_args=(a, b))):
        got = g(a, b)
        for i in (0, 1):
            want = numeric_grad(inner_squares, [a, b], i)
            assert np.shape(got[i]) == np.shape(want)
            np.testing.assert_allclose(got[i], want, rtol=1e-6)
    check_forward(gen, inner_squares, (a, b), rng, (0, 1))


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 2, 3), (4, 3))], ids=str)
def test_inner_forward_and_hessian(gen, rng, sa, sb):
    """A stack goes through the generic tensordot adjoints, forward mode too."""
    args = (rng.normal(size=sa), rng.normal(size=sb))
    check_forward(gen, inner_squares, args, rng, (0, 1))


# -- np.cross -------------------------------------------------------------------------------


def cross_squares(a, b):
    return np.sum(np.sin(np.cross(a, b)) ** 2)


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((4, 3), (3,))], ids=str)
def test_cross(gen, rng, sa, sb):
    """A stack of vectors against one: b's gradient is summed over the stack."""
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    check(gen, cross_squares, (a, b), (0, 1))
    check_forward(gen, cross_squares, (a, b), rng, (0, 1))


def test_cross_triple_product(gen, rng):
    """c · (a × b) = a · (b × c) = b · (c × a): the gradients are those cross
    products."""

    def triple(a, b, c):
        return np.dot(c, np.cross(a, b))

    a, b, c = (rng.normal(size=3) for _ in range(3))
    da, db, dc = grad(triple, argnums=(0, 1, 2), out=gen)(a, b, c)
    np.testing.assert_allclose(da, np.cross(b, c), rtol=1e-12)
    np.testing.assert_allclose(db, np.cross(c, a), rtol=1e-12)
    np.testing.assert_allclose(dc, np.cross(a, b), rtol=1e-12)


# -- np.linalg.matrix_power ------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 3, 5])
def test_matrix_power(gen, rng, build, n):
    f = build(f"""
        def f(A):
            return np.sum(np.sin(np.linalg.matrix_power(A, {n})))
        """)
    A = rng.normal(size=(3, 3)) / 2
    value, _ = jvp(f, (A,), (A,))  # the products, as NumPy computes them
    assert value == np.sum(np.sin(np.linalg.matrix_power(A, n)))
    check(gen, f, (A,))
    if n == 3:
        check_forward(gen, f, (A,), rng)


def test_matrix_power_hand_formula(gen, rng, monkeypatch):
    """d sum(W ∘ A²) = W Aᵀ + Aᵀ W; the products NumPy computes, no helper."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # what the passes write

    def square(A, W):
        return np.sum(np.linalg.matrix_power(A, 2) * W)

    A, W = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(
        grad(square, out=gen)(A, W), W @ A.T + A.T @ W, rtol=1e-12
    )
    g = grad(square, out=gen, example_args=(A, W))
    assert "_matmul" not in inspect.getsource(g)


def test_matrix_power_refuses_negative_and_unknown_powers(gen):
    def negative(A):
        return np.sum(np.linalg.matrix_power(A, -2))

    def unknown(A, n):
        return np.sum(np.linalg.matrix_power(A, n))

    with pytest.raises(ADCompileError, match="0 or more"):
        grad(negative, out=gen)
    with pytest.raises(ADCompileError, match="constant integer"):
        grad(unknown, out=gen)


# -- np.linalg.svd(A, compute_uv=False) ----------------------------------------------------


def svdvals_cubes(A):
    return np.sum(np.linalg.svd(A, compute_uv=False) ** 3)


def nuclear(A):
    return np.sum(np.linalg.svd(A, compute_uv=False))


@pytest.mark.parametrize("shape", [(3, 2), (2, 3), (2, 3, 2)], ids=str)
def test_singular_values(gen, rng, shape):
    A = well(rng, *shape)
    check(gen, svdvals_cubes, (A,))
    if shape == (3, 2):
        check_forward(gen, svdvals_cubes, (A,), rng)


def test_nuclear_norm_gradient_is_u_vt(gen, rng):
    """d sum(s) / dA = U Vᵀ (of the reduced SVD), for each matrix of a stack."""
    for A in (well(rng, 3, 2), well(rng, 2, 3), well(rng, 2, 3, 2)):
        U, _, Vh = np.linalg.svd(A, full_matrices=False)
        np.testing.assert_allclose(grad(nuclear, out=gen)(A), U @ Vh, atol=1e-12)


def test_singular_values_take_one_svd(gen, rng):
    """The gradient needs U and Vh: one SVD computes them and the values."""
    A = well(rng, 3, 2)
    for g in (grad(nuclear, out=gen), grad(nuclear, out=gen, example_args=(A,))):
        assert inspect.getsource(g).count("np.linalg.svd(") == 1


# -- the triple U, S, Vh --------------------------------------------------------------------


def svd_unpacked(A):
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    B = np.arange(U.shape[-2] * U.shape[-1]).reshape(U.shape[-2:]) / 7.0
    C = np.cos(np.arange(Vh.shape[-2] * Vh.shape[-1])).reshape(Vh.shape[-2:])
    # each column of U times its own first entry, each row of Vh its own first
    return (
        np.sum(U * U[..., :1, :] * B)
        + np.sum(s**2 * np.arange(s.shape[-1]))
        + np.sum(Vh * Vh[..., :1] * C)
    )


def svd_indexed(A):
    r = np.linalg.svd(A, full_matrices=False)
    return np.sum(r[0][..., 0] ** 4) + np.sum(np.sin(r[1])) + np.sum(r[-1] ** 4)


def svd_fields(A):
    result = np.linalg.svd(A, full_matrices=False)
    return np.sum(result.U**4) + np.sum(result.S**3) + np.sum(result.Vh[..., 0, :] ** 2)


@pytest.mark.parametrize(
    "f, shape",
    [
        (svd_unpacked, (4, 3)),
        (svd_unpacked, (3, 4)),
        (svd_unpacked, (3, 3)),
        (svd_indexed, (3, 4)),
        (svd_fields, (4, 3)),
    ],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_svd(gen, rng, f, shape):
    check(gen, f, (well(rng, *shape),))


def test_svd_stack_and_forward(gen, rng):
    check(gen, svd_unpacked, (well(rng, 2, 4, 3),))
    check_forward(gen, svd_indexed, (well(rng, 3, 4),), rng)


def test_svd_jvp_of_each_entry(rng):
    """U̇, ṡ and V̇h against finite differences, the signs of the pairs of
    singular vectors fixed by U's first row."""

    def entries(A):
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
        sign = np.sign(U[0])
        return np.concatenate([np.ravel(U * sign), s, np.ravel(Vh * sign[:, None])])

    for shape in ((4, 3), (3, 4)):
        A, E = well(rng, *shape), rng.normal(size=shape)
        _, t = jvp(entries, (A,), (E,))
        h = 1e-6
        fd = (entries(A + h * E) - entries(A - h * E)) / (2 * h)
        np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)


def test_grad_of_grad_through_svd(gen, rng):
    """Reverse over reverse: the gradient, read back, differentiated again."""

    def f(x, A):
        U, s, Vh = np.linalg.svd(A + x * np.eye(4, 3), full_matrices=False)
        return np.sum(U[:, 0] ** 4) + np.sum(np.linalg.svd(A * x, compute_uv=False))

    A = well(rng, 4, 3)
    g = grad(f, out=gen)
    gg = grad(g, out=gen)
    x, h = 0.3, 1e-5
    np.testing.assert_allclose(
        gg(x, A), (g(x + h, A) - g(x - h, A)) / (2 * h), rtol=1e-6
    )


def test_svd_names_and_square_factors(gen, rng, monkeypatch):
    """`U, s, Vh = ...` keeps the names, and their adjoints are `d_U`, `d_s`,
    `d_Vh`; compiled for a tall matrix, Vh is square and the part of V̄h outside
    its rows (zero) is not computed."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # what the passes write
    A = well(rng, 4, 3)
    lines = source_lines(grad(svd_unpacked, out=gen, example_args=(A,)))
    for name in ("U", "s", "Vh", "d_U", "d_s", "d_Vh"):
        assert any(line.startswith(f"{name} = ") for line in lines), name
    assert not any("d_Vh - " in line for line in lines)
    assert any("d_U - " in line for line in lines)


def test_svd_repeated_and_zero_singular_values(gen):
    """The singular values' gradient stays finite where two are equal or one is
    0; U's and Vh's do not: they have no derivative there (as in JAX)."""

    def vectors(A):
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
        return np.sum(U**4)

    for A in (np.diag([2.0, 2.0, 1.0]), np.diag([2.0, 1.0, 0.0])):
        np.testing.assert_allclose(grad(svdvals_cubes, out=gen)(A), 3 * A**2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert not np.all(np.isfinite(grad(vectors, out=gen)(A)))


def test_svd_options_refused(gen):
    def full(A):
        return np.sum(np.linalg.svd(A)[1])

    def hermitian(A):
        return np.sum(np.linalg.svd(A, compute_uv=False, hermitian=True))

    with pytest.raises(ADCompileError, match="full_matrices"):
        grad(full, out=gen)
    with pytest.raises(ADCompileError, match="hermitian"):
        grad(hermitian, out=gen)


# -- np.linalg.qr ------------------------------------------------------------------------------


def qr_unpacked(A):
    Q, R = np.linalg.qr(A)
    return np.sum(np.sin(Q)) + np.sum(R**2 * np.arange(R.shape[-1]))


def qr_fields(A):
    result = np.linalg.qr(A)
    return np.sum(result.Q[..., 0] ** 3) + np.sum(np.exp(result[-1] / 4.0))


@pytest.mark.parametrize("f", [qr_unpacked, qr_fields])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 4, 3)], ids=str)
def test_qr(gen, rng, f, shape):
    A = well(rng, *shape)
    check(gen, f, (A,))
    if shape == (4, 3) and f is qr_fields:
        check_forward(gen, f, (A,), rng)


def test_qr_jvp_of_the_factors(rng):
    def factors(A):
        Q, R = np.linalg.qr(A)
        return np.concatenate([np.ravel(Q), np.ravel(R)])

    A, E = well(rng, 4, 3), rng.normal(size=(4, 3))
    _, t = jvp(factors, (A,), (E,))
    h = 1e-6
    fd = (factors(A + h * E) - factors(A - h * E)) / (2 * h)
    np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)


def test_qr_of_the_r_factor_is_cholesky(gen, rng):
    """R of A is (up to signs) the Cholesky factor of AᵀA: sum(log |diag R|) is
    ½ log det(AᵀA), whose gradient is A (AᵀA)⁻¹."""

    def half_logdet(A):
        R = np.linalg.qr(A)[1]
        return np.sum(np.log(np.abs(np.diagonal(R))))

    A = well(rng, 5, 3)
    want = A @ np.linalg.inv(A.T @ A)
    np.testing.assert_allclose(grad(half_logdet, out=gen)(A), want, rtol=1e-10)


def test_qr_mode_refused(gen):
    def complete(A):
        return np.sum(np.linalg.qr(A, mode="complete")[0])

    with pytest.raises(ADCompileError, match="reduced"):
        grad(complete, out=gen)


# -- np.linalg.pinv ---------------------------------------------------------------------------


def pinv_sines(A):
    return np.sum(np.sin(np.linalg.pinv(A)))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4)], ids=str)
def test_pinv(gen, rng, shape):
    A = well(rng, *shape)
    check(gen, pinv_sines, (A,))
    if shape == (3, 4):
        check_forward(gen, pinv_sines, (A,), rng)


def test_pinv_of_a_square_matrix_is_the_inverse(gen, rng):
    """For an invertible A, pinv is inv: the same gradient, -A⁻ᵀ W A⁻ᵀ."""

    def by_pinv(A, W):
        return np.sum(np.linalg.pinv(A) * W)

    A, W = well(rng, 3, 3), rng.normal(size=(3, 3))
    Y = np.linalg.inv(A)
    np.testing.assert_allclose(grad(by_pinv, out=gen)(A, W), -Y.T @ W @ Y.T, atol=1e-12)
    H = hessian(pinv_sines)(A)
    assert H.shape == (3, 3, 3, 3) and np.all(np.isfinite(H))
