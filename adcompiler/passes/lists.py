"""The adjoint of a list built by `append` shrinks in place: `d_h = d_hs.pop()`.

The adjoint of `xs_1 = append(xs, x)` is `g[:-1]` for `xs` and `g[-1]` for
`x` (rules/arrays.py). Where `g` is a NumPy array (the list was stacked) the
slice is a view and costs nothing; where it is a Python list, the slice is a
copy, and a loop that appends once a trip would copy its adjoint list on
every backward trip: T trips, O(T²). An expert pops the last entry instead:

    d_h_2 = d_hs_1.pop()

This pass does that where it is proven right: `g` is a Python list that the
backward sweep made itself (`_zeros_list`, `_repeat_like`, `_split_like`,
`_add_each`, updated in place since by `d[i] += v`, or carried through loops
and branches from one of those), that no other name holds, and that nothing but the two
reads of the `append`'s adjoint reads (a branch that does not append may
yield it unread). `rest = g[:-1]` then names `g` itself, shrunk by the pop;
the IR keeps it under one name, as the tape a backward loop pops from.
Anything else (an array, a cotangent a vjp's caller passes, a list read
once more) keeps the slice.
"""

from __future__ import annotations

from ..ir import Assign, Block, Const, Function, If, Loop, Var, rename, uses, walk

# Helpers that return a new Python list (helpers.HELPERS)
_NEW_LISTS = {"zeros_list", "repeat_list", "split_like", "add_each"}
# Updates in place of a buffer: the result is the operand's memory
_UPDATES = {"index_add"}
_REST = slice(None, -1, None)


def pop_list_adjoints(fn: Function) -> None:
    """Rewrite `rest = g[:-1]` (and `item = g[-1]`) into `item = g.pop()` where `g`
    is a list this function owns alone, read by nothing else."""
    from . import enabled

    if not enabled("inplace"):
        return
    while _rewrite_one(fn):
        pass


def _constant_item(stmt, kind: type):
    """The constant key of `out = g[key]`, a key of type `kind`; else None."""
    if not (
        isinstance(stmt, Assign)
        and stmt.prim == "getitem"
        and len(stmt.args) == 2
        and not stmt.kwargs
        and isinstance(stmt.args[0], Var)
        and isinstance(stmt.args[1], Const)
        and type(stmt.args[1].value) is kind
    ):
        return None
    return stmt.args[1].value


def _is_rest(stmt) -> bool:
    return _constant_item(stmt, slice) == _REST


def _is_last(stmt, g: Var) -> bool:
    return _constant_item(stmt, int) == -1 and stmt.args[0] == g


def _blocks(block: Block):
    """Each block, nested ones too, with the `If` holding it (None if none)."""
    yield block, None
    for stmt in block.stmts:
        if isinstance(stmt, If):
            for b in (stmt.then, stmt.orelse):
                for inner, holder in _blocks(b):
                    yield inner, holder if inner is not b else stmt
        elif isinstance(stmt, Loop):
            if stmt.cond is not None:
                yield from _blocks(stmt.cond)
            yield from _blocks(stmt.body)


def _rewrite_one(fn: Function) -> bool:
    """One rewrite, the first found; False if none is left."""
    counts = uses(fn.body)
    owned = _owned(fn, counts)
    pops = _pops(fn)
    for block, holder in _blocks(fn.body):
        for k, stmt in enumerate(block.stmts):
            if not _is_rest(stmt) or stmt.args[0].name not in owned:
                continue
            g = stmt.args[0]
            lasts = [j for j, s in enumerate(block.stmts) if _is_last(s, g)]
            passed = _passed_unread(holder, block, g, stmt.out)
            reads = 1 + len(lasts) + len(passed) + pops.get(g.name, 0)
            if len(lasts) > 1 or counts.get(g.name, 0) != reads:
                continue
            outs: tuple = ()
            at = k
            if lasts:
                outs = block.stmts[lasts[0]].outs
                at = min(k, lasts[0])
            pop = Assign(outs, "pop", (g,), {}, stmt.loc)
            drop = {k, *lasts} - {at}
            block.stmts[at] = pop
            block.stmts = [s for j, s in enumerate(block.stmts) if j not in drop]
            rename(fn.body, {stmt.out: g.name})
            return True
    return False


