"""What goes in and what comes out: dtypes, shapes, bad inputs, NaN and inf.

- float32 in, float32 out; float64 in, float64 out;
- integer, boolean and complex arguments under `argnums` give a clear error;
- NaN and inf propagate as NumPy's own arithmetic does, never a crash;
- the gradient has its parameter's shape and dtype, whatever the broadcasting
  (a hypothesis property test).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import numeric_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adcompiler import grad, value_and_grad


def elementwise(x, y):
    return np.sum(x * y + np.tanh(x) - y / 2.0)


def smooth(x, y):
    return np.mean(np.sin(x) * y**2.0 - x / (1.0 + y * y))


def kinked(x, y):
    return np.sum(np.maximum(x, y) * np.exp(-x * x) + np.abs(y))


def reduced(x, y):
    return np.sum(np.sum(x * y, axis=0) ** 2.0)


def matrix(W, v):
    return np.sum(np.tanh(W @ v)) * 0.5


def scaled(x, n):
    return np.sum(x * n)


def logs(x):
    return np.sum(np.log(x) + np.sqrt(x))


def square(x):
    return np.sum(x * x)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The gradients of the functions above, compiled once into a folder of their own."""
    out = tmp_path_factory.mktemp("generated")
    fns = [elementwise, smooth, kinked, reduced, matrix]
    table = {f.__name__: grad(f, argnums=(0, 1), out=out) for f in fns}
    table["scaled"] = grad(scaled, out=out)
    table["logs"] = grad(logs, out=out)
    table["square"] = grad(square, out=out)
    table["vg_smooth"] = value_and_grad(smooth, argnums=(0, 1), out=out)
    return table


# -- dtypes ----------------------------------------------------------------------------

SHAPES = {
    "elementwise": [((3,), (3,)), ((2, 3), (3,)), ((), (2, 2)), ((4, 1), (1, 3))],
    "smooth": [((3,), (3,)), ((2, 1, 3), (4, 1)), ((2, 2), ())],
    "kinked": [((3,), (3,)), ((2, 3), (1, 3))],
    "reduced": [((2, 3), (2, 3)), ((2, 3), (3,))],
    "matrix": [((2, 3), (3,)), ((2, 3), (3, 4))],
}
CASES = [(name, s) for name, shapes in SHAPES.items() for s in shapes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, shapes", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_dtype_in_dtype_out(compiled, name, shapes, dtype, rng):
    args = [rng.uniform(0.5, 1.5, size=s).astype(dtype) for s in shapes]
    grads = compiled[name](*args)
    for a, g in zip(args, grads):
        assert np.shape(g) == a.shape
        assert np.asarray(g).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_scalars_keep_their_dtype(compiled, dtype):
    for g in compiled["smooth"](dtype(0.7), dtype(1.3)):
        assert np.shape(g) == ()
        assert np.asarray(g).dtype == dtype


def test_python_floats_give_float64(compiled):
    for g in compiled["smooth"](0.7, 1.3):
        assert np.shape(g) == ()
        assert np.asarray(g).dtype == np.float64


def test_mixed_dtypes_give_each_gradient_its_parameters_dtype(compiled):
    x = np.array([0.5, 1.5], dtype=np.float32)
    y = np.array([1.0, 2.0], dtype=np.float64)
    d_x, d_y = compiled["elementwise"](x, y)
    assert (d_x.dtype, d_y.dtype) == (np.float32, np.float64)


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [np.array([1, 2, 3]), 3, np.array([True, False]), True],
    ids=["int-array", "int", "bool-array", "bool"],
)
def test_integer_or_boolean_argument_is_a_clear_error(compiled, value):
    with pytest.raises(TypeError, match=r"`x`.*float"):
        compiled["square"](value)


@pytest.mark.parametrize(
    "value", [np.array([1 + 1j, 2.0]), 1j], ids=["complex-array", "complex"]
)
def test_complex_argument_is_a_clear_error(compiled, value):
    with pytest.raises(TypeError, match=r"`x`.*complex"):
        compiled["square"](value)


