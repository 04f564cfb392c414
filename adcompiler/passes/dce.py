"""Dead-code elimination: drop statements whose values nothing reads.

Every primitive is pure except the few in IMPURE, so a statement is dead when
none of its outputs is read by a later statement or by the block's results.
One backward walk finds them all, because removing a dead statement can only
make earlier ones dead. An `if` loses the merged values nobody reads; a loop
loses the carried values that neither the rest of the program nor the
values it keeps depend on.
"""

from __future__ import annotations

import copy

from ..ir import Assign, Block, If, Loop, Var, uses, walk

# Statements kept even when their value is unused: they raise on bad input,
# or they move values through a tape or update a buffer.
IMPURE = {
    "check_scalar",
    "check_scalar_matmul",
    "check_float",
    "check_examples",
    "check_cotangent",
    "same_shapes",
    "check_ranks",
    "push",
    "pop",
    "begin_backward",
}


def _names(atoms) -> set[str]:
    return {a.name for a in atoms if isinstance(a, Var)}


def _has_effects(block: Block, keep) -> bool:
    return any(
        isinstance(s, Assign) and (s.prim in IMPURE or id(s) in keep)
        for s in walk(block)
    )


def dce(
    block: Block, live: set[str] | None = None, always: bool = False, keep=()
) -> Block:
    """`block` without its dead statements. `always`: even with the pass off;
    `keep`: the `id`s of statements kept as if impure (inplace.py asks what
    Python reads, and its updates in place are effects)."""
    from . import enabled

    if not (always or enabled("dce")):
        return block
    live = set(live or ()) | _names(block.results)
    kept = []
    for stmt in reversed(block.stmts):
        if isinstance(stmt, Assign):
            if (
                not set(stmt.outs) & live
                and stmt.prim not in IMPURE
                and id(stmt) not in keep
            ):
                continue
            live |= _names(stmt.operands())
        elif isinstance(stmt, If):
            alive = [i for i, o in enumerate(stmt.outs) if o in live]
            stmt.outs = tuple(stmt.outs[i] for i in alive)
            stmt.then.results = tuple(stmt.then.results[i] for i in alive)
            stmt.orelse.results = tuple(stmt.orelse.results[i] for i in alive)
            stmt.then = dce(stmt.then, live, always, keep)
            stmt.orelse = dce(stmt.orelse, live, always, keep)
            if not stmt.outs and not stmt.then.stmts and not stmt.orelse.stmts:
                continue
            live |= set(uses(stmt.then)) | set(uses(stmt.orelse))
            live |= _names([stmt.cond])
        elif isinstance(stmt, Loop):
            if not _loop(stmt, live, always, keep):
                continue
            live |= _names(stmt.operands())
            live |= set(uses(stmt.body))
            if stmt.cond is not None:
                live |= set(uses(stmt.cond))
            if stmt.brk is not None:
                live |= _names([stmt.brk])
        kept.append(stmt)
    return Block(kept[::-1], block.results)


def _loop(stmt: Loop, live: set[str], always: bool, keep) -> bool:
    """Prune a loop's carried values to those needed; False when the whole loop is dead."""
    needed = {i for i, o in enumerate(stmt.outs) if o in live}
    fixed = _names([stmt.brk]) if stmt.brk is not None else set()
    if stmt.cond is not None:
        fixed |= set(uses(stmt.cond))
    while True:
        results = {stmt.body.results[i] for i in needed}
        memo: dict = {}
        body = copy.deepcopy(Block(stmt.body.stmts, tuple(results)), memo)
        trial = dce(body, fixed, always, {id(memo[k]) for k in keep if k in memo})
        read = set(uses(trial)) | fixed
        more = needed | {j for j, c in enumerate(stmt.carried) if c in read}
        if more == needed:
            break
        needed = more
    effects = _has_effects(stmt.body, keep)
    if not needed and not effects and not (stmt.trips and stmt.trips in live):
        return False
    kept = sorted(needed)
    stmt.outs = tuple(stmt.outs[i] for i in kept)
    stmt.carried = tuple(stmt.carried[i] for i in kept)
    stmt.inits = tuple(stmt.inits[i] for i in kept)
    stmt.body.results = tuple(stmt.body.results[i] for i in kept)
    stmt.body = dce(stmt.body, fixed, always, keep)
    return True
