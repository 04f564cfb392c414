"""generated/ holds exactly what this compiler writes for examples/.

`adc check` compares hashes of the origin source and the compiler version;
a change to the compiler that keeps its version number is caught here:
every committed module is regenerated into a temporary folder and compared.
"""

from pathlib import Path

from adcompiler.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_committed_modules_are_what_the_compiler_writes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ADC_PASSES_OFF", raising=False)  # committed with every pass on
    assert main(["compile", str(ROOT / "examples"), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.py")}
    committed = {p.name: p.read_text() for p in (ROOT / "generated").glob("*.py")}
    assert sorted(fresh) == sorted(
        committed
    ), "regenerate: adc compile examples --out generated"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"regenerate with `adc compile examples --out generated`: {stale}"
