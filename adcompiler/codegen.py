"""IR → Python source: an `ast.Module`, unparsed, formatted with black.

The generated module imports NumPy and nothing else: any helper it calls
(`_unbroadcast`, ...) is written into it, and only when used. Single-use
temporaries are inlined into the expression that reads them while the line
stays short; the values that remain get readable names.
"""

from __future__ import annotations

import ast
import copy
import math
import re

from . import passes
from .helpers import HELPERS, helper_closure
from .ir import (
    Assign,
    Atom,
    Block,
    Function,
    If,
    Loop,
    Var,
    is_undef,
    rename,
    uses,
    walk,
)
from .passes.buffers import COMMUTATIVE, OPERATOR_UFUNCS
from .rules import PRIMS
from .rules.core import MATMUL_HELPERS, VIEWS

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


def _local_uses(block: Block) -> dict[str, int]:
    """Reads at the top level of a block (not in its nested blocks)."""
    counts: dict[str, int] = {}
    atoms = list(block.results)
    for stmt in block.stmts:
        atoms += list(stmt.operands())
    for a in atoms:
        if isinstance(a, Var):
            counts[a.name] = counts.get(a.name, 0) + 1
    return counts


# What NumPy returns whatever the operands: an array or a NumPy scalar (np.float64),
# both of which have the reduction methods. `np.shape`, `np.ndim`, `np.size` do not.
_NOT_NUMPY = {"shape", "ndim", "size"}
_ALWAYS_NUMPY_HELPERS = MATMUL_HELPERS
# Results that are NumPy values when their first operand is.
_LIKE_FIRST = {
    "getitem",
    "T",
    "reshape",
    "copy",
    "unbroadcast",
    "neg",
    "index_add",  # buffers updated in place
    "index_add_at",
    "iadd",
}


def _numpy_values(fn: Function) -> set[str]:
    """Values certainly a NumPy array or scalar, not a Python number or a list.

    Arguments are not (a Python float or a list may be passed), unless their
    example is an array (`grad(f, example_args=...)`). What a NumPy
    function returns is; so is an arithmetic result with a NumPy operand, and a
    matrix product (lists and Python numbers have no `@`). Codegen has merged
    names by now (a branch's result, a loop's carried value), so a name counts
    only if every statement that binds it makes a NumPy value.
    """
    binders: dict[str, list] = {}  # name -> its Assigns; None for any other binding
    for name in [*fn.params, *fn.constants, *(fn.backward_params or ())]:
        binders.setdefault(name, []).append(None)
    pushed: dict[str, list] = {}  # tape -> the values of each push onto it
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop):
            names = [*stmt.defs, *stmt.carried, *([stmt.index] if stmt.index else [])]
            bindings = [None] * len(names)
        elif isinstance(stmt, Assign) and stmt.prim == "pop":
            # a popped value is what was pushed at its position
            names, bindings = stmt.outs, [(stmt, k) for k in range(len(stmt.outs))]
        else:
            single = isinstance(stmt, Assign) and len(stmt.outs) == 1
            names, bindings = stmt.outs, [stmt if single else None] * len(stmt.outs)
        if isinstance(stmt, Assign) and stmt.prim == "push":
            pushed.setdefault(stmt.args[0].name, []).append(stmt.args[1:])
        for name, binding in zip(names, bindings):
            binders.setdefault(name, []).append(binding)
    # an argument whose example is an array is one: the guard makes sure
    numpy = {
        p
        for p, example in fn.examples.items()
        if example.kind == "array" and len(binders.get(p, ())) == 1
    }
    # a trip's row of a loop's products made before it (`U_xs[t]` of
    # `_matmul_rows(U, xs)` or `_rows_matmul(xs, U)`): a row of their array,
    # or one of their list
    rows = {
        s.out
        for s in walk(fn.body)
        if getattr(s, "prim", None) in ("matmul_rows", "rows_matmul")
    }
    indices = {s.index for s in walk(fn.body) if isinstance(s, Loop) and s.index}
    numpy |= {
        s.out
        for s in walk(fn.body)
        if isinstance(s, Assign)
        and s.prim == "getitem"
        and getattr(s.args[0], "name", None) in rows
        and getattr(s.args[1], "name", None) in indices
        and len(binders.get(s.out, ())) == 1
    }
    changed = True
    while changed:  # an operand proven NumPy may prove another value
        changed = False
        for name, bound in binders.items():
            if name not in numpy and all(_makes_numpy(b, numpy, pushed) for b in bound):
                numpy.add(name)
                changed = True
    return numpy


def _makes_numpy(binding, numpy: set[str], pushed: dict[str, list]) -> bool:
    """Whether `binding` (an Assign, (pop, position), or None) binds a NumPy value."""
    if binding is None:
        return False

    def known(a) -> bool:
        return isinstance(a, Var) and a.name in numpy

    if isinstance(binding, tuple):
        pop, k = binding
        pushes = pushed.get(pop.args[0].name, [])
        name = pop.outs[k]
        # the value pushed under the popped name itself is one of that name's others
        return bool(pushes) and all(
            len(v) > k and (v[k] == Var(name) or known(v[k])) for v in pushes
        )
    stmt = binding
    kind = PRIMS[stmt.prim].form[0]
    prim = stmt.prim
    return (
        (kind == "np" and prim not in _NOT_NUMPY)
        or prim == "matmul"
        or prim in _ALWAYS_NUMPY_HELPERS
        or (kind in ("binop", "compare") and any(map(known, stmt.args)))
        # `_unbroadcast(g, x)` is NumPy where `x` is: it brings `g` to `x`'s shape
        or (prim == "unbroadcast" and known(stmt.args[1]))
        or (
            prim in _LIKE_FIRST
            and bool(stmt.args)
            # `d[i] += g` rebinds `d`: what it held came from its other bindings
            and (known(stmt.args[0]) or stmt.args[0] == Var(stmt.out))
        )
    )


def _fresh_values(fn: Function) -> set[str]:
    """Values that certainly own their memory (a new array nobody else holds)."""
    fresh: set[str] = set()
    counts = uses(fn.body)
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and len(stmt.outs) == 1:
            kind = PRIMS[stmt.prim].form[0]
            if stmt.prim in ("setitem", "zeros_list") or (
                kind in ("binop", "unary", "np", "method") and stmt.prim not in VIEWS
            ):
                fresh.add(stmt.out)
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop):
            for c, init, r in zip(stmt.carried, stmt.inits, stmt.body.results):
                if (
                    isinstance(init, Var)
                    and init.name in fresh
                    and counts.get(init.name) == 1
                    and isinstance(r, Var)
                    and r.name in fresh
                ):
                    fresh.add(c)
    return fresh


