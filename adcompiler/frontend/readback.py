"""Generated code read back, to be differentiated again: its checks of
arguments and results, read as the tests they stand for.
"""

from __future__ import annotations

import ast
import re

# Generated code's one test of its arguments (codegen.checks._one_float_test): that all
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
