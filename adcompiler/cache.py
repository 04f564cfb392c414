"""Where generated modules live, how they are named, written and loaded.

A generated module starts with a header: compiler version, origin file:line
and function, the hash of the origin's source (and of the options), and the
hash of the module's own body. A module whose header matches is imported
directly; a stale, edited or broken one is regenerated. Writes go to a
temporary file in the same folder, then `os.replace`, so a reader never sees
a half-written module, even with several processes compiling at once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__

ENV_VAR = "ADC_GENERATED"
DEFAULT_DIRNAME = "__adcache__"
HEADER_LINES = 4
_FIELDS = re.compile(r"^# (adcompiler|origin|origin-sha256|body-sha256): (.*)$")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def project_root(path: Path) -> Path | None:
    for folder in [path.parent, *path.parent.parents]:
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return None


def display_path(file: str) -> str:
    """The origin file as the header shows it: relative to its project, so it is the same on every machine."""
    path = Path(file).resolve()
    root = project_root(path)
    return path.relative_to(root).as_posix() if root else path.name


_CONFIG_CACHE: dict[Path, Path | None] = {}


def _configured(root: Path) -> Path | None:
    """`[tool.adcompiler] generated = "..."` in the project's pyproject.toml."""
    if root not in _CONFIG_CACHE:
        found = None
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            section = False
            for line in pyproject.read_text().splitlines():
                stripped = line.strip()
                if stripped.startswith("["):
                    section = stripped == "[tool.adcompiler]"
                elif section and stripped.startswith("generated"):
                    match = re.match(r'generated\s*=\s*"([^"]+)"', stripped)
                    if match:
                        found = root / match.group(1)
        _CONFIG_CACHE[root] = found
    return _CONFIG_CACHE[root]


def output_dir(origin_file: str, out: str | os.PathLike | None = None) -> Path:
    """Where a function's generated module goes.

    In order: the `out` argument; the ADC_GENERATED environment variable; the
    `generated` key of `[tool.adcompiler]` in the origin's pyproject.toml; a
    `__adcache__` folder beside the origin file.
    """
    if out is not None:
        return Path(out)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    origin = Path(origin_file).resolve()
    root = project_root(origin)
    configured = _configured(root) if root else None
    return configured or origin.parent / DEFAULT_DIRNAME


@dataclass(frozen=True)
class Header:
    version: str
    origin: str
    origin_hash: str
    body_hash: str

    def text(self) -> str:
        return (
            f"# adcompiler: {self.version}\n"
            f"# origin: {self.origin}\n"
            f"# origin-sha256: {self.origin_hash}\n"
            f"# body-sha256: {self.body_hash}\n"
        )


def read_header(text: str) -> Header | None:
    fields = {}
    for line in text.splitlines()[:HEADER_LINES]:
        match = _FIELDS.match(line)
        if match:
            fields[match.group(1)] = match.group(2)
    if len(fields) != HEADER_LINES:
        return None
    return Header(
        fields["adcompiler"],
        fields["origin"],
        fields["origin-sha256"],
        fields["body-sha256"],
    )


def split(text: str) -> tuple[Header | None, str]:
    """A module's header and the body its hash covers."""
    lines = text.splitlines(keepends=True)
    return read_header(text), "".join(lines[HEADER_LINES:])


def status(path: Path, origin_hash: str) -> str:
    """'fresh', 'missing', 'stale' (origin or compiler changed), or 'edited' (body changed)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return "missing"
    except (OSError, UnicodeDecodeError):
        return "edited"
    header, body = split(text)
    if header is None:
        return "edited"
    if header.version != __version__ or header.origin_hash != origin_hash:
        return "stale"
    if header.body_hash != sha256(body):
        return "edited"
    return "fresh"


def render(body: str, origin: str, origin_hash: str) -> str:
    return Header(__version__, origin, origin_hash, sha256(body)).text() + body


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path: Path, name: str):
    """Import a generated module from its file and return the function `name` in it."""
    modname = f"adcompiler_generated.{path.stem}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[modname] = module
    return getattr(module, name)
