"""One spec language for fields: `Param` lists, their JSON Schema, and validation.

`to_json_schema` is the single go-between for forms, the CLI, papermill
parameters and docs. `validate_values` checks values against the same Param
list; it is written here rather than delegated to the ``jsonschema`` package
because importing that package costs over a second on this machine (its
``rfc3987_syntax`` format checker), which every ``flowkit run`` would pay. The
two are kept in agreement by a test that runs both on the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import ValidationError
from .jsonvalue import check_json
from .model import Param

TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
F = TypeVar("F", bound=Callable[..., Any])

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "password": {"type": "string", "writeOnly": True, "format": "password"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "json": {},
}


def to_json_schema(params: list[Param], *, title: str | None = None, strict: bool = True) -> dict[str, Any]:
    """Turn a Param list into a JSON Schema object (draft 2020-12).

    Args:
        params: the fields.
        title: the schema's title.
        strict: refuse properties that are not declared.
    """
    properties: dict[str, Any] = {}
    for param in params:
        prop = dict(_JSON_TYPES.get(param.kind, {}))
        if param.kind == "choice":
            prop["enum"] = list(param.choices or [])
        if param.default is not None:
            prop["default"] = param.default
        if param.help:
            prop["description"] = param.help
        prop["title"] = param.name
        properties[param.name] = prop
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": [param.name for param in params if param.required],
        "additionalProperties": not strict,
    }
    if title:
        schema["title"] = title
    return schema


def is_template(value: Any) -> bool:
    """Whether a value is a string holding a Jinja expression or statement."""
    return isinstance(value, str) and bool(TEMPLATE.search(value))


def kind_problem(param: Param, value: Any) -> str | None:
    """Why `value` does not fit `param`'s kind, or None if it does."""
    kind = param.kind
    if kind in ("text", "password") and not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"must be a number, got {type(value).__name__}"
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be a whole number, got {type(value).__name__}"
    if kind == "boolean" and not isinstance(value, bool):
        return f"must be true or false, got {type(value).__name__}"
    if kind == "choice" and value not in (param.choices or []):
        return f"must be one of {param.choices}, got {value!r}"
    return None


def problems(
    params: list[Param],
    values: Mapping[str, Any],
    *,
    allow_unknown: bool = False,
    allow_templates: bool = False,
    partial: bool = False,
) -> list[str]:
    """Every way `values` fails `params`, as sentences naming the field.

    Args:
        allow_unknown: accept fields that are not declared.
        allow_templates: accept a ``{{ ... }}`` string for any kind (checked after rendering).
        partial: do not require the required fields (an edit that keeps stored ones).
    """
    found: list[str] = []
    declared = {param.name: param for param in params}
    for name, value in values.items():
        param = declared.get(name)
        if param is None:
            if not allow_unknown:
                known = ", ".join(declared) or "none"
                found.append(f"{name!r} is not a known field (known: {known})")
            continue
        if value is None or (allow_templates and is_template(value)):
            continue
        reason = kind_problem(param, value)
        if reason:
            found.append(f"{name!r} {reason}")
    if not partial:
        for param in params:
            value = values.get(param.name)
            if param.required and (value is None or value == "") and param.default is None:
                found.append(f"{param.name!r} is required")
    return found


def validate_values(
    params: list[Param],
    values: Mapping[str, Any],
    *,
    what: str,
    error: type[ValidationError] = ValidationError,
    allow_unknown: bool = False,
    allow_templates: bool = False,
    partial: bool = False,
) -> dict[str, Any]:
    """Check `values` against `params`; returns them with defaults filled in.

    Raises `error` listing every problem at once, naming `what`.
    """
    if not isinstance(values, Mapping):
        raise error(f"{what}: expected a JSON object, got {type(values).__name__}.")
    check_json(dict(values), what)
    found = problems(
        params, values, allow_unknown=allow_unknown, allow_templates=allow_templates, partial=partial
    )
    if found:
        raise error(f"{what}: " + "; ".join(found) + ".")
    filled = {param.name: param.default for param in params if param.default is not None}
    filled.update({name: value for name, value in values.items() if value is not None})
    return filled


def task(*, params: list[Param] | None = None, name: str | None = None) -> Callable[[F], F]:
    """Declare a task's params next to the function.

    Example::

        @task(params=[Param("channel", required=True), Param("text", required=True)])
        def send_message(credentials, params): ...
    """

    def mark(fn: F) -> F:
        fn.__flowkit_params__ = list(params or [])  # type: ignore[attr-defined]
        if name is not None:
            fn.__flowkit_name__ = name  # type: ignore[attr-defined]
        return fn

    return mark
