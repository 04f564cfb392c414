"""The SSA intermediate representation and its printer.

Every value is defined exactly once. An operand is either a `Var` (a name
defined earlier) or a `Const` (a Python literal: number, bool, None, string,
tuple). Control flow is structured: an `If` holds two blocks and binds the
values they yield (the phi-nodes); a `Loop` holds a body block and names its
loop-carried values explicitly. Nothing here knows about derivatives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import Loc


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: Any

    def __str__(self) -> str:
        return repr(self.value)


Atom = Var | Const


class _Undefined:
    """The value of a variable on a path where it was never assigned (Python's unbound name)."""

    def __repr__(self) -> str:
        return "undefined"

    def __reduce__(self):
        return "UNDEFINED"


UNDEFINED = _Undefined()
UNDEF = Const(UNDEFINED)


def is_undef(a) -> bool:
    return isinstance(a, Const) and a.value is UNDEFINED


@dataclass
class Assign:
    """`outs = prim(*args, **kwargs)`; `outs` has one name except for tuple-valued prims."""

    outs: tuple[str, ...]
    prim: str
    args: tuple[Atom, ...]
    kwargs: dict[str, Atom] = field(default_factory=dict)
    loc: Loc | None = None

    @property
    def out(self) -> str:
        return self.outs[0]

    def operands(self) -> Iterator[Atom]:
        yield from self.args
        yield from self.kwargs.values()


@dataclass
class Block:
    stmts: list = field(default_factory=list)
    results: tuple[Atom, ...] = ()


@dataclass
class If:
    """`outs = then.results if cond else orelse.results`."""

    outs: tuple[str, ...]
    cond: Atom
    then: Block
    orelse: Block
    loc: Loc | None = None

    def operands(self) -> Iterator[Atom]:
        yield self.cond


@dataclass
class Loop:
    """A loop over loop-carried values.

    `carried` names the body's parameters for the carried values; `inits`
    gives their values on entry; the body yields their next values; `outs`
    binds their values after the last trip.

    A `for` loop runs `index` over `range(start, stop, step)` (backwards when
    `reverse`); a `while` loop has `cond`, a block over the carried values
    yielding the condition, and no index. `brk`, a value of the body, ends
    the loop after the trip that sets it (`break`). `trips`, when set, names
    the number of trips the loop ran (the backward sweep of a loop that can
    stop early runs that many trips).
    """

    outs: tuple[str, ...]
    index: str | None
    start: Atom
    stop: Atom
    step: Atom
    carried: tuple[str, ...]
    inits: tuple[Atom, ...]
    body: Block
    loc: Loc | None = None
    cond: Block | None = None
    brk: Atom | None = None
    trips: str | None = None
    reverse: bool = False

    def operands(self) -> Iterator[Atom]:
        yield self.start
        yield self.stop
        yield self.step
        yield from self.inits

    @property
    def defs(self) -> tuple[str, ...]:
        return self.outs + ((self.trips,) if self.trips else ())


Stmt = Assign | If | Loop


@dataclass
class Function:
    name: str
    params: list[str]
    body: Block
    loc: Loc | None = None
    doc: str | None = None
    # Names given to results at the return (`d_b = d_z`), by result position.
    result_names: dict[int, str] = field(default_factory=dict)
    # How the flat results nest in the returned value: an int is a result's
    # position, a tuple a Python tuple (e.g. `(0, (1, 2))` for value_and_grad).
    result_tree: object = None
    # Values that are Python lists of arrays (their adjoints are lists too).
    lists: set = field(default_factory=set)
    # Arrays read from the enclosing scope, taken as keyword-only parameters.
    constants: list = field(default_factory=list)
    # Literal defaults of the last parameters (`z=2.0`), written into the signature.
    defaults: tuple = ()
    # vjp: the cotangent parameters of the backward function, which codegen
    # writes as a nested def after the `begin_backward` marker.
    backward_params: list | None = None
    # has_aux: how many of the last results are auxiliary (returned, not differentiated).
    aux: int = 0
    # Gradients that NumPy's promotion may have widened, by result position: the
    # parameter whose dtype each is cast back to (`d_x = _astype_like(d_x, x)`).
    casts: dict[int, str] = field(default_factory=dict)
    # The inputs (parameters, constants) the cast gradients are computed from;
    # None where the function names a dtype, which may narrow a gradient.
    cast_sources: list | None = field(default_factory=list)
    # The origin line of the function's last `return`: where the source map puts
    # the generated `return` (and the casts before it).
    return_line: int | None = None
    # Specialization to example arguments (passes/specialize.py): what each
    # parameter is assumed to be, the shapes of the values traced from the
    # examples, and whether the generated code checks its arguments at all.
    examples: dict = field(default_factory=dict)
    traced: dict = field(default_factory=dict)
    checks: bool = True
    # A gradient derived with its loops' trips taken to keep their shapes
    # (passes/steady.py) returns what this one, derived without, returns where
    # a trip does not.
    general: Function | None = None


def walk(block: Block) -> Iterator[Stmt]:
    """Every statement of a block and of its nested blocks, in program order."""
    for stmt in block.stmts:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.then)
            yield from walk(stmt.orelse)
        elif isinstance(stmt, Loop):
            if stmt.cond is not None:
                yield from walk(stmt.cond)
            yield from walk(stmt.body)


