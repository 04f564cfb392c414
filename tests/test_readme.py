"""The README quotes the generated code and graphs as the compiler writes them today."""

import os

import pytest
from readme_snippets import MARKER, ROOT, synced


def test_readme_quotes_are_current(monkeypatch):
    if os.environ.get("ADC_PASSES_OFF"):
        pytest.skip("the README quotes the optimised code")
    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    assert sum(bool(MARKER.match(line)) for line in text.splitlines()) >= 3
    assert synced(text) == text, "run: python tests/readme_snippets.py"


def test_quick_start_is_two_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) == 2
