"""The benchmark workloads: every hand-written and peer gradient against finite
differences, and adcompiler's gradient against the hand-written one.

Small sizes only; nothing here is timed (timings go to benchmarks/RESULTS.md).
"""

import numpy as np
import pytest
from conftest import numeric_grad

import adcompiler
from benchmarks import harness
from benchmarks.workloads import (
    BY_KEY,
    PEERS,
    WORKLOADS,
    peer_available,
    peer_grad,
    to_numpy,
)

KEYS = [w.key for w in WORKLOADS]
# Workloads adcompiler compiles today: an ADCompileError on these is a failure.
SUPPORTED = {"seed_f", "score", "logreg_loss", "chain"}


def small_inputs(workload):
    return workload.inputs(workload.test_size, seed=7)


def fd_grads(workload, args):
    return tuple(numeric_grad(workload.fn, list(args), i) for i in workload.argnums)


def assert_grads_close(got, want, rtol=1e-6, atol=1e-8):
    got, want = harness.as_tuple(got), harness.as_tuple(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("key", KEYS)
def test_hand_gradient_matches_finite_differences(key):
    workload = BY_KEY[key]
    args = small_inputs(workload)
    want = fd_grads(workload, args)
    assert any(np.any(np.asarray(w) != 0.0) for w in want)  # not a vacuous check
    assert_grads_close(workload.hand(*args), want)


@pytest.mark.parametrize("args", [(1.0, 2.0, 0.0), (1.0, 0.5, 2.0), (-3.0, 1.5, -1.0)])
def test_hand_seed_gradient_on_both_sides_of_max(out_dir, args):
    # the rows' inputs have y > z; the other branch of max is checked here
    workload = BY_KEY["seed_f"]
    want = fd_grads(workload, args)
    assert_grads_close(workload.hand(*args), want)
    assert_grads_close(adcompiler.grad(workload.fn, argnums=(0, 1, 2))(*args), want)


def test_finite_difference_check_catches_a_wrong_gradient():
    workload = BY_KEY["score"]
    args = small_inputs(workload)
    d_W, d_b = workload.hand(*args)
    with pytest.raises(AssertionError):
        assert_grads_close((d_W.T, d_b), fd_grads(workload, args))


@pytest.mark.parametrize("key", KEYS)
def test_benchmark_sizes_build(key):
    workload = BY_KEY[key]
    for _, size in workload.sizes:
        args = workload.inputs(size)
        assert all(np.asarray(a).dtype == np.float64 for a in args)
        assert np.ndim(workload.fn(*args)) == 0
    assert workload.inputs(workload.test_size)[0] is not None


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("peer", list(PEERS))
def test_peer_gradient_matches_finite_differences(peer, key):
    if not peer_available(peer):
        pytest.skip(f"{PEERS[peer][0]} is not installed")
    workload = BY_KEY[key]
    args = small_inputs(workload)
    g, prepared = peer_grad(peer, workload, args)
    assert_grads_close(to_numpy(g(*prepared)), fd_grads(workload, args))


@pytest.mark.parametrize("variant", list(harness.VARIANTS))
@pytest.mark.parametrize("key", KEYS)
def test_generated_gradient_equals_hand_written(out_dir, key, variant):
    workload = BY_KEY[key]
    args = small_inputs(workload)
    big = workload.inputs(workload.sizes[0][1])
    options = harness.VARIANTS[variant]
    for inputs in (args, big):
        examples = inputs if options.get("examples") else None
        checks = options.get("checks", True)
        generated, note = harness.compile_generated(workload, None, examples, checks)
        if generated is None:
            if key in SUPPORTED:
                pytest.fail(note)
            pytest.skip(note)
        want = workload.hand(*inputs)
        if inputs is args:
            assert_grads_close(generated(*args), want, rtol=1e-12, atol=1e-12)
        else:
            assert harness.max_rel_error(generated(*big), want) < 1e-10


def lambda_loss(x):
    f = lambda v: v * v
    return np.sum(f(x))


def test_unsupported_workload_is_reported_not_raised(out_dir):
    workload = harness.Workload(
        "lambda_loss", lambda_loss, lambda x: 2 * x, (0,), None, (), None
    )
    generated, note = harness.compile_generated(workload)
    assert generated is None
    assert note.startswith("unsupported (ADCompileError: ") and "\n" not in note


def fake_row(label, times, straight_line=True, notes=None):
    row = harness.Row(label, straight_line)
    row.times = {k: harness.Timing(v, 7, 1) for k, v in times.items()}
    row.notes = notes or {}
    return row


def test_table_marks_rows_ahead_of_jax_jit_and_unsupported_rows():
    rows = [
        fake_row(
            "fast", {"hand": 1e-5, "generated": 1.05e-5, "jax-jit": 3e-5, "torch": 5e-5}
        ),
        fake_row("slow", {"hand": 1e-3, "generated": 2e-3, "jax-jit": 1e-3}),
        fake_row(
            "rnn",
            {"hand": 1e-3, "jax-jit": 1e-3},
            False,
            {"generated": "unsupported (X: y|z)"},
        ),
    ]
    lines = harness.results_table(rows).splitlines()
    assert len(lines) == 5 and all(
        line.count(" | ") == 11 for line in lines if "---" not in line
    )
    fast, slow, rnn = lines[2:]
    assert (
        "1.05 ✓" in fast and "✓ generated ahead** (2.86×)" in fast and "(4.76×)" in fast
    )
    assert "2.00 ✗" in slow and "jit ahead by 2.00×" in slow
    assert "unsupported (X: y\\|z)" in rnn and "generated ahead" not in rnn
    summary = "\n".join(harness.targets_summary(rows, ("fast",)))
    assert "✗ (ratios 1.05, 2.00)" in summary and "not yet measured" in summary
    assert "generated, example_args / hand-written ≤ 1.1 on every" in summary


def test_table_shows_the_specialized_variants():
    row = fake_row(
        "fast",
        {"hand": 1e-5, "generated": 1.3e-5, "specialized": 1.08e-5, "unchecked": 1e-5},
    )
    (line,) = harness.results_table([row]).splitlines()[2:]
    assert "| 10.8 µs (1.08 ✓) | 10.0 µs (1.00 ✓) |" in line
    summary = "\n".join(harness.targets_summary([row], ("fast",)))
    assert (
        "- generated / hand-written ≤ 1.1 on every straight-line workload: ✗" in summary
    )
    assert (
        "example_args, checks=False / hand-written ≤ 1.1 on every straight" in summary
    )


def test_measure_times_every_contender():
    timings = harness.measure({"a": (np.sum, (np.ones(10),)), "b": (len, ([1],))}, 0.01)
    assert set(timings) == {"a", "b"}
    assert all(t.median > 0 and t.samples >= 7 for t in timings.values())


def test_ours_are_timed_again_on_their_own(out_dir, monkeypatch):
    # all contenders interleaved (the peers' cells), then ours alone (ours)
    measured = []

    def fake_measure(calls, target):
        measured.append(sorted(calls))
        alone = "autograd" not in calls
        return {
            n: harness.Timing(6e-6 if n == "autograd" else 2e-6 - alone * 1e-6, 7, 1)
            for n in calls
        }

    monkeypatch.setattr(harness, "measure", fake_measure)
    monkeypatch.setattr(harness, "peer_available", lambda peer: True)
    workload = BY_KEY["seed_f"]
    monkeypatch.setattr(harness, "peer_grad", lambda p, w, a: (workload.hand, a))
    row = harness.run_row(
        workload, "seed", None, out_dir, ("autograd",), 0.01, lambda *a: None, 2
    )
    ours = sorted(["hand", *harness.VARIANTS])
    every = sorted([*ours, "autograd"])
    assert measured == [every, every, ours, ours]
    assert row.times["hand"].median == 1e-6 and row.times["generated"].median == 1e-6
    assert row.times["autograd"].median == 6e-6


def test_times_under_a_microsecond_are_shown_in_nanoseconds():
    assert harness.fmt_time(1.27e-7) == "127 ns"
    assert harness.fmt_time(2.5e-6) == "2.5 µs"
