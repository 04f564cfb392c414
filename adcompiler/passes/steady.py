"""Loops whose trips keep their shapes: the generic gradient's fast path.

Without example arguments the compiler cannot prove that
`h = np.tanh(W @ h + U @ xs[t] + b)` keeps the shape of `h`: `b` might
broadcast it, or `W` be a stack of matrices. So each backward trip sums its
adjoints back to the shapes of the trip's values (`_unbroadcast(d_t4, t2)`),
and the tape keeps those values for their shapes alone. A person writing the
gradient knows better, and so can the compiler, if it checks.

This pass lists what a loop's trips would satisfy if nothing broadcast inside
them, as premises, about the values the gradient flows through (the others
may broadcast as they like: nothing sums back to their shapes):

- an elementwise operation's operands that change from trip to trip share
  a shape where they are all its operands (`W @ h` and `U @ xs[t]`), and
  the result has each one's shape where others could spread it (`+ b`, a
  `b` read from outside the loop, or `+ xs[t]`, not differentiated);
- a carried value ends each trip with the shape of its initial value (a sum
  `total = 0.0` stays a number).

It keeps those that tell something the facts do not already, derives the
gradient with them as facts, and inserts their check at the end of the
forward trip: one comparison of shapes, `h_1.shape == shape_h0 == t3.shape
== t2.shape`, a value that stands for its class where one does. Where a trip
fails it, the gradient comes from the general function, derived without the
premises, before any of the backward sweep has run: the forward sweep
replays the function's own statements, which no fact changes, and checks at
entry read the facts without premises (reverse.py). Each premise holds on
every trip that passed its check, so every fact derived from them holds
where the backward sweep uses it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..ir import Assign, Atom, Block, Const, Function, Loop, Var, rename, walk
from .hoist import trip_values
from .shapes import Shapes, settle

# an elementwise operation's operands that are not arrays of the loop's trips
_NOT_ARRAYS = {"shape", "len", "ndim", "size"}
# what a scalar's shape is checked against: `total_1.shape == ()`
SCALAR = Const(())


@dataclass
class Plan:
    """The premises kept, and the checks of each loop (by its position in the
    function's body): chains of values whose shapes must all be equal."""

    premises: list[tuple[Var, Var]] = field(default_factory=list)
    checks: dict[int, list[list[Var]]] = field(default_factory=dict)


def loops(fn: Function):
    """The function's top-level `for` loops that run every trip (no `break`, no
    `while`), with their positions."""
    for k, stmt in enumerate(fn.body.stmts):
        if (
            isinstance(stmt, Loop)
            and stmt.index is not None
            and stmt.cond is None
            and stmt.brk is None
            and not stmt.reverse
        ):
            yield k, stmt


def groups(check: Assign) -> list[list[Atom]]:
    """The groups of one shape of a `same_shapes(*values, groups=(4, 2))`."""
    out, rest = [], list(check.args)
    for n in check.kwargs["groups"].value:
        out.append(rest[:n])
        rest = rest[n:]
    return out


def _premises(fn: Function, loop: Loop, live: set) -> list[tuple[Var, Atom, bool]]:
    """What the loop's trips satisfy where nothing broadcasts inside them, as
    `(a, b, carried)`: `a` has the shape of `b`; `carried`: `a` is a carried
    value's next value, `b` its initial value, which may be a number (`total
    = 0.0`, a sum over the trips). Only the shapes of `live` values (those
    the gradient flows through) decide anything: the others are left free."""
    varying = trip_values(loop)
    made = {}
    for stmt in loop.body.stmts:
        if isinstance(stmt, Assign) and len(stmt.outs) == 1:
            made[stmt.out] = stmt
    lists = set(fn.lists)

    def array(a: Atom) -> bool:
        if not isinstance(a, Var) or a.name in lists or a.name == loop.index:
            return False
        stmt = made.get(a.name)
        return stmt is None or stmt.prim not in _NOT_ARRAYS

    from ..rules import PRIMS

    found = []
    for c, init, res in zip(loop.carried, loop.inits, loop.body.results):
        numeric = isinstance(init, Const) and type(init.value) in (int, float)
        if (
            (isinstance(init, Var) or numeric)
            and isinstance(res, Var)
            and res.name in made
            and array(res)
            and c not in lists
        ):
            found.append((res, init, True))
    for stmt in loop.body.stmts:
        if not isinstance(stmt, Assign) or len(stmt.outs) != 1 or stmt.kwargs:
            continue
        if PRIMS[stmt.prim].shape != "elementwise" or not array(Var(stmt.out)):
            continue
        # the result has the shape of each operand of the trip the gradient
        # flows to: no other operand spreads it (an invariant `b` may be smaller);
        # where those are all its operands, they share a shape, which it has
        arrays = [a for a in stmt.args if array(a)]
        ours = [a for a in arrays if a.name in varying and a.name in live]
        if ours and len(ours) == len(arrays):
            found += [(a, ours[0], False) for a in ours[1:]]
        else:
            found += [(Var(stmt.out), a, False) for a in ours]
    return found


def plan(fn: Function, base: Shapes, live: set) -> Plan | None:
    """The premises of `fn`'s loops that add to the facts `base` (which this
    does not change), and their checks; None where there are none. `live`:
    the values the gradient flows through."""
    shapes = copy.deepcopy(base)
    out = Plan()
    for k, loop in loops(fn):
        order = {}  # a value of the loop's body -> its position (later is better)
        for i, s in enumerate(loop.body.stmts):
            for o in getattr(s, "outs", ()):
                order[o] = i
        chosen: list[Var] = []  # one value per class a premise joined, checked
        links = []
        for a, b, carried in _premises(fn, loop, live):
            if shapes.same(a, b):
                continue
            if not carried and (shapes.is_scalar(a) or shapes.is_scalar(b)):
                continue  # a scalar meant to broadcast (`y - np.max(y)`)
            ends = []
            for x in (a, b):
                # a value already checked stands for its class; else the class's
                # value computed last in the body (`h_1`, not the `t6` it is tanh of)
                rep = SCALAR if shapes.is_scalar(x) else None
                rep = rep or next((c for c in chosen if shapes.same(c, x)), None)
                if rep is None:
                    peers = [
                        Var(v) for v in order if base.same(Var(v), x) and _named(v)
                    ]
                    rep = max(peers, key=lambda v: order[v.name], default=x)
                    chosen.append(rep)
                ends.append(rep)
            links.append(tuple(ends))
            out.premises.append((a, b))
            shapes.union(a, b)
            settle(shapes, Block([loop]))  # what the loop's next premise may find
        if links:
            out.checks[k] = _chains(links)
            settle(shapes, fn.body)
    for k, chains in out.checks.items():
        # groups the later premises joined are one comparison
        merged: list[list] = []
        for chain in chains:
            into = next((m for m in merged if shapes.same(m[0], chain[0])), None)
            if into is None:
                merged.append(list(chain))
            else:
                into += [v for v in chain if v not in into]
        out.checks[k] = merged
    return out if out.premises else None


def _named(name: str) -> bool:
    return not name.startswith("_")


def _chains(links: list[tuple[Var, Var]]) -> list[list[Var]]:
    """The values joined by `links`, one list per connected group."""
    groups: list[list[Var]] = []
    for a, b in links:
        ga = next((g for g in groups if a in g), None)
        gb = next((g for g in groups if b in g), None)
        if ga is None and gb is None:
            groups.append([a, b])
        elif ga is None:
            gb.append(a)
        elif gb is None:
            ga.append(b)
        elif ga is not gb:
            ga += gb
            groups.remove(gb)
    return groups


def insert_checks(fn: Function, found: Plan, names) -> None:
    """Each loop's checks at the end of its body. A value from before the loop
    (the initial `h0`) is checked by its shape, taken once before it."""
    stmts = fn.body.stmts
    for k in sorted(found.checks, reverse=True):
        loop = stmts[k]
        inside = trip_values(loop)
        before, args = [], []
        for chain in found.checks[k]:
            for v in chain:
                if isinstance(v, Var) and v.name not in inside:
                    taken = names.fresh(f"shape_{v.name}")
                    before.append(Assign((taken,), "shape", (v,), {}, loop.loc))
                    v = Var(taken)
                args.append(v)
        # one statement: `same_shapes(*values, groups=(4, 2))`, each group of one shape
        groups = Const(tuple(len(c) for c in found.checks[k]))
        loop.body.stmts.append(
            Assign((), "same_shapes", tuple(args), {"groups": groups}, loop.loc)
        )
        stmts[k:k] = before


def cost(fn: Function) -> int:
    """What the loops do for shapes alone: their `_unbroadcast` calls and the
    values their tapes keep."""

    def count(block, inside: bool) -> int:
        n = 0
        for stmt in block.stmts:
            if isinstance(stmt, Assign) and inside:
                if stmt.prim == "unbroadcast":
                    n += 1
                elif stmt.prim == "push":
                    n += len(stmt.args) - 1
            elif isinstance(stmt, Loop):
                n += count(stmt.body, True)
            elif not isinstance(stmt, Assign):
                n += count(stmt.then, inside) + count(stmt.orelse, inside)
        return n

    return count(fn.body, False)


def ranked_products(fn: Function, names) -> None:
    """A product of an invariant matrix `W` and a value `h` of the loop that is
    checked to keep a value's shape from before it (`h0`), `W @ h` or `h @ W`,
    as `np.dot`; and the adjoint of `h`, `_matmul_rhs(W, g, h)` or
    `_matmul_lhs(g, W, h)`, as `W_T.dot(g)` or `g.dot(W_T)`, with `W_T =
    np.transpose(W)` taken once: np.dot skips the matmul ufunc's dispatch, and
    no helper asks the ranks on every trip. They agree with `@` where `W` is a
    matrix and `h` a vector or a matrix, which one check before the loop makes
    sure of (`np.ndim(W) == 2 and 1 <= np.ndim(h0) <= 2`), with the trips'
    checks keeping `h` in the shape of `h0`; the adjoint `g` of a product has
    the product's shape, so `W_T`'s product with `g` has `h`'s.

    `h`'s shape must be checked before the product runs: np.dot, given a
    stack, returns another shape than `@`, on which the rest of the trip could
    fail. A carried `h` is (the initial value's rank before the loop, each
    next value at the end of the trip that made it). For a value the trip
    makes (`V @ h_1`, a read-out after the update), its group's comparison
    moves out of the trip's check to just before the product, where the
    group's values are all made by then."""
    from . import enabled

    if fn.general is None or not enabled("dot"):
        return
    stmts = fn.body.stmts
    for k in range(len(stmts) - 1, -1, -1):  # checks go in before loops
        loop = stmts[k]
        if not isinstance(loop, Loop) or loop.reverse:
            continue
        check = next((s for s in loop.body.stmts if _is_check(s)), None)
        if check is None:
            continue
        body = loop.body.stmts
        made_at = {o: i for i, s in enumerate(body) for o in getattr(s, "outs", ())}
        kept_together = groups(check)
        kept, checked = _kept_shapes(stmts[:k], loop, kept_together)
        inside = trip_values(loop)
        ranked: dict[Atom, tuple] = {}  # value -> the ranks checked
        adjoints: list[tuple[Var, Var, str]] = []
        early: list[tuple[int, list]] = []  # (position, group) checked before a product
        for i, s in enumerate(body):
            if not (
                isinstance(s, Assign)
                and s.prim == "matmul"
                and len(s.args) == 2
                and not s.kwargs
                and all(isinstance(a, Var) for a in s.args)
            ):
                continue
            a, b = s.args
            # `W @ h`: h's adjoint is matmul_rhs(W, g); `h @ W`: matmul_lhs(g, W)
            for w, h, adjoint in ((a, b, "matmul_rhs"), (b, a, "matmul_lhs")):
                if w.name in inside:
                    continue
                init = kept.get(h.name)
                if init is None and h.name in checked:
                    init, group = checked[h.name]
                    made = [made_at.get(getattr(v, "name", None), -1) for v in group]
                    if max(made) >= i:
                        continue  # a value of its group comes after the product
                    if all(g is not group for _, g in early):
                        early.append((i, group))
                if init is None:
                    continue
                s.prim = "dot"
                adjoints.append((w, h, adjoint))
                ranked.setdefault(w, (2,))
                ranked.setdefault(init, (1, 2))
                break
        if ranked:
            _check_early(loop, check, kept_together, early)
            _transposed_adjoints(stmts, k + 1, adjoints, names)
            ranks = {"ranks": Const(tuple(ranked.values()))}
            stmts.insert(k, Assign((), "check_ranks", tuple(ranked), ranks, loop.loc))


def _kept_shapes(before: list, loop: Loop, kept_together: list) -> tuple[dict, dict]:
    """What the trips' checks keep in the shape of a value from before the
    loop: `(carried, made)`. `carried`: each carried value whose next values
    keep its initial value's shape, with that value (`h`: `h0`); `made`:
    each value of a group of the check that holds such a shape, with the
    value and the group (`h_1`: `h0` and `[h_1, shape_h0, t3, t2]`)."""
    shape_of = {
        s.out: s.args[0]
        for s in before
        if isinstance(s, Assign) and s.prim == "shape" and len(s.outs) == 1
    }
    made = {}
    for g in kept_together:
        init = next(
            (shape_of[v.name] for v in g if getattr(v, "name", None) in shape_of), None
        )
        if isinstance(init, (Var, Const)):
            made.update({v.name: (init, g) for v in g if isinstance(v, Var)})
    carried = {
        c: init
        for c, init, res in zip(loop.carried, loop.inits, loop.body.results)
        if isinstance(res, Var) and made.get(res.name, (None,))[0] == init
    }
    return carried, made


def _check_early(loop: Loop, check: Assign, kept_together: list, early: list) -> None:
    """Each group in `early` (one of `kept_together`, the groups of the trip's
    `check`) compared just before its product, in a statement of its own, and
    no longer in `check`, which goes where no group is left in it."""
    if not early:
        return
    body = loop.body.stmts
    moved = [g for _, g in early]
    rest = [g for g in kept_together if all(g is not m for m in moved)]
    for i, group in sorted(early, key=lambda e: -e[0]):  # the later first
        grouped = {"groups": Const((len(group),))}
        body.insert(i, Assign((), "same_shapes", tuple(group), grouped, check.loc))
    if rest:
        check.args = tuple(v for g in rest for v in g)
        check.kwargs = {"groups": Const(tuple(len(g) for g in rest))}
    else:  # by identity: an early check of the same group equals it
        body[:] = [s for s in body if s is not check]


def _is_check(stmt) -> bool:
    return isinstance(stmt, Assign) and stmt.prim == "same_shapes"


def _transposed_adjoints(stmts: list, start: int, adjoints: list, names) -> None:
    """In the backward loops from `stmts[start]` on, `x = matmul_rhs(W, g)` (or
    `matmul_lhs(g, W)`) and `y = unbroadcast(x, h)` become `x = W_T.dot(g)` (or
    `g.dot(W_T)`), read as `y`: the product has the shape of `h`, which the
    forward trips checked. `W_T = W.T` is taken once before the loop."""
    j = start
    while j < len(stmts):
        loop = stmts[j]
        j += 1
        if not (isinstance(loop, Loop) and loop.reverse):
            continue
        body = loop.body.stmts
        made = {s.out: s for s in body if isinstance(s, Assign) and len(s.outs) == 1}
        transposed: dict[Var, str] = {}
        for s in list(body):
            if not (isinstance(s, Assign) and s.prim == "unbroadcast"):
                continue
            x, like = s.args
            product = made.get(getattr(x, "name", None))
            if product is None or len(product.args) != 2 or product.kwargs:
                continue
            w = next(
                (
                    w
                    for w, h, adjoint in adjoints
                    if like == h
                    and product.prim == adjoint
                    and product.args[0 if adjoint == "matmul_rhs" else 1] == w
                ),
                None,
            )
            if w is None:
                continue
            reads = sum(
                a == x for t in walk(loop.body) for a in getattr(t, "args", ())
            ) + sum(r == x for r in loop.body.results)
            if reads != 1:
                continue
            if w not in transposed:
                transposed[w] = names.fresh(f"{w.name}_T")
                stmts.insert(
                    j - 1, Assign((transposed[w],), "transpose", (w,), {}, loop.loc)
                )
                j += 1
            wt = Var(transposed[w])
            if product.prim == "matmul_rhs":
                product.args = (wt, product.args[1])
            else:
                product.args = (product.args[0], wt)
            product.prim = "dot"
            body.remove(s)
            rename(loop.body, {s.out: x.name})
