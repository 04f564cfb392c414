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
import inspect
import textwrap
from dataclasses import dataclass
from numbers import Number

from . import resolve
from .autodiff.emitter import Emitter, Names
from .errors import ADCompileError, Loc
from .ir import Atom, Block, Const, Function, Var
from .passes.shapes import Shapes

_BINOPS = {
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
    ast.Import: ("an `import` inside the function", "import at module level"),
    ast.ImportFrom: ("an `import` inside the function", "import at module level"),
    ast.ClassDef: ("a class definition inside the function", None),
    ast.Assert: (
        "an `assert` statement",
        "check inputs outside the differentiated function",
    ),
    ast.ListComp: ("a list comprehension", None),
    ast.SetComp: ("a set comprehension", None),
    ast.DictComp: ("a dict comprehension", None),
    ast.GeneratorExp: ("a generator expression", None),
    ast.JoinedStr: ("an f-string", None),
    ast.NamedExpr: ("an assignment expression (`:=`)", "assign on a line of its own"),
    ast.Starred: ("a starred expression", None),
    ast.AsyncFunctionDef: ("an async function", None),
    ast.AsyncFor: ("an `async for` loop", None),
}


def construct_name(node: ast.AST) -> tuple[str, str | None]:
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
    tree = ast.parse(dedented)
    node = tree.body[0]
    if isinstance(node, ast.AsyncFunctionDef) or not isinstance(node, ast.FunctionDef):
        where = Loc(file, first, 0, lines[0] if lines else "")
        raise ADCompileError(
            f"{getattr(fn, '__qualname__', fn)} is not a plain `def` function", where
        )
    return Source(fn, file, first, indent, dedented.splitlines(), node, text)


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

    def _scope(self) -> dict:
        fn = self.fn
        scope = dict(vars(builtins))
        scope.update(getattr(fn, "__globals__", {}))
        code = getattr(fn, "__code__", None)
        if code is not None and fn.__closure__:
            for name, cell in zip(code.co_freevars, fn.__closure__):
                try:
                    scope[name] = cell.cell_contents
                except ValueError:  # a cell not filled yet
                    pass
        return scope

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
        if args.kwonlyargs:
            raise self.error(
                "keyword-only parameters are not supported", args.kwonlyargs[0]
            )
        for node in ast.walk(tree):  # the generated module calls NumPy `np`
            name = node.arg if isinstance(node, ast.arg) else getattr(node, "id", None)
            if name == "np" and not isinstance(getattr(node, "ctx", None), ast.Load):
                raise self.error("`np` names NumPy in generated code; rename it", node)
        body = list(tree.body)
        doc = ast.get_docstring(tree)
        if doc is not None:
            body = body[1:]
        results = None
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.Return):
                if i != len(body) - 1:
                    raise self.error("code after `return` is never run", body[i + 1])
                results = self.lower_return(stmt)
            else:
                self.lower_stmt(stmt)
        if results is None:
            raise self.error(
                f"{tree.name} returns nothing: there is no value to differentiate", tree
            )
        return Function(
            tree.name,
            self.params,
            Block(self.e.stmts, results),
            self.src.loc(tree),
            doc,
        )

    def lower_return(self, stmt: ast.Return) -> tuple[Atom, ...]:
        if stmt.value is None:
            raise self.error("`return` without a value", stmt)
        if isinstance(stmt.value, ast.Tuple):
            return tuple(self.expr(v) for v in stmt.value.elts)
        return (self.expr(stmt.value),)

    # -- statements -------------------------------------------------------------------

    def lower_stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign) and isinstance(
            stmt.targets[0], (ast.Tuple, ast.List)
        ):
            self.unpack(stmt)
        elif isinstance(stmt, ast.Assign):
            value = self.expr(stmt.value)
            for target in stmt.targets:
                self.assign(target, value, stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return
            self.assign(stmt.target, self.expr(stmt.value), stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            if not isinstance(stmt.target, ast.Name):
                raise self.error(
                    "augmented assignment to anything but a name", stmt.target
                )
            if type(stmt.op) not in _BINOPS:
                raise self.unsupported_op(stmt.op, stmt)
            current = self.read(stmt.target.id, stmt.target)
            value = self.e.call(
                _BINOPS[type(stmt.op)],
                current,
                self.expr(stmt.value),
                loc=self.src.loc(stmt),
            )
            self.bind(stmt.target.id, value)
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # a stray string or number: no effect
            if isinstance(stmt.value, (ast.Yield, ast.YieldFrom, ast.Await)):
                raise self.unsupported(stmt.value)
            raise self.error(
                f"the expression statement `{ast.unparse(stmt)}` has no value to differentiate",
                stmt,
                "a call made for its side effect (print, logging) belongs outside the "
                "differentiated function",
            )
        else:
            raise self.unsupported(stmt)

    def unpack(self, stmt: ast.Assign) -> None:
        """`a, b = x, y`: every right-hand side is read before any name is rebound."""
        if len(stmt.targets) != 1 or not isinstance(stmt.value, (ast.Tuple, ast.List)):
            raise self.error(
                "unpacking is supported from a literal tuple only", stmt.value
            )
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
        elif isinstance(target, ast.Attribute):
            raise self.error(
                f"assignment to the attribute `{ast.unparse(target)}`",
                target,
                "differentiated functions cannot change objects; return the new value instead",
            )
        else:
            raise self.unsupported(target)

    def bind(self, name: str, value: Atom) -> None:
        if isinstance(value, Var) and value.name.startswith("_t"):
            # The first value a variable holds keeps its name; later ones are versions (z_1).
            version = name if name not in self.defined else self.names.fresh(name)
            self.defined.add(version)
            value = self.e.rename_last(value, version)
        self.env[name] = value

    def read(self, name: str, node: ast.AST) -> Atom:
        if name in self.env:
            return self.env[name]
        if name in self.scope:
            value = self.scope[name]
            if isinstance(value, Number) and not isinstance(value, complex):
                return Const(value)
            raise self.error(
                f"`{name}` is a {type(value).__name__} from outside the function; only numbers "
                "can be read from the enclosing scope",
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
            return self.e.call(_BINOPS[type(node.op)], left, right, loc=loc)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.e.call("neg", self.expr(node.operand), loc=loc)
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand)
            raise self.unsupported(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Tuple):
            items = tuple(self.expr(v) for v in node.elts)
            if all(isinstance(i, Const) for i in items):
                return Const(tuple(i.value for i in items))
            return self.e.call("tuple", *items, loc=loc)
        raise self.unsupported(node)

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
            return self.e.call(prim, self.expr(node.value), loc=self.src.loc(node))
        raise self.error(f"the attribute `.{node.attr}` is not supported", node)

    def static_value(self, node: ast.expr):
        """The object a name or dotted name refers to outside the function, or _DYNAMIC."""
        if isinstance(node, ast.Name):
            if node.id in self.env or node.id not in self.scope:
                return _DYNAMIC
            return self.scope[node.id]
        if isinstance(node, ast.Attribute):
            owner = self.static_value(node.value)
            if (
                owner is _DYNAMIC
                or not inspect.ismodule(owner)
                and not isinstance(owner, type)
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
            isinstance(func, ast.Attribute)
            and self.static_value(func.value) is _DYNAMIC
        ):
            return self.method_call(node, func)
        if isinstance(func, ast.Lambda):
            raise self.unsupported(func)
        callee = self.static_value(func)
        if callee is _DYNAMIC:
            raise self.error(
                f"calling `{ast.unparse(func)}`, which is a value, not a function", func
            )
        sig = resolve.lookup(callee)
        if sig is None:
            name = ast.unparse(func)
            raise self.error(
                f"call to `{name}`, which adcompiler has no derivative rule for",
                node,
                "use a NumPy function from the rule table (see the README)",
            )
        args = [self.expr(a) for a in node.args]
        kwargs = {kw.arg: self.expr(kw.value) for kw in node.keywords}
        if sig.variadic:
            if kwargs or len(args) < 2:
                raise self.error(
                    f"`{ast.unparse(func)}` needs two or more plain arguments", node
                )
            result = args[0]
            for a in args[1:]:
                result = self.e.call(sig.prim, result, a, loc=loc)
            return result
        return self.apply(sig, args, kwargs, node)

    def method_call(self, node: ast.Call, func: ast.Attribute) -> Atom:
        owner = self.expr(func.value)
        loc = self.src.loc(node)
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
        sig = resolve.METHODS.get(func.attr)
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
        arrays = [
            bound.pop(p) for p in positional if p not in sig.keywords and p in bound
        ]
        required = [p for p in positional if p not in sig.keywords]
        if len(arrays) != len(required):
            raise self.error(f"missing arguments for `{ast.unparse(node.func)}`", node)
        for k in sig.keywords:  # axis, keepdims, axes: the rules need their values
            if k in bound and not isinstance(bound[k], Const):
                raise self.error(f"`{k}` must be a constant here", node)
        # Keyword options equal to their default are left out, as a person would.
        options = {
            k: bound[k]
            for k in sig.keywords
            if k in bound and bound[k] != Const(sig.keywords[k])
        }
        return self.e.call(sig.prim, *arrays, loc=self.src.loc(node), **options)


_DYNAMIC = object()


def lower(fn) -> Function:
    """The SSA IR of a Python function."""
    return Lowering(read_source(fn)).lower()
