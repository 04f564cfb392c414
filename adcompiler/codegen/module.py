"""IR functions → a generated module's text: the functions, the helpers
they call and NumPy's import, formatted with black.
"""

from __future__ import annotations

import ast

from ..helpers import HELPERS, helper_closure
from ..ir import Function
from .functions import function_def


def _bare_returns(text: str) -> str:
    """`return (a, b)` → `return a, b`, as a person writes it (ast.unparse adds the parentheses)."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        head = "return ("
        if " = (" in stripped and "," in stripped.split(" = (")[0]:
            head = stripped.split(" = (")[0] + " = ("  # `a, b = (b, a)` → `a, b = b, a`
        if stripped.startswith(head) and stripped.endswith(")"):
            inner = stripped[len(head) : -1]
            depth = 0
            for ch in inner:
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
                if depth < 0:
                    break
            else:
                if "," in inner:
                    line = line[: len(line) - len(stripped)] + head[:-1] + inner
        lines.append(line)
    return "\n".join(lines)


def module_source(functions: list[tuple[Function, str | None]]) -> str:
    """The text of a module defining the given functions (black-formatted)."""
    defs, helpers = [], set()
    for fn, doc in functions:
        node, used = function_def(fn, doc)
        defs.append(node)
        helpers |= used
    imports = [ast.Import([ast.alias("numpy", "np")])]
    for h in sorted(h for h in helpers if h.startswith("from ")):
        imports += ast.parse(h).body  # a function registered with adcompiler.defvjp
    helpers = {h for h in helpers if not h.startswith("from ")}
    helpers = helper_closure(helpers)
    module = ast.Module(imports + defs, [])
    text = _bare_returns(ast.unparse(ast.fix_missing_locations(module)))
    lines = text.split("\n")
    head = "\n".join(lines[: len(imports)])
    body = black_formatted("\n".join(lines[len(imports) :]))
    # The helpers are written black-formatted (tests/test_codegen_format.py):
    # black formats only the generated functions, the part that varies, and
    # the module reads as if black had formatted it whole.
    texts = [HELPERS[h].strip("\n") for h in sorted(helpers)]
    # module constants (`_FLOAT64 = np.dtype("float64")`) follow the imports
    # after one blank line, as black writes them
    constants = [t for t in texts if not t.startswith("def ")]
    if constants:
        head += "\n\n" + "\n".join(constants)
    parts = [head] + [t for t in texts if t.startswith("def ")] + [body]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


_FORMATTED: dict[str, str] = {}


def black_formatted(text: str) -> str:
    """`text` through black, remembered: a function compiled again formats at once."""
    if text not in _FORMATTED:
        import black

        _FORMATTED[text] = black.format_str(text, mode=black.Mode())
    return _FORMATTED[text]
