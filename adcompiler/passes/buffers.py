"""Buffer reuse: a large elementwise result goes into an array whose last use has passed.

Every NumPy operation allocates its result. On arrays of a few ten thousand
elements and more, that fresh memory costs time of its own: the elementwise
chain of the benchmarks, 10⁶ elements, runs about 10 % faster when it writes
into the arrays it no longer needs. NumPy already reuses the
temporaries of one expression (`a * b + c`); it cannot reuse a named array
after its last read, nor the operand of a ufunc call (`np.exp(t)`). An expert
writes those by hand:

    t3 = -t2
    np.exp(t3, out=t3)
    t1 = np.sin(x)
    t1 *= t3
    np.subtract(x, t1, out=t1)

This pass does the same, on gradients compiled for example arguments
(`grad(f, example_args=...)`), where the shape facts give each value's shape
and the examples its dtype. A result is written into an array only when all
of this is proven:

- the statement is a NumPy ufunc (arithmetic, `np.exp`, `np.tanh`, ...) at the
  function's top level, and its result is a float array of at least
  `MIN_BYTES`;
- the array has exactly the result's shape and dtype, so `out=` neither
  broadcasts nor casts;
- the array is one this function made (not an argument, a constant or a value
  a tape or a list holds), and no other value may share its memory: no view
  of it (`t.T`), no container holding it, no branch or loop result that may be
  it;
- nothing reads the array after the statement: no later statement, no
  statement nested in a later loop or branch, and not the return.

The array is an operand of the statement where one qualifies (`t *= x`);
otherwise any array whose last read is behind. Codegen writes `t op= b` for
an operand on the left (either side of `+` and `*`), `np.f(..., out=t)`
otherwise, and `v = np.f(..., out=t)` where the result keeps a name of its
own. A vjp's backward may run twice over the forward's arrays, and a generic
gradient knows no shapes: both are left as they are.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..autodiff.fresh import makes_new_array, roots
from ..ir import Assign, Const, Function, Var, reads, walk
from ..rules.core import PRIMS
from .simplify import OPERATORS

# Below this many bytes an allocation costs less than the extra keyword.
MIN_BYTES = 32 * 1024

# The ufunc each arithmetic operator is, by primitive.
OPERATOR_UFUNCS = {
    "add": "add",
    "sub": "subtract",
    "mul": "multiply",
    "div": "divide",
    "pow": "power",
    "neg": "negative",
}
# Operators whose operands may be swapped, bit for bit: `t *= x` for `x * t`.
COMMUTATIVE = {"add", "mul"}
# Results with the dtype NumPy promotion gives their operands.
_PROMOTING = {"matmul", "matmul_lhs", "matmul_rhs", "outer", "dot"}
# Results with their first operand's dtype (where that is a NumPy array).
_LIKE_FIRST = {"T", "transpose", "getitem", "reshape", "copy", "unbroadcast"}
_LIKE_FIRST |= {"expand_dims", "broadcast_to"}
# Reductions, whose dtype NumPy gives for the operand's (a sum of booleans is an int).
_REDUCTIONS = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min}
_REDUCTIONS |= {"var": np.var, "std": np.std, "prod": np.prod}


# Ufuncs whose loop is slower in place: NumPy's vector loop for `np.sign` needs
# a separate output, and in place it branches on every entry (16384 entries of
# either sign: 18 µs into a new array, 102 µs in place).
_SLOWER_IN_PLACE = {"sign"}


def ufunc_name(prim: str) -> str | None:
    """The name under `np` of the ufunc `prim` computes, or None."""
    if prim in OPERATOR_UFUNCS:
        return OPERATOR_UFUNCS[prim]
    form = PRIMS[prim].form
    if form[0] == "np" and isinstance(getattr(np, form[1], None), np.ufunc):
        return form[1]
    return None


def reuse_buffers(fn: Function) -> None:
    """Write large elementwise results of `fn`'s top level into arrays whose
    last use has passed (`out=` on the statement), in place."""
    from . import enabled
    from .specialize import shape_facts

    if not (enabled("buffers") and fn.examples) or fn.backward_params is not None:
        return
    shapes = shape_facts(fn)
    kinds = _kinds(fn)
    stmts = fn.body.stmts
    last: dict[str, float] = {}
    for i, stmt in enumerate(stmts):
        for name in reads(stmt):
            last[name] = i
    for r in fn.body.results:
        if isinstance(r, Var):
            last[r.name] = float("inf")
    owned = _owned(fn)

    def layout(name: str):
        """(shape, dtype) of a large float array, or None."""
        shape, kind = shapes.concrete(Var(name)), kinds.get(name)
        if not shape or not isinstance(kind, np.ndarray) or kind.dtype.kind != "f":
            return None
        if int(np.prod(shape)) * kind.dtype.itemsize < MIN_BYTES:
            return None
        return shape, kind.dtype

    free: list[str] = []  # owned arrays, in order of definition, not yet reused
    for i, stmt in enumerate(stmts):
        if not isinstance(stmt, Assign):
            continue
        want = layout(stmt.out) if _eligible(stmt) else None
        # every NumPy operand of the result's own dtype: the same result under
        # any promotion rules (NumPy 1's value-based casting too)
        if want is not None and all(
            getattr(kinds.get(a.name), "dtype", want[1]) == want[1]
            for a in stmt.args
            if isinstance(a, Var)
        ):
            operands = [a.name for a in stmt.args if isinstance(a, Var)]
            # an operand read here for the last time first, then any dead array
            dead = [n for n in operands if n in free and last.get(n) == i]
            dead += [n for n in free if last.get(n, -1) < i]
            dead = [n for n in dead if layout(n) == want]
            if dead:
                stmt.kwargs = {"out": Var(dead[0])}
                free.remove(dead[0])
        if len(stmt.outs) == 1 and stmt.out in owned:
            free.append(stmt.out)


def _eligible(stmt: Assign) -> bool:
    return (
        len(stmt.outs) == 1
        and not stmt.kwargs
        and ufunc_name(stmt.prim) not in (None, *_SLOWER_IN_PLACE)
        and 1 <= len(stmt.args) <= 2
    )


def _owned(fn: Function) -> set[str]:
    """Top-level values that are new arrays no other value may share memory with."""
    memory = roots(fn)
    shared = {r for name, rs in memory.items() for r in rs if r != name}
    pushed = {
        a.name
        for s in walk(fn.body)
        if isinstance(s, Assign) and s.prim in ("push", "append")
        for a in s.operands()
        if isinstance(a, Var)
    }
    return {
        s.out
        for s in fn.body.stmts
        if isinstance(s, Assign)
        and len(s.outs) == 1
        and makes_new_array(s)
        and memory.get(s.out) == frozenset({s.out})
        and s.out not in shared
        and s.out not in pushed
    }


def _kinds(fn: Function) -> dict[str, object]:
    """A one of each top-level value's kind, where the examples tell it: a 0-d
    array of its dtype for a NumPy value (its dtype decides promotion), a Python
    number for a Python one (which NumPy promotion does not widen to)."""
    from .specialize import FLOAT

    found: dict[str, object] = {}
    for p, ex in fn.examples.items():
        found[p] = 1.0 if ex.kind == FLOAT else np.ones((), ex.dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for stmt in fn.body.stmts:
            if isinstance(stmt, Assign) and len(stmt.outs) == 1:
                kind = _kind(stmt, found)
                if kind is not None:
                    found[stmt.out] = kind
    return found


def _kind(stmt: Assign, found: dict[str, object]):
    first = stmt.args[0] if stmt.args else None
    if stmt.prim in _LIKE_FIRST:  # only the first operand's dtype counts
        kind = found.get(first.name) if isinstance(first, Var) else None
        return kind if isinstance(kind, np.ndarray) else None
    if stmt.prim in _REDUCTIONS:
        kind = found.get(first.name) if isinstance(first, Var) else None
        if not isinstance(kind, np.ndarray):
            return None
        return np.ones((), _REDUCTIONS[stmt.prim](np.ones(1, kind.dtype)).dtype)
    if stmt.prim == "len":
        return 1
    if stmt.kwargs:
        return None
    ops = []
    for a in stmt.args:
        if isinstance(a, Const):
            if not isinstance(a.value, (bool, int, float)):
                return None
            ops.append(a.value)
        elif a.name in found:
            ops.append(found[a.name])
        else:
            return None
    arrays = [o for o in ops if isinstance(o, np.ndarray)]
    try:
        if stmt.prim in OPERATORS:
            value = OPERATORS[stmt.prim](*ops)
        elif ufunc_name(stmt.prim) is not None:
            value = getattr(np, ufunc_name(stmt.prim))(*ops)
        elif stmt.prim in _PROMOTING and len(arrays) == len(ops) == 2:
            value = np.ones((), np.result_type(*arrays))
        else:
            return None
    except Exception:  # noqa: BLE001 - what NumPy refuses teaches nothing
        return None
    if isinstance(value, (np.ndarray, np.generic)):
        return np.ones((), value.dtype)
    return value if isinstance(value, (bool, int, float)) else None
