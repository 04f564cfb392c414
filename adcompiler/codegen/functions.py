"""IR functions → `def`s: the body, the results and their casts, returns
moved into branches, temporaries renamed, a vjp's two halves.
"""

from __future__ import annotations

import ast
import copy
import re

from ..ir import Function, Loop, Var, rename, uses, walk
from .body import _BackwardMarker, _Body, _plain
from .checks import _cast_like, _one_float_test
from .expressions import _assign, _target


def _rename_temps(fn: Function, body: list[ast.stmt]) -> None:
    """Temporaries that survive inlining get short names no user name collides with."""
    taken = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
    taken |= set(fn.params)
    mapping: dict[str, str] = {}
    counter = 0
    names = [n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)]
    for name in names:  # `_t3`; not a helper `_tensordot_lhs`
        if re.fullmatch(r"_t\d+", name) and name not in mapping:
            counter += 1
            while f"t{counter}" in taken:
                counter += 1
            mapping[name] = f"t{counter}"
    for name in names:  # `_t38_all`, `_t3_trips`: beside their temporary's new name
        suffixed = re.fullmatch(r"(_t\d+)(_\w+)", name)
        if suffixed and name not in mapping:
            base, suffix = suffixed.groups()
            new = f"{mapping[base]}{suffix}" if base in mapping else None
            if new is None or new in taken:
                counter += 1
                while f"t{counter}" in taken:
                    counter += 1
                new = f"t{counter}"
            mapping[name] = new
            taken.add(new)
    for (
        name
    ) in names:  # the adjoint of a temporary, `d__t3`, reads as `d_t1` beside `t1`
        if re.match(r"d__t\d", name) and name not in mapping:
            base = mapping.get(name[2:])
            if base is None or f"d_{base}" in taken:
                counter += 1
                while f"t{counter}" in taken or f"d_t{counter}" in taken:
                    counter += 1
                base = f"t{counter}"
            mapping[name] = f"d_{base}"
            taken.add(mapping[name])
    for node in ast.walk(ast.Module(body, [])):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]


def _reads_before_writes(stmts: list[ast.stmt], written: set[str]) -> set[str]:
    """Names that statements read before any of them (certainly) writes them."""
    found: set[str] = set()

    def loads(node):
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if n.id not in written:
                    found.add(n.id)

    def stores(node):
        return {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }

    for s in stmts:
        if isinstance(s, ast.For):
            loads(s.iter)
            found.update(_reads_before_writes(s.body, written | stores(s.target)))
        elif isinstance(s, ast.While):
            loads(s.test)
            found.update(_reads_before_writes(s.body, set(written)))
        elif isinstance(s, ast.If):
            loads(s.test)
            a = _reads_before_writes(s.body, set(written))
            b = _reads_before_writes(s.orelse, set(written))
            found.update(a | b)
            both = stores(ast.Module(s.body, [])) & stores(ast.Module(s.orelse, []))
            written |= both
        elif isinstance(s, ast.FunctionDef):
            continue
        else:
            if isinstance(s, ast.AugAssign):
                loads(s.target)
            for field in ("value", "test", "exc"):
                if getattr(s, field, None) is not None:
                    loads(getattr(s, field))
            for t in getattr(s, "targets", []) + [getattr(s, "target", None)]:
                if t is not None:
                    for n in ast.walk(t):  # `d[i] += g` reads d and i
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                            loads(n)
                    written |= stores(t)
    return found


def function_def(
    fn: Function, doc: str | None, defaults: list[ast.expr] = ()
) -> tuple[ast.FunctionDef, set[str]]:
    if fn.backward_params is None:
        _name_results_where_made(fn)
    gen = _Body(fn)
    body = gen.block(fn.body)
    if fn.backward_params is not None:
        body = _vjp_body(fn, gen, body)
        return _finish_def(fn, doc, body, defaults), gen.helpers
    results = []
    for i, r in enumerate(fn.body.results):
        value = gen.atom(r)
        if i in fn.result_names:
            name = fn.result_names[i]
            body.append(ast.Assign([ast.Name(name, ast.Store())], value))
            value = ast.Name(name, ast.Load())
        results.append(value)
    casts = _casts(fn, gen, results)
    body, casts = _one_float_test(fn, body, casts, gen.helpers)
    body += casts
    body.append(ast.Return(_nest(fn.result_tree, results)))
    if not casts:
        body = _return_from_branches(body)
    return _finish_def(fn, doc, body, defaults), gen.helpers


def _name_results_where_made(fn: Function) -> None:
    """A result read nowhere else takes its name where it is made: the `if` that
    picks `max(y, z)` binds `d_x` in each branch, not a `t2` that `d_x = t2`
    copies after it."""
    counts = uses(fn.body)
    taken = set(counts) | set(fn.params) | set(fn.constants)
    made: dict[str, int] = {}
    for stmt in walk(fn.body):
        for o in stmt.outs:
            taken.add(o)
            made[o] = made.get(o, 0) + 1
        if isinstance(stmt, Loop):
            taken.update(stmt.carried)
            taken.update(n for n in (stmt.index, stmt.trips) if n)
    for i, r in enumerate(fn.body.results):
        name = fn.result_names.get(i)
        if (
            name is None
            or not isinstance(r, Var)
            or made.get(r.name) != 1  # a parameter, or bound more than once
            or counts.get(r.name) != 1  # read elsewhere too
            or name in taken
        ):
            continue
        rename(fn.body, {r.name: name})
        del fn.result_names[i]
        taken.add(name)


