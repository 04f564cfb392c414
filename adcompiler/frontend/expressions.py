"""Python expressions → IR: operators, comparisons, names, subscripts,
attributes.
"""

from __future__ import annotations

import ast
import inspect
import keyword
from numbers import Number

from .. import resolve
from ..errors import ADCompileError
from ..ir import Atom, Block, Const, Var, is_undef
from .scope import _DYNAMIC, _UFUNC_KEYS, _is_ufunc
from .source import construct_name

_COMPARE = {
    ast.Gt: "gt",
    ast.Lt: "lt",
    ast.GtE: "ge",
    ast.LtE: "le",
    ast.Eq: "eq",
    ast.NotEq: "ne",
}

_BINOPS = {
    ast.Mod: "mod",
    ast.FloorDiv: "floordiv",
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}


class Expressions:
    """Lowering of expressions (a part of `Lowering`): operators, comparisons,
    names, subscripts and attributes."""

    def unsupported_op(self, op: ast.AST, node: ast.AST) -> ADCompileError:
        symbol = {
            ast.FloorDiv: "//",
            ast.Mod: "%",
            ast.LShift: "<<",
            ast.RShift: ">>",
            ast.BitOr: "|",
            ast.BitAnd: "&",
            ast.BitXor: "^",
        }.get(type(op), type(op).__name__)
        return self.error(f"the operator `{symbol}` has no derivative", node)

    # -- expressions -------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Atom:
        loc = self.src.loc(node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, complex):
                raise self.error("complex numbers are not supported", node)
            return Const(node.value)
        if isinstance(node, ast.Name):
            return self.read(node.id, node)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self.unsupported_op(node.op, node)
            left, right = self.expr(node.left), self.expr(node.right)
            out = self.e.call(_BINOPS[type(node.op)], left, right, loc=loc)
            if (
                self.is_int(left)
                and self.is_int(right)
                and _BINOPS[type(node.op)] != "div"
            ):
                self.mark_int(out)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.e.call("neg", self.expr(node.operand), loc=loc)
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand)
            if isinstance(node.op, ast.Not):
                return self.e.call("not", self.expr(node.operand), loc=loc)
            raise self.unsupported(node)
        if isinstance(node, ast.Compare):
            result = None
            left = self.expr(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                if type(op) not in _COMPARE:
                    what, hint = construct_name(op)
                    raise self.error(
                        f"{what} is not supported in a differentiated function",
                        node,
                        hint,
                    )
                right = self.expr(right_node)
                c = self.e.call(_COMPARE[type(op)], left, right, loc=loc)
                result = c if result is None else self.e.call("and", result, c, loc=loc)
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            prim = "and" if isinstance(node.op, ast.And) else "or"
            result = self.expr(node.values[0])
            for v in node.values[1:]:
                result = self.e.call(prim, result, self.expr(v), loc=loc)
            return result
        if isinstance(node, ast.IfExp):
            cond = self.condition(node.test)
            if isinstance(cond, Const) and not is_undef(cond):
                return self.expr(node.body if cond.value else node.orelse)
            self.e.push_scope()
            a = self.expr(node.body)
            then = Block(self.e.pop_scope(), (a,))
            self.e.push_scope()
            b = self.expr(node.orelse)
            orelse = Block(self.e.pop_scope(), (b,))
            (out,) = self.merge(cond, then, orelse, ["_t"], node)
            if (
                isinstance(out, Var)
                and out.name.startswith("_t")
                and out.name in self.names.taken
            ):
                # a merged value is a temporary until a name is bound to it
                pass
            return out
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.ListComp):
            return self.comprehension(node)
        if isinstance(node, ast.List):
            xs = self.e.call("new_list", loc=loc)
            for v in node.elts:
                xs = self.e.call("append", xs, self.expr(v), loc=loc)
            self.lists.add(xs.name)
            return xs
        if isinstance(node, ast.Dict):
            if not all(isinstance(k, ast.Constant) for k in node.keys):
                raise self.error("a dict with keys that are not constants", node)
            items = tuple(self.expr(v) for v in node.values)
            out = self.e.call("tuple", *items, loc=loc)
            self.dicts[out.name] = dict(zip((k.value for k in node.keys), items))
            return out
        if isinstance(node, ast.Tuple):
            items = tuple(self.expr(v) for v in node.elts)
            if all(isinstance(i, Const) for i in items):
                return Const(tuple(i.value for i in items))
            out = self.e.call("tuple", *items, loc=loc)
            self.tuples[out.name] = items
            return out
        raise self.unsupported(node)

    def is_int(self, a: Atom) -> bool:
        if isinstance(a, Const):
            return isinstance(a.value, int) and not isinstance(a.value, bool)
        return a.name in self.ints

    def mark_int(self, a: Atom) -> None:
        if isinstance(a, Var):
            self.ints.add(a.name)

    def item(self, base: Atom, k: int):
        """Entry k of a tuple the function built, or None."""
        if isinstance(base, Var) and base.name in self.dicts:
            return self.dicts[base.name].get(k)
        if not isinstance(k, int):
            return None
        if isinstance(base, Var) and base.name in self.tuples:
            items = self.tuples[base.name]
            if -len(items) <= k < len(items):
                return items[k]
        if isinstance(base, Const) and isinstance(base.value, tuple):
            return Const(base.value[k])
        return None

    def subscript(self, node: ast.Subscript) -> Atom:
        loc = self.src.loc(node)
        base = self.expr(node.value)
        idx, basic = self.index(node.slice)
        if isinstance(idx, Const) and type(idx.value) in (int, str):
            found = self.item(base, idx.value)
            if found is not None:
                return found
        if (
            isinstance(idx, Const)
            and isinstance(idx.value, slice)
            and isinstance(base, Var)
            and base.name in self.lists
            and base.name in self.tuples
        ):  # some of np.split's parts: a list of them
            return self.list_of(self.tuples[base.name][idx.value], loc)
        if isinstance(idx, Const) and isinstance(base, Var):
            if type(idx.value) in (int, str) and base.name in self.containers:
                return self.tree_access("getitem", base, idx.value, node)
            if type(idx.value) is str:
                if (
                    base.name not in self.params_set
                    and base.name not in self.containers
                ):
                    raise self.error(
                        f"`{ast.unparse(node.value)}` is not a container argument", node
                    )
                return self.tree_access("getitem", base, idx.value, node)
        kwargs = {}
        if basic:
            kwargs["basic"] = True
        if isinstance(base, Var) and base.name in self.lists:
            kwargs["seq"] = True
        out = self.e.call("getitem", base, idx, loc=loc, **kwargs)
        if (
            isinstance(base, Var)
            and base.name in self.shape_values
            and self.is_int(idx)
        ):
            self.mark_int(out)
        return out

    def subscript_target(self, target: ast.Subscript):
        if not isinstance(target.value, ast.Name):
            raise self.error(
                f"assignment to `{ast.unparse(target)}`: only `name[index] = ...` is supported",
                target,
            )
        idx, basic = self.index(target.slice)
        return target.value.id, idx, {"basic": True} if basic else {}

    def index(self, node: ast.expr) -> tuple[Atom, bool]:
        """An index: a constant where it is one (`1:3, None`), else a value; and whether it is basic."""
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        atoms, basic = [], True
        for p in parts:
            if isinstance(p, ast.Slice):
                bounds = [
                    self.expr(b) if b is not None else Const(None)
                    for b in (p.lower, p.upper, p.step)
                ]
                if all(isinstance(b, Const) for b in bounds):
                    atoms.append(Const(slice(*(b.value for b in bounds))))
                else:
                    atoms.append(self.e.call("slice", *bounds))
                continue
            static = (
                self.static_value(p)
                if isinstance(p, (ast.Name, ast.Attribute))
                else _DYNAMIC
            )
            if static is None:
                atoms.append(Const(None))
                continue
            if isinstance(p, ast.Constant) and p.value is Ellipsis:
                atoms.append(Const(Ellipsis))
                continue
            a = self.expr(p)
            basic = basic and self.is_int(a)
            atoms.append(a)
        if not isinstance(node, ast.Tuple):
            return atoms[0], basic
        if all(isinstance(a, Const) for a in atoms):
            return Const(tuple(a.value for a in atoms)), basic
        return self.e.call("tuple", *atoms), basic

    def unpack_value(self, target, value: Atom, node) -> None:
        """`a, b = t` where `t` is a value: each name reads one entry."""
        for k, t in enumerate(target.elts):
            item = self.item(value, k)
            if (
                item is None
                and isinstance(value, Var)
                and value.name in self.containers
            ):
                item = self.tree_access("getitem", value, k, node)
            if item is None:
                item = self.e.call("getitem", value, Const(k), basic=True)
            if isinstance(value, Var) and value.name in self.shape_values:
                self.mark_int(item)
            self.assign(t, item, node)

    def attribute(self, node: ast.Attribute) -> Atom:
        owner = self.static_value(node.value)
        if owner is not _DYNAMIC:
            value = getattr(owner, node.attr, _DYNAMIC)
            if isinstance(value, Number) and not isinstance(value, complex):
                return Const(value)
            raise self.error(
                f"`{ast.unparse(node)}` is not a number or an array operation", node
            )
        if node.attr in resolve.ATTRIBUTES:
            prim = resolve.ATTRIBUTES[node.attr]
            out = self.e.call(prim, self.expr(node.value), loc=self.src.loc(node))
            if prim == "shape":
                self.shape_values.add(out.name)
            elif prim in ("ndim", "size"):
                self.mark_int(out)
            return out
        owner = self.expr(node.value)
        field = self.item(owner, node.attr)  # `np.linalg.eigh(A).eigenvalues`
        if field is not None:
            return field
        if isinstance(owner, Var) and (
            owner.name in self.containers or owner.name in self.params_set
        ):
            return self.tree_access("getattr", owner, node.attr, node)
        raise self.error(f"the attribute `.{node.attr}` is not supported", node)

    def tree_access(self, prim: str, base: Var, key, node) -> Atom:
        """`params["W"]`, `params.W`, `params[0]`: a leaf or branch of a container argument.

        Read once, at the top of the function (so a loop's backward sweep
        accumulates the leaf's adjoint, an array); the gradient of the
        container is rebuilt from the leaves' adjoints (`_grad_like`).
        """
        loc = self.src.loc(node)
        if base.name not in self.root_values:
            # a container the loop or branch reads from (`for layer in params["layers"]`)
            if prim == "getattr":
                raise self.error(
                    "an attribute of a container taken inside a loop; read it before the loop",
                    node,
                )
            out = self.e.call(
                "getitem", base, Const(key), loc=loc, any=True, basic=True
            )
            self.containers.add(out.name)
            return out
        if (
            isinstance(key, str)
            and key.isidentifier()
            and not key.startswith("_")
            and not keyword.iskeyword(key)
        ):
            label = key
        else:
            label = f"{base.name}_{key}".replace("-", "m")
        # `W = params["W"]` names the leaf `W`, not `W_1`: the name is the
        # leaf's unless a value or an outside name already has it.
        if label in self.defined or label in self.scope or not label.isidentifier():
            label = self.names.fresh(label)
        self.defined.add(label)
        self.names.taken.add(label)
        out = self.e.hoist(prim, base, Const(key), tree=True, loc=loc, name=label)
        self.containers.add(out.name)
        self.root_values.add(out.name)
        return out

    def static_value(self, node: ast.expr):
        """The object a name or dotted name refers to outside the function, or _DYNAMIC."""
        if isinstance(node, ast.Name):
            if node.id in self.env or node.id not in self.scope:
                return _DYNAMIC
            return self.scope[node.id]
        if isinstance(node, ast.Attribute):
            owner = self.static_value(node.value)
            if _is_ufunc(owner) and (owner, node.attr) in _UFUNC_KEYS:
                return _DYNAMIC  # `np.multiply.outer`: see `call`
            if (
                owner is _DYNAMIC
                or not inspect.ismodule(owner)
                and not isinstance(owner, type)
                and not _is_ufunc(owner)
            ):
                return _DYNAMIC
            if not hasattr(owner, node.attr):
                raise self.error(f"`{ast.unparse(node)}` does not exist", node)
            return getattr(owner, node.attr)
        return _DYNAMIC
