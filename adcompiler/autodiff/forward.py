"""Forward mode: the Jacobian-vector product of a function, as a new IR function.

The generated function takes the primal arguments and one tangent per
differentiated argument (`x_dot`), and computes each tangent right after its
primal value, from the same rule table's JVP entries: `h = np.tanh(z)` is
followed by `h_dot = z_dot * (1.0 - h * h)`. Values that do not depend on a
differentiated argument carry no tangent at all.

Control flow keeps its shape. A branch yields the tangents of the values it
merges along with them (a zero tangent on the side where a value depends on
no input); a loop carries the tangent of each carried value that depends on
an input on some trip (found before the loop is written, as a fixpoint over
its body), next to the value itself. The tangent of a list is a list of the
tangents of its parts, appended to as the list is.
"""

from __future__ import annotations

from ..errors import ADCompileError
from ..ir import Assign, Atom, Block, Const, Function, If, Loop, Var, is_undef, rename
from ..passes.dce import dce
from ..passes.shapes import analyze
from ..rules import PRIMS
from ..rules.core import NO_RULE_YET
from ..rules.jvp import zeros
from .emitter import Emitter, Names, is_temp
from .reverse import float_checks

# Primitives that update their first argument in place (`xs.append(x)`).
UPDATES_FIRST = frozenset({"append"})


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
    e = Emitter(names, shapes)
    e.lists = set(fn.lists)
    sweep = _Tangents(e, names)
    for p, t in zip(wrt, tangent_params):
        sweep.bind(p, Var(t))

    sweep.block(fn.body)
    outs = [sweep.tangent(r) or sweep.zero(r) for r in fn.body.results]
    results = tuple(fn.body.results) + tuple(outs)
    params = list(fn.params) + tangent_params
    checks = float_checks(fn, wrt, names)
    return Function(
        name,
        params,
        dce(Block(checks + e.stmts, results)),
        fn.loc,
        fn.doc,
        constants=list(fn.constants),  # arrays read from outside, bound at load
        return_line=fn.return_line,
        lists=set(e.lists),
    )


