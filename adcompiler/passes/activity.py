"""Activity analysis: which values need an adjoint.

A value is *varied* when it depends, through differentiable argument
positions, on an input being differentiated; it is *useful* when the result
depends on it. Only values that are both get adjoint code, so arguments left
out of `argnums`, shape computations and comparisons cost nothing.
"""

from __future__ import annotations

from ..ir import Assign, Atom, Block, If, Loop, Var
from ..rules import PRIMS
from ..rules.core import NO_RULE_YET


def _differentiable_args(stmt: Assign) -> list[Atom]:
    rules = PRIMS[stmt.prim].vjp
    gaps = NO_RULE_YET.get(stmt.prim, ())
    return [
        a
        for i, (a, r) in enumerate(zip(stmt.args, rules))
        if r is not None or i in gaps
    ]


def varied(block: Block, inputs: set[str]) -> set[str]:
    found = set(inputs)

    def visit(b: Block):
        for stmt in b.stmts:
            if isinstance(stmt, Assign):
                if any(
                    isinstance(a, Var) and a.name in found
                    for a in _differentiable_args(stmt)
                ):
                    found.update(stmt.outs)
            elif isinstance(stmt, If):
                visit(stmt.then)
                visit(stmt.orelse)
                for out, a, b2 in zip(
                    stmt.outs, stmt.then.results, stmt.orelse.results
                ):
                    if any(isinstance(x, Var) and x.name in found for x in (a, b2)):
                        found.add(out)
            elif isinstance(stmt, Loop):
                for _ in range(
                    len(stmt.carried) + 1
                ):  # carried values reach a fixpoint
                    for c, init, res in zip(
                        stmt.carried, stmt.inits, stmt.body.results
                    ):
                        if any(
                            isinstance(x, Var) and x.name in found for x in (init, res)
                        ):
                            found.add(c)
                    visit(stmt.body)
                for out, c in zip(stmt.outs, stmt.carried):
                    if c in found:
                        found.add(out)

    visit(block)
    return found


def useful(block: Block, results: tuple[Atom, ...]) -> set[str]:
    found = {a.name for a in results if isinstance(a, Var)}

    def visit(b: Block):
        for stmt in reversed(b.stmts):
            if isinstance(stmt, Assign):
                if any(o in found for o in stmt.outs):
                    found.update(
                        a.name for a in _differentiable_args(stmt) if isinstance(a, Var)
                    )
            elif isinstance(stmt, If):
                for out, a, b2 in zip(
                    stmt.outs, stmt.then.results, stmt.orelse.results
                ):
                    if out in found:
                        found.update(x.name for x in (a, b2) if isinstance(x, Var))
                visit(stmt.then)
                visit(stmt.orelse)
            elif isinstance(stmt, Loop):
                for _ in range(len(stmt.carried) + 1):
                    for out, c, init, res in zip(
                        stmt.outs, stmt.carried, stmt.inits, stmt.body.results
                    ):
                        if out in found or c in found:
                            found.add(c)
                            found.update(
                                x.name for x in (init, res) if isinstance(x, Var)
                            )
                    visit(stmt.body)

    visit(block)
    return found


def active(block: Block, inputs: set[str], results: tuple[Atom, ...]) -> set[str]:
    return varied(block, inputs) & useful(block, results)
