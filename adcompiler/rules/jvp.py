"""Jacobian-vector products: the forward-mode half of the rule table.

Each rule receives the tangents of the arguments (`None` for a zero
tangent: an argument that does not depend on the inputs) and returns the
tangent of the result. Most rules are sums of terms, one per nonzero
tangent; `terms` drops the zero ones, so no `0 * x` reaches generated code.
"""

from __future__ import annotations

from ..ir import Const, Var
from . import arrays as _arrays
from . import generated as _generated  # noqa: F401
from . import linalg as _linalg
from . import numpy as _numpy  # noqa: F401  (defines the primitives extended here)
from .core import PRIMS, axis_kwargs, defprim, is_none

# A lone tangent of a broadcast operand, brought to the result's shape.
defprim(
    "broadcast_like",
    ("helper", "_broadcast_like"),
    lambda e, g, out, t, like: e.call("unbroadcast", g, t),
    None,
    infer=lambda s, out, t, like: s.union(out, like),
)


def terms(e, *parts):
    """The sum of the parts that are not None; None when all are."""
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else e.add(total, p)
    return total


def _scale(e, t, factor):
    return None if t is None else e.mul(t, factor)


def defjvp(name: str, rule) -> None:
    PRIMS[name].jvp = rule


def _full(e, t, out):
    """A tangent with the result's shape (a lone tangent of a broadcast operand may be smaller)."""
    return e.broadcast_like(t, out) if t is not None else None


# -- elementwise arithmetic ---------------------------------------------------------
defjvp("add", lambda e, t, out, a, b: _full(e, terms(e, t[0], t[1]), out))


def _sub(e, t, out, a, b):
    if t[0] is not None and t[1] is not None:
        return _full(e, e.sub(t[0], t[1]), out)
    return _full(e, t[0] if t[1] is None else e.neg(t[1]), out)


defjvp("sub", _sub)
defjvp("mul", lambda e, t, out, a, b: terms(e, _scale(e, t[0], b), _scale(e, t[1], a)))


def _div(e, t, out, a, b):
    """(ta - out·tb) / b: one division instead of two."""
    if t[1] is None:
        return e.div(t[0], b)
    scaled = e.mul(t[1], out)
    if t[0] is None:
        return e.neg(e.div(scaled, b))
    return e.div(e.sub(t[0], scaled), b)


defjvp("div", _div)


def _pow(e, t, out, a, b):
    """ta·b·a^(b-1) + tb·out·log(a), each term only where its tangent is not zero:
    the exponent's term of `x ** 2` would take the log of a negative `x` (a
    RuntimeWarning, and NaN times nothing), and only dce would drop it."""
    base = None if t[0] is None else e.mul(t[0], e.mul(b, e.pow(a, e.sub(b, 1))))
    power = None if t[1] is None else e.mul(t[1], e.mul(out, e.call("log", a)))
    return terms(e, base, power)


defjvp("pow", _pow)
defjvp("float_power", _pow)
defjvp("neg", lambda e, t, out, x: e.neg(t[0]))

# -- elementwise functions ----------------------------------------------------------
defjvp("exp", lambda e, t, out, x: e.mul(t[0], out))
defjvp("log", lambda e, t, out, x: e.div(t[0], x))
defjvp("log1p", lambda e, t, out, x: e.div(t[0], e.add(1.0, x)))
defjvp("expm1", lambda e, t, out, x: e.mul(t[0], e.add(out, 1.0)))
defjvp("sin", lambda e, t, out, x: e.mul(t[0], e.call("cos", x)))
defjvp("cos", lambda e, t, out, x: e.neg(e.mul(t[0], e.call("sin", x))))
defjvp("tan", lambda e, t, out, x: e.mul(t[0], e.add(1.0, e.mul(out, out))))
defjvp("tanh", lambda e, t, out, x: e.mul(t[0], e.sub(1.0, e.mul(out, out))))
defjvp("sqrt", lambda e, t, out, x: e.div(t[0], e.mul(2.0, out)))
defjvp("square", lambda e, t, out, x: e.mul(t[0], e.mul(2.0, x)))
defjvp("abs", lambda e, t, out, x: e.mul(t[0], e.call("sign", x)))
for _name, _rule in _numpy.MORE_ELEMENTWISE.items():
    defjvp(_name, lambda e, t, out, x, rule=_rule: rule(e, t[0], out, x))


def _more_binary(rules):
    """ta·∂out/∂a + tb·∂out/∂b from the adjoint rules, which are linear in g."""

    def rule(e, t, out, a, b):
        parts = [r(e, d, out, a, b) for r, d in zip(rules, t) if d is not None]
        return _full(e, terms(e, *parts), out)

    return rule


