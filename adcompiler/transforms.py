"""The rest of the JAX family, built on generated modules: jvp, jacfwd.

Each transform compiles one generated module (cached like `grad`'s) and
wraps it only as far as the calling convention needs.
"""

from __future__ import annotations

import numpy as np

from . import cache
from .api import COMPILED, Compiled, _module_stem, _normalize_argnums
from .errors import ADCompileError


def _compiled_jvp(fn, argnums: tuple[int, ...] | None = None):
    """The generated `jvp_<name>(*primals, *tangents)` for the given differentiated arguments."""
    from .frontend import read_source

    src = read_source(fn)
    params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args]
    nums = tuple(range(len(params))) if argnums is None else argnums
    wrt = [params[i] for i in nums]
    gen_name = f"jvp_{src.tree.name}"
    origin = f"{cache.display_path(src.file)}:{src.first_line} {fn.__qualname__}"
    origin_hash = cache.sha256(f"jvp argnums={nums}\n{src.text}")
    path = (
        cache.output_dir(src.file, None)
        / f"{_module_stem(fn, src.file, 'jvp', wrt)}.py"
    )
    found = cache.status(path, origin_hash)
    COMPILED.append(Compiled(origin, gen_name, path, found))
    if found != "fresh":
        from . import codegen
        from .autodiff.forward import forward
        from .frontend import Lowering

        lowering = Lowering(src)
        ir = forward(lowering.lower(), nums, gen_name, lowering.names)
        n = len(ir.body.results) // 2
        ir.result_tree = (0, n) if n == 1 else (tuple(range(n)), tuple(range(n, 2 * n)))
        where = f"{cache.display_path(src.file)}:{src.first_line}"
        doc = (
            f"`{src.tree.name}` and its directional derivative along "
            f"({', '.join(p + '_dot' for p in wrt)}). Generated from {where}."
        )
        cache.write_atomic(
            path, cache.render(codegen.module_source([(ir, doc)]), origin, origin_hash)
        )
    return cache.load(path, gen_name), nums, len(params)


def jvp(fun, primals, tangents):
    """`(fun(*primals), J·tangents)`, by forward mode, as `jax.jvp`.

    `tangents` has one entry per primal with the primal's shape; an entry of
    None marks an argument that is not differentiated (an int size, a flag).
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals and {len(tangents)} tangents")
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    for i in nums:
        if np.shape(tangents[i]) != np.shape(primals[i]):
            raise ValueError(
                f"tangent {i} has shape {np.shape(tangents[i])}, its primal {np.shape(primals[i])}"
            )
    generated, _, _ = _compiled_jvp(fun, nums)
    return generated(*primals, *(tangents[i] for i in nums))


def jacfwd(fun, argnums=0):
    """The Jacobian of `fun` by forward mode, shape `out.shape + in.shape` (as `jax.jacfwd`)."""

    def jacobian_fn(*args):
        from .frontend import read_source

        src = read_source(fun)
        params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args]
        nums = _normalize_argnums(fun, params, argnums)
        generated, _, _ = _compiled_jvp(fun, nums)
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
