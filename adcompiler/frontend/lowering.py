"""Python statements → SSA IR: the `Lowering` of a function's body, its
assignments, branches and loops; expressions and calls are lowered by the
parts it inherits (expressions.py, calls.py, numpy_calls.py).
"""

from __future__ import annotations

import ast
import copy
from numbers import Number

from .. import comprehensions, resolve
from ..autodiff.emitter import Emitter, Names
from ..errors import ADCompileError
from ..inplace import check_updates
from ..ir import UNDEF, Assign, Atom, Block, Const, Function, If, Loop, Var, is_undef
from ..passes.dce import dce
from ..passes.shapes import Shapes
from .calls import Calls
from .exits import Exit, FallThrough, FunctionExit, LoopExit, _return_arity
from .expressions import _BINOPS, Expressions
from .numpy_calls import _PAIR_ENTRIES, NumpyCalls
from .readback import (
    _examples_guard,
    _float_guard,
    _matmul_check,
    _per_argument_float_tests,
    _scalar_check,
)
from .scope import _DYNAMIC, _container_params, _scope_of, closure_constants
from .source import Source, construct_name, read_source


class Lowering(Expressions, Calls, NumpyCalls):
    """Lowers one function body. `env` maps each Python variable to its current SSA value."""

    def __init__(self, source: Source, names: Names | None = None):
        self.src = source
        self.fn = source.fn
        params = source.tree.args
        self.params = [a.arg for a in params.posonlyargs + params.args]
        taken = {n.id for n in ast.walk(source.tree) if isinstance(n, ast.Name)} | set(
            self.params
        )
        self.names = names or Names(taken)
        self.e = Emitter(self.names, Shapes())
        self.env: dict[str, Atom] = {p: Var(p) for p in self.params}
        self.defined: set[str] = set(self.params)
        self.scope = self._scope()
        # SSA values known to be Python ints (indices, sizes), lists, and shapes.
        self.ints: set[str] = set()
        self.lists: set[str] = set()
        self.shape_values: set[str] = set()
        # Tuples built in the function: their entries, read without a getitem.
        self.tuples: dict[str, tuple] = {}
        self.dicts: dict[str, dict] = {}
        # Arrays read from the enclosing scope: constants the generated
        # function takes as keyword-only parameters (see `closure_constants`).
        self.constants: dict[int, str] = {
            id(v): k for k, v in closure_constants(source.fn).items()
        }
        self.used_constants: dict[str, None] = {}
        # Functions defined in the body (`def inner(...)`), and the helpers
        # being inlined (a recursive call is reported).
        self.local_defs: dict[str, ast.FunctionDef] = {}
        self.stack: tuple = (getattr(source.fn, "__code__", None),)
        # Container arguments (dicts, lists, tuples, NamedTuples, dataclasses
        # of arrays) and the branches read from them.
        self.params_set = set(self.params)
        self.root_values: set[str] = set(self.params)
        self.containers: set[str] = {
            p for p in _container_params(source.tree, self.params)
        }
        # Statements Python runs in place (`y += x`, `y[i] = v`, `out=y`), for
        # inplace.py: id -> (statement, value updated, as written, name).
        self.updates: dict[int, tuple] = {}
        self.bound: dict[str, set] = {}  # value -> the user's names bound to it

    def updated(self, value: Atom, old: Atom, what: str, name: str) -> None:
        """Note that the statement just emitted for `value` writes into `old`
        (`np.exp(a, out=b)` into `b`, which it does not read)."""
        last = self.e.stmts[-1] if self.e.stmts else None
        if (
            isinstance(value, Var)
            and value != old
            and isinstance(last, Assign)
            and last.outs == (value.name,)
        ):
            self.updates[id(last)] = (last, old, what, name)

    def child(self, source: Source, scope: dict) -> Lowering:
        """A lowering of a helper's body into this one's statements."""
        c = Lowering.__new__(Lowering)
        c.__dict__.update(self.__dict__)
        c.src, c.fn, c.scope = source, source.fn, scope
        c.local_defs = dict(self.local_defs)
        c.names.taken |= {
            n.id for n in ast.walk(source.tree) if isinstance(n, ast.Name)
        }
        return c

    def _scope(self) -> dict:
        return _scope_of(self.fn)

    def error(
        self, message: str, node: ast.AST, hint: str | None = None
    ) -> ADCompileError:
        return ADCompileError(message, self.src.loc(node), hint)

    def unsupported(self, node: ast.AST) -> ADCompileError:
        what, hint = construct_name(node)
        return self.error(
            f"{what} is not supported in a differentiated function", node, hint
        )

    # -- the function ---------------------------------------------------------------

    def lower(self) -> Function:
        tree = self.src.tree
        args = tree.args
        for bad in (args.vararg, args.kwarg):
            if bad is not None:
                raise self.error(f"`*{bad.arg}` parameters are not supported", bad)
        if args.kwonlyargs and not resolve.is_generated(self.fn):
            raise self.error(
                "keyword-only parameters are not supported", args.kwonlyargs[0]
            )
        for node in ast.walk(tree):  # the generated module calls NumPy `np`
            name = node.arg if isinstance(node, ast.arg) else getattr(node, "id", None)
            if name == "np" and not isinstance(getattr(node, "ctx", None), ast.Load):
                raise self.error("`np` names NumPy in generated code; rename it", node)
        doc = ast.get_docstring(tree)
        self.arity = _return_arity(self, tree)
        results = self.lower_seq(self.body(), FunctionExit(self, tree))
        fn = Function(
            tree.name,
            self.params,
            Block(self.e.stmts, results),
            self.src.loc(tree),
            doc,
            lists=set(self.lists),
            constants=list(self.used_constants),
            return_line=_last_return_line(self, tree),
        )
        if self.updates:
            self.check_updates()
        return fn

    def check_updates(self) -> None:
        """Refuse an in-place update another name sees (inplace.py), on the IR
        lowered again as Python keeps arrays apart: `y = x * 1.0` is a new
        array there, not `x`."""
        shadow = Lowering(self.src)
        shadow.e.apart = True
        shadow.arity = self.arity
        results = shadow.lower_seq(shadow.body(), FunctionExit(shadow, self.src.tree))
        # what no result needs is not read: Python's changes to it are unseen
        body = dce(Block(shadow.e.stmts, results), always=True, keep=shadow.updates)
        fn = Function(
            self.src.tree.name,
            shadow.params,
            body,
            constants=list(shadow.used_constants),
        )
        check_updates(fn, shadow.updates, shadow.e.shapes, shadow.bound)

    def body(self) -> list[ast.stmt]:
        """The function's statements, its docstring left out."""
        body = list(self.src.tree.body)
        if ast.get_docstring(self.src.tree) is not None:
            body = body[1:]
        return _per_argument_float_tests(body)

    def lower_return(self, stmt: ast.Return) -> tuple[Atom, ...]:
        if stmt.value is None:
            raise self.error("`return` without a value", stmt)
        if isinstance(stmt.value, ast.Tuple):
            values = tuple(self.expr(v) for v in stmt.value.elts)
        else:
            values = (self.expr(stmt.value),)
        if len(values) != self.arity:
            raise self.error(
                f"this `return` gives {len(values)} values, another gives {self.arity}",
                stmt,
            )
        return values

    # -- sequences, with the ways out of them ------------------------------------------

    def lower_seq(self, stmts: list[ast.stmt], exit: Exit) -> tuple[Atom, ...]:
        """Lower statements in order; every path through them ends at `exit`.

        A statement that may leave early (an `if` holding a `return`, `break` or
        `continue`, a loop holding a `return`) takes the statements after it
        into its branches: the rest runs only on the paths that reach it.
        """
        for i, stmt in enumerate(stmts):
            rest = stmts[i + 1 :]
            if isinstance(stmt, ast.Return):
                if rest:
                    raise self.error("code after `return` is never run", rest[0])
                return exit.ret(self.lower_return(stmt), stmt)
            if isinstance(stmt, (ast.Break, ast.Continue)):
                if rest:
                    raise self.error(
                        f"code after `{ast.unparse(stmt)}` is never run", rest[0]
                    )
                return exit.jump(stmt)
            guarded = _float_guard(stmt)
            if guarded is not None:
                if isinstance(guarded, ast.Expr):  # `_check_float("x", x)`: no value
                    label, value = guarded.value.args
                    self.e.call(
                        "check_float",
                        self.expr(value),
                        Const(label.value),
                        loc=self.src.loc(stmt),
                    )
                else:  # `d_x = _astype_like(d_x, x)`
                    self.lower_stmt(guarded)
                continue
            guard = _examples_guard(stmt)
            if guard is not None:  # `if ...: _check_examples(fname, args, examples)`
                fname, args, table = guard
                self.e.call(
                    "check_examples",
                    *(self.expr(a) for a in args),
                    Const(fname),
                    Const(table),
                    loc=self.src.loc(stmt),
                )
                continue
            checked = _scalar_check(stmt)
            if (
                checked is not None
            ):  # generated code's `if getattr(x, "ndim", 0) != 0: raise`
                value, fname, on_argument = checked
                self.e.call(
                    "check_scalar",
                    self.expr(value),
                    Const(fname or self.src.tree.name),
                    Const(on_argument),
                    loc=self.src.loc(stmt),
                )
                continue
            operands = _matmul_check(stmt)
            if operands is not None:  # `if np.ndim(a) != 1 or np.shape(a) != ...`
                a, b, fname = operands
                self.e.call(
                    "check_scalar_matmul",
                    self.expr(a),
                    self.expr(b),
                    Const(fname or self.src.tree.name),
                    loc=self.src.loc(stmt),
                )
                continue
            if isinstance(stmt, ast.If) and _leaves(stmt):
                return self.lower_if(stmt, rest, exit)
            if isinstance(stmt, (ast.For, ast.While)):
                returned = self.lower_loop(stmt)
                if returned is not None:
                    return self.after_returning_loop(returned, rest, exit, stmt)
                continue
            if isinstance(stmt, ast.If):
                self.lower_if(stmt, None, exit)
                continue
            self.lower_stmt(stmt)
        return exit.fall(stmts[-1] if stmts else None)

    def block(self, stmts: list[ast.stmt], exit: Exit) -> tuple[Block, dict]:
        """Lower statements into a nested block; returns the block and the env at its end."""
        self.e.push_scope()
        results = self.lower_seq(stmts, exit)
        return Block(self.e.pop_scope(), results), self.env

    def lower_if(self, stmt: ast.If, rest, exit: Exit):
        """`if`/`elif`/`else`; with `rest` (not None) the branches continue with it to `exit`."""
        cond = self.condition(stmt.test)
        if isinstance(cond, Const) and not is_undef(cond):
            # a condition known when compiling (a flag's default, a constant): one branch
            taken = stmt.body if cond.value else stmt.orelse
            if rest is None:
                self.lower_seq(taken, FallThrough(self))
                return None
            return self.lower_seq(_then(taken, rest), exit)
        before = dict(self.env)
        if rest is None:  # the branches fall through: merge the variables they set
            then, env_then = self.block(stmt.body, FallThrough(self))
            self.env = dict(before)
            orelse, env_else = self.block(stmt.orelse, FallThrough(self))
            changed = [
                n
                for n in dict.fromkeys([*env_then, *env_else])
                if env_then.get(n, UNDEF) != env_else.get(n, UNDEF)
            ]
            then.results = tuple(env_then.get(n, UNDEF) for n in changed)
            orelse.results = tuple(env_else.get(n, UNDEF) for n in changed)
            outs = tuple(self.version(n.lstrip("@")) for n in changed)
            self.env = dict(before)
            for n, value in env_then.items():  # `v = w` in both branches: no merge
                if n not in changed and before.get(n, UNDEF) != value:
                    self.env[n] = value
            for n, o, a, b in zip(changed, outs, then.results, orelse.results):
                self.env[n] = Var(o)
                self.defined.add(o)
                self.carry_facts(a, o, b)
            if outs or then.stmts or orelse.stmts:
                self.e.emit(If(outs, cond, then, orelse, self.src.loc(stmt)))
            return None
        then, _ = self.block(_then(stmt.body, rest), exit)
        self.env = dict(before)
        orelse, _ = self.block(_then(stmt.orelse, rest), exit)
        return self.merge(cond, then, orelse, exit.names(), stmt)

    def merge(self, cond, then: Block, orelse: Block, names, node) -> tuple[Atom, ...]:
        """An `If` yielding the results of both branches; identical results need no merge."""
        results: list[Atom] = []
        outs = []
        keep_then, keep_else = [], []
        for n, a, b in zip(names, then.results, orelse.results):
            if a == b:
                results.append(a)
                continue
            o = (
                self.names.fresh(n)
                if n.startswith("_t")
                else self.version(n.lstrip("@"))
            )
            outs.append(o)
            keep_then.append(a)
            keep_else.append(b)
            results.append(Var(o))
        then.results, orelse.results = tuple(keep_then), tuple(keep_else)
        if outs or then.stmts or orelse.stmts:
            self.e.emit(If(tuple(outs), cond, then, orelse, self.src.loc(node)))
        return tuple(results)

    def condition(self, node: ast.expr) -> Atom:
        return self.expr(node)

    # -- loops -----------------------------------------------------------------------

    def lower_loop(self, stmt) -> tuple | None:
        """A `for` or `while` loop; returns (returned flag, values) when the body can `return`."""
        if stmt.orelse:
            raise self.error("`else` on a loop is not supported", stmt.orelse[0])
        loc = self.src.loc(stmt)
        can_return = any(isinstance(n, ast.Return) for n in ast.walk(stmt))
        carried = _assigned(stmt.body)
        if isinstance(stmt, ast.For):
            carried += _assigned_target(stmt.target)
        later = self.read_elsewhere(stmt)
        names = [n for n in dict.fromkeys(carried) if n in self.env or n in later]
        flags = []
        outer_flags = {}
        if can_return:
            # pseudo-variables: whether the body returned, and what
            flags = ["@returned"] + [
                f"@value{i}" if i else "@value" for i in range(self.arity)
            ]
            outer_flags = {f: self.env[f] for f in flags if f in self.env}
            self.env["@returned"] = Const(False)
            for f in flags[1:]:
                self.env[f] = UNDEF
        all_names = names + flags
        inits = tuple(self.env.get(n, UNDEF) for n in all_names)
        before = dict(self.env)
        index, start, stop, step, cond, prologue = (
            None,
            Const(0),
            Const(0),
            Const(1),
            None,
            [],
        )
        backwards = False
        if isinstance(stmt, ast.For):
            # Python evaluates what a `for` runs over once, before the loop, with
            # the values from before it: `range(len(x))` reads the `x` the loop
            # starts from, even when the loop assigns `x`
            inner = self.backward_range(stmt)
            backwards = inner is not None
            index, start, stop, step, prologue = self.iteration(inner or stmt)
            self.ints.add(index)
        bound = {k: v for k, v in self.env.items() if before.get(k) != v}
        params = tuple(self.version(n.lstrip("@")) for n in all_names)
        for n, p, i in zip(all_names, params, inits):
            self.env[n] = Var(p)
            self.defined.add(p)
            self.carry_facts(i, p)
        self.env.update(bound)  # the loop's targets are the index, not carried values
        if not isinstance(stmt, ast.For):
            self.e.push_scope()
            test = self.condition(stmt.test)
            cond = Block(self.e.pop_scope(), (test,))
        exit = LoopExit(self, all_names, can_return)
        self.e.push_scope()
        for target, value_of in prologue:
            self.assign(target, value_of(Var(index)), target)
        results = self.lower_seq(stmt.body, exit)
        body = Block(self.e.pop_scope(), results[: len(all_names)])
        brk = results[len(all_names)]
        if brk == Const(False):
            brk = None
        outs = tuple(self.version(n.lstrip("@")) for n in all_names)
        node = Loop(outs, index, start, stop, step, params, inits, body, loc, cond, brk)
        node.reverse = backwards
        self.e.emit(node)
        self.env = before
        for n, o, i in zip(all_names, outs, inits):
            self.env[n] = Var(o)
            self.defined.add(o)
            self.carry_facts(i, o)
        if can_return:
            found = self.env.pop("@returned"), tuple(self.env.pop(f) for f in flags[1:])
            self.env.update(outer_flags)
            return found
        return None

    def after_returning_loop(self, returned, rest, exit: Exit, node):
        flag, values = returned
        self.e.push_scope()
        then_results = exit.ret(values, node)
        then = Block(self.e.pop_scope(), then_results)
        before = dict(self.env)
        orelse, _ = self.block(rest, exit)
        self.env = before
        return self.merge(flag, then, orelse, exit.names(), node)

    def backward_range(self, stmt: ast.For) -> ast.For | None:
        """`for t in reversed(range(...))` in a generated gradient (its backward
        sweep): the same loop over the `range`, to run backwards. Forward mode
        differentiates it (hessian, hvp); reverse mode refuses it."""
        it = stmt.iter
        if not (
            resolve.is_generated(self.fn)
            and isinstance(it, ast.Call)
            and self.static_value(it.func) is reversed
            and len(it.args) == 1
            and not it.keywords
            and isinstance(it.args[0], ast.Call)
            and self.static_value(it.args[0].func) is range
        ):
            return None
        inner = copy.copy(stmt)
        inner.iter = it.args[0]
        return inner

    def iteration(self, stmt: ast.For):
        """What a `for` runs over: (index name, start, stop, step, [(target, item)])."""
        it, target = stmt.iter, stmt.target
        callee = self.static_value(it.func) if isinstance(it, ast.Call) else _DYNAMIC
        if callee is range:
            if it.keywords or not 1 <= len(it.args) <= 3:
                raise self.error("`range` takes one to three plain arguments", it)
            bounds = [self.expr(a) for a in it.args]
            start, stop, step = (
                (Const(0), bounds[0], Const(1))
                if len(bounds) == 1
                else (bounds[0], bounds[1], bounds[2] if len(bounds) == 3 else Const(1))
            )
            if isinstance(target, ast.Name):
                index = self.version(target.id)
                self.env[target.id] = Var(index)
                return index, start, stop, step, []
            raise self.error("a `range` index must be a plain name", target)
        index = self.version("i")
        if callee is enumerate:
            if len(it.args) != 1 or it.keywords:
                raise self.error("`enumerate` takes one argument here", it)
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                raise self.error("unpack `enumerate` into two names", target)
            seq = self.expr(it.args[0])
            stop = self.e.call("len", seq)
            i_target, item_target = target.elts
            if not isinstance(i_target, ast.Name):
                raise self.error("the index of `enumerate` must be a name", i_target)
            index = self.version(i_target.id)
            self.env[i_target.id] = Var(index)
            prologue = [(item_target, lambda i: self.row(seq, i))]
            return index, Const(0), stop, Const(1), prologue
        if callee is zip:
            if it.keywords or not it.args:
                raise self.error("`zip` takes plain arguments here", it)
            seqs = [self.expr(a) for a in it.args]
            if not (isinstance(target, ast.Tuple) and len(target.elts) == len(seqs)):
                raise self.error("unpack `zip` into one name per sequence", target)
            stop = self.e.call("len", seqs[0])
            for q in seqs[1:]:
                stop = self.e.call("min", stop, self.e.call("len", q))
            prologue = [
                (t, lambda i, q=q: self.row(q, i)) for t, q in zip(target.elts, seqs)
            ]
            return index, Const(0), stop, Const(1), prologue
        if callee is reversed:
            raise self.error(
                "a loop over `reversed(...)`, which adcompiler does not differentiate",
                it,
                "a generated gradient's backward sweep runs its loops this way, "
                "and only forward mode (hessian, hvp) reads it back, there; "
                "write `range(n - 1, -1, -1)` in your own code",
            )
        seq = self.expr(it)
        stop = self.e.call("len", seq)
        return (
            index,
            Const(0),
            stop,
            Const(1),
            [(target, lambda i: self.row(seq, i))],
        )

    def row(self, seq: Atom, i: Atom) -> Atom:
        """`seq[i]` for the index of a loop over `seq`."""
        kwargs = {"basic": True}
        if isinstance(seq, Var) and seq.name in self.lists:
            kwargs["seq"] = True
        if isinstance(seq, Var) and seq.name in self.containers:
            kwargs["any"] = True
            out = self.e.call("getitem", seq, i, **kwargs)
            self.containers.add(out.name)
            return out
        return self.e.call("getitem", seq, i, **kwargs)

    def read_elsewhere(self, loop: ast.stmt) -> set[str]:
        """Names the function reads outside a loop (a name first set in it may be read after)."""
        inside = {id(n) for n in ast.walk(loop)}
        return {
            n.id
            for n in comprehensions.function_scope(self.src.tree)
            if isinstance(n.ctx, ast.Load) and id(n) not in inside
        }

    # -- statements -------------------------------------------------------------------

    def lower_stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign) and isinstance(
            stmt.targets[0], (ast.Tuple, ast.List)
        ):
            self.unpack(stmt)
        elif isinstance(stmt, ast.Assign):
            target = stmt.targets[0]
            if isinstance(stmt.value, ast.ListComp) and isinstance(target, ast.Name):
                value = self.comprehension(stmt.value, target.id)  # `hs = []` ...
            else:
                value = self.expr(stmt.value)
            for target in stmt.targets:
                self.assign(target, value, stmt.value)
                if isinstance(target, ast.Name):
                    # `z = w = ...`: binding `z` renamed the temporary; `w` reads `z`
                    value = self.env[target.id]
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return
            self.assign(stmt.target, self.expr(stmt.value), stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            if type(stmt.op) not in _BINOPS:
                raise self.unsupported_op(stmt.op, stmt)
            if isinstance(stmt.target, ast.Subscript):
                loc = self.src.loc(stmt)
                name, idx, kwargs = self.subscript_target(stmt.target)
                base = self.read(name, stmt.target.value)
                current = self.e.call("getitem", base, idx, loc=loc, **kwargs)
                value = self.e.call(
                    _BINOPS[type(stmt.op)], current, self.expr(stmt.value), loc=loc
                )
                new = self.e.call("setitem", base, idx, value, loc=loc, **kwargs)
                self.updated(new, base, _written(stmt), name)
                if isinstance(base, Var) and base.name in self.lists:
                    self.lists.add(new.name)  # `d_hs[i] += g`: still a list
                self.bind(name, new)
                return
            if not isinstance(stmt.target, ast.Name):
                raise self.error(
                    "augmented assignment to anything but a name or an index",
                    stmt.target,
                )
            current = self.read(stmt.target.id, stmt.target)
            value = self.e.call(
                _BINOPS[type(stmt.op)],
                current,
                self.expr(stmt.value),
                loc=self.src.loc(stmt),
            )
            self.updated(value, current, _written(stmt), stmt.target.id)
            self.bind(stmt.target.id, value)
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, ast.FunctionDef):
            if stmt.decorator_list:
                raise self.error("a decorated function inside the function", stmt)
            self.local_defs[stmt.name] = stmt
            self.env.pop(stmt.name, None)
        elif isinstance(stmt, (ast.If, ast.For, ast.While)):
            self.lower_seq([stmt], FallThrough(self))
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # a stray string or number: no effect
            if isinstance(stmt.value, (ast.Yield, ast.YieldFrom, ast.Await)):
                raise self.unsupported(stmt.value)
            call = stmt.value
            if isinstance(call, ast.Call) and any(
                kw.arg == "out" for kw in call.keywords
            ):
                self.expr(call)  # `np.exp(t, out=t)` rebinds `t`
                return
            if self.add_at(call):
                return
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "pop"
                and resolve.is_generated(self.fn)
            ):  # a gradient drops an adjoint list's last entry (passes/lists.py)
                self.expr(call)
                return
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "append"
                and isinstance(call.func.value, ast.Name)
                and len(call.args) == 1
            ):
                name = call.func.value.id
                xs = self.read(name, call.func.value)
                if not (isinstance(xs, Var) and xs.name in self.lists):
                    raise self.error(
                        f"`{name}` is not a list built in this function", call
                    )
                new = self.e.call(
                    "append", xs, self.expr(call.args[0]), loc=self.src.loc(call)
                )
                self.bind(name, new)
                self.lists.add(self.env[name].name)
                return
            raise self.error(
                f"the expression statement `{ast.unparse(stmt)}` has no value to differentiate",
                stmt,
                "a call made for its side effect (print, logging) belongs outside the "
                "differentiated function",
            )
        else:
            raise self.unsupported(stmt)

    def add_at(self, call: ast.expr) -> bool:
        """`np.add.at(d_x, idx, g)` or `_add_at(d_x, idx, g)` in a generated gradient
        (the adjoint of an integer-array or mask index): a new value of `d_x`, for
        forward mode."""
        import numpy as np

        if not (
            resolve.is_generated(self.fn)
            and isinstance(call, ast.Call)
            and (
                isinstance(call.func, ast.Attribute)
                and call.func.attr == "at"
                and self.static_value(call.func.value) is np.add
                or isinstance(call.func, ast.Name)
                and call.func.id == "_add_at"
            )
            and len(call.args) == 3
            and not call.keywords
            and isinstance(call.args[0], ast.Name)
        ):
            return False
        name = call.args[0].id
        buf = self.read(name, call.args[0])
        idx, g = self.expr(call.args[1]), self.expr(call.args[2])
        new = self.e.call("index_add_at", buf, idx, g, loc=self.src.loc(call))
        self.bind(name, new)
        return True

    def unpack(self, stmt: ast.Assign) -> None:
        """`a, b = x, y`: every right-hand side is read before any name is rebound."""
        if len(stmt.targets) != 1:
            raise self.error("chained unpacking is not supported", stmt)
        if not isinstance(stmt.value, (ast.Tuple, ast.List)):
            self.unpack_value(stmt.targets[0], self.expr(stmt.value), stmt.value)
            return
        targets, values = stmt.targets[0].elts, stmt.value.elts
        if len(targets) != len(values):
            raise self.error(
                f"unpacking {len(values)} values into {len(targets)} names", stmt
            )
        atoms = [self.expr(v) for v in values]
        for target, atom, node in zip(targets, atoms, values):
            self.assign(target, atom, node)

    def assign(self, target: ast.expr, value: Atom, value_node: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        elif isinstance(target, ast.Subscript):
            name, idx, kwargs = self.subscript_target(target)
            base = self.read(name, target.value)
            loc = self.src.loc(target)
            new = self.e.call("setitem", base, idx, value, loc=loc, **kwargs)
            self.updated(new, base, f"{ast.unparse(target)} = ...", name)
            self.bind(name, new)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.unpack_value(target, value, value_node)
        elif isinstance(target, ast.Attribute):
            raise self.error(
                f"assignment to the attribute `{ast.unparse(target)}`",
                target,
                "differentiated functions cannot change objects; return the new value instead",
            )
        else:
            raise self.unsupported(target)

    def bind(self, name: str, value: Atom) -> None:
        if (
            isinstance(value, Var)
            and value.name.startswith("_t")
            # a temporary another name holds already (a helper's parameter bound to
            # the argument `helper(np.exp(x))`) keeps its name: renaming it would
            # leave that name reading a value that no longer exists
            and value not in self.env.values()
        ):
            # The first value a variable holds keeps its name; later ones are versions (z_1).
            version = name if name not in self.defined else self.names.fresh(name)
            self.defined.add(version)
            old = value.name
            value = self.e.rename_last(value, version, after=_PAIR_ENTRIES)
            if value.name != old:
                for facts in (
                    self.ints,
                    self.lists,
                    self.shape_values,
                    self.containers,
                ):
                    if old in facts:
                        facts.add(value.name)
                if old in self.tuples:
                    self.tuples[value.name] = self.tuples[old]
                if old in self.dicts:
                    self.dicts[value.name] = self.dicts[old]
                # a pair's entry (`w, V = np.linalg.eigh(A)`) read again (`r[0]`)
                for entries in self.dicts.values():
                    for key, entry in entries.items():
                        if entry == Var(old):
                            entries[key] = value
        self.env[name] = value
        if isinstance(value, Var):
            self.bound.setdefault(value.name, set()).add(name)

    def carry_facts(self, a: Atom, name: str, b: Atom | None = None) -> None:
        """A value merged from `a` (and `b`) is a list, or an int, when they are."""
        vals = [x for x in (a, b) if x is not None and isinstance(x, Var)]
        if any(v.name in self.lists for v in vals):
            self.lists.add(name)
        if all(self.is_int(x) for x in (a, b) if x is not None and not is_undef(x)):
            self.ints.add(name)

    def version(self, name: str) -> str:
        """A name for a new value of the variable `name`: itself first, then name_1, ..."""
        v = name if name not in self.defined else self.names.fresh(name)
        self.defined.add(v)
        self.names.taken.add(v)
        return v

    def read(self, name: str, node: ast.AST) -> Atom:
        if name in self.env:
            return self.env[name]
        if name in self.scope:
            value = self.scope[name]
            if isinstance(value, Number) and not isinstance(value, complex):
                return Const(value)
            if id(value) in self.constants:
                const = self.constants[id(value)]
                self.used_constants[const] = None
                return Var(const)
            raise self.error(
                f"`{name}` is a {type(value).__name__} from outside the function; only numbers "
                "and arrays can be read from the enclosing scope",
                node,
                "pass it as an argument",
            )
        raise self.error(f"`{name}` is not defined here", node)


def _leaves(stmt: ast.stmt) -> bool:
    """Whether a statement can `return`, or `break`/`continue` out of the enclosing loop."""

    def visit(node, in_loop):
        if isinstance(node, ast.Return):
            return True
        if isinstance(node, (ast.Break, ast.Continue)) and not in_loop:
            return True
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            return False
        loop = in_loop or isinstance(node, (ast.For, ast.While))
        return any(visit(c, loop) for c in ast.iter_child_nodes(node))

    return visit(stmt, False)


def _always_leaves(stmts) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Break, ast.Continue)):
        return True
    if isinstance(last, ast.If):
        return _always_leaves(last.body) and _always_leaves(last.orelse)
    return False


