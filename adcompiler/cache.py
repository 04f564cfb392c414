"""Where generated modules live, how they are named, written and loaded.

A generated module starts with a header: compiler version, origin file:line
and function, the hash of the origin's source (and of the options), and the
hash of the module's own body. A module whose header matches is imported
directly; a stale, edited or broken one is regenerated. Writes go to a
temporary file in the same folder, then `os.replace`, so a reader never sees
a half-written module, even with several processes compiling at once.

This module is on the import path of every `@grad`, so it stays cheap to
import: no dataclasses, no OpenSSL, `tempfile` only when a module is written,
and no `pathlib` on the warm path (with `urllib.parse`, which it imports, it
costs several milliseconds): paths are strings there, `Path` objects where a
module is written.
"""

import marshal
import os
import re
import sys
import warnings
from importlib.machinery import SourceFileLoader
from types import ModuleType
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    from pathlib import Path


def _path(p) -> "Path":
    from pathlib import Path

    return Path(p)


ENV_VAR = "ADC_GENERATED"
DEFAULT_DIRNAME = "__adcache__"
FALLBACK_PREFIX = "adcompiler-"
HEADER_LINES = 4
_FIELDS = ("adcompiler", "origin", "origin-hash", "body-hash")


class CacheError(OSError):
    """Neither the generated folder nor its fallback can be written."""


# A 128-bit checksum: the text's bytes, read as one integer, modulo a prime
# drawn at random (no special form, so no structured edit maps to a multiple
# of it). It detects stale and damaged modules, not tampering. It is computed
# with Python's integers: SHA-256 would load a shared library (about a
# millisecond, `hashlib` several) on the path of every `import` with `@grad`.
_PRIME = 0xE91E0DD268DA5CAD4B717C6C97803455


def digest(text: str) -> str:
    return format(int.from_bytes(text.encode(), "little") % _PRIME, "032x")


def project_root(path: str) -> str | None:
    """The nearest folder above `path` with a pyproject.toml or a .git."""
    folder = os.path.dirname(os.fspath(path))
    while True:
        join = os.path.join
        if os.path.isfile(join(folder, "pyproject.toml")) or os.path.exists(
            join(folder, ".git")
        ):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


_DISPLAY: dict[str, str] = {}


def display_path(file: str) -> str:
    """The origin file as the header shows it: relative to its project, so it is the same on every machine."""
    if file not in _DISPLAY:
        path = os.path.realpath(file)
        root = project_root(path)
        shown = os.path.relpath(path, root) if root else os.path.basename(path)
        _DISPLAY[file] = shown.replace(os.sep, "/")
    return _DISPLAY[file]


_CONFIG_CACHE: dict[str, str | None] = {}


def _configured(root: str) -> str | None:
    """`[tool.adcompiler] generated = "..."` in the project's pyproject.toml."""
    if root not in _CONFIG_CACHE:
        found = None
        pyproject = os.path.join(root, "pyproject.toml")
        if os.path.isfile(pyproject):
            section = False
            with open(pyproject, encoding="utf-8") as f:
                text = f.read()
            for line in text.splitlines():
                stripped = line.strip()
                if stripped.startswith("["):
                    section = stripped == "[tool.adcompiler]"
                elif section and stripped.startswith("generated"):
                    match = re.match(r'generated\s*=\s*"([^"]+)"', stripped)
                    if match:
                        found = os.path.join(root, match.group(1))
        _CONFIG_CACHE[root] = found
    return _CONFIG_CACHE[root]


_DEFAULT_DIR: dict[str, str] = {}


def output_dir(origin_file: str, out: str | os.PathLike | None = None) -> str:
    """Where a function's generated module goes.

    In order: the `out` argument; the ADC_GENERATED environment variable; the
    `generated` key of `[tool.adcompiler]` in the origin's pyproject.toml; a
    `__adcache__` folder beside the origin file.
    """
    if out is not None:
        return os.fspath(out)
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    if origin_file not in _DEFAULT_DIR:
        origin = os.path.realpath(origin_file)
        root = project_root(origin)
        configured = _configured(root) if root else None
        _DEFAULT_DIR[origin_file] = configured or os.path.join(
            os.path.dirname(origin), DEFAULT_DIRNAME
        )
    return _DEFAULT_DIR[origin_file]


