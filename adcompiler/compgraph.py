"""The computational graph of a function at a point, as the notes draw it.

Forward values flow along the edges; for each operation the picture shows
the gradient arriving from downstream (upstream), the operation's local
derivative with respect to each input, and the gradient it passes on
(downstream = local × upstream). The numbers come from running the same rule
table the compiler uses, on numbers instead of code (`NumericEmitter`), so
the picture and the generated gradient cannot disagree.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from dataclasses import dataclass, field

import numpy as np

from .autodiff.emitter import Emitter, Names
from .codegen import expression
from .errors import ADCompileError
from .frontend import lower
from .helpers import HELPERS
from .ir import Assign, Const, Var
from .rules import PRIMS

SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "pow": "**",
    "matmul": "@",
    "neg": "-",
}


class NumericEmitter(Emitter):
    """An emitter whose `call` computes the value instead of writing a statement."""

    def __init__(self):
        super().__init__(Names(), cse=False)
        self.env: dict = {"np": np}
        for source in HELPERS.values():
            exec(
                source, self.env
            )  # noqa: S102  (our own helper source, as generated modules hold it)
        self._code: dict = {}

    def call(self, prim, *args, loc=None, name=None, **kwargs):
        args = [_unwrap(a) for a in args]
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        key = (prim, len(args), tuple(kwargs))
        if key not in self._code:
            node = expression(
                prim,
                [ast.Name(f"a{i}", ast.Load()) for i in range(len(args))],
                {k: ast.Name(f"k_{k}", ast.Load()) for k in kwargs},
            )
            expr = ast.fix_missing_locations(ast.Expression(node))
            self._code[key] = compile(expr, f"<rule {prim}>", "eval")
        scope = dict(self.env)
        scope.update({f"a{i}": a for i, a in enumerate(args)})
        scope.update({f"k_{k}": v for k, v in kwargs.items()})
        return eval(self._code[key], scope)  # noqa: S307

    def rank(self, a):
        return int(np.ndim(_unwrap(a)))

    def is_scalar(self, a):
        return np.ndim(_unwrap(a)) == 0

    def is_constant(self, a):
        return False


def _unwrap(a):
    if isinstance(a, Const):
        return a.value
    if isinstance(a, Var):
        raise AssertionError(f"unevaluated value {a.name}")
    return a


@dataclass
class Node:
    id: str
    label: str
    kind: str  # "input", "op" or "output"
    upstream: object = None
    local: list = field(default_factory=list)
    downstream: list = field(default_factory=list)


@dataclass
class Edge:
    source: str
    target: str
    value: object


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    edges: list[Edge]
    grads: dict[str, object]


def build(fn, *args) -> Graph:
    """Evaluate `fn` at `args` and back-propagate through its graph with the rule table."""
    ir = lower(fn)
    if len(ir.params) != len(args):
        raise ADCompileError(
            f"{ir.name} takes {len(ir.params)} arguments ({', '.join(ir.params)}), "
            f"got {len(args)}"
        )
    e = NumericEmitter()
    shown = _display_names(ir)
    values: dict[str, object] = dict(zip(ir.params, args))
    producer: dict[str, str] = {}
    nodes = [Node(p, p, "input") for p in ir.params]
    producer.update({p: p for p in ir.params})
    edges: list[Edge] = []
    op_nodes: dict[str, Node] = {}

    def value(a):
        return values[a.name] if isinstance(a, Var) else a.value

    for i, stmt in enumerate(ir.body.stmts):
        if not isinstance(stmt, Assign):
            raise ADCompileError("graph draws straight-line functions only", stmt.loc)
        kwargs = {k: Const(value(v)) for k, v in stmt.kwargs.items()}
        values[stmt.out] = e.call(stmt.prim, *[value(a) for a in stmt.args], **kwargs)
        op = SYMBOLS.get(stmt.prim, stmt.prim)
        node = Node(f"n{i + 1}", f"{shown[stmt.out]} = {op}", "op")
        nodes.append(node)
        op_nodes[stmt.out] = node
        producer[stmt.out] = node.id
        for a in stmt.args:
            if isinstance(a, Var):
                edges.append(Edge(producer[a.name], node.id, values[a.name]))
    (result,) = ir.body.results[:1]
    out = Node("out", ir.name, "output")
    nodes.append(out)
    edges.append(
        Edge(producer.get(getattr(result, "name", ""), "out"), "out", value(result))
    )

    # Backward, with the compiler's own rules evaluated on numbers.
    adjoint: dict[str, object] = {}
    if isinstance(result, Var):
        adjoint[result.name] = 1.0
    for stmt in reversed(ir.body.stmts):
        g = adjoint.get(stmt.out)
        node = op_nodes[stmt.out]
        node.upstream = g
        if g is None:
            continue
        prim = PRIMS[stmt.prim]
        inputs = [value(a) for a in stmt.args]
        kwargs = {k: Const(value(v)) for k, v in stmt.kwargs.items()}
        out_value = values[stmt.out]
        for arg, raw, rule in zip(stmt.args, inputs, prim.vjp):
            if rule is None or not isinstance(arg, Var):
                continue
            down = rule(e, g, out_value, *inputs, **kwargs)
            if prim.broadcasts:
                down = e.call("unbroadcast", down, raw)
            local = (
                rule(e, 1.0, out_value, *inputs, **kwargs) if np.ndim(g) == 0 else None
            )
            node.local.append((shown[arg.name], local))
            node.downstream.append((shown[arg.name], down))
            adjoint[arg.name] = (
                adjoint[arg.name] + down if arg.name in adjoint else down
            )
    grads = {
        p: adjoint.get(p, np.zeros_like(np.asarray(a, dtype=float)))
        for p, a in zip(ir.params, args)
    }
    for n in nodes:
        if n.kind == "input":
            n.upstream = grads[n.id]
    return Graph(ir.name, nodes, edges, grads)


def _display_names(ir) -> dict[str, str]:
    """The user's names, and for unnamed intermediates a, b, c, … as the notes write them."""
    taken = set(ir.params) | {
        s.out for s in ir.body.stmts if not s.out.startswith("_t")
    }
    letters = (chr(c) for c in range(ord("a"), ord("z") + 1))
    names = {p: p for p in ir.params}
    result = ir.body.results[0] if ir.body.results else None
    if isinstance(result, Var) and result.name.startswith("_t"):
        names[result.name] = (
            ir.name
        )  # the last operation's value is the function's value
        taken.add(ir.name)
    for stmt in ir.body.stmts:
        if stmt.out in names:
            continue
        if stmt.out.startswith("_t"):
            letter = next((c for c in letters if c not in taken), stmt.out)
            names[stmt.out] = letter
        else:
            names[stmt.out] = stmt.out
    return names


