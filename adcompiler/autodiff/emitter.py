"""Builds straight-line IR one statement at a time, simplifying as it goes.

Rules and transforms never write `Assign`s by hand: they call the emitter,
which folds constants and identities (passes/simplify.py), reuses an identical
earlier statement instead of computing it twice (common-subexpression
elimination by hash-consing), and keeps the shape facts current, so a later
rule can ask whether two values provably share a shape.
"""

from __future__ import annotations

import math

from .. import passes
from ..ir import Assign, Atom, Block, Const, Var, rename
from ..passes.shapes import Shapes
from ..passes.simplify import simplify


class Names:
    """Fresh names that collide with nothing the user wrote."""

    def __init__(self, taken=()):
        self.taken = set(taken)
        self.counter = 0

    def fresh(self, base: str) -> str:
        if base not in self.taken:
            self.taken.add(base)
            return base
        n = 1
        while f"{base}_{n}" in self.taken:
            n += 1
        self.taken.add(f"{base}_{n}")
        return f"{base}_{n}"

    def temp(self) -> str:
        self.counter += 1
        while f"_t{self.counter}" in self.taken:
            self.counter += 1
        self.taken.add(f"_t{self.counter}")
        return f"_t{self.counter}"


# Below this many entries, where examples tell, a ReLU's step is `np.heaviside`
# (see `extreme_share`).
SIGN_STEP_ENTRIES = 4096

# Primitives whose results are never shared by CSE: buffers updated in place,
# and statements with effects.
UNSHARED = {
    "push",
    "pop",
    "index_add",
    "index_add_at",
    "index_add_any",
    "new_tape",
    "new_list",
    "append",
    "zeros_any",
    "zeros_list",
    "iadd",
}


def _new_array(prim: str, args) -> bool:
    """Whether Python's `prim(*args)` is a new array (fresh.py), not a view."""
    from .fresh import makes_new_array

    return makes_new_array(Assign(("_",), prim, tuple(args)))


def is_temp(name: str) -> bool:
    return name.startswith("_t")


