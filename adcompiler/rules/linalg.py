"""Derivative rules for `np.linalg.inv`, `np.linalg.solve`, `np.linalg.det`,
`np.linalg.slogdet`, `np.linalg.cholesky`, `np.linalg.eigh`,
`np.linalg.eigvalsh`, `np.linalg.svd`, `np.linalg.qr`, `np.linalg.pinv`,
`np.inner`, `np.cross` and `np.einsum` (`np.linalg.matrix_power` is its
products, written by the frontend).

Each holds for a matrix and for a stack of them (`(..., M, M)`): the transpose
of a matrix is `np.moveaxis(a, -1, -2)`, and the products go through the
matmul adjoints' rules, which handle both (`g @ bᵀ` and `aᵀ @ g`, written
as NumPy where the ranks are known and through `_matmul_lhs`/`_matmul_rhs`
where they are not).

- `inv`: with `Y = A⁻¹`, dA = -Yᵀ G Yᵀ.
- `solve`: with `x = A⁻¹ b`, db = A⁻ᵀ g (one more solve, with Aᵀ), and
  dA = -db xᵀ (an outer product where b is a vector).
- `det`: dA = g det(A) A⁻ᵀ (Jacobi's formula).
- `cholesky`, `eigh`, `eigvalsh`: of a symmetric A (the gradient symmetric),
  written with `solve`, `tril`, products and the decomposition itself, so that
  each has second derivatives both ways; see their section below.
- `svd`, `qr`, `pinv`: the same way, with the decomposition itself (or the
  pseudo-inverse), products, `tril` and `solve`; see their sections.
- `trace`: dA = g times the identity-like matrix of the traced diagonal,
  `np.eye(n, m, k=offset)` (in each matrix of a stack, scaled by its own g).
- `diag`, `diagonal`, `diagflat`: reading a diagonal and making a matrix of one
  are each other's adjoints: `np.diag(g, k)` reads one, `np.diagflat(g, k)`
  makes a square matrix of one, `_undiagonal` puts one into zeros shaped like
  a matrix that may not be square.
"""

from __future__ import annotations

from ..ir import Const
from .core import defprim, dim, value_of
from .numpy import _matmul_lhs, _matmul_rhs

NP = "np"


def _transposed(e, a, like=None):
    """The matrix transpose of `a` (`a.T` where `a`, or `like` of its shape, is
    known to be a matrix), or of each matrix of a stack."""
    if e.rank(a) == 2 or (like is not None and e.rank(like) == 2):
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


def _slogdet_vjp(e, g, out, a):
    """d log|det A| = A⁻ᵀ dA: g, the adjoint of the logarithm, times A⁻ᵀ (each
    matrix of a stack by its own g); the sign has no derivative."""
    if e.rank(a) != 2:
        g = e.call("expand_dims", g, Const((-2, -1)))
    return e.mul(g, _transposed(e, e.call("inv", a)))


# `np.linalg.slogdet(a)` is a pair; its entries are `r[0]` and `r[1]` (frontend).
# The adjoint (and tangent) of the pair is that of its logarithm, whose shape
# the shape facts give it.
def _slogdet_infer(s, out, a):
    _det_infer(s, out, a)
    if s.rank(out) is not None:  # a scalar logarithm: the determinant of a matrix
        s.set_rank(a, s.rank(out) + 2)


defprim("slogdet", (NP, "linalg.slogdet"), _slogdet_vjp, infer=_slogdet_infer)
defprim(
    "slogdet_sign",
    ("getitem",),
    None,
    None,
    infer=lambda s, out, pair, i: s.union(out, pair),
)
defprim(
    "slogdet_logabsdet",
    ("getitem",),
    lambda e, g, out, pair, i: g,
    None,
    infer=lambda s, out, pair, i: s.union(out, pair),
)