def _alias_buffers(fn: Function) -> None:
    """A buffer updated in place keeps one name through its updates (`d_x[i] += g`)."""
    parent: dict[str, str] = {}

    def find(n):
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    fresh = _fresh_values(fn)
    counts = uses(fn.body)
    for stmt in walk(fn.body):
        if not isinstance(stmt, Assign):
            continue
        into = stmt.kwargs.get("out")
        if into is not None:
            name = _buffer_name(stmt, find)
            if name is not None:
                for n in {find(stmt.out), find(into.name)} - {name}:
                    parent[n] = name
            continue
        if not isinstance(stmt.args[0] if stmt.args else None, Var):
            continue
        in_place = stmt.prim in (
            "index_add",
            "index_add_at",
            "index_add_any",
            "append",
            "iadd",
        )
        if stmt.prim == "setitem":
            old = stmt.args[0].name
            in_place = (
                old in fresh and counts.get(old) == 1 and passes.enabled("inplace")
            )
        if in_place:
            _union(parent, find(stmt.out), find(stmt.args[0].name))
    mapping = {n: find(n) for n in parent if find(n) != n}
    if mapping:
        rename(fn.body, mapping)


def _buffer_name(stmt: Assign, find=lambda n: n) -> str | None:
    """The one name of a result written over its operand's memory
    (passes/buffers.py) and of that operand, or None where each keeps its own.

    A temporary, or the adjoint of one (`d__t2`), takes the operand's name
    (`t1 *= x`), unless that is the user's own (`t3 = np.multiply(h, h,
    out=h)`, not `h *= h`). A name of the user's is given to a temporary
    operand (`z1 = X @ W1`, then `z1 += b1`). An adjoint of the user's values
    keeps its name apart (`d_x = np.add(t1, t2, out=t1)`)."""
    into = stmt.kwargs["out"]
    if into not in stmt.args:
        return None
    buf, out = find(into.name), find(stmt.out)

    def temporary(n: str) -> bool:
        return n.startswith(("_t", "d__t"))

    def user(n: str) -> bool:
        return not n.startswith(("_t", "d_"))

    if temporary(out):
        return None if user(buf) else buf
    return out if user(out) and temporary(buf) else None


def _union(parent: dict[str, str], a: str, b: str) -> None:
    """One name for the roots `a` and `b`: a user-facing name (d_x) wins over a temporary."""
    if a != b:
        if b.startswith("_t") and not a.startswith("_t"):
            a, b = b, a
        parent[a] = b


def _popped(fn: Function) -> set[str]:
    return {
        o
        for s in walk(fn.body)
        if isinstance(s, Assign) and s.prim == "pop"
        for o in s.outs
    }


def _top_defs(block: Block) -> dict[str, int]:
    from .ir import defs

    return {o: k for k, s in enumerate(block.stmts) for o in defs(s)}


def _coalesce(fn: Function) -> None:
    """Give merged and loop-carried values one name where that changes nothing.

    `z = x * y` then `z_2 = z` at the end of a branch becomes `z_2 = x * y`;
    `h_1 = f(h)` then `h = h_1` at the end of a loop body becomes `h = f(h)`;
    the value after a loop keeps the name the loop carried it under. Each
    rename is made only where no later read could see the other value.
    """

    def apply(mapping):
        rename(fn.body, mapping)

    def visit(block: Block):
        for k, stmt in enumerate(block.stmts):
            if isinstance(stmt, If):
                visit(stmt.then)
                visit(stmt.orelse)
                for i, o in enumerate(stmt.outs):
                    for b in (stmt.then, stmt.orelse):
                        r = b.results[i]
                        counts, popped = uses(fn.body), _popped(fn)
                        if (
                            isinstance(r, Var)
                            and r.name != o
                            and counts.get(r.name) == 1
                            and r.name in _top_defs(b)
                            and r.name not in popped
                            and not _is_buffer(b, r.name)
                        ):
                            apply({r.name: o})
            elif isinstance(stmt, Loop):
                visit(stmt.body)
                for i in range(len(stmt.carried)):
                    _coalesce_loop(fn, block, k, stmt, i, apply)

    visit(fn.body)


def _is_buffer(block: Block, name: str) -> bool:
    return any(
        isinstance(s, Assign)
        and s.out == name
        and s.prim in ("index_add", "index_add_at", "index_add_any", "iadd", "pop")
        for s in block.stmts
        if isinstance(s, Assign) and s.outs
    )


def _reads_after(stmts, names: set[str]) -> bool:
    return bool(set(uses(Block(list(stmts)))) & names)


def _unowned_update(stmt, c: str, fn: Function) -> bool:
    """Whether `stmt` is `c[i] = v`, which under one name becomes an update in place,
    on a `c` that may share its memory: the loop's first value, read elsewhere
    (`y_1 = y` before the loop), or a view of an argument. Written in place it
    would change that other value too."""
    return (
        isinstance(stmt, Assign)
        and stmt.prim == "setitem"
        and stmt.args[0] == Var(c)
        and c not in _fresh_values(fn)
    )


def _coalesce_loop(fn, block, k, stmt: Loop, i, apply) -> None:
    counts, popped = uses(fn.body), _popped(fn)
    init = stmt.inits[i]
    c = stmt.carried[i]
    # init → carried: the loop takes over the variable that held the first value
    if (
        isinstance(init, Var)
        and init.name not in fn.params
        and counts.get(init.name) == 1
        and _top_defs(block).get(init.name, k) < k
        and init.name not in popped
        and not _is_buffer(block, init.name)
    ):
        if init.name.startswith("_t"):
            apply({init.name: c})
        else:
            apply({c: init.name})
            c = init.name
        counts, popped = uses(fn.body), _popped(fn)
    # body result → carried: `h = f(h)` instead of `h_1 = f(h)`, `h = h_1`
    body = stmt.body
    r = body.results[i]
    defs = _top_defs(body)
    if (
        isinstance(r, Var)
        and r.name != c
        and counts.get(r.name) == 1
        and r.name in defs
        and isinstance(body.stmts[defs[r.name]], Assign)
        and not _is_buffer(body, r.name)
        and r.name not in popped
        and c not in popped
        and not _reads_after(body.stmts[defs[r.name] + 1 :], {c})
        and sum(1 for x in body.results if x == Var(c)) == 0
        and not _unowned_update(body.stmts[defs[r.name]], c, fn)
    ):
        apply({r.name: c})
    # out → carried: after the loop the variable still holds the last value
    o = stmt.outs[i]
    counts, popped = uses(fn.body), _popped(fn)
    if o in popped:
        return
    if c in popped:
        # a backward loop pops earlier values into `c`: the value after the
        # forward loop keeps a name of its own, whatever reads it and where
        return
    apply({o: c})


