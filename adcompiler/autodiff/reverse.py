"""Reverse mode: the adjoint of a function, as a new IR function.

The generated function runs the forward sweep (the user's computation, which
keeps every intermediate the backward sweep reads), then the backward sweep:
the definitions in reverse order, each asking the rule table for its
vector-Jacobian product. A value used several times receives one
contribution per use; they are summed once into `d_<name>`, which every
later rule then reads, so the notes' shared δ is one variable.

Structured control flow stays structured:

- the backward of an `if` is an `if` on the same condition value, whose
  branches hold the backward of the forward branches and yield the
  adjoints of the values the branches read from outside;
- the backward of a loop is a loop over the same trips in reverse
  (`for t in reversed(range(...))`, or `for _ in range(trips)` for a loop
  that can stop early), carrying the adjoints of the loop-carried values and
  accumulating the adjoints of the values the body reads from outside. Each
  forward trip pushes the values of that trip the backward body reads onto a
  tape (a list); each backward trip pops them. The tape holds one tuple a
  trip: memory grows linearly with the number of trips.
"""

from __future__ import annotations

import copy

from ..errors import ADCompileError
from ..ir import (
    Assign,
    Atom,
    Block,
    Const,
    Function,
    If,
    Loop,
    Var,
    defs,
    is_undef,
    rename,
    uses,
    walk,
)
from ..passes import activity, enabled, specialize, steady
from ..passes.dce import dce
from ..passes.hoist import lengths_of, row_loop
from ..passes.shapes import analyze
from ..passes.shift import invariant_shifts
from ..passes.simplify import spread_over
from ..rules import PRIMS
from ..rules.arrays import IndexContrib, PathContrib
from ..rules.core import NO_RULE_YET, NOT_ARRAYS
from ..rules.numpy import matrix_product
from .emitter import Emitter, Names, is_temp
from .fresh import own_gradients


class _Unproven(Exception):
    """A loop's carried adjoint was assumed to keep its value's shape, and the
    backward body does not show it does (see `Sweep.loop`)."""


def reverse(
    fn: Function,
    argnums: tuple[int, ...],
    with_value: bool,
    name: str,
    names: Names,
    seeded: bool = False,
    has_aux: bool = False,
) -> Function:
    """`_reverse`, assuming where example arguments give a loop's carried value a
    known shape that its adjoint keeps it too, and proving it; if a loop does
    not bear that out, again from the start without assuming it."""
    args = (argnums, with_value, name, names, seeded, has_aux)
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop) and stmt.reverse:
            raise ADCompileError(
                "a loop over `reversed(...)`, a generated gradient's backward sweep, "
                "which reverse mode does not differentiate: the gradient of a "
                "function with a loop cannot be differentiated again by grad",
                stmt.loc,
                "hessian, hvp and jacfwd differentiate a gradient in forward mode, "
                "loops included",
            )
    if not fn.traced:
        return _steady(fn, *args)
    try:
        return _reverse(copy.deepcopy(fn), *args, assume=True)
    except _Unproven:
        return _reverse(fn, *args)


def _steady(
    fn: Function,
    argnums: tuple[int, ...],
    with_value: bool,
    name: str,
    names: Names,
    seeded: bool,
    has_aux: bool,
) -> Function:
    """`_reverse`, with a fast path for loops whose trips keep their shapes
    (passes/steady.py): derived with the premises that they do, it checks
    them a trip, and where one fails returns what `general`, the function
    derived without them, returns."""
    if seeded or not enabled("steady") or not any(steady.loops(fn)):
        return _reverse(fn, argnums, with_value, name, names, seeded, has_aux)
    # each function takes its names afresh: the two read alike
    fast_names = copy.deepcopy(names)
    general = _reverse(
        copy.deepcopy(fn), argnums, with_value, name, names, seeded, has_aux
    )
    base = analyze(fn.body, scalar_result=True)
    wrt = {fn.params[i] for i in argnums}
    found = steady.plan(fn, base, activity.active(fn.body, wrt, fn.body.results))
    if found is None:
        return general
    fast_fn = copy.deepcopy(fn)
    steady.insert_checks(fast_fn, found, fast_names)

    def derive(fresh: Names, assume: bool) -> Function:
        return _reverse(
            copy.deepcopy(fast_fn),
            argnums,
            with_value,
            name,
            fresh,
            seeded,
            has_aux,
            assume=assume,
            premises=found.premises,
        )

    try:
        # the trips' checks keep each carried value's shape, so its adjoint is
        # assumed to keep it too (Sweep.loop), and proven, or derived again without
        assumed_names = copy.deepcopy(fast_names)
        try:
            fast, fast_names = derive(assumed_names, True), assumed_names
        except _Unproven:
            fast = derive(fast_names, False)
    except ADCompileError:  # what the general gradient did not refuse
        return general
    if steady.cost(fast) >= steady.cost(general):
        return general
    # the later passes take fresh names for both from `names`
    names.taken |= fast_names.taken
    names.counter = max(names.counter, fast_names.counter)
    general.name = names.fresh(f"_{general.name}_general")
    fast.general = general
    return fast


