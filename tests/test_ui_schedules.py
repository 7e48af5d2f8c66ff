"""The Schedules tab: create with a live preview of the next five fire times, edit, pause, resume, delete."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ui_support import add_demo_integration

import flowkit as fk

NOW = datetime(2026, 10, 24, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def sws(ws: fk.Workspace) -> fk.Workspace:
    add_demo_integration(ws, key="right-key")
    wf = fk.Workflow("Report")
    wf.add_node("say", integration="My Demo", task="echo", params={"text": "{{ inputs.day }}"})
    ws.workflows.save(wf)
    ws.schedules.clock = NOW.timestamp  # a fixed "now", so the fire times shown are known
    return ws


def test_the_cron_field_shows_the_next_five_fire_times_as_you_type(sws: fk.Workspace) -> None:
    form = fk.ui.ScheduleForm(sws)
    assert "flowkit-preview-empty" in form.preview.value
    form.cron.value = "30 2 * *"  # half typed
    assert "flowkit-preview-error" in form.preview.value and "does not parse" in form.preview.value
    form.cron.value = "30 2 * * *"
    assert form.preview.value.count("flowkit-preview-time") == 5
    assert "2026-10-25 02:30 UTC" in form.preview.value
    form.timezone.value = "Europe/Berlin"  # the night the clock goes back: 02:30 once, then CET
    assert "2026-10-25 02:30 CEST</li>" in form.preview.value and "2026-10-26 02:30 CET</li>" in form.preview.value
    assert form.preview.value.count("2026-10-25 02:30") == 1
    form.timezone.value = "Mars/Base"
    assert "Unknown timezone" in form.preview.value


def test_create_pause_resume_edit_delete(sws: fk.Workspace) -> None:
    app = fk.ui.App(sws)
    app.tabs.selected_index = 4
    form = app.schedules
    assert "Report" in form.workflow.options
    form.name.value = "nightly"
    form.workflow.value = "Report"
    form.cron.value = "0 2 * * *"
    form.timezone.value = "Europe/Berlin"
    form.inputs.value = '{"day": "today"}'
    form.create_button.click()
    assert not form.feedback.is_error, form.feedback.text
    assert "Created the schedule 'nightly'; next run 2026-10-25 02:00 CEST" in form.feedback.text
    assert sws.schedules.get("nightly").inputs == {"day": "today"}
    assert form.list.value == "nightly"
    assert 'data-schedule="nightly" data-state="active"' in form.table.value
    assert "2026-10-25 02:00 CEST" in form.table.value  # next run

    form.pause_button.click()
    assert sws.schedules.get("nightly").paused and "nightly (paused)" in [label for label, _ in form.list.options]
    assert 'data-state="paused"' in form.table.value
    form.resume_button.click()
    assert not sws.schedules.get("nightly").paused and "Resumed" in form.feedback.text

    form.edit_button.click()
    assert form.name.disabled and form.cron.value == "0 2 * * *" and form.create_button.description == "Save"
    form.cron.value = "0 3 * * *"
    form.create_button.click()
    assert not form.feedback.is_error, form.feedback.text
    assert sws.schedules.get("nightly").cron == "0 3 * * *"

    form.delete_button.click()
    assert "Click Delete again" in form.feedback.text
    form.delete_button.click()
    assert sws.schedules.list() == [] and "Deleted the schedule 'nightly'" in form.feedback.text


def test_the_last_run_is_shown_with_its_status(sws: fk.Workspace) -> None:
    sws.schedules.create("n", workflow="Report", cron="* * * * *", inputs={"day": "d"})
    claim = sws.schedules.claim("n", now=NOW.timestamp() + 61)
    assert claim is not None
    run = sws.run("Report", inputs={"day": "d"}, trigger="schedule")
    sws.schedules.record_run(claim, run.id)
    form = fk.ui.ScheduleForm(sws)
    assert f"2026-10-24 12:01 UTC · run {run.id} · success" in form.table.value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("inputs", "{not json", "Inputs: not valid JSON"),
        ("inputs", "[1, 2]", "must be a JSON object"),
        ("inputs", '{"day": "right-key"}', "secret credential 'api_key'"),
        ("cron", "0 25 * * *", "does not parse"),
        ("name", "", "Schedule name must be a non-empty string"),
    ],
)
def test_refusals_are_shown_in_the_form_and_nothing_is_saved(
    sws: fk.Workspace, field: str, value: str, message: str
) -> None:
    form = fk.ui.ScheduleForm(sws)
    form.name.value, form.workflow.value, form.cron.value = "s", "Report", "0 2 * * *"
    form.inputs.value = '{"day": "x"}'
    getattr(form, field).value = value
    form.create_button.click()
    assert form.feedback.is_error and message in form.feedback.text, form.feedback.text
    assert "right-key" not in form.feedback.text
    assert sws.schedules.list() == []


def test_pause_without_a_selection_is_refused(sws: fk.Workspace) -> None:
    form = fk.ui.ScheduleForm(sws)
    form.pause_button.click()
    assert form.feedback.is_error and "Select a schedule" in form.feedback.text
