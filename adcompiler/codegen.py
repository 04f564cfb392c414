"""IR → Python source: an `ast.Module`, unparsed, formatted with black.

The generated module imports NumPy and nothing else: any helper it calls
(`_unbroadcast`, ...) is written into it, and only when used. Single-use
temporaries are inlined into the expression that reads them while the line
stays short; the values that remain get readable names.
"""

from __future__ import annotations

import ast
import math

from .ir import Assign, Atom, Block, Function, Var, uses
from .rules import PRIMS

# Inlining stops once an expression has this many nodes: past it a named
# intermediate reads better than one long line.
MAX_INLINE_NODES = 14

HELPERS = {
    "_unbroadcast": '''
def _unbroadcast(g, x):
    """Sum `g` over the axes along which `x` was broadcast, giving it the shape of `x`."""
    shape = np.shape(x)
    if np.shape(g) == shape:
        return g
    if np.ndim(g) < len(shape):
        return np.broadcast_to(g, shape).copy()
    g = np.sum(g, axis=tuple(range(np.ndim(g) - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return np.sum(g, axis=axes, keepdims=True) if axes else g
''',
    "_broadcast_like": '''
def _broadcast_like(t, x):
    """`t` with the shape of `x`, into which it broadcasts."""
    if np.shape(t) == np.shape(x):
        return t
    return np.broadcast_to(t, np.shape(x))
''',
    "_matmul_lhs": '''
def _matmul_lhs(g, b):
    """The adjoint of `a` in `a @ b`: `g @ b.T`, or an outer product when `b` is a vector."""
    if np.ndim(b) == 1:
        return np.multiply.outer(g, b)
    return g @ np.swapaxes(b, -1, -2)
''',
    "_matmul_rhs": '''
def _matmul_rhs(a, g):
    """The adjoint of `b` in `a @ b`: `a.T @ g`, or an outer product when `a` is a vector."""
    if np.ndim(a) == 1:
        return np.multiply.outer(a, g)
    return np.swapaxes(a, -1, -2) @ g
''',
    "_count": '''
def _count(x, out):
    """How many entries of `x` a mean averaged into each entry of `out`."""
    return np.size(x) // max(np.size(out), 1)
''',
}


def _atom(a: Atom) -> ast.expr:
    if isinstance(a, Var):
        return ast.Name(a.name, ast.Load())
    value = a.value
    if isinstance(value, float) and not math.isfinite(value):
        name = "nan" if math.isnan(value) else "inf"
        node = ast.Attribute(ast.Name("np", ast.Load()), name, ast.Load())
        return ast.UnaryOp(ast.USub(), node) if value < 0 else node
    if isinstance(value, float) and value < 0 or isinstance(value, int) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _np(path: str) -> ast.expr:
    node: ast.expr = ast.Name("np", ast.Load())
    for part in path.split("."):
        node = ast.Attribute(node, part, ast.Load())
    return node


def expression(
    prim: str, args: list[ast.expr], kwargs: dict[str, ast.expr]
) -> ast.expr:
    form = PRIMS[prim].form
    kind = form[0]
    keywords = [ast.keyword(k, v) for k, v in kwargs.items()]
    if kind == "binop":
        return ast.BinOp(args[0], form[1](), args[1])
    if kind == "unary":
        return ast.UnaryOp(form[1](), args[0])
    if kind == "compare":
        return ast.Compare(args[0], [form[1]()], [args[1]])
    if kind == "np":
        return ast.Call(_np(form[1]), args, keywords)
    if kind in ("builtin", "helper"):
        return ast.Call(ast.Name(form[1], ast.Load()), args, keywords)
    if kind == "attr":
        return ast.Attribute(args[0], form[1], ast.Load())
    if kind == "method":
        rest = args[1:]
        if (
            len(rest) == 1
            and isinstance(rest[0], ast.Constant)
            and isinstance(rest[0].value, tuple)
            and rest[0].value  # `x.reshape(())` keeps its empty tuple
        ):
            rest = [ast.Constant(v) for v in rest[0].value]
        return ast.Call(ast.Attribute(args[0], form[1], ast.Load()), rest, keywords)
    if kind == "ifexp":
        return ast.IfExp(args[0], args[1], args[2])
    if kind == "tuple":
        return ast.Tuple(args, ast.Load())
    raise AssertionError(f"no expression form for {prim}")


def _size(node: ast.AST) -> int:
    return sum(1 for _ in ast.walk(node))


