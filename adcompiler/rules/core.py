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


def defprim(name: str, form: tuple, *vjp: VJP | None, **options) -> Primitive:
    prim = Primitive(name, form, tuple(vjp), **options)
    PRIMS[name] = prim
    return prim