for _name, _rules in _numpy.MORE_BINARY.items():
    defjvp(_name, _more_binary(_rules))


def _extreme(wins_a, wins_b):
    """maximum/minimum: the winner's tangent; the mean of both at ties (as the VJP splits)."""

    def rule(e, t, out, a, b):
        ta = t[0] if t[0] is not None else 0.0
        tb = t[1] if t[1] is not None else 0.0
        tie = e.mul(0.5, e.add(ta, tb))
        inner = e.call("where", e.call(wins_b, b, a), tb, tie)
        return e.call("where", e.call(wins_a, a, b), ta, inner)

    return rule


for _name, _wins in (
    ("maximum", "gt"),
    ("minimum", "lt"),
    ("fmax", "gt"),
    ("fmin", "lt"),
):
    defjvp(_name, _extreme(_wins, _wins))
defjvp(
    "where",
    lambda e, t, out, c, a, b: e.call(
        "where", c, t[1] if t[1] is not None else 0.0, t[2] if t[2] is not None else 0.0
    ),
)
defjvp(
    "max",
    lambda e, t, out, a, b: e.select(
        e.call("gt", b, a),
        t[1] if t[1] is not None else 0.0,
        t[0] if t[0] is not None else 0.0,
    ),
)
defjvp(
    "min",
    lambda e, t, out, a, b: e.select(
        e.call("lt", b, a),
        t[1] if t[1] is not None else 0.0,
        t[0] if t[0] is not None else 0.0,
    ),
)


def _mod(e, t, out, a, b):
    """a % b = a - b·floor(a/b): ta - floor(a/b)·tb (away from the jumps)."""
    tb = None if t[1] is None else e.neg(e.mul(t[1], e.call("floordiv", a, b)))
    return _full(e, terms(e, t[0], tb), out)


defjvp("mod", _mod)


def _fmod(e, t, out, a, b):
    """np.fmod(a, b) = a - b·trunc(a/b): ta - trunc(a/b)·tb (away from the jumps)."""
    tb = None if t[1] is None else e.neg(e.mul(t[1], e.call("trunc", e.div(a, b))))
    return _full(e, terms(e, t[0], tb), out)


defjvp("fmod", _fmod)


def _reduced_extreme(e, t, out, x, axis=None, keepdims=False):
    """np.max/np.min: the mean of the tangents of the entries equal to the extreme,
    as the VJP splits the adjoint evenly among ties."""
    kwargs, keep = _reduced(axis, keepdims)
    if not (keep or is_none(axis)):
        out = e.call("expand_dims", out, axis)
    hit = e.call("eq", x, out)
    return e.div(
        e.call("sum", e.mul(t[0], hit), **kwargs), e.call("sum", hit, **kwargs)
    )


def _norm(e, t, out, x, ord=None, axis=None, keepdims=False):
    """d|x| = sum(x·t) / |x| over the axes the norm takes; sum(sign(x)·t) for the
    1-norm; the mean of sign(x)·t over the extreme entries for ord=±inf."""
    kind, x = _arrays.vector_ord(e, x, ord, axis)
    kwargs, _ = _reduced(axis, keepdims)
    if kind is None:
        return e.div(e.call("sum", e.mul(x, t[0]), **kwargs), out)
    signed = e.mul(t[0], e.call("sign", x))
    if kind == 1:
        return e.call("sum", signed, **kwargs)
    return _reduced_extreme(e, (signed,), out, e.call("abs", x), axis, keepdims)


def _reduced(axis, keepdims) -> tuple[dict, bool]:
    """The keywords of the sum over the axes a reduction took, and whether it kept them."""
    keep = bool(getattr(keepdims, "value", keepdims))
    kwargs = axis_kwargs(axis)
    if keep:
        kwargs["keepdims"] = keepdims
    return kwargs, keep


def _var(e, t, out, x, axis=None, keepdims=False, ddof=0):
    """sum(2 (x - m) t) / (n - ddof): the mean's tangent drops out of the sum."""
    scaled, _ = _arrays.spread(e, x, out, axis, keepdims, ddof)
    kwargs, _ = _reduced(axis, keepdims)
    return e.mul(2.0, e.call("sum", e.mul(scaled, t[0]), **kwargs))


def _std(e, t, out, x, axis=None, keepdims=False, ddof=0):
    """The variance's tangent over 2 std."""
    return e.div(_var(e, t, out, x, axis, keepdims, ddof), e.mul(2.0, out))


