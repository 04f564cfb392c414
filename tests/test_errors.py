"""Unsupported constructs raise ADCompileError, naming the construct and pointing at it.

Each function below marks the line the error must point at with `# <-`; the
test finds that line in this file with `inspect.getsourcelines` and checks
file, line, column, the quoted source line and the caret under the column.
"""

import inspect
import math
import re

import numpy as np
import pytest

from adcompiler import ADCompileError, grad

GREETING = "hello"


class Box:
    pass


def e_lambda(x):
    g = lambda t: t * 2.0  # <-
    return g(x)


def e_called_lambda(x):
    return (lambda t: t * 2.0)(x)  # <-


def e_with(x):
    with open("data.txt") as fh:  # <-
        x = x + float(fh.read())
    return x


def e_try(x):
    try:  # <-
        y = np.log(x)
    except ValueError:
        y = x
    return y


def e_yield(x):
    yield x * 2.0  # <-


def e_yield_value(x):
    y = yield x  # <-
    return y


def e_svd(x):
    return np.sum(np.linalg.svd(x))  # <-


def e_unknown_numpy_function(x):
    return np.sum(np.fft.fft(x))  # <-


def e_attribute_assignment(x):
    x.scale = 2.0  # <-
    return x


def e_global(x):
    global GREETING  # <-
    return x


def e_del(x):
    y = x * 2.0
    del y  # <-
    return x


def e_assert(x):
    assert x > 0  # <-
    return x


def e_set_comprehension(x):
    return np.sum(x) * len({t * 2 for t in x})  # <-


def e_generator_expression(x):
    return np.sum(t * 2 for t in x)  # <-


def e_dict_comprehension(x):
    return {t: t for t in x}  # <-


def e_fstring(x):
    label = f"x = {x}"  # <-
    return x * len(label)


def e_star_args(x, *rest):  # <-
    return x


def e_star_kwargs(x, **options):  # <-
    return x


def e_keyword_only(x, *, scale):  # <-
    return x * scale


def e_no_return(x):
    y = x * 2.0  # noqa: F841  # <-


def e_bare_return(x):
    y = x * 2.0  # noqa: F841
    return  # <-


def e_raise(x):
    raise ValueError("no")  # <-


def e_import(x):
    import os  # <-

    return x * len(os.sep)


def e_walrus(x):
    return (y := x * 2.0) * y  # <-


def e_print(x):
    print(x)  # <-
    return x


def e_code_after_return(x):
    return x
    x = x * 2.0  # <-


def e_bitwise(x):
    return x | 1  # <-


def e_complex(x):
    return x * 2j  # <-


def e_string_global(x):
    return x * GREETING  # <-


def e_class_call(x):
    return Box(x)  # <-


def e_nonexistent_numpy(x):
    return np.tanhh(x)  # <-


def e_unknown_method(x):
    return x.argsort()  # <-


def e_star_call(x):
    return np.maximum(*x)  # <-


def e_double_star_call(x):
    return np.sum(x, **{"axis": 0})  # <-


def e_variable_axis(x, axis):
    return np.sum(np.sum(x, axis=axis))  # <-


def e_two_results(x):  # <-
    return x, x


def e_math_unknown(x):
    return math.gamma(x)  # <-


class Holder:
    @staticmethod
    def indented(x):
        return np.sum(np.tanh(x) * (lambda: 2.0)())  # <-


# (function, what the message must name, text at the column the error points to)
CASES = [
    (e_lambda, "lambda", "lambda"),
    (e_called_lambda, "lambda", "lambda"),
    (e_with, "`with` statement", "with"),
    (e_try, "`try` statement", "try"),
    (e_yield, "`yield`", "yield"),
    (e_yield_value, "`yield`", "yield"),
    (e_svd, "`np.linalg.svd`", "np.linalg.svd(x)"),
    (e_unknown_numpy_function, "`np.fft.fft`", "np.fft.fft(x)"),
    (e_attribute_assignment, "attribute `x.scale`", "x.scale"),
    (e_global, "`global` statement", "global"),
    (e_del, "`del` statement", "del"),
    (e_assert, "`assert` statement", "assert"),
    (e_set_comprehension, "set comprehension", "{t * 2"),
    (e_generator_expression, "generator expression", "(t * 2 for"),
    (e_dict_comprehension, "dict comprehension", "{t: t"),
    (e_fstring, "f-string", 'f"'),
    (e_star_args, r"`\*rest`", "rest"),
    (e_star_kwargs, r"`\*options`", "options"),
    (e_keyword_only, "keyword-only", "scale"),
    (e_no_return, "without returning a value", "y = x"),
    (e_bare_return, "`return` without a value", "return"),
    (e_raise, "`raise` statement", "raise"),
    (e_import, "`import`", "import"),
    (e_walrus, r"assignment expression \(`:=`\)", "y := x"),
    (e_print, "`print", "print(x)"),
    (e_code_after_return, "after `return`", "x = x * 2.0"),
    (e_bitwise, "`|`", "x | 1"),
    (e_complex, "complex", "2j"),
    (e_string_global, "`GREETING` is a str", "GREETING"),
    (e_class_call, "`Box`", "Box(x)"),
    (e_nonexistent_numpy, "`np.tanhh` does not exist", "np.tanhh"),
    (e_unknown_method, r"`\.argsort\(\)`", "x.argsort()"),
    (e_star_call, "starred", "*x"),
    (e_double_star_call, r"`\*\*` arguments", "{"),
    (e_variable_axis, "`axis` must be a constant", "np.sum(x, axis"),
    (e_two_results, "returns 2 values", "def"),
    (e_math_unknown, "`math.gamma`", "math.gamma(x)"),
    (Holder.indented, "lambda", "lambda"),
]


