"""np.pad, np.median/np.quantile/np.percentile, np.maximum.accumulate and
np.minimum.accumulate, np.nan_to_num: against central finite differences in
float64, the hand-derived formulas (ties and NaN included), float32, gradients
compiled for example arguments, forward mode (jvp) and second derivatives."""

import numpy as np
import pytest
from conftest import numeric_grad
from test_rules import _float32_case, check
from test_rules_more import (
    check_expr,
    jvp_matches_finite_differences,
    source_of,
    weighted,
)

from adcompiler import ADCompileError, grad, hessian


@pytest.fixture(autouse=True)
def _jvp_and_hessian_compile_elsewhere(out_dir):
    """`jvp` and `hessian` compile into each test's own folder."""


# -- np.pad ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.pad(x, 1)", (5,)),
        ("np.pad(x, 2)", (2, 3)),
        ("np.pad(x, (1, 2))", (3, 2)),
        ("np.pad(x, ((1, 2),))", (2, 3)),
        ("np.pad(x, ((0, 1), (2, 0)))", (2, 3)),
        ("np.pad(x, [[1, 1], [0, 0], [0, 2]], constant_values=1.5)", (2, 2, 2)),
        ("np.pad(x, ((0, 0), (1, 1)), 'constant')", (3, 2)),
        ("np.pad(np.sin(x), 1, mode='constant', constant_values=-1.0) ** 2", (4,)),
    ],
)
def test_pad(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_pad_adjoint_is_the_block_x_fills(gen, build, rng, monkeypatch):
    """d_x = w[1:, 2:-3]: a slice of the adjoint, written as one where x's rank is
    known (pairs per axis, or example arguments), `_unpad` otherwise."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    x = rng.normal(size=(2, 3))
    f = weighted(build, "np.pad(x, ((1, 0), (2, 3)))")
    w = rng.normal(size=(3, 8))
    compiled = grad(f, out=gen)
    np.testing.assert_array_equal(compiled(x, w), w[1:, 2:-3])
    text = source_of(compiled)
    assert "[1:, 2:-3])\n" in text and "_unpad" not in text

    f = weighted(build, "np.pad(x, 1, constant_values=7.0)")
    w = rng.normal(size=(4, 5))
    generic = grad(f, out=gen)
    assert "_unpad(" in source_of(generic)
    np.testing.assert_array_equal(generic(x, w), w[1:-1, 1:-1])
    specialized = grad(f, out=gen, example_args=(x, w))
    text = source_of(specialized)
    assert " = w[1:-1, 1:-1]\n" in text and "_unpad" not in text
    np.testing.assert_array_equal(specialized(x, w), w[1:-1, 1:-1])


@pytest.mark.parametrize(
    "body, message",
    [
        ("np.pad(x, 1, mode='reflect')", 'supported with `mode="constant"` only'),
        ("np.pad(x, 1, 'edge')", 'supported with `mode="constant"` only'),
        (
            "np.pad(x, 1, constant_values=k)",
            "`constant_values` of `np.pad` must be a constant",
        ),
        ("np.pad(x, k)", "`pad_width` of `np.pad` must be a constant"),
        ("np.pad(x, -1)", "`pad_width` of `np.pad` must be a constant"),
        ("np.quantile(x, [0.2, 0.5])", "`q` of `np.quantile` must be one constant"),
        ("np.percentile(x, k)", "`q` of `np.percentile` must be one constant"),
        ("np.median(x, axis=(0, 1))", "`axis` of `np.median` must be a constant int"),
        ("np.median(x, axis=k)", "`axis` of `np.median` must be a constant int"),
        ("np.maximum.accumulate(x, axis=None)", "`axis` of `np.maximum.accumulate`"),
        ("np.quantile(x, 0.5, method='lower')", "does not take the argument `method`"),
    ],
)
def test_options_the_rules_do_not_handle_are_refused(build, body, message):
    """An option outside what the rules handle is an error at the call, never a
    gradient of another function."""
    f = build(f"def f(x, k):\n    return np.sum({body})\n")
    with pytest.raises(ADCompileError, match=message) as info:
        grad(f)
    assert str(info.value).split(":")[1:3] == ["7", "19"]  # line:col of the call


# -- np.median, np.quantile, np.percentile ----------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.median(x)", (5,)),
        ("np.median(x)", (4,)),
        ("np.median(x)", (3, 4)),
        ("np.median(x, axis=0)", (4, 3)),
        ("np.median(x, 1, keepdims=True)", (3, 4)),
        ("np.median(x, axis=-1)", (2, 3, 4)),
        ("np.quantile(x, 0.3)", (7,)),
        ("np.quantile(x, 0.75, axis=1)", (3, 5)),
        ("np.quantile(x, 0.0, axis=0)", (3, 2)),
        ("np.quantile(x, 1, axis=None, keepdims=True)", (2, 3)),
        ("np.percentile(x, 40, axis=0, keepdims=True)", (6, 2)),
        ("np.percentile(x, 100)", (4,)),
        ("np.percentile(x ** 2, 62.5, 1)", (2, 5, 3)),
    ],
)
def test_median_and_quantiles(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_median_gradient_is_one_hot_at_the_middle(gen, build, rng):
    """Odd length: 1 at the middle entry; even: 1/2 at the two middle ones."""
    f = build("def f(x):\n    return np.median(x)\n")
    x = rng.normal(size=7)
    want = np.zeros(7)
    want[np.argsort(x)[3]] = 1.0
    np.testing.assert_array_equal(grad(f, out=gen)(x), want)
    x = rng.normal(size=6)
    want = np.zeros(6)
    want[np.argsort(x)[2:4]] = 0.5
    np.testing.assert_array_equal(grad(f, out=gen)(x), want)


def test_median_and_quantile_ties_follow_the_stable_sort(gen, build):
    """Ties go in order of position, as np.sort's adjoint sends them: the middle
    of [1, 0, 1, 1, 2] sorted stably is the second 1 (x[2])."""
    f = build("def f(x):\n    return np.median(x)\n")
    x = np.array([1.0, 0.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(grad(f, out=gen)(x), [0, 0, 1, 0, 0])
    # q (n - 1) = 0.3 · 5 = 1.5: half on the second smallest, half on the third
    f = build("def f(x):\n    return np.quantile(x, 0.3)\n")
    x = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 4.0])
    np.testing.assert_allclose(grad(f, out=gen)(x), [0, 0, 0.5, 0.5, 0, 0])
    f = build(
        "def f(x):\n    return np.sum(np.median(x, axis=0) * np.arange(1.0, 3.0))\n"
    )
    x = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(grad(f, out=gen)(x), [[0, 0], [1, 2], [0, 0]])


def test_median_reads_as_its_weights(gen, build, rng, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    f = build("def f(x):\n    return np.percentile(x, 30, axis=0).sum()\n")
    text = source_of(grad(f, out=gen))
    assert "_quantile_weights(x, 0.3, axis=0)" in text


# -- np.maximum.accumulate, np.minimum.accumulate ----------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.maximum.accumulate(x)", (6,)),
        ("np.maximum.accumulate(x, axis=1)", (3, 4)),
        ("np.maximum.accumulate(x, 1) ** 2", (3, 4)),
        ("np.minimum.accumulate(x, 0)", (4, 3)),
        ("np.minimum.accumulate(x, axis=-1)", (2, 3, 4)),
        ("np.maximum.accumulate(np.sin(x), axis=2)", (2, 3, 4)),
    ],
)
def test_running_extremes(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_running_extreme_sends_each_adjoint_to_the_first_that_attained_it(gen, build):
    """out = [1, 3, 3, 3, 5, 5]: x[1] gets w[1:4] (x[3] ties it, later), x[4]
    w[4:]. A tie goes to the first entry, as np.argmax picks it."""
    f = weighted(build, "np.maximum.accumulate(x)")
    x = np.array([1.0, 3.0, 2.0, 3.0, 5.0, 4.0])
    w = np.arange(1.0, 7.0)
    np.testing.assert_array_equal(grad(f, out=gen)(x, w), [1, 9, 0, 0, 11, 0])
    f = weighted(build, "np.minimum.accumulate(x, axis=1)")
    x = np.array([[2.0, 2.0, 1.0], [0.0, 1.0, -1.0]])
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(grad(f, out=gen)(x, w), [[3, 0, 3], [9, 0, 6]])


def test_running_extreme_reads_as_its_sources(gen, build, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    f = weighted(build, "np.maximum.accumulate(x, axis=1)")
    x = np.zeros((2, 3))
    text = source_of(grad(f, out=gen, example_args=(x, x)))
    assert "_accumulate_source(np.maximum.accumulate(x, axis=1), 1)" in text
    assert "d_x = _unaccumulate(w, " in text


# -- np.nan_to_num --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.nan_to_num(x)", (5,)),
        ("np.nan_to_num(x ** 3)", (3, 4)),
        ("np.nan_to_num(x, nan=1.0, posinf=9.0)", (2, 3)),
    ],
)
def test_nan_to_num(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_nan_to_num_gradient_is_zero_where_replaced(gen, build, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    x = np.array([np.nan, 1.0, np.inf, -np.inf, 2.0])
    w = np.arange(1.0, 6.0)
    for expr in ("np.nan_to_num(x)", "np.nan_to_num(x, nan=-1.0, neginf=0.0)"):
        compiled = grad(weighted(build, expr), out=gen)
        np.testing.assert_array_equal(compiled(x, w), [0, 2, 0, 0, 5])
        got = compiled(x.astype(np.float32), w.astype(np.float32))
        assert got.dtype == np.float32
    compiled = grad(weighted(build, "np.nan_to_num(x)"), out=gen, example_args=(x, w))
    assert "d_x = np.where(np.isfinite(x), w, 0.0)" in source_of(compiled)


# -- second derivatives ---------------------------------------------------------------------


def h_pad(x):
    return np.sum(np.sin(np.pad(x, ((1, 2), (0, 1)), constant_values=2.0)) ** 2)


def h_pad_any_rank(x):
    return np.sum(np.pad(x, 1) ** 3)


def h_median(x):
    return np.sum(np.median(x, axis=1) ** 3)


def h_quantile(x):
    return np.sum(np.quantile(x**2, 0.3, axis=0, keepdims=True) * x[:1])


def h_percentile(x):
    return np.percentile(x**3, 70)


def h_running_max(x):
    return np.sum(np.maximum.accumulate(x, axis=1) ** 3)


def h_running_min(x):
    return np.sum(np.minimum.accumulate(np.sin(x)) * x)


def h_nan_to_num(x):
    return np.sum(np.nan_to_num(x**3) * x)


SECOND = [
    h_pad,
    h_pad_any_rank,
    h_median,
    h_quantile,
    h_percentile,
    h_running_max,
    h_running_min,
    h_nan_to_num,
]


@pytest.mark.parametrize("f", SECOND, ids=lambda f: f.__name__)
def test_hessian(gen, rng, f):
    """The Hessian (forward over the generated gradient) against finite
    differences of the gradient."""
    x = rng.normal(size=(4, 3))
    d = grad(f, out=gen)
    np.testing.assert_allclose(d(x), numeric_grad(f, [x], 0), rtol=1e-6, atol=1e-8)
    h = 1e-6
    want = np.stack(
        [
            (d(x + h * e) - d(x - h * e)) / (2 * h)
            for e in np.eye(x.size).reshape(-1, 4, 3)
        ]
    )
    got = hessian(f)(x).reshape(4, 3, 4, 3)
    np.testing.assert_allclose(
        got, np.moveaxis(want.reshape(4, 3, 4, 3), (0, 1), (2, 3)), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("f", SECOND, ids=lambda f: f.__name__)
def test_gradient_of_the_gradient(gen, rng, f):
    """Reverse over reverse: the generated gradient, read back and differentiated,
    against finite differences."""
    x, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    d = grad(f, out=gen)

    def along(x):
        return np.sum(d(x) * v)

    got = grad(along, out=gen)(x)
    np.testing.assert_allclose(got, numeric_grad(along, [x], 0), rtol=1e-5, atol=1e-6)


# -- np.interp ------------------------------------------------------------------------------

KNOTS = np.array([-1.0, 0.0, 0.5, 2.0, 3.5])


def interp_weighted(x, fp, xp, w):
    return np.sum(np.interp(x, xp, fp) ** 2 * w)


@pytest.mark.parametrize("shape", [(), (7,), (3, 4)], ids=str)
def test_interp(gen, rng, shape):
    """Against finite differences in x (points outside the knots included) and
    fp; float32 stays float32; the gradient for example arguments agrees."""
    x = rng.uniform(-2.0, 4.5, size=shape)
    x = float(x) if shape == () else x
    fp, w = rng.normal(size=5), rng.normal(size=shape)
    args = (x, fp, KNOTS, w)
    got = check(gen, interp_weighted, args, (0, 1))
    if shape:
        _float32_case(gen, interp_weighted, args, (0, 1))
    specialized = grad(interp_weighted, argnums=(0, 1), out=gen, example_args=args)
    for a, b in zip(specialized(*args), got):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_interp_gradient_is_the_slope_and_the_two_weights(gen, build, monkeypatch):
    """d/dx: the slope of x's segment, 0 outside the knots; d/dfp: 1 - t and t on
    the segment's two ends (all on the end value outside)."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)

    def f(x, fp, xp):
        return np.sum(np.interp(x, xp, fp))

    fp = np.array([1.0, 3.0, 2.0, 2.0, 5.0])
    d = grad(f, argnums=(0, 1), out=gen)
    d_x, d_fp = d(0.125, fp, KNOTS)
    assert d_x == (2.0 - 3.0) / 0.5
    np.testing.assert_allclose(d_fp, [0, 0.75, 0.25, 0, 0])
    d_x, d_fp = d(5.0, fp, KNOTS)
    assert d_x == 0.0
    np.testing.assert_array_equal(d_fp, [0, 0, 0, 0, 1])
    d_x, d_fp = d(np.array([-3.0, 3.0]), fp, KNOTS)
    np.testing.assert_allclose(d_x, [0.0, 2.0])
    np.testing.assert_allclose(d_fp, [1, 0, 0, 1 / 3, 2 / 3])
    text = source_of(d)
    assert "_interp_segment(x, xp)" in text and "_add_at(d_fp, " in text
    assert "_unbroadcast" not in text


def test_interp_forward_mode_and_hessian(rng):
    x, fp, v = rng.uniform(-1.5, 4.0, size=6), rng.normal(size=5), rng.normal(size=6)

    def f(x, fp, xp):
        return np.sum(np.interp(np.sin(x), xp, fp * fp) ** 2)

    jvp_matches_finite_differences(f, (x, fp, KNOTS), (v, rng.normal(size=5), None))

    d = grad(f)
    h = 1e-6
    want = [
        (d(x + h * e, fp, KNOTS) - d(x - h * e, fp, KNOTS)) / (2 * h) for e in np.eye(6)
    ]
    got = hessian(f)(x, fp, KNOTS)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("option", ["left=0.0", "right=k", "period=2.0"])
def test_interp_refuses_other_ends(build, option):
    f = build(
        f"def f(x, k):\n    return np.sum(np.interp(x, [0.0, 1.0], [1.0, 2.0], {option}))\n"
    )
    with pytest.raises(
        ADCompileError, match=f"supported without `{option[:-4].rstrip('=')}"
    ):
        grad(f)
