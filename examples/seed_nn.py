"""The notes' one-layer network: s = uᵀ tanh(W x + b).

With z = W x + b and h = tanh(z), the local error signal δ = ∂s/∂z =
u ∘ (1 - h²) is computed once and shared: ∂s/∂W = δ xᵀ and ∂s/∂b = δ, each
with the shape of its parameter.
"""

import numpy as np

from adcompiler import grad


def score(W, x, b, u):
    z = W @ x + b
    h = np.tanh(z)
    return u @ h


grad_score = grad(score, argnums=(0, 2))

# Compiled for n = 3 float64 arrays: nothing to sum back over broadcast axes,
# nothing to cast, one guard at entry (README: "Use").
n = 3
grad_score_3 = grad(
    score,
    argnums=(0, 2),
    example_args=(np.ones((n, n)), np.ones(n), np.ones(n), np.ones(n)),
)

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    W, x, b, u = (
        rng.normal(size=(n, n)),
        rng.normal(size=n),
        rng.normal(size=n),
        rng.normal(size=n),
    )
    d_W, d_b = grad_score(W, x, b, u)
    delta = u * (1 - np.tanh(W @ x + b) ** 2)
    print("s =", score(W, x, b, u))
    print("ds/dW =\n", d_W)
    print("ds/db =", d_b)
    print(
        "matches delta x^T and delta:",
        np.allclose(d_W, np.outer(delta, x)) and np.allclose(d_b, delta),
    )
    d_W3, d_b3 = grad_score_3(W, x, b, u)
    print(
        "compiled for n = 3, the same:",
        np.array_equal(d_W3, d_W) and np.array_equal(d_b3, d_b),
    )
