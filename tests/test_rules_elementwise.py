"""np.floor/ceil/trunc/rint/round/fix, np.mod/remainder/fmod, np.sinc,
np.float_power, np.ptp, np.nansum/nanmean, np.split/array_split and np.select:
against central finite differences in float64 (away from the jumps), the
hand-derived formulas (ties, NaN and sinc's 0 included), float32, gradients
compiled for example arguments, forward mode (jvp) and second derivatives."""

import numpy as np
import pytest
from test_rules import _float32_case, check
from test_rules_more import check_expr, jvp_matches_finite_differences, source_of

from adcompiler import ADCompileError, grad, hessian


@pytest.fixture(autouse=True)
def _jvp_and_hessian_compile_elsewhere(out_dir):
    """`jvp` and `hessian` compile into each test's own folder."""


def _hessian_by_differences(gradient, x, h=1e-5):
    """The Hessian's columns as central differences of the gradient."""
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        cols.append(((gradient(x + e) - gradient(x - e)) / (2 * h)).ravel())
    return np.array(cols).T.reshape(x.shape + x.shape)


# -- piecewise constant: no adjoint ---------------------------------------------------

# the user's own np.fix warns from NumPy 2.5 on; the generated code writes np.trunc
_FIX_DEPRECATED = "ignore:numpy.fix is deprecated:DeprecationWarning"


@pytest.mark.parametrize(
    "expr",
    [
        "x * np.floor(x) + np.ceil(2.0 * x) * np.sin(x)",
        pytest.param(
            "np.trunc(x) * np.exp(x) + np.rint(3.0 * x) * x + np.fix(x)",
            marks=pytest.mark.filterwarnings(_FIX_DEPRECATED),
        ),
        "np.round(x, 1) * x + np.around(x) * x ** 2 + np.round(x, decimals=2)",
    ],
)
def test_piecewise_constant(gen, build, rng, expr):
    check_expr(gen, build, rng, expr, (3, 4))


def test_piecewise_constant_values_are_constants(gen, build, rng):
    """d/dx of sum(floor(x) * x) is floor(x), exactly: the floor gets no adjoint,
    and a function of the floor alone has a zero gradient."""
    x = rng.normal(size=(5,)) * 3.0
    f = build("def f(x):\n    return np.sum(np.floor(x) * x)\n")
    compiled = grad(f, out=gen)
    np.testing.assert_array_equal(compiled(x), np.floor(x))
    assert source_of(compiled).count("np.floor(") == 1
    g = build("def f(x):\n    return np.sum(np.round(x, 1) ** 2 + np.ceil(x))\n")
    np.testing.assert_array_equal(grad(g, out=gen)(x), np.zeros(5))
    h = build("def f(x):\n    return np.sum(np.trunc(x) * x ** 2)\n")
    np.testing.assert_allclose(hessian(h)(x), np.diag(2.0 * np.trunc(x)))


@pytest.mark.filterwarnings(_FIX_DEPRECATED)
def test_np_fix_is_written_np_trunc(gen, build, rng):
    """np.fix rounds towards zero, as np.trunc does, which NumPy 2.5 recommends
    instead: the generated code calls np.trunc, whatever the NumPy."""
    x = rng.normal(size=(5,)) * 3.0
    f = build("def f(x):\n    return np.sum(np.fix(x) * x**2)\n")
    compiled = grad(f, out=gen)
    np.testing.assert_allclose(compiled(x), 2.0 * np.trunc(x) * x)
    assert "np.trunc(x)" in source_of(compiled) and "np.fix" not in source_of(compiled)


def test_round_needs_constant_decimals(gen, build):
    f = build("def f(x, d):\n    return np.sum(np.round(x, d) * x)\n")
    with pytest.raises(ADCompileError, match="decimals"):
        grad(f, out=gen)


# -- mod, remainder, fmod -------------------------------------------------------------

MODS = {
    "%": ("x % y", np.floor),
    "mod": ("np.mod(x, y)", np.floor),  # np.remainder is the same ufunc
    "fmod": ("np.fmod(x, y)", np.trunc),
}