def _return_from_branches(body: list[ast.stmt]) -> list[ast.stmt]:
    """A function that ends in an `if` returns from each of its branches.

    `if z > y: t2 = z; d_z = t1 ... else: ...` then `d_x = t2; return d_x, d_y,
    d_z` reads, as one writes it by hand, `if z > y: return z, z, t1` and
    the other branch's statements and return after it: the values each branch
    binds only for the return go into it. Only assignments may come between
    the `if` and the return: those naming the results (`d_x = t2`), and at
    most two that compute (`d_x = d_x_2 + d_x_4`), which each branch then
    writes. An `if` that checks the arguments is not one."""
    k, computed = len(body) - 1, 0
    while k > 0 and _plain(body[k - 1]):
        computed += not isinstance(body[k - 1].value, ast.Name)
        if computed > 2:  # more would be written twice: the `if` stays as it is
            return body
        k -= 1
    branch = body[k - 1] if k > 0 else None
    if not isinstance(branch, ast.If) or any(
        isinstance(n, ast.Raise)
        or isinstance(n, ast.Name)
        and n.id.startswith("_check_")
        for n in ast.walk(branch)
    ):
        return body
    tail = body[k:]
    then = _into_return(branch.body + copy.deepcopy(tail))
    orelse = _into_return(branch.orelse + tail)
    return body[: k - 1] + [ast.If(branch.test, then, [])] + orelse


def _into_return(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`a = e; ...; return a, ...` with `e` in the return where `a` is read
    there alone, once, and nothing in between rebinds what `e` reads."""
    stmts = list(stmts)
    k = len(stmts) - 1
    while k > 0 and _plain(stmts[k - 1]):
        k -= 1
    for i in range(len(stmts) - 2, k - 1, -1):
        name = stmts[i].targets[0].id
        value = stmts[i].value
        later = stmts[i + 1 :]
        reads = [
            n
            for s in later
            for n in ast.walk(s)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        ]
        read_by_value = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        rebound = {s.targets[0].id for s in later[:-1]}
        if len(reads) != 1 or rebound & (read_by_value | {name}):
            continue
        ret = stmts[-1]
        holder = next(
            (
                p
                for p in ast.walk(ret)
                for c in ast.iter_child_nodes(p)
                if c is reads[0]
            ),
            None,
        )
        if holder is None:  # read by another assignment, not by the return
            continue
        for field, old in ast.iter_fields(holder):
            if old is reads[0]:
                setattr(holder, field, value)
            elif isinstance(old, list):
                setattr(holder, field, [value if x is reads[0] else x for x in old])
        del stmts[i]
    return stmts


def _finish_def(fn: Function, doc, body: list, defaults) -> ast.FunctionDef:
    _rename_temps(fn, body)
    if fn.general is not None:
        _ShapeTests().visit(ast.Module(body, []))
    _SummedProducts().visit(ast.Module(body, []))
    for node in body:
        if isinstance(node, ast.FunctionDef):
            _own_names(node, body)
    if doc:
        body.insert(0, ast.Expr(ast.Constant(doc)))
    consts = [ast.arg(c) for c in fn.constants]
    defaults = list(defaults) or [ast.Constant(v) for v in fn.defaults]
    args = ast.arguments(
        [],
        [ast.arg(p) for p in fn.params],
        None,
        consts,
        [None] * len(consts),
        None,
        list(defaults),
    )
    return ast.FunctionDef(fn.name, args, body, [], None, type_params=[])


class _ShapeTests(ast.NodeTransformer):
    """A trip's test of its shapes (`_Body.same_shapes`, `not (a and b)` of
    comparisons only) as text, as in `_one_float_test`: `ast.unparse` would put
    parentheses around the third and later operands of its `and`, or around
    the one comparison."""

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if not getattr(node, "shape_test", False):
            return self.generic_visit(node)
        inner = node.operand
        text = " and ".join(ast.unparse(v) for v in inner.values)
        return ast.Name(f"not ({text})" if len(inner.values) > 1 else f"not {text}")


class _SummedProducts(ast.NodeTransformer):
    """`_unbroadcast(_matmul_lhs(g, b), a)` as `_matmul_lhs(g, b, a)`: the helper
    sums only where `b` is a stack of matrices, and a gradient of unknown ranks
    saves a call for every product (the frontend reads it back as the two)."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if not (_is_helper_call(node, "_unbroadcast") and len(node.args) == 2):
            return node
        inner, like = node.args
        for helper in ("_matmul_lhs", "_matmul_rhs"):
            if _is_helper_call(inner, helper) and len(inner.args) == 2:
                return ast.copy_location(
                    ast.Call(inner.func, [*inner.args, like], []), node
                )
        return node


