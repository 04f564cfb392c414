"""Derivative rules for NumPy's operations, in the notes' "useful Jacobians" style.

Each line reads: primitive, how it prints, then the adjoint contribution for
each argument given the upstream adjoint `g`, the primal result `out` and the
arguments. `e` is the emitter (autodiff/emitter.py); its arithmetic
simplifies as it goes, so `g * 1.0` never reaches the generated code.

Conventions documented for users:
- `np.maximum`/`np.minimum` split the gradient evenly at ties (0.5 each), as
  JAX and PyTorch do; Python's `max`/`min` send it to the argument they
  return (the first of equal arguments).
- `abs` has derivative `sign(x)`, so 0 at the kink x == 0.
"""

from __future__ import annotations

import ast
import math

from ..ir import Const, Var
from .core import (
    ELEMENTWISE,
    OTHER,
    SCALAR,
    axis_kwargs,
    defprim,
    dim,
    is_none,
    value_of,
)

BIN = "binop"
UN = "unary"
NP = "np"

# -- elementwise arithmetic -------------------------------------------------

defprim(
    "add",
    (BIN, ast.Add),
    lambda e, g, out, a, b: g,
    lambda e, g, out, a, b: g,
    shape=ELEMENTWISE,
    broadcasts=True,
)
defprim(
    "sub",
    (BIN, ast.Sub),
    lambda e, g, out, a, b: g,
    lambda e, g, out, a, b: e.neg(g),
    shape=ELEMENTWISE,
    broadcasts=True,
)
defprim(
    "mul",
    (BIN, ast.Mult),
    lambda e, g, out, a, b: e.mul(g, b),
    lambda e, g, out, a, b: e.mul(g, a),
    shape=ELEMENTWISE,
    broadcasts=True,
)
defprim(
    "div",
    (BIN, ast.Div),
    lambda e, g, out, a, b: e.div(g, b),
    lambda e, g, out, a, b: e.neg(e.div(e.mul(g, out), b)),
    shape=ELEMENTWISE,
    broadcasts=True,
)
PRIMS_POW_RULES = (
    lambda e, g, out, a, b: e.mul(g, e.mul(b, e.pow(a, e.sub(b, 1)))),
    lambda e, g, out, a, b: e.mul(g, e.mul(out, e.call("log", a))),
)
defprim("pow", (BIN, ast.Pow), *PRIMS_POW_RULES, shape=ELEMENTWISE, broadcasts=True)
# np.float_power: `**` computed in float64 (float32 arguments too), the same rules
defprim(
    "float_power",
    (NP, "float_power"),
    *PRIMS_POW_RULES,
    shape=ELEMENTWISE,
    broadcasts=True,
)
defprim("neg", (UN, ast.USub), lambda e, g, out, x: e.neg(g), shape=ELEMENTWISE)

# -- elementwise functions --------------------------------------------------

defprim("exp", (NP, "exp"), lambda e, g, out, x: e.mul(g, out), shape=ELEMENTWISE)
defprim("log", (NP, "log"), lambda e, g, out, x: e.div(g, x), shape=ELEMENTWISE)
defprim(
    "log1p",
    (NP, "log1p"),
    lambda e, g, out, x: e.div(g, e.add(1.0, x)),
    shape=ELEMENTWISE,
)
defprim(
    "expm1",
    (NP, "expm1"),
    lambda e, g, out, x: e.mul(g, e.add(out, 1.0)),
    shape=ELEMENTWISE,
)
defprim(
    "sin",
    (NP, "sin"),
    lambda e, g, out, x: e.mul(g, e.call("cos", x)),
    shape=ELEMENTWISE,
)
defprim(
    "cos",
    (NP, "cos"),
    lambda e, g, out, x: e.neg(e.mul(g, e.call("sin", x))),
    shape=ELEMENTWISE,
)
defprim(
    "tan",
    (NP, "tan"),
    lambda e, g, out, x: e.mul(g, e.add(1.0, e.mul(out, out))),
    shape=ELEMENTWISE,
)
defprim(
    "tanh",
    (NP, "tanh"),
    lambda e, g, out, x: e.mul(g, e.sub(1.0, e.mul(out, out))),
    shape=ELEMENTWISE,
)
defprim(
    "sqrt",
    (NP, "sqrt"),
    lambda e, g, out, x: e.div(g, e.mul(2.0, out)),
    shape=ELEMENTWISE,
)
defprim(
    "square",
    (NP, "square"),
    lambda e, g, out, x: e.mul(g, e.mul(2.0, x)),
    shape=ELEMENTWISE,
)
defprim(
    "abs",
    (NP, "abs"),
    lambda e, g, out, x: e.mul(g, e.call("sign", x)),
    shape=ELEMENTWISE,
)
defprim("sign", (NP, "sign"), None, shape=ELEMENTWISE)
# Piecewise constant: zero derivative away from the jumps, so no adjoint at all (as
# for np.sign), and a value computed from them alone is a constant. `round` keeps
# its constant `decimals`.
PIECEWISE_CONSTANT = ["floor", "ceil", "trunc", "rint", "round"]  # np.fix: trunc
for _name in PIECEWISE_CONSTANT:
    defprim(_name, (NP, _name), None, shape=ELEMENTWISE)


