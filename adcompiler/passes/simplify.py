"""Algebraic simplification and constant folding, applied as code is emitted.

The emitter (autodiff/emitter.py) asks `simplify` before it writes a
statement, so identities such as `g * 1.0`, `0.0 + g`, `x ** 1` and the
adjoint seed never reach the generated code, and small integer powers become
products (`x ** 2` is `x * x`: with NumPy 2, `np.power` is far slower than a
multiplication for float arrays, and the product is exact for squares).
"""

from __future__ import annotations

import math
import operator
from numbers import Number

from ..ir import Atom, Const, Var

# The Python operator of each arithmetic primitive.
OPERATORS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
    "neg": operator.neg,
}


# Elementwise functions of a numeric constant fold to a Python float, which
# NumPy treats as a weak scalar: `np.log(2.0)` in generated code would be a
# float64 scalar and upcast a float32 gradient.
_FOLD_MATH = {
    name: getattr(math, name)
    for name in ["exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sqrt"]
}
_FOLD_MATH["abs"] = abs
_FOLD_MATH.update(
    sinh=math.sinh,
    cosh=math.cosh,
    arctan=math.atan,
    arcsinh=math.asinh,
    log2=math.log2,
    log10=math.log10,
    exp2=lambda x: 2.0**x,
)
_FOLD_MATH["square"] = lambda x: x * x


def is_number(a: Atom, value=None) -> bool:
    if not isinstance(a, Const) or isinstance(a.value, bool):
        return False
    if not isinstance(a.value, Number):
        return False
    return value is None or a.value == value


def simplify(
    e, prim: str, args: tuple[Atom, ...], kwargs: dict, identities: bool = True
) -> Atom | None:
    """An atom equal to `prim(*args)`, emitting simpler code with `e` if needed; None to keep it.

    Folding constants always happens: `-1` must be a constant axis, and
    `np.log(2.0)` a Python float that keeps float32 float32. `identities`
    (off with the `simplify` pass) covers the rest: `x * 1`, `x ** 2`, ...
    """
    if prim in OPERATORS and all(is_number(a) for a in args):
        try:
            return Const(OPERATORS[prim](*(a.value for a in args)))
        except (ZeroDivisionError, OverflowError):
            return None
    if prim in _FOLD_MATH and len(args) == 1 and is_number(args[0]):
        try:
            return Const(float(_FOLD_MATH[prim](args[0].value)))
        except (
            ValueError,
            OverflowError,
        ):  # outside the domain: NumPy's nan or inf at run time
            return None
    if not identities:
        return None
    if prim == "mul":
        a, b = args
        for one, other in ((a, b), (b, a)):
            if is_number(one, 1):
                return other
            if is_number(one, -1):
                return e.neg(other)
            spread = spread_over(e, one, other)
            if spread is not None:
                return e.mul(spread, other)
            scaled = _scaled_twice(e, one, other)
            if scaled is not None:
                return scaled
    elif prim == "add":
        a, b = args
        for zero, other in ((a, b), (b, a)):
            if is_number(zero, 0):
                return other
        if a == b and not isinstance(a, Const):
            return e.mul(2.0, a)  # g·w + g·w, the two uses of w in w * w
        for neg, other in ((b, a), (a, b)):
            negated = _negated(e, neg)
            if negated is not None:
                return e.sub(other, negated)  # a + -b
    elif prim == "neg":
        negated = _negated(e, args[0])
        if negated is not None:
            return negated
    elif prim == "sub":
        a, b = args
        negated = _negated(e, b)
        if negated is not None:
            return e.add(a, negated)  # a - -b
        if is_number(b, 0):
            return a
        if is_number(a, 0):
            return e.neg(b)
    elif prim == "div":
        a, b = args
        if is_number(b, 1):
            return a
    elif prim == "pow":
        a, b = args
        if is_number(b, 1):
            return a
        if is_number(b, 2):
            return e.mul(a, a)
        if is_number(b, 3):
            return e.mul(e.mul(a, a), a)
    elif prim == "sum":
        negated = _negated(e, args[0])
        if negated is not None:  # the sum of -b is -sum(b): one pass over b, not two
            return e.neg(e.call("sum", negated, **kwargs))
    elif prim == "full_like" and is_number(args[1], 1):
        return e.call("ones_like", args[0])
    elif prim in ("matmul", "dot") and len(args) == 2 and not kwargs:
        return _times_identity(e, *args, dot=prim == "dot")
    return None


