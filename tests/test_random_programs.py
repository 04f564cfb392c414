"""Random programs of the supported language: gradients against finite differences.

`programs.py` builds the programs. Every one must compile (an `ADCompileError`
fails the test: the programs use supported constructs only), the gradient must
have each parameter's shape and dtype, and where the function is smooth around
the point (finite differences with two step sizes agree) it must match central
finite differences in float64.

The fast profile runs in the normal suite, derandomized. The long profile:

    ADC_PROPERTY_EXAMPLES=5000 python -m pytest -m slow tests/test_random_programs.py

(`ADC_PASSES_OFF=all` in front checks the unoptimised compiler the same way;
`ADC_PROPERTY_SPECIALIZED=1` compiles each program for its arguments,
`example_args`.)

`ADC_PROPERTY_FAST=34` runs a third of the fast profile, and
`ADC_PROPERTY_SEED=2` draws other programs than the derandomized ones (the
same for the same seed): CI gives each Python version its own third.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from programs import arguments, check, programs

FAST = int(os.environ.get("ADC_PROPERTY_FAST", "100"))
SEED = os.environ.get("ADC_PROPERTY_SEED") or None
LONG = int(os.environ.get("ADC_PROPERTY_EXAMPLES", "5000"))
SETTINGS = dict(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("programs")


@pytest.fixture(scope="module", autouse=True)
def buffers_of_every_size():
    """The programs' arrays are small: reuse their buffers too (passes/buffers.py),
    so that the programs compiled for their arguments exercise the pass."""
    import adcompiler.passes.buffers as buffers

    before, buffers.MIN_BYTES = buffers.MIN_BYTES, 0
    yield
    buffers.MIN_BYTES = before


def fast(examples: int):
    """The fast profile's settings: derandomized, or drawn from `ADC_PROPERTY_SEED`."""

    def apply(test):
        test = settings(max_examples=examples, derandomize=SEED is None, **SETTINGS)(
            test
        )
        return test if SEED is None else hypothesis_seed(int(SEED))(test)

    return apply


@fast(FAST)
@given(program=programs(), seed=st.integers(0, 2**16))
def test_random_programs(folder, program, seed):
    event(check(program, folder, seed))


@fast(FAST // 3)
@given(program=programs(), seed=st.integers(0, 2**16))
def test_random_programs_specialized(folder, program, seed):
    """Compiled for the arguments it is called with (`example_args`): the shape
    facts traced from them must not change a gradient."""
    examples = arguments(program.shapes, seed)
    # compiled for float32 examples too on every other program (the long profile:
    # on each), which doubles its compile time
    kwargs = {"example_args": examples}
    event(check(program, folder, seed, kwargs, float32=seed % 2 == 0))


@pytest.mark.slow
@settings(max_examples=LONG, **SETTINGS)
@given(program=programs(), seed=st.integers(0, 2**32 - 1))
def test_random_programs_long(folder, program, seed):
    kwargs = None
    if os.environ.get("ADC_PROPERTY_SPECIALIZED"):
        kwargs = {"example_args": arguments(program.shapes, seed)}
    event(check(program, folder, seed, kwargs))
