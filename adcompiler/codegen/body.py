"""IR blocks → Python statements (`_Body`): names, inlined temporaries,
branches, loops, the helpers the code calls.
"""

from __future__ import annotations

import ast

from ..ir import Assign, Atom, Block, Function, If, Loop, Var, is_undef, uses, walk
from ..passes.buffers import COMMUTATIVE
from ..rules import PRIMS
from .checks import (
    _check_cotangent,
    _check_examples,
    _check_float,
    _check_scalar,
    _check_scalar_matmul,
    _dtype_constants,
)
from .expressions import (
    MAX_INLINE_NODES,
    _assign,
    _atom,
    _index,
    _is_const,
    _negate,
    _np,
    _size,
    _target,
    expression,
)
from .values import _alias_buffers, _coalesce, _local_uses, _numpy_values


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
        from ..passes.steady import groups

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
        if isinstance(index, Var):  # one integer, perhaps: `_add_at` asks at run time
            self.helpers.add("_add_at")
            func = ast.Name("_add_at", ast.Load())
        else:
            func = _np("add.at")
        call = ast.Call(func, [_atom(buf), self.atom(index), self.atom(g)], [])
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


class _BackwardMarker(ast.Pass):
    """Where a vjp's forward sweep ends: the statements after it form `backward`."""


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
