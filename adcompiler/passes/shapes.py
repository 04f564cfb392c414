"""Shape facts: which values provably share a shape, and which ranks are known.

The compiler runs before any argument is seen, so it cannot know shapes. It
can still prove many facts, and each one removes a runtime check from the
generated code: `np.tanh(z)` has the shape of `z`; `x * 2.0` has the shape of
`x`; a Python `max` works on scalars; and `grad` requires a scalar result, so
the operands of a final elementwise product are scalars too. Facts are kept as
a union-find over value names; a class may carry a known rank.
"""

from __future__ import annotations

import copy
from numbers import Number

from ..ir import Assign, Atom, Block, Const, If, Loop, Var

SCALAR = "()"


_REDUCTIONS = {"sum", "mean", "amax", "amin", "var", "std", "prod"}
# getitem's marks of an entry of a list or a container
_ENTRIES = ("seq", "any", "tree")


class Shapes:
    def __init__(self):
        self.parent: dict[str, str] = {SCALAR: SCALAR}
        self.ranks: dict[str, int] = {SCALAR: 0}
        self.changed = False
        # A reduction with keepdims=True broadcasts back into its operand: `x - m`
        # with `m = np.max(x, axis=1, keepdims=True)` has the shape of `x`. Each
        # such value (or an elementwise image of one: `np.log(m)`) -> the reduction.
        self.inside: dict[str, Assign] = {}
        self.shape_tuples: set[str] = set()  # `np.shape(x)`: its entries are ints
        # The shape itself, where example arguments tell it (passes/specialize.py).
        self.dims: dict[str, tuple] = {SCALAR: ()}
        self.indices: set[str] = set()  # loop counters: ints, so `xs[t]` drops an axis
        # indices into vectors (`_interp_segment`'s): `v[i]` has the shape of `i`
        self.vector_indices: set[str] = set()
        # index -> (array, value read there) for each `getitem`: the same index of
        # two arrays of one shape reads one shape (`g[-1, :]` and `x[-1, :]`)
        self.items: dict[object, list[tuple[Atom, str]]] = {}

    def _find(self, name: str) -> str:
        parent = self.parent.setdefault(name, name)
        if parent != name:
            parent = self.parent[name] = self._find(parent)
        return parent

    def key(self, atom: Atom) -> str | None:
        if isinstance(atom, Const):
            is_number = isinstance(atom.value, Number) and not isinstance(
                atom.value, bool
            )
            return SCALAR if is_number else None
        return self._find(atom.name)

    def same(self, a: Atom, b: Atom) -> bool:
        ka, kb = self.key(a), self.key(b)
        return ka is not None and ka == kb

    def is_scalar(self, atom: Atom) -> bool:
        return self.key(atom) == SCALAR

    def concrete(self, atom: Atom) -> tuple | None:
        """The shape of `atom`, if example arguments tell it."""
        k = self.key(atom)
        return None if k is None else self.dims.get(k)

    def fix(self, name: str, shape: tuple) -> None:
        """`name` has this shape: it joins the class of every value of that shape."""
        self.union(Var(str(shape)), Var(name))
        # a class whose shape is known already keeps it (union refuses a clash)
        self.dims.setdefault(self._find(name), shape)
        self.set_rank(Var(name), len(shape))

    def rank(self, atom: Atom) -> int | None:
        k = self.key(atom)
        return None if k is None else self.ranks.get(k)

    def union(self, a: Atom, b: Atom) -> None:
        ka, kb = self.key(a), self.key(b)
        if ka is None or kb is None or ka == kb:
            return
        da, db = self.dims.get(ka), self.dims.get(kb)
        if da is not None and db is not None and da != db:
            return  # example arguments show the shapes differ (a keepdims (1, 3) and a (3,))
        if kb == SCALAR:  # keep SCALAR as the root of its class
            ka, kb = kb, ka
        ra, rb = self.ranks.get(ka), self.ranks.get(kb)
        self.parent[kb] = ka
        if ra is None and rb is not None:
            self.ranks[ka] = rb
        if ka not in self.dims and kb in self.dims:
            self.dims[ka] = self.dims[kb]
        self.changed = True

    def set_rank(self, atom: Atom, rank: int | None) -> None:
        k = self.key(atom)
        if k is None or rank is None or self.ranks.get(k) == rank:
            return
        if rank == 0:
            self.union(Const(0.0), atom)
        else:
            self.ranks[k] = rank
            self.changed = True

    # -- facts from one statement -------------------------------------------

    def infer(self, stmt: Assign) -> None:
        from ..rules import PRIMS

        prim = PRIMS[stmt.prim]
        out = Var(stmt.out)
        if prim.shape == "elementwise":
            self._elementwise(out, [a for a in stmt.args])
        elif prim.shape == "scalar":
            for a in (out, *stmt.args):
                self.union(Const(0.0), a)
        if prim.infer is not None:
            prim.infer(self, out, *stmt.args, **stmt.kwargs)
        if stmt.prim == "shape":
            self.shape_tuples.add(stmt.out)
        elif stmt.prim == "getitem" and _entry_of(stmt.args, self.shape_tuples):
            self.set_rank(out, 0)  # `X.shape[0]`
        keep = stmt.kwargs.get("keepdims")
        if stmt.prim in _REDUCTIONS and getattr(keep, "value", False) is True:
            self.inside[stmt.out] = stmt
        if stmt.prim in ("matmul", "dot") and len(stmt.args) == 2:
            shape = _matmul([self.concrete(a) for a in stmt.args])
            if shape is not None:
                self.fix(stmt.out, shape)
        elif stmt.prim == "T" and self.concrete(stmt.args[0]) is not None:
            self.fix(stmt.out, self.concrete(stmt.args[0])[::-1])
        elif stmt.prim == "getitem" and self._is_int(stmt.args[1]):
            shape = self.concrete(stmt.args[0])
            if shape:  # `xs[t]`: a row
                self.fix(stmt.out, shape[1:])
        elif stmt.prim == "getitem" and isinstance(stmt.args[1], Const):
            entry = any(getattr(stmt.kwargs.get(k), "value", False) for k in _ENTRIES)
            shape = None if entry else self.concrete(stmt.args[0])
            indexed = None if shape is None else _indexed(shape, stmt.args[1].value)
            if indexed is not None:  # `X[:, None, :]`
                self.fix(stmt.out, indexed)
        if stmt.prim == "getitem":
            self._same_item(stmt)
            if getattr(stmt.args[1], "name", None) in self.vector_indices:
                self.union(out, stmt.args[1])
        if stmt.prim in _REDUCTIONS and len(stmt.args) == 1:
            shape = _reduced(self.concrete(stmt.args[0]), stmt.kwargs)
            if shape is not None:
                self.fix(stmt.out, shape)
            elif _over_everything(stmt.kwargs):  # `np.max(y)`: one number
                self.set_rank(out, 0)

    def _same_item(self, stmt: Assign) -> None:
        """`g[i]` has the shape of `x[i]` where `g` has the shape of `x`: an index
        reads one shape whatever the array's values. Not an entry of a list or a
        container (`seq`, `any`, `tree`), whose entries' shapes may differ."""
        if any(getattr(stmt.kwargs.get(k), "value", False) for k in _ENTRIES):
            return
        base, idx = stmt.args[0], stmt.args[1]
        if self.key(base) is None:
            return
        # a name, or a constant index such as `(-1, slice(None, None, None))`
        key = (
            idx.name
            if isinstance(idx, Var)
            else ("=", repr(_dropping(getattr(idx, "value", idx))))
        )
        seen = self.items.setdefault(key, [])
        for other, read in seen:
            if self.same(other, base):  # classes merge as facts come: ask now
                self.union(Var(read), Var(stmt.out))
                break
        seen.append((base, stmt.out))

    def _is_int(self, atom: Atom) -> bool:
        if isinstance(atom, Const):
            return type(atom.value) is int
        return atom.name in self.indices

    def _fits_into(self, a: Atom, b: Atom) -> bool:
        reduction = self.inside.get(a.name) if isinstance(a, Var) else None
        return reduction is not None and self.same(reduction.args[0], b)

    def _elementwise(self, out: Var, args: list[Atom]) -> None:
        shape = _broadcast([self.concrete(a) for a in args])
        if shape is not None:
            self.fix(out.name, shape)
        arrays = [a for a in args if not self.is_scalar(a)]
        # a keepdims reduction broadcasts into an array of its operand's shape;
        # not into itself (a reduction over an axis of length 1 has that shape)
        arrays = [
            a
            for a in arrays
            if not any(self._fits_into(a, b) for b in arrays if b != a)
        ] or arrays
        if not arrays:
            self.union(out, Const(0.0))
        elif all(self.same(a, arrays[0]) for a in arrays):
            self.union(out, arrays[0])
        else:
            ranks = [self.rank(a) for a in args]
            if None not in ranks:
                self.set_rank(out, max(ranks))
        if self.is_scalar(out):  # only scalars broadcast to a scalar
            for a in args:
                self.union(out, a)
        if len(arrays) == 1 and isinstance(arrays[0], Var):  # `np.log(m)` fits too
            reduction = self.inside.get(arrays[0].name)
            if reduction is not None:
                self.inside[out.name] = reduction


