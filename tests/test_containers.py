"""Containers of parameters: dicts, lists, tuples, NamedTuples, dataclasses, nested."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from conftest import numeric_grad

from adcompiler import grad

rng = np.random.default_rng(0)
P = {
    "W1": rng.normal(size=(4, 3)),
    "b1": rng.normal(size=4),
    "W2": rng.normal(size=(2, 4)),
    "b2": rng.normal(size=2),
}
X = rng.normal(size=3)
Y = rng.normal(size=2)


def mlp(W1, b1, W2, b2, x, y):
    h = np.tanh(W1 @ x + b1)
    out = W2 @ h + b2
    return np.sum((out - y) ** 2)


def loss(params, x, y):
    h = np.tanh(params["W1"] @ x + params["b1"])
    out = params["W2"] @ h + params["b2"]
    return np.sum((out - y) ** 2)


def test_dict_params_match_argument_by_argument(out_dir):
    g = grad(loss)(P, X, Y)
    assert isinstance(g, dict) and list(g) == list(P)
    want = grad(mlp, argnums=(0, 1, 2, 3))(P["W1"], P["b1"], P["W2"], P["b2"], X, Y)
    for k, w in zip(P, want):
        assert g[k].shape == P[k].shape
        np.testing.assert_allclose(g[k], w, rtol=1e-12, atol=1e-12)


class Layer(NamedTuple):
    W: np.ndarray
    b: np.ndarray


@dataclass
class Model:
    first: Layer
    scale: np.ndarray


def forward(layer, x):
    return np.tanh(layer.W @ x + layer.b)


def nested_loss(model, x):
    h = forward(model.first, x)
    return np.sum(h * model.scale)


def list_loss(ws, x):
    W, b = ws[0], ws[1]
    a, c = ws[2]
    return np.sum(np.sin(W @ x + b)) + np.sum(a * c) * ws[-1][0]


def unused_key(params, x):
    return np.sum(params["W1"] @ x)


def _flat_check(f, tree, leaves, rebuild, *rest):
    g = grad(f)(tree, *rest)
    got = leaves(g)
    for k, leaf in enumerate(leaves(tree)):

        def fk(v, k=k):
            new = [v if j == k else w for j, w in enumerate(leaves(tree))]
            return f(rebuild(new), *rest)

        want = numeric_grad(fk, [leaf.astype(float)], 0)
        assert got[k].shape == leaf.shape
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)
    return g


def test_namedtuple_dataclass_nested(out_dir):
    model = Model(
        Layer(rng.normal(size=(2, 3)), rng.normal(size=2)), rng.normal(size=2)
    )
    g = _flat_check(
        nested_loss,
        model,
        lambda m: [m.first.W, m.first.b, m.scale],
        lambda v: Model(Layer(v[0], v[1]), v[2]),
        X,
    )
    assert isinstance(g, Model) and isinstance(g.first, Layer)


def test_lists_and_tuples(out_dir):
    ws = [
        rng.normal(size=(2, 3)),
        rng.normal(size=2),
        (rng.normal(size=2), rng.normal(size=2)),
        np.array([1.5, 2.0]),
    ]
    g = _flat_check(
        list_loss,
        ws,
        lambda w: [w[0], w[1], w[2][0], w[2][1], w[3]],
        lambda v: [v[0], v[1], (v[2], v[3]), v[4]],
        X,
    )
    assert isinstance(g, list) and isinstance(g[2], tuple)


def test_unread_leaves_get_zeros(out_dir):
    g = grad(unused_key)(P, X)
    assert set(g) == set(P)
    assert np.all(g["b2"] == 0) and g["b2"].shape == P["b2"].shape


def layers_loss(params, x):
    h = x
    for W, b in params["layers"]:
        h = np.tanh(W @ h + b)
    return np.sum(h * params["out"])


def test_loop_over_a_list_of_layers(out_dir):
    params = {
        "layers": [
            (rng.normal(size=(4, 3)), rng.normal(size=4)),
            (rng.normal(size=(2, 4)), rng.normal(size=2)),
        ],
        "out": rng.normal(size=2),
    }
    g = _flat_check(
        layers_loss,
        params,
        lambda p: [
            p["layers"][0][0],
            p["layers"][0][1],
            p["layers"][1][0],
            p["layers"][1][1],
            p["out"],
        ],
        lambda v: {"layers": [(v[0], v[1]), (v[2], v[3])], "out": v[4]},
        X,
    )
    assert isinstance(g["layers"], list) and isinstance(g["layers"][0], tuple)


def unpacked(params, x, y):
    W1, b1 = params["W1"], params["b1"]
    W2 = params["W2"]
    h = np.tanh(W1 @ x + b1)
    return np.sum((W2 @ h + params["b2"] - y) ** 2)


def keyword_keys(p, x):
    return np.sum(p["lambda"] * x + p["class"] ** 2.0 + p["W1"] * p[0])


def test_a_leaf_read_into_a_variable_of_its_keys_name_keeps_the_name(out_dir):
    import inspect

    g = grad(unpacked)
    text = inspect.getsource(g)
    for key in ("W1", "b1", "W2"):
        assert f'{key} = params["{key}"]' in text
        assert f"{key}_1" not in text
    got = g(P, X, Y)
    for k in P:
        np.testing.assert_allclose(got[k], grad(loss)(P, X, Y)[k], rtol=1e-12)


def test_keys_that_are_python_keywords_or_ints(out_dir):
    p = {"lambda": np.array([0.5, 2.0]), "class": np.array([1.5, -1.0]), "W1": 2.0}
    p[0] = 3.0
    x = np.array([1.0, -2.0])
    got = grad(keyword_keys)(p, x)
    np.testing.assert_allclose(got["lambda"], x)
    np.testing.assert_allclose(got["class"], 2.0 * p["class"])
    np.testing.assert_allclose(got["W1"], 2 * 3.0)
    np.testing.assert_allclose(got[0], 2 * 2.0)
