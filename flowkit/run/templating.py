"""Params that use run inputs and upstream results: ``"{{ inputs.title }}"``, ``"{{ create_repo.url }}"``.

Templates are Jinja2 expressions evaluated in `ImmutableSandboxedEnvironment`
with `StrictUndefined` — never ``eval`` — so a template can read values but
not call into Python internals or change anything, and a name or key that
does not exist is an error naming the node and the expression instead of an
empty string.

* A param that is exactly one ``{{ expr }}`` keeps the expression's type
  (a list stays a list, a number a number); any other template renders to text.
* Dicts and lists are rendered item by item.
* The plain dotted form ``{{ node.key.sub }}`` over dict keys is resolved
  without Jinja at all: it is the common case, it costs a dict lookup, and
  Jinja (≈ 80 ms to import, ≈ 0.2 ms to compile each template) is only loaded
  for anything richer.
* Checking a template (`references`) parses it and walks the tree: nothing in
  it is evaluated, not even constants (Jinja's optimiser, which folds them, is
  off, and no output is computed at compile time), so ``{{ 9**(9**9) }}`` is
  checked at once. A template nested too deeply to parse is a `TemplateError`.
* Rendering runs under a `RenderBudget` of time, output and work
  (`flowkit.run.template_budget`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from ..errors import NotJSONError, TemplateError
from ..jsonvalue import check_json
from .template_budget import DEFAULT_BUDGET, RenderBudget, RenderBudgetExceeded, Spent, metered

#: How much of a template an error message quotes.
QUOTED = 80

INPUTS = "inputs"
_SINGLE = re.compile(r"\{\{((?:(?!\{\{|\}\}|\{%|%\}|\{#).)*)\}\}", re.S)
_DOTTED = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*")
_MISSING = object()
#: Templates up to this long have what is worked out of them remembered (see `per_text`).
_REMEMBERED_LENGTH = 4096
T = TypeVar("T")


def is_template(value: Any) -> bool:
    """Whether a value is a string Jinja would treat as a template (``{{``, ``{%`` or ``{#`` in it).

    Broader than a complete ``{{ ... }}``: an unclosed ``{{ x`` is a template
    with a syntax error, reported as such, not text passed on silently.
    """
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def template_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every template string inside a params value, with where it is (``title``, ``items[2]``, ``body.text``)."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from template_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from template_strings(item, f"{path}[{index}]")


def has_templates(value: Any) -> bool:
    """Whether any string inside `value` is a template."""
    return next(template_strings(value, ""), None) is not None


def single_expression(text: str) -> str | None:
    """The expression if `text` is exactly one ``{{ expr }}`` (surrounding spaces allowed), else None."""
    match = _SINGLE.fullmatch(text.strip())
    return match.group(1) if match else None


def _dotted(expression: str) -> list[str] | None:
    match = _DOTTED.fullmatch(expression)
    return match.group(1).split(".") if match else None


def per_text(work: Callable[[str], T]) -> Callable[[str], T]:
    """`work` remembered per template text (4,096 texts of up to `_REMEMBERED_LENGTH` characters).

    Every run asks the same questions of the same templates (what do they
    read, do they need Jinja, their compiled form); a longer text is worked
    out each time, so the cache stays small. A text that raises is not kept.
    """
    cached = lru_cache(maxsize=4096)(work)

    @functools.wraps(work)
    def remembered(text: str) -> T:
        return cached(text) if len(text) <= _REMEMBERED_LENGTH else work(text)

    return remembered


@per_text
def plain_reference(text: str) -> tuple[str, ...] | None:
    """The path of a template that is one plain reference (``{{ node.key.key }}``: no Jinja needed), else None."""
    expression = single_expression(text)
    path = _dotted(expression) if expression is not None else None
    return tuple(path) if path is not None else None


def needs_jinja(value: Any) -> bool:
    """Whether any template inside `value` is more than a plain ``{{ node.key }}`` (which needs no Jinja)."""
    return any(plain_reference(text) is None for _, text in template_strings(value, ""))


def _quoted(text: str) -> str:
    return repr(text) if len(text) <= QUOTED else repr(text[:QUOTED]) + "…"


def _too_deep(text: str) -> TemplateError:
    return TemplateError(
        f"{_quoted(text)} is nested too deeply to check or render (thousands of brackets, filters or "
        "operators inside each other): split it into simpler templates."
    )


# -- Jinja, loaded on first need ---------------------------------------------------
@lru_cache(maxsize=1)
def environment() -> Any:
    """The sandboxed Jinja environment (built once per process).

    Besides the sandbox: arithmetic, ``str.format`` and the width-taking
    filters go through `flowkit.run.template_budget`, which refuses results over
    the budget before making them; the optimiser is off and `finalize` takes
    the context, so compiling a template never evaluates any of it.
    """
    from jinja2 import StrictUndefined, pass_context
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from . import template_budget

    @pass_context
    def finalize(context: Any, value: Any) -> Any:
        # A context-taking finalize also stops Jinja computing constant output at compile time.
        return value

    class Generator(CodeGenerator):
        def visit_Concat(self, node: Any, frame: Any) -> None:  # `a ~ b`: counted like the operators
            self.write("environment.concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class Environment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(template_budget.BINOPS)
        code_generator_class = Generator
        concat = staticmethod(template_budget.concat)  # type: ignore[assignment]

        # Results are dicts: `{{ repo.items }}` must mean the key "items", not dict.items.
        def getattr(self, obj: Any, attribute: str) -> Any:
            if isinstance(obj, dict) and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            return template_budget.binop(operator, left, right)

        def wrap_str_format(self, value: Any) -> Any:
            wrapped = super().wrap_str_format(value)
            if wrapped is not None:
                template_budget.check_format(value.__self__)
            return wrapped

    env = Environment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, optimized=False, finalize=finalize
    )
    template_budget.guard_filters(env.filters)
    return env


@per_text
def _compiled(text: str) -> tuple[str, Any]:
    """("expression", callable) for a single expression, else ("template", Template); cached by source."""
    from jinja2 import TemplateSyntaxError

    env = environment()
    expression = single_expression(text)
    try:
        if expression is not None:
            return "expression", env.compile_expression(expression, undefined_to_none=False)
        return "template", env.from_string(text)
    except TemplateSyntaxError as exc:
        raise _syntax_error(text, exc) from None
    except RecursionError:
        raise _too_deep(text) from None


def _syntax_error(text: str, exc: Any) -> TemplateError:
    reason = (exc.message or "syntax error").rstrip(".")
    return TemplateError(f"{_quoted(text)} is not a valid template: {reason} (line {exc.lineno}).")


def references(text: str) -> tuple[set[str], set[str]]:
    """The top-level names a template reads, and the input keys it reads as ``inputs.x`` / ``inputs['x']``.

    Raises:
        TemplateError: the template does not parse.
    """
    names, keys = _references(text)
    return set(names), set(keys)


@per_text
def _references(text: str) -> tuple[frozenset[str], frozenset[str]]:
    # Checked by validation, run inputs and sub-workflows on every run; Jinja parses in Python.
    path = plain_reference(text)
    if path is not None:
        return frozenset({path[0]}), frozenset({path[1]} if path[0] == INPUTS and len(path) > 1 else ())
    from jinja2 import TemplateSyntaxError, nodes

    env = environment()
    try:
        ast = env.parse(text)  # parsing evaluates nothing
        names = _undeclared(env, ast) - set(env.globals)
        # `inputs.x | default(...)` and `inputs.x is defined` read an input that may be left out.
        optional = {id(item.node) for item in ast.find_all(nodes.Filter) if item.name in ("default", "d")}
        optional |= {id(item.node) for item in ast.find_all(nodes.Test) if item.name in ("defined", "undefined")}
        keys: set[str] = set()
        for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
            target = node.node
            if isinstance(target, nodes.Name) and target.name == INPUTS and id(node) not in optional:
                if isinstance(node, nodes.Getattr):
                    keys.add(node.attr)
                elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                    keys.add(node.arg.value)
    except TemplateSyntaxError as exc:
        raise _syntax_error(text, exc) from None
    except RecursionError:
        raise _too_deep(text) from None
    return frozenset(names), frozenset(keys)


def _undeclared(env: Any, ast: Any) -> set[str]:
    """The names a parsed template reads from its context (what ``jinja2.meta`` finds), evaluating nothing.

    ``jinja2.meta.find_undeclared_variables`` runs the code generator with
    its optimiser on, which computes constant expressions (``9**(9**9)``);
    this is the same walk with the optimiser off (and our environment's
    `finalize` keeps output from being computed either).
    """
    from jinja2.compiler import CodeGenerator

    class Tracker(CodeGenerator):
        def __init__(self) -> None:
            super().__init__(env, "<introspection>", "<introspection>", optimized=False)
            self.undeclared: set[str] = set()

        def write(self, x: str) -> None:
            """Write nothing: only the names are wanted."""

        def enter_frame(self, frame: Any) -> None:
            super().enter_frame(frame)
            for action, param in frame.symbols.loads.values():
                if action == "resolve":
                    self.undeclared.add(param)

    tracker = Tracker()
    tracker.visit(ast)
    return tracker.undeclared


# -- rendering ----------------------------------------------------------------------
def _lookup(path: tuple[str, ...], context: Mapping[str, Any]) -> Any:
    value = context.get(path[0], _MISSING)
    for key in path[1:]:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(key, _MISSING)
    return value


def render_string(text: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one template string against `context` (under the thread's `RenderBudget`, if any).

    Raises:
        TemplateError: it does not parse, a name or key does not resolve, or
            it runs past its budget (`RenderBudgetExceeded`).
    """
    path = plain_reference(text)
    if path is not None:
        value = _lookup(path, context)
        if value is not _MISSING:
            return value
    from jinja2 import Undefined
    from jinja2.exceptions import SecurityError, UndefinedError

    from .template_budget import count_output, measure

    kind, compiled = _compiled(text)
    try:
        value = compiled(**context) if kind == "expression" else count_output(compiled.generate(**context))
        if isinstance(value, Undefined):
            str(value)  # a StrictUndefined raises here, saying what is missing (or refused)
        measure(value)
    except Spent as spent:
        raise RenderBudgetExceeded(f"{_quoted(text)} {spent.error}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{_quoted(text)} does not resolve: {exc.message}.") from None
    except SecurityError as exc:
        raise TemplateError(f"{_quoted(text)} was refused by the template sandbox: {exc}") from None
    except RecursionError:
        raise _too_deep(text) from None
    except Exception as exc:  # a template is user input: any failure inside it is the template's
        raise TemplateError(f"{_quoted(text)} failed: {type(exc).__name__}: {exc}.") from None
    return value


def render(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """Render every template inside a params value (dicts and lists recursively); other values pass through.

    Raises:
        TemplateError: naming the param and the expression that failed.
    """
    if isinstance(value, str):
        if not is_template(value):
            return value
        try:
            rendered = render_string(value, context)
        except TemplateError as exc:
            raise type(exc)(f"param {path!r}: {exc}") from None
        try:
            check_json(rendered, path)
        except NotJSONError as exc:
            raise TemplateError(f"param {path!r}: {_quoted(value)} does not give a JSON value: {exc}") from None
        return rendered
    if isinstance(value, dict):  # a key's path is spelled only where there is something to render
        return {
            key: render(item, context, f"{path}.{key}" if path else str(key)) if _renders(item) else item
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            render(item, context, f"{path}[{index}]") if _renders(item) else item for index, item in enumerate(value)
        ]
    return value


def _renders(value: Any) -> bool:
    return isinstance(value, (dict, list)) or is_template(value)


def render_within(value: Any, context: Mapping[str, Any], budget: RenderBudget = DEFAULT_BUDGET) -> Any:
    """`render` under `budget`, on this thread (the engine calls it on a thread of its own for rich templates)."""
    try:
        with metered(budget):
            return render(value, context)
    except Spent as spent:  # past the budget outside one template's evaluation (compiling it, say)
        raise spent.error from None


def whole_input(text: str) -> str | None:
    """``x`` when `text` is exactly ``{{ inputs.x }}`` (the value is the input itself, type kept), else None."""
    path = plain_reference(text)
    return path[1] if path is not None and len(path) == 2 and path[0] == INPUTS else None
