"""The vanilla RNN of tests/test_rnn.py: generated gradient against hand-written BPTT.

    python benchmarks/rnn.py            # T = 50, hidden 32, input 16

Both run in the same process on the same arrays; the figure is the ratio of
their median times (generated / hand-written).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_rnn import bptt, problem, rnn_loss  # noqa: E402

from adcompiler import grad  # noqa: E402


def _once(f, args, number):
    start = time.perf_counter()
    for _ in range(number):
        f(*args)
    return (time.perf_counter() - start) / number


def main(T=50, hidden=32, inputs=16, samples=300, number=5):
    out = tempfile.mkdtemp(prefix="adc-bench-")
    generated = grad(rnn_loss, argnums=(0, 1, 2, 3), out=out)
    args = problem(T, hidden, inputs)
    got, want = generated(*args), bptt(*args)
    assert all(np.allclose(g, w, rtol=0, atol=1e-10) for g, w in zip(got, want))
    # Samples alternate between the two, so that a busy machine slows both alike.
    t_gen, t_hand = [], []
    for _ in range(samples):
        t_gen.append(_once(generated, args, number))
        t_hand.append(_once(bptt, args, number))
    gen, hand = statistics.median(t_gen), statistics.median(t_hand)
    print(
        f"RNN T={T} hidden={hidden} input={inputs} "
        f"(numpy {np.__version__}, {os.cpu_count()} cpus, median of {samples} samples)"
    )
    print(f"  generated gradient  {gen * 1e6:9.1f} us")
    print(f"  hand-written BPTT   {hand * 1e6:9.1f} us")
    print(f"  ratio               {gen / hand:9.2f}")
    return gen / hand


if __name__ == "__main__":
    main()