# -- Cholesky and the symmetric eigendecomposition ----------------------------------
# NumPy reads one triangle of A (the lower, by default). The derivatives are
# those of the function of a symmetric A, as JAX's: a perturbation E counts as
# ½(E + Eᵀ), and the gradient is symmetric, half of an off-diagonal entry's
# derivative on each side. Each holds for a matrix and for a stack of them.


def _symmetrized(e, x, like=None):
    """½(X + Xᵀ), X of the shape of `like` where given (an adjoint, of its value's shape)."""
    return e.mul(0.5, e.add(x, _transposed(e, x, like)))


def _phi(e, x):
    """Φ(X), the lower triangle of X with its diagonal halved: ½(tril(X) + tril(X, -1))."""
    return e.mul(0.5, e.add(e.call("tril", x), e.call("tril", x, k=Const(-1))))


def _cholesky_vjp(e, g, out, a):
    """Ā = ½(S + Sᵀ), S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Murray 2016). The solves with Lᵀ give
    X = L⁻ᵀ Φ, then L⁻ᵀ Xᵀ = Sᵀ, whose symmetric part is S's."""
    lt = _transposed(e, out)
    half = e.call("solve", lt, _phi(e, _t_times(e, out, g)))
    return _symmetrized(e, e.call("solve", lt, _transposed(e, half)))


defprim(
    "cholesky",
    (NP, "linalg.cholesky"),
    _cholesky_vjp,
    infer=lambda s, out, a: s.union(out, a),
)


def _eigenvectors(e, pair):
    return e.call("eigh_eigenvectors", pair, Const(1))


def _gaps(e, w):
    """F with F_ij = 1/(w_j - w_i) off the diagonal and 0 on it, written
    1/(w_j - w_i + δ_ij) - δ_ij. An eigenvalue repeated makes it infinite: the
    eigenvectors of a repeated eigenvalue have no derivative (as in JAX)."""
    eye = e.call("eye", dim(e, w, -1))
    row = w if e.rank(w) == 1 else e.call("expand_dims", w, Const(-2))
    gaps = e.sub(row, e.call("expand_dims", w, Const(-1)))
    return e.sub(e.div(1.0, e.add(gaps, eye)), eye)


def _columns_scaled(e, v, w):
    """V diag(w): each column of V times its entry of w (of each matrix of a stack)."""
    return e.mul(v, w if e.rank(w) == 1 else e.call("expand_dims", w, Const(-2)))


# `np.linalg.eigh(a)` is a pair (eigenvalues, eigenvectors), entries `r[0]` and
# `r[1]` (frontend). Its adjoint and tangent are matrices in the eigenbasis:
# the tangent T = Vᵀ ½(Ȧ + Ȧᵀ) V, whose diagonal is ẇ and V (F ∘ T) is V̇; the
# adjoint M = diag(w̄) + F ∘ (Vᵀ V̄), from which Ā = ½ V (M + Mᵀ) Vᵀ. The
# entries' rules turn their own adjoints into M, and M into their tangents.
def _eigh_vjp(e, g, out, a):
    v = _eigenvectors(e, out)
    return _times_t(e, e.call("matmul", v, _symmetrized(e, g, a)), v)


def _eigenvalues_vjp(e, g, out, pair, i):
    """diag(w̄): `np.diag(w̄)` for a matrix, on the diagonals of a stack's."""
    if e.rank(g) == 1:
        return e.call("diag", g)
    options = {"axis1": Const(-2), "axis2": Const(-1)}
    return e.call("undiagonal", g, _eigenvectors(e, pair), **options)


def _eigenvectors_vjp(e, g, out, pair, i):
    """F ∘ (Vᵀ V̄)."""
    w = e.call("eigh_eigenvalues", pair, Const(0))
    return e.mul(_gaps(e, w), _t_times(e, out, g))


defprim(
    "eigh",
    (NP, "linalg.eigh"),
    _eigh_vjp,
    infer=lambda s, out, a: s.union(out, a),
)