def _broadcast(shapes: list) -> tuple | None:
    """The shape NumPy broadcasts these shapes to; None if one is unknown or they clash."""
    if not shapes or None in shapes:
        return None
    n = max(len(s) for s in shapes)
    out = []
    for i in range(n):
        sizes = {s[i - n + len(s)] for s in shapes if i - n + len(s) >= 0} - {1}
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _indexed(shape: tuple, index) -> tuple | None:
    """The shape of `x[index]` for an `x` of `shape` and a basic index (ints, slices,
    None, ...); None for any other index."""
    parts = index if isinstance(index, tuple) else (index,)
    if not all(p is None or p is Ellipsis or type(p) in (int, slice) for p in parts):
        return None
    return numpy_shape(shape, lambda x: x[index])


def numpy_shape(shape: tuple, op) -> tuple | None:
    """The shape of `op(x)` for an `x` of `shape`: NumPy's own answer, asked of a
    view of one number, which allocates nothing. None where NumPy raises (an
    axis or an index out of range): its error comes at run time."""
    import numpy as np

    x = np.lib.stride_tricks.as_strided(np.zeros(1), shape, (0,) * len(shape))
    try:
        return op(x).shape
    except (IndexError, TypeError, ValueError):  # AxisError is both of the first
        return None


def _matmul(shapes: list) -> tuple | None:
    """The shape of `a @ b` for 1-D and 2-D operands of these shapes."""
    a, b = shapes
    if a is None or b is None or not (0 < len(a) <= 2 and 0 < len(b) <= 2):
        return None
    if a[-1] != b[-2 if len(b) == 2 else 0]:
        return None
    return a[:-1] + (b[-1:] if len(b) == 2 else ())


