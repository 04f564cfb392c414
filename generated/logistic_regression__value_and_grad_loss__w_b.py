# adcompiler: 0.1.0
# origin: examples/logistic_regression.py:19 loss
# origin-sha256: a0bf4ffdb10f6c699bd7e50ca010f42d1d6855f4000008d356dae55f19bf8c34
# body-sha256: f8950354fbac045ee2c217d9c0c9811d9926d20d5da49af37022929dbd6edec9
import numpy as np


def _matmul_rhs(a, g):
    """The adjoint of `b` in `a @ b`: `a.T @ g`, or an outer product when `a` is a vector."""
    if a.ndim == 1:
        return np.multiply.outer(a, g)
    return (a.T if a.ndim == 2 else np.swapaxes(a, -1, -2)) @ g


def _unbroadcast(g, x):
    """`g` with the shape of `x`: summed over the axes along which `x` was broadcast."""
    shape = getattr(x, "shape", ())
    if getattr(g, "shape", ()) == shape:
        return g
    if np.ndim(g) > len(shape):
        g = np.sum(g, axis=tuple(range(np.ndim(g) - len(shape))))
    elif np.ndim(g) < len(shape):  # align trailing axes, as broadcasting does
        g = np.reshape(g, (1,) * (len(shape) - np.ndim(g)) + np.shape(g))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    g = np.sum(g, axis=axes, keepdims=True) if axes else g
    # a scalar standing for an array filled with it
    return g if np.shape(g) == shape else np.zeros_like(x) + g


def value_and_grad_loss(w, b, X, y, lam):  # logistic_regression.py:19
    """Value and gradient of `loss` with respect to w, b. Generated from examples/logistic_regression.py:19."""
    t1 = X @ w  # logistic_regression.py:21
    t2 = t1 + b  # logistic_regression.py:21
    margin = y * t2  # logistic_regression.py:21
    t3 = np.exp(-margin)  # logistic_regression.py:22
    t4 = 0.5 * lam  # logistic_regression.py:22
    t5 = t4 * np.sum(w * w)  # logistic_regression.py:22
    out = np.mean(np.log1p(t3)) + t5  # logistic_regression.py:22
    if getattr(out, "ndim", 0) != 0:  # logistic_regression.py:22
        raise TypeError(
            f"grad of loss needs a scalar output, got shape {np.shape(out)}"
        )
    d_t6 = 1.0 / np.size(margin)  # logistic_regression.py:22
    d_t3 = d_t6 / (1.0 + t3)  # logistic_regression.py:22
    d_t7 = d_t3 * t3  # logistic_regression.py:22
    d_margin = -d_t7  # logistic_regression.py:22
    d_t2 = _unbroadcast(d_margin * y, t2)  # logistic_regression.py:21
    d_t1 = _unbroadcast(d_t2, t1)  # logistic_regression.py:21
    d_b = _unbroadcast(d_t2, b)  # logistic_regression.py:21
    d_w = 2.0 * (t4 * w) + _matmul_rhs(X, d_t1)  # logistic_regression.py:21
    return out, (d_w, d_b)  # logistic_regression.py:22