def _eigenvalues_infer(s, out, pair, i):
    if s.rank(pair) is not None:
        s.set_rank(out, s.rank(pair) - 1)
    elif s.rank(out) is not None:
        s.set_rank(pair, s.rank(out) + 1)


defprim(
    "eigh_eigenvalues",
    ("getitem",),
    _eigenvalues_vjp,
    None,
    infer=_eigenvalues_infer,
)
defprim(
    "eigh_eigenvectors",
    ("getitem",),
    _eigenvectors_vjp,
    None,
    infer=lambda s, out, pair, i: s.union(out, pair),
)


def _eigvalsh_vjp(e, g, out, a):
    """Ā = V diag(w̄) Vᵀ, V the eigenvectors (`np.linalg.eigh(a)[1]`)."""
    v = _eigenvectors(e, e.call("eigh", a))
    return _times_t(e, _columns_scaled(e, v, g), v)


def _eigvalsh_infer(s, out, a):
    if s.rank(a) is not None:
        s.set_rank(out, s.rank(a) - 1)
    elif s.rank(out) is not None:
        s.set_rank(a, s.rank(out) + 1)


defprim("eigvalsh", (NP, "linalg.eigvalsh"), _eigvalsh_vjp, infer=_eigvalsh_infer)

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


def slogdet_jvp(e, t, out, a):
    """d log|det A| = trace(A⁻¹ dA) = sum(A⁻ᵀ ∘ dA) over the last two axes."""
    inner = e.mul(_transposed(e, e.call("inv", a)), t[0])
    return e.call("sum", inner, axis=Const((-2, -1)))


def cholesky_jvp(e, t, out, a):
    """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ), Ȧ symmetrized: X = L⁻¹ Ȧ, then L⁻¹ Xᵀ = L⁻¹ Ȧ L⁻ᵀ."""
    half = e.call("solve", out, _symmetrized(e, t[0], a))
    return e.call("matmul", out, _phi(e, e.call("solve", out, _transposed(e, half))))


def eigh_jvp(e, t, out, a):
    """The pair's tangent: Vᵀ ½(Ȧ + Ȧᵀ) V, Ȧ in the eigenbasis."""
    v = _eigenvectors(e, out)
    return _t_times(e, v, e.call("matmul", _symmetrized(e, t[0], a), v))


def eigenvalues_jvp(e, t, out, pair, i):
    """ẇ: the diagonal of the pair's tangent."""
    if e.rank(t[0]) == 2:
        return e.call("diag", t[0])
    return e.call("diagonal", t[0], axis1=Const(-2), axis2=Const(-1))


def eigenvectors_jvp(e, t, out, pair, i):
    """V̇ = V (F ∘ T)."""
    w = e.call("eigh_eigenvalues", pair, Const(0))
    return e.call("matmul", out, e.mul(_gaps(e, w), t[0]))


def eigvalsh_jvp(e, t, out, a):
    """ẇ_k = v_kᵀ Ȧ v_k: the sum over rows of V ∘ (Ȧ V)."""
    v = _eigenvectors(e, e.call("eigh", a))
    return e.call("sum", e.mul(v, e.call("matmul", t[0], v)), axis=Const(-2))


def det_jvp(e, t, out, a):
    """d det = det · trace(A⁻¹ dA) = det · sum(A⁻ᵀ ∘ dA) over the last two axes."""
    inner = e.mul(_transposed(e, e.call("inv", a)), t[0])
    return e.mul(out, e.call("sum", inner, axis=Const((-2, -1))))


# -- traces and diagonals ------------------------------------------------------------


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


def _square(e, a) -> bool:
    """Example arguments show `a` is a square matrix: `np.diag(g, k)` has its shape."""
    shape = e.shapes.concrete(a)
    return shape is not None and len(shape) == 2 and shape[0] == shape[1]


def _options(**given) -> dict:
    """The options given (a rule's keyword atoms), the ones left out left out."""
    return {k: v for k, v in given.items() if v is not None}