def defs(stmt) -> tuple[str, ...]:
    """The names a statement binds in its own block."""
    return stmt.defs if isinstance(stmt, Loop) else stmt.outs


def uses(block: Block) -> dict[str, int]:
    """How many times each name is read in a block, nested blocks and results included."""
    counts: dict[str, int] = {}

    def count(atoms):
        for a in atoms:
            if isinstance(a, Var):
                counts[a.name] = counts.get(a.name, 0) + 1

    def visit(b: Block):
        for stmt in b.stmts:
            count(stmt.operands())
            if isinstance(stmt, If):
                visit(stmt.then)
                visit(stmt.orelse)
            elif isinstance(stmt, Loop):
                if stmt.cond is not None:
                    visit(stmt.cond)
                visit(stmt.body)
                if stmt.brk is not None:
                    count([stmt.brk])
        count(b.results)

    visit(block)
    return counts


def reads(stmt) -> set[str]:
    """Every name `stmt` reads, in its nested blocks too."""
    return set(uses(Block([stmt])))


def rename(block: Block, mapping: dict[str, str]) -> None:
    """Rename values in place, definitions and uses, nested blocks included."""

    def sub(a):
        return Var(mapping[a.name]) if isinstance(a, Var) and a.name in mapping else a

    def visit(b: Block):
        for stmt in b.stmts:
            stmt.outs = tuple(mapping.get(o, o) for o in stmt.outs)
            if isinstance(stmt, Assign):
                stmt.args = tuple(sub(a) for a in stmt.args)
                stmt.kwargs = {k: sub(v) for k, v in stmt.kwargs.items()}
            elif isinstance(stmt, If):
                stmt.cond = sub(stmt.cond)
                visit(stmt.then)
                visit(stmt.orelse)
            elif isinstance(stmt, Loop):
                stmt.start, stmt.stop, stmt.step = map(
                    sub, (stmt.start, stmt.stop, stmt.step)
                )
                stmt.inits = tuple(sub(a) for a in stmt.inits)
                stmt.carried = tuple(mapping.get(c, c) for c in stmt.carried)
                stmt.index = mapping.get(stmt.index, stmt.index)
                if stmt.trips:
                    stmt.trips = mapping.get(stmt.trips, stmt.trips)
                if stmt.brk is not None:
                    stmt.brk = sub(stmt.brk)
                if stmt.cond is not None:
                    visit(stmt.cond)
                visit(stmt.body)
        b.results = tuple(sub(a) for a in b.results)

    visit(block)


# -- printer ---------------------------------------------------------------


def format_function(fn: Function) -> str:
    lines = [f"def {fn.name}({', '.join(fn.params)}):"]
    lines += _format_block(fn.body, "  ", "return")
    return "\n".join(lines)


def _format_block(block: Block, indent: str, final: str) -> list[str]:
    lines = []
    for stmt in block.stmts:
        if isinstance(stmt, Assign):
            args = [str(a) for a in stmt.args]
            args += [f"{k}={v}" for k, v in stmt.kwargs.items()]
            where = f"  # {stmt.loc.line}" if stmt.loc else ""
            lines.append(
                f"{indent}{', '.join(stmt.outs)} = {stmt.prim}({', '.join(args)}){where}"
            )
        elif isinstance(stmt, If):
            lines.append(f"{indent}{', '.join(stmt.outs) or '_'} = if {stmt.cond}:")
            lines += _format_block(stmt.then, indent + "  ", "yield")
            lines.append(f"{indent}else:")
            lines += _format_block(stmt.orelse, indent + "  ", "yield")
        elif isinstance(stmt, Loop):
            carried = ", ".join(f"{c}={i}" for c, i in zip(stmt.carried, stmt.inits))
            outs = ", ".join(stmt.defs) or "_"
            if stmt.cond is not None:
                lines.append(f"{indent}{outs} = while carry ({carried}):")
                lines += _format_block(stmt.cond, indent + "  ", "test")
                lines.append(f"{indent}do:")
            else:
                rev = "reversed " if stmt.reverse else ""
                lines.append(
                    f"{indent}{outs} = for {stmt.index} in {rev}"
                    f"range({stmt.start}, {stmt.stop}, {stmt.step}) carry ({carried}):"
                )
            brk = f" break if {stmt.brk}" if stmt.brk is not None else ""
            lines += _format_block(stmt.body, indent + "  ", "yield")
            if brk:
                lines[-1] += brk
    lines.append(f"{indent}{final} {', '.join(str(r) for r in block.results)}")
    return lines