def test_integer_argument_outside_argnums_is_fine(compiled):
    """Only the differentiated parameters must be floating-point."""
    x = np.array([0.5, 1.5])
    np.testing.assert_array_equal(compiled["scaled"](x, 3), np.full(2, 3.0))


# -- NaN and inf -----------------------------------------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 2.0])


def test_nan_and_inf_propagate_as_numpy_would(compiled):
    with np.errstate(all="ignore"):
        want = 1.0 / SPECIAL + 0.5 / np.sqrt(SPECIAL)
        got = compiled["logs"](SPECIAL.copy())
    assert got.shape == SPECIAL.shape
    np.testing.assert_array_equal(got, want)  # NaN where NumPy gives NaN, inf where inf


def test_nan_and_inf_do_not_crash_the_generated_code(compiled):
    """Every path of the generated code (broadcasting, maximum's ties, abs, reductions)
    runs on NaN and inf as NumPy runs it; warnings are NumPy's, never exceptions."""
    x = np.array([[np.nan, np.inf, -np.inf], [0.0, 1.0, np.nan]])
    y = np.array([np.inf, np.nan, 0.0])
    with np.errstate(all="ignore"):
        for name in ["elementwise", "smooth", "kinked", "reduced"]:
            d_x, d_y = compiled[name](x, y)
            assert d_x.shape == x.shape and d_y.shape == y.shape
        value, (d_x, d_y) = compiled["vg_smooth"](x, y)
    assert np.isnan(value)
    assert np.isnan(d_x[0, 0])  # a NaN input gives a NaN gradient through sin
    np.testing.assert_array_equal(compiled["square"](SPECIAL), 2.0 * SPECIAL)


# -- the gradient has its parameter's shape (property) ---------------------------------