def summarize(v) -> str:
    """A number as the notes write it (`2`, `0.5`); an array as its shape and first entries."""
    if v is None:
        return "–"
    a = np.asarray(v)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    flat = ", ".join(f"{float(x):.3g}" for x in a.ravel()[:3])
    more = ", …" if a.size > 3 else ""
    return f"{a.shape} [{flat}{more}]"


def _node_lines(n: Node) -> list[str]:
    if n.kind == "input":
        return [n.label, f"grad {summarize(n.upstream)}"]
    if n.kind == "output":
        return [n.label]
    lines = [n.label, f"upstream {summarize(n.upstream)}"]
    if any(v is not None for _, v in n.local):
        lines.append("local " + ", ".join(f"∂/∂{a} {summarize(v)}" for a, v in n.local))
    if n.downstream:
        lines.append(
            "downstream " + ", ".join(f"{a} {summarize(v)}" for a, v in n.downstream)
        )
    return lines


def to_mermaid(g: Graph) -> str:
    def esc(text: str) -> str:
        return text.replace('"', "#quot;")

    shapes = {"input": ("((", "))"), "output": ("([", "])"), "op": ("[", "]")}
    lines = ["flowchart LR"]
    for n in g.nodes:
        left, right = shapes[n.kind]
        lines.append(f'  {n.id}{left}"{esc("<br/>".join(_node_lines(n)))}"{right}')
    for edge in g.edges:
        lines.append(
            f'  {edge.source} -->|"{esc(summarize(edge.value))}"| {edge.target}'
        )
    return "\n".join(lines) + "\n"


def to_dot(g: Graph) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    shapes = {"input": "circle", "output": "doublecircle", "op": "box"}
    lines = [f"digraph {q(g.name)} {{", "  rankdir=LR;"]
    for n in g.nodes:
        label = "\\n".join(_node_lines(n)).replace('"', '\\"')
        lines.append(f'  {n.id} [shape={shapes[n.kind]}, label="{label}"];')
    for edge in g.edges:
        lines.append(
            f"  {edge.source} -> {edge.target} [label={q(summarize(edge.value))}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(g: Graph, fmt: str = "mermaid") -> str | bytes:
    """The picture as text (`mermaid`, `dot`) or image bytes (`svg`, `png`, via Graphviz)."""
    if fmt == "mermaid":
        return to_mermaid(g)
    if fmt == "dot":
        return to_dot(g)
    if fmt in ("svg", "png"):
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(
                f"--format {fmt} needs the Graphviz `dot` program, which is not installed "
                "(Debian: apt-get install graphviz); `--format dot` writes the source instead"
            )
        done = subprocess.run(
            [dot, f"-T{fmt}"], input=to_dot(g).encode(), capture_output=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"dot failed: {done.stderr.decode().strip()}")
        return done.stdout
    raise ValueError(f"unknown graph format {fmt!r}: use mermaid, dot, svg or png")


def graph(fn, *args, format: str = "mermaid"):
    """The computational graph of `fn` at `args`, with forward values and gradients."""
    return render(build(fn, *args), format)