defjvp("inv", _linalg.inv_jvp)
defjvp("solve", _linalg.solve_jvp)
defjvp("det", _linalg.det_jvp)
defjvp("slogdet", _linalg.slogdet_jvp)
defjvp("slogdet_logabsdet", lambda e, t, out, pair, i: t[0])
defjvp("cholesky", _linalg.cholesky_jvp)
defjvp("eigh", _linalg.eigh_jvp)
defjvp("eigh_eigenvalues", _linalg.eigenvalues_jvp)
defjvp("eigh_eigenvectors", _linalg.eigenvectors_jvp)
defjvp("eigvalsh", _linalg.eigvalsh_jvp)
defjvp("einsum", _linalg.einsum_jvp)
defjvp("svd", lambda e, t, out, a, **_: t[0])  # the triple's tangent is Ȧ
defjvp("svd_u", _linalg.svd_u_jvp)
defjvp("svd_s", _linalg.svd_s_jvp)
defjvp("svd_vh", _linalg.svd_vh_jvp)
defjvp("qr", lambda e, t, out, a: t[0])  # the pair's tangent is Ȧ
defjvp("qr_q", _linalg.qr_q_jvp)
defjvp("qr_r", _linalg.qr_r_jvp)
defjvp("pinv", _linalg.pinv_jvp)


def _prod(e, t, out, x, axis=None, keepdims=False):
    """sum(t · the product of the others), over the axes the product takes."""
    kwargs, _ = _reduced(axis, keepdims)
    others = e.call("prod_others", x, **axis_kwargs(axis))
    return e.call("sum", e.mul(t[0], others), **kwargs)


defjvp("prod", _prod)
defjvp("sort", _numpy.sort_jvp)
# d prod_others(x)_i = sum over j != i of t_j times the product of the entries
# other than i and j: exact where entries are 0 (no division by x).
defjvp(
    "prod_others",
    lambda e, t, out, x, axis=None: e.call(
        "prod_others_jvp", x, t[0], **axis_kwargs(axis)
    ),
)
defjvp(
    "cumprod",
    lambda e, t, out, x, axis=None: _numpy._running_product("cumprod_jvp")(
        e, t[0], out, x, axis
    ),
)
defjvp("var", _var)
defjvp("std", _std)
defjvp("amax", _reduced_extreme)
defjvp("amin", _reduced_extreme)
defjvp("norm", _norm)
defjvp(
    "select",
    lambda e, t, out, c, a, b: e.select(
        c, t[1] if t[1] is not None else 0.0, t[2] if t[2] is not None else 0.0
    ),
)

# -- linear algebra -------------------------------------------------------------------


def _bilinear(prim, keep_options: bool = False):
    """The tangent of `prim(a, b)`, bilinear: prim(ȧ, b) + prim(a, ḃ). Its
    options (`mode=` of np.convolve) are passed on where `keep_options`;
    emitter marks (`vectors=` of an outer product) are not."""

    def rule(e, t, out, a, b, **options):
        options = options if keep_options else {}
        left = None if t[0] is None else e.call(prim, t[0], b, **options)
        right = None if t[1] is None else e.call(prim, a, t[1], **options)
        return terms(e, left, right)

    return rule


for _prim in ("matmul", "dot", "outer", "multiply_outer", "kron", "inner", "cross"):
    defjvp(_prim, _bilinear(_prim))
defjvp(
    "tensordot",
    lambda e, t, out, a, b, **axes: terms(
        e,
        None if t[0] is None else e.call("tensordot", t[0], b, **axes),
        None if t[1] is None else e.call("tensordot", a, t[1], **axes),
    ),
)
defjvp(
    "matmul_lhs",
    lambda e, t, out, g, b: terms(
        e,
        None if t[0] is None else e.call("matmul_lhs", t[0], b),
        None if t[1] is None else e.call("matmul_lhs", g, t[1]),
    ),
)
defjvp(
    "matmul_rhs",
    lambda e, t, out, a, g: terms(
        e,
        None if t[0] is None else e.call("matmul_rhs", t[0], g),
        None if t[1] is None else e.call("matmul_rhs", a, t[1]),
    ),
)

# -- linear maps: the tangent goes through the same operation ----------------------------


def _linear(prim):
    def rule(e, t, out, x, *rest, **kwargs):
        return None if t[0] is None else e.call(prim, t[0], *rest, **kwargs)

    return rule


