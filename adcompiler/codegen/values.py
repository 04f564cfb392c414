"""What generated code knows of its values: which are NumPy arrays or
scalars (and so have `.sum`, `.dot`), and which arrays the gradient made
itself, so that a later value may be written into one (`out=`) once its
last use has passed.
"""

from __future__ import annotations

from .. import passes
from ..ir import Assign, Block, Function, If, Loop, Var, rename, uses, walk
from ..rules import PRIMS
from ..rules.core import MATMUL_HELPERS, VIEWS


def _local_uses(block: Block) -> dict[str, int]:
    """Reads at the top level of a block (not in its nested blocks)."""
    counts: dict[str, int] = {}
    atoms = list(block.results)
    for stmt in block.stmts:
        atoms += list(stmt.operands())
    for a in atoms:
        if isinstance(a, Var):
            counts[a.name] = counts.get(a.name, 0) + 1
    return counts


# What NumPy returns whatever the operands: an array or a NumPy scalar (np.float64),
# both of which have the reduction methods. `np.shape`, `np.ndim`, `np.size` do not.
_NOT_NUMPY = {"shape", "ndim", "size"}


_ALWAYS_NUMPY_HELPERS = MATMUL_HELPERS


# Results that are NumPy values when their first operand is.
_LIKE_FIRST = {
    "getitem",
    "T",
    "reshape",
    "copy",
    "unbroadcast",
    "neg",
    "index_add",  # buffers updated in place
    "index_add_at",
    "iadd",
}


def _numpy_values(fn: Function) -> set[str]:
    """Values certainly a NumPy array or scalar, not a Python number or a list.

    Arguments are not (a Python float or a list may be passed), unless their
    example is an array (`grad(f, example_args=...)`). What a NumPy
    function returns is; so is an arithmetic result with a NumPy operand, and a
    matrix product (lists and Python numbers have no `@`). Codegen has merged
    names by now (a branch's result, a loop's carried value), so a name counts
    only if every statement that binds it makes a NumPy value.
    """
    binders: dict[str, list] = {}  # name -> its Assigns; None for any other binding
    for name in [*fn.params, *fn.constants, *(fn.backward_params or ())]:
        binders.setdefault(name, []).append(None)
    pushed: dict[str, list] = {}  # tape -> the values of each push onto it
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop):
            names = [*stmt.defs, *stmt.carried, *([stmt.index] if stmt.index else [])]
            bindings = [None] * len(names)
        elif isinstance(stmt, Assign) and stmt.prim == "pop":
            # a popped value is what was pushed at its position
            names, bindings = stmt.outs, [(stmt, k) for k in range(len(stmt.outs))]
        else:
            single = isinstance(stmt, Assign) and len(stmt.outs) == 1
            names, bindings = stmt.outs, [stmt if single else None] * len(stmt.outs)
        if isinstance(stmt, Assign) and stmt.prim == "push":
            pushed.setdefault(stmt.args[0].name, []).append(stmt.args[1:])
        for name, binding in zip(names, bindings):
            binders.setdefault(name, []).append(binding)
    # an argument whose example is an array is one: the guard makes sure
    numpy = {
        p
        for p, example in fn.examples.items()
        if example.kind == "array" and len(binders.get(p, ())) == 1
    }
    # a trip's row of a loop's products made before it (`U_xs[t]` of
    # `_matmul_rows(U, xs)` or `_rows_matmul(xs, U)`): a row of their array,
    # or one of their list
    rows = {
        s.out
        for s in walk(fn.body)
        if getattr(s, "prim", None) in ("matmul_rows", "rows_matmul")
    }
    indices = {s.index for s in walk(fn.body) if isinstance(s, Loop) and s.index}
    numpy |= {
        s.out
        for s in walk(fn.body)
        if isinstance(s, Assign)
        and s.prim == "getitem"
        and getattr(s.args[0], "name", None) in rows
        and getattr(s.args[1], "name", None) in indices
        and len(binders.get(s.out, ())) == 1
    }
    changed = True
    while changed:  # an operand proven NumPy may prove another value
        changed = False
        for name, bound in binders.items():
            if name not in numpy and all(_makes_numpy(b, numpy, pushed) for b in bound):
                numpy.add(name)
                changed = True
    return numpy