class Emitter:
    def __init__(self, names: Names, shapes: Shapes | None = None, cse: bool = True):
        self.names = names
        self.shapes = shapes or Shapes()
        self.stmts: list = []
        self.cse = cse
        self._seen: dict = {}
        self._scopes: list = []
        # Values available everywhere in the generated function, in order of
        # definition (parameters first): `witness` picks a shape stand-in here.
        self.order: list[str] = []
        # The origin of what is emitted now: the backward sweep sets it to the
        # forward statement whose derivative it writes, for the source map.
        self.origin = None
        # Old name -> new name of values `name_value` renamed. A renamed value may
        # still be held elsewhere under its old name (CSE handed the same value to
        # two adjoints, one of which named it): what is emitted later reads the new one.
        self._aliases: dict[str, str] = {}
        # Values known to be Python lists of arrays (a zero for one is a list of
        # zero arrays, `_zeros_list(xs)`, not `np.zeros_like(xs)`).
        self.lists: set[str] = set()

    # -- the one way to write a statement --------------------------------------

    def call(
        self, prim: str, *args, loc=None, name: str | None = None, **kwargs
    ) -> Atom:
        args = tuple(self._atom(a) for a in args)
        kwargs = {k: self._atom(v) for k, v in kwargs.items()}
        if self.simplify:
            found = simplify(self, prim, args, kwargs, passes.enabled("simplify"))
            if found is not None:
                if not (
                    self.apart and isinstance(found, Var) and _new_array(prim, args)
                ):
                    return found
                args, kwargs, prim = (found,), {}, "copy"  # `x * 1.0`: a new array
        key = (
            self._key(prim, args, kwargs)
            if self.cse
            and not self.apart
            and prim not in UNSHARED
            and passes.enabled("cse")
            else None
        )
        if key is not None and key in self._seen:
            return self._seen[key]
        out = name or self.names.temp()
        stmt = Assign((out,), prim, args, kwargs, loc or self.origin)
        self.stmts.append(stmt)
        self.shapes.infer(stmt)
        if key is not None:
            self._seen[key] = Var(out)
        return Var(out)

    simplify = True
    # Keep the arrays Python keeps apart apart (inplace.py): a simplification
    # to an operand (`x * 1.0` to `x`) is its copy, and nothing is shared by CSE.
    apart = False

    def _atom(self, a) -> Atom:
        """`a` as an IR atom, under its current name."""
        if isinstance(a, Var):
            return self.current(a)
        return a if isinstance(a, Const) else Const(a)

    def current(self, atom: Atom) -> Atom:
        """`atom` under the name it has now (see `_aliases`)."""
        if not isinstance(atom, Var) or atom.name not in self._aliases:
            return atom
        name = atom.name
        while name in self._aliases:
            name = self._aliases[name]
        return Var(name)

    def definition(self, atom: Atom, keywords: bool = False) -> tuple | None:
        """`(prim, args)` of the pure statement that computed `atom`, if this emitter
        knows it; `(prim, args, kwargs)` with `keywords`."""
        if not isinstance(atom, Var):
            return None
        for key, value in self._seen.items():
            if value == atom:
                return (key[0], key[1], dict(key[2])) if keywords else key[:2]
        return None

    def origin_of(self, atom: Atom):
        """The source location of the statement that computed `atom`, if emitted here:
        a rewrite of that computation keeps its line in the source map."""
        name = getattr(atom, "name", None)
        for stmt in reversed(self.stmts):
            if isinstance(stmt, Assign) and stmt.outs == (name,):
                return stmt.loc
        return None

    def adopt(self, stmts: list) -> None:
        """Continue after existing statements, reusing their values where a rule recomputes one."""
        for stmt in stmts:
            self.stmts.append(stmt)
            if isinstance(stmt, Assign) and len(stmt.outs) == 1:
                key = self._key(stmt.prim, stmt.args, stmt.kwargs)
                if key is not None and stmt.prim not in UNSHARED:
                    # CSE, and where `definition` finds what computed a value
                    self._seen.setdefault(key, Var(stmt.out))

    def name_value(self, atom: Var, name: str) -> Var:
        """Rename a value everywhere it appears so far; returns the renamed value."""
        new = Var(name)

        def sub(a):
            return new if a == atom else a

        rename(Block(self.stmts), {atom.name: name})
        self._aliases[atom.name] = name
        self._seen = {
            self._key(
                k[0], tuple(sub(a) for a in k[1]), {kk: sub(v) for kk, v in k[2]}
            ): sub(v)
            for k, v in self._seen.items()
        }
        self.shapes.union(new, atom)
        return new

    def _key(self, prim, args, kwargs):
        key = (prim, tuple(args), tuple(sorted(kwargs.items(), key=lambda kv: kv[0])))
        try:
            hash(key)
        except TypeError:  # an unhashable constant: never shared
            return None
        return key

    def rename_last(self, atom: Atom, name: str, after=frozenset()) -> Atom:
        """Give the statement that just defined `atom` a user's name instead of a
        temporary one. Statements of the primitives `after` that do not read it
        may follow it (`w, V = np.linalg.eigh(A)`: both entries come first)."""
        k = len(self.stmts) - 1
        while k > 0 and self._passes(self.stmts[k], atom, after):
            k -= 1
        last = self.stmts[k] if self.stmts else None
        if not (
            isinstance(atom, Var)
            and is_temp(atom.name)
            and last
            and last.outs == (atom.name,)
        ):
            return atom
        last.outs = (name,)
        for key, value in self._seen.items():
            if value == atom:
                self._seen[key] = Var(name)
        if isinstance(last, Assign):
            self.shapes.infer(last)
        return Var(name)

    @staticmethod
    def _passes(stmt, atom: Atom, prims) -> bool:
        return (
            isinstance(stmt, Assign)
            and stmt.prim in prims
            and stmt.outs != (getattr(atom, "name", None),)
            and atom not in stmt.args
        )

    # -- nested blocks ------------------------------------------------------------

    def push_scope(self, adopt: list | None = None) -> None:
        """Start a nested block: values of the enclosing blocks stay visible, not the reverse."""
        self._scopes.append((self.stmts, self._seen))
        self.stmts, self._seen = [], dict(self._seen)
        if adopt:
            for stmt in adopt:
                if isinstance(stmt, Assign) and len(stmt.outs) == 1:
                    key = self._key(stmt.prim, stmt.args, stmt.kwargs)
                    if key is not None and stmt.prim not in UNSHARED:
                        self._seen.setdefault(key, Var(stmt.out))

    def hoist(self, prim: str, *args, loc=None, name=None, **kwargs) -> Var:
        """A statement placed at the top level of the function, seen from every scope."""
        args = tuple(self._atom(a) for a in args)
        kwargs = {k: self._atom(v) for k, v in kwargs.items()}
        key = self._key(prim, args, kwargs)
        if key in self._seen:
            return self._seen[key]
        out = Var(name or self.names.temp())
        stmt = Assign((out.name,), prim, args, kwargs, loc or self.origin)
        root = self._scopes[0][0] if self._scopes else self.stmts
        root.append(stmt)
        self.shapes.infer(stmt)
        for _, seen in self._scopes:
            seen[key] = out
        self._seen[key] = out
        return out

    def pop_scope(self) -> list:
        stmts = self.stmts
        self.stmts, self._seen = self._scopes.pop()
        return stmts

    def emit(self, stmt) -> None:
        """Append a statement built by hand (a structured one, a push or a pop)."""
        if self._aliases:
            rename(Block([stmt]), {k: self.current(Var(k)).name for k in self._aliases})
        self.stmts.append(stmt)

    def buffer(self, prim: str, *args) -> Var:
        """A fresh value that is updated in place later: never shared with another."""
        out = self.names.temp()
        stmt = Assign((out,), prim, tuple(self._atom(a) for a in args), {}, self.origin)
        self.stmts.append(stmt)
        self.shapes.infer(stmt)
        return Var(out)

    # -- arithmetic, for rules to read like formulas ------------------------------

    def add(self, a, b):
        return self.call("add", a, b)

    def sub(self, a, b):
        return self.call("sub", a, b)

    def mul(self, a, b):
        return self.call("mul", a, b)

    def div(self, a, b):
        return self.call("div", a, b)

    def neg(self, a):
        return self.call("neg", a)

    def pow(self, a, b):
        return self.call("pow", a, b)

    def select(self, cond, a, b):
        return self.call("select", cond, a, b)

    def decision(self, out: Var, prim: str, test: str, a, b):
        """`test(b, a)`, the comparison that decides `out = prim(a, b)` (Python's max
        or min: `a` unless b wins). Where `out` is computed in this block, the call
        becomes `b if c else a` after the comparison `c`: one comparison in all,
        and no call to the builtin, which costs more than the arithmetic here."""
        key = self._key(test, (b, a), {})
        if key in self._seen:
            return self._seen[key]
        for i, stmt in enumerate(self.stmts):
            if (
                isinstance(stmt, Assign)
                and stmt.outs == (out.name,)
                and (stmt.prim, stmt.args, stmt.kwargs) == (prim, (a, b), {})
            ):
                cond = Assign((self.names.temp(),), test, (b, a), {}, stmt.loc)
                pick = Assign(stmt.outs, "select", (Var(cond.out), b, a), {}, stmt.loc)
                self.stmts[i : i + 1] = [cond, pick]
                self.shapes.infer(cond)
                self._seen[key] = Var(cond.out)
                return Var(cond.out)
        return self.call(test, b, a)

    def tie_split(self, g, wins, ties):
        """g where this argument is strictly the extreme, g/2 where it ties, else 0."""
        return self.call(
            "where", wins, g, self.call("where", ties, self.mul(0.5, g), 0.0)
        )

    def extreme_share(self, g, x, c, larger: bool):
        """The share of `g` that `x` gets in `np.maximum(x, c)` (`larger`) or
        `np.minimum(x, c)` with a constant `c`: g, g/2 at the tie, 0 beyond it.

        The step is `0.5 * np.sign(x - c) + 0.5`, NaN where `x` is.
        `np.heaviside(x - c, 0.5)` is the same step in one ufunc, but its loop
        branches on every entry's sign: from a few thousand entries on it is
        several times slower (16384 entries, a ReLU of the MLP benchmark, took
        115 µs against 29 µs). So heaviside is used only where example arguments
        show fewer than `SIGN_STEP_ENTRIES` entries, where one call is cheaper
        than three; where no example tells the size, `_step(x - c)` chooses
        at run time."""
        diff = self.sub(x, c) if larger else self.sub(c, x)
        shape = self.shapes.concrete(x)
        if shape is None:
            step = self.call("step", diff)
        elif math.prod(shape) >= SIGN_STEP_ENTRIES:
            step = self.add(self.mul(0.5, self.call("sign", diff)), 0.5)
        else:
            step = self.call("heaviside", diff, 0.5)
        return self.mul(g, step)

    def outer(self, a, b):
        """a ⊗ b for vectors; a plain product when either side is a scalar.

        Where example arguments show both vectors (so both are NumPy arrays),
        codegen writes `a[:, None] * b`: `np.outer` is a Python function whose
        asarray and ravel cost about 0.5 µs, a tenth of the seed network's
        gradient at n = 10; from a few hundred entries on the two are equal."""
        if self.is_scalar(a) or self.is_scalar(b):
            return self.mul(a, b)
        if self.rank(a) == 1 and self.rank(b) == 1:
            known = all(
                isinstance(v, Var) and self.shapes.concrete(v) is not None
                for v in (a, b)
            )
            return self.call("outer", a, b, **({"vectors": True} if known else {}))
        return self.call("multiply_outer", a, b)

    def broadcast_like(self, t, like):
        """`t` brought to the shape of `like`; nothing to do where the shapes provably agree."""
        if self.shapes.same(t, like):
            return t
        return self.call("broadcast_like", t, like)

    def count(self, x, out, axis):
        """How many entries of x a mean averages into each entry of out."""
        if isinstance(axis, Const) and axis.value is None or axis is None:
            return self.call("size", self.witness(x))
        shape, reduced = self.shapes.concrete(x), self.shapes.concrete(out)
        if shape is not None and reduced is not None:  # example arguments tell it
            return Const(math.prod(shape) // max(math.prod(reduced), 1))
        return self.call("count", self.witness(x), self.witness(out))

    def witness(self, a: Atom) -> Atom:
        """The earliest available value with the shape of `a`: a parameter if one has it.

        Asking a temporary's shape (`np.ones_like(t1 * x)`) would keep, or
        recompute, a value nothing else needs; `x` has the same shape for free.
        """
        for name in self.order:
            if name == getattr(a, "name", None):
                return a
            if self.shapes.same(Var(name), a):
                return Var(name)
        return a

    def inverse_permutation(self, axes):
        if axes is None or (isinstance(axes, Const) and axes.value is None):
            return Const(None)
        perm = list(axes.value)
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p % len(perm)] = i
        return Const(tuple(inverse))

    # -- facts ----------------------------------------------------------------------

    def rank(self, a: Atom) -> int | None:
        return self.shapes.rank(a)

    def is_scalar(self, a: Atom) -> bool:
        return self.shapes.is_scalar(a)

    def is_constant(self, a: Atom) -> bool:
        return isinstance(a, Const)