def _inverse_sqrt(sign: float, inner):
    """`g / np.sqrt(inner(x))`, negated for sign -1: the arcsine family."""

    def rule(e, g, out, x):
        adjoint = e.div(g, e.call("sqrt", inner(e, x)))
        return adjoint if sign > 0 else e.neg(adjoint)

    return rule


# The rest of the elementwise functions, each rule linear in g: forward mode
# applies the same rule to a tangent (rules/jvp.py).
MORE_ELEMENTWISE = {
    "sinh": lambda e, g, out, x: e.mul(g, e.call("cosh", x)),
    "cosh": lambda e, g, out, x: e.mul(g, e.call("sinh", x)),
    "arcsin": _inverse_sqrt(1.0, lambda e, x: e.sub(1.0, e.mul(x, x))),
    "arccos": _inverse_sqrt(-1.0, lambda e, x: e.sub(1.0, e.mul(x, x))),
    "arctan": lambda e, g, out, x: e.div(g, e.add(1.0, e.mul(x, x))),
    "arcsinh": _inverse_sqrt(1.0, lambda e, x: e.add(e.mul(x, x), 1.0)),
    "arccosh": _inverse_sqrt(1.0, lambda e, x: e.sub(e.mul(x, x), 1.0)),
    "arctanh": lambda e, g, out, x: e.div(g, e.sub(1.0, e.mul(x, x))),
    "log2": lambda e, g, out, x: e.div(g, e.mul(x, math.log(2.0))),
    "log10": lambda e, g, out, x: e.div(g, e.mul(x, math.log(10.0))),
    "exp2": lambda e, g, out, x: e.mul(g, e.mul(out, math.log(2.0))),
    "reciprocal": lambda e, g, out, x: e.neg(e.mul(g, e.mul(out, out))),
    "cbrt": lambda e, g, out, x: e.div(g, e.mul(3.0, e.mul(out, out))),
    # sinc(x) = sin(πx) / (πx): (cos(πx) - sinc(x)) / x, which is 0 / 1 at x == 0
    "sinc": lambda e, g, out, x: e.div(
        e.mul(g, e.sub(e.call("cos", e.mul(math.pi, x)), out)),
        e.call("where", e.call("eq", x, 0.0), 1.0, x),
    ),
}
for _name, _rule in MORE_ELEMENTWISE.items():
    defprim(_name, (NP, _name), _rule, shape=ELEMENTWISE)

# Functions of two arguments: each argument's rule is linear in g, too.
MORE_BINARY = {
    # atan2(y, x), the angle of (x, y): d/dy = x / r², d/dx = -y / r²
    "arctan2": (
        lambda e, g, out, y, x: e.div(e.mul(g, x), e.add(e.mul(x, x), e.mul(y, y))),
        lambda e, g, out, y, x: e.neg(
            e.div(e.mul(g, y), e.add(e.mul(x, x), e.mul(y, y)))
        ),
    ),
    "hypot": (
        lambda e, g, out, a, b: e.mul(g, e.div(a, out)),
        lambda e, g, out, a, b: e.mul(g, e.div(b, out)),
    ),
    # log(exp(a) + exp(b)): the softmax weights of a and b
    "logaddexp": (
        lambda e, g, out, a, b: e.mul(g, e.call("exp", e.sub(a, out))),
        lambda e, g, out, a, b: e.mul(g, e.call("exp", e.sub(b, out))),
    ),
}
for _name, _rules in MORE_BINARY.items():
    defprim(_name, (NP, _name), *_rules, shape=ELEMENTWISE, broadcasts=True)
# the step of a ReLU's adjoint (emitter.extreme_share); a step has no derivative.
defprim("heaviside", (NP, "heaviside"), None, None, shape=ELEMENTWISE, broadcasts=True)
defprim("step", ("helper", "_step"), None, shape=ELEMENTWISE)


def _extreme(wins: str, larger: bool, first: bool):
    """The adjoint rule of one argument of np.maximum (`larger`) or np.minimum."""

    def rule(e, g, out, a, b):
        x, other = (a, b) if first else (b, a)
        if e.is_constant(other):  # a ReLU, a clamp: one step function
            return e.extreme_share(g, x, other, larger)
        return e.tie_split(g, e.call(wins, x, other), e.call("eq", a, b))

    return rule