def _reverse(
    fn: Function,
    argnums: tuple[int, ...],
    with_value: bool,
    name: str,
    names: Names,
    seeded: bool = False,
    has_aux: bool = False,
    assume: bool = False,
    premises=(),
) -> Function:
    """The function returning the gradients of `fn` (and its value, if `with_value`).

    With `seeded` (vjp), the adjoint of each result is a cotangent parameter
    instead of the constant 1.0, results need not be scalars, and a
    `begin_backward` marker separates the forward sweep from the backward one:
    codegen writes the backward as a nested function over the cotangents.
    With `has_aux`, `fn` returns `(value, aux)`: only `value` is differentiated,
    and `aux` comes back as the last result, untouched.
    """
    aux: tuple = ()
    if has_aux:
        aux = _split_aux(fn, names)
    if seeded:
        return _seeded(fn, argnums, name, names, aux, assume)
    body = fn.body
    if len(body.results) != 1:
        raise ADCompileError(
            f"{fn.name} returns {len(body.results)} values; grad needs one scalar",
            fn.loc,
            "use vjp or jacobian for functions with several outputs",
        )
    (result,) = body.results
    traced = dict(fn.traced)
    if isinstance(result, Var) and is_temp(result.name):
        old = result.name
        rename(body, {old: names.fresh("out")})
        (result,) = body.results
        if old in traced:
            traced[result.name] = traced.pop(old)
    if traced.get(getattr(result, "name", None), ()) != ():
        raise ADCompileError(
            f"with the example arguments, {fn.name} returns an array of shape "
            f"{traced[result.name]}; grad needs a scalar",
            fn.loc,
            "use vjp or jacobian for functions with several outputs",
        )
    facts = analyze(body, known=traced)
    proven_scalar = facts.is_scalar(result) or not fn.checks
    if premises and not proven_scalar:
        # the loops' checks (a sum `total_1.shape == ()` a trip) have run by
        # the time the result is checked, after the forward sweep
        kept = analyze(body, known=traced, premises=premises)
        proven_scalar = kept.is_scalar(result)
    plain = analyze(body, scalar_result=True, known=traced)
    # what the checks of a loop's trips bear out holds only after the loop: the
    # checks at entry read the facts without it
    shapes = (
        analyze(body, scalar_result=True, known=traced, premises=premises)
        if premises
        else plain
    )
    wrt = [fn.params[i] for i in argnums]
    live = activity.active(body, set(wrt), body.results)
    if enabled("shift"):
        live -= invariant_shifts(body)

    e = Emitter(names, shapes)
    e.adopt(body.stmts)
    e.order = _witnesses(fn, body, wrt, live)
    forward = {o for stmt in walk(body) for o in defs(stmt)}
    forward |= {
        c for stmt in walk(body) if isinstance(stmt, Loop) for c in stmt.carried
    }
    if not proven_scalar:
        # The shape facts assumed a scalar result; make sure, as JAX does, and as
        # cheaply as possible: where the result is a scalar whenever some
        # arguments are, check those instead of computing the result for it.
        roots = [
            p
            for p in fn.params
            if plain.is_scalar(Var(p)) and not facts.is_scalar(Var(p))
        ]
        if (
            not with_value  # the value is computed anyway: checking it costs nothing
            and roots
            and analyze(body, scalars=roots, known=traced).is_scalar(result)
        ):
            for p in roots:
                e.call("check_scalar", Var(p), Const(fn.name), Const(True))
                # a check of an argument needs nothing computed: it goes first
                e.stmts.insert(0, e.stmts.pop())
        elif not with_value and (product := _defined_by_matmul(body, result)):
            # `u @ h` is a scalar exactly when u and h are vectors: checking them
            # spares computing the product, which the gradient does not need
            e.call(
                "check_scalar_matmul", *product.args, Const(fn.name), loc=product.loc
            )
        else:
            e.call("check_scalar", result, Const(fn.name), Const(False))

    sweep = _sweep(e, live, forward, fn, assume, premised=bool(premises))
    contributions: dict[str, list] = {}
    if isinstance(result, Var) and result.name in live:
        contributions[result.name] = [Const(1.0)]
    sweep.block(body, contributions, None)

    grads = _gradients(e, sweep, wrt, contributions, fn.loc)
    tapes = [Assign((t,), "new_tape", ()) for t in sweep.tapes]
    results = ((result,) if with_value else ()) + tuple(grads) + aux
    checks = float_checks(fn, wrt, names)
    if fn.examples and fn.checks:
        checks.insert(0, specialize.guard(fn, fn.examples, names.temp()))
    out = Function(
        name,
        list(fn.params),
        dce(Block(checks + tapes + e.stmts, results)),
        fn.loc,
        fn.doc,
        constants=list(fn.constants),
        return_line=fn.return_line,
    )
    first = 1 if with_value else 0
    grads = own_gradients(out, first, len(grads), e.shapes, names)
    _name_adjoints(out, wrt, grads, names, len(aux))
    if not fn.examples or specialize.casts_needed(fn, fn.examples):
        out.casts, out.cast_sources = _promotable(out, wrt, len(aux), fn)
    out.examples = fn.examples
    return out


def _defined_by_matmul(body: Block, result: Atom) -> Assign | None:
    """The statement `result = a @ b` of two named values, at the top level."""
    for stmt in body.stmts:
        if isinstance(stmt, Assign) and stmt.outs == (getattr(result, "name", None),):
            args = stmt.args
            if stmt.prim == "matmul" and len(args) == 2 and not stmt.kwargs:
                return stmt if all(isinstance(x, Var) for x in args) else None
    return None


def _summed_product(stmt, defined: dict, read: dict, target: Var):
    """The product in `_unbroadcast(_matmul_lhs(g, h), a)`, the adjoint of `a` in
    `a @ h` summed to the shape of `a` (h may be a stack of matrices): over a
    loop's trips it sums as the product alone does, since `_matmul_lhs_sum(gs,
    hs, a)` sums its total to the shape of `a` itself. None for anything else."""
    if getattr(stmt, "prim", None) != "unbroadcast" or stmt.args[1] != target:
        return None
    product = stmt.args[0]
    inner = defined.get(getattr(product, "name", None))
    if getattr(inner, "prim", None) in ("matmul_lhs", "matmul_rhs"):
        if read.get(product.name) == 1:
            return inner
    return None


def _witnesses(fn: Function, body: Block, wrt: list[str], live: set[str]) -> list[str]:
    """The values an adjoint may take its shape and dtype from (`np.full_like(x, g)`):
    the differentiated parameters and the active values, which are floats. Any
    other value may be an integer (a loop counter) or a boolean (a comparison),
    and `np.full_like(k, g)` would truncate the adjoint to it. A value that is
    not an array (`np.linalg.slogdet`'s pair) is none either."""
    top = [
        o
        for stmt in body.stmts
        if not (isinstance(stmt, Assign) and stmt.prim in NOT_ARRAYS)
        for o in defs(stmt)
    ]
    return [p for p in fn.params if p in wrt] + [o for o in top if o in live]


def _seeded(
    fn: Function, argnums, name: str, names: Names, aux=(), assume=False
) -> Function:
    """`name(*params) -> (*results, *grads)`, the grads after a `begin_backward` marker."""
    body = fn.body
    for r in body.results:  # a returned expression reads as `out` (and `d_out`)
        if isinstance(r, Var) and is_temp(r.name):
            rename(body, {r.name: names.fresh("out")})
    shapes = analyze(body)
    wrt = [fn.params[i] for i in argnums]
    live = activity.active(body, set(wrt), body.results)
    if enabled("shift"):
        live -= invariant_shifts(body)
    seeds = []
    for r in body.results:
        base = r.name if isinstance(r, Var) else "out"
        seeds.append(names.fresh(f"d_{base}"))
        shapes.union(Var(seeds[-1]), r)
    e = Emitter(names, shapes)
    e.adopt(body.stmts)
    e.order = _witnesses(fn, body, wrt, live)
    e.emit(Assign((), "begin_backward", ()))
    forward = {o for stmt in walk(body) for o in defs(stmt)}
    forward |= {
        c for stmt in walk(body) if isinstance(stmt, Loop) for c in stmt.carried
    }
    sweep = _sweep(e, live, forward, fn, assume)
    contributions: dict[str, list] = {}
    for r, seed in zip(body.results, seeds):
        if isinstance(r, Var) and r.name in live:
            contributions.setdefault(r.name, []).append(Var(seed))
    sweep.block(body, contributions, None)
    grads = _gradients(e, sweep, wrt, contributions, fn.loc)
    tapes = [Assign((t,), "new_tape", ()) for t in sweep.tapes]
    checks = float_checks(fn, wrt, names)
    out = Function(
        name,
        list(fn.params),
        dce(Block(checks + tapes + e.stmts, tuple(body.results) + tuple(grads) + aux)),
        fn.loc,
        fn.doc,
        constants=list(fn.constants),
        return_line=fn.return_line,
        backward_params=seeds,
        aux=len(aux),
    )
    grads = own_gradients(out, len(body.results), len(grads), e.shapes, names)
    _name_adjoints(out, wrt, grads, names, len(aux))
    out.casts, out.cast_sources = _promotable(out, wrt, len(aux), fn)
    return out


def float_checks(fn: Function, wrt: list[str], names: Names) -> list[Assign]:
    """`check_float(p, "p")` for each differentiated parameter: an integer, boolean or
    complex argument is an error, not a silently wrong gradient. A generated
    gradient read back checks its parameters already; they are not checked twice.
    A parameter whose example is a float or a float array needs no check (the
    guard of the examples makes sure), and with `checks=False` none is made."""
    if not fn.checks:
        return []
    done = {
        s.args[0].name
        for s in fn.body.stmts
        if isinstance(s, Assign)
        and s.prim == "check_float"
        and isinstance(s.args[0], Var)
    }
    return [
        Assign((names.temp(),), "check_float", (Var(p), Const(p)))
        for p in wrt
        if p not in done and not _float_example(fn.examples.get(p))
    ]