def _diag_vjp(e, g, out, v, k=None):
    """A vector made a matrix: its adjoint is the diagonal of g, `np.diag(g, k)`.
    A matrix's diagonal read: its adjoint is the matrix with g on that diagonal,
    `np.diag(g, k)` too where the matrix is square (`_undiagonal` where it may
    not be; `_undiag` chooses at run time where the rank is unknown)."""
    rank = e.rank(v)
    if rank == 1:
        return e.call("diag", g, **_options(k=k))
    if rank == 2 and _square(e, v):
        return e.call("diagflat", g, **_options(k=k))
    if rank == 2:
        return e.call("undiagonal", g, v, **_options(offset=k))
    return e.call("undiag", g, v, **_options(k=k))


def _diagonal_vjp(e, g, out, a, offset=None, axis1=None, axis2=None):
    default_axes = axis1 is None and axis2 is None
    if default_axes and e.rank(a) == 2 and _square(e, a):
        return e.call("diagflat", g, **_options(k=offset))
    options = _options(offset=offset, axis1=axis1, axis2=axis2)
    return e.call("undiagonal", g, a, **options)


def _diag_infer(s, out, v, k=None):
    """np.diag makes a matrix of a vector, a vector of a matrix."""
    if s.rank(v) in (1, 2):
        s.set_rank(out, 3 - s.rank(v))
    elif s.rank(out) in (1, 2):
        s.set_rank(v, 3 - s.rank(out))


def _diagonal_infer(s, out, a, offset=None, axis1=None, axis2=None):
    if s.rank(a) is not None:
        s.set_rank(out, s.rank(a) - 1)


defprim("diag", (NP, "diag"), _diag_vjp, infer=_diag_infer)
defprim("diagonal", (NP, "diagonal"), _diagonal_vjp, infer=_diagonal_infer)


def _diagflat_vjp(e, g, out, v, k=None):
    """The diagonal of g, in the shape of `v` (flattened into it)."""
    diagonal = e.call("diag", g, **_options(k=k))
    if e.rank(v) == 1:
        return diagonal
    return e.call("reshape", diagonal, e.call("shape", v))


defprim(
    "diagflat",
    (NP, "diagflat"),
    _diagflat_vjp,
    infer=lambda s, out, v, k=None: s.set_rank(out, 2),
)
# The adjoints' helpers, each the other's adjoint: a second derivative reads them back.
defprim(
    "undiagonal",
    ("helper", "_undiagonal"),
    lambda e, g, out, h, x, **options: e.call("diagonal", g, **options),
    None,
    infer=lambda s, out, g, x, **options: s.union(out, x),
)
defprim(
    "undiag",
    ("helper", "_undiag"),
    lambda e, g, out, h, v, k=None: e.call("diag", g, **_options(k=k)),
    None,
    infer=lambda s, out, g, v, k=None: s.union(out, v),
)

# -- inner and cross products -------------------------------------------------------


# np.inner(a, b): out[I, J] = Σ_k a[I, k] b[J, k], I the axes of `a` but its
# last, J those of `b` (a scalar operand multiplies).
def _inner_a(e, g, out, a, b):
    """ā = Σ_J g[I, J] b[J, k]: `g * b`, `g @ b` where the ranks are known to be
    small, `np.tensordot(g, b, axes=rank(b) - 1)` where they are known; where a
    rank is not, `_inner_lhs`, which sees whether an operand is a scalar."""
    ra, rb = e.rank(a), e.rank(b)
    if ra == 0 or rb == 0:  # np.inner of a scalar multiplies
        return e.call("sum", e.mul(g, b)) if ra == 0 else e.mul(g, b)
    if ra is None or rb is None:
        return e.call("inner_lhs", g, b, a)
    if ra == 1 and rb == 1:
        return e.mul(g, b)
    if rb == 1 and ra == 2:
        return e.outer(g, b)
    if rb == 2 and ra in (1, 2):
        return e.call("matmul", g, b)
    return e.call("tensordot", g, b, axes=Const(rb - 1))


