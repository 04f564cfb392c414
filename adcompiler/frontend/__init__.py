"""Python source → SSA IR.

Reads a function's source with `inspect`, parses it with `ast`, resolves the
names it calls through the function's globals, closure and builtins, and
lowers its body to three-address SSA form with the emitter: each reassigned
Python variable becomes a new version (`z`, `z_1`, ...). Anything it cannot
lower raises `ADCompileError` with file, line, column and the source line.

    source.py       reading the source; what constructs are called in errors
    scope.py        what the function's names refer to; its user functions
    lowering.py     statements: assignments, branches, loops (`Lowering`)
    expressions.py  operators, names, subscripts, attributes
    calls.py        calls: NumPy through resolve's signatures, user functions
    numpy_calls.py  NumPy functions lowered as other primitives
    exits.py        how a block leaves: return, break, continue
    readback.py     generated code's checks, read back for higher derivatives
"""

from .exits import FunctionExit
from .lowering import Lowering, lower
from .scope import bind_constants, closure_constants, dependency_text
from .source import CONSTRUCTS, Source, construct_name, read_source

__all__ = [
    "CONSTRUCTS",
    "FunctionExit",
    "Lowering",
    "Source",
    "bind_constants",
    "closure_constants",
    "construct_name",
    "dependency_text",
    "lower",
    "read_source",
]
