"""Dead-code elimination: drop statements whose values nothing reads.

Every primitive is pure, so a statement is dead when none of its outputs is
read by a later statement or by the block's results. One backward walk finds
them all, because removing a dead statement can only make earlier ones dead.
"""

from __future__ import annotations

from ..ir import Assign, Block, If, Loop, Var


def dce(block: Block, live: set[str] | None = None) -> Block:
    live = set(live or ()) | {a.name for a in block.results if isinstance(a, Var)}
    kept = []
    for stmt in reversed(block.stmts):
        if not any(o in live for o in stmt.outs) and _pure(stmt):
            continue
        if isinstance(stmt, If):
            stmt.then = dce(stmt.then, live)
            stmt.orelse = dce(stmt.orelse, live)
            live |= _reads(stmt.then) | _reads(stmt.orelse)
        elif isinstance(stmt, Loop):
            stmt.body = dce(stmt.body, live | set(stmt.carried))
            live |= _reads(stmt.body)
        live |= {a.name for a in stmt.operands() if isinstance(a, Var)}
        kept.append(stmt)
    return Block(kept[::-1], block.results)


def _pure(stmt) -> bool:
    return not (isinstance(stmt, Assign) and stmt.prim in IMPURE)


def _reads(block: Block) -> set[str]:
    from ..ir import uses

    return set(uses(block))


# Statements kept even when their value is unused (they raise on bad input).
IMPURE = {"check_scalar"}
