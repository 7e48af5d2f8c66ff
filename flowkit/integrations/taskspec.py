"""What the registry knows about a task: `TaskSpec`, and how a module's tasks are found.

A task's params are declared in plain Python, in the same `Param` language as
credential types, in one of two ways (the decorator wins when both are there):

* ``@flowkit.task(params=[Param("channel", required=True), ...])``;
* a ``TypedDict`` annotation on ``params``: required keys (``total=True``,
  ``Required[...]``) are required fields, and ``str``/``int``/``float``/
  ``bool``/``Literal[...]`` map to ``text``/``integer``/``number``/``boolean``/
  ``choice``; anything else becomes a free ``json`` field rather than failing.

Either way the docstring's Google ``Args:`` section supplies help texts
(``channel: where to post``). A task with neither takes free JSON params.
"""

from __future__ import annotations

import builtins
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import FlowkitError, IntegrationLoadError, InvalidName
from ..jsonvalue import check_json
from ..model import Param, check_identifier, params_from
from ..schema import to_json_schema

# A Google docstring section header, and one entry in it: "name: text" or "name (type): text".
_SECTION = re.compile(r"^(Args|Arguments|Params|Parameters):\s*$")
_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_WRAPPERS = {"Required", "NotRequired", "ReadOnly", "Annotated"}
_SCALARS: dict[Any, str] = {bool: "boolean", int: "integer", float: "number", str: "text"}


@dataclass
class TaskSpec:
    """A task as the registry sees it.

    Attributes:
        name: the function's name, as nodes refer to it.
        module: the integration module's name.
        func: the callable ``fn(credentials, params) -> dict``.
        summary: the docstring's first line.
        doc: the whole docstring.
        params: declared params, or None when the task takes free JSON.
    """

    name: str
    module: str
    func: Callable[[dict[str, Any], dict[str, Any]], Any] = field(repr=False)
    summary: str = ""
    doc: str = ""
    params: list[Param] | None = None

    @property
    def declared(self) -> bool:
        """Whether the task declares its params (else any JSON object is accepted)."""
        return self.params is not None

    @property
    def untemplated(self) -> dict[str, str]:
        """Params that should hold no template, with what to do instead (``@flowkit.task(untemplated=...)``)."""
        return dict(getattr(self.func, "__flowkit_untemplated__", None) or {})

    @property
    def schema(self) -> dict[str, Any]:
        """The params' JSON Schema (any object when undeclared)."""
        if self.params is None:
            return {"type": "object", "title": f"{self.module}.{self.name}", "additionalProperties": True}
        return to_json_schema(self.params, title=f"{self.module}.{self.name}")


def first_line(doc: str) -> str:
    """The first line of a docstring, stripped."""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def docstring_args(doc: str) -> dict[str, str]:
    """Help texts from a Google docstring's ``Args:`` section: ``{name: text}``."""
    helps: dict[str, str] = {}
    lines = doc.expandtabs().splitlines()
    index = 0
    while index < len(lines):
        header = lines[index]
        index += 1
        if not _SECTION.match(header.strip()):
            continue
        outer = len(header) - len(header.lstrip())
        entry_indent: int | None = None
        current: str | None = None
        while index < len(lines):
            line = lines[index]
            indent = len(line) - len(line.lstrip())
            if line.strip() and indent <= outer:
                break  # the next section starts
            index += 1
            if not line.strip():
                continue
            entry_indent = indent if entry_indent is None else entry_indent
            match = _ENTRY.match(line.strip()) if indent == entry_indent else None
            if match:
                current = match.group(1)
                helps[current] = match.group(2).strip()
            elif current is not None:  # a continuation line
                helps[current] = f"{helps[current]} {line.strip()}".strip()
    return helps


def _unwrap(hint: Any) -> Any:
    """Strip ``Required``/``NotRequired``/``Annotated`` and ``X | None`` down to the value type."""
    while True:
        origin = typing.get_origin(hint)
        if getattr(origin, "_name", None) in _WRAPPERS or origin is typing.Annotated:
            hint = typing.get_args(hint)[0]
            continue
        if origin is typing.Union or origin is types.UnionType:
            rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            if len(rest) == 1:
                hint = rest[0]
                continue
        return hint


def kind_of(hint: Any) -> tuple[str, list[Any] | None]:
    """The `Param` kind (and choices) for a type annotation; ``json`` when nothing fits better."""
    hint = _unwrap(hint)
    if hint in _SCALARS:
        return _SCALARS[hint], None
    if typing.get_origin(hint) is typing.Literal:
        choices = list(typing.get_args(hint))
        try:
            check_json(choices)
        except FlowkitError:
            return "json", None  # e.g. Literal[SomeEnum.A]: not representable as a choice
        return "choice", choices
    return "json", None


def _is_typeddict(hint: Any) -> bool:
    # typing.is_typeddict misses typing_extensions' TypedDict on some versions; both carry these.
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__")


