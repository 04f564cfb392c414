"""What the names a function reads refer to: its globals, closure and
builtins, the user functions it calls (whose source is part of its cache
key), and the constants generated code is bound to.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from numbers import Number

from .. import resolve
from ..errors import ADCompileError
from .source import read_source

_DYNAMIC = object()
_UFUNC_KEYS = set(resolve.UFUNC_METHODS)


def _is_ufunc(obj) -> bool:
    return type(obj).__name__ == "ufunc"


def _container_params(tree: ast.FunctionDef, params) -> list[str]:
    """Parameters read as containers: by string key, attribute, or unpacking."""
    found = []
    for a in tree.args.posonlyargs + tree.args.args:
        ann = a.annotation
        if isinstance(ann, ast.Subscript):
            ann = ann.value
        name = ann.id if isinstance(ann, ast.Name) else getattr(ann, "attr", None)
        if name in (
            "list",
            "tuple",
            "dict",
            "List",
            "Tuple",
            "Dict",
            "Sequence",
            "Mapping",
        ):
            found.append(a.arg)

    def root(node):
        """The parameter a chain of constant subscripts reads from."""
        while isinstance(node, ast.Subscript) and isinstance(
            node.slice, (ast.Constant, ast.UnaryOp)
        ):
            node = node.value
        return node

    # `x.copy()`, `x.sum(axis=0)`, `x.reshape(2, 3)`: array methods, not container reads
    methods = {
        id(n.func)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and (n.func.attr in resolve.METHODS or n.func.attr == "reshape")
    }
    for n in ast.walk(tree):
        base = None
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant):
            if isinstance(n.slice.value, str):
                base = n.value
            elif isinstance(n.value, ast.Subscript) and isinstance(
                n.value.slice, (ast.Constant, ast.UnaryOp)
            ):
                base = root(n)
        elif (
            isinstance(n, ast.Attribute)
            and n.attr not in resolve.ATTRIBUTES
            and id(n) not in methods
        ):
            base = n.value
        elif isinstance(n, ast.Assign) and isinstance(
            n.targets[0], (ast.Tuple, ast.List)
        ):
            base = n.value
        elif isinstance(n, ast.For) and isinstance(n.iter, ast.Name):
            base = None
        if isinstance(base, ast.Name) and base.id in params:
            found.append(base.id)
    return found


def _is_user_function(obj) -> bool:
    """A plain Python function of the user's code (not of an installed library)."""
    if not inspect.isfunction(obj):
        return False
    try:
        file = inspect.getsourcefile(obj) or ""
    except TypeError:
        return False
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    return not (
        "site-packages" in file or "dist-packages" in file or file.startswith(stdlib)
    )


def _scope_of(fn) -> dict:
    """What names mean inside `fn`: builtins, then its globals, then its closure."""
    scope = dict(vars(builtins))
    scope.update(getattr(fn, "__globals__", {}))
    if resolve.is_generated(fn):  # its keyword-only constants, bound when it was loaded
        scope.update(getattr(fn, "__kwdefaults__", None) or {})
    code = getattr(fn, "__code__", None)
    if code is not None and getattr(fn, "__closure__", None):
        for name, cell in zip(code.co_freevars, fn.__closure__):
            try:
                scope[name] = cell.cell_contents
            except ValueError:  # a cell not filled yet
                pass
    return scope


def _is_array(value) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray)


def _dependencies(fn, seen=None):
    """The user functions `fn` calls (directly or not), and the names each reads from outside.

    Yields (function, {name: value}) in a fixed order, `fn` first.
    """
    seen = seen if seen is not None else set()
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return
    seen.add(code)
    try:
        src = read_source(fn)
    except ADCompileError:
        return
    scope = _scope_of(fn)
    local = {a.arg for a in ast.walk(src.tree) if isinstance(a, ast.arg)}
    local |= {
        n.id
        for n in ast.walk(src.tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    reads: dict[str, object] = {}
    callees = []
    for n in ast.walk(src.tree):
        if (
            isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
            and n.id not in local
        ):
            if n.id in scope:
                value = scope[n.id]
                reads[n.id] = value
                if _is_user_function(value) and resolve.lookup(value) is None:
                    callees.append(value)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            owner = scope.get(n.value.id)
            if inspect.ismodule(owner):
                value = getattr(owner, n.attr, None)
                if _is_user_function(value) and resolve.lookup(value) is None:
                    callees.append(value)
    yield fn, src, reads
    for c in callees:
        yield from _dependencies(c, seen)


def closure_constants(fn) -> dict[str, object]:
    """The arrays `fn` and the helpers it calls read from outside: name → array.

    The generated function takes them as keyword-only parameters whose
    defaults are bound when the module is loaded (`bind_constants`): they
    are constants, not differentiated.
    """
    found: dict[str, object] = {}
    ids: set[int] = set()
    if resolve.is_generated(
        fn
    ):  # a generated function's constants are its kw-only params
        for name, value in (getattr(fn, "__kwdefaults__", None) or {}).items():
            if _is_array(value):
                found[name] = value
                ids.add(id(value))
    for _, _, reads in _dependencies(fn):
        for name, value in reads.items():
            if _is_array(value) and id(value) not in ids:
                key = name
                k = 1
                while key in found:
                    key = f"{name}_{k}"
                    k += 1
                found[key] = value
                ids.add(id(value))
    return found


def dependency_text(fn) -> str:
    """What the generated code depends on besides `fn`'s own source, for the cache hash."""
    parts = []
    for i, (_, src, reads) in enumerate(_dependencies(fn)):
        if i:
            parts.append(src.text)
        for name, value in sorted(reads.items()):
            if isinstance(value, Number):
                parts.append(f"{name}={value!r}")
            elif _is_array(value):
                parts.append(f"{name}: array")
    return "\n".join(parts)


def bind_constants(generated, fn):
    """Give the generated function the arrays `fn` reads from outside as its defaults."""
    names = generated.__code__.co_varnames[
        generated.__code__.co_argcount : generated.__code__.co_argcount
        + generated.__code__.co_kwonlyargcount
    ]
    if names:
        constants = closure_constants(fn)
        generated.__kwdefaults__ = {n: constants[n] for n in names if n in constants}
    return generated
