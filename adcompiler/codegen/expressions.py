"""IR expressions → Python expressions: atoms, operators, NumPy calls,
indexing, written as a person writes them (`x.max(axis=1)`, `-x`, `a.dot(b)`).
"""

from __future__ import annotations

import ast
import math

from ..ir import Atom, Var
from ..passes.buffers import OPERATOR_UFUNCS
from ..rules import PRIMS

# Inlining stops once an expression has this many nodes: past it a named
# intermediate reads better than one long line.
MAX_INLINE_NODES = 14


def _atom(a: Atom) -> ast.expr:
    if isinstance(a, Var):
        return ast.Name(a.name, ast.Load())
    value = a.value
    if isinstance(value, float) and not math.isfinite(value):
        name = "nan" if math.isnan(value) else "inf"
        node = ast.Attribute(ast.Name("np", ast.Load()), name, ast.Load())
        return ast.UnaryOp(ast.USub(), node) if value < 0 else node
    if isinstance(value, float) and abs(value) == math.pi:  # np.sinc's rule
        node = ast.Attribute(ast.Name("np", ast.Load()), "pi", ast.Load())
        return ast.UnaryOp(ast.USub(), node) if value < 0 else node
    if isinstance(value, float) and value < 0 or isinstance(value, int) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _np(path: str) -> ast.expr:
    node: ast.expr = ast.Name("np", ast.Load())
    for part in path.split("."):
        node = ast.Attribute(node, part, ast.Load())
    return node


# Reductions written as methods on a value known to be a NumPy array or scalar:
# `x.max(axis=1)` skips the dispatch of `np.max(x, axis=1)`, a few microseconds.
REDUCTION_METHODS = {"sum": "sum", "mean": "mean", "amax": "max", "amin": "min"}


REDUCTION_METHODS |= {"var": "var", "std": "std", "prod": "prod"}


def expression(
    prim: str,
    args: list[ast.expr],
    kwargs: dict[str, ast.expr],
    method: bool = False,
) -> ast.expr:
    """The expression of `prim` on `args`; `method`: its operand is a NumPy value,
    so a reduction or np.dot may be written as its method."""
    form = PRIMS[prim].form
    kind = form[0]
    if prim == "outer" and kwargs.get("vectors") is not None:  # emitter.outer
        rows = ast.Subscript(args[0], _index(ast.Constant((slice(None), None))))
        return ast.BinOp(rows, ast.Mult(), args[1])
    keywords = [ast.keyword(k, v) for k, v in kwargs.items()]
    if method and prim == "dot" and len(args) == 2 and not kwargs:
        # the method skips np.dot's dispatch to it (passes/products.py)
        return ast.Call(ast.Attribute(args[0], "dot", ast.Load()), [args[1]], [])
    if method and prim == "zeros_like" and isinstance(args[0], ast.Name) and not kwargs:
        # np.zeros_like's Python wrapper costs more than the array: 1.6 µs against
        # np.zeros's 0.3 µs for a vector (frontend/calls.py reads it back)
        x = args[0]
        parts = [ast.Attribute(x, a, ast.Load()) for a in ("shape", "dtype")]
        return ast.Call(_np("zeros"), parts, [])
    if method and prim in REDUCTION_METHODS and len(args) == 1:
        owner = ast.Attribute(args[0], REDUCTION_METHODS[prim], ast.Load())
        return ast.Call(owner, [], keywords)
    if "out" in kwargs and kind in ("binop", "unary"):  # into a buffer: the ufunc
        return ast.Call(_np(OPERATOR_UFUNCS[prim]), args, keywords)
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
    if kind == "identity":  # a custom rule's marker: the value itself
        return args[0]
    if kind == "foreign":  # a function the module imports (adcompiler.defvjp)
        return ast.Call(ast.Name(form[2], ast.Load()), args, keywords)
    if kind == "tuple":
        return ast.Tuple(args, ast.Load())
    if kind == "seqcall":
        seq = ast.Tuple(args, ast.Load())
        return ast.Call(_np(form[1]), [seq], keywords)
    if kind == "grad_like":
        paths = kwargs["paths"].value
        keys = [
            ast.Tuple([ast.Constant(k) for k in path], ast.Load()) for path in paths
        ]
        table = ast.Dict(keys, args[1:])
        return ast.Call(ast.Name("_grad_like", ast.Load()), [args[0], table], [])
    if kind == "boolop":
        return ast.BoolOp(form[1](), args)
    if kind == "getitem":
        return ast.Subscript(args[0], _index(args[1]), ast.Load())
    if kind == "getattr":
        return ast.Attribute(args[0], args[1].value, ast.Load())
    raise AssertionError(f"no expression form for {prim}")


def _size(node: ast.AST) -> int:
    return sum(not _is_dot_call(n) for n in ast.walk(node))


def _is_dot_call(node: ast.AST) -> bool:
    """`a.dot(b)`, which stands for `a @ b` (passes/products.py): as long, a node less."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "dot"
    )


def _negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        flip = {ast.Gt: ast.LtE, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.LtE: ast.Gt}
        if type(test.ops[0]) in flip:
            return ast.Compare(test.left, [flip[type(test.ops[0])]()], test.comparators)
    return ast.UnaryOp(ast.Not(), test)


def _is_const(a, value) -> bool:
    return not isinstance(a, Var) and a.value == value and not isinstance(a.value, bool)


def _target(names) -> ast.expr:
    if len(names) == 1:
        return ast.Name(names[0], ast.Store())
    return ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())


def _assign(name: str, value: ast.expr) -> ast.stmt:
    return ast.Assign([ast.Name(name, ast.Store())], value)


def _index(node: ast.expr) -> ast.expr:
    """A subscript: a constant tuple of indices reads as `x[i, 1:3, None]`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, tuple):
        return ast.Tuple([_index_part(v) for v in node.value], ast.Load())
    if isinstance(node, ast.Constant):
        return _index_part(node.value)
    return node


def _index_part(v) -> ast.expr:
    if isinstance(v, slice):
        parts = [
            None if x is None else _atom(x) if isinstance(x, Var) else _atom(_C(x))
            for x in (v.start, v.stop, v.step)
        ]
        return ast.Slice(*parts)
    if v is Ellipsis:
        return ast.Constant(Ellipsis)
    if isinstance(v, Var):
        return _atom(v)
    return _atom(_C(v))


class _C:
    """A stand-in constant atom for `_atom`."""

    def __init__(self, value):
        self.value = value
