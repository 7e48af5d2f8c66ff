"""The Runs tab and RunView: history with filters, a run's DAG and details, Resume."""

from __future__ import annotations

import re

from ui_support import add_demo_integration

import flowkit as fk
from flowkit.ui import RunsPanel, RunView


def statuses(html_text: str) -> dict[str, str]:
    return dict(re.findall(r'<g class="flowkit-node" data-node="([^"]+)" data-status="([^"]+)"', html_text))


def flaky_workflow(ws: fk.Workspace, flag: str) -> fk.Workflow:
    """`first` succeeds; `gate` fails until the file `flag` exists; `after` depends on `gate`."""
    from helpers import write_integration

    write_integration(
        ws.path / "integrations",
        "gate",
        f"""
        import os


        def check(credentials, params):
            if os.path.exists({flag!r}):
                return {{"success": True, "message": "open"}}
            return {{"success": False, "message": "closed"}}
    """,
    )
    ws.registry.reload()
    ws.types.create("gate")
    ws.integrations.create("Gate", type="gate", credentials={})
    wf = fk.Workflow("Flaky")
    wf.add_node("first", integration="My Demo", task="free")
    wf.add_node("gate", integration="Gate", task="check")
    wf.add_node("after", integration="My Demo", task="free")
    wf.connect("first", "gate")
    wf.connect("gate", "after")
    ws.workflows.save(wf)
    return wf


def test_run_view_shows_summary_dag_and_nodes(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Two")
    wf.add_node("a", integration="My Demo", task="echo", params={"text": "hey"})
    wf.add_node("b", integration="My Demo", task="fail")
    run = ws.run(wf)
    view = RunView(run)
    assert f"run <code>{run.id}</code>" in view.summary.value and "failed" in view.summary.value
    assert statuses(view.picture.value) == {"a": "success", "b": "failed"}
    assert 'class="flowkit-legend"' in view.picture.value
    assert 'class="flowkit-node-row" data-node="b" data-status="failed"' in view.node_table.value
    assert "the demo service is down" in view.node_table.value and "heyhey" not in view.node_table.value
    assert "hey" in view.node_table.value
    assert view.resume_button.disabled  # no workspace: read-only
    view.resume_button.click()  # disabled in the browser; the handler still answers if called
    assert view.feedback.text == "This view has no workspace to resume in; use RunView(run, ws)."


def test_resume_reruns_the_failed_part_live(ws: fk.Workspace, tmp_path) -> None:
    add_demo_integration(ws)
    flag = tmp_path / "open"
    flaky_workflow(ws, str(flag))
    first = ws.run("Flaky")
    assert first.status == "failed"
    resumed: list[fk.Run] = []
    view = RunView(first, ws, on_resumed=resumed.append)
    assert not view.resume_button.disabled
    flag.write_text("yes")
    view.resume_button.click()
    run = view.live.wait(timeout=30)
    assert run is not None and run.status == "success" and run.resumed_from == first.id
    assert view.run.id == run.id and resumed == [run]
    assert view.feedback.text == f"Resumed as run {run.id}: success."
    assert statuses(view.picture.value) == {"first": "success", "gate": "success", "after": "success"}
    assert run.nodes["first"].reused and not run.nodes["gate"].reused
    assert view.resume_button.disabled  # a successful run has nothing to resume
    view.resume_button.click()  # disabled in the browser; the handler still answers if called
    assert view.feedback.is_error and "only a failed or cancelled run can be resumed" in view.feedback.text


def test_runs_panel_lists_filters_and_shows_a_run(ws: fk.Workspace, tmp_path) -> None:
    add_demo_integration(ws)
    flaky_workflow(ws, str(tmp_path / "never"))
    other = fk.Workflow("Other")
    other.add_node("x", integration="My Demo", task="free")
    ws.workflows.save(other)
    failed = ws.run("Flaky")
    ok = ws.run("Other")
    panel = RunsPanel(ws)
    assert [value for _, value in panel.list.options] == [ok.id, failed.id]  # newest first
    assert panel.workflow.options == ("(all)", "Flaky", "Other")
    panel.status.value = "failed"
    assert [value for _, value in panel.list.options] == [failed.id]
    panel.status.value = "(all)"
    panel.workflow.value = "Other"
    assert [value for _, value in panel.list.options] == [ok.id]
    assert panel.list.options[0][0].endswith(" · Other v1 · success")  # the version that ran
    panel.list.value = ok.id
    assert panel.view is not None and panel.view.run.id == ok.id
    assert panel.detail.children == (panel.view.widget,)
    panel.status.value = "failed"
    assert panel.list.options == () and panel.feedback.text == "No runs match." and panel.view is None


def test_runs_panel_resume_selects_the_new_run(ws: fk.Workspace, tmp_path) -> None:
    add_demo_integration(ws)
    flag = tmp_path / "open"
    flaky_workflow(ws, str(flag))
    failed = ws.run("Flaky")
    panel = RunsPanel(ws)
    panel.list.value = failed.id
    flag.write_text("yes")
    assert panel.view is not None
    panel.view.resume_button.click()
    new = panel.view.live.wait(timeout=30)
    assert new is not None
    assert panel.list.value == new.id and [v for _, v in panel.list.options] == [new.id, failed.id]
    assert panel.view.run.id == new.id


def test_panel_refresh_picks_up_new_runs(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    panel = RunsPanel(ws)
    assert panel.list.options == ()
    wf = fk.Workflow("Later")
    wf.add_node("x", integration="My Demo", task="free")
    ws.workflows.save(wf)
    run = ws.run("Later")
    panel.refresh_button.click()
    assert [v for _, v in panel.list.options] == [run.id] and "Later" in panel.workflow.options


def test_runs_panel_lists_the_healthy_runs_and_names_a_damaged_one(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Later")
    wf.add_node("x", integration="My Demo", task="free")
    ws.workflows.save(wf)
    first, second = ws.run("Later"), ws.run("Later")
    damaged = ws.store.runs.folder / f"{first.id}.json"
    damaged.write_bytes(damaged.read_bytes()[:50])
    panel = RunsPanel(ws)
    assert [v for _, v in panel.list.options] == [second.id]
    assert panel.feedback.is_error and "1 run(s) not listed" in panel.feedback.text
    assert str(damaged) in panel.feedback.text