@st.composite
def broadcast_pair(draw):
    """Two float arrays of one dtype whose shapes broadcast together, in any direction."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)
    )
    elements = st.floats(0.25, 2.0, width=32)
    x, y = (draw(hnp.arrays(dtype, s, elements=elements)) for s in shapes.input_shapes)
    return x, y


@settings(max_examples=60, deadline=None)
@given(pair=broadcast_pair(), name=st.sampled_from(["elementwise", "smooth", "kinked"]))
def test_gradient_has_its_parameters_shape_and_dtype(compiled, pair, name):
    x, y = pair
    grads = compiled[name](x, y)
    for a, g in zip(pair, grads):
        assert np.shape(g) == a.shape
        assert np.asarray(g).dtype == a.dtype
    if x.dtype == np.float64 and name != "kinked":  # and the values are right
        f = {"elementwise": elementwise, "smooth": smooth}[name]
        for i, g in enumerate(grads):
            want = numeric_grad(f, [x, y], i)
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7)


# -- the dtype check, in every transform family ----------------------------------------


def test_error_message_names_the_parameter_the_dtype_and_the_fix(compiled):
    with pytest.raises(TypeError) as info:
        compiled["square"](np.array([1, 2, 3], dtype=np.int64))
    assert str(info.value) == (
        "`x` is an integer array (int64); gradients are taken with respect to "
        "floating-point values: pass x.astype(float)"
    )
    with pytest.raises(TypeError, match=r"^`x` is complex \(complex128\); adcompiler "):
        compiled["square"](np.array([1j]))
    with pytest.raises(TypeError, match=r"`x` is an integer \(int\).*pass float\(x\)"):
        compiled["square"](3)


def test_value_and_grad_checks_its_arguments(compiled):
    with pytest.raises(TypeError, match=r"`y` is an integer array"):
        compiled["vg_smooth"](np.ones(2), np.array([1, 2]))


def test_vjp_jvp_and_hessian_check_their_arguments(out_dir):
    from adcompiler import hessian, jacfwd, jacrev, jvp, vjp

    ints = np.array([1, 2])
    with pytest.raises(TypeError, match=r"`x` is complex"):
        vjp(logs, np.array([1j, 2.0]))
    with pytest.raises(TypeError, match=r"`x` is an integer array"):
        jvp(logs, (ints,), (np.ones(2),))
    with pytest.raises(TypeError, match=r"`x` is an integer array"):
        jacfwd(logs)(ints)
    with pytest.raises(TypeError, match=r"`x` is an integer array"):
        jacrev(logs)(ints)
    with pytest.raises(TypeError, match=r"`x` is a boolean array"):
        hessian(square)(np.array([True, False]))
    np.testing.assert_allclose(hessian(square)(np.ones(2)), 2.0 * np.eye(2))


def container_loss(params, n):
    return np.sum(params["w"] * params["v"]) * n


def test_container_leaves_are_checked(tmp_path):
    g = grad(container_loss, out=tmp_path)
    with pytest.raises(TypeError, match=r"`params\['v'\]` is an integer array"):
        g({"w": np.ones(2), "v": np.array([1, 2])}, 2)
    got = g({"w": np.ones(2), "v": np.array([1.0, 2.0])}, 2)  # an int outside argnums
    np.testing.assert_allclose(got["w"], [2.0, 4.0])


def test_grad_of_a_checked_gradient(tmp_path):
    """grad(grad(f)) reads the generated check and cast back: no derivative, no error."""
    inner = grad(smooth, argnums=0, out=tmp_path)
    outer = grad(lambda_sum_of(inner), out=tmp_path)
    assert np.shape(outer(np.array([0.5, 1.0]), np.array([1.0, 2.0]))) == (2,)
    with pytest.raises(TypeError, match=r"`x` is an integer array"):
        outer(np.array([1, 2]), np.array([1.0, 2.0]))


def lambda_sum_of(g):
    def summed(x, y):
        return np.sum(g(x, y))

    return summed


def seedlike(x, y, all_floats):
    return (x + y) * max(y, all_floats)


def squares(x):
    return np.sum(x * x)


F32_WEIGHTS = np.array([0.5, -1.0, 2.0], dtype=np.float32)


def weighted(w, X):
    return np.sum(X * w) + np.sum(F32_WEIGHTS * w)


def test_float64_arrays_skip_the_checks_and_casts(tmp_path):
    """Where each differentiated argument, and each input the gradients are computed
    from, is a float64 array or a Python float, one test skips every check and
    cast: the gradients are float64 already. Anything else takes the checks and
    casts: an integer argument raises, a float32 one keeps its dtype, and float32
    data does not narrow a float64 argument's gradient."""
    g = grad(smooth, argnums=0, out=tmp_path)
    src = inspect.getsource(g)
    assert "all_float64 = (" in src and src.count("if not all_float64:") == 2
    for name in "xy":
        test = f"type({name}) is _NDARRAY and {name}.dtype is _FLOAT64 or type({name}) is float"
        assert test in src
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -0.5])
    # d/dx mean(sin(x) y² - x / (1 + y²)) = (cos(x) y² - 1 / (1 + y²)) / n
    want = (np.cos(x) * y**2 - 1.0 / (1.0 + y * y)) / 3
    np.testing.assert_allclose(g(x, y), want, rtol=1e-12)
    np.testing.assert_allclose(g(x, y), numeric_grad(smooth, [x, y], 0), rtol=1e-7)
    assert g(x, y).dtype == np.float64
    assert g(x.astype(np.float32), y).dtype == np.float32  # widened, cast back
    assert g(x, y.astype(np.float32)).dtype == np.float64
    assert type(g(0.5, 1.0)) is float or np.ndim(g(0.5, 1.0)) == 0
    with pytest.raises(TypeError, match="`x` is an integer array"):
        g(np.array([1, 2, 3]), y)
    # float32 data, and a float32 array the function reads from its module
    gw = grad(weighted, out=tmp_path)
    src = inspect.getsource(gw)
    assert "type(F32_WEIGHTS) is _NDARRAY" in src
    w, X = np.array([1.0, 2.0, 3.0]), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    for data in (X, X.astype(np.float32)):
        got = gw(w, data)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, X.sum(axis=0) + F32_WEIGHTS, rtol=1e-6)
    assert gw(w.astype(np.float32), X).dtype == np.float32
    labels = np.array([[1, 0, 1], [0, 1, 1]])  # integer data: the checked path
    np.testing.assert_allclose(gw(w, labels), labels.sum(axis=0) + F32_WEIGHTS)