class _Body:
    """Turns one block into statements, inlining single-use temporaries."""

    def __init__(self, fn: Function):
        self.fn = fn
        _alias_buffers(fn)
        _coalesce(fn)
        self.counts = uses(fn.body)
        self.numpy = _numpy_values(fn)
        self.pending: dict[str, ast.expr] = {}
        self.helpers: set[str] = set()
        self.limit = MAX_INLINE_NODES
        self.depth = 0
        # Values an enclosing branch copies into its own result (`v_2 = v_1`): a
        # path that leaves one unset must set it, or the copy fails.
        self.yielded = {
            r.name
            for s in walk(fn.body)
            if isinstance(s, If)
            for r in s.then.results + s.orelse.results
            if isinstance(r, Var)
        }
        # Values a statement reads twice by name (the scalar check) stay named,
        # and so do buffers updated in place.
        self.keep = {
            s.args[0].name
            for s in walk(fn.body)
            if isinstance(s, Assign)
            and s.prim
            in (
                "check_scalar",
                "check_float",
                "check_cotangent",
                "index_add",
                "index_add_at",
                "index_add_any",
                "iadd",
            )
            and isinstance(s.args[0], Var)
        }
        # so does a result written into another array's memory under its own name
        self.keep |= {
            s.out
            for s in walk(fn.body)
            if isinstance(s, Assign)
            and "out" in s.kwargs
            and s.kwargs["out"] != Var(s.out)
        }
        self.keep |= {
            a.name
            for s in walk(fn.body)
            if isinstance(s, Assign) and s.prim == "check_scalar_matmul"
            for a in s.args[:2]
            if isinstance(a, Var)
        }
        # a trip's check of its shapes reads them by name, and a shape taken
        # before the loop (`shape_h0 = np.shape(h0)`) is taken there once
        self.keep |= {
            a.name
            for s in walk(fn.body)
            if isinstance(s, Assign) and s.prim == "same_shapes"
            for a in s.args
            if isinstance(a, Var)
        }
        self.shape_tuples = {
            s.out
            for s in walk(fn.body)
            if isinstance(s, Assign) and s.prim == "shape" and len(s.args) == 1
        }

    def atom(self, a: Atom) -> ast.expr:
        if isinstance(a, Var) and a.name in self.pending:
            return self.pending.pop(a.name)
        return _atom(a)

    def pending_reads(self) -> set[str]:
        return {
            n.id
            for value in self.pending.values()
            for n in ast.walk(value)
            if isinstance(n, ast.Name)
        }

    def flush(self, out: list, names, keep=()) -> None:
        """Write out the pending expressions that read a name about to be rebound
        (or an array about to be written over), but those named in `keep`."""
        names = set(names)
        for temp, value in list(self.pending.items()):
            reads = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
            if reads & names and temp not in keep:
                del self.pending[temp]
                out.append(_assign(temp, value))

    def block(self, block: Block) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        local = _local_uses(block)
        for stmt in block.stmts:
            if isinstance(stmt, If):
                out += self.branch(stmt)
                continue
            if isinstance(stmt, Loop):
                out += self.loop(stmt)
                continue
            form = PRIMS[stmt.prim].form
            if form[0] == "helper":
                self.helpers.add(form[1])
            if form[0] == "grad_like":
                self.helpers |= {"_grad_like", "_restructure"}
            if form[0] == "begin_backward":
                self.flush(out, set(self.pending_reads()))
                out.append(_BackwardMarker())
                continue
            if form[0] == "check_cotangent":
                c, x, rule, param = stmt.args
                self.flush(out, [a.name for a in (c, x) if isinstance(a, Var)])
                out.append(
                    _check_cotangent(_atom(c), _atom(x), rule.value, param.value)
                )
                continue
            if form[0] == "foreign":
                self.helpers.add(f"from {form[1]} import {form[2]}")
            if form[0] == "check_float":
                self.helpers.add("_check_float")
                out.append(_check_float(_atom(stmt.args[0]), stmt.args[1].value))
                continue
            if form[0] == "check_examples":
                self.helpers |= {"_check_examples"} | _dtype_constants(stmt)
                out.append(_check_examples(stmt))
                continue
            if form[0] == "check_scalar_matmul":
                a, b, fname = stmt.args
                known = [isinstance(v, Var) and v.name in self.numpy for v in (a, b)]
                out.append(
                    _check_scalar_matmul(_atom(a), _atom(b), fname.value, *known)
                )
                continue
            if form[0] == "same_shapes":
                out.append(self.same_shapes(stmt))
                continue
            if form[0] == "check_ranks":
                out.append(self.check_ranks(stmt))
                continue
            if form[0] == "check_scalar":
                is_argument = len(stmt.args) > 2 and stmt.args[2].value
                out.append(
                    _check_scalar(_atom(stmt.args[0]), stmt.args[1].value, is_argument)
                )
                continue
            if form[0] in (
                "push",
                "pop",
                "list",
                "index_add",
                "index_add_at",
                "index_add_any",
                "append",
                "iadd",
            ):
                effect = self.effect(stmt)
                changed = list(stmt.outs)
                if form[0] == "pop":  # what reads the list reads it before the pop
                    changed += [a.name for a in stmt.args[:1] if isinstance(a, Var)]
                self.flush(out, changed)
                out.append(effect)
                continue
            if form[0] == "setitem":
                out += self.setitem(stmt)
                continue
            if "out" in stmt.kwargs:
                # what reads the array before it is written over is written out
                # first; the statement's own operands are read before it writes
                operands = [a.name for a in stmt.args if isinstance(a, Var)]
                self.flush(out, [stmt.kwargs["out"].name], keep=operands)
            if stmt.kwargs.get("out") == Var(stmt.out):
                out.append(self.into(stmt))
                continue
            args = [self.atom(a) for a in stmt.args]
            kwargs = {k: self.atom(v) for k, v in stmt.kwargs.items()}
            first = stmt.args[0] if stmt.args else None
            method = isinstance(first, Var) and first.name in self.numpy
            value = expression(stmt.prim, args, kwargs, method)
            (name,) = stmt.outs
            inline = (
                name.startswith("_t")
                and name not in self.keep
                and self.counts.get(name, 0) == 1
                and local.get(name, 0) == 1
                and _size(value) <= self.limit
            )
            if inline:
                self.pending[name] = value
            else:
                self.flush(out, [name])
                out.append(_assign(name, value))
        return out

    def same_shapes(self, stmt: Assign) -> ast.stmt:
        """`if not (t3.shape == t2.shape == shape_h0 and y.shape == t4.shape):
        return <general>(...)`: a trip whose values do not have the shapes the
        gradient was derived for leaves it to the function derived without
        taking them (passes/steady.py)."""
        from .passes.steady import groups

        tests = []
        for group in groups(stmt):
            parts = [self._shape_of(a) for a in group]
            tests.append(
                ast.Compare(parts[0], [ast.Eq()] * (len(parts) - 1), parts[1:])
            )
        return self._unless(tests)

    def _shape_of(self, a: Atom) -> ast.expr:
        """`x.shape` of a NumPy value, `np.shape(x)` of another, a shape taken
        before the loop as it is, and `()` for a scalar's."""
        if not isinstance(a, Var):
            return ast.Tuple([], ast.Load())
        name = ast.Name(a.name, ast.Load())
        if a.name in self.shape_tuples:
            return name
        if a.name in self.numpy:
            return ast.Attribute(name, "shape", ast.Load())
        return ast.Call(_np("shape"), [name], [])

    def check_ranks(self, stmt: Assign) -> ast.stmt:
        """`if not (np.ndim(W) == 2 and 1 <= np.ndim(h0) <= 2): return
        <general>(...)`: the ranks that make a loop's products np.dot
        (passes/steady.py `ranked_products`)."""
        tests = []
        for a, ranks in zip(stmt.args, stmt.kwargs["ranks"].value):
            x = ast.unparse(_atom(a))
            if len(ranks) == 1:
                tests.append(f"np.ndim({x}) == {ranks[0]}")
            else:  # a range: `in` does not read back (a membership test)
                tests.append(f"{ranks[0]} <= np.ndim({x}) <= {ranks[-1]}")
        return self._unless([ast.parse(t, mode="eval").body for t in tests])

    def _unless(self, tests: list[ast.expr]) -> ast.stmt:
        """`if not (a and b): return <general>(...)`, the test written as text
        once names are final (_ShapeTests)."""
        test = ast.UnaryOp(ast.Not(), ast.BoolOp(ast.And(), tests))
        test.shape_test = True
        fn = self.fn
        call = ast.Return(
            ast.Call(
                ast.Name(fn.general.name, ast.Load()),
                [ast.Name(p, ast.Load()) for p in fn.params],
                [ast.keyword(c, ast.Name(c, ast.Load())) for c in fn.constants],
            )
        )
        return ast.If(test, [call], [])

    def into(self, stmt: Assign) -> ast.stmt:
        """`t *= x`, or `np.exp(t, out=t)`: a result written over its operand `t`."""
        buf = stmt.kwargs["out"]
        args = [self.atom(a) for a in stmt.args]
        form = PRIMS[stmt.prim].form
        if form[0] == "binop":
            other = None
            if stmt.args[0] == buf:
                other = args[1]
            elif stmt.prim in COMMUTATIVE:
                other = args[0]
            if other is not None:
                return ast.AugAssign(ast.Name(buf.name, ast.Store()), form[1](), other)
        return ast.Expr(expression(stmt.prim, args, {"out": _atom(buf)}))

    def effect(self, stmt: Assign) -> ast.stmt:
        form = PRIMS[stmt.prim].form[0]
        if form == "list":
            return _assign(stmt.out, ast.List([], ast.Load()))
        if form == "push":
            tape, *values = [self.atom(a) for a in stmt.args]
            item = values[0] if len(values) == 1 else ast.Tuple(values, ast.Load())
            call = ast.Call(ast.Attribute(tape, "append", ast.Load()), [item], [])
            return ast.Expr(call)
        if form == "iadd":
            acc, g = stmt.args
            return ast.AugAssign(
                ast.Name(acc.name, ast.Store()), ast.Add(), self.atom(g)
            )
        if form == "append":
            xs, item = stmt.args
            call = ast.Call(
                ast.Attribute(_atom(xs), "append", ast.Load()), [self.atom(item)], []
            )
            return ast.Expr(call)
        if form == "pop":
            call = ast.Call(
                ast.Attribute(self.atom(stmt.args[0]), "pop", ast.Load()), [], []
            )
            if not stmt.outs:  # a list's last entry, dropped (passes/lists.py)
                return ast.Expr(call)
            return ast.Assign([_target(stmt.outs)], call)
        buf, index, g = stmt.args
        if form == "index_add":  # `sub`: the negation pass's `d[i] -= g`
            return ast.AugAssign(
                ast.Subscript(_atom(buf), _index(self.atom(index)), ast.Store()),
                ast.Sub() if stmt.kwargs.get("sub") else ast.Add(),
                self.atom(g),
            )
        if form == "index_add_any":
            self.helpers.add("_add_into")
            func = ast.Name("_add_into", ast.Load())
            return ast.Expr(
                ast.Call(func, [_atom(buf), self.atom(index), self.atom(g)], [])
            )
        call = ast.Call(_np("add.at"), [_atom(buf), self.atom(index), self.atom(g)], [])
        return ast.Expr(call)

    def setitem(self, stmt: Assign) -> list[ast.stmt]:
        """`y[idx] = v`, in place when no one reads the old value, else on a copy."""
        old, index, value = stmt.args
        out: list[ast.stmt] = []
        value = self.atom(value)
        index = self.atom(index)
        if not (isinstance(old, Var) and old.name == stmt.out):
            copy = ast.Call(ast.Attribute(self.atom(old), "copy", ast.Load()), [], [])
            self.flush(out, stmt.outs)
            out.append(_assign(stmt.out, copy))
        else:
            self.flush(out, stmt.outs)
        target = ast.Subscript(
            ast.Name(stmt.out, ast.Load()), _index(index), ast.Store()
        )
        out.append(ast.Assign([target], value))
        return out

    def results(self, names, results, undefined=frozenset()) -> list[ast.stmt]:
        """`name = result` for each merged value, in parallel where they read each other.

        The names in `undefined` that a path leaves unset are set to None there:
        a loop's tape saves them whichever way the trip went, and an enclosing
        branch copies them into its own result.
        """
        unset = [
            _assign(n, ast.Constant(None))
            for n, r in zip(names, results)
            if is_undef(r) and n in undefined
        ]
        pairs = [
            (n, r)
            for n, r in zip(names, results)
            if not is_undef(r) and not (isinstance(r, Var) and r.name == n)
        ]
        if undefined and unset:
            return self.results([n for n, _ in pairs], [r for _, r in pairs]) + unset
        if not pairs:
            return []
        values = [self.atom(r) for _, r in pairs]
        flushed: list[ast.stmt] = []
        self.flush(flushed, [n for n, _ in pairs])
        if flushed:
            return flushed + [_assign(n, v) for (n, _), v in zip(pairs, values)]
        reads = {x.id for v in values for x in ast.walk(v) if isinstance(x, ast.Name)}
        if len(pairs) > 1 and reads & {n for n, _ in pairs}:
            return [
                ast.Assign(
                    [_target([n for n, _ in pairs])], ast.Tuple(values, ast.Load())
                )
            ]
        return [_assign(n, v) for (n, _), v in zip(pairs, values)]

    def branch(self, stmt: If) -> list[ast.stmt]:
        test = self.atom(stmt.cond)
        inside = set(stmt.outs) if self.depth > 0 else set(stmt.outs) & self.yielded
        then = self.block(stmt.then)
        then += self.results(stmt.outs, stmt.then.results, inside)
        orelse = self.block(stmt.orelse)
        orelse += self.results(stmt.outs, stmt.orelse.results, inside)
        rank = {
            r.name: i for i, r in enumerate(self.fn.body.results) if isinstance(r, Var)
        }
        then, orelse = _in_result_order(then, rank), _in_result_order(orelse, rank)
        if not then and orelse:
            return [ast.If(_negate(test), orelse, [])]
        if (
            len(stmt.outs) == 1
            and len(then) == 1
            and len(orelse) == 1
            and all(isinstance(s, ast.Assign) for s in then + orelse)
            and _size(then[0].value) + _size(orelse[0].value) <= MAX_INLINE_NODES
        ):
            value = ast.IfExp(test, then[0].value, orelse[0].value)
            return [_assign(stmt.outs[0], value)]
        return [ast.If(test, then or [ast.Pass()], orelse)]

    def loop(self, stmt: Loop) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for c, init in zip(stmt.carried, stmt.inits):
            if is_undef(init):
                out.append(_assign(c, ast.Constant(None)))
            elif not (isinstance(init, Var) and init.name == c):
                out.append(_assign(c, self.atom(init)))
        body: list[ast.stmt] = []
        if stmt.trips:
            out.append(_assign(stmt.trips, ast.Constant(0)))
            body.append(
                ast.AugAssign(
                    ast.Name(stmt.trips, ast.Store()), ast.Add(), ast.Constant(1)
                )
            )
        if stmt.cond is not None:
            # a `while` test reads best as one expression, even a long one
            self.limit = 3 * MAX_INLINE_NODES
            cond = self.block(stmt.cond)
            self.limit = MAX_INLINE_NODES
            test = self.atom(stmt.cond.results[0])
            if cond:
                body = (
                    cond
                    + [ast.If(ast.UnaryOp(ast.Not(), test), [ast.Break()], [])]
                    + body
                )
                test = ast.Constant(True)
        self.depth += 1
        body += self.block(stmt.body)
        self.depth -= 1
        body += self.results(stmt.carried, stmt.body.results)
        if stmt.brk is not None:
            body.append(ast.If(self.atom(stmt.brk), [ast.Break()], []))
        if stmt.cond is not None:
            out.append(ast.While(test, body or [ast.Pass()], []))
        else:
            args = [self.atom(a) for a in (stmt.start, stmt.stop, stmt.step)]
            if _is_const(stmt.step, 1):
                args = args[:2]
                if _is_const(stmt.start, 0):
                    args = args[1:]
            it = ast.Call(ast.Name("range", ast.Load()), args, [])
            if stmt.reverse:
                it = ast.Call(ast.Name("reversed", ast.Load()), [it], [])
            target = ast.Name(stmt.index or "_", ast.Store())
            out.append(ast.For(target, it, body or [ast.Pass()], []))
        out += self.results(stmt.outs, [Var(c) for c in stmt.carried])
        return out


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


