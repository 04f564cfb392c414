"""List comprehensions and generator expressions, as the loops they stand for.

`[f(x) for x in xs if c(x)]` builds the list a person builds by hand:

    items = []
    for x in xs:
        if c(x):
            items.append(f(x))

one `for` loop per `for` clause, nested in order, and an `if` around what
follows for each `if` clause. `as_loop` writes those statements with the
comprehension's own nodes inside, so that the frontend lowers them as it
lowers the loop written out, and an error inside still points to the
comprehension's file:line:col.

In Python 3 a comprehension runs in a scope of its own: its targets neither
read nor rebind the enclosing function's variables of the same name, and only
the first iterable is evaluated outside it. `as_loop` renames a target that
would collide (the frontend says which) inside the comprehension; the
frontend drops the targets from its variables afterwards.
"""

from __future__ import annotations

import ast
import copy

COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)


def targets(node: ast.ListComp | ast.GeneratorExp) -> list[str]:
    """The names a comprehension binds, in order."""
    return list(
        dict.fromkeys(
            n.id
            for g in node.generators
            for n in ast.walk(g.target)
            if isinstance(n, ast.Name)
        )
    )


def function_scope(node: ast.AST, bound: frozenset = frozenset()):
    """The `Name` nodes in `node` that stand for the function's variables: all but
    those a comprehension binds in its own scope (its first iterable is read
    outside it)."""
    if isinstance(node, COMPREHENSIONS):
        first = node.generators[0]
        yield from function_scope(first.iter, bound)
        inner = bound | set(targets(node))
        yield from function_scope(first.target, inner)
        for child in (*first.ifs, *node.generators[1:]):
            yield from function_scope(child, inner)
        for field in ("elt", "key", "value"):
            if hasattr(node, field):
                yield from function_scope(getattr(node, field), inner)
        return
    if isinstance(node, ast.Name) and node.id not in bound:
        yield node
    for child in ast.iter_child_nodes(node):
        yield from function_scope(child, bound)


def function_names(tree: ast.FunctionDef) -> set[str]:
    """The names of the function's variables (and of globals it reads)."""
    params = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    return params | {n.id for s in tree.body for n in function_scope(s)}


def as_loop(
    node: ast.ListComp | ast.GeneratorExp, name: str, renames: dict[str, str]
) -> list[ast.stmt]:
    """`name = []` and the loops that append the comprehension's elements to it,
    with the targets in `renames` (old -> new name) renamed throughout its scope."""
    if renames:
        node = copy.deepcopy(node)  # the function's tree stays as written
        _rename_scope(node, renames)
    append = ast.Call(
        ast.Attribute(ast.Name(name, ast.Load()), "append", ast.Load()),
        [node.elt],
        [],
    )
    body: list[ast.stmt] = [ast.copy_location(ast.Expr(append), node.elt)]
    ast.copy_location(append, node.elt)
    ast.copy_location(append.func, node.elt)
    ast.copy_location(append.func.value, node.elt)
    for gen in reversed(node.generators):
        for cond in reversed(gen.ifs):
            body = [ast.copy_location(ast.If(cond, body, []), cond)]
        loop = ast.For(gen.target, gen.iter, body, [])
        body = [ast.copy_location(loop, gen.target)]
    start = ast.Assign([ast.Name(name, ast.Store())], ast.List([], ast.Load()))
    for n in (start, *start.targets, start.value):
        ast.copy_location(n, node)
    return [start, *body]


def _rename_scope(node, renames: dict[str, str]) -> None:
    """Rename in a comprehension's own scope: all of it but its first iterable."""
    rename = _Rename(renames)
    first = node.generators[0]
    first.target = rename.visit(first.target)
    first.ifs = [rename.visit(c) for c in first.ifs]
    for gen in node.generators[1:]:
        rename.visit(gen)
    for field in ("elt", "key", "value"):
        if hasattr(node, field):
            setattr(node, field, rename.visit(getattr(node, field)))


class _Rename(ast.NodeTransformer):
    def __init__(self, renames: dict[str, str]):
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.renames.get(node.id, node.id)
        return node

    def _nested(self, node):
        """A comprehension inside: its first iterable is read in this scope; its
        own targets shadow the names renamed in the rest of it."""
        node.generators[0].iter = self.visit(node.generators[0].iter)
        own = set(targets(node))
        _rename_scope(node, {k: v for k, v in self.renames.items() if k not in own})
        return node

    visit_ListComp = visit_GeneratorExp = visit_SetComp = visit_DictComp = _nested