# np.fmax/np.fmin: the same as np.maximum/np.minimum away from NaN (where they
# pass the other argument on)
for _name, _wins, _larger in (
    ("maximum", "gt", True),
    ("minimum", "lt", False),
    ("fmax", "gt", True),
    ("fmin", "lt", False),
):
    defprim(
        _name,
        (NP, _name),
        _extreme(_wins, _larger, True),
        _extreme(_wins, _larger, False),
        shape=ELEMENTWISE,
        broadcasts=True,
    )
# np.where(c, a, b) with array conditions; the tie rule of maximum uses it too.
defprim(
    "where",
    (NP, "where"),
    None,
    lambda e, g, out, c, a, b: e.call("where", c, g, 0.0),
    lambda e, g, out, c, a, b: e.call("where", c, 0.0, g),
    shape=ELEMENTWISE,
    broadcasts=True,
)

# -- comparisons: no derivative, used by rules and (later) conditions --------

for _name, _op in [
    ("gt", ast.Gt),
    ("lt", ast.Lt),
    ("ge", ast.GtE),
    ("le", ast.LtE),
    ("eq", ast.Eq),
    ("ne", ast.NotEq),
]:
    defprim(_name, ("compare", _op), None, None, shape=ELEMENTWISE)

# -- Python scalars: builtins max/min/abs and math ---------------------------

# Python's max(a, b) returns b only when b > a, so ties go to a (the first).
defprim(
    "max",
    ("builtin", "max"),
    lambda e, g, out, a, b: e.select(e.decision(out, "max", "gt", a, b), 0.0, g),
    lambda e, g, out, a, b: e.select(e.decision(out, "max", "gt", a, b), g, 0.0),
    shape=SCALAR,
)
defprim(
    "min",
    ("builtin", "min"),
    lambda e, g, out, a, b: e.select(e.decision(out, "min", "lt", a, b), 0.0, g),
    lambda e, g, out, a, b: e.select(e.decision(out, "min", "lt", a, b), g, 0.0),
    shape=SCALAR,
)


def _select_infer(s, out, c, a, b):
    """`a if c else b`: the condition is a scalar; the result has the shape both share."""
    s.set_rank(c, 0)
    if s.same(a, b):
        s.union(out, a)


defprim(
    "select",
    ("ifexp",),
    None,
    lambda e, g, out, c, a, b: e.select(c, g, 0.0),
    lambda e, g, out, c, a, b: e.select(c, 0.0, g),
    infer=_select_infer,
)

# -- linear algebra -----------------------------------------------------------


def _matmul_lhs(e, g, out, a, b):
    """∂(a @ b)/∂a applied to g: g bᵀ, an outer product when b is a vector."""
    rank = e.rank(b)
    if rank == 2:  # g has the rank of a @ b: at least 1
        return matrix_product(e, g, e.call("T", b))
    if rank == 1 and not _large_outer(e, out, b):
        return e.outer(g, b)
    d = e.call("matmul_lhs", g, b)
    if rank == 1 or a is None or out is None:
        return d
    # b may be a stack of matrices that a broadcasts against: (3, 4) @ (2, 4, 5)
    return e.call("unbroadcast", d, a)


def _large_outer(e, out, b) -> bool:
    """An outer product whose shapes example arguments tell and that has 16384
    entries or more: `_matmul_lhs` writes it with `np.einsum`, a third faster."""
    if not (isinstance(out, Var) and isinstance(b, Var)):
        return False  # values, not names (compgraph evaluates the rules)
    shapes = [e.shapes.concrete(out), e.shapes.concrete(b)]
    return None not in shapes and math.prod(shapes[0]) * math.prod(shapes[1]) >= 16384


def _matmul_rhs(e, g, out, a, b):
    """∂(a @ b)/∂b applied to g: aᵀ g, an outer product when a is a vector; `g @ a`
    when b (so g) is a vector, as an expert writes `dz @ W` (no transposed view)."""
    rank = e.rank(a)
    if rank == 2 and e.rank(b) == 1:
        return matrix_product(e, g, a)
    if rank == 2 and e.rank(b) == 2:  # g is a matrix too
        return matrix_product(e, e.call("T", a), g)
    if rank == 2:
        return e.call("matmul", e.call("T", a), g)
    if rank == 1 and e.rank(b) in (1, 2):
        return e.outer(a, g)
    d = e.call("matmul_rhs", a, g)
    if rank == 1 or b is None or out is None:
        return d
    # a may be a stack of matrices that b broadcasts against: (2, 3, 4) @ (4, 5)
    return e.call("unbroadcast", d, b)


