"""Stop: a run started from the notebook is cancelled by a button, the notebook stays responsive, and the
cancelled run is recorded ``cancelled`` and can be resumed."""

from __future__ import annotations

import time

from ui_support import add_demo_integration

import flowkit as fk
from flowkit.ui import RunView, WorkflowBuilder


def slow_workflow(ws: fk.Workspace) -> fk.Workflow:
    add_demo_integration(ws)
    wf = fk.Workflow("Slow")
    wf.add_node("first", integration="My Demo", task="echo", params={"text": "a"})
    wf.add_node("wait", integration="My Demo", task="slow", params={"seconds": 3}, timeout=30)
    wf.add_node("after", integration="My Demo", task="echo", params={"text": "b"})
    wf.connect("first", "wait")
    wf.connect("wait", "after")
    ws.workflows.save(wf)
    return ws.workflows.get("Slow")


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


def test_stop_cancels_a_run_from_the_builder_and_it_resumes(ws: fk.Workspace) -> None:
    builder = WorkflowBuilder(ws, slow_workflow(ws))
    assert builder.stop_button.disabled
    started = time.monotonic()
    builder.start_run()
    assert time.monotonic() - started < 1.0  # the notebook is not held while the run goes on
    wait_for(lambda: builder.live.run is not None and builder.live.run.nodes["wait"].status == "running")
    assert not builder.stop_button.disabled
    builder.stop_button.click()
    run = builder.live.wait(10)
    assert run is not None and run.status == "cancelled"
    assert time.monotonic() - started < 3.0, "Stop did not wait for the 3 s node"
    assert run.nodes["wait"].status == "cancelled" and run.nodes["after"].status == "skipped"
    assert run.nodes["wait"].error == "Cancelled: stopped with the Stop button."
    assert builder.stop_button.disabled and "cancelled" in builder.feedback.text
    assert ws.runs.get(run.id).status == "cancelled"
    view = RunView(ws.runs.get(run.id), ws)
    assert not view.resume_button.disabled
    view.resume_button.click()
    resumed = view.live.wait(30)
    assert resumed is not None and resumed.status == "success" and resumed.nodes["first"].reused
