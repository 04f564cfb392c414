# adcompiler: 0.1.0
# origin: examples/seed_nn.py:13 score
# origin-hash: 444b6a68c21e900e2c333adb6c4574af
# body-hash: 53666f27df528c67f67131b4e2d54c7d
import numpy as np

_FLOAT64 = np.dtype("float64")
_NDARRAY = np.ndarray


def _check_examples(function, args, examples):
    """Raise TypeError unless each argument is like the example the gradient of
    `function` was compiled for: a Python float ("float"), or a NumPy array of
    the example's (shape, dtype)."""
    for name, x in args.items():
        want = examples[name]
        if want == "float":
            if type(x) is float:
                continue
            expected = "a Python float"
        else:
            shape, dtype = want
            if type(x) is np.ndarray and x.shape == shape and x.dtype == dtype:
                continue
            expected = f"a {dtype} array of shape {shape}"
        if type(x) is np.ndarray:
            got = f"a {x.dtype} array of shape {x.shape}"
        else:
            got = f"{type(x).__name__} {x!r:.40}"
        raise TypeError(
            f"this gradient of {function} was compiled for example arguments: "
            f"`{name}` must be {expected}, got {got}. Compile one for these "
            "arguments (example_args=...), or a generic one (no example_args)"
        )


def grad_score(W, x, b, u):  # seed_nn.py:13
    """Gradient of `score` with respect to W, b. Generated from examples/seed_nn.py:13."""
    if (  # seed_nn.py:13
        type(W) is not _NDARRAY
        or W.shape != (3, 3)
        or W.dtype is not _FLOAT64
        or type(x) is not _NDARRAY
        or x.shape != (3,)
        or x.dtype is not _FLOAT64
        or type(b) is not _NDARRAY
        or b.shape != (3,)
        or b.dtype is not _FLOAT64
        or type(u) is not _NDARRAY
        or u.shape != (3,)
        or u.dtype is not _FLOAT64
    ):
        _check_examples(
            "score",
            {"W": W, "x": x, "b": b, "u": u},
            {
                "W": ((3, 3), "float64"),
                "x": ((3,), "float64"),
                "b": ((3,), "float64"),
                "u": ((3,), "float64"),
            },
        )
    z = W.dot(x) + b  # seed_nn.py:14
    h = np.tanh(z)  # seed_nn.py:15
    d_z = u * (1.0 - h * h)  # seed_nn.py:15
    d_W = d_z[:, None] * x  # seed_nn.py:14
    d_b = d_z  # seed_nn.py:15
    return d_W, d_b  # seed_nn.py:16
