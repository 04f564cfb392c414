"""The derivative table: every primitive the IR knows, with its rules."""

from . import arrays, control, jvp, numpy  # noqa: F401  (importing them fills PRIMS)
from .core import PRIMS, Primitive, defprim

__all__ = ["PRIMS", "Primitive", "defprim"]