def matrix_product(e, a, b, **options):
    """`a @ b` for a vector or matrix `b` and an `a` that is not a scalar, where
    np.dot computes the same without matmul's dispatch (passes/products.py)."""
    from ..passes import enabled

    return e.call("dot" if enabled("dot") else "matmul", a, b, **options)


def _product_infer(rank):
    def infer(s, out, a, b):
        ra, rb = s.rank(a), s.rank(b)
        if ra is not None and rb is not None:
            s.set_rank(out, rank(ra, rb))
        if s.is_scalar(out):  # only vector @ vector gives a scalar
            s.set_rank(a, 1)
            s.set_rank(b, 1)
            s.union(a, b)

    return infer


def _matmul_rank(ra: int, rb: int) -> int:
    """The rank of `a @ b`: a vector operand loses its axis; stacks of matrices
    broadcast, so (2, 3, 4) @ (2, 4, 5) is (2, 3, 5), of rank 3."""
    if ra == 1 or rb == 1:
        return ra + rb - 2
    return max(ra, rb)


defprim(
    "matmul",
    (BIN, ast.MatMult),
    _matmul_lhs,
    _matmul_rhs,
    infer=_product_infer(_matmul_rank),
)


def _dot_lhs(e, g, out, a, b):
    """∂np.dot(a, b)/∂a applied to g: that of `a @ b` where b is a vector or a
    matrix and a is not a scalar; else `_dot_lhs`, which sees the ranks."""
    if e.rank(b) in (1, 2) and (e.rank(a) or 0) >= 1:
        return _matmul_lhs(e, g, out, a, b)
    return e.call("dot_lhs", g, b, a)


def _dot_rhs(e, g, out, a, b):
    if e.rank(b) in (1, 2) and (e.rank(a) or 0) >= 1:
        return _matmul_rhs(e, g, out, a, b)
    return e.call("dot_rhs", a, g, b)


# np.dot pairs a's last axis with b's second-to-last and keeps all the others
defprim(
    "dot",
    (NP, "dot"),
    _dot_lhs,
    _dot_rhs,
    infer=_product_infer(lambda ra, rb: max(ra + rb - 2, 0)),
)


def _flat(e, x):
    """`x` as np.outer reads it: a vector of its entries."""
    return x if e.rank(x) == 1 else e.call("ravel", x)


def _shaped_like(e, g, x):
    """The adjoint `g` of `np.outer`'s flattened `x`, in the shape of `x`."""
    return g if e.rank(x) == 1 else e.call("reshape", g, e.call("shape", x))


# `vectors=True` (emitter.outer): both are known NumPy vectors, written `a[:, None] * b`
defprim(
    "outer",
    (NP, "outer"),
    lambda e, g, out, a, b, **_: _shaped_like(e, e.call("matmul", g, _flat(e, b)), a),
    lambda e, g, out, a, b, **_: _shaped_like(e, e.call("matmul", _flat(e, a), g), b),
    infer=lambda s, out, a, b, **_: s.set_rank(out, 2),
)
defprim(
    "multiply_outer",
    (NP, "multiply.outer"),
    # out[i..., j...] = a[i...] b[j...]: contract g with the other factor's axes
    lambda e, g, out, a, b: e.call("tensordot", g, b, axes=e.call("ndim", b)),
    lambda e, g, out, a, b: e.call("tensordot", a, g, axes=e.call("ndim", a)),
)
# np.tensordot(a, b, axes): each adjoint contracts g with the other operand over
# that one's free axes, and puts the axes back in the operand's order.
defprim(
    "tensordot",
    (NP, "tensordot"),
    lambda e, g, out, a, b, axes=2: e.call("tensordot_lhs", g, a, b, axes),
    lambda e, g, out, a, b, axes=2: e.call("tensordot_rhs", g, a, b, axes),
)
defprim("tensordot_lhs", ("helper", "_tensordot_lhs"), None, None, None, None)
defprim("tensordot_rhs", ("helper", "_tensordot_rhs"), None, None, None, None)
# np.kron(a, b): each block of the result is an entry of `a` times `b`
defprim(
    "kron",
    (NP, "kron"),
    lambda e, g, out, a, b: e.call("kron_lhs", g, a, b),
    lambda e, g, out, a, b: e.call("kron_rhs", g, a, b),
)
defprim("kron_lhs", ("helper", "_kron_lhs"), None, None, None)
defprim("kron_rhs", ("helper", "_kron_rhs"), None, None, None)
defprim("matmul_lhs", ("helper", "_matmul_lhs"), None, None)
defprim("matmul_rhs", ("helper", "_matmul_rhs"), None, None)
# np.dot's adjoints where ranks are not known: `_dot_lhs(g, b, a)`, `_dot_rhs(a, g, b)`
defprim(
    "dot_lhs",
    ("helper", "_dot_lhs"),
    None,
    None,
    None,
    infer=lambda s, out, g, b, a: s.union(out, a),
)
defprim(
    "dot_rhs",
    ("helper", "_dot_rhs"),
    None,
    None,
    None,
    infer=lambda s, out, a, g, b: s.union(out, b),
)

