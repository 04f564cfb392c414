"""Timing, compiling and reporting for the benchmarks (see `run.py`).

Nothing here sets thread counts: `run.py` does that before NumPy or any peer
is imported, and this module is imported after it.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.workloads import PEERS, Workload, peer_available, peer_grad

ROOT = Path(__file__).resolve().parent.parent
# adcompiler's gradients: generic (any arguments, checked), compiled for the
# workload's arguments (`example_args`, one guard at entry), and that without
# any check (`checks=False`).
VARIANTS = {
    "generated": {},
    "specialized": {"examples": True},
    "unchecked": {"examples": True, "checks": False},
}
VARIANT_NAMES = {
    "generated": "generated",
    "specialized": "generated, example_args",
    "unchecked": "generated, example_args, checks=False",
}
METHODS = ("hand", *VARIANTS, *PEERS)  # the columns, in order


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


@dataclass
class Timing:
    median: float  # seconds per call
    samples: int
    number: int  # calls per sample


def measure(calls: dict, target: float = 0.4, min_rounds: int = 7) -> dict[str, Timing]:
    """The median time of each `call(*args)` in `calls` (name -> (call, args)).

    The contenders are timed in interleaved rounds, one sample of each per
    round, so that a change in the machine's load (it is shared) hits them
    all alike. After a few warm-up calls, the number of rounds is set by the
    slowest contender (at least `min_rounds`) and each contender's sample
    repeats its call enough times to last about `target / rounds` seconds, so
    each contender is timed for about `target` seconds in all. The garbage
    collector is off while timing.
    """
    est = {}
    for name, (call, args) in calls.items():
        warm_until = time.perf_counter() + min(0.05, target / 8)
        warm = 0
        while warm < 2 or (time.perf_counter() < warm_until and warm < 50):
            call(*args)
            warm += 1
        t0 = time.perf_counter()
        call(*args)
        est[name] = max(time.perf_counter() - t0, 1e-7)
    rounds = max(min_rounds, min(500, int(target / max(est.values()))))
    number = {name: max(1, int(target / rounds / t)) for name, t in est.items()}
    times: dict[str, list[float]] = {name: [] for name in calls}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, (call, args) in calls.items():
                n = number[name]
                t0 = time.perf_counter()
                for _ in range(n):
                    call(*args)
                times[name].append((time.perf_counter() - t0) / n)
    finally:
        if enabled:
            gc.enable()
    return {
        name: Timing(statistics.median(ts), rounds, number[name])
        for name, ts in times.items()
    }


# --------------------------------------------------------------------------
# the contenders of one row
# --------------------------------------------------------------------------


def unsupported_note(exc: BaseException) -> str:
    """`unsupported (ADCompileError: <message>)`, on one line, for a table cell."""
    message = getattr(exc, "message", None) or str(exc).splitlines()[0]
    return f"unsupported ({type(exc).__name__}: {message})"


def compile_generated(
    workload: Workload,
    out: str | os.PathLike | None = None,
    examples: tuple | None = None,
    checks: bool = True,
):
    """`(gradient, None)`, or `(None, note)` where adcompiler cannot compile it today.
    `examples`: compile for arguments like these (`example_args`)."""
    from adcompiler import ADCompileError, grad

    argnums = workload.argnums[0] if len(workload.argnums) == 1 else workload.argnums
    try:
        g = grad(
            workload.fn, argnums=argnums, out=out, example_args=examples, checks=checks
        )
        return g, None
    except ADCompileError as exc:
        return None, unsupported_note(exc)


def as_tuple(grads) -> tuple:
    return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)


@dataclass
class Row:
    label: str
    straight_line: bool
    times: dict[str, Timing] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # method -> why it has no time
    max_error: dict[str, float] = field(default_factory=dict)  # method -> vs hand
    first: dict[str, float] = field(default_factory=dict)  # method -> first call

    def t(self, method: str) -> float | None:
        timing = self.times.get(method)
        return timing.median if timing else None


def max_rel_error(got, want) -> float:
    err = 0.0
    for g, w in zip(as_tuple(got), as_tuple(want)):
        g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
        scale = max(1.0, float(np.max(np.abs(w))) if w.size else 1.0)
        err = max(err, float(np.max(np.abs(g - w))) / scale if w.size else 0.0)
    return err


def run_row(
    workload: Workload,
    label: str,
    size,
    out,
    peers=tuple(PEERS),
    target: float = 0.4,
    log=print,
    repeats: int = 1,
) -> Row:
    """Check every contender against the hand-written gradient, then time them all.

    With `repeats`, the whole interleaved measurement runs that many times and
    each contender's time is the median of its medians: on a shared machine one
    measurement can land in a slow spell that another misses."""
    from benchmarks.workloads import to_numpy

    row = Row(label, workload.straight_line)
    args = workload.inputs(size)
    want = workload.hand(*args)
    calls = {"hand": (workload.hand, args)}

    for variant, options in VARIANTS.items():
        examples = args if options.get("examples") else None
        checks = options.get("checks", True)
        generated, note = compile_generated(workload, out, examples, checks)
        if generated is None:
            row.notes[variant] = note
            log(f"  {variant:<10} {note}")
        else:
            row.max_error[variant] = max_rel_error(generated(*args), want)
            calls[variant] = (generated, args)

    for peer in peers:
        if not peer_available(peer):
            row.notes[peer] = "not installed"
            continue
        try:
            g, prepared = peer_grad(peer, workload, args)
            t0 = time.perf_counter()
            got = g(*prepared)  # for jax-jit: trace, compile and run
            row.first[peer] = time.perf_counter() - t0
            row.max_error[peer] = max_rel_error(to_numpy(got), want)
        except Exception as exc:  # a peer failing is reported, not fatal
            row.notes[peer] = (
                f"failed ({type(exc).__name__}: {str(exc).splitlines()[0]})"
            )
            log(f"  {peer:<10} {row.notes[peer]}")
            continue
        calls[peer] = (g, prepared)

    # Every contender is timed in one interleaved measurement, as the peers'
    # times are reported. adcompiler's variants and the hand-written gradient
    # are timed again on their own, and their times come from there: a slow
    # peer (JAX without jit takes 100 ms on the RNN) cuts the shared rounds
    # to a handful, too few for ratios near 1 to settle.
    ours = {n: c for n, c in calls.items() if n == "hand" or n in VARIANTS}
    row.times = _medians([measure(calls, target) for _ in range(repeats)])
    if len(ours) < len(calls):
        row.times.update(_medians([measure(ours, target) for _ in range(repeats)]))
    for name, timing in row.times.items():
        log(
            f"  {name:<10} {timing.median * 1e6:12.2f} us "
            f"({timing.samples} x {timing.number} calls)"
        )
    return row


# --------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------

TARGET_STRAIGHT = 1.10
TARGET_LOOP = 1.3


def _medians(runs: list[dict]) -> dict[str, Timing]:
    """Each contender's median of its medians over the runs."""
    return {
        name: Timing(
            statistics.median(run[name].median for run in runs),
            sum(run[name].samples for run in runs),
            runs[0][name].number,
        )
        for name in runs[0]
    }


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def peer_cell(row: Row, peer: str) -> str:
    t, gen = row.t(peer), row.t("generated")
    if t is None:
        return cell(row.notes.get(peer, "—"))
    if gen is None:
        return fmt_time(t)
    return f"{fmt_time(t)} ({t / gen:.2f}×)"


