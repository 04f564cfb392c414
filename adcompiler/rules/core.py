"""The shape of the rule table: one `Primitive` per operation the IR knows.

A primitive says how it is printed (`form`), how shapes flow through it
(`shape`), and its vector-Jacobian product: one entry per positional
argument, each a function `(e, g, out, *args, **kwargs) -> Atom` building the
contribution to that argument's adjoint from the upstream adjoint `g` with the
emitter `e` (see `autodiff/emitter.py`). `None` marks an argument that has no
derivative (an axis, a shape, a condition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..ir import Const

VJP = Callable[..., Any]

# How a primitive's result shape relates to its arguments (see passes/shapes.py).
ELEMENTWISE = "elementwise"  # result has the broadcast shape of the array arguments
SCALAR = "scalar"  # Python scalar function: arguments and result are scalars
OTHER = "other"  # anything else: the shape analysis learns nothing


@dataclass
class Primitive:
    name: str
    form: tuple
    vjp: tuple[VJP | None, ...] = ()
    shape: str = OTHER
    # Elementwise binary ops broadcast; their argument adjoints are summed back
    # to the argument's shape (unbroadcast) unless the shapes provably agree.
    broadcasts: bool = False
    # Extra shape facts: `infer(shapes, out, *args, **kwargs)` (passes/shapes.py).
    infer: Callable[..., None] | None = None
    # Jacobian-vector product: `jvp(e, tangents, out, *args, **kwargs)` with one
    # tangent (or None for zero) per positional argument; see rules/jvp.py.
    jvp: Callable[..., Any] | None = None
    doc: str = ""

    @property
    def differentiable(self) -> bool:
        return any(r is not None for r in self.vjp)


PRIMS: dict[str, Primitive] = {}

# Arguments without a derivative rule that do carry a derivative: a gradient
# through them would be silently zero, so it is an error instead. Most are the
# helpers of backward sweeps, met when a generated gradient is differentiated
# again (other missing rules are derivatives that are zero: comparisons,
# shapes, indices, `np.sign`, `stop_gradient`). Activity analysis counts them as varied,
# so that the backward sweep meets them and reports them.
NO_RULE_YET = {
    "tensordot_lhs": (0, 1, 2),
    "tensordot_rhs": (0, 1, 2),
    "kron_lhs": (0, 1, 2),
    "kron_rhs": (0, 1, 2),
    "cumprod_vjp": (0, 1, 2),
    "cumprod_jvp": (0, 1, 2),
    "take": (0,),
    "add_each": (0, 1),
    "concat_part": (0,),
    "joined_part": (0,),
    "split_like": (0,),
    "repeat_list": (0,),
    "index_add": (0, 2),
    "index_add_at": (0, 2),
    "index_add_any": (0, 2),
    "matmul_lhs_b": (0, 1, 2),
    "matmul_rhs_a": (0, 1, 2),
    "matmul_rows": (0, 1),
    "stack_trips": (0,),
    "last_writes": (0,),
    "prod_others": (0,),
    "rows_matmul": (0, 1),
    "iadd": (0, 1),
    "add_reduceat": (0,),
    "take_along_axis": (0,),
    # a backward sweep's, read back (forward mode has their rules, rules/jvp.py)
    "unbroadcast_sum": (0,),
    "matmul_lhs_sum": (0, 1),
    "matmul_rhs_sum": (0, 1),
    "matmul_lhs_rows_sum": (0, 1),
    "matmul_rhs_rows_sum": (0, 1),
    "pop": (0,),
    "full_adjoint": (0,),
}


# Primitives whose result may share memory with an argument: codegen never updates
# one in place, and a gradient that may be one is copied (autodiff/fresh.py).
VIEWS = frozenset(
    {
        "getitem",
        "reshape",
        "ravel",
        "T",
        "transpose",
        "broadcast_to",
        "expand_dims",
        "moveaxis",
        "einsum",  # `np.einsum("ij->ji", a)` is a view of a
        "squeeze",
        "flip",
        "diag",  # np.diag of a matrix is a view of its diagonal
        "diagonal",
        "undiag",
        "swapaxes",
        "unpad",  # a block of g
        "atleast_1d",  # x itself where it has the rank
        "atleast_2d",
        "unbroadcast",
        "pop",
        "matmul_lhs",
        "matmul_rhs",
        "dot_lhs",
        "dot_rhs",
        "inner_lhs",
        "inner_rhs",
    }
)

# The matmul adjoints' helpers: each returns a new NumPy array, whatever its operands.
MATMUL_HELPERS = frozenset(
    {
        "matmul_lhs",
        "matmul_rhs",
        "matmul_lhs_sum",
        "matmul_rhs_sum",
        "matmul_lhs_rows_sum",
        "matmul_rhs_rows_sum",
        "dot_lhs",  # np.dot's, which fall back on them
        "dot_rhs",
        "inner_lhs",  # np.inner's, where a scalar operand is possible
        "inner_rhs",
    }
)


def defprim(name: str, form: tuple, *vjp: VJP | None, **options) -> Primitive:
    prim = Primitive(name, form, tuple(vjp), **options)
    PRIMS[name] = prim
    return prim


def is_none(a) -> bool:
    """An option left out or given as None (`axis=None`): a rule's keyword atom."""
    return a is None or getattr(a, "value", 0) is None


def axis_kwargs(axis) -> dict:
    """`{"axis": axis}` for a reduction or a flip along `axis`; nothing for None."""
    return {} if is_none(axis) else {"axis": axis}


def value_of(atom, default):
    """The value of an option given as a constant atom, or its default when left out."""
    return default if atom is None else getattr(atom, "value", atom)


def dim(e, a, i: int):
    """The length of axis `i` of `a`: a constant where example arguments tell it,
    else `np.shape(a)[i]`."""
    shape = e.shapes.concrete(a)
    if shape is not None and -len(shape) <= i < len(shape):
        return Const(shape[i])
    return e.call("getitem", e.call("shape", a), Const(i), basic=Const(True))


# Primitives whose value is not an array (the pairs of `np.linalg.slogdet`,
# `np.linalg.eigh` and `np.linalg.qr`, the triple of `np.linalg.svd`): never
# the witness of a shape (`np.full_like(x, g)`), whatever the shape facts say.
NOT_ARRAYS = frozenset({"slogdet", "eigh", "svd", "qr"})