def fallback_dir(folder: "Path") -> "Path":
    """Where modules go when `folder` cannot be written: one folder per user and per
    intended location, under the system's temporary folder
    (`<tmp>/adcompiler-<user>/<hash of folder>`)."""
    import tempfile

    try:
        user = str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        user = os.environ.get("USERNAME", "user")
    key = digest(str(_path(folder).absolute()))[:16]
    return _path(tempfile.gettempdir()) / f"{FALLBACK_PREFIX}{user}" / key


class Header:
    """The four header lines of a generated module."""

    __slots__ = ("version", "origin", "origin_hash", "body_hash")

    def __init__(self, version: str, origin: str, origin_hash: str, body_hash: str):
        self.version = version
        self.origin = origin
        self.origin_hash = origin_hash
        self.body_hash = body_hash

    def __eq__(self, other) -> bool:
        return isinstance(other, Header) and all(
            getattr(self, f) == getattr(other, f) for f in self.__slots__
        )

    def __repr__(self) -> str:
        return f"Header({self.version!r}, {self.origin!r}, {self.origin_hash!r}, {self.body_hash!r})"

    def text(self) -> str:
        return (
            f"# adcompiler: {self.version}\n"
            f"# origin: {self.origin}\n"
            f"# origin-hash: {self.origin_hash}\n"
            f"# body-hash: {self.body_hash}\n"
        )


def read_header(text: str) -> Header | None:
    return split(text)[0]


def split(text: str) -> tuple[Header | None, str]:
    """A module's header (None if it has none) and the body its hash covers."""
    parts = text.split("\n", HEADER_LINES)
    if len(parts) <= HEADER_LINES:
        return None, text
    values = []
    for field, line in zip(_FIELDS, parts):
        prefix = f"# {field}: "
        if not line.startswith(prefix):
            return None, parts[HEADER_LINES]
        values.append(line[len(prefix) :])
    return Header(*values), parts[HEADER_LINES]


def explain(path: "Path", origin_hash: str) -> tuple[str, str]:
    """What the cache finds at `path`, and why, in words.

    The status is 'fresh', 'missing', 'stale' (the origin source or the
    compiler version changed) or 'edited' (the body no longer matches its
    hash: edited by hand, truncated or otherwise corrupt).
    """
    try:
        with open(path, "rb") as f:
            text = f.read().decode()
    except FileNotFoundError:
        return "missing", "no generated module"
    except (OSError, UnicodeDecodeError) as exc:
        return "edited", f"unreadable ({type(exc).__name__})"
    header, body = split(text)
    if header is None:
        return "edited", "no valid adcompiler header (corrupt or written by hand)"
    if header.version != __version__:
        return (
            "stale",
            f"compiled by adcompiler {header.version}, this is {__version__}",
        )
    if header.origin_hash != origin_hash:
        return "stale", f"origin source changed ({header.origin.split(' ')[0]})"
    if header.body_hash != digest(body):
        return "edited", "edited by hand (the body no longer matches its hash)"
    return "fresh", "up to date"


def status(path: "Path", origin_hash: str) -> str:
    """'fresh', 'missing', 'stale' (origin or compiler changed), or 'edited' (body changed)."""
    return explain(path, origin_hash)[0]


def render(body: str, origin: str, origin_hash: str) -> str:
    return Header(__version__, origin, origin_hash, digest(body)).text() + body