def _pops(fn: Function) -> dict[str, int]:
    """How many times each list is popped (tapes included)."""
    found: dict[str, int] = {}
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.prim == "pop" and isinstance(s.args[0], Var):
            found[s.args[0].name] = found.get(s.args[0].name, 0) + 1
    return found


def _passed_unread(holder, block: Block, g: Var, rest: str) -> list:
    """Where `block` is a branch of `holder` and yields `rest`, the other
    branch's results that are `g` itself at those positions: after the `if`
    its value is `g`, popped or not, and no other name holds it."""
    if holder is None:
        return []
    other = holder.orelse if block is holder.then else holder.then
    return [
        k
        for k, (mine, theirs) in enumerate(zip(block.results, other.results))
        if mine == Var(rest) and theirs == g
    ]


def _owned(fn: Function, counts: dict) -> set[str]:
    """The values that are Python lists the backward sweep made and that no
    other name holds: each is read once as a value (by its update in place, the
    loop or branch taking it over, or the slice `g[:-1]` a pop replaces), and
    otherwise only by pops and by `g[-1]` next to that slice. Loops carry an
    owned list where their first value is one and each trip's is, assuming
    the carried value is (the largest such set: a fixpoint from above)."""
    pops = _pops(fn)
    paired: dict[str, int] = {}  # g -> its reads `g[-1]` next to a `g[:-1]`
    for block, _ in _blocks(fn.body):
        rests = {s.args[0].name for s in block.stmts if _is_rest(s)}
        for s in block.stmts:
            if isinstance(s, Assign) and s.args and _is_last(s, s.args[0]):
                if s.args[0].name in rests:
                    paired[s.args[0].name] = paired.get(s.args[0].name, 0) + 1

    def moves(name: str) -> int:  # reads that hand the value on
        return counts.get(name, 0) - pops.get(name, 0) - paired.get(name, 0)

    rules: dict[str, object] = {}
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and len(stmt.outs) == 1:
            if stmt.prim in _NEW_LISTS:
                rules[stmt.out] = True
            elif stmt.prim in _UPDATES:
                rules[stmt.out] = ("from", stmt.args[0])
            elif _is_rest(stmt):  # a copy of a list, or the list itself once popped
                rules[stmt.out] = ("rest", stmt.args[0])
        elif isinstance(stmt, Loop):
            for c, init, r, o in zip(
                stmt.carried, stmt.inits, stmt.body.results, stmt.outs
            ):
                rules[c] = ("loop", init, r, c)
                rules[o] = ("same", Var(c))
        elif isinstance(stmt, If):
            for o, a, b in zip(stmt.outs, stmt.then.results, stmt.orelse.results):
                rules[o] = ("if", a, b)

    owned = set(rules)

    def has(a) -> bool:
        return isinstance(a, Var) and a.name in owned

    def alone(a) -> bool:
        return has(a) and moves(a.name) == 1

    def holds(name: str) -> bool:
        rule = rules[name]
        if rule is True:
            return True
        kind, *args = rule
        if kind == "from":
            return alone(args[0])
        if kind in ("same", "rest"):
            return has(args[0])
        if kind == "loop":
            init, r, c = args
            return alone(init) and (r == Var(c) or alone(r))
        a, b = args
        if isinstance(a, Var) and a == b:  # both branches pass it on
            return has(a) and moves(a.name) == 2
        return alone(a) and alone(b) or _rest_or_self(a, b, has, moves, rules)

    changed = True
    while changed:
        changed = False
        for name in list(owned):
            if not holds(name):
                owned.discard(name)
                changed = True
    return owned


def _rest_or_self(a, b, has, moves, rules) -> bool:
    """One branch yields `g[:-1]` (a pop to be), the other `g` itself, read by
    nothing else: after the `if`, the value is `g`."""
    for rest, g in ((a, b), (b, a)):
        rule = rules.get(getattr(rest, "name", None))
        if (
            isinstance(rule, tuple)
            and rule[0] == "rest"
            and rule[1] == g
            and has(rest)
            and has(g)
            and moves(g.name) == 2
            and moves(rest.name) == 1
        ):
            return True
    return False
