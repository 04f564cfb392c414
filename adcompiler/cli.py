"""The `adc` command (also `python -m adcompiler`)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from . import api, cache
from .errors import ADCompileError


def _python_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(
                f for f in p.rglob("*.py") if cache.DEFAULT_DIRNAME not in f.parts
            )
        else:
            files.append(p)
    return files


def _import_file(path: Path) -> None:
    """Run a module's top level, where its `grad(...)` calls compile."""
    name = f"adc_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))


def compile_paths(paths: list[str], out: str | None) -> int:
    if out is not None:
        os.environ[cache.ENV_VAR] = out
    failures = 0
    compiled = 0
    for path in _python_files(paths):
        before = len(api.COMPILED)
        try:
            _import_file(path)
        except ADCompileError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
        except Exception as exc:  # the user's module itself failed to import
            failures += 1
            print(f"error: {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        for c in api.COMPILED[before:]:
            compiled += 1
            what = "compiled" if c.status != "fresh" else "up to date"
            print(f"{what}: {c.origin} -> {c.path}")
    print(f"{compiled} function(s) compiled, {failures} failure(s)")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="adc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "compile", help="compile the gradients defined in files or folders"
    )
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", help="folder for the generated modules")
    args = parser.parse_args(argv)
    if args.command == "compile":
        return compile_paths(args.paths, args.out)
    return 2


if __name__ == "__main__":
    sys.exit(main())