def _inner_b(e, g, out, a, b):
    """b̄ = Σ_I g[I, J] a[I, k]: `g * a`, `g.T @ a`, else a tensordot over I with
    `a`'s last axis moved first, and back last; `_inner_rhs` where a rank is
    not known."""
    ra, rb = e.rank(a), e.rank(b)
    if ra == 0 or rb == 0:
        return e.call("sum", e.mul(g, a)) if rb == 0 else e.mul(g, a)
    if ra is None or rb is None:
        return e.call("inner_rhs", a, g, b)
    if ra == 1 and rb == 1:
        return e.mul(g, a)
    if ra == 1 and rb == 2:
        return e.outer(g, a)
    if ra == 2 and rb == 1:
        return e.call("matmul", g, a)
    if ra == 2 and rb == 2:
        return e.call("matmul", e.call("T", g), a)
    moved = e.call("moveaxis", a, Const(-1), Const(0))
    total = e.call("tensordot", moved, g, axes=Const(ra - 1))
    return e.call("moveaxis", total, Const(0), Const(-1))


def _inner_infer(s, out, a, b):
    ra, rb = s.rank(a), s.rank(b)
    if ra and rb:  # of arrays, not scalars: the last axes contracted
        s.set_rank(out, ra + rb - 2)


defprim("inner", (NP, "inner"), _inner_a, _inner_b, infer=_inner_infer)
# np.inner's adjoints where a rank is not known: `_inner_lhs(g, b, a)` is linear in
# g and in b, <c, out> = <g, np.inner(c, b)>; `a` gives its shape alone. Likewise
# `_inner_rhs(a, g, b)`.
defprim(
    "inner_lhs",
    ("helper", "_inner_lhs"),
    lambda e, c, out, g, b, a: e.call("inner", c, b),
    lambda e, c, out, g, b, a: e.call("inner_rhs", c, g, b),
    None,
    infer=lambda s, out, g, b, a: s.union(out, a),
)
defprim(
    "inner_rhs",
    ("helper", "_inner_rhs"),
    lambda e, c, out, a, g, b: e.call("inner_lhs", g, c, a),
    lambda e, c, out, a, g, b: e.call("inner", a, c),
    None,
    infer=lambda s, out, a, g, b: s.union(out, b),
)


# np.cross of 3-vectors (or stacks of them, broadcast along the leading axes):
# ⟨g, a × b⟩ = ⟨a, b × g⟩ = ⟨b, g × a⟩, so ā = b × g and b̄ = g × a, each summed
# back to its operand's shape where the stacks broadcast.
def _cross_infer(s, out, a, b):
    ra, rb = s.rank(a), s.rank(b)
    if ra is not None and rb is not None:
        s.set_rank(out, max(ra, rb))
    if s.same(a, b):
        s.union(out, a)


defprim(
    "cross",
    (NP, "cross"),
    lambda e, g, out, a, b: e.call("cross", b, g),
    lambda e, g, out, a, b: e.call("cross", g, a),
    broadcasts=True,
    infer=_cross_infer,
)


# -- the singular value decomposition -----------------------------------------------
# `np.linalg.svd(A, full_matrices=False)` is the triple `svd`, entries `r[0]`,
# `r[1]`, `r[2]` (U, S, Vh; frontend), and `np.linalg.svd(A, compute_uv=False)`
# its entry S: the rules of the singular values need U and Vh, so one SVD
# computes all three. A = U diag(s) Vh, U of shape (m, k), Vh (k, n),
# k = min(m, n), of a matrix or of each of a stack. The triple's adjoint is Ā
# itself, to which each entry's rule adds its own term (Townsend 2016): S's is
# U diag(s̄) Vh. Its tangent is Ȧ, from which each entry's rule computes its
# own (as JAX's). F_ij = 1/(s_j² - s_i²) (`_gaps` of s²): a repeated singular
# value makes U's and Vh's derivatives infinite, and a zero one (A of
# deficient rank) too, through 1/s; the singular values' own derivative stays
# finite at both.