def _reduced(shape: tuple | None, kwargs: dict) -> tuple | None:
    """The shape of a reduction (`np.sum(x, axis=1, keepdims=True)`) of a value of `shape`."""
    axis, keep = kwargs.get("axis", Const(None)), kwargs.get("keepdims", Const(False))
    if shape is None or not isinstance(axis, Const) or not isinstance(keep, Const):
        return None
    if set(kwargs) - {"axis", "keepdims", "ddof"}:
        return None
    axes = axis.value
    if axes is None:
        axes = tuple(range(len(shape)))
    elif type(axes) is int:
        axes = (axes,)
    try:
        axes = {a + len(shape) if a < 0 else a for a in axes}
    except TypeError:
        return None
    if not all(0 <= a < len(shape) for a in axes):
        return None
    if keep.value is True:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _over_everything(kwargs: dict) -> bool:
    """A reduction with these options reduces over every axis, to a scalar."""
    axis = kwargs.get("axis", Const(None))
    keep = kwargs.get("keepdims", Const(False))
    return (
        set(kwargs) <= {"axis", "keepdims", "ddof"}
        and isinstance(axis, Const)
        and axis.value is None
        and isinstance(keep, Const)
        and keep.value is False
    )


def _entry_of(args: tuple, tuples: set[str]) -> bool:
    """`args` index one entry of one of `tuples`: `t[0]`, `t[-1]`."""
    x, idx = args[0], args[1] if len(args) > 1 else None
    return (
        isinstance(x, Var)
        and x.name in tuples
        and isinstance(idx, Const)
        and type(idx.value) is int
    )


