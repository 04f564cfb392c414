"""Derivative rules for indexing, index assignment, selection and joining arrays.

Reading `x[idx]` sends its adjoint back into the entries it read: the
reverse sweep collects such contributions and writes them into one zero
buffer per array (`d_x = np.zeros_like(x)`, then `d_x[idx] += g` for basic
indices, `np.add.at(d_x, idx, g)` for integer arrays and masks, where an
entry can be read twice). `y[idx] = v` is functional in the IR (a new value
of `y`); the generated code updates `y` in place where no one reads the old
value, and copies it otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir import Atom, Const
from .core import (
    ELEMENTWISE,
    OTHER,
    SCALAR,
    axis_kwargs,
    defprim,
    is_none,
    value_of,
)


@dataclass(frozen=True)
class IndexContrib:
    """A contribution to the entries `index` of an array: `d[index] += g`."""

    index: Atom
    g: Atom
    basic: bool = True
    zeros: str = "zeros_like"


NP = "np"


@dataclass(frozen=True)
class PathContrib:
    """A contribution to one leaf of a container argument: `d_params["W"] = g`."""

    path: tuple
    g: Atom


def _basic(kwargs) -> bool:
    b = kwargs.get("basic")
    return bool(getattr(b, "value", b))


def _getitem_vjp(e, g, out, x, idx, **kwargs):
    seq = getattr(kwargs.get("seq"), "value", False)
    if getattr(kwargs.get("any"), "value", False):
        return IndexContrib(idx, g, True, "zeros_any")
    return IndexContrib(idx, g, _basic(kwargs), "zeros_list" if seq else "zeros_like")


defprim("getitem", ("getitem",), _getitem_vjp, None, shape=OTHER)
# `params.W` on a NamedTuple or dataclass argument (the reverse sweep handles its adjoint).
defprim("getattr", ("getattr",), _getitem_vjp, None, shape=OTHER)
# The gradient of a container argument: its structure, with the leaves' adjoints.
defprim("grad_like", ("grad_like",))
# d[idx] += g and np.add.at(d, idx, g), on a buffer the reverse sweep owns.
defprim("index_add", ("index_add",), None, None, None)
defprim("index_add_at", ("index_add_at",), None, None, None)
# The same for an entry of a container (a list of arrays, a dict, nested).
defprim("zeros_any", ("helper", "_zeros_any"), None)
defprim("index_add_any", ("index_add_any",), None, None, None)
# `acc += g` on an accumulator the reverse sweep owns (a loop's adjoint of a value
# the body reads from outside).
defprim("iadd", ("iadd",), None, None, infer=lambda s, out, acc, g: s.union(out, acc))


def _setitem_x(e, g, out, x, idx, v, **kwargs):
    return e.call("setitem", g, idx, 0.0)


def _setitem_v(e, g, out, x, idx, v, **kwargs):
    part = e.call("getitem", g, idx)
    if not _basic(kwargs):
        # `y[[0, 0, 2]] = v`: NumPy keeps the last of two writes to one entry, so
        # only that entry of `v` reaches `y` (`y[i] += c` adds `c` once)
        part = e.call("last_writes", part, x, idx)
    if e.is_scalar(v):
        return e.call("sum", part) if not e.is_scalar(part) else part
    if e.shapes.same(part, v):  # `y[i] = y[i] - c`: the value has the entries' shape
        return part
    return e.call("unbroadcast", part, v)


defprim(
    "setitem",
    ("setitem",),
    _setitem_x,
    None,
    _setitem_v,
    infer=lambda s, out, x, idx, v, **kw: s.union(out, x),
)

# `g` where an entry of `v` in `x[idx] = v` stays in `x` (see `_setitem_v`)
defprim(
    "last_writes",
    ("helper", "_last_writes"),
    None,
    None,
    None,
    infer=lambda s, out, g, x, idx: s.union(out, g),
)
defprim("zeros_list", ("helper", "_zeros_list"), None)
defprim("add_each", ("helper", "_add_each"), None, None)
defprim("slice", ("builtin", "slice"), None, None, None, shape=OTHER)
# a % b = a - b·floor(a/b): derivative 1 in a, -floor(a/b) in b (away from the jumps).
defprim(
    "mod",
    ("binop", __import__("ast").Mod),
    lambda e, g, out, a, b: g,
    lambda e, g, out, a, b: e.neg(e.mul(g, e.call("floordiv", a, b))),
    shape=ELEMENTWISE,
    broadcasts=True,
)
defprim(
    "floordiv", ("binop", __import__("ast").FloorDiv), None, None, shape=ELEMENTWISE
)
# np.fmod(a, b) = a - b·trunc(a/b) (the sign of a): 1 in a, -trunc(a/b) in b.
defprim(
    "fmod",
    (NP, "fmod"),
    lambda e, g, out, a, b: g,
    lambda e, g, out, a, b: e.neg(e.mul(g, e.call("trunc", e.div(a, b)))),
    shape=ELEMENTWISE,
    broadcasts=True,
)
defprim("zeros", (NP, "zeros"), None)
defprim("ones", (NP, "ones"), None)
# `np.arange(n)` indexes (`p[np.arange(n), labels]`); its values carry no derivative
defprim("arange", (NP, "arange"), None, None, None)
# `np.full(shape, v)`: every entry is v (or v broadcast), so v's adjoint sums g
defprim(
    "full", (NP, "full"), None, lambda e, g, out, shape, v: e.call("unbroadcast", g, v)
)
defprim("float", ("builtin", "float"), lambda e, g, out, x: g, shape=SCALAR)

# -- reductions to the extreme entry --------------------------------------------------


def _extreme_vjp(e, g, out, x, axis=None, keepdims=False):
    """The gradient goes to the entries equal to the extreme, split evenly among ties."""
    keep = getattr(keepdims, "value", keepdims)
    if is_none(axis):
        hit = e.call("eq", x, out)
        return e.mul(g, e.div(hit, e.call("sum", hit)))
    if not keep:
        g = e.call("expand_dims", g, axis)
        out = e.call("expand_dims", out, axis)
    hit = e.call("eq", x, out)
    return e.mul(g, e.div(hit, e.call("sum", hit, axis=axis, keepdims=True)))


def _reduce_infer(s, out, x, axis=None, keepdims=False, ddof=None, ord=None):
    if is_none(axis) and not getattr(keepdims, "value", keepdims):
        s.set_rank(out, 0)


defprim("amax", (NP, "max"), _extreme_vjp, infer=_reduce_infer)
defprim("amin", (NP, "min"), _extreme_vjp, infer=_reduce_infer)

# -- variance and standard deviation ------------------------------------------------


def spread(e, x, out, axis=None, keepdims=False, ddof=0):
    """`(x - m) / (n - ddof)` for the variance `out` of `x` over `axis`, with `m` the
    mean kept in place and `n` the entries each result sums over, and `out` with
    its reduced axes kept (so that it broadcasts against `x`). The mean's own
    derivative drops out: the deviations sum to zero."""
    keep = getattr(keepdims, "value", keepdims)
    mean = e.call("mean", x, **axis_kwargs(axis), keepdims=Const(True))
    deviation = e.sub(x, mean)
    n = e.div(e.call("size", x), e.call("size", out))
    ddof = getattr(ddof, "value", ddof)
    if ddof != 0:
        n = e.sub(n, ddof)
    if not (keep or is_none(axis)):
        out = e.call("expand_dims", out, axis)
    return e.div(deviation, n), out


def _kept(e, g, axis, keepdims):
    """`g` with the reduced axes back in place, to broadcast against the operand."""
    if getattr(keepdims, "value", keepdims) or is_none(axis):
        return g
    return e.call("expand_dims", g, axis)


def _var_vjp(e, g, out, x, axis=None, keepdims=False, ddof=0):
    """2 (x - m) / (n - ddof), times the adjoint."""
    scaled, _ = spread(e, x, out, axis, keepdims, ddof)
    return e.mul(_kept(e, g, axis, keepdims), e.mul(2.0, scaled))


def _std_vjp(e, g, out, x, axis=None, keepdims=False, ddof=0):
    """(x - m) / ((n - ddof) std), times the adjoint: the variance's, over 2 std."""
    scaled, kept = spread(e, x, out, axis, keepdims, ddof)
    return e.mul(_kept(e, g, axis, keepdims), e.div(scaled, kept))


