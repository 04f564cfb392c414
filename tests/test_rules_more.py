"""np.trace, np.diag/np.diagonal, np.tile, np.repeat, np.sort and
np.linalg.slogdet: against central finite differences in float64, the
hand-derived formulas, float32, forward mode (jvp) and second derivatives."""

import inspect

import numpy as np
import pytest
from test_rules import _float32_case, check

from adcompiler import ADCompileError, grad, hessian, hvp, jvp


@pytest.fixture(autouse=True)
def _jvp_and_hessian_compile_elsewhere(out_dir):
    """`jvp`, `hessian` and `hvp` compile into each test's own folder."""


def weighted(build, expr: str):
    """`f(x, w) = np.sum(expr * w)`: the adjoint reaching `expr` is an arbitrary `w`."""
    return build(f"def f(x, w):\n    return np.sum({expr} * w)\n")


def check_expr(gen, build, rng, expr, shape):
    """`expr` of an `x` of `shape`, weighted: its gradient against finite
    differences, float32 kept float32, the gradient compiled for example
    arguments equal to the generic one, and its jvp against finite differences."""
    f = weighted(build, expr)
    x = rng.normal(size=shape)
    w = rng.normal(size=np.shape(eval(expr, {"np": np, "x": x})))
    (d_x,) = check(gen, f, (x, w), (0,))
    _float32_case(gen, f, (x, w), (0,))
    specialized = grad(f, out=gen, example_args=(x, w))(x, w)
    np.testing.assert_allclose(specialized, d_x, rtol=1e-14)
    jvp_matches_finite_differences(f, (x, w), (rng.normal(size=shape), None))
    return d_x


def jvp_matches_finite_differences(f, args, tangents, rtol=1e-7):
    _, t = jvp(f, args, tangents)
    h = 1e-6
    up = [a + h * v if v is not None else a for a, v in zip(args, tangents)]
    down = [a - h * v if v is not None else a for a, v in zip(args, tangents)]
    fd = (f(*up) - f(*down)) / (2 * h)
    np.testing.assert_allclose(t, fd, rtol=rtol, atol=1e-8)


def source_of(g) -> str:
    """The generated source without its source-map comments."""
    return "\n".join(
        line.split("  # ")[0] for line in inspect.getsource(g).splitlines()
    )


