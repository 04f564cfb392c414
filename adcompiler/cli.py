"""The `adc` command (also `python -m adcompiler`).

    adc compile PATH... [--out DIR]   compile every marked function into DIR
    adc check PATH... [--out DIR]     fail if a generated module is missing, stale or edited
    adc show FILE::FUNC [--out DIR]   print the generated module of FUNC
    adc ir FILE::FUNC                 print FUNC's SSA IR before and after differentiation

A file's functions are "marked" by the transforms its top level runs
(`@grad`, `grad(f)`, `value_and_grad`, ...): `adc` imports each file with
the transforms in a session that records them, keeps going past a function
that fails, and (for check, show and ir) writes nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from . import api, cache
from .errors import ADCompileError

_SKIP = {cache.DEFAULT_DIRNAME, "__pycache__"}


def _python_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(
                f
                for f in p.rglob("*.py")
                if not _SKIP & set(f.parts)
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return files


def _import_file(path: Path) -> None:
    """Run a module's top level, where its transforms compile."""
    name = f"adc_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)


def _run(paths: list[str], mode: str, out: str | None, force: bool = False):
    """Import each file in a session; returns (file, its records) and (file, import error) pairs."""
    results: list[tuple[Path, list[api.Compiled]]] = []
    broken: list[tuple[Path, BaseException]] = []
    with api.session(mode, out, force) as session:
        for path in _python_files(paths):
            start = len(session.records)
            try:
                _import_file(path)
            except Exception as exc:  # the user's module itself failed to import
                broken.append((path, exc))
            results.append((path, session.records[start:]))
    return results, broken


def _error_text(rec: api.Compiled) -> str:
    exc = rec.error
    loc = getattr(exc, "loc", None)
    text = str(exc)
    if isinstance(exc, ADCompileError) and loc is not None:
        return text.replace(f"{loc}: ", f"{loc}: error: ", 1)
    what = "" if isinstance(exc, ADCompileError) else f"{type(exc).__name__}: "
    return f"{rec.where}: error: {rec.qualname}: {what}{text}"


def _import_error_text(path: Path, exc: BaseException) -> str:
    return f"{path}: error: the file failed to import: {type(exc).__name__}: {exc}"


def compile_paths(paths: list[str], out: str | None, force: bool = False) -> int:
    results, broken = _run(paths, "compile", out, force)
    counts = {"compiled": 0, "up to date": 0, "failed": 0}
    for _, records in results:
        for rec in records:
            if rec.status == "failed":
                counts["failed"] += 1
                print(_error_text(rec), file=sys.stderr)
                continue
            verb = "up to date" if rec.written is None else "compiled"
            counts[verb] += 1
            where = rec.written or rec.path
            why = (
                f" ({rec.status}: {rec.reason})"
                if rec.status in ("stale", "edited")
                else ""
            )
            print(f"{verb}: {rec.origin} -> {where}{why}")
    for path, exc in broken:
        print(_import_error_text(path, exc), file=sys.stderr)
    total = sum(counts.values())
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    extra = f", {len(broken)} file(s) failed to import" if broken else ""
    print(f"{total} function(s): {summary}{extra}")
    return 1 if counts["failed"] or broken else 0


def check_paths(paths: list[str], out: str | None) -> int:
    results, broken = _run(paths, "check", out)
    total = bad = 0
    for _, records in results:
        for rec in records:
            total += 1
            if rec.status == "fresh":
                continue
            bad += 1
            if rec.status == "failed":
                print(_error_text(rec), file=sys.stderr)
            else:
                print(f"{rec.path}: {rec.status}: {rec.reason} (for {rec.origin})")
    for path, exc in broken:
        bad += 1
        print(_import_error_text(path, exc), file=sys.stderr)
    if bad:
        print(f"{bad} of {total} generated module(s) need `adc compile`")
        return 1
    print(f"{total} generated module(s) up to date")
    return 0


def _find(spec: str, out: str | None) -> list[api.Compiled]:
    """The transforms of `FILE::FUNC`: FUNC is the origin function's name or qualname,
    or the generated function's name (`grad_score`)."""
    file, sep, name = spec.rpartition("::")
    if not sep or not file or not name:
        raise SystemExit(f"adc: expected FILE::FUNC, got {spec!r}")
    results, broken = _run([file], "check", out)
    records = [r for _, recs in results for r in recs]
    found = [
        r
        for r in records
        if name in (r.qualname, r.qualname.rsplit(".", 1)[-1], r.function)
    ]
    if not found:
        for path, exc in broken:
            print(_import_error_text(path, exc), file=sys.stderr)
        marked = ", ".join(sorted({r.qualname for r in records})) or "none"
        raise SystemExit(
            f"adc: no function {name!r} marked for differentiation in {file} "
            f"(marked: {marked})"
        )
    return found


