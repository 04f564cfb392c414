"""The transforms users call: source → cached generated function.

`grad(f)` reads `f`'s source, compiles its gradient into a module in the
generated folder (or finds it there, fresh), imports it, and returns the
generated function itself: `inspect.getsource(grad(f))` shows its code.

The warm path (a fresh module already on disk) reads the function's source
text only to hash it, reads the module's header, and imports the module: no
parsing, no differentiation, no black. Everything else is imported lazily.

The `adc` command runs the transforms of a file inside a `session`: in
'compile' mode a function that fails to compile is recorded and replaced by a
stub that raises when called, so the rest of the file still compiles; in
'check' mode nothing is written, and each transform only records what the
cache holds.
"""

import ast
import contextlib
import functools
import inspect
import linecache
import operator
import os
import sys
from numbers import Number
from typing import TYPE_CHECKING

from . import cache

# `errors` and `passes` are imported where they are needed: each module on the
# warm path costs a quarter of a millisecond to find and load.


def _error(message: str) -> Exception:
    """An `ADCompileError` to raise (its module is imported on the failure path)."""
    from .errors import ADCompileError

    return ADCompileError(message)


def _passes_tag() -> str:
    """The passes switched off, for the cache key (`passes.cache_tag`).

    Only `passes.disabled` or the environment can switch a pass off; if nothing
    imported `passes` and the variable is unset, every pass runs.
    """
    passes = sys.modules.get(f"{__package__}.passes")
    if passes is None and not os.environ.get("ADC_PASSES_OFF"):
        return ""
    from . import passes

    return passes.cache_tag()


if TYPE_CHECKING:
    from pathlib import Path


class Compiled:
    """One transform of one function: what was asked, where its module is, what the cache found.

    `status` is 'fresh', 'missing', 'stale', 'edited' (see `cache.explain`,
    whose words are in `reason`) or 'failed' (then `error` says why).
    `written` is where a module was written this time, if one was.
    """

    def __init__(
        self,
        fn,
        kind: str,
        with_value: bool,
        has_aux: bool = False,
        example_args: tuple | None = None,
        checks: bool = True,
    ):
        self.fn = fn
        self.kind = kind
        self.with_value = with_value
        self.has_aux = has_aux
        code = getattr(fn, "__code__", None)
        self.file: str = code.co_filename if code else "<unknown>"
        self.line: int = code.co_firstlineno if code else 0
        self.qualname: str = getattr(fn, "__qualname__", repr(fn))
        self.function = f"{kind}_{getattr(fn, '__name__', 'function')}"
        self.nums: tuple[int, ...] = ()
        self.wrt: list[str] = []
        self.single = True
        self.origin_hash = ""
        self._path: str | None = None  # a string: the warm path imports no pathlib
        self.status = "failed"
        self.reason = ""
        self.error: Exception | None = None
        self.written: Path | None = None
        self.example_args = example_args
        self.checks = checks
        self.examples: dict = {}  # parameter -> passes.specialize.Example
        self.example_values: dict = {}  # parameter -> its example, as given

    @property
    def path(self) -> "Path | None":
        """The generated module's file."""
        return None if self._path is None else cache._path(self._path)

    @property
    def origin(self) -> str:
        """`examples/seed_nn.py:13 score`: the header's origin line (computed when asked:
        the warm path never needs it)."""
        return f"{cache.display_path(self.file)}:{self.line} {self.qualname}"

    def __repr__(self) -> str:
        return f"<Compiled {self.origin} -> {self.path}: {self.status}>"

    @property
    def where(self) -> str:
        """`file:line:col` of the failure, or of the function's `def`."""
        loc = getattr(self.error, "loc", None)
        return str(loc) if loc else f"{self.file}:{self.line}:1"


# Every transform in this process, for `adc compile` to report.
COMPILED: list[Compiled] = []


class Session:
    """What `adc` asks of the transforms run while it imports a file."""

    def __init__(
        self, mode: str, out: str | os.PathLike | None = None, force: bool = False
    ):
        if mode not in ("compile", "check"):
            raise ValueError(f"unknown session mode {mode!r}")
        self.mode = mode
        self.out = out
        self.force = force  # regenerate fresh modules too (`adc compile --force`)
        self.records: list[Compiled] = []


