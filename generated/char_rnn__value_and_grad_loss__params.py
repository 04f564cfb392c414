# adcompiler: 0.1.0
# origin: examples/char_rnn.py:32 loss
# origin-hash: b70d18e4f83b30ca595ada57e3198b9a
# body-hash: 4289d84bed55de18209a2c6190bff478
import numpy as np

_NDARRAY = np.ndarray
_ONES = {}  # vectors of ones by length and dtype, for sums written as products


def _add_at(d, index, g):
    """np.add.at(d, index, g): the adjoint of `x[index]`, added once for each time
    an entry of `index` names it. One integer names one entry once: `d[index] +=
    g` adds the same, and takes a tenth of np.add.at's 1.5 µs."""
    if type(index) is int or isinstance(index, np.integer):
        d[index] += g
    else:
        np.add.at(d, index, g)


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


def _matmul_lhs_rows_sum(gs, xs, a):
    """The sum over a loop's trips of `_matmul_lhs(g, xs[t])`, the adjoint of `a` in
    `a @ xs[t]`; `gs` holds the trips' `g`, appended from the last trip to the first."""
    return _matmul_lhs_sum(gs[::-1], xs, a)


def _matmul_lhs_sum(gs, bs, a):
    """The sum of `_matmul_lhs(g, b)` over a loop's trips, the adjoint of `a` in `a @ b`."""
    total = _outer_sum(gs, bs)
    if total is None:  # not vectors: one product at a time
        total = sum(map(_matmul_lhs, gs, bs), np.zeros_like(a))
    return _unbroadcast(total, a)  # stacks of matrices: summed to the shape of a


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


def _new_ones(n, dtype):
    """A read-only vector of `n` ones, kept in `_ONES` for the next call where `n`
    is a batch's or a row's length (up to 1024: a few, and small)."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    if n <= 1024:
        _ONES[n, dtype.char] = ones
    return ones


def _outer_sum(xs, ys):
    """The sum of the outer products of the vectors `xs` and `ys`, as one product
    of their stacked rows; None unless each list holds vectors of one length."""
    try:
        X, Y = np.array(xs), np.array(ys)
    except ValueError:  # shapes that differ from one to the next
        return None
    return X.T @ Y if X.ndim == 2 and Y.ndim == 2 else None


def _restructure(x, g):
    """`g` (lists and dicts of arrays) in the container types of `x`."""
    if isinstance(x, dict):
        return {k: _restructure(v, g[k]) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        items = [_restructure(v, w) for v, w in zip(x, g)]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    return g


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


def _sum_over_batch(g):
    """g.sum(axis=0). For a float matrix, BLAS's product with a vector of ones:
    np.add.reduce adds the rows in one at a time, up to 8 times slower."""
    if type(g) is _NDARRAY and g.ndim == 2 and g.dtype.char in "fd":
        ones = _ONES.get((len(g), g.dtype.char))
        return (_new_ones(len(g), g.dtype) if ones is None else ones).dot(g)
    return np.add.reduce(g, 0)  # without g.sum's Python wrapper (0.15 µs)


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


def _unbroadcast_sum(gs, x):
    """The sum of `_unbroadcast(g, x)` over a loop's trips: one sum over the stacked gs."""
    try:
        stacked = np.array(gs) if gs else None
    except ValueError:  # shapes that differ from one trip to the next
        stacked = None
    if stacked is not None and stacked.dtype != object:
        return _unbroadcast(stacked.sum(axis=0), x)
    return sum((_unbroadcast(g, x) for g in gs), np.zeros_like(x))