def _float_example(example) -> bool:
    return example is not None and (
        example.kind == specialize.FLOAT or example.dtype.startswith("float")
    )


# Prims whose result's dtype is their own, not their operands': booleans and
# integers meet a Python float as float64 (`(z > 0) * 2.0`), and so do `np.where`'s
# and the creations' constants (`np.where(z > y, 1.0, 0.0)` from a float32 `z`).
_OWN_DTYPE = frozenset(
    "eq ne lt le gt ge and or not logical_and logical_or logical_not all any "
    "where select ones zeros eye zeros_any zeros_list int len shape ndim size count "
    "arange full".split()
)
# Among them, the Python ints of a shape: `1.0 / len(X)` is a float, and a gradient
# that reads them also reads what they multiply (source "<int>", not "<dtype>").
_SHAPE_INTS = frozenset({"len", "shape", "ndim", "size"})


def _sources(fn: Function) -> dict[str, set[str]]:
    """The inputs (parameters, constants) each value is computed from; a value that
    is, or is computed from, a result with its own dtype (`_OWN_DTYPE`, or a value
    computed from constants alone) has the source "<dtype>" too ("<int>" for the
    ints of a shape, `_SHAPE_INTS`)."""
    deps: dict[str, set[str]] = {p: {p} for p in list(fn.params) + list(fn.constants)}

    def of(atoms) -> set[str]:
        return {d for a in atoms if isinstance(a, Var) for d in deps.get(a.name, ())}

    changed = True
    while changed:  # loops carry values around: to a fixed point
        changed = False
        for stmt in walk(fn.body):
            if isinstance(stmt, Assign):
                found = of(stmt.operands())
                if stmt.prim in _SHAPE_INTS:
                    found.add("<int>")
                elif stmt.prim in _OWN_DTYPE or not found:
                    # from constants alone: `np.clip(0.5, -0.5, 0.5)` is a
                    # float64, which NumPy promotes a float32 array to
                    found.add("<dtype>")
                targets = stmt.outs or [
                    a.name for a in stmt.args[:1] if isinstance(a, Var)
                ]
            else:  # an `if` or a loop: its values may come from anything it reads
                blocks = (
                    [stmt.then, stmt.orelse] if isinstance(stmt, If) else [stmt.body]
                )
                if isinstance(stmt, Loop) and stmt.cond is not None:
                    blocks.append(stmt.cond)
                found = of(stmt.operands()) | of(
                    Var(n) for b in blocks for n in uses(b)
                )
                targets = list(defs(stmt))
                if isinstance(stmt, Loop):
                    targets += list(stmt.carried) + ([stmt.index] if stmt.index else [])
            for t in targets:
                if not found <= deps.setdefault(t, set()):
                    deps[t] |= found
                    changed = True
    return deps


def _promotable(
    fn: Function, wrt: list[str], n_aux: int, primal: Function
) -> tuple[dict[int, str], list[str] | None]:
    """The gradients NumPy's promotion may have widened, by result position: those
    computed from an input other than their parameter (a float32 `x` meeting a
    float64 `y` gives a float64 `x * y`). Containers' gradients are left as built.
    With them, the inputs they are computed from: where each is a Python float or
    a float64 array, every gradient is already float64, and codegen skips the
    casts. None where that does not follow: where the function names a dtype
    (`dtype=np.float32`), or a gradient reads a value of its own dtype, which
    may reach it unmixed (`np.where(x > 0, 2, 3) * x` has the integer gradient
    `np.where(x > 0, 2, 3)`, cast to float64 only at the return)."""
    first = len(fn.body.results) - len(wrt) - n_aux
    deps = _sources(fn)
    containers = {
        s.out for s in walk(fn.body) if isinstance(s, Assign) and s.prim == "grad_like"
    }
    casts, sources = {}, set()
    for k, p in enumerate(wrt):
        g = fn.body.results[first + k]
        if not isinstance(g, Var) or g.name in containers or p in fn.lists:
            continue
        if deps.get(g.name, set()) - {p}:
            casts[first + k] = p
            sources |= deps[g.name] - {"<int>"}
    # names_a_dtype reads the primal: the gradient's checks name its arguments
    if "<dtype>" in sources or specialize.names_a_dtype(primal):
        return casts, None
    inputs = list(fn.params) + list(fn.constants)
    return casts, [x for x in inputs if x in sources]


def _sum_to(e: Emitter, c: Atom, arg: Var) -> Atom | None:
    """`c.sum(axis=0)`: the sum of `c` over the axes `arg` was broadcast along,
    where example arguments tell both shapes; None where they do not, where
    the sum would need a reshape too (new leading axes and kept ones at once),
    or where `c` must be spread to `arg`'s shape (a stand-in `y` of shape (1, 3)
    for the adjoint of an `x` of shape (2, 3))."""
    cs, xs = e.shapes.concrete(c), e.shapes.concrete(arg)
    if cs is None or xs is None or len(cs) < len(xs):
        return None
    lead = len(cs) - len(xs)
    if any(m != n and n != 1 for m, n in zip(cs[lead:], xs)):
        return None  # `c` is smaller than `arg` somewhere: a sum cannot make it `arg`'s
    kept = [lead + i for i, n in enumerate(xs) if n == 1 and cs[lead + i] != 1]
    if lead and kept:
        return None
    axes = tuple(range(lead)) or tuple(kept)
    if not axes:
        return c
    if axes == (0,) and not kept and len(cs) == 2:
        # a bias's sum over the batch: BLAS's product with ones (helpers.py)
        summed = e.call("sum_over_batch", c)
    else:
        axis = Const(axes[0] if len(axes) == 1 else axes)
        keep = {"keepdims": Const(True)} if kept else {}
        summed = e.call("sum", c, axis=axis, **keep)
    e.shapes.union(summed, arg)
    return summed


def _maybe_undefined(sweep, body: Block) -> None:
    for stmt in walk(body):
        if isinstance(stmt, If):
            for o, a, b in zip(stmt.outs, stmt.then.results, stmt.orelse.results):
                if is_undef(a) or is_undef(b):
                    sweep.maybe_undefined.add(o)
        elif isinstance(stmt, Loop):
            for o, c, i in zip(stmt.outs, stmt.carried, stmt.inits):
                if is_undef(i):
                    sweep.maybe_undefined |= {o, c}


def _sweep(
    e: Emitter, live: set, forward: set, fn: Function, assume: bool, premised=False
):
    """The backward sweep of `fn`'s body, before it has swept anything."""
    sweep = Sweep(e, live, forward)
    sweep.lists = set(fn.lists)
    sweep.lengths = lengths_of(fn.body)
    sweep.assume = assume
    sweep.premised = premised
    _maybe_undefined(sweep, fn.body)
    return sweep


def _gradients(e: Emitter, sweep, wrt: list[str], contributions: dict, loc) -> list:
    """The gradient of each parameter in `wrt`, each under the name it has once all
    are made: a later one may name a value an earlier one is (d_x and d_z both
    `np.ones_like(x)`, named d_z)."""
    grads = [_param_grad(e, sweep, p, contributions.get(p), loc) for p in wrt]
    return [e.current(g) for g in grads]