def _svd_values_term(e, u, g, vh):
    """U diag(s̄) Vh."""
    return e.call("matmul", _columns_scaled(e, u, g), vh)


def _svd_parts(e, triple):
    u = e.call("svd_u", triple, Const(0))
    s = e.call("svd_s", triple, Const(1))
    vh = e.call("svd_vh", triple, Const(2))
    return u, s, vh


def _skew(e, x, like=None):
    """X - Xᵀ (X of the rank of `like` where given)."""
    return e.sub(x, _transposed(e, x, like))


def _square(e, x) -> bool:
    """Example arguments show that `x` is a square matrix, or a stack of them: U
    (or Vh) of the SVD has no columns (rows) outside its span, Ū none either."""
    shape = e.shapes.concrete(x)
    return shape is not None and len(shape) >= 2 and shape[-1] == shape[-2]


def _u_vjp(e, g, out, triple, i):
    """U [(F ∘ (J - Jᵀ)) S + (Ū - U J) S⁻¹] Vh, J = UᵀŪ: the second term the part
    of Ū outside U's columns (left out where U is square)."""
    u, s, vh = _svd_parts(e, triple)
    j = e.call("matmul", _transposed(e, u), g)
    inside = e.call("matmul", u, e.mul(_gaps(e, e.mul(s, s)), _skew(e, j, u)))
    row = s if e.rank(s) == 1 else e.call("expand_dims", s, Const(-2))
    scaled = e.mul(inside, row)
    if not _square(e, u):
        outside = e.sub(g, e.call("matmul", u, j))
        scaled = e.add(scaled, e.div(outside, row))
    return e.call("matmul", scaled, vh)


def _s_vjp(e, g, out, triple, i):
    u, s, vh = _svd_parts(e, triple)
    return _svd_values_term(e, u, g, vh)


def _vh_vjp(e, g, out, triple, i):
    """U [S (F ∘ (L - Lᵀ)) Vh + S⁻¹ (V̄h - Lᵀ Vh)], L = Vh V̄hᵀ: the second term
    the part of V̄h outside Vh's rows (left out where Vh is square)."""
    u, s, vh = _svd_parts(e, triple)
    j = e.call("matmul", vh, _transposed(e, g, vh))
    inside = e.call("matmul", e.mul(_gaps(e, e.mul(s, s)), _skew(e, j, vh)), vh)
    column = e.call("expand_dims", s, Const(-1))
    scaled = e.mul(column, inside)
    if not _square(e, vh):
        outside = e.sub(g, e.call("matmul", _transposed(e, j, vh), vh))
        scaled = e.add(scaled, e.div(outside, column))
    return e.call("matmul", u, scaled)


defprim(
    "svd",
    (NP, "linalg.svd"),
    lambda e, g, out, a, full_matrices=None: g,
    infer=lambda s, out, a, full_matrices=None: s.union(out, a),
)
defprim(
    "svd_u",
    ("getitem",),
    _u_vjp,
    None,
    infer=lambda s, out, triple, i: s.set_rank(out, s.rank(triple)),
)
defprim("svd_s", ("getitem",), _s_vjp, None, infer=_eigenvalues_infer)
defprim(
    "svd_vh",
    ("getitem",),
    _vh_vjp,
    None,
    infer=lambda s, out, triple, i: s.set_rank(out, s.rank(triple)),
)


def _svd_tangent(e, t, triple):
    """dS = Uᵀ Ȧ Vhᵀ (k × k), and U, s, Vh."""
    u, s, vh = _svd_parts(e, triple)
    ds = e.call("matmul", _transposed(e, u), e.call("matmul", t, _transposed(e, vh)))
    return ds, u, s, vh