def _makes_numpy(binding, numpy: set[str], pushed: dict[str, list]) -> bool:
    """Whether `binding` (an Assign, (pop, position), or None) binds a NumPy value."""
    if binding is None:
        return False

    def known(a) -> bool:
        return isinstance(a, Var) and a.name in numpy

    if isinstance(binding, tuple):
        pop, k = binding
        pushes = pushed.get(pop.args[0].name, [])
        name = pop.outs[k]
        # the value pushed under the popped name itself is one of that name's others
        return bool(pushes) and all(
            len(v) > k and (v[k] == Var(name) or known(v[k])) for v in pushes
        )
    stmt = binding
    kind = PRIMS[stmt.prim].form[0]
    prim = stmt.prim
    return (
        (kind == "np" and prim not in _NOT_NUMPY)
        or prim == "matmul"
        or prim in _ALWAYS_NUMPY_HELPERS
        or (kind in ("binop", "compare") and any(map(known, stmt.args)))
        # `_unbroadcast(g, x)` is NumPy where `x` is: it brings `g` to `x`'s shape
        or (prim == "unbroadcast" and known(stmt.args[1]))
        or (
            prim in _LIKE_FIRST
            and bool(stmt.args)
            # `d[i] += g` rebinds `d`: what it held came from its other bindings
            and (known(stmt.args[0]) or stmt.args[0] == Var(stmt.out))
        )
    )


def _fresh_values(fn: Function) -> set[str]:
    """Values that certainly own their memory (a new array nobody else holds)."""
    fresh: set[str] = set()
    counts = uses(fn.body)
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and len(stmt.outs) == 1:
            kind = PRIMS[stmt.prim].form[0]
            if stmt.prim in ("setitem", "zeros_list") or (
                kind in ("binop", "unary", "np", "method") and stmt.prim not in VIEWS
            ):
                fresh.add(stmt.out)
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop):
            for c, init, r in zip(stmt.carried, stmt.inits, stmt.body.results):
                if (
                    isinstance(init, Var)
                    and init.name in fresh
                    and counts.get(init.name) == 1
                    and isinstance(r, Var)
                    and r.name in fresh
                ):
                    fresh.add(c)
    return fresh


def _alias_buffers(fn: Function) -> None:
    """A buffer updated in place keeps one name through its updates (`d_x[i] += g`)."""
    parent: dict[str, str] = {}

    def find(n):
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    fresh = _fresh_values(fn)
    counts = uses(fn.body)
    for stmt in walk(fn.body):
        if not isinstance(stmt, Assign):
            continue
        into = stmt.kwargs.get("out")
        if into is not None:
            name = _buffer_name(stmt, find)
            if name is not None:
                for n in {find(stmt.out), find(into.name)} - {name}:
                    parent[n] = name
            continue
        if not isinstance(stmt.args[0] if stmt.args else None, Var):
            continue
        in_place = stmt.prim in (
            "index_add",
            "index_add_at",
            "index_add_any",
            "append",
            "iadd",
        )
        if stmt.prim == "setitem":
            old = stmt.args[0].name
            in_place = (
                old in fresh and counts.get(old) == 1 and passes.enabled("inplace")
            )
        if in_place:
            _union(parent, find(stmt.out), find(stmt.args[0].name))
    mapping = {n: find(n) for n in parent if find(n) != n}
    if mapping:
        rename(fn.body, mapping)


def _buffer_name(stmt: Assign, find=lambda n: n) -> str | None:
    """The one name of a result written over its operand's memory
    (passes/buffers.py) and of that operand, or None where each keeps its own.

    A temporary, or the adjoint of one (`d__t2`), takes the operand's name
    (`t1 *= x`), unless that is the user's own (`t3 = np.multiply(h, h,
    out=h)`, not `h *= h`). A name of the user's is given to a temporary
    operand (`z1 = X @ W1`, then `z1 += b1`). An adjoint of the user's values
    keeps its name apart (`d_x = np.add(t1, t2, out=t1)`)."""
    into = stmt.kwargs["out"]
    if into not in stmt.args:
        return None
    buf, out = find(into.name), find(stmt.out)

    def temporary(n: str) -> bool:
        return n.startswith(("_t", "d__t"))

    def user(n: str) -> bool:
        return not n.startswith(("_t", "d_"))

    if temporary(out):
        return None if user(buf) else buf
    return out if user(out) and temporary(buf) else None


def _union(parent: dict[str, str], a: str, b: str) -> None:
    """One name for the roots `a` and `b`: a user-facing name (d_x) wins over a temporary."""
    if a != b:
        if b.startswith("_t") and not a.startswith("_t"):
            a, b = b, a
        parent[a] = b


