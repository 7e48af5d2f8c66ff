"""One spec language for fields: `Param` lists, their JSON Schema, and validation.

`to_json_schema` is the single go-between for forms, the CLI, papermill
parameters and docs. `validate_values` checks values against the same Param
list; it is written here rather than delegated to the ``jsonschema`` package
because importing that package costs over a second on this machine (its
``rfc3987_syntax`` format checker), which every ``flowkit run`` would pay. The
two are kept in agreement by a test that runs both on the same values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import ValidationError
from .jsonvalue import check_json, loads
from .model import Param

TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "password": {"type": "string", "writeOnly": True, "format": "password"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "json": {},
}


def must_give(param: Param) -> bool:
    """Whether a value must be given: required and without a default to fall back on."""
    return param.required and param.default is None


def field_schema(param: Param) -> dict[str, Any]:
    """One field's JSON Schema, matching `validate_values` exactly.

    `validate_values` reads ``null`` as "not given" and ``""`` as missing for a
    field that must be given, so: a field that may be left out also accepts
    ``null``; one that must be given refuses ``null`` and ``""``.
    """
    prop = dict(_JSON_TYPES.get(param.kind, {}))
    if param.secret:
        prop["writeOnly"] = True
    needed = must_give(param)
    if param.kind == "choice":
        choices = list(param.choices or [])
        if needed:
            prop["enum"] = [c for c in choices if c is not None and not (isinstance(c, str) and c == "")]
        else:
            prop["enum"] = choices if None in choices else [*choices, None]
    elif param.kind == "json":
        if needed:
            prop["not"] = {"enum": [None, ""]}
    elif not needed:
        prop["type"] = [prop["type"], "null"]
    elif prop["type"] == "string":
        prop["minLength"] = 1
    if param.default is not None:
        prop["default"] = param.default
    if param.help:
        prop["description"] = param.help
    prop["title"] = param.name
    return prop


def to_json_schema(params: list[Param], *, title: str | None = None, strict: bool = True) -> dict[str, Any]:
    """Turn a Param list into a JSON Schema object (draft 2020-12).

    A value set passes this schema exactly when `validate_values` accepts it
    (with ``allow_unknown=not strict``); a test holds the two together.

    Args:
        params: the fields.
        title: the schema's title.
        strict: refuse properties that are not declared.
    """
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {param.name: field_schema(param) for param in params},
        "required": [param.name for param in params if must_give(param)],
        "additionalProperties": not strict,
    }
    if title:
        schema["title"] = title
    return schema


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``1 == 1.0`` but ``true != 1`` (Python says ``True == 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[key], b[key]) for key in a)
    return type(a) is type(b) and a == b


def _is_whole(value: Any) -> bool:
    # JSON has one number type: 3.0 is a whole number, as JSON Schema's "integer" says.
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


def is_template(value: Any) -> bool:
    """Whether a value is a string holding a Jinja expression or statement."""
    return isinstance(value, str) and bool(TEMPLATE.search(value))


TRUE_WORDS, FALSE_WORDS = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def parse_text(param: Param, text: str, *, what: str | None = None, templates: bool = False) -> Any:
    """The value of `param` that `text` stands for; None when blank (not given).

    The one road from typed text to a value, taken by every face (the CLI's
    ``-i``/``-p``, the builder's Run form and node form, jobs, API inputs
    given as text), so ``42`` is an integer where the param is an integer and
    text where it is text, ``1e3`` is 1000 for an integer, and ``NaN`` is
    refused wherever a number is wanted (JSON cannot hold it).

    Args:
        param: what the text should be.
        text: what was typed.
        what: how messages name the field (default: the param's name, quoted).
        templates: keep a ``{{ template }}`` as text (it is rendered at run time).

    Raises:
        ValidationError: naming the field, when the text is not a value of its kind.
    """
    label = what or repr(param.name)
    if text.strip() == "":
        return None
    if templates and is_template(text):
        return text
    kind = param.kind
    if kind in ("text", "password"):
        return text
    if kind == "choice":
        if not any(json_equal(text, choice) for choice in param.choices or []):
            choices = ", ".join(repr(choice) for choice in param.choices or [])
            raise ValidationError(f"{label}: {text!r} is not one of {choices}.")
        return text
    if kind == "json":
        try:
            return loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise ValidationError(f"{label}: not valid JSON ({exc.msg} at {where}).") from None
        except ValueError as exc:  # NaN, Infinity
            raise ValidationError(f"{label}: not valid JSON ({exc}).") from None
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in TRUE_WORDS or lowered in FALSE_WORDS:
            return lowered in TRUE_WORDS
        raise ValidationError(f"{label}: {text!r} is not true or false.")
    return _number(kind, text, label)


def _number(kind: str, text: str, label: str) -> int | float:
    """An integer or number typed as text: ``3``, ``2.5``, ``1e3``; never NaN or infinity."""
    wanted = "a whole number" if kind == "integer" else "a number"
    stripped = text.strip()
    value: int | float
    try:
        value = int(stripped)
    except ValueError:
        try:
            value = float(stripped)
        except ValueError:
            raise ValidationError(f"{label}: {text!r} is not {wanted}.") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{label}: {text!r} is not {wanted} (JSON has no NaN or infinity).")
        if kind == "integer":
            if not value.is_integer():
                raise ValidationError(f"{label}: {text!r} is not {wanted}.")
            value = int(value)
    return value


def kind_problem(param: Param, value: Any) -> str | None:
    """Why `value` does not fit `param`'s kind, or None if it does.

    The value itself is never quoted: it may be a credential.
    """
    kind = param.kind
    if kind in ("text", "password") and not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"must be a number, got {type(value).__name__}"
    if kind == "integer" and not _is_whole(value):
        return f"must be a whole number, got {type(value).__name__}"
    if kind == "boolean" and not isinstance(value, bool):
        return f"must be true or false, got {type(value).__name__}"
    if kind == "choice" and not any(json_equal(value, choice) for choice in param.choices or []):
        return "must be one of " + ", ".join(repr(choice) for choice in param.choices or [])
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
    found = problems(params, values, allow_unknown=allow_unknown, allow_templates=allow_templates, partial=partial)
    if found:
        raise error(f"{what}: " + "; ".join(found) + ".")
    filled = {param.name: param.default for param in params if param.default is not None}
    filled.update({name: value for name, value in values.items() if value is not None})
    for param in params:  # 3.0 given for a whole number reaches the task as 3
        value = filled.get(param.name)
        if param.kind == "integer" and isinstance(value, float):
            filled[param.name] = int(value)
    return filled
