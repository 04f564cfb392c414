"""Shift invariance: the max subtracted for numerical stability has no derivative.

The stable softmax family subtracts the row maximum before exponentiating:

    m = np.max(x, axis=1, keepdims=True)
    logp = (x - m) - np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))

`logp` is the same for every `m` (log-softmax is invariant under a shift
along the summed axis), and so are the softmax `e / np.sum(e, ...)` with
`e = np.exp(x - m)` and the logsumexp `m + np.log(np.sum(np.exp(x - m)))`.
The adjoint of `m` is therefore exactly zero; computed, it is a sum over the
array followed by the max's tie-splitting mask, a count, a division and a
product, all to add zero (up to rounding) to the gradient of `x`.

`invariant_shifts(body)` finds each `m = np.max(x, ...)` whose every use is one
of these patterns, over the same axis, and returns their names: the reverse
sweep treats them as constants, as JAX's `logsumexp` does with
`stop_gradient`. A use outside the patterns (`m` returned, `x - m` squared,
a sum over another axis) keeps the ordinary adjoint.
"""

from __future__ import annotations

from ..ir import Assign, Atom, Block, If, Loop, Var, walk


def _readers(body: Block) -> tuple[dict[str, list[Assign]], set[str]]:
    """Who reads each value; and the values read anywhere but by an assignment."""
    readers: dict[str, list[Assign]] = {}
    escaping: set[str] = set()

    def note(atoms, into_escaping: bool, stmt=None):
        for a in atoms:
            if isinstance(a, Var):
                if into_escaping:
                    escaping.add(a.name)
                else:
                    readers.setdefault(a.name, []).append(stmt)

    def block(b: Block):
        note(b.results, True)
        for stmt in b.stmts:
            if isinstance(stmt, Assign):
                note(list(stmt.args) + list(stmt.kwargs.values()), False, stmt)
            elif isinstance(stmt, If):
                note([stmt.cond], True)
                block(stmt.then)
                block(stmt.orelse)
            elif isinstance(stmt, Loop):
                note([stmt.start, stmt.stop, stmt.step, *stmt.inits], True)
                if stmt.brk is not None:
                    note([stmt.brk], True)
                if stmt.cond is not None:
                    block(stmt.cond)
                block(stmt.body)

    block(body)
    return readers, escaping


def invariant_shifts(body: Block) -> set[str]:
    readers, escaping = _readers(body)

    def uses(name: str) -> list[Assign] | None:
        """The assignments reading `name`, or None if it is read elsewhere too."""
        return None if name in escaping else readers.get(name, [])

    found = set()
    for stmt in walk(body):
        if not (isinstance(stmt, Assign) and stmt.prim == "amax" and stmt.args):
            continue
        axis, keep = stmt.kwargs.get("axis"), stmt.kwargs.get("keepdims")
        if not _aligned(axis, keep):
            continue
        if _only_shift_invariant(stmt.out, stmt.args[0], axis, keep, uses):
            found.add(stmt.out)
    return found


def _const(a: Atom | None):
    return getattr(a, "value", None) if a is not None else None


def _aligned(axis: Atom | None, keep: Atom | None) -> bool:
    """`x - m` shifts along the reduced axes: all of them, or kept as size 1."""
    if axis is not None and not hasattr(axis, "value"):
        return False
    return _const(axis) is None or _const(keep) is True


def _same_reduction(stmt: Assign, axis, keep) -> bool:
    if not _aligned(stmt.kwargs.get("axis"), stmt.kwargs.get("keepdims")):
        return False
    return _const(stmt.kwargs.get("axis")) == _const(axis) and bool(
        _const(stmt.kwargs.get("keepdims"))
    ) == bool(_const(keep))


def _only_shift_invariant(m: str, x: Atom, axis, keep, uses) -> bool:
    m_uses = uses(m)
    if not m_uses:
        return False
    shifted, lse_terms = [], []
    for r in m_uses:
        if r.prim == "sub" and r.args == (x, Var(m)):
            shifted.append(r.out)
        elif r.prim == "add" and Var(m) in r.args and len(r.args) == 2:
            other = r.args[1] if r.args[0] == Var(m) else r.args[0]
            lse_terms.append(other)
        else:
            return False
    if not shifted:
        return False
    lognorms: set[str] = set()  # log(sum(exp(s), axis)) for a shifted s
    sums: set[str] = set()  # sum(exp(s), axis)
    checks = []  # (kind, stmt) verified once every norm is known
    for s in shifted:
        s_uses = uses(s)
        if s_uses is None:
            return False
        for r in s_uses:
            if r.prim == "exp" and r.args == (Var(s),):
                e_uses = uses(r.out)
                if not e_uses:
                    return False
                for q in e_uses:
                    if q.prim == "sum" and q.args == (Var(r.out),):
                        if not _same_reduction(q, axis, keep):
                            return False
                        sums.add(q.out)
                        if not _sum_uses_ok(q.out, r.out, uses, lognorms, m, shifted):
                            return False
                    elif q.prim == "div" and q.args[0] == Var(r.out):
                        checks.append(("softmax", q))
                    else:
                        return False
            elif r.prim == "sub" and r.args[0] == Var(s):
                checks.append(("logsoftmax", r))
            else:
                return False
    for kind, r in checks:
        if kind == "softmax" and not (
            isinstance(r.args[1], Var) and r.args[1].name in sums
        ):
            return False
        if kind == "logsoftmax" and not (
            isinstance(r.args[1], Var) and r.args[1].name in lognorms
        ):
            return False
    return all(isinstance(t, Var) and t.name in lognorms for t in lse_terms)


def _sum_uses_ok(total: str, e: str, uses, lognorms: set[str], m: str, shifted) -> bool:
    """A normalizer is read by `log` (whose result is subtracted from a shifted
    value, or added to `m`) or divides `e`."""
    t_uses = uses(total)
    if not t_uses:
        return False
    for q in t_uses:
        if q.prim == "log" and q.args == (Var(total),):
            l_uses = uses(q.out)
            if l_uses is None:
                return False
            for u in l_uses:
                subtracted = (
                    u.prim == "sub"
                    and u.args[1] == Var(q.out)
                    and isinstance(u.args[0], Var)
                    and u.args[0].name in shifted
                )
                if not (subtracted or (u.prim == "add" and Var(m) in u.args)):
                    return False
            lognorms.add(q.out)
        elif q.prim == "div" and q.args == (Var(e), Var(total)):
            continue
        else:
            return False
    return True