def _prod_vjp(e, g, out, x, axis=None, keepdims=False):
    """The product of the other entries, times the adjoint; not `out / x`, which
    fails where an entry is 0 (`_prod_others` multiplies running products)."""
    others = e.call("prod_others", x, **axis_kwargs(axis))
    return e.mul(_kept(e, g, axis, keepdims), others)


defprim("prod", (NP, "prod"), _prod_vjp, infer=_reduce_infer)
defprim(
    "prod_others",
    ("helper", "_prod_others"),
    None,
    None,
    infer=lambda s, out, x, axis=None: s.union(out, x),
)
# The derivative of `prod_others(x)` along `t` (its forward rule, rules/jvp.py).
defprim(
    "prod_others_jvp",
    ("helper", "_prod_others_jvp"),
    None,
    None,
    None,
    infer=lambda s, out, x, t, axis=None: s.union(out, x),
)
defprim("var", (NP, "var"), _var_vjp, infer=_reduce_infer)
defprim("std", (NP, "std"), _std_vjp, infer=_reduce_infer)


def vector_ord(e, x, ord, axis):
    """`(kind, x)` for `np.linalg.norm(x, ord, axis)`: kind None for the 2-norm
    of the entries (no `ord`, 'fro', or 2 of vectors), else 1, inf or -inf of
    vectors. A vector norm other than the 2-norm needs an axis or a vector:
    without, a matrix's is another function (its largest column sum, or
    singular value), so where the shapes do not tell, `_vector(x)` checks."""
    value = None if is_none(ord) else ord.value
    if value in (None, "fro"):
        return None, x
    if is_none(axis) and e.rank(x) != 1:
        x = e.call("vector", x)
    return (None if value == 2 else value), x