@pytest.mark.parametrize("name", list(MODS))
def test_mod(gen, build, rng, name):
    """d/dx = 1, d/dy = -floor(x/y) (-trunc(x/y) for fmod), y of either sign."""
    expr, rounding = MODS[name]
    f = build(f"def f(x, y, w):\n    return np.sum({expr} * w)\n")
    x = rng.normal(size=(3, 4)) * 3.0
    y = rng.choice([-1.0, 1.0], size=(4,)) * rng.uniform(0.5, 1.5, size=(4,))
    w = rng.normal(size=(3, 4))
    d_x, d_y = check(gen, f, (x, y, w), (0, 1))
    np.testing.assert_allclose(d_x, w)
    np.testing.assert_allclose(d_y, -(rounding(x / y) * w).sum(axis=0))
    _float32_case(gen, f, (x, y, w), (0, 1))
    specialized = grad(f, argnums=(0, 1), out=gen, example_args=(x, y, w))
    np.testing.assert_allclose(specialized(x, y, w)[1], d_y, rtol=1e-14)
    jvp_matches_finite_differences(f, (x, y, w), (x * 0.5, y * 0.1, None))
    g = build(f"def f(x, y):\n    return np.sum(({expr}) ** 2)\n")
    y2 = np.abs(y[:3]) + 0.5
    got = hessian(g, argnums=1)(x[0, :3], y2)
    want = np.diag(2.0 * rounding(x[0, :3] / y2) ** 2)
    np.testing.assert_allclose(got, want, atol=1e-12)


# -- sinc, float_power, ptp -----------------------------------------------------------


def test_sinc(gen, build, rng):
    """(cos(πx) - sinc(x)) / x, and 0 at x == 0 (no NaN, no warning)."""
    check_expr(gen, build, rng, "np.sinc(x)", (3, 4))
    x = np.array([0.0, 0.5, -1.25])
    f = build("def f(x):\n    return np.sum(np.sinc(x))\n")
    with np.errstate(all="raise"):
        got = grad(f, out=gen)(x)
    want = np.array([0.0, *((np.cos(np.pi * x[1:]) - np.sinc(x[1:])) / x[1:])])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert "np.cos(np.pi * x)" in source_of(grad(f, out=gen))
    np.testing.assert_allclose(
        hessian(f)(x[1:]), _hessian_by_differences(grad(f, out=gen), x[1:]), atol=1e-7
    )


def test_float_power(gen, build, rng):
    f = build("def f(x, y, w):\n    return np.sum(np.float_power(x, y) * w)\n")
    x, y, w = (
        rng.uniform(0.5, 2.0, size=(3, 4)),
        rng.normal(size=(4,)),
        rng.normal(size=(3, 4)),
    )
    d_x, d_y = check(gen, f, (x, y, w), (0, 1))
    np.testing.assert_allclose(d_x, y * x ** (y - 1) * w)
    _float32_case(gen, f, (x, y, w), (0, 1))
    jvp_matches_finite_differences(f, (x, y, w), (x * 0.1, y * 0.3, None))
    g = build("def f(x):\n    return np.sum(np.float_power(x, 3.0))\n")
    np.testing.assert_allclose(hessian(g)(x[0]), np.diag(6.0 * x[0]))


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("np.ptp(x)", (3, 4)),
        ("np.ptp(x, axis=0)", (3, 4)),
        ("np.ptp(x, 1, keepdims=True)", (2, 3)),
    ],
)
def test_ptp(gen, build, rng, expr, shape):
    check_expr(gen, build, rng, expr, shape)


def test_ptp_ties_as_max_and_min(gen, build):
    """Tied extremes share the gradient evenly, as np.max's and np.min's do."""
    f = build("def f(x):\n    return np.ptp(x)\n")
    x = np.array([1.0, 3.0, 3.0, 0.0, 2.0])
    np.testing.assert_array_equal(grad(f, out=gen)(x), [0.0, 0.5, 0.5, -1.0, 0.0])


# -- nansum, nanmean ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "np.nansum(np.where(x > 0.8, np.nan, x) ** 2)",
        "np.nansum(np.where(x > 0.8, np.nan, np.sin(x) * x), axis=0)",
        "np.nanmean(np.where(x > 0.8, np.nan, x) ** 2)",
        "np.nanmean(np.where(x > 0.8, np.nan, np.sin(x) * x), axis=1, keepdims=True)",
    ],
)
def test_nan_reductions(gen, build, rng, expr):
    check_expr(gen, build, rng, expr, (3, 4))


