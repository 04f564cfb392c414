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
from functools import partial
from pathlib import Path

from .ir import Assign, Function, If, Loop, Var, walk

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
    for s in located:  # a loop's carried values and index are its own
        if isinstance(s, Loop):
            for n in (*s.carried, s.index):
                if n:
                    defined.setdefault(n, s.loc.line)
                    touches.setdefault(n, set()).add(s.loc.line)
    lines: dict[int, int] = {}
    backward: dict[str, int] = {}

    def visit(block, default: int) -> None:
        for s in block.stmts:
            if id(s) in located_ids:
                lines[id(s)] = s.loc.line
            elif getattr(s, "prim", None) in ("push", "pop"):
                lines[id(s)] = default  # the tape of the loop around it
                continue  # what a pop restores are forward values
            else:
                lines[id(s)] = attribute(s, default)
                for o in s.outs:
                    backward[o] = lines[id(s)]
            for inner in (getattr(s, "then", None), getattr(s, "orelse", None)):
                if inner is not None:
                    visit(inner, lines[id(s)])
            if isinstance(s, Loop):
                if s.cond is not None:
                    visit(s.cond, lines[id(s)])
                visit(s.body, lines[id(s)])

    def attribute(s, default: int) -> int:
        names = [a.name for a in s.operands() if isinstance(a, Var)]
        adjoints = [backward[n] for n in names if n in backward]
        cap = min(adjoints) if adjoints else None
        found: set[int] = set()
        for n in names:
            if n not in backward and (n in defined or n in fn.params):
                found |= touches.get(n, set())
        ok = [c for c in found if cap is None or c <= cap]
        if ok:
            return max(ok)
        if cap is not None:
            return cap
        return max(found) if found else default

    visit(fn.body, def_line)
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


class _Cursor:
    """The IR statements of one block, matched in order to the generated ones."""

    def __init__(self, stmts: list) -> None:
        self.stmts = stmts
        self.pos = 0

    def take(self, want) -> object | None:
        """The next statement `want` accepts, moving past it."""
        for i in range(self.pos, len(self.stmts)):
            if want(self.stmts[i]):
                self.pos = i + 1
                return self.stmts[i]
        return None


def _accumulates_into(acc: Var, stmt) -> bool:
    return getattr(stmt, "prim", None) == "iadd" and stmt.args[0] == acc


def _writes_into(buf: Var, stmt) -> bool:
    """`stmt` computes into `buf`'s memory under `buf`'s name (`t *= x`,
    `np.exp(t, out=t)`); a generated temporary (`t1`, `d_t2`) matches any IR one."""
    if not isinstance(stmt, Assign) or "out" not in stmt.kwargs:
        return False
    into = stmt.kwargs["out"].name
    if stmt.outs != (into,):
        return False
    if _TEMP_GEN.match(buf.name):
        return bool(_TEMP_IR.match(into))
    return into == buf.name


def _adds_or_writes_into(buf: Var, stmt) -> bool:
    return _accumulates_into(buf, stmt) or _writes_into(buf, stmt)


def _out_keyword(s: ast.stmt) -> str | None:
    """`t` in the statement `np.exp(t, out=t)`."""
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
        for kw in s.value.keywords:
            if kw.arg == "out" and isinstance(kw.value, ast.Name):
                return kw.value.id
    return None


# The IR's additions into entries that codegen writes as a call of their own
# (`np.add.at(d, idx, g)`, `_add_at(d, idx, g)`, `_add_into(d, key, g)`).
_SCATTERS = {"index_add_at", "index_add_any"}


def _scatters(s: ast.stmt) -> bool:
    """`s` is one of those calls."""
    if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)):
        return False
    name = ast.unparse(s.value.func)
    return name in ("np.add.at", "_add_at", "_add_into")


def _block_stmts(stmt) -> list[list]:
    """The IR blocks a generated compound statement writes, in the order it writes them."""
    if isinstance(stmt, If):
        return [stmt.then.stmts, stmt.orelse.stmts]
    if isinstance(stmt, Loop):
        return [(stmt.cond.stmts if stmt.cond is not None else []) + stmt.body.stmts]
    return []


def _updated(s: ast.Assign | ast.AugAssign) -> str | None:
    """The array an index assignment writes into (`y` in `y[0] = v`, `y[1:] += v`)."""
    target = s.target if isinstance(s, ast.AugAssign) else s.targets[0]
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return target.value.id
    return None


