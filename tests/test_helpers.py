"""The helpers generated modules carry (codegen.HELPERS), run on their own."""

import numpy as np
import pytest

from adcompiler.codegen import HELPERS


def _helper(name):
    namespace = {"np": np}
    exec(HELPERS[name], namespace)
    return namespace[name]


@pytest.mark.parametrize(
    "g_shape, x_shape",
    [
        ((4, 3), (3,)),  # leading axis
        ((4, 3), (1, 3)),  # an axis of length 1
        ((2, 4, 3), (4, 1)),  # both
        ((2, 4, 3), (1, 1, 1)),
        ((5,), ()),  # to a scalar
        ((3, 1), (3, 4)),  # smaller than x: a stand-in spread over it
        ((), (2, 3)),
    ],
)
def test_unbroadcast_sums_back_to_the_shape_of_x(g_shape, x_shape):
    unbroadcast = _helper("_unbroadcast")
    rng = np.random.default_rng(0)
    g = rng.normal(size=g_shape).astype(np.float32)
    x = np.zeros(x_shape, dtype=np.float32)
    got = unbroadcast(g, x)
    assert np.shape(got) == x_shape and got.dtype == np.float32
    if len(g_shape) >= len(x_shape) and np.size(g) >= np.size(x):
        # the adjoint of broadcasting: <unbroadcast(g), v> == <g, broadcast(v)>
        v = rng.normal(size=x_shape)
        lhs = np.sum(got * v)
        rhs = np.sum(g * np.broadcast_to(v, g_shape))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-5)
    else:
        np.testing.assert_allclose(got, np.broadcast_to(g, x_shape))
    same = rng.normal(size=x_shape)
    assert unbroadcast(same, x) is same  # nothing to do, nothing copied
