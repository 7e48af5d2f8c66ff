"""The Runs screen: run history with filters, and one run's DAG, per-node details and Resume."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .. import drawing
from ..errors import CorruptStoreError, ValidationError
from ..model import RUN_STATUSES, Run, RunSummary
from .common import Feedback, Screen, button, guarded, hook, run_summary, set_options, write_run_report
from .live import LiveRun
from .node_table import NodeTable

if TYPE_CHECKING:
    from ..workspace import Workspace

ALL = "(all)"
HISTORY_LIMIT = 200


#: The statuses of runs that Resume re-runs.
RESUMABLE = ("failed", "cancelled")


class RunView(Screen):
    """One run: summary (with its version), DAG coloured by status, per-node rows with logs; Resume, Report.

    Resume offers the choice a person needs after fixing a workflow: "Resume
    with the saved fix (vN)" runs what failed on the saved version, "Resume as
    it was (v1)" on the version the run ran; the default (the primary button)
    is the saved fix when the results it reuses still match it.

    Args:
        run: the run to show.
        ws: the workspace, needed to resume and write reports (without it the view is read-only).
        on_resumed: called with the new run after a resume finishes.
    """

    def __init__(self, run: Run, ws: Workspace | None = None, *, on_resumed: Any = None) -> None:
        self.ws = ws
        self.on_resumed = on_resumed
        self.feedback = Feedback("flowkit-run-feedback")
        self.summary = hook(w.HTML(), "flowkit-run-summary")
        self.picture = hook(w.HTML(), "flowkit-run-drawing")
        self.node_table = NodeTable()
        self.nodes = hook(self.node_table.widget, "flowkit-run-nodes")
        self.progress = hook(w.IntProgress(value=0, min=0, max=1, description="Resume"), "flowkit-run-progress")
        self.progress.layout.display = "none"
        self.resume_button = button(
            "Resume",
            "flowkit-run-resume",
            style="warning",
            tooltip="Run the failed and skipped nodes again, reusing the successful ones",
        )
        self.resume_original_button = button(
            "Resume as it was",
            "flowkit-run-resume-original",
            tooltip="Run the failed and skipped nodes again on the version this run ran",
        )
        self.report_button = button(
            "Report", "flowkit-run-report", tooltip="Write this run's report notebook (the version it ran)"
        )
        for wide in (self.resume_button, self.resume_original_button, self.report_button):
            wide.layout = w.Layout(width="auto", min_width="8em")  # the labels say which version: never cut them
        self._definition = "original"
        self.resume_button.on_click(guarded(self.feedback, lambda: self.resume(self._definition)))
        self.resume_original_button.on_click(guarded(self.feedback, lambda: self.resume("original")))
        self.report_button.on_click(guarded(self.feedback, self.report))
        self.live = LiveRun(
            self.picture, self.progress, self.summary, self.feedback, nodes=self.node_table, on_done=self._resumed
        )
        self.widget = hook(
            w.VBox(
                [
                    self.summary,
                    w.HBox(
                        [
                            self.resume_button,
                            self.resume_original_button,
                            self.report_button,
                            self.live.stop_button,
                            self.progress,
                        ]
                    ),
                    self.feedback.widget,
                    self.picture,
                    self.nodes,
                ]
            ),
            "flowkit-run-view",
        )
        self.show(run)

    def show(self, run: Run) -> None:
        """Display `run`, and offer what resuming it can use."""
        self.run = run
        self.summary.value = run_summary(run)
        self.picture.value = drawing.to_html(drawing.draw_run(run))
        self.node_table.update(run)
        self.report_button.disabled = self.ws is None
        self._offer_resume()

    def _offer_resume(self) -> None:
        run, original = self.run, self.resume_original_button
        resumable = self.ws is not None and run.status in RESUMABLE
        self.resume_button.disabled = original.disabled = not resumable
        choices = self.ws.resume_choices(run) if resumable and self.ws is not None else None
        if choices is None or choices["current"] is None:
            self._definition = "original"
            self.resume_button.description = f"Resume (v{run.version})" if run.version else "Resume"
            self.resume_button.button_style = "warning"
            original.layout.display = "none"
            return
        self._definition = "current"
        self.resume_button.description = f"Resume with the saved fix (v{choices['current']})"
        original.description = f"Resume as it was (v{choices['original']})"
        original.layout.display = None
        fix_first = choices["default"] == "current"
        self.resume_button.button_style = "primary" if fix_first else ""
        original.button_style = "" if fix_first else "primary"
        self.resume_button.tooltip = (
            "Run the failed and skipped nodes on the saved version, reusing the results that still match it"
        )

    def resume(self, definition: str = "auto") -> None:
        """Re-run the failed, cancelled and skipped nodes in a background thread, live (trigger ``ui``)."""
        if self.ws is None:
            raise ValidationError("This view has no workspace to resume in; use RunView(run, ws).")
        if self.run.status not in RESUMABLE:
            raise ValidationError(
                f"Run {self.run.id} is {self.run.status}; only a failed or cancelled run can be resumed."
            )
        ws, previous = self.ws, self.run
        workflow = ws.resume_definition(previous, definition)
        self.resume_button.disabled = self.resume_original_button.disabled = True
        self.progress.layout.display = None
        self.feedback.ok(f"Resuming run {previous.id} on version {workflow.version}…")

        def call(on_event: Any) -> Run:
            return ws.resume(previous, definition=definition, on_event=on_event, trigger="ui", cancel=self.live.cancel)

        self.live.start(workflow, call)

    def report(self) -> None:
        """Write this run's report notebook into the workspace's ``reports/`` (signed, so it opens trusted)."""
        if self.ws is None:
            raise ValidationError("This view has no workspace to write a report in; use RunView(run, ws).")
        self.feedback.ok(write_run_report(self.ws.path, self.run))

    def _resumed(self, run: Run | None) -> None:
        if run is None:
            self._offer_resume()
            return
        self.show(run)
        self.feedback.ok(f"Resumed as run {run.id}: {run.status}.")
        if self.on_resumed is not None:
            self.on_resumed(run)


def run_label(run: Run | RunSummary) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
    version = f" v{run.version}" if run.version else ""  # which version ran: a fix shows as a new one
    return f"{started} · {run.workflow}{version} · {run.status}"


class RunsPanel(Screen):
    """The run history, filtered by workflow and status; choosing a run shows its `RunView`.

    Args:
        ws: the workspace.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.view: RunView | None = None
        self.feedback = Feedback("flowkit-runs-feedback")
        self.workflow = hook(w.Dropdown(description="Workflow", options=[ALL]), "flowkit-runs-filter-workflow")
        self.status = hook(w.Dropdown(description="Status", options=[ALL, *RUN_STATUSES]), "flowkit-runs-filter-status")
        self.refresh_button = button("Refresh", "flowkit-runs-refresh")
        self.list = hook(w.Select(description="Runs", rows=8, layout=w.Layout(width="48em")), "flowkit-runs-list")
        self.detail = w.VBox()
        self.refresh_button.on_click(guarded(self.feedback, self.refresh))
        for control in (self.workflow, self.status):
            control.observe(lambda _: guarded(self.feedback, self.list_runs)(), names="value")
        self.list.observe(lambda _: guarded(self.feedback, self.select)(), names="value")
        self.widget = hook(
            w.VBox(
                [
                    w.HBox([self.workflow, self.status, self.refresh_button]),
                    self.list,
                    self.feedback.widget,
                    self.detail,
                ]
            ),
            "flowkit-runs-panel",
        )
        self.refresh()

    def refresh(self) -> None:
        """Re-read the workflows and the history."""
        names = sorted({wf.name for wf in self.ws.workflows.list()})
        set_options(self.workflow, [ALL, *names])
        self.list_runs()

    def _listing(self) -> tuple[list[RunSummary], list[CorruptStoreError]]:
        """The runs matching the filters, newest first, from the run index; and the damaged ones."""
        runs, damaged = self.ws.runs.listing(
            workflow=None if self.workflow.value == ALL else self.workflow.value,
            status=None if self.status.value == ALL else self.status.value,
            limit=HISTORY_LIMIT,
        )
        return list(runs), list(damaged)

    def list_runs(self) -> None:
        """List the runs matching the filters, newest first, from the run index (a damaged run file is named)."""
        runs, damaged = self._listing()
        set_options(self.list, [(run_label(run), run.id) for run in runs])
        if damaged:
            self.feedback.error(f"{len(damaged)} run(s) not listed: {damaged[0]}")
        elif not runs:
            self.feedback.ok("No runs match.")
        else:
            self.feedback.clear()
        self.select()

    def select(self) -> None:
        """Show the run chosen in the list (the view already showing it is kept, not rebuilt)."""
        if not self.list.value:
            self.view = None
            self.detail.children = []
            return
        if self.view is not None and self.view.run.id == self.list.value:
            return
        run = self.ws.runs.get(self.list.value)
        if self.view is not None and not self.view.live.running:
            self.view.feedback.clear()
            self.view.show(run)  # the same widgets, new content: no blank view in between
            return
        self.view = RunView(run, self.ws, on_resumed=self._resumed)
        self.detail.children = [self.view.widget]

    def _resumed(self, run: Run) -> None:
        """List the new run and select it, keeping the view that already shows it (no flicker back)."""
        runs, _ = self._listing()
        set_options(self.list, [(run_label(item), item.id) for item in runs], keep=run.id)
