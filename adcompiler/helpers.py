"""The helpers generated modules carry, as source text: codegen writes into a
module each one its code calls (`_unbroadcast`, `_matmul_lhs`, ...), with the
helpers those call, so that the module imports nothing but NumPy.

Each is a plain NumPy function, written as a person would, and is tested on
its own (tests/test_helpers.py); resolve.py reads generated code back (for
higher derivatives) by these names.
"""

from .autodiff.emitter import SIGN_STEP_ENTRIES

# Helpers that call others (codegen takes the closure: what those call too).
HELPER_NEEDS = {
    "_unbroadcast": {"_sum_over_batch", "_ONES", "_NDARRAY"},
    "_sum_over_batch": {"_NDARRAY", "_ONES", "_new_ones"},
    "_sum_rows": {"_NDARRAY", "_ONES", "_new_ones"},
    "_mean_rows": {"_sum_rows"},
    "_new_ones": {"_ONES"},
    "_matmul_lhs": {"_unbroadcast", "_NDARRAY"},
    "_matmul_rhs": {"_unbroadcast", "_NDARRAY"},
    "_matmul_lhs_sum": {"_outer_sum", "_matmul_lhs", "_unbroadcast"},
    "_matmul_rhs_sum": {"_outer_sum", "_matmul_rhs", "_unbroadcast"},
    "_unbroadcast_sum": {"_unbroadcast"},
    "_undiag": {"_undiagonal"},
    "_tensordot_lhs": {"_tensordot_axes"},
    "_dot_lhs": {
        "_by_scalar",
        "_matmul_lhs",
        "_unbroadcast",
        "_tensordot_lhs",
        "_tensordot_axes",
    },
    "_dot_rhs": {
        "_by_scalar",
        "_matmul_rhs",
        "_unbroadcast",
        "_tensordot_rhs",
        "_tensordot_axes",
    },
    "_inner_lhs": {"_by_scalar", "_tensordot_lhs", "_tensordot_axes"},
    "_inner_rhs": {"_by_scalar", "_tensordot_rhs", "_tensordot_axes"},
    "_kron_lhs": {"_kron_blocks"},
    "_kron_rhs": {"_kron_blocks"},
    "_tensordot_rhs": {"_tensordot_axes"},
    "_matmul_lhs_rows_sum": {
        "_matmul_lhs_sum",
        "_outer_sum",
        "_matmul_lhs",
        "_unbroadcast",
    },
    "_matmul_rhs_rows_sum": {
        "_matmul_rhs_sum",
        "_outer_sum",
        "_matmul_rhs",
        "_unbroadcast",
    },
}

