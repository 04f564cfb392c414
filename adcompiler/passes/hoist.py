"""Loop-invariant products of a loop's rows, computed once before the loop.

An RNN's input projection `U @ xs[t]`, in `for t in range(len(xs))`, is one
matrix-vector product per trip with the same `U`; an expert computes all of
them before the loop as one matrix product, `xs @ U.T`, and reads row `t` in
the loop. This pass does the same on the differentiated function, so the
forward sweep reads `U_xs[t]` of `U_xs = _matmul_rows(U, xs)`; the backward sweep
is unchanged (it still has `xs[t]` for the adjoint of `U`).

Only loops that visit every row qualify: `range(len(xs))` or
`range(np.shape(xs)[0])`, from 0 by 1, without `break`, so the rows computed
ahead are exactly the rows the loop would multiply (an operand that does not
fit raises NumPy's error before the loop instead of in it). The product must
sit directly in the loop's body, not under an `if`, and neither its other
operand nor `xs` may change in the loop. The helpers fall back to one product
per row where ranks do not allow one product (see codegen's `_matmul_rows`).

With example arguments that show the shapes, the product is written as NumPy
(`U_xs = xs @ U.T`, no helper), and an invariant addend of the trip's sum
joins it before the loop (`U_xs_b = U_xs + b`; see `_fold_addend`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Assign, Block, Const, If, Loop, Var, defs, uses, walk
from .simplify import is_number


def hoist_products(block: Block, names, facts=None) -> None:
    """Hoist row products out of every loop in `block`, in place; `names` gives
    fresh names. `facts`: shape facts from example arguments, which let an
    invariant addend join the hoisted products (see `_fold_addend`)."""
    from . import enabled

    if enabled("hoist"):
        _block(block, _Context(names, facts, uses(block)), {})
        if enabled("dce"):  # a row the hoisted product read may be read no more
            from .dce import dce

            block.stmts = dce(block).stmts


def _block(block: Block, ctx, lengths: dict[str, str]) -> None:
    lengths = dict(lengths)  # name -> the array whose length it is
    shapes: dict[str, str] = {}  # name -> the array whose shape it is
    stmts = []
    for stmt in block.stmts:
        if isinstance(stmt, Assign) and len(stmt.outs) == 1:
            _note_length(stmt, lengths, shapes)
        elif isinstance(stmt, If):
            _block(stmt.then, ctx, lengths)
            _block(stmt.orelse, ctx, lengths)
        elif isinstance(stmt, Loop):
            _block(stmt.body, ctx, lengths)
            stmts.extend(_hoist(stmt, ctx, lengths))
        stmts.append(stmt)
    block.stmts = stmts


def _note_length(stmt: Assign, lengths: dict, shapes: dict) -> None:
    """Record `n = len(xs)`, `s = np.shape(xs)` and `n = s[0]`."""
    arg = stmt.args[0] if stmt.args else None
    if not isinstance(arg, Var):
        return
    if stmt.prim == "len":
        lengths[stmt.out] = arg.name
    elif stmt.prim == "shape":
        shapes[stmt.out] = arg.name
    elif (
        stmt.prim == "getitem"
        and arg.name in shapes
        and len(stmt.args) == 2
        and stmt.args[1] == Const(0)
    ):
        lengths[stmt.out] = shapes[arg.name]


def lengths_of(block: Block) -> dict[str, str]:
    """`{n: "xs"}` for each `n = len(xs)` (or `np.shape(xs)[0]`) of `block`'s top level."""
    lengths: dict[str, str] = {}
    shapes: dict[str, str] = {}
    for stmt in block.stmts:
        if isinstance(stmt, Assign) and len(stmt.outs) == 1:
            _note_length(stmt, lengths, shapes)
    return lengths


def row_loop(loop: Loop, lengths: dict[str, str]) -> tuple[str | None, set[str]]:
    """`(xs, rows)` for a loop that visits every row of an array `xs` once, in
    order, and does not change it: `for t in range(len(xs))` from 0 by 1, without
    `break`; `rows` names the values `xs[t]` of its body. `(None, set())` otherwise."""
    if not (
        loop.index is not None
        and not loop.reverse
        and loop.cond is None
        and loop.brk is None
        and loop.start == Const(0)
        and loop.step == Const(1)
        and isinstance(loop.stop, Var)
        and loop.stop.name in lengths
    ):
        return None, set()
    xs = lengths[loop.stop.name]
    if xs in trip_values(loop):
        return None, set()
    rows = {
        s.out
        for s in loop.body.stmts
        if isinstance(s, Assign)
        and s.prim == "getitem"
        and s.args == (Var(xs), Var(loop.index))
        and "any" not in s.kwargs  # a row of a container of arrays
        and len(s.outs) == 1
    }
    return xs, rows


