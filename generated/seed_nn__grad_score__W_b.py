# adcompiler: 0.1.0
# origin: examples/seed_nn.py:13 score
# origin-hash: e1a5c2cd7f6887c11d7b24ae4177dae1
# body-hash: 33adcf7daa0a20b4c97bebe5ccdf648c
import numpy as np

_FLOAT64 = np.dtype("float64")
_NDARRAY = np.ndarray
_ONES = {}  # vectors of ones by length and dtype, for sums written as products


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


def _new_ones(n, dtype):
    """A read-only vector of `n` ones, kept in `_ONES` for the next call where `n`
    is a batch's or a row's length (up to 1024: a few, and small)."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    if n <= 1024:
        _ONES[n, dtype.char] = ones
    return ones


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


def grad_score(W, x, b, u):  # seed_nn.py:13
    """Gradient of `score` with respect to W, b. Generated from examples/seed_nn.py:13."""
    all_float64 = (  # seed_nn.py:13
        (type(W) is _NDARRAY and W.dtype is _FLOAT64 or type(W) is float)
        and (type(b) is _NDARRAY and b.dtype is _FLOAT64 or type(b) is float)
        and (type(x) is _NDARRAY and x.dtype is _FLOAT64 or type(x) is float)
        and (type(u) is _NDARRAY and u.dtype is _FLOAT64 or type(u) is float)
    )
    if not all_float64:  # seed_nn.py:13
        _check_float("W", W)
        _check_float("b", b)
    t1 = W @ x  # seed_nn.py:14
    z = t1 + b  # seed_nn.py:14
    h = np.tanh(z)  # seed_nn.py:15
    if np.asarray(u).shape != h.shape or h.ndim != 1:  # seed_nn.py:16
        raise TypeError(
            f"grad of score needs a scalar output, got shape {np.shape(u @ h)}"
        )
    d_z = u * (1.0 - h * h)  # seed_nn.py:15
    d_t1 = _unbroadcast(d_z, t1)  # seed_nn.py:14
    d_b = _unbroadcast(d_z, b)  # seed_nn.py:14
    d_W = _matmul_lhs(d_t1, x, W)  # seed_nn.py:14
    if not all_float64:  # seed_nn.py:16
        d_W = _astype_like(d_W, W)
        d_b = _astype_like(d_b, b)
    return d_W, d_b  # seed_nn.py:16
