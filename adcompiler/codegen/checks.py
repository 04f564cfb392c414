"""The checks generated code makes of its arguments and results: floating
point, a scalar output, the example arguments' shapes and dtypes, and the
casts of gradients back to their arguments' dtypes, with the one test
(`all_floats`, `all_float64`) that skips them for the common arguments.
"""

from __future__ import annotations

import ast

from ..helpers import HELPERS
from ..ir import Function
from .expressions import _atom


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
