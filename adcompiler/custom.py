"""Custom derivative rules: for the user's own functions, and for functions
the compiler cannot read.

`@custom_vjp` marks a function whose derivative the user writes by hand
(a numerically stable `logsumexp`, a `softplus`); `@f.defvjp` gives the rule,
`def f_vjp(g, out, *args) -> tuple`: the upstream cotangent `g` (the shape of
`out`), the primal result `out`, the primal arguments, and one cotangent per
argument, each with its argument's shape. Where a differentiated function
calls `f`, the forward sweep runs `f`'s own body (inlined, as for any helper)
and the backward sweep runs the rule's body (inlined too): both appear in the
generated module, readable. Forward mode (jvp) differentiates `f`'s body.

`defvjp(fun, rule)` gives the same kind of rule to a function the compiler
cannot read (a ufunc of SciPy, a compiled function): the generated module
imports it (`from scipy.special import expit`, the one exception to "NumPy
only") and calls it; its backward runs the rule's body.

Each cotangent a rule returns is checked in the generated code against its
argument's shape, so a wrong rule raises a ValueError naming the rule, not a
wrong gradient.
"""

from __future__ import annotations

import functools
import importlib
import inspect

from .errors import ADCompileError


class custom_vjp:  # noqa: N801  (used as a decorator, like jax.custom_vjp)
    """A function with a hand-written vector-Jacobian product (see the module's doc)."""

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.rule = None
        self.prim: str | None = None

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def defvjp(self, rule):
        """Register `rule(g, out, *args) -> tuple of cotangents`; returns the rule."""
        _check_rule(self.fun, rule, _arity(self.fun))
        self.rule = rule
        self.prim = None  # defined on first use, by the compiler
        return rule

    @property
    def _adc_sources(self):
        """The functions whose text the cached gradient depends on."""
        return [self.fun] + ([self.rule] if self.rule is not None else [])


# Rules for functions the compiler cannot read: id(fun) -> (fun, rule, prim name).
FOREIGN: dict[int, tuple] = {}


def defvjp(fun, rule=None):
    """Give `fun`, a function adcompiler cannot read (e.g. `scipy.special.expit`),
    the rule `rule(g, out, *args) -> tuple of cotangents`. Usable as a decorator:
    `@defvjp(expit)` over `def expit_vjp(g, out, x): ...`."""
    if rule is None:
        return functools.partial(defvjp, fun)
    name = getattr(fun, "__name__", None)
    if not name or not name.isidentifier():
        raise ADCompileError(f"{fun!r} has no name to import it by")
    module = _public_module(fun, name)
    n = _arity_of_rule(rule)
    _check_rule(fun, rule, n)
    from .resolve import Signature, _register
    from .rules.core import ELEMENTWISE, OTHER, defprim

    prim = f"foreign_{module.replace('.', '_')}_{name}"
    params = tuple(f"x{i}" for i in range(n))
    vjps = [_rule_vjp(rule, prim, i, name) for i in range(n)]
    defprim(
        prim,
        ("foreign", module, name),
        *vjps,
        shape=ELEMENTWISE if n == 1 else OTHER,
        doc=f"{module}.{name}, with the rule {rule.__qualname__}",
    )
    _register(fun, Signature(prim, params))
    FOREIGN[id(fun)] = (fun, rule, prim)
    return rule


