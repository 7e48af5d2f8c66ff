"""The builder's Run form: one text field per run input, each read as its input's kind.

The inputs are the workflow's declared ones and those inferred from its
templates (`Workspace.input_params`); what is typed goes through
`flowkit.run.inputs.parse_input`, the parser the CLI's ``-i`` uses too, so
``3`` runs as 3 for an integer input and as ``"3"`` for a text one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import FlowkitError, TemplateError
from ..model import Param, Workflow
from ..run.inputs import UNTYPED, is_untyped, parse_input
from ..run.templating import references, template_strings
from .common import hook
from .fields import format_value

if TYPE_CHECKING:
    from ..workspace import Workspace


def input_names(workflow: Workflow) -> list[str]:
    """The run inputs the workflow's templates read (``{{ inputs.title }}`` → ``title``), sorted."""
    found: set[str] = set()
    for node in workflow.nodes.values():
        for _, text in template_strings([node.params, node.when, node.foreach, node.inputs], ""):
            try:
                found |= references(text)[1]
            except TemplateError:
                continue  # ws.validate reports it with its node
    return sorted(found)


class RunInputs:
    """The inputs form (`widget`, CSS ``flowkit-run-inputs``; a field ``flowkit-input-<name>`` per input)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.widget = hook(w.VBox(), "flowkit-run-inputs")
        self.fields: dict[str, w.Text] = {}
        self.specs: dict[str, Param] = {}

    def build(self, workflow: Workflow) -> None:
        """Offer a field per input of `workflow`, keeping what was typed into fields that stay."""
        try:
            specs = {param.name: param for param in self.ws.input_params(workflow)}
        except FlowkitError:
            specs = {name: Param(name, kind="json", help=UNTYPED) for name in input_names(workflow)}
        if specs == self.specs:
            return
        previous = {name: field.value for name, field in self.fields.items()}
        self.specs = specs
        self.fields = {
            name: hook(
                w.Text(
                    description=name,
                    value=previous.get(name) or format_value(param.kind, param.default),
                    placeholder="" if is_untyped(param) else param.kind,
                    tooltip=param.help or None,
                ),
                f"flowkit-input-{name}",
            )
            for name, param in specs.items()
        }
        self.widget.children = list(self.fields.values())

    def values(self) -> dict[str, Any]:
        """The typed inputs, each read as its input's kind (blank ones left out)."""
        return {
            name: parse_input(self.specs[name], field.value)
            for name, field in self.fields.items()
            if field.value.strip() != ""
        }
