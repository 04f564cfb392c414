"""The import-time cache: fresh modules are imported as they are, anything else is
regenerated; writes are atomic; an unwritable folder falls back, with one warning."""

import os
import subprocess
import sys
import textwrap
import warnings
from importlib.util import cache_from_source
from pathlib import Path

import numpy as np
import pytest

from adcompiler import ADCompileError, api, cache, grad

ROOT = Path(__file__).resolve().parent.parent


def square_sum(w):
    return np.sum(w * w)


def module_file(path: Path) -> Path:
    (found,) = path.glob("*.py")
    return found


def test_fresh_module_is_imported_without_regenerating(out_dir, monkeypatch):
    g = grad(square_sum)
    text = module_file(out_dir).read_text()
    monkeypatch.setattr(api, "generate", lambda rec: pytest.fail("regenerated"))
    g2 = grad(square_sum)
    np.testing.assert_allclose(g2(np.arange(3.0)), 2 * np.arange(3.0))
    assert module_file(out_dir).read_text() == text
    assert api.COMPILED[-1].status == "fresh" and g2.__code__ is not g.__code__


def test_stale_origin_is_regenerated(out_dir, tmp_path):
    src = tmp_path / "user_mod.py"
    src.write_text("def f(x):\n    return x * x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import user_mod

        assert grad(user_mod.f)(3.0) == 6.0
        src.write_text("def f(x):\n    return x * x * x\n")
        code = compile(src.read_text(), str(src), "exec")
        namespace = {}
        exec(code, namespace)
        assert grad(namespace["f"])(3.0) == 27.0
        assert api.COMPILED[-1].status == "stale"
        assert "origin source changed" in api.COMPILED[-1].reason
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("user_mod", None)


def test_compiler_version_change_is_stale(out_dir, monkeypatch):
    grad(square_sum)
    monkeypatch.setattr(cache, "__version__", "99.0")
    grad(square_sum)
    rec = api.COMPILED[-1]
    assert rec.status == "stale" and "99.0" in rec.reason
    assert cache.read_header(rec.path.read_text()).version == "99.0"


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t.replace("return", "return 2 *", 1),  # edited by hand
        lambda t: t[: len(t) // 2],  # truncated
        lambda t: "garbage\n",  # no header
        lambda t: "\n".join(t.splitlines()[4:]),  # header removed
    ],
    ids=["edited", "truncated", "garbage", "no-header"],
)
def test_edited_or_corrupt_module_is_regenerated(out_dir, damage):
    grad(square_sum)
    path = module_file(out_dir)
    good = path.read_text()
    path.write_text(damage(good))
    g = grad(square_sum)
    assert api.COMPILED[-1].status == "edited"
    assert path.read_text() == good
    np.testing.assert_allclose(g(np.ones(2)), 2 * np.ones(2))


def test_undecodable_module_is_regenerated(out_dir):
    grad(square_sum)
    path = module_file(out_dir)
    good = path.read_text()
    path.write_bytes(b"\xff\xfe\x00garbage")
    grad(square_sum)
    assert api.COMPILED[-1].status == "edited" and path.read_text() == good


def test_location_order(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    origin = tmp_path / "proj" / "m.py"
    origin.parent.mkdir()
    assert Path(cache.output_dir(str(origin))) == origin.parent / cache.DEFAULT_DIRNAME
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "env"))
    assert Path(cache.output_dir(str(origin))) == tmp_path / "env"
    assert Path(cache.output_dir(str(origin), tmp_path / "arg")) == tmp_path / "arg"


def test_out_argument_wins(out_dir, tmp_path):
    grad(square_sum, out=tmp_path / "mine")
    assert len(list((tmp_path / "mine").glob("*.py"))) == 1
    assert not out_dir.exists()


