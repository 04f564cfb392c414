"""The benchmark workloads, each written four ways.

For every workload this module holds

(a) the plain NumPy function, written the way a user writes it, for
    `adcompiler.grad`;
(b) the gradient an expert writes by hand in NumPy: the limit the generated
    code is measured against;
(c) the same function for each peer: `autograd.numpy`, `jax.numpy`, `torch`
    (see `autograd_functions`, `jax_functions`, `torch_functions`), mirroring
    the NumPy source operation for operation;

and the inputs, drawn from a fixed seed in float64. Importing this module
imports no peer: each peer is imported when its functions are first asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

SEED = 0


# --------------------------------------------------------------------------
# (a) the functions as a user writes them, for adcompiler.grad
# --------------------------------------------------------------------------


def seed_f(x, y, z):
    return (x + y) * max(y, z)


def score(W, x, b, u):
    z = W @ x + b
    h = np.tanh(z)
    return u @ h


def mlp_loss(W1, b1, W2, b2, X, Y):
    z1 = X @ W1 + b1
    h1 = np.maximum(z1, 0.0)
    logits = h1 @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * logp) / len(X)


def logreg_loss(w, X, y, lam):
    z = X @ w
    return np.sum(np.log1p(np.exp(-y * z))) / len(X) + lam * np.sum(w * w)


def chain(x):
    return np.sum(np.sin(x) * np.exp(-(x**2)) + x**3)


def rnn_loss(W, U, b, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h**2)


# --------------------------------------------------------------------------
# (b) the gradients an expert writes by hand
# --------------------------------------------------------------------------


def hand_seed_f(x, y, z):
    a = x + y
    if y >= z:  # max(y, z) returns y: the gradient of max goes to y
        return y, y + a, 0.0
    return z, z, a


def hand_score(W, x, b, u):
    h = np.tanh(W @ x + b)
    delta = u * (1.0 - h * h)
    return np.outer(delta, x), delta


def hand_mlp(W1, b1, W2, b2, X, Y):
    # Y is one-hot, so each row sums to 1 and d logits = (softmax - Y) / N.
    z1 = X @ W1 + b1
    h1 = np.maximum(z1, 0.0)
    logits = h1 @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    d_logits = (e / e.sum(axis=1, keepdims=True) - Y) / len(X)
    d_h1 = d_logits @ W2.T
    d_z1 = d_h1 * (z1 > 0.0)
    return X.T @ d_z1, d_z1.sum(axis=0), h1.T @ d_logits, d_logits.sum(axis=0)


def hand_logreg(w, X, y, lam):
    # d/dz log(1 + exp(-y z)) = -y / (1 + exp(y z))
    s = -y / (1.0 + np.exp(y * (X @ w)))
    return X.T @ s / len(X) + (2.0 * lam) * w


def hand_chain(x):
    x2 = x * x
    e = np.exp(-x2)
    return e * (np.cos(x) - 2.0 * x * np.sin(x)) + 3.0 * x2


def hand_rnn(W, U, b, h0, xs):
    # Backpropagation through time, as an expert batches it: the input
    # projections are one matmul before the loop, the weight gradients one
    # matmul each after it; only h -> h stays in the loops.
    T = len(xs)
    P = xs @ U.T + b
    H = np.empty((T + 1, len(h0)))
    H[0] = h = h0
    for t in range(T):
        H[t + 1] = h = np.tanh(W @ h + P[t])
    D = 1.0 - H[1:] * H[1:]  # tanh'
    dZ = np.empty((T, len(h0)))
    dh = 2.0 * h
    for t in range(T - 1, -1, -1):
        dZ[t] = dz = dh * D[t]
        dh = dz @ W
    return dZ.T @ H[:-1], dZ.T @ xs, dZ.sum(axis=0)


# --------------------------------------------------------------------------
# inputs, float64, from a fixed seed
# --------------------------------------------------------------------------


def inputs_seed_f(rng, size=None):
    return 1.0, 2.0, 0.0


def inputs_score(rng, n):
    W = rng.normal(size=(n, n)) / np.sqrt(n)
    return W, rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)


def inputs_mlp(rng, size):
    d_in, hidden, d_out, batch = size
    X = rng.normal(size=(batch, d_in))
    W1 = rng.normal(size=(d_in, hidden)) * np.sqrt(2.0 / d_in)
    b1 = 0.1 * rng.normal(size=hidden)
    W2 = rng.normal(size=(hidden, d_out)) / np.sqrt(hidden)
    b2 = 0.1 * rng.normal(size=d_out)
    Y = np.eye(d_out)[rng.integers(0, d_out, size=batch)]
    return W1, b1, W2, b2, X, Y


def inputs_logreg(rng, size):
    N, d = size
    X = rng.normal(size=(N, d))
    w = rng.normal(size=d) / np.sqrt(d)
    y = np.where(rng.random(N) < 0.5, -1.0, 1.0)
    return w, X, y, 1e-3


def inputs_chain(rng, n):
    return (rng.uniform(-2.0, 2.0, size=n),)


def inputs_rnn(rng, size):
    T, hidden, d_in = size
    W = rng.normal(size=(hidden, hidden)) * (0.9 / np.sqrt(hidden))
    U = rng.normal(size=(hidden, d_in)) / np.sqrt(d_in)
    b = 0.1 * rng.normal(size=hidden)
    h0 = 0.1 * rng.normal(size=hidden)
    xs = rng.normal(size=(T, d_in))
    return W, U, b, h0, xs


# --------------------------------------------------------------------------
# the workload table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str  # the peer functions' name
    fn: Callable  # (a) plain NumPy, for adcompiler.grad
    hand: Callable  # (b) the hand-written gradient, a tuple for a tuple argnums
    argnums: tuple[int, ...]
    make_inputs: Callable  # (rng, size) -> args
    sizes: tuple  # (label, size) pairs that are benchmarked
    test_size: object  # a small size for the finite-difference tests
    straight_line: bool = True
    notes: str = field(default="")

    def inputs(self, size, seed: int = SEED) -> tuple:
        return self.make_inputs(np.random.default_rng(seed), size)


WORKLOADS = [
    Workload(
        "seed_f",
        seed_f,
        hand_seed_f,
        (0, 1, 2),
        inputs_seed_f,
        (("seed f(x, y, z) = (x + y) max(y, z)", None),),
        None,
    ),
    Workload(
        "score",
        score,
        hand_score,
        (0, 2),
        inputs_score,
        tuple((f"seed network u·tanh(Wx + b), n = {n}", n) for n in (10, 100, 1000)),
        4,
    ),
    Workload(
        "mlp_loss",
        mlp_loss,
        hand_mlp,
        (0, 1, 2, 3),
        inputs_mlp,
        (
            ("MLP ReLU + softmax CE, 784-256-10, batch 64", (784, 256, 10, 64)),
            ("MLP ReLU + softmax CE, 32-32-4, batch 8", (32, 32, 4, 8)),
        ),
        (5, 4, 3, 3),
    ),
    Workload(
        "logreg_loss",
        logreg_loss,
        hand_logreg,
        (0,),
        inputs_logreg,
        (("logistic regression + L2, N = 10000, d = 100", (10000, 100)),),
        (20, 4),
    ),
    Workload(
        "chain",
        chain,
        hand_chain,
        (0,),
        inputs_chain,
        (("elementwise chain, 10^6 elements", 10**6),),
        7,
    ),
    Workload(
        "rnn_loss",
        rnn_loss,
        hand_rnn,
        (0, 1, 2),
        inputs_rnn,
        (("RNN tanh, T = 50, hidden 32, input 16", (50, 32, 16)),),
        (4, 3, 2),
        straight_line=False,
    ),
]

BY_KEY = {w.key: w for w in WORKLOADS}


# --------------------------------------------------------------------------
# (c) the same functions for each peer, imported on first use
# --------------------------------------------------------------------------


def autograd_functions() -> dict[str, Callable]:
    import autograd.numpy as anp

    def seed_f(x, y, z):
        return (x + y) * max(y, z)

    def score(W, x, b, u):
        z = W @ x + b
        h = anp.tanh(z)
        return u @ h

    def mlp_loss(W1, b1, W2, b2, X, Y):
        z1 = X @ W1 + b1
        h1 = anp.maximum(z1, 0.0)
        logits = h1 @ W2 + b2
        m = anp.max(logits, axis=1, keepdims=True)
        shifted = logits - m
        logp = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
        return -anp.sum(Y * logp) / len(X)

    def logreg_loss(w, X, y, lam):
        z = X @ w
        return anp.sum(anp.log1p(anp.exp(-y * z))) / len(X) + lam * anp.sum(w * w)

    def chain(x):
        return anp.sum(anp.sin(x) * anp.exp(-(x**2)) + x**3)

    def rnn_loss(W, U, b, h0, xs):
        h = h0
        for t in range(len(xs)):
            h = anp.tanh(W @ h + U @ xs[t] + b)
        return anp.sum(h**2)

    return locals()


def jax_functions() -> dict[str, Callable]:
    import jax.numpy as jnp

    def seed_f(x, y, z):
        # Python's max needs a concrete bool, which jit cannot give.
        return (x + y) * jnp.maximum(y, z)

    def score(W, x, b, u):
        z = W @ x + b
        h = jnp.tanh(z)
        return u @ h

    def mlp_loss(W1, b1, W2, b2, X, Y):
        z1 = X @ W1 + b1
        h1 = jnp.maximum(z1, 0.0)
        logits = h1 @ W2 + b2
        m = jnp.max(logits, axis=1, keepdims=True)
        shifted = logits - m
        logp = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
        return -jnp.sum(Y * logp) / len(X)

    def logreg_loss(w, X, y, lam):
        z = X @ w
        return jnp.sum(jnp.log1p(jnp.exp(-y * z))) / len(X) + lam * jnp.sum(w * w)

    def chain(x):
        return jnp.sum(jnp.sin(x) * jnp.exp(-(x**2)) + x**3)

    def rnn_loss(W, U, b, h0, xs):
        h = h0
        for t in range(len(xs)):
            h = jnp.tanh(W @ h + U @ xs[t] + b)
        return jnp.sum(h**2)

    return locals()


def torch_functions() -> dict[str, Callable]:
    import torch

    def seed_f(x, y, z):
        return (x + y) * max(y, z)

    def score(W, x, b, u):
        z = W @ x + b
        h = torch.tanh(z)
        return u @ h

    def mlp_loss(W1, b1, W2, b2, X, Y):
        z1 = X @ W1 + b1
        h1 = torch.clamp_min(z1, 0.0)
        logits = h1 @ W2 + b2
        m = torch.amax(logits, dim=1, keepdim=True)
        shifted = logits - m
        logp = shifted - torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
        return -torch.sum(Y * logp) / len(X)

    def logreg_loss(w, X, y, lam):
        z = X @ w
        return torch.sum(torch.log1p(torch.exp(-y * z))) / len(X) + lam * torch.sum(
            w * w
        )

    def chain(x):
        return torch.sum(torch.sin(x) * torch.exp(-(x**2)) + x**3)

    def rnn_loss(W, U, b, h0, xs):
        h = h0
        for t in range(len(xs)):
            h = torch.tanh(W @ h + U @ xs[t] + b)
        return torch.sum(h**2)

    return locals()


PEERS = {
    "autograd": ("autograd", autograd_functions),
    "torch": ("torch", torch_functions),
    "jax": ("jax", jax_functions),
    "jax-jit": ("jax", jax_functions),
}


# --------------------------------------------------------------------------
# each peer's gradient as a function of prepared arguments
# --------------------------------------------------------------------------


def peer_available(peer: str) -> bool:
    from importlib.util import find_spec

    return find_spec(PEERS[peer][0]) is not None


def peer_grad(peer: str, workload: Workload, args: tuple):
    """`(g, prepared)`: `g(*prepared)` computes the peer's gradient and waits for it.

    The inputs are converted to the peer's arrays here, outside any timing;
    `to_numpy` turns what `g` returns into NumPy arrays."""
    fn = PEERS[peer][1]()[workload.key]
    nums = workload.argnums
    if peer == "autograd":
        import autograd

        return autograd.grad(fn, nums), args
    if peer in ("jax", "jax-jit"):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        g = jax.grad(fn, argnums=nums)
        if peer == "jax-jit":
            g = jax.jit(g)
        prepared = tuple(
            jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args
        )
        prepared = tuple(
            jnp.asarray(a, dtype=jnp.float64) if i in nums else a
            for i, a in enumerate(prepared)
        )
        return (lambda *a: jax.block_until_ready(g(*a))), prepared
    if peer == "torch":
        import torch

        prepared = []
        for i, a in enumerate(args):
            if i in nums:
                prepared.append(
                    torch.tensor(a, dtype=torch.float64, requires_grad=True)
                )
            elif isinstance(a, np.ndarray):
                prepared.append(torch.from_numpy(a))
            else:
                prepared.append(a)
        wrt = [prepared[i] for i in nums]

        def g(*a):
            # seed_f does not use z at (1, 2, 0): its gradient is then 0.
            return torch.autograd.grad(
                fn(*a), wrt, allow_unused=True, materialize_grads=True
            )

        return g, tuple(prepared)
    raise ValueError(f"unknown peer {peer!r}")


def to_numpy(grads) -> tuple:
    """A peer's gradients as a tuple of float64 NumPy arrays."""
    out = []
    for g in grads if isinstance(grads, (tuple, list)) else (grads,):
        if hasattr(g, "detach"):
            g = g.detach().numpy()
        out.append(np.asarray(g, dtype=np.float64))
    return tuple(out)
