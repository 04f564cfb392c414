"""Source map: each generated statement names the origin line it came from.

The generated function's statements end with a comment naming the line of
the user's function they came from, `# seed_nn.py:15`. A traceback through
generated code prints the failing line with its comment, so an exception
names the origin line without any wrapper around the generated function, and
`origin_lines(text)` reads the map back.

Forward statements carry their origin line in the IR (`Assign.loc`). A
backward statement has none: it is attributed to the forward operation whose
derivative it helps compute, found by dataflow. The backward sweep visits the
forward statements in reverse, so a backward statement belongs to a line
that reads or defines the forward values it reads, and comes no later than
the lines of the adjoints it reads; of those lines it takes the latest.
This is codegen-independent: the generated statements are matched to the IR
by the names they assign (user names and `d_<name>` are kept by codegen;
temporaries are matched in order, by the shape of their expression).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .ir import Assign, Function, Var, walk

_COMMENT = re.compile(r"  # ([^\s:#]+):(\d+)$")
_TEMP_IR = re.compile(r"^(d__t|_t)\d+")
_TEMP_GEN = re.compile(r"^(d_)?t\d+$")


def ir_lines(fn: Function) -> dict[int, int]:
    """The origin line of each statement of `fn`, by `id(stmt)`."""
    def_line = fn.loc.line if fn.loc else 1
    stmts = list(walk(fn.body))
    located = [s for s in stmts if getattr(s, "loc", None) is not None]
    located_ids = {id(s) for s in located}
    defined = {o: s.loc.line for s in located for o in s.outs}
    touches: dict[str, set[int]] = {}  # forward value -> lines defining or reading it
    for s in located:
        for o in s.outs:
            touches.setdefault(o, set()).add(s.loc.line)
        for a in s.operands():
            if isinstance(a, Var):
                touches.setdefault(a.name, set()).add(s.loc.line)
    for p in fn.params:
        touches.setdefault(p, {def_line})
    lines: dict[int, int] = {}
    backward: dict[str, int] = {}
    for s in stmts:
        if id(s) in located_ids:
            lines[id(s)] = s.loc.line
            continue
        names = [a.name for a in s.operands() if isinstance(a, Var)]
        adjoints = [backward[n] for n in names if n in backward]
        cap = min(adjoints) if adjoints else None
        found: set[int] = set()
        for n in names:
            if n not in backward and (n in defined or n in fn.params):
                found |= touches.get(n, set())
        ok = [c for c in found if cap is None or c <= cap]
        if ok:
            line = max(ok)
        elif cap is not None:
            line = cap
        else:
            line = max(found) if found else def_line
        lines[id(s)] = line
        for o in s.outs:
            backward[o] = line
    return lines


def _shape(node: ast.AST) -> tuple:
    """A statement's right-hand side, coarsely: node type and operator or callee."""
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return type(node).__name__, type(node.op).__name__
    if isinstance(node, ast.Compare):
        return "Compare", type(node.ops[0]).__name__
    if isinstance(node, ast.Call):
        return "Call", ast.unparse(node.func).split(".")[-1]
    if isinstance(node, ast.Attribute):
        return "Attribute", node.attr
    return (type(node).__name__,)


def _expected_shape(stmt: Assign) -> tuple | None:
    from .codegen import expression

    try:
        args = [ast.Name("a", ast.Load()) for _ in stmt.args]
        kwargs = {k: ast.Name("a", ast.Load()) for k in stmt.kwargs}
        return _shape(expression(stmt.prim, args, kwargs))
    except Exception:  # a form codegen writes as a statement, or a new one
        return None


def annotate(text: str, fn: Function, origin_file: str) -> str:
    """`text` with each statement of the generated function `fn` ending in `# <file>:<line>`."""
    lines_of = ir_lines(fn)
    stmts = list(fn.body.stmts)
    by_out = {o: s for s in walk(fn.body) for o in s.outs}
    line_of_name = {o: lines_of[id(s)] for o, s in by_out.items()}
    def_line = fn.loc.line if fn.loc else 1
    last = max(lines_of.values(), default=def_line)
    tree = ast.parse(text)
    node = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn.name),
        None,
    )
    if node is None:
        return text
    marks: dict[int, int] = {node.lineno: def_line}
    generated: dict[str, int] = {}  # generated name -> its line's origin
    pos = 0

    def match(target: str, value: ast.AST) -> int | None:
        nonlocal pos
        for i in range(pos, len(stmts)):
            if target in stmts[i].outs:
                pos = i + 1
                return lines_of[id(stmts[i])]
        if _TEMP_GEN.match(target):
            want = _shape(value)
            temps = [
                i
                for i in range(pos, len(stmts))
                if isinstance(stmts[i], Assign)
                and stmts[i].outs
                and _TEMP_IR.match(stmts[i].outs[0])
            ]
            for i in temps:
                if _expected_shape(stmts[i]) == want:
                    pos = i + 1
                    return lines_of[id(stmts[i])]
            if temps:
                pos = temps[0] + 1
                return lines_of[id(stmts[temps[0]])]
        if isinstance(value, ast.Name):  # `d_b = d_z` at the return
            return generated.get(value.id, line_of_name.get(value.id))
        return None

    def visit(body: list[ast.stmt], inherited: int) -> None:
        nonlocal pos
        for s in body:
            line = None
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
                continue  # the docstring
            if (
                isinstance(s, ast.Assign)
                and len(s.targets) == 1
                and isinstance(s.targets[0], ast.Name)
            ):
                line = match(s.targets[0].id, s.value)
                if line is not None:
                    generated[s.targets[0].id] = line
            elif isinstance(s, ast.If) and "_astype_like(" in ast.unparse(s.body[0]):
                line = last  # a gradient cast to its parameter's dtype, at the return
            elif isinstance(s, ast.If) and "_check_float(" in ast.unparse(s.body[0]):
                pass  # a differentiated argument's check: the `def` line
            elif isinstance(s, ast.If):
                checks = [
                    i
                    for i in range(pos, len(stmts))
                    if getattr(stmts[i], "prim", None) == "check_scalar"
                ]
                if checks:
                    pos = checks[0] + 1
                    line = lines_of[id(stmts[checks[0]])]
            elif isinstance(s, ast.Return):
                line = last
            if line is None or line == inherited and s.lineno != node.lineno:
                line = inherited
                if id(body) not in tops:
                    continue  # a nested statement from its parent's line: one comment
            marks.setdefault(s.lineno, line)
            if isinstance(s, ast.FunctionDef):  # a vjp's `backward`: its own lines
                tops.add(id(s.body))
                visit(s.body, line)
                continue
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, ast.FunctionDef):
                    visit(inner, line)

    tops = {id(node.body)}
    visit(node.body, def_line)
    name = Path(origin_file).name
    out = text.splitlines()
    for lineno, line in marks.items():
        if not out[lineno - 1].rstrip().endswith(f"# {name}:{line}"):
            out[lineno - 1] = f"{out[lineno - 1].rstrip()}  # {name}:{line}"
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def origin_lines(text: str) -> dict[int, tuple[str, int]]:
    """The source map read back from a generated module: its line -> (origin file name, line)."""
    found = {}
    for i, line in enumerate(text.splitlines(), 1):
        match = _COMMENT.search(line)
        if match:
            found[i] = (match.group(1), int(match.group(2)))
    return found
