"""Errors the compiler reports to its users."""


class Loc:
    """A place in the user's source: file, 1-based line, 0-based column, and the line's text."""

    # a plain class, not a named tuple or a dataclass: `import adcompiler` stays cheap
    __slots__ = ("file", "line", "col", "text")

    def __init__(self, file: str, line: int, col: int, text: str = ""):
        self.file, self.line, self.col, self.text = file, line, col, text

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def __repr__(self) -> str:
        return f"Loc({self.file!r}, {self.line}, {self.col}, {self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Loc) and (
            (self.file, self.line, self.col, self.text)
            == (other.file, other.line, other.col, other.text)
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.col, self.text))


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