def _check_scalar(value: ast.expr, fname: str, is_argument: bool) -> ast.stmt:
    """`if getattr(v, "ndim", 0) != 0: raise TypeError(...)`.

    `getattr` rather than `np.ndim`: on a Python float, `np.ndim` builds an
    array and costs microseconds, more than a small gradient itself.
    """
    v = ast.unparse(value)
    if is_argument:
        what = f"with {v} of shape {{np.shape({v})}} it is not"
        message = f'f"grad of {fname} needs a scalar output; {what}"'
    else:
        message = (
            f'f"grad of {fname} needs a scalar output, got shape {{np.shape({v})}}"'
        )
    test = f'getattr({v}, "ndim", 0) != 0'
    if is_argument:  # a float has no `ndim`: getattr would raise and catch inside
        test = f"type({v}) is not float and {test}"
    return ast.parse(f"if {test}:\n    raise TypeError({message})").body[0]


def _check_scalar_matmul(
    a: ast.expr, b: ast.expr, fname: str, a_numpy=False, b_numpy=False
) -> ast.stmt:
    """`if np.asarray(a).ndim != 1 or ... != np.asarray(b).shape: raise TypeError()`: the
    check that a result `a @ b` is a scalar, made on its operands so that the
    product need not be computed when nothing else reads it. Operands that do not
    fit raise NumPy's own error from `a @ b` in the message. An operand known to
    be a NumPy value is asked for its own `.ndim` and `.shape` (no call): with
    `h = np.tanh(z)`, `np.asarray(u).shape != h.shape or h.ndim != 1`."""
    a, b = ast.unparse(a), ast.unparse(b)
    message = (
        f'f"grad of {fname} needs a scalar output, got shape {{np.shape({a} @ {b})}}"'
    )
    # `np.asarray(a).shape`, not `np.shape(a)`: half the cost on an array
    shape_a = f"{a}.shape" if a_numpy else f"np.asarray({a}).shape"
    shape_b = f"{b}.shape" if b_numpy else f"np.asarray({b}).shape"
    if b_numpy and not a_numpy:  # equal shapes: either operand's rank will do
        test = f"{shape_a} != {shape_b} or {b}.ndim != 1"
    else:
        ndim = f"{a}.ndim" if a_numpy else f"np.asarray({a}).ndim"
        test = f"{ndim} != 1 or {shape_a} != {shape_b}"
    return ast.parse(f"if {test}:\n    raise TypeError({message})").body[0]


