"""The builder's declared run inputs: the same parameter table as an integration type's credentials.

A workflow declares its inputs in the `Param` language (`Workflow.inputs`):
name, kind, required, default, choices, help. Each complete row is applied to
the workflow as it is typed, so the Run form above offers and types it at
once; a half-typed row is left out until it reads as a `Param`. Inputs not
declared here are still inferred from the templates (`Workspace.input_params`).
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..errors import FlowkitError
from ..model import Param
from .common import button, hook
from .types_form import ParamRow, header_html


class InputsEditor:
    """Rows of declared inputs (CSS ``flowkit-inputs-editor``; ``+ input`` is ``flowkit-input-add``).

    Args:
        on_change: called with the inputs that read as Params, after every edit.
    """

    def __init__(self, on_change: Callable[[list[Param]], None]) -> None:
        self.on_change = on_change
        self.rows: list[ParamRow] = []
        self.table = w.VBox()
        self.add_button = button("+ input", "flowkit-input-add", tooltip="Declare a run input: name, kind, default…")
        self.add_button.on_click(lambda _: self.add_row())
        self.widget = hook(
            w.VBox(
                [
                    w.HTML("<b>Inputs</b> <small>(declared here; the others are inferred from the templates)</small>"),
                    hook(w.HTML(header_html()), "flowkit-param-header"),
                    self.table,
                    self.add_button,
                ]
            ),
            "flowkit-inputs-editor",
        )

    def load(self, params: list[Param]) -> None:
        """Show `params` (a newly opened workflow's inputs)."""
        self.rows = []
        for param in params:
            self.add_row(param, apply=False)
        self._show()

    def add_row(self, param: Param | None = None, *, apply: bool = True) -> ParamRow:
        row = ParamRow(param)
        row.remove.on_click(lambda _: self.remove_row(row))
        for control in (row.name, row.kind, row.required, row.default, row.choices, row.help):
            control.observe(lambda _: self.apply(), names="value")
        self.rows.append(row)
        self._show()
        if apply:
            self.apply()
        return row

    def remove_row(self, row: ParamRow) -> None:
        self.rows.remove(row)
        self._show()
        self.apply()

    def read(self) -> list[Param]:
        """The rows that read as Params, in order; a row being typed (or a repeated name) is left out."""
        params: list[Param] = []
        for row in self.rows:
            try:
                param = row.to_param()
            except FlowkitError:
                continue
            if param.name not in {seen.name for seen in params}:
                params.append(param)
        return params

    def apply(self) -> None:
        self.on_change(self.read())

    def _show(self) -> None:
        self.table.children = [row.box for row in self.rows]
