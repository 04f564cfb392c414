"""Reverse mode: the adjoint of a function, as a new IR function.

The generated function runs the forward sweep (the user's computation, which
keeps every intermediate the backward sweep reads), then the backward sweep:
the definitions in reverse order, each asking the rule table for its
vector-Jacobian product. A value used several times receives one
contribution per use; they are summed once into `d_<name>`, which every
later rule then reads, so the notes' shared δ is one variable.
"""

from __future__ import annotations

from ..errors import ADCompileError
from ..ir import Assign, Atom, Block, Const, Function, Var, rename
from ..passes import activity
from ..passes.dce import dce
from ..passes.shapes import analyze
from ..rules import PRIMS
from .emitter import Emitter, Names, is_temp


def reverse(
    fn: Function, argnums: tuple[int, ...], with_value: bool, name: str, names: Names
) -> Function:
    """The function returning the gradients of `fn` (and its value, if `with_value`)."""
    body = fn.body
    if len(body.results) != 1:
        raise ADCompileError(
            f"{fn.name} returns {len(body.results)} values; grad needs one scalar",
            fn.loc,
            "use vjp or jacobian for functions with several outputs",
        )
    (result,) = body.results
    if isinstance(result, Var) and is_temp(result.name):
        rename(body, {result.name: names.fresh("out")})
        (result,) = body.results
    proven_scalar = analyze(body).is_scalar(result)
    shapes = analyze(body, scalar_result=True)
    wrt = [fn.params[i] for i in argnums]
    live = activity.active(body, set(wrt), body.results)

    e = Emitter(names, shapes)
    e.adopt(body.stmts)
    forward = {o for stmt in body.stmts if isinstance(stmt, Assign) for o in stmt.outs}
    if not proven_scalar:
        # The shape facts assumed a scalar result; make sure, as JAX does.
        e.call("check_scalar", result, Const(fn.name))

    contributions: dict[str, list[Atom]] = {}
    if isinstance(result, Var) and result.name in live:
        contributions[result.name] = [Const(1.0)]
    for stmt in reversed(body.stmts):
        if not isinstance(stmt, Assign) or stmt.out not in contributions:
            continue
        g = _accumulate(e, stmt.out, contributions.pop(stmt.out), forward)
        prim = PRIMS[stmt.prim]
        for arg, rule in zip(stmt.args, prim.vjp):
            if rule is None or not isinstance(arg, Var) or arg.name not in live:
                continue
            c = rule(e, g, Var(stmt.out), *stmt.args, **stmt.kwargs)
            if prim.broadcasts and not shapes.same(Var(stmt.out), arg):
                c = e.call("unbroadcast", c, arg)
            contributions.setdefault(arg.name, []).append(c)

    grads = []
    for p in wrt:
        parts = contributions.get(p)
        if parts is None:
            g = e.call("zeros_like", Var(p), name=names.fresh(f"d_{p}"))
        else:
            g = _accumulate(e, p, parts, forward)
            if isinstance(g, Const):
                g = e.call("full_like", Var(p), g)
            elif _defined_by(e, g, "broadcast_to"):
                g = e.call(
                    "copy", g
                )  # a broadcast view is read-only; a gradient is not
        grads.append(g)
    results = ((result,) if with_value else ()) + tuple(grads)
    out = Function(name, list(fn.params), dce(Block(e.stmts, results)), fn.loc, fn.doc)
    _name_adjoints(out, wrt, grads, names)
    return out


def _accumulate(e: Emitter, name: str, parts: list[Atom], forward: set[str]) -> Atom:
    """Sum the contributions to one adjoint; a sum or adjoint computed here is named `d_<name>`."""
    total = parts[0]
    for p in parts[1:]:
        total = e.add(total, p)
    if isinstance(total, Var) and is_temp(total.name) and total.name not in forward:
        # An adjoint of a temporary stays a temporary (`d__t3`); codegen names it after its value.
        return e.name_value(total, e.names.fresh(f"d_{name}"))
    return total


def _defined_by(e: Emitter, atom: Atom, prim: str) -> bool:
    return any(
        s.prim == prim and s.outs == (atom.name,)
        for s in e.stmts
        if isinstance(atom, Var)
    )


def _name_adjoints(fn: Function, wrt, grads, names: Names) -> None:
    """Each returned gradient reads as `d_<param>` in the generated code (`d_b = d_z`)."""
    first = len(fn.body.results) - len(grads)
    for i, (p, g) in enumerate(zip(wrt, grads)):
        if not (isinstance(g, Var) and g.name.startswith(f"d_{p}")):
            fn.result_names[first + i] = names.fresh(f"d_{p}")
