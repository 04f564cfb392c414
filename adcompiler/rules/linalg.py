"""Derivative rules for `np.linalg.inv`, `np.linalg.solve`, `np.linalg.det` and
`np.einsum`.

Each holds for a matrix and for a stack of them (`(..., M, M)`): the transpose
of a matrix is `np.moveaxis(a, -1, -2)`, and the products go through the
matmul adjoints' rules, which handle both (`g @ bᵀ` and `aᵀ @ g`, written
as NumPy where the ranks are known and through `_matmul_lhs`/`_matmul_rhs`
where they are not).

- `inv`: with `Y = A⁻¹`, dA = -Yᵀ G Yᵀ.
- `solve`: with `x = A⁻¹ b`, db = A⁻ᵀ g (one more solve, with Aᵀ), and
  dA = -db xᵀ (an outer product where b is a vector).
- `det`: dA = g det(A) A⁻ᵀ (Jacobi's formula).
- `trace`: dA = g times the identity-like matrix of the traced diagonal,
  `np.eye(n, m, k=offset)` (in each matrix of a stack, scaled by its own g).
"""

from __future__ import annotations

from ..ir import Const
from .core import defprim
from .numpy import _matmul_lhs, _matmul_rhs

NP = "np"


def _transposed(e, a):
    """The matrix transpose of `a` (`a.T` where `a` is known to be a matrix), or
    of each matrix of a stack."""
    if e.rank(a) == 2:
        return e.call("T", a)
    return e.call("moveaxis", a, Const(-1), Const(-2))


def _t_times(e, a, g):
    """aᵀ g, as the adjoint of `b` in `a @ b` writes it (`a.T @ g` for a matrix)."""
    return _matmul_rhs(e, g, None, a, g)


def _times_t(e, g, b):
    """g bᵀ, as the adjoint of `a` in `a @ b` writes it (an outer product for a vector)."""
    return _matmul_lhs(e, g, g, None, b)


def _inv_vjp(e, g, out, a):
    return e.neg(_times_t(e, _t_times(e, out, g), out))


def _solve_b(e, g, out, a, b):
    return e.call("solve", _transposed(e, a), g)


def _solve_a(e, g, out, a, b):
    return e.neg(_times_t(e, _solve_b(e, g, out, a, b), out))


def _det_vjp(e, g, out, a):
    scale = e.mul(g, out)
    if e.rank(a) != 2:  # one determinant a matrix: each scales its own
        scale = e.call("expand_dims", scale, Const((-2, -1)))
    return e.mul(scale, _transposed(e, e.call("inv", a)))


def _det_infer(s, out, a):
    if s.rank(a) is not None:
        s.set_rank(out, s.rank(a) - 2)


defprim("inv", (NP, "linalg.inv"), _inv_vjp, infer=lambda s, out, a: s.union(out, a))
defprim(
    "solve",
    (NP, "linalg.solve"),
    _solve_a,
    _solve_b,
    infer=lambda s, out, a, b: s.union(out, b),
)
defprim("det", (NP, "linalg.det"), _det_vjp, infer=_det_infer)

# -- einsum -----------------------------------------------------------------------
# `np.einsum("ij,jk->ik", a, b)` is `einsum("ij,jk->ik", a, b)`: the subscripts,
# then one argument per operand (the frontend writes the output out and refuses
# repeated letters).


def _einsum_operand(k: int):
    """The adjoint of operand `k`: the einsum of the adjoint with the other
    operands into `k`'s letters (`g bᵀ` is `einsum("ik,jk->ij", g, b)`). A letter
    only `k` has is summed over in the forward einsum, so the adjoint is the same
    along it: `np.ones_like` of the operand brings it in."""

    def vjp(e, g, out, spec, *operands):
        # `...` as one letter, `*`, for the sets of letters
        inputs, output = spec.value.replace("...", "*").split("->")
        subscripts = inputs.split(",")
        target = subscripts[k]
        parts = [s for i, s in enumerate(subscripts) if i != k]
        others = [o for i, o in enumerate(operands) if i != k]
        if set(target) - set(output) - set("".join(parts)):
            parts.append(target)
            others.append(e.call("ones_like", operands[k]))
        # NumPy sums over no `...` axis: where the others have them and the operand
        # not, they are kept, and summed by `_unbroadcast`, as are those where the
        # operand's own `...` axes are fewer or of length 1
        dots = "*" in output or any("*" in p for p in parts)
        into = target if "*" in target or not dots else f"*{target}"
        if not output:  # a scalar result: the adjoint scales the others' einsum
            if parts == [into]:
                return e.mul(g, others[0])
            total = e.mul(g, e.call("einsum", _spec(parts, into), *others))
        else:
            total = e.call("einsum", _spec([output, *parts], into), g, *others)
        if "*" in into:
            return e.call("unbroadcast", total, operands[k])
        return total

    return vjp


