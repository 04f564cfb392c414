# adcompiler: 0.1.0
# origin: examples/seed_backprop.py:11 f
# origin-sha256: 0d573ee57410c1c21ac8fae44793b3f109301ce0e31bf95959539d8d8e202488
# body-sha256: 0cfe2c2dfa873e85608ae481c79d9473bee61dd9fde566abd52142007ef5cfd8
import numpy as np


def grad_f(x, y, z):
    """Gradient of `f` with respect to x, y, z. Generated from examples/seed_backprop.py:11."""
    t1 = x + y
    t2 = max(y, z)
    out = t1 * t2
    if np.ndim(out) != 0:
        raise TypeError(f"grad of f needs a scalar output, got shape {np.shape(out)}")
    t3 = z > y
    d_z = t1 if t3 else 0.0
    d_y = (0.0 if t3 else t1) + t2
    d_x = t2
    return d_x, d_y, d_z
