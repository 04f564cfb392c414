"""Issue 2's figure: the generated gradient of `score` against the hand-written one.

    python benchmarks/seed_nn.py [--target SECONDS]

Times `grad(score, argnums=(0, 2))` and the expert's `np.outer(delta, x), delta`
(benchmarks/workloads.py) interleaved, in this one process, at n = 100 and
n = 1000 with one BLAS thread, and prints the ratio generated / hand-written.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (pins the threads before NumPy is imported)

from benchmarks import harness  # noqa: E402
from benchmarks.workloads import BY_KEY  # noqa: E402


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target", type=float, default=2.0, help="seconds per contender"
    )
    args = parser.parse_args(argv)
    limits = run.pin_blas()  # noqa: F841
    workload = BY_KEY["score"]
    generated, note = harness.compile_generated(workload, run.GENERATED)
    if generated is None:
        print(note)
        return 1
    print(f"{'n':>5} {'hand-written':>14} {'generated':>14} {'gen / hand':>11}")
    for n in (100, 1000):
        inputs = workload.inputs(n)
        err = harness.max_rel_error(generated(*inputs), workload.hand(*inputs))
        assert err < 1e-12, err
        t = harness.measure(
            {"hand": (workload.hand, inputs), "generated": (generated, inputs)},
            args.target,
        )
        hand, gen = t["hand"].median, t["generated"].median
        print(
            f"{n:>5} {harness.fmt_time(hand):>14} {harness.fmt_time(gen):>14} "
            f"{gen / hand:>11.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