def _is_helper_call(node: ast.expr, name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and not node.keywords
    )


def _vjp_body(fn: Function, gen: _Body, body: list[ast.stmt]) -> list[ast.stmt]:
    """`<forward>; def backward(d_out): <backward>; return d_x, ...; return out, backward`."""
    k = next(i for i, s in enumerate(body) if isinstance(s, _BackwardMarker))
    forward, backward = body[:k], body[k + 1 :]
    seeds = fn.backward_params
    results = list(fn.body.results)
    n_out = len(seeds)
    outs = [gen.atom(r) for r in results[:n_out]]
    aux = [gen.atom(r) for r in results[len(results) - fn.aux :]]
    grads = []
    for i, r in enumerate(results[n_out : len(results) - fn.aux], n_out):
        value = gen.atom(r)
        if i in fn.result_names:
            name = fn.result_names[i]
            backward.append(ast.Assign([ast.Name(name, ast.Store())], value))
            value = ast.Name(name, ast.Load())
        grads.append(value)
    backward += _casts(fn, gen, [None] * n_out + grads)
    if n_out == 1:
        params = [ast.arg(seeds[0])]
    else:  # one cotangent per output, as a tuple like the output
        params = [ast.arg("cotangents")]
        backward.insert(
            0, ast.Assign([_target(seeds)], ast.Name("cotangents", ast.Load()))
        )
    backward.append(ast.Return(ast.Tuple(grads, ast.Load())))
    doc = "The cotangents of the differentiated arguments, given the output's."
    backward.insert(0, ast.Expr(ast.Constant(doc)))
    inner = ast.FunctionDef(
        "backward",
        ast.arguments([], params, None, [], [], None, []),
        backward,
        [],
        None,
        type_params=[],
    )
    out = outs[0] if n_out == 1 else ast.Tuple(outs, ast.Load())
    returned = ast.Tuple([out, ast.Name("backward", ast.Load())] + aux, ast.Load())
    return forward + [inner, ast.Return(returned)]


def _casts(fn: Function, gen: _Body, values: list) -> list[ast.stmt]:
    """The casts of gradients to their parameters' dtypes (`fn.casts`), before the return."""
    out = []
    for i, param in sorted(fn.casts.items()):
        value = values[i]
        if not isinstance(value, ast.Name) or value.id in fn.params:
            continue  # a gradient is always named at the return (see `_name_adjoints`)
        gen.helpers.add("_astype_like")
        out.append(_cast_like(value.id, param))
    return out


def _own_names(inner: ast.FunctionDef, outer: list[ast.stmt]) -> None:
    """Make a nested def's assignments its own.

    A name the nested function assigns is local to it in Python, so where it
    also reads the enclosing function's value of that name (a loop's backward
    pops values under their forward names) it works on a copy, `h_b = h`.
    A tape is copied as a list, so that `backward` can be called again.
    """
    outer_mod = ast.Module(
        [s for s in outer if s is not inner], []
    )  # the enclosing function's statements
    defined = {
        n.id
        for n in ast.walk(outer_mod)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    tapes = {
        s.targets[0].id
        for s in ast.walk(outer_mod)
        if isinstance(s, ast.Assign)
        and isinstance(s.value, ast.List)
        and not s.value.elts
        and isinstance(s.targets[0], ast.Name)
    }
    inner_mod = ast.Module(inner.body, [])
    names = [n for n in ast.walk(inner_mod) if isinstance(n, ast.Name)]
    stored = {n.id for n in names if isinstance(n.ctx, ast.Store)}
    loaded = {n.id for n in names if isinstance(n.ctx, ast.Load)}
    params = {a.arg for a in inner.args.args}
    conflicts = sorted(((stored & defined) | (tapes & loaded)) - params)
    if not conflicts:
        return
    # a name the nested def writes before it reads it is simply its own
    outer_reads = _reads_before_writes(inner.body, set(params))
    conflicts = [c for c in conflicts if c in outer_reads]
    if not conflicts:
        return
    taken = {
        n.id for n in ast.walk(ast.Module(outer, [])) if isinstance(n, ast.Name)
    } | params
    mapping = {}
    for c in conflicts:
        new = f"{c}_b"
        while new in taken:
            new += "_"
        taken.add(new)
        mapping[c] = new
    for n in names:
        if n.id in mapping:
            n.id = mapping[n.id]
    copies = []
    for c in conflicts:
        if c in tapes:
            value = ast.Call(
                ast.Name("list", ast.Load()), [ast.Name(c, ast.Load())], []
            )
        else:
            value = ast.Name(c, ast.Load())
        copies.append(_assign(mapping[c], value))
    has_doc = isinstance(inner.body[0], ast.Expr)
    inner.body[has_doc:has_doc] = copies


def _nest(tree, results: list[ast.expr]) -> ast.expr:
    if tree is None:
        return results[0] if len(results) == 1 else ast.Tuple(results, ast.Load())
    if isinstance(tree, int):
        return results[tree]
    return ast.Tuple([_nest(t, results) for t in tree], ast.Load())