def _param_grad(e: Emitter, sweep, p: str, parts, loc) -> Atom:
    """The gradient of parameter `p` from its adjoint's contributions."""
    if parts and any(isinstance(c, PathContrib) for c in parts):
        return _tree_grad(e, sweep, p, parts, loc)
    if parts is None:
        return e.call("zeros_like", Var(p), name=e.names.fresh(f"d_{p}"))
    g = sweep.accumulate(p, parts)
    if isinstance(g, Const) or sweep.stands_in(g, Var(p)):
        g = e.call("full_like", Var(p), g)
    elif _defined_by(e, g, "broadcast_to"):
        g = e.call("copy", g)  # a broadcast view is read-only; a gradient is not
    elif not e.shapes.same(g, Var(p)) and sweep.merged(g):
        # a value merged from branches or trips may be a scalar zero
        g = e.call("unbroadcast", g, Var(p))
    return g


def _split_aux(fn: Function, names: Names) -> tuple:
    """`return value, aux`: keep `value` as the result; returns `(aux,)`."""
    body = fn.body
    if len(body.results) != 2:
        raise ADCompileError(
            f"{fn.name} returns {len(body.results)} values; with has_aux=True it must "
            "return a pair (value, aux)",
            fn.loc,
        )
    aux = body.results[1]
    if isinstance(aux, Var) and is_temp(aux.name):
        rename(body, {aux.name: names.fresh("aux")})
        aux = body.results[1]
    body.results = body.results[:1]
    return (aux,)


# Elementwise ops whose every contribution is the upstream adjoint times a
# value of the full broadcast shape or of the other operand's shape.
SPREAD_PRIMS = {"mul", "div", "pow", "maximum", "minimum", "fmax", "fmin", "where"}
# What runs on an object array of arrays as on each of them (batch_trips)
_TRIP_ARITHMETIC = {"add", "sub", "mul", "div", "pow", "neg"}


