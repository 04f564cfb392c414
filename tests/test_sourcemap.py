"""Every generated statement names its origin line; so does a traceback through it."""

import ast
import contextlib
import inspect
import re
import sys
import textwrap
import traceback

import numpy as np
import pytest

from adcompiler import grad, sourcemap, value_and_grad

USER = textwrap.dedent("""\
    import numpy as np


    def score(W, x, b, u):
        z = W @ x + b
        h = np.tanh(z)
        return u @ h


    def chain(a, y):
        e = np.exp(a)
        m = e * y
        s = np.sin(m)
        return s * s


    def rnn(W, xs, h):
        total = 0.0
        for t in range(xs.shape[0]):
            h = np.tanh(W @ h + xs[t])
            if np.sum(h) > 0:
                total = total + np.sum(h * h)
            else:
                total = total - np.sum(h)
        return total


    def update(x, y):
        y1 = 1.0 * y
        y1[1:] -= (y if np.any(y1 > 0.5) else y1) @ y1
        y2 = y1.copy()
        y2[0] = x
        return np.sum(y1) + np.sum(y2)


    def picked(x, i):
        t = np.tanh(x)
        return np.sum(t * t) + t[i] ** 2
    """)


@pytest.fixture
def user(tmp_path, out_dir):
    (tmp_path / "sm_user.py").write_text(USER)
    sys.path.insert(0, str(tmp_path))
    try:
        import sm_user

        yield sm_user
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sm_user", None)


def statements(fn):
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    body = tree.body[0].body
    return [
        s
        for s in body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]


def test_every_statement_names_an_origin_line(user):
    for g in (
        grad(user.score, argnums=(0, 2)),
        value_and_grad(user.chain, argnums=(0, 1)),
    ):
        path = inspect.getfile(g)
        lines = open(path).read().splitlines()
        mapping = sourcemap.origin_lines(open(path).read())
        first = g.__code__.co_firstlineno
        for stmt in statements(g):
            lineno = first + stmt.lineno - 1
            assert lineno in mapping, lines[lineno - 1]
            name, line = mapping[lineno]
            assert name == "sm_user.py"
            assert 4 <= line <= 14
        assert mapping[first] in {("sm_user.py", 4), ("sm_user.py", 10)}  # the def line


def test_forward_statements_map_exactly(user):
    g = grad(user.score, argnums=(0, 2))
    text = inspect.getsource(g)
    assert "h = np.tanh(z)  # sm_user.py:6" in text
    assert "z = t1 + b  # sm_user.py:5" in text
    assert "d_b = _unbroadcast(d_z, b)  # sm_user.py:5" in text


def test_backward_statements_map_to_the_operation_they_differentiate(user):
    g = grad(user.chain, argnums=1)
    found = {}
    for line in inspect.getsource(g).splitlines():
        if "=" in line and "#" in line:
            found[line.split("=")[0].strip()] = int(line.rsplit(":", 1)[1])
    assert found["e"] == 11 and found["m"] == 12 and found["s"] == 13
    assert found["d_y"] == 12  # ∂/∂y of `m = e * y`


def test_exception_in_generated_code_names_the_origin_line(user):
    g = grad(user.score, argnums=(0, 2))
    with pytest.raises(ValueError) as info:
        g(np.ones((3, 4)), np.ones(3), np.ones(3), np.ones(3))  # W @ x: shapes disagree
    text = "".join(traceback.format_exception(info.value))
    assert "t1 = W @ x  # sm_user.py:5" in text


def test_ir_lines_without_locations_fall_back_to_the_def_line():
    from adcompiler.errors import Loc
    from adcompiler.ir import Assign, Block, Const, Function, Var

    fn = Function(
        "f",
        ["x"],
        Block([Assign(("_t1",), "mul", (Var("x"), Const(2.0)))], (Var("_t1"),)),
        Loc("f.py", 7, 0),
    )
    assert list(sourcemap.ir_lines(fn).values()) == [7]


def mapped(g) -> dict[str, int]:
    """Each generated line's text (comment stripped) -> the origin line it names."""
    out = {}
    for line in inspect.getsource(g).splitlines():
        if "  # sm_user.py:" in line:
            code, origin = line.rsplit("  # sm_user.py:", 1)
            out[code.strip()] = int(origin)
    return out


def test_statements_inside_loops_and_branches_map_to_their_lines(user):
    g = grad(user.rnn)
    found = mapped(g)
    loops = [line for code, line in found.items() if code.startswith("for ")]
    assert loops == [19, 19]  # the forward loop and the backward one
    assert [line for code, line in found.items() if "np.tanh(" in code] == [20]
    branches = {line for code, line in found.items() if re.fullmatch(r"if t\d+:", code)}
    assert branches == {21}
    assert {22, 24} <= set(found.values())  # each branch's statements, both sweeps
    backward = [line for code, line in found.items() if code.startswith("d_")]
    assert set(backward) <= set(range(17, 26)) and len(set(backward)) >= 3


def test_exception_inside_a_loop_names_the_origin_line(user):
    g = grad(user.rnn)
    with pytest.raises(ValueError) as info:
        g(np.ones((2, 2)), np.ones((3, 5)), np.zeros(2))  # xs[t] has the wrong length
    text = "".join(traceback.format_exception(info.value))
    assert re.search(r"h_2 = np\.tanh\(t\d+ \+ xs\[t\]\)  # sm_user\.py:20", text)


@pytest.mark.parametrize("off", [False, True])
def test_index_assignments_and_conditional_expressions_map_to_their_lines(user, off):
    # `y2[0] = x` and the `d_y2[0] = 0.0` of its adjoint are written as a copy and
    # an index assignment; `y if ... else y1` as a conditional expression. Without
    # the optimization passes, temporaries are many: the match must stay aligned.
    from adcompiler import passes

    with passes.disabled() if off else contextlib.nullcontext():
        found = mapped(grad(user.update, argnums=(0, 1)))
    where = {code: line for code, line in found.items()}
    for code, line in where.items():
        if re.fullmatch(r"(d_)?y2(_1)?\[0\] = .*", code):
            assert line == 32, code
        if " if " in code and " else " in code:
            assert line == 30, code
        if code.startswith("return"):
            assert line == 33, code
    assert 32 in where.values() and 30 in where.values()


def test_an_index_known_at_run_time_maps_to_the_line_that_reads_it(user):
    """`_add_at(d_t, i, g)`, a call of its own, names the line of `t[i]`."""
    text = inspect.getsource(grad(user.picked))
    assert re.search(r"\n +_add_at\(.*\)  # sm_user\.py:38\n", text), text
