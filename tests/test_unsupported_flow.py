"""Constructs still out of reach raise ADCompileError naming file:line:col."""

import numpy as np
import pytest

from adcompiler import ADCompileError, grad

X = np.array([0.5, -0.2, 0.3])


def while_else(x):
    while np.sum(x) < 10:
        x = x * 2
    else:
        x = x + 1
    return np.sum(x)


def star_helper(*vs):
    return vs[0]


def calls_star(x):
    return np.sum(star_helper(x))


def attr_in_loop(layers, x):
    for layer in layers:
        x = layer.W @ x
    return np.sum(x)


def comprehension(x):
    return np.sum({v * 2 for v in x})


def after_return(x):
    return np.sum(x)
    x = x + 1


def no_return(x):
    if np.sum(x) > 0:
        return np.sum(x)


@pytest.mark.parametrize(
    "f, args, message",
    [
        (while_else, (X,), r"test_unsupported_flow.py:15:\d+: `else` on a loop"),
        (calls_star, (X,), r"test_unsupported_flow.py:24:\d+: .*\*args"),
        (attr_in_loop, ([], X), r"test_unsupported_flow.py:29:\d+: the attribute `.W`"),
        (comprehension, (X,), r"test_unsupported_flow.py:34:\d+: a set comprehension"),
        (after_return, (X,), r"test_unsupported_flow.py:39:\d+: code after `return`"),
        (no_return, (X,), r"test_unsupported_flow.py:4\d:\d+: .*without returning"),
    ],
)
def test_reported_with_location(out_dir, f, args, message):
    with pytest.raises(ADCompileError, match=message):
        grad(f)(*args)