def test_write_leaves_no_temporary_file_on_failure(tmp_path, monkeypatch):
    def boom(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(PermissionError):
        cache.write_atomic(tmp_path / "m.py", "x = 1\n")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The system temporary folder, for the fallback, inside this test's folder."""
    import tempfile

    root = tmp_path / "systemp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setattr(cache, "_WARNED", set())
    return root


def test_unwritable_folder_falls_back_with_one_warning(out_dir, temp_root, monkeypatch):
    real_replace = os.replace

    def deny(src, dst):
        if Path(dst).parent == out_dir:
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", deny)
    with pytest.warns(RuntimeWarning, match="cannot write to .*instead") as caught:
        g = grad(square_sum)
        h = grad(square_sum, argnums=0)  # already in the fallback: no second warning

        def cube(x):
            return x * x * x

        assert (
            grad(cube)(2.0) == 12.0
        )  # a second module, same folder: no second warning
    assert len(caught) == 1
    np.testing.assert_allclose(g(np.ones(2)), 2 * np.ones(2))
    fallback = cache.fallback_dir(out_dir)
    assert fallback.is_relative_to(temp_root)
    assert Path(h.__code__.co_filename).parent == fallback
    assert not list(out_dir.glob("*.py"))


def test_folder_under_a_regular_file_falls_back(tmp_path, temp_root):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.warns(RuntimeWarning, match="not_a_folder"):
        g = grad(square_sum, out=blocker / "generated")
    np.testing.assert_allclose(g(np.ones(3)), 2 * np.ones(3))


def test_nowhere_to_write_is_one_clear_error(out_dir, temp_root, monkeypatch):
    def deny(path, text):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache, "write_atomic", deny)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ADCompileError, match="cannot write generated modules"
        ) as info:
            grad(square_sum)
    assert "ADC_GENERATED" in str(info.value)


RACE = textwrap.dedent("""
    import sys, time
    import numpy as np
    start = float(sys.argv[1])
    import black  # imported before the start, so that the compilations overlap
    from adcompiler import api, grad

    def loss(w):
        h = np.tanh(w)
        return np.sum(h * w)

    time.sleep(max(0.0, start - time.time()))
    g = grad(loss)
    w = np.linspace(-1.0, 1.0, 5)
    expected = np.tanh(w) + w * (1 - np.tanh(w) ** 2)
    print("ok" if np.allclose(g(w), expected) else "wrong", api.COMPILED[-1].status)
    """)


def test_eight_processes_compile_the_same_function_at_once(tmp_path):
    script = tmp_path / "race_user.py"
    script.write_text(RACE)
    out = tmp_path / "generated"
    env = dict(os.environ, PYTHONPATH=str(ROOT), ADC_GENERATED=str(out))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # warm the interpreter's own caches so the processes reach grad() together
    subprocess.run([sys.executable, "-c", "import numpy, black"], env=env, check=True)
    import time

    start = f"{time.time() + 2.0}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), start],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for stdout, stderr in results:
        assert stdout.split()[0] == "ok", stderr
    # they raced: several found no module and wrote one
    assert sum(stdout.split()[1] == "missing" for stdout, _ in results) >= 2
    files = sorted(p.name for p in out.iterdir() if p.name != "__pycache__")
    assert files == ["race_user__grad_loss__w.py"]
    text = (out / files[0]).read_text()
    assert cache.split(text)[0].body_hash == cache.digest(cache.split(text)[1])


WARM = textwrap.dedent("""
    import sys
    import numpy as np
    from adcompiler import grad

    @grad
    def loss(w):
        return np.sum(np.tanh(w) * w)

    assert loss(np.zeros(2)).shape == (2,)
    print(sorted(m for m in ("black", "ast", "adcompiler.frontend", "pathlib",
        "adcompiler.codegen", "adcompiler.autodiff.reverse", "adcompiler.errors",
        "adcompiler.passes") if m in sys.modules))
    """)


def test_warm_path_imports_no_compiler(tmp_path):
    script = tmp_path / "warm_user.py"
    script.write_text(WARM)
    env = dict(os.environ, PYTHONPATH=str(ROOT), ADC_GENERATED=str(tmp_path / "gen"))
    env.pop("ADC_PASSES_OFF", None)  # setting it is a reason to import `passes`
    run = [sys.executable, str(script)]
    cold = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert "black" in cold.stdout
    warm = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert "black" not in warm.stdout and "frontend" not in warm.stdout, warm.stdout
    # each module costs a quarter of a millisecond: these wait for a failure
    assert "errors" not in warm.stdout and "passes" not in warm.stdout, warm.stdout
    # Without `site` (whose editable-install hooks import pathlib), nothing on the
    # warm path imports pathlib either: it costs milliseconds, with urllib.parse.
    numpy_home = str(Path(np.__file__).parent.parent)
    bare = dict(env, PYTHONPATH=os.pathsep.join([str(ROOT), numpy_home]))
    warm = subprocess.run(
        [sys.executable, "-S", str(script)], env=bare, capture_output=True, text=True
    )
    assert warm.returncode == 0, warm.stderr
    assert "pathlib" not in warm.stdout, warm.stdout


