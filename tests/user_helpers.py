"""Helpers the tests' differentiated functions import (a user's own module)."""

import numpy as np


def affine(W, x, b):
    return W @ x + b


def layer(W, x, b, act=True):
    z = affine(W, x, b)
    if act:
        return np.tanh(z)
    return z
