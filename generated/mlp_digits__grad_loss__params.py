# adcompiler: 0.1.0
# origin: examples/mlp_digits.py:18 loss
# origin-hash: 86277769283066d9cebe21723a30dd32
# body-hash: 82839d077ec3f03c98e236034ea34bf1
import numpy as np

_NDARRAY = np.ndarray
_ONES = {}  # vectors of ones by length and dtype, for sums written as products


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


def _new_ones(n, dtype):
    """A read-only vector of `n` ones, kept in `_ONES` for the next call where `n`
    is a batch's or a row's length (up to 1024: a few, and small)."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    if n <= 1024:
        _ONES[n, dtype.char] = ones
    return ones


def _restructure(x, g):
    """`g` (lists and dicts of arrays) in the container types of `x`."""
    if isinstance(x, dict):
        return {k: _restructure(v, g[k]) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        items = [_restructure(v, w) for v, w in zip(x, g)]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    return g


def _step(x):
    """1 where x > 0, 0 where x < 0, 1/2 at 0 (where a maximum ties); NaN where x
    is. np.heaviside is one call, but its loop branches on every entry: from a
    few thousand entries on, three calls without branches are faster."""
    if getattr(x, "size", 1) < 4096:
        return np.heaviside(x, 0.5)
    return 0.5 * np.sign(x) + 0.5


def _sum_over_batch(g):
    """g.sum(axis=0). For a float matrix, BLAS's product with a vector of ones:
    np.add.reduce adds the rows in one at a time, up to 8 times slower."""
    if type(g) is _NDARRAY and g.ndim == 2 and g.dtype.char in "fd":
        ones = _ONES.get((len(g), g.dtype.char))
        return (_new_ones(len(g), g.dtype) if ones is None else ones).dot(g)
    return np.add.reduce(g, 0)  # without g.sum's Python wrapper (0.15 µs)


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


def grad_loss(params, X, Y):  # mlp_digits.py:18
    """Gradient of `loss` with respect to params. Generated from examples/mlp_digits.py:18."""
    if type(params) is not float:  # mlp_digits.py:18
        _check_float("params", params)
    W1 = params["W1"]  # mlp_digits.py:20
    t1 = X @ W1  # mlp_digits.py:20
    b1 = params["b1"]  # mlp_digits.py:20
    t2 = t1 + b1  # mlp_digits.py:20
    h = np.maximum(t2, 0.0)  # mlp_digits.py:20
    W2 = params["W2"]  # mlp_digits.py:21
    t3 = h @ W2  # mlp_digits.py:21
    b2 = params["b2"]  # mlp_digits.py:21
    z = t3 + b2  # mlp_digits.py:21
    m = z.max(axis=1, keepdims=True)  # mlp_digits.py:22
    t4 = np.exp(z - m)  # mlp_digits.py:23
    d_t5 = -1.0 / np.shape(X)[0]  # mlp_digits.py:24
    d_log_p = _unbroadcast(d_t5 * Y, z)  # mlp_digits.py:24
    d_t6 = _sum_rows(d_log_p, axis=1, keepdims=True) / _sum_rows(  # mlp_digits.py:23
        t4, axis=1, keepdims=True
    )
    d_t7 = d_log_p - d_t6 * t4  # mlp_digits.py:23
    d_t3 = _unbroadcast(d_t7, t3)  # mlp_digits.py:21
    d_b2 = _unbroadcast(d_t7, b2)  # mlp_digits.py:21
    d_h = _matmul_lhs(d_t3, W2, h)  # mlp_digits.py:21
    d_W2 = _matmul_rhs(h, d_t3, W2)  # mlp_digits.py:21
    d_t2 = d_h * _step(t2)  # mlp_digits.py:20
    d_t1 = _unbroadcast(d_t2, t1)  # mlp_digits.py:20
    d_b1 = _unbroadcast(d_t2, b1)  # mlp_digits.py:20
    d_W1 = _matmul_rhs(X, d_t1, W1)  # mlp_digits.py:20
    d_params = _grad_like(  # mlp_digits.py:21
        params, {("W1",): d_W1, ("b1",): d_b1, ("W2",): d_W2, ("b2",): d_b2}
    )
    return d_params  # mlp_digits.py:24
