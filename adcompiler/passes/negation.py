"""Negations moved into the sum they end in: `x + (-a / b) * c` is `x - a / b * c`.

Adjoints are full of negations: the adjoint of `u - v` negates the adjoint
of `v`, of `log(s)` divided into a sum, of `cos`. Written where they arise,
each is one more pass over an array; a softmax cross-entropy's adjoint had
`d_t5 = -d_logp.sum(axis=1, keepdims=True)`, then `d_t5 / s`, then
`d_logp + d_t6 * t1`. An expert writes `d_logp - d_logp.sum(...) / s * t1`.

This pass follows each negation read once through the products and quotients
that read it (each read once) to the sum or difference that reads the last of
them, and turns that into a difference or a sum (or an update `d[i] += -y`
of a buffer into `d[i] -= y`). Each step is exact in
floating point: `(-a) * b`, `(-a) / b` and `a / (-b)` round to `-(a * b)` and
`-(a / b)`, and `x + (-y)` is `x - y`. Nested blocks are rewritten too, with
the reads counted over the whole function: the backward `if` reads by name what
its forward `if` computed in a branch.

A negation whose chain ends anywhere else (`np.exp(-t)`, a value read twice)
is moved the other way where it can: back through the products and
quotients that made its operand, each read once, to a number. The mean
logistic loss's adjoint was `d_t3 = d_t6 / (1.0 + t3)`, `d_t7 = d_t3 * t3`,
`d_margin = -d_t7`, three passes over the samples; with the sign on the
number `d_t6 = -1.0 / np.size(margin)`, two. The sign lands on a constant
(negated), on a negation (which cancels), or on a scalar (negated once, in
a statement of its own). Other negations stay.
"""

from __future__ import annotations

from ..ir import Assign, Atom, Block, Const, If, Loop, Var, uses
from .simplify import is_number

_THROUGH = {"mul", "div"}
_FLIP = {"add": "sub", "sub": "add"}


def push_negations(block: Block, names=None, facts=None) -> None:
    """Move each negation of `block` and its nested blocks that ends in a sum into
    it, and each other one onto a number where it can, in place. `names` gives
    fresh names; `facts`, shape facts (analyzed here where not given)."""
    from . import enabled
    from .shapes import analyze

    if enabled("simplify"):
        counts = uses(block)
        _block(block, counts)
        if names is not None:
            _pull(block, counts, facts or analyze(block), names)


def _block(block: Block, counts: dict[str, int]) -> None:
    """`counts`: the reads of every name `block` defines, wherever they are."""
    for b in _inner(block):
        _block(b, counts)
    readers: dict[str, Assign] = {}
    for s in block.stmts:
        if isinstance(s, Assign):
            for a in s.operands():
                if isinstance(a, Var) and counts.get(a.name) == 1:
                    readers[a.name] = s
    gone = []
    for neg in block.stmts:
        if not (isinstance(neg, Assign) and neg.prim == "neg" and len(neg.args) == 1):
            continue
        if neg.kwargs or counts.get(neg.out) != 1:
            continue
        name, chain = neg.out, []
        reader = readers.get(name)
        while (
            reader is not None
            and reader.prim in _THROUGH
            and not reader.kwargs
            and counts.get(reader.out) == 1
        ):
            chain.append(reader)
            name = reader.out
            reader = readers.get(name)
        if reader is None or reader.prim not in (*_FLIP, "index_add") or reader.kwargs:
            continue
        if reader.prim == "index_add":  # d[i] += -y is d[i] -= y
            if reader.args[2] != Var(name):
                continue
            reader.kwargs = {"sub": Const(True)}
        elif reader.args[1] == Var(name):
            reader.prim = _FLIP[reader.prim]  # x + (-y) is x - y; x - (-y) is x + y
        elif reader.prim == "add":
            reader.args = reader.args[::-1]  # (-y) + x is x - y
            reader.prim = "sub"
        else:
            continue  # (-y) - x would need the negation back
        first = chain[0] if chain else reader
        first.args = tuple(neg.args[0] if a == Var(neg.out) else a for a in first.args)
        gone.append(neg)
    block.stmts = [s for s in block.stmts if all(s is not g for g in gone)]


def _inner(block: Block) -> list[Block]:
    """The blocks nested in `block`'s statements: its `if`s' branches, its loops' bodies."""
    inner = []
    for stmt in block.stmts:
        # what a branch computes may be read after its `if`: the backward `if`
        # of the reverse sweep reads the forward branch's values by name
        inner += [stmt.then, stmt.orelse] if isinstance(stmt, If) else []
        inner += [stmt.body] if isinstance(stmt, Loop) else []
    return inner


def _pull(block: Block, counts: dict[str, int], facts, names) -> None:
    """Move each negation that stayed onto a number, back through the products and
    quotients read once that made it, in `block` and those nested: a scalar's
    only where that leaves no negation (`-1.0 / n`, not `-d` for `d = 1.0 / n`)."""
    for b in _inner(block):
        _pull(b, counts, facts, names)
    made = {s.out: s for s in block.stmts if isinstance(s, Assign) and len(s.outs) == 1}
    for neg in [s for s in block.stmts if isinstance(s, Assign) and s.prim == "neg"]:
        x = neg.args[0] if len(neg.args) == 1 and not neg.kwargs else None
        landing = _to_number(x, made, counts, facts, 8) if isinstance(x, Var) else None
        if landing is None:
            continue
        stmt, k = landing
        target = stmt.args[k]
        cancels = (
            isinstance(target, Var)
            and getattr(made.get(target.name), "prim", "") == "neg"
        )
        if facts.rank(x) == 0 and isinstance(target, Var) and not cancels:
            continue  # a scalar's negation costs nothing where it is
        if isinstance(target, Const):
            flipped: Atom = Const(-target.value)
        elif cancels:
            flipped = made[target.name].args[0]  # -(-a) is a
            if counts.get(target.name) == 1:
                block.stmts.remove(made.pop(target.name))
        else:  # a scalar, negated where the chain reads it
            flipped = Var(names.fresh(f"neg_{target.name}"))
            at = block.stmts.index(stmt)
            block.stmts.insert(
                at, Assign((flipped.name,), "neg", (target,), {}, neg.loc)
            )
        stmt.args = tuple(flipped if i == k else a for i, a in enumerate(stmt.args))
        last = made.pop(x.name)  # the chain's last value is the negation now
        last.outs = neg.outs
        made[neg.out] = last
        block.stmts.remove(neg)


def _to_number(x: Var, made: dict, counts: dict, facts, depth: int):
    """Where, back from `x` through products and quotients each read once, a sign
    costs nothing: `(statement, argument index)` naming a number, a negation or
    a scalar; None where there is no such place."""
    stmt = made.get(x.name)
    if depth == 0 or stmt is None or stmt.prim not in _THROUGH or stmt.kwargs:
        return None
    if counts.get(x.name) != 1 or len(stmt.args) != 2:
        return None
    for k, a in enumerate(stmt.args):  # a number, or a negation to cancel, first
        if is_number(a) and not isinstance(a.value, complex):
            return stmt, k
        if isinstance(a, Var) and a.name in made and made[a.name].prim == "neg":
            return stmt, k
    for k, a in enumerate(stmt.args):  # then a scalar, or what made it
        if isinstance(a, Var) and facts.rank(a) == 0:
            return _to_number(a, made, counts, facts, depth - 1) or (stmt, k)
    for a in stmt.args:
        deeper = (
            _to_number(a, made, counts, facts, depth - 1)
            if isinstance(a, Var)
            else None
        )
        if deeper is not None:
            return deeper
    return None