def svd_s_jvp(e, t, out, triple, i):
    """ṡ = diag(dS)."""
    ds, u, s, vh = _svd_tangent(e, t[0], triple)
    return e.call("diagonal", ds, axis1=Const(-2), axis2=Const(-1))


def _svd_symmetric(e, ds, s, like, first):
    """F ∘ (dS S + S dSᵀ) (`first`: U's) or F ∘ (S dS + dSᵀ S) (Vh's)."""
    row = s if e.rank(s) == 1 else e.call("expand_dims", s, Const(-2))
    column = e.call("expand_dims", s, Const(-1))
    dst = _transposed(e, ds, like)
    if first:
        x = e.add(e.mul(ds, row), e.mul(column, dst))
    else:
        x = e.add(e.mul(column, ds), e.mul(dst, row))
    return e.mul(_gaps(e, e.mul(s, s)), x), row, column


def svd_u_jvp(e, t, out, triple, i):
    """U̇ = U (F ∘ (dS S + S dSᵀ)) + (Ȧ Vhᵀ - U dS) S⁻¹, the second term left out
    where U is square."""
    ds, u, s, vh = _svd_tangent(e, t[0], triple)
    inside, row, _ = _svd_symmetric(e, ds, s, u, True)
    tangent = e.call("matmul", u, inside)
    if _square(e, u):
        return tangent
    moved = e.call("matmul", t[0], _transposed(e, vh))
    outside = e.sub(moved, e.call("matmul", u, ds))
    return e.add(tangent, e.div(outside, row))


def svd_vh_jvp(e, t, out, triple, i):
    """V̇h = -(F ∘ (S dS + dSᵀ S)) Vh + S⁻¹ (Uᵀ Ȧ - dS Vh): the transpose of
    V̇ = V (F ∘ ...) + (Ȧᵀ U - V dSᵀ) S⁻¹, F antisymmetric; the second term left
    out where Vh is square."""
    ds, u, s, vh = _svd_tangent(e, t[0], triple)
    inside, _, column = _svd_symmetric(e, ds, s, u, False)
    tangent = e.neg(e.call("matmul", inside, vh))
    if _square(e, vh):
        return tangent
    moved = e.call("matmul", _transposed(e, u), t[0])
    outside = e.sub(moved, e.call("matmul", ds, vh))
    return e.add(tangent, e.div(outside, column))


# -- QR ------------------------------------------------------------------------------
# `np.linalg.qr(A)`: the pair (Q, R) of the reduced decomposition, A of shape
# (m, n) with m ≥ n (R square and invertible: A of full column rank), entries
# `r[0]` and `r[1]`. As the SVD's triple, the pair's adjoint is Ā and its
# tangent Ȧ. With M = R R̄ᵀ - Q̄ᵀ Q, Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ, copyltu(M) the
# symmetric matrix of M's lower triangle (as PyTorch's); R⁻ᵀ on the right is a
# solve with R: X R⁻ᵀ = (R⁻¹ Xᵀ)ᵀ.


def _copyltu(e, m, like):
    """tril(M, -1) + tril(M, -1)ᵀ + diag(M) = tril(M) + tril(M, -1)ᵀ."""
    lower = e.call("tril", m, k=Const(-1))
    return e.add(e.call("tril", m), _transposed(e, lower, like))


def _times_r_inv_t(e, x, r):
    """X R⁻ᵀ."""
    return _transposed(e, e.call("solve", r, _transposed(e, x, r)), r)


def _qr_q_vjp(e, g, out, pair, i):
    r = e.call("qr_r", pair, Const(1))
    m = e.neg(e.call("matmul", _transposed(e, g, out), out))
    return _times_r_inv_t(e, e.add(g, e.call("matmul", out, _copyltu(e, m, r))), r)