def _norm_vjp(e, g, out, x, ord=None, axis=None, keepdims=False):
    kind, x = vector_ord(e, x, ord, axis)
    if kind in (math.inf, -math.inf):  # max |x| (min): the extremes' signs, as np.max's
        extreme = _extreme_vjp(e, g, out, e.call("abs", x), axis, keepdims)
        return e.mul(extreme, e.call("sign", x))
    keep = getattr(keepdims, "value", keepdims)
    if not is_none(axis) and not keep:
        g = e.call("expand_dims", g, axis)
        out = e.call("expand_dims", out, axis)
    if kind == 1:  # sum |x|: the signs
        return e.mul(g, e.call("sign", x))
    return e.mul(e.div(g, out), x)  # x / |x|


defprim("norm", (NP, "linalg.norm"), _norm_vjp, infer=_reduce_infer)
defprim(
    "vector",
    ("helper", "_vector"),
    lambda e, g, out, x: g,
    infer=lambda s, out, x: (s.set_rank(out, 1), s.union(out, x)),
)


def _clip_vjp(e, g, out, x, lo, hi):
    inside = None
    if not is_none(lo):
        inside = e.call("ge", x, lo)
    if not is_none(hi):
        below = e.call("le", x, hi)
        inside = below if inside is None else e.call("logical_and", inside, below)
    return g if inside is None else e.call("where", inside, g, 0.0)


def _clip_lo_vjp(e, g, out, x, lo, hi):
    """Where `x` is below `a_min`, the result is `a_min` (for a_min <= a_max)."""
    return e.call("where", e.call("lt", x, lo), g, 0.0)


def _clip_hi_vjp(e, g, out, x, lo, hi):
    return e.call("where", e.call("gt", x, hi), g, 0.0)


defprim("clip", (NP, "clip"), _clip_vjp, _clip_lo_vjp, _clip_hi_vjp, shape=ELEMENTWISE)
defprim("logical_and", (NP, "logical_and"), None, None, shape=ELEMENTWISE)
defprim("logical_or", (NP, "logical_or"), None, None, shape=ELEMENTWISE)
defprim("logical_not", (NP, "logical_not"), None, shape=ELEMENTWISE)