def write_atomic(path: "Path", text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    import tempfile

    path = _path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a module is read by all
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_WARNED: "set[Path]" = set()


def write(path: "Path", text: str) -> "Path":
    """Write a module atomically where it belongs, or, if that folder cannot be
    written, into its fallback folder (with one warning per folder). Returns
    where it went; raises `CacheError` if neither can be written."""
    path = _path(path)
    try:
        write_atomic(path, text)
        _forget_bytecode(path)
        return path
    except OSError as exc:
        first = exc
    alt = fallback_dir(path.parent) / path.name
    try:
        write_atomic(alt, text)
        _forget_bytecode(alt)
    except OSError as exc:
        raise CacheError(
            f"adcompiler cannot write generated modules to {path.parent} "
            f"({first.strerror or first}) nor to the fallback {alt.parent} "
            f"({exc.strerror or exc}); set {ENV_VAR} or pass out= to choose a "
            "writable folder"
        ) from None
    if path.parent not in _WARNED:
        _WARNED.add(path.parent)
        warnings.warn(
            f"adcompiler cannot write to {path.parent} ({first.strerror or first}); "
            f"generated modules go to {alt.parent} instead. Set {ENV_VAR} or pass "
            "out= to choose the folder.",
            RuntimeWarning,
            stacklevel=4,
        )
    return alt


def _forget_bytecode(path: "Path") -> None:
    """Remove the .pyc of the module just replaced at `path`.

    A .pyc records its source's mtime in whole seconds and its size: a module
    rewritten within the second it was compiled, to the same length (a changed
    constant in the origin), would otherwise run the old bytecode, with the
    standard loader as with `_cached_code`.
    """
    from importlib.util import cache_from_source

    try:
        os.unlink(cache_from_source(os.fspath(path)))
    except (OSError, NotImplementedError):  # none there, or no bytecode caching
        pass


def load(path: "Path", name: str):
    """Import a generated module from its file and return the function `name` in it.

    The module's bytecode comes from its current .pyc (`_cached_code`), or
    else from the loader, which compiles the source and writes the .pyc. The
    module is made by hand rather than through a spec, which costs a tenth of
    a millisecond a module on the warm path.
    """
    file = os.fspath(path)
    modname = f"adcompiler_generated.{os.path.splitext(os.path.basename(file))[0]}"
    loader = SourceFileLoader(modname, file)
    module = ModuleType(modname)
    module.__file__ = file
    module.__loader__ = loader
    code = _cached_code(file)
    if code is None:
        try:
            code = loader.get_code(modname)
        except (EOFError, ValueError):  # a damaged .pyc with an intact header
            _forget_bytecode(file)
            code = loader.get_code(modname)
    exec(code, module.__dict__)
    sys.modules[modname] = module
    return getattr(module, name)


# The import system's own module, always loaded (`importlib.util` is not, and
# would cost more to import than it saves).
_MAGIC = getattr(sys.modules.get("importlib._bootstrap_external"), "MAGIC_NUMBER", None)


def _cached_code(file: str):
    """The code in `file`'s .pyc if that was compiled from the file as it is now
    (a timestamp .pyc whose recorded mtime and size match), read directly:
    half the cost of `SourceFileLoader.get_code`, which does the same checks.
    None whenever anything differs from the plain case; the loader then decides.
    """
    tag = sys.implementation.cache_tag
    if _MAGIC is None or tag is None or sys.pycache_prefix or sys.flags.optimize:
        return None
    folder, base = os.path.split(file)
    pyc = os.path.join(folder, "__pycache__", f"{base[:-3]}.{tag}.pyc")
    try:
        st = os.stat(file)
        with open(pyc, "rb") as f:
            data = f.read()
        if (
            data[:8] != _MAGIC + b"\0\0\0\0"  # magic, then flags 0: a timestamp .pyc
            or int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
            or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF
        ):
            return None
        code = marshal.loads(memoryview(data)[16:])
    except (OSError, ValueError, EOFError, TypeError):
        return None
    # a folder moved since: the loader fixes the file name tracebacks show
    return code if getattr(code, "co_filename", None) == file else None
