"""Regressions for bugs the inventory (test_inventory.py) found, each checked
against central finite differences."""

import numpy as np
from adcheck import check

X = np.array([0.3, -1.2, 2.0])
Y = np.array([1.5, 0.7, 1.1])


# -- chained assignment: `z = w = x * y` ------------------------------------------


def chained(x, y):
    z = w = x * y
    return np.sum(z + w * x)


def chained_three(x, y):
    a = b = c = np.tanh(x) * y
    b = b * x
    return np.sum(a * b + c)


def chained_into_index(x, y):
    z = x * 1.0
    z[0] = w = x[1] * y[2]
    return np.sum(z * w)


def test_chained_assignment_defines_every_name(out_dir):
    # Binding `z` renamed the temporary `t1` to `z`; `w` still read `t1`, which the
    # generated code never defined (NameError), and `w`'s adjoint was dropped.
    check(chained, X, Y, argnums=(0, 1))


def test_chained_assignment_of_three_names_then_one_rebound(out_dir):
    check(chained_three, X, Y, argnums=(0, 1))


def test_chained_assignment_into_an_index_and_a_name(out_dir):
    check(chained_into_index, X, Y, argnums=(0, 1))