def _check_float(value: ast.expr, name: str) -> ast.stmt:
    """`if type(x) is not float: _check_float("x", x)`: a differentiated argument is
    floating-point. A Python float, the common scalar, passes without a call."""
    v = ast.unparse(value)
    return ast.parse(
        f"if type({v}) is not float:\n    _check_float({name!r}, {v})"
    ).body[0]


def _dtype_constant(dtype: str) -> str:
    """`_FLOAT64`, a module constant `np.dtype("float64")`: NumPy keeps one object per
    built-in dtype, so `x.dtype is not _FLOAT64` asks in a third of the time of
    `x.dtype != np.float64` (an array whose dtype is another object equal to it
    takes the guard's slow path, which compares by value)."""
    name = f"_{dtype.upper()}"
    HELPERS.setdefault(name, f'{name} = np.dtype("{dtype}")\n')
    return name


def _dtype_constants(stmt) -> set[str]:
    table = stmt.args[-1].value
    arrays = [dtype for _, kind, _, dtype in table if kind == "array"]
    return {_dtype_constant(dtype) for dtype in arrays} | (
        {"_NDARRAY"} if arrays else set()
    )


def _check_examples(stmt) -> ast.stmt:
    """`if type(W) is not _NDARRAY or W.shape != (10, 10) or ...: _check_examples(...)`:
    the guard of a gradient compiled for example arguments (passes/specialize.py),
    one fast test per argument, and a helper that finds the culprit and raises."""
    *params, fname, table = stmt.args
    tests, args, examples = [], [], []
    for p, (name, kind, shape, dtype) in zip(params, table.value):
        v = ast.unparse(_atom(p))
        if kind == "float":
            tests.append(f"type({v}) is not float")
            examples.append(f"{name!r}: 'float'")
        else:
            tests += [
                f"type({v}) is not _NDARRAY",
                f"{v}.shape != {tuple(shape)!r}",
                f"{v}.dtype is not {_dtype_constant(dtype)}",
            ]
            examples.append(f"{name!r}: ({tuple(shape)!r}, {dtype!r})")
        args.append(f"{name!r}: {v}")
    call = (
        f"_check_examples({fname.value!r}, {{{', '.join(args)}}}, "
        f"{{{', '.join(examples)}}})"
    )
    guard = ast.parse(f"if True:\n    {call}").body[0]
    # The test goes in as text: `ast.unparse` puts parentheses around the fourth
    # and later operands of an `or` (its precedence rises with each operand).
    guard.test = ast.Name(" or ".join(tests), ast.Load())
    return guard


def _cast_like(grad: str, param: str) -> ast.stmt:
    """`if type(x) is not float: d_x = _astype_like(d_x, x)`: a gradient in its parameter's dtype."""
    text = f"if type({param}) is not float:\n    {grad} = _astype_like({grad}, {param})"
    return ast.parse(text).body[0]


def _check_cotangent(c: ast.expr, x: ast.expr, rule: str, param: str) -> ast.stmt:
    """`if np.shape(c) != np.shape(x): raise ValueError(...)`: a custom rule's result."""
    cv, xv = ast.unparse(c), ast.unparse(x)
    message = (
        f'f"the vjp rule {rule} returned a cotangent of shape {{np.shape({cv})}} '
        f'for `{param}` of shape {{np.shape({xv})}}"'
    )
    check = f"if np.shape({cv}) != np.shape({xv}):\n    raise ValueError({message})"
    return ast.parse(check).body[0]


