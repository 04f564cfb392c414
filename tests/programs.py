"""Random programs in the language adcompiler supports, built from hypothesis draws.

`programs()` is a hypothesis strategy of `Program`s: the source text of a module
holding a function `f` (and sometimes a helper it calls), its arguments' shapes
and which of them are differentiated. The programs are straight-line NumPy code
with control flow, typed by shape as they are built, so that every one runs:

- arguments: floats and arrays of shapes (), (3,), (2,), (2, 3), (3, 2),
  (1, 3), (2, 1), mixed so that broadcasting goes in every direction, plus
  sometimes an integer `n` (a loop bound, never differentiated);
- expressions over the rule table: `+ - * /`, `**` with small-int, negative and
  float exponents, unary minus, `@` and `np.dot` (1-D/2-D), `np.exp`, `np.log`,
  `np.log1p`, `np.expm1`, `np.sin`, `np.cos`, `np.tan`, `np.tanh`, `np.sqrt`,
  `np.square`, `np.abs`, `np.maximum`, `np.minimum`, `np.where`, `np.clip`,
  the hyperbolic and inverse trigonometric functions, `np.log2`, `np.log10`,
  `np.exp2`, `np.cbrt`, `np.reciprocal`, `np.arctan2`, `np.hypot`, `np.logaddexp`,
  `np.einsum` (spelling a matrix product), `np.flip`, `np.cumsum`, `np.roll`,
  `np.sum`/`np.mean`/`np.max`/`np.min`/`np.var`/`np.std`/`np.prod` (and the methods) with `axis` and
  `keepdims`, `.T`, `np.transpose`, `.reshape`/`np.reshape`, `np.ravel`,
  `np.outer` (of operands of any rank), `max`/`min`/`abs`
  and `math.*` on scalars, conditional expressions, index reads (ints, negative
  ints, slices, pairs of them, the loop variable);
- statements: assignment, re-assignment, augmented assignment to names and to
  indexed entries (`y = x.copy(); y[0] = ...`, `y[:, 0] += ...`);
- control flow: `if`/`elif`/`else` on data-dependent conditions (comparisons,
  chained comparisons, `and`/`or`/`not`, `np.all`/`np.any`), `return` inside a
  branch, `for i in range(...)` loops (over `range(len(x))` too) that
  accumulate (with `break`/`continue`), `while` loops with a data-dependent
  condition and a trip counter;
- a module-level helper function, called once or twice.

Domains are kept safe by construction: `log` and `sqrt` see `1 + e**2`,
divisions divide by `1 + e**2` or `2 + cos(e)`, `exp` sees a `tanh`, `tan` sees
`0.5 * tanh(e)`, and float powers have positive bases. Kinks (`abs`, `maximum`,
`where`, `clip`, branches, data-dependent trip counts) remain; the test skips the
finite-difference comparison where two step sizes disagree.

Arrays are never mutated while another name may share their memory (a view made
by `.T`, `reshape`, slicing or plain assignment): such programs mean something
else in NumPy than in any functional reading, and are not what we test here.
The tracking misses an alias a loop makes for its next trip (`y1 += x`, then
`y1 = y`); the compiler refuses such a program (adcompiler/inplace.py), and
`check` accepts the refusal where Python's value is not the functional one.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

PARAM_SHAPES = [(), (3,), (2, 3), (2,), (1, 3), (2, 1), (3, 2)]
SCALAR_CONSTS = ["0.5", "1.5", "-0.7", "2.0", "0.3"]
MAX_DEPTH = 3


@dataclass(frozen=True)
class Var:
    name: str
    shape: tuple
    # names whose memory this value may share; empty: a buffer of its own
    base: frozenset = frozenset()


@dataclass(frozen=True)
class Expr:
    src: str
    shape: tuple
    base: frozenset = frozenset()  # empty: a new object, shares nothing


@dataclass
class Program:
    source: str
    shapes: list  # per parameter: a shape, or "int"
    argnums: tuple

    def __repr__(self) -> str:
        return f"Program(shapes={self.shapes}, argnums={self.argnums})\n{self.source}"


def _bcast(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def _matmul_shape(a, b):
    if not a or not b:
        return None
    try:
        return np.matmul(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        return None


class _Zeros(dict):
    def __missing__(self, key):
        return 0  # an int variable in an index


def _valid_index(shape, idx):
    try:
        _index_shape(shape, idx)
    except IndexError:
        return False
    return True


def _index_shape(shape, idx):
    return np.empty(shape)[eval(f"np.s_[{idx}]", {}, _Zeros(np=np))].shape


@dataclass
class Scope:
    vars: list = field(default_factory=list)
    ints: dict = field(default_factory=dict)  # int variable -> its largest value


class Builder:
    """Draws a program statement by statement, keeping every name's shape."""

    def __init__(self, draw):
        self.draw = draw
        self.lines: list[str] = []
        # each update in place: (its line, the name it writes into, whether it
        # writes an entry), for `own_updates`
        self.updates: list[tuple[int, str, bool | None]] = []
        self.indent = 0
        self.scopes = [Scope()]
        self.counter = 0
        self.helper: tuple | None = None  # (name, param shapes, result shape, shares)
        self.has_n = False  # an int argument `n` exists

    # -- drawing -----------------------------------------------------------------
    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def coin(self):
        return self.draw(st.booleans())

    # -- names -------------------------------------------------------------------
    def fresh_name(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    @property
    def env(self) -> list[Var]:
        seen = {}
        for s in self.scopes:
            for v in s.vars:
                seen[v.name] = v
        return list(seen.values())

    @property
    def ints(self) -> dict:
        out = {}
        for s in self.scopes:
            out.update(s.ints)
        return out

    def define(self, var: Var):
        """Bind `var`; a name of an enclosing block keeps its place there, and may share
        what it shared before as well (the block may not run, or run again)."""
        current = self.scopes[-1]
        for s in self.scopes:
            for j, v in enumerate(s.vars):
                if v.name == var.name:
                    base = var.base if s is current else var.base | v.base
                    s.vars[j] = Var(var.name, var.shape, base)
                    return
        current.vars.append(var)

    def lookup(self, name) -> Var:
        return next(v for v in self.env if v.name == name)

    def mutable(self, var: Var) -> bool:
        """May `var`'s memory change in place: its own buffer, and nobody shares it."""
        return not var.base and not any(var.name in v.base for v in self.env)

    def avail(self):
        shapes = {()}
        shapes.update(v.shape for v in self.env)
        return sorted(shapes, key=lambda s: (len(s), s))

    def emit(self, line):
        self.lines.append("    " * self.indent + line)

    def emit_update(self, line, name, copy_first=False):
        """`line` writes into the array `name` holds (`v += e`, `v[i] = e`);
        `copy_first`: an entry's update (None, once `own_updates` rewrote it)."""
        self.updates.append((len(self.lines), name, copy_first))
        self.emit(line)

    def own_updates(self, since: int):
        """Where a loop's trip makes a name it updated in place share memory (`v =
        x` after `v += e`), the next trip's update would write into what others
        hold, which the compiler rightly refuses: such an update is written as a
        new array, and an entry's update follows a copy (`v = v.copy()`)."""
        names = {v.name: v for v in self.env}
        for n, (k, name, copy_first) in enumerate(self.updates[since:], since):
            # a name of an inner block is made again before its update, each trip
            if name not in names or self.mutable(names[name]):
                continue
            self.updates[n] = (k, name, None)  # once: an outer loop may ask again
            if copy_first is None:
                continue
            line = self.lines[k]
            indent = line[: len(line) - len(line.lstrip())]
            if copy_first:
                self.lines[k] = f"{indent}{name} = {name}.copy()\n{line}"
            else:  # `v += e` as `v = v + (e)`
                op, e = line.strip()[len(name) + 1 :].split("= ", 1)
                self.lines[k] = f"{indent}{name} = {name} {op.strip()} ({e})"

    # -- expressions ---------------------------------------------------------------
    def expr(self, shape, depth, fresh=False) -> Expr:
        """An expression of exactly `shape`; `fresh`: a new object, no view of a name."""
        options = []
        leaves = [v for v in self.env if v.shape == shape]
        if not fresh or shape == ():
            if leaves:
                options.append("leaf")
            if shape == ():
                options += ["const", "reduce_all"]
        if depth > 0 or not options:
            options += ["unary", "binary", "binary", "safe"]
            if shape == ():
                options += ["builtin"]
            if self.reductions_to(shape):
                options.append("reduce_axis")
            if self.matmuls_to(shape):
                options.append("matmul")
            if self.outers_to(shape):
                options.append("outer")
            if len(shape) == 1 and self.reshapes_to(shape) and not fresh:
                options.append("ravel")
            if len(shape) == 2 and tuple(reversed(shape)) in self.avail() and not fresh:
                options.append("transpose")
            if shape != () and self.reshapes_to(shape) and not fresh:
                options.append("reshape")
            if self.expansions_to(shape) and not fresh:
                options.append("expand_dims")
            if self.broadcasts_to(shape) and not fresh:
                options.append("broadcast_to")
            if self.indexes_to(shape) and not fresh:
                options.append("index")
            options += ["where", "clip", "cond"] if not fresh else ["where", "clip"]
            if (
                self.helper
                and self.helper[2] == shape
                and all(s in self.avail() for s in self.helper[1])
            ):
                options.append("call")
        kind = self.choice(options)
        d = max(depth - 1, 0)
        return getattr(self, "x_" + kind)(shape, d)

    def x_leaf(self, shape, d):
        v = self.choice([v for v in self.env if v.shape == shape])
        return Expr(v.name, shape, frozenset({v.name}) | v.base)

    def x_const(self, shape, d):
        options = SCALAR_CONSTS + [f"float({i})" for i in self.ints]
        return Expr(self.choice(options), ())

    def sub(self, shape, d) -> Expr:
        return self.expr(shape, d)

    def x_unary(self, shape, d):
        sub = self.sub(shape, d)
        e = sub.src
        forms = [
            "np.tanh({})",
            "np.sin({})",
            "np.cos({})",
            "-{}",
            "np.exp(np.tanh({}))",
            "np.square({})",
            "({}) ** 2",
            "({}) ** 3",
            "np.abs({})",
            "np.expm1(np.tanh({}))",
            "np.tan(0.5 * np.tanh({}))",
            "0.5 * {}",
            "np.negative({})",
            "np.absolute({})",
            "np.sign({0}) * ({0})",
            "np.full_like({0}, 0.5) * ({0})",
            "np.ones_like({0}) - np.tanh({0})",
            "np.sinh(np.tanh({}))",
            "np.cosh(np.tanh({}))",
            "np.arctan({})",
            "np.arcsinh({})",
            "np.arcsin(0.9 * np.tanh({}))",
            "np.arccos(0.9 * np.tanh({}))",
            "np.arctanh(0.9 * np.tanh({}))",
            "np.exp2(np.tanh({}))",
            "np.cbrt(2.0 + np.tanh({}))",
        ]
        if shape != ():
            forms += ["np.flip({})", "np.cumsum({}, axis=-1)", "({}).cumsum(0)"]
            forms += ["np.roll({}, 1)", "np.roll({}, -1, axis=0)"]
        if shape == ():
            forms += [
                "math.atan({})",
                "math.asinh({})",
                "math.sinh(math.tanh({}))",
                "math.atan2({}, 2.0)",
                "math.tanh({})",
                "math.sin({})",
                "abs({})",
                "math.exp(math.tanh({}))",
                "math.fabs({})",
                "math.pow({}, 2)",
            ]
        form = self.choice(forms)
        # np.flip is a view of its operand: it shares the operand's memory
        return Expr(form.format(e), shape, sub.base if "flip" in form else frozenset())

    def x_safe(self, shape, d):
        """Functions with a restricted domain, fed values inside it."""
        e = self.sub(shape, d).src
        forms = [
            "np.log(1.0 + ({}) ** 2)",
            "np.sqrt(({}) ** 2 + 1.0)",
            "np.log1p(np.square({}))",
            "(1.0 + ({}) ** 2) ** 1.5",
            "(1.0 + ({}) ** 2) ** -1",
            "(1.0 + np.square({})) ** 0.5",
            "1.0 / (1.0 + ({}) ** 2)",
            "np.log(np.exp(np.tanh({})) + 1.0)",
            "np.log2(1.0 + ({}) ** 2)",
            "np.log10(1.0 + ({}) ** 2)",
            "np.arccosh(2.0 + ({}) ** 2)",
            "np.reciprocal(1.0 + ({}) ** 2)",
        ]
        if shape == ():
            forms += [
                "math.log(1.0 + ({}) ** 2)",
                "math.sqrt(({}) ** 2 + 1.0)",
                "math.log2(1.0 + ({}) ** 2)",
                "math.acosh(2.0 + ({}) ** 2)",
            ]
        return Expr(self.choice(forms).format(e), shape)

    def operand_shapes(self, shape):
        """Pairs of available shapes that broadcast to `shape`."""
        av = [s for s in self.avail() if _bcast(s, shape) == shape]
        pairs = [(a, b) for a in av for b in av if _bcast(a, b) == shape]
        return pairs

    def x_binary(self, shape, d):
        pairs = self.operand_shapes(shape)
        sa, sb = self.choice(pairs)
        a, b = self.sub(sa, d).src, self.sub(sb, d).src
        ops = ["+", "-", "*", "/", "maximum", "minimum", "/cos"]
        op = self.choice(ops + ["arctan2", "hypot", "logaddexp"])
        if op == "arctan2":  # the angle of a point right of the origin
            return Expr(f"np.arctan2({a}, 2.0 + np.cos({b}))", shape)
        if op == "hypot":  # away from the cone's tip
            return Expr(f"np.hypot({a}, 1.0 + ({b}) ** 2)", shape)
        if op == "logaddexp":
            return Expr(f"np.logaddexp({a}, {b})", shape)
        if op == "/":
            return Expr(f"({a}) / (1.0 + ({b}) ** 2)", shape)
        if op == "/cos":
            return Expr(f"({a}) / (2.0 + np.cos({b}))", shape)
        if op in ("maximum", "minimum"):
            return Expr(f"np.{op}({a}, {b})", shape)
        return Expr(f"({a}) {op} ({b})", shape)

    def x_builtin(self, shape, d):
        a, b = self.sub((), d), self.sub((), d)
        f = self.choice(["max", "min", "abs"])
        if f == "abs":
            return Expr(f"abs({a.src})", ())
        return Expr(f"{f}({a.src}, {b.src})", (), a.base | b.base)

    def x_reduce_all(self, shape, d):
        s = self.choice(self.avail())
        e = self.sub(s, d).src
        forms = ["np.sum({})", "np.mean({})", "np.max({})", "np.min({})"]
        if s:  # a Python float has no methods
            forms += ["({}).sum()", "np.linalg.norm(1.0 + np.square({}))"]
            forms += ["np.var({})", "np.std({})", "({}).var(ddof=1)", "np.prod({})"]
        form = self.choice(forms)
        return Expr(form.format(e), ())

    def reductions_to(self, shape):
        out = []
        for s in self.avail():
            for ax in range(len(s)):
                for ax_src in (str(ax), str(ax - len(s))):
                    kept = s[:ax] + s[ax + 1 :]
                    if kept == shape:
                        out.append((s, ax_src, False))
                    if s[:ax] + (1,) + s[ax + 1 :] == shape:
                        out.append((s, ax_src, True))
        return out

    def x_reduce_axis(self, shape, d):
        s, ax, keep = self.choice(self.reductions_to(shape))
        e = self.sub(s, d).src
        f = self.choice(
            ["np.sum", "np.mean", "np.max", "np.min", ".sum", ".mean", ".max"]
            + ["np.var", ".var", "np.std", "np.prod"]  # std of one entry: not finite
        )
        kw = f"axis={ax}" + (", keepdims=True" if keep else "")
        if f.startswith("."):
            return Expr(f"({e}){f}({kw})", shape)
        return Expr(f"{f}({e}, {kw})", shape)

    def matmuls_to(self, shape):
        av = [s for s in self.avail() if s]
        return [(a, b) for a in av for b in av if _matmul_shape(a, b) == shape]

    def x_matmul(self, shape, d):
        sa, sb = self.choice(self.matmuls_to(shape))
        a, b = self.sub(sa, d).src, self.sub(sb, d).src
        form = self.choice(["@", "dot", "einsum"])
        if form == "@":
            return Expr(f"({a}) @ ({b})", shape)
        if form == "einsum":  # the same product, its letters written out
            left, right = "ij"[2 - len(sa) :], "jk"[: len(sb)]
            if len(sa) == 2 and self.coin():
                left = "...j"  # the rows as broadcast axes
            out = left[:-1] + right[1:]
            return Expr(f'np.einsum("{left},{right}->{out}", {a}, {b})', shape)
        return Expr(f"np.dot({a}, {b})", shape)

    def outers_to(self, shape):
        """Operand shapes and forms whose outer product has `shape`: `np.outer`
        flattens each operand, of any rank; `np.multiply.outer` keeps both
        operands' axes, so its shape is theirs one after the other."""
        sizes = {s: int(np.prod(s)) for s in self.avail()}
        flat = [
            (sa, sb, "np.outer")
            for sa, na in sizes.items()
            for sb, nb in sizes.items()
            if len(shape) == 2 and (na, nb) == shape
        ]
        kept = [
            (sa, sb, "np.multiply.outer")
            for sa in sizes
            for sb in sizes
            if tuple(sa) + tuple(sb) == tuple(shape)
            # a scalar factor only where np.outer could be drawn too: not for
            # every shape, or the form crowds out the others
            and (sa and sb or len(shape) == 2)
        ]
        return flat + kept

    def x_outer(self, shape, d):
        sa, sb, form = self.choice(self.outers_to(shape))
        a, b = self.sub(sa, d).src, self.sub(sb, d).src
        return Expr(f"{form}({a}, {b})", shape)

    def x_ravel(self, shape, d):
        e = self.sub(self.choice(self.reshapes_to(shape)), d)
        return Expr(f"np.ravel({e.src})", shape, e.base)

    def x_transpose(self, shape, d):
        e = self.sub(tuple(reversed(shape)), d)
        form = self.choice(["({}).T", "np.transpose({})"])
        return Expr(form.format(e.src), shape, e.base)

    def reshapes_to(self, shape):
        size = int(np.prod(shape))
        return [s for s in self.avail() if s != shape and s and int(np.prod(s)) == size]

    def expansions_to(self, shape):
        """`(shape without the axis, axis)` for each axis of length 1 of `shape`."""
        av = self.avail()
        return [
            (shape[:k] + shape[k + 1 :], k)
            for k, n in enumerate(shape)
            if n == 1 and shape[:k] + shape[k + 1 :] in av
        ]

    def x_expand_dims(self, shape, d):
        s, axis = self.choice(self.expansions_to(shape))
        e = self.sub(s, d)
        axis = self.choice([axis, axis - len(shape)])
        return Expr(f"np.expand_dims({e.src}, {axis})", shape, e.base)

    def broadcasts_to(self, shape):
        return [s for s in self.avail() if s != shape and _bcast(s, shape) == shape]

    def x_broadcast_to(self, shape, d):
        e = self.sub(self.choice(self.broadcasts_to(shape)), d)
        # a read-only view: never written in place (a base that no name has)
        return Expr(f"np.broadcast_to({e.src}, {shape})", shape, e.base | {"<ro>"})

    def x_reshape(self, shape, d):
        s = self.choice(self.reshapes_to(shape))
        e = self.sub(s, d)
        if self.coin():
            return Expr(f"({e.src}).reshape{shape}", shape, e.base)
        return Expr(f"np.reshape({e.src}, {shape})", shape, e.base)

    def indexes_to(self, shape):
        out = []
        ints = self.ints
        for v in self.env:
            s = v.shape
            idxs = []
            if len(s) >= 1:
                n = s[0]
                idxs += ["0", "-1", f"{n - 1}", ":", "1:", ":-1", "::2"]
                idxs += [i for i, top in ints.items() if top < n]
            if len(s) == 2:
                m = s[1]
                idxs += ["0, -1", ":, 0", ":, -1", f"-1, {m - 1}", ":, 1:", "1:, :-1"]
                idxs += [f":, {i}" for i, top in ints.items() if top < m]
            for idx in idxs:
                if _index_shape(s, idx) == shape:
                    out.append((v, idx))
        return out

    def x_index(self, shape, d):
        v, idx = self.choice(self.indexes_to(shape))
        return Expr(f"{v.name}[{idx}]", shape, frozenset({v.name}) | v.base)

    def x_where(self, shape, d):
        pairs = self.operand_shapes(shape)
        sa, sb = self.choice(pairs)
        sc = self.choice([s for s in self.avail() if _bcast(s, shape) == shape])
        c = self.sub(sc, d).src
        a, b = self.sub(sa, d).src, self.sub(sb, d).src
        cmp = self.choice(["> 0.0", "< 0.3", ">= -0.2"])
        return Expr(f"np.where({c} {cmp}, {a}, {b})", shape)

    def x_clip(self, shape, d):
        e = self.sub(shape, d).src
        lo, hi = self.choice([("-0.5", "0.5"), ("0.0", "1.0"), ("-1.0", "0.2")])
        return Expr(f"np.clip({e}, {lo}, {hi})", shape)

    def x_cond(self, shape, d):
        c = self.condition(d)
        a, b = self.sub(shape, d), self.sub(shape, d)
        return Expr(f"({a.src} if {c} else {b.src})", shape, a.base | b.base)

    def x_call(self, shape, d):
        name, pshapes, _, shares = self.helper
        args = [self.sub(s, d) for s in pshapes]
        # a helper that may return (a view of) its argument shares what that shares
        base = frozenset().union(*(a.base for a in args)) if shares else frozenset()
        return Expr(f"{name}({', '.join(a.src for a in args)})", shape, base)

    def condition(self, d=1) -> str:
        kind = self.choice(["cmp", "cmp", "chain", "all", "and", "not"])
        # a scalar that depends on the data, most of the time
        s = (self.x_reduce_all((), d) if self.integer(0, 2) else self.sub((), d)).src
        c = self.choice(["0.0", "0.5", "-0.3"])
        if kind == "cmp":
            return f"{s} {self.choice(['>', '<', '>=', '<='])} {c}"
        if kind == "chain":
            return f"-0.5 < {s} < 1.0"
        if kind == "all":
            sh = self.choice(self.avail())
            e = self.sub(sh, d).src
            if self.coin():
                t = self.sub(sh, d).src
                op = self.choice(["logical_and", "logical_or"])
                return f"np.any(np.{op}({e} > {c}, np.logical_not({t} > 0.5)))"
            return f"np.{self.choice(['all', 'any'])}({e} > {c})"
        if kind == "and":
            t = self.sub((), d).src
            return f"{s} > {c} {self.choice(['and', 'or'])} {t} < 1.0"
        return f"not {s} > {c}"

    # -- statements ----------------------------------------------------------------
    def depth(self):
        return self.integer(0, MAX_DEPTH)

    def statement(self, nest, in_loop=False):
        kinds = [
            "assign",
            "assign",
            "reassign",
            "augassign",
            "copy_write",
            "index_write",
        ]
        if nest < 2:
            kinds += ["if", "for", "while"]
        if in_loop:
            kinds += ["break"]
        kind = self.choice(kinds)
        getattr(self, "s_" + kind)(nest, in_loop)

    def block(self, nest, in_loop, must_assign=()):
        """An indented block of 1-3 statements; `must_assign` are re-assigned at its start."""
        self.indent += 1
        self.scopes.append(Scope())
        for name in must_assign:
            self.reassign(self.lookup(name))
        for _ in range(self.integer(0 if must_assign else 1, 3)):
            self.statement(nest + 1, in_loop)
        scope = self.scopes.pop()
        self.indent -= 1
        return scope

    def s_assign(self, nest, in_loop):
        shape = self.choice(self.avail())
        e = self.expr(shape, self.depth())
        name = self.fresh_name()
        self.emit(f"{name} = {e.src}")
        self.define(Var(name, shape, e.base))

    def reassign(self, var: Var):
        e = self.expr(var.shape, self.depth(), fresh=True)
        self.emit(f"{var.name} = {e.src}")
        self.define(Var(var.name, var.shape, e.base))

    def s_reassign(self, nest, in_loop):
        self.reassign(self.choice(self.env))

    def s_augassign(self, nest, in_loop):
        targets = [v for v in self.env if self.mutable(v)]
        if not targets:
            return self.s_assign(nest, in_loop)
        v = self.choice(targets)
        shapes = [s for s in self.avail() if _bcast(s, v.shape) == v.shape]
        e = self.expr(self.choice(shapes), self.depth()).src
        op = self.choice(["+=", "-=", "*=", "/="])
        if op == "/=":
            e = f"2.0 + np.sin({e})"
        elif op == "*=":
            e = f"np.tanh({e})"
        self.emit_update(f"{v.name} {op} {e}", v.name)

    def s_copy_write(self, nest, in_loop):
        arrays = [v for v in self.env if v.shape]
        if not arrays:
            return self.s_assign(nest, in_loop)
        src = self.choice(arrays)
        name = self.fresh_name("y")
        form = self.choice(["{}.copy()", "1.0 * {}"])
        self.emit(f"{name} = {form.format(src.name)}")
        var = Var(name, src.shape)
        self.define(var)
        self.index_write(var)

    def s_index_write(self, nest, in_loop):
        targets = [v for v in self.env if v.shape and self.mutable(v)]
        if not targets:
            return self.s_copy_write(nest, in_loop)
        self.index_write(self.choice(targets))

    def index_write(self, var: Var):
        s = var.shape
        # an index array may name an entry twice: NumPy keeps the last write
        idxs = ["0", "-1", "1:", "[0, 0]", f"[-1, {s[0] - 1}, 0]"]
        if len(s) == 2:
            idxs += [":, 0", ":, -1", "0, 1", "-1, :"]
        idxs += [i for i, top in self.ints.items() if top < s[0]]
        idx = self.choice([i for i in idxs if _valid_index(s, i)])
        target = _index_shape(s, idx)
        shapes = [x for x in self.avail() if _bcast(x, target) == target]
        e = self.expr(self.choice(shapes), self.depth()).src
        op = self.choice(["=", "+=", "-=", "*="])
        if op == "*=":
            e = f"np.cos({e})"
        self.emit_update(f"{var.name}[{idx}] {op} {e}", var.name, copy_first=True)

    def s_if(self, nest, in_loop):
        self.emit(f"if {self.condition()}:")
        outer = self.env
        names = [v.name for v in outer]
        changed = self.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        # a new name defined on every path
        new = self.fresh_name() if self.coin() else None
        new_shape = self.choice(self.avail())
        early_return = nest == 0 and not in_loop and self.integer(0, 4) == 0
        scopes = []
        arms = ["if"] + (["elif"] if self.integer(0, 3) == 0 else []) + ["else"]
        for i, arm in enumerate(arms):
            if arm == "elif":
                self.emit(f"elif {self.condition()}:")
            elif arm == "else":
                self.emit("else:")
            scope = self.block(nest, in_loop, must_assign=changed)
            self.indent += 1
            if new:
                e = self.expr(new_shape, self.depth(), fresh=True)
                self.emit(f"{new} = {e.src}")
                scope.vars.append(Var(new, new_shape, e.base))
            if early_return and i == 0:
                self.emit(f"return {self.result(scope.vars)}")
            self.indent -= 1
            scopes.append(scope)
        # after the branch: the new name, sharing what any of its definitions shares
        if new:
            merged = [v for sc in scopes for v in sc.vars if v.name == new]
            base = frozenset().union(*(v.base for v in merged))
            self.define(Var(new, new_shape, base))

    def s_for(self, nest, in_loop):
        i = self.fresh_name("i")
        bound, top = self.choice(
            [("2", 1), ("3", 2), ("1", 0), ("n", 2), ("1, 3", 2), ("len", 0)]
        )
        if bound == "n" and not self.has_n:
            bound, top = "2", 1
        rows = [v for v in self.env if v.shape]
        over = None
        if bound == "len" and rows:  # a loop over the rows of an array: `x[i]` reads
            matrices = [v for v in rows if len(v.shape) == 2]
            over = self.choice(matrices if matrices and self.coin() else rows)
            bound, top = f"len({over.name})", over.shape[0] - 1
        elif bound == "len":
            bound, top = "2", 1
        carried = self.choice(self.env)
        self.emit(f"for {i} in range({bound}):")
        since = len(self.updates)
        self.scopes.append(Scope(ints={i: top}))
        self.indent += 1
        if over is not None and len(over.shape) == 2:
            # a product with each row, the RNN's input projection (the `hoist` pass)
            row = self.fresh_name("r")
            self.emit(f"{row} = {over.name} @ {over.name}[{i}]")
            self.define(Var(row, over.shape[:1]))
            c = carried.name
            self.emit(f"{c} = {c} + 0.1 * np.sum(np.tanh({row}))")  # read, so it stays
            self.define(Var(c, carried.shape))
        self.accumulate(carried)
        self.indent -= 1
        self.block(nest, True)
        self.own_updates(since)
        self.scopes.pop()

    def accumulate(self, var: Var):
        e = self.expr(var.shape, self.depth(), fresh=True).src
        form = self.choice(
            # `({e})`: `y * (x) @ (z)` would be `(y * x) @ z`
            ["{v} = {v} + {e}", "{v} = np.tanh({v} * ({e}))", "{v} += {e}"]
        )
        if form == "{v} += {e}" and not self.mutable(var):
            form = "{v} = {v} + {e}"
        if form == "{v} += {e}":
            self.emit_update(form.format(v=var.name, e=e), var.name)
        else:
            self.emit(form.format(v=var.name, e=e))
        if not form.startswith("{v} +="):
            self.define(Var(var.name, var.shape))

    def s_while(self, nest, in_loop):
        k = self.fresh_name("k")
        carried = self.choice(self.env)
        self.emit(f"{k} = 0")
        limit = self.integer(1, 3)
        self.emit(f"while {k} < {limit} and ({self.condition()}):")
        since = len(self.updates)
        # the counter goes up first, so that `continue` cannot skip it
        self.scopes.append(Scope(ints={k: limit}))
        self.indent += 1
        self.emit(f"{k} += 1")
        self.accumulate(carried)
        self.indent -= 1
        self.block(nest, True)
        self.own_updates(since)
        self.scopes.pop()

    def s_break(self, nest, in_loop):
        self.emit(f"if {self.condition(0)}:")
        self.emit("    " + self.choice(["break", "continue"]))

    def result(self, vars=()) -> str:
        """A scalar made of the most recent names."""
        names = [v.name for v in list(self.env) + list(vars)]
        picked = list(dict.fromkeys(names[-3:]))
        return " + ".join(f"np.sum({n})" for n in picked)


def _helper(draw, index: int):
    """A module-level function of 1-2 array arguments: its source, shapes and result shape."""
    b = Builder(draw)
    shapes = draw(st.lists(st.sampled_from(PARAM_SHAPES), min_size=1, max_size=2))
    params = [f"a{j}" for j in range(len(shapes))]
    for p, s in zip(params, shapes):
        b.define(Var(p, s, frozenset({p})))
    b.has_n = False
    b.indent = 1
    for _ in range(draw(st.integers(0, 2))):
        b.s_assign(1, False)
    rshape = draw(st.sampled_from(b.avail()))
    e = b.expr(rshape, draw(st.integers(1, 2)))
    b.emit(f"return {e.src}")
    name = f"helper{index}"
    src = f"def {name}({', '.join(params)}):\n" + "\n".join(b.lines) + "\n"
    return name, src, tuple(shapes), rshape, bool(e.base)


@st.composite
def programs(draw) -> Program:
    b = Builder(draw)
    shapes = draw(st.lists(st.sampled_from(PARAM_SHAPES), min_size=1, max_size=3))
    params = ["x", "y", "z"][: len(shapes)]
    for p, s in zip(params, shapes):
        # a parameter's memory belongs to the caller: never written to
        b.define(Var(p, s, frozenset({p})))
    b.has_n = draw(st.booleans())
    all_params = params + (["n"] if b.has_n else [])
    header = "import math\n\nimport numpy as np\n\n\n"
    helper_src = ""
    if draw(st.integers(0, 3)) == 0:
        name, helper_src, pshapes, rshape, shares = _helper(draw, 0)
        b.helper = (name, pshapes, rshape, shares)
        helper_src += "\n\n"
    b.indent = 1
    for _ in range(draw(st.integers(1, 5))):
        b.statement(0)
    b.emit(f"return {b.result()}")
    src = (
        header
        + helper_src
        + f"def f({', '.join(all_params)}):\n"
        + "\n".join(b.lines)
        + "\n"
    )
    return Program(
        source=src,
        shapes=list(shapes) + (["int"] if b.has_n else []),
        argnums=tuple(range(len(shapes))),
    )


# -- running a program -----------------------------------------------------------------
STEP = 1e-4  # finite-difference step; Richardson extrapolation with STEP / 2
LARGEST = 1e8  # |f| beyond which finite differences are not compared
RTOL, ATOL = 1e-5, 1e-7


class GeneratorBug(Exception):
    """The program itself failed to run: a bug of this generator, not of the compiler."""


def load(source: str, folder: Path):
    """Write `source` to a file of its own (inspect reads files) and import it."""
    name = "prog_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    path = folder / f"{name}.py"
    if not path.exists():
        path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arguments(shapes, seed: int):
    rng = np.random.default_rng(seed)
    args = []
    for s in shapes:
        if s == "int":
            args.append(2)
        elif s == ():
            args.append(float(rng.uniform(-1.5, 1.5)))
        else:
            args.append(rng.uniform(-1.5, 1.5, size=s))
    return args


class _Functional(ast.NodeTransformer):
    """`y += e` as `y = y + e`, `y[i] = e` as `y = _with(y, np.s_[i], e)`: the
    program as the IR reads it, where an update makes a new array."""

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            load = ast.Name(node.target.id, ast.Load())
            value = ast.BinOp(load, node.op, node.value)
            return ast.copy_location(ast.Assign([node.target], value), node)
        read = ast.Subscript(node.target.value, node.target.slice, ast.Load())
        return self._with(node.target, ast.BinOp(read, node.op, node.value), node)

    def visit_Assign(self, node):
        target = node.targets[0]
        if len(node.targets) == 1 and isinstance(target, ast.Subscript):
            return self._with(target, node.value, node)
        return node

    def _with(self, target, value, node):
        name = target.value.id
        where = ast.Subscript(
            ast.Attribute(ast.Name("np", ast.Load()), "s_", ast.Load()),
            target.slice,
            ast.Load(),
        )
        call = ast.Call(
            ast.Name("_with", ast.Load()),
            [ast.Name(name, ast.Load()), where, value],
            [],
        )
        return ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], call), node)


