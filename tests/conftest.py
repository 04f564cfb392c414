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