# -- joining arrays ---------------------------------------------------------------------
# np.stack((a, b, c), axis) is `stack(a, b, c, axis=...)`: one argument per part.


def _stack_part(k):
    def vjp(e, g, out, *parts, axis=0):
        return e.call("take", g, k, axis=axis)

    return vjp


def _concat_part(k):
    def vjp(e, g, out, *parts, axis=0):
        return e.call("concat_part", g, k, e.call("tuple", *parts), axis=axis)

    return vjp


MAX_PARTS = 64
defprim("stack", ("seqcall", "stack"), *[_stack_part(k) for k in range(MAX_PARTS)])
defprim(
    "concatenate",
    ("seqcall", "concatenate"),
    *[_concat_part(k) for k in range(MAX_PARTS)],
)
defprim("take", (NP, "take"), None, None)
defprim("concat_part", ("helper", "_concat_part"), None, None, None)

# np.hstack, np.vstack and np.column_stack join along axis 1 (axis 0 for vectors),
# axis 0 and axis 1; np.vstack makes a vector (or a number) one row, np.column_stack
# one column. (the axis a part joins along, the least rank of a part that keeps its shape)
_JOINS = {"hstack": (None, 1), "vstack": (0, 2), "column_stack": (1, 2)}


def _joined_part(how: str, k: int):
    """The adjoint of part `k`: the piece of `g` it became. Where the parts' ranks
    are known and alike, it is a concatenation's piece (`_concat_part`) or, for
    vectors made rows or columns, one row or column of `g`; otherwise
    `_joined_part` tells at run time."""

    def vjp(e, g, out, *parts):
        axis, least = _JOINS[how]
        ranks = {e.rank(p) for p in parts}
        if len(ranks) == 1 and None not in ranks:
            (rank,) = ranks
            if how == "hstack" and rank >= 1:
                axis = 0 if rank == 1 else 1
            if rank >= least:
                return e.call("concat_part", g, k, e.call("tuple", *parts), axis=axis)
            if rank == 1:
                return e.call("take", g, k, axis=axis)
        return e.call("joined_part", g, k, e.call("tuple", *parts), Const(how))

    return vjp


def _joined_infer(how: str):
    def infer(s, out, *parts):
        ranks = [s.rank(p) for p in parts]
        if how == "hstack" and ranks[0] is not None:
            s.set_rank(out, max(ranks[0], 1))
        elif how != "hstack" and None not in ranks and max(ranks) <= 2:
            s.set_rank(out, 2)

    return infer


for _how in _JOINS:
    defprim(
        _how,
        ("seqcall", _how),
        *[_joined_part(_how, k) for k in range(MAX_PARTS)],
        infer=_joined_infer(_how),
    )
defprim("joined_part", ("helper", "_joined_part"), None, None, None, None)

# The weights of `np.average(a, axis, weights=w)` as they multiply `a`: a vector
# of weights along `axis` reshaped to broadcast there (frontend.average)
defprim(
    "along",
    ("helper", "_along"),
    lambda e, g, out, w, a, axis: e.call("reshape", g, e.call("shape", w)),
    None,
    None,
)

# A list of arrays (the value of a list the function builds in a loop):
# `xs_1 = append(xs, x)` prints as `xs.append(x)`.  Its adjoint is an array
# (or list) with one entry per element: entry -1 goes to `x`, the rest to `xs`.


def _append_list(e, g, out, xs, x):
    return e.call("getitem", g, slice(None, -1))


def _append_item(e, g, out, xs, x):
    return e.call("getitem", g, -1)


defprim("new_list", ("list",))
defprim("append", ("append",), _append_list, _append_item)


def _stack_list_vjp(e, g, out, xs, axis=0):
    if getattr(axis, "value", axis) in (0, None):
        return g
    return e.call("moveaxis", g, axis, 0)


