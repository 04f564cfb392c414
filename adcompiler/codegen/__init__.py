"""IR → Python source: an `ast.Module`, unparsed, formatted with black.

The generated module imports NumPy and nothing else: any helper it calls
(`_unbroadcast`, ...) is written into it, and only when used. Single-use
temporaries are inlined into the expression that reads them while the line
stays short; the values that remain get readable names.

    expressions.py  IR expressions → Python expressions
    values.py       which values are NumPy; which arrays may be written into
    checks.py       the checks of arguments and results, and the casts back
    body.py         IR blocks → statements (`_Body`)
    functions.py    IR functions → `def`s
    module.py       the module: functions, helpers, imports, black
"""

from .expressions import expression
from .module import black_formatted, module_source

__all__ = ["black_formatted", "expression", "module_source"]