_SESSION: Session | None = None


@contextlib.contextmanager
def session(mode: str, out: str | os.PathLike | None = None, force: bool = False):
    """Run transforms in 'compile' mode (collect errors, keep going) or 'check' mode (write nothing).

    `out` plays the role of the ADC_GENERATED variable: an `out=` argument
    given to a transform still wins. `force` regenerates modules that are fresh.
    """
    global _SESSION
    previous, _SESSION = _SESSION, Session(mode, out, force)
    dont_write = sys.dont_write_bytecode
    if mode == "check":
        sys.dont_write_bytecode = True
    try:
        yield _SESSION
    finally:
        _SESSION = previous
        sys.dont_write_bytecode = dont_write


def _normalize_argnums(fn, params: list[str], argnums) -> tuple[int, ...]:
    nums = tuple(argnums) if isinstance(argnums, (tuple, list)) else (argnums,)
    if not nums or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in nums
    ):
        raise _error(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    out = []
    for i in nums:
        j = i + len(params) if i < 0 else i
        if not 0 <= j < len(params):
            raise _error(
                f"argnums {argnums!r} is out of range for {fn.__qualname__}, "
                f"which takes {len(params)} positional arguments"
            )
        out.append(j)
    if len(set(out)) != len(out):
        raise _error(f"argnums {argnums!r} names an argument twice")
    return tuple(out)


def _module_stem(fn, file: str, kind: str, wrt: list[str]) -> str:
    """`seed_nn__grad_score__W_b`: origin file, transform, function, differentiated parameters."""
    qual = fn.__qualname__.replace(".<locals>", "")
    base = os.path.splitext(os.path.basename(file))[0]
    stem = f"{base}__{kind}_{qual}__{'_'.join(wrt)}"
    if stem.isascii() and stem.replace("_", "a").isalnum():
        return stem
    return "".join(
        c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in stem
    )


_STDLIB = os.path.dirname(os.__file__)


def _is_user_code(obj) -> bool:
    """A function or module of the user's own files (not the standard library or an installed one)."""
    code = getattr(obj, "__code__", None)
    file = code.co_filename if code is not None else getattr(obj, "__file__", None)
    if not file or file.startswith("<"):
        return False
    return not (
        "site-packages" in file or "dist-packages" in file or file.startswith(_STDLIB)
    )


def _names_read(code) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if hasattr(const, "co_names"):  # a nested function or comprehension
            names |= _names_read(const)
    return names


def _dependency_text(fn, seen: set | None = None) -> str:
    """What the generated code bakes in besides `fn`'s own text, for the cache hash.

    The numbers `fn` reads from outside, which outside names are arrays, and the
    source of the user's functions it calls (recursively). Read from code
    objects, without parsing, so the warm path stays cheap; it may list more
    names than the compiler reads, never fewer.
    """
    seen = set() if seen is None else seen
    code = fn.__code__
    if code in seen:
        return ""
    seen.add(code)
    scope = getattr(fn, "__globals__", {})
    if code.co_freevars:
        scope = dict(scope)
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                scope[name] = cell.cell_contents
            except ValueError:  # a cell not filled yet
                pass
    names = _names_read(code)
    values = [(n, scope[n]) for n in sorted(names) if n in scope]
    for owner_name, owner in list(
        values
    ):  # `helpers.step(...)`: functions of user modules
        if type(owner).__name__ == "module" and _is_user_code(owner):
            values += [
                (f"{owner_name}.{n}", getattr(owner, n))
                for n in sorted(names)
                if hasattr(owner, n)
            ]
    parts = []
    foreign = _foreign_rules()
    for name, value in values:
        kind = type(value).__name__
        if kind == "module":
            continue
        if isinstance(value, Number):
            parts.append(f"{name}={value!r}")
        elif kind == "ndarray":
            parts.append(f"{name}: array")
        elif hasattr(value, "_adc_sources"):  # a custom_vjp function and its rule
            for source_fn in value._adc_sources:
                text, _ = source_text(source_fn)
                parts.append(f"{name}:\n{text}{_dependency_text(source_fn, seen)}")
        elif id(value) in foreign:  # a function given a rule by defvjp
            text, _ = source_text(foreign[id(value)][1])
            parts.append(f"{name} rule:\n{text}")
        elif kind == "function" and _is_user_code(value):
            try:
                text, _ = source_text(value)
            except OSError:
                continue
            parts.append(f"{name}:\n{text}{_dependency_text(value, seen)}")
    return "\n# " + "\n".join(parts) if parts else ""


def _foreign_rules() -> dict:
    custom = sys.modules.get(f"{__package__}.custom")
    return custom.FOREIGN if custom is not None else {}


_ITEM1, _ITEM2 = operator.itemgetter(1), operator.itemgetter(2)


def _last_line(code) -> int:
    """The last source line of a code object, nested functions and multi-line expressions included."""
    # map/filter rather than a generator: this runs for every @grad at import
    positions = getattr(code, "co_positions", None)  # Python >= 3.11
    if positions is not None:
        ends = map(_ITEM1, positions())
    else:  # pragma: no cover - Python 3.10
        ends = map(_ITEM2, code.co_lines())
    last = max(filter(None, ends), default=code.co_firstlineno)
    for const in code.co_consts:
        if hasattr(const, "co_firstlineno"):
            last = max(last, _last_line(const))
    return max(last, code.co_firstlineno)


def source_text(fn) -> tuple[str, int]:
    """The lines of `fn`'s source, decorators included, and its first line number.

    Read from `linecache` between the code object's first and last lines, which
    costs microseconds; `inspect.getsource` tokenizes the file and costs
    milliseconds. Only the hash of this text is needed to find a cached module.
    """
    code = fn.__code__
    first = code.co_firstlineno
    linecache.checkcache(
        code.co_filename
    )  # the file may have changed since it was read
    lines = linecache.getlines(code.co_filename, getattr(fn, "__globals__", None))
    if not lines or first > len(lines):
        raise OSError("could not get source code")
    return "".join(lines[first - 1 : _last_line(code)]), first


def _request(rec: Compiled, argnums, out) -> None:
    """Fill in what the cache needs, cheaply: the source text (hashed, not parsed), the
    parameter names (from the code object), the module's path and what is there."""
    fn = rec.fn
    code = getattr(fn, "__code__", None)
    try:
        if code is None:
            raise TypeError(f"{type(fn).__name__} object is not a Python function")
        text, first = source_text(fn)
    except (OSError, TypeError):
        from .frontend import read_source

        read_source(fn)  # raises the error users see for source it cannot read
        raise
    params = list(code.co_varnames[: code.co_argcount])
    rec.nums = _normalize_argnums(fn, params, argnums)
    rec.single = isinstance(argnums, int)
    rec.wrt = [params[i] for i in rec.nums]
    rec.line = first
    # `argnums=0` returns a gradient, `argnums=(0,)` a 1-tuple: separate modules.
    one_tuple = not rec.single and len(rec.nums) == 1
    tag = (" tuple" if one_tuple else "") + (" has_aux" if rec.has_aux else "")
    special = _specialization(rec, params)
    rec.origin_hash = cache.digest(
        f"{rec.kind} argnums={rec.nums}{tag}{_passes_tag()}{special}\n"
        f"{text}{_dependency_text(fn)}"
    )
    session_out = _SESSION.out if _SESSION is not None else None
    folder = cache.output_dir(rec.file, out if out is not None else session_out)
    extra = ([""] if one_tuple else []) + (["aux"] if rec.has_aux else [])
    stem = _module_stem(fn, rec.file, rec.kind, rec.wrt + extra)
    if not rec.checks:
        stem += "__unchecked"
    if rec.examples:  # one module per specialization
        stem += f"__like_{cache.digest(special)[:8]}"
    rec._path = os.path.join(folder, f"{stem}.py")
    rec.status, rec.reason = cache.explain(rec._path, rec.origin_hash)


def _specialization(rec: Compiled, params: list[str]) -> str:
    """Read `example_args` into `rec.examples`; the text the cache key adds for them
    (` like W: float64[10, 10], x: float`) and for `checks=False` (` unchecked`)."""
    text = "" if rec.checks else " unchecked"
    if rec.example_args is None:
        return text
    from .passes import specialize

    if not isinstance(rec.example_args, (tuple, list)):
        raise TypeError(
            "example_args must be a tuple of example arguments, one per positional "
            f"parameter of {rec.qualname}, got {type(rec.example_args).__name__}"
        )
    given = tuple(rec.example_args)
    if len(given) > len(params):
        raise TypeError(
            f"example_args has {len(given)} values; {rec.qualname} takes "
            f"{len(params)} positional arguments"
        )
    for name, value in zip(params, given):
        example = specialize.describe(value)
        if example is None:
            continue  # an int, a list, ...: that argument stays generic
        if name in rec.wrt and example.dtype[0] != "f":
            raise TypeError(
                f"the example for `{name}` is a {example.dtype} array; gradients "
                "are taken with respect to floating-point values"
            )
        rec.examples[name] = example
        rec.example_values[name] = value
    if rec.examples:
        text += f" like {specialize.signature(rec.examples)}"
    return text


def _transform(rec: Compiled, argnums, out):
    _request(rec, argnums, out)
    if _SESSION is not None and _SESSION.mode == "check":
        if rec.status == "fresh":
            return _bind_constants(cache.load(rec._path, rec.function), rec.fn)
        return _stub(rec, f"{rec.path} is {rec.status}; run `adc compile`")
    path = rec._path
    force = _SESSION is not None and _SESSION.force
    if rec.status != "fresh" or force:
        path = rec.path
        alt = cache.fallback_dir(path.parent) / path.name
        if (
            not force
            and alt.is_file()
            and cache.status(alt, rec.origin_hash) == "fresh"
        ):
            path = alt  # the folder could not be written before; this copy is current
        else:
            text = generate(rec)
            try:
                path = cache.write(path, text)
            except cache.CacheError as exc:
                raise _error(str(exc)) from None
            rec.written = path
    return _bind_constants(cache.load(path, rec.function), rec.fn)


def _bind_constants(generated, fn):
    """Arrays `fn` closes over are keyword-only parameters of the generated function,
    bound here to their values (they are constants, not differentiated).

    The defaults of `fn`'s parameters are bound here too, to the values `fn`
    holds: the generated file writes only the literal ones (`z=2.0`), and a
    default such as `w=np.ones(3)` is an array the generated code cannot spell.
    """
    _bind_defaults(generated, fn)
    if generated.__code__.co_kwonlyargcount:
        from .frontend import bind_constants

        return bind_constants(generated, fn)
    return generated


def _bind_defaults(generated, fn) -> None:
    defaults = getattr(fn, "__defaults__", None)
    code = getattr(fn, "__code__", None)
    if not defaults or code is None:
        return
    own = generated.__code__
    params = code.co_varnames[: code.co_argcount]
    if own.co_varnames[: own.co_argcount] == params:  # not a jvp: its tangents follow
        generated.__defaults__ = defaults


def _literal_defaults(tree) -> tuple:
    """The defaults of `tree`'s last parameters that are literal constants
    (`z=2.0`, `axis=(0, 1)`), from the first one after any that is not."""
    found: list = []
    for node in tree.args.defaults:
        try:
            value = ast.literal_eval(node)
        except ValueError:  # a name, a call: bound when the module is loaded
            found = []
            continue
        if not _immutable_literal(value):
            found = []
            continue
        found.append(value)
    return tuple(found)


def _immutable_literal(value) -> bool:
    if isinstance(value, tuple):
        return all(_immutable_literal(v) for v in value)
    return value is None or isinstance(value, (Number, str, bytes))


def lower(rec: Compiled):
    """The function's IR and its transformed IR, as `adc ir` prints them."""
    from .frontend import Lowering, read_source
    from .ir import format_function

    src = read_source(rec.fn)
    lowering = Lowering(src)
    fn_ir = lowering.lower()
    before = format_function(fn_ir)
    if rec.kind == "jvp":
        adj = _tangent(fn_ir, lowering, rec)
    else:
        adj = _adjoint(fn_ir, lowering, rec)
    return before, adj, src


def _tangent(fn_ir, lowering, rec: Compiled):
    from .autodiff.forward import forward
    from .passes.products import dot_products

    ir = forward(fn_ir, rec.nums, rec.function, lowering.names)
    dot_products(ir)
    n = len(ir.body.results) // 2
    ir.result_tree = (0, n) if n == 1 else (tuple(range(n)), tuple(range(n, 2 * n)))
    return ir


def _after_reverse(adj, lowering) -> None:
    """The passes that work on the differentiated function, and its defaults;
    and on the general function its loops' checks fall back to."""
    from .passes.branches import group_selects
    from .passes.buffers import reuse_buffers
    from .passes.hoist import hoist_products
    from .passes.lists import pop_list_adjoints
    from .passes.negation import push_negations
    from .passes.products import dot_products

    facts = None
    if adj.examples:
        from .passes.specialize import shape_facts

        facts = shape_facts(adj)
    hoist_products(adj.body, lowering.names, facts)
    group_selects(adj.body, lowering.names)
    push_negations(adj.body, lowering.names, facts)
    reuse_buffers(adj)
    pop_list_adjoints(adj)
    dot_products(adj)
    if adj.general is not None:
        from .passes.steady import ranked_products

        ranked_products(adj, lowering.names)
    adj.defaults = _literal_defaults(lowering.src.tree)
    if adj.general is not None:
        _after_reverse(adj.general, lowering)


def _adjoint(fn_ir, lowering, rec: Compiled):
    from .autodiff.reverse import reverse

    fn_ir.checks = rec.checks
    if rec.examples:
        from .passes.specialize import trace, value_of

        fn_ir.examples = dict(rec.examples)
        # values to trace with are made only when compiling, not on the warm path
        values = {
            p: value_of(rec.examples[p], v) for p, v in rec.example_values.items()
        }
        fn_ir.traced = trace(fn_ir, values)

    n = len(rec.nums)
    if rec.kind == "vjp":
        adj = reverse(
            fn_ir,
            rec.nums,
            False,
            rec.function,
            lowering.names,
            seeded=True,
            has_aux=rec.has_aux,
        )
        _after_reverse(adj, lowering)
        return adj
    adj = reverse(
        fn_ir,
        rec.nums,
        rec.with_value,
        rec.function,
        lowering.names,
        has_aux=rec.has_aux,
    )
    _after_reverse(adj, lowering)
    first = 1 if rec.with_value else 0
    grads = first if rec.single else tuple(range(first, first + n))
    aux = first + n  # the last result, with has_aux
    if rec.with_value:
        adj.result_tree = ((0, aux) if rec.has_aux else 0, grads)
    else:
        adj.result_tree = (grads, aux) if rec.has_aux else grads
    if adj.general is not None:
        adj.general.result_tree = adj.result_tree
    return adj


def generate(rec: Compiled) -> str:
    """The full text of the generated module: header, code, source-map comments."""
    from . import codegen, sourcemap

    _, adj, src = lower(rec)
    origin = f"{cache.display_path(src.file)}:{src.first_line}"
    if rec.kind == "vjp":
        doc = (
            f"`{src.tree.name}` and its vector-Jacobian product with respect to "
            f"{', '.join(rec.wrt)}: returns the output and `backward`, which maps "
            f"a cotangent of the output to the arguments' cotangents. "
            f"Generated from {origin}."
        )
    elif rec.kind == "jvp":
        along = ", ".join(p + "_dot" for p in rec.wrt)
        doc = (
            f"`{src.tree.name}` and its directional derivative along ({along}). "
            f"Generated from {origin}."
        )
    else:
        what = "Value and gradient" if rec.with_value else "Gradient"
        doc = (
            f"{what} of `{src.tree.name}` with respect to {', '.join(rec.wrt)}. "
            f"Generated from {origin}."
        )
    functions = [(adj, doc)]
    if adj.general is not None:
        functions.append(
            (
                adj.general,
                f"{doc[:-1]}, for any shapes: `{adj.name}` returns what this "
                "returns where a loop's trips do not keep their shapes.",
            )
        )
    text = codegen.module_source(functions)
    for fn, _ in functions:
        text = sourcemap.annotate(text, fn, src.file)
    if any(
        len(line) > 88 and not line.lstrip().startswith('"""')
        for line in text.splitlines()
    ):
        # a statement black left on one line may no longer fit with its comment:
        # black splits it, and the comment closes the statement's last line
        text = codegen.black_formatted(text)
    return cache.render(text, rec.origin, rec.origin_hash)


def _stub(rec: Compiled, why: str):
    """What a transform returns when its function was not compiled: it raises when called."""
    message = f"{rec.qualname} was not compiled: {why}"

    def not_compiled(*args, **kwargs):
        raise _error(message)

    not_compiled.__name__ = not_compiled.__qualname__ = rec.function
    return not_compiled


def compiled(
    fun,
    kind: str,
    argnums,
    out=None,
    with_value: bool = False,
    has_aux: bool = False,
    example_args: tuple | None = None,
    checks: bool = True,
):
    """The generated function of one transform of `fun`, from the cache or compiled now."""
    rec = Compiled(inspect.unwrap(fun), kind, with_value, has_aux, example_args, checks)
    COMPILED.append(rec)
    if _SESSION is not None:
        _SESSION.records.append(rec)
    try:
        try:
            return _transform(rec, argnums, out)
        except RecursionError as exc:
            raise _error(f"{fun.__qualname__} is too deeply nested to compile") from exc
    except Exception as exc:
        if _SESSION is None:
            raise
        # `adc` keeps going: record the failure, hand back a stub.
        rec.status, rec.error = "failed", exc
        return _stub(rec, str(exc).splitlines()[0])


def _decorator(kind: str, with_value: bool):
    def transform(
        fun=None,
        argnums=0,
        *,
        has_aux: bool = False,
        out: str | os.PathLike | None = None,
        example_args: tuple | None = None,
        checks: bool = True,
    ):
        if fun is None:
            return functools.partial(
                transform,
                argnums=argnums,
                has_aux=has_aux,
                out=out,
                example_args=example_args,
                checks=checks,
            )
        if not callable(fun):
            raise TypeError(f"{kind} expects a function, got {type(fun).__name__}")
        return compiled(
            fun, kind, argnums, out, with_value, has_aux, example_args, checks
        )

    transform.__name__ = transform.__qualname__ = kind
    return transform


grad = _decorator("grad", with_value=False)
grad.__doc__ = """The gradient of a scalar-valued function, as a generated NumPy function.

    `grad(f)` or `@grad`: the gradient with respect to the first argument.
    `grad(f, argnums=(0, 2))` or `@grad(argnums=(0, 2))`: a tuple of gradients.
    `has_aux=True`: `f` returns `(value, aux)`; the gradient function returns
    `(gradient, aux)` (value_and_grad: `((value, aux), gradient)`), as in JAX.
    Each gradient has its parameter's shape and dtype. `out` chooses the folder
    for the generated module (see `cache.output_dir` for the default).

    `example_args=(W, x, b, u)`: compile for arguments like these (each a
    Python float or a NumPy array, or any object with `shape` and `dtype`; any
    other example leaves its argument generic). The generated code knows the
    shapes and dtypes, so it sums no broadcast axes, casts nothing and checks
    once at entry that a call's arguments are like the examples (`TypeError`
    if not). `checks=False`: the generated code checks nothing (no float,
    scalar-output or example checks); an argument it was not compiled for
    gives an undefined result, as in hand-written code.
    """

value_and_grad = _decorator("value_and_grad", with_value=True)


def stop_gradient(x):
    """`x` itself; in a differentiated function, no derivative flows through it."""
    return x


value_and_grad.__doc__ = (
    """Like `grad`, but the generated function returns `(value, gradient)`."""
)