def _spec(parts, target) -> Const:
    return Const(f"{','.join(parts)}->{target}".replace("*", "..."))


def _einsum_infer(s, out, spec, *operands):
    if "..." not in spec.value:
        s.set_rank(out, len(spec.value.split("->")[1]))


defprim(
    "einsum",
    (NP, "einsum"),
    None,
    *[_einsum_operand(k) for k in range(32)],
    infer=_einsum_infer,
)


def einsum_jvp(e, t, out, spec, *operands):
    """The sum over the operands with a tangent of the einsum with it in their place."""
    total = None
    for k, tangent in enumerate(t[1:]):
        if tangent is not None:
            swapped = list(operands)
            swapped[k] = tangent
            term = e.call("einsum", spec, *swapped)
            total = term if total is None else e.add(total, term)
    return total


# Forward mode (rules/jvp.py imports these): the same identities, on a tangent.
def inv_jvp(e, t, out, a):
    """dY = -Y dA Y."""
    return e.neg(e.call("matmul", e.call("matmul", out, t[0]), out))


def solve_jvp(e, t, out, a, b):
    """dx = A⁻¹ (db - dA x)."""
    moved = None if t[0] is None else e.call("matmul", t[0], out)
    if moved is None:
        return e.call("solve", a, t[1])
    return e.call("solve", a, e.neg(moved) if t[1] is None else e.sub(t[1], moved))


def det_jvp(e, t, out, a):
    """d det = det · trace(A⁻¹ dA) = det · sum(A⁻ᵀ ∘ dA) over the last two axes."""
    inner = e.mul(_transposed(e, e.call("inv", a)), t[0])
    return e.mul(out, e.call("sum", inner, axis=Const((-2, -1))))


# -- traces and diagonals ------------------------------------------------------------


def value_of(atom, default):
    """The value of an option given as a constant atom, or its default when left out."""
    return default if atom is None else getattr(atom, "value", atom)


def dim(e, a, i: int):
    """The length of axis `i` of `a`: a constant where example arguments tell it,
    else `np.shape(a)[i]`."""
    shape = e.shapes.concrete(a)
    if shape is not None and -len(shape) <= i < len(shape):
        return Const(shape[i])
    return e.call("getitem", e.call("shape", a), Const(i), basic=Const(True))


def _eye(e, a, p: int, q: int, k: int):
    """`np.eye(n, m, k=k)` for axes `p` and `q` of `a` (n, m their lengths): ones
    where the index along `q` is the index along `p` plus k."""
    n, m = dim(e, a, p), dim(e, a, q)
    options = {"k": Const(k)} if k else {}
    if n == m:  # a square matrix, as example arguments show it
        return e.call("eye", n, **options)
    return e.call("eye", n, m, **options)


def _trace_vjp(e, g, out, a, offset=None, axis1=None, axis2=None):
    """g times the identity-like matrix of the diagonal summed: `g * np.eye(n, m,
    k=offset)` for a matrix; for a stack, each matrix's own g scales it (`g`
    with two axes added for the matrix, moved to `axis1` and `axis2`)."""
    k = value_of(offset, 0)
    p, q = value_of(axis1, 0), value_of(axis2, 1)
    eye = _eye(e, a, p, q, k)
    rank = e.rank(a)
    if rank == 2:
        return e.mul(g, eye if p % 2 < q % 2 else e.call("T", eye))
    scaled = e.mul(e.call("expand_dims", g, Const((-2, -1))), eye)
    last = (p, q) == (-2, -1) or (
        rank is not None and (p % rank, q % rank) == (rank - 2, rank - 1)
    )
    if last:
        return scaled
    return e.call("moveaxis", scaled, Const((-2, -1)), Const((p, q)))


def _trace_infer(s, out, a, offset=None, axis1=None, axis2=None):
    """The trace drops the two axes it sums over."""
    if s.rank(a) is not None:
        s.set_rank(out, s.rank(a) - 2)
    elif s.rank(out) is not None:
        s.set_rank(a, s.rank(out) + 2)


defprim("trace", (NP, "trace"), _trace_vjp, infer=_trace_infer)
