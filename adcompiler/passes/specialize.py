"""Specialization to example arguments: `grad(f, example_args=(W, x, b, u))`.

A generic gradient must work for any argument a call may bring: a Python
float or an array, any shape, any float dtype. So it checks its arguments,
sums adjoints back over axes that may have been broadcast (`_unbroadcast`),
casts gradients back to their parameters' dtypes, and calls rank-generic
helpers for matrix products. For small workloads those checks cost as much as
the arithmetic. Given example arguments, the compiler learns each argument's
kind (Python float or NumPy array), shape and dtype, and the shape of every
value computed from them on the function's straight-line part. The shape
facts (passes/shapes.py) then prove which shapes agree, so the generated code
does what a hand-written gradient does; one guard at entry checks that a call
brings arguments like the examples, and raises `TypeError` if not
(`checks=False` drops it too).

Only what a value's shape cannot depend on the data for is traced: elementwise
operations, matrix products, reductions over constant axes, indexing with
constant or shape-derived indices. A value inside an `if` or a loop, or one
computed from data in a way that decides its shape (a boolean mask), gets no
fact, and the generated code stays generic there.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

import numpy as np

from ..ir import Assign, Const, Function, Var

FLOAT = "float"  # a Python float
ARRAY = "array"  # a NumPy array


@dataclass(frozen=True)
class Example:
    """What the generated code may assume of one argument."""

    kind: str  # FLOAT or ARRAY
    shape: tuple[int, ...] = ()
    dtype: str = "float64"

    def __str__(self) -> str:
        if self.kind == FLOAT:
            return "float"
        return f"{self.dtype}{list(self.shape)}"


def describe(value) -> Example | None:
    """The assumption an example argument stands for; None: nothing is assumed.

    A Python float, or a NumPy array (or an object with `shape` and `dtype`,
    such as `jax.ShapeDtypeStruct`) of a boolean, integer or float dtype.
    Anything else (an int, a list, a dict) is left generic.
    """
    if type(value) is float:
        return Example(FLOAT)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if isinstance(value, np.generic) or shape is None or dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
    except TypeError:
        return None
    if dtype.kind not in "biuf" or dtype.byteorder not in "=|":
        return None
    return Example(ARRAY, shape, dtype.name)


def value_of(example: Example, given):
    """A value to trace with: the example itself when it is one, else ones."""
    if isinstance(given, (float, np.ndarray)):
        return given
    return np.ones(example.shape, example.dtype)


def signature(examples: dict[str, Example]) -> str:
    """`W: float64[10, 10], x: float`: for the cache key, the docstring and errors."""
    return ", ".join(f"{name}: {ex}" for name, ex in examples.items())


# -- tracing -------------------------------------------------------------------

# Results whose shape follows from their operands' shapes alone.
_BY_SHAPES = {"matmul", "dot", "outer", "T", "copy", "len", "shape", "ndim", "size"}
_BY_SHAPES |= {"inv", "solve", "det", "slogdet", "einsum", "take_along_axis"}
_BY_SHAPES |= {"cholesky", "eigh", "eigvalsh", "svd", "qr", "pinv"}
_BY_SHAPES |= {"inner", "cross"}
# Results whose shape follows from the first operand's shape and the values of the
# others, which must then be constants or derived from shapes (`static`).
_BY_FIRST = {
    "sum",
    "mean",
    "amax",
    "amin",
    "var",
    "std",
    "prod",
    "norm",
    "transpose",
    "reshape",
    "expand_dims",
    "moveaxis",
    "squeeze",
    "flip",
    "cumsum",
    "cumprod",
    "roll",
    "trace",
    "diag",
    "tile",
    "slogdet_sign",
    "slogdet_logabsdet",
    "eigh_eigenvalues",
    "eigh_eigenvectors",
    "svd_u",
    "svd_s",
    "svd_vh",
    "qr_q",
    "qr_r",
    "sort",
    "argsort",
    "pad",
    "median",
    "quantile",
    "percentile",
    "maximum_accumulate",
    "minimum_accumulate",
    "nan_to_num",
    "repeat",
    "add_reduceat",
    "diagflat",
    "diagonal",
    "swapaxes",
    "atleast_1d",
    "atleast_2d",
    "triu",
    "tril",
    "getitem",
    "full_like",
    "ones_like",
    "zeros_like",
    "broadcast_to",
}
# Results whose shape is given by the operands' values: `np.zeros((n, 3))`.
_BY_VALUES = {"zeros", "ones", "eye", "slice", "tuple", "arange", "full", "split_size"}
# Results that are themselves derived from shapes alone when their operands are.
_STATIC = {"shape", "ndim", "size", "len", "split_size"}


def trace(fn: Function, values: dict[str, object]) -> dict[str, tuple[int, ...]]:
    """The shape of each value of `fn`'s top level whose shape the examples decide.

    `values` maps parameters to example values. Each statement whose result
    shape cannot depend on the data is run on the examples (warnings off);
    a statement that fails, or reads a value not traced, teaches nothing.
    """
    from ..codegen.expressions import _atom, expression
    from ..rules import PRIMS

    env: dict[str, object] = dict(values)
    static: set[str] = set()
    shapes = {p: np.shape(v) for p, v in values.items()}
    namespace = {"np": np}  # no traced primitive prints as a generated helper
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for stmt in fn.body.stmts:
            if not isinstance(stmt, Assign) or len(stmt.outs) != 1:
                continue
            if not _decided_by_shapes(stmt, env, static):
                continue
            node = expression(
                stmt.prim,
                [_atom(a) for a in stmt.args],
                {k: _atom(v) for k, v in stmt.kwargs.items()},
            )
            try:
                code = compile(
                    ast.Expression(ast.fix_missing_locations(node)), "", "eval"
                )
                value = eval(code, namespace, env)
            except Exception:  # noqa: BLE001 - an untraceable value is just not known
                continue
            env[stmt.out] = value
            if stmt.prim in _STATIC or _all_static(stmt, static, PRIMS):
                static.add(stmt.out)
            if isinstance(value, (np.ndarray, np.generic, float, int)):
                shapes[stmt.out] = np.shape(value)
    return shapes


def _operands(stmt: Assign):
    return [*stmt.args, *stmt.kwargs.values()]


def _all_static(stmt: Assign, static: set[str], prims) -> bool:
    """A value computed from shape-derived values by arithmetic or indexing."""
    if prims[stmt.prim].shape == "other" and stmt.prim not in ("getitem", "tuple"):
        return False
    return all(isinstance(a, Const) or a.name in static for a in _operands(stmt))


def _decided_by_shapes(stmt: Assign, env: dict, static: set[str]) -> bool:
    from ..rules import PRIMS

    operands = _operands(stmt)
    if not all(isinstance(a, Const) or a.name in env for a in operands):
        return False
    prim = PRIMS[stmt.prim]
    if prim.shape in ("elementwise", "scalar") or stmt.prim in _BY_SHAPES:
        return True
    rest = operands[1:] if stmt.prim in _BY_FIRST else operands
    if stmt.prim in _BY_FIRST or stmt.prim in _BY_VALUES:
        return all(isinstance(a, Const) or a.name in static for a in rest)
    return False


# -- what the examples allow ----------------------------------------------------


def casts_needed(fn: Function, examples: dict[str, Example]) -> bool:
    """Whether a gradient may come back in a dtype other than its parameter's.

    It cannot when every parameter has an example, every example array is
    float64 or integer or boolean (nothing wider, nothing narrower: a float32
    `x` would make `g * x` float32), the function reads no arrays from its
    scope, and it names no dtype (`dtype=np.float32`).
    """
    if set(examples) != set(fn.params) or fn.constants:
        return True
    if any(
        e.kind == ARRAY and e.dtype[0] == "f" and e.dtype != "float64"
        for e in examples.values()
    ):
        return True
    return names_a_dtype(fn)


def names_a_dtype(fn: Function) -> bool:
    """Whether the function names a dtype anywhere (`dtype=np.float32`)."""
    from ..ir import walk

    return any(
        isinstance(stmt, Assign)
        and ("dtype" in stmt.kwargs or any(_names_a_dtype(a) for a in stmt.operands()))
        for stmt in walk(fn.body)
    )


def _names_a_dtype(atom) -> bool:
    if not isinstance(atom, Const):
        return False
    value = atom.value
    return (
        isinstance(value, np.dtype)
        or (isinstance(value, type) and issubclass(value, np.generic))
        or (isinstance(value, str) and _is_dtype_name(value))
    )


def _is_dtype_name(text: str) -> bool:
    try:
        np.dtype(text)
    except (TypeError, ValueError):  # "ij,jk->ik", einsum's subscripts
        return False
    return True


def shape_facts(fn: Function):
    """The shape facts of `fn`'s body, its parameters' shapes those of their examples."""
    from .shapes import analyze

    known = {p: ex.shape if ex.kind == ARRAY else () for p, ex in fn.examples.items()}
    return analyze(fn.body, known=known)


def guard(fn: Function, examples: dict[str, Example], temp: str) -> Assign:
    """The statement that checks, at entry, that a call brings arguments like the examples."""
    params = [p for p in fn.params if p in examples]
    table = tuple(
        (p, examples[p].kind, examples[p].shape, examples[p].dtype) for p in params
    )
    return Assign(
        (temp,),
        "check_examples",
        tuple(Var(p) for p in params) + (Const(fn.name), Const(table)),
    )
