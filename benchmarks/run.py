"""Time adcompiler's generated gradients against hand-written NumPy and the peers.

    python benchmarks/run.py                 # everything; writes benchmarks/RESULTS.md
    python benchmarks/run.py --only score    # one workload (by key), no file written
    python benchmarks/run.py --no-peers      # hand-written and generated only

Everything runs in this one process. The thread counts of every library are
pinned to one here, before NumPy or any peer is imported.
"""

from __future__ import annotations

import os
import sys

THREADS = "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
).strip()

# Run as a script, Python puts benchmarks/ first on the path, and `adcompiler`
# could then come from another checkout: use this one.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import datetime  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks import harness  # noqa: E402
from benchmarks.workloads import PEERS, WORKLOADS, peer_available  # noqa: E402

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "_generated"  # what was timed, rewritten on every run (git-ignored)


def pin_peers() -> dict[str, str]:
    """Pin the peers' threads too, and say what they report."""
    info = {}
    if peer_available("torch"):
        import torch

        torch.set_num_threads(int(THREADS))
        torch.set_default_dtype(torch.float64)
        info["torch"] = (
            f"{torch.__version__}, {torch.get_num_threads()} intra-op thread(s), "
            f"{torch.get_num_interop_threads()} inter-op thread(s)"
        )
    if peer_available("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jaxlib

        info["jax"] = (
            f"{jax.__version__} (jaxlib {jaxlib.__version__}), backend "
            f"{jax.default_backend()}, x64 on"
        )
    if peer_available("autograd"):
        from importlib.metadata import version

        info["autograd"] = version("autograd")
    return info


def pin_blas():
    """Limit every BLAS/OpenMP pool loaded so far (the env vars did it already)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(int(THREADS))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="workload key(s) to run")
    parser.add_argument(
        "--no-peers", action="store_true", help="skip autograd, JAX, PyTorch"
    )
    parser.add_argument(
        "--target", type=float, default=0.4, help="seconds per measurement"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="measurements per row; the table gives the median of their medians",
    )
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args(argv)

    keys = {w.key for w in WORKLOADS}
    for key in args.only or ():
        if key not in keys:
            parser.error(f"unknown workload {key!r}; choose from {sorted(keys)}")
    workloads = [w for w in WORKLOADS if not args.only or w.key in args.only]
    out = args.out or (None if args.only or args.no_peers else HERE / "RESULTS.md")

    peers = () if args.no_peers else tuple(PEERS)
    versions = pin_peers() if peers else {}
    limits = pin_blas()  # noqa: F841 (kept alive for the whole run)
    shutil.rmtree(GENERATED, ignore_errors=True)  # always compile with this compiler

    start = time.perf_counter()
    rows = []
    for workload in workloads:
        for label, size in workload.sizes:
            print(label, flush=True)
            rows.append(
                harness.run_row(
                    workload,
                    label,
                    size,
                    GENERATED,
                    peers,
                    args.target,
                    repeats=args.repeats,
                )
            )
    elapsed = time.perf_counter() - start

    table = harness.results_table(rows)
    print()
    print(table)
    for row in rows:
        for method, err in row.max_error.items():
            if err > 1e-8:
                print(
                    f"WARNING: {row.label}: {method} differs from hand-written by {err:.1e}"
                )
    if out is None:
        return 0

    seed = tuple(
        label
        for w in WORKLOADS
        for label, size in w.sizes
        if w.key in ("seed_f", "score") or size == (32, 32, 4, 8)
    )
    extra = {f"{k} version": v for k, v in versions.items()}
    extra["thread pinning"] = (
        "OMP/OPENBLAS/MKL_NUM_THREADS=1 set before import; torch.set_num_threads(1); "
        f"XLA_FLAGS={os.environ['XLA_FLAGS']!r}; threadpoolctl limit 1"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/run.py` on "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} in {elapsed:.0f} s. "
        "Median time of one gradient call (the median of the medians of "
        f"{args.repeats} interleaved measurements, `--target {args.target}` s each; "
        "adcompiler's and the hand-written gradient's from measurements of their "
        "own after that); every column was measured in the same "
        "process and run, float64, one thread for every library. `gen / hand` is "
        "generated ÷ hand-written (✓ within the target: 1.10 for straight-line code, "
        "1.3 for the RNN). The next two columns are adcompiler's gradient compiled "
        "for the row's arguments, `grad(f, example_args=args)` (shapes and dtypes "
        "known; one guard at entry checks that a call's arguments are like them), "
        "and the same with `checks=False` (no guard, no check at all, as in "
        "hand-written code). Peer cells show the peer's time and, in brackets, peer ÷ "
        "generated (the generic gradient): how many times faster it is. `jit compile` "
        "is JAX's first jitted call (trace + compile + run), excluded from the JAX jit "
        "column. See `benchmarks/README.md` for what each workload is.",
        "",
        table,
        "",
    ]
    notes = [
        f"- {row.label}: {method} gradient differs from the hand-written one by "
        f"{err:.1e} (relative)"
        for row in rows
        for method, err in row.max_error.items()
        if err > 1e-8
    ]
    if notes:
        lines += ["## Disagreements", "", *notes, ""]
    lines += ["## Targets (issue 6)", "", *harness.targets_summary(rows, seed), ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {harness.cell(v)} |" for k, v in harness.machine_info(extra)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwrote {out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
