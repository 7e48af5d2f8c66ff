"""What crosses into a job: input names and values checked, stored secrets refused, CLI text parsed."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import jsonvalue
from ..errors import ValidationError
from ..redaction import RUN_INPUT_ADVICE, refuse_secrets
from .in_kernel import parse_inputs

if TYPE_CHECKING:
    from ..workspace import Workspace


def check_inputs(
    ws: Workspace, inputs: str | Mapping[str, Any] | None, *, stored_secrets: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """Inputs fit to cross into a job: identifier names, strict JSON, no stored secret.

    `stored_secrets` (default ``ws.integrations.stored_secrets``) lets a batch decrypt them once for all its lines.

    Raises:
        InvalidName: a name is not an identifier (nothing ran).
        ValidationError: a value is not JSON, or holds a stored secret
            (the message names the integration and field, never the value).
    """
    values = parse_inputs(inputs)
    if values:
        secrets = (stored_secrets or ws.integrations.stored_secrets)()
        refuse_secrets(values, secrets, where="inputs", advice=RUN_INPUT_ADVICE)
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


def parse_cli_value(text: str, *, what: str = "value") -> Any:
    """A value typed for an input of no known kind: JSON where it parses (``3``, ``[1, 2]``, ``true``), else text.

    The untyped case of `flowkit.run.inputs.parse_input` (both are
    `jsonvalue.loads_or_text`); ``flowkit job -p`` types its values by the
    workflow's inputs first.

    Raises:
        NotJSONError: it is JSON that flowkit cannot hold (nested too deep), named as `what`.
    """
    return jsonvalue.loads_or_text(text, what)