def _with(a, index, value):
    b = np.array(a, copy=True)
    b[index] = value
    return b


def functional_value(source: str, args):
    """The value of `f` with every in-place update read as a new array."""
    tree = ast.fix_missing_locations(_Functional().visit(ast.parse(source)))
    scope = {"_with": _with}
    exec(compile(tree, "<functional>", "exec"), scope)
    return scope["f"](*_copies(args))


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _finite_differences(f, args, argnum, h):
    x = np.asarray(args[argnum], dtype=np.float64)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        vals = []
        for step in (h, -h):
            y = x.copy()
            y[i] += step
            moved = list(args)
            moved[argnum] = float(y) if x.shape == () else y
            vals.append(float(f(*_copies(moved))))
        out[i] = (vals[0] - vals[1]) / (2 * h)
    return out


def _steep(df, args, argnums, grads, scale) -> bool:
    """Whether the gradient changes by more than a tenth within one step of the
    finite differences. They then measure an average over the step, not the
    derivative, and agree with each other whatever the step: `np.sin` of a value
    in the millions winds many times within a step of 1e-4 in the input."""
    for sign in (1.0, -1.0):
        moved = list(args)
        for n in argnums:
            x = np.asarray(args[n], dtype=np.float64) + sign * STEP
            moved[n] = float(x) if x.shape == () else x
        for g, near in zip(grads, df(*_copies(moved))):
            if not np.allclose(near, g, rtol=0.1, atol=1e3 * STEP * scale):
                return True
    return False


