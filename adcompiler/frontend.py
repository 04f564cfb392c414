"""Python source → SSA IR.

Reads a function's source with `inspect`, parses it with `ast`, resolves the
names it calls through the function's globals, closure and builtins, and
lowers its body to three-address SSA form with the emitter: each reassigned
Python variable becomes a new version (`z`, `z_1`, ...). Anything it cannot
lower raises `ADCompileError` with file, line, column and the source line.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import keyword
import re
import textwrap
from dataclasses import dataclass
from numbers import Number

from . import comprehensions, resolve
from .autodiff.emitter import Emitter, Names
from .errors import ADCompileError, Loc
from .inplace import check_updates
from .ir import UNDEF, Assign, Atom, Block, Const, Function, If, Loop, Var, is_undef
from .passes.dce import dce
from .passes.shapes import Shapes
from .rules.core import dim

_COMPARE = {
    ast.Gt: "gt",
    ast.Lt: "lt",
    ast.GtE: "ge",
    ast.LtE: "le",
    ast.Eq: "eq",
    ast.NotEq: "ne",
}

# The functions whose result is a pair or a triple (a named tuple): each entry's
# primitive and field name.
_PAIRS = {
    "slogdet": (("slogdet_sign", "sign"), ("slogdet_logabsdet", "logabsdet")),
    "eigh": (
        ("eigh_eigenvalues", "eigenvalues"),
        ("eigh_eigenvectors", "eigenvectors"),
    ),
    "svd": (("svd_u", "U"), ("svd_s", "S"), ("svd_vh", "Vh")),
    "qr": (("qr_q", "Q"), ("qr_r", "R")),
}
_PAIR_ENTRIES = frozenset(prim for pair in _PAIRS.values() for prim, _ in pair)

_BINOPS = {
    ast.Mod: "mod",
    ast.FloorDiv: "floordiv",
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}

# What to call a construct in an error message, and what to suggest.
CONSTRUCTS: dict[type, tuple[str, str | None]] = {
    ast.Lambda: (
        "a lambda",
        "define the function with `def` at module level or inside this one",
    ),
    ast.With: (
        "a `with` statement",
        "move the context manager outside the differentiated function",
    ),
    ast.AsyncWith: ("an `async with` statement", None),
    ast.Try: ("a `try` statement", "handle errors outside the differentiated function"),
    ast.Raise: (
        "a `raise` statement",
        "check inputs outside the differentiated function",
    ),
    ast.Yield: (
        "`yield`",
        "`yield` makes a generator, which has no gradient: return the value",
    ),
    ast.YieldFrom: (
        "`yield from`",
        "`yield` makes a generator, which has no gradient: return the value",
    ),
    ast.Await: ("`await`", None),
    ast.Global: ("a `global` statement", "pass the value as an argument"),
    ast.Nonlocal: (
        "a `nonlocal` statement",
        "pass the value as an argument and return the result",
    ),
    ast.Delete: ("a `del` statement", None),
    ast.Match: ("a `match` statement", "use if/elif/else"),
    ast.Import: ("an `import` inside the function", "import at module level"),
    ast.ImportFrom: ("an `import` inside the function", "import at module level"),
    ast.ClassDef: ("a class definition inside the function", None),
    ast.Assert: (
        "an `assert` statement",
        "check inputs outside the differentiated function",
    ),
    ast.SetComp: ("a set comprehension", "use a list comprehension"),
    ast.DictComp: ("a dict comprehension", None),
    ast.GeneratorExp: (
        "a generator expression",
        "the builtin `sum` takes one; elsewhere write a list comprehension `[...]`",
    ),
    ast.JoinedStr: ("an f-string", None),
    ast.NamedExpr: ("an assignment expression (`:=`)", "assign on a line of its own"),
    ast.Starred: ("a starred expression", None),
    ast.Set: ("a set", "use a tuple or a list"),
    ast.AsyncFunctionDef: ("an `async def` function", "use a plain `def`"),
    ast.AsyncFor: ("an `async for` loop", None),
    # operators, named by the node that holds them (see `construct_name`)
    ast.Invert: ("`~` (bitwise invert)", "for a boolean mask, use `np.logical_not`"),
    ast.Is: ("`is` (an identity comparison)", "compare values with `==` or `!=`"),
    ast.IsNot: (
        "`is not` (an identity comparison)",
        "compare values with `==` or `!=`",
    ),
    ast.In: ("`in` (a membership test)", "compare with `==` and join tests with `or`"),
    ast.NotIn: (
        "`not in` (a membership test)",
        "compare with `!=` and join tests with `and`",
    ),
}
# Statements newer than Python 3.10.
for _name, _entry in (
    ("TryStar", ("a `try`/`except*` statement", CONSTRUCTS[ast.Try][1])),
    ("TypeAlias", ("a `type` alias statement", "define the alias at module level")),
):
    if hasattr(ast, _name):
        CONSTRUCTS[getattr(ast, _name)] = _entry


def construct_name(node: ast.AST) -> tuple[str, str | None]:
    if isinstance(node, ast.UnaryOp) and type(node.op) in CONSTRUCTS:
        node = node.op
    if type(node) in CONSTRUCTS:
        return CONSTRUCTS[type(node)]
    text = ast.unparse(node).splitlines()[0] if hasattr(ast, "unparse") else ""
    return f"`{text[:60]}` ({type(node).__name__})", None


@dataclass
class Source:
    """A function's source, parsed, with what is needed to point into its file."""

    fn: object
    file: str
    first_line: int
    indent: int
    lines: list[str]
    tree: ast.FunctionDef
    text: str

    def loc(self, node: ast.AST) -> Loc:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + self.indent
        lines = (
            self.text.splitlines()
        )  # as written, not dedented: the column counts the indent
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        return Loc(self.file, line + self.first_line - 1, col, text)


def read_source(fn) -> Source:
    fn = inspect.unwrap(fn)
    try:
        lines, first = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
    except (OSError, TypeError) as exc:
        name = getattr(fn, "__qualname__", repr(fn))
        raise ADCompileError(
            f"cannot read the source of {name}: {exc}",
            hint="adcompiler reads source files; functions typed into a REPL or built "
            "with exec have none",
        ) from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    try:
        node = ast.parse(dedented).body[0]
    except (SyntaxError, IndexError):  # a lambda on a line that continues an expression
        node = None
    if isinstance(node, ast.AsyncFunctionDef) or not isinstance(node, ast.FunctionDef):
        where = Loc(file, first, 0, lines[0] if lines else "")
        name = getattr(fn, "__qualname__", fn)
        if getattr(fn, "__name__", None) == "<lambda>":
            raise ADCompileError(
                "cannot compile a lambda: adcompiler compiles `def` functions",
                where,
                "write it as a `def` with the same body",
            )
        if isinstance(node, ast.AsyncFunctionDef):
            raise ADCompileError(
                f"`{name}` is an `async def` function, which has no gradient",
                where,
                "differentiate a plain `def` function; await outside it",
            )
        raise ADCompileError(f"{name} is not a plain `def` function", where)
    if not any(isinstance(n, ast.Assert) for n in ast.walk(node)):
        # (pytest rewrites `assert`s; the frontend rejects them anyway)
        _check_unchanged(fn, dedented, file, first, lines)
    return Source(fn, file, first, indent, dedented.splitlines(), node, text)


def _fingerprint(code) -> list:
    """What a function's bytecode computes, independent of where it was compiled.

    Operators, comparisons, constants, attribute names, the names read and
    written, and the number of calls: compiled alone (at the top level) a
    nested function reads its closure's names as globals, so load and store
    instructions are compared by name only.
    """
    import dis

    found = []
    for ins in dis.get_instructions(code):
        op = ins.opname
        if ins.opcode in dis.hasconst:
            value = ins.argval
            if isinstance(value, str) and ".<locals>." in value:
                value = value.rsplit(".<locals>.", 1)[
                    1
                ]  # 3.10's qualname of a nested def
            found.append(("const", getattr(value, "co_name", None) or repr(value)))
        elif op.startswith(("LOAD_", "STORE_", "DELETE_")) and isinstance(
            ins.argval, str
        ):
            found.append(("name", ins.argval))
        elif op.startswith(("BINARY_", "INPLACE_", "UNARY_", "COMPARE_OP")):
            found.append((op, ins.argrepr))
        elif op.startswith("CALL"):
            found.append(("call", ""))
    return sorted(found)


