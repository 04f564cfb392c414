"""adcompiler: source-to-source automatic differentiation for NumPy code."""

__version__ = "0.1.0"

from .api import grad, stop_gradient, value_and_grad

# Imported on first use: `import adcompiler` stays cheap for the cached @grad path.
_LAZY = {
    "ADCompileError": "errors",
    "vjp": "transforms",
    "jvp": "transforms",
    "jacfwd": "transforms",
    "jacrev": "transforms",
    "jacobian": "transforms",
    "hessian": "transforms",
    "hvp": "transforms",
    "custom_vjp": "custom",
    "defvjp": "custom",
    "graph": "compgraph",
}

__all__ = [
    "__version__",
    "grad",
    "stop_gradient",
    "value_and_grad",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'adcompiler' has no attribute {name!r}")
