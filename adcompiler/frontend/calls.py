"""Calls → IR: NumPy functions and methods through resolve's signatures,
builtins, user functions (inlined), custom primitives, lists and tuples.
"""

from __future__ import annotations

import ast
import builtins
from numbers import Number

from .. import comprehensions, resolve
from ..ir import Atom, Const, Var
from .exits import FallThrough, FunctionExit, _return_arity
from .numpy_calls import _PAIRS
from .readback import _per_argument_float_tests
from .scope import _DYNAMIC, _container_params, _is_ufunc, _is_user_function, _scope_of
from .source import Source, read_source

# Calls whose options `checked_call` checks before the rules see them.
_CHECKED = {
    "pad",
    "median",
    "quantile",
    "percentile",
    "maximum_accumulate",
    "minimum_accumulate",
}


def _einsum_spec(node: ast.Call, args, kwargs, error) -> str:
    """The subscripts of `np.einsum("ij,jk->ik", a, b)` with the output written out
    (`"ij,jk"` means `"ij,jk->ik"`: the letters met once, sorted). The adjoint
    of each operand is an einsum too, which needs every operand's letters
    distinct."""
    if kwargs:
        raise error("`np.einsum` takes no keyword arguments here", node)
    spec = args[0].value if args and isinstance(args[0], Const) else None
    if not isinstance(spec, str):
        raise error("`np.einsum` needs its subscripts as a string constant", node)
    spec = spec.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    subscripts = inputs.split(",")
    if not arrow:  # `...` first, then the letters met once, sorted (as NumPy does)
        letters = "".join(subscripts).replace("...", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        output = ("..." if "..." in inputs else "") + output
    if len(subscripts) > 32:
        raise error("`np.einsum` of more than 32 operands is not supported", node)
    if len(subscripts) != len(args) - 1:
        raise error(
            f"`np.einsum` subscripts name {len(subscripts)} operands, "
            f"the call passes {len(args) - 1}",
            node,
        )
    for part in subscripts + [output]:
        part = part.replace("...", "", 1)  # the broadcast axes, at most once
        if part and not part.isalpha():
            raise error(f"`np.einsum` subscripts `{part}` are not letters", node)
        if len(set(part)) != len(part):
            raise error(
                f"`np.einsum` subscripts `{part}` repeat a letter (a diagonal or a "
                "trace), which is not supported yet",
                node,
            )
    if set(output) - set(inputs) or "..." in output and "..." not in inputs:
        raise error(
            f"`np.einsum` output `{output}` names a letter no operand has", node
        )
    return f"{','.join(subscripts)}->{output}"


class Calls:
    """Lowering of calls (a part of `Lowering`): NumPy functions and methods,
    builtins, user functions (inlined), custom primitives, lists and tuples."""

    def call(self, node: ast.Call) -> Atom:
        loc = self.src.loc(node)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.unsupported(arg)
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error("`**` arguments are not supported", kw.value)
        func = node.func
        like = self.zeros_like(node)
        if like is not None:
            return self.e.call("zeros_like", self.read(like, node), loc=loc)
        if (
            isinstance(func, ast.Name)
            and func.id in self.local_defs
            and func.id not in self.env
        ):
            tree = self.local_defs[func.id]
            src = Source(
                self.src.fn,
                self.src.file,
                self.src.first_line,
                self.src.indent,
                self.src.lines,
                tree,
                self.src.text,
            )
            return self.inline(
                node, src, self.scope, dict(self.env), ("local", id(tree)), None
            )
        if isinstance(func, ast.Attribute):
            owner = self.static_value(func.value)
            sig = None
            if _is_ufunc(owner):
                sig = resolve.UFUNC_METHODS.get((owner, func.attr))
            if sig is not None:
                args, kwargs = self.arguments(sig, node)
                if sig.prim in _CHECKED:
                    return self.checked_call(sig, args, kwargs, node)
                return self.apply(sig, args, kwargs, node)
            if owner is _DYNAMIC:
                return self.method_call(node, func)
        if isinstance(func, ast.Lambda):
            raise self.unsupported(func)
        callee = self.static_value(func)
        if callee is _DYNAMIC:
            raise self.error(
                f"calling `{ast.unparse(func)}`, which is a value, not a function", func
            )
        if getattr(callee, "defvjp", None) is not None and hasattr(callee, "rule"):
            return self.custom_call(node, callee)
        if callee is builtins.list or callee is builtins.tuple:
            return self.list_call(node, callee.__name__)
        seq = resolve.SEQUENCE_FUNCTIONS.get(id(callee))
        if seq is not None and seq[1] is callee:
            return self.sequence_call(seq[0], node)
        sig = resolve.lookup(callee) or resolve.lookup_generated(callee)
        if sig is None and _is_user_function(callee):
            src = read_source(callee)
            return self.inline(
                node, src, _scope_of(callee), {}, callee.__code__, callee
            )
        if sig is None:
            name = ast.unparse(func)
            raise self.error(
                f"call to `{name}`, which adcompiler has no derivative rule for",
                node,
                "use a NumPy function from the rule table (see the README)",
            )
        into = next((kw.value for kw in node.keywords if kw.arg == "out"), None)
        if into is not None:
            return self.call_into(node, sig, into)
        if sig.prim == "select_lists":
            return self.select_lists(node)
        if sig.prim == "polyval":
            return self.polyval(node)
        if sig.prim == "tensordot":
            return self.tensordot(node)
        if sig.prim in ("matmul_lhs", "matmul_rhs") and len(node.args) == 3:
            # generated code's `_matmul_lhs(g, b, a)`: the product summed to the
            # shape of `a`, the two steps that each have their rules
            g, b, like = (self.expr(x) for x in node.args)
            product = self.e.call(sig.prim, g, b, loc=loc)
            return self.e.call("unbroadcast", product, like, loc=loc)
        args, kwargs = self.arguments(sig, node)
        if sig.prim == "arange" and not kwargs and 1 <= len(args) <= 3:
            return self.e.call("arange", *args, loc=self.src.loc(node))
        if sig.prim == "svd":
            return self.svd(sig, args, kwargs, node)
        if sig.prim == "qr":
            return self.qr(sig, args, kwargs, node)
        if sig.prim in _PAIRS:
            return self.pair(sig, args, kwargs, node)
        if sig.prim == "matrix_power":
            return self.matrix_power(sig, args, kwargs, node)
        if sig.prim == "diff":
            return self.diff(sig, args, kwargs, node)
        if sig.prim == "take":
            return self.take(sig, args, kwargs, node)
        if sig.prim == "average":
            return self.average(sig, args, kwargs, node)
        if sig.prim == "interp":
            return self.interp(sig, args, kwargs, node)
        if sig.prim in ("convolve", "correlate"):
            default = Const(sig.keywords["mode"])
            mode = kwargs.get("mode", args[2] if len(args) > 2 else default)
            if getattr(mode, "value", None) not in ("full", "same", "valid"):
                raise self.error(
                    f"`mode` of `{ast.unparse(node.func)}` must be 'full', 'same' "
                    "or 'valid', as a constant",
                    node,
                )
        if sig.prim in ("split", "array_split"):
            return self.split(sig, args, kwargs, node)
        if sig.prim in ("ptp", "nansum", "nanmean"):
            return self.reduction(sig, args, kwargs, node)
        if sig.prim in _CHECKED:
            return self.checked_call(sig, args, kwargs, node)
        if sig.prim == "vdot":
            if kwargs or len(args) != 2:
                raise self.error("`np.vdot` takes two arrays, by position", node)
            flat = [self.e.call("ravel", a, loc=loc) for a in args]
            return self.e.call("dot", *flat, loc=loc)
        if sig.prim == "einsum":
            spec = _einsum_spec(node, args, kwargs, self.error)
            return self.e.call("einsum", Const(spec), *args[1:], loc=self.src.loc(node))
        if sig.prim == "slice":  # slice(stop), slice(start, stop[, step])
            if kwargs or not 1 <= len(args) <= 3:
                raise self.error("`slice` takes one to three plain arguments", node)
            bounds = [Const(None), *args] if len(args) == 1 else list(args)
            bounds += [Const(None)] * (3 - len(bounds))
            return self.e.call("slice", *bounds, loc=loc)
        if sig.variadic:
            if kwargs or len(args) < 2:
                raise self.error(
                    f"`{ast.unparse(func)}` needs two or more plain arguments", node
                )
            result = args[0]
            for a in args[1:]:
                result = self.e.call(sig.prim, result, a, loc=loc)
            if all(self.is_int(a) for a in args):
                self.mark_int(result)
            return result
        out = self.apply(sig, args, kwargs, node)
        if sig.prim in resolve.LIST_HELPERS and isinstance(out, Var):
            self.lists.add(out.name)
        if sig.prim in ("len", "int"):
            self.mark_int(out)
        elif sig.prim == "shape":
            self.shape_values.add(out.name)
        return out

    def zeros_like(self, node: ast.Call) -> str | None:
        """`x` in generated code's `np.zeros(x.shape, x.dtype)`, which codegen
        writes for np.zeros_like(x) (codegen/expressions.py); else None."""
        import numpy as np

        if not (
            resolve.is_generated(self.fn)
            and len(node.args) == 2
            and not node.keywords
            and self.static_value(node.func) is np.zeros
        ):
            return None
        shape, dtype = node.args
        if (
            isinstance(shape, ast.Attribute)
            and isinstance(dtype, ast.Attribute)
            and (shape.attr, dtype.attr) == ("shape", "dtype")
            and isinstance(shape.value, ast.Name)
            and isinstance(dtype.value, ast.Name)
            and shape.value.id == dtype.value.id
        ):
            return shape.value.id
        return None

    def bind_call(self, sig, args, kwargs, node: ast.Call) -> dict:
        """The arguments of a call lowered here, by parameter name (with defaults)."""
        name = ast.unparse(node.func)
        if len(args) > len(sig.positional):
            raise self.error(f"too many arguments for `{name}`", node)
        bound = {**sig.keywords, **dict(zip(sig.positional, args))}
        given = dict(zip(sig.positional, args))
        for key, value in kwargs.items():
            if key not in sig.positional or key in given:
                raise self.error(
                    f"`{name}` does not take the argument `{key}` here", node
                )
            bound[key] = value
        return bound

    def list_of(self, parts, loc) -> Atom:
        """A list of the parts, whose entries a constant index reads statically."""
        xs = self.e.call("new_list", loc=loc)
        for p in parts:
            xs = self.e.call("append", xs, p, loc=loc)
        self.lists.add(xs.name)
        self.tuples[xs.name] = tuple(parts)
        return xs

    def checked_call(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """np.pad, np.median/np.quantile/np.percentile and np.maximum.accumulate
        (np.minimum's), whose options the rules need in a form they handle: the
        constant mode of np.pad, one constant quantile, an integer axis."""
        name = ast.unparse(node.func)
        bound = {**dict(zip(sig.positional, args)), **kwargs}  # apply checks them

        def value(key, default=None):
            v = bound.get(key, Const(default))
            return v.value if isinstance(v, Const) else v

        def integers(v) -> bool:
            if isinstance(v, tuple):
                return all(integers(u) for u in v)
            return type(v) is int and v >= 0

        if sig.prim == "pad":
            width = value("pad_width")
            if "pad_width" in bound and not integers(width):
                raise self.error(
                    f"`pad_width` of `{name}` must be a constant: an int, a pair "
                    "or a pair per axis, of counts 0 or more",
                    node,
                )
            if value("mode", "constant") != "constant":
                raise self.error(
                    f'`{name}` is supported with `mode="constant"` only', node
                )
            fill = value("constant_values", 0)
            if not isinstance(fill, (int, float, tuple)) or isinstance(fill, bool):
                raise self.error(
                    f"`constant_values` of `{name}` must be a constant number here "
                    "(the padding has no derivative)",
                    node,
                )
        if sig.prim in ("quantile", "percentile"):
            q = value("q")
            if "q" in bound and (
                isinstance(q, bool) or not isinstance(q, (int, float))
            ):
                raise self.error(
                    f"`q` of `{name}` must be one constant number here", node
                )
        axis = value("axis", 0 if sig.prim.endswith("accumulate") else None)
        if not (axis is None and not sig.prim.endswith("accumulate")) and (
            type(axis) is not int
        ):
            raise self.error(f"`axis` of `{name}` must be a constant integer", node)
        return self.apply(sig, args, kwargs, node)

    def call_into(self, node: ast.Call, sig, into: ast.expr) -> Atom:
        """`np.exp(t, out=t)`: the result, which the name `t` holds from then on.

        As with `t += x`, the name is rebound; where another name for the same
        array (`s = t` before) is read afterwards, inplace.py refuses it.
        Generated gradients write into arrays nothing else holds
        (passes/buffers.py), so theirs read back exactly.
        """
        from ..passes.buffers import ufunc_name

        if not isinstance(into, ast.Name) or ufunc_name(sig.prim) is None:
            raise self.error(
                f"`out=` in `{ast.unparse(node)}`: only a NumPy ufunc writing into "
                "a named array is supported",
                node,
                "assign the result instead: `t = np.exp(t)`",
            )
        old = self.read(into.id, into)
        args = [self.expr(a) for a in node.args]
        kwargs = {
            kw.arg: self.expr(kw.value) for kw in node.keywords if kw.arg != "out"
        }
        new = self.apply(sig, args, kwargs, node)
        self.updated(new, old, ast.unparse(node), into.id)
        self.bind(into.id, new)
        return self.env[into.id]

    def inline(self, node: ast.Call, src: Source, scope, env, key, callee) -> Atom:
        """A call to the user's own function: its body, lowered in place of the call."""
        name = src.tree.name
        if key in self.stack:
            raise self.error(
                f"`{name}` calls itself: recursive functions are not supported",
                node,
                "write the recursion as a loop",
            )
        args = src.tree.args
        if args.vararg or args.kwarg or args.kwonlyargs:
            raise self.error(
                f"`{name}` has `*args`, `**kwargs` or keyword-only parameters", node
            )
        params = [a.arg for a in args.posonlyargs + args.args]
        if len(node.args) > len(params):
            raise self.error(f"too many arguments for `{name}`", node)
        bound = {p: self.expr(a) for p, a in zip(params, node.args)}
        for kw in node.keywords:
            if kw.arg not in params or kw.arg in bound:
                raise self.error(
                    f"`{name}` does not take the argument `{kw.arg}` here", kw.value
                )
            bound[kw.arg] = self.expr(kw.value)
        defaults = dict(zip(params[len(params) - len(args.defaults) :], args.defaults))
        for p in params:
            if p in bound:
                continue
            if p not in defaults:
                raise self.error(f"missing argument `{p}` for `{name}`", node)
            if callee is not None:  # the value Python computed when the def ran
                k = params.index(p) - (len(params) - len(callee.__defaults__))
                value = callee.__defaults__[k]
                if isinstance(value, Number) or value is None:
                    bound[p] = Const(value)
                elif id(value) in self.constants:
                    bound[p] = Var(self.constants[id(value)])
                    self.used_constants[bound[p].name] = None
                else:
                    raise self.error(
                        f"the default of `{p}` is not a number or array", node
                    )
            else:
                bound[p] = self.expr(defaults[p])
        c = self.child(src, scope)
        c.env = {**env, **bound}
        for p in _container_params(src.tree, params):
            if isinstance(bound[p], Var) and bound[p].name not in self.dicts:
                self.containers.add(bound[p].name)
        c.local_defs = {k: v for k, v in self.local_defs.items() if k not in bound}
        c.stack = self.stack + (key,)
        c.arity = _return_arity(c, src.tree)
        body = list(src.tree.body)
        if ast.get_docstring(src.tree) is not None:
            body = body[1:]
        results = c.lower_seq(
            _per_argument_float_tests(body), FunctionExit(c, src.tree)
        )
        if len(results) == 1:
            return results[0]
        out = self.e.call("tuple", *results, loc=self.src.loc(node))
        self.tuples[out.name] = results
        return out

    def custom_call(self, node: ast.Call, callee) -> Atom:
        """A call to an `@adcompiler.custom_vjp` function: its body for the value, a
        marker whose backward is the user's rule (adcompiler/custom.py)."""
        from ..custom import custom_primitive

        fn = callee.fun
        if callee.rule is None:  # no rule yet: an ordinary helper
            return self.inline(
                node, read_source(fn), _scope_of(fn), {}, fn.__code__, fn
            )
        if node.keywords or len(node.args) != fn.__code__.co_argcount:
            raise self.error(
                f"call `{fn.__name__}` (a custom_vjp function) with all its "
                "arguments, by position",
                node,
            )
        args = [self.expr(a) for a in node.args]
        inner = self.inline(node, read_source(fn), _scope_of(fn), {}, fn.__code__, fn)
        prim = custom_primitive(callee)
        return self.e.call(prim, inner, *args, loc=self.src.loc(node))

    def list_call(self, node: ast.Call, name: str) -> Atom:
        """`list(...)` or `tuple(...)` of a generator expression, a comprehension,
        a list or a tuple: the list of the same entries (lists are values here,
        so a copy is the list itself; a tuple reads as a list does)."""
        if node.keywords or len(node.args) > 1:
            raise self.error(f"`{name}` takes one sequence here", node)
        loc = self.src.loc(node)
        if not node.args:  # an empty list, which appends may grow
            xs = self.e.call("new_list", loc=loc)
            self.lists.add(xs.name)
            return xs
        arg = node.args[0]
        if isinstance(arg, (ast.ListComp, ast.GeneratorExp)):
            return self.comprehension(arg)
        value = self.expr(arg)
        if isinstance(value, Var) and value.name in self.lists:
            return value
        if isinstance(value, Var) and value.name in self.tuples:
            return self.list_of(self.tuples[value.name], loc)
        if isinstance(value, Const) and isinstance(value.value, (tuple, list)):
            return self.list_of([Const(v) for v in value.value], loc)
        if isinstance(arg, ast.Name):  # an array's rows: `[row for row in x]`
            row = ast.Name("row", ast.Store())
            rows = ast.ListComp(
                ast.Name("row", ast.Load()),
                [ast.comprehension(row, arg, [], 0)],
            )
            return self.comprehension(
                ast.fix_missing_locations(ast.copy_location(rows, node))
            )
        raise self.error(
            f"`{name}` of `{ast.unparse(arg)}`: adcompiler takes `{name}` of a "
            "generator expression, a comprehension, a list, a tuple or an array "
            "named by a variable",
            node,
            f"name the array first: `rows = {ast.unparse(arg)}`, then `{name}(rows)`",
        )

    def sequence_call(self, kind: str, node: ast.Call) -> Atom:
        """np.stack / np.array / np.concatenate / sum of a sequence of arrays."""
        loc = self.src.loc(node)
        name = ast.unparse(node.func)
        if not node.args:
            raise self.error(f"`{name}` needs a sequence", node)
        allowed = {"axis"} if kind in ("stack", "concatenate") else set()
        kwargs = {}
        for kw in node.keywords:
            if kw.arg not in allowed:
                raise self.error(f"`{name}` does not take `{kw.arg}` here", node)
            kwargs[kw.arg] = self.expr(kw.value)
        if len(node.args) > 1:
            if kind == "sum" and len(node.args) == 2:
                start = self.expr(node.args[1])
            else:
                raise self.error(f"`{name}` takes one sequence here", node)
        else:
            start = Const(0)
        axis = kwargs.get("axis", Const(0))
        options = {} if axis == Const(0) else {"axis": axis}
        arg = node.args[0]
        if isinstance(arg, (ast.List, ast.Tuple)):
            parts = [self.expr(v) for v in arg.elts]
            if not parts:
                raise self.error(f"`{name}` of an empty sequence", node)
            if kind == "sum":
                result = start
                for p in parts:
                    result = self.e.call("add", result, p, loc=loc)
                return result
            return self.e.call(kind, *parts, loc=loc, **options)
        if isinstance(arg, ast.GeneratorExp) and kind != "sum":
            raise self.error(
                f"`{name}` takes a list, not a generator expression",
                arg,
                f"write a list comprehension: `{name}([...])`",
            )
        if isinstance(arg, (ast.ListComp, ast.GeneratorExp)):
            base = {"sum": "terms", "stack": "rows", "concatenate": "parts"}[kind]
            seq = self.comprehension(arg, base=base)
        else:
            seq = self.expr(arg)
        if isinstance(seq, Var) and seq.name in self.lists:
            if kind == "sum":
                total = self.e.call("sum_list", seq, loc=loc)
                return self.e.call("add", start, total, loc=loc)
            prim = {"stack": "stack_list", "concatenate": "concatenate_list"}.get(kind)
            if prim is None:
                raise self.error(
                    f"`{name}` of a list built in a loop is not supported",
                    node,
                    "join a list or tuple written out, or use `np.concatenate`",
                )
            if name.endswith("array") or name.endswith("asarray"):
                prim = "array_list"
            return self.e.call(prim, seq, loc=loc, **options)
        # an array: its rows are the sequence
        if kind == "sum":
            return self.e.call("add", start, self.e.call("sum", seq, axis=0), loc=loc)
        if kind == "stack" and not options:
            return self.e.call("copy", seq, loc=loc)
        raise self.error(f"`{name}` of an array: pass a list of arrays", node)

    def comprehension(
        self, node: ast.ListComp | ast.GeneratorExp, name=None, base="items"
    ) -> Atom:
        """The list a comprehension builds, by the loop written out
        (comprehensions.py): named `name`, the variable it is assigned to,
        unless the comprehension reads that name, else a fresh `base`."""
        inside = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if name is None or name in inside:
            name = self.names.fresh(base)
        own = comprehensions.targets(node)
        outer = comprehensions.function_names(self.src.tree) | set(self.env)
        renames = {t: self.names.fresh(t) for t in own if t in outer}
        scoped = {n: self.env.get(n) for n in (name, *own, *renames.values())}
        self.lower_seq(comprehensions.as_loop(node, name, renames), FallThrough(self))
        out = self.env[name]
        for n, value in scoped.items():  # the comprehension's names end with it
            if value is None:
                self.env.pop(n, None)
            else:
                self.env[n] = value
        return out

    def arguments(self, sig, node: ast.Call, self_arg=False) -> tuple[list, dict]:
        """The atoms of a call's arguments; a list or tuple of constants passed for
        a parameter that must be a constant (`np.repeat(x, [1, 2], axis=0)`) is
        one constant tuple, and a nested one a tuple of tuples
        (`np.pad(x, [[1, 1], [0, 2]])`)."""
        positional = (("self",) if self_arg else ()) + sig.positional
        offset = 1 if self_arg else 0

        def value(name, arg):
            if name in sig.constants and isinstance(arg, (ast.List, ast.Tuple)):
                items = [value(name, v) for v in arg.elts]
                if all(isinstance(i, Const) for i in items):
                    return Const(tuple(i.value for i in items))
            return self.expr(arg)

        names = list(positional[offset:]) + [None] * len(node.args)
        args = [value(n, a) for n, a in zip(names, node.args)]
        kwargs = {kw.arg: value(kw.arg, kw.value) for kw in node.keywords}
        return args, kwargs

    def method_call(self, node: ast.Call, func: ast.Attribute) -> Atom:
        owner = self.expr(func.value)
        loc = self.src.loc(node)
        sig = resolve.METHODS.get(func.attr)
        if sig is not None:
            args, kwargs = self.arguments(sig, node, self_arg=True)
        else:
            args = [self.expr(a) for a in node.args]
            kwargs = {kw.arg: self.expr(kw.value) for kw in node.keywords}
        if func.attr == "reshape":
            if kwargs:
                raise self.error("`.reshape` takes the shape only", node)
            if len(args) == 1:
                shape = args[0]
            else:
                consts = all(isinstance(a, Const) for a in args)
                shape = (
                    Const(tuple(a.value for a in args))
                    if consts
                    else self.e.call("tuple", *args)
                )
            return self.e.call("reshape", owner, shape, loc=loc)
        if (
            func.attr == "pop"
            and not args
            and not kwargs
            and isinstance(owner, Var)
            and owner.name in self.lists
            and resolve.is_generated(self.fn)
        ):  # a backward sweep takes its tape's last entry: `h, t1 = tape.pop()`
            return self.e.call("pop", owner, loc=loc)
        if sig is None:
            raise self.error(f"the method `.{func.attr}()` is not supported", node)
        return self.apply(sig, [owner] + args, kwargs, node, self_arg=True)

    def apply(self, sig, args, kwargs, node, self_arg=False) -> Atom:
        positional = (("self",) if self_arg else ()) + sig.positional
        if len(args) > len(positional):
            raise self.error(f"too many arguments for `{ast.unparse(node.func)}`", node)
        bound = dict(zip(positional, args))
        for key, value in kwargs.items():
            if key in bound or (key not in sig.keywords and key not in positional):
                raise self.error(
                    f"`{ast.unparse(node.func)}` does not take the argument `{key}` here",
                    node,
                )
            bound[key] = value
        for p in sig.constants:  # reps, repeats: the rules need their values
            if p in bound and not isinstance(bound[p], Const):
                raise self.error(
                    f"`{p}` of `{ast.unparse(node.func)}` must be a constant here "
                    "(a number or a tuple of numbers)",
                    node,
                )
        arrays = [
            bound.pop(p) for p in positional if p not in sig.keywords and p in bound
        ]
        required = [p for p in positional if p not in sig.keywords]
        if len(arrays) != len(required):
            raise self.error(f"missing arguments for `{ast.unparse(node.func)}`", node)
        for k in sig.keywords:  # axis, keepdims, axes: the rules need their values
            if k in bound and not isinstance(bound[k], Const) and k not in sig.values:
                raise self.error(f"`{k}` must be a constant here", node)
        # Keyword options equal to their default are left out, as a person would.
        options = {
            k: bound[k]
            for k in sig.keywords
            if k in bound and bound[k] != Const(sig.keywords[k])
        }
        return self.e.call(sig.prim, *arrays, loc=self.src.loc(node), **options)
