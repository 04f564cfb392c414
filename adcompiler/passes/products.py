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
"""

from __future__ import annotations

from ..ir import Assign, Function, walk


def dot_products(fn: Function) -> None:
    """Rewrite `fn`'s matrix products of a vector or matrix `b` as `np.dot`, in place."""
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