def _times_identity(e, a: Atom, b: Atom, dot: bool = False) -> Atom | None:
    """`b` for `np.eye(n) @ b` and `a` for `a @ np.eye(n)` (the adjoint of a
    trace meeting a product: `np.eye(3) @ A.T` is `A.T`), where example
    arguments show that the other operand's axis has length n, so that the
    product is defined and is that operand. np.dot agrees for a vector or a
    matrix `b`; `np.dot(np.eye(n), b)` of a stack `b` moves its axes."""
    for eye, other, axis in ((a, b, 0), (b, a, -1)):
        found = e.definition(eye, keywords=True) if hasattr(e, "definition") else None
        if found is None or found[0] != "eye" or len(found[1]) != 1 or found[2]:
            continue  # not an identity: np.eye(n, m), np.eye(n, k=1)
        n = found[1][0]
        shape = e.shapes.concrete(other)
        if not (is_number(n) and shape) or (dot and axis == 0 and len(shape) > 2):
            continue
        if axis == 0 and len(shape) >= 2:
            axis = -2  # a matrix (or a stack) times `eye`: its rows
        if shape[axis] == n.value:
            return other
    return None


def _negated(e, a: Atom) -> Atom | None:
    """`b` when `a` was computed as `-b`."""
    found = e.definition(a) if hasattr(e, "definition") else None
    if found is not None and found[0] == "neg":
        return found[1][0]
    return None


def spread_over(e, a: Atom, b: Atom) -> Atom | None:
    """`t` when `a` is `np.broadcast_to(t, np.shape(x))` and `b` has the shape of
    `x`: broadcasting in a product or a sum with `b` spreads `t` the same way,
    without the copy (the reverse sweep's `accumulate` asks it too)."""
    found = e.definition(a)
    if found is None or found[0] != "broadcast_to":
        return None
    t, shape = found[1]
    of = e.definition(shape)
    if of is None or of[0] != "shape" or not e.shapes.same(of[1][0], b):
        return None
    return t


def _scaled_twice(e, c: Atom, x: Atom) -> Atom | None:
    """`(c * k) * y` for `c * x` with `x = k * y`, where the constants `c` and `k`
    are real and one is a power of two: `c * k` is then exact, and so is moving
    it, so the two scalings are one. The adjoint of `0.5 * np.sum(w**2)` was
    `2.0 * (0.5 * w)`; it is `w`. A power of two `c` moves onto a number `k`
    the same way: `2.0 * (t4 * w)` is `2.0 * t4 * w`, one pass over `w`."""
    if not (_real(c) and isinstance(x, Var) and hasattr(e, "origin_of")):
        return None
    found = e.definition(x)
    if found is None or found[0] != "mul":
        return None
    loc = e.origin_of(x)  # the product's line, for the source map
    for k, y in (found[1], found[1][::-1]):
        if _real(k) and (_power_of_two(c.value) or _power_of_two(k.value)):
            return e.call("mul", Const(c.value * k.value), y, loc=loc)
    for k, y in (found[1], found[1][::-1]):  # `2.0 * (t4 * w)`: a number `t4`
        if _power_of_two(c.value) and isinstance(k, Var) and e.is_scalar(k):
            return e.call("mul", e.call("mul", c, k, loc=loc), y, loc=loc)
    return None


def _real(a: Atom) -> bool:
    return is_number(a) and isinstance(a.value, (int, float))


def _power_of_two(v) -> bool:
    return v != 0 and math.isfinite(v) and math.frexp(abs(v))[0] == 0.5