HELPERS = {
    "_check_float": '''
def _check_float(name, x):
    """Raise TypeError unless `x`, the differentiated argument `name`, is floating-point:
    a float, a float array, or a container (dict, list, tuple, NamedTuple,
    dataclass) of them. The caller skips the check for a Python float."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return
    if isinstance(x, dict):
        for k, v in x.items():
            _check_float(f"{name}[{k!r}]", v)
        return
    if hasattr(type(x), "__dataclass_fields__"):
        for f in type(x).__dataclass_fields__:
            _check_float(f"{name}.{f}", getattr(x, f))
        return
    if isinstance(x, (list, tuple)):
        fields = getattr(x, "_fields", None)
        for i, v in enumerate(x):
            _check_float(f"{name}.{fields[i]}" if fields else f"{name}[{i}]", v)
        return
    dtype = np.asarray(x).dtype
    numpy = isinstance(x, (np.ndarray, np.generic))
    kind = dtype if numpy else type(x).__name__  # int64, or a Python int
    if dtype.kind in "biu":
        what = "a boolean" if dtype.kind == "b" else "an integer"
        array = np.ndim(x) != 0
        fix = f"{name}.astype(float)" if array else f"float({name})"
        raise TypeError(
            f"`{name}` is {what}{' array' if array else ''} ({kind}); gradients are "
            f"taken with respect to floating-point values: pass {fix}"
        )
    if dtype.kind == "c":
        raise TypeError(
            f"`{name}` is complex ({kind}); adcompiler differentiates real-valued "
            "functions of real inputs"
        )
''',
    "_check_examples": '''
def _check_examples(function, args, examples):
    """Raise TypeError unless each argument is like the example the gradient of
    `function` was compiled for: a Python float ("float"), or a NumPy array of
    the example's (shape, dtype)."""
    for name, x in args.items():
        want = examples[name]
        if want == "float":
            if type(x) is float:
                continue
            expected = "a Python float"
        else:
            shape, dtype = want
            if type(x) is np.ndarray and x.shape == shape and x.dtype == dtype:
                continue
            expected = f"a {dtype} array of shape {shape}"
        if type(x) is np.ndarray:
            got = f"a {x.dtype} array of shape {x.shape}"
        else:
            got = f"{type(x).__name__} {x!r:.40}"
        raise TypeError(
            f"this gradient of {function} was compiled for example arguments: "
            f"`{name}` must be {expected}, got {got}. Compile one for these "
            "arguments (example_args=...), or a generic one (no example_args)"
        )
''',
    "_own": '''
def _own(x):
    """`x`, copied if it is an array: a gradient never shares memory with an argument."""
    return x.copy() if isinstance(x, np.ndarray) else x
''',
    "_astype_like": '''
def _astype_like(g, x):
    """`g` in the dtype of `x`, which NumPy's promotion may have widened (a float32
    `x` meeting a float64 value); a Python float `x` takes any float gradient."""
    try:  # the common case first: NumPy shares one object per built-in dtype
        if g.dtype is x.dtype:
            return g
    except AttributeError:  # a Python float has no dtype
        pass
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(g, "dtype", None) == dtype:
        return g
    return g.astype(dtype) if isinstance(g, np.ndarray) else dtype.type(g)
''',
    "_unbroadcast": '''
def _unbroadcast(g, x):
    """`g` with the shape of `x`: summed over the axes along which `x` was broadcast."""
    try:  # the common cases first: arrays of one shape, a bias's sum over a batch
        gshape, shape = g.shape, x.shape
        if gshape == shape:
            return g
        if gshape[1:] == shape:  # a bias's: a product with ones of the batch's length
            matrix = len(gshape) == 2 and type(g) is _NDARRAY
            ones = _ONES.get((gshape[0], g.dtype.char)) if matrix else None
            return ones.dot(g) if ones is not None else _sum_over_batch(g)
    except AttributeError:  # a Python float or a list has no shape
        if isinstance(g, (list, tuple)):  # a constant factor: `t * [1.0, 2.0]`
            g = np.asarray(g)
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        shape = getattr(x, "shape", ())
        gshape = getattr(g, "shape", ())
    if gshape == shape:
        if type(g) is float and isinstance(x, (np.ndarray, np.generic)):
            return np.zeros_like(x) + g  # a NumPy value for a NumPy `x`, always
        return g
    lead = len(gshape) - len(shape)
    if lead > 0:  # the axes broadcasting put in front of those of x
        g = _sum_over_batch(g) if lead == 1 else np.add.reduce(g, tuple(range(lead)))
        if g.shape == shape:
            return g
    elif lead < 0:  # align trailing axes, as broadcasting does
        g = np.reshape(g, (1,) * -lead + gshape)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    g = g.sum(axis=axes, keepdims=True) if axes else g
    # a scalar standing for an array filled with it
    return g if g.shape == shape else np.zeros_like(x) + g
''',
    "_sum_over_batch": '''
def _sum_over_batch(g):
    """g.sum(axis=0). For a float matrix, BLAS's product with a vector of ones:
    np.add.reduce adds the rows in one at a time, up to 8 times slower."""
    if type(g) is _NDARRAY and g.ndim == 2 and g.dtype.char in "fd":
        ones = _ONES.get((len(g), g.dtype.char))
        return (_new_ones(len(g), g.dtype) if ones is None else ones).dot(g)
    return np.add.reduce(g, 0)  # without g.sum's Python wrapper (0.15 µs)
''',
    "_sum_rows": '''
def _sum_rows(x, axis, keepdims=False):
    """np.sum(x, axis, keepdims=keepdims). Where `x` is a float matrix summed along
    rows of up to 1024 entries (a softmax's), BLAS's product with a vector of
    ones: NumPy starts its reduction anew for each row, 2 to 7 times slower on
    short rows. Longer rows keep NumPy's pairwise sum, the more accurate."""
    if type(x) is _NDARRAY and x.ndim == 2 and (axis == 1 or axis == -1):
        key = (x.shape[1], x.dtype.char, keepdims)
        ones = _ONES.get(key)  # kept only for float rows of up to 1024 entries
        if ones is None and key[1] in "fd" and key[0] <= 1024:
            ones = _new_ones(key[0], x.dtype)
            ones = _ONES[key] = ones[:, None] if keepdims else ones
        if ones is not None:  # a column of ones keeps the summed axis
            return x.dot(ones)
    return np.sum(x, axis=axis, keepdims=keepdims)
''',
    "_mean_rows": '''
def _mean_rows(x, axis, keepdims=False):
    """np.mean(x, axis, keepdims=keepdims): for a float matrix along its rows (a
    layer norm's), `_sum_rows` divided by their length, as np.mean divides
    np.sum's, without np.mean's Python wrapper (1.1 µs a call and more)."""
    if (
        type(x) is _NDARRAY
        and x.ndim == 2
        and (axis == 1 or axis == -1)
        and x.dtype.char in "fd"
        and x.shape[1]  # np.mean warns of an empty slice
    ):
        return _sum_rows(x, axis, keepdims) / x.shape[1]
    return np.mean(x, axis=axis, keepdims=keepdims)
''',
    "_new_ones": '''
def _new_ones(n, dtype):
    """A read-only vector of `n` ones, kept in `_ONES` for the next call where `n`
    is a batch's or a row's length (up to 1024: a few, and small)."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    if n <= 1024:
        _ONES[n, dtype.char] = ones
    return ones
''',
    "_broadcast_like": '''
def _broadcast_like(t, x):
    """`t` with the shape of `x`, into which it broadcasts."""
    if getattr(t, "shape", ()) == getattr(x, "shape", ()):
        return t
    return np.broadcast_to(t, np.shape(x))
''',
    "_matmul_lhs": '''
def _matmul_lhs(g, b, a=None):
    """The adjoint of `a` in `a @ b`: `g @ b.T`, or an outer product when `b` is a
    vector. Where `b` is a stack of matrices, so is the product: it is summed to
    the shape of `a`, which broadcasting may have spread over the stack."""
    b = b if type(b) is _NDARRAY else np.asarray(b)  # a list multiplies too
    if b.ndim == 2:  # the common case first: g @ b.T has the shape of a
        # np.dot agrees with @ for a matrix b, and skips matmul's ufunc dispatch
        return g.dot(b.T) if type(g) is _NDARRAY else np.dot(g, b.T)
    if b.ndim == 1:  # the outer product g ⊗ b
        g = np.asarray(g)
        if g.size * b.size < 16384:  # np.multiply.outer(g, b), without its overhead
            return g[..., None] * b
        # einsum's product loop writes a large outer product a third faster
        return np.einsum("...,j->...j", g, b)
    if np.ndim(g) == b.ndim - 1:  # a vector `a`: one row, every matrix
        n, m = b.shape[-2:]
        return np.einsum("km,knm->n", np.reshape(g, (-1, m)), b.reshape(-1, n, m))
    d = g @ np.swapaxes(b, -1, -2)
    return d if a is None else _unbroadcast(d, a)
''',
    "_matmul_rhs": '''
def _matmul_rhs(a, g, b=None):
    """The adjoint of `b` in `a @ b`: `a.T @ g`, or an outer product when `a` is a
    vector. Where `a` is a stack of matrices, so is the product: it is summed to
    the shape of `b`, which broadcasting may have spread over the stack."""
    a = a if type(a) is _NDARRAY else np.asarray(a)  # a list multiplies too
    if a.ndim == 2:  # the common case first: a.T @ g has the shape of b
        if type(g) is _NDARRAY and g.ndim <= 2:  # np.dot, as in _matmul_lhs
            return g.dot(a) if g.ndim == 1 else a.T.dot(g)
        return a.T @ g
    if a.ndim == 1:  # the outer product a ⊗ g
        if np.ndim(g) > 1:  # a stack `b`: a ⊗ g[k] for each of its matrices
            return a[:, None] * np.asarray(g)[..., None, :]
        if a.size * getattr(g, "size", 1) < 16384:
            return np.multiply.outer(a, g)
        return np.einsum("i,...->i...", a, g)  # a third faster, as in _matmul_lhs
    if np.ndim(g) == a.ndim - 1:  # a vector `b`: summed over the stack
        return np.reshape(g, -1) @ a.reshape(-1, a.shape[-1])
    d = np.swapaxes(a, -1, -2) @ g
    return d if b is None else _unbroadcast(d, b)
''',
    "_matmul_rows": '''
def _matmul_rows(a, xs):
    """`a @ xs[t]` for every row `t` of `xs`, stacked: a loop's products with an
    invariant `a`, made before the loop as one product."""
    try:
        X, A = np.asarray(xs), np.asarray(a)
    except ValueError:  # rows of different shapes
        return [a @ x for x in xs]
    if X.ndim == 2 and A.ndim == 2:  # vectors x: the rows of X @ A.T
        return X @ A.T
    if X.ndim >= 2 and 1 <= A.ndim <= 2:  # X @ a for a vector a; else matmul stacks
        return X @ A if X.ndim == 2 else A @ X
    return [a @ x for x in xs]
''',
    "_rows_matmul": '''
def _rows_matmul(xs, b):
    """`xs[t] @ b` for every row `t` of `xs`, stacked, as `_matmul_rows` does."""
    try:
        X, B = np.asarray(xs), np.asarray(b)
    except ValueError:  # rows of different shapes
        return [x @ b for x in xs]
    if X.ndim >= 2 and 1 <= B.ndim <= 2:  # matmul takes X as a stack of rows
        return X @ B
    return [x @ b for x in xs]
''',
    "_outer_sum": '''
def _outer_sum(xs, ys):
    """The sum of the outer products of the vectors `xs` and `ys`, as one product
    of their stacked rows; None unless each list holds vectors of one length."""
    try:
        X, Y = np.array(xs), np.array(ys)
    except ValueError:  # shapes that differ from one to the next
        return None
    return X.T @ Y if X.ndim == 2 and Y.ndim == 2 else None
''',
    "_matmul_lhs_sum": '''
def _matmul_lhs_sum(gs, bs, a):
    """The sum of `_matmul_lhs(g, b)` over a loop's trips, the adjoint of `a` in `a @ b`."""
    total = _outer_sum(gs, bs)
    if total is None:  # not vectors: one product at a time
        total = sum(map(_matmul_lhs, gs, bs), np.zeros_like(a))
    return _unbroadcast(total, a)  # stacks of matrices: summed to the shape of a
''',
    "_matmul_rhs_sum": '''
def _matmul_rhs_sum(as_, gs, b):
    """The sum of `_matmul_rhs(a, g)` over a loop's trips, the adjoint of `b` in `a @ b`."""
    total = _outer_sum(as_, gs)
    if total is None:  # not vectors: one product at a time
        total = sum(map(_matmul_rhs, as_, gs), np.zeros_like(b))
    return _unbroadcast(total, b)  # stacks of matrices: summed to the shape of b
''',
    "_matmul_lhs_rows_sum": '''
def _matmul_lhs_rows_sum(gs, xs, a):
    """The sum over a loop's trips of `_matmul_lhs(g, xs[t])`, the adjoint of `a` in
    `a @ xs[t]`; `gs` holds the trips' `g`, appended from the last trip to the first."""
    return _matmul_lhs_sum(gs[::-1], xs, a)
''',
    "_matmul_rhs_rows_sum": '''
def _matmul_rhs_rows_sum(xs, gs, b):
    """The sum over a loop's trips of `_matmul_rhs(xs[t], g)`, the adjoint of `b` in
    `xs[t] @ b`; `gs` holds the trips' `g`, appended from the last trip to the first."""
    return _matmul_rhs_sum(xs, gs[::-1], b)
''',
    "_step": '''
def _step(x):
    """1 where x > 0, 0 where x < 0, 1/2 at 0 (where a maximum ties); NaN where x
    is. np.heaviside is one call, but its loop branches on every entry: from a
    few thousand entries on, three calls without branches are faster."""
    if getattr(x, "size", 1) < SIGN_STEP_ENTRIES:
        return np.heaviside(x, 0.5)
    return 0.5 * np.sign(x) + 0.5
''',
    "_undiagonal": '''
def _undiagonal(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of `np.diagonal(x, offset, axis1, axis2)`: zeros shaped like
    `x` with `g` on that diagonal."""
    d = np.zeros(np.shape(x), np.result_type(g, x))
    i = np.arange(np.shape(g)[-1])
    rows, cols = i + max(-offset, 0), i + max(offset, 0)
    np.moveaxis(d, (axis1, axis2), (-2, -1))[..., rows, cols] = g
    return d
''',
    "_undiag": '''
def _undiag(g, v, k=0):
    """The adjoint of `np.diag(v, k)`: the diagonal of `g` where `v` is a vector
    (np.diag made a matrix of it), else `g` on the diagonal of zeros like `v`."""
    if np.ndim(v) == 1:
        return np.diag(g, k)
    return _undiagonal(g, v, k)
''',
    "_untile": '''
def _untile(g, x, reps):
    """The adjoint of `np.tile(x, reps)`: the sum of the tiles of `g`."""
    shape = np.shape(x)
    n = max(len(shape), len(reps))
    reps = (1,) * (n - len(reps)) + tuple(reps)
    padded = (1,) * (n - len(shape)) + shape
    split = [d for pair in zip(reps, padded) for d in pair]
    return np.reshape(g, split).sum(axis=tuple(range(0, 2 * n, 2))).reshape(shape)
''',
    "_unpad": '''
def _unpad(g, pad_width):
    """The adjoint of `np.pad(x, pad_width)`: the block of `g` that x fills."""
    widths = np.broadcast_to(pad_width, (np.ndim(g), 2))
    return g[tuple(slice(lo, n - hi) for (lo, hi), n in zip(widths, np.shape(g)))]
''',
    "_quantile_weights": '''
def _quantile_weights(x, q, axis=None):
    """The weights of `np.quantile(x, q, axis)` (linear method) on the entries of
    x: `1 - f` and `f` on the two order statistics it interpolates, where
    `q (n - 1) = k + f`, 0 elsewhere. Ties go in order of position, as a
    stable sort puts them."""
    x = np.asarray(x)
    n = x.size if axis is None else x.shape[axis]
    k = int(np.floor(q * (n - 1)))
    f = q * (n - 1) - k
    order = np.argsort(x, axis=axis, kind="stable")
    ranks = np.argsort(order, axis=-1 if axis is None else axis).reshape(x.shape)
    one = np.ones((), x.dtype if x.dtype.kind == "f" else float)
    return np.where(ranks == k, one - f, 0 * one) + np.where(
        ranks == min(k + 1, n - 1), one * f, 0 * one
    )
''',
    "_accumulate_source": '''
def _accumulate_source(out, axis):
    """For `out = np.maximum.accumulate(x, axis)` (or np.minimum's), the position
    along `axis` of the entry of x each running extreme came from: the first
    that attained it, where `out` changes."""
    out = np.moveaxis(np.asarray(out), axis, 0)
    changed = np.ones(out.shape, bool)
    changed[1:] = out[1:] != out[:-1]
    at = np.arange(len(out)).reshape((-1,) + (1,) * (out.ndim - 1))
    return np.moveaxis(np.maximum.accumulate(np.where(changed, at, 0)), 0, axis)
''',
    "_unaccumulate": '''
def _unaccumulate(g, source, axis):
    """The adjoint of a running maximum or minimum along `axis`: each entry of
    `g` added to the entry of x its extreme came from (`_accumulate_source`)."""
    d = np.zeros(np.shape(source), np.result_type(g))
    index = list(np.indices(np.shape(source), sparse=True))
    index[axis] = source
    np.add.at(d, tuple(index), g)
    return d
''',
    "_interp_segment": '''
def _interp_segment(x, xp):
    """For each entry of `x`, the segment of the increasing knots `xp` it falls
    in: i with xp[i] <= x < xp[i + 1], the first or the last segment outside."""
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
''',
    "_full_adjoint": '''
def _full_adjoint(g, a, v, mode="full", correlate=False):
    """The adjoint `g` of `np.convolve(a, v, mode)` (of `np.correlate`'s) put back
    in its place in the full result, zeros where `mode` cut: for 'same' and
    'valid' the full result's middle, as NumPy takes it."""
    n, m = len(a), len(v)
    start = {"full": 0, "same": (min(n, m) - 1) // 2, "valid": min(n, m) - 1}[mode]
    if correlate and mode == "same" and n < m:  # np.correlate reverses its swap
        start = n - 1 - (n - 1) // 2
    full = np.zeros(n + m - 1, dtype=np.result_type(g, a, v))
    full[start : start + len(g)] = g
    return full
''',
    "_prod_others": '''
def _prod_others(x, axis=None):
    """For each entry of `x`, the product of the other entries it is multiplied
    with along `axis` (all of them where None): np.prod's derivative, made
    without dividing by `x`, which may be 0."""
    x = np.asarray(x)
    axes = range(x.ndim) if axis is None else axis if type(axis) is tuple else (axis,)
    axes = [a % x.ndim for a in axes]
    last = list(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    rows = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    ones = np.ones(rows.shape[:-1] + (1,), rows.dtype)
    before = np.cumprod(np.concatenate([ones, rows[..., :-1]], -1), -1)
    after = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], -1), -1)[..., ::-1]
    return np.moveaxis((before * after).reshape(moved.shape), last, axes)
''',
    "_prod_others_jvp": '''
def _prod_others_jvp(x, t, axis=None):
    """The derivative of `_prod_others(x, axis)` along `t`: for each entry, the sum
    over the other entries j of t[j] times the product of the entries other than
    both. The products before and after each entry are prefix products of dual
    numbers (x, t), made in log2(n) steps of whole-array products, without
    dividing by `x`, which may be 0."""
    x = np.asarray(x)
    t = np.broadcast_to(t, x.shape)
    axes = range(x.ndim) if axis is None else axis if type(axis) is tuple else (axis,)
    axes = [a % x.ndim for a in axes]
    last = list(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    rows = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    t_rows = np.moveaxis(t, axes, last).reshape(rows.shape)
    ones = np.ones(rows.shape[:-1] + (1,), np.result_type(rows, t_rows))

    def before(v, dv):  # the product of the entries before each, and its derivative
        v = np.concatenate([ones, v[..., :-1]], -1)
        dv = np.concatenate([0 * ones, dv[..., :-1]], -1)
        step = 1
        while step < v.shape[-1]:
            head, tail = v[..., :-step], v[..., step:]
            d_head, d_tail = dv[..., :-step], dv[..., step:]
            v = np.concatenate([v[..., :step], head * tail], -1)
            dv = np.concatenate([dv[..., :step], d_head * tail + head * d_tail], -1)
            step *= 2
        return v, dv

    b, db = before(rows, t_rows)
    a, da = before(rows[..., ::-1], t_rows[..., ::-1])
    out = db * a[..., ::-1] + b * da[..., ::-1]
    return np.moveaxis(out.reshape(moved.shape), last, axes)
''',
    "_last_writes": '''
def _last_writes(g, x, idx):
    """`g`, the adjoint of `v` in `x[idx] = v`, where an entry of `v` stays in `x`:
    of two writes to one entry (an index array that names it twice), NumPy keeps
    the last, so the others reach nothing."""
    parts = idx if type(idx) is tuple else (idx,)
    if all(
        p is None
        or p is Ellipsis
        or isinstance(p, (int, np.integer, slice))
        or getattr(p, "dtype", None) == np.bool_  # a mask names each entry once
        for p in parts
    ):
        return g
    entry = np.arange(np.size(x)).reshape(np.shape(x))[idx].ravel()
    _, from_end = np.unique(entry[::-1], return_index=True)
    last = np.zeros(entry.size, dtype=bool)
    last[entry.size - 1 - from_end] = True
    return g * last.reshape(np.shape(g))
''',
    "_stack_trips": '''
def _stack_trips(values):
    """A loop's value on each trip, stacked along a new first axis; where the
    trips' shapes differ, an object array of them, on which arithmetic runs
    trip by trip."""
    try:
        return np.array(values)
    except ValueError:  # shapes that differ from one trip to the next
        stacked = np.empty(len(values), dtype=object)
        for t, value in enumerate(values):
            stacked[t] = value
        return stacked
''',
    "_unbroadcast_sum": '''
def _unbroadcast_sum(gs, x):
    """The sum of `_unbroadcast(g, x)` over a loop's trips: one sum over the stacked gs."""
    try:
        stacked = np.array(gs) if gs else None
    except ValueError:  # shapes that differ from one trip to the next
        stacked = None
    if stacked is not None and stacked.dtype != object:
        return _unbroadcast(stacked.sum(axis=0), x)
    return sum((_unbroadcast(g, x) for g in gs), np.zeros_like(x))
''',
    "_matmul_lhs_b": '''
def _matmul_lhs_b(a, g, b):
    """The adjoint of `b` in `_matmul_lhs(a, b)`, given the adjoint `g` of its result."""
    a, b = np.asarray(a), np.asarray(b)
    if b.ndim == 1:
        return np.tensordot(a, g, axes=a.ndim)
    return np.swapaxes(np.multiply.outer(a, g) if a.ndim == 1 else a.T @ g, -1, -2)
''',
    "_matmul_rhs_a": '''
def _matmul_rhs_a(g, b, a):
    """The adjoint of `a` in `_matmul_rhs(a, b)`, given the adjoint `g` of its result."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1:
        return np.tensordot(g, b, axes=b.ndim)
    return np.swapaxes(np.multiply.outer(g, b) if b.ndim == 1 else g @ b.T, -1, -2)
''',
    "_stop_gradient": '''
def _stop_gradient(x):
    """`x`, through which no derivative flows (`adcompiler.stop_gradient`)."""
    return x
''',
    "_concat_part": '''
def _concat_part(g, k, parts, axis=0):
    """The piece of `g` that part `k` of `np.concatenate(parts, axis)` became."""
    sizes = [np.shape(p)[axis] for p in parts]
    start = sum(sizes[:k])
    return np.take(g, np.arange(start, start + sizes[k]), axis=axis)
''',
    "_joined_part": '''
def _joined_part(g, k, parts, how):
    """The piece of `g` that part `k` of `np.hstack`, `np.vstack` or
    `np.column_stack` (`how`) of `parts` became, in the part's shape: a vector
    (or a number) is one row of a vstack, one column of a column_stack."""
    if how == "hstack":
        axis, least = (0 if np.ndim(parts[0]) <= 1 else 1), 1
    else:
        axis, least = (0 if how == "vstack" else 1), 2
    sizes = [np.shape(p)[axis] if np.ndim(p) >= least else 1 for p in parts]
    start = sum(sizes[:k])
    piece = np.take(g, np.arange(start, start + sizes[k]), axis=axis)
    return np.reshape(piece, np.shape(parts[k]))
''',
    "_along": '''
def _along(w, a, axis):
    """The weights `w` of `np.average(a, axis, weights=w)` as they multiply `a`:
    `w`, or a vector of weights along `axis`, of length 1 along the others."""
    if np.ndim(w) == np.ndim(a):
        return w
    along = axis % np.ndim(a)
    return np.reshape(w, [-1 if i == along else 1 for i in range(np.ndim(a))])
''',
    "_vector": '''
def _vector(x):
    """`x`, a vector: the derivative of its norm `np.linalg.norm(x, ord)` (ord 1,
    2 or ±inf) is a vector norm's; that of a matrix is another function's."""
    if np.ndim(x) != 1:
        raise ValueError(
            f"np.linalg.norm(x, ord) of an x of shape {np.shape(x)}: only vector "
            "norms (pass axis) and the Frobenius norm are differentiated"
        )
    return x
''',
    "_tensordot_axes": '''
def _tensordot_axes(a, b, axes):
    """The axes of `a` and of `b` that `np.tensordot(a, b, axes)` contracts, and
    those it keeps, as lists."""
    if np.ndim(axes) == 0:
        con_a = list(range(np.ndim(a) - axes, np.ndim(a)))
        con_b = list(range(axes))
    else:
        con_a, con_b = ([c] if np.ndim(c) == 0 else list(c) for c in axes)
        con_a = [c % np.ndim(a) for c in con_a]
        con_b = [c % np.ndim(b) for c in con_b]
    free_a = [i for i in range(np.ndim(a)) if i not in con_a]
    free_b = [i for i in range(np.ndim(b)) if i not in con_b]
    return con_a, con_b, free_a, free_b
''',
    "_tensordot_lhs": '''
def _tensordot_lhs(g, a, b, axes):
    """The adjoint of `a` in `np.tensordot(a, b, axes)`: g contracted with `b`
    over b's free axes, its axes put back in a's order."""
    con_a, con_b, free_a, free_b = _tensordot_axes(a, b, axes)
    d = np.tensordot(g, b, axes=(list(range(len(free_a), np.ndim(g))), free_b))
    # d's axes: a's free ones, then those a contracts, in the order of b's partners
    order = free_a + [con_a[con_b.index(j)] for j in sorted(con_b)]
    return np.transpose(d, np.argsort(order))
''',
    "_tensordot_rhs": '''
def _tensordot_rhs(g, a, b, axes):
    """The adjoint of `b` in `np.tensordot(a, b, axes)`: `a` contracted with g
    over a's free axes, its axes put back in b's order."""
    con_a, con_b, free_a, free_b = _tensordot_axes(a, b, axes)
    d = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    # d's axes: those b contracts, in the order of a's partners, then b's free ones
    order = [con_b[con_a.index(i)] for i in sorted(con_a)] + free_b
    return np.transpose(d, np.argsort(order))
''',
    "_dot_lhs": '''
def _dot_lhs(g, b, a):
    """The adjoint of `a` in `np.dot(a, b)`: that of `a @ b` for a vector or a
    matrix `b`. A scalar operand scales the other; a stack `b` has np.dot pair
    a's last axis with b's second-to-last, as `np.tensordot` does."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _by_scalar(g, b, a)
    if np.ndim(b) <= 2:
        return _matmul_lhs(g, b, a)
    return _tensordot_lhs(g, a, b, ([-1], [-2]))
''',
    "_dot_rhs": '''
def _dot_rhs(a, g, b):
    """The adjoint of `b` in `np.dot(a, b)`, as `_dot_lhs` gives that of `a`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _by_scalar(g, a, b)
    if np.ndim(b) <= 2:
        return _matmul_rhs(a, g, b)
    return _tensordot_rhs(g, a, b, ([-1], [-2]))
''',
    "_inner_lhs": '''
def _inner_lhs(g, b, a):
    """The adjoint of `a` in `np.inner(a, b)`: g contracted with `b` over all of
    b's axes but its last, which pairs with a's last. A scalar operand scales
    the other."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _by_scalar(g, b, a)
    return _tensordot_lhs(g, a, b, ([-1], [-1]))
''',
    "_inner_rhs": '''
def _inner_rhs(a, g, b):
    """The adjoint of `b` in `np.inner(a, b)`, as `_inner_lhs` gives that of `a`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _by_scalar(g, a, b)
    return _tensordot_rhs(g, a, b, ([-1], [-1]))
''',
    "_by_scalar": '''
def _by_scalar(g, other, own):
    """The adjoint of `own` in np.dot or np.inner of `own` and `other`, one of
    them a scalar, which multiplies: `g * other`, summed where `own` is it."""
    d = np.multiply(g, other)
    return d if np.ndim(own) else np.sum(d)
''',
    "_kron_blocks": '''
def _kron_blocks(g, a, b):
    """The adjoint `g` of `np.kron(a, b)` with each axis split in two, the
    block (`a`'s index) and the entry in it (`b`'s), and the shapes of `a`
    and `b` at g's rank."""
    rank = np.ndim(g)
    shape_a = (1,) * (rank - np.ndim(a)) + np.shape(a)
    shape_b = (1,) * (rank - np.ndim(b)) + np.shape(b)
    split = np.reshape(g, [n for pair in zip(shape_a, shape_b) for n in pair])
    return split, shape_a, shape_b
''',
    "_kron_lhs": '''
def _kron_lhs(g, a, b):
    """The adjoint of `a` in `np.kron(a, b)`: each block of g against `b`."""
    split, _, shape_b = _kron_blocks(g, a, b)
    entries = np.reshape(b, [n for m in shape_b for n in (1, m)])
    d = np.sum(split * entries, axis=tuple(range(1, split.ndim, 2)))
    return np.reshape(d, np.shape(a))
''',
    "_kron_rhs": '''
def _kron_rhs(g, a, b):
    """The adjoint of `b` in `np.kron(a, b)`: the blocks of g, weighted by `a`."""
    split, shape_a, _ = _kron_blocks(g, a, b)
    blocks = np.reshape(a, [n for m in shape_a for n in (m, 1)])
    d = np.sum(split * blocks, axis=tuple(range(0, split.ndim, 2)))
    return np.reshape(d, np.shape(b))
''',
    "_cumprod_vjp": '''
def _cumprod_vjp(g, x, out, axis):
    """The adjoint of `out = np.cumprod(x, axis)`, exact where entries are 0 (no
    division): entry i reaches each running product j >= i through the entries
    before it, `out[i - 1]`, and those after it up to j, summed from the end as
    s[i] = g[i] + x[i + 1] * s[i + 1]."""
    g, x, out = (np.moveaxis(np.asarray(v), axis, 0) for v in (g, x, out))
    s = np.zeros(np.broadcast_shapes(g.shape, x.shape), np.result_type(g, x))
    for i in reversed(range(len(s))):
        s[i] = g[i] if i == len(s) - 1 else g[i] + x[i + 1] * s[i + 1]
    before = np.concatenate([np.ones_like(out[:1]), out[:-1]])
    return np.moveaxis(before * s, 0, axis)
''',
    "_cumprod_jvp": '''
def _cumprod_jvp(t, x, out, axis):
    """The tangent of `out = np.cumprod(x, axis)` for the tangent `t` of x, exact
    where entries are 0: d[j] = d[j - 1] * x[j] + out[j - 1] * t[j]."""
    t, x, out = (np.moveaxis(np.asarray(v), axis, 0) for v in (t, x, out))
    d = np.zeros(np.broadcast_shapes(t.shape, x.shape), np.result_type(t, x))
    for j in range(len(d)):
        d[j] = t[j] if j == 0 else d[j - 1] * x[j] + out[j - 1] * t[j]
    return np.moveaxis(d, 0, axis)
''',
    "_split_like": '''
def _split_like(g, parts, axis=0):
    """`g` cut into the pieces that `np.concatenate(parts, axis)` joined."""
    cuts = np.cumsum([np.shape(p)[axis] for p in parts])[:-1]
    return np.split(g, cuts, axis=axis)
''',
    "_repeat_like": '''
def _repeat_like(g, parts):
    """The adjoint of `sum(parts)`: `g` for every part."""
    return [g] * len(parts)
''',
    "_grad_like": '''
def _grad_like(x, grads, path=()):
    """The gradient of a container argument: the structure of `x` (dicts, lists,
    tuples, NamedTuples, dataclasses), the adjoint `grads[path]` at each leaf read by
    key, index or attribute, and zeros of the leaf's shape elsewhere."""
    if path in grads:
        return _restructure(x, grads[path])
    below = {
        p[len(path)] for p in grads if len(p) > len(path) and p[: len(path)] == path
    }
    if isinstance(x, dict):
        return {k: _grad_like(v, grads, path + (k,)) for k, v in x.items()}
    fields = getattr(type(x), "__dataclass_fields__", None)
    if fields is not None:
        return type(x)(
            **{f: _grad_like(getattr(x, f), grads, path + (f,)) for f in fields}
        )
    if isinstance(x, (list, tuple)):
        names = getattr(x, "_fields", ())
        items = []
        for i, v in enumerate(x):
            key = next((k for k in (i, i - len(x)) + names[i : i + 1] if k in below), i)
            items.append(_grad_like(v, grads, path + (key,)))
        return type(x)(*items) if names else type(x)(items)
    g = np.zeros_like(x, dtype=float)
    for p, v in grads.items():
        if len(p) > len(path) and p[: len(path)] == path:
            g[p[len(path) :]] += v
    return g
''',
    "_zeros_any": '''
def _zeros_any(x):
    """A zero adjoint for a part of a container: arrays, in lists and dicts."""
    if isinstance(x, dict):
        return {k: _zeros_any(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_zeros_any(v) for v in x]
    return np.zeros_like(x, dtype=float)
''',
    "_add_at": '''
def _add_at(d, index, g):
    """np.add.at(d, index, g): the adjoint of `x[index]`, added once for each time
    an entry of `index` names it. One integer names one entry once: `d[index] +=
    g` adds the same, and takes a tenth of np.add.at's 1.5 µs."""
    if type(index) is int or isinstance(index, np.integer):
        d[index] += g
    else:
        np.add.at(d, index, g)
''',
    "_add_into": '''
def _add_into(d, key, g):
    """`d[key] += g` for adjoints of containers: part by part where `g` is one."""
    if isinstance(g, dict):
        for k, v in g.items():
            _add_into(d[key], k, v)
    elif isinstance(g, (list, tuple)):
        for k, v in enumerate(g):
            _add_into(d[key], k, v)
    else:
        d[key] = d[key] + g
''',
    "_restructure": '''
def _restructure(x, g):
    """`g` (lists and dicts of arrays) in the container types of `x`."""
    if isinstance(x, dict):
        return {k: _restructure(v, g[k]) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        items = [_restructure(v, w) for v, w in zip(x, g)]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    return g
''',
    "_add_each": '''
def _add_each(a, b):
    """The sum of two adjoints of a list of arrays, part by part."""
    return [x + y for x, y in zip(a, b)]
''',
    "_zeros_list": '''
def _zeros_list(parts):
    """A zero adjoint for a list of arrays: one zero array per part."""
    return [np.zeros_like(p) for p in parts]
''',
    "_split_size": '''
def _split_size(n, k):
    """The length of each of np.split's k parts of an axis of length n."""
    if n % k:  # as np.split raises, not parts of uneven lengths
        raise ValueError("array split does not result in an equal division")
    return n // k
''',
    "_count": '''
def _count(x, out):
    """How many entries of `x` a mean averaged into each entry of `out`."""
    return np.size(x) // max(np.size(out), 1)
''',
}

# `type(W) is not _NDARRAY`: a module constant is read faster than `np.ndarray`,
# an attribute looked up on each call (about 35 ns an array argument).
HELPERS["_NDARRAY"] = "_NDARRAY = np.ndarray\n"
HELPERS["_ONES"] = (
    "_ONES = {}  # vectors of ones by length and dtype, for sums written as products\n"
)
# the size from which the emitter writes a known step with np.sign, at run time too
HELPERS["_step"] = HELPERS["_step"].replace("SIGN_STEP_ENTRIES", str(SIGN_STEP_ENTRIES))


def helper_closure(names: set[str]) -> set[str]:
    """`names` with every helper they call, and those call, and so on."""
    todo, closure = list(names), set(names)
    while todo:
        for h in HELPER_NEEDS.get(todo.pop(), ()):
            if h not in closure:
                closure.add(h)
                todo.append(h)
    return closure


def defined(*names: str) -> dict:
    """A namespace in which the helpers `names`, and what they call, are defined
    as a generated module defines them, NumPy as `np`: for tests and benchmarks
    that run a helper on its own."""
    import numpy as np

    namespace = {"np": np}
    for h in helper_closure(set(names)):
        exec(HELPERS[h], namespace)
    return namespace
