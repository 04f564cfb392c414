"""A returned gradient owns its memory.

Simplification can make a gradient one of the function's own inputs: the
gradient of `np.sum(x * y)` with respect to `x` is `y`. Returned as it is,
the caller's array would be the gradient, and an update of the gradient in
place (`d_x *= lr`) would change the caller's `y`. JAX's arrays cannot be
updated, and PyTorch returns new tensors; here a gradient that may share
memory with an input (an argument, a constant, a vjp's cotangent; a view of
one, such as `y.T` or `y[0]`; or a branch, a loop or a `max` that may pass
one on) is copied once, at the return: `d_x = y.copy()`. So is a gradient
that is the same array as an earlier one (`d_x` and `d_z` both the
`np.ones_like(x)` of two sums).

A value the shape facts know to be a scalar is not copied (a Python float
cannot be updated in place). Where its rank is unknown, the value may be a
Python float, and `_own(y)` copies only an array.
"""

from __future__ import annotations

from ..ir import Assign, Atom, Function, If, Loop, Var, rename, walk
from ..rules.core import MATMUL_HELPERS, PRIMS, VIEWS

# What these compute is a new array (or a new Python number), never an input's memory.
_FRESH_KINDS = {"binop", "unary", "compare", "boolop"}
_FRESH = MATMUL_HELPERS | {
    "copy",
    "float",
    "int",
    "len",
    "sum_list",
    "unbroadcast_sum",
    "zeros_list",
    "zeros_any",
    "undiagonal",
    "untile",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "column_stack",
    "concat_part",  # np.take of a range: a copy
    "joined_part",
    "tensordot_lhs",  # a transpose of a new array
    "tensordot_rhs",
    "kron_lhs",
    "kron_rhs",
    "cumprod_vjp",
    "cumprod_jvp",
    "pad",
    "quantile_weights",
    "unaccumulate",
}


# What these return shares memory with their first operand at most: a view of it
# whatever the index or shape (`_unbroadcast(g, x)` is `g` or a sum of it); a
# buffer the sweep updates; `_astype_like(g, x)`, `_broadcast_like(t, x)`, a field.
_FIRST_ONLY = VIEWS | {
    "index_add",
    "index_add_at",
    "index_add_any",
    "iadd",
    "astype_like",
    "broadcast_like",
    "getattr",
}


def makes_new_array(stmt: Assign) -> bool:
    """Whether `stmt`'s result is a new array (or Python number), never an operand's memory."""
    kind = PRIMS[stmt.prim].form[0]
    if kind == "setitem":  # codegen copies an array it does not own before writing
        return True
    if stmt.prim in _FRESH or kind in _FRESH_KINDS:
        return True
    return kind == "np" and stmt.prim not in VIEWS  # np.transpose: a view


def _inputs(fn: Function) -> set[str]:
    """What the caller hands in: arguments, constants, a vjp's cotangents."""
    return {*fn.params, *fn.constants, *(fn.backward_params or ())}


INPUT = "<an input>"  # the root of every input, and of what a tape may hold


def roots(fn: Function, apart: bool = False, updates=None) -> dict[str, frozenset]:
    """For each value of `fn`, the arrays whose memory it may be: itself where
    it is computed new, INPUT where it may be (a view of) an input.

    With `apart`, each input is a root of its own, named by it, and an array
    a loop made on an earlier trip is told from this trip's (`_made_in`). `updates` maps
    the `id` of a statement that writes into an operand's memory, as Python's
    `y += x` does (inplace.py), to that operand: its result is that memory.
    """
    found: dict[str, frozenset] = {}
    for name in _inputs(fn):
        found[name] = frozenset({name if apart else INPUT})

    def of(atoms) -> frozenset:
        return frozenset().union(
            *(found.get(a.name, frozenset()) for a in atoms if isinstance(a, Var))
        )

    changed = True
    while changed:
        before = dict(found)
        for stmt in walk(fn.body):
            if isinstance(stmt, Assign):
                if stmt.prim == "pop":
                    new = frozenset({INPUT})
                elif updates and id(stmt) in updates:
                    new = of([updates[id(stmt)]])
                elif makes_new_array(stmt):
                    new = frozenset(stmt.outs)
                else:
                    read = (
                        stmt.args[:1] if stmt.prim in _FIRST_ONLY else stmt.operands()
                    )
                    new = of(read)
                for o in stmt.outs:
                    found[o] = found.get(o, frozenset()) | new
            elif isinstance(stmt, If):
                for i, o in enumerate(stmt.outs):
                    new = of([stmt.then.results[i], stmt.orelse.results[i]])
                    found[o] = found.get(o, frozenset()) | new
            elif isinstance(stmt, Loop):
                made = _made_in(stmt) if apart else set()
                for i, o in enumerate(stmt.outs):
                    back = of([stmt.body.results[i]])
                    new = of([stmt.inits[i]]) | {
                        r + "'" if r in made else r for r in back
                    }
                    for n in (o, stmt.carried[i]):
                        found[n] = found.get(n, frozenset()) | new
        changed = found != before
    return found


def _made_in(loop: Loop) -> set[str]:
    """The arrays a loop's statements make. An array made on an earlier trip
    is not the one the same statement makes on this trip: what the loop passes
    on holds `r'`, an earlier `r`, and so does what leaves it."""
    parts = [p for p in (loop.cond, loop.body) if p is not None]
    return {o for p in parts for s in walk(p) if isinstance(s, Assign) for o in s.outs}


def own_gradients(fn: Function, first: int, count: int, shapes, names) -> list[Atom]:
    """Copy each of the `count` gradients from result `first` on that may share
    memory with an input, or that an earlier gradient is too, in place; returns
    the gradients as they now are. A container's gradient (`_grad_like`) has its
    leaves copied."""
    memory = roots(fn)
    inputs = _inputs(fn)
    defs = {o: s for s in fn.body.stmts for o in s.outs}
    where = {o: s.loc for s in walk(fn.body) for o in s.outs if s.loc is not None}
    copies: list = []

    def owned(a: Atom) -> Atom:
        """`a`, or a copy of it where it may be an input's array, or an array an
        earlier gradient may be (`seen`)."""
        if not isinstance(a, Var):
            return a
        mine = memory.get(a.name, frozenset())
        if not mine & (seen | {INPUT}):
            seen.update(mine)
            return a
        rank = shapes.rank(a)
        if rank == 0:
            return a
        out, loc = names.temp(), where.get(a.name, fn.loc)
        if a.name not in inputs and returned.count(a) == 1:
            # the copy takes the gradient's name (`d_x`); a value returned twice
            # (d_x and d_y both `Y.T`) keeps its own, for the second copy
            rename(fn.body, {a.name: out})
            shapes.union(Var(out), a)
            a, out = Var(out), a.name
        prim = "copy" if rank is not None else "own"
        copies.append(Assign((out,), prim, (a,), {}, loc))
        shapes.union(Var(out), a)
        return Var(out)

    results = list(fn.body.results)
    returned = list(results)
    seen: set = set()  # the arrays the gradients so far may be
    for i in range(first, first + count):
        r = results[i]
        built = defs.get(r.name) if isinstance(r, Var) else None
        if isinstance(built, Assign) and built.prim == "grad_like":
            before = len(copies)
            leaves = tuple(owned(a) for a in built.args[1:])
            if len(copies) > before:  # the container is built after its copies
                fn.body.stmts.remove(built)
                built.args = built.args[:1] + leaves
                copies.append(built)
        else:
            results[i] = owned(r)
    fn.body.stmts.extend(copies)
    fn.body.results = tuple(results)
    return results[first : first + count]