def _hoist(loop: Loop, ctx, lengths: dict[str, str]) -> list[Assign]:
    """The statements to put before `loop`, after rewriting its row products to read them."""
    names = ctx.names
    xs, rows = row_loop(loop, lengths)
    if xs is None:
        return []
    varying = trip_values(loop)
    before: list[Assign] = []
    products: dict[tuple, str] = {}  # (helper, other operand) -> the stacked products
    for k, s in enumerate(loop.body.stmts):
        if not (isinstance(s, Assign) and s.prim == "matmul" and not s.kwargs):
            continue
        a, b = s.args
        if isinstance(b, Var) and b.name in rows and _invariant(a, varying):
            helper, operands = "matmul_rows", (a, Var(xs))  # a @ xs[t]
        elif isinstance(a, Var) and a.name in rows and _invariant(b, varying):
            helper, operands = "rows_matmul", (Var(xs), b)  # xs[t] @ b
        else:
            continue
        key = (helper, operands)
        if key not in products:
            products[key] = names.fresh(_label(operands, names.taken))
            before += _stacked(products[key], helper, operands, ctx, s.loc)
        index = (Var(products[key]), Var(loop.index))
        loop.body.stmts[k] = Assign(
            s.outs, "getitem", index, {"basic": Const(True)}, s.loc
        )
        _fold_addend(loop, k, products[key], helper, operands, varying, ctx, before)
    return before


def _stacked(out: str, helper: str, operands, ctx, loc) -> list[Assign]:
    """`U_xs = _matmul_rows(U, xs)`; where example arguments show `xs` a matrix
    and `U` a matrix (or `xs[t] @ b` with `b` a matrix or a vector), the one
    product the helper would make, as an expert writes it: `U_xs = xs @ U.T`."""
    facts = ctx.facts
    if facts is not None:
        if helper == "matmul_rows" and _ranks(facts, operands) == (2, 2):
            a, xs = operands
            t = ctx.names.temp()
            return [
                Assign((t,), "T", (a,), {}, loc),
                Assign((out,), "matmul", (xs, Var(t)), {}, loc),
            ]
        if helper == "rows_matmul" and _ranks(facts, operands) in ((2, 1), (2, 2)):
            return [Assign((out,), "matmul", operands, {}, loc)]
    return [Assign((out,), helper, operands, {}, loc)]


def _ranks(facts, operands) -> tuple:
    return tuple(facts.rank(o) if isinstance(o, Var) else None for o in operands)


@dataclass
class _Context:
    """What the rewrites of every loop share: fresh names, the shape facts of
    example arguments (or None), and how often each value is read."""

    names: object
    facts: object
    counts: dict[str, int]


def _fold_addend(loop, k, table, helper, operands, varying, ctx, before) -> None:
    """`W @ h + U_xs[t] + b`, with `b` invariant: `b` is added to every row at
    once before the loop (`U_xs_b = U_xs + b`), and the trip reads
    `W @ h + U_xs_b[t]`, one addition a trip fewer, as an expert writes it.

    That reassociates a floating-point sum, `(p + r) + b` into `p + (r + b)`,
    which changes the last bits of the value, as the hoisted product itself
    does (one matrix product rounds differently from T vector products).
    Only with example arguments: the shapes must show the stacked products
    are one array (not the helpers' list of rows) and that `b` fits into a
    row, so that `(U_xs + b)[t]` is `U_xs[t] + b`. The partial sum `p + r`
    must be read by nothing else (a tape that saves it keeps it)."""
    facts, counts = ctx.facts, ctx.counts
    body = loop.body.stmts
    row = body[k].out
    if facts is None or counts.get(row) != 1:
        return
    first = _reader(body, row)
    if first is None or first.prim != "add" or counts.get(first.out) != 1:
        return
    second = _reader(body, first.out)
    if second is None or second.prim != "add" or second.kwargs or first.kwargs:
        return
    b = second.args[1] if second.args[0] == Var(first.out) else second.args[0]
    if not _invariant(b, varying) or isinstance(b, Const) and not is_number(b):
        return
    xs, other = (operands[1], operands[0]) if helper == "matmul_rows" else operands
    row_shape = facts.concrete(Var(row))
    b_shape = () if isinstance(b, Const) else facts.concrete(b)
    if not (facts.rank(xs) == 2 and facts.rank(other) in (1, 2)):
        return  # the helper may return a list of rows
    if not row_shape or b_shape is None or len(b_shape) > len(row_shape):
        return
    if any(n not in (1, m) for n, m in zip(b_shape[::-1], row_shape[::-1])):
        return  # `b` would broadcast a row to another shape
    label = f"{table}_{b.name}" if isinstance(b, Var) else f"{table}_plus"
    folded = ctx.names.fresh(label)
    before.append(Assign((folded,), "add", (Var(table), b), {}, second.loc))
    index = (Var(folded), Var(loop.index))
    body[k] = Assign((row,), "getitem", index, {"basic": Const(True)}, body[k].loc)
    first.outs = second.outs  # `p + U_xs_b[t]` is the sum `b` was added to
    body.remove(second)


def _reader(stmts, name: str):
    """The statement of `stmts` that reads `name`, if one does."""
    return next(
        (s for s in stmts if isinstance(s, Assign) and Var(name) in s.operands()),
        None,
    )


def trip_values(loop: Loop) -> set[str]:
    """The names a loop's trips (re)bind: its index, carried values and body values."""
    varying = {loop.index, *loop.carried}
    for stmt in walk(loop.body):
        varying.update(defs(stmt))
    return varying


def _label(operands, taken) -> str:
    """`U_xs` for U @ xs[t] (`xs_U` for xs[t] @ U, or `xs_at_U` where the batch
    pass took that name for the list of a loop's rows)."""
    if not all(isinstance(o, Var) for o in operands):
        return "rows"
    left, right = (o.name for o in operands)
    plain = f"{left}_{right}"
    return plain if plain not in taken else f"{left}_at_{right}"


def _invariant(a, varying: set[str]) -> bool:
    return not isinstance(a, Var) or a.name not in varying
