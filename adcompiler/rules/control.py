"""Primitives of control flow and of the tape the backward sweep reads.

None of these has a derivative: conditions and flags steer the computation,
and the tape (a Python list) carries the values a loop's backward sweep needs
from each trip of its forward sweep.
"""

from __future__ import annotations

import ast

from .core import OTHER, SCALAR, defprim

defprim("and", ("boolop", ast.And), None, None, shape=OTHER)
defprim("or", ("boolop", ast.Or), None, None, shape=OTHER)
defprim("not", ("unary", ast.Not), None, shape=OTHER)
defprim("all", ("np", "all"), None, shape=OTHER)
defprim("any", ("np", "any"), None, shape=OTHER)
defprim("int", ("builtin", "int"), None, shape=SCALAR)
# `tape = []`, `tape.append((a, b))`, `a, b = tape.pop()`.
defprim("new_tape", ("list",))
defprim("push", ("push",))
# A tape read back from a generated gradient (`tape.pop()` in its backward loop) is
# differentiated in forward mode only (rules/jvp.py); reverse mode reports it.
defprim("pop", ("pop",), None)
# vjp: where the forward sweep ends and the backward function (a nested def) begins.
defprim("begin_backward", ("begin_backward",))
# A custom rule's cotangent must have its argument's shape (adcompiler/custom.py).
defprim("check_cotangent", ("check_cotangent",), None, None, None, None)
