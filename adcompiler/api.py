"""The transforms users call: source → cached generated function.

`grad(f)` reads `f`'s source, compiles its gradient into a module in the
generated folder (or finds it there, fresh), imports it, and returns the
generated function itself: `inspect.getsource(grad(f))` shows its code.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import cache
from .errors import ADCompileError

# Every compilation in this process, for `adc compile` to report.
COMPILED: list[Compiled] = []


@dataclass
class Compiled:
    origin: str
    function: str
    path: Path
    status: str  # what the cache found: 'fresh', 'missing', 'stale' or 'edited'


def _normalize_argnums(fn, params: list[str], argnums) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in nums
    ):
        raise ADCompileError(
            f"argnums must be an int or a tuple of ints, got {argnums!r}"
        )
    out = []
    for i in nums:
        j = i + len(params) if i < 0 else i
        if not 0 <= j < len(params):
            raise ADCompileError(
                f"argnums {argnums!r} is out of range for {fn.__qualname__}, "
                f"which takes {len(params)} positional arguments"
            )
        out.append(j)
    if len(set(out)) != len(out):
        raise ADCompileError(f"argnums {argnums!r} names an argument twice")
    return tuple(out)


def _module_stem(fn, file: str, kind: str, wrt: list[str]) -> str:
    """`seed_nn__grad_score__W_b`: origin file, transform, function, differentiated parameters."""
    qual = fn.__qualname__.replace(".<locals>", "")
    stem = f"{Path(file).stem}__{kind}_{qual}__{'_'.join(wrt)}"
    return re.sub(r"[^0-9A-Za-z_]", "_", stem)


def _transform(fn, kind: str, argnums, out, with_value: bool):
    from .frontend import bind_constants, dependency_text, read_source

    src = read_source(fn)
    params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args]
    nums = _normalize_argnums(fn, params, argnums)
    wrt = [params[i] for i in nums]
    gen_name = f"{kind}_{src.tree.name}"
    origin = f"{cache.display_path(src.file)}:{src.first_line} {fn.__qualname__}"
    origin_hash = cache.sha256(
        f"{kind} argnums={nums}\n{src.text}{dependency_text(fn)}"
    )
    path = (
        cache.output_dir(src.file, out) / f"{_module_stem(fn, src.file, kind, wrt)}.py"
    )
    found = cache.status(path, origin_hash)
    COMPILED.append(Compiled(origin, gen_name, path, found))
    if found != "fresh":
        text = _generate(src, nums, wrt, gen_name, with_value, isinstance(argnums, int))
        cache.write_atomic(path, cache.render(text, origin, origin_hash))
    return bind_constants(cache.load(path, gen_name), fn)


def _generate(src, nums, wrt, gen_name, with_value, single) -> str:
    from . import codegen
    from .autodiff.reverse import reverse
    from .frontend import Lowering

    lowering = Lowering(src)
    fn_ir = lowering.lower()
    adj = reverse(fn_ir, nums, with_value, gen_name, lowering.names)
    n = len(nums)
    grads = 0 if single else tuple(range(n))
    if with_value:
        adj.result_tree = (0, grads + 1 if single else tuple(i + 1 for i in range(n)))
    else:
        adj.result_tree = grads
    what = "Value and gradient" if with_value else "Gradient"
    origin = f"{cache.display_path(src.file)}:{src.first_line}"
    doc = f"{what} of `{src.tree.name}` with respect to {', '.join(wrt)}. Generated from {origin}."
    return codegen.module_source([(adj, doc)])


def _decorator(kind: str, with_value: bool):
    def transform(fun=None, argnums=0, *, out: str | os.PathLike | None = None):
        if fun is None:
            return functools.partial(transform, argnums=argnums, out=out)
        if not callable(fun):
            raise TypeError(f"{kind} expects a function, got {type(fun).__name__}")
        try:
            return _transform(fun, kind, argnums, out, with_value)
        except ADCompileError:
            raise
        except RecursionError as exc:
            raise ADCompileError(
                f"{fun.__qualname__} is too deeply nested to compile"
            ) from exc

    transform.__name__ = transform.__qualname__ = kind
    return transform


grad = _decorator("grad", with_value=False)
grad.__doc__ = """The gradient of a scalar-valued function, as a generated NumPy function.

    `grad(f)` or `@grad`: the gradient with respect to the first argument.
    `grad(f, argnums=(0, 2))` or `@grad(argnums=(0, 2))`: a tuple of gradients.
    Each gradient has its parameter's shape and dtype. `out` chooses the folder
    for the generated module (see `cache.output_dir` for the default).
    """

value_and_grad = _decorator("value_and_grad", with_value=True)
value_and_grad.__doc__ = (
    """Like `grad`, but the generated function returns `(value, gradient)`."""
)
