"""The Schedules screen: list, create, edit, pause, resume and delete schedules; next fire times as you type."""

from __future__ import annotations

import html
import zoneinfo
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import ipywidgets as w

from ..errors import FlowkitError, RunNotFound, ValidationError
from ..schedules import CronTimes, Schedule, describe, zone
from .common import ListForm, button, guarded, hook, set_options
from .fields import format_value, parse_json_object

if TYPE_CHECKING:
    from ..workspace import Workspace

PREVIEW_COUNT = 5


class ScheduleForm(ListForm):
    """Create, edit, pause, resume and delete schedules; a table of every schedule's last and next run.

    Typing in the cron field (or changing the timezone) shows the next five
    fire times in the schedule's timezone, or why the expression is refused.

    Args:
        ws: the workspace.

    Attributes:
        widget: the form, to display.
    """

    what = "the schedule"
    unselected = "Select a schedule in the list first."

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.editing = None
        controls = self._list_controls("schedule", "Schedules")
        self.pause_button = button("Pause", "flowkit-schedule-pause", tooltip="Stop firing the selected schedule")
        self.resume_button = button("Resume", "flowkit-schedule-resume", tooltip="Fire it again, from now on")
        self.pause_button.on_click(guarded(self.feedback, self.pause))
        self.resume_button.on_click(guarded(self.feedback, self.resume))
        self.table = hook(w.HTML(), "flowkit-schedule-table")
        self.name = hook(w.Text(description="Name", placeholder="nightly report"), "flowkit-schedule-name")
        self.workflow = hook(w.Dropdown(description="Workflow"), "flowkit-schedule-workflow")
        self.cron = hook(
            w.Text(description="Cron", placeholder="0 2 * * *", continuous_update=True), "flowkit-schedule-cron"
        )
        self.timezone = hook(
            w.Combobox(
                description="Timezone", value="UTC", options=sorted(zoneinfo.available_timezones()), ensure_option=False
            ),
            "flowkit-schedule-timezone",
        )
        self.preview = hook(w.HTML(), "flowkit-schedule-preview")
        self.inputs = hook(
            w.Textarea(description="Inputs", placeholder='{"day": "today"}', layout=w.Layout(width="40em")),
            "flowkit-schedule-inputs",
        )
        self.catchup = hook(
            w.Checkbox(description="catch up every missed slot after downtime", indent=False),
            "flowkit-schedule-catchup",
        )
        self.create_button = button("Create", "flowkit-schedule-create", style="primary")
        self.create_button.on_click(guarded(self.feedback, self.submit))
        self.cron.observe(lambda _: self.show_preview(), names="value")
        self.timezone.observe(lambda _: self.show_preview(), names="value")
        self.widget = hook(
            w.VBox(
                [
                    w.HBox([controls, w.VBox([self.pause_button, self.resume_button])]),
                    self.table,
                    w.HTML("<hr>"),
                    self.name,
                    self.workflow,
                    self.cron,
                    self.timezone,
                    self.preview,
                    self.inputs,
                    self.catchup,
                    self.create_button,
                    self.feedback.widget,
                ]
            ),
            "flowkit-schedule-form",
        )
        self.refresh()
        self.show_preview()

    # -- reading ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the schedules and the saved workflows."""
        schedules = self.ws.schedules.list()
        labels = [(f"{s.name} (paused)" if s.paused else s.name, s.name) for s in schedules]
        set_options(self.list, labels)
        set_options(self.workflow, [wf.name for wf in self.ws.workflows.list()])
        self.table.value = self._table(schedules)

    def _last(self, schedule: Schedule) -> str:
        if schedule.last_slot is None:
            return "—"
        slot = describe(datetime.fromisoformat(schedule.last_slot).astimezone(zone(schedule.timezone)))
        if schedule.last_run is None:
            return slot
        try:
            status = self.ws.runs.get(schedule.last_run).status
        except RunNotFound:
            status = "deleted"
        return f"{slot} · run {schedule.last_run} · {status}"

    def _next(self, schedule: Schedule) -> str:
        """When it fires next, for people (the workspace's clock, so tests can fix it)."""
        return schedule.next_text(now=self.ws.schedules.clock())

    def _table(self, schedules: list[Schedule]) -> str:
        rows = []
        for s in schedules:
            state = "paused" if s.paused else "active"
            cells = [s.name, s.workflow, s.cron, s.timezone, state, self._last(s), self._next(s)]
            rows.append(
                f'<tr data-schedule="{html.escape(s.name, quote=True)}" data-state="{state}">'
                + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
                + "</tr>"
            )
        head = "".join(
            f"<th>{h}</th>" for h in ("name", "workflow", "cron", "timezone", "state", "last run", "next run")
        )
        return f'<table class="flowkit-schedules"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'

    def show_preview(self) -> None:
        """The next five fire times of the cron field, in the timezone field's zone (or why they cannot be)."""
        if not self.cron.value.strip():
            self.preview.value = '<div class="flowkit-preview-empty">Type a cron expression, e.g. 0 2 * * *</div>'
            return
        try:
            times = CronTimes(self.cron.value, self.timezone.value or "UTC")
            now = datetime.fromtimestamp(self.ws.schedules.clock(), timezone.utc)
            upcoming = times.after(now, PREVIEW_COUNT)
        except FlowkitError as exc:
            self.preview.value = (
                f'<div class="flowkit-preview-error" style="color: #cf222e">{html.escape(str(exc))}</div>'
            )
            return
        items = "".join(f'<li class="flowkit-preview-time">{html.escape(describe(slot))}</li>' for slot in upcoming)
        self.preview.value = f'<div class="flowkit-preview-ok">Next {len(upcoming)} runs:<ol>{items}</ol></div>'

    # -- actions ----------------------------------------------------------------------
    def new(self) -> None:
        """Clear the form for a new schedule."""
        self.editing = None
        self.name.value = ""
        self.name.disabled = False
        self.cron.value = ""
        self.timezone.value = "UTC"
        self.inputs.value = ""
        self.catchup.value = False
        self.create_button.description = "Create"
        self.feedback.clear()

    def edit(self) -> None:
        """Load the selected schedule into the form."""
        schedule = self.ws.schedules.get(self._selected())
        self.editing = schedule.name
        self.name.value = schedule.name
        self.name.disabled = True
        set_options(self.workflow, [wf.name for wf in self.ws.workflows.list()], keep=schedule.workflow)
        self.cron.value = schedule.cron
        self.timezone.value = schedule.timezone
        self.inputs.value = format_value("json", schedule.inputs) if schedule.inputs else ""
        self.catchup.value = schedule.catchup
        self.create_button.description = "Save"
        self.feedback.ok(f"Editing {schedule.name!r}.")

    def _remove(self, name: str) -> None:
        self.ws.schedules.delete(name)

    def pause(self) -> None:
        name = self._selected()
        self.ws.schedules.pause(name)
        self.refresh()
        self.feedback.ok(f"Paused the schedule {name!r}.")

    def resume(self) -> None:
        name = self._selected()
        schedule = self.ws.schedules.resume(name)
        self.refresh()
        self.feedback.ok(f"Resumed the schedule {name!r}; next run {self._next(schedule)}.")

    def _read_inputs(self) -> dict[str, object]:
        return parse_json_object(
            self.inputs.value,
            what="Inputs",
            refusal='Inputs must be a JSON object of name → value, e.g. {{"day": "today"}}.',
        )

    def submit(self) -> None:
        """Create the schedule, or save the one being edited."""
        if not self.workflow.value:
            raise ValidationError("Choose a saved workflow to schedule (save one in the Workflows tab first).")
        options = {
            "workflow": self.workflow.value,
            "cron": self.cron.value,
            "timezone": self.timezone.value or "UTC",
            "inputs": self._read_inputs(),
            "catchup": self.catchup.value,
        }
        if self.editing is not None:
            saved = self.ws.schedules.update(self.editing, **options)
            verb = "Saved"
        else:
            saved = self.ws.schedules.create(self.name.value.strip(), **options)
            verb = "Created"
            self.new()
        self.refresh()
        self.list.value = saved.name
        upcoming = f"next run {self._next(saved)}"
        self.feedback.ok(f"{verb} the schedule {saved.name!r}; {upcoming}.")
