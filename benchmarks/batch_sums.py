"""Sums written as products with ones: `_sum_over_batch(g)` against the
hand-written `g.sum(axis=0)`, `_sum_rows(x, 1, keepdims=True)` against
`x.sum(axis=1, keepdims=True)`, and `_mean_rows` against `x.mean(...)`.

    python benchmarks/batch_sums.py [--target SECONDS]

Times the helpers generated modules use for the sums of a float matrix over
its rows (the gradient of a bias broadcast over a batch) and along them (a
softmax's normalizer and its adjoint; a layer norm's mean, that sum divided),
each a product with a vector of ones, against NumPy's sum or mean written as
an expert writes it and as `np.add.reduce`, interleaved, in this one process,
with one BLAS thread, and prints each one's median time and the ratio helper
/ NumPy's. Each result is compared with NumPy's before it is timed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (pins the threads before NumPy is imported)

from benchmarks import harness  # noqa: E402

SHAPES = [(8, 4), (8, 32), (64, 10), (64, 256), (1000, 10), (10000, 100), (100000, 10)]


def helpers():
    from adcompiler.helpers import defined

    namespace = defined("_sum_over_batch", "_sum_rows", "_mean_rows")
    return [namespace[h] for h in ("_sum_over_batch", "_sum_rows", "_mean_rows")]


def contenders(np, sum_over_batch, sum_rows, mean_rows):
    """(title, NumPy's sum or mean, np.add.reduce, the helper) for each direction."""
    return [
        (
            "over the batch, axis 0",
            lambda g: g.sum(axis=0),
            lambda g: np.add.reduce(g, 0),
            sum_over_batch,
        ),
        (
            "along the rows, axis 1, keepdims",
            lambda x: x.sum(axis=1, keepdims=True),
            lambda x: np.add.reduce(x, 1, keepdims=True),
            lambda x: sum_rows(x, 1, keepdims=True),
        ),
        (
            "the mean along the rows, axis -1, keepdims",
            lambda x: x.mean(axis=-1, keepdims=True),
            lambda x: np.add.reduce(x, -1, keepdims=True) / x.shape[-1],
            lambda x: mean_rows(x, -1, keepdims=True),
        ),
    ]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target", type=float, default=0.5, help="seconds per contender"
    )
    args = parser.parse_args(argv)
    limits = run.pin_blas()  # noqa: F841
    import numpy as np

    rng = np.random.default_rng(0)
    for title, numpy_sum, reduce, helper in contenders(np, *helpers()):
        print(f"\n{title}")
        print(
            f"{'shape':>14} {'dtype':>8} {'NumPy':>10} {'add.reduce':>12} "
            f"{'helper':>10} {'ratio':>6}"
        )
        for shape in SHAPES:
            for dtype in (np.float64, np.float32):
                x = rng.normal(size=shape).astype(dtype)
                want, got = numpy_sum(x), helper(x)
                assert got.dtype == dtype and got.shape == want.shape
                np.testing.assert_allclose(
                    got, want, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3
                )
                t = harness.measure(
                    {
                        "hand": (numpy_sum, (x,)),
                        "reduce": (reduce, (x,)),
                        "helper": (helper, (x,)),
                    },
                    args.target,
                )
                hand, red, ours = (t[k].median for k in ("hand", "reduce", "helper"))
                print(
                    f"{str(shape):>14} {np.dtype(dtype).name:>8} "
                    f"{harness.fmt_time(hand):>10} {harness.fmt_time(red):>12} "
                    f"{harness.fmt_time(ours):>10} {ours / hand:>6.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
