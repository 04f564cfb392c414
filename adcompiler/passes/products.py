"""Matrix products written `a.dot(b)` where the operands' ranks allow it.

`a @ b` goes through NumPy's matmul ufunc: type resolution and a loop over
the stacks of matrices cost about 0.4 µs a call before BLAS starts, as much
as the product itself for a 32×32 matrix and a vector (measured with NumPy
2.4: 0.87 µs for `W @ h`, 0.48 µs for `W.dot(h)`). `np.dot` calls BLAS
directly. The two agree whenever `b` is a vector or a matrix and `a` is not
a scalar: np.dot then contracts `a`'s last axis with `b`'s first, which is
what matmul does, stacks of `a` included. They differ for a stack `b`, and
np.dot multiplies by a scalar where matmul raises; so a product is rewritten
only where the shape facts (passes/shapes.py) give `b` rank 1 or 2 and `a`
a rank of at least 1. The adjoints' own products are written that way by the
rules (rules/numpy.py `matrix_product`), which know the primal's ranks.

Codegen writes `np.dot(a, b)` as the method `a.dot(b)` where `a` is certainly
a NumPy value (the function's call costs another 0.2 µs).

A matrix's row sums, `np.sum(x, axis=1)` (a softmax's normalizer, the adjoint
of `x - m` for a kept `m`), are a product with ones too: NumPy's reduction
starts anew for each row, which on short rows costs more than the sum itself
(measured with NumPy 2.4, one thread: an 8×4 matrix 1.14 µs against 0.53 µs
for `x.dot(ones)`, 64×10 2.3 µs against 0.63, 1000×10 20.6 µs against 2.8).
`_sum_rows` (helpers.py) takes that path for a float matrix with rows of up to
1024 entries and calls np.sum for anything else, so a sum is rewritten where
its axis is 1 or -1 and its operand may be a matrix: of rank 2, or of a rank
not known. A mean along the rows (a layer norm's) is `_mean_rows`, the sum
divided by the rows' length as np.mean divides it, without np.mean's Python
wrapper: 1.8 µs against 3.0 µs for 8×4, 4.6 µs against 22.9 for 1000×10.
"""

from __future__ import annotations

from ..ir import Assign, Const, Function, walk


def dot_products(fn: Function) -> None:
    """Rewrite `fn`'s matrix products of a vector or matrix `b` as `np.dot`, and its
    sums along the rows of what may be a matrix as `_sum_rows`, in place."""
    from . import enabled
    from .specialize import shape_facts

    if not enabled("dot"):
        return
    facts = shape_facts(fn)
    for stmt in walk(fn.body):
        if not (isinstance(stmt, Assign) and stmt.prim == "matmul"):
            continue
        if len(stmt.args) != 2 or stmt.kwargs:
            continue
        a, b = stmt.args
        rank_a, rank_b = facts.rank(a), facts.rank(b)
        if rank_b in (1, 2) and rank_a is not None and rank_a >= 1:
            stmt.prim = "dot"
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and _row_sum(stmt, facts):
            stmt.prim = {"sum": "sum_rows", "mean": "mean_rows"}[stmt.prim]


def _row_sum(stmt: Assign, facts) -> bool:
    """Whether `stmt` sums or averages a value that may be a matrix along its rows
    (axis 1 or -1)."""
    if (
        stmt.prim not in ("sum", "mean")
        or len(stmt.args) != 1
        or set(stmt.kwargs) - {"axis", "keepdims"}
    ):
        return False
    axis, keep = stmt.kwargs.get("axis"), stmt.kwargs.get("keepdims", Const(False))
    if not (isinstance(axis, Const) and isinstance(keep, Const)):
        return False
    if type(axis.value) is not int or axis.value not in (1, -1):
        return False
    return type(keep.value) is bool and facts.rank(stmt.args[0]) in (2, None)
