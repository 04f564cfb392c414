"""The derivative table: every primitive the IR knows, with its rules."""

# Importing them fills PRIMS.
from . import arrays, control, generated, jvp, linalg, numpy  # noqa: F401
from .core import PRIMS, Primitive, defprim

__all__ = ["PRIMS", "Primitive", "defprim"]
