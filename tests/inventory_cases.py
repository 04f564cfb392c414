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


def _compare(op: str) -> Supported:
    """An order comparison: a branch taken on the data, and an elementwise mask."""
    return Supported(
        "def f(x, y):\n"
        f"    if np.sum(x) {op} np.sum(y):\n"
        "        z = x * y\n"
        "    else:\n"
        "        z = x / y\n"
        f"    return np.sum(z * (x {op} y))\n",
        ARGS2,
    )


def _equality(op: str) -> Supported:
    """`==`/`!=`: on a loop's index (exact), and elementwise on signs (a mask)."""
    return Supported(
        "def f(x, y):\n"
        "    z = x\n"
        "    for i in range(3):\n"
        f"        if i {op} 1:\n"
        "            z = z * y\n"
        "        else:\n"
        "            z = z + x\n"
        f"    return np.sum(z * (np.sign(x) {op} np.sign(y)))\n",
        ARGS2,
    )


def _identity(op: str, hint: str) -> Rejected:
    return Rejected(
        f"def f(x):\n    return np.sum(x * (x {op} x))  # <-\n",
        names=re.escape(f"`{op}`"),
        at=f"x {op} x",
        hint=hint,
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
        hint="if/elif/else",
    )


def _in_async(body: str) -> Rejected:
    """`async for`, `async with`, `await` only appear inside `async def`: the error
    names the async function that holds them."""
    return Rejected(
        "def f(x):\n"
        "    async def g(t):  # <-\n"
        + "".join(f"        {line}\n" for line in body.splitlines())
        + "    return x\n",
        names="`async def` function",
        at="async def",
        hint="plain `def`",
    )


ARGS2 = ((0.3, -1.2, 2.0), (1.5, 0.7, 1.1))
ARGS_MAT = (((0.3, -1.2), (2.0, 0.5), (1.0, -0.4)), (0.5, -0.7))
ARGS_MAT_T = (((0.3, -1.2), (2.0, 0.5), (1.0, -0.4)), (0.5, -0.7, 0.2))

IF = (
    "def f(x, y):\n"
    "    if np.sum(x) > np.sum(y):\n"
    "        z = x * y\n"
    "    elif np.sum(x) > 0.0:\n"
    "        z = x * x\n"
    "    else:\n"
    "        z = np.exp(y)\n"
    "    return np.sum(z)\n"
)
# `if`, `elif`, `else` in turn
IF_ARGS = (
    ((0.3, 1.2, 2.0), (0.5, 0.7, 1.1)),
    ARGS2,
    ((0.3, -1.2, -2.0), (0.5, 0.7, 1.1)),
)

