"""Forward mode: the Jacobian-vector product of a function, as a new IR function.

The generated function takes the primal arguments and one tangent per
differentiated argument (`x_dot`), and computes each tangent right after its
primal value, from the same rule table's JVP entries: `h = np.tanh(z)` is
followed by `h_dot = z_dot * (1.0 - h * h)`. Values that do not depend on a
differentiated argument carry no tangent at all.
"""

from __future__ import annotations

from ..errors import ADCompileError
from ..ir import Assign, Atom, Block, Function, Var, rename
from ..passes.dce import dce
from ..passes.shapes import analyze
from ..rules import PRIMS
from ..rules.core import NO_RULE_YET
from .emitter import Emitter, Names, is_temp
from .reverse import float_checks


def forward(
    fn: Function, argnums: tuple[int, ...], name: str, names: Names
) -> Function:
    """`name(*params, *tangents) -> (*results, *result_tangents)`."""
    for r in fn.body.results:  # a returned expression reads as `out` (and `out_dot`)
        if isinstance(r, Var) and is_temp(r.name):
            rename(fn.body, {r.name: names.fresh("out")})
    shapes = analyze(fn.body)
    wrt = [fn.params[i] for i in argnums]
    tangent_params = [names.fresh(f"{p}_dot") for p in wrt]
    tangents: dict[str, Atom] = {}
    for p, t in zip(wrt, tangent_params):
        shapes.union(Var(t), Var(p))
        tangents[p] = Var(t)

    e = Emitter(names, shapes)
    for stmt in fn.body.stmts:
        if not isinstance(stmt, Assign):
            raise ADCompileError(
                "forward mode handles straight-line code only", stmt.loc
            )
        e.adopt([stmt])
        ts = [tangents.get(a.name) if isinstance(a, Var) else None for a in stmt.args]
        if all(t is None for t in ts):
            continue
        prim = PRIMS[stmt.prim]
        if prim.jvp is None:
            gaps = NO_RULE_YET.get(stmt.prim, ())
            if prim.differentiable or any(ts[i] is not None for i in gaps):
                raise ADCompileError(
                    f"`{stmt.prim}` has no forward-mode rule yet", stmt.loc
                )
            continue  # shapes, comparisons, signs: their tangent is zero
        t = prim.jvp(e, ts, Var(stmt.out), *stmt.args, **stmt.kwargs)
        if t is None:
            continue
        if isinstance(t, Var) and is_temp(t.name) and not is_temp(stmt.out):
            t = e.name_value(t, names.fresh(f"{stmt.out}_dot"))
        shapes.union(t, Var(stmt.out))
        tangents[stmt.out] = t

    outs = []
    for r in fn.body.results:
        t = tangents.get(r.name) if isinstance(r, Var) else None
        outs.append(t if t is not None else e.call("zeros_like", r))
    results = tuple(fn.body.results) + tuple(outs)
    params = list(fn.params) + tangent_params
    checks = float_checks(fn, wrt, names)
    return Function(
        name,
        params,
        dce(Block(checks + e.stmts, results)),
        fn.loc,
        fn.doc,
        return_line=fn.return_line,
    )