def value_and_grad_loss(params, xs, targets, h0):  # char_rnn.py:32
    """Value and gradient of `loss` with respect to params. Generated from examples/char_rnn.py:32."""
    if type(params) is not float:  # char_rnn.py:32
        _check_float("params", params)
    h_1_trips = []  # char_rnn.py:32
    tape = []  # char_rnn.py:32
    Wxh = params["Wxh"]  # char_rnn.py:34
    Whh = params["Whh"]  # char_rnn.py:34
    bh = params["bh"]  # char_rnn.py:34
    Why = params["Why"]  # char_rnn.py:35
    by = params["by"]  # char_rnn.py:35
    t1 = np.shape(xs)[0]  # char_rnn.py:38
    shape_h0 = np.shape(h0)  # char_rnn.py:38
    Wxh_xs = _matmul_rows(Wxh, xs)  # char_rnn.py:39
    if not (
        np.ndim(Whh) == 2 and 1 <= np.ndim(h0) <= 2 and np.ndim(Why) == 2
    ):  # char_rnn.py:38
        return _value_and_grad_loss_general(params, xs, targets, h0)  # char_rnn.py:44
    h = h0  # char_rnn.py:38
    total = 0.0  # char_rnn.py:38
    for t in range(t1):  # char_rnn.py:38
        t2 = Wxh_xs[t]  # char_rnn.py:39
        t3 = np.dot(Whh, h)  # char_rnn.py:39
        h_1 = np.tanh(t2 + t3 + bh)  # char_rnn.py:39
        if not h_1.shape == shape_h0 == t3.shape == t2.shape:
            return _value_and_grad_loss_general(params, xs, targets, h0)
        t4 = np.dot(Why, h_1)  # char_rnn.py:40
        y = t4 + by  # char_rnn.py:40
        m = y.max()  # char_rnn.py:41
        t5 = y - m  # char_rnn.py:42
        t6 = np.exp(t5)  # char_rnn.py:42
        t7 = t6.sum()  # char_rnn.py:42
        log_p = t5 - np.log(t7)  # char_rnn.py:42
        t8 = targets[t]  # char_rnn.py:43
        total_1 = total - log_p[t8]  # char_rnn.py:43
        if not (total_1.shape == () and log_p.shape == t4.shape):
            return _value_and_grad_loss_general(params, xs, targets, h0)
        h_1_trips.append(h_1)
        tape.append((log_p, t8, t7, t6, h_1, h))
        h = h_1  # char_rnn.py:39
        total = total_1  # char_rnn.py:43
    h_2 = h  # char_rnn.py:39
    H_1 = _stack_trips(h_1_trips)  # char_rnn.py:32
    t9 = 1.0 - H_1 * H_1  # char_rnn.py:39
    gs_by = []  # char_rnn.py:38
    xs_Why = []  # char_rnn.py:38
    gs_bh = []  # char_rnn.py:38
    xs_Whh = []  # char_rnn.py:38
    d_h = np.zeros_like(h_2)  # char_rnn.py:38
    Why_T = np.transpose(Why)  # char_rnn.py:38
    Whh_T = np.transpose(Whh)  # char_rnn.py:38
    d_total = 1.0  # char_rnn.py:38
    for t in reversed(range(t1)):  # char_rnn.py:38
        log_p, t8, t7, t6, h_1, h = tape.pop()
        d_t10 = -d_total  # char_rnn.py:43
        d_log_p = np.zeros(log_p.shape, log_p.dtype)  # char_rnn.py:42
        _add_at(d_log_p, t8, d_t10)  # char_rnn.py:43
        d_t7 = d_log_p.sum() / t7  # char_rnn.py:42
        d_t5 = d_log_p - d_t7 * t6  # char_rnn.py:42
        d_h_1 = d_h + Why_T.dot(d_t5)  # char_rnn.py:39
        d_t11 = d_h_1 * t9[t]  # char_rnn.py:39
        d_h = Whh_T.dot(d_t11)  # char_rnn.py:39
        gs_by.append(d_t5)
        xs_Why.append(h_1)
        gs_bh.append(d_t11)
        xs_Whh.append(h)
    d_by = _unbroadcast_sum(gs_by, by)  # char_rnn.py:38
    d_Why = _matmul_lhs_sum(gs_by, xs_Why, Why)  # char_rnn.py:38
    d_bh = _unbroadcast_sum(gs_bh, bh)  # char_rnn.py:38
    d_Whh = _matmul_lhs_sum(gs_bh, xs_Whh, Whh)  # char_rnn.py:38
    d_Wxh = _matmul_lhs_rows_sum(gs_bh, xs, Wxh)  # char_rnn.py:38
    d_params = _grad_like(  # char_rnn.py:38
        params,
        {
            ("Wxh",): d_Wxh,
            ("Whh",): d_Whh,
            ("bh",): d_bh,
            ("Why",): d_Why,
            ("by",): d_by,
        },
    )
    return total, d_params  # char_rnn.py:44


