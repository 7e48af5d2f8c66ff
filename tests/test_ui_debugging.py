"""Seeing what happened in the notebook: node logs and tracebacks, results as a JSON tree, the version,
resume on the saved fix or as it was, run from here / only this node, no flicker between runs."""

from __future__ import annotations

import re

import ipywidgets as w
from helpers import write_integration
from ui_support import add_demo_integration

import flowkit as fk
from flowkit.ui import RunView, WorkflowBuilder

LOUD = """
import logging

CREDENTIALS = [{"name": "token", "kind": "password", "required": True}]


def speak(credentials, params):
    print("hello from speak with", credentials["token"])
    logging.getLogger("loud").warning("careful <now>")
    return {"success": True, "message": "spoke",
            "rows": [{"i": i, "name": "row %d" % i} for i in range(params.get("rows", 3))]}


def crash(credentials, params):
    print("about to crash")
    raise RuntimeError("deep failure")
"""


def loud(ws: fk.Workspace, canary: str) -> fk.Workflow:
    write_integration(ws.path / "integrations", "loud", LOUD)
    ws.registry.reload()
    ws.types.create_from_module("loud")
    ws.integrations.create("Loud", type="loud", credentials={"token": canary})
    wf = fk.Workflow("Loud flow")
    wf.add_node("speak", integration="Loud", task="speak", params={"rows": 60})
    wf.add_node("crash", integration="Loud", task="crash")
    wf.connect("speak", "crash")
    ws.workflows.save(wf)
    return ws.workflows.get("Loud flow")


def run_in_builder(builder: WorkflowBuilder) -> fk.Run:
    builder.start_run()
    run = builder.live.wait(30)
    assert run is not None
    return run


def test_node_logs_and_tracebacks_show_in_the_builder_result(ws: fk.Workspace, canary: str) -> None:
    builder = WorkflowBuilder(ws, loud(ws, canary))
    run_in_builder(builder)
    speak = builder.node_table.rows["speak"].value
    crash = builder.node_table.rows["crash"].value
    assert re.search(r'<details class="flowkit-node-log"[^>]*>\s*<summary>', speak)
    assert "hello from speak with ***" in speak and "careful &lt;now&gt;" in speak
    assert '<pre class="flowkit-log"' in speak and "monospace" in speak
    assert "Traceback (most recent call last)" in crash and "RuntimeError: deep failure" in crash
    assert '<details class="flowkit-node-log" open' in crash  # a failure's log is open at once
    assert canary not in builder.node_table.value


def test_the_runs_tab_shows_the_same_logs(ws: fk.Workspace, canary: str) -> None:
    loud(ws, canary)
    run = ws.run("Loud flow")
    view = RunView(ws.runs.get(run.id), ws)
    assert "hello from speak with ***" in view.node_table.rows["speak"].value
    assert "RuntimeError: deep failure" in view.node_table.rows["crash"].value


def test_a_long_result_is_a_collapsible_json_tree_not_cut(ws: fk.Workspace, canary: str) -> None:
    loud(ws, canary)
    run = ws.run("Loud flow")
    row = RunView(run, ws).node_table.rows["speak"].value
    assert '<details class="flowkit-json"' in row
    assert "row 59" in row and "…" not in row


def test_every_run_view_says_which_version_ran(ws: fk.Workspace, canary: str) -> None:
    wf = loud(ws, canary)
    builder = WorkflowBuilder(ws, wf)
    run_in_builder(builder)
    assert "version 1" in builder.result.value
    assert "version 1" in RunView(ws.runs.list(limit=1)[0], ws).summary.value
    draft = fk.Workflow("Draft")
    draft.add_node("speak", integration="Loud", task="speak")
    builder = WorkflowBuilder(ws, draft)
    run_in_builder(builder)
    assert "unsaved" in builder.result.value


def fixable(ws: fk.Workspace) -> fk.Run:
    add_demo_integration(ws)
    wf = fk.Workflow("Fixable")
    wf.add_node("first", integration="My Demo", task="echo", params={"text": "a"})
    wf.add_node("broken", integration="My Demo", task="fail")
    wf.connect("first", "broken")
    ws.workflows.save(wf)
    run = ws.run("Fixable")
    fixed = ws.workflows.get("Fixable")
    fixed.update_node("broken", integration="My Demo", task="echo", params={"text": "fixed"})
    ws.workflows.save(fixed)
    return run


def test_resume_offers_the_saved_fix_and_the_original_and_records_ui(ws: fk.Workspace) -> None:
    run = fixable(ws)
    view = RunView(run, ws)
    assert view.resume_button.description == "Resume with the saved fix (v2)"
    assert view.resume_original_button.description == "Resume as it was (v1)"
    assert view.resume_button.button_style == "primary"  # the default
    view.resume_original_button.click()
    again = view.live.wait(30)
    assert again is not None and again.status == "failed" and again.version == 1 and again.trigger == "ui"
    view.show(run)
    view.resume_button.click()
    fixed = view.live.wait(30)
    assert fixed is not None and fixed.status == "success" and fixed.version == 2 and fixed.trigger == "ui"
    assert "version 2" in view.summary.value