# -- reductions ---------------------------------------------------------------


def _expand(e, g, x, axis, keepdims):
    """g, with the axes a reduction removed put back, broadcast to x's shape.

    A scalar `g` (the seed 1.0, or `1.0 / n` for a mean) stays a scalar: it
    stands for an array like `x` filled with it, which the reverse sweep only
    builds where a rule needs the real array (autodiff/reverse.py, stand-ins).
    """
    if e.is_scalar(g):
        from ..passes import enabled

        return g if enabled("standins") else e.call("full_like", e.witness(x), g)
    keep = hasattr(keepdims, "value") and keepdims.value
    if (axis is None) or (hasattr(axis, "value") and axis.value is None):
        if not keep:  # the adjoint of a full reduction is a scalar, even unproven:
            return e.call("full_like", e.witness(x), g)  # full_like keeps x's dtype
        return e.call("broadcast_to", g, e.call("shape", x))
    if not keep:
        g = e.call("expand_dims", g, axis)
    return e.call("broadcast_to", g, e.call("shape", x))


def _sum_vjp(e, g, out, x, axis=None, keepdims=False):
    return _expand(e, g, x, axis, keepdims)


def _mean_vjp(e, g, out, x, axis=None, keepdims=False):
    return _expand(e, e.div(g, e.count(x, out, axis)), x, axis, keepdims)


def _reduce_infer(s, out, x, axis=None, keepdims=False):
    axis_value = getattr(axis, "value", axis)
    keep = getattr(keepdims, "value", keepdims)
    if axis_value is None and not keep:
        s.set_rank(out, 0)
    elif keep:
        s.set_rank(out, s.rank(x))
    elif s.rank(x) is not None and isinstance(axis_value, (int, tuple)):
        n = len(axis_value) if isinstance(axis_value, tuple) else 1
        s.set_rank(out, s.rank(x) - n)


defprim("sum", (NP, "sum"), _sum_vjp, infer=_reduce_infer)
defprim("mean", (NP, "mean"), _mean_vjp, infer=_reduce_infer)
# The length of each of np.split's k equal parts of an axis of length n: an int,
# checked (np.split raises where k does not divide n), so not differentiated.
defprim(
    "split_size",
    ("helper", "_split_size"),
    None,
    None,
    infer=lambda s, out, n, k: s.set_rank(out, 0),
)
# How many entries of x each entry of a reduction's result averages.
defprim(
    "count",
    ("helper", "_count"),
    None,
    None,
    infer=lambda s, out, x, reduced: s.set_rank(out, 0),
)

# -- shapes ---------------------------------------------------------------------

defprim(
    "T",
    ("attr", "T"),
    lambda e, g, out, x: e.call("T", g),
    infer=lambda s, out, x: s.set_rank(out, s.rank(x)),
)
defprim(
    "transpose",
    (NP, "transpose"),
    lambda e, g, out, x, axes=None: e.call("transpose", g, e.inverse_permutation(axes)),
    infer=lambda s, out, x, axes=None: s.set_rank(out, s.rank(x)),
)
defprim(
    "reshape",
    ("method", "reshape"),
    lambda e, g, out, x, shape: e.call("reshape", g, e.call("shape", x)),
    None,
    infer=lambda s, out, x, shape: s.set_rank(
        out,
        (
            len(shape.value)
            if hasattr(shape, "value") and isinstance(shape.value, tuple)
            else None
        ),
    ),
)
defprim(
    "ravel",
    (NP, "ravel"),
    lambda e, g, out, x: e.call("reshape", g, e.call("shape", x)),
    infer=lambda s, out, x: s.set_rank(out, 1),
)
defprim(
    "squeeze",
    (NP, "squeeze"),
    lambda e, g, out, x, axis=None: e.call("reshape", g, e.call("shape", x)),
)
defprim(
    "flip",
    (NP, "flip"),
    lambda e, g, out, x, axis=None: e.call("flip", g, **axis_kwargs(axis)),
    infer=lambda s, out, x, axis=None: s.union(out, x),
)