def _hints(obj: Any) -> dict[str, Any]:
    """Resolved annotations; one that cannot be resolved becomes ``Any`` (a json field), not an error."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:  # an unresolvable forward reference must not make the task unusable
        pass
    namespace = getattr(obj, "__globals__", None)  # a function's; a TypedDict's is its module's
    if namespace is None:
        module = sys.modules.get(getattr(obj, "__module__", ""))
        namespace = vars(module) if module is not None else {}
    return {key: _resolve(value, namespace) for key, value in getattr(obj, "__annotations__", {}).items()}


class _Lenient(dict):  # type: ignore[type-arg]
    """Names for evaluating an annotation: the module's, then builtins, then ``Any`` for unknown ones."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        super().__init__()
        self.namespace = namespace

    def __missing__(self, key: str) -> Any:
        if key in self.namespace:
            return self.namespace[key]
        return getattr(builtins, key, Any)


def _resolve(annotation: Any, namespace: dict[str, Any]) -> Any:
    """Evaluate one annotation; unknown names become ``Any``, so ``NotRequired[Missing]`` still reads."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, {}, _Lenient(namespace))  # what typing.get_type_hints does, leniently
    except Exception:
        return Any


def typeddict_params(func: Callable[..., Any]) -> list[Param] | None:
    """Params from a ``TypedDict`` annotation on the task's ``params`` argument, or None."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    positional = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    argument = signature.parameters.get("params") or (positional[1] if len(positional) > 1 else None)
    if argument is None or argument.annotation is inspect.Parameter.empty:
        return None
    hint = _hints(func).get(argument.name)
    if not _is_typeddict(hint):
        return None
    by_totality = set(hint.__required_keys__)  # type: ignore[union-attr]
    return [
        Param(key, kind=kind, required=_required(annotation, key in by_totality), choices=choices)
        for key, annotation in _hints(hint).items()
        for kind, choices in [kind_of(annotation)]
    ]


def _required(annotation: Any, by_totality: bool) -> bool:
    # Under `from __future__ import annotations` the TypedDict class sees "NotRequired[int]" as a
    # string and files the key by totality alone; the resolved annotation says what was meant.
    name = getattr(typing.get_origin(annotation), "_name", None)
    if name == "Required":
        return True
    if name == "NotRequired":
        return False
    return by_totality


def declared_params(func: Callable[..., Any]) -> list[Param] | None:
    """A task's declared params with help from its docstring, or None when undeclared.

    Raises:
        ValidationError: the declaration itself is invalid (bad name, duplicate, bad kind).
    """
    declared = getattr(func, "__flowkit_params__", None)
    params = params_from(declared) if declared is not None else typeddict_params(func)
    if params is None:
        return None
    helps = docstring_args(inspect.getdoc(func) or "")
    return [replace(p, help=helps[p.name]) if not p.help and p.name in helps else p for p in params]


def _exports(module: types.ModuleType) -> tuple[list[str], types.ModuleType, bool]:
    """The names offered as tasks, the module holding them, and whether they came from ``__all__``."""
    tasks_module = sys.modules.get(f"{module.__name__}.tasks")
    for holder in (module, tasks_module):
        if holder is None or not hasattr(holder, "__all__"):
            continue
        exported = holder.__all__
        if not isinstance(exported, (list, tuple)) or not all(isinstance(n, str) for n in exported):
            raise IntegrationLoadError(f"{holder.__name__}.__all__ must be a list of names, got {exported!r}.")
        return list(exported), holder, True
    holder = tasks_module or module
    names = [
        name
        for name, value in vars(holder).items()
        if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == holder.__name__
    ]
    return names, holder, False


def collect_tasks(name: str, module: types.ModuleType) -> dict[str, TaskSpec]:
    """A module's tasks by name (see `find_tasks`)."""
    return find_tasks(name, module)[0]


def find_tasks(name: str, module: types.ModuleType) -> tuple[dict[str, TaskSpec], list[str]]:
    """A module's tasks, and notes on names that were offered but are not tasks.

    Tasks are the names in ``__all__`` (the package's, else ``tasks.py``'s);
    without one, the public functions defined in ``tasks.py`` itself (or in
    the module, when it has no ``tasks.py``): not imported helpers, not
    ``_private`` names, not classes.
    """
    names, holder, listed = _exports(module)
    specs: dict[str, TaskSpec] = {}
    notes: list[str] = []
    for task_name in names:
        problem = _refusal(task_name, holder, listed)
        if problem:
            notes.append(f"{task_name!r} is not a task: {problem}.")
            continue
        func = getattr(holder, task_name)
        try:
            params = declared_params(func)
        except FlowkitError as exc:
            notes.append(f"{task_name!r} is not a task: its params declaration is invalid: {exc}")
            continue
        doc = inspect.getdoc(func) or ""
        specs[task_name] = TaskSpec(task_name, name, func, first_line(doc), doc, params)
    return specs, notes


def _refusal(task_name: str, holder: types.ModuleType, listed: bool) -> str | None:
    """Why `task_name` cannot be a task, or None if it can."""
    try:
        check_identifier(task_name, "Task name")
    except InvalidName as exc:
        return str(exc).rstrip(".")
    if task_name.startswith("_"):
        return "names starting with '_' are private"
    if not hasattr(holder, task_name):
        return "listed in __all__ but not defined" if listed else "not defined"
    value = getattr(holder, task_name)
    if inspect.isclass(value):
        return "it is a class; a task is a function fn(credentials, params)"
    if not callable(value):
        return f"it is a {type(value).__name__}, not a function"
    try:
        inspect.signature(value).bind(None, None)
    except TypeError:
        return "it cannot be called as fn(credentials, params)"
    except ValueError:
        return "its signature cannot be read"
    return None
