"""Generated modules are black-formatted, though black only formats their functions."""

from pathlib import Path

import black
import pytest

from adcompiler.codegen import HELPERS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_each_helper_is_written_black_formatted(name):
    text = HELPERS[name].strip("\n") + "\n"
    assert black.format_str(text, mode=black.Mode()) == text


@pytest.mark.parametrize("path", sorted((ROOT / "generated").glob("*.py")), ids=str)
def test_generated_modules_are_black_formatted(path):
    text = path.read_text()
    assert black.format_str(text, mode=black.Mode()) == text