def _cumsum_vjp(e, g, out, x, axis=None):
    """Entry i of the sum reaches every running sum from i on: the running sums
    of g from the end, `np.flip(np.flip(g).cumsum())` (along `axis`; the
    flattened entries, put back in x's shape, without one)."""
    flipped = e.call("flip", g, **axis_kwargs(axis))
    total = e.call(
        "flip", e.call("cumsum", flipped, **axis_kwargs(axis)), **axis_kwargs(axis)
    )
    if is_none(axis):
        return e.call("reshape", total, e.call("shape", x))
    return total


defprim(
    "cumsum",
    (NP, "cumsum"),
    _cumsum_vjp,
    infer=lambda s, out, x, axis=None: (
        s.set_rank(out, 1) if is_none(axis) else s.union(out, x)
    ),
)


def _running_product(helper):
    """The adjoint (tangent) of `np.cumprod` through `helper`, along the axis, or
    along the flattened entries (put back in x's shape) without one."""

    def rule(e, g, out, x, axis=None):
        if not is_none(axis):
            return e.call(helper, g, x, out, axis)
        if helper == "cumprod_jvp":  # a tangent like x, for the flattened entries
            return e.call(helper, e.call("ravel", g), e.call("ravel", x), out, 0)
        flat = e.call(helper, g, e.call("ravel", x), out, 0)
        return e.call("reshape", flat, e.call("shape", x))

    return rule


defprim(
    "cumprod",
    (NP, "cumprod"),
    _running_product("cumprod_vjp"),
    infer=lambda s, out, x, axis=None: (
        s.set_rank(out, 1) if is_none(axis) else s.union(out, x)
    ),
)
defprim("cumprod_vjp", ("helper", "_cumprod_vjp"), None, None, None, None)
defprim("cumprod_jvp", ("helper", "_cumprod_jvp"), None, None, None, None)


def _unroll(e, g, out, x, shift, axis=None):
    """np.roll(g, -shift): each entry goes back where it came from."""
    if isinstance(shift, Const) and isinstance(shift.value, tuple):
        back = Const(tuple(-s for s in shift.value))
    else:
        back = e.neg(shift)
    return e.call("roll", g, back, **axis_kwargs(axis))


defprim(
    "roll",
    (NP, "roll"),
    _unroll,
    None,
    infer=lambda s, out, x, shift, axis=None: s.union(out, x),
)


def _reps(reps) -> tuple:
    """np.tile's reps as a tuple."""
    return reps.value if isinstance(reps.value, tuple) else (reps.value,)


def _shape_of(e, entries) -> Const | Var:
    """A shape with these entries (constants and `np.shape(x)[i]`): a constant
    where all are; else the first that is not is -1, which NumPy works out."""
    entries = list(entries)
    values = [i for i, d in enumerate(entries) if not isinstance(d, Const)]
    if values and Const(-1) not in entries:
        entries[values[0]] = Const(-1)
    if all(isinstance(d, Const) for d in entries):
        return Const(tuple(d.value for d in entries))
    return e.call("tuple", *entries)


def _untile(e, g, out, x, reps):
    """The sum of g's tiles: g reshaped so that each tiled axis is split into
    (repetition, length), summed over the repetitions. reps shorter than x's
    rank tile its last axes; longer, they add axes in front of x's."""
    rank, reps = e.rank(x), _reps(reps)
    if rank is None:  # where the axes go is known at run time
        return e.call("untile", g, x, Const(reps))
    n = max(rank, len(reps))
    reps = (1,) * (n - len(reps)) + reps
    shape, summed = [], []
    for i, r in enumerate(reps):
        axis = i - (n - rank)  # the axis of x; negative: an axis np.tile added
        if r != 1 or axis < 0:
            summed.append(len(shape))
            shape.append(Const(r))
        if axis >= 0:
            shape.append(dim(e, x, axis))
    if len(shape) == rank:
        return g  # nothing was tiled
    split = e.call("reshape", g, _shape_of(e, shape))
    axes = summed[0] if len(summed) == 1 else tuple(summed)
    return e.call("sum", split, axis=Const(axes))


def _tile_infer(s, out, x, reps):
    if s.rank(x) is not None:
        s.set_rank(out, max(s.rank(x), len(_reps(reps))))


defprim("tile", (NP, "tile"), _untile, None, infer=_tile_infer)
# Where x's rank is unknown: the same sum, worked out at run time. Its adjoint
# tiles again.
defprim(
    "untile",
    ("helper", "_untile"),
    lambda e, g, out, h, x, reps: e.call("tile", g, reps),
    None,
    None,
    infer=lambda s, out, g, x, reps: s.union(out, x),
)


def _shape(e, x):
    """`np.shape(x)`, a constant where example arguments tell it."""
    shape = e.shapes.concrete(x)
    return Const(shape) if shape is not None else e.call("shape", x)


