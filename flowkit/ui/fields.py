"""Param → widget, in stages: one lookup table from kind to widget class, one `Field` per Param.

`WIDGETS` is the only place that decides which widget a kind gets. Numbers
are typed into Text boxes and read by `flowkit.schema.parse_text`, the one
parser every face uses: IntText/FloatText cannot be empty, cannot hold a
``{{ template }}`` and refuse ``1e3``. A text param that may hold a template
(a task param) is a Textarea that grows with its content, so a long template
is never clipped in a one-line box.

Secrets: a password `Field` is never given a value by flowkit (editing shows
it blank: blank keeps the stored one), and `ParamsForm.read` empties every
password widget right after reading it, so the value leaves the widget state
that a notebook saves.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as w

from .. import schema
from ..errors import FlowkitError, ValidationError
from ..model import Param
from ..run.templating import single_expression
from ..schema import is_template
from .common import hook

WIDGETS: dict[str, type[w.ValueWidget]] = {
    "text": w.Text,
    "password": w.Password,
    "number": w.Text,
    "integer": w.Text,
    "boolean": w.Checkbox,
    "choice": w.Dropdown,
    "json": w.Textarea,
}
BLANK = "—"
KEEP_SECRET = "stored: leave blank to keep"


def parse_json_object(
    text: str, *, what: str, refusal: str, error: type[FlowkitError] = ValidationError
) -> dict[str, Any]:
    """JSON text typed where an object belongs: {} when blank, `error(refusal)` for any other JSON value.

    `refusal` may name the value's type as ``{type}``.
    """
    value = parse_text("json", text, what=what)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise error(refusal.format(type=type(value).__name__))
    return value


def parse_text(kind: str, text: str, *, what: str, templates: bool = False) -> Any:
    """A value typed as text, read as `kind`; None when blank: `flowkit.schema.parse_text` for a bare kind.

    Raises:
        ValidationError: naming `what` when the text is not a value of that kind.
    """
    if templates and kind == "json" and is_template(text):
        stripped = text.strip()
        if stripped.startswith(("{", "[")) and single_expression(text) is None:
            try:  # a structure whose string leaves are templates
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"{what}: not valid JSON ({exc.msg}); put each template inside a JSON string, "
                    'e.g. {"delay": "{{ node.value }}"}, or make the whole field one {{ expression }}.'
                ) from exc
    # A choice typed as text is a free text here (Dropdowns never come this way).
    kind = "text" if kind == "choice" else kind
    return schema.parse_text(Param("value", kind=kind), text, what=what, templates=templates)


def format_value(kind: str, value: Any) -> str:
    """The text shown for a stored value (inverse of `parse_text`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if kind == "json":
        return json.dumps(value, indent=2)
    return json.dumps(value)


class Field:
    """One Param as a widget, with its help text; reads back a typed value.

    Args:
        param: the field spec.
        value: a value to show (never shown for passwords).
        templates: accept ``{{ ... }}`` strings for text, number and JSON kinds.
    """

    def __init__(self, param: Param, *, value: Any = None, templates: bool = False) -> None:
        self.param = param
        self.templates = templates
        kind = param.kind
        label = f"{param.name} *" if param.required else param.name
        common: dict[str, Any] = {"description": label, "tooltip": param.help or None}
        common["style"] = {"description_width": "initial"}
        if kind in ("number", "integer"):
            self.widget: w.ValueWidget = w.Text(placeholder=kind, **common)
        elif kind == "text" and templates:
            self.widget = w.Textarea(rows=1, layout=w.Layout(width="95%"), **common)
            self.widget.observe(lambda change: self._grow(), names="value")
        elif kind == "choice":
            options = [(str(choice), choice) for choice in param.choices or []]
            if param.default is None:
                options.insert(0, (BLANK, None))
            self.widget = w.Dropdown(options=options, **common)
        else:
            self.widget = WIDGETS[kind](**common)
        if kind == "json":
            self.widget.layout = w.Layout(width="95%", height="5em")
        if param.secret:
            self.widget.placeholder = "(hidden)"
        hook(self.widget, "flowkit-field", f"flowkit-field-{param.name}", f"flowkit-kind-{kind}")
        if param.required:
            self.widget.add_class("flowkit-required")
        help_html = f"<small>{html.escape(param.help)}</small>" if param.help else ""
        self.help = hook(w.HTML(help_html), "flowkit-field-help")
        self.box = w.VBox([self.widget, self.help] if param.help else [self.widget])
        self.set(param.default if value is None else value)

    @property
    def name(self) -> str:
        return self.param.name

    def _grow(self) -> None:
        """Give a text area as many rows as its text needs (wrapped at ~80 characters), up to 12."""
        text = str(self.widget.value)
        lines = sum(1 + len(line) // 80 for line in text.split("\n"))
        self.widget.rows = max(1, min(12, lines))

    def set(self, value: Any) -> None:
        """Show `value` (passwords are never shown: their widget stays blank)."""
        if self.param.secret:
            return
        kind = self.param.kind
        if isinstance(self.widget, (w.Text, w.Textarea)) and not isinstance(self.widget, w.Password):
            self.widget.value = format_value(kind, value)
        elif kind == "choice":
            offered = [option[1] for option in self.widget.options]
            if value in offered:
                self.widget.value = value
        elif kind == "boolean":
            self.widget.value = bool(value)
        elif value is not None and not (self.templates and is_template(value)):
            self.widget.value = value

    def mark_stored(self) -> None:
        """Tell the person a secret is stored and a blank field keeps it."""
        if self.param.secret:
            self.widget.placeholder = KEEP_SECRET

    def read(self) -> Any:
        """The typed value, or None when left blank."""
        kind = self.param.kind
        value = self.widget.value
        if kind == "boolean":
            # Unticked without a default means "not given", so optional flags stay out of params.
            return value if value or self.param.default is not None or self.param.required else None
        if kind == "choice":
            return value
        return parse_text(kind, value, what=f"Field {self.name!r}", templates=self.templates)

    def clear_secret(self) -> None:
        if self.param.secret:
            self.widget.value = ""


class ParamsForm:
    """Fields for a list of Params, read as one dict.

    Args:
        params: the field specs, in order.
        values: values to show (passwords are never shown).
        templates: accept ``{{ ... }}`` strings (task params).
    """

    def __init__(self, params: list[Param], *, values: dict[str, Any] | None = None, templates: bool = False) -> None:
        values = values or {}
        self.fields = {param.name: Field(param, value=values.get(param.name), templates=templates) for param in params}
        self.box = hook(w.VBox([field.box for field in self.fields.values()]), "flowkit-params-form")

    def read(self, *, keep_blank: bool = False) -> dict[str, Any]:
        """The values given, every password widget emptied afterwards.

        Args:
            keep_blank: include blank non-secret fields as None (an edit that clears them).

        Raises:
            ValidationError: listing every field whose text is not a value of its kind.
        """
        values: dict[str, Any] = {}
        problems: list[str] = []
        try:
            for name, field in self.fields.items():
                try:
                    value = field.read()
                except ValidationError as exc:
                    problems.append(str(exc))
                    continue
                if value is not None or (keep_blank and not field.param.secret):
                    values[name] = value
        finally:
            self.clear_secrets()
        if problems:
            raise ValidationError(" ".join(problems))
        return values

    def secret_names(self) -> list[str]:
        return [name for name, field in self.fields.items() if field.param.secret]

    def mark_stored(self) -> None:
        for field in self.fields.values():
            field.mark_stored()

    def clear_secrets(self) -> None:
        for field in self.fields.values():
            field.clear_secret()
