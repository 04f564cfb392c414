"""A two-layer MLP on handwritten digits, trained by plain SGD with adcompiler's gradient.

The data is scikit-learn's bundled `load_digits`: 1797 grey 8x8 images of the
digits 0-9, pixel values 0-16, scaled to [0, 1]. A fixed random split keeps
360 images for testing. The network is 64 -> 64 (ReLU) -> 10, with softmax
cross-entropy written the stable way (the logsumexp pattern). Its parameters
are a dict; `grad(loss)` returns a dict of the same keys and shapes, and
minibatch SGD subtracts `lr * gradient` from each entry.
"""

import time

import numpy as np

from adcompiler import grad


def loss(params, X, Y):
    """Mean softmax cross-entropy of the MLP on a batch X with one-hot labels Y."""
    h = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    z = h @ params["W2"] + params["b2"]
    m = np.max(z, axis=1, keepdims=True)
    log_p = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.sum(Y * log_p) / X.shape[0]


grad_loss = grad(loss)


def predict(params, X):
    h = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    return np.argmax(h @ params["W2"] + params["b2"], axis=1)


def init_params(rng, n_in=64, n_hidden=64, n_out=10):
    return {
        "W1": rng.normal(size=(n_in, n_hidden)) * np.sqrt(2.0 / n_in),
        "b1": np.zeros(n_hidden),
        "W2": rng.normal(size=(n_hidden, n_out)) * np.sqrt(1.0 / n_hidden),
        "b2": np.zeros(n_out),
    }


def load_split(seed=0, n_test=360):
    from sklearn.datasets import load_digits  # the `examples` extra

    digits = load_digits()
    X = digits.data / 16.0
    labels = digits.target
    order = np.random.default_rng(seed).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return X[train], labels[train], X[test], labels[test]


def main(epochs=30, batch_size=32, lr=0.2, seed=0):
    X_train, y_train, X_test, y_test = load_split(seed)
    Y_train = np.eye(10)[y_train]  # one-hot, built once outside the loss
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    print(
        f"digits: {len(X_train)} training and {len(X_test)} test images, "
        f"MLP 64-64-10, SGD lr={lr}, batch {batch_size}"
    )
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            g = grad_loss(params, X_train[batch], Y_train[batch])
            for key in params:
                params[key] -= lr * g[key]
        train_loss = loss(params, X_train, Y_train)
        accuracy = np.mean(predict(params, X_test) == y_test)
        print(
            f"epoch {epoch:2d}  train loss {train_loss:.4f}  "
            f"test accuracy {accuracy:.4f}  {time.perf_counter() - start:.2f} s"
        )
    print(f"final test accuracy {accuracy:.4f} after {epochs} epochs")
    return accuracy


if __name__ == "__main__":
    main()