def jit_verdict(row: Row) -> str:
    jit, gen = row.t("jax-jit"), row.t("generated")
    if jit is None or gen is None:
        return "—"
    if gen < jit:
        return f"**✓ generated ahead** ({jit / gen:.2f}×)"
    return f"jit ahead by {gen / jit:.2f}×"


def gen_cells(row: Row, variant: str = "generated") -> tuple[str, str]:
    gen, hand = row.t(variant), row.t("hand")
    if gen is None:
        return cell(row.notes.get(variant, "—")), "—"
    ratio = gen / hand
    limit = TARGET_STRAIGHT if row.straight_line else TARGET_LOOP
    ok = "✓" if ratio <= limit else "✗"
    return fmt_time(gen), f"{ratio:.2f} {ok}"


def variant_cell(row: Row, variant: str) -> str:
    """`8.1 µs (1.05 ✓)`: a variant's time and its ratio to hand-written."""
    time, ratio = gen_cells(row, variant)
    return time if ratio == "—" else f"{time} ({ratio})"


def results_table(rows: list[Row]) -> str:
    head = [
        "workload",
        "hand-written",
        "generated",
        "gen / hand",
        "with example_args (÷ hand)",
        "example_args, checks=False (÷ hand)",
        "autograd",
        "PyTorch eager",
        "JAX (no jit)",
        "JAX jit",
        "jit compile",
        "generated vs JAX jit",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        gen, ratio = gen_cells(row)
        jit = row.first.get("jax-jit")
        cells = [
            cell(row.label),
            fmt_time(row.t("hand")),
            gen,
            ratio,
            variant_cell(row, "specialized"),
            variant_cell(row, "unchecked"),
            peer_cell(row, "autograd"),
            peer_cell(row, "torch"),
            peer_cell(row, "jax"),
            peer_cell(row, "jax-jit"),
            fmt_time(jit) if jit else "—",
            jit_verdict(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio_targets(rows: list[Row], variant: str) -> list[str]:
    """The two ratio targets for one of adcompiler's variants."""
    name = VARIANT_NAMES[variant]
    straight = [r for r in rows if r.straight_line and r.t(variant) is not None]
    loops = [r for r in rows if not r.straight_line and r.t(variant) is not None]
    out = []
    for rs, limit, what in (
        (straight, TARGET_STRAIGHT, "every straight-line workload"),
        (loops, TARGET_LOOP, "the RNN"),
    ):
        found = [r.t(variant) / r.t("hand") for r in rs]
        ok = "✓" if found and max(found) <= limit else "✗"
        listed = ", ".join(f"{x:.2f}" for x in found) or "none measured"
        out.append(
            f"- {name} / hand-written ≤ {limit} on {what}: {ok} (ratios {listed})"
        )
    return out


def targets_summary(rows: list[Row], seed_labels: tuple[str, ...]) -> list[str]:
    """The issue's targets, each with what this run shows."""
    out = []
    missing = [r.label for r in rows if r.t("generated") is None]
    for variant in VARIANTS:
        out += _ratio_targets(rows, variant)
    for peer, name in (("autograd", "autograd"), ("torch", "PyTorch eager")):
        rs = [
            r
            for r in rows
            if r.label in seed_labels and r.t("generated") is not None and r.t(peer)
        ]
        if rs:
            low = min(r.t(peer) / r.t("generated") for r in rs)
            ok = "✓" if low >= 3.0 else "✗"
            out.append(
                f"- generated ≥ 3× faster than {name} on the seed examples and the "
                f"small MLP: {ok} (smallest speedup {low:.2f}× over {len(rs)} rows)"
            )
    rs = [r for r in rows if r.t("generated") is not None and r.t("jax")]
    if rs:
        low = min(r.t("jax") / r.t("generated") for r in rs)
        out.append(
            f"- generated faster than JAX without jit everywhere: "
            f"{'✓' if low > 1.0 else '✗'} (smallest speedup {low:.2f}×)"
        )
    if missing:
        out.append(
            "- not yet measured (adcompiler cannot compile them today): "
            + "; ".join(missing)
        )
    return out


# --------------------------------------------------------------------------
# the machine
# --------------------------------------------------------------------------

THREAD_ENV = re.compile(r"OMP|BLAS|MKL|XLA|THREAD|NVPL|CORETYPE|VECLIB|NUMEXPR")


def machine_info(extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    info: list[tuple[str, str]] = []
    info.append(("Python", f"{platform.python_version()} ({sys.executable})"))
    info.append(("platform", platform.platform()))
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info.append(("CPU", f"{cpu}; {os.cpu_count()} logical CPUs"))
    if hasattr(os, "sched_getaffinity"):
        info.append(("CPU affinity", str(sorted(os.sched_getaffinity(0)))))
    if hasattr(os, "getloadavg"):
        info.append(("load average (1, 5, 15 min)", str(os.getloadavg())))
    info.append(("NumPy", np.__version__))
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.append(("NumPy BLAS (build)", f"{blas.get('name')} {blas.get('version')}"))
    except Exception:  # older NumPy has no mode="dicts"
        pass
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            info.append(
                (
                    f"threadpool {pool.get('internal_api')}",
                    f"{pool.get('version')}, {pool.get('num_threads')} threads, "
                    f"arch {pool.get('architecture')}, {Path(pool.get('filepath', '')).name}",
                )
            )
    except ImportError:
        info.append(("threadpoolctl", "not installed: BLAS threads not verified"))
    env = {k: v for k, v in os.environ.items() if THREAD_ENV.search(k)}
    for key in sorted(env):
        info.append((f"env {key}", env[key]))
    info.extend((extra or {}).items())
    try:
        import adcompiler

        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        info.append(
            (
                "adcompiler",
                f"{adcompiler.__version__} from {Path(adcompiler.__file__).parent}"
                f" (commit {commit or '?'})",
            )
        )
    except ImportError:
        pass
    return info