class Sweep:
    """Builds the backward sweep of nested blocks into one emitter."""

    def __init__(self, e: Emitter, live: set[str], forward: set[str]):
        self.e = e
        self.live = live
        self.forward = forward
        self.tapes: list[str] = []
        self._merged: set[str] = set()
        self.maybe_undefined: set[str] = set()
        self.lists: set[str] = set()
        # n -> xs, for each `n = len(xs)` of the body (hoist.lengths_of)
        self.lengths: dict[str, str] = {}
        self.assume = False  # carried adjoints keep their values' shapes (Sweep.loop)
        self.premised = False  # derived on a steady loop's premises (passes/steady.py)
        self.depth = 0  # how many blocks enclose the statement being swept
        # a batch list -> the value each trip appends to it (Sweep.batch_products)
        self.appended: dict[str, Atom] = {}

    def merged(self, g: Atom) -> bool:
        return isinstance(g, Var) and g.name in self._merged

    # -- stand-ins ------------------------------------------------------------------
    # The adjoint of `np.sum(v)` is an array like `v` filled with the upstream
    # scalar. The sweep keeps that scalar instead (a stand-in) as long as the
    # rules it meets are elementwise over operands of `v`'s shape: there a
    # scalar broadcasts exactly like the filled array would, so `d_v * w`
    # reads as `g * w` and no array of ones is ever built.

    def stands_in(self, g: Atom, v: Atom) -> bool:
        """Is `g`, a scalar, the adjoint of the (maybe) non-scalar `v`?"""
        shapes = self.e.shapes
        return shapes.is_scalar(g) and not shapes.is_scalar(v)

    def exact(self, g: Atom, v: Atom) -> Atom:
        """The adjoint as an array of `v`'s shape, built from a stand-in if need be."""
        if not self.stands_in(g, v) or isinstance(v, Const):
            return g
        return self.e.call("full_like", self.e.witness(v), g)

    def _standin_passes(self, stmt: Assign, prim) -> str | None:
        """How a stand-in goes through an elementwise op, if it can.

        'exact': the active operands have the result's shape, so a scalar
        broadcasts exactly as the filled array would. 'spread': a product or
        quotient, whose contributions carry the other operand's shape (`s * b`);
        summing them back to the operand (`_unbroadcast`) gives what the filled
        array would. Anything else (`a + b` with a broadcast `a`) needs the array.
        """
        if prim.shape != "elementwise":
            return None
        out = Var(stmt.out)
        how = "exact"
        for arg, rule in zip(stmt.args, prim.vjp):
            if rule is not None and isinstance(arg, Var) and arg.name in self.live:
                if not self.e.shapes.same(arg, out):
                    if stmt.prim not in SPREAD_PRIMS:
                        return None
                    # `where(c, g, 0)`, the contribution to a branch, has the
                    # result's shape only through the condition: a condition of
                    # another shape would lose the axes the other branch brings.
                    # (`g * b` is summed back to `a` whatever the shapes.)
                    if stmt.prim == "where" and not self.e.shapes.same(
                        stmt.args[0], out
                    ):
                        return None
                    how = "spread"
        return how

    # -- blocks -------------------------------------------------------------------

    def block(self, fwd: Block, contrib: dict, tape: str | None) -> None:
        """Emit the backward of `fwd`; contributions to outer values are left in `contrib`."""
        outer = self.e.origin
        self.depth += 1
        for stmt in reversed(list(fwd.stmts)):
            self.e.origin = stmt.loc or outer  # what the source map names
            if isinstance(stmt, Assign):
                self.assign(stmt, contrib)
            elif isinstance(stmt, If):
                self.branch(stmt, contrib, tape)
            elif isinstance(stmt, Loop):
                self.loop(stmt, contrib)
        self.depth -= 1
        self.e.origin = outer

    def assign(self, stmt: Assign, contrib: dict) -> None:
        if len(stmt.outs) != 1 or stmt.out not in contrib:
            return
        e = self.e
        if _is_const_true(stmt.kwargs.get("tree")):
            # a leaf (or branch) of a container: its adjoint goes to a path of the container
            parts = contrib.pop(stmt.out)
            paths = [p for p in parts if isinstance(p, PathContrib)]
            rest = [p for p in parts if not isinstance(p, PathContrib)]
            key = stmt.args[1].value
            base = stmt.args[0]
            if not (isinstance(base, Var) and base.name in self.live):
                return
            found = contrib.setdefault(base.name, [])
            found += [PathContrib((key,) + p.path, p.g) for p in paths]
            if rest:
                found.append(PathContrib((key,), self.accumulate(stmt.out, rest)))
            return
        g = self.accumulate(stmt.out, contrib.pop(stmt.out))
        prim = PRIMS[stmt.prim]
        out = Var(stmt.out)
        standin = self.stands_in(g, out) and self._standin_passes(stmt, prim)
        if self.stands_in(g, out) and not standin and not _adds_a_number(stmt):
            g = self.exact(g, out)
        for i, (arg, rule) in enumerate(zip(stmt.args, prim.vjp)):
            if rule is None or not isinstance(arg, Var) or arg.name not in self.live:
                if rule is None and i in NO_RULE_YET.get(stmt.prim, ()):
                    if isinstance(arg, Var) and arg.name in self.live:
                        raise _no_rule(stmt, i)
                continue
            c = rule(e, g, out, *stmt.args, **stmt.kwargs)
            if c is None or isinstance(c, IndexContrib):
                pass
            elif standin == "exact":
                # `arg` has the result's shape; `c` has it too, or is a stand-in for it,
                # or is smaller (`g * b` with a broadcast `b`) and is spread over it.
                if not (e.shapes.same(c, arg) or e.shapes.is_scalar(c)):
                    c = e.broadcast_like(c, arg)
            elif standin == "spread" and not e.shapes.same(c, arg):
                c = self.unbroadcast(c, arg)
            elif prim.broadcasts and not e.shapes.same(out, arg):
                c = self.unbroadcast(c, arg)
            if c is not None:
                contrib.setdefault(arg.name, []).append(c)

    def unbroadcast(self, c: Atom, arg: Var) -> Atom:
        """The contribution `c` summed to the shape of `arg`, which it may exceed."""
        e = self.e
        if e.is_scalar(arg):
            return c if e.is_scalar(c) else e.call("sum", c)
        reduction = e.shapes.inside.get(arg.name)
        if reduction is not None and e.shapes.same(c, reduction.args[0]):
            # `arg` is a keepdims reduction of a value of `c`'s shape (`m` in `x - m`):
            # summing `c` over the reduced axes, kept, gives `arg`'s shape
            axis = reduction.kwargs.get("axis")
            over = {} if axis is None else {"axis": axis}
            return e.call("sum", c, **over, keepdims=True)
        summed = _sum_to(e, c, arg)
        if summed is not None:
            return summed
        # the shape from a value computed anyway: `logp` in `_unbroadcast(g, logp)`
        # may be needed for nothing else
        return e.call("unbroadcast", c, e.witness(arg))

    def accumulate(self, name: str, parts: list, base: Atom | None = None) -> Atom:
        """Sum the contributions to one adjoint; a sum computed here is named `d_<name>`.

        Contributions to entries (`d[i] += g`) go into a zero buffer, or into
        `base`, an accumulator this sweep owns.
        """
        e = self.e
        if base is None and name not in self.lists and enabled("simplify"):
            parts = self._fill_zeroed(parts)
        dense = [p for p in parts if not isinstance(p, IndexContrib)]
        if len(dense) > 1 and name not in self.lists:
            # the same contribution twice (both uses of w in `w * w`) is doubled, not re-added
            counts: dict = {}
            for p in dense:
                counts[p] = counts.get(p, 0) + 1
            dense = [p if k == 1 else e.mul(float(k), p) for p, k in counts.items()]
            if enabled("shapes"):
                dense = self._unspread(name, dense)
        scattered = [p for p in parts if isinstance(p, IndexContrib)]
        total = base
        if scattered:
            like: Atom = Var(name)
            if name in self.lists and dense and scattered[0].zeros == "zeros_list":
                # A loop's tape keeps the list itself, which later trips append
                # to: its entries now are not those it had. The adjoint's other
                # part (`g[:-1]` of the append after) has one entry per entry then.
                like = dense[0]
            buf = base if base is not None else e.buffer(scattered[0].zeros, like)
            for p in scattered:
                prim = "index_add" if p.basic else "index_add_at"
                if p.zeros == "zeros_any":
                    prim = "index_add_any"
                buf = e.buffer(prim, buf, p.index, p.g)
            total = buf
        if base is not None and dense and name not in self.lists and enabled("inplace"):
            # the accumulator is a buffer this sweep owns: add in place
            sum_ = dense[0]
            for p in dense[1:]:
                sum_ = e.add(sum_, p)
            total = e.buffer("iadd", total, sum_)
            dense = []
        for p in dense:
            if total is None:
                total = p
            elif name in self.lists:
                total = e.call("add_each", total, p)
            else:
                total = e.add(total, p)
        if (
            isinstance(total, Var)
            and is_temp(total.name)
            and total.name not in self.forward
            and any(total.name in s.outs for s in e.stmts)
        ):
            # An adjoint of a temporary stays a temporary (`d__t3`); codegen names it after its value.
            renamed = e.name_value(total, e.names.fresh(f"d_{name}"))
            if total.name in self._merged:
                self._merged.add(renamed.name)
            return renamed
        return total

    def _unspread(self, name: str, dense: list) -> list:
        """A reduction's adjoint spread to the shape of its operand `name`
        (`np.broadcast_to(g, np.shape(x))`, 2.6 µs for the call) need not be
        where another contribution has that shape: the sum broadcasts `g` itself
        (`d_x = d_t1 + g`, a layer norm's mean, a softmax's normalizer)."""
        e, like = self.e, Var(name)
        spread = {p: g for p in dense if (g := spread_over(e, p, like)) is not None}
        if not spread or not any(
            p not in spread and e.shapes.same(p, like) for p in dense
        ):
            return dense
        return [spread.get(p, p) for p in dense]

    def _fill_zeroed(self, parts: list) -> list:
        """`y[i] = f(y[i])` gives `y` two contributions: the adjoint with entries `i`
        zeroed (`t = g.copy(); t[i] = 0.0`) and, scattered into zeros, what goes
        through `f` (`z = np.zeros_like(y); z[i] += d`). Their sum is the adjoint
        with `d` written into those entries, `t[i] = d`; where `d` is `g[i]` itself
        (`y[i] -= c`), it is `g`. Basic indices only: they name each entry once."""
        e = self.e
        if not any(isinstance(p, IndexContrib) and p.basic for p in parts) or all(
            isinstance(p, IndexContrib) for p in parts
        ):
            return parts  # nothing scattered to write back, or no zeroed adjoint
        made = {s.out: s for s in e.stmts if isinstance(s, Assign) and len(s.outs) == 1}
        parts = list(parts)
        for p in [p for p in parts if isinstance(p, IndexContrib)]:
            if not p.basic or p.zeros != "zeros_like":
                continue
            for k, d in enumerate(parts):
                zeroed = made.get(getattr(d, "name", None))
                if not (
                    zeroed is not None
                    and zeroed.prim == "setitem"
                    and not zeroed.kwargs
                    and _same_index(zeroed.args[1], p.index)
                    and zeroed.args[2] == Const(0.0)
                ):
                    continue
                src = zeroed.args[0]
                read = made.get(getattr(p.g, "name", None))
                if (
                    read is not None
                    and read.prim == "getitem"
                    and read.args[0] == src
                    and _same_index(read.args[1], p.index)
                ):
                    parts[k] = src  # the entries written back are g's own
                else:
                    parts[k] = e.call("setitem", src, p.index, p.g)
                parts.remove(p)
                break
        return parts

    def zero(self, name: str) -> Atom:
        if name in self.lists:
            return self.e.call("zeros_list", Var(name))
        if self.e.shapes.is_scalar(Var(name)) or name in self.maybe_undefined:
            return Const(0.0)
        return self.e.call("zeros_like", Var(name))

    # -- if -----------------------------------------------------------------------

    def branch(self, stmt: If, contrib: dict, tape: str | None) -> None:
        e = self.e
        gs = {}
        for i, out in enumerate(stmt.outs):
            if out in contrib:
                gs[i] = self.exact(self.accumulate(out, contrib.pop(out)), Var(out))
        if not gs:
            return
        built = []
        for blk in (stmt.then, stmt.orelse):
            e.push_scope(blk.stmts)
            c: dict = {}
            for i, g in gs.items():
                r = blk.results[i]
                if isinstance(r, Var) and r.name in self.live:
                    c.setdefault(r.name, []).append(g)
            self.block(blk, c, tape)
            sums = {n: self.accumulate(n, parts) for n, parts in c.items()}
            built.append((e.pop_scope(), sums))
        names = list(dict.fromkeys([*built[0][1], *built[1][1]]))
        if not names:
            return
        outs = tuple(e.names.fresh(f"d_{n}") for n in names)
        # A stand-in (a scalar for an array filled with it) may leave the branches
        # only if it does on both sides: the merged adjoint is then a stand-in too.
        # Otherwise the rules after the `if` take the merged value for an array of
        # the value's shape, so each stand-in becomes that array in its branch.
        # (A value defined on one path only has no shape to build one from after
        # the `if`: there its adjoint is built in the branch, or is a zero.)
        standin = {
            n: n not in self.maybe_undefined
            and all(
                n not in sums or self.stands_in(sums[n], Var(n)) for _, sums in built
            )
            for n in names
        }
        blocks = []
        for fwd, (stmts, sums) in zip((stmt.then, stmt.orelse), built):
            e.push_scope(fwd.stmts)  # zeros for this branch are made in it
            e.stmts = stmts
            results = tuple(
                (
                    (sums[n] if standin[n] else self.exact(sums[n], Var(n)))
                    if n in sums
                    else Const(0.0) if standin[n] else self.zero(n)
                )
                for n in names
            )
            blk = dce(Block(e.pop_scope(), results))
            if tape is not None:
                self.save(fwd, blk, tape, set())
            blocks.append(blk)
        e.emit(If(outs, stmt.cond, blocks[0], blocks[1], stmt.loc))
        for k, (n, o) in enumerate(zip(names, outs)):
            if standin[n]:
                e.shapes.union(Var(o), Const(0.0))
            elif all(e.shapes.same(b.results[k], Var(n)) for b in blocks):
                e.shapes.union(Var(o), Var(n))
        for n, o in zip(names, outs):
            self._merged.add(o)
            contrib.setdefault(n, []).append(Var(o))

    # -- loops ----------------------------------------------------------------------

    def loop(self, stmt: Loop, contrib: dict) -> None:
        e = self.e
        gs = {}
        for i, out in enumerate(stmt.outs):
            if out in contrib:
                gs[i] = self.exact(self.accumulate(out, contrib.pop(out)), Var(out))
        if not gs:
            return
        active = [i for i, c in enumerate(stmt.carried) if c in self.live or i in gs]
        active = [i for i in active if not is_undef(stmt.inits[i]) or i in gs]
        # the adjoint carried through the trips, one per active carried value
        params = {i: e.names.fresh(f"d_{stmt.carried[i]}") for i in active}
        early = stmt.brk is not None or stmt.cond is not None
        if early and stmt.trips is None:
            stmt.trips = e.names.fresh("trips")
        tape = e.names.fresh("tape")

        # Where example arguments fix a carried value's shape, or a steady loop's
        # checks keep it that of its initial value, and the adjoint enters the
        # loop with it, assume each trip's adjoint keeps it; the trips' own
        # adjoints must then prove it (by induction), or the sweep starts over.
        assumed = [
            i
            for i in active
            if self.assume
            and i in gs
            and (self.premised or e.shapes.concrete(Var(stmt.carried[i])) is not None)
            and e.shapes.same(gs[i], Var(stmt.carried[i]))
        ]
        for i in assumed:
            e.shapes.union(Var(params[i]), Var(stmt.carried[i]))
        e.push_scope(stmt.body.stmts)
        c: dict = {}
        for i in active:
            r = stmt.body.results[i]
            if isinstance(r, Var) and r.name in self.live:
                c.setdefault(r.name, []).append(Var(params[i]))
        self.block(stmt.body, c, tape)
        nexts = []
        for i in active:
            parts = c.pop(stmt.carried[i], None)
            # the next trip takes its adjoint for an array of the carried value's
            # shape, as the first does: a stand-in (`d_y1 = 0.0` where a trip
            # read only `np.sum(y1)`) becomes that array here
            nexts.append(
                self.exact(
                    self.accumulate(stmt.carried[i], parts), Var(stmt.carried[i])
                )
                if parts
                else self.zero(stmt.carried[i])
            )
            if i in assumed and not e.shapes.same(nexts[-1], Var(stmt.carried[i])):
                raise _Unproven(stmt.carried[i])
        xs, rows = row_loop(stmt, self.lengths)
        batched = self.batch_products(c, nexts, xs, rows) if enabled("batch") else []
        # what the body reads from outside accumulates over the trips
        outer = list(c)
        acc_params = [e.names.fresh(f"d_{n}") for n in outer]
        acc_nexts = [
            self.accumulate(n, c[n], base=Var(p)) for n, p in zip(outer, acc_params)
        ]
        body = dce(Block(e.pop_scope(), tuple(nexts) + tuple(acc_nexts)))
        if enabled("batch") and not early:
            self.batch_trips(stmt, body, {*params.values(), *acc_params})
        self.save(stmt.body, body, tape, self._trip_values(stmt, early))
        acc_inits = [e.buffer(_zeros_for(c[n]), Var(n)) for n in outer]
        for _, _, _, lists in batched:
            for f in lists:
                e.emit(Assign((f,), "new_tape", (), {}, stmt.loc))

        inits = tuple(gs.get(i) or self.zero(stmt.outs[i]) for i in active)
        carried = tuple(params[i] for i in active) + tuple(acc_params)
        outs = tuple(e.names.fresh(f"d_{stmt.carried[i]}") for i in active)
        outs += tuple(e.names.fresh(f"d_{n}") for n in outer)
        if early:
            back = Loop(
                outs,
                None,
                Const(0),
                Var(stmt.trips),
                Const(1),
                carried,
                inits + tuple(acc_inits),
                body,
                stmt.loc,
            )
        else:
            back = Loop(
                outs,
                stmt.index,
                stmt.start,
                stmt.stop,
                stmt.step,
                carried,
                inits + tuple(acc_inits),
                body,
                stmt.loc,
                reverse=True,
            )
        e.emit(back)
        for k, (init, nxt) in enumerate(zip(back.inits, body.results)):
            n = stmt.carried[active[k]] if k < len(active) else outer[k - len(active)]
            if e.shapes.same(init, nxt) and e.shapes.same(init, Var(n)):
                e.shapes.union(Var(outs[k]), Var(n))
        for k, i in enumerate(active):
            init = stmt.inits[i]
            if isinstance(init, Var) and init.name in self.live:
                self._merged.add(outs[k])
                contrib.setdefault(init.name, []).append(Var(outs[k]))
        for n, o in zip(outer, outs[len(active) :]):
            contrib.setdefault(n, []).append(Var(o))
        stacks: dict[str, Atom] = {}
        trips = e.shapes.concrete(Var(xs)) if xs else None
        runs = bool(trips and trips[0] > 0)  # surely a trip at least
        for n, prim, operands, _ in batched:
            total = self.batched_sum(prim, operands, Var(n), stacks, runs, stmt.loc)
            contrib.setdefault(n, []).append(total)

    # what a loop's backward body would add into an accumulator on every trip:
    # the lists of factors it appends to instead, by role (g: the adjoint)
    _BATCHED = {
        "matmul_lhs": ("matmul_lhs_sum", ("gs", "xs")),
        "outer": ("matmul_lhs_sum", ("gs", "xs")),
        "matmul_rhs": ("matmul_rhs_sum", ("xs", "gs")),
        "unbroadcast": ("unbroadcast_sum", ("gs",)),
    }

    def _batched(self, stmt, rows: set) -> tuple:
        """`(prim, roles)` of `_BATCHED` for a contribution's statement; `(0, 0)` if none.
        `np.multiply.outer(g, h)` with a vector `h` (or `(a, g)` with a vector
        `a`), the outer product of an adjoint whose rank is not known, sums over
        the trips as `_matmul_lhs` (or `_matmul_rhs`) does; so does
        `np.outer(xs[t], g)` with the trip's row first (the adjoint of U in
        `xs[t] @ U`), so that `xs` can stand for its list."""
        prim = getattr(stmt, "prim", None)
        if prim == "outer" and stmt.args[0] in map(Var, rows):
            return self._BATCHED["matmul_rhs"]
        if prim == "multiply_outer":
            a, b = stmt.args
            if self.e.rank(b) == 1:
                return self._BATCHED["matmul_lhs"]
            if self.e.rank(a) == 1:
                return self._BATCHED["matmul_rhs"]
        return self._BATCHED.get(prim, (0, 0))

    # the same sums where the non-adjoint factor is the trip's row of an array
    _ROWS = {
        "matmul_lhs_sum": "matmul_lhs_rows_sum",
        "matmul_rhs_sum": "matmul_rhs_rows_sum",
    }

    def batch_products(self, c: dict, nexts: list, xs: str | None, rows: set) -> list:
        """Take out of `c` (the contributions of one trip to values read from outside the
        loop) the products `_matmul_lhs(g, h)`, `_matmul_rhs(a, g)`, `np.outer(g, h)`
        and `np.multiply.outer(g, h)` and the sums `_unbroadcast(g, b)` that nothing
        else in the trip reads; the trip appends their factors to lists instead, and
        after the loop one product (or sum) of the stacked factors sums them all:
        `G.T @ H` in place of one outer product and one `+=` per trip.

        Where the loop visits every row of an array `xs` in order and a factor is
        the trip's row `xs[t]` (one of `rows`; hoist.row_loop), `xs` itself stands
        for its list: `_matmul_lhs_rows_sum(gs, xs, U)` is `G.T @ xs`.

        Returns `(name, prim, operands, lists)` for each one taken out:
        `prim(*operands, name)` after the loop is its sum; `lists` names the
        operands that are lists the trips append to (the others are arrays of rows)."""
        e = self.e
        defined = {s.outs[0]: s for s in e.stmts if isinstance(s, Assign) and s.outs}
        parts = [p for ps in c.values() for p in ps]
        read = uses(Block(list(e.stmts), tuple(nexts) + tuple(parts)))
        found: list = []
        pushed: dict = {}  # value -> its list: a value is appended once
        for n in list(c):
            if n in self.lists:
                continue
            kept = []
            for p in c[n]:
                stmt = defined.get(getattr(p, "name", None))
                stmt = _summed_product(stmt, defined, read, Var(n)) or stmt
                prim, roles = self._batched(stmt, rows)
                if not (
                    not prim
                    or read[p.name] != 1  # read by more than the accumulation
                    or set(stmt.kwargs) - {"vectors"}  # emitter.outer's mark only
                    or prim == "unbroadcast_sum"
                    and stmt.args[1] != Var(n)  # the shape of a value of the trip
                ):
                    args = stmt.args
                elif stmt is not None and self._whole(p, Var(n)):
                    # `d_b += d_z`, an adjoint of the trip of `b`'s own shape
                    prim, roles, args = "unbroadcast_sum", ("gs",), (p,)
                else:
                    kept.append(p)
                    continue
                operands, lists = [], []
                for role, value in zip(roles, args):
                    if role == "xs" and getattr(value, "name", None) in rows:
                        operands.append(Var(xs))
                        prim = self._ROWS[prim]
                        continue
                    if value not in pushed:
                        pushed[value] = f = e.names.fresh(f"{role}_{n}")
                        self.appended[f] = value
                        e.emit(Assign((), "push", (Var(f), value), {}, stmt.loc))
                        lists.append(f)
                    operands.append(Var(pushed[value]))
                found.append((n, prim, tuple(operands), tuple(lists)))
            if kept:
                c[n] = kept
            else:
                del c[n]
        return found

    def batched_sum(
        self, prim: str, operands: tuple, n: Var, stacks: dict, runs: bool, loc
    ):
        """After a loop, the sum over its trips that `batch_products` took out:
        `prim(*operands, n)`, a helper that stacks the lists and falls back to one
        product a trip where they do not stack. Where example arguments tell that
        every trip appends vectors of one shape, it is written as an expert does:
        each list stacked once (`G_b = np.array(gs_b)`), shared by every sum that
        reads it, and `G_b.sum(axis=0)`, `G_b.T @ X_W`, `G_b.T @ xs[::-1]` (the
        lists hold the trips from the last to the first). `stacks` holds the
        lists stacked so far; unless the loop surely `runs` a trip, a stack gets
        its rows' shape (no trip at all stacks to shape (0,))."""
        e = self.e
        lists = [o for o in operands if o.name in self.appended]
        if not lists or not all(self._stackable(o, prim) for o in lists):
            return e.call(prim, *operands, n, loc=loc)
        for o in lists:
            if o.name not in stacks:  # gs_b -> G_b, xs_W -> X_W
                role, _, of = o.name.partition("_")
                name = e.names.fresh(f"{role[0].upper()}_{of}")
                if runs:
                    stacked = e.call("array_list", o, loc=loc, name=name)
                else:  # no trip at all stacks to shape (0,): give it its rows' shape
                    shape = (-1, *e.shapes.concrete(self.appended[o.name]))
                    stacked = e.call("array_list", o, loc=loc)
                    stacked = e.call(
                        "reshape", stacked, Const(shape), loc=loc, name=name
                    )
                stacks[o.name] = stacked
        s = [stacks.get(o.name, o) for o in operands]
        backwards = Const(slice(None, None, -1))
        if prim == "unbroadcast_sum":
            total = e.call("sum", s[0], axis=Const(0), loc=loc)
            e.shapes.union(total, self.appended[operands[0].name])
            return _sum_to(e, total, n) or e.call("unbroadcast", total, n, loc=loc)
        if prim in ("matmul_lhs_rows_sum", "matmul_rhs_rows_sum"):
            # the rows of `xs` in the order the lists hold the trips
            k = 1 if prim == "matmul_lhs_rows_sum" else 0
            s[k] = e.call("getitem", s[k], backwards, basic=Const(True), loc=loc)
        left = e.call("T", s[0], loc=loc)
        right = operands[1]
        if right.name in self.appended or e.rank(right) == 2:  # a stack of vectors
            return matrix_product(e, left, s[1], loc=loc)
        return e.call("matmul", left, s[1], loc=loc)

    def _stackable(self, o: Var, prim: str) -> bool:
        """Every trip appends a value of one known shape to the list `o`: a
        vector, unless the list is summed as it is (`unbroadcast_sum`)."""
        shape = self.e.shapes.concrete(self.appended[o.name])
        return shape is not None and (len(shape) == 1 or prim == "unbroadcast_sum")

    def batch_trips(self, loop: Loop, back: Block, back_carried: set[str]) -> None:
        """Compute before the backward loop, for all trips at once, what its body
        computes elementwise from the trip's forward values alone: `1.0 - h * h`
        (tanh') becomes `t = 1.0 - H * H` on the stacked `H` of every trip's `h`
        before the loop and `t[t_index]` in it, one NumPy call in place of one a
        trip, as an expert's backpropagation through time writes it.

        Where example arguments tell the shapes, only those the same on every
        trip, so that stacking gives a leading trip axis that broadcasts right.
        Without them, only arithmetic (`+ - * / **`, negation) of trip values of
        the result's shape with scalars: `_stack_trips` stacks the trips where
        their shapes agree, and else makes an object array of them, on which
        the same arithmetic runs trip by trip. Only for a loop at the function's
        top level (its forward trips are appended to a list once per call) from
        0 by 1 (the index is the trip)."""
        e = self.e
        if not (
            self.depth == 1
            and loop.index is not None
            and not loop.reverse
            and loop.start == Const(0)
            and loop.step == Const(1)
        ):
            return
        trip = {o for s in loop.body.stmts for o in defs(s)} | set(loop.carried)
        local = {o for s in back.stmts for o in defs(s)} | back_carried | {loop.index}
        stacked: dict[str, str] = {}  # a trip value or batched value -> all trips'
        for k, s in enumerate(back.stmts):
            if not (
                isinstance(s, Assign)
                and len(s.outs) == 1
                and PRIMS[s.prim].shape == "elementwise"
            ):
                continue
            out = e.shapes.concrete(Var(s.out))
            names = [a.name for a in s.operands() if isinstance(a, Var)]
            per_trip = [n for n in names if n in trip or n in stacked]
            others = [n for n in names if n not in per_trip]
            invariant = [e.shapes.concrete(Var(n)) for n in others]
            if out is None:  # shapes unknown: arithmetic with scalars, trip by trip
                fits = s.prim in _TRIP_ARITHMETIC and all(
                    e.shapes.same(Var(n), Var(s.out)) for n in per_trip
                )
                fits = fits and all(e.shapes.is_scalar(Var(n)) for n in others)
            else:
                fits = all(e.shapes.concrete(Var(n)) == out for n in per_trip) and all(
                    # an invariant of higher rank would broadcast against the trip axis
                    d is not None and len(d) <= len(out)
                    for d in invariant
                )
            if not per_trip or not fits or any(n in local for n in others):
                continue
            for n in per_trip:
                if n in stacked:
                    continue
                trips = e.names.fresh(f"{n}_trips")  # the forward appends each trip's
                self.tapes.append(trips)
                loop.body.stmts.append(Assign((), "push", (Var(trips), Var(n))))
                plain = n.islower() and not is_temp(n)  # `H` for h; `t3_all` for t3
                stacked[n] = e.names.fresh(n.upper() if plain else f"{n}_all")
                stack = "array_list" if out is not None else "stack_trips"
                e.emit(Assign((stacked[n],), stack, (Var(trips),)))
            renamed = {n: Var(stacked[n]) for n in per_trip}
            args = tuple(renamed.get(getattr(a, "name", None), a) for a in s.args)
            kwargs = {
                key: renamed.get(getattr(a, "name", None), a)
                for key, a in s.kwargs.items()
            }
            stacked[s.out] = e.names.fresh(f"{s.out}_all")
            e.emit(Assign((stacked[s.out],), s.prim, args, kwargs, s.loc))
            back.stmts[k] = Assign(
                (s.out,),
                "getitem",
                (Var(stacked[s.out]), Var(loop.index)),
                {"basic": Const(True)},
                s.loc,
            )

    def _whole(self, p: Atom, v: Var) -> bool:
        """`p`, a contribution computed in the trip, is an array of `v`'s own shape:
        appending it and summing the stack after the loop replaces a `+=` a trip."""
        shapes = self.e.shapes
        return isinstance(p, Var) and shapes.same(p, v) and not shapes.is_scalar(p)

    def _trip_values(self, stmt: Loop, early: bool) -> set[str]:
        """Values of a trip the backward body may pop: carried values and, when not re-derived, the index."""
        found = set(stmt.carried)
        if early and stmt.index:
            found.add(stmt.index)
        return found

    def save(self, fwd: Block, back: Block, tape: str, extra: set[str]) -> None:
        """Push at the end of `fwd` what `back` reads of it; pop it at the start of `back`."""
        local = {o for s in fwd.stmts for o in defs(s)} | extra
        read = uses(back)
        needed = [n for n in read if n in local]
        if not needed:
            return
        if tape not in self.tapes:
            self.tapes.append(tape)
        fwd.stmts.append(Assign((), "push", (Var(tape), *map(Var, needed))))
        back.stmts.insert(0, Assign(tuple(needed), "pop", (Var(tape),)))