def _rename_temps(fn: Function, body: list[ast.stmt]) -> None:
    """Temporaries that survive inlining get short names no user name collides with."""
    taken = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
    taken |= set(fn.params)
    mapping: dict[str, str] = {}
    counter = 0
    names = [n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)]
    for name in names:  # `_t3`; not a helper `_tensordot_lhs`
        if re.fullmatch(r"_t\d+", name) and name not in mapping:
            counter += 1
            while f"t{counter}" in taken:
                counter += 1
            mapping[name] = f"t{counter}"
    for name in names:  # `_t38_all`, `_t3_trips`: beside their temporary's new name
        suffixed = re.fullmatch(r"(_t\d+)(_\w+)", name)
        if suffixed and name not in mapping:
            base, suffix = suffixed.groups()
            new = f"{mapping[base]}{suffix}" if base in mapping else None
            if new is None or new in taken:
                counter += 1
                while f"t{counter}" in taken:
                    counter += 1
                new = f"t{counter}"
            mapping[name] = new
            taken.add(new)
    for (
        name
    ) in names:  # the adjoint of a temporary, `d__t3`, reads as `d_t1` beside `t1`
        if re.match(r"d__t\d", name) and name not in mapping:
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


def _reads_before_writes(stmts: list[ast.stmt], written: set[str]) -> set[str]:
    """Names that statements read before any of them (certainly) writes them."""
    found: set[str] = set()

    def loads(node):
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if n.id not in written:
                    found.add(n.id)

    def stores(node):
        return {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }

    for s in stmts:
        if isinstance(s, ast.For):
            loads(s.iter)
            found.update(_reads_before_writes(s.body, written | stores(s.target)))
        elif isinstance(s, ast.While):
            loads(s.test)
            found.update(_reads_before_writes(s.body, set(written)))
        elif isinstance(s, ast.If):
            loads(s.test)
            a = _reads_before_writes(s.body, set(written))
            b = _reads_before_writes(s.orelse, set(written))
            found.update(a | b)
            both = stores(ast.Module(s.body, [])) & stores(ast.Module(s.orelse, []))
            written |= both
        elif isinstance(s, ast.FunctionDef):
            continue
        else:
            if isinstance(s, ast.AugAssign):
                loads(s.target)
            for field in ("value", "test", "exc"):
                if getattr(s, field, None) is not None:
                    loads(getattr(s, field))
            for t in getattr(s, "targets", []) + [getattr(s, "target", None)]:
                if t is not None:
                    for n in ast.walk(t):  # `d[i] += g` reads d and i
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                            loads(n)
                    written |= stores(t)
    return found


class _BackwardMarker(ast.Pass):
    """Where a vjp's forward sweep ends: the statements after it form `backward`."""


def function_def(
    fn: Function, doc: str | None, defaults: list[ast.expr] = ()
) -> tuple[ast.FunctionDef, set[str]]:
    if fn.backward_params is None:
        _name_results_where_made(fn)
    gen = _Body(fn)
    body = gen.block(fn.body)
    if fn.backward_params is not None:
        body = _vjp_body(fn, gen, body)
        return _finish_def(fn, doc, body, defaults), gen.helpers
    results = []
    for i, r in enumerate(fn.body.results):
        value = gen.atom(r)
        if i in fn.result_names:
            name = fn.result_names[i]
            body.append(ast.Assign([ast.Name(name, ast.Store())], value))
            value = ast.Name(name, ast.Load())
        results.append(value)
    casts = _casts(fn, gen, results)
    body, casts = _one_float_test(fn, body, casts, gen.helpers)
    body += casts
    body.append(ast.Return(_nest(fn.result_tree, results)))
    if not casts:
        body = _return_from_branches(body)
    return _finish_def(fn, doc, body, defaults), gen.helpers


def _float_test(stmt: ast.stmt) -> tuple[str, ast.stmt] | None:
    """`(x, inner)` for a statement that runs only for an argument `x` that is not
    a Python float: `if type(x) is not float: inner` (a check or a cast), or
    `if type(x) is not float and test: raise ...`, whose inner is `if test: raise ...`.
    """
    if not isinstance(stmt, ast.If) or stmt.orelse or len(stmt.body) != 1:
        return None
    test, rest = stmt.test, None
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        if len(test.values) != 2 or not isinstance(stmt.body[0], ast.Raise):
            return None
        test, rest = test.values
    if not (
        isinstance(test, ast.Compare)
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.left, ast.Call)
        and ast.unparse(test.left.func) == "type"
        and isinstance(test.left.args[0], ast.Name)
        and ast.unparse(test.comparators[0]) == "float"
    ):
        return None
    inner = stmt.body[0] if rest is None else ast.If(rest, stmt.body, [])
    return test.left.args[0].id, inner


def _one_float_test(
    fn: Function, body: list, casts: list, helpers: set
) -> tuple[list, list]:
    """One test at entry stands for each differentiated argument's own, at entry
    and at the casts:

        all_float64 = (type(W) is _NDARRAY and W.dtype is _FLOAT64 or type(W) is float) and (
            type(b) is _NDARRAY and b.dtype is _FLOAT64 or type(b) is float
        )
        if not all_float64:
            _check_float("W", W)
            _check_float("b", b)
        ...
        if not all_float64:
            d_W = _astype_like(d_W, W)
            d_b = _astype_like(d_b, b)

    A float64 array or a Python float passes `_check_float`, and where every
    input the cast gradients are computed from is one (`fn.cast_sources`), each
    gradient is already float64: the calls, about 150 ns each, are skipped.
    Where a check needs the arguments to be Python floats (`if type(x) is not
    float and getattr(x, "ndim", 0) != 0: raise`, a scalar output), the test is
    `all_floats = type(x) is float and type(y) is float`: each `type(x) is not
    float` costs about 15 ns, as much as a scalar gradient's arithmetic."""
    k = 0
    while k < len(body) and _float_test(body[k]) is not None:
        k += 1
    tests = [_float_test(s) for s in body[:k] + casts]
    if not all(tests):
        return body, casts
    params = list(dict.fromkeys(p for p, _ in tests))
    python_floats = any(isinstance(inner, ast.If) for _, inner in tests)
    if python_floats or fn.cast_sources is None:
        if len(params) < 2:
            return body, casts
        base, is_float = "all_floats", " and ".join(
            f"type({p}) is float" for p in params
        )
    else:
        if len(params) < 2 and not casts:
            return body, casts
        sources = params + [x for x in fn.cast_sources if x not in params]
        base = "all_float64"
        helpers |= {"_NDARRAY", _dtype_constant("float64")}
        one = "type({0}) is _NDARRAY and {0}.dtype is _FLOAT64 or type({0}) is float"
        is_float = " and ".join(
            f"({one.format(x)})" if len(sources) > 1 else one.format(x) for x in sources
        )
    taken = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
    flag, n = base, 1
    while flag in taken or flag in fn.params or flag in fn.constants:
        n += 1
        flag = f"{base}_{n}"
    # the test goes in as text, as in `_check_examples`: `ast.unparse` would
    # put parentheses around the third and later operands
    head = [ast.Assign([ast.Name(flag, ast.Store())], ast.Name(is_float, ast.Load()))]
    if k:
        inner = [i for _, i in tests[:k]]
        head.append(ast.If(ast.parse(f"not {flag}", mode="eval").body, inner, []))
    if casts:
        inner = [i for _, i in tests[k:]]
        casts = [ast.If(ast.parse(f"not {flag}", mode="eval").body, inner, [])]
    return head + body[k:], casts