def _then(stmts, rest):
    """A branch followed by the statements after the `if`, unless the branch always leaves."""
    return list(stmts) if _always_leaves(stmts) else list(stmts) + list(rest)


def _assigned_target(target) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _assigned(stmts) -> list[str]:
    found: dict[str, None] = {}
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            found[n.id] = None
            elif isinstance(node, ast.For):
                for n in ast.walk(node.target):
                    if isinstance(n, ast.Name):
                        found[n.id] = None
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in ("append", "extend") and isinstance(
                    node.func.value, ast.Name
                ):
                    found[node.func.value.id] = None
    return list(found)


def _written(stmt: ast.AugAssign) -> str:
    """`y1 += ...`: an augmented assignment as its error messages show it."""
    return ast.unparse(ast.AugAssign(stmt.target, stmt.op, ast.Name("...")))


def lower(fn) -> Function:
    """The SSA IR of a Python function."""
    return Lowering(read_source(fn)).lower()


def _last_return_line(lowering: Lowering, tree: ast.FunctionDef) -> int | None:
    """The origin line of the last `return` of the function itself (not of a nested def)."""
    found = []
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return):
            found.append(lowering.src.loc(node).line)
        elif not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
        ):
            todo.extend(ast.iter_child_nodes(node))
    return max(found, default=None)
