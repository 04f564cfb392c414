"""The rest of the JAX family, built on generated modules: jvp, jacfwd.

Each transform compiles one generated module (cached like `grad`'s) and
wraps it only as far as the calling convention needs.
"""

from __future__ import annotations

import inspect

import numpy as np

from .api import _normalize_argnums, compiled
from .errors import ADCompileError


def _compiled_jvp(fn, argnums: tuple[int, ...]):
    """The generated `jvp_<name>(*primals, *tangents)` for the given differentiated arguments."""
    return compiled(fn, "jvp", argnums)


def _with_defaults(fun, args: tuple) -> tuple:
    """`args` followed by the defaults of the parameters they leave out.

    The generated jvp takes the tangents after all the primals, so the
    primals' defaults cannot stay in its signature: they are filled in here.
    """
    defaults = getattr(inspect.unwrap(fun), "__defaults__", None) or ()
    code = getattr(inspect.unwrap(fun), "__code__", None)
    if code is None or not defaults or len(args) >= code.co_argcount:
        return args
    first = code.co_argcount - len(defaults)  # the first parameter with a default
    if len(args) < first:
        return args  # too few arguments: the generated function says which
    return args + defaults[len(args) - first :]


def jvp(fun, primals, tangents):
    """`(fun(*primals), J·tangents)`, by forward mode, as `jax.jvp`.

    `tangents` has one entry per primal with the primal's shape; an entry of
    None marks an argument that is not differentiated (an int size, a flag).
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals and {len(tangents)} tangents")
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    primals = _with_defaults(fun, primals)
    for i in nums:
        if np.shape(tangents[i]) != np.shape(primals[i]):
            raise ValueError(
                f"tangent {i} has shape {np.shape(tangents[i])}, its primal {np.shape(primals[i])}"
            )
    generated = _compiled_jvp(fun, nums)
    return generated(*primals, *(tangents[i] for i in nums))


def jacfwd(fun, argnums=0):
    """The Jacobian of `fun` by forward mode, shape `out.shape + in.shape` (as `jax.jacfwd`)."""

    def jacobian_fn(*args):
        from .frontend import read_source

        args = _with_defaults(fun, args)

        src = read_source(fun)
        params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args]
        nums = _normalize_argnums(fun, params, argnums)
        generated = _compiled_jvp(fun, nums)
        jacobians = []
        for i in nums:
            x = np.asarray(args[i])
            if not np.issubdtype(x.dtype, np.floating):
                raise ADCompileError(
                    f"argument {i} of {fun.__qualname__} has dtype {x.dtype}; "
                    "only floating-point inputs have a Jacobian"
                )
            columns = []
            for k in range(x.size):
                basis = np.zeros(x.size, dtype=x.dtype)
                basis[k] = 1
                tangents = [
                    (
                        basis.reshape(x.shape)
                        if j == i
                        else np.zeros_like(np.asarray(args[j]))
                    )
                    for j in nums
                ]
                _, t_out = generated(*args, *tangents)
                columns.append(np.asarray(t_out))
            out_shape = columns[0].shape if columns else ()
            stacked = (
                np.stack(columns, axis=-1) if columns else np.zeros(out_shape + (0,))
            )
            jacobians.append(stacked.reshape(out_shape + x.shape))
        return jacobians[0] if isinstance(argnums, int) else tuple(jacobians)

    return jacobian_fn