class _Tangents:
    """The tangent of each value, written into `e` along with the primal code."""

    def __init__(self, e: Emitter, names: Names):
        self.e = e
        self.names = names
        self.of: dict[str, Atom] = {}  # value -> its tangent (absent: zero)

    def tangent(self, a: Atom) -> Atom | None:
        return self.of.get(a.name) if isinstance(a, Var) else None

    def bind(self, name: str, t: Atom) -> None:
        self.of[name] = t
        self.e.shapes.union(t, Var(name))
        if name in self.e.lists and isinstance(t, Var):
            self.e.lists.add(t.name)  # the tangent of a list is a list

    def zero(self, a: Atom) -> Atom:
        """A zero tangent for `a`, where a merge needs one: a branch or a trip that
        leaves a value the other side (or another trip) makes depend on an input."""
        if is_undef(a):
            return a  # unset on this path: so is its tangent
        if isinstance(a, Const):
            return Const(0.0)
        return zeros(self.e, a)

    def fresh(self, name: str) -> str:
        """The name of the tangent of the value `name`."""
        return self.names.temp() if is_temp(name) else self.names.fresh(f"{name}_dot")

    def block(self, block: Block) -> None:
        for stmt in block.stmts:
            if isinstance(stmt, Assign):
                self.assign(stmt)
            elif isinstance(stmt, If):
                self.branch(stmt)
            elif isinstance(stmt, Loop):
                self.loop(stmt)
            else:  # pragma: no cover - the IR has no other statements
                raise ADCompileError(f"forward mode met {type(stmt).__name__}")

    def assign(self, stmt: Assign) -> None:
        e = self.e
        ts = [self.tangent(a) for a in stmt.args]
        prim = PRIMS[stmt.prim]
        if prim.jvp is None or all(t is None for t in ts):
            e.adopt([stmt])
            gaps = NO_RULE_YET.get(stmt.prim, ())
            varied = [i for i, t in enumerate(ts) if t is not None]
            if varied and (prim.differentiable or set(varied) & set(gaps)):
                # a derivative flows where no rule says how: an error, never a zero
                raise ADCompileError(
                    f"`{stmt.prim}` has no forward-mode rule yet", stmt.loc
                )
            return  # shapes, comparisons, signs: their tangent is zero
        if stmt.prim in UPDATES_FIRST:
            # `xs.append(x)` changes `xs`: its tangent's rule reads `xs` before
            t = prim.jvp(e, ts, Var(stmt.out), *stmt.args, **stmt.kwargs)
            e.adopt([stmt])
        else:
            e.adopt([stmt])
            t = prim.jvp(e, ts, Var(stmt.out), *stmt.args, **stmt.kwargs)
        if t is None:
            return
        if isinstance(t, Var) and is_temp(t.name) and not is_temp(stmt.out):
            # a list updated in place keeps one name: `xs_dot.append(...)`
            named = stmt.out
            if stmt.prim in UPDATES_FIRST and not is_temp(stmt.args[0].name):
                named = stmt.args[0].name
            t = e.name_value(t, self.names.fresh(f"{named}_dot"))
        self.bind(stmt.out, t)

    def nested(self, block: Block, results, active) -> tuple[list, list]:
        """The statements of `block` with its tangents, and the tangents of its
        `results` at the positions `active` (zero where one has none)."""
        self.e.push_scope()
        self.block(block)
        ts = [self.tangent(results[k]) or self.zero(results[k]) for k in active]
        return self.e.pop_scope(), ts

    def branch(self, stmt: If) -> None:
        known = set(self.of)
        active = _active_outs(stmt, known)
        then, then_ts = self.nested(stmt.then, stmt.then.results, active)
        orelse, else_ts = self.nested(stmt.orelse, stmt.orelse.results, active)
        douts = [self.fresh(stmt.outs[k]) for k in active]
        self.e.emit(
            If(
                stmt.outs + tuple(douts),
                stmt.cond,
                Block(then, stmt.then.results + tuple(then_ts)),
                Block(orelse, stmt.orelse.results + tuple(else_ts)),
                stmt.loc,
            )
        )
        for k, d in zip(active, douts):
            self.bind(stmt.outs[k], Var(d))

    def loop(self, stmt: Loop) -> None:
        e = self.e
        active = _active_carried(stmt, set(self.of))
        # the tangents on entry, made before the loop
        inits = [
            self.tangent(stmt.inits[k]) or self.zero(stmt.inits[k]) for k in active
        ]
        dcarried = [self.fresh(stmt.carried[k]) for k in active]
        for k, d in zip(active, dcarried):
            self.bind(stmt.carried[k], Var(d))
        body, body_ts = self.nested(stmt.body, stmt.body.results, active)
        douts = [self.fresh(stmt.outs[k]) for k in active]
        e.emit(
            Loop(
                stmt.outs + tuple(douts),
                stmt.index,
                stmt.start,
                stmt.stop,
                stmt.step,
                stmt.carried + tuple(dcarried),
                stmt.inits + tuple(inits),
                Block(body, stmt.body.results + tuple(body_ts)),
                stmt.loc,
                stmt.cond,
                stmt.brk,
                stmt.trips,
                stmt.reverse,
            )
        )
        for k, d in zip(active, douts):
            self.bind(stmt.outs[k], Var(d))


# -- which values get a tangent: those a differentiable primitive computes from one
# that has a tangent (the rules give None only where every operand's is None) ----------


def _reach(block: Block, active: set[str]) -> None:
    """Add to `active` the values of `block` that depend on one in it."""
    for stmt in block.stmts:
        if isinstance(stmt, Assign):
            if PRIMS[stmt.prim].jvp is not None and any(
                isinstance(a, Var) and a.name in active for a in stmt.args
            ):
                active.update(stmt.outs)
        elif isinstance(stmt, If):
            for k in _active_outs(stmt, active):
                active.add(stmt.outs[k])
        elif isinstance(stmt, Loop):
            for k in _active_carried(stmt, active):
                active.add(stmt.outs[k])


def _is_active(a: Atom, active: set[str]) -> bool:
    return isinstance(a, Var) and a.name in active


def _active_outs(stmt: If, active: set[str]) -> list[int]:
    """The positions of the values a branch merges that depend on an input on either side."""
    seen = set(active)
    _reach(stmt.then, seen)
    _reach(stmt.orelse, seen)
    return [
        k
        for k in range(len(stmt.outs))
        if _is_active(stmt.then.results[k], seen)
        or _is_active(stmt.orelse.results[k], seen)
    ]


def _active_carried(stmt: Loop, active: set[str]) -> list[int]:
    """The positions of the carried values that depend on an input on some trip:
    on entry, or from a trip that reads one that does (a fixpoint)."""
    found = {k for k, a in enumerate(stmt.inits) if _is_active(a, active)}
    while True:
        seen = set(active) | {stmt.carried[k] for k in found}
        _reach(stmt.body, seen)
        more = {k for k, r in enumerate(stmt.body.results) if _is_active(r, seen)}
        if more <= found:
            return sorted(found)
        found |= more
