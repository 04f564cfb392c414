"""The optimization passes, and the switch that turns them off for debugging.

Each pass is one module (or one decision at one place, named here):

- `simplify`  constant folding, algebraic identities, strength reduction (simplify.py);
              a negation moved into the sum it ends in, or else back onto the
              number its products began with (negation.py)
- `cse`       common-subexpression elimination by hash-consing (autodiff/emitter.py)
- `dce`       dead-code elimination (dce.py)
- `shapes`    shape facts: `_unbroadcast` and rank-generic helpers only where
              shapes can differ, and a reduction's adjoint spread to its
              operand's shape only where the sum with another contribution
              does not broadcast it anyway (shapes.py, autodiff/reverse.py)
- `standins`  the adjoint of a sum stays a scalar while it can (autodiff/reverse.py)
- `inplace`   accumulation and index assignment in place where provably safe
              (autodiff/reverse.py, codegen/values.py); the adjoint of a list built
              by `append` shrinks with `pop()`, not sliced a trip (lists.py)
- `shift`     the max subtracted before a softmax, log-softmax or logsumexp
              has no adjoint (shift.py)
- `batch`     a loop's weight gradients, one outer product per trip, are
              summed after it as one matrix product (the trip's row `xs[t]`
              read from `xs` itself, each adjoint appended once); an adjoint
              of a known shape is appended and summed after the loop, not
              added in place a trip; with example arguments, each list is
              stacked once and summed as NumPy (`G_b.T @ xs[::-1]`), and
              elementwise work on the trips' forward values alone (tanh') is
              done on all trips at once before the backward loop
              (autodiff/reverse.py)
- `hoist`     a loop's products `U @ xs[t]` with an invariant `U` are one
              matrix product before it, and with example arguments an
              invariant addend (`+ b`) joins it there (hoist.py)
- `branches`  conditional expressions on one condition (the adjoint of
              `max(y, z)`) are one `if` statement (branches.py)
- `buffers`   with example arguments, a large elementwise result is written
              into an array whose last use has passed (`np.exp(t, out=t)`,
              `t *= x`) (buffers.py)
- `dot`       a matrix product of a vector or matrix `b`, whose operands' ranks
              are known, is `a.dot(b)`: BLAS without matmul's ufunc dispatch,
              0.4 µs less a product; a sum or a mean along the rows of what
              may be a matrix (a softmax's, a layer norm's) is `_sum_rows` or
              `_mean_rows`, a product with ones for float rows of up to 1024
              entries (products.py, rules/numpy.py)
- `steady`    without example arguments, a loop's trips are taken to keep
              their shapes, checked once a trip; the gradient derived without
              that takes over where a trip does not; `W @ h` or `h @ W` with
              an invariant `W` and the carried `h` is then `np.dot` where one
              check finds the ranks np.dot's (steady.py; with `dot` off, `@`
              stays)

`ADC_PASSES_OFF=all` (or a comma-separated list of names) in the environment,
or `with adcompiler.passes.disabled("cse", "dce"):`, compiles without them.
The generated code is then longer and slower, and must compute the same
gradients: the test suite passes either way. The setting is part of the
cache key, so switching it regenerates modules.
"""

import contextlib
import os

ALL = (
    "simplify",
    "cse",
    "dce",
    "shapes",
    "standins",
    "inplace",
    "shift",
    "batch",
    "hoist",
    "branches",
    "buffers",
    "dot",
    "steady",
)

_off: set[str] | None = None  # set by `disabled`; None: read the environment


def _from_env() -> set[str]:
    text = os.environ.get("ADC_PASSES_OFF", "")
    names = {n.strip() for n in text.split(",") if n.strip()}
    if "all" in names:
        return set(ALL)
    unknown = names - set(ALL)
    if unknown:
        raise ValueError(
            f"ADC_PASSES_OFF names unknown passes {sorted(unknown)}; known: {', '.join(ALL)}"
        )
    return names


def off() -> set[str]:
    return set(_off) if _off is not None else _from_env()


def enabled(name: str) -> bool:
    return name not in off()


def cache_tag() -> str:
    """What goes into the cache key: empty when every pass runs."""
    names = sorted(off())
    return f"\npasses off: {','.join(names)}" if names else ""


@contextlib.contextmanager
def disabled(*names: str):
    """Compile without the named passes (all of them if none is named)."""
    global _off
    chosen = set(names) or set(ALL)
    unknown = chosen - set(ALL)
    if unknown:
        raise ValueError(f"unknown passes {sorted(unknown)}; known: {', '.join(ALL)}")
    previous = _off
    _off = (previous or _from_env()) | chosen
    try:
        yield
    finally:
        _off = previous
