"""The derivative table: every primitive the IR knows, with its rules."""

from . import arrays as _arrays  # noqa: F401  (fills PRIMS)
from . import control as _control  # noqa: F401  (fills PRIMS)
from . import numpy as _numpy  # noqa: F401  (fills PRIMS)
from .core import PRIMS, Primitive, defprim

__all__ = ["PRIMS", "Primitive", "defprim"]
