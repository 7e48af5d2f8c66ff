"""The builder's running side: ▶ Run, Run from here, Run only this node, Stop, Report, and what a run ends with.

A mixin of `WorkflowBuilder`, kept apart so each module stays readable: it
uses the builder's workspace, workflow, widgets and `LiveRun`, and adds the
actions that start, follow and report runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w
import networkx as nx

from ..errors import FlowkitError, ValidationError
from ..model import Run, Workflow
from .common import Feedback, write_run_report

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .live import LiveRun
    from .run_inputs import RunInputs


class RunActions:
    """Running a workflow from the builder (see the module docstring)."""

    ws: Workspace
    workflow: Workflow
    problems: list[tuple[str, str | None, str]]
    feedback: Feedback
    live: LiveRun
    run_form: RunInputs
    last_run: Run | None
    run_button: w.Button
    run_from_button: w.Button
    run_only_button: w.Button
    report_button: w.Button

    if TYPE_CHECKING:  # the builder's own, used here

        def _apply_name(self) -> None: ...

        def _selected(self) -> str: ...

    def run_inputs(self) -> dict[str, Any]:
        """The inputs typed in the inputs form, each read as its input's kind (blank ones left out)."""
        return self.run_form.values()

    @property
    def input_fields(self) -> dict[str, w.Text]:
        """The inputs form's fields, by input name."""
        return self.run_form.fields

    def start_run(self) -> None:
        """▶ Run the workflow as built, in a background thread; the notebook stays responsive."""
        self._start(None, "Running")

    def run_from_here(self) -> None:
        """Run the selected node and everything after it, reusing the last run's results upstream."""
        name = self._selected()
        self._start([name, *sorted(nx.descendants(self.workflow.graph, name))], f"Running from {name!r} in")

    def run_only_node(self) -> None:
        """Run the selected node alone, its upstream results taken from the last run."""
        name = self._selected()
        self._start([name], f"Running only {name!r} of")

    def _start(self, only: list[str] | None, doing: str) -> None:
        self._apply_name()
        errors = [p for p in self.problems if p[0] == "error" and (only is None or p[1] is None or p[1] in only)]
        if errors:
            listed = "; ".join(f"{node or 'workflow'}: {message}" for _, node, message in errors)
            raise ValidationError(f"Fix {len(errors)} error(s) before running — {listed}")
        if not len(self.workflow):
            raise ValidationError("Add a node first: there is nothing to run.")
        last = self.last_run if self.last_run is not None and self.last_run.workflow == self.workflow.name else None
        if only is not None and last is None:
            raise ValidationError("Run the whole workflow once first: its results feed the nodes upstream.")
        workflow, inputs = self.workflow.copy(), self.run_inputs()
        if only is not None and not inputs and last is not None:
            inputs = dict(last.inputs)  # the same run, part of it again
        if not self._is_saved(workflow):
            workflow.version = 0  # the run says "unsaved draft", not the version it was opened as
        for control in self._run_controls():
            control.disabled = True
        self.feedback.ok(f"{doing} {workflow.name!r}…")

        base = last if only is not None else None

        def call(on_event: Any) -> Any:
            return self.ws.run(
                workflow,
                inputs=inputs,
                on_event=on_event,
                trigger="ui",
                only=only,
                from_run=base,
                cancel=self.live.cancel,
            )

        try:
            self.live.start(workflow, call)
        except FlowkitError:
            for control in self._run_controls():
                control.disabled = False
            raise

    def report(self) -> None:
        """Write the last run's report notebook into the workspace's ``reports/`` (signed: it opens trusted)."""
        if self.last_run is None:
            raise ValidationError("Run the workflow first: the report shows a run.")
        self.feedback.ok(write_run_report(self.ws.path, self.last_run))

    def _is_saved(self, workflow: Workflow) -> bool:
        """Whether `workflow` is exactly its saved version (so a run of it may carry that version number)."""
        if not workflow.version:
            return False
        try:
            return self.ws.workflows.get(workflow.name).to_dict() == workflow.to_dict()
        except FlowkitError:
            return False

    def _run_controls(self) -> tuple[w.Button, ...]:
        return (self.run_button, self.run_from_button, self.run_only_button)

    def _ran(self, run: Run | None) -> None:
        for control in self._run_controls():
            control.disabled = False
        if run is None:
            return  # LiveRun has shown the error
        self.last_run = run
        self.report_button.disabled = False
        icon = {"success": "✅", "cancelled": "⏹"}.get(run.status, "❌")
        message = f"{icon} Run {run.id} of {run.workflow!r}: {run.status}."
        if run.status == "success":
            self.feedback.ok(message)
        else:
            self.feedback.error(message)
