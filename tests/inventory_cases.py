"""The inventory of Python's syntax: one entry for every `ast` node class.

`test_inventory.py` walks the node classes of the running Python and looks
each one up here. An entry says one of three things:

- `Supported(src, ...)`: `f` in `src` uses the node and its gradient matches
  central finite differences;
- `Rejected(src, names, at, ...)`: `grad(f)` raises `ADCompileError` whose
  message matches `names`, pointing at the line marked `# <-`, at the column
  where the text `at` starts, with the source line, a caret and (where `hint`
  is given) a hint matching it. `fix` marks today's message as not good
  enough yet (the test is a strict xfail until the frontend says it well);
- `Unreachable(reason)`: the class never appears in a function body that the
  frontend sees.

Snippets are source text, not functions, so that syntax newer than Python
3.10 (`except*`, `type X = ...`, `def f[T]`) lives here too: the test writes
each one to a real file (inspect needs one) under `PRELUDE` and imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRELUDE = "import math\n\nimport numpy as np\n\n\n"


@dataclass(frozen=True)
class Supported:
    src: str
    # The arguments `f` is called with; the gradient is taken for all of them.
    args: tuple = ((0.3, -1.2, 2.0),)
    fix: str | None = None  # a known bug: a strict xfail until the compiler is fixed


@dataclass(frozen=True)
class Rejected:
    src: str
    names: str  # a regex the first line of the message must match
    at: str  # the text at the column the error points to (on the `# <-` line)
    hint: str | None = None  # a regex the hint must match, where one helps
    fix: str | None = None  # why today's message falls short: a strict xfail


@dataclass(frozen=True)
class Unreachable:
    reason: str


# Node classes newer than Python 3.10, with the version that added them: a table
# entry for a class the running Python lacks is skipped, not a typo.
SINCE = {
    "TryStar": (3, 11),
    "TypeAlias": (3, 12),
    "TypeVar": (3, 12),
    "ParamSpec": (3, 12),
    "TypeVarTuple": (3, 12),
}

# The frontend's generic fallback names a node `<source>` (ClassName): it points at
# the right place but calls the construct by its `ast` class name.
CLASS_NAME_ONLY = "names it only by its ast class (`...` ({}) is not supported)"


def fallback(cls: str, words: str) -> str:
    return f"needs frontend fix: {CLASS_NAME_ONLY.format(cls)}; say {words!r}"


DEPRECATED = (
    "deprecated alias kept by the ast module for old code; ast.parse never "
    "produces it"
)
CONTEXT = (
    "an expression context carried by Name/Attribute/Subscript/..., not a construct"
)


def _binop(op: str) -> Supported:
    return Supported(f"def f(x, y):\n    return np.sum(x {op} y)\n", ARGS2)


def _bad_binop(op: str, expr: str | None = None) -> Rejected:
    expr = expr or f"x {op} 2"
    return Rejected(
        f"def f(x):\n    return np.sum(x * 2.0 + ({expr}))  # <-\n",
        names=re.escape(f"`{op}`"),
        at=expr,
    )


def _compare(op: str) -> Rejected:
    return Rejected(
        f"def f(x):\n    return np.sum(x * (x {op} x))  # <-\n",
        names="comparison",
        at=f"x {op} x",
        fix=fallback("Compare", "a comparison"),
    )


def _match(pattern: str) -> Rejected:
    return Rejected(
        "def f(x, n):\n"
        "    match n:  # <-\n"
        f"        case {pattern}:\n"
        "            y = x * 2.0\n"
        "        case _:\n"
        "            y = x\n"
        "    return np.sum(y)\n",
        names="`match` statement",
        at="match",
        fix=fallback("Match", "a `match` statement"),
    )


def _in_async(body: str) -> Rejected:
    """`async for`, `async with`, `await` only appear inside `async def`: the error
    names the async function that holds them."""
    return Rejected(
        "def f(x):\n"
        "    async def g(t):  # <-\n"
        + "".join(f"        {line}\n" for line in body.splitlines())
        + "    return x\n",
        names="async function",
        at="async def",
    )


ARGS2 = ((0.3, -1.2, 2.0), (1.5, 0.7, 1.1))
ARGS_MAT = (((0.3, -1.2), (2.0, 0.5), (1.0, -0.4)), (0.5, -0.7))
ARGS_MAT_T = (((0.3, -1.2), (2.0, 0.5), (1.0, -0.4)), (0.5, -0.7, 0.2))

LOOP = (
    "def f(x):\n"
    "    y = x\n"
    "    for i in range(3):  # <-\n"
    "        y = y * x\n"
    "        {}\n"
    "    return np.sum(y)\n"
)

Entry = Supported | Rejected | Unreachable

# One entry per node class, or a tuple of them where one snippet is not enough.
TABLE: dict[str, Entry | tuple[Entry, ...]] = {
    # -- modules: what ast.parse returns, never inside a function -----------------
    "Module": Unreachable("the root of a parsed file"),
    "Interactive": Unreachable("the root of ast.parse(mode='single')"),
    "Expression": Unreachable("the root of ast.parse(mode='eval')"),
    "FunctionType": Unreachable("the root of ast.parse(mode='func_type')"),
    "Suite": Unreachable(DEPRECATED),
    "TypeIgnore": Unreachable(
        "only with ast.parse(type_comments=True); the frontend parses without"
    ),
    # -- statements ------------------------------------------------------------------
    "FunctionDef": Supported("def f(x):\n    return np.sum(x * x)\n"),
    "AsyncFunctionDef": Rejected(
        "async def f(x):  # <-\n    return np.sum(x * x)\n",
        names=r"async",
        at="async",
        fix="needs frontend fix: says '`f` is not a plain `def` function' without "
        "naming `async def`",
    ),
    "ClassDef": Rejected(
        "def f(x):\n"
        "    class Box:  # <-\n"
        "        scale = 2.0\n"
        "\n"
        "    return np.sum(x * Box.scale)\n",
        names="class definition",
        at="class",
    ),
    "Return": Supported("def f(x):\n    return np.sum(x)\n"),
    "Delete": Rejected(
        "def f(x):\n    y = x * 2.0\n    del y  # <-\n    return np.sum(x)\n",
        names="`del` statement",
        at="del",
    ),
    "Assign": (
        Supported("def f(x, y):\n    z = x * y\n    return np.sum(z + x)\n", ARGS2),
        Supported(
            "def f(x, y):\n    z = w = x * y\n    return np.sum(z + w)\n",
            ARGS2,
            fix="needs frontend fix: a chained assignment `z = w = x * y` generates "
            "`np.ones_like(z + t1)` with `t1` never defined (NameError), and drops "
            "`w`'s share of the gradient",
        ),
    ),
    "TypeAlias": Rejected(
        "def f(x):\n    type Vec = float  # <-\n    return np.sum(x)\n",
        names="type alias",
        at="type",
        fix=fallback("TypeAlias", "a `type` alias statement"),
    ),
    "AugAssign": Supported(
        "def f(x, y):\n"
        "    z = x * 1.0\n"
        "    z += y\n"
        "    z -= x * y\n"
        "    z *= x\n"
        "    z /= 2.0\n"
        "    z **= 2.0\n"
        "    return np.sum(z)\n",
        ARGS2,
    ),
    "AnnAssign": Supported(
        "def f(x):\n    y: float = x * 3.0\n    z: float\n    return np.sum(y * x)\n"
    ),
    "For": Rejected(
        LOOP.format("pass"),
        names="`for` loop",
        at="for",
        fix=fallback("For", "a `for` loop"),
    ),
    "AsyncFor": _in_async("async for u in t:\n    pass"),
    "While": Rejected(
        "def f(x):\n"
        "    y = x\n"
        "    while np.sum(y) < 10.0:  # <-\n"
        "        y = y * 2.0\n"
        "    return np.sum(y)\n",
        names="`while` loop",
        at="while",
        fix=fallback("While", "a `while` loop"),
    ),
    "If": Rejected(
        "def f(x):\n"
        "    if np.sum(x) > 0.0:  # <-\n"
        "        y = x * 2.0\n"
        "    else:\n"
        "        y = x\n"
        "    return np.sum(y)\n",
        names="`if` statement",
        at="if",
        fix=fallback("If", "an `if` statement"),
    ),
    "With": Rejected(
        "def f(x):\n"
        "    with np.errstate(all='ignore'):  # <-\n"
        "        y = x * 2.0\n"
        "    return np.sum(y)\n",
        names="`with` statement",
        at="with",
        hint="outside the differentiated function",
    ),
    "AsyncWith": _in_async("async with t:\n    pass"),
    "Match": _match("0"),
    "Raise": Rejected(
        "def f(x):\n    raise ValueError('no')  # <-\n    return np.sum(x)\n",
        names="`raise` statement",
        at="raise",
        hint="outside",
    ),
    "Try": Rejected(
        "def f(x):\n"
        "    try:  # <-\n"
        "        y = np.log(x)\n"
        "    except ValueError:\n"
        "        y = x\n"
        "    return np.sum(y)\n",
        names="`try` statement",
        at="try",
        hint="outside the differentiated function",
    ),
    "TryStar": Rejected(
        "def f(x):\n"
        "    try:  # <-\n"
        "        y = np.log(x)\n"
        "    except* ValueError:\n"
        "        y = x\n"
        "    return np.sum(y)\n",
        names="`try` statement",
        at="try",
        fix=fallback("TryStar", "a `try` statement with `except*`"),
    ),
    "Assert": Rejected(
        "def f(x):\n    assert np.all(x > 0)  # <-\n    return np.sum(x)\n",
        names="`assert` statement",
        at="assert",
        hint="outside the differentiated function",
    ),
    "Import": Rejected(
        "def f(x):\n    import os  # <-\n\n    return np.sum(x) * len(os.sep)\n",
        names="`import`",
        at="import",
        hint="module level",
    ),
    "ImportFrom": Rejected(
        "def f(x):\n    from os import sep  # <-\n\n    return np.sum(x) * len(sep)\n",
        names="`import`",
        at="from",
        hint="module level",
    ),
    "Global": Rejected(
        "def f(x):\n    global np  # <-\n    return np.sum(x)\n",
        names="`global` statement",
        at="global",
        hint="argument",
    ),
    "Nonlocal": Rejected(
        "def f(x):\n"
        "    def g():  # <-\n"
        "        nonlocal x\n"
        "        x = x * 2.0\n"
        "\n"
        "    g()\n"
        "    return np.sum(x)\n",
        names="nested function",
        at="def g",
        fix=fallback("FunctionDef", "a function defined inside the function"),
    ),
    "Expr": Supported(
        'def f(x):\n    """A docstring and a stray constant are statements too."""\n'
        "    1.0\n"
        "    return np.sum(x)\n"
    ),
    "Pass": Supported("def f(x):\n    pass\n    return np.sum(x)\n"),
    "Break": Rejected(
        LOOP.format("break"),
        names="`for` loop",
        at="for",
        fix=fallback("For", "a `for` loop"),
    ),
    "Continue": Rejected(
        LOOP.format("continue"),
        names="`for` loop",
        at="for",
        fix=fallback("For", "a `for` loop"),
    ),
    # -- expressions -------------------------------------------------------------------
    "BoolOp": Rejected(
        "def f(x, y):\n    z = x or y  # <-\n    return np.sum(z)\n",
        names="`or`",
        at="x or y",
        fix=fallback("BoolOp", "`and`/`or`"),
    ),
    "NamedExpr": Rejected(
        "def f(x):\n    return np.sum((y := x * 2.0) * y)  # <-\n",
        names=r"assignment expression \(`:=`\)",
        at="y := x",
        hint="line of its own",
    ),
    "BinOp": Supported("def f(x, y):\n    return np.sum(x * y + x / y - y)\n", ARGS2),
    "UnaryOp": Supported("def f(x):\n    return np.sum(-x * +x)\n"),
    "Lambda": Rejected(
        "def f(x):\n    g = lambda t: t * 2.0  # <-\n    return np.sum(g(x))\n",
        names="lambda",
        at="lambda",
        hint="def",
    ),
    "IfExp": Rejected(
        "def f(x):\n    y = x * 2.0 if np.sum(x) > 0 else x  # <-\n    return np.sum(y)\n",
        names="conditional expression",
        at="x * 2.0 if",
        fix=fallback("IfExp", "a conditional expression"),
    ),
    "Dict": Rejected(
        "def f(x):\n    d = {'x': x}  # <-\n    return np.sum(x)\n",
        names="dict",
        at="{",
        fix=fallback("Dict", "a dict"),
    ),
    "Set": Rejected(
        "def f(x):\n    s = {1.0, 2.0}  # <-\n    return np.sum(x)\n",
        names="set",
        at="{",
        fix=fallback("Set", "a set"),
    ),
    "ListComp": Rejected(
        "def f(x):\n    return np.sum([t * 2.0 for t in x])  # <-\n",
        names="list comprehension",
        at="[t",
    ),
    "SetComp": Rejected(
        "def f(x):\n    s = {t for t in x}  # <-\n    return np.sum(x)\n",
        names="set comprehension",
        at="{t",
    ),
    "DictComp": Rejected(
        "def f(x):\n    d = {t: t for t in x}  # <-\n    return np.sum(x)\n",
        names="dict comprehension",
        at="{t",
    ),
    "GeneratorExp": Rejected(
        "def f(x):\n    return np.sum(t * 2.0 for t in x)  # <-\n",
        names="generator expression",
        at="(t",
    ),
    "comprehension": Rejected(
        "def f(x):\n    return np.sum([t * u for t in x for u in x if u])  # <-\n",
        names="list comprehension",
        at="[t",
    ),
    "Await": _in_async("await t"),
    "Yield": Rejected(
        "def f(x):\n    yield x * 2.0  # <-\n",
        names="`yield`",
        at="yield",
        hint="generator.*return the value",
    ),
    "YieldFrom": Rejected(
        "def f(x):\n    yield from x  # <-\n",
        names="`yield from`",
        at="yield",
        hint="generator.*return the value",
    ),
    "Compare": _compare(">"),
    "Call": Supported("def f(x):\n    return np.sum(np.tanh(x) * np.exp(x))\n"),
    "keyword": Supported(
        "def f(x):\n    return np.sum(np.sum(x, axis=0, keepdims=True) * x)\n",
        (((0.3, -1.2), (2.0, 0.5)),),
    ),
    "FormattedValue": Rejected(
        "def f(x):\n    label = f'{x}'  # <-\n    return np.sum(x) * len(label)\n",
        names="f-string",
        at="f'",
    ),
    "JoinedStr": Rejected(
        "def f(x):\n    label = f'x = {x!r:>10}'  # <-\n    return np.sum(x) * len(label)\n",
        names="f-string",
        at="f'",
    ),
    "Constant": Supported("def f(x):\n    return np.sum(x * 2.5 + 1) - 3e-1\n"),
    "Attribute": Supported(
        "def f(a, b):\n    return np.sum(a.T @ b) * np.pi\n", ARGS_MAT_T
    ),
    "Subscript": Rejected(
        "def f(x):\n    return x[0] * 2.0  # <-\n",
        names="index",
        at="x[0]",
        fix=fallback("Subscript", "indexing"),
    ),
    "Slice": Rejected(
        "def f(x):\n    return np.sum(x[1:] * 2.0)  # <-\n",
        names="slic",
        at="x[1:]",
        fix=fallback("Subscript", "slicing"),
    ),
    "Starred": Rejected(
        "def f(x):\n    return np.sum(np.maximum(*x))  # <-\n",
        names="starred expression",
        at="*x",
    ),
    "Name": Supported("def f(x):\n    y = x\n    return np.sum(y * x)\n"),
    "List": Rejected(
        "def f(x):\n    y = [x, x]  # <-\n    return np.sum(x)\n",
        names="list",
        at="[x, x]",
        fix=fallback("List", "a list"),
    ),
    "Tuple": Supported(
        "def f(x, y):\n    a, b = y, x\n    return np.sum(x * a + b, axis=(0,))\n",
        ARGS2,
    ),
    # -- expression contexts -----------------------------------------------------------
    "Load": Unreachable(CONTEXT + "; Name covers it"),
    "Store": Unreachable(CONTEXT + "; Assign covers it"),
    "Del": Unreachable(CONTEXT + "; Delete covers it"),
    "AugLoad": Unreachable(DEPRECATED),
    "AugStore": Unreachable(DEPRECATED),
    "Param": Unreachable(DEPRECATED),
    # -- operators -----------------------------------------------------------------------
    "And": Rejected(
        "def f(x, y):\n    z = x and y  # <-\n    return np.sum(z)\n",
        names="`and`",
        at="x and y",
        fix=fallback("BoolOp", "`and`/`or`"),
    ),
    "Or": Rejected(
        "def f(x, y):\n    z = x or y  # <-\n    return np.sum(z)\n",
        names="`or`",
        at="x or y",
        fix=fallback("BoolOp", "`and`/`or`"),
    ),
    "Add": _binop("+"),
    "Sub": _binop("-"),
    "Mult": _binop("*"),
    "MatMult": Supported("def f(a, b):\n    return np.sum(a @ b)\n", ARGS_MAT),
    "Div": _binop("/"),
    "Mod": _bad_binop("%"),
    "Pow": Supported(
        "def f(x, y):\n    return np.sum(y**2.0 + np.abs(x) ** y)\n", ARGS2
    ),
    "LShift": _bad_binop("<<"),
    "RShift": _bad_binop(">>"),
    "BitOr": _bad_binop("|"),
    "BitXor": _bad_binop("^"),
    "BitAnd": _bad_binop("&"),
    "FloorDiv": _bad_binop("//"),
    "Invert": Rejected(
        "def f(x):\n    return np.sum(x * ~x)  # <-\n",
        names="`~`",
        at="~x",
        fix=fallback("UnaryOp", "the operator `~`"),
    ),
    "Not": Rejected(
        "def f(x):\n    return np.sum(x * (not x))  # <-\n",
        names="`not`",
        at="not x",
        fix=fallback("UnaryOp", "the operator `not`"),
    ),
    "UAdd": Supported("def f(x):\n    return np.sum(+x * x)\n"),
    "USub": Supported("def f(x):\n    return np.sum(-x * x)\n"),
    "Eq": _compare("=="),
    "NotEq": _compare("!="),
    "Lt": _compare("<"),
    "LtE": _compare("<="),
    "Gt": _compare(">"),
    "GtE": _compare(">="),
    "Is": _compare("is"),
    "IsNot": _compare("is not"),
    "In": _compare("in"),
    "NotIn": _compare("not in"),
    # -- the rest ------------------------------------------------------------------------
    "ExceptHandler": Rejected(
        "def f(x):\n"
        "    try:  # <-\n"
        "        y = x * 2.0\n"
        "    except (ValueError, TypeError) as exc:\n"
        "        y = x\n"
        "    return np.sum(y)\n",
        names="`try` statement",
        at="try",
    ),
    "arguments": (
        Supported(
            "def f(x, /, y):\n    return np.sum(x * y)\n", ((0.3, -1.2), (2.0, 0.5))
        ),
        Supported(
            "def f(x, y, z=2.0):\n    return np.sum(x * y * z)\n",
            ((0.3, -1.2), (2.0, 0.5)),
            fix="needs frontend/codegen fix: the generated function drops the "
            "parameter's default (`grad_f() missing 1 required positional argument: "
            "'z'`)",
        ),
    ),
    "arg": Supported("def f(x: float, y):\n    return np.sum(x * y)\n", ARGS2),
    "alias": Rejected(
        "def f(x):\n    import os.path as osp  # <-\n\n    return np.sum(x) * len(osp.sep)\n",
        names="`import`",
        at="import",
    ),
    "withitem": Rejected(
        "def f(x):\n"
        "    with np.errstate(all='ignore') as a, np.errstate() as b:  # <-\n"
        "        y = x * 2.0\n"
        "    return np.sum(y)\n",
        names="`with` statement",
        at="with",
    ),
    "match_case": _match("1 if n > 0"),
    "MatchValue": _match("math.pi"),
    "MatchSingleton": _match("None"),
    "MatchSequence": _match("[a, b]"),
    "MatchMapping": _match("{'k': v, **rest}"),
    "MatchClass": _match("int(real=r)"),
    "MatchStar": _match("[a, *rest]"),
    "MatchAs": _match("int() as m"),
    "MatchOr": _match("0 | 1"),
    # -- type parameters (3.12): they do not change what the function computes -----------
    "TypeVar": Supported("def f[T: float](x: T) -> T:\n    return np.sum(x * x)\n"),
    "ParamSpec": Supported("def f[**P](x):\n    return np.sum(x * x)\n"),
    "TypeVarTuple": Supported("def f[*Ts](x):\n    return np.sum(x * x)\n"),
    # -- deprecated aliases (removed in Python 3.14) -------------------------------------
    "Num": Unreachable(DEPRECATED),
    "Str": Unreachable(DEPRECATED),
    "Bytes": Unreachable(DEPRECATED),
    "NameConstant": Unreachable(DEPRECATED),
    "Ellipsis": Unreachable(DEPRECATED),
    "slice": Unreachable(DEPRECATED),
    "Index": Unreachable(DEPRECATED),
    "ExtSlice": Unreachable(DEPRECATED),
}
