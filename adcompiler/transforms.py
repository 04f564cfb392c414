"""The rest of the JAX family, built on generated modules: vjp, jvp, jacrev,
jacfwd, jacobian, hessian, hvp.

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
            x = np.asarray(args[i])  # the generated code checks that it is float
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


def _differentiable(x) -> bool:
    """A float (or container of them): integer, boolean and None arguments are not differentiated."""
    if x is None or isinstance(x, (bool, int, np.integer, np.bool_)):
        return False
    kind = getattr(getattr(x, "dtype", None), "kind", "f")
    return kind not in "biuO"


def vjp(fun, *primals, has_aux: bool = False):
    """`(fun(*primals), vjp_fn)`, as `jax.vjp`: the forward sweep runs once, and
    `vjp_fn(cotangent)` runs the backward sweep, as often as asked.

    The cotangent has the output's shape (a tuple of them for a tuple-valued
    `fun`); `vjp_fn` returns one cotangent per primal: None for an argument that
    is not differentiated (an int size, a flag, an integer array). Where every
    argument is differentiated, `vjp_fn` is the generated `backward` itself.
    With `has_aux=True`, `fun` returns `(out, aux)` and vjp returns
    `(out, vjp_fn, aux)`.
    """
    nums = tuple(i for i, x in enumerate(primals) if _differentiable(x))
    if not nums:
        raise TypeError(
            f"vjp of {getattr(fun, '__qualname__', fun)}: no argument is a floating-point "
            "array or number"
        )
    out, backward, *aux = compiled(fun, "vjp", nums, has_aux=has_aux)(*primals)
    vjp_fn = backward
    if len(nums) != len(primals):

        def vjp_fn(cotangent):
            grads = dict(zip(nums, backward(cotangent)))
            return tuple(grads.get(i) for i in range(len(primals)))

    return (out, vjp_fn, *aux)


def _params(fun) -> list[str]:
    code = getattr(inspect.unwrap(fun), "__code__", None)
    if code is not None:
        return list(code.co_varnames[: code.co_argcount])
    from .frontend import read_source

    src = read_source(fun)
    return [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args]


def jacrev(fun, argnums=0):
    """The Jacobian of `fun` by reverse mode, shape `out.shape + in.shape` (as `jax.jacrev`).

    One forward sweep, then one backward sweep per output entry, each seeded
    with a basis cotangent. A tuple-valued `fun` gives a tuple of Jacobians,
    one per output.
    """

    def jacobian_fn(*args):
        nums = _normalize_argnums(fun, _params(fun), argnums)
        out, backward = compiled(fun, "vjp", nums)(*args)
        several = isinstance(out, tuple)
        outs = [np.asarray(o) for o in (out if several else (out,))]
        jacobians = []
        for k, o in enumerate(outs):
            rows = []
            for j in range(o.size):
                basis = np.zeros(o.size, dtype=np.result_type(o, float))
                basis[j] = 1
                cts = [
                    basis.reshape(o.shape) if m == k else np.zeros_like(q, dtype=float)
                    for m, q in enumerate(outs)
                ]
                rows.append(backward(tuple(cts) if several else cts[0]))
            per_arg = []
            for n, i in enumerate(nums):
                shape = np.shape(args[i])
                if rows:
                    stacked = np.stack([np.asarray(r[n]) for r in rows])
                else:
                    stacked = np.zeros((0,) + shape)
                per_arg.append(stacked.reshape(o.shape + shape))
            jacobians.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        return tuple(jacobians) if several else jacobians[0]

    return jacobian_fn


jacobian = jacrev
jacobian.__doc__ = jacrev.__doc__


def hessian(fun, argnums=0):
    """The Hessian of a scalar `fun`, shape `in.shape + in.shape`: `jacfwd(grad(fun))`.

    Forward-over-reverse: the generated gradient is itself compiled again, in
    forward mode, and run once per input direction. Each pass costs about one
    gradient; no tape of tapes is kept, as reverse-over-reverse would need.
    """
    from .api import grad

    if not isinstance(argnums, int):
        raise ADCompileError("hessian takes one argument number (an int argnums)")
    return jacfwd(grad(fun, argnums=argnums), argnums=argnums)


def hvp(fun, primals, tangents):
    """The Hessian-vector product `H·v` of a scalar `fun`: `jvp(grad(fun), primals, tangents)`.

    `primals` and `tangents` are tuples as for `jvp` (a lone array stands for a
    1-tuple); a tangent of None marks an argument that is not differentiated.
    Returns `H·v` with the shape of the (single) differentiated argument, or a
    tuple of them.
    """
    from .api import grad

    single = not isinstance(primals, (tuple, list))
    primals = (primals,) if single else tuple(primals)
    tangents = (tangents,) if single else tuple(tangents)
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    g = grad(fun, argnums=nums[0] if len(nums) == 1 else nums)
    return jvp(g, primals, tangents)[1]