def _check_unchanged(fn, dedented: str, file: str, first: int, lines: list) -> None:
    """The source on disk is the function that runs: not edited since it was imported."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    try:
        module = compile(dedented, file, "exec", dont_inherit=True)
    except SyntaxError:  # `nonlocal` needs its enclosing function: nothing to compare
        return
    found = [c for c in module.co_consts if getattr(c, "co_name", None) == code.co_name]
    if found and _fingerprint(found[0]) != _fingerprint(code):
        raise ADCompileError(
            f"the source of `{code.co_name}` in {file} changed after it was imported: "
            "the function that runs is not the one on disk",
            Loc(file, first, 0, lines[0] if lines else ""),
            "reload the module (importlib.reload) or restart Python, then differentiate",
        )


class Lowering:
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
        """`np.add.at(d_x, idx, g)` in a generated gradient (the adjoint of an
        integer-array or mask index): a new value of `d_x`, for forward mode."""
        import numpy as np

        if not (
            resolve.is_generated(self.fn)
            and isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "at"
            and self.static_value(call.func.value) is np.add
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

    def unsupported_op(self, op: ast.AST, node: ast.AST) -> ADCompileError:
        symbol = {
            ast.FloorDiv: "//",
            ast.Mod: "%",
            ast.LShift: "<<",
            ast.RShift: ">>",
            ast.BitOr: "|",
            ast.BitAnd: "&",
            ast.BitXor: "^",
        }.get(type(op), type(op).__name__)
        return self.error(f"the operator `{symbol}` has no derivative", node)

    # -- expressions -------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Atom:
        loc = self.src.loc(node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, complex):
                raise self.error("complex numbers are not supported", node)
            return Const(node.value)
        if isinstance(node, ast.Name):
            return self.read(node.id, node)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self.unsupported_op(node.op, node)
            left, right = self.expr(node.left), self.expr(node.right)
            out = self.e.call(_BINOPS[type(node.op)], left, right, loc=loc)
            if (
                self.is_int(left)
                and self.is_int(right)
                and _BINOPS[type(node.op)] != "div"
            ):
                self.mark_int(out)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.e.call("neg", self.expr(node.operand), loc=loc)
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand)
            if isinstance(node.op, ast.Not):
                return self.e.call("not", self.expr(node.operand), loc=loc)
            raise self.unsupported(node)
        if isinstance(node, ast.Compare):
            result = None
            left = self.expr(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                if type(op) not in _COMPARE:
                    what, hint = construct_name(op)
                    raise self.error(
                        f"{what} is not supported in a differentiated function",
                        node,
                        hint,
                    )
                right = self.expr(right_node)
                c = self.e.call(_COMPARE[type(op)], left, right, loc=loc)
                result = c if result is None else self.e.call("and", result, c, loc=loc)
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            prim = "and" if isinstance(node.op, ast.And) else "or"
            result = self.expr(node.values[0])
            for v in node.values[1:]:
                result = self.e.call(prim, result, self.expr(v), loc=loc)
            return result
        if isinstance(node, ast.IfExp):
            cond = self.condition(node.test)
            if isinstance(cond, Const) and not is_undef(cond):
                return self.expr(node.body if cond.value else node.orelse)
            self.e.push_scope()
            a = self.expr(node.body)
            then = Block(self.e.pop_scope(), (a,))
            self.e.push_scope()
            b = self.expr(node.orelse)
            orelse = Block(self.e.pop_scope(), (b,))
            (out,) = self.merge(cond, then, orelse, ["_t"], node)
            if (
                isinstance(out, Var)
                and out.name.startswith("_t")
                and out.name in self.names.taken
            ):
                # a merged value is a temporary until a name is bound to it
                pass
            return out
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.ListComp):
            return self.comprehension(node)
        if isinstance(node, ast.List):
            xs = self.e.call("new_list", loc=loc)
            for v in node.elts:
                xs = self.e.call("append", xs, self.expr(v), loc=loc)
            self.lists.add(xs.name)
            return xs
        if isinstance(node, ast.Dict):
            if not all(isinstance(k, ast.Constant) for k in node.keys):
                raise self.error("a dict with keys that are not constants", node)
            items = tuple(self.expr(v) for v in node.values)
            out = self.e.call("tuple", *items, loc=loc)
            self.dicts[out.name] = dict(zip((k.value for k in node.keys), items))
            return out
        if isinstance(node, ast.Tuple):
            items = tuple(self.expr(v) for v in node.elts)
            if all(isinstance(i, Const) for i in items):
                return Const(tuple(i.value for i in items))
            out = self.e.call("tuple", *items, loc=loc)
            self.tuples[out.name] = items
            return out
        raise self.unsupported(node)

    def is_int(self, a: Atom) -> bool:
        if isinstance(a, Const):
            return isinstance(a.value, int) and not isinstance(a.value, bool)
        return a.name in self.ints

    def mark_int(self, a: Atom) -> None:
        if isinstance(a, Var):
            self.ints.add(a.name)

    def item(self, base: Atom, k: int):
        """Entry k of a tuple the function built, or None."""
        if isinstance(base, Var) and base.name in self.dicts:
            return self.dicts[base.name].get(k)
        if not isinstance(k, int):
            return None
        if isinstance(base, Var) and base.name in self.tuples:
            items = self.tuples[base.name]
            if -len(items) <= k < len(items):
                return items[k]
        if isinstance(base, Const) and isinstance(base.value, tuple):
            return Const(base.value[k])
        return None

    def subscript(self, node: ast.Subscript) -> Atom:
        loc = self.src.loc(node)
        base = self.expr(node.value)
        idx, basic = self.index(node.slice)
        if isinstance(idx, Const) and type(idx.value) in (int, str):
            found = self.item(base, idx.value)
            if found is not None:
                return found
        if (
            isinstance(idx, Const)
            and isinstance(idx.value, slice)
            and isinstance(base, Var)
            and base.name in self.lists
            and base.name in self.tuples
        ):  # some of np.split's parts: a list of them
            return self.list_of(self.tuples[base.name][idx.value], loc)
        if isinstance(idx, Const) and isinstance(base, Var):
            if type(idx.value) in (int, str) and base.name in self.containers:
                return self.tree_access("getitem", base, idx.value, node)
            if type(idx.value) is str:
                if (
                    base.name not in self.params_set
                    and base.name not in self.containers
                ):
                    raise self.error(
                        f"`{ast.unparse(node.value)}` is not a container argument", node
                    )
                return self.tree_access("getitem", base, idx.value, node)
        kwargs = {}
        if basic:
            kwargs["basic"] = True
        if isinstance(base, Var) and base.name in self.lists:
            kwargs["seq"] = True
        out = self.e.call("getitem", base, idx, loc=loc, **kwargs)
        if (
            isinstance(base, Var)
            and base.name in self.shape_values
            and self.is_int(idx)
        ):
            self.mark_int(out)
        return out

    def subscript_target(self, target: ast.Subscript):
        if not isinstance(target.value, ast.Name):
            raise self.error(
                f"assignment to `{ast.unparse(target)}`: only `name[index] = ...` is supported",
                target,
            )
        idx, basic = self.index(target.slice)
        return target.value.id, idx, {"basic": True} if basic else {}

    def index(self, node: ast.expr) -> tuple[Atom, bool]:
        """An index: a constant where it is one (`1:3, None`), else a value; and whether it is basic."""
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        atoms, basic = [], True
        for p in parts:
            if isinstance(p, ast.Slice):
                bounds = [
                    self.expr(b) if b is not None else Const(None)
                    for b in (p.lower, p.upper, p.step)
                ]
                if all(isinstance(b, Const) for b in bounds):
                    atoms.append(Const(slice(*(b.value for b in bounds))))
                else:
                    atoms.append(self.e.call("slice", *bounds))
                continue
            static = (
                self.static_value(p)
                if isinstance(p, (ast.Name, ast.Attribute))
                else _DYNAMIC
            )
            if static is None:
                atoms.append(Const(None))
                continue
            if isinstance(p, ast.Constant) and p.value is Ellipsis:
                atoms.append(Const(Ellipsis))
                continue
            a = self.expr(p)
            basic = basic and self.is_int(a)
            atoms.append(a)
        if not isinstance(node, ast.Tuple):
            return atoms[0], basic
        if all(isinstance(a, Const) for a in atoms):
            return Const(tuple(a.value for a in atoms)), basic
        return self.e.call("tuple", *atoms), basic

    def unpack_value(self, target, value: Atom, node) -> None:
        """`a, b = t` where `t` is a value: each name reads one entry."""
        for k, t in enumerate(target.elts):
            item = self.item(value, k)
            if (
                item is None
                and isinstance(value, Var)
                and value.name in self.containers
            ):
                item = self.tree_access("getitem", value, k, node)
            if item is None:
                item = self.e.call("getitem", value, Const(k), basic=True)
            if isinstance(value, Var) and value.name in self.shape_values:
                self.mark_int(item)
            self.assign(t, item, node)

    def attribute(self, node: ast.Attribute) -> Atom:
        owner = self.static_value(node.value)
        if owner is not _DYNAMIC:
            value = getattr(owner, node.attr, _DYNAMIC)
            if isinstance(value, Number) and not isinstance(value, complex):
                return Const(value)
            raise self.error(
                f"`{ast.unparse(node)}` is not a number or an array operation", node
            )
        if node.attr in resolve.ATTRIBUTES:
            prim = resolve.ATTRIBUTES[node.attr]
            out = self.e.call(prim, self.expr(node.value), loc=self.src.loc(node))
            if prim == "shape":
                self.shape_values.add(out.name)
            elif prim in ("ndim", "size"):
                self.mark_int(out)
            return out
        owner = self.expr(node.value)
        field = self.item(owner, node.attr)  # `np.linalg.eigh(A).eigenvalues`
        if field is not None:
            return field
        if isinstance(owner, Var) and (
            owner.name in self.containers or owner.name in self.params_set
        ):
            return self.tree_access("getattr", owner, node.attr, node)
        raise self.error(f"the attribute `.{node.attr}` is not supported", node)

    def tree_access(self, prim: str, base: Var, key, node) -> Atom:
        """`params["W"]`, `params.W`, `params[0]`: a leaf or branch of a container argument.

        Read once, at the top of the function (so a loop's backward sweep
        accumulates the leaf's adjoint, an array); the gradient of the
        container is rebuilt from the leaves' adjoints (`_grad_like`).
        """
        loc = self.src.loc(node)
        if base.name not in self.root_values:
            # a container the loop or branch reads from (`for layer in params["layers"]`)
            if prim == "getattr":
                raise self.error(
                    "an attribute of a container taken inside a loop; read it before the loop",
                    node,
                )
            out = self.e.call(
                "getitem", base, Const(key), loc=loc, any=True, basic=True
            )
            self.containers.add(out.name)
            return out
        if (
            isinstance(key, str)
            and key.isidentifier()
            and not key.startswith("_")
            and not keyword.iskeyword(key)
        ):
            label = key
        else:
            label = f"{base.name}_{key}".replace("-", "m")
        # `W = params["W"]` names the leaf `W`, not `W_1`: the name is the
        # leaf's unless a value or an outside name already has it.
        if label in self.defined or label in self.scope or not label.isidentifier():
            label = self.names.fresh(label)
        self.defined.add(label)
        self.names.taken.add(label)
        out = self.e.hoist(prim, base, Const(key), tree=True, loc=loc, name=label)
        self.containers.add(out.name)
        self.root_values.add(out.name)
        return out

    def static_value(self, node: ast.expr):
        """The object a name or dotted name refers to outside the function, or _DYNAMIC."""
        if isinstance(node, ast.Name):
            if node.id in self.env or node.id not in self.scope:
                return _DYNAMIC
            return self.scope[node.id]
        if isinstance(node, ast.Attribute):
            owner = self.static_value(node.value)
            if _is_ufunc(owner) and (owner, node.attr) in _UFUNC_KEYS:
                return _DYNAMIC  # `np.multiply.outer`: see `call`
            if (
                owner is _DYNAMIC
                or not inspect.ismodule(owner)
                and not isinstance(owner, type)
                and not _is_ufunc(owner)
            ):
                return _DYNAMIC
            if not hasattr(owner, node.attr):
                raise self.error(f"`{ast.unparse(node)}` does not exist", node)
            return getattr(owner, node.attr)
        return _DYNAMIC

    def call(self, node: ast.Call) -> Atom:
        loc = self.src.loc(node)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.unsupported(arg)
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error("`**` arguments are not supported", kw.value)
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id in self.local_defs
            and func.id not in self.env
        ):
            tree = self.local_defs[func.id]
            src = Source(
                self.src.fn,
                self.src.file,
                self.src.first_line,
                self.src.indent,
                self.src.lines,
                tree,
                self.src.text,
            )
            return self.inline(
                node, src, self.scope, dict(self.env), ("local", id(tree)), None
            )
        if isinstance(func, ast.Attribute):
            owner = self.static_value(func.value)
            sig = None
            if _is_ufunc(owner):
                sig = resolve.UFUNC_METHODS.get((owner, func.attr))
            if sig is not None:
                args, kwargs = self.arguments(sig, node)
                if sig.prim in _CHECKED:
                    return self.checked_call(sig, args, kwargs, node)
                return self.apply(sig, args, kwargs, node)
            if owner is _DYNAMIC:
                return self.method_call(node, func)
        if isinstance(func, ast.Lambda):
            raise self.unsupported(func)
        callee = self.static_value(func)
        if callee is _DYNAMIC:
            raise self.error(
                f"calling `{ast.unparse(func)}`, which is a value, not a function", func
            )
        if getattr(callee, "defvjp", None) is not None and hasattr(callee, "rule"):
            return self.custom_call(node, callee)
        if callee is builtins.list or callee is builtins.tuple:
            return self.list_call(node, callee.__name__)
        seq = resolve.SEQUENCE_FUNCTIONS.get(id(callee))
        if seq is not None and seq[1] is callee:
            return self.sequence_call(seq[0], node)
        sig = resolve.lookup(callee) or resolve.lookup_generated(callee)
        if sig is None and _is_user_function(callee):
            src = read_source(callee)
            return self.inline(
                node, src, _scope_of(callee), {}, callee.__code__, callee
            )
        if sig is None:
            name = ast.unparse(func)
            raise self.error(
                f"call to `{name}`, which adcompiler has no derivative rule for",
                node,
                "use a NumPy function from the rule table (see the README)",
            )
        into = next((kw.value for kw in node.keywords if kw.arg == "out"), None)
        if into is not None:
            return self.call_into(node, sig, into)
        if sig.prim == "select_lists":
            return self.select_lists(node)
        if sig.prim == "polyval":
            return self.polyval(node)
        if sig.prim == "tensordot":
            return self.tensordot(node)
        if sig.prim in ("matmul_lhs", "matmul_rhs") and len(node.args) == 3:
            # generated code's `_matmul_lhs(g, b, a)`: the product summed to the
            # shape of `a`, the two steps that each have their rules
            g, b, like = (self.expr(x) for x in node.args)
            product = self.e.call(sig.prim, g, b, loc=loc)
            return self.e.call("unbroadcast", product, like, loc=loc)
        args, kwargs = self.arguments(sig, node)
        if sig.prim == "arange" and not kwargs and 1 <= len(args) <= 3:
            return self.e.call("arange", *args, loc=self.src.loc(node))
        if sig.prim == "svd":
            return self.svd(sig, args, kwargs, node)
        if sig.prim == "qr":
            return self.qr(sig, args, kwargs, node)
        if sig.prim in _PAIRS:
            return self.pair(sig, args, kwargs, node)
        if sig.prim == "matrix_power":
            return self.matrix_power(sig, args, kwargs, node)
        if sig.prim == "diff":
            return self.diff(sig, args, kwargs, node)
        if sig.prim == "take":
            return self.take(sig, args, kwargs, node)
        if sig.prim == "average":
            return self.average(sig, args, kwargs, node)
        if sig.prim == "interp":
            return self.interp(sig, args, kwargs, node)
        if sig.prim in ("convolve", "correlate"):
            default = Const(sig.keywords["mode"])
            mode = kwargs.get("mode", args[2] if len(args) > 2 else default)
            if getattr(mode, "value", None) not in ("full", "same", "valid"):
                raise self.error(
                    f"`mode` of `{ast.unparse(node.func)}` must be 'full', 'same' "
                    "or 'valid', as a constant",
                    node,
                )
        if sig.prim in ("split", "array_split"):
            return self.split(sig, args, kwargs, node)
        if sig.prim in ("ptp", "nansum", "nanmean"):
            return self.reduction(sig, args, kwargs, node)
        if sig.prim in _CHECKED:
            return self.checked_call(sig, args, kwargs, node)
        if sig.prim == "vdot":
            if kwargs or len(args) != 2:
                raise self.error("`np.vdot` takes two arrays, by position", node)
            flat = [self.e.call("ravel", a, loc=loc) for a in args]
            return self.e.call("dot", *flat, loc=loc)
        if sig.prim == "einsum":
            spec = _einsum_spec(node, args, kwargs, self.error)
            return self.e.call("einsum", Const(spec), *args[1:], loc=self.src.loc(node))
        if sig.prim == "slice":  # slice(stop), slice(start, stop[, step])
            if kwargs or not 1 <= len(args) <= 3:
                raise self.error("`slice` takes one to three plain arguments", node)
            bounds = [Const(None), *args] if len(args) == 1 else list(args)
            bounds += [Const(None)] * (3 - len(bounds))
            return self.e.call("slice", *bounds, loc=loc)
        if sig.variadic:
            if kwargs or len(args) < 2:
                raise self.error(
                    f"`{ast.unparse(func)}` needs two or more plain arguments", node
                )
            result = args[0]
            for a in args[1:]:
                result = self.e.call(sig.prim, result, a, loc=loc)
            if all(self.is_int(a) for a in args):
                self.mark_int(result)
            return result
        out = self.apply(sig, args, kwargs, node)
        if sig.prim in resolve.LIST_HELPERS and isinstance(out, Var):
            self.lists.add(out.name)
        if sig.prim in ("len", "int"):
            self.mark_int(out)
        elif sig.prim == "shape":
            self.shape_values.add(out.name)
        return out

    def pair(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.slogdet(A)`, `np.linalg.eigh(A)`: a pair, read by unpacking,
        indexing or by field (`_PAIRS`). Each entry is its own value (`r[0]`,
        `r[1]`), whose rules turn its adjoint into the pair's: for slogdet the
        logarithm's alone (the sign is piecewise constant), for eigh a matrix in
        the eigenbasis that both entries add to, for svd's triple and qr's pair
        (`svd`, `qr` below) Ā itself (rules/linalg.py)."""
        return self.entries(sig.prim, self.apply(sig, args, kwargs, node), node)

    def entries(self, prim: str, pair: Var, node: ast.Call) -> Var:
        """The entries of a pair or triple `pair` (`_PAIRS[prim]`), each its own
        value, read by index (`r[0]`, `r[-1]`) or field (`r.U`)."""
        loc = self.src.loc(node)
        fields = _PAIRS[prim]
        read = {}
        for k, (entry, field) in enumerate(fields):
            value = self.e.call(entry, pair, Const(k), loc=loc)
            read.update({k: value, k - len(fields): value, field: value})
        self.dicts[pair.name] = read
        return pair

    def svd(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.svd(A, full_matrices=False)`: the triple (U, S, Vh) of the
        reduced SVD, read as the pairs of `pair` are. `np.linalg.svd(A,
        compute_uv=False)`: its entry S, since the singular values' derivatives
        need U and Vh (one SVD computes all three). The full SVD's extra columns
        of U (or rows of Vh) are not determined by A: refused."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "a" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        options = {}
        for k in ("full_matrices", "compute_uv", "hermitian"):
            value = getattr(bound[k], "value", bound[k])  # a default is no Const
            if isinstance(bound[k], Var) or type(value) is not bool:
                raise self.error(f"`{k}` of `{name}` must be True or False", node)
            options[k] = value
        if options["hermitian"]:
            raise self.error(f"`hermitian=True` of `{name}` is not supported", node)
        loc = self.src.loc(node)
        triple = self.e.call("svd", bound["a"], full_matrices=Const(False), loc=loc)
        if not options["compute_uv"]:
            return self.e.call("svd_s", triple, Const(1), loc=loc)
        if options["full_matrices"]:
            raise self.error(
                f"`{name}` with `full_matrices=True`: only the reduced SVD has a "
                "derivative here",
                node,
                "pass `full_matrices=False`",
            )
        return self.entries("svd", triple, node)

    def qr(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.qr(A)`: the pair (Q, R) of the reduced QR decomposition."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "a" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        mode = getattr(bound["mode"], "value", bound["mode"])
        if isinstance(bound["mode"], Var) or mode != "reduced":
            raise self.error(f'only `mode="reduced"` of `{name}` is supported', node)
        pair = self.e.call("qr", bound["a"], loc=self.src.loc(node))
        return self.entries("qr", pair, node)

    def matrix_power(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.matrix_power(A, n)`, n a constant integer of 0 or more: the
        products NumPy computes, `A @ A @ A` for n = 3 (squares of squares for
        n over 3), the identity for n = 0. Each product has its rule."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "a" not in bound or "n" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        n = bound["n"]
        if not isinstance(n, Const) or type(n.value) is not int:
            raise self.error(f"`n` of `{name}` must be a constant integer", node)
        if n.value < 0:
            raise self.error(
                f"`n` of `{name}` must be 0 or more (a negative power inverts)",
                node,
                "write `np.linalg.matrix_power(np.linalg.inv(A), -n)`",
            )
        loc = self.src.loc(node)
        a, n = bound["a"], n.value
        if n == 0:  # the identity, in A's shape and dtype (as NumPy's)
            eye = self.e.call("eye", dim(self.e, a, -1), loc=loc)
            return self.e.call(
                "add", self.e.call("zeros_like", a, loc=loc), eye, loc=loc
            )
        if n <= 3:
            out = a
            for _ in range(n - 1):
                out = self.e.call("matmul", out, a, loc=loc)
            return out
        out, square = None, a  # n's binary digits, lowest first, as NumPy
        while True:
            if n & 1:
                out = (
                    square
                    if out is None
                    else self.e.call("matmul", out, square, loc=loc)
                )
            n >>= 1
            if not n:
                return out
            square = self.e.call("matmul", square, square, loc=loc)

    def bind_call(self, sig, args, kwargs, node: ast.Call) -> dict:
        """The arguments of a call lowered here, by parameter name (with defaults)."""
        name = ast.unparse(node.func)
        if len(args) > len(sig.positional):
            raise self.error(f"too many arguments for `{name}`", node)
        bound = {**sig.keywords, **dict(zip(sig.positional, args))}
        given = dict(zip(sig.positional, args))
        for key, value in kwargs.items():
            if key not in sig.positional or key in given:
                raise self.error(
                    f"`{name}` does not take the argument `{key}` here", node
                )
            bound[key] = value
        return bound

    def tensordot(self, node: ast.Call) -> Atom:
        """`np.tensordot(a, b, axes)`, its axes a constant where written as one
        (`axes=([1, 0], [0, 1])`): the adjoints' helpers read them at run time."""
        kwargs = {kw.arg: kw.value for kw in node.keywords}
        if set(kwargs) - {"axes"} or len(node.args) + len(kwargs) > 3:
            raise self.error("`np.tensordot` takes `a`, `b` and `axes` here", node)
        if len(node.args) < 2:
            raise self.error("missing arguments for `np.tensordot`", node)
        a, b = (self.expr(x) for x in node.args[:2])
        given = node.args[2] if len(node.args) == 3 else kwargs.get("axes")
        if given is None:
            return self.e.call("tensordot", a, b, loc=self.src.loc(node))
        try:
            value = ast.literal_eval(given)
        except (ValueError, TypeError, SyntaxError):  # a value: axes from a shape
            axes = self.expr(given)
        else:
            if isinstance(value, (list, tuple)):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            axes = Const(value)
        return self.e.call("tensordot", a, b, axes=axes, loc=self.src.loc(node))

    def take(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.take(a, indices, axis)`: the index it reads, `a[:, indices]` along the
        axis (`np.ravel(a)[indices]` without one), whose adjoint is the index's."""
        bound = self.bind_call(sig, args, kwargs, node)
        if "indices" not in bound:
            raise self.error(f"missing arguments for `{ast.unparse(node.func)}`", node)
        a, idx, axis = bound["a"], bound["indices"], bound.get("axis", Const(None))
        if not isinstance(axis, Const) or not (
            axis.value is None or type(axis.value) is int
        ):
            raise self.error("`axis` of `np.take` must be a constant integer", node)
        loc = self.src.loc(node)
        basic = self.is_int(idx)
        if axis.value is None:
            a = self.e.call("ravel", a, loc=loc)
            parts = (idx,)
        elif axis.value >= 0:
            parts = (Const(slice(None)),) * axis.value + (idx,)
        else:
            parts = (Const(Ellipsis), idx) + (Const(slice(None)),) * (-axis.value - 1)
        if len(parts) == 1:
            index = idx
        elif all(isinstance(p, Const) for p in parts):
            index = Const(tuple(p.value for p in parts))
        else:
            index = self.e.call("tuple", *parts, loc=loc)
        options = {"basic": True} if basic else {}
        return self.e.call("getitem", a, index, loc=loc, **options)

    def diff(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.diff(a, n, axis)`, written as NumPy computes it: `n` times
        `a[..., 1:] - a[..., :-1]` along the axis. Its adjoint is the slices'
        (`d_a[..., 1:] += g; d_a[..., :-1] -= g`), and forward mode needs nothing new.
        """
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        n, axis = (getattr(bound[k], "value", bound[k]) for k in ("n", "axis"))
        for k, v in (("n", n), ("axis", axis)):
            if isinstance(bound[k], Var) or type(v) is not int:
                raise self.error(f"`{k}` of `{name}` must be a constant integer", node)
        if n < 0:
            raise self.error(f"`n` of `{name}` must be 0 or more", node)
        if axis >= 0:
            before, after = (slice(None),) * axis, ()
        else:
            before, after = (Ellipsis,), (slice(None),) * (-axis - 1)
        upper, lower = (
            Const((before + (s,) + after) if before or after else s)
            for s in (slice(1, None), slice(None, -1))
        )
        loc = self.src.loc(node)
        out = bound["a"]
        for _ in range(n):
            hi = self.e.call("getitem", out, upper, loc=loc, basic=True)
            lo = self.e.call("getitem", out, lower, loc=loc, basic=True)
            out = self.e.call("sub", hi, lo, loc=loc)
        return out

    def average(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.average(a, axis, weights)`: the mean without weights, else
        `np.sum(a * w, axis) / np.sum(w, axis)`, as NumPy computes it. Weights
        of another shape than `a`'s are a vector along `axis`: `_along` gives
        them the axes that bring them there (where the ranks do not tell)."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        a, axis = bound["a"], bound.get("axis", Const(None))
        weights = bound.get("weights", Const(None))
        if not isinstance(axis, Const):
            raise self.error(f"`axis` of `{name}` must be a constant", node)
        loc = self.src.loc(node)
        options = {} if axis.value is None else {"axis": axis}
        if isinstance(weights, Const) and weights.value is None:
            return self.e.call("mean", a, loc=loc, **options)
        w = weights
        rank_a, rank_w = self.e.rank(a), self.e.rank(w)
        if options and not (rank_w is not None and rank_w == rank_a):
            w = self.e.call("along", w, a, axis, loc=loc)
        total = self.e.call(
            "sum", self.e.call("mul", a, w, loc=loc), loc=loc, **options
        )
        return self.e.call(
            "div", total, self.e.call("sum", w, loc=loc, **options), loc=loc
        )

    def split(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.split(x, k_or_indices, axis)` (np.array_split's): the list of its
        parts, each a slice of x along `axis`, so every part's adjoint is added
        into its block of x's (nothing where a part is unused) by the rules of
        indexing. A part read by a constant index (`np.split(x, 2)[0]`, or by
        unpacking) is that slice itself. With k sections and x's length n, the
        parts start at i·(n // k) (np.split, where k divides n; NumPy raises
        otherwise) or, for np.array_split, at i·(n // k) + min(i, n % k)."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "ary" not in bound or "indices_or_sections" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        x, sections = bound["ary"], bound["indices_or_sections"]
        axis = bound["axis"] if isinstance(bound["axis"], Atom) else Const(0)
        given = getattr(sections, "value", None)
        ints = isinstance(given, tuple) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in given
        )
        if not (isinstance(axis, Const) and type(axis.value) is int):
            raise self.error(f"`axis` of `{name}` must be an int constant", node)
        if not (ints or type(given) is int and given > 0):
            raise self.error(
                f"`{name}` needs a positive number of sections or a list of "
                "indices, as constants",
                node,
            )
        loc = self.src.loc(node)
        if ints:
            bounds = [Const(None), *map(Const, given), Const(None)]
        else:
            shape = self.e.call("shape", x, loc=loc)
            n = self.e.call("getitem", shape, axis, loc=loc, basic=True)
            r = None
            if sig.prim == "array_split":
                q = self.e.call("floordiv", n, Const(given), loc=loc)
                r = self.e.call("mod", n, Const(given), loc=loc)
            else:  # raises, as np.split does, where the sections do not divide n
                q = self.e.call("split_size", n, Const(given), loc=loc)
            self.mark_int(q)
            bounds = [Const(None)]
            for i in range(1, given):
                at = self.e.call("mul", Const(i), q, loc=loc)
                if r is not None:
                    extra = self.e.call("min", Const(i), r, loc=loc)
                    at = self.e.call("add", at, extra, loc=loc)
                self.mark_int(at)
                bounds.append(at)
            bounds.append(Const(None))
        k = axis.value
        if k >= 0:
            before, after = (Const(slice(None)),) * k, ()
        else:
            before, after = (Const(Ellipsis),), (Const(slice(None)),) * (-k - 1)
        parts = []
        for lo, hi in zip(bounds, bounds[1:]):
            if isinstance(lo, Const) and isinstance(hi, Const):
                cut = Const(slice(lo.value, hi.value))
            else:
                cut = self.e.call("slice", lo, hi, Const(None), loc=loc)
            index = (*before, cut, *after)
            if len(index) == 1:
                idx = index[0]
            elif all(isinstance(a, Const) for a in index):
                idx = Const(tuple(a.value for a in index))
            else:
                idx = self.e.call("tuple", *index, loc=loc)
            parts.append(self.e.call("getitem", x, idx, loc=loc, basic=True))
        return self.list_of(parts, loc)

    def list_of(self, parts, loc) -> Atom:
        """A list of the parts, whose entries a constant index reads statically."""
        xs = self.e.call("new_list", loc=loc)
        for p in parts:
            xs = self.e.call("append", xs, p, loc=loc)
        self.lists.add(xs.name)
        self.tuples[xs.name] = tuple(parts)
        return xs

    def polyval(self, node: ast.Call) -> Atom:
        """`np.polyval(p, x)` by Horner's scheme, as NumPy computes it: `y = y * x
        + c` for each coefficient c, highest power first, from `y = 0`: written
        out for a list of coefficients written out, else a loop over `p`."""
        name = ast.unparse(node.func)
        if node.keywords or len(node.args) != 2:
            raise self.error(f"`{name}` takes `p` and `x`, by position", node)
        coefficients, x = node.args[0], self.expr(node.args[1])
        loc = self.src.loc(node)
        if isinstance(coefficients, (ast.List, ast.Tuple)):
            if not coefficients.elts:
                raise self.error(f"`{name}` of no coefficients", node)
            cs = [self.expr(c) for c in coefficients.elts]
            y = cs[0]
            if len(cs) == 1:  # a constant polynomial still has x's shape
                return self.e.call("add", self.e.call("zeros_like", x, loc=loc), y)
            for c in cs[1:]:
                y = self.e.call("add", self.e.call("mul", y, x, loc=loc), c, loc=loc)
            return y
        p = self.expr(coefficients)
        names = {k: self.names.fresh(k) for k in ("y", "c", "x", "p")}
        saved = {n: self.env.get(n) for n in names.values()}
        self.env[names["x"]], self.env[names["p"]] = x, p
        self.bind(names["y"], self.e.call("zeros_like", x, loc=loc))
        loop = ast.parse(
            "for {c} in {p}:\n    {y} = {y} * {x} + {c}\n".format(**names)
        ).body
        for n in ast.walk(loop[0]):
            if isinstance(n, (ast.expr, ast.stmt)):
                ast.copy_location(n, node)
        self.lower_seq(loop, FallThrough(self))
        out = self.env[names["y"]]
        for n, value in saved.items():
            if value is None:
                self.env.pop(n, None)
            else:
                self.env[n] = value
        return out

    def select_lists(self, node: ast.Call) -> Atom:
        """`np.select([c1, c2], [v1, v2], default)` with both lists written out:
        `np.where(c1, v1, np.where(c2, v2, default))`, built from the last
        condition to the first, since NumPy takes the first that holds."""
        name = ast.unparse(node.func)
        given = dict(zip(("condlist", "choicelist", "default"), node.args))
        for kw in node.keywords:
            if kw.arg not in ("condlist", "choicelist", "default") or kw.arg in given:
                raise self.error(f"`{name}` does not take `{kw.arg}` here", node)
            given[kw.arg] = kw.value
        if len(node.args) > 3 or "condlist" not in given or "choicelist" not in given:
            raise self.error(
                f"`{name}` takes `condlist`, `choicelist` and `default`", node
            )
        conds, choices = given["condlist"], given["choicelist"]
        if not all(isinstance(v, (ast.List, ast.Tuple)) for v in (conds, choices)):
            raise self.error(
                f"`{name}` needs its conditions and choices as lists written out",
                node,
                "write `np.select([c1, c2], [v1, v2], default)`",
            )
        if len(conds.elts) != len(choices.elts) or not conds.elts:
            raise self.error(
                f"`{name}` needs as many choices as conditions, one or more", node
            )
        loc = self.src.loc(node)
        pairs = [(self.expr(c), self.expr(v)) for c, v in zip(conds.elts, choices.elts)]
        out = self.expr(given["default"]) if "default" in given else Const(0)
        for c, v in reversed(pairs):
            out = self.e.call("where", c, v, out, loc=loc)
        return out

    def reduction(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """np.ptp, np.nansum, np.nanmean, written as what they compute: `np.max(a)
        - np.min(a)` (ties share as np.max's do); the sum of `np.where(np.isnan(a),
        0.0, a)`, so NaN entries get no gradient; that sum over the count of
        entries that are not NaN."""
        name = ast.unparse(node.func)
        if len(args) > 2 or set(kwargs) - {"axis", "keepdims"}:
            raise self.error(f"`{name}` takes `a`, `axis` and `keepdims` here", node)
        if not args:
            raise self.error(f"missing arguments for `{name}`", node)
        bound = {**sig.keywords, **dict(zip(sig.positional, args))}
        for key, value in kwargs.items():
            if key in dict(zip(sig.positional, args)):
                raise self.error(f"`{name}` got `{key}` twice", node)
            bound[key] = value
        options = {}
        for k in ("axis", "keepdims"):
            value = bound[k] if isinstance(bound[k], Atom) else Const(bound[k])
            if not isinstance(value, Const):
                raise self.error(f"`{k}` of `{name}` must be a constant", node)
            if value != Const(sig.keywords[k]):  # left out where the default
                options[k] = value
        a, loc = bound["a"], self.src.loc(node)
        if sig.prim == "ptp":
            hi = self.e.call("amax", a, loc=loc, **options)
            return self.e.call(
                "sub", hi, self.e.call("amin", a, loc=loc, **options), loc=loc
            )
        nan = self.e.call("isnan", a, loc=loc)
        kept = self.e.call("where", nan, Const(0.0), a, loc=loc)
        total = self.e.call("sum", kept, loc=loc, **options)
        if sig.prim == "nansum":
            return total
        present = self.e.call("logical_not", nan, loc=loc)
        count = self.e.call("sum", present, loc=loc, **options)
        return self.e.call("div", total, count, loc=loc)

    def interp(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.interp(x, xp, fp)`, written as the interpolation it is: with `i` the
        segment x falls in (`_interp_segment`, the first or last one outside
        the knots) and `t` x's fraction along it, clipped to [0, 1] (np.interp
        holds fp[0] and fp[-1] outside), `fp[i] + t np.diff(fp)[i]`. So
        the adjoint of x is the segment's slope (0 outside), that of fp the
        weights 1 - t and t on the two knots' values, and forward mode and
        second derivatives need nothing new."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if any(k not in bound for k in ("x", "xp", "fp")):
            raise self.error(f"missing arguments for `{name}`", node)
        for k in ("left", "right", "period"):
            if getattr(bound[k], "value", bound[k]) is not None:
                raise self.error(
                    f"`{name}` is supported without `{k}` (fp's ends are held "
                    "outside the knots)",
                    node,
                )
        x, xp, fp = bound["x"], bound["xp"], bound["fp"]
        loc = self.src.loc(node)
        i = self.e.call("interp_segment", x, xp, loc=loc)

        def steps(v):  # `np.diff(v)`: the rise of fp, the run of xp, per segment
            hi = self.e.call("getitem", v, Const(slice(1, None)), loc=loc, basic=True)
            lo = self.e.call("getitem", v, Const(slice(None, -1)), loc=loc, basic=True)
            return self.e.call("sub", hi, lo, loc=loc)

        x0, f0 = (self.e.call("getitem", v, i, loc=loc) for v in (xp, fp))
        run, rise = (self.e.call("getitem", steps(v), i, loc=loc) for v in (xp, fp))
        along = self.e.call("div", self.e.call("sub", x, x0, loc=loc), run, loc=loc)
        t = self.e.call("clip", along, Const(0.0), Const(1.0), loc=loc)
        return self.e.call("add", f0, self.e.call("mul", t, rise, loc=loc), loc=loc)

    def checked_call(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """np.pad, np.median/np.quantile/np.percentile and np.maximum.accumulate
        (np.minimum's), whose options the rules need in a form they handle: the
        constant mode of np.pad, one constant quantile, an integer axis."""
        name = ast.unparse(node.func)
        bound = {**dict(zip(sig.positional, args)), **kwargs}  # apply checks them

        def value(key, default=None):
            v = bound.get(key, Const(default))
            return v.value if isinstance(v, Const) else v

        def integers(v) -> bool:
            if isinstance(v, tuple):
                return all(integers(u) for u in v)
            return type(v) is int and v >= 0

        if sig.prim == "pad":
            width = value("pad_width")
            if "pad_width" in bound and not integers(width):
                raise self.error(
                    f"`pad_width` of `{name}` must be a constant: an int, a pair "
                    "or a pair per axis, of counts 0 or more",
                    node,
                )
            if value("mode", "constant") != "constant":
                raise self.error(
                    f'`{name}` is supported with `mode="constant"` only', node
                )
            fill = value("constant_values", 0)
            if not isinstance(fill, (int, float, tuple)) or isinstance(fill, bool):
                raise self.error(
                    f"`constant_values` of `{name}` must be a constant number here "
                    "(the padding has no derivative)",
                    node,
                )
        if sig.prim in ("quantile", "percentile"):
            q = value("q")
            if "q" in bound and (
                isinstance(q, bool) or not isinstance(q, (int, float))
            ):
                raise self.error(
                    f"`q` of `{name}` must be one constant number here", node
                )
        axis = value("axis", 0 if sig.prim.endswith("accumulate") else None)
        if not (axis is None and not sig.prim.endswith("accumulate")) and (
            type(axis) is not int
        ):
            raise self.error(f"`axis` of `{name}` must be a constant integer", node)
        return self.apply(sig, args, kwargs, node)

    def call_into(self, node: ast.Call, sig, into: ast.expr) -> Atom:
        """`np.exp(t, out=t)`: the result, which the name `t` holds from then on.

        As with `t += x`, the name is rebound; where another name for the same
        array (`s = t` before) is read afterwards, inplace.py refuses it.
        Generated gradients write into arrays nothing else holds
        (passes/buffers.py), so theirs read back exactly.
        """
        from .passes.buffers import ufunc_name

        if not isinstance(into, ast.Name) or ufunc_name(sig.prim) is None:
            raise self.error(
                f"`out=` in `{ast.unparse(node)}`: only a NumPy ufunc writing into "
                "a named array is supported",
                node,
                "assign the result instead: `t = np.exp(t)`",
            )
        old = self.read(into.id, into)
        args = [self.expr(a) for a in node.args]
        kwargs = {
            kw.arg: self.expr(kw.value) for kw in node.keywords if kw.arg != "out"
        }
        new = self.apply(sig, args, kwargs, node)
        self.updated(new, old, ast.unparse(node), into.id)
        self.bind(into.id, new)
        return self.env[into.id]

    def inline(self, node: ast.Call, src: Source, scope, env, key, callee) -> Atom:
        """A call to the user's own function: its body, lowered in place of the call."""
        name = src.tree.name
        if key in self.stack:
            raise self.error(
                f"`{name}` calls itself: recursive functions are not supported",
                node,
                "write the recursion as a loop",
            )
        args = src.tree.args
        if args.vararg or args.kwarg or args.kwonlyargs:
            raise self.error(
                f"`{name}` has `*args`, `**kwargs` or keyword-only parameters", node
            )
        params = [a.arg for a in args.posonlyargs + args.args]
        if len(node.args) > len(params):
            raise self.error(f"too many arguments for `{name}`", node)
        bound = {p: self.expr(a) for p, a in zip(params, node.args)}
        for kw in node.keywords:
            if kw.arg not in params or kw.arg in bound:
                raise self.error(
                    f"`{name}` does not take the argument `{kw.arg}` here", kw.value
                )
            bound[kw.arg] = self.expr(kw.value)
        defaults = dict(zip(params[len(params) - len(args.defaults) :], args.defaults))
        for p in params:
            if p in bound:
                continue
            if p not in defaults:
                raise self.error(f"missing argument `{p}` for `{name}`", node)
            if callee is not None:  # the value Python computed when the def ran
                k = params.index(p) - (len(params) - len(callee.__defaults__))
                value = callee.__defaults__[k]
                if isinstance(value, Number) or value is None:
                    bound[p] = Const(value)
                elif id(value) in self.constants:
                    bound[p] = Var(self.constants[id(value)])
                    self.used_constants[bound[p].name] = None
                else:
                    raise self.error(
                        f"the default of `{p}` is not a number or array", node
                    )
            else:
                bound[p] = self.expr(defaults[p])
        c = self.child(src, scope)
        c.env = {**env, **bound}
        for p in _container_params(src.tree, params):
            if isinstance(bound[p], Var) and bound[p].name not in self.dicts:
                self.containers.add(bound[p].name)
        c.local_defs = {k: v for k, v in self.local_defs.items() if k not in bound}
        c.stack = self.stack + (key,)
        c.arity = _return_arity(c, src.tree)
        body = list(src.tree.body)
        if ast.get_docstring(src.tree) is not None:
            body = body[1:]
        results = c.lower_seq(
            _per_argument_float_tests(body), FunctionExit(c, src.tree)
        )
        if len(results) == 1:
            return results[0]
        out = self.e.call("tuple", *results, loc=self.src.loc(node))
        self.tuples[out.name] = results
        return out

    def custom_call(self, node: ast.Call, callee) -> Atom:
        """A call to an `@adcompiler.custom_vjp` function: its body for the value, a
        marker whose backward is the user's rule (adcompiler/custom.py)."""
        from .custom import custom_primitive

        fn = callee.fun
        if callee.rule is None:  # no rule yet: an ordinary helper
            return self.inline(
                node, read_source(fn), _scope_of(fn), {}, fn.__code__, fn
            )
        if node.keywords or len(node.args) != fn.__code__.co_argcount:
            raise self.error(
                f"call `{fn.__name__}` (a custom_vjp function) with all its "
                "arguments, by position",
                node,
            )
        args = [self.expr(a) for a in node.args]
        inner = self.inline(node, read_source(fn), _scope_of(fn), {}, fn.__code__, fn)
        prim = custom_primitive(callee)
        return self.e.call(prim, inner, *args, loc=self.src.loc(node))

    def list_call(self, node: ast.Call, name: str) -> Atom:
        """`list(...)` or `tuple(...)` of a generator expression, a comprehension,
        a list or a tuple: the list of the same entries (lists are values here,
        so a copy is the list itself; a tuple reads as a list does)."""
        if node.keywords or len(node.args) > 1:
            raise self.error(f"`{name}` takes one sequence here", node)
        loc = self.src.loc(node)
        if not node.args:  # an empty list, which appends may grow
            xs = self.e.call("new_list", loc=loc)
            self.lists.add(xs.name)
            return xs
        arg = node.args[0]
        if isinstance(arg, (ast.ListComp, ast.GeneratorExp)):
            return self.comprehension(arg)
        value = self.expr(arg)
        if isinstance(value, Var) and value.name in self.lists:
            return value
        if isinstance(value, Var) and value.name in self.tuples:
            return self.list_of(self.tuples[value.name], loc)
        if isinstance(value, Const) and isinstance(value.value, (tuple, list)):
            return self.list_of([Const(v) for v in value.value], loc)
        if isinstance(arg, ast.Name):  # an array's rows: `[row for row in x]`
            row = ast.Name("row", ast.Store())
            rows = ast.ListComp(
                ast.Name("row", ast.Load()),
                [ast.comprehension(row, arg, [], 0)],
            )
            return self.comprehension(
                ast.fix_missing_locations(ast.copy_location(rows, node))
            )
        raise self.error(
            f"`{name}` of `{ast.unparse(arg)}`: adcompiler takes `{name}` of a "
            "generator expression, a comprehension, a list, a tuple or an array "
            "named by a variable",
            node,
            f"name the array first: `rows = {ast.unparse(arg)}`, then `{name}(rows)`",
        )

    def sequence_call(self, kind: str, node: ast.Call) -> Atom:
        """np.stack / np.array / np.concatenate / sum of a sequence of arrays."""
        loc = self.src.loc(node)
        name = ast.unparse(node.func)
        if not node.args:
            raise self.error(f"`{name}` needs a sequence", node)
        allowed = {"axis"} if kind in ("stack", "concatenate") else set()
        kwargs = {}
        for kw in node.keywords:
            if kw.arg not in allowed:
                raise self.error(f"`{name}` does not take `{kw.arg}` here", node)
            kwargs[kw.arg] = self.expr(kw.value)
        if len(node.args) > 1:
            if kind == "sum" and len(node.args) == 2:
                start = self.expr(node.args[1])
            else:
                raise self.error(f"`{name}` takes one sequence here", node)
        else:
            start = Const(0)
        axis = kwargs.get("axis", Const(0))
        options = {} if axis == Const(0) else {"axis": axis}
        arg = node.args[0]
        if isinstance(arg, (ast.List, ast.Tuple)):
            parts = [self.expr(v) for v in arg.elts]
            if not parts:
                raise self.error(f"`{name}` of an empty sequence", node)
            if kind == "sum":
                result = start
                for p in parts:
                    result = self.e.call("add", result, p, loc=loc)
                return result
            return self.e.call(kind, *parts, loc=loc, **options)
        if isinstance(arg, ast.GeneratorExp) and kind != "sum":
            raise self.error(
                f"`{name}` takes a list, not a generator expression",
                arg,
                f"write a list comprehension: `{name}([...])`",
            )
        if isinstance(arg, (ast.ListComp, ast.GeneratorExp)):
            base = {"sum": "terms", "stack": "rows", "concatenate": "parts"}[kind]
            seq = self.comprehension(arg, base=base)
        else:
            seq = self.expr(arg)
        if isinstance(seq, Var) and seq.name in self.lists:
            if kind == "sum":
                total = self.e.call("sum_list", seq, loc=loc)
                return self.e.call("add", start, total, loc=loc)
            prim = {"stack": "stack_list", "concatenate": "concatenate_list"}.get(kind)
            if prim is None:
                raise self.error(
                    f"`{name}` of a list built in a loop is not supported",
                    node,
                    "join a list or tuple written out, or use `np.concatenate`",
                )
            if name.endswith("array") or name.endswith("asarray"):
                prim = "array_list"
            return self.e.call(prim, seq, loc=loc, **options)
        # an array: its rows are the sequence
        if kind == "sum":
            return self.e.call("add", start, self.e.call("sum", seq, axis=0), loc=loc)
        if kind == "stack" and not options:
            return self.e.call("copy", seq, loc=loc)
        raise self.error(f"`{name}` of an array: pass a list of arrays", node)

    def comprehension(
        self, node: ast.ListComp | ast.GeneratorExp, name=None, base="items"
    ) -> Atom:
        """The list a comprehension builds, by the loop written out
        (comprehensions.py): named `name`, the variable it is assigned to,
        unless the comprehension reads that name, else a fresh `base`."""
        inside = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if name is None or name in inside:
            name = self.names.fresh(base)
        own = comprehensions.targets(node)
        outer = comprehensions.function_names(self.src.tree) | set(self.env)
        renames = {t: self.names.fresh(t) for t in own if t in outer}
        scoped = {n: self.env.get(n) for n in (name, *own, *renames.values())}
        self.lower_seq(comprehensions.as_loop(node, name, renames), FallThrough(self))
        out = self.env[name]
        for n, value in scoped.items():  # the comprehension's names end with it
            if value is None:
                self.env.pop(n, None)
            else:
                self.env[n] = value
        return out

    def arguments(self, sig, node: ast.Call, self_arg=False) -> tuple[list, dict]:
        """The atoms of a call's arguments; a list or tuple of constants passed for
        a parameter that must be a constant (`np.repeat(x, [1, 2], axis=0)`) is
        one constant tuple, and a nested one a tuple of tuples
        (`np.pad(x, [[1, 1], [0, 2]])`)."""
        positional = (("self",) if self_arg else ()) + sig.positional
        offset = 1 if self_arg else 0

        def value(name, arg):
            if name in sig.constants and isinstance(arg, (ast.List, ast.Tuple)):
                items = [value(name, v) for v in arg.elts]
                if all(isinstance(i, Const) for i in items):
                    return Const(tuple(i.value for i in items))
            return self.expr(arg)

        names = list(positional[offset:]) + [None] * len(node.args)
        args = [value(n, a) for n, a in zip(names, node.args)]
        kwargs = {kw.arg: value(kw.arg, kw.value) for kw in node.keywords}
        return args, kwargs

    def method_call(self, node: ast.Call, func: ast.Attribute) -> Atom:
        owner = self.expr(func.value)
        loc = self.src.loc(node)
        sig = resolve.METHODS.get(func.attr)
        if sig is not None:
            args, kwargs = self.arguments(sig, node, self_arg=True)
        else:
            args = [self.expr(a) for a in node.args]
            kwargs = {kw.arg: self.expr(kw.value) for kw in node.keywords}
        if func.attr == "reshape":
            if kwargs:
                raise self.error("`.reshape` takes the shape only", node)
            if len(args) == 1:
                shape = args[0]
            else:
                consts = all(isinstance(a, Const) for a in args)
                shape = (
                    Const(tuple(a.value for a in args))
                    if consts
                    else self.e.call("tuple", *args)
                )
            return self.e.call("reshape", owner, shape, loc=loc)
        if (
            func.attr == "pop"
            and not args
            and not kwargs
            and isinstance(owner, Var)
            and owner.name in self.lists
            and resolve.is_generated(self.fn)
        ):  # a backward sweep takes its tape's last entry: `h, t1 = tape.pop()`
            return self.e.call("pop", owner, loc=loc)
        if sig is None:
            raise self.error(f"the method `.{func.attr}()` is not supported", node)
        return self.apply(sig, [owner] + args, kwargs, node, self_arg=True)

    def apply(self, sig, args, kwargs, node, self_arg=False) -> Atom:
        positional = (("self",) if self_arg else ()) + sig.positional
        if len(args) > len(positional):
            raise self.error(f"too many arguments for `{ast.unparse(node.func)}`", node)
        bound = dict(zip(positional, args))
        for key, value in kwargs.items():
            if key in bound or (key not in sig.keywords and key not in positional):
                raise self.error(
                    f"`{ast.unparse(node.func)}` does not take the argument `{key}` here",
                    node,
                )
            bound[key] = value
        for p in sig.constants:  # reps, repeats: the rules need their values
            if p in bound and not isinstance(bound[p], Const):
                raise self.error(
                    f"`{p}` of `{ast.unparse(node.func)}` must be a constant here "
                    "(a number or a tuple of numbers)",
                    node,
                )
        arrays = [
            bound.pop(p) for p in positional if p not in sig.keywords and p in bound
        ]
        required = [p for p in positional if p not in sig.keywords]
        if len(arrays) != len(required):
            raise self.error(f"missing arguments for `{ast.unparse(node.func)}`", node)
        for k in sig.keywords:  # axis, keepdims, axes: the rules need their values
            if k in bound and not isinstance(bound[k], Const) and k not in sig.values:
                raise self.error(f"`{k}` must be a constant here", node)
        # Keyword options equal to their default are left out, as a person would.
        options = {
            k: bound[k]
            for k in sig.keywords
            if k in bound and bound[k] != Const(sig.keywords[k])
        }
        return self.e.call(sig.prim, *arrays, loc=self.src.loc(node), **options)


_DYNAMIC = object()
# Calls whose options `checked_call` checks before the rules see them.
_CHECKED = {
    "pad",
    "median",
    "quantile",
    "percentile",
    "maximum_accumulate",
    "minimum_accumulate",
}
_UFUNC_KEYS = set(resolve.UFUNC_METHODS)


def _einsum_spec(node: ast.Call, args, kwargs, error) -> str:
    """The subscripts of `np.einsum("ij,jk->ik", a, b)` with the output written out
    (`"ij,jk"` means `"ij,jk->ik"`: the letters met once, sorted). The adjoint
    of each operand is an einsum too, which needs every operand's letters
    distinct."""
    if kwargs:
        raise error("`np.einsum` takes no keyword arguments here", node)
    spec = args[0].value if args and isinstance(args[0], Const) else None
    if not isinstance(spec, str):
        raise error("`np.einsum` needs its subscripts as a string constant", node)
    spec = spec.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    subscripts = inputs.split(",")
    if not arrow:  # `...` first, then the letters met once, sorted (as NumPy does)
        letters = "".join(subscripts).replace("...", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        output = ("..." if "..." in inputs else "") + output
    if len(subscripts) > 32:
        raise error("`np.einsum` of more than 32 operands is not supported", node)
    if len(subscripts) != len(args) - 1:
        raise error(
            f"`np.einsum` subscripts name {len(subscripts)} operands, "
            f"the call passes {len(args) - 1}",
            node,
        )
    for part in subscripts + [output]:
        part = part.replace("...", "", 1)  # the broadcast axes, at most once
        if part and not part.isalpha():
            raise error(f"`np.einsum` subscripts `{part}` are not letters", node)
        if len(set(part)) != len(part):
            raise error(
                f"`np.einsum` subscripts `{part}` repeat a letter (a diagonal or a "
                "trace), which is not supported yet",
                node,
            )
    if set(output) - set(inputs) or "..." in output and "..." not in inputs:
        raise error(
            f"`np.einsum` output `{output}` names a letter no operand has", node
        )
    return f"{','.join(subscripts)}->{output}"


def _is_ufunc(obj) -> bool:
    return type(obj).__name__ == "ufunc"


def _container_params(tree: ast.FunctionDef, params) -> list[str]:
    """Parameters read as containers: by string key, attribute, or unpacking."""
    found = []
    for a in tree.args.posonlyargs + tree.args.args:
        ann = a.annotation
        if isinstance(ann, ast.Subscript):
            ann = ann.value
        name = ann.id if isinstance(ann, ast.Name) else getattr(ann, "attr", None)
        if name in (
            "list",
            "tuple",
            "dict",
            "List",
            "Tuple",
            "Dict",
            "Sequence",
            "Mapping",
        ):
            found.append(a.arg)

    def root(node):
        """The parameter a chain of constant subscripts reads from."""
        while isinstance(node, ast.Subscript) and isinstance(
            node.slice, (ast.Constant, ast.UnaryOp)
        ):
            node = node.value
        return node

    # `x.copy()`, `x.sum(axis=0)`, `x.reshape(2, 3)`: array methods, not container reads
    methods = {
        id(n.func)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and (n.func.attr in resolve.METHODS or n.func.attr == "reshape")
    }
    for n in ast.walk(tree):
        base = None
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant):
            if isinstance(n.slice.value, str):
                base = n.value
            elif isinstance(n.value, ast.Subscript) and isinstance(
                n.value.slice, (ast.Constant, ast.UnaryOp)
            ):
                base = root(n)
        elif (
            isinstance(n, ast.Attribute)
            and n.attr not in resolve.ATTRIBUTES
            and id(n) not in methods
        ):
            base = n.value
        elif isinstance(n, ast.Assign) and isinstance(
            n.targets[0], (ast.Tuple, ast.List)
        ):
            base = n.value
        elif isinstance(n, ast.For) and isinstance(n.iter, ast.Name):
            base = None
        if isinstance(base, ast.Name) and base.id in params:
            found.append(base.id)
    return found


def _is_user_function(obj) -> bool:
    """A plain Python function of the user's code (not of an installed library)."""
    if not inspect.isfunction(obj):
        return False
    try:
        file = inspect.getsourcefile(obj) or ""
    except TypeError:
        return False
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    return not (
        "site-packages" in file or "dist-packages" in file or file.startswith(stdlib)
    )


def _scope_of(fn) -> dict:
    """What names mean inside `fn`: builtins, then its globals, then its closure."""
    scope = dict(vars(builtins))
    scope.update(getattr(fn, "__globals__", {}))
    if resolve.is_generated(fn):  # its keyword-only constants, bound when it was loaded
        scope.update(getattr(fn, "__kwdefaults__", None) or {})
    code = getattr(fn, "__code__", None)
    if code is not None and getattr(fn, "__closure__", None):
        for name, cell in zip(code.co_freevars, fn.__closure__):
            try:
                scope[name] = cell.cell_contents
            except ValueError:  # a cell not filled yet
                pass
    return scope


def _is_array(value) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray)


def _dependencies(fn, seen=None):
    """The user functions `fn` calls (directly or not), and the names each reads from outside.

    Yields (function, {name: value}) in a fixed order, `fn` first.
    """
    seen = seen if seen is not None else set()
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return
    seen.add(code)
    try:
        src = read_source(fn)
    except ADCompileError:
        return
    scope = _scope_of(fn)
    local = {a.arg for a in ast.walk(src.tree) if isinstance(a, ast.arg)}
    local |= {
        n.id
        for n in ast.walk(src.tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    reads: dict[str, object] = {}
    callees = []
    for n in ast.walk(src.tree):
        if (
            isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
            and n.id not in local
        ):
            if n.id in scope:
                value = scope[n.id]
                reads[n.id] = value
                if _is_user_function(value) and resolve.lookup(value) is None:
                    callees.append(value)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            owner = scope.get(n.value.id)
            if inspect.ismodule(owner):
                value = getattr(owner, n.attr, None)
                if _is_user_function(value) and resolve.lookup(value) is None:
                    callees.append(value)
    yield fn, src, reads
    for c in callees:
        yield from _dependencies(c, seen)


def closure_constants(fn) -> dict[str, object]:
    """The arrays `fn` and the helpers it calls read from outside: name → array.

    The generated function takes them as keyword-only parameters whose
    defaults are bound when the module is loaded (`bind_constants`): they
    are constants, not differentiated.
    """
    found: dict[str, object] = {}
    ids: set[int] = set()
    if resolve.is_generated(
        fn
    ):  # a generated function's constants are its kw-only params
        for name, value in (getattr(fn, "__kwdefaults__", None) or {}).items():
            if _is_array(value):
                found[name] = value
                ids.add(id(value))
    for _, _, reads in _dependencies(fn):
        for name, value in reads.items():
            if _is_array(value) and id(value) not in ids:
                key = name
                k = 1
                while key in found:
                    key = f"{name}_{k}"
                    k += 1
                found[key] = value
                ids.add(id(value))
    return found


def dependency_text(fn) -> str:
    """What the generated code depends on besides `fn`'s own source, for the cache hash."""
    parts = []
    for i, (_, src, reads) in enumerate(_dependencies(fn)):
        if i:
            parts.append(src.text)
        for name, value in sorted(reads.items()):
            if isinstance(value, Number):
                parts.append(f"{name}={value!r}")
            elif _is_array(value):
                parts.append(f"{name}: array")
    return "\n".join(parts)


def bind_constants(generated, fn):
    """Give the generated function the arrays `fn` reads from outside as its defaults."""
    names = generated.__code__.co_varnames[
        generated.__code__.co_argcount : generated.__code__.co_argcount
        + generated.__code__.co_kwonlyargcount
    ]
    if names:
        constants = closure_constants(fn)
        generated.__kwdefaults__ = {n: constants[n] for n in names if n in constants}
    return generated


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


# Generated code's one test of its arguments (codegen._one_float_test): that all
# are Python floats, or that each is a float64 array or a Python float.
_FLOAT64_OR_FLOAT = (
    r"type\(\w+\) is _NDARRAY and \w+\.dtype is _FLOAT64 or type\(\w+\) is float"
)
_FLAG_TEST = re.compile(
    r"type\(\w+\) is float( and type\(\w+\) is float)+"
    rf"|{_FLOAT64_OR_FLOAT}|\({_FLOAT64_OR_FLOAT}\)( and \({_FLOAT64_OR_FLOAT}\))+"
)


def _per_argument_float_tests(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """Generated code's one test that every differentiated argument is a Python
    float, read back as the tests of each argument that `_float_guard` and
    `_scalar_check` know:

        all_floats = type(x) is float and type(y) is float
        if not all_floats:
            _check_float("x", x)
            if getattr(x, "ndim", 0) != 0: raise ...

    reads as `if type(x) is not float: _check_float("x", x)` and `if type(x) is
    not float and getattr(x, "ndim", 0) != 0: raise ...`; the casts the same.
    The test that each argument is a float64 array or a Python float reads the
    same: the check and the cast change nothing where it holds."""
    flag, out = None, []
    for stmt in stmts:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and _FLAG_TEST.fullmatch(ast.unparse(stmt.value))
        ):
            flag = stmt.targets[0].id
            continue
        if not (
            flag
            and isinstance(stmt, ast.If)
            and not stmt.orelse
            and ast.unparse(stmt.test) == f"not {flag}"
        ):
            out.append(stmt)
            continue
        for inner in stmt.body:
            if isinstance(inner, ast.If):  # `if getattr(x, "ndim", 0) != 0: raise`
                names = [n.id for n in ast.walk(inner.test) if isinstance(n, ast.Name)]
                x = next((n for n in names if n not in ("getattr", "np")), None)
                test = ast.parse(
                    f"type({x}) is not float and ({ast.unparse(inner.test)})"
                )
                out.append(ast.If(test.body[0].value, inner.body, []))
            else:  # `_check_float("x", x)` or `d_x = _astype_like(d_x, x)`
                x = ast.unparse(inner.value.args[1])
                guard = ast.parse(f"type({x}) is not float", mode="eval").body
                out.append(ast.If(guard, [inner], []))
            ast.copy_location(out[-1], inner)
            ast.fix_missing_locations(out[-1])
    return out


def _float_guard(stmt: ast.stmt) -> ast.stmt | None:
    """The statement under `if type(x) is not float:` in generated code: the check
    `_check_float("x", x)` or the cast `d_x = _astype_like(d_x, x)`; else None."""
    if not (
        isinstance(stmt, ast.If)
        and not stmt.orelse
        and len(stmt.body) == 1
        and isinstance(stmt.test, ast.Compare)
        and len(stmt.test.ops) == 1
        and isinstance(stmt.test.ops[0], ast.IsNot)
        and isinstance(stmt.test.left, ast.Call)
        and ast.unparse(stmt.test.left.func) == "type"
        and ast.unparse(stmt.test.comparators[0]) == "float"
    ):
        return None
    inner = stmt.body[0]
    call = getattr(inner, "value", None)
    if not isinstance(call, ast.Call):
        return None
    helper = ast.unparse(call.func)
    if isinstance(inner, ast.Expr) and helper == "_check_float" and len(call.args) == 2:
        if isinstance(call.args[0], ast.Constant):
            return inner
    if isinstance(inner, ast.Assign) and helper == "_astype_like":
        return inner
    return None


def _examples_guard(stmt: ast.stmt):
    """`(fname, args, table)` for the guard of a gradient compiled for examples,
    `if ...: _check_examples("f", {"x": x}, {"x": ((3,), "float64")})`; else None.
    Read back, it stays a guard: what the gradient's code assumes of its
    arguments holds for the code differentiated from it."""
    if not (
        isinstance(stmt, ast.If)
        and not stmt.orelse
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], ast.Expr)
        and isinstance(stmt.body[0].value, ast.Call)
        and ast.unparse(stmt.body[0].value.func) == "_check_examples"
    ):
        return None
    call = stmt.body[0].value
    try:
        fname = ast.literal_eval(call.args[0])
        table = ast.literal_eval(call.args[2])
        names = [ast.literal_eval(k) for k in call.args[1].keys]
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    rows = []
    for name in names:
        want = table[name]
        if want == "float":
            rows.append((name, "float", (), "float64"))
        else:
            rows.append((name, "array", tuple(want[0]), want[1]))
    return fname, call.args[1].values, tuple(rows)


def _raising_guard(stmt: ast.stmt) -> tuple[ast.expr, str | None] | None:
    """`(test, name)` for `if test: raise ...` with no `else`, the shape of every
    check generated code makes; `name` is the function its message names
    ("grad of name needs ...")."""
    if not (
        isinstance(stmt, ast.If)
        and not stmt.orelse
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], ast.Raise)
    ):
        return None
    found = re.search(r"grad of (\w+) needs", ast.unparse(stmt.body[0]))
    return stmt.test, found.group(1) if found else None


def _matmul_check(stmt: ast.stmt) -> tuple | None:
    """`(a, b, name)` for `if np.ndim(a) != 1 or np.shape(a) != np.shape(b): raise`
    (or its forms with `a.ndim`, `np.asarray(a).ndim`, `b.shape`, ...), the check a generated gradient
    makes that its result `a @ b` is a scalar."""
    guard = _raising_guard(stmt)
    if guard is None:
        return None
    test, fname = guard
    if not (
        isinstance(test, ast.BoolOp)
        and isinstance(test.op, ast.Or)
        and len(test.values) == 2
    ):
        return None
    # `np.ndim(a)` or `a.ndim`, `np.shape(a)` or `a.shape`; the rank's test
    # may come first or second, on either operand
    ndim, shapes = (ast.unparse(v) for v in test.values)
    if "ndim" in shapes:
        ndim, shapes = shapes, ndim
    rank = r"(?:np\.ndim\((\w+)\)|(?:np\.asarray\()?(\w+)\)?\.ndim) != 1"
    found = re.fullmatch(rank, ndim)
    shape = r"(?:np\.shape\((\w+)\)|(?:np\.asarray\()?(\w+)\)?\.shape)"
    pair = re.fullmatch(f"{shape} != {shape}", shapes)
    if not (found and pair):
        return None
    ranked = found.group(1) or found.group(2)
    names = (pair.group(1) or pair.group(2), pair.group(3) or pair.group(4))
    if ranked not in names:
        return None
    a, b = (ast.Name(n, ast.Load()) for n in names)
    return a, b, fname


def _scalar_check(stmt: ast.stmt) -> tuple | None:
    """`(x, name, on_argument)` for `if getattr(x, "ndim", 0) != 0: raise ...` (or
    `np.ndim(x) != 0`, or either after `type(x) is not float and`), the check a
    generated gradient makes that the output of the function `name` is a scalar;
    else None."""
    guard = _raising_guard(stmt)
    if guard is None:
        return None
    test, fname = guard
    if (
        isinstance(test, ast.BoolOp)
        and isinstance(test.op, ast.And)
        and len(test.values) == 2
        and re.fullmatch(r"type\(\w+\) is not float", ast.unparse(test.values[0]))
    ):
        test = test.values[1]
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.NotEq)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == 0
        and isinstance(test.left, ast.Call)
    ):
        return None
    call = test.left
    name = ast.unparse(call.func)
    on_argument = "it is not" in ast.unparse(stmt.body[0])
    if name == "getattr" and len(call.args) == 3:
        if ast.unparse(call.args[1]) in ("'ndim'", '"ndim"'):
            return call.args[0], fname, on_argument
    if name in ("np.ndim", "numpy.ndim") and len(call.args) == 1:
        return call.args[0], fname, on_argument
    return None


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


def _return_arity(low, tree) -> int:
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and node.value is not None:
            return len(node.value.elts) if isinstance(node.value, ast.Tuple) else 1
    return 1


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