def _name_results_where_made(fn: Function) -> None:
    """A result read nowhere else takes its name where it is made: the `if` that
    picks `max(y, z)` binds `d_x` in each branch, not a `t2` that `d_x = t2`
    copies after it."""
    counts = uses(fn.body)
    taken = set(counts) | set(fn.params) | set(fn.constants)
    made: dict[str, int] = {}
    for stmt in walk(fn.body):
        for o in stmt.outs:
            taken.add(o)
            made[o] = made.get(o, 0) + 1
        if isinstance(stmt, Loop):
            taken.update(stmt.carried)
            taken.update(n for n in (stmt.index, stmt.trips) if n)
    for i, r in enumerate(fn.body.results):
        name = fn.result_names.get(i)
        if (
            name is None
            or not isinstance(r, Var)
            or made.get(r.name) != 1  # a parameter, or bound more than once
            or counts.get(r.name) != 1  # read elsewhere too
            or name in taken
        ):
            continue
        rename(fn.body, {r.name: name})
        del fn.result_names[i]
        taken.add(name)


def _return_from_branches(body: list[ast.stmt]) -> list[ast.stmt]:
    """A function that ends in an `if` returns from each of its branches.

    `if z > y: t2 = z; d_z = t1 ... else: ...` then `d_x = t2; return d_x, d_y,
    d_z` reads, as one writes it by hand, `if z > y: return z, z, t1` and
    the other branch's statements and return after it: the values each branch
    binds only for the return go into it. Only assignments may come between
    the `if` and the return: those naming the results (`d_x = t2`), and at
    most two that compute (`d_x = d_x_2 + d_x_4`), which each branch then
    writes. An `if` that checks the arguments is not one."""
    k, computed = len(body) - 1, 0
    while k > 0 and _plain(body[k - 1]):
        computed += not isinstance(body[k - 1].value, ast.Name)
        if computed > 2:  # more would be written twice: the `if` stays as it is
            return body
        k -= 1
    branch = body[k - 1] if k > 0 else None
    if not isinstance(branch, ast.If) or any(
        isinstance(n, ast.Raise)
        or isinstance(n, ast.Name)
        and n.id.startswith("_check_")
        for n in ast.walk(branch)
    ):
        return body
    tail = body[k:]
    then = _into_return(branch.body + copy.deepcopy(tail))
    orelse = _into_return(branch.orelse + tail)
    return body[: k - 1] + [ast.If(branch.test, then, [])] + orelse


def _in_result_order(stmts: list[ast.stmt], rank: dict[str, int]) -> list[ast.stmt]:
    """The assignments that end a branch and bind the function's results, in the
    order it returns them (`d_x = z; d_y = z; d_z = t1`, not in the order the
    adjoints were made). Only where none of them reads another, or writes into
    an array (`out=`), so that their order cannot matter."""
    k = len(stmts)
    while k > 0 and _plain(stmts[k - 1]) and stmts[k - 1].targets[0].id in rank:
        k -= 1
    tail = stmts[k:]
    bound = {s.targets[0].id for s in tail}
    for s in tail:
        for n in ast.walk(s.value):
            written = isinstance(n, ast.keyword) and n.arg == "out"
            if written or isinstance(n, ast.Name) and n.id in bound:
                return stmts
    return stmts[:k] + sorted(tail, key=lambda s: rank[s.targets[0].id])


def _plain(s: ast.stmt) -> bool:
    """`name = expression`."""
    return (
        isinstance(s, ast.Assign)
        and len(s.targets) == 1
        and isinstance(s.targets[0], ast.Name)
    )


def _into_return(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`a = e; ...; return a, ...` with `e` in the return where `a` is read
    there alone, once, and nothing in between rebinds what `e` reads."""
    stmts = list(stmts)
    k = len(stmts) - 1
    while k > 0 and _plain(stmts[k - 1]):
        k -= 1
    for i in range(len(stmts) - 2, k - 1, -1):
        name = stmts[i].targets[0].id
        value = stmts[i].value
        later = stmts[i + 1 :]
        reads = [
            n
            for s in later
            for n in ast.walk(s)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        ]
        read_by_value = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        rebound = {s.targets[0].id for s in later[:-1]}
        if len(reads) != 1 or rebound & (read_by_value | {name}):
            continue
        ret = stmts[-1]
        holder = next(
            (
                p
                for p in ast.walk(ret)
                for c in ast.iter_child_nodes(p)
                if c is reads[0]
            ),
            None,
        )
        if holder is None:  # read by another assignment, not by the return
            continue
        for field, old in ast.iter_fields(holder):
            if old is reads[0]:
                setattr(holder, field, value)
            elif isinstance(old, list):
                setattr(holder, field, [value if x is reads[0] else x for x in old])
        del stmts[i]
    return stmts


def _finish_def(fn: Function, doc, body: list, defaults) -> ast.FunctionDef:
    _rename_temps(fn, body)
    if fn.general is not None:
        _ShapeTests().visit(ast.Module(body, []))
    _SummedProducts().visit(ast.Module(body, []))
    for node in body:
        if isinstance(node, ast.FunctionDef):
            _own_names(node, body)
    if doc:
        body.insert(0, ast.Expr(ast.Constant(doc)))
    consts = [ast.arg(c) for c in fn.constants]
    defaults = list(defaults) or [ast.Constant(v) for v in fn.defaults]
    args = ast.arguments(
        [],
        [ast.arg(p) for p in fn.params],
        None,
        consts,
        [None] * len(consts),
        None,
        list(defaults),
    )
    return ast.FunctionDef(fn.name, args, body, [], None, type_params=[])


class _ShapeTests(ast.NodeTransformer):
    """A trip's test of its shapes (`_Body.same_shapes`, `not (a and b)` of
    comparisons only) as text, as in `_one_float_test`: `ast.unparse` would put
    parentheses around the third and later operands of its `and`, or around
    the one comparison."""

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if not getattr(node, "shape_test", False):
            return self.generic_visit(node)
        inner = node.operand
        text = " and ".join(ast.unparse(v) for v in inner.values)
        return ast.Name(f"not ({text})" if len(inner.values) > 1 else f"not {text}")


class _SummedProducts(ast.NodeTransformer):
    """`_unbroadcast(_matmul_lhs(g, b), a)` as `_matmul_lhs(g, b, a)`: the helper
    sums only where `b` is a stack of matrices, and a gradient of unknown ranks
    saves a call for every product (the frontend reads it back as the two)."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if not (_is_helper_call(node, "_unbroadcast") and len(node.args) == 2):
            return node
        inner, like = node.args
        for helper in ("_matmul_lhs", "_matmul_rhs"):
            if _is_helper_call(inner, helper) and len(inner.args) == 2:
                return ast.copy_location(
                    ast.Call(inner.func, [*inner.args, like], []), node
                )
        return node


