"""Derivative rules for `np.linalg.inv`, `np.linalg.solve`, `np.linalg.det`,
`np.linalg.slogdet`, `np.linalg.cholesky`, `np.linalg.eigh`,
`np.linalg.eigvalsh` and `np.einsum`.

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