def check(
    program: Program, folder: Path, seed: int, grad_kwargs=None, float32: bool = True
) -> str:
    """Compile `program`'s gradient and compare it with finite differences.

    Returns what was checked: 'compared' (where the gradient differs from finite
    differences with STEP, steps 16 times smaller may agree with it instead: a
    steep function), 'kink' (finite differences with two steps disagree, or, where
    they differ from the gradient, with steps 16 times smaller: a kink or a
    branch within a step; only shapes and dtypes were checked), 'steep' (the gradient changes by a tenth within a step:
    likewise), 'too large' (|f| above LARGEST: likewise), 'not finite', or
    'refused': an update in place that another name read later sees (the
    generator cannot follow every alias a loop makes), refused by the compiler
    where Python's value differs from the value with new arrays.
    Raises AssertionError for a wrong gradient or another `ADCompileError`, and lets
    any other error of the compiler through.
    """
    from adcompiler import ADCompileError, grad

    module = load(program.source, folder)
    args = arguments(program.shapes, seed)
    try:
        value = module.f(*_copies(args))
    except Exception as e:  # pragma: no cover - a generator bug
        raise GeneratorBug(f"{type(e).__name__}: {e}\n{program.source}") from e
    if np.shape(value) != ():
        raise GeneratorBug(f"the result has shape {np.shape(value)}\n{program.source}")
    try:
        df = grad(
            module.f,
            argnums=program.argnums,
            out=folder / "generated",
            **(grad_kwargs or {}),
        )
    except ADCompileError as e:
        if "writes into the array" in str(e):
            # refused: an update in place that another name read later sees
            # (inplace.py); right only where Python's value is not the IR's
            other = functional_value(program.source, args)
            if not np.allclose(other, value, rtol=1e-12, atol=0.0, equal_nan=True):
                return "refused"
        raise AssertionError(f"ADCompileError on a supported program: {e}") from e
    with np.errstate(divide="ignore", invalid="ignore"):  # 'not finite' below
        grads = df(*_copies(args))
    assert isinstance(grads, tuple) and len(grads) == len(program.argnums)
    for n, g in zip(program.argnums, grads):
        assert np.shape(g) == np.shape(args[n]), f"d_{n}: shape {np.shape(g)}"
        assert np.asarray(g).dtype == np.float64, f"d_{n}: dtype {np.asarray(g).dtype}"
    if grad_kwargs is None:
        _check_float32(df, args, program.argnums)
    elif float32 and "example_args" in grad_kwargs:  # compiled for float32 too
        single = _single(grad_kwargs["example_args"])
        kwargs = {**grad_kwargs, "example_args": single}
        df32 = grad(
            module.f, argnums=program.argnums, out=folder / "generated", **kwargs
        )
        _check_float32(df32, args, program.argnums)
    if not np.isfinite(value) or not all(np.all(np.isfinite(g)) for g in grads):
        return "not finite"
    scale = max(1.0, abs(float(value)))
    if scale > LARGEST:
        # from inputs of order 1 to a value this large, the function is so steep
        # that finite differences with any one step are meaningless: shapes and
        # dtypes were checked, the values are not compared
        return "too large"
    if _steep(df, args, program.argnums, grads, scale):
        return "steep"
    status = "compared"
    for n, g in zip(program.argnums, grads):
        coarse = _finite_differences(module.f, args, n, STEP)
        fine = _finite_differences(module.f, args, n, STEP / 2)
        if not np.all(np.isfinite(coarse)) or not np.all(np.isfinite(fine)):
            return "not finite"
        if not np.allclose(coarse, fine, rtol=1e-4, atol=1e-6 * scale):
            status = "kink"
            continue
        fd = (4 * fine - coarse) / 3
        if not np.allclose(g, fd, rtol=RTOL, atol=ATOL * scale):
            # asked only where they differ: steps 16 times smaller
            finer = _finer(module.f, args, n)
            if np.allclose(g, finer, rtol=RTOL, atol=ATOL * scale):
                continue  # a steep function: the smaller steps are the closer
            if _unstable(df, args, program.argnums.index(n), g, scale):
                status = "kink"
                continue
            if not np.allclose(finer, fd, rtol=1e-4, atol=1e-6 * scale):
                # both steps crossed a kink (a branch or a `clip` within a step
                # of the point) and agreed by chance
                status = "kink"
                continue
        np.testing.assert_allclose(
            g, fd, rtol=RTOL, atol=ATOL * scale, err_msg=f"gradient of argument {n}"
        )
    return status