def _no_rule(stmt: Assign, i: int) -> ADCompileError:
    kind, *rest = PRIMS[stmt.prim].form
    what = ".".join(str(r) for r in rest if isinstance(r, str)) or stmt.prim
    what = {"np": f"np.{what}", "helper": what}.get(kind, what)
    return ADCompileError(
        f"`{what}` has no derivative rule for its argument {i + 1} yet, and a "
        "derivative flows through it; differentiating it would give a wrong (zero) "
        "gradient",
        stmt.loc,
        "most are met differentiating a generated gradient again (a second "
        "derivative through this construct is not supported yet); "
        "`adcompiler.custom_vjp` can give a function of yours its rule",
    )


def _same_index(a, b) -> bool:
    """Whether two indices are one: the same name, or equal constants (an array
    constant compares entry by entry, and is never a basic index)."""
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


def _is_const_true(a) -> bool:
    return isinstance(a, Const) and a.value is True


def _adds_a_number(stmt: Assign) -> bool:
    """An array's entries read by index take a stand-in as it is: `d[i] += 1.0`
    (np.add.at too) broadcasts the number over them as the filled array would,
    without `np.ones_like(x[i])`. Not a list's entry, nor a container's."""
    if stmt.prim != "getitem" or not enabled("standins"):
        return False
    return not any(_is_const_true(stmt.kwargs.get(k)) for k in ("seq", "any", "tree"))