# -- np.trace ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.trace(x)", (3, 3)),
        ("np.trace(x)", (3, 5)),
        ("np.trace(x, 1)", (4, 3)),
        ("np.trace(x, offset=-2)", (3, 4)),
        ("x.trace()", (4, 4)),
        ("x.trace(1)", (3, 4)),
        ("x.trace(offset=-1, axis1=1, axis2=0)", (3, 4)),
        ("np.trace(x)", (3, 4, 2)),  # a stack along the last axis
        ("np.trace(x, axis1=-2, axis2=-1)", (2, 3, 3)),
        ("np.trace(x, 1, axis1=1, axis2=2)", (2, 3, 4)),
        ("np.trace(x, -1, 2, 0)", (3, 2, 4)),
        ("x.trace(0, -1, 1)", (2, 3, 4, 3)),
    ],
)
def test_trace(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_trace_gradient_is_the_identity(gen, rng):
    """d trace(A)/dA = I; d trace(A B)/dA = Bᵀ; d trace(A, k)/dA = np.eye(n, m, k)."""

    def trace(A):
        return np.trace(A)

    def trace_of_product(A, B):
        return np.trace(A @ B)

    def off_diagonal(A):
        return np.trace(A, 1)

    A, B = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    np.testing.assert_array_equal(grad(trace, out=gen)(A), np.eye(4))
    np.testing.assert_allclose(grad(trace_of_product, out=gen)(A, B), B.T)
    C = rng.normal(size=(3, 5))
    np.testing.assert_array_equal(grad(off_diagonal, out=gen)(C), np.eye(3, 5, k=1))


def test_trace_reads_as_numpy(gen, rng, monkeypatch):
    """Where example arguments show the matrix, the adjoint is `np.eye(3)`, the
    products `@`, and a product with the identity is the other operand."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)

    def f(A):
        return np.trace(A @ A)

    def g_times(A, B):
        return np.trace(A @ B) * 3.0 + np.trace(A, 1)

    A = rng.normal(size=(3, 3))
    g = grad(f, out=gen, example_args=(A,))
    text = source_of(g)
    # the identity times Aᵀ, from each side, is Aᵀ: as one writes it, 2 Aᵀ
    assert "d_A = 2.0 * A.T" in text and "eye" not in text and "_matmul" not in text
    np.testing.assert_allclose(g(A), 2.0 * A.T, rtol=1e-14)
    B = rng.normal(size=(3, 3))
    g = grad(g_times, out=gen, example_args=(A, B))
    text = source_of(g)
    assert "np.eye(3, k=1)" in text and "_matmul" not in text  # not an identity
    np.testing.assert_allclose(g(A, B), 3.0 * B.T + np.eye(3, k=1), rtol=1e-14)


def test_hessian_of_trace_of_square(gen, rng):
    """trace(A A) = Σ A_ab A_ba: d²/dA_ij dA_kl = 2 δ_jk δ_il."""

    def f(A):
        return np.trace(A @ A)

    A = rng.normal(size=(3, 3))
    want = 2.0 * np.einsum("jk,il->ijkl", np.eye(3), np.eye(3))
    np.testing.assert_allclose(hessian(f)(A), want, atol=1e-12)


def test_hvp_through_a_stack_of_traces(gen, rng):
    def f(A):
        return np.sum(np.trace(A, axis1=-2, axis2=-1) ** 2) + np.trace(A[0], 1) ** 3

    A, V = rng.normal(size=(2, 3, 3)), rng.normal(size=(2, 3, 3))
    g = grad(f, out=gen)
    h = 1e-6
    fd = (g(A + h * V) - g(A - h * V)) / (2 * h)
    np.testing.assert_allclose(hvp(f, (A,), (V,)), fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "body, message",
    [
        ("np.trace(x, dtype=None)", "does not take the argument `dtype`"),
        ("np.trace(x, axis1=k)", "`axis1` must be a constant"),
    ],
)
def test_trace_refuses(build, body, message):
    f = build(f"def f(x, k):\n    return {body}\n")
    with pytest.raises(ADCompileError, match=message):
        grad(f)


# -- np.diag, np.diagonal, np.diagflat -----------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.diag(x)", (4,)),  # a matrix made of a vector
        ("np.diag(x, 1)", (3,)),
        ("np.diag(x, k=-2)", (3,)),
        ("np.diag(x)", (3, 3)),  # a matrix's diagonal read
        ("np.diag(x, 1)", (3, 5)),
        ("np.diag(x, -1)", (5, 3)),
        ("np.diagonal(x)", (3, 4)),
        ("x.diagonal(1)", (4, 4)),
        ("np.diagonal(x, -1, 0, 2)", (3, 2, 4)),
        ("x.diagonal(axis1=-2, axis2=-1)", (2, 3, 3)),
        ("np.diagflat(x, 1)", (2, 2)),
    ],
)
def test_diag(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_diag_adjoints_are_each_other(gen, rng, monkeypatch):
    """d Σ diag(A)·w / dA is the matrix `np.diag(w)`; d Σ diag(v)·W / dv the
    diagonal of W. With example arguments, `np.diagflat(w)` and nothing else."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)

    def f(x, w):
        return np.sum(np.diag(x) * w)

    A, w = rng.normal(size=(3, 3)), rng.normal(size=3)
    np.testing.assert_array_equal(grad(f, out=gen)(A, w), np.diag(w))
    g = grad(f, out=gen, example_args=(A, w))
    assert "d_x = np.diagflat(w)\n" in source_of(g)
    np.testing.assert_array_equal(g(A, w), np.diag(w))
    v, W = rng.normal(size=3), rng.normal(size=(3, 3))
    np.testing.assert_array_equal(grad(f, out=gen)(v, W), np.diag(W))


def test_hessian_through_diagonals(gen, rng):
    """Σ diag(x xᵀ)² = Σ x⁴ has the Hessian diag(12 x²); Σ diag(A, 1)³ of a
    non-square A has 6 A_ij at (i, j, i, j) on that diagonal."""

    def quartic(x):
        return np.sum(np.diag(np.outer(x, x)) ** 2)

    def cubic(A):
        return np.sum(np.diag(A, 1) ** 3)

    x = rng.normal(size=4)
    np.testing.assert_allclose(hessian(quartic)(x), np.diag(12 * x**2), atol=1e-12)
    A = rng.normal(size=(3, 5))
    want = np.zeros((3, 5, 3, 5))
    for i in range(3):
        want[i, i + 1, i, i + 1] = 6 * A[i, i + 1]
    np.testing.assert_allclose(hessian(cubic)(A), want, atol=1e-12)


# -- np.tile and np.repeat ----------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.tile(x, 3)", (4,)),
        ("np.tile(x, (2, 1))", (2, 3)),
        ("np.tile(x, 2)", (2, 3)),  # reps shorter than x's rank: its last axes
        ("np.tile(x, (2, 1, 3))", (2, 3)),  # longer: axes added in front
        ("np.tile(x, (1, 1))", (3,)),
        ("np.repeat(x, 3)", (2, 3)),  # flattened
        ("np.repeat(x, 2, axis=0)", (2, 3)),
        ("x.repeat(2, axis=-1)", (2, 3)),
        ("np.repeat(x, [2, 1], axis=0)", (2, 3)),
        ("np.repeat(x, [1, 0, 2], axis=1)", (2, 3)),  # an entry repeated no times
        ("np.repeat(x, (0, 2, 1, 0, 1, 1))", (2, 3)),
        ("np.repeat(x, [3], axis=-2)", (2, 2)),
        ("np.repeat(x, 0)", (3,)),
    ],
)
def test_tile_and_repeat(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_tile_and_repeat_sum_their_copies(gen, rng, monkeypatch):
    """The adjoint of a tiling sums the tiles; of a repeat, each run of copies:
    with example arguments, one reshape and one sum each."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)

    def f(x, w, v):
        return np.sum(np.tile(x, (2, 1)) * w) + np.sum(np.repeat(x, 3, axis=1) * v)

    x = rng.normal(size=(2, 3))
    w, v = rng.normal(size=(4, 3)), rng.normal(size=(2, 9))
    g = grad(f, out=gen, example_args=(x, w, v))
    text = source_of(g)
    assert "w.reshape(2, 2, 3).sum(" in text
    assert "v.reshape(2, -1, 3).sum(axis=2)" in text
    want = w[:2] + w[2:] + v.reshape(2, 3, 3).sum(axis=2)
    np.testing.assert_allclose(g(x, w, v), want, rtol=1e-14)
    np.testing.assert_allclose(grad(f, out=gen)(x, w, v), want, rtol=1e-14)


def test_hvp_through_tile_and_repeat(gen, rng):
    """Second derivatives read back `_untile` and `np.add.reduceat`."""

    def f(x):
        return np.sum(np.tile(x, 2) ** 3) + np.sum(np.repeat(x, [1, 2], axis=0) ** 3)

    x, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    # d²/dx² of 2 Σ x³ + Σ (1 or 2) x³ (the rows repeated once and twice)
    want = 6 * x * v * (2 + np.array([[1.0], [2.0]]))
    np.testing.assert_allclose(hvp(f, (x,), (v,)), want, rtol=1e-12)


@pytest.mark.parametrize(
    "body, message",
    [
        ("np.tile(x, k)", "`reps` of `np.tile` must be a constant"),
        ("np.repeat(x, [k, 2])", "`repeats` of `np.repeat` must be a constant"),
        ("x.repeat(k)", "`repeats` of `x.repeat` must be a constant"),
    ],
)
def test_tile_and_repeat_refuse(build, body, message):
    f = build(f"def f(x, k):\n    return np.sum({body})\n")
    with pytest.raises(ADCompileError, match=message):
        grad(f)


# -- np.sort --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.sort(x)", (5,)),
        ("np.sort(x)", (2, 4)),
        ("np.sort(x, axis=0)", (3, 2)),
        ("np.sort(x, 1, kind='stable')", (2, 3, 2)),
        ("np.sort(x, axis=None)", (2, 3)),
        ("-np.sort(-x)", (4,)),  # descending
    ],
)
def test_sort(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_sort_sends_each_adjoint_where_its_entry_came_from(gen, build, rng):
    """Entry i of the sorted vector is x[order[i]]: d_x[order] = w. Ties go in
    order of position, as the stable sort puts them."""
    f = weighted(build, "np.sort(x)")
    x, w = rng.normal(size=6), rng.normal(size=6)
    want = np.zeros(6)
    want[np.argsort(x)] = w
    np.testing.assert_array_equal(grad(f, out=gen)(x, w), want)
    ties = np.array([1.0, 0.0, 1.0, 0.0])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(grad(f, out=gen)(ties, w), [3.0, 1.0, 4.0, 2.0])


def test_sort_reads_as_numpy(gen, rng, monkeypatch):
    """A vector's adjoint is scattered through the permutation; a matrix's
    gathered through its inverse, along the axis."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)

    def f(x, w):
        return np.sum(np.sort(x) * w)

    x, w = rng.normal(size=5), rng.normal(size=5)
    text = source_of(grad(f, out=gen, example_args=(x, w)))
    assert (
        'd_x = np.zeros(x.shape, x.dtype)\n    d_x[np.argsort(x, kind="stable")] = w\n'
        in text
    )

    def g(A):
        return np.trace(A @ A) + np.sum(np.sort(A, axis=0)[0] ** 2)

    A = rng.normal(size=(3, 3))
    compiled = grad(g, out=gen, example_args=(A,))
    text = source_of(compiled)
    assert 'np.argsort(A, axis=0, kind="stable"), axis=0' in text
    assert "np.take_along_axis(" in text
    assert "2.0 * A.T" in text and "_matmul" not in text
    want = 2.0 * A.T
    first = np.argsort(A, axis=0, kind="stable")[0]
    want[first, np.arange(3)] += 2.0 * A[first, np.arange(3)]
    np.testing.assert_allclose(compiled(A), want, rtol=1e-14)


def test_hessian_through_sort(gen, rng):
    """Σ of the cubes of all but the smallest: the Hessian is diag(6 x) but for
    the smallest entry. Then an hvp through a sort along an axis."""

    def f(x):
        return np.sum(np.sort(x)[1:] ** 3)

    x = rng.normal(size=5)
    want = np.diag(6 * x * (x > x.min()))
    np.testing.assert_allclose(hessian(f)(x), want, atol=1e-12)

    def g(A):
        return np.trace(A @ A) + np.sum(np.sort(A, axis=0)[0] ** 2 * A[1])

    A, V = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    d = grad(g, out=gen)
    h = 1e-6
    fd = (d(A + h * V) - d(A - h * V)) / (2 * h)
    np.testing.assert_allclose(hvp(g, (A,), (V,)), fd, rtol=1e-6, atol=1e-7)


# -- np.linalg.slogdet ----------------------------------------------------------------------


def well_conditioned(rng, *shape):
    """Matrices (or a stack of them) safely away from singular; the first has a
    negative determinant."""
    A = rng.normal(size=shape) + 3.0 * np.eye(shape[-1])
    A[..., 0, :] *= -1.0
    return A


def logdet_unpacked(A):
    sign, logdet = np.linalg.slogdet(A)
    return np.sum(logdet * sign)


def logdet_indexed(A):
    return np.sum(np.linalg.slogdet(A)[1] ** 2) + np.sum(np.linalg.slogdet(A)[-2])


def logdet_field(A):
    result = np.linalg.slogdet(A)
    return np.sum(result.logabsdet) * np.sum(result.sign)


@pytest.mark.parametrize("f", [logdet_unpacked, logdet_indexed, logdet_field])
@pytest.mark.parametrize("stack", [(), (2,)], ids=["matrix", "stack"])
def test_slogdet(gen, rng, f, stack):
    A = well_conditioned(rng, *stack, 3, 3)
    check(gen, f, (A,), (0,))
    _float32_case(gen, f, (A,), (0,))
    g = grad(f, out=gen, example_args=(A,))(A)
    np.testing.assert_allclose(g, grad(f, out=gen)(A), rtol=1e-14)
    jvp_matches_finite_differences(f, (A,), (rng.normal(size=A.shape),))


def test_slogdet_gradient_is_the_inverse_transposed(gen, rng, monkeypatch):
    """d log|det A| / dA = A⁻ᵀ, for each matrix of a stack; the sign has none.
    With example arguments of a matrix, that is the whole gradient's code."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)

    def f(A):
        return np.sum(np.linalg.slogdet(A)[1])

    A = well_conditioned(rng, 2, 3, 3)
    want = np.swapaxes(np.linalg.inv(A), -1, -2)
    np.testing.assert_allclose(grad(f, out=gen)(A), want, rtol=1e-12)
    B = A[0]
    g = grad(f, out=gen, example_args=(B,))
    assert "d_A = np.linalg.inv(A).T\n" in source_of(g)
    np.testing.assert_allclose(g(B), want[0], rtol=1e-12)


def test_hessian_of_logabsdet(gen, rng):
    """d² log|det A| / dA_ij dA_kl = -(A⁻¹)_li (A⁻¹)_jk, whatever the sign."""

    def f(A):
        sign, logdet = np.linalg.slogdet(A)
        return logdet

    A = well_conditioned(rng, 3, 3)
    Y = np.linalg.inv(A)
    want = -np.einsum("li,jk->ijkl", Y, Y)
    np.testing.assert_allclose(hessian(f)(A), want, atol=1e-12)
