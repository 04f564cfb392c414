# adcompiler: 0.1.0
# origin: examples/seed_backprop.py:11 f
# origin-sha256: 0d573ee57410c1c21ac8fae44793b3f109301ce0e31bf95959539d8d8e202488
# body-sha256: e23a042a4a75a0873a2cbce0db7dc378b9922e684747ae5f13c5fd831576c546
import numpy as np


def grad_f(x, y, z):  # seed_backprop.py:11
    """Gradient of `f` with respect to x, y, z. Generated from examples/seed_backprop.py:11."""
    if getattr(x, "ndim", 0) != 0:  # seed_backprop.py:12
        raise TypeError(
            f"grad of f needs a scalar output; with x of shape {np.shape(x)} it is not"
        )
    t1 = x + y  # seed_backprop.py:12
    t2 = max(y, z)  # seed_backprop.py:12
    t3 = z > y  # seed_backprop.py:12
    d_z = t1 if t3 else 0.0  # seed_backprop.py:12
    d_y = (0.0 if t3 else t1) + t2  # seed_backprop.py:12
    d_x = t2  # seed_backprop.py:12
    return d_x, d_y, d_z  # seed_backprop.py:12
