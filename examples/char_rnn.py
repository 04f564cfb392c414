"""A character-level vanilla RNN, trained with Adagrad on a paragraph of the notes' topic.

The model reads one character at a time (one-hot `x_t`) and predicts the next:

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),   y_t = Why h_t + by,

with softmax cross-entropy at each step, summed over the sequence in an
ordinary Python `for` loop. adcompiler turns that loop into backpropagation
through time: the forward sweep keeps what each step needs on a tape, and
the backward sweep runs the loop in reverse. Training takes chunks of 25
characters from the text below, starting each chunk from a zero state.
"""

import time

import numpy as np

from adcompiler import value_and_grad

TEXT = (
    "the gradient is the vector of partial derivatives of a function with "
    "respect to each of its inputs. backpropagation computes it by the chain "
    "rule: the downstream gradient is the local gradient times the upstream "
    "gradient. where a value fans out, the gradients that flow back to it are "
    "summed. the max routes the gradient to the larger input, and the sum "
    "passes it unchanged to both. for a layer z = w x + b and h = f(z), the "
    "local error signal is computed once and shared by the gradient of w and "
    "the gradient of b, and each gradient has the shape of its parameter. "
)


def loss(params, xs, targets, h0):
    """Summed cross-entropy of predicting targets[t] from the one-hot inputs xs[:t + 1]."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    Why, by = params["Why"], params["by"]
    h = h0
    total = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(Wxh @ xs[t] + Whh @ h + bh)
        y = Why @ h + by
        m = np.max(y)
        log_p = y - m - np.log(np.sum(np.exp(y - m)))
        total = total - log_p[targets[t]]
    return total


loss_and_grad = value_and_grad(loss)


def init_params(rng, vocab, hidden):
    return {
        "Wxh": rng.normal(size=(hidden, vocab)) * 0.01,
        "Whh": rng.normal(size=(hidden, hidden)) * 0.01,
        "bh": np.zeros(hidden),
        "Why": rng.normal(size=(vocab, hidden)) * 0.01,
        "by": np.zeros(vocab),
    }


def sample(params, h, index, n, rng, chars):
    """n characters drawn from the model, starting after the character `index`."""
    out = []
    for _ in range(n):
        x = np.zeros(len(chars))
        x[index] = 1.0
        h = np.tanh(params["Wxh"] @ x + params["Whh"] @ h + params["bh"])
        y = params["Why"] @ h + params["by"]
        p = np.exp(y - y.max())
        index = rng.choice(len(chars), p=p / p.sum())
        out.append(chars[index])
    return "".join(out)


def main(steps=1000, seq_len=25, hidden=64, lr=0.05, report_every=100, seed=0):
    chars = sorted(set(TEXT))
    ids = np.array([chars.index(c) for c in TEXT])
    onehot = np.eye(len(chars))[ids]
    rng = np.random.default_rng(seed)
    params = init_params(rng, len(chars), hidden)
    memory = {key: np.zeros_like(value) for key, value in params.items()}
    h0 = np.zeros(hidden)
    print(
        f"text: {len(TEXT)} characters, {len(chars)} distinct; "
        f"RNN hidden {hidden}, chunks of {seq_len}, Adagrad lr={lr}"
    )
    start = time.perf_counter()
    losses = []
    pos = 0
    for step in range(1, steps + 1):
        if pos + seq_len + 1 > len(TEXT):
            pos = 0
        xs = onehot[pos : pos + seq_len]
        targets = ids[pos + 1 : pos + seq_len + 1]
        value, g = loss_and_grad(params, xs, targets, h0)
        for key in params:
            g[key] = np.clip(g[key], -5.0, 5.0)  # against exploding gradients
            memory[key] += g[key] * g[key]
            params[key] -= lr * g[key] / np.sqrt(memory[key] + 1e-8)
        pos += seq_len
        losses.append(value / seq_len)
        if step == 1 or step % report_every == 0:
            recent = np.mean(losses[-report_every:]) if step > 1 else losses[0]
            print(
                f"step {step:4d}  loss per character {recent:.4f}  "
                f"{time.perf_counter() - start:.2f} s"
            )
    print("sample:", sample(params, h0, ids[0], 60, rng, chars))
    first, last = losses[0], np.mean(losses[-report_every:])
    print(
        f"loss per character: initial {first:.4f}, "
        f"final (mean of the last {report_every} steps) {last:.4f}"
    )
    return first, last


if __name__ == "__main__":
    main()