BOOL_BODY = (
    "        z = x * y\n"
    "    else:\n"
    "        z = x + y * y\n"
    "    return np.sum(z)\n"
)
AND = "def f(x, y):\n    if np.sum(x) > 0.0 and np.sum(y) < 3.0:\n" + BOOL_BODY
OR = "def f(x, y):\n    if np.sum(x) > 2.0 or np.sum(y) < 0.0:\n" + BOOL_BODY
BOOLOP = (
    "def f(x, y):\n"
    "    if np.sum(x) > 0.0 and np.sum(y) < 3.0 or np.max(x) > 5.0:\n" + BOOL_BODY
)
# both tests true, then both false
BOOLOP_ARGS = (
    ((0.3, -1.2, 2.0), (0.5, -0.7, 1.1)),
    ((0.3, -1.2, -2.0), (1.5, 0.7, 1.1)),
)
# the first test true, the second, neither
OR_ARGS = (
    ((0.3, 1.2, 2.0), (0.5, 0.7, 1.1)),
    ((0.3, -1.2, 2.0), (0.5, -0.7, -1.1)),
    ((0.3, -1.2, -2.0), (1.5, 0.7, 1.1)),
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
    "FunctionDef": (
        Supported("def f(x):\n    return np.sum(x * x)\n"),
        Supported(  # a function defined inside, reading the outer one's argument
            "def f(x):\n"
            "    def g(t):\n"
            "        return t * 2.0 + x\n"
            "\n"
            "    return np.sum(g(x) * g(x * x))\n"
        ),
    ),
    "AsyncFunctionDef": Rejected(
        "async def f(x):  # <-\n    return np.sum(x * x)\n",
        names="`async def` function",
        at="async",
        hint="plain `def`",
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
            "def f(x, y):\n    z = w = x * y\n    return np.sum(z + w * x)\n",
            ARGS2,
        ),
    ),
    "TypeAlias": Rejected(
        "def f(x):\n    type Vec = float  # <-\n    return np.sum(x)\n",
        names="`type` alias statement",
        at="type",
        hint="module level",
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
    "For": (
        Supported(
            "def f(x):\n"
            "    y = x\n"
            "    for i in range(3):\n"
            "        y = y * x + i\n"
            "    return np.sum(y)\n"
        ),
        Supported(  # over the rows of an argument
            "def f(a, b):\n"
            "    s = 0.0\n"
            "    for row in a:\n"
            "        s = s + np.sum(row * b) ** 2\n"
            "    return s\n",
            ARGS_MAT,
        ),
    ),
    "AsyncFor": _in_async("async for u in t:\n    pass"),
    # the number of trips depends on x (two here)
    "While": Supported(
        "def f(x):\n"
        "    y = x\n"
        "    while np.sum(y * y) < 50.0:\n"
        "        y = y * 1.5 + x\n"
        "    return np.sum(y)\n"
    ),
    # the branch depends on the data: each argument set takes another one
    "If": tuple(Supported(IF, args) for args in IF_ARGS),
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
        names=r"`try`/`except\*` statement",
        at="try",
        hint="outside the differentiated function",
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
        "    def g():\n"
        "        nonlocal x  # <-\n"
        "        x = x * 2.0\n"
        "        return x\n"
        "\n"
        "    y = g()\n"
        "    return np.sum(x * y)\n",
        names="`nonlocal` statement",
        at="nonlocal",
        hint="argument",
    ),
    "Expr": Supported(
        'def f(x):\n    """A docstring and a stray constant are statements too."""\n'
        "    1.0\n"
        "    return np.sum(x)\n"
    ),
    "Pass": Supported("def f(x):\n    pass\n    return np.sum(x)\n"),
    # leaves after the second trip, on the data
    "Break": Supported(
        "def f(x):\n"
        "    y = x\n"
        "    for i in range(10):\n"
        "        y = y * 1.5 + x\n"
        "        if np.sum(y) > 5.0:\n"
        "            break\n"
        "    return np.sum(y * y)\n"
    ),
    "Continue": Supported(
        "def f(x):\n"
        "    y = x\n"
        "    for i in range(5):\n"
        "        if np.sum(y) > 3.0:\n"
        "            continue\n"
        "        y = y * x + 1.0\n"
        "    return np.sum(y)\n"
    ),
    # -- expressions -------------------------------------------------------------------
    "BoolOp": tuple(Supported(BOOLOP, args) for args in BOOLOP_ARGS),
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
    "IfExp": tuple(
        Supported(
            "def f(x):\n"
            "    y = x * x if np.sum(x) > 0 else np.exp(x)\n"
            "    return np.sum(y * x)\n",
            (args,),
        )
        for args in ((0.3, -1.2, 2.0), (0.3, -1.2, -2.0))
    ),
    "Dict": Supported(
        "def f(x, y):\n"
        "    d = {'a': x * y, 'b': y}\n"
        "    return np.sum(d['a'] + d['b'] ** 2)\n",
        ARGS2,
    ),
    "Set": Rejected(
        "def f(x):\n    s = {1.0, 2.0}  # <-\n    return np.sum(x)\n",
        names="a set",
        at="{",
        hint="tuple",
    ),
    "ListComp": Supported("def f(x):\n    return np.sum([t * 2.0 for t in x])\n"),
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
    "comprehension": Supported(
        "def f(x):\n    return np.sum([t * u for t in x for u in x if u > 0.0])\n"
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
    "Compare": Supported(  # a chained comparison
        "def f(x):\n"
        "    if 0.0 < np.sum(x) <= 2.0:\n"
        "        y = x * x\n"
        "    else:\n"
        "        y = x\n"
        "    return np.sum(y)\n"
    ),
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
    "Subscript": (
        Supported("def f(x):\n    return x[0] * x[-1] + x[1] ** 2\n"),
        Supported(  # a row, a column, an entry of a matrix
            "def f(a, b):\n    return np.sum(a[0] * b) + np.sum(a[:, 1]) * a[2, 0]\n",
            ARGS_MAT,
        ),
    ),
    "Slice": Supported(
        "def f(x):\n"
        "    n = x.shape[0]\n"
        "    return np.sum(x[1:] * x[:-1]) + np.sum(x[::2] ** 2) + x[1 : n - 1][0]\n"
    ),
    "Starred": Rejected(
        "def f(x):\n    return np.sum(np.maximum(*x))  # <-\n",
        names="starred expression",
        at="*x",
    ),
    "Name": Supported("def f(x):\n    y = x\n    return np.sum(y * x)\n"),
    "List": Supported(
        "def f(x, y):\n"
        "    zs = [x, x * y]\n"
        "    zs.append(y)\n"
        "    return np.sum(np.stack(zs) ** 2) + np.sum(zs[1])\n",
        ARGS2,
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
    "And": tuple(Supported(AND, args) for args in BOOLOP_ARGS),
    "Or": tuple(Supported(OR, args) for args in OR_ARGS),
    "Add": _binop("+"),
    "Sub": _binop("-"),
    "Mult": _binop("*"),
    "MatMult": Supported("def f(a, b):\n    return np.sum(a @ b)\n", ARGS_MAT),
    "Div": _binop("/"),
    "Mod": Supported(  # the remainder's slope in x is 1, in y -floor(x / y)
        "def f(x, y):\n    return np.sum((x % y) * x)\n",
        ((0.3, -1.2, 2.5), (0.7, 0.5, 1.1)),
    ),
    "Pow": Supported(
        "def f(x, y):\n    return np.sum(y**2.0 + np.abs(x) ** y)\n", ARGS2
    ),
    "LShift": _bad_binop("<<"),
    "RShift": _bad_binop(">>"),
    "BitOr": _bad_binop("|"),
    "BitXor": _bad_binop("^"),
    "BitAnd": _bad_binop("&"),
    "FloorDiv": Supported(  # a step function: no slope, but it scales x
        "def f(x, y):\n    return np.sum((x // y) * x + y)\n",
        ((0.3, -1.2, 2.5), (0.7, 0.5, 1.1)),
    ),
    "Invert": Rejected(
        "def f(x):\n    return np.sum(x * ~x)  # <-\n",
        names=r"`~` \(bitwise invert\)",
        at="~x",
        hint="np.logical_not",
    ),
    "Not": tuple(
        Supported(
            "def f(x):\n"
            "    if not np.sum(x) > 2.0:\n"
            "        y = x * x\n"
            "    else:\n"
            "        y = np.exp(x)\n"
            "    return np.sum(y)\n",
            (args,),
        )
        for args in ((0.3, -1.2, 2.0), (0.3, 1.2, 2.0))
    ),
    "UAdd": Supported("def f(x):\n    return np.sum(+x * x)\n"),
    "USub": Supported("def f(x):\n    return np.sum(-x * x)\n"),
    "Eq": _equality("=="),
    "NotEq": _equality("!="),
    "Lt": _compare("<"),
    "LtE": _compare("<="),
    "Gt": _compare(">"),
    "GtE": _compare(">="),
    "Is": _identity("is", "=="),
    "IsNot": _identity("is not", "!="),
    "In": _identity("in", "=="),
    "NotIn": _identity("not in", "!="),
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