def _public_module(fun, name: str) -> str:
    """`scipy.special` for `scipy.special._ufuncs`: the shortest module that exports `fun`."""
    module = getattr(fun, "__module__", None)
    candidates = []
    if module:
        parts = module.split(".")
        candidates = [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
        candidates = [c for c in candidates if not c.split(".")[-1].startswith("_")]
        candidates.append(module)
    else:  # a ufunc: search the modules already imported
        import sys

        for modname, mod in sorted(sys.modules.items(), key=lambda kv: len(kv[0])):
            if mod is not None and not any(
                p.startswith("_") for p in modname.split(".")
            ):
                if getattr(mod, name, None) is fun:
                    candidates.append(modname)
    for c in candidates:
        try:
            if getattr(importlib.import_module(c), name, None) is fun:
                return c
        except ImportError:
            continue
    raise ADCompileError(
        f"cannot find a module that exports {name}; the generated code must import it"
    )


def _arity(fun) -> int:
    code = getattr(fun, "__code__", None)
    return code.co_argcount if code else 1


def _arity_of_rule(rule) -> int:
    code = getattr(rule, "__code__", None)
    if code is None or code.co_argcount < 3:
        raise ADCompileError(
            f"a vjp rule takes (g, out, *args): {getattr(rule, '__qualname__', rule)} "
            "does not"
        )
    return code.co_argcount - 2


def _check_rule(fun, rule, n: int) -> None:
    if getattr(rule, "__name__", "") == "<lambda>":
        raise ADCompileError(
            f"the rule for {getattr(fun, '__name__', fun)} is a lambda; define it with "
            "`def` (its code is written into the generated module)"
        )
    code = getattr(rule, "__code__", None)
    if code is None or code.co_argcount != n + 2:
        raise ADCompileError(
            f"the vjp rule {getattr(rule, '__qualname__', rule)} must take (g, out) and "
            f"the {n} arguments of {getattr(fun, '__name__', fun)}"
        )


# -- lowering a rule into the backward sweep ---------------------------------------------


def _rule_vjp(rule, prim: str, i: int, fname: str, skip: int = 0):
    """The emitter-level VJP of argument `i`: the rule's body, lowered once per call
    site (`skip` leading arguments are not the function's: the marker's inner value)."""

    def vjp(e, g, out, *args, **kwargs):
        memo = e.__dict__.setdefault("_custom_rules", {})
        key = (out.name, prim)
        if key not in memo:
            memo[key] = lower_rule(e, rule, g, out, args[skip:], fname)
        return memo[key][i]

    return vjp


def lower_rule(e, rule, g, out, args, fname: str) -> tuple:
    """The rule's body, lowered into the emitter `e` with its parameters bound to
    `(g, out, *args)`; one checked cotangent per argument."""
    from .frontend import FunctionExit, Lowering, read_source
    from .frontend.exits import _return_arity
    from .ir import Const

    src = read_source(rule)
    low = Lowering(src)
    low.e = e
    low.names = e.names
    e.names.taken |= {
        n.id for n in __import__("ast").walk(src.tree) if hasattr(n, "id")
    }
    params = low.params
    low.env = dict(zip(params, (g, out, *args)))
    low.defined = set(e.names.taken)
    low.arity = _return_arity(low, src.tree)
    body = list(src.tree.body)
    if inspect.getdoc(rule) is not None and src.tree.body:
        first = src.tree.body[0]
        if hasattr(first, "value") and isinstance(
            getattr(first.value, "value", None), str
        ):
            body = body[1:]
    results = low.lower_seq(body, FunctionExit(low, src.tree))
    if len(results) == 1 and len(args) > 1:
        (only,) = results
        if only in low.tuples.values() or (
            hasattr(only, "name") and only.name in low.tuples
        ):
            results = low.tuples[only.name]
    if len(results) != len(args):
        raise ADCompileError(
            f"the vjp rule {rule.__qualname__} returns {len(results)} cotangents; "
            f"{fname} takes {len(args)} arguments",
            src.loc(src.tree),
        )
    checked = []
    for c, a, p in zip(results, args, params[2:]):
        e.call("check_cotangent", c, a, Const(rule.__qualname__), Const(p))
        checked.append(c)
    return tuple(checked)


def custom_primitive(fn: custom_vjp) -> str:
    """The primitive that marks a call to `fn`: `y = out` in the forward sweep,
    the rule in the backward sweep."""
    if fn.prim is not None:
        return fn.prim
    from .rules.core import PRIMS, defprim

    base = f"custom_{fn.__name__}"
    name, k = base, 1
    while name in PRIMS:
        k += 1
        name = f"{base}_{k}"
    n = _arity(fn.fun)
    vjps = [_rule_vjp(fn.rule, name, i, fn.__name__, skip=1) for i in range(n)]
    prim = defprim(
        name,
        ("identity",),
        None,
        *vjps,
        infer=lambda s, out, inner, *args: s.union(out, inner),
        doc=f"{fn.__name__}, with the rule {fn.rule.__qualname__}",
    )
    # forward mode differentiates the function's own body
    prim.jvp = lambda e, t, out, inner, *args: t[0]
    fn.prim = name
    return name
