"""A shared check: a compiled gradient equals central finite differences in float64."""

import inspect

import numpy as np
from conftest import numeric_grad

from adcompiler import grad


def check(f, *args, argnums=0, atol=1e-6):
    """Compile grad(f), compare each gradient with finite differences; return the source."""
    g = grad(f, argnums=argnums)
    got = g(*args)
    nums = (argnums,) if isinstance(argnums, int) else argnums
    gots = (got,) if isinstance(argnums, int) else got
    for k, d in zip(nums, gots):
        want = numeric_grad(f, list(args), k)
        assert np.shape(d) == np.shape(args[k])
        np.testing.assert_allclose(d, want, rtol=1e-6, atol=atol)
    return code_of(g)


def code_of(g):
    """The generated source without its source-map comments (`  # file.py:12`)."""
    return (
        "\n".join(line.split("  # ")[0] for line in inspect.getsource(g).splitlines())
        + "\n"
    )