def _tree_grad(e, sweep, p: str, parts: list, loc) -> Atom:
    """`_grad_like(params, {("W",): d_W, ...})`: the container's structure, leaf adjoints in it."""
    if any(not isinstance(c, PathContrib) for c in parts):
        raise ADCompileError(f"`{p}` is read both as a container and as an array", loc)
    groups: dict[tuple, list] = {}
    for c in parts:
        groups.setdefault(c.path, []).append(c.g)
    order = list(groups)[::-1]  # in the order the function reads them
    paths = tuple(order)
    leaves = [
        sweep.accumulate(f"{p}_{'_'.join(map(str, path))}", groups[path])
        for path in order
    ]
    return e.call(
        "grad_like", Var(p), *leaves, paths=Const(paths), name=e.names.fresh(f"d_{p}")
    )


def _zeros_for(parts) -> str:
    for p in parts:
        if isinstance(p, IndexContrib):
            return p.zeros
    return "zeros_like"


def _defined_by(e: Emitter, atom: Atom, prim: str) -> bool:
    return any(
        s.prim == prim and s.outs == (atom.name,)
        for s in e.stmts
        if isinstance(atom, Var) and isinstance(s, Assign)
    )


def _name_adjoints(fn: Function, wrt, grads, names: Names, n_aux: int = 0) -> None:
    """Each returned gradient reads as `d_<param>` in the generated code (`d_b = d_z`)."""
    first = len(fn.body.results) - len(grads) - n_aux
    for i, (p, g) in enumerate(zip(wrt, grads)):
        if not (isinstance(g, Var) and g.name.startswith(f"d_{p}")):
            fn.result_names[first + i] = names.fresh(f"d_{p}")
