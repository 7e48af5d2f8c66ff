"""What crosses into a job: input names and values checked, stored credentials refused, CLI text parsed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import crypto, jsonvalue
from ..errors import ValidationError
from .in_kernel import parse_inputs

if TYPE_CHECKING:
    from ..workspace import Workspace


# -- what may cross into a job --------------------------------------------------
def _leaves(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    """Every key and scalar inside a JSON value, with where it is."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"a key of {path}", key
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _credential_checks(ws: Workspace) -> list[tuple[str, str, Any, crypto.Redactor | None]]:
    """(integration, field, value, redactor for password fields) for every stored credential."""
    checks = []
    for integration in ws.integrations.list():
        try:
            secret_fields = set(ws.types.get(integration.type).secret_fields)
        except KeyError:
            secret_fields = set(integration.credentials)  # no type left: treat every field as secret
        for name, value in integration.credentials.reveal().items():
            redactor = crypto.Redactor([value]) if name in secret_fields else None
            checks.append((integration.name, name, value, redactor))
    return checks


def check_inputs(ws: Workspace, inputs: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Inputs fit to cross into a job: identifier names, strict JSON, no stored credential.

    Raises:
        InvalidName: a name is not an identifier (nothing ran).
        ValidationError: a value is not JSON, or carries a stored credential
            (the message names the integration and field, never the value).
    """
    values = parse_inputs(inputs)
    checks = _credential_checks(ws) if values else []
    for path, leaf in _leaves(values, "inputs"):
        if not isinstance(leaf, str):
            continue
        for integration, name, secret, redactor in checks:
            if leaf == secret or (redactor is not None and redactor.text(leaf) != leaf):
                raise ValidationError(
                    f"{path} holds the value of the stored credential {name!r} of integration "
                    f"{integration!r}. Jobs never take secrets as parameters: the workflow's nodes "
                    "name their integration and the job decrypts what they use."
                )
    return values


def read_batch_file(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSON Lines file of inputs: ``(line number, inputs)`` per non-blank line.

    Every bad line is reported at once, and nothing runs if any is bad.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"Cannot read the batch file {path}: {exc.strerror or exc}.") from None
    entries: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entries.append((number, parse_inputs(raw)))
        except ValidationError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise ValidationError(f"The batch file {path} has {len(problems)} bad line(s): " + "; ".join(problems))
    if not entries:
        raise ValidationError(f"The batch file {path} holds no inputs (one JSON object per line).")
    return entries


def parse_cli_value(text: str) -> Any:
    """A value typed on the command line: JSON where it parses (``3``, ``[1, 2]``, ``true``), else the text."""
    with contextlib.suppress(ValueError):
        return jsonvalue.loads(text)
    return text