def annotate(text: str, fn: Function, origin_file: str) -> str:
    """`text` with each statement of the generated function `fn` ending in `# <file>:<line>`.

    The generated statements are matched block by block to the IR's: a `for`
    to the next `Loop` of its block, an `if` to the next `If` (or scalar
    check), an assignment to the IR statement that binds its name or, for a
    temporary, the next temporary of the same form.
    """
    lines_of = ir_lines(fn)
    by_out = {o: s for s in walk(fn.body) for o in s.outs}
    line_of_name = {o: lines_of[id(s)] for o, s in by_out.items()}
    def_line = fn.loc.line if fn.loc else 1
    last = fn.return_line or max(lines_of.values(), default=def_line)
    tree = ast.parse(text)
    node = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn.name),
        None,
    )
    if node is None:
        return text
    marks: dict[int, int] = {node.lineno: def_line}
    generated: dict[str, int] = {}  # generated name -> its line's origin

    def is_temp(st) -> bool:
        return (
            isinstance(st, Assign)
            and bool(st.outs)
            and bool(_TEMP_IR.match(st.outs[0]))
        )

    def match(
        cur: _Cursor, target: str, value: ast.AST, inherited: int | None = None
    ) -> int | None:
        # an `if` written as a conditional expression binds its result by name
        found = cur.take(lambda st: isinstance(st, (Assign, If)) and target in st.outs)
        if found is None and _TEMP_GEN.match(target) and isinstance(value, ast.IfExp):
            start = cur.pos
            found = cur.take(lambda st: isinstance(st, If) and len(st.outs) == 1)
            if found is None:
                cur.pos = start  # a select: `b if c else a`, matched as a temporary
        if found is None and _TEMP_GEN.match(target):
            want = _shape(value)
            start = cur.pos
            found = cur.take(lambda st: is_temp(st) and _expected_shape(st) == want)
            if found is None:
                cur.pos = start
                found = cur.take(is_temp)
        if found is not None and lines_of[id(found)] == inherited:
            # what the sweep writes where a branch ends (`d_h_1 = 2.0 * _t13`, the
            # two uses of h in `h * h` added up) takes the line of its operands
            made = [
                line_of_name.get(a.name)
                for a in getattr(found, "args", ())
                if isinstance(a, Var) and _TEMP_IR.match(a.name)
            ]
            return next((n for n in made if n not in (None, inherited)), inherited)
        if found is not None:
            return lines_of[id(found)]
        if isinstance(value, ast.Name):  # `d_b = d_z` at the return
            return generated.get(value.id, line_of_name.get(value.id))
        return None

    def visit(body: list[ast.stmt], cur: _Cursor, inherited: int, top: bool) -> None:
        # A loop's carried values are bound just before it (`h = h0`): they are
        # the loop's, like the statements at the end of its body.
        waiting: list[int] = []
        for s in body:
            line = None
            blocks: list[list] = []
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
                continue  # the docstring
            if (
                isinstance(s, ast.Assign)
                and len(s.targets) == 1
                and isinstance(s.targets[0], ast.Name)
            ):
                line = match(cur, s.targets[0].id, s.value, None if top else inherited)
                if line is not None:
                    generated[s.targets[0].id] = line
                elif top:
                    waiting.append(s.lineno)
                    continue
            elif (
                isinstance(s, (ast.Assign, ast.AugAssign)) and _updated(s) in generated
            ):
                # `d_y[0] = 0.0` after `d_y = g.copy()`: the same operation's line
                line = generated[_updated(s)]
            elif isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name):
                found = cur.take(partial(_adds_or_writes_into, Var(s.target.id)))
                if found is not None:
                    line = lines_of[id(found)]
                    added = found.args[1]
                    if found.prim == "iadd" and isinstance(added, Var):
                        # the line of what is added, when inlined
                        line = line_of_name.get(added.name, line)
            elif (buf := _out_keyword(s)) is not None:
                found = cur.take(partial(_writes_into, Var(buf)))
                if found is not None:
                    line = lines_of[id(found)]
            elif _scatters(s):  # `_add_at(d_x, idx, g)`
                found = cur.take(lambda st: getattr(st, "prim", None) in _SCATTERS)
                if found is not None:
                    # the line of what is added, the adjoint of `x[idx]`, as for `+=`
                    added = found.args[2]
                    line = lines_of[id(found)]
                    if isinstance(added, Var):
                        line = line_of_name.get(added.name, line)
            elif isinstance(s, (ast.For, ast.While)):
                loop = cur.take(lambda st: isinstance(st, Loop))
                if loop is not None:
                    line, blocks = lines_of[id(loop)], _block_stmts(loop)
                for lineno in waiting:
                    marks.setdefault(lineno, line or inherited)
                waiting.clear()
            elif isinstance(s, ast.If) and "_astype_like(" in ast.unparse(s.body[0]):
                line = last  # a gradient cast to its parameter's dtype, at the return
            elif isinstance(s, ast.If) and (
                "_check_float(" in ast.unparse(s.body[0])
                or "_check_examples(" in ast.unparse(s.body[0])
            ):
                pass  # a check of the arguments: the `def` line
            elif isinstance(s, ast.If):
                branch = cur.take(
                    lambda st: isinstance(st, If)
                    or getattr(st, "prim", None)
                    in (
                        "check_scalar",
                        "check_scalar_matmul",
                        "same_shapes",
                        "check_ranks",
                    )
                )
                if branch is not None:
                    line, blocks = lines_of[id(branch)], _block_stmts(branch)
                    # what the branches bind (`t3 = z`, `t3 = y`) is the if's,
                    # for a later `d_x = t3` that names it
                    for inner in s.body + s.orelse:
                        if isinstance(inner, ast.Assign):
                            for t in ast.walk(inner.targets[0]):
                                if isinstance(t, ast.Name):
                                    generated.setdefault(t.id, line)
            elif isinstance(s, ast.Return):
                line = last
            for lineno in waiting:
                marks.setdefault(lineno, inherited)
            waiting.clear()
            if isinstance(s, ast.FunctionDef):  # a vjp's `backward`: the same block
                marks.setdefault(s.lineno, line or inherited)
                visit(s.body, cur, line or inherited, True)
                continue
            if line is None or line == inherited and s.lineno != node.lineno:
                line = inherited
                if not top and not blocks:
                    continue  # a nested statement from its parent's line: one comment
            marks.setdefault(s.lineno, line)
            inner = [getattr(s, f, None) for f in ("body", "orelse")]
            inner = [b for b in inner if isinstance(b, list) and b]
            for i, b in enumerate(inner):
                ir = blocks[i] if i < len(blocks) else []
                visit(b, _Cursor(ir), line, False)
        for lineno in waiting:
            marks.setdefault(lineno, inherited)

    visit(node.body, _Cursor(list(fn.body.stmts)), def_line, True)
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
