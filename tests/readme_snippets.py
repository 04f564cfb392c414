"""The README's quoted generated code and graphs, kept equal to what the compiler writes.

A fenced block right after a marker line is a quotation:

    <!-- generated/seed_nn__grad_score__W_b.py -->      the module's function
    <!-- adc graph examples/seed_backprop.py::f --at x=1,y=2,z=0 -->   the Mermaid graph

`python tests/readme_snippets.py` rewrites every quoted block from its source;
`tests/test_readme.py` fails when one is out of date.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- (generated/\S+\.py|adc graph .+?) -->$")


def quoted(source: str) -> str:
    """The text a marker quotes: a generated function, or a graph."""
    if source.startswith("generated/"):
        text = (ROOT / source).read_text()
        start = re.search(r"^def (?!_)", text, re.M).start()
        return text[start:].rstrip("\n")
    from adcompiler.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(source.split()[1:]) == 0
    return out.getvalue().rstrip("\n")


def synced(readme: str) -> str:
    lines = readme.split("\n")
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        m = MARKER.match(lines[i])
        if m and i + 1 < len(lines) and lines[i + 1].startswith("```"):
            out.append(lines[i + 1])
            end = lines.index("```", i + 2)
            out.append(quoted(m.group(1)))
            i = end
            continue
        i += 1
    return "\n".join(out)


if __name__ == "__main__":
    path = ROOT / "README.md"
    new = synced(path.read_text())
    path.write_text(new)
    sys.exit(0)
