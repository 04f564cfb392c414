"""Which primitive a name in the user's code means, whatever the user's aliases.

The frontend evaluates a call's callee (`np.tanh`, `numpy.tanh`, `tanh` after
`from numpy import tanh`, `math.exp`, `max`) against the function's globals,
closure and builtins to the Python object itself, and looks that object up
here. Each entry gives the primitive and the call's signature: the positional
parameter names, and the keyword parameters with their defaults.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Signature:
    prim: str
    positional: tuple[str, ...]
    keywords: dict = field(default_factory=dict)
    # Python's max/min take any number of arguments: fold them pairwise.
    variadic: bool = False
    # Keyword parameters that may be values, not only constants (`np.eye(n, M=m)`).
    values: tuple[str, ...] = ()
    # Positional parameters that must be constants (`np.tile(a, reps)`): the
    # rules need their values.
    constants: tuple[str, ...] = ()


def _sig(prim, *positional, variadic=False, values=(), constants=(), **keywords):
    return Signature(prim, positional, keywords, variadic, values, constants)


_UNARY = [
    "exp",
    "log",
    "log1p",
    "expm1",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sqrt",
    "square",
    "sign",
    "sinh",
    "cosh",
    "arcsin",
    "arccos",
    "arctan",
    "arcsinh",
    "arccosh",
    "arctanh",
    "log2",
    "log10",
    "exp2",
    "reciprocal",
    "cbrt",
    "sinc",
    # piecewise constant: no derivative (rules/numpy.py)
    "floor",
    "ceil",
    "trunc",
    "rint",
]
_BINARY = {
    "add": "add",
    "subtract": "sub",
    "multiply": "mul",
    "divide": "div",
    "true_divide": "div",
    "power": "pow",
    "maximum": "maximum",
    "minimum": "minimum",
    "fmax": "fmax",
    "fmin": "fmin",
    "matmul": "matmul",
    "dot": "dot",
    "outer": "outer",
    "arctan2": "arctan2",
    "hypot": "hypot",
    "logaddexp": "logaddexp",
    "float_power": "float_power",
    "mod": "mod",
    "remainder": "mod",
    "fmod": "fmod",
}
# math's names for NumPy's functions of floats
_MATH = {
    "sinh": "sinh",
    "cosh": "cosh",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "asinh": "arcsinh",
    "acosh": "arccosh",
    "atanh": "arctanh",
    "log2": "log2",
    "log10": "log10",
}

FUNCTIONS: dict[int, tuple[object, Signature]] = {}


def _register(obj, sig: Signature) -> None:
    # Keyed by id: ufuncs are not all hashable the same way, and identity is what we mean.
    FUNCTIONS[id(obj)] = (obj, sig)


for _name in _UNARY:
    _register(getattr(np, _name), _sig(_name, "x"))
for _name in ["exp", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sqrt"]:
    _register(getattr(math, _name), _sig(_name, "x"))
_register(math.log, _sig("log", "x"))
for _name, _prim in _MATH.items():
    _register(getattr(math, _name), _sig(_prim, "x"))
_register(math.atan2, _sig("arctan2", "y", "x"))
_register(math.fabs, _sig("abs", "x"))
_register(math.pow, _sig("pow", "x", "y"))
# np.fix rounds towards zero, as np.trunc does: generated code writes np.trunc,
# since NumPy 2.5 deprecates np.fix (and a later NumPy may not have it)
if hasattr(np, "fix"):
    _register(np.fix, _sig("trunc", "x"))
_register(np.abs, _sig("abs", "x"))
_register(np.absolute, _sig("abs", "x"))
_register(np.negative, _sig("neg", "x"))
_register(builtins.abs, _sig("abs", "x"))
for _name, _prim in _BINARY.items():
    _register(getattr(np, _name), _sig(_prim, "x1", "x2"))
_register(builtins.max, _sig("max", "a", "b", variadic=True))
_register(builtins.min, _sig("min", "a", "b", variadic=True))
_register(np.sum, _sig("sum", "a", "axis", axis=None, keepdims=False))
_register(np.mean, _sig("mean", "a", "axis", axis=None, keepdims=False))
_register(np.prod, _sig("prod", "a", "axis", axis=None, keepdims=False))
for _f in (np.var, np.std):
    _register(_f, _sig(_f.__name__, "a", "axis", axis=None, keepdims=False, ddof=0))
_register(np.transpose, _sig("transpose", "a", "axes", axes=None))
_register(np.reshape, _sig("reshape", "a", "shape"))
_register(np.ravel, _sig("ravel", "a"))
_register(np.squeeze, _sig("squeeze", "a", "axis", axis=None))
_register(np.flip, _sig("flip", "m", "axis", axis=None))
_register(np.cumsum, _sig("cumsum", "a", "axis", axis=None))
_register(np.cumprod, _sig("cumprod", "a", "axis", axis=None))
_register(np.roll, _sig("roll", "a", "shift", "axis", axis=None))
for _f in (np.sort, np.argsort):
    _register(
        _f, _sig(_f.__name__, "a", "axis", "kind", axis=-1, kind=None, stable=None)
    )
# `axis` is always written out (NumPy before 2.3 has no default): none is dropped
_register(
    np.take_along_axis,
    _sig("take_along_axis", "arr", "indices", "axis", axis="<always written>"),
)
_register(np.tile, _sig("tile", "A", "reps", constants=("reps",)))
_register(
    np.pad,
    _sig(
        "pad",
        "array",
        "pad_width",
        "mode",
        mode="constant",
        constant_values=0,
        constants=("pad_width",),
    ),
)  # frontend.checked_call checks the mode and the padding's value
_register(np.median, _sig("median", "a", "axis", axis=None, keepdims=False))
for _f in (np.quantile, np.percentile):
    _register(
        _f,
        _sig(
            _f.__name__, "a", "q", "axis", axis=None, keepdims=False, constants=("q",)
        ),
    )
_register(
    np.nan_to_num,
    _sig("nan_to_num", "x", "copy", copy=True, nan=0.0, posinf=None, neginf=None),
)
_register(np.isfinite, _sig("isfinite", "x"))
_register(np.isnan, _sig("isnan", "x"))
for _f in (np.round, np.around):
    _register(_f, _sig("round", "a", "decimals", decimals=0))
_register(np.ptp, _sig("ptp", "a", "axis", axis=None, keepdims=False))  # frontend
for _f in (np.split, np.array_split):  # frontend.split
    _register(
        _f,
        _sig(
            _f.__name__,
            "ary",
            "indices_or_sections",
            "axis",
            axis=0,
            constants=("indices_or_sections",),
        ),
    )
# 1-D; frontend checks the mode
_register(np.convolve, _sig("convolve", "a", "v", "mode", mode="full"))
_register(np.correlate, _sig("correlate", "a", "v", "mode", mode="valid"))
_register(np.polyval, _sig("polyval", "p", "x"))  # frontend.polyval: Horner's scheme
# np.select of lists written out: nested np.where (frontend.select_lists)
_register(np.select, _sig("select_lists", "condlist", "choicelist", "default"))
for _f in (np.nansum, np.nanmean):  # frontend.call
    _register(_f, _sig(_f.__name__, "a", "axis", axis=None, keepdims=False))
_register(
    np.interp,
    _sig(
        "interp",
        "x",
        "xp",
        "fp",
        "left",
        "right",
        "period",
        left=None,
        right=None,
        period=None,
    ),
)  # frontend.interp
_register(
    np.repeat,
    _sig("repeat", "a", "repeats", "axis", axis=None, constants=("repeats",)),
)
_register(np.diff, _sig("diff", "a", "n", "axis", n=1, axis=-1))  # frontend.diff
_register(np.average, _sig("average", "a", "axis", "weights"))  # frontend.average
_register(np.take, _sig("take", "a", "indices", "axis"))  # frontend.take
_register(np.triu, _sig("triu", "m", "k", k=0))
_register(np.tril, _sig("tril", "m", "k", k=0))
_register(np.tensordot, _sig("tensordot", "a", "b", "axes"))  # frontend.tensordot
_register(np.kron, _sig("kron", "a", "b"))
_register(np.vdot, _sig("vdot", "a", "b"))  # frontend: np.dot of the raveled
_register(np.swapaxes, _sig("swapaxes", "a", "axis1", "axis2"))
_register(np.atleast_1d, _sig("atleast_1d", "a"))
_register(np.atleast_2d, _sig("atleast_2d", "a"))
_register(np.shape, _sig("shape", "a"))
_register(np.ndim, _sig("ndim", "a"))
_register(np.size, _sig("size", "a"))
_register(builtins.len, _sig("len", "obj"))
# `slice(start, stop, step)`: a gradient's index with bounds known at run time only
# (np.split's parts), read back for second derivatives; frontend.call fills it in
_register(builtins.slice, _sig("slice", "start", "stop", "step", variadic=True))

# Methods of arrays: `x.sum(axis=0)` is `np.sum(x, axis=0)`.
METHODS: dict[str, Signature] = {
    "sum": _sig("sum", "axis", axis=None, keepdims=False),
    "mean": _sig("mean", "axis", axis=None, keepdims=False),
    "var": _sig("var", "axis", axis=None, keepdims=False, ddof=0),
    "squeeze": _sig("squeeze", "axis", axis=None),
    "prod": _sig("prod", "axis", axis=None, keepdims=False),
    "cumsum": _sig("cumsum", "axis", axis=None),
    "cumprod": _sig("cumprod", "axis", axis=None),
    "std": _sig("std", "axis", axis=None, keepdims=False, ddof=0),
    "dot": _sig("dot", "b"),
    "transpose": _sig("transpose", "axes", axes=None),
    "swapaxes": _sig("swapaxes", "axis1", "axis2"),
}

# Array attributes read as values: `x.T` is a primitive, `x.shape` a non-differentiable value.
ATTRIBUTES = {"T": "T", "shape": "shape", "ndim": "ndim", "size": "size"}


def lookup(obj) -> Signature | None:
    entry = FUNCTIONS.get(id(obj))
    return entry[1] if entry is not None and entry[0] is obj else None


# -- control flow (rules/control.py) -------------------------------------------------
_register(np.all, _sig("all", "a", "axis", axis=None))
_register(np.any, _sig("any", "a", "axis", axis=None))
_register(builtins.int, _sig("int", "x"))

# -- arrays (rules/arrays.py) ----------------------------------------------------------
for _f in (np.max, np.amax):
    _register(_f, _sig("amax", "a", "axis", axis=None, keepdims=False))
for _f in (np.min, np.amin):
    _register(_f, _sig("amin", "a", "axis", axis=None, keepdims=False))
_register(np.where, _sig("where", "condition", "x", "y"))
_register(np.clip, _sig("clip", "a", "a_min", "a_max"))
_register(
    np.linalg.norm,
    _sig("norm", "x", "ord", "axis", ord=None, axis=None, keepdims=False),
)
_register(np.linalg.inv, _sig("inv", "a"))
_register(np.linalg.solve, _sig("solve", "a", "b"))
_register(np.linalg.det, _sig("det", "a"))
_register(np.linalg.slogdet, _sig("slogdet", "a"))
_register(np.linalg.cholesky, _sig("cholesky", "a"))
_register(np.linalg.eigh, _sig("eigh", "a"))
_register(np.linalg.eigvalsh, _sig("eigvalsh", "a"))
_register(  # frontend.svd: the triple `svd`, or its S alone (compute_uv=False)
    np.linalg.svd,
    _sig(
        "svd",
        "a",
        "full_matrices",
        "compute_uv",
        "hermitian",
        full_matrices=True,
        compute_uv=True,
        hermitian=False,
    ),
)
_register(np.linalg.qr, _sig("qr", "a", "mode", mode="reduced"))  # frontend.qr
_register(np.linalg.pinv, _sig("pinv", "a"))
_register(np.linalg.matrix_power, _sig("matrix_power", "a", "n"))  # frontend
_register(np.inner, _sig("inner", "a", "b"))
_register(np.cross, _sig("cross", "a", "b"))
_register(np.diag, _sig("diag", "v", "k", k=0))
_register(np.diagflat, _sig("diagflat", "v", "k", k=0))
_register(
    np.diagonal,
    _sig("diagonal", "a", "offset", "axis1", "axis2", offset=0, axis1=0, axis2=1),
)
_register(
    np.trace,
    _sig("trace", "a", "offset", "axis1", "axis2", offset=0, axis1=0, axis2=1),
)
_register(np.moveaxis, _sig("moveaxis", "a", "source", "destination"))
_register(np.einsum, _sig("einsum", "subscripts"))  # its operands: frontend
_register(np.zeros, _sig("zeros", "shape"))
_register(np.ones, _sig("ones", "shape"))
_register(np.arange, _sig("arange", "start", "stop", "step"))
_register(np.full, _sig("full", "shape", "fill_value"))
_register(np.zeros_like, _sig("zeros_like", "a"))
_register(np.ones_like, _sig("ones_like", "a"))
_register(np.logical_and, _sig("logical_and", "x1", "x2"))
_register(np.logical_or, _sig("logical_or", "x1", "x2"))
_register(np.logical_not, _sig("logical_not", "x"))
_register(builtins.float, _sig("float", "x"))
METHODS.update(
    {
        "max": _sig("amax", "axis", axis=None, keepdims=False),
        "min": _sig("amin", "axis", axis=None, keepdims=False),
        "copy": _sig("copy"),
        "repeat": _sig("repeat", "repeats", "axis", axis=None, constants=("repeats",)),
        "diagonal": _sig(
            "diagonal", "offset", "axis1", "axis2", offset=0, axis1=0, axis2=1
        ),
        "trace": _sig("trace", "offset", "axis1", "axis2", offset=0, axis1=0, axis2=1),
    }
)
# Functions of a sequence of arrays: the frontend passes the parts one by one.
SEQUENCE_FUNCTIONS = {
    id(np.stack): ("stack", np.stack),
    id(np.concatenate): ("concatenate", np.concatenate),
    id(np.hstack): ("hstack", np.hstack),
    id(np.vstack): ("vstack", np.vstack),
    id(np.column_stack): ("column_stack", np.column_stack),
    id(np.array): ("stack", np.array),
    id(np.asarray): ("stack", np.asarray),
    id(builtins.sum): ("sum", builtins.sum),
}
_register(np.eye, _sig("eye", "N", "M", "k", M=None, k=0, values=("M",)))

# -- what generated code calls, so that it can be differentiated again -------------------
_register(np.full_like, _sig("full_like", "a", "fill_value"))
_register(np.broadcast_to, _sig("broadcast_to", "array", "shape"))
_register(np.expand_dims, _sig("expand_dims", "a", "axis"))
_register(np.sign, _sig("sign", "x"))

# The helpers codegen writes into generated modules (helpers.HELPERS), by name:
# a function of that name defined in a module `adcompiler_generated.*`.
GENERATED_HELPERS = {
    "_unbroadcast": _sig("unbroadcast", "g", "x"),
    "_sum_over_batch": _sig("sum_over_batch", "g"),
    "_sum_rows": _sig("sum_rows", "x", "axis", axis=None, keepdims=False),
    "_mean_rows": _sig("mean_rows", "x", "axis", axis=None, keepdims=False),
    "_broadcast_like": _sig("broadcast_like", "t", "x"),
    "_matmul_lhs": _sig("matmul_lhs", "g", "b"),
    "_matmul_rhs": _sig("matmul_rhs", "a", "g"),
    "_matmul_lhs_b": _sig("matmul_lhs_b", "a", "g", "b"),
    "_dot_lhs": _sig("dot_lhs", "g", "b", "a"),
    "_dot_rhs": _sig("dot_rhs", "a", "g", "b"),
    "_inner_lhs": _sig("inner_lhs", "g", "b", "a"),
    "_inner_rhs": _sig("inner_rhs", "a", "g", "b"),
    "_matmul_rhs_a": _sig("matmul_rhs_a", "g", "b", "a"),
    "_count": _sig("count", "x", "out"),
    "_split_size": _sig("split_size", "n", "k"),
    "_stop_gradient": _sig("stop_gradient", "x"),
    "_astype_like": _sig("astype_like", "g", "x"),
    "_own": _sig("own", "x"),
    # read back so that a second derivative meets the loop it serves, and says so
    "_matmul_rows": _sig("matmul_rows", "a", "xs"),
    "_stack_trips": _sig("stack_trips", "values"),
    "_step": _sig("step", "x"),
    "_last_writes": _sig("last_writes", "g", "x", "idx"),
    "_undiagonal": _sig(
        "undiagonal", "g", "x", "offset", "axis1", "axis2", offset=0, axis1=0, axis2=1
    ),
    "_undiag": _sig("undiag", "g", "v", "k", k=0),
    "_untile": _sig("untile", "g", "x", "reps", constants=("reps",)),
    "_prod_others": _sig("prod_others", "x", "axis", axis=None),
    "_unpad": _sig("unpad", "g", "pad_width", constants=("pad_width",)),
    "_quantile_weights": _sig("quantile_weights", "x", "q", "axis", axis=None),
    "_accumulate_source": _sig("accumulate_source", "out", "axis"),
    "_unaccumulate": _sig("unaccumulate", "g", "source", "axis"),
    "_interp_segment": _sig("interp_segment", "x", "xp"),
    "_full_adjoint": _sig(
        "full_adjoint", "g", "a", "v", "mode", mode="full", correlate=False
    ),
    # the adjoints of a list of arrays: lists, one entry per part
    "_repeat_like": _sig("repeat_list", "g", "parts"),
    "_split_like": _sig("split_like", "g", "parts", "axis", axis=0),
    "_zeros_list": _sig("zeros_list", "parts"),
    "_add_each": _sig("add_each", "a", "b"),
    "_concat_part": _sig("concat_part", "g", "k", "parts", "axis", axis=0),
    # a loop's backward sweep: what its trips made, summed or stacked
    "_unbroadcast_sum": _sig("unbroadcast_sum", "gs", "x"),
    "_matmul_lhs_sum": _sig("matmul_lhs_sum", "gs", "bs", "a"),
    "_matmul_rhs_sum": _sig("matmul_rhs_sum", "as_", "gs", "b"),
    "_matmul_lhs_rows_sum": _sig("matmul_lhs_rows_sum", "gs", "xs", "a"),
    "_matmul_rhs_rows_sum": _sig("matmul_rhs_rows_sum", "xs", "gs", "b"),
    "_rows_matmul": _sig("rows_matmul", "xs", "b"),
    "_along": _sig("along", "w", "a", "axis"),
    "_vector": _sig("vector", "x"),
}
# The helpers among them whose result is a Python list.
LIST_HELPERS = {"repeat_list", "split_like", "zeros_list", "add_each"}
# `np.multiply.outer(a, b)`: a method of a ufunc, looked up by (ufunc, method).
UFUNC_METHODS = {
    (np.multiply, "outer"): _sig("multiply_outer", "a", "b"),
    # the adjoint of np.repeat by a list: the sums of runs
    (np.add, "reduceat"): _sig("add_reduceat", "array", "indices", "axis", axis=0),
    # running extremes (rules/arrays.py)
    (np.maximum, "accumulate"): _sig("maximum_accumulate", "array", "axis", axis=0),
    (np.minimum, "accumulate"): _sig("minimum_accumulate", "array", "axis", axis=0),
}


def is_generated(obj) -> bool:
    """A function of a module adcompiler generated."""
    return str(getattr(obj, "__module__", "")).startswith("adcompiler_generated.")


def lookup_generated(obj) -> Signature | None:
    if is_generated(obj):
        return GENERATED_HELPERS.get(getattr(obj, "__name__", None))
    return None


def _register_api() -> None:
    from .api import stop_gradient

    _register(stop_gradient, _sig("stop_gradient", "x"))


_register_api()
