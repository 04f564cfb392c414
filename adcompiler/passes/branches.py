"""Conditional expressions on one condition become one `if` statement.

The adjoint of Python's `max(y, z)` is three conditional expressions on the
comparison that decided it: the forward pick `z if c else y`, and each
argument's share of the adjoint, `g if c else 0.0` and `0.0 if c else g`. An
expert writes one `if` instead, and adds the shares where they are known:

    if z > y:          # where the compiler had written
        t3 = z         #   t3 = z if c else y
        d_z = t1       #   d_z = t1 if c else 0.0
        d_y = z        #   d_y = (0.0 if c else t1) + t3
    else:
        d_y = t1 + y
        t3 = y
        d_z = 0.0

This pass does the same, on any block: the conditional expressions on one
condition (`select` statements) and the `if`s on it whose branches compute
plain values (a forward `if` and its backward `if`), with the cheap
arithmetic that reads them (`+ - * /` and negation), become one `If` whose
branches compute each value with the condition known. The arithmetic is
emitted through the emitter, so `0.0 + z` there is `z`; arithmetic that
simplifies in neither branch, and that nothing conditional reads, stays
after the `if`. What a member `if` computes keeps its name: a later `if` on
the same condition may read it. Only one branch runs, so nothing is
computed that was not computed before, and each value is the one its
expression gave.

A group ends at the first statement that reads one of its values without
joining it (a call, a loop, a branch, a conditional expression on another
condition) and at any statement with an effect (a check, a vjp's
`begin_backward`); the `if` is placed there, after every statement the
group reads. A single conditional member stays as it is. (Codegen then
returns from each branch of an `if` that ends a function.)
"""

from __future__ import annotations

from ..ir import Assign, Block, If, Loop, Var, reads, uses
from .dce import IMPURE

# Arithmetic cheap enough to write in both branches: only one of them runs.
CHEAP = {"add", "sub", "mul", "div", "neg"}


def group_selects(block: Block, names) -> None:
    """Group conditional expressions on one condition into `if`s, in place, in every block."""
    from . import enabled

    if enabled("branches"):
        _block(block, names)


def _read_counts(stmt) -> dict[str, int]:
    """How many times `stmt` reads each name, in its branches too."""
    if isinstance(stmt, If):
        return uses(Block([stmt]))
    counts: dict[str, int] = {}
    for a in stmt.operands():
        if isinstance(a, Var):
            counts[a.name] = counts.get(a.name, 0) + 1
    return counts


def _defined(stmt) -> list[str]:
    """What a member defines: its outputs, and what an `if` computes in its
    branches, which a later `if` on the same condition may read by name."""
    if isinstance(stmt, If):
        inner = [o for s in stmt.then.stmts + stmt.orelse.stmts for o in s.outs]
        return list(stmt.outs) + inner
    return list(stmt.outs)


def _on(stmt) -> str | None:
    """The condition's name when `stmt` is conditional on a variable `c`: a
    conditional expression `a if c else b`, or an `if c` whose branches compute
    plain values (no loop, no nested `if`, nothing with an effect)."""
    if (
        isinstance(stmt, Assign)
        and stmt.prim == "select"
        and len(stmt.outs) == 1
        and isinstance(stmt.args[0], Var)
    ):
        return stmt.args[0].name
    if isinstance(stmt, If) and isinstance(stmt.cond, Var):
        for s in stmt.then.stmts + stmt.orelse.stmts:
            if not isinstance(s, Assign) or len(s.outs) != 1 or s.prim in IMPURE:
                return None
        return stmt.cond.name
    return None


def _block(block: Block, names) -> None:
    for stmt in block.stmts:
        if isinstance(stmt, If):
            _block(stmt.then, names)
            _block(stmt.orelse, names)
        elif isinstance(stmt, Loop):
            _block(stmt.body, names)
    out: list = []
    groups: dict[str, list] = {}  # condition -> its open group, oldest first
    group_of: dict[str, str] = {}  # a member's value -> its group's condition

    def close(cond: str) -> None:
        for s in groups[cond]:
            for o in _defined(s):
                del group_of[o]
        out.extend(_close(groups.pop(cond), cond, block, names))

    for stmt in block.stmts:
        if isinstance(stmt, Assign) and stmt.prim in IMPURE:
            for cond in list(groups):  # nothing moves across an effect: a check
                close(cond)  # raises first, a vjp's backward begins after
        touched = {group_of[n] for n in reads(stmt) if n in group_of}
        cond = _on(stmt)
        if cond is None and isinstance(stmt, Assign) and stmt.prim in CHEAP:
            # arithmetic on one group's values joins it (`0.0 + z` in a branch is `z`)
            cond = next(iter(touched)) if len(touched) == 1 else None
        for other in [c for c in groups if c in touched and c != cond]:
            close(other)  # its values are read here: its `if` goes first
        if cond is not None:
            groups.setdefault(cond, []).append(stmt)
            group_of.update((o, cond) for o in _defined(stmt))
            continue
        out.append(stmt)
    for cond in list(groups):
        close(cond)
    block.stmts = out