class _Body:
    """Turns one block into statements, inlining single-use temporaries."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.counts = uses(fn.body)
        self.pending: dict[str, ast.expr] = {}
        self.helpers: set[str] = set()
        # Values a statement reads twice by name (the scalar check) stay named.
        self.keep = {
            s.args[0].name
            for s in fn.body.stmts
            if isinstance(s, Assign)
            and s.prim == "check_scalar"
            and isinstance(s.args[0], Var)
        }

    def atom(self, a: Atom) -> ast.expr:
        if isinstance(a, Var) and a.name in self.pending:
            return self.pending.pop(a.name)
        return _atom(a)

    def block(self, block: Block) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        results = {a.name for a in block.results if isinstance(a, Var)}
        for stmt in block.stmts:
            if not isinstance(stmt, Assign):
                raise AssertionError(
                    "structured statements are lowered by their own issue"
                )
            form = PRIMS[stmt.prim].form
            if form[0] == "helper":
                self.helpers.add(form[1])
            if form[0] == "check_scalar":
                out.append(_check_scalar(_atom(stmt.args[0]), stmt.args[1].value))
                continue
            args = [self.atom(a) for a in stmt.args]
            kwargs = {k: self.atom(v) for k, v in stmt.kwargs.items()}
            value = expression(stmt.prim, args, kwargs)
            (name,) = stmt.outs
            inline = (
                name.startswith("_t")
                and name not in self.keep
                and self.counts.get(name, 0) == 1
                and name not in results
                and _size(value) <= MAX_INLINE_NODES
            )
            if inline:
                self.pending[name] = value
            else:
                out.append(ast.Assign([ast.Name(name, ast.Store())], value))
        return out


def _check_scalar(value: ast.expr, fname: str) -> ast.stmt:
    message = f"grad of {fname} needs a scalar output, got shape "
    raise_ = ast.Raise(
        ast.Call(
            ast.Name("TypeError", ast.Load()),
            [
                ast.JoinedStr(
                    [
                        ast.Constant(message),
                        ast.FormattedValue(
                            ast.Call(_np("shape"), [value], []), -1, None
                        ),
                    ]
                )
            ],
            [],
        ),
        None,
    )
    test = ast.Compare(
        ast.Call(_np("ndim"), [value], []), [ast.NotEq()], [ast.Constant(0)]
    )
    return ast.If(test, [raise_], [])


def _rename_temps(fn: Function, body: list[ast.stmt]) -> None:
    """Temporaries that survive inlining get short names no user name collides with."""
    taken = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
    taken |= set(fn.params)
    mapping: dict[str, str] = {}
    counter = 0
    names = [n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)]
    for name in names:
        if name.startswith("_t") and name not in mapping:
            counter += 1
            while f"t{counter}" in taken:
                counter += 1
            mapping[name] = f"t{counter}"
    for (
        name
    ) in names:  # the adjoint of a temporary, `d__t3`, reads as `d_t1` beside `t1`
        if name.startswith("d__t") and name not in mapping:
            base = mapping.get(name[2:])
            if base is None or f"d_{base}" in taken:
                counter += 1
                while f"t{counter}" in taken or f"d_t{counter}" in taken:
                    counter += 1
                base = f"t{counter}"
            mapping[name] = f"d_{base}"
            taken.add(mapping[name])
    for node in ast.walk(ast.Module(body, [])):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]


def function_def(
    fn: Function, doc: str | None, defaults: list[ast.expr] = ()
) -> tuple[ast.FunctionDef, set[str]]:
    gen = _Body(fn)
    body = gen.block(fn.body)
    results = []
    for i, r in enumerate(fn.body.results):
        value = gen.atom(r)
        if i in fn.result_names:
            name = fn.result_names[i]
            body.append(ast.Assign([ast.Name(name, ast.Store())], value))
            value = ast.Name(name, ast.Load())
        results.append(value)
    body.append(ast.Return(_nest(fn.result_tree, results)))
    _rename_temps(fn, body)
    if doc:
        body.insert(0, ast.Expr(ast.Constant(doc)))
    args = ast.arguments(
        [], [ast.arg(p) for p in fn.params], None, [], [], None, list(defaults)
    )
    node = ast.FunctionDef(fn.name, args, body, [], None, type_params=[])
    return node, gen.helpers


def _nest(tree, results: list[ast.expr]) -> ast.expr:
    if tree is None:
        return results[0] if len(results) == 1 else ast.Tuple(results, ast.Load())
    if isinstance(tree, int):
        return results[tree]
    return ast.Tuple([_nest(t, results) for t in tree], ast.Load())


def _bare_returns(text: str) -> str:
    """`return (a, b)` → `return a, b`, as a person writes it (ast.unparse adds the parentheses)."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("return (") and stripped.endswith(")"):
            inner = stripped[len("return (") : -1]
            depth = 0
            for ch in inner:
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
                if depth < 0:
                    break
            else:
                if "," in inner:
                    line = line[: len(line) - len(stripped)] + "return " + inner
        lines.append(line)
    return "\n".join(lines)


def module_source(functions: list[tuple[Function, str | None]]) -> str:
    """The text of a module defining the given functions (black-formatted)."""
    import black

    defs, helpers = [], set()
    for fn, doc in functions:
        node, used = function_def(fn, doc)
        defs.append(node)
        helpers |= used
    module = ast.Module([ast.Import([ast.alias("numpy", "np")])] + defs, [])
    text = _bare_returns(ast.unparse(ast.fix_missing_locations(module)))
    helper_text = "".join(HELPERS[h] for h in sorted(helpers))
    if helper_text:
        first, rest = text.split("\n", 1)
        text = f"{first}\n{helper_text}\n{rest}"
    return black.format_str(text, mode=black.Mode())
