"""NumPy functions that lower to other primitives: np.linalg's pairs and
triples (`svd`, `qr`, `eigh`, `slogdet`), `np.split`, `np.diff`,
`np.average`, `np.polyval`, `np.interp` and their kind.
"""

from __future__ import annotations

import ast

from ..ir import Atom, Const, Var
from ..rules.core import dim
from .exits import FallThrough

# The functions whose result is a pair or a triple (a named tuple): each entry's
# primitive and field name.
_PAIRS = {
    "slogdet": (("slogdet_sign", "sign"), ("slogdet_logabsdet", "logabsdet")),
    "eigh": (
        ("eigh_eigenvalues", "eigenvalues"),
        ("eigh_eigenvectors", "eigenvectors"),
    ),
    "svd": (("svd_u", "U"), ("svd_s", "S"), ("svd_vh", "Vh")),
    "qr": (("qr_q", "Q"), ("qr_r", "R")),
}
_PAIR_ENTRIES = frozenset(prim for pair in _PAIRS.values() for prim, _ in pair)


class NumpyCalls:
    """NumPy functions lowered as other primitives (a part of `Lowering`): the
    pairs and triples of np.linalg, splits, differences, averages, polynomials,
    interpolation."""

    def pair(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.slogdet(A)`, `np.linalg.eigh(A)`: a pair, read by unpacking,
        indexing or by field (`_PAIRS`). Each entry is its own value (`r[0]`,
        `r[1]`), whose rules turn its adjoint into the pair's: for slogdet the
        logarithm's alone (the sign is piecewise constant), for eigh a matrix in
        the eigenbasis that both entries add to, for svd's triple and qr's pair
        (`svd`, `qr` below) Ā itself (rules/linalg.py)."""
        return self.entries(sig.prim, self.apply(sig, args, kwargs, node), node)

    def entries(self, prim: str, pair: Var, node: ast.Call) -> Var:
        """The entries of a pair or triple `pair` (`_PAIRS[prim]`), each its own
        value, read by index (`r[0]`, `r[-1]`) or field (`r.U`)."""
        loc = self.src.loc(node)
        fields = _PAIRS[prim]
        read = {}
        for k, (entry, field) in enumerate(fields):
            value = self.e.call(entry, pair, Const(k), loc=loc)
            read.update({k: value, k - len(fields): value, field: value})
        self.dicts[pair.name] = read
        return pair

    def svd(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.svd(A, full_matrices=False)`: the triple (U, S, Vh) of the
        reduced SVD, read as the pairs of `pair` are. `np.linalg.svd(A,
        compute_uv=False)`: its entry S, since the singular values' derivatives
        need U and Vh (one SVD computes all three). The full SVD's extra columns
        of U (or rows of Vh) are not determined by A: refused."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "a" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        options = {}
        for k in ("full_matrices", "compute_uv", "hermitian"):
            value = getattr(bound[k], "value", bound[k])  # a default is no Const
            if isinstance(bound[k], Var) or type(value) is not bool:
                raise self.error(f"`{k}` of `{name}` must be True or False", node)
            options[k] = value
        if options["hermitian"]:
            raise self.error(f"`hermitian=True` of `{name}` is not supported", node)
        loc = self.src.loc(node)
        triple = self.e.call("svd", bound["a"], full_matrices=Const(False), loc=loc)
        if not options["compute_uv"]:
            return self.e.call("svd_s", triple, Const(1), loc=loc)
        if options["full_matrices"]:
            raise self.error(
                f"`{name}` with `full_matrices=True`: only the reduced SVD has a "
                "derivative here",
                node,
                "pass `full_matrices=False`",
            )
        return self.entries("svd", triple, node)

    def qr(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.qr(A)`: the pair (Q, R) of the reduced QR decomposition."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "a" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        mode = getattr(bound["mode"], "value", bound["mode"])
        if isinstance(bound["mode"], Var) or mode != "reduced":
            raise self.error(f'only `mode="reduced"` of `{name}` is supported', node)
        pair = self.e.call("qr", bound["a"], loc=self.src.loc(node))
        return self.entries("qr", pair, node)

    def matrix_power(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.linalg.matrix_power(A, n)`, n a constant integer of 0 or more: the
        products NumPy computes, `A @ A @ A` for n = 3 (squares of squares for
        n over 3), the identity for n = 0. Each product has its rule."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "a" not in bound or "n" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        n = bound["n"]
        if not isinstance(n, Const) or type(n.value) is not int:
            raise self.error(f"`n` of `{name}` must be a constant integer", node)
        if n.value < 0:
            raise self.error(
                f"`n` of `{name}` must be 0 or more (a negative power inverts)",
                node,
                "write `np.linalg.matrix_power(np.linalg.inv(A), -n)`",
            )
        loc = self.src.loc(node)
        a, n = bound["a"], n.value
        if n == 0:  # the identity, in A's shape and dtype (as NumPy's)
            eye = self.e.call("eye", dim(self.e, a, -1), loc=loc)
            return self.e.call(
                "add", self.e.call("zeros_like", a, loc=loc), eye, loc=loc
            )
        if n <= 3:
            out = a
            for _ in range(n - 1):
                out = self.e.call("matmul", out, a, loc=loc)
            return out
        out, square = None, a  # n's binary digits, lowest first, as NumPy
        while True:
            if n & 1:
                out = (
                    square
                    if out is None
                    else self.e.call("matmul", out, square, loc=loc)
                )
            n >>= 1
            if not n:
                return out
            square = self.e.call("matmul", square, square, loc=loc)

    def tensordot(self, node: ast.Call) -> Atom:
        """`np.tensordot(a, b, axes)`, its axes a constant where written as one
        (`axes=([1, 0], [0, 1])`): the adjoints' helpers read them at run time."""
        kwargs = {kw.arg: kw.value for kw in node.keywords}
        if set(kwargs) - {"axes"} or len(node.args) + len(kwargs) > 3:
            raise self.error("`np.tensordot` takes `a`, `b` and `axes` here", node)
        if len(node.args) < 2:
            raise self.error("missing arguments for `np.tensordot`", node)
        a, b = (self.expr(x) for x in node.args[:2])
        given = node.args[2] if len(node.args) == 3 else kwargs.get("axes")
        if given is None:
            return self.e.call("tensordot", a, b, loc=self.src.loc(node))
        try:
            value = ast.literal_eval(given)
        except (ValueError, TypeError, SyntaxError):  # a value: axes from a shape
            axes = self.expr(given)
        else:
            if isinstance(value, (list, tuple)):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            axes = Const(value)
        return self.e.call("tensordot", a, b, axes=axes, loc=self.src.loc(node))

    def take(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.take(a, indices, axis)`: the index it reads, `a[:, indices]` along the
        axis (`np.ravel(a)[indices]` without one), whose adjoint is the index's."""
        bound = self.bind_call(sig, args, kwargs, node)
        if "indices" not in bound:
            raise self.error(f"missing arguments for `{ast.unparse(node.func)}`", node)
        a, idx, axis = bound["a"], bound["indices"], bound.get("axis", Const(None))
        if not isinstance(axis, Const) or not (
            axis.value is None or type(axis.value) is int
        ):
            raise self.error("`axis` of `np.take` must be a constant integer", node)
        loc = self.src.loc(node)
        basic = self.is_int(idx)
        if axis.value is None:
            a = self.e.call("ravel", a, loc=loc)
            parts = (idx,)
        elif axis.value >= 0:
            parts = (Const(slice(None)),) * axis.value + (idx,)
        else:
            parts = (Const(Ellipsis), idx) + (Const(slice(None)),) * (-axis.value - 1)
        if len(parts) == 1:
            index = idx
        elif all(isinstance(p, Const) for p in parts):
            index = Const(tuple(p.value for p in parts))
        else:
            index = self.e.call("tuple", *parts, loc=loc)
        options = {"basic": True} if basic else {}
        return self.e.call("getitem", a, index, loc=loc, **options)

    def diff(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.diff(a, n, axis)`, written as NumPy computes it: `n` times
        `a[..., 1:] - a[..., :-1]` along the axis. Its adjoint is the slices'
        (`d_a[..., 1:] += g; d_a[..., :-1] -= g`), and forward mode needs nothing new.
        """
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        n, axis = (getattr(bound[k], "value", bound[k]) for k in ("n", "axis"))
        for k, v in (("n", n), ("axis", axis)):
            if isinstance(bound[k], Var) or type(v) is not int:
                raise self.error(f"`{k}` of `{name}` must be a constant integer", node)
        if n < 0:
            raise self.error(f"`n` of `{name}` must be 0 or more", node)
        if axis >= 0:
            before, after = (slice(None),) * axis, ()
        else:
            before, after = (Ellipsis,), (slice(None),) * (-axis - 1)
        upper, lower = (
            Const((before + (s,) + after) if before or after else s)
            for s in (slice(1, None), slice(None, -1))
        )
        loc = self.src.loc(node)
        out = bound["a"]
        for _ in range(n):
            hi = self.e.call("getitem", out, upper, loc=loc, basic=True)
            lo = self.e.call("getitem", out, lower, loc=loc, basic=True)
            out = self.e.call("sub", hi, lo, loc=loc)
        return out

    def average(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.average(a, axis, weights)`: the mean without weights, else
        `np.sum(a * w, axis) / np.sum(w, axis)`, as NumPy computes it. Weights
        of another shape than `a`'s are a vector along `axis`: `_along` gives
        them the axes that bring them there (where the ranks do not tell)."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        a, axis = bound["a"], bound.get("axis", Const(None))
        weights = bound.get("weights", Const(None))
        if not isinstance(axis, Const):
            raise self.error(f"`axis` of `{name}` must be a constant", node)
        loc = self.src.loc(node)
        options = {} if axis.value is None else {"axis": axis}
        if isinstance(weights, Const) and weights.value is None:
            return self.e.call("mean", a, loc=loc, **options)
        w = weights
        rank_a, rank_w = self.e.rank(a), self.e.rank(w)
        if options and not (rank_w is not None and rank_w == rank_a):
            w = self.e.call("along", w, a, axis, loc=loc)
        total = self.e.call(
            "sum", self.e.call("mul", a, w, loc=loc), loc=loc, **options
        )
        return self.e.call(
            "div", total, self.e.call("sum", w, loc=loc, **options), loc=loc
        )

    def split(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.split(x, k_or_indices, axis)` (np.array_split's): the list of its
        parts, each a slice of x along `axis`, so every part's adjoint is added
        into its block of x's (nothing where a part is unused) by the rules of
        indexing. A part read by a constant index (`np.split(x, 2)[0]`, or by
        unpacking) is that slice itself. With k sections and x's length n, the
        parts start at i·(n // k) (np.split, where k divides n; NumPy raises
        otherwise) or, for np.array_split, at i·(n // k) + min(i, n % k)."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if "ary" not in bound or "indices_or_sections" not in bound:
            raise self.error(f"missing arguments for `{name}`", node)
        x, sections = bound["ary"], bound["indices_or_sections"]
        axis = bound["axis"] if isinstance(bound["axis"], Atom) else Const(0)
        given = getattr(sections, "value", None)
        ints = isinstance(given, tuple) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in given
        )
        if not (isinstance(axis, Const) and type(axis.value) is int):
            raise self.error(f"`axis` of `{name}` must be an int constant", node)
        if not (ints or type(given) is int and given > 0):
            raise self.error(
                f"`{name}` needs a positive number of sections or a list of "
                "indices, as constants",
                node,
            )
        loc = self.src.loc(node)
        if ints:
            bounds = [Const(None), *map(Const, given), Const(None)]
        else:
            shape = self.e.call("shape", x, loc=loc)
            n = self.e.call("getitem", shape, axis, loc=loc, basic=True)
            r = None
            if sig.prim == "array_split":
                q = self.e.call("floordiv", n, Const(given), loc=loc)
                r = self.e.call("mod", n, Const(given), loc=loc)
            else:  # raises, as np.split does, where the sections do not divide n
                q = self.e.call("split_size", n, Const(given), loc=loc)
            self.mark_int(q)
            bounds = [Const(None)]
            for i in range(1, given):
                at = self.e.call("mul", Const(i), q, loc=loc)
                if r is not None:
                    extra = self.e.call("min", Const(i), r, loc=loc)
                    at = self.e.call("add", at, extra, loc=loc)
                self.mark_int(at)
                bounds.append(at)
            bounds.append(Const(None))
        k = axis.value
        if k >= 0:
            before, after = (Const(slice(None)),) * k, ()
        else:
            before, after = (Const(Ellipsis),), (Const(slice(None)),) * (-k - 1)
        parts = []
        for lo, hi in zip(bounds, bounds[1:]):
            if isinstance(lo, Const) and isinstance(hi, Const):
                cut = Const(slice(lo.value, hi.value))
            else:
                cut = self.e.call("slice", lo, hi, Const(None), loc=loc)
            index = (*before, cut, *after)
            if len(index) == 1:
                idx = index[0]
            elif all(isinstance(a, Const) for a in index):
                idx = Const(tuple(a.value for a in index))
            else:
                idx = self.e.call("tuple", *index, loc=loc)
            parts.append(self.e.call("getitem", x, idx, loc=loc, basic=True))
        return self.list_of(parts, loc)

    def polyval(self, node: ast.Call) -> Atom:
        """`np.polyval(p, x)` by Horner's scheme, as NumPy computes it: `y = y * x
        + c` for each coefficient c, highest power first, from `y = 0`: written
        out for a list of coefficients written out, else a loop over `p`."""
        name = ast.unparse(node.func)
        if node.keywords or len(node.args) != 2:
            raise self.error(f"`{name}` takes `p` and `x`, by position", node)
        coefficients, x = node.args[0], self.expr(node.args[1])
        loc = self.src.loc(node)
        if isinstance(coefficients, (ast.List, ast.Tuple)):
            if not coefficients.elts:
                raise self.error(f"`{name}` of no coefficients", node)
            cs = [self.expr(c) for c in coefficients.elts]
            y = cs[0]
            if len(cs) == 1:  # a constant polynomial still has x's shape
                return self.e.call("add", self.e.call("zeros_like", x, loc=loc), y)
            for c in cs[1:]:
                y = self.e.call("add", self.e.call("mul", y, x, loc=loc), c, loc=loc)
            return y
        p = self.expr(coefficients)
        names = {k: self.names.fresh(k) for k in ("y", "c", "x", "p")}
        saved = {n: self.env.get(n) for n in names.values()}
        self.env[names["x"]], self.env[names["p"]] = x, p
        self.bind(names["y"], self.e.call("zeros_like", x, loc=loc))
        loop = ast.parse(
            "for {c} in {p}:\n    {y} = {y} * {x} + {c}\n".format(**names)
        ).body
        for n in ast.walk(loop[0]):
            if isinstance(n, (ast.expr, ast.stmt)):
                ast.copy_location(n, node)
        self.lower_seq(loop, FallThrough(self))
        out = self.env[names["y"]]
        for n, value in saved.items():
            if value is None:
                self.env.pop(n, None)
            else:
                self.env[n] = value
        return out

    def select_lists(self, node: ast.Call) -> Atom:
        """`np.select([c1, c2], [v1, v2], default)` with both lists written out:
        `np.where(c1, v1, np.where(c2, v2, default))`, built from the last
        condition to the first, since NumPy takes the first that holds."""
        name = ast.unparse(node.func)
        given = dict(zip(("condlist", "choicelist", "default"), node.args))
        for kw in node.keywords:
            if kw.arg not in ("condlist", "choicelist", "default") or kw.arg in given:
                raise self.error(f"`{name}` does not take `{kw.arg}` here", node)
            given[kw.arg] = kw.value
        if len(node.args) > 3 or "condlist" not in given or "choicelist" not in given:
            raise self.error(
                f"`{name}` takes `condlist`, `choicelist` and `default`", node
            )
        conds, choices = given["condlist"], given["choicelist"]
        if not all(isinstance(v, (ast.List, ast.Tuple)) for v in (conds, choices)):
            raise self.error(
                f"`{name}` needs its conditions and choices as lists written out",
                node,
                "write `np.select([c1, c2], [v1, v2], default)`",
            )
        if len(conds.elts) != len(choices.elts) or not conds.elts:
            raise self.error(
                f"`{name}` needs as many choices as conditions, one or more", node
            )
        loc = self.src.loc(node)
        pairs = [(self.expr(c), self.expr(v)) for c, v in zip(conds.elts, choices.elts)]
        out = self.expr(given["default"]) if "default" in given else Const(0)
        for c, v in reversed(pairs):
            out = self.e.call("where", c, v, out, loc=loc)
        return out

    def reduction(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """np.ptp, np.nansum, np.nanmean, written as what they compute: `np.max(a)
        - np.min(a)` (ties share as np.max's do); the sum of `np.where(np.isnan(a),
        0.0, a)`, so NaN entries get no gradient; that sum over the count of
        entries that are not NaN."""
        name = ast.unparse(node.func)
        if len(args) > 2 or set(kwargs) - {"axis", "keepdims"}:
            raise self.error(f"`{name}` takes `a`, `axis` and `keepdims` here", node)
        if not args:
            raise self.error(f"missing arguments for `{name}`", node)
        bound = {**sig.keywords, **dict(zip(sig.positional, args))}
        for key, value in kwargs.items():
            if key in dict(zip(sig.positional, args)):
                raise self.error(f"`{name}` got `{key}` twice", node)
            bound[key] = value
        options = {}
        for k in ("axis", "keepdims"):
            value = bound[k] if isinstance(bound[k], Atom) else Const(bound[k])
            if not isinstance(value, Const):
                raise self.error(f"`{k}` of `{name}` must be a constant", node)
            if value != Const(sig.keywords[k]):  # left out where the default
                options[k] = value
        a, loc = bound["a"], self.src.loc(node)
        if sig.prim == "ptp":
            hi = self.e.call("amax", a, loc=loc, **options)
            return self.e.call(
                "sub", hi, self.e.call("amin", a, loc=loc, **options), loc=loc
            )
        nan = self.e.call("isnan", a, loc=loc)
        kept = self.e.call("where", nan, Const(0.0), a, loc=loc)
        total = self.e.call("sum", kept, loc=loc, **options)
        if sig.prim == "nansum":
            return total
        present = self.e.call("logical_not", nan, loc=loc)
        count = self.e.call("sum", present, loc=loc, **options)
        return self.e.call("div", total, count, loc=loc)

    def interp(self, sig, args, kwargs, node: ast.Call) -> Atom:
        """`np.interp(x, xp, fp)`, written as the interpolation it is: with `i` the
        segment x falls in (`_interp_segment`, the first or last one outside
        the knots) and `t` x's fraction along it, clipped to [0, 1] (np.interp
        holds fp[0] and fp[-1] outside), `fp[i] + t np.diff(fp)[i]`. So
        the adjoint of x is the segment's slope (0 outside), that of fp the
        weights 1 - t and t on the two knots' values, and forward mode and
        second derivatives need nothing new."""
        name = ast.unparse(node.func)
        bound = self.bind_call(sig, args, kwargs, node)
        if any(k not in bound for k in ("x", "xp", "fp")):
            raise self.error(f"missing arguments for `{name}`", node)
        for k in ("left", "right", "period"):
            if getattr(bound[k], "value", bound[k]) is not None:
                raise self.error(
                    f"`{name}` is supported without `{k}` (fp's ends are held "
                    "outside the knots)",
                    node,
                )
        x, xp, fp = bound["x"], bound["xp"], bound["fp"]
        loc = self.src.loc(node)
        i = self.e.call("interp_segment", x, xp, loc=loc)

        def steps(v):  # `np.diff(v)`: the rise of fp, the run of xp, per segment
            hi = self.e.call("getitem", v, Const(slice(1, None)), loc=loc, basic=True)
            lo = self.e.call("getitem", v, Const(slice(None, -1)), loc=loc, basic=True)
            return self.e.call("sub", hi, lo, loc=loc)

        x0, f0 = (self.e.call("getitem", v, i, loc=loc) for v in (xp, fp))
        run, rise = (self.e.call("getitem", steps(v), i, loc=loc) for v in (xp, fp))
        along = self.e.call("div", self.e.call("sub", x, x0, loc=loc), run, loc=loc)
        t = self.e.call("clip", along, Const(0.0), Const(1.0), loc=loc)
        return self.e.call("add", f0, self.e.call("mul", t, rise, loc=loc), loc=loc)