def _close(group: list, cond: str, block: Block, names) -> list:
    """The group's statements as they were, or one `If` computing them.

    Arithmetic that simplifies in neither branch, and that no conditional
    member reads, stays after the `if`, reading what the `if` picked: written
    twice it would only be longer."""
    if sum(1 for s in group if not _cheap(s)) < 2:
        return group
    branch, kept = _branches(group, cond, block, names)
    members = {o for s in group for o in s.outs}
    needed: set[str] = set()  # arithmetic a conditional member reads: it stays in
    for s in reversed(group):
        if not _cheap(s) or s.out in needed:
            needed |= reads(s) & members
    after = {
        s.out for s in group if _cheap(s) and not kept[s.out] and s.out not in needed
    }
    for s in group:
        if reads(s) & after:
            after.update(s.outs)
    inside = [s for s in group if not set(s.outs) & after]
    outside = [s for s in group if set(s.outs) & after]
    if not outside:
        return [branch]
    if sum(1 for s in inside if not _cheap(s)) < 2:
        return group
    return [_branches(inside, cond, block, names)[0]] + outside


def _cheap(stmt) -> bool:
    return isinstance(stmt, Assign) and stmt.prim in CHEAP


def _branches(group: list, cond: str, block: Block, names) -> tuple[If, dict]:
    """One `If` computing the group's values that are read outside it, and for
    each arithmetic member whether it simplified away in either branch."""
    members = {o for s in group for o in s.outs}
    inside: dict[str, int] = {}  # reads of members by members
    for s in group:
        for name, n in _read_counts(s).items():
            if name in members:
                inside[name] = inside.get(name, 0) + n
    read = uses(block)
    outs = tuple(o for s in group for o in s.outs if read.get(o, 0) > inside.get(o, 0))
    then, folded_then = _arm(group, True, outs, names)
    orelse, folded_else = _arm(group, False, outs, names)
    folded = {o: folded_then[o] or folded_else[o] for o in folded_then}
    return If(outs, Var(cond), then, orelse, group[0].loc), folded


def _arm(group: list, taken: bool, outs: tuple, names) -> tuple[Block, dict]:
    """One branch: the group's values with the condition `taken`, and for each
    arithmetic member whether it simplified away there (no statement written)."""
    from ..autodiff.emitter import Emitter

    e = Emitter(names, cse=False)
    value: dict[str, object] = {}
    folded: dict[str, bool] = {}

    def atom(a):
        return value.get(a.name, a) if isinstance(a, Var) else a

    def emit(s: Assign) -> bool:
        args = [atom(a) for a in s.args]
        kwargs = {k: atom(v) for k, v in s.kwargs.items()}
        before = len(e.stmts)
        value[s.out] = e.call(s.prim, *args, loc=s.loc, **kwargs)
        return len(e.stmts) == before

    for s in group:
        if isinstance(s, If):
            branch = s.then if taken else s.orelse
            for inner in branch.stmts:
                # as it was, under its own name: a later `if` on the same
                # condition, outside the group, may read it (a backward `if`
                # reads what its forward `if` computed in the same branch)
                args = tuple(atom(a) for a in inner.args)
                kwargs = {k: atom(v) for k, v in inner.kwargs.items()}
                e.stmts.append(Assign(inner.outs, inner.prim, args, kwargs, inner.loc))
            value.update((o, atom(r)) for o, r in zip(s.outs, branch.results))
        elif s.prim == "select":
            value[s.out] = atom(s.args[1] if taken else s.args[2])
        else:
            folded[s.out] = emit(s)
    return Block(e.stmts, tuple(atom(Var(o)) for o in outs)), folded
