import importlib.util
import textwrap

import numpy as np
import pytest


def numeric_grad(f, args, argnum, eps=1e-6):
    """Central finite differences of scalar f with respect to args[argnum], in float64."""
    args = [
        np.array(a, dtype=np.float64) if isinstance(a, (np.ndarray, float)) else a
        for a in args
    ]
    x = args[argnum]
    g = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i].copy()
        x[i] = old + eps
        hi = f(*args)
        x[i] = old - eps
        lo = f(*args)
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


@pytest.fixture
def out_dir(tmp_path, monkeypatch):
    """Each test compiles into its own folder."""
    monkeypatch.setenv("ADC_GENERATED", str(tmp_path / "generated"))
    return tmp_path / "generated"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """One folder of generated modules for a whole test file: each function compiles once."""
    return tmp_path_factory.mktemp("generated")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Compile functions written as source text (one module per distinct text)."""
    folder = tmp_path_factory.mktemp("sources")
    made = {}

    def make(source: str, name: str = "f"):
        source = textwrap.dedent(source)
        if source not in made:
            path = folder / f"src{len(made)}.py"
            path.write_text("import math\n\nimport numpy as np\n\n\n" + source)
            # the folder's name keeps the modules of two test files apart
            spec = importlib.util.spec_from_file_location(
                f"adc_{folder.name}_{len(made)}", path
            )
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            made[source] = getattr(module, name)
        return made[source]

    return make
