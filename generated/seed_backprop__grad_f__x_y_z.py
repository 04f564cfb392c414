# adcompiler: 0.1.0
# origin: examples/seed_backprop.py:11 f
# origin-hash: d32b3d8eef8df825baa143728db46848
# body-hash: ac1f0dba27ba7b6ff99159dd9fc8783d
import numpy as np


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


def grad_f(x, y, z):  # seed_backprop.py:11
    """Gradient of `f` with respect to x, y, z. Generated from examples/seed_backprop.py:11."""
    all_floats = (
        type(x) is float and type(y) is float and type(z) is float
    )  # seed_backprop.py:11
    if not all_floats:  # seed_backprop.py:11
        _check_float("x", x)
        _check_float("y", y)
        _check_float("z", z)
        if getattr(x, "ndim", 0) != 0:
            raise TypeError(
                f"grad of f needs a scalar output; with x of shape {np.shape(x)} it is not"
            )
    t1 = x + y  # seed_backprop.py:12
    if z > y:  # seed_backprop.py:12
        d_x = z
        d_y = z
        d_z = t1
    else:
        d_x = y
        d_y = t1 + y
        d_z = 0.0
    if not all_floats:  # seed_backprop.py:12
        d_x = _astype_like(d_x, x)
        d_y = _astype_like(d_y, y)
        d_z = _astype_like(d_z, z)
    return d_x, d_y, d_z  # seed_backprop.py:12
