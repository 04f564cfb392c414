"""A bias's gradient: `_sum_over_batch(g)` against the hand-written `g.sum(axis=0)`.

    python benchmarks/batch_sums.py [--target SECONDS]

Times the helper generated modules use for the sum of a float matrix over its
rows (the gradient of a bias broadcast over a batch: a product with a vector
of ones) against `g.sum(axis=0)` and `np.add.reduce(g, 0)`, interleaved, in
this one process, with one BLAS thread, and prints each one's median time and
the ratio helper / `g.sum(axis=0)`. Each result is compared with NumPy's sum
before it is timed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (pins the threads before NumPy is imported)

from benchmarks import harness  # noqa: E402

SHAPES = [(8, 4), (8, 32), (64, 10), (64, 256), (1000, 10), (10000, 100), (100000, 10)]


def sum_over_batch():
    from adcompiler.helpers import defined

    return defined("_sum_over_batch")["_sum_over_batch"]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target", type=float, default=0.5, help="seconds per contender"
    )
    args = parser.parse_args(argv)
    limits = run.pin_blas()  # noqa: F841
    import numpy as np

    helper = sum_over_batch()
    rng = np.random.default_rng(0)
    print(
        f"{'shape':>14} {'dtype':>8} {'g.sum(axis=0)':>14} {'add.reduce':>12} "
        f"{'_sum_over_batch':>16} {'ratio':>6}"
    )
    for shape in SHAPES:
        for dtype in (np.float64, np.float32):
            g = rng.normal(size=shape).astype(dtype)
            want = g.sum(axis=0)
            got = helper(g)
            assert got.dtype == dtype and got.shape == want.shape
            np.testing.assert_allclose(
                got, want, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3
            )
            t = harness.measure(
                {
                    "hand": (lambda g: g.sum(axis=0), (g,)),
                    "reduce": (lambda g: np.add.reduce(g, 0), (g,)),
                    "helper": (helper, (g,)),
                },
                args.target,
            )
            hand, red, ours = (t[k].median for k in ("hand", "reduce", "helper"))
            print(
                f"{str(shape):>14} {np.dtype(dtype).name:>8} "
                f"{harness.fmt_time(hand):>14} {harness.fmt_time(red):>12} "
                f"{harness.fmt_time(ours):>16} {ours / hand:>6.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
