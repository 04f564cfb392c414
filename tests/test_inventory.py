"""Every `ast` node class of the running Python either differentiates or is rejected well.

The node classes are found by walking `ast.AST`'s subclasses, so a new
Python version's new node shows up here as a failing test that says to add
it to `inventory_cases.TABLE`, not as a crash in a user's hands.
"""

from __future__ import annotations

import _ast
import ast
import importlib.util
import re
import sys

import numpy as np
import pytest
from conftest import numeric_grad
from inventory_cases import PRELUDE, SINCE, TABLE, Rejected, Supported, Unreachable

from adcompiler import ADCompileError, grad


def node_classes() -> list[type]:
    """The concrete node classes of this Python, deprecated aliases included.

    Abstract bases (`stmt`, `expr`, `operator`, `pattern`, ...) are the classes of
    `_ast` that other `_ast` classes derive from; the deprecated aliases (`Num`,
    `Index`, ...) are the subclasses that `ast.py` defines itself.
    """
    found: list[type] = []

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__ == "ast" and sub not in found:
                found.append(sub)
                walk(sub)

    walk(ast.AST)
    real = {v for v in vars(_ast).values() if isinstance(v, type)}

    def abstract(cls: type) -> bool:
        return cls in real and any(s in real for s in cls.__subclasses__())

    return sorted((c for c in found if not abstract(c)), key=lambda c: c.__name__)


NODES = node_classes()


class PoorMessage(AssertionError):
    """The error is raised at the right place but does not say what it should."""


def test_every_node_class_has_an_entry():
    missing = [c.__name__ for c in NODES if c.__name__ not in TABLE]
    assert not missing, (
        f"Python {sys.version_info[0]}.{sys.version_info[1]} has ast node classes "
        f"that the inventory does not know: {', '.join(missing)}. Add an entry for each "
        "to TABLE in tests/inventory_cases.py: Supported (a function using it whose "
        "gradient is checked), Rejected (the ADCompileError it gives) or Unreachable "
        "(why it cannot appear in a function body)."
    )


def test_table_names_are_node_classes():
    """A table entry names a node class of this Python or of a newer one in SINCE."""
    names = {c.__name__ for c in NODES}
    for name in TABLE:
        if name in SINCE and sys.version_info[:2] < SINCE[name]:
            assert not hasattr(ast, name), name
        else:
            assert (
                name in names
            ), f"{name} is in the inventory but is not an ast node class"


def entries(name: str) -> tuple:
    entry = TABLE.get(name)
    return entry if isinstance(entry, tuple) else (entry,)


def params():
    for cls in NODES:
        cases = entries(cls.__name__)
        for i, entry in enumerate(cases):
            marks = []
            if isinstance(entry, Rejected) and entry.fix:
                marks.append(
                    pytest.mark.xfail(strict=True, raises=PoorMessage, reason=entry.fix)
                )
            elif isinstance(entry, Supported) and entry.fix:
                marks.append(pytest.mark.xfail(strict=True, reason=entry.fix))
            suffix = f"-{i}" if len(cases) > 1 else ""
            yield pytest.param(cls, i, marks=marks, id=cls.__name__ + suffix)


def load(tmp_path, name: str, src: str):
    """Write `src` under the prelude to a real file and import it: inspect reads files."""
    path = tmp_path / f"inventory_{name}.py"
    path.write_text(PRELUDE + src)
    spec = importlib.util.spec_from_file_location(f"inventory_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, str(path)


@pytest.mark.parametrize("cls, case", list(params()))
def test_node(cls, case, tmp_path, out_dir):
    name = cls.__name__
    entry = entries(name)[case]
    if entry is None:
        pytest.fail(
            f"ast.{name} is not in the inventory (new in Python "
            f"{sys.version_info[0]}.{sys.version_info[1]}?): add it to TABLE in "
            "tests/inventory_cases.py"
        )
    if isinstance(entry, Unreachable):
        assert entry.reason
        return
    tree = ast.parse(entry.src)
    assert any(
        isinstance(n, cls) for n in ast.walk(tree)
    ), f"the {name} snippet has no {name}"
    module, path = load(tmp_path, name, entry.src)
    if isinstance(entry, Supported):
        check_supported(module.f, entry)
    else:
        check_rejected(module.f, entry, path)


def check_supported(f, entry: Supported) -> None:
    args = [np.array(a, dtype=np.float64) for a in entry.args]
    nums = tuple(range(len(args)))
    grads = grad(f, argnums=nums)(*args)
    for i, got in enumerate(grads):
        assert np.shape(got) == args[i].shape
        assert np.asarray(got).dtype == np.float64
        want = numeric_grad(f, list(args), i)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def check_rejected(f, entry: Rejected, path: str) -> None:
    with open(path) as fh:
        lines = fh.read().splitlines()
    (line,) = [i + 1 for i, text in enumerate(lines) if text.rstrip().endswith("# <-")]
    text = lines[line - 1]
    col = text.index(entry.at)
    try:
        grad(f)
    except ADCompileError as exc:
        err = exc
    else:
        pytest.fail(
            "this now compiles: make its inventory entry Supported, with a gradient check"
        )
    # Where: file:line:col, the source line, a caret under the column.
    assert err.loc is not None, str(err)
    assert (err.loc.file, err.loc.line, err.loc.col) == (path, line, col), str(err)
    first, quoted, caret, *rest = str(err).splitlines()
    assert first.startswith(f"{path}:{line}:{col + 1}: "), first
    assert quoted == "    " + text.lstrip(), quoted
    assert caret.strip() == "^"
    assert quoted[caret.index("^") :].startswith(entry.at), (quoted, caret)
    # What: the construct's name, and the hint where one helps.
    if not re.search(entry.names, first):
        raise PoorMessage(f"{first!r} does not name the construct ({entry.names!r})")
    hints = [r for r in rest if r.startswith("hint: ")]
    assert len(hints) == len(rest) <= 1, rest
    if entry.hint and not (hints and re.search(entry.hint, hints[0])):
        raise PoorMessage(f"no hint matching {entry.hint!r}: {rest}")