def _check_float32(df, args, argnums) -> None:
    """float32 arrays in, float32 gradients out, each of its argument's shape (the
    Python floats stay floats); the values are not compared, since rounding to
    float32 may take another branch."""
    single = _single(args)
    with np.errstate(all="ignore"):
        grads = df(*_copies(single))
    for n, g in zip(argnums, grads):
        assert np.shape(g) == np.shape(args[n]), f"float32 d_{n}: shape {np.shape(g)}"
        if isinstance(single[n], np.ndarray):
            dtype = getattr(g, "dtype", type(g).__name__)
            assert dtype == np.float32, f"float32 d_{n}: dtype {dtype}"


def _single(args) -> list:
    """The arrays of `args` in float32; the Python floats and ints as they are."""
    return [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]


def _unstable(df, args, k: int, g, scale: float) -> bool:
    """Whether the `k`-th gradient moves by more than the tolerance when the
    arguments move by a part in 10^9: rounding decides it there, as in a
    `np.std` of entries equal up to rounding, whose gradient divides their
    differences (rounding errors) by their spread (another). A gradient that
    differs from itself at the same point (one read from memory never
    written) is a bug, not this."""
    with np.errstate(divide="ignore", invalid="ignore"):
        same = df(*_copies(args))[k]
    if not np.array_equal(g, same, equal_nan=True):
        return False
    rng = np.random.default_rng(0)
    moved = []
    for a in args:
        if isinstance(a, np.ndarray):
            a = a * (1.0 + 1e-9 * rng.standard_normal(a.shape))
        elif isinstance(a, float):
            a = a * (1.0 + 1e-9 * float(rng.standard_normal()))
        moved.append(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        again = df(*moved)[k]
    return not np.allclose(g, again, rtol=RTOL, atol=ATOL * scale)


def _finer(f, args, n: int):
    """Central differences with steps 16 and 32 times smaller, extrapolated: closer
    where the function curves steeply, and another slope where a kink lies within
    STEP of the point."""
    coarse = _finite_differences(f, args, n, STEP / 16)
    fine = _finite_differences(f, args, n, STEP / 32)
    return (4 * fine - coarse) / 3
