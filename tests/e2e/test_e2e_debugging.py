"""Debugging a run in the browser: the version ran, a failed node's traceback, a result's tree, Resume on the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, open_in_builder, open_tab, scroll_to_top, show_app
from .jlab import Notebook, shot

RUN_TIMEOUT_MS = 30_000


def failed_then_fixed(ws: fk.Workspace) -> fk.Run:
    """v1: first → broken (raises); run it; save v2 where `broken` echoes."""
    wf = fk.Workflow("Fixable")
    wf.add_node("first", integration="Echo", task="echo", params={"text": "upstream result"})
    wf.add_node("broken", integration="Echo", task="fail")
    wf.connect("first", "broken")
    ws.workflows.save(wf)
    run = ws.run("Fixable")
    assert run.status == "failed"
    fixed = ws.workflows.get("Fixable")
    fixed.update_node("broken", integration="Echo", task="echo", params={"text": "fixed"})
    ws.workflows.save(fixed)
    return run


def test_runs_tab_shows_traceback_version_and_resumes_on_the_saved_fix(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    run = failed_then_fixed(workspace)
    notebook = open_notebook(app_notebook)
    app = show_app(notebook)
    open_tab(app, "Runs")
    panel = app.locator(".flowkit-runs-panel")
    panel.locator(".flowkit-runs-list select").select_option(index=0)
    view = panel.locator(".flowkit-run-view")
    summary = view.locator(".flowkit-run-summary")
    expect(summary).to_contain_text("version 1", timeout=ANSWER_TIMEOUT_MS)
    expect(summary).to_contain_text(run.id)

    # The failed node's log is open at once, in monospace, with the task's traceback.
    broken = view.locator(".flowkit-node-row[data-node='broken']")
    log = broken.locator("details.flowkit-node-log pre.flowkit-log")
    expect(log).to_be_visible()
    expect(log).to_contain_text("Traceback (most recent call last)")
    expect(log).to_contain_text("RuntimeError: the e2e service is down")
    assert "mono" in log.evaluate("(e) => getComputedStyle(e).fontFamily").lower()

    # A result folds as a JSON tree; opening it shows every value.
    first = view.locator(".flowkit-node-row[data-node='first']")
    tree = first.locator("details.flowkit-node-result")
    expect(tree.locator(".flowkit-json")).to_be_hidden()
    tree.locator("summary").first.click()
    expect(tree.locator(".flowkit-json").first).to_contain_text("upstream result")

    fix = view.locator("button.flowkit-run-resume")
    expect(fix).to_have_text("Resume with the saved fix (v2)")
    expect(view.locator("button.flowkit-run-resume-original")).to_have_text("Resume as it was (v1)")
    scroll_to_top(view)
    shot(notebook.page, "runs-failed-node-traceback")

    fix.click()
    resumed = panel.locator(".flowkit-run-view .flowkit-run-summary")
    expect(resumed).to_contain_text("version 2", timeout=RUN_TIMEOUT_MS)
    expect(resumed).to_contain_text("success")
    expect(panel.locator(".flowkit-run-view .flowkit-node-row[data-node='first']")).to_contain_text("reused")
    # The list selects the new run and the view stays on it (no flicker back to the failed run).
    expect(panel.locator(".flowkit-runs-list select option:checked")).to_contain_text("success")
    expect(resumed).to_contain_text("version 2")
    expect(resumed).to_contain_text("trigger ui")
    newest = fk.Workspace(workspace.path).runs.list(limit=1)[0]
    assert (newest.trigger, newest.version, newest.status, newest.resumed_from) == ("ui", 2, "success", run.id)
    scroll_to_top(panel.locator(".flowkit-run-view"))
    shot(notebook.page, "runs-resumed-on-the-fix")


SLOW_TASKS = '''
import time


def wait(credentials, params):
    """Wait a while, like a slow service."""
    time.sleep(params.get("seconds", 30))
    return {"success": True, "message": "waited"}
'''


def test_stop_cancels_a_run_and_the_notebook_stays_usable(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    from helpers import write_integration

    write_integration(workspace.path / "integrations", "e2e_slow", SLOW_TASKS)
    workspace.registry.reload()
    workspace.types.create("e2e_slow")
    workspace.integrations.create("Slow", type="e2e_slow", credentials={})
    wf = fk.Workflow("Stoppable")
    wf.add_node("first", integration="Echo", task="echo", params={"text": "a"})
    wf.add_node("wait", integration="Slow", task="wait", params={"seconds": 60}, timeout=120)
    wf.add_node("after", integration="Echo", task="echo", params={"text": "b"})
    wf.connect("first", "wait")
    wf.connect("wait", "after")
    workspace.workflows.save(wf)
    notebook = open_notebook(app_notebook)
    builder = open_in_builder(notebook, "Stoppable")
    expect(builder.locator(".flowkit-canvas g.flowkit-node[data-node='wait']")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    stop = builder.locator("button.flowkit-stop")
    expect(stop).to_be_disabled()
    builder.locator("button.flowkit-run").click()
    wait_box = builder.locator(".flowkit-canvas g.flowkit-node[data-node='wait']")
    expect(wait_box).to_have_attribute("data-status", "running", timeout=RUN_TIMEOUT_MS)
    expect(stop).to_be_enabled()
    stop.click()
    expect(builder.locator(".flowkit-result .flowkit-run-line")).to_have_attribute(
        "data-status", "cancelled", timeout=ANSWER_TIMEOUT_MS
    )
    expect(wait_box).to_have_attribute("data-status", "cancelled")
    expect(builder.locator(".flowkit-canvas g.flowkit-node[data-node='after']")).to_have_attribute(
        "data-status", "skipped"
    )
    expect(stop).to_be_disabled()
    # The notebook answers at once: the form still works while nothing runs.
    builder.locator(".flowkit-node-select select").select_option("after")
    builder.locator("button.flowkit-node-load").click()
    expect(builder.locator(".flowkit-node-name input")).to_have_value("after", timeout=ANSWER_TIMEOUT_MS)
    scroll_to_top(builder)
    shot(notebook.page, "builder-run-stopped")
    cancelled = fk.Workspace(workspace.path).runs.list(limit=1)[0]
    assert cancelled.status == "cancelled" and cancelled.trigger == "ui"
