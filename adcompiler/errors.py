"""Errors the compiler reports to its users."""

from collections import namedtuple


class Loc(namedtuple("Loc", "file line col text", defaults=("",))):
    """A place in the user's source: file, 1-based line, 0-based column, and the line's text."""

    __slots__ = ()  # a named tuple, not a dataclass: `import adcompiler` stays cheap

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"


class ADCompileError(Exception):
    """The user's function cannot be differentiated as written.

    The message names the construct, the place (file:line:col), shows the
    source line with a caret under the column, and gives a hint where one helps.
    """

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        self.message = message
        self.loc = loc
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"{self.loc}: {self.message}" if self.loc else self.message]
        if self.loc and self.loc.text:
            line = self.loc.text.rstrip("\n")
            stripped = line.lstrip()
            indent = len(line) - len(stripped)
            parts.append(f"    {stripped}")
            parts.append("    " + " " * max(self.loc.col - indent, 0) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)