def show(spec: str, out: str | None) -> int:
    code = 0
    for rec in _find(spec, out):
        if rec.status == "failed":
            print(_error_text(rec), file=sys.stderr)
            code = 1
        elif rec.status == "fresh":
            sys.stdout.write(rec.path.read_text())
        else:
            try:
                text = api.generate(rec)
            except ADCompileError as exc:
                rec.error = exc
                print(_error_text(rec), file=sys.stderr)
                code = 1
                continue
            print(
                f"# {rec.path} is {rec.status}: {rec.reason}; this is what `adc compile` writes"
            )
            sys.stdout.write(text)
    return code


def show_ir(spec: str) -> int:
    from .ir import format_function

    code = 0
    for rec in _find(spec, None):
        if rec.status == "failed":
            print(_error_text(rec), file=sys.stderr)
            code = 1
            continue
        try:
            before, adjoint, _ = api.lower(rec)
        except ADCompileError as exc:
            rec.error = exc
            print(_error_text(rec), file=sys.stderr)
            code = 1
            continue
        print(f"# {rec.origin}: SSA IR before differentiation")
        print(before)
        print(f"\n# {rec.kind} with respect to {', '.join(rec.wrt)}: the adjoint")
        print(format_function(adjoint))
    return code


def _parse_at(text: str) -> dict:
    """`x=1,y=2,z=0` or `W=[[1,2],[3,4]],x=[1,2]`: names and NumPy values."""
    import ast
    import re

    import numpy as np

    values = {}
    for part in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", text):
        name, sep, literal = part.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SystemExit(f"adc: --at expects NAME=VALUE pairs, got {part!r}")
        try:
            value = ast.literal_eval(literal.strip())
        except (ValueError, SyntaxError):
            raise SystemExit(
                f"adc: --at {name.strip()}: not a number or list: {literal!r}"
            ) from None
        array = np.asarray(value, dtype=np.float64)
        values[name.strip()] = float(array) if array.ndim == 0 else array
    return values


def graph(spec: str, at: str, fmt: str, output: str | None) -> int:
    import inspect

    from . import compgraph as graphs

    file, sep, name = spec.rpartition("::")
    if not sep or not file or not name:
        raise SystemExit(f"adc: expected FILE::FUNC, got {spec!r}")
    namespace: dict = {}
    with api.session("check"):
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {file}")
        module_name = f"adc_user_{path.stem}"
        spec_ = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec_)
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec_.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.resolve().parent))
        namespace = vars(module)
    fn = namespace.get(name.split(".")[0])
    for part in name.split(".")[1:]:
        fn = getattr(fn, part, None)
    if not callable(fn):
        raise SystemExit(f"adc: no function {name!r} in {file}")
    values = _parse_at(at)
    params = list(inspect.signature(fn).parameters)
    missing = [p for p in params if p not in values]
    unknown = [v for v in values if v not in params]
    if missing or unknown:
        raise SystemExit(
            f"adc: {name} takes ({', '.join(params)}); --at "
            + (
                f"misses {', '.join(missing)}"
                if missing
                else f"names no parameter {', '.join(unknown)}"
            )
        )
    try:
        picture = graphs.graph(fn, *(values[p] for p in params), format=fmt)
    except ADCompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"adc: {exc}", file=sys.stderr)
        return 1
    if output:
        Path(output).write_bytes(
            picture if isinstance(picture, bytes) else picture.encode()
        )
    elif isinstance(picture, bytes):
        sys.stdout.buffer.write(picture)
    else:
        sys.stdout.write(picture)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="adc",
        description="Source-to-source automatic differentiation for NumPy.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    out_help = "folder of the generated modules (default: as for grad; see README)"
    p = sub.add_parser(
        "compile", help="compile the marked functions of files or folders"
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", help=out_help)
    p.add_argument(
        "--force",
        action="store_true",
        help="regenerate modules that are up to date too (after changing the compiler)",
    )
    p = sub.add_parser(
        "check", help="fail if a generated module is missing, stale or edited"
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", help=out_help)
    p = sub.add_parser("show", help="print the generated module of FILE::FUNC")
    p.add_argument("spec", metavar="FILE::FUNC")
    p.add_argument("--out", help=out_help)
    p = sub.add_parser(
        "ir", help="print the SSA IR of FILE::FUNC before and after differentiation"
    )
    p.add_argument("spec", metavar="FILE::FUNC")
    p = sub.add_parser(
        "graph",
        help="draw the computational graph of FILE::FUNC at a point, with its gradients",
    )
    p.add_argument("spec", metavar="FILE::FUNC")
    p.add_argument("--at", required=True, help="the point, e.g. x=1,y=2,z=0")
    p.add_argument(
        "--format",
        default="mermaid",
        choices=["mermaid", "dot", "svg", "png"],
        help="mermaid (default), Graphviz dot, or svg/png through Graphviz",
    )
    p.add_argument(
        "--output", "-o", help="write to this file instead of standard output"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "compile":
            return compile_paths(args.paths, args.out, args.force)
        if args.command == "check":
            return check_paths(args.paths, args.out)
        if args.command == "show":
            return show(args.spec, args.out)
        if args.command == "graph":
            return graph(args.spec, args.at, args.format, args.output)
        return show_ir(args.spec)
    except FileNotFoundError as exc:
        print(f"adc: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
