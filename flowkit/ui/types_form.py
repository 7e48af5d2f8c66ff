"""The Integration Types screen: list, create, edit and delete types, with a parameters table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as w

from ..errors import CredentialsError, ValidationError
from ..model import PARAM_KINDS, IntegrationType, Param
from .common import ListForm, button, guarded, hook, set_options
from .fields import format_value, parse_text

if TYPE_CHECKING:
    from ..workspace import Workspace


#: The parameter table's columns and their widths, shared by the header and every row so they line up.
COLUMNS = (
    ("name", "11em"),
    ("kind", "8em"),
    ("required", "7em"),
    ("default", "9em"),
    ("choices", "9em"),
    ("help", "16em"),
)
WIDTHS = dict(COLUMNS)


def header_html() -> str:
    """The parameter table's column headers, as wide as the row widgets below them."""
    cells = "".join(
        f'<span style="display:inline-block; width:{width}; margin:0 2px; font-weight:bold">{name}</span>'
        for name, width in COLUMNS
    )
    return f'<div class="flowkit-param-columns" style="white-space:nowrap">{cells}</div>'


class ParamRow:
    """One row of the parameters table: name, kind, required, default, choices, help, remove."""

    def __init__(self, param: Param | None = None) -> None:
        self.name = hook(w.Text(placeholder="name", layout=w.Layout(width=WIDTHS["name"])), "flowkit-param-name")
        self.kind = hook(
            w.Dropdown(options=PARAM_KINDS, value="text", layout=w.Layout(width=WIDTHS["kind"])), "flowkit-param-kind"
        )
        self.required = hook(
            w.Checkbox(description="required", indent=False, layout=w.Layout(width=WIDTHS["required"])),
            "flowkit-param-required",
        )
        self.default = hook(
            w.Text(placeholder="default", layout=w.Layout(width=WIDTHS["default"])), "flowkit-param-default"
        )
        self.choices = hook(
            w.Text(placeholder="choices: a, b", layout=w.Layout(width=WIDTHS["choices"])), "flowkit-param-choices"
        )
        self.help = hook(w.Text(placeholder="help", layout=w.Layout(width=WIDTHS["help"])), "flowkit-param-help")
        self.remove = button("✕", "flowkit-param-remove", tooltip="Remove this parameter")
        self.remove.layout = w.Layout(width="3em")
        self.box = hook(
            w.HBox([self.name, self.kind, self.required, self.default, self.choices, self.help, self.remove]),
            "flowkit-param-row",
        )
        if param is not None:
            self.name.value = param.name
            self.kind.value = param.kind
            self.required.value = param.required
            self.default.value = format_value(param.kind, param.default)
            self.choices.value = ", ".join(str(choice) for choice in param.choices or [])
            self.help.value = param.help

    def to_param(self) -> Param:
        """The row as a Param; raises a flowkit ValidationError naming what is wrong."""
        name = self.name.value.strip()
        what = f"Parameter {name or '(unnamed)'!r} default"
        choices = [part.strip() for part in self.choices.value.split(",") if part.strip()] or None
        return Param(
            name=name,
            kind=self.kind.value,
            required=self.required.value,
            default=parse_text(self.kind.value, self.default.value, what=what),
            help=self.help.value.strip(),
            choices=choices if self.kind.value == "choice" else None,
        )


