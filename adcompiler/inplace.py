"""Python's in-place updates that another name would see.

The IR is functional: `y1 += x` is `y1 = y1 + x`, a new value, and every other
value keeps what it held. Python's `+=` on an array, an index assignment
`y1[0] = v` and a ufunc's `out=y1` write into the array itself, so another
name for it (`y1 = y` before, a view `y1[:2]`, a list it was appended to)
changes too. Where such a name is read after the update, the function Python
runs and the function the IR describes differ, and the gradient would be the
second one's. That is an `ADCompileError` here, with the one-line fix.

What may share memory is fresh.py's may-alias analysis, with each argument
apart and each update's result in its operand's memory. A name counts when
it was bound before the update and is read after it: later in the block,
after the branch or loop holding it, or on a later trip of an enclosing loop
it was bound outside of. The analysis cannot tell an array from a number
where the shapes do not, so `s = x[0]; s += 1.0; ... x` is refused too when
`x` may have two dimensions (`s` would be a row of it).
"""

from __future__ import annotations

import re

from .autodiff.fresh import roots
from .errors import ADCompileError
from .ir import Assign, Block, Function, If, Loop, Var, defs, reads, uses, walk


def check_updates(fn: Function, updates: dict, shapes, bound: dict) -> None:
    """Raise `ADCompileError` at the first update another name read later sees.

    `updates` maps a statement's `id` to the statement, the value it updates,
    the update as the user wrote it (`y1 += ...`) and the name updated;
    `bound`, a value to the user's names bound to it.
    """
    if not updates:
        return
    memory = roots(fn, apart=True, updates={k: u[1] for k, u in updates.items()})
    born = {o: s for s in walk(fn.body) for o in defs(s)}
    for where, stmt in _positions(fn.body, ()):
        if id(stmt) not in updates:
            continue
        _, old, what, target = updates[id(stmt)]
        if not isinstance(old, Var) or shapes.rank(old) == 0:
            continue
        mine = memory.get(old.name, frozenset())
        if not mine:  # a number's: a new one, as Python's `k += 1` is
            continue
        for name in sorted(_read_after(where, stmt)):
            if name == old.name or (
                memory.get(name, frozenset()) & mine and shapes.rank(Var(name)) != 0
            ):
                raise _error(stmt, what, target, name, born, bound)


def _positions(block: Block, path: tuple):
    """Each statement with the blocks and positions that lead to it, outermost first."""
    for i, stmt in enumerate(block.stmts):
        here = path + ((block, i),)
        yield here, stmt
        if isinstance(stmt, If):
            yield from _positions(stmt.then, here)
            yield from _positions(stmt.orelse, here)
        elif isinstance(stmt, Loop):
            if stmt.cond is not None:
                yield from _positions(stmt.cond, here)
            yield from _positions(stmt.body, here)


def _read_after(where: tuple, stmt) -> set[str]:
    """The names bound before `stmt` runs that are read after it."""
    read: set[str] = set()
    later: set[str] = set(defs(stmt))
    for block, i in reversed(where):
        for after in block.stmts[i + 1 :]:
            read |= reads(after)
            later |= _bound(Block([after]))
        read |= {a.name for a in block.results if isinstance(a, Var)}
        holder = block.stmts[i]
        later |= set(holder.outs)
        if isinstance(holder, Loop) and holder is not stmt:
            # a later trip reads again what the loop did not bind itself
            parts = [p for p in (holder.cond, holder.body) if p is not None]
            trip = set().union(*(uses(p) for p in parts))
            bound = set().union(*(_bound(p) for p in parts))
            read |= trip - bound - {*holder.carried, holder.index}
    return read - later


def _bound(block: Block) -> set[str]:
    """The names bound in `block`, its loops' own names too."""
    found = set()
    for s in walk(block):
        found.update(defs(s))
        if isinstance(s, Loop):
            found.update((*s.carried, s.index))
    return found


def _error(stmt: Assign, what: str, target: str, name: str, born, bound):
    names = sorted(bound.get(name, set()) - {target})
    if names:
        other = f"`{names[0]}`"
    elif not name.startswith("_"):
        other = f"`{re.sub(r'_[0-9]+$', '', name)}`"
    else:
        made = born.get(name)
        line = getattr(getattr(made, "loc", None), "line", None)
        other = f"the value of line {line}" if line else "another value"
    return ADCompileError(
        f"`{what}` writes into the array `{target}` holds, which {other} may "
        f"hold too, and {other} is read afterwards: Python changes it as well, "
        "but adcompiler reads the update as a new array, so the gradient would "
        "not be this function's",
        stmt.loc,
        f"give `{target}` an array of its own first (`{target} = "
        f"{target}.copy()`), or write the update as a new array (`{target} = "
        f"{target} + ...` for `{target} += ...`)",
    )