def integer_slopes(x):
    return np.sum(np.where(x > 0, 2, 3) * x)


def integer_weights(x):
    return np.sum(np.sum(x, axis=0) * np.array([1, 2]))


def list_weights(x):
    return np.sum(np.sum(x, axis=0) * [1.0, 2.0])


@pytest.mark.parametrize("f", [integer_slopes, integer_weights, list_weights])
def test_a_gradient_of_constants_alone_is_cast(tmp_path, f):
    """A gradient that is integer constants alone (`np.where(x > 0, 2, 3)`, the
    seed's 1.0 folded away) is cast to its parameter's dtype at the return: the
    one float64 test does not skip that cast. A list factor is summed as an
    array."""
    g = grad(f, out=tmp_path)
    x = np.array([[0.5, -1.0], [2.0, -0.5], [1.0, 3.0]])
    for dtype in (np.float64, np.float32):
        got = g(x.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, numeric_grad(f, [x], 0), rtol=1e-6)


def test_one_float_test_for_several_arguments(tmp_path, monkeypatch):
    """Two or more differentiated arguments share one `type(...) is float` test,
    at entry and at the casts; a user's own `all_floats` keeps its name."""
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)
    g = grad(seedlike, argnums=(0, 1, 2), out=tmp_path)
    src = inspect.getsource(g)
    flag = "all_floats_2 = type(x) is float and type(y) is float and type(all_floats) is float"
    assert flag in src.replace("(\n        ", "").replace("\n    )", "")
    assert src.count("if not all_floats_2:") == 2
    assert "type(x) is not float" not in src
    assert g(1.0, 2.0, 0.0) == (2.0, 5.0, 0.0)
    # anything but a Python float is still checked, and its gradient cast
    f32 = [np.float32(v) for v in (1.0, 2.0, 0.0)]
    assert [type(d) for d in g(*f32)] == [np.float32] * 3
    assert type(g(1.0, np.float32(2.0), 0.0)[1]) is np.float32
    with pytest.raises(TypeError, match="`y` is an integer"):
        g(1.0, 2, 0.0)
    with pytest.raises(TypeError, match="needs a scalar output; with x of shape"):
        g(np.ones(2), 2.0, 0.0)
    # one differentiated argument whose gradient needs no cast keeps its own test
    one = inspect.getsource(grad(squares, out=tmp_path))
    assert "all_float" not in one and "if type(x) is not float:" in one


def test_grad_of_a_gradient_with_one_float_test(tmp_path):
    """The shared test reads back as each argument's own: grad of grad checks and
    casts as the first gradient does, and differentiates neither."""
    inner = grad(smooth, argnums=(0, 1), out=tmp_path)
    assert "if not all_float64:" in inspect.getsource(inner)

    def summed(x, y):
        dx, dy = inner(x, y)
        return np.sum(dx) + np.sum(dy)

    outer = grad(summed, argnums=(0, 1), out=tmp_path)
    x, y = np.array([0.5, 1.0]), np.array([1.0, 2.0])
    for k in (0, 1):
        want = numeric_grad(summed, [x, y], k)
        np.testing.assert_allclose(outer(x, y)[k], want, rtol=1e-6, atol=1e-8)
    assert outer(x.astype(np.float32), y.astype(np.float32))[1].dtype == np.float32
    with pytest.raises(TypeError, match=r"`x` is an integer array"):
        outer(np.array([1, 2]), y)