def _popped(fn: Function) -> set[str]:
    return {
        o
        for s in walk(fn.body)
        if isinstance(s, Assign) and s.prim == "pop"
        for o in s.outs
    }


def _top_defs(block: Block) -> dict[str, int]:
    from ..ir import defs

    return {o: k for k, s in enumerate(block.stmts) for o in defs(s)}


def _coalesce(fn: Function) -> None:
    """Give merged and loop-carried values one name where that changes nothing.

    `z = x * y` then `z_2 = z` at the end of a branch becomes `z_2 = x * y`;
    `h_1 = f(h)` then `h = h_1` at the end of a loop body becomes `h = f(h)`;
    the value after a loop keeps the name the loop carried it under. Each
    rename is made only where no later read could see the other value.
    """

    def apply(mapping):
        rename(fn.body, mapping)

    def visit(block: Block):
        for k, stmt in enumerate(block.stmts):
            if isinstance(stmt, If):
                visit(stmt.then)
                visit(stmt.orelse)
                for i, o in enumerate(stmt.outs):
                    for b in (stmt.then, stmt.orelse):
                        r = b.results[i]
                        counts, popped = uses(fn.body), _popped(fn)
                        if (
                            isinstance(r, Var)
                            and r.name != o
                            and counts.get(r.name) == 1
                            and r.name in _top_defs(b)
                            and r.name not in popped
                            and not _is_buffer(b, r.name)
                        ):
                            apply({r.name: o})
            elif isinstance(stmt, Loop):
                visit(stmt.body)
                for i in range(len(stmt.carried)):
                    _coalesce_loop(fn, block, k, stmt, i, apply)

    visit(fn.body)


def _is_buffer(block: Block, name: str) -> bool:
    return any(
        isinstance(s, Assign)
        and s.out == name
        and s.prim in ("index_add", "index_add_at", "index_add_any", "iadd", "pop")
        for s in block.stmts
        if isinstance(s, Assign) and s.outs
    )


def _reads_after(stmts, names: set[str]) -> bool:
    return bool(set(uses(Block(list(stmts)))) & names)


def _unowned_update(stmt, c: str, fn: Function) -> bool:
    """Whether `stmt` is `c[i] = v`, which under one name becomes an update in place,
    on a `c` that may share its memory: the loop's first value, read elsewhere
    (`y_1 = y` before the loop), or a view of an argument. Written in place it
    would change that other value too."""
    return (
        isinstance(stmt, Assign)
        and stmt.prim == "setitem"
        and stmt.args[0] == Var(c)
        and c not in _fresh_values(fn)
    )


def _coalesce_loop(fn, block, k, stmt: Loop, i, apply) -> None:
    counts, popped = uses(fn.body), _popped(fn)
    init = stmt.inits[i]
    c = stmt.carried[i]
    # init → carried: the loop takes over the variable that held the first value
    if (
        isinstance(init, Var)
        and init.name not in fn.params
        and counts.get(init.name) == 1
        and _top_defs(block).get(init.name, k) < k
        and init.name not in popped
        and not _is_buffer(block, init.name)
    ):
        if init.name.startswith("_t"):
            apply({init.name: c})
        else:
            apply({c: init.name})
            c = init.name
        counts, popped = uses(fn.body), _popped(fn)
    # body result → carried: `h = f(h)` instead of `h_1 = f(h)`, `h = h_1`
    body = stmt.body
    r = body.results[i]
    defs = _top_defs(body)
    if (
        isinstance(r, Var)
        and r.name != c
        and counts.get(r.name) == 1
        and r.name in defs
        and isinstance(body.stmts[defs[r.name]], Assign)
        and not _is_buffer(body, r.name)
        and r.name not in popped
        and c not in popped
        and not _reads_after(body.stmts[defs[r.name] + 1 :], {c})
        and sum(1 for x in body.results if x == Var(c)) == 0
        and not _unowned_update(body.stmts[defs[r.name]], c, fn)
    ):
        apply({r.name: c})
    # out → carried: after the loop the variable still holds the last value
    o = stmt.outs[i]
    counts, popped = uses(fn.body), _popped(fn)
    if o in popped:
        return
    if c in popped:
        # a backward loop pops earlier values into `c`: the value after the
        # forward loop keeps a name of its own, whatever reads it and where
        return
    apply({o: c})