def _is_helper_call(node: ast.expr, name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and not node.keywords
    )


def _vjp_body(fn: Function, gen: _Body, body: list[ast.stmt]) -> list[ast.stmt]:
    """`<forward>; def backward(d_out): <backward>; return d_x, ...; return out, backward`."""
    k = next(i for i, s in enumerate(body) if isinstance(s, _BackwardMarker))
    forward, backward = body[:k], body[k + 1 :]
    seeds = fn.backward_params
    results = list(fn.body.results)
    n_out = len(seeds)
    outs = [gen.atom(r) for r in results[:n_out]]
    aux = [gen.atom(r) for r in results[len(results) - fn.aux :]]
    grads = []
    for i, r in enumerate(results[n_out : len(results) - fn.aux], n_out):
        value = gen.atom(r)
        if i in fn.result_names:
            name = fn.result_names[i]
            backward.append(ast.Assign([ast.Name(name, ast.Store())], value))
            value = ast.Name(name, ast.Load())
        grads.append(value)
    backward += _casts(fn, gen, [None] * n_out + grads)
    if n_out == 1:
        params = [ast.arg(seeds[0])]
    else:  # one cotangent per output, as a tuple like the output
        params = [ast.arg("cotangents")]
        backward.insert(
            0, ast.Assign([_target(seeds)], ast.Name("cotangents", ast.Load()))
        )
    backward.append(ast.Return(ast.Tuple(grads, ast.Load())))
    doc = "The cotangents of the differentiated arguments, given the output's."
    backward.insert(0, ast.Expr(ast.Constant(doc)))
    inner = ast.FunctionDef(
        "backward",
        ast.arguments([], params, None, [], [], None, []),
        backward,
        [],
        None,
        type_params=[],
    )
    out = outs[0] if n_out == 1 else ast.Tuple(outs, ast.Load())
    returned = ast.Tuple([out, ast.Name("backward", ast.Load())] + aux, ast.Load())
    return forward + [inner, ast.Return(returned)]


def _casts(fn: Function, gen: _Body, values: list) -> list[ast.stmt]:
    """The casts of gradients to their parameters' dtypes (`fn.casts`), before the return."""
    out = []
    for i, param in sorted(fn.casts.items()):
        value = values[i]
        if not isinstance(value, ast.Name) or value.id in fn.params:
            continue  # a gradient is always named at the return (see `_name_adjoints`)
        gen.helpers.add("_astype_like")
        out.append(_cast_like(value.id, param))
    return out


def _own_names(inner: ast.FunctionDef, outer: list[ast.stmt]) -> None:
    """Make a nested def's assignments its own.

    A name the nested function assigns is local to it in Python, so where it
    also reads the enclosing function's value of that name (a loop's backward
    pops values under their forward names) it works on a copy, `h_b = h`.
    A tape is copied as a list, so that `backward` can be called again.
    """
    outer_mod = ast.Module(
        [s for s in outer if s is not inner], []
    )  # the enclosing function's statements
    defined = {
        n.id
        for n in ast.walk(outer_mod)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    tapes = {
        s.targets[0].id
        for s in ast.walk(outer_mod)
        if isinstance(s, ast.Assign)
        and isinstance(s.value, ast.List)
        and not s.value.elts
        and isinstance(s.targets[0], ast.Name)
    }
    inner_mod = ast.Module(inner.body, [])
    names = [n for n in ast.walk(inner_mod) if isinstance(n, ast.Name)]
    stored = {n.id for n in names if isinstance(n.ctx, ast.Store)}
    loaded = {n.id for n in names if isinstance(n.ctx, ast.Load)}
    params = {a.arg for a in inner.args.args}
    conflicts = sorted(((stored & defined) | (tapes & loaded)) - params)
    if not conflicts:
        return
    # a name the nested def writes before it reads it is simply its own
    outer_reads = _reads_before_writes(inner.body, set(params))
    conflicts = [c for c in conflicts if c in outer_reads]
    if not conflicts:
        return
    taken = {
        n.id for n in ast.walk(ast.Module(outer, [])) if isinstance(n, ast.Name)
    } | params
    mapping = {}
    for c in conflicts:
        new = f"{c}_b"
        while new in taken:
            new += "_"
        taken.add(new)
        mapping[c] = new
    for n in names:
        if n.id in mapping:
            n.id = mapping[n.id]
    copies = []
    for c in conflicts:
        if c in tapes:
            value = ast.Call(
                ast.Name("list", ast.Load()), [ast.Name(c, ast.Load())], []
            )
        else:
            value = ast.Name(c, ast.Load())
        copies.append(_assign(mapping[c], value))
    has_doc = isinstance(inner.body[0], ast.Expr)
    inner.body[has_doc:has_doc] = copies


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
        head = "return ("
        if " = (" in stripped and "," in stripped.split(" = (")[0]:
            head = stripped.split(" = (")[0] + " = ("  # `a, b = (b, a)` → `a, b = b, a`
        if stripped.startswith(head) and stripped.endswith(")"):
            inner = stripped[len(head) : -1]
            depth = 0
            for ch in inner:
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
                if depth < 0:
                    break
            else:
                if "," in inner:
                    line = line[: len(line) - len(stripped)] + head[:-1] + inner
        lines.append(line)
    return "\n".join(lines)


def module_source(functions: list[tuple[Function, str | None]]) -> str:
    """The text of a module defining the given functions (black-formatted)."""
    defs, helpers = [], set()
    for fn, doc in functions:
        node, used = function_def(fn, doc)
        defs.append(node)
        helpers |= used
    imports = [ast.Import([ast.alias("numpy", "np")])]
    for h in sorted(h for h in helpers if h.startswith("from ")):
        imports += ast.parse(h).body  # a function registered with adcompiler.defvjp
    helpers = {h for h in helpers if not h.startswith("from ")}
    helpers = helper_closure(helpers)
    module = ast.Module(imports + defs, [])
    text = _bare_returns(ast.unparse(ast.fix_missing_locations(module)))
    lines = text.split("\n")
    head = "\n".join(lines[: len(imports)])
    body = black_formatted("\n".join(lines[len(imports) :]))
    # The helpers are written black-formatted (tests/test_codegen_format.py):
    # black formats only the generated functions, the part that varies, and
    # the module reads as if black had formatted it whole.
    texts = [HELPERS[h].strip("\n") for h in sorted(helpers)]
    # module constants (`_FLOAT64 = np.dtype("float64")`) follow the imports
    # after one blank line, as black writes them
    constants = [t for t in texts if not t.startswith("def ")]
    if constants:
        head += "\n\n" + "\n".join(constants)
    parts = [head] + [t for t in texts if t.startswith("def ")] + [body]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


_FORMATTED: dict[str, str] = {}


def black_formatted(text: str) -> str:
    """`text` through black, remembered: a function compiled again formats at once."""
    if text not in _FORMATTED:
        import black

        _FORMATTED[text] = black.format_str(text, mode=black.Mode())
    return _FORMATTED[text]