def test_nan_reductions_by_hand(gen, build):
    """Zero at NaN entries; nanmean divides by the count of the others."""
    x = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 4.0]])
    total = build("def f(x):\n    return 3.0 * np.nansum(x)\n")
    np.testing.assert_array_equal(grad(total, out=gen)(x), np.where(x > 0, 3.0, 0.0))
    mean = build("def f(x, w):\n    return np.sum(np.nanmean(x, axis=1) * w)\n")
    w = np.array([3.0, 5.0])
    want = np.where(np.isnan(x), 0.0, [[1.5], [5.0]])
    np.testing.assert_array_equal(grad(mean, out=gen)(x, w), want)
    np.testing.assert_array_equal(grad(mean, out=gen, example_args=(x, w))(x, w), want)


# -- split, array_split ---------------------------------------------------------------

SPLITS = {
    "index": (
        "np.sum(np.split(x, 2)[0] ** 2) + np.sum(np.sin(np.split(x, 2)[1]))",
        (4, 3),
    ),
    "unpack": (
        "a, b, c = np.split(x, [1, 3], axis=1)\n    return np.sum(a * c) + np.sum(np.sin(b))",
        (2, 5),
    ),
    "loop": (
        "t = 0.0\n    for p in np.array_split(x, 3):\n        t = 0.5 * t + np.sum(p ** 3)\n    return t",
        (8,),
    ),
    "join": (
        "ps = np.split(x, 2, axis=-1)\n    return np.sum(np.stack(ps) ** 2) + np.sum(np.concatenate(ps[1:]) * x[:, :2])",
        (3, 4),
    ),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_split(gen, build, rng, name):
    body, shape = SPLITS[name]
    body = body if "return" in body else "return " + body
    f = build(f"def f(x):\n    {body}\n")
    x = rng.normal(size=shape)
    (d_x,) = check(gen, f, (x,), (0,))
    _float32_case(gen, f, (x,), (0,))
    specialized = grad(f, out=gen, example_args=(x,))
    np.testing.assert_allclose(specialized(x), d_x, rtol=1e-14)
    jvp_matches_finite_differences(f, (x,), (rng.normal(size=shape),))
    if name == "unpack":
        want = _hessian_by_differences(grad(f, out=gen), x)
        np.testing.assert_allclose(hessian(f)(x), want, atol=1e-6)


def test_split_adjoint_is_the_parts_adjoints(gen, build, rng):
    """The adjoint of x holds each part's adjoint in its block, zeros for a part unused."""
    f = build("def f(x):\n    a, b = np.array_split(x, 2)\n    return np.sum(b * b)\n")
    x = rng.normal(size=(5,))
    np.testing.assert_array_equal(grad(f, out=gen)(x), [0.0, 0.0, 0.0, *(2 * x[3:])])


def test_split_into_unequal_parts_raises_as_numpy_does(gen, build, rng):
    """np.split(x, 2) of 5 entries raises in NumPy; the gradient, which slices
    x at n // 2 and never calls np.split, raises the same (`_split_size`)."""
    f = build(
        "def f(x):\n    a, b = np.split(x, 2)\n    return np.sum(a) + np.sum(b**3)\n"
    )
    x = rng.normal(size=4)
    np.testing.assert_allclose(grad(f, out=gen)(x), [1.0, 1.0, *(3 * x[2:] ** 2)])
    # read back for second derivatives: d²/dx² of the b**3 part, 6 b
    np.testing.assert_allclose(hessian(f)(x), np.diag([0.0, 0.0, *(6 * x[2:])]))
    for g in (grad(f, out=gen), grad(f, out=gen, example_args=(rng.normal(size=5),))):
        with pytest.raises(ValueError, match="equal division"):
            g(rng.normal(size=5))
    with pytest.raises(ValueError, match="equal division"):
        f(rng.normal(size=5))


def test_split_needs_constant_sections(gen, build):
    f = build("def f(x, k):\n    return np.sum(np.split(x, k)[0])\n")
    with pytest.raises(ADCompileError, match="sections"):
        grad(f, out=gen)


# -- select ---------------------------------------------------------------------------


def test_select(gen, build, rng):
    """The first condition that holds picks: nested np.where, last to first."""
    f = build(
        "def f(x, y):\n"
        "    return np.sum(np.select([x < 0, x < 1], [x ** 2, np.sin(x) * y], y * 3.0))\n"
    )
    x, y = rng.normal(size=(3, 4)) * 2.0, rng.normal(size=(3, 4))
    d_x, d_y = check(gen, f, (x, y), (0, 1))
    np.testing.assert_allclose(
        d_x, np.select([x < 0, x < 1], [2 * x, np.cos(x) * y], 0.0)
    )
    np.testing.assert_allclose(d_y, np.select([x < 0, x < 1], [0.0, np.sin(x)], 3.0))
    _float32_case(gen, f, (x, y), (0, 1))
    jvp_matches_finite_differences(f, (x, y), (rng.normal(size=(3, 4)), None))
    want = np.diag(np.select([x < 0, x < 1], [2.0, -np.sin(x) * y], 0.0).ravel())
    np.testing.assert_allclose(hessian(f)(x, y).reshape(12, 12), want, atol=1e-12)


def test_select_needs_lists_written_out(gen, build):
    f = build("def f(x, cs):\n    return np.sum(np.select(cs, [x, x]))\n")
    with pytest.raises(ADCompileError, match="lists written out"):
        grad(f, out=gen)


# -- convolve, correlate, polyval -----------------------------------------------------


@pytest.mark.parametrize(
    "name, mode",
    [
        ("convolve", "full"),
        ("convolve", "same"),
        ("convolve", "valid"),
        ("correlate", "same"),
        ("correlate", None),
    ],
)
def test_convolve(gen, build, rng, name, mode):
    """Both operands, the longer first or second (np.correlate's 'same' of a
    shorter `a` is centred the other way); float32; example arguments; jvp."""
    option = "" if mode is None else f", {mode!r}"
    f = build(f"def f(a, v, w):\n    return np.sum(np.{name}(a, v{option}) * w)\n")
    for n, m in ((5, 3), (2, 5)):
        a, v = rng.normal(size=n), rng.normal(size=m)
        w = rng.normal(size=getattr(np, name)(a, v, mode or "full").shape)
        if mode is None and name == "correlate":  # NumPy's default is 'valid'
            w = rng.normal(size=abs(n - m) + 1)
        check(gen, f, (a, v, w), (0, 1))
    _float32_case(gen, f, (a, v, w), (0, 1))
    specialized = grad(f, argnums=(0, 1), out=gen, example_args=(a, v, w))
    for got, want in zip(specialized(a, v, w), grad(f, (0, 1), out=gen)(a, v, w)):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    jvp_matches_finite_differences(f, (a, v, w), (a * 0.3, v * 0.2, None))


def test_convolve_hessian_and_mode_checked(gen, build, rng):
    f = build(
        "def f(a, v):\n"
        "    return np.sum(np.convolve(a, v, 'same') ** 2)"
        " + np.sum(np.correlate(np.sin(a), v, mode='full') ** 3)\n"
    )
    a, v = rng.normal(size=5), rng.normal(size=3)
    want = _hessian_by_differences(lambda a: grad(f, out=gen)(a, v), a)
    np.testing.assert_allclose(hessian(f)(a, v), want, atol=1e-6)
    # reverse over reverse meets `_full_adjoint`, which has no reverse rule: an error
    gradient = grad(f, out=gen)

    def h(a, v):
        return np.sum(gradient(a, v) ** 2)

    with pytest.raises(ADCompileError, match="_full_adjoint"):
        grad(h, out=gen)
    g = build("def f(a, v, m):\n    return np.sum(np.convolve(a, v, m))\n")
    with pytest.raises(ADCompileError, match="'full', 'same' or 'valid'"):
        grad(g, out=gen)


def test_polyval(gen, build, rng):
    """Horner's scheme: a loop over an array of coefficients, written out for a list."""
    f = build("def f(p, x):\n    return np.sum(np.polyval(p, x) ** 2)\n")
    p, x = rng.normal(size=4), rng.normal(size=(2, 3))
    check(gen, f, (p, x), (0, 1))
    _float32_case(gen, f, (p, x), (0, 1))
    jvp_matches_finite_differences(f, (p, x), (p * 0.5, x * 0.1))
    want = _hessian_by_differences(lambda x: grad(f, argnums=1, out=gen)(p, x), x[0])
    np.testing.assert_allclose(hessian(f, argnums=1)(p, x[0]), want, atol=1e-6)
    g = build("def f(x, a):\n    return np.sum(np.polyval([1.5, a, -2.0], x))\n")
    d_x, d_a = check(gen, g, (x, 0.7), (0, 1))
    np.testing.assert_allclose(d_x, 3.0 * x + 0.7)
    np.testing.assert_allclose(d_a, x.sum())
    assert "for " not in source_of(grad(g, argnums=(0, 1), out=gen))