for _prim in (
    "sum",
    "mean",
    "T",
    "transpose",
    "reshape",
    "ravel",
    "broadcast_to",
    "expand_dims",
    "moveaxis",
    "squeeze",
    "flip",
    "cumsum",
    "roll",
    "trace",
    "diag",
    "tile",
    "untile",
    "repeat",
    "add_reduceat",
    "take_along_axis",
    "diagflat",
    "diagonal",
    "undiagonal",
    "undiag",
    "swapaxes",
    "atleast_1d",
    "atleast_2d",
    "along",
    "vector",
    "triu",
    "tril",
    "copy",
    "unbroadcast",
    "broadcast_like",
    "own",
):
    defjvp(_prim, _linear(_prim))
# the padding is a constant (`constant_values`): its tangent is 0
defjvp(
    "pad",
    lambda e, t, out, x, pad_width, **options: (
        None if t[0] is None else e.call("pad", t[0], pad_width)
    ),
)
defjvp("unpad", _linear("unpad"))
defjvp("unaccumulate", _linear("unaccumulate"))
defjvp(
    "nan_to_num",
    lambda e, t, out, x, **options: (
        None if t[0] is None else _arrays._nan_to_num_vjp(e, t[0], out, x)
    ),
)


def _quantile(prim):
    """The weighted sum of the tangents of the order statistics the result
    interpolates, with the VJP's weights, over the axis the quantile takes."""

    def rule(e, t, out, x, *q, axis=None, keepdims=False):
        kwargs, _ = _reduced(axis, keepdims)
        w = _arrays.quantile_weights(e, x, _arrays.quantile_share(prim, q), axis)
        return e.call("sum", e.mul(t[0], w), **kwargs)

    return rule


for _prim in ("median", "quantile", "percentile"):
    defjvp(_prim, _quantile(_prim))


def _accumulate(e, t, out, x, axis=None):
    """The tangent of the entry each running extreme came from."""
    axis = Const(0) if axis is None else axis
    source = _arrays.accumulate_source(e, out, axis)
    return e.call("take_along_axis", t[0], source, axis=axis)


defjvp("maximum_accumulate", _accumulate)
defjvp("minimum_accumulate", _accumulate)


defjvp(
    "full",
    lambda e, t, out, shape, v: None if t[1] is None else e.call("full", shape, t[1]),
)
defjvp(
    "full_like",
    lambda e, t, out, x, v: None if t[1] is None else e.broadcast_like(t[1], x),
)

# -- indexing, index assignment, joining arrays (rules/arrays.py) -------------------------


def zeros(e, x):
    """A zero tangent for `x`: zero arrays, one per part where `x` is a list."""
    if isinstance(x, Var) and x.name in e.lists:
        return _zeros_so_far(e, x)
    return e.call("zeros_like", x)


def _getitem(e, t, out, x, idx, **kwargs):
    return None if t[0] is None else e.call("getitem", t[0], idx, **kwargs)


def _setitem(e, t, out, x, idx, v, **kwargs):
    """`y[idx] = v`: the tangent of y with the tangent of v written at idx."""
    if t[0] is None and t[2] is None:
        return None
    base = t[0] if t[0] is not None else zeros(e, x)
    return e.call("setitem", base, idx, t[2] if t[2] is not None else 0.0, **kwargs)


def _joined(prim):
    def rule(e, t, out, *parts, **kwargs):
        if all(p is None for p in t):
            return None
        ts = [p if p is not None else e.call("zeros_like", a) for p, a in zip(t, parts)]
        return e.call(prim, *ts, **kwargs)

    return rule


def _clip(e, t, out, x, lo, hi):
    """The tangent of whichever of x, a_min, a_max the result is, elementwise."""
    rules = (_arrays._clip_vjp, _arrays._clip_lo_vjp, _arrays._clip_hi_vjp)
    parts = [rule(e, d, out, x, lo, hi) for rule, d in zip(rules, t) if d is not None]
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        total = e.add(total, p)
    return total


def _index_add_at(e, t, out, buf, idx, g):
    """`np.add.at(d, idx, g)` (read back from a gradient): the same on the tangent of
    `d`, copied (the primal's update is in place), or on zeros."""
    if t[2] is None:
        return t[0]
    base = zeros(e, buf) if t[0] is None else e.call("copy", t[0])
    return e.call("index_add_at", base, idx, t[2])


defjvp("getitem", _getitem)
defjvp("setitem", _setitem)
defjvp("index_add_at", _index_add_at)
defjvp("stack", _joined("stack"))
defjvp("concatenate", _joined("concatenate"))
for _how in _arrays._JOINS:
    defjvp(_how, _joined(_how))
defjvp("float", lambda e, t, out, x: t[0])
defjvp(
    "astype_like",
    lambda e, t, out, a, x: None if t[0] is None else e.call("astype_like", t[0], x),
)
defjvp("clip", _clip)

