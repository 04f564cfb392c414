"""The notes' first example: f(x, y, z) = (x + y) · max(y, z) at (1, 2, 0).

Forward: a = x + y = 3, b = max(y, z) = 2, f = a · b = 6.
Backward: ∂f/∂a = b = 2 and ∂f/∂b = a = 3; `+` passes 2 to x and y; `max`
routes 3 to y, the larger input. So ∇f = (2, 2 + 3, 0) = (2, 5, 0).
"""

from adcompiler import grad, graph


def f(x, y, z):
    return (x + y) * max(y, z)


grad_f = grad(f, argnums=(0, 1, 2))

if __name__ == "__main__":
    print("f(1, 2, 0) =", f(1.0, 2.0, 0.0))
    print("grad f(1, 2, 0) =", grad_f(1.0, 2.0, 0.0))
    print("\nThe graph of the notes (Mermaid): values forward, gradients back")
    print(graph(f, 1.0, 2.0, 0.0))