defprim("stack_list", (NP, "stack"), _stack_list_vjp)
defprim("array_list", (NP, "array"), _stack_list_vjp)
defprim(
    "moveaxis",
    (NP, "moveaxis"),
    lambda e, g, out, x, source, destination: e.call(
        "moveaxis", g, destination, source
    ),
    None,
    None,
)


def _concat_list_vjp(e, g, out, xs, axis=0):
    return e.call("split_like", g, xs, axis=axis)


defprim("concatenate_list", (NP, "concatenate"), _concat_list_vjp)
defprim("split_like", ("helper", "_split_like"), None, None)


def _sum_list_vjp(e, g, out, xs):
    return e.call("repeat_list", g, xs)


defprim("sum_list", ("builtin", "sum"), _sum_list_vjp)
defprim("repeat_list", ("helper", "_repeat_like"), None, None)
# `np.eye(n)`, `np.eye(n, m, k=1)`: the identity-like matrices of trace's adjoint
defprim(
    "eye", (NP, "eye"), None, None, infer=lambda s, out, *a, **kw: s.set_rank(out, 2)
)

# -- padding ------------------------------------------------------------------------------


def pad_widths(pad_width, rank: int | None):
    """np.pad's constant `pad_width` as one (before, after) pair per axis: an int or
    one pair for every axis, or a pair per axis. None where x's rank is needed
    and unknown."""
    value = pad_width.value
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], tuple):
        value = value[0]  # ((1, 2),): one pair for every axis
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return [p if len(p) == 2 else (p[0], p[0]) for p in value]
    if rank is None:
        return None
    pair = value if isinstance(value, tuple) else (value, value)
    if len(pair) == 1:
        pair = (pair[0], pair[0])
    return [tuple(pair)] * rank


def _unpad(e, g, out, x, pad_width, mode=None, constant_values=None):
    """The adjoint of `np.pad(x, pad_width)`: the block of `g` that x fills,
    `g[1:-1, 2:]` (trailing whole axes left out); `_unpad(g, pad_width)`
    where x's rank is unknown."""
    widths = pad_widths(pad_width, e.rank(x))
    if widths is None:
        return e.call("unpad", g, pad_width)
    index = [slice(lo, -hi if hi else None) for lo, hi in widths]
    while index and index[-1] == slice(None):
        index.pop()
    if not index:
        return g
    return e.call(
        "getitem", g, Const(index[0] if len(index) == 1 else tuple(index)), basic=True
    )


def _same_rank(s, out, x, *rest, **kwargs):
    s.set_rank(out, s.rank(x))


defprim("pad", (NP, "pad"), _unpad, None, infer=_same_rank)
# Where x's rank is unknown: the block cut out at run time. Its adjoint pads again.
defprim(
    "unpad",
    ("helper", "_unpad"),
    lambda e, g, out, h, pad_width: e.call("pad", g, pad_width),
    None,
    infer=_same_rank,
)

# -- order statistics: np.median, np.quantile, np.percentile --------------------------


def quantile_weights(e, x, q, axis):
    """The weights of np.quantile's linear method over x along `axis`: at most
    two entries per result, `1 - f` and `f` on the order statistics it
    interpolates (ties in order of position, as the stable sort puts them), 0
    elsewhere. Piecewise constant in x: no derivative."""
    return e.call("quantile_weights", x, q, **axis_kwargs(axis))


def quantile_share(prim: str, q) -> Const:
    """The quantile in [0, 1] a call of `prim` takes: 0.5 for the median, q of
    np.quantile, q / 100 of np.percentile (as NumPy divides it)."""
    if prim == "median":
        return Const(0.5)
    return Const(q[0].value / 100 if prim == "percentile" else q[0].value)


def _quantile_of(prim):
    def rule(e, g, out, x, *q, axis=None, keepdims=False):
        w = quantile_weights(e, x, quantile_share(prim, q), axis)
        return e.mul(_kept(e, g, axis, keepdims), w)

    return rule


def _quantile_infer(s, out, x, *q, axis=None, keepdims=False):
    _reduce_infer(s, out, x, axis, keepdims)