class TypeForm(ListForm):
    """Create, edit and delete integration types.

    Args:
        ws: the workspace.

    Attributes:
        widget: the form, to display.
    """

    what = "the integration type"
    unselected = "Select a type in the list first."

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.editing = None
        self.rows: list[ParamRow] = []
        controls = self._list_controls("type", "Types")
        self.name = hook(
            w.Combobox(description="Name", placeholder="integration module", ensure_option=False), "flowkit-type-name"
        )
        self.description = hook(
            w.Textarea(description="Description", layout=w.Layout(width="40em")), "flowkit-type-description"
        )
        self.params = hook(w.VBox(), "flowkit-type-params")
        self.params_header = hook(w.HTML(header_html()), "flowkit-param-header")
        self.add_button = button("+ parameter", "flowkit-param-add")
        self.fill_button = button(
            "Fill from module", "flowkit-type-fill", tooltip="Take the parameters from the module's CREDENTIALS"
        )
        self.create_button = button("Create", "flowkit-type-create", style="primary")

        self.add_button.on_click(guarded(self.feedback, lambda: self.add_row()))
        self.fill_button.on_click(guarded(self.feedback, self.fill))
        self.create_button.on_click(guarded(self.feedback, self.submit))

        self.widget = hook(
            w.VBox(
                [
                    controls,
                    w.HTML("<hr>"),
                    self.name,
                    self.description,
                    w.HTML("<b>Credential parameters</b>"),
                    self.params_header,
                    self.params,
                    w.HBox([self.add_button, self.fill_button]),
                    self.create_button,
                    self.feedback.widget,
                ]
            ),
            "flowkit-type-form",
        )
        self.refresh()

    # -- lists ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the types and the discovered modules."""
        names = [itype.name for itype in self.ws.types.list()]
        set_options(self.list, names)
        self.name.options = tuple(module for module in self.ws.registry.modules() if module not in names)

    # -- the parameters table ---------------------------------------------------------
    def add_row(self, param: Param | None = None) -> ParamRow:
        row = ParamRow(param)
        row.remove.on_click(guarded(self.feedback, lambda: self.remove_row(row)))
        self.rows.append(row)
        self.params.children = [r.box for r in self.rows]
        return row

    def remove_row(self, row: ParamRow) -> None:
        self.rows.remove(row)
        self.params.children = [r.box for r in self.rows]

    def _set_rows(self, params: list[Param]) -> None:
        self.rows = []
        self.params.children = []
        for param in params:
            self.add_row(param)

    # -- actions ----------------------------------------------------------------------
    def new(self) -> None:
        """Clear the form for a new type."""
        self.editing = None
        self.name.value = ""
        self.name.disabled = False
        self.description.value = ""
        self._set_rows([])
        self.create_button.description = "Create"
        self.feedback.clear()

    def edit(self) -> None:
        """Load the type selected in the list."""
        itype = self.ws.types.get(self._selected())
        self.editing = itype.name
        self.name.value = itype.name
        self.name.disabled = True  # the name is the module's; renaming would orphan integrations
        self.description.value = itype.description
        self._set_rows(itype.params)
        self.create_button.description = "Save"
        drift = self.ws.types.drift(itype.name) if itype.name in self.ws.registry else []
        note = f" The module's CREDENTIALS differ: {'; '.join(drift)}." if drift else ""
        self.feedback.ok(f"Editing {itype.name!r}.{note}")

    def _remove(self, name: str) -> None:
        self.ws.types.delete(name)

    def fill(self) -> None:
        """Fill the description and the parameters from the module's ``CREDENTIALS``."""
        name = self.name.value.strip()
        if not name:
            raise ValidationError("Type the module's name first.")
        module = self.ws.registry.module(name)
        if module.credentials is None:
            raise CredentialsError(f"Integration module {name!r} declares no CREDENTIALS; add the parameters below.")
        self._set_rows(module.credentials)
        if not self.description.value.strip():
            self.description.value = module.description
        self.feedback.ok(f"Filled {len(module.credentials)} parameter(s) from {name!r}; review them, then save.")

    def _read_params(self) -> list[Param]:
        params, problems = [], []
        for index, row in enumerate(self.rows, start=1):
            try:
                params.append(row.to_param())
            except ValidationError as exc:
                problems.append(f"Row {index}: {exc}")
        if problems:
            raise ValidationError(" ".join(problems))
        return params

    def submit(self) -> None:
        """Create the type, or save the one being edited."""
        params = self._read_params()
        description = self.description.value.strip()
        if self.editing is not None:
            self.ws.types.save(IntegrationType(self.editing, description, params))
            self.feedback.ok(f"Saved the integration type {self.editing!r} ({len(params)} parameter(s)).")
            self.refresh()
            return
        name = self.name.value.strip()
        if not name:
            raise ValidationError("Type a name: the integration module's folder name.")
        created = self.ws.types.create(name, description=description, params=params)
        self.new()
        self.refresh()
        self.list.value = created.name
        self.feedback.ok(f"Created the integration type {created.name!r} ({len(created.params)} parameter(s)).")
