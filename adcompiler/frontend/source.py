"""A differentiated function's source: read, dedented, parsed, located.

What a construct is called in error messages (`CONSTRUCTS`), and the check
that the source read is the code that runs.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from ..errors import ADCompileError, Loc

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