def test_origin_edited_after_import_is_an_error_not_a_wrong_gradient(out_dir, tmp_path):
    """The file changed on disk after import: its text is not the function that runs."""
    src = tmp_path / "edited_mod.py"
    src.write_text("def f(x):\n    return x * x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import edited_mod

        src.write_text("def f(x):\n    return x * x * x\n")
        with pytest.raises(
            ADCompileError, match="changed after it was imported"
        ) as info:
            grad(edited_mod.f)
        assert "importlib.reload" in str(info.value)
        import importlib

        importlib.reload(edited_mod)
        assert grad(edited_mod.f)(2.0) == 12.0
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("edited_mod", None)


def test_closures_and_methods_are_not_taken_for_edited_sources(out_dir):
    scale = np.array([2.0, 3.0])

    def inner(x):
        return np.sum(scale * x * x)

    class Model:
        def loss(self, w):
            return np.sum(np.tanh(w) * scale)

    np.testing.assert_allclose(grad(inner)(np.ones(2)), 2 * scale)
    np.testing.assert_allclose(grad(Model.loss, argnums=1)(None, np.zeros(2)), scale)


def test_disk_full_leaves_nothing_half_written(out_dir, temp_root, monkeypatch):
    """ENOSPC while writing: no partial module, no temporary file; the fallback is used."""
    import errno

    real_fsync = os.fsync
    calls = []

    def full(fd):
        calls.append(fd)
        if len(calls) == 1:  # the first write, into out_dir
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.warns(RuntimeWarning, match="No space left on device"):
        g = grad(square_sum)
    np.testing.assert_allclose(g(np.ones(3)), 2 * np.ones(3))
    assert not out_dir.exists() or list(out_dir.iterdir()) == []
    (module,) = cache.fallback_dir(out_dir).glob("*.py")
    assert module.read_text().startswith("# adcompiler: ")
    assert not list(cache.fallback_dir(out_dir).glob("*.tmp"))


def test_disk_full_everywhere_is_one_clear_error(out_dir, temp_root, monkeypatch):
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ADCompileError, match="No space left on device"):
        grad(square_sum)
    for folder in (out_dir, cache.fallback_dir(out_dir)):
        assert not folder.exists() or list(folder.iterdir()) == []


class Holder:
    @staticmethod
    def nested_defs(x):
        def inner(y):
            return y * y

        return np.sum(inner(x))


def test_nested_defs_in_methods_are_not_taken_for_edited_sources(out_dir):
    """Python 3.10 stores a nested def's qualified name, which differs when compiled alone."""
    np.testing.assert_allclose(grad(Holder.nested_defs)(np.ones(2)), 2 * np.ones(2))


def test_module_rewritten_in_the_same_second_to_the_same_size_runs_the_new_code(
    out_dir, monkeypatch
):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    # A .pyc is matched to its source by mtime in whole seconds and by size:
    # the rewrite must not run the bytecode of the module it replaced.
    path = out_dir / "same_size.py"
    body = "def f():\n    return {}\n"
    cache.write(path, cache.render(body.format(1), "x.py:1 f", "0"))
    assert cache.load(path, "f")() == 1
    pyc = Path(cache_from_source(str(path)))
    assert pyc.is_file()
    before = os.stat(path)
    cache.write(path, cache.render(body.format(2), "x.py:1 f", "0"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same second
    assert os.stat(path).st_size == before.st_size
    assert cache.load(path, "f")() == 2


def test_bytecode_is_read_directly_only_when_it_matches_its_source(
    out_dir, monkeypatch
):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = out_dir / "direct.py"
    cache.write(path, cache.render("def f():\n    return 1\n", "x.py:1 f", "0"))
    assert cache._cached_code(str(path)) is None  # no .pyc yet
    assert cache.load(path, "f")() == 1  # the loader compiles it, writes the .pyc
    code = cache._cached_code(str(path))
    assert code is not None and code.co_filename == str(path)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    assert cache._cached_code(str(path)) is None  # the source is newer
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    pyc = Path(cache_from_source(str(path)))
    pyc.write_bytes(pyc.read_bytes()[:20])  # truncated
    assert cache._cached_code(str(path)) is None
    assert cache.load(path, "f")() == 1
    moved = out_dir / "moved"
    moved.mkdir()
    (moved / "__pycache__").mkdir()
    os.replace(path, moved / "direct.py")
    os.replace(pyc, moved / "__pycache__" / pyc.name)
    # bytecode compiled at the old place would name the old file in tracebacks
    assert cache._cached_code(str(moved / "direct.py")) is None
