# adcompiler: 0.1.0
# origin: examples/logistic_regression.py:16 loss
# origin-hash: c8c3365d099e99f31add5fda5a9432d0
# body-hash: bc0bbc0b9b88c2c801e1c61260727bf5
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


def value_and_grad_loss(w, b, X, y, lam):  # logistic_regression.py:16
    """Value and gradient of `loss` with respect to w, b. Generated from examples/logistic_regression.py:16."""
    all_float64 = (  # logistic_regression.py:16
        (type(w) is _NDARRAY and w.dtype is _FLOAT64 or type(w) is float)
        and (type(b) is _NDARRAY and b.dtype is _FLOAT64 or type(b) is float)
        and (type(X) is _NDARRAY and X.dtype is _FLOAT64 or type(X) is float)
        and (type(y) is _NDARRAY and y.dtype is _FLOAT64 or type(y) is float)
        and (type(lam) is _NDARRAY and lam.dtype is _FLOAT64 or type(lam) is float)
    )
    if not all_float64:  # logistic_regression.py:16
        _check_float("w", w)
        _check_float("b", b)
    t1 = X @ w  # logistic_regression.py:18
    t2 = t1 + b  # logistic_regression.py:18
    margin = y * t2  # logistic_regression.py:18
    t3 = np.exp(-margin)  # logistic_regression.py:19
    t4 = 0.5 * lam * np.sum(w * w)  # logistic_regression.py:19
    out = np.log1p(t3).mean() + t4  # logistic_regression.py:19
    if getattr(out, "ndim", 0) != 0:  # logistic_regression.py:19
        raise TypeError(
            f"grad of loss needs a scalar output, got shape {np.shape(out)}"
        )
    d_t5 = -1.0 / np.size(margin)  # logistic_regression.py:19
    d_t3 = d_t5 / (1.0 + t3)  # logistic_regression.py:19
    d_margin = d_t3 * t3  # logistic_regression.py:19
    d_t2 = _unbroadcast(d_margin * y, t2)  # logistic_regression.py:18
    d_t1 = _unbroadcast(d_t2, t1)  # logistic_regression.py:18
    d_b = _unbroadcast(d_t2, b)  # logistic_regression.py:18
    d_w = lam * w + _matmul_rhs(X, d_t1, w)  # logistic_regression.py:19
    if not all_float64:  # logistic_regression.py:19
        d_w = _astype_like(d_w, w)
        d_b = _astype_like(d_b, b)
    return out, (d_w, d_b)  # logistic_regression.py:19
