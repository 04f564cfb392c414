"""The computational-graph picture of the notes."""

import re
import shutil

import numpy as np
import pytest

from adcompiler import grad
from adcompiler.compgraph import build, graph


def f(x, y, z):
    return (x + y) * max(y, z)


def score(W, x, b, u):
    z = W @ x + b
    h = np.tanh(z)
    return u @ h


def test_notes_example_numbers():
    text = graph(f, 1.0, 2.0, 0.0)
    assert text.startswith("flowchart LR\n")
    edges = re.findall(r'(\w+) -->\|"([^"]*)"\| (\w+)', text)
    assert [value for _, value, _ in edges] == ["1", "2", "2", "0", "3", "2", "6"]
    assert 'x(("x<br/>grad 2"))' in text
    assert 'y(("y<br/>grad 5"))' in text
    assert 'z(("z<br/>grad 0"))' in text
    # downstream = local × upstream at the product node: upstream 1, local (2, 3)
    assert (
        "f = *<br/>upstream 1<br/>local ∂/∂a 2, ∂/∂b 3<br/>downstream a 2, b 3" in text
    )
    # max routes the gradient to the larger input
    assert (
        "b = max<br/>upstream 3<br/>local ∂/∂y 1, ∂/∂z 0<br/>downstream y 3, z 0"
        in text
    )


def test_graph_gradients_match_generated_gradient(out_dir, rng):
    args = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        rng.normal(size=4),
        rng.normal(size=4),
    )
    g = build(score, *args)
    expected = grad(score, argnums=(0, 1, 2, 3))(*args)
    for name, want in zip(["W", "x", "b", "u"], expected):
        np.testing.assert_allclose(g.grads[name], want, rtol=1e-12, atol=1e-12)


def test_arrays_are_summarized(rng):
    args = (
        rng.normal(size=(30, 30)),
        rng.normal(size=30),
        rng.normal(size=30),
        rng.normal(size=30),
    )
    text = graph(score, *args)
    assert "(30, 30) [" in text and "…" in text
    assert len(text) < 4000


def test_dot_format():
    text = graph(f, 1.0, 2.0, 0.0, format="dot")
    assert text.startswith('digraph "f" {')
    assert 'n3 -> out [label="6"];' in text


@pytest.mark.skipif(shutil.which("dot") is not None, reason="graphviz is installed")
def test_svg_without_graphviz_says_what_to_install():
    with pytest.raises(RuntimeError, match="Graphviz"):
        graph(f, 1.0, 2.0, 0.0, format="svg")


def test_wrong_argument_count():
    from adcompiler import ADCompileError

    with pytest.raises(ADCompileError, match="takes 3 arguments"):
        graph(f, 1.0, 2.0)


def test_adc_graph_command_prints_the_notes_picture(capsys):
    from pathlib import Path

    from adcompiler.cli import main

    example = Path(__file__).resolve().parents[1] / "examples" / "seed_backprop.py"
    assert main(["graph", f"{example}::f", "--at", "x=1,y=2,z=0"]) == 0
    text = capsys.readouterr().out
    edges = re.findall(r'-->\|"([^"]*)"\|', text)
    assert edges == ["1", "2", "2", "0", "3", "2", "6"]
    assert "grad 2" in text and "grad 5" in text and "grad 0" in text


def test_adc_graph_reports_a_missing_parameter(capsys):
    from pathlib import Path

    from adcompiler.cli import main

    example = Path(__file__).resolve().parents[1] / "examples" / "seed_backprop.py"
    with pytest.raises(SystemExit, match="misses z"):
        main(["graph", f"{example}::f", "--at", "x=1,y=2"])


def test_adc_graph_parses_arrays(tmp_path):
    from pathlib import Path

    from adcompiler.cli import main

    example = Path(__file__).resolve().parents[1] / "examples" / "seed_nn.py"
    target = tmp_path / "g.dot"
    at = "W=[[1,0],[0,1]],x=[1,2],b=[0,0],u=[1,1]"
    assert (
        main(
            [
                "graph",
                f"{example}::score",
                "--at",
                at,
                "--format",
                "dot",
                "-o",
                str(target),
            ]
        )
        == 0
    )
    assert target.read_text().startswith('digraph "score"')
