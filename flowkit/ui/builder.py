"""The Workflows screen: build a DAG node by node, see it drawn and checked after every change, save, run.

Every action goes through `Workflow`'s own methods (`add_node`, `connect`,
`rename_node`…), so the builder refuses exactly what the API refuses — a
cycle with its path, a duplicate node — and says so in its feedback area.
After each change the drawing is redrawn and ``ws.validate`` lists the
problems with their nodes. ▶ Run runs in a background thread (`LiveRun`).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as w

from .. import drawing
from ..errors import ValidationError
from ..model import Param, Run, Workflow, check_label
from .canvas import DagCanvas
from .common import (
    Confirm,
    Feedback,
    FeedbackSlots,
    Screen,
    button,
    confirm_delete,
    guarded,
    hook,
    set_options,
)
from .inputs_editor import InputsEditor
from .live import LiveRun
from .node_form import NodeForm
from .node_table import NodeTable
from .run_inputs import RunInputs
from .running import RunActions

if TYPE_CHECKING:
    from ..workspace import Workspace

NEW_NAME = "Untitled workflow"
ICONS = {"error": "⛔", "warning": "⚠️"}


class WorkflowBuilder(RunActions, Screen):
    """Build, check, save and run a workflow.

    Args:
        ws: the workspace.
        wf: the workflow to edit, changed in place; a new empty one by default.

    Attributes:
        workflow: the workflow being built.
        widget: the builder, to display.
    """

    def __init__(self, ws: Workspace, wf: Workflow | None = None) -> None:
        self.ws = ws
        self.workflow = wf if wf is not None else Workflow(NEW_NAME)
        self.problems: list[tuple[str, str | None, str]] = []
        self._confirm = Confirm()
        self.feedback = Feedback("flowkit-builder-feedback")

        self.saved = hook(w.Dropdown(description="Saved"), "flowkit-workflow-list")
        self.open_button = button("Open", "flowkit-workflow-open")
        self.new_button = button("New", "flowkit-workflow-new")
        self.delete_button = button("Delete", "flowkit-workflow-delete", style="danger")
        self.name = hook(w.Text(description="Workflow"), "flowkit-workflow-name")
        self.description = hook(
            w.Text(description="Description", layout=w.Layout(width="40em")), "flowkit-workflow-description"
        )

        self.node_form = NodeForm(ws)
        self.add_button = button("Add node", "flowkit-node-add", style="primary")
        self.node_select = hook(w.Dropdown(description="Selected"), "flowkit-node-select")
        self.load_button = button("Load", "flowkit-node-load", tooltip="Show the selected node in the form")
        self.update_button = button("Update", "flowkit-node-update", tooltip="Save the form into the selected node")
        self.rename_button = button("Rename", "flowkit-node-rename", tooltip="Rename the selected node to 'Node'")
        self.remove_button = button("Remove", "flowkit-node-remove", style="danger")
        self.run_from_button = button(
            "Run from here",
            "flowkit-node-run-from",
            tooltip="Run the selected node and what follows it, reusing the last run's results upstream",
        )
        self.run_only_button = button(
            "Run only this node",
            "flowkit-node-run-only",
            tooltip="Run the selected node alone, with the last run's results upstream",
        )
        for wide in (self.run_from_button, self.run_only_button):
            wide.layout = w.Layout(width="auto")
        self.last_run: Run | None = None
        self.connect_from = hook(w.Dropdown(description="From"), "flowkit-connect-from")
        self.connect_to = hook(w.Dropdown(description="To"), "flowkit-connect-to")
        self.connect_button = button("Connect", "flowkit-connect")
        self.disconnect_button = button("Disconnect", "flowkit-disconnect")
        self.problems_html = hook(w.HTML(), "flowkit-problems")
        self.save_button = button("Save", "flowkit-workflow-save", style="success")

        self.run_form = RunInputs(ws)
        self.inputs = self.run_form.widget
        self.inputs_editor = InputsEditor(self._declare_inputs)
        self.run_button = button("▶ Run", "flowkit-run", style="primary")
        self.report_button = button(
            "Report", "flowkit-builder-report", tooltip="Write the last run's report notebook (the version it ran)"
        )
        self.report_button.disabled = True
        self.progress = hook(w.IntProgress(value=0, min=0, max=1, description="Progress"), "flowkit-progress")
        self.picture = hook(DagCanvas(), "flowkit-drawing", "flowkit-canvas")
        self.picture.observe(lambda change: guarded(self.feedback, self.select_from_drawing)(), names="selected")
        self.picture.observe(
            lambda change: guarded(self.feedback, self.connect_from_drawing)(), names="connect_request"
        )
        self.result = hook(w.HTML(), "flowkit-result")
        self.node_table = NodeTable()
        hook(self.node_table.widget, "flowkit-result-nodes")
        self.live = LiveRun(
            self.picture, self.progress, self.result, self.feedback, nodes=self.node_table, on_done=self._ran
        )
        self.stop_button = self.live.stop_button

        self.slots = FeedbackSlots(self.feedback, "run", "top", "node", "edge", "save")
        self.top_feedback_slot, self.run_feedback_slot = self.slots.slots["top"], self.slots.slots["run"]
        self.node_feedback_slot, self.edge_feedback_slot = self.slots.slots["node"], self.slots.slots["edge"]
        self.save_feedback_slot = self.slots.slots["save"]
        # Each button's message shows next to it, not wherever the one feedback area happens to be.
        actions = {
            self.open_button: (self.open, "top"),
            self.new_button: (self.new, "top"),
            self.delete_button: (self.delete, "top"),
            self.add_button: (self.add_node, "node"),
            self.load_button: (self.load_node, "node"),
            self.update_button: (self.update_node, "node"),
            self.rename_button: (self.rename_node, "node"),
            self.remove_button: (self.remove_node, "node"),
            self.run_from_button: (self.run_from_here, "node"),
            self.run_only_button: (self.run_only_node, "node"),
            self.connect_button: (self.connect, "edge"),
            self.disconnect_button: (self.disconnect, "edge"),
            self.save_button: (self.save, "save"),
            self.run_button: (self.start_run, "run"),
            self.report_button: (self.report, "run"),
        }
        for widget, (action, slot) in actions.items():
            widget.on_click(self.slots.near(slot, guarded(self.feedback, action)))

        self.widget = hook(
            w.VBox(
                [
                    w.HBox([self.saved, self.open_button, self.new_button, self.delete_button]),
                    self.top_feedback_slot,
                    w.HBox([self.name, self.description]),
                    self.inputs,
                    # Run and its progress sit right above the drawing they animate (visible at 900 px).
                    w.VBox(
                        [
                            w.HBox([self.run_button, self.stop_button, self.progress, self.report_button]),
                            self.run_feedback_slot,
                        ]
                    ),
                    self.picture,
                    self.problems_html,
                    self.result,
                    self.node_table.widget,
                    w.HTML("<b>Node</b>"),
                    self.node_form.box,
                    self.add_button,
                    w.HBox(
                        [self.node_select, self.load_button, self.update_button, self.rename_button, self.remove_button]
                    ),
                    w.HBox([self.run_from_button, self.run_only_button]),
                    self.node_feedback_slot,
                    self.inputs_editor.widget,
                    w.HTML("<b>Edges</b>"),
                    w.HBox([self.connect_from, self.connect_to, self.connect_button, self.disconnect_button]),
                    self.edge_feedback_slot,
                    self.save_button,
                    self.save_feedback_slot,
                ]
            ),
            "flowkit-workflow-builder",
        )
        for control in [*self.node_form.controls(), self.name, self.description, self.connect_from, self.connect_to]:
            control.observe(lambda _: self._clear_stale_error(), names="value")
        self._show_workflow()

    # -- feedback ------------------------------------------------------------------------
    def _clear_stale_error(self) -> None:
        """A refusal stays only until the person edits the form it was about."""
        if self.feedback.is_error and not self.live.running:
            self.feedback.clear()

    # -- after every change -----------------------------------------------------------
    def refresh(self) -> None:
        """Re-read saved workflows, integrations and tasks (after a reload)."""
        set_options(self.saved, [wf.name for wf in self.ws.workflows.list()])
        self.node_form.refresh()
        self.changed()

    def changed(self) -> None:
        """Redraw, re-check and refresh the node lists and the inputs form."""
        names = list(self.workflow.nodes)
        for dropdown in (self.node_select, self.connect_from, self.connect_to):
            set_options(dropdown, names)
        if not self.live.running:
            self.picture.value = drawing.to_html(drawing.draw_workflow(self.workflow))
        self.problems = list(self.ws.validate(self.workflow)) if len(self.workflow) else []
        self.problems_html.value = self._problems_html()
        self.run_form.build(self.workflow)

    def _problems_html(self) -> str:
        if not len(self.workflow):
            return "<i>Add a node to start.</i>"
        if not self.problems:
            return '<div class="flowkit-no-problems">✅ No problems found.</div>'
        items = "".join(
            f'<li class="flowkit-problem" data-severity="{html.escape(severity)}" '
            f'data-node="{html.escape(node or "", quote=True)}">{ICONS.get(severity, "•")} '
            f"<b>{html.escape(node or 'workflow')}</b>: {html.escape(message)}</li>"
            for severity, node, message in self.problems
        )
        return f"<ul>{items}</ul>"

    def _declare_inputs(self, params: list[Param]) -> None:
        """The inputs editor changed: the workflow declares these, and the Run form offers them."""
        self.workflow.inputs = params
        self.run_form.build(self.workflow)

    def _show_workflow(self) -> None:
        self.node_form.reset()
        self.inputs_editor.load(self.workflow.inputs)
        self.name.value = self.workflow.name
        self.description.value = self.workflow.description
        self.result.value = ""
        self.progress.value = 0
        self.refresh()

    # -- the workflow -----------------------------------------------------------------
    def open(self) -> None:
        """Open the saved workflow chosen in the list."""
        if not self.saved.value:
            raise ValidationError("No saved workflow is selected.")
        self.workflow = self.ws.workflows.get(self.saved.value)
        self._show_workflow()
        self.feedback.ok(f"Opened {self.workflow.name!r} (version {self.workflow.version}).")

    def new(self) -> None:
        """Start a new, empty workflow."""
        self.workflow = Workflow(NEW_NAME)
        self._show_workflow()
        self.feedback.ok("Started a new workflow.")

    def delete(self) -> None:
        """Delete the saved workflow chosen in the list (on a second click)."""
        confirm_delete(
            self.feedback,
            self._confirm,
            self.saved.value,
            what="the saved workflow",
            unselected="No saved workflow is selected.",
            delete=self.ws.workflows.delete,
            then=lambda name: self.refresh(),
            note="; the builder still holds it until you save",
        )

    def _apply_name(self) -> None:
        self.workflow.name = check_label(self.name.value.strip(), "Workflow name")
        self.workflow.description = self.description.value.strip()

    def save(self) -> None:
        """Save the workflow (refused, with its problems, if it has errors)."""
        self._apply_name()
        try:
            saved = self.ws.workflows.save(self.workflow)
        finally:
            self.changed()
        names = [wf.name for wf in self.ws.workflows.list()]
        set_options(self.saved, names, keep=saved.name)
        set_options(self.node_form.options.workflow, ["", *names])  # now a sub-workflow a node may run
        self.feedback.ok(f"Saved {saved.name!r} (version {saved.version}).")

    # -- nodes ------------------------------------------------------------------------
    def _selected(self) -> str:
        if not self.node_select.value:
            raise ValidationError("Select a node first.")
        return str(self.node_select.value)

    def add_node(self) -> None:
        """Add the node described by the node form."""
        name = self.node_form.name.value.strip()
        fields = self.node_form.read()
        self.workflow.add_node(name, **fields)
        self.changed()
        self.node_select.value = name
        what = (
            f"runs {fields['workflow']!r}" if fields.get("workflow") else f"{fields['integration']} · {fields['task']}"
        )
        self.feedback.ok(f"Added {name!r} ({what}).")

    def load_node(self) -> None:
        """Show the selected node in the node form."""
        self.node_form.load(self.workflow.node(self._selected()))
        self.feedback.ok(f"Loaded {self._selected()!r} into the form.")

    def update_node(self) -> None:
        """Replace the selected node's integration, task, params, retries and timeout with the form's."""
        name = self._selected()
        fields = self.node_form.read()
        # A password param is never shown back (blank in the form): blank keeps the node's value.
        current = self.workflow.node(name)
        if self.node_form.form is not None and fields["task"] == current.task:
            for secret in self.node_form.form.secret_names():
                if secret not in fields["params"] and secret in current.params:
                    fields["params"][secret] = current.params[secret]
        self.workflow.update_node(name, **fields)
        self.changed()
        self.feedback.ok(f"Updated {name!r}.")

    def rename_node(self) -> None:
        """Rename the selected node to the name typed in the node form."""
        old, new = self._selected(), self.node_form.name.value.strip()
        self.workflow.rename_node(old, new)
        self.changed()
        self.node_select.value = new
        self.feedback.ok(f"Renamed {old!r} to {new!r} (templates that read {old!r} need the new name).")

    def remove_node(self) -> None:
        """Remove the selected node and its edges."""
        name = self._selected()
        self.workflow.remove_node(name)
        self.changed()
        self.feedback.ok(f"Removed {name!r} and its edges.")

    def _ends(self) -> tuple[str, str]:
        upstream, downstream = self.connect_from.value, self.connect_to.value
        if not upstream or not downstream:
            raise ValidationError("Choose both nodes, From and To.")
        return str(upstream), str(downstream)

    def connect(self) -> None:
        """Connect From → To (a cycle is refused with its path)."""
        upstream, downstream = self._ends()
        self.workflow.connect(upstream, downstream)
        self.changed()
        self.feedback.ok(f"Connected {upstream} → {downstream}.")

    def select_from_drawing(self) -> None:
        """A node clicked in the drawing: select it and show it in the node form."""
        name = self.picture.selected
        if name and name in self.workflow.nodes:
            self.node_select.value = name
            self.load_node()

    def connect_from_drawing(self) -> None:
        """A drag from one node to another in the drawing: connect them (a cycle is refused with its path)."""
        request = self.picture.connect_request
        upstream, downstream = request.get("from"), request.get("to")
        if not upstream or not downstream:
            return
        self.slots.move("run")  # the message shows by the drawing
        self.connect_from.value, self.connect_to.value = upstream, downstream
        self.connect()

    def disconnect(self) -> None:
        """Remove the edge From → To."""
        upstream, downstream = self._ends()
        self.workflow.disconnect(upstream, downstream)
        self.changed()
        self.feedback.ok(f"Disconnected {upstream} → {downstream}.")
