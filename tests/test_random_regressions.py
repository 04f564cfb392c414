"""Programs the random-program test (test_random_programs.py) found wrong, shrunk.

Each is checked the same way: it compiles, each gradient has its parameter's
shape and dtype, and it matches central finite differences.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from programs import Program, arguments, check

from adcompiler import passes

PRELUDE = "import math\n\nimport numpy as np\n\n\n"


def run(src: str, shapes, folder, seed: int = 0, examples: bool = False) -> None:
    """`examples`: compiled for the arguments it is called with (`example_args`)."""
    program = Program(
        PRELUDE + textwrap.dedent(src), list(shapes), tuple(range(len(shapes)))
    )
    kwargs = {"example_args": arguments(program.shapes, seed)} if examples else None
    assert check(program, folder, seed, kwargs) == "compared"


@pytest.fixture
def folder(tmp_path):
    return tmp_path


def test_copy_method_is_not_a_container_read(folder):
    # `y.copy()` counted as reading `y` by attribute: with `y[0]` as well, `y` was
    # taken for a container ("read both as a container and as an array")
    src = """
    def f(x, y):
        y1 = y.copy()
        y1[0] = y[0]
        return np.sum(x) + np.sum(y) + np.sum(y1)
    """
    run(src, [(3,), (3,)], folder)


def test_array_methods_on_a_parameter_read_by_index(folder):
    src = """
    def f(x):
        return np.sum(x.reshape(3, 2)) * x[0, 1] + x.sum(axis=0)[1] + x.max()
    """
    run(src, [(2, 3)], folder)


def test_sum_adjoint_leaving_a_branch_keeps_the_shape(folder):
    # the adjoint of `np.sum(y1)` (a scalar standing for an array like y1) left
    # both branches as a scalar; after the `if`, `d_x = d_y1 * t1` had shape ()
    src = """
    def f(x, y):
        y1 = x * np.sum(y)
        if np.min(y) < 0.0:
            return np.sum(y1)
        return np.sum(y) + np.sum(y1)
    """
    run(src, [(2, 3), (3, 2)], folder, seed=516)
    run(src, [(2, 3), (3, 2)], folder, seed=1)


def test_sum_adjoint_in_one_branch_only(folder):
    src = """
    def f(x):
        y = np.tanh(x)
        if np.sum(x) > 0.0:
            s = np.sum(y)
        else:
            s = np.sum(y * y)
        return s
    """
    run(src, [(2, 3)], folder, seed=3)
    run(src, [(2, 3)], folder, seed=4)


def test_where_with_a_scalar_condition_and_a_scalar_branch(folder):
    # the mean's adjoint (a scalar standing for an array) went through
    # `np.where(c, np.sum(x), np.tanh(x))` with a scalar `c` as if it were the
    # array: the scalar branch got 1/3 of its gradient instead of all of it
    src = """
    def f(x):
        v1 = np.mean(np.where(np.tanh(0.5) >= -0.2, np.sum(x), np.tanh(x)))
        return np.sum(x) + v1
    """
    run(src, [(1, 3)], folder)


def test_where_scalar_condition_reduced_after(folder):
    src = """
    def f(x):
        x = np.where(np.mean(x) < 0.3, x, np.max(x))
        return np.sum(x)
    """
    run(src, [(2, 3)], folder, seed=0)
    run(src, [(2, 3)], folder, seed=7)


def test_helper_copying_its_parameter_to_a_local(folder):
    # `w = a0` in a helper renamed the temporary bound to `a0` (the argument
    # `np.exp(x[0])`) to `w`: `a0` then read a value that no longer existed
    # (NameError in the generated code, or a zero gradient)
    src = """
    def helper0(a0):
        w = a0
        return 1.5 * a0


    def f(x):
        v1 = helper0(np.exp(x[0]) if np.sum(x) > 0.0 else x[1])
        return v1 + helper0(np.exp(x[2]))
    """
    run(src, [(3,)], folder)
    run(src, [(3,)], folder, seed=5)


def test_a_name_bound_to_the_same_value_in_both_branches(folder):
    # `v6 = v5` in both branches of an `if`: no merge was needed, and `v6` was
    # left undefined after it (found by the long profile)
    src = """
    def f(x):
        w = 2.0 * x
        if np.sum(x) > 0.0:
            v = w
        else:
            v = w
        return np.sum(v * v) + np.sum(w)
    """
    run(src, [(3,)], folder)


def test_the_value_after_a_loop_is_not_clobbered_by_the_backward_pops(folder):
    # the value after a `while` loop shared its name with the loop's carried
    # value, which the backward loop pops earlier values into; `z * x` read it
    # after the pops and the gradient of x was a quarter of the truth (found by
    # the long profile)
    src = """
    def f(x, y, z):
        k1 = 0
        while k1 < 3 and (np.all(z > 0.0)):
            k1 += 1
            z = z + np.where(0.5 > 0.0, np.max(z), np.tanh(np.sum(y)))
        x = np.where((z if np.sum(z) < 0.0 else np.sum(z)) > 0.0, (z) * (x), x)
        x = np.tanh(x)
        return np.sum(x) + np.sum(y) + np.sum(z)
    """
    run(src, [(3, 2), (1, 3), ()], folder)


def test_adjoint_shared_by_cse_and_then_named_is_read_under_its_name(folder):
    # The adjoints of `y2` and `y3` are the same expression, `ones` with a zero at
    # [0]: CSE handed y1 and y2 the same value, then naming it `d_y2` left y1's
    # copy under its old name (NameError: name 't8' is not defined).
    src = """
    def f(x, y, z, n):
        y1 = 1.0 * y
        y1[1:] -= ((y if np.any(y1 > 0.5) else y1)) @ (np.abs(y1))
        y2 = y1.copy()
        y2[0] = x
        y3 = 1.0 * y1
        y3[0] = x
        return np.sum(y1) + np.sum(y2) + np.sum(y3)
    """
    program = Program(PRELUDE + textwrap.dedent(src), [(), (3,), (), "int"], (0, 1, 2))
    for seed in (0, 1):
        assert check(program, folder, seed) == "compared"


def test_adjoint_shape_is_not_taken_from_an_integer(folder):
    # The adjoint of `np.sum(x)` took its shape from the first scalar in sight, the
    # loop counter `k1`: `np.full_like(k1, g)` is an integer, and truncated it
    # (a gradient of 0.0 instead of 0.386).
    src = """
    def f(x):
        k1 = 0
        while k1 < 1 and (x > 0.0):
            k1 += 1
            x = x + x
            for i2 in range(2):
                x = np.tanh(x * x)
                x = np.sum(np.sum(x))
        return np.sum(x)
    """
    run(src, [()], folder)
    run(src, [()], folder, seed=1)


def test_a_function_too_steep_for_finite_differences_is_not_compared(folder):
    # Not a compiler bug: the long profile's finite differences disagreed with a
    # correct gradient. After the loop y is about 9e6, and a step of 1e-4 in the
    # input moves it by about 3e4: np.sin(y) winds thousands of times within one
    # step, so every step size gives the same average (-1.67e8) and the check that
    # two steps agree passed. The gradient (-3.22e8) is the closed form's.
    src = """
    def f(x, y):
        for i1 in range(2):
            y = y + np.square((1.0 + (y) ** 2) ** 1.5)
        y = y + np.sin(y)
        return np.sum(x) + np.sum(y)
    """
    program = Program(PRELUDE + textwrap.dedent(src), [(3,), (2,)], (0, 1))
    assert check(program, folder, seed=2) == "steep"
    from programs import arguments, load

    from adcompiler import grad

    x, y = arguments([(3,), (2,)], 2)
    d_x, d_y = grad(load(program.source, folder).f, argnums=(0, 1), out=folder)(x, y)
    want = np.ones_like(y)  # d/dy of y + (1 + y²)³ is 1 + 6y(1 + y²)², twice
    for _ in range(2):
        want *= 1.0 + 6.0 * y * (1.0 + y * y) ** 2
        y = y + (1.0 + y * y) ** 3
    want *= 1.0 + np.cos(y)
    np.testing.assert_allclose(d_y, want, rtol=1e-6)
    np.testing.assert_array_equal(d_x, np.ones(3))
    assert want[0] == pytest.approx(-322010085.49, rel=1e-8)  # 50 digits: mpmath


def test_a_loop_does_not_update_in_place_a_value_read_after_it(folder):
    # `x[-1] = ...` in the loop was written in place on the carried `x_3`, which
    # entered the loop as `x_2`, still read after it (`d_x_2 = ... * x_2`): the
    # gradient of y was 0.12 off. The shape witnesses of this stop exposed it
    # (the backward no longer read x_3, so its old value seemed unneeded).
    src = """
    def f(x, y, z):
        x = np.where(np.sum(z) + np.sum(x) + 0.5 > 0.0, 0.3, np.sum(np.sum(x) + x, axis=1, keepdims=True))
        x -= np.exp(np.tanh(y))
        y = (x) ** 2
        if -0.5 < np.mean((np.min(z)) - (x)) < 1.0:
            for i2 in range(1, 3):
                z = z + np.sqrt(((x) + (z)) ** 2 + 1.0)
                y = (0.3) / (1.0 + (y) ** 2)
                x[-1] = np.where(np.mean(y) * float(i2) < 0.3, np.mean(y), np.mean(x))
                y *= np.tanh(np.expm1(np.tanh(np.minimum(y[:], np.abs(np.mean(z))))))
            y += y
            v1 = np.sum(z) * np.clip(np.mean(np.min(x)), -0.5, 0.5)
        else:
            y /= 2.0 + np.sin(x)
            v1 = 1.5 - (z).sum()
        return np.sum(y) + np.sum(z) + np.sum(v1)
    """
    run(src, [(2, 1), (2, 1), (2, 3)], folder, seed=19742580)


def test_a_reduction_of_a_value_one_branch_leaves_a_float_is_not_a_method(folder):
    # `t = 2.0 if c else np.sum(y)` is one name in the generated code, bound by the
    # NumPy sum on one path and by a Python float on the other: `np.mean(t)` was
    # written `t.mean()` and raised AttributeError on the float's path
    src = """
    def f(x, y):
        t = 2.0 if np.max(x) < 10.0 else np.sum(y)
        return np.sum(x * np.mean(t)) + np.sum(y)
    """
    run(src, [(3,), (2,)], folder)


def test_a_float_cotangent_of_a_dot_product_of_vectors(folder):
    # with every pass off, the cotangent of `x @ y1` (a scalar) came out of `min`
    # as a Python float, and `_matmul_lhs` indexed it (`g[..., None]`)
    src = """
    def f(x):
        y1 = 1.0 * x
        y1[0] += min(x[0], x @ y1)
        return np.sum(x) + np.sum(y1)
    """
    with passes.disabled():
        run(src, [(2,)], folder)
    run(src, [(2,)], folder)


def test_a_backward_if_reads_what_its_forward_if_computed_in_a_branch(folder):
    # the backward `if` reads `v4`'s temporaries from the forward `if` on the
    # same condition by name; the branches pass moved the forward `if` (it binds
    # nothing after it) to the end, or renamed them when merging it with another
    # `if` on the condition, and the generated code raised UnboundLocalError
    # (found by the long profile compiled for the programs' arguments)
    src = """
    def f(x, y):
        if np.min(y) > -0.3:
            v4 = (1.0 + y ** 2) ** -1
            return np.sum(x) + np.sum(v4)
        v4 = np.cos(y)
        if np.log(1.0 + np.sum(x) ** 2) < 1.0:
            v4[1:] = np.sum(x)
        return np.sum(x) + np.sum(y) + np.sum(v4)
    """
    for seed in range(4):
        run(src, [(), (1, 3)], folder, seed)
        run(src, [(), (2, 3)], folder, seed, examples=True)


def test_a_contribution_smaller_than_its_argument_is_spread_to_its_shape(folder):
    # compiled for examples, the adjoint of x in `y * x` (y of shape (1, 3), x of
    # shape (2, 3), the upstream a scalar stand-in) is `y`: it was returned as
    # the sum to x's shape, with y's shape (found by the long profile)
    src = """
    def f(x, y):
        v4 = x
        v5 = (y) * (x)
        return np.sum(v4) + np.sum(v5)
    """
    run(src, [(2, 3), (1, 3)], folder, examples=True)
    run(src, [(2, 3), (1, 3)], folder)


def test_a_keepdims_reduction_over_an_axis_of_one_does_not_fit_into_itself(folder):
    # `v1.max(axis=-1, keepdims=True)` of a (2, 1) array has v1's own shape; the
    # shape facts took it to broadcast into itself and dropped it from the
    # `np.where`, whose result then took the shape of the scalar branch: the
    # adjoint of `x[-1, 0]` was not summed (ValueError; found by the long
    # profile compiled for the programs' arguments)
    src = """
    def f(x):
        v1 = np.tanh(x)
        k2 = 0
        while k2 < 2:
            k2 += 1
            c = np.max(x) > 0.0
            x = x + np.where(c, np.exp(v1.max(axis=-1, keepdims=True)), 1.0 / (1.0 + x[-1, 0] ** 2))
        return np.sum(x) + np.sum(v1)
    """
    for seed in range(3):
        run(src, [(2, 1)], folder, seed, examples=True)
        run(src, [(2, 1)], folder, seed)


def test_an_inlined_read_of_an_array_comes_before_it_is_written_over(
    folder, monkeypatch
):
    # `np.sum(1.0 / t1)` was a single-use temporary, inlined where `d_y` is made;
    # by then `np.sin(x, out=t1)` had written over `t1` (passes/buffers.py)
    import adcompiler.passes.buffers as buffers

    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    src = """
    def f(x, y, z):
        x = (y) / (2.0 + np.cos(x))
        return np.sum(x) + np.sum(y) + np.sum(z)
    """
    run(src, [(3,), (), ()], folder, examples=True)


def test_a_stand_in_carried_to_the_next_trip_becomes_an_array(folder):
    # a trip reads the carried `y1` only through `np.sum(y1)`, whose adjoint is a
    # scalar standing for an array like `y1`; it went on to the next trip, and out
    # of the loop, as the adjoint of `y1` itself: the adjoint of `y1[-1, :] -= ...`
    # then copied a float ("'float' object has no attribute 'copy'"; found once the
    # random programs drew `np.multiply.outer`)
    src = """
    def f(x, y):
        y1 = 1.0 * x
        y1[-1, :] -= y[0, -1]
        for i in range(2):
            if i < 1:
                y1 = np.where(y > 0.0, np.sum(y1), y * y)
            else:
                y1 = y * 3.0
        return np.sum(y1)
    """
    for seed in range(3):
        run(src, [(2, 3), (2, 3)], folder, seed)
        run(src, [(2, 3), (2, 3)], folder, seed, examples=True)


def test_a_negation_in_a_branch_read_by_the_backward_branch_is_not_moved(folder):
    # `t11 = -t7` (in `-math.exp(...) * y`) was read once in its forward branch,
    # so passes/negation.py moved it into `v2 - y1`; the backward `if` reads it
    # too, by name (`d_y = g * t11`): NameError (found by the long profile)
    src = """
    def f(x, y, z):
        v2 = np.where(np.sum(z) > 0.0, 0.5, np.tanh(z))
        y1 = y
        if np.max(y) < 100.0:
            y1 = -math.exp(np.min(v2)) * y
            z = np.tanh(np.square(z) if np.sum(v2 - y1) > -0.3 else z + z)
        return np.sum(z) + np.sum(y1) + np.sum(v2) * x
    """
    for seed in range(3):
        run(src, [(), (1, 3), (2, 3)], folder, seed)


def test_a_gradient_from_a_comparison_keeps_its_parameters_dtype(folder):
    # The adjoint of np.maximum(z, z) is `2.0 * np.where(z > z, 1.0, ...)`,
    # computed from z alone, so no cast was written; np.where's constants made
    # it float64 for a float32 z (check() calls it with float32 arrays too)
    src = """
    def f(x, y, z):
        z = np.maximum(z, z)
        return np.sum(x) + np.sum(y) + np.sum(z)
    """
    run(src, [(), (), (3,)], folder)


def test_a_boolean_meeting_a_float_keeps_its_parameters_dtype(folder):
    # `(x > 0.0) * 2.0` is float64 whatever x's dtype
    src = """
    def f(x):
        return np.sum(x * ((x > 0.0) * 2.0))
    """
    run(src, [(4,)], folder)


def test_a_value_of_constants_alone_keeps_the_parameters_dtype(folder):
    # np.clip of Python floats is a NumPy float64, which promotes a float32 x
    src = """
    def f(x, y):
        v1 = np.clip(0.5, -0.5, 0.5)
        v2 = np.dot(x, (v1) + (x))
        return np.sum(y) + np.sum(v1) + np.sum(v2)
    """
    run(src, [(3,), (3,)], folder)


def test_a_gradient_rounding_decides_is_a_kink(folder):
    # a saturated tanh makes `x` six entries equal up to rounding; np.std's
    # gradient divides their differences by their spread (2.4e-13), both
    # rounding errors: d_y came out 4.00045 against the differences' 4.0
    src = """
    def f(x, y, z):
        for i1 in range(2):
            x = np.tanh(x * ((((y) - (np.sum(x))) + ((y) + (y))) + (x)))
            x = np.multiply.outer(y, x)
        v3 = (y) + (np.tanh(np.sum(z, axis=0, keepdims=True)))
        z = (np.sum(np.std(x))) + (z)
        return np.sum(z) + np.sum(v3) + np.sum(y)
    """
    program = Program(PRELUDE + textwrap.dedent(src), [(2, 3), (), (1, 3)], (0, 1, 2))
    assert check(program, folder, 297) == "kink"