def marked_line(f) -> tuple[int, str]:
    """The file line number and text of the line marked `# <-` in f's source."""
    lines, first = inspect.getsourcelines(f)
    (i,) = [i for i, line in enumerate(lines) if line.rstrip().endswith("# <-")]
    return first + i, lines[i].rstrip("\n")


@pytest.mark.parametrize(
    "f, names, at", CASES, ids=[c[0].__name__.removeprefix("e_") for c in CASES]
)
def test_unsupported_construct(out_dir, f, names, at):
    line, text = marked_line(f)
    col = text.index(at)
    with pytest.raises(ADCompileError) as info:
        grad(f)
    err = info.value
    assert err.loc is not None
    assert (err.loc.file, err.loc.line, err.loc.col) == (__file__, line, col), str(err)
    first, quoted, caret, *rest = str(err).splitlines()
    assert first.startswith(f"{__file__}:{line}:{col + 1}: ")
    assert re.search(names, first), first
    stripped = text.lstrip()
    assert quoted == f"    {stripped}"
    # The caret sits under the column: the quoted text from there starts with `at`.
    assert caret.strip() == "^"
    assert quoted[caret.index("^") :].startswith(at)
    assert all(r.startswith("hint: ") for r in rest)


def test_error_location_is_the_real_file(out_dir):
    """The location is the real file: an editor can jump to it."""
    with pytest.raises(ADCompileError) as info:
        grad(e_with)
    assert inspect.getsourcefile(e_with) == info.value.loc.file


def test_no_file_to_read():
    namespace = {}
    exec("def f(x):\n    return x * 2.0\n", namespace)
    with pytest.raises(ADCompileError, match="cannot read the source of f"):
        grad(namespace["f"])


@pytest.mark.parametrize("argnums", [3, -4, (0, 0), (), "x", 1.0])
def test_bad_argnums(out_dir, argnums):
    with pytest.raises(ADCompileError, match="argnums"):
        grad(e_variable_axis, argnums=argnums)


def test_a_compile_error_is_not_cached(out_dir):
    """Asking again gives the same error, not a half-written module."""
    for _ in range(2):
        with pytest.raises(ADCompileError, match="lambda"):
            grad(e_lambda)
    assert not out_dir.exists() or not list(out_dir.glob("*e_lambda*"))


LAMBDAS = {"alone": lambda x: np.sum(x**2)}
LAMBDA_LIST = [
    lambda x: np.sum(x**3),
    lambda x: np.sum(x**4),  # its source line does not parse on its own
]


@pytest.mark.parametrize(
    "f", [LAMBDAS["alone"], LAMBDA_LIST[1]], ids=["in a dict", "on a continued line"]
)
def test_a_lambda_is_refused_with_a_hint(out_dir, f):
    with pytest.raises(ADCompileError, match="cannot compile a lambda") as info:
        grad(f)
    assert "test_errors.py:" in str(info.value)
    assert "write it as a `def`" in str(info.value)


def loop_backwards(W, xs):
    h = np.zeros(3)
    for t in reversed(range(len(xs))):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h**2)


def loop_forwards(W, xs):
    h = np.zeros(3)
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h**2)


def test_a_loop_over_reversed_is_refused_with_a_hint(out_dir):
    """`reversed(...)` is how a generated backward sweep runs its loops, so the
    gradient of a function with a loop cannot be differentiated again; the
    message says so, at the loop, in the user's code and in generated code."""
    W, xs = np.eye(3) * 0.5, np.ones((2, 3))
    with pytest.raises(ADCompileError, match=r"a loop over `reversed\(...\)`") as info:
        grad(loop_backwards)
    assert "test_errors.py:" in str(info.value)
    assert "range(n - 1, -1, -1)" in str(info.value)
    with pytest.raises(ADCompileError, match="cannot be differentiated again") as info:
        grad(lambda_free_second_order(loop_forwards))(W, xs)
    assert "__grad_loop_forwards__W.py:" in str(info.value)  # the generated module


def lambda_free_second_order(f):
    """The scalar `sum(grad(f)(W, xs)[0])`, built without a lambda."""
    g = grad(f)

    def inner(W, xs):
        return np.sum(g(W, xs))

    return inner
