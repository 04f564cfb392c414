"""Generated modules are black-formatted, though black only formats their functions,
and written as a person would."""

from pathlib import Path

import black
import numpy as np
import pytest
from adcheck import check

from adcompiler import grad
from adcompiler.helpers import HELPERS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_each_helper_is_written_black_formatted(name):
    text = HELPERS[name].strip("\n") + "\n"
    assert black.format_str(text, mode=black.Mode()) == text


@pytest.mark.parametrize("path", sorted((ROOT / "generated").glob("*.py")), ids=str)
def test_generated_modules_are_black_formatted(path):
    text = path.read_text()
    assert black.format_str(text, mode=black.Mode()) == text


def reductions(x, xs):
    y = np.tanh(x)
    return np.sum(y) ** 2 * np.sum(xs) + np.sin(np.mean(y, axis=0)).sum() + np.max(x)


def test_reductions_of_numpy_values_are_written_as_methods(out_dir, rng):
    """`np.tanh(x)` is a NumPy array or scalar, so its reductions are its methods,
    as an expert writes them and without `np.sum`'s dispatch; an argument may be a
    Python number or a list, so its own reductions keep the functions."""
    x = rng.normal(size=(3, 4))
    source = check(reductions, x, [1.0, 2.0])
    assert "y.sum()" in source and "y.mean(axis=0)" in source
    assert "np.max(x)" in source and "np.sum(xs)" in source
    # for a Python float x, y is a NumPy scalar, which has the methods too
    y = np.tanh(1.5)
    assert grad(squared_sum)(1.5) == pytest.approx(2 * y * (1 - y * y))


def squared_sum(x):
    return np.sum(np.tanh(x)) ** 2


def long_named_softmax(weights, inputs, labels):
    logits = inputs @ weights
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(labels * log_probabilities)


def test_a_statement_too_long_with_its_comment_is_split_as_black_splits_it(
    out_dir, rng
):
    """Black formats the code before the source map adds its comments; a line
    that no longer fits is split then, the comment closing the statement."""
    labels = np.eye(3)[rng.integers(0, 3, size=5)]
    check(long_named_softmax, rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), labels)
    (path,) = out_dir.glob("*long_named_softmax*.py")
    text = path.read_text()
    assert black.format_str(text, mode=black.Mode()) == text


def _branch_tails(source: str) -> list[list[str]]:
    """The names each branch of the gradient's `if` binds, in order."""
    import ast

    branch = next(
        n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.If) and n.orelse
    )
    return [
        [s.targets[0].id for s in body if isinstance(s, ast.Assign)]
        for body in (branch.body, branch.orelse)
    ]


def test_branches_bind_the_results_in_the_order_they_are_returned(out_dir, monkeypatch):
    """In the seed gradient each branch binds d_x, d_y, d_z as the hand derivation
    writes them, not in the order the adjoints were made."""
    import inspect

    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # the branches' form

    def f(x, y, z):
        return (x + y) * max(y, z)

    g = grad(f, argnums=(0, 1, 2), out=out_dir)
    assert _branch_tails(inspect.getsource(g)) == [["d_x", "d_y", "d_z"]] * 2
    assert g(1.0, 2.0, 0.0) == (2.0, 5.0, 0.0)
    assert g(1.0, 0.0, 2.0) == (2.0, 2.0, 1.0)


def test_the_results_keep_their_order_where_one_reads_another():
    import ast

    from adcompiler.codegen.body import _in_result_order

    rank = {"d_x": 0, "d_y": 1}

    def order(source):
        stmts = _in_result_order(ast.parse(source).body, rank)
        return [s.targets[0].id for s in stmts]

    assert order("t = a\nd_y = b\nd_x = a * 2.0") == ["t", "d_x", "d_y"]
    assert order("d_y = b\nd_x = d_y * 2.0") == ["d_y", "d_x"]  # reads d_y
    assert order("d_y = np.multiply(a, b, out=a)\nd_x = a") == ["d_y", "d_x"]
