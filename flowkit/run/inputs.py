"""The inputs a workflow takes, and values typed by them.

A workflow may declare its inputs (``Workflow.inputs``, the same `Param`
language as task params). An input its templates read without a declaration
is inferred: when a param is exactly ``{{ inputs.x }}`` and the task declares
that param, ``x`` takes the param's kind (an integer param makes ``x`` an
integer); otherwise ``x`` is *untyped* (kind ``json``, marked by `UNTYPED`):
text from a face is read as JSON where it parses, else kept as text.

Every face hands typed text to `parse_input`, and every run passes its inputs
through `check_inputs`, so the CLI, the builder, jobs and the API agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import FlowkitError, TemplateError, ValidationError
from ..jsonvalue import loads_or_text
from ..model import Param, Workflow
from ..schema import kind_problem, parse_text
from .templating import references, template_strings, whole_input
from .validation import Lookups

UNTYPED = "inferred from templates: JSON where it parses, else text"


def is_untyped(param: Param) -> bool:
    return param.kind == "json" and param.help == UNTYPED


def _task_params(lookups: Lookups, types: Mapping[str, str], integration: str, task: str) -> dict[str, Param]:
    module = types.get(integration)
    if module is None:
        return {}
    try:
        declared = lookups.registry.task(module, task).params
    except FlowkitError:
        return {}  # ws.validate reports it with its node
    return {param.name: param for param in declared or []}


def _inferred(name: str, declared: Param | None) -> Param:
    if declared is None or declared.kind == "json":
        return Param(name, kind="json", help=UNTYPED)
    kind = "text" if declared.kind == "password" else declared.kind
    return Param(name, kind=kind, choices=declared.choices, help=f"inferred from the param {declared.name!r}")


def input_params(lookups: Lookups, workflow: Workflow) -> list[Param]:
    """The declared inputs, then the inferred ones (sorted); an input inferred two ways is untyped."""
    declared = {param.name for param in workflow.inputs}
    types = {item.name: item.type for item in lookups.integrations()}
    found: dict[str, Param] = {}
    for node in workflow.nodes.values():
        task_params = _task_params(lookups, types, node.integration, node.task)
        options = template_strings([node.when, node.foreach, node.inputs], "options")  # the language's templates
        for path, text in [*template_strings(node.params, ""), *options]:
            try:
                keys = references(text)[1]
            except TemplateError:
                continue  # ws.validate reports it with its node
            whole = whole_input(text)
            for key in keys - declared:
                param = _inferred(key, task_params.get(path) if whole == key else None)
                seen = found.get(key)
                if seen is not None and (seen.kind, seen.choices) != (param.kind, param.choices):
                    param = _inferred(key, None)
                found[key] = param
    return [*workflow.inputs, *(found[name] for name in sorted(found))]


def parse_input(param: Param, text: str) -> Any:
    """A value typed for input `param`: `flowkit.schema.parse_text`, or JSON-else-text when it is untyped."""
    if is_untyped(param):
        return loads_or_text(text, f"Input {param.name!r}")  # JSON nested too deep is refused, not text
    return parse_text(param, text, what=f"Input {param.name!r}")


def check_inputs(params: list[Param], given: Mapping[str, Any], *, declared: set[str]) -> dict[str, Any]:
    """`given` typed by `params`: text for a typed input parsed, declared defaults filled, declared kinds checked.

    Text that is not a value of an *inferred* input's kind is left as it is,
    so only the nodes reading it fail; a declared input refuses the run.

    Raises:
        ValidationError: every problem at once (a required declared input
            missing, text that is not a value of its input's kind).
    """
    values = dict(given)
    problems: list[str] = []
    for param in params:
        value = values.get(param.name)
        if value is None:
            if param.name in declared and param.default is not None:
                values[param.name] = param.default
            elif param.name in declared and param.required:
                problems.append(f"input {param.name!r} is required")
            continue
        if isinstance(value, str) and not is_untyped(param) and param.kind not in ("text", "password", "json"):
            try:
                values[param.name] = value = parse_text(param, value, what=f"input {param.name!r}")
            except ValidationError as exc:
                if param.name in declared:
                    problems.append(str(exc).rstrip("."))
                # An inferred input stays as given: the nodes reading it fail with their param's
                # message, and independent branches still run.
                continue
        problem = kind_problem(param, value) if param.name in declared else None
        if problem:
            problems.append(f"input {param.name!r} {problem}")
    if problems:
        raise ValidationError(f"The inputs do not fit the workflow: {'; '.join(problems)}.")
    return values
