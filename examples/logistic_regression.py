"""Logistic regression with L2, fitted by SciPy's L-BFGS with adcompiler's gradient.

The data is scikit-learn's bundled breast-cancer set (569 samples, 30
features), standardized. The loss is the mean logistic loss plus
`lam/2 |w|²`; its gradient comes from `grad(loss)`, and the fit is checked
against scikit-learn's own solver on the same objective.
"""

import time

import numpy as np

from adcompiler import value_and_grad


def loss(w, b, X, y, lam):
    """Mean logistic loss (labels y in {-1, +1}) plus an L2 penalty on w."""
    margin = y * (X @ w + b)
    return np.mean(np.log1p(np.exp(-margin))) + 0.5 * lam * np.sum(w * w)


loss_and_grad = value_and_grad(loss, argnums=(0, 1))


def fit(X, y, lam):
    from scipy.optimize import (
        minimize,
    )  # the `examples` extra; `adc compile` needs none

    d = X.shape[1]

    def objective(theta):
        value, (d_w, d_b) = loss_and_grad(theta[:d], theta[d], X, y, lam)
        return value, np.append(d_w, d_b)

    result = minimize(
        objective, np.zeros(d + 1), jac=True, method="L-BFGS-B", tol=1e-10
    )
    return result.x[:d], result.x[d], result


def main():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = np.where(data.target == 1, 1.0, -1.0)
    lam = 0.01
    start = time.perf_counter()
    w, b, result = fit(X, y, lam)
    seconds = time.perf_counter() - start
    # scikit-learn minimizes C·Σ log-loss + ½|w|²: the same optimum with C = 1/(n·lam).
    ref = LogisticRegression(C=1.0 / (len(y) * lam), tol=1e-12, max_iter=10000).fit(
        X, y
    )
    accuracy = np.mean(np.sign(X @ w + b) == y)
    gap = max(np.max(np.abs(w - ref.coef_[0])), abs(b - ref.intercept_[0]))
    ref_loss = loss(ref.coef_[0], ref.intercept_[0], X, y, lam)
    grad_norm = np.linalg.norm(result.jac)
    print(
        f"L-BFGS with adcompiler's gradient: {result.nit} iterations, {seconds:.3f} s"
    )
    print(f"loss {result.fun:.6f}, training accuracy {accuracy:.3f}")
    print(f"gradient norm at the optimum {grad_norm:.1e}")
    print(
        f"scikit-learn's solution: loss {ref_loss:.6f}, largest coefficient difference {gap:.1e}"
    )
    return result.fun, ref_loss, gap


if __name__ == "__main__":
    main()