def _unrepeat(e, g, out, x, repeats, axis=None):
    """The sum of each entry's copies: g reshaped so that the axis is split into
    (entry, copy) and summed over the copies, for an int count; the sums of the
    runs `np.add.reduceat(g, starts)` for a list of counts (an entry repeated
    no times gets 0)."""
    counts = repeats.value
    if isinstance(counts, tuple) and len(counts) == 1:
        counts = counts[0]  # NumPy broadcasts one count to every entry
    if not isinstance(counts, tuple):
        return _unrepeat_each(e, g, x, counts, axis)
    starts, runs = [], 0
    for c in counts:
        starts.append(runs)
        runs += c
    kept = [i for i, c in enumerate(counts) if c > 0]
    if not kept:
        return e.call("zeros_like", x)
    first = Const(tuple(starts[i] for i in kept))
    if is_none(axis):  # x flattened
        total = e.call("add_reduceat", g, first)
        if len(kept) < len(counts):
            zeros = e.call("zeros", Const(len(counts)))
            total = e.call("setitem", zeros, Const((tuple(kept),)), total)
        if e.rank(x) == 1:
            return total
        return e.call("reshape", total, _shape(e, x))
    total = e.call("add_reduceat", g, first, axis=axis)
    if len(kept) == len(counts):
        return total
    k = axis.value
    if k >= 0:
        where = (slice(None),) * k + (tuple(kept),)
    else:
        where = (Ellipsis, tuple(kept)) + (slice(None),) * (-k - 1)
    return e.call("setitem", e.call("zeros_like", x), Const(where), total)


def _unrepeat_each(e, g, x, r: int, axis):
    """`np.repeat(x, r, axis)`'s adjoint: each run of r copies summed."""
    if r == 0:
        return e.call("zeros_like", x)
    rank = e.rank(x)
    if is_none(axis):
        total = e.call("sum", e.call("reshape", g, Const((-1, r))), axis=Const(1))
        if rank == 1:
            return total
        return e.call("reshape", total, _shape(e, x))
    k = axis.value
    if rank is None:
        starts = e.call("arange", Const(0), dim(e, g, k), Const(r))
        return e.call("add_reduceat", g, starts, axis=axis)
    k %= rank
    shape = [dim(e, x, i) for i in range(k)] + [Const(-1), Const(r)]
    shape += [dim(e, x, i) for i in range(k + 1, rank)]
    return e.call("sum", e.call("reshape", g, _shape_of(e, shape)), axis=Const(k + 1))


def _repeat_infer(s, out, x, repeats, axis=None):
    if is_none(axis):
        s.set_rank(out, 1)
    elif s.rank(x) is not None:
        s.set_rank(out, s.rank(x))


defprim("repeat", (NP, "repeat"), _unrepeat, None, infer=_repeat_infer)
# `np.add.reduceat(g, starts, axis)`: the sums of runs. Only in backward sweeps
# (the adjoint of np.repeat); a second derivative through it is reported.
defprim("add_reduceat", (NP, "add.reduceat"), None, None)


def _order(e, x, axis):
    """The permutation that sorts x along `axis` (-1, an int or None), ties in
    order of position: `np.argsort(x, axis, kind="stable")`."""
    options = {} if value_of(axis, -1) == -1 else {"axis": axis}
    return e.call("argsort", x, **options, kind=Const("stable"))


def _unsort(e, g, out, x, axis=None, kind=None, stable=None):
    """g scattered back through the sorting permutation: entry i of the result is
    entry order[i] of x (ties in order of position, as the stable sort puts
    them). Along an axis of a matrix or stack, g read through the inverse
    permutation, `np.argsort(order)`."""
    order = _order(e, x, axis)
    k = value_of(axis, -1)
    if k is None or e.rank(x) == 1:
        zeros = e.call("zeros_like", g if k is None else x)
        scattered = e.call("setitem", zeros, order, g)
        if k is None and e.rank(x) != 1:  # x was flattened
            return e.call("reshape", scattered, _shape(e, x))
        return scattered
    inverse = e.call("argsort", order, **({} if k == -1 else {"axis": axis}))
    return e.call("take_along_axis", g, inverse, axis=Const(k))


def sort_jvp(e, t, out, x, axis=None, kind=None, stable=None):
    """The tangent sorted by x's permutation."""
    order = _order(e, x, axis)
    k = value_of(axis, -1)
    if k is not None and e.rank(x) == 1:
        return e.call("getitem", t[0], order)
    return e.call("take_along_axis", t[0], order, axis=Const(k))


def _sort_infer(s, out, x, axis=None, kind=None, stable=None):
    if is_none(axis):
        s.set_rank(out, 1)
    else:
        s.union(out, x)


