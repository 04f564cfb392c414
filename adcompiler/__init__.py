"""adcompiler: source-to-source automatic differentiation for NumPy code."""

__version__ = "0.1.0"

from .api import grad, value_and_grad
from .errors import ADCompileError

__all__ = ["ADCompileError", "__version__", "grad", "value_and_grad"]
