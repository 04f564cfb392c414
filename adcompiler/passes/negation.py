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
its forward `if` computed in a branch. A negation whose chain ends anywhere
else (`np.exp(-t)`, a value read twice) stays.
"""

from __future__ import annotations

from ..ir import Assign, Block, Const, If, Loop, Var, uses

_THROUGH = {"mul", "div"}
_FLIP = {"add": "sub", "sub": "add"}


def push_negations(block: Block) -> None:
    """Move each negation of `block` and its nested blocks that ends in a sum into it, in place."""
    from . import enabled

    if enabled("simplify"):
        _block(block, uses(block))


def _block(block: Block, counts: dict[str, int]) -> None:
    """`counts`: the reads of every name `block` defines, wherever they are."""
    for stmt in block.stmts:
        # what a branch computes may be read after its `if`: the backward `if`
        # of the reverse sweep reads the forward branch's values by name
        inner = [stmt.then, stmt.orelse] if isinstance(stmt, If) else []
        inner += [stmt.body] if isinstance(stmt, Loop) else []
        for b in inner:
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