defprim("sort", (NP, "sort"), _unsort, infer=_sort_infer)
defprim("argsort", (NP, "argsort"), None, infer=_sort_infer)
# `np.take_along_axis(g, inverse, axis)`: g unsorted (and a tangent sorted).
defprim("take_along_axis", (NP, "take_along_axis"), None, None)
defprim(
    "swapaxes",
    (NP, "swapaxes"),
    lambda e, g, out, x, axis1, axis2: e.call("swapaxes", g, axis1, axis2),
    None,
    None,
    infer=lambda s, out, x, axis1, axis2: s.set_rank(out, s.rank(x)),
)


# the entries on and above (below) the k-th diagonal: g's same entries
for _tri in ("triu", "tril"):
    defprim(
        _tri,
        (NP, _tri),
        lambda e, g, out, x, k=0, tri=_tri: e.call(
            tri, g, **({} if k == 0 else {"k": k})
        ),
        infer=lambda s, out, x, k=0: s.union(out, x),
    )


def _atleast_infer(least: int):
    def infer(s, out, x):
        if s.rank(x) is not None:
            s.set_rank(out, max(s.rank(x), least))

    return infer


for _least in (1, 2):
    defprim(
        f"atleast_{_least}d",
        (NP, f"atleast_{_least}d"),
        lambda e, g, out, x: e.call("reshape", g, e.call("shape", x)),
        infer=_atleast_infer(_least),
    )
defprim("shape", (NP, "shape"), None, shape=OTHER)
# Sizes are scalars; what they measure is not (so not shape=SCALAR, which says both are).
defprim("ndim", (NP, "ndim"), None, infer=lambda s, out, x: s.set_rank(out, 0))
defprim("size", (NP, "size"), None, infer=lambda s, out, x: s.set_rank(out, 0))
defprim("len", ("builtin", "len"), None, infer=lambda s, out, x: s.set_rank(out, 0))
defprim("tuple", ("tuple",), shape=OTHER)
defprim("broadcast_to", (NP, "broadcast_to"), None, None)


def _expand_dims_infer(s, out, x, axis):
    import numpy as np

    from ..passes.shapes import numpy_shape

    shape, axis = s.concrete(x), getattr(axis, "value", None)
    if shape is not None and type(axis) is int:
        expanded = numpy_shape(shape, lambda v: np.expand_dims(v, axis))
        if expanded is not None:
            s.fix(out.name, expanded)
    elif s.rank(x) is not None and type(axis) is int:
        s.set_rank(out, s.rank(x) + 1)


defprim("expand_dims", (NP, "expand_dims"), None, None, infer=_expand_dims_infer)
defprim(
    "full_like",
    (NP, "full_like"),
    None,
    None,
    infer=lambda s, out, x, v: s.union(out, x),
)
defprim("copy", ("method", "copy"), None, infer=lambda s, out, x: s.union(out, x))
defprim(
    "unbroadcast",
    ("helper", "_unbroadcast"),
    None,
    None,
    infer=lambda s, out, g, x: s.union(out, x),
)
defprim("ones_like", (NP, "ones_like"), None, infer=lambda s, out, x: s.union(out, x))
defprim("zeros_like", (NP, "zeros_like"), None, infer=lambda s, out, x: s.union(out, x))
# `grad` needs a scalar result; where the shapes cannot prove it, the generated
# code checks it, as JAX does, instead of returning a wrong gradient.
defprim("check_scalar", ("check_scalar",), None, None, None)
# `a @ b` is a scalar exactly when both are vectors: checked without computing it
defprim("check_scalar_matmul", ("check_scalar_matmul",), None, None, None)
# Gradients are taken with respect to floating-point values: the generated code
# checks each differentiated argument (`_check_float("x", x)`), since an integer,
# boolean or complex one would otherwise give a silently wrong "gradient".
defprim("check_float", ("check_float",), None, None)
# A trip of a loop whose values share their shapes, as the gradient derived
# with passes/steady.py takes them to: `same_shapes(*values)`.
defprim("same_shapes", ("same_shapes",))
# ... and its arguments of the ranks that let its products be np.dot
# (`check_ranks(W, h0, ranks=((2,), (1, 2)))`: `W` 2-D, `h0` of rank 1 or 2)
defprim("check_ranks", ("check_ranks",))
# A gradient compiled for example arguments checks at entry that a call brings
# arguments like them (passes/specialize.py): `check_examples(*params, fname, table)`.
defprim("check_examples", ("check_examples",))
# A gradient in its parameter's dtype, where NumPy's promotion may have widened it
# (a float32 `x` meeting a float64 `y`): `d_x = _astype_like(d_x, x)`.
defprim(
    "astype_like",
    ("helper", "_astype_like"),
    lambda e, g, out, a, x: g,
    None,
    infer=lambda s, out, a, x: s.union(out, a),
)