def _value_and_grad_loss_general(params, xs, targets, h0):  # char_rnn.py:32
    """Value and gradient of `loss` with respect to params. Generated from examples/char_rnn.py:32, for any shapes: `value_and_grad_loss` returns what this returns where a loop's trips do not keep their shapes."""
    if type(params) is not float:  # char_rnn.py:32
        _check_float("params", params)
    h_1_trips = []  # char_rnn.py:32
    tape = []  # char_rnn.py:32
    Wxh = params["Wxh"]  # char_rnn.py:34
    Whh = params["Whh"]  # char_rnn.py:34
    bh = params["bh"]  # char_rnn.py:34
    Why = params["Why"]  # char_rnn.py:35
    by = params["by"]  # char_rnn.py:35
    t1 = np.shape(xs)[0]  # char_rnn.py:38
    Wxh_at_xs = _matmul_rows(Wxh, xs)  # char_rnn.py:39
    h = h0  # char_rnn.py:38
    total = 0.0  # char_rnn.py:38
    for t in range(t1):  # char_rnn.py:38
        t2 = Wxh_at_xs[t]  # char_rnn.py:39
        t3 = Whh @ h  # char_rnn.py:39
        t4 = t2 + t3  # char_rnn.py:39
        h_1 = np.tanh(t4 + bh)  # char_rnn.py:39
        t5 = Why @ h_1  # char_rnn.py:40
        y = t5 + by  # char_rnn.py:40
        m = y.max()  # char_rnn.py:41
        t6 = y - m  # char_rnn.py:42
        t7 = np.exp(t6)  # char_rnn.py:42
        t8 = t7.sum()  # char_rnn.py:42
        log_p = t6 - np.log(t8)  # char_rnn.py:42
        t9 = targets[t]  # char_rnn.py:43
        t10 = log_p[t9]  # char_rnn.py:43
        total_1 = total - t10  # char_rnn.py:43
        h_1_trips.append(h_1)
        tape.append((total, t10, log_p, t9, t8, t7, t5, h_1, t4, t2, t3, h))
        h = h_1  # char_rnn.py:39
        total = total_1  # char_rnn.py:43
    h_2 = h  # char_rnn.py:39
    total_2 = total  # char_rnn.py:43
    if getattr(total_2, "ndim", 0) != 0:  # char_rnn.py:38
        raise TypeError(
            f"grad of loss needs a scalar output, got shape {np.shape(total_2)}"
        )
    H_1 = _stack_trips(h_1_trips)  # char_rnn.py:32
    t11 = 1.0 - H_1 * H_1  # char_rnn.py:39
    gs_by = []  # char_rnn.py:38
    gs_Why = []  # char_rnn.py:38
    xs_Why = []  # char_rnn.py:38
    gs_bh = []  # char_rnn.py:38
    gs_Whh = []  # char_rnn.py:38
    xs_Whh = []  # char_rnn.py:38
    gs_Wxh = []  # char_rnn.py:38
    d_h = np.zeros_like(h_2)  # char_rnn.py:38
    d_total = 1.0  # char_rnn.py:38
    for t in reversed(range(t1)):  # char_rnn.py:38
        total, t10, log_p, t9, t8, t7, t5, h_1, t4, t2, t3, h = tape.pop()
        d_total_1 = _unbroadcast(d_total, total)  # char_rnn.py:43
        d_t10 = _unbroadcast(-d_total, t10)  # char_rnn.py:43
        d_log_p = np.zeros(log_p.shape, log_p.dtype)  # char_rnn.py:42
        _add_at(d_log_p, t9, d_t10)  # char_rnn.py:43
        d_t8 = d_log_p.sum() / t8  # char_rnn.py:42
        d_t6 = d_log_p - d_t8 * t7  # char_rnn.py:42
        d_t5 = _unbroadcast(d_t6, t5)  # char_rnn.py:40
        d_h_1 = d_h + _matmul_rhs(Why, d_t5, h_1)  # char_rnn.py:39
        d_t12 = d_h_1 * t11[t]  # char_rnn.py:39
        d_t4 = _unbroadcast(d_t12, t4)  # char_rnn.py:39
        d_t2 = _unbroadcast(d_t4, t2)  # char_rnn.py:39
        d_t3 = _unbroadcast(d_t4, t3)  # char_rnn.py:39
        d_h = _matmul_rhs(Whh, d_t3, h)  # char_rnn.py:39
        gs_by.append(d_t6)
        gs_Why.append(d_t5)
        xs_Why.append(h_1)
        gs_bh.append(d_t12)
        gs_Whh.append(d_t3)
        xs_Whh.append(h)
        gs_Wxh.append(d_t2)
        d_total = d_total_1  # char_rnn.py:43
    d_by = _unbroadcast_sum(gs_by, by)  # char_rnn.py:38
    d_Why = _matmul_lhs_sum(gs_Why, xs_Why, Why)  # char_rnn.py:38
    d_bh = _unbroadcast_sum(gs_bh, bh)  # char_rnn.py:38
    d_Whh = _matmul_lhs_sum(gs_Whh, xs_Whh, Whh)  # char_rnn.py:38
    d_Wxh = _matmul_lhs_rows_sum(gs_Wxh, xs, Wxh)  # char_rnn.py:38
    d_params = _grad_like(  # char_rnn.py:38
        params,
        {
            ("Wxh",): d_Wxh,
            ("Whh",): d_Whh,
            ("bh",): d_bh,
            ("Why",): d_Why,
            ("by",): d_by,
        },
    )
    return total_2, d_params  # char_rnn.py:44