def _qr_r_vjp(e, g, out, pair, i):
    q = e.call("qr_q", pair, Const(0))
    m = e.call("matmul", out, _transposed(e, g, out))
    return _times_r_inv_t(e, e.call("matmul", q, _copyltu(e, m, out)), out)


defprim(
    "qr",
    (NP, "linalg.qr"),
    lambda e, g, out, a: g,
    infer=lambda s, out, a: s.union(out, a),
)
defprim(
    "qr_q",
    ("getitem",),
    _qr_q_vjp,
    None,
    infer=lambda s, out, pair, i: s.union(out, pair),
)
defprim(
    "qr_r",
    ("getitem",),
    _qr_r_vjp,
    None,
    infer=lambda s, out, pair, i: s.set_rank(out, s.rank(pair)),
)


def _qr_tangent(e, t, pair):
    """C = Qᵀ Ȧ R⁻¹, Ω = tril(C, -1) - tril(C, -1)ᵀ, and Ȧ R⁻¹, Q, R."""
    q = e.call("qr_q", pair, Const(0))
    r = e.call("qr_r", pair, Const(1))
    moved = _transposed(e, e.call("solve", _transposed(e, r), _transposed(e, t, r)), r)
    c = e.call("matmul", _transposed(e, q), moved)
    omega = _skew(e, e.call("tril", c, k=Const(-1)), r)
    return c, omega, moved, q, r


def qr_q_jvp(e, t, out, pair, i):
    """Q̇ = Ȧ R⁻¹ - Q (C - Ω)."""
    c, omega, moved, q, r = _qr_tangent(e, t[0], pair)
    return e.sub(moved, e.call("matmul", q, e.sub(c, omega)))


def qr_r_jvp(e, t, out, pair, i):
    """Ṙ = (C - Ω) R."""
    c, omega, moved, q, r = _qr_tangent(e, t[0], pair)
    return e.call("matmul", e.sub(c, omega), r)


# -- the pseudo-inverse ----------------------------------------------------------------
# `np.linalg.pinv(A)` of a matrix of full rank (Golub & Pereyra 1973): with P = A⁺,
# dP = -P dA P + P Pᵀ dAᵀ (I - A P) + (I - P A) dAᵀ Pᵀ P. Where A's rank is
# deficient (or changes under the perturbation) it is not differentiable, and
# NumPy's cutoff `rcond` decides which singular values count: not checked.


def _pinv_vjp(e, g, out, a):
    """Ā = -Pᵀ G Pᵀ + (I - A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I - P A), each (I - X Y) Z
    written Z - X (Y Z)."""
    pt = _transposed(e, out)
    gt = _transposed(e, g, out)
    first = e.neg(e.call("matmul", e.call("matmul", pt, g), pt))
    z = e.call("matmul", gt, e.call("matmul", out, pt))  # Gᵀ P Pᵀ
    second = e.sub(z, e.call("matmul", a, e.call("matmul", out, z)))
    w = e.call("matmul", e.call("matmul", pt, out), gt)  # Pᵀ P Gᵀ
    third = e.sub(w, e.call("matmul", e.call("matmul", w, out), a))
    return e.add(e.add(first, second), third)


def _pinv_infer(s, out, a):
    if s.rank(a) is not None:
        s.set_rank(out, s.rank(a))


defprim("pinv", (NP, "linalg.pinv"), _pinv_vjp, infer=_pinv_infer)


def pinv_jvp(e, t, out, a):
    pt = _transposed(e, out)
    dat = _transposed(e, t[0], a)
    first = e.neg(e.call("matmul", e.call("matmul", out, t[0]), out))
    z = e.sub(dat, e.call("matmul", e.call("matmul", dat, a), out))  # dAᵀ (I - A P)
    second = e.call("matmul", e.call("matmul", out, pt), z)
    w = e.call("matmul", dat, e.call("matmul", pt, out))  # dAᵀ Pᵀ P
    third = e.sub(w, e.call("matmul", out, e.call("matmul", a, w)))
    return e.add(e.add(first, second), third)
