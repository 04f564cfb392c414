# adcompiler: 0.1.0
# origin: examples/seed_nn.py:13 score
# origin-sha256: 50ef2c486d668bc68ca16ac14909b2759e60d528a2ea44e23d809b8327179ad2
# body-sha256: c73ef32309031392a0eb342b592d05f965d20eb4515c0356057e21a4f80bf123
import numpy as np


def _matmul_lhs(g, b):
    """The adjoint of `a` in `a @ b`: `g @ b.T`, or an outer product when `b` is a vector."""
    if b.ndim == 1:
        return np.multiply.outer(g, b)
    return g @ (b.T if b.ndim == 2 else np.swapaxes(b, -1, -2))


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


def grad_score(W, x, b, u):  # seed_nn.py:13
    """Gradient of `score` with respect to W, b. Generated from examples/seed_nn.py:13."""
    t1 = W @ x  # seed_nn.py:14
    z = t1 + b  # seed_nn.py:14
    h = np.tanh(z)  # seed_nn.py:15
    out = u @ h  # seed_nn.py:16
    if getattr(out, "ndim", 0) != 0:  # seed_nn.py:16
        raise TypeError(
            f"grad of score needs a scalar output, got shape {np.shape(out)}"
        )
    d_z = u * (1.0 - h * h)  # seed_nn.py:15
    d_t1 = _unbroadcast(d_z, t1)  # seed_nn.py:14
    d_b = _unbroadcast(d_z, b)  # seed_nn.py:14
    d_W = _matmul_lhs(d_t1, x)  # seed_nn.py:14
    return d_W, d_b  # seed_nn.py:16