defprim("median", (NP, "median"), _quantile_of("median"), infer=_quantile_infer)
for _prim in ("quantile", "percentile"):
    defprim(_prim, (NP, _prim), _quantile_of(_prim), None, infer=_quantile_infer)
defprim(
    "quantile_weights",
    ("helper", "_quantile_weights"),
    None,
    None,
    infer=lambda s, out, x, q, axis=None: s.union(out, x),
)

# -- running extremes: np.maximum.accumulate, np.minimum.accumulate ----------------------


def accumulate_source(e, out, axis):
    """For each running extreme, the position along `axis` of the entry of x it
    came from: the first that attained it (as np.argmax picks the first of ties)."""
    return e.call("accumulate_source", out, axis)


def _unaccumulate(e, g, out, x, axis=None):
    """Each entry of g added to the entry its running extreme came from."""
    axis = Const(0) if axis is None else axis
    return e.call("unaccumulate", g, accumulate_source(e, out, axis), axis)


for _prim in ("maximum_accumulate", "minimum_accumulate"):
    defprim(
        _prim,
        (NP, _prim.replace("_", ".")),
        _unaccumulate,
        infer=lambda s, out, x, axis=None: s.union(out, x),
    )
# The position each running extreme came from; an index, no derivative.
defprim(
    "accumulate_source",
    ("helper", "_accumulate_source"),
    None,
    None,
    infer=lambda s, out, x, axis: s.union(out, x),
)
# g added at those positions: linear in g, its adjoint reads g back from them.
defprim(
    "unaccumulate",
    ("helper", "_unaccumulate"),
    lambda e, g, out, h, source, axis: e.call("take_along_axis", g, source, axis=axis),
    None,
    None,
    infer=lambda s, out, g, source, axis: s.union(out, g),
)

# -- np.nan_to_num ------------------------------------------------------------------------


def _nan_to_num_vjp(e, g, out, x, **options):
    """g where x is finite; 0 where NaN or an infinity was replaced by a constant."""
    return e.call("where", e.call("isfinite", x), g, 0.0)


defprim("nan_to_num", (NP, "nan_to_num"), _nan_to_num_vjp, shape=ELEMENTWISE)
defprim("isfinite", (NP, "isfinite"), None, shape=ELEMENTWISE)
defprim("isnan", (NP, "isnan"), None, shape=ELEMENTWISE)  # np.nansum's mask

# The segment of np.interp's knots each x falls in (frontend.interp): an index.
defprim(
    "interp_segment",
    ("helper", "_interp_segment"),
    None,
    None,
    infer=lambda s, out, x, xp: (s.union(out, x), s.vector_indices.add(out.name)),
)


# -- np.convolve, np.correlate of 1-D arrays ------------------------------------------
# With G = g put back in the full result (`_full_adjoint`, g itself for mode "full"),
# full[k] = sum_i a[i] v[k - i] gives a the correlation of G with v and v that
# with a; np.correlate(a, v) is np.convolve(a, v[::-1]), so a gets the
# convolution of G with v and v the reversed correlation of G with a.


def _placed(e, g, a, v, mode, correlate):
    mode = value_of(mode, "valid" if correlate else "full")  # NumPy's defaults
    if mode == "full":
        return g
    options = {"mode": Const(mode)}
    if correlate:
        options["correlate"] = Const(True)
    return e.call("full_adjoint", g, a, v, **options)


def _conv_rule(other: int, correlate: bool):
    """The adjoint of the operand that is not `other` (0 for a, 1 for v)."""

    def rule(e, g, out, a, v, mode=None):
        full = _placed(e, g, a, v, mode, correlate)
        partner = (a, v)[other]
        valid = {"mode": Const("valid")}
        if not correlate:
            return e.call("correlate", full, partner, **valid)
        if other == 1:  # a's adjoint
            return e.call("convolve", full, partner, **valid)
        return e.call("flip", e.call("correlate", full, partner, **valid))

    return rule


for _name, _corr in (("convolve", False), ("correlate", True)):
    defprim(_name, (NP, _name), _conv_rule(1, _corr), _conv_rule(0, _corr))
defprim("full_adjoint", ("helper", "_full_adjoint"), None, None, None)
