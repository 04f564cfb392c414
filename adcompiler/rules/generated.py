"""Reverse-mode rules for the primitives generated code is written in.

A generated gradient is itself in the language adcompiler accepts (so
`grad(grad(f))` and `hessian(f)` work): its helpers (`_unbroadcast`,
`_matmul_lhs`, ...) and the NumPy calls the backward sweep writes
(`np.broadcast_to`, `np.full_like`, `np.expand_dims`, `.copy()`) are
primitives, and each gets its vector-Jacobian product here. Most are linear,
so their adjoint is the transposed operation. Their JVP rules are in jvp.py.
"""

from __future__ import annotations

from . import arrays as _arrays  # noqa: F401  (defines the primitives extended here)
from . import numpy as _numpy  # noqa: F401
from .core import PRIMS, defprim


def defvjp(name: str, *rules) -> None:
    PRIMS[name].vjp = tuple(rules)


def _matmul_lhs_g(e, g, out, a, b):
    """out = _matmul_lhs(a, b) = a @ bᵀ (or a ⊗ b for a vector b): ∂/∂a is g @ b."""
    return e.call("matmul", g, b)


def _matmul_lhs_b(e, g, out, a, b):
    return e.call("matmul_lhs_b", a, g, b)


def _matmul_rhs_g(e, g, out, a, b):
    """out = _matmul_rhs(a, b) = aᵀ @ b (or a ⊗ b for a vector a): ∂/∂b is a @ g."""
    return e.call("matmul", a, g)


def _matmul_rhs_a(e, g, out, a, b):
    return e.call("matmul_rhs_a", g, b, a)


defvjp("matmul_lhs", _matmul_lhs_g, _matmul_lhs_b)
defvjp("matmul_rhs", _matmul_rhs_a, _matmul_rhs_g)
# out = _dot_lhs(g, b, a), the adjoint of `a` in np.dot(a, b): linear in g and in b,
# <c, out> = <g, np.dot(c, b)>; `a` gives its shape alone. Likewise _dot_rhs(a, g, b).
defvjp(
    "dot_lhs",
    lambda e, c, out, g, b, a: e.call("dot", c, b),
    lambda e, c, out, g, b, a: e.call("dot_rhs", c, g, b),
    None,
)
defvjp(
    "dot_rhs",
    lambda e, c, out, a, g, b: e.call("dot_lhs", g, c, a),
    lambda e, c, out, a, g, b: e.call("dot", a, c),
    None,
)
defprim("matmul_lhs_b", ("helper", "_matmul_lhs_b"), None, None, None)
# A loop's products `_matmul_lhs(g, b)` (or `_matmul_rhs(a, g)`) summed over its
# trips after it, from the lists of their factors (the `batch` pass).
defprim(
    "matmul_lhs_sum",
    ("helper", "_matmul_lhs_sum"),
    None,
    None,
    None,
    infer=lambda s, out, xs, ys, like: s.union(out, like),
)
# Each trip's value of a loop, stacked for the arithmetic the backward loop does
# on all trips at once (reverse.batch_trips), where shapes are not known.
defprim("stack_trips", ("helper", "_stack_trips"), None)
defprim(
    "unbroadcast_sum",
    ("helper", "_unbroadcast_sum"),
    None,
    None,
    infer=lambda s, out, gs, like: s.union(out, like),
)
defprim(
    "matmul_rhs_sum",
    ("helper", "_matmul_rhs_sum"),
    None,
    None,
    None,
    infer=lambda s, out, xs, ys, like: s.union(out, like),
)
# The same sums where the other factor of each trip is the trip's row `xs[t]` of a
# loop over every row of `xs`: `xs` itself stands for the list of factors.
defprim(
    "matmul_lhs_rows_sum",
    ("helper", "_matmul_lhs_rows_sum"),
    None,
    None,
    None,
    infer=lambda s, out, gs, xs, like: s.union(out, like),
)
defprim(
    "matmul_rhs_rows_sum",
    ("helper", "_matmul_rhs_rows_sum"),
    None,
    None,
    None,
    infer=lambda s, out, xs, gs, like: s.union(out, like),
)
defprim("matmul_rhs_a", ("helper", "_matmul_rhs_a"), None, None, None)
# A loop's products with one invariant operand, made before it (the `hoist` pass):
# `_matmul_rows(a, xs)` stacks `a @ xs[t]`, `_rows_matmul(xs, b)` stacks `xs[t] @ b`.
defprim("matmul_rows", ("helper", "_matmul_rows"), None, None)
defprim("rows_matmul", ("helper", "_rows_matmul"), None, None)

# A matrix summed over its rows, the batch a bias was broadcast along, where
# example arguments tell the shapes (reverse._sum_to): a product with ones.
defprim(
    "sum_over_batch",
    ("helper", "_sum_over_batch"),
    lambda e, g, out, x: e.call("broadcast_like", g, x),
)
# A matrix's sums and means along its rows, np.sum(x, axis=1), where
# passes/products.py finds the axis the last: a product with ones, in their
# helpers. Their adjoints are the sum's and the mean's.
defprim(
    "sum_rows", ("helper", "_sum_rows"), _numpy._sum_vjp, infer=_numpy._reduce_infer
)
defprim(
    "mean_rows", ("helper", "_mean_rows"), _numpy._mean_vjp, infer=_numpy._reduce_infer
)

# Linear maps and their transposes.
defvjp("unbroadcast", lambda e, g, out, t, x: e.call("broadcast_like", g, t), None)
defvjp("broadcast_to", lambda e, g, out, x, shape: e.call("unbroadcast", g, x), None)
defvjp(
    "expand_dims",
    lambda e, g, out, x, axis: e.call("reshape", g, e.call("shape", x)),
    None,
)
defvjp("copy", lambda e, g, out, x: g)
# A gradient that may be an input's array, copied at the return (autodiff/fresh.py):
# `_own(x)` copies an array and passes a Python number through.
defprim(
    "own",
    ("helper", "_own"),
    lambda e, g, out, x: g,
    infer=lambda s, out, x: s.union(out, x),
)
defvjp("full_like", None, lambda e, g, out, x, v: e.call("unbroadcast", g, v))

# The scalar check of a generated gradient, read back: no value, no derivative.
PRIMS["check_scalar"].vjp = (None, None, None)
PRIMS["check_scalar_matmul"].vjp = (None, None, None)
PRIMS["check_float"].vjp = (None, None)

# adcompiler.stop_gradient(x): the identity, with no derivative. Generated code
# calls `_stop_gradient`, written into the module, so that differentiating it
# again still stops there.
defprim(
    "stop_gradient",
    ("helper", "_stop_gradient"),
    None,
    infer=lambda s, out, x: s.union(out, x),
)