# -- helpers of generated code (rules/generated.py): bilinear in their first two ----------


def _bilinear2(prim):
    def rule(e, t, out, a, b, c):
        left = None if t[0] is None else e.call(prim, t[0], b, c)
        right = None if t[1] is None else e.call(prim, a, t[1], c)
        return terms(e, left, right)

    return rule


defjvp("matmul_lhs_b", _bilinear2("matmul_lhs_b"))
defjvp("dot_lhs", _bilinear2("dot_lhs"))
defjvp("dot_rhs", _bilinear2("dot_rhs"))
defjvp("inner_lhs", _bilinear2("inner_lhs"))
defjvp("inner_rhs", _bilinear2("inner_rhs"))
defjvp("matmul_rhs_a", _bilinear2("matmul_rhs_a"))


# -- lists of arrays (rules/arrays.py): the tangent of a list is the list of the
# tangents of its parts, with a zero array for a part that depends on no input ------


def _append(e, t, out, xs, x):
    """`xs.append(x)`: the tangent list, with the tangent of `x` appended. A list
    with no tangent yet gets one zero per part so far (`_zeros_list(xs)`)."""
    if t[0] is None and t[1] is None:
        return None
    txs = t[0] if t[0] is not None else _zeros_so_far(e, xs)
    tx = t[1] if t[1] is not None else e.call("zeros_like", x)
    return e.call("append", txs, tx)


def _zeros_so_far(e, xs):
    """The tangent of the list `xs` that has none: `[]` where `xs` is one."""
    for stmt in reversed(e.stmts):
        if getattr(stmt, "outs", None) == (xs.name,):
            if stmt.prim == "new_list":
                return e.call("new_list")
            break
    return e.call("zeros_list", xs)


def _first_linear(prim):
    """A map linear in its first argument, which the others only shape (a list
    whose entries' shapes or number it copies, an index, an axis)."""

    def rule(e, t, out, g, *rest, **kwargs):
        return None if t[0] is None else e.call(prim, t[0], *rest, **kwargs)

    return rule


def _add_each(e, t, out, a, b):
    if t[0] is not None and t[1] is not None:
        return e.call("add_each", t[0], t[1])
    return t[0] if t[1] is None else t[1]


defjvp("append", _append)
for _prim in ("stack_list", "array_list", "concatenate_list", "sum_list"):
    defjvp(_prim, _linear(_prim))
for _prim in ("repeat_list", "split_like", "concat_part", "take"):
    defjvp(_prim, _first_linear(_prim))
defjvp("add_each", _add_each)


# -- loops (rules/generated.py, rules/control.py) ---------------------------------------
# A loop's backward sweep: the sums over its trips of the products `_matmul_lhs(g, b)`
# (from the lists of both factors, or a list and an array of rows), bilinear in the
# two; the products with one operand made before the loop; each trip's value stacked.
for _prim in (
    "matmul_lhs_sum",
    "matmul_rhs_sum",
    "matmul_lhs_rows_sum",
    "matmul_rhs_rows_sum",
):
    defjvp(_prim, _bilinear2(_prim))
defjvp("matmul_rows", _bilinear("matmul_rows"))
defjvp("rows_matmul", _bilinear("rows_matmul"))
defjvp("unbroadcast_sum", _first_linear("unbroadcast_sum"))
defjvp("sum_over_batch", _first_linear("sum_over_batch"))
defjvp("sum_rows", _first_linear("sum_rows"))
defjvp("mean_rows", _first_linear("mean_rows"))
defjvp("stack_trips", _linear("stack_trips"))
defjvp("last_writes", _first_linear("last_writes"))
# The tape of a loop: the tangent tape holds the tangents of what the tape holds,
# pushed and popped with it.
defjvp("pop", lambda e, t, out, tape: e.call("pop", t[0]))


def _tuple(e, t, out, *parts):
    """A tuple (what a trip pushes on its tape): the tuple of the tangents, a zero
    for a part that has none."""
    if all(d is None for d in t):
        return None
    return e.call("tuple", *[zeros(e, p) if d is None else d for d, p in zip(t, parts)])


defjvp("tuple", _tuple)


# -- np.convolve, np.correlate: bilinear, in their `mode` ---------------------------------
for _name in ("convolve", "correlate"):
    defjvp(_name, _bilinear(_name, keep_options=True))
# linear in g; a and v give their lengths only
defjvp(
    "full_adjoint",
    lambda e, t, out, g, a, v, **options: (
        None if t[0] is None else e.call("full_adjoint", t[0], a, v, **options)
    ),
)