def _induction(shapes: Shapes, loop: Loop, c: str, init: Atom, res: Atom) -> None:
    """A carried value keeps its initial shape if, assuming it on entry to a trip, it holds on exit."""
    trial = copy.deepcopy(shapes)
    trial.union(Var(c), init)
    for _ in range(10):
        trial.changed = False
        _sweep(trial, loop.body)
        if not trial.changed:
            break
    if trial.same(res, init):
        shapes.union(Var(c), init)


def analyze(
    block: Block, scalar_result: bool = False, scalars=(), known=None, premises=()
) -> Shapes:
    """Facts for every value of a function body.

    `scalar_result` adds what `grad` requires; `scalars` names values taken
    to be scalars (to ask what they alone would prove); `known` maps values to
    the shapes traced from example arguments (passes/specialize.py): values of
    one shape share the class named by it, `(10, 10)`, and `()` is SCALAR.
    `premises` are pairs of values taken to share a shape: the generated code
    checks them where they are computed (passes/steady.py).
    """
    from . import enabled

    shapes = Shapes()
    if not enabled("shapes"):
        # Without facts every shape may differ: generic helpers everywhere, and a
        # scalar result is still what grad requires (checked in the generated code).
        return shapes
    if scalar_result and block.results:
        shapes.union(Const(0.0), block.results[0])
    for name in scalars:
        shapes.union(Const(0.0), Var(name))
    for name, shape in (known or {}).items():
        shapes.fix(name, tuple(shape))
    for a, b in premises:
        shapes.union(a, b)
    settle(shapes, block)
    return shapes


def settle(shapes: Shapes, block: Block) -> None:
    """Sweep `block` until its facts stop growing."""
    for _ in range(20):  # facts flow both ways; a few sweeps reach the fixpoint
        shapes.changed = False
        _sweep(shapes, block)
        if not shapes.changed:
            break


def _sweep(shapes: Shapes, block: Block) -> None:
    for stmt in block.stmts:
        if isinstance(stmt, Assign):
            # an effect of a backward sweep (`tape.append(h)`) binds nothing
            if stmt.outs:
                shapes.infer(stmt)
        elif isinstance(stmt, If):
            _sweep(shapes, stmt.then)
            _sweep(shapes, stmt.orelse)
            for out, a, b in zip(stmt.outs, stmt.then.results, stmt.orelse.results):
                if shapes.same(a, b):
                    shapes.union(Var(out), a)
        elif isinstance(stmt, Loop):
            if stmt.index:
                shapes.union(Var(stmt.index), Const(0.0))
                shapes.indices.add(stmt.index)
            if stmt.cond is not None:
                _sweep(shapes, stmt.cond)
            for c, init, res in zip(stmt.carried, stmt.inits, stmt.body.results):
                if shapes.same(init, res):
                    shapes.union(Var(c), init)
                elif not shapes.same(Var(c), init) and shapes.key(init) is not None:
                    _induction(shapes, stmt, c, init, res)
            _sweep(shapes, stmt.body)
            for out, init, res in zip(stmt.outs, stmt.inits, stmt.body.results):
                if shapes.same(init, res):
                    shapes.union(Var(out), init)


def _dropping(index):
    """`index` with `k:` and `:-k` (k > 0) alike: both drop k entries of an axis
    (`x[1:] - x[:-1]` is a difference of two arrays of one shape)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice) and p.step is None:
            lo, hi = p.start, p.stop
            if type(lo) is int and lo > 0 and hi is None:
                p = ("drop", lo)
            elif lo is None and type(hi) is int and hi < 0:
                p = ("drop", -hi)
        out.append(p)
    return tuple(out) if isinstance(index, tuple) else out[0]