def test_without_a_newer_version_resume_offers_only_as_it_was(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Plain")
    wf.add_node("broken", integration="My Demo", task="fail")
    ws.workflows.save(wf)
    view = RunView(ws.run("Plain"), ws)
    assert view.resume_button.description == "Resume (v1)"
    assert view.resume_original_button.layout.display == "none"


def test_run_from_here_and_only_this_node_reuse_the_last_run(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Chain")
    for name in ("a", "b", "c"):
        wf.add_node(name, integration="My Demo", task="echo", params={"text": name})
    wf.connect("a", "b")
    wf.connect("b", "c")
    builder = WorkflowBuilder(ws, wf)
    first = run_in_builder(builder)
    builder.node_select.value = "b"
    builder.run_from_button.click()
    from_here = builder.live.wait(30)
    assert from_here is not None and from_here.id != first.id
    assert from_here.nodes["a"].reused and not from_here.nodes["b"].reused and not from_here.nodes["c"].reused
    builder.run_only_button.click()
    only = builder.live.wait(30)
    assert only is not None and set(only.nodes) == {"a", "b"} and not only.nodes["b"].reused
    assert only.trigger == "ui"


def test_a_second_run_does_not_blank_the_view(ws: fk.Workspace, canary: str) -> None:
    builder = WorkflowBuilder(ws, loud(ws, canary))
    run_in_builder(builder)
    seen: list[str] = []
    rows_before = dict(builder.node_table.rows)
    for widget in (builder.picture, builder.result):
        widget.observe(lambda change: seen.append(change["new"]), names="value")
    run_in_builder(builder)
    assert "" not in seen
    assert all(builder.node_table.rows[name] is row for name, row in rows_before.items())
    assert isinstance(builder.node_table.widget, w.VBox)


SLOW = """
import os
import time


def talk(credentials, params):
    print("step 1 of 2")
    deadline = time.monotonic() + 20
    while not os.path.exists(params["flag"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    print("step 2 of 2")
    return {"success": True, "message": "talked"}
"""


def test_a_running_nodes_output_shows_while_it_runs(ws: fk.Workspace, tmp_path) -> None:
    import time

    write_integration(ws.path / "integrations", "slowtalk", SLOW)
    ws.registry.reload()
    ws.types.create("slowtalk")
    ws.integrations.create("Talk", type="slowtalk", credentials={})
    flag = tmp_path / "go"
    wf = fk.Workflow("Talking")
    wf.add_node("talk", integration="Talk", task="talk", params={"flag": str(flag)})
    builder = WorkflowBuilder(ws, wf)
    builder.start_run()
    deadline = time.monotonic() + 15
    while "step 1 of 2" not in builder.node_table.value and time.monotonic() < deadline:
        time.sleep(0.02)
    row = builder.node_table.rows["talk"].value
    assert builder.live.running and 'data-status="running"' in row
    assert "step 1 of 2" in row and "step 2 of 2" not in row and "flowkit-node-log-live" in row
    flag.write_text("go")
    run = builder.live.wait(30)
    assert run is not None and run.status == "success"
    assert "step 2 of 2" in builder.node_table.rows["talk"].value
    assert "node_output" in builder.live.events


def test_output_events_carry_the_masked_log_so_far_on_the_driver_thread(ws: fk.Workspace, canary: str) -> None:
    import threading

    loud(ws, canary)
    seen: list[tuple[str, str, int]] = []
    run = ws.run(
        "Loud flow",
        on_event=lambda e: seen.append((e.node, e.text, threading.get_ident())) if e.kind == "node_output" else None,
    )
    assert run.status == "failed"
    texts = [text for node, text, _ in seen if node == "speak"]
    assert texts and "hello from speak with ***" in texts[0] and canary not in "".join(texts)
    assert {ident for *_, ident in seen} == {threading.get_ident()}


def test_choosing_another_run_updates_the_same_view_in_place(ws: fk.Workspace, canary: str) -> None:
    from flowkit.ui.run_view import RunsPanel

    loud(ws, canary)
    first, second = ws.run("Loud flow"), ws.run("Loud flow")
    panel = RunsPanel(ws)
    panel.list.value = first.id
    view, children = panel.view, panel.detail.children
    assert view is not None and first.id in view.summary.value
    panel.list.value = second.id
    assert panel.view is view and panel.detail.children == children
    assert second.id in view.summary.value and first.id not in view.summary.value
