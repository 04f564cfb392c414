"""How a lowered block leaves: falling through, returning from the function,
or breaking out of a loop (the lowering of `return`, `break`, `continue`).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from ..ir import UNDEF, Const

if TYPE_CHECKING:  # the lowering these exits belong to
    from .lowering import Lowering


class Exit:
    """Where the paths of a statement sequence end, and what they yield there."""

    def __init__(self, lowering: Lowering):
        self.low = lowering

    def names(self) -> list[str]:
        raise NotImplementedError

    def ret(self, values, node):
        raise self.low.error("`return` is not allowed here", node)

    def jump(self, node):
        raise self.low.error(f"`{ast.unparse(node)}` outside a loop", node)

    def fall(self, last):
        return ()


class FallThrough(Exit):
    def __init__(self, lowering=None):
        self.low = lowering

    def names(self):
        return []


class FunctionExit(Exit):
    def __init__(self, lowering, tree):
        super().__init__(lowering)
        self.tree = tree

    def names(self):
        return ["out"] * self.low.arity

    def ret(self, values, node):
        return tuple(values)

    def fall(self, last):
        node = last if last is not None else self.tree
        raise self.low.error(
            f"{self.tree.name} can reach its end without returning a value", node
        )


class LoopExit(Exit):
    """A loop body yields its carried variables, then its break flag."""

    def __init__(self, lowering, carried, can_return):
        super().__init__(lowering)
        self.carried = carried
        self.can_return = can_return

    def names(self):
        return self.carried + ["stop"]

    def _yield(self, brk):
        env = self.low.env
        return tuple(env.get(n, UNDEF) for n in self.carried) + (Const(brk),)

    def ret(self, values, node):
        env = self.low.env
        env["@returned"] = Const(True)
        for i, v in enumerate(values):
            env[f"@value{i}" if i else "@value"] = v
        return self._yield(True)

    def jump(self, node):
        return self._yield(isinstance(node, ast.Break))

    def fall(self, last):
        return self._yield(False)


def _return_arity(low, tree) -> int:
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and node.value is not None:
            return len(node.value.elts) if isinstance(node.value, ast.Tuple) else 1
    return 1
