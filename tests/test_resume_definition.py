"""Resume on the saved fix or as it was (`ws.resume(definition=...)`, `flowkit runs resume`), and `--from NODE`."""

from __future__ import annotations

import pytest
from ui_support import add_demo_integration

import flowkit as fk
from flowkit.cli import main


def broken_then_fixed(ws: fk.Workspace) -> tuple[fk.Run, fk.Workflow]:
    """v1: first → broken (fails) → after; run it; save v2 where `broken` echoes instead."""
    add_demo_integration(ws)
    wf = fk.Workflow("Fixable")
    wf.add_node("first", integration="My Demo", task="echo", params={"text": "a"})
    wf.add_node("broken", integration="My Demo", task="fail")
    wf.add_node("after", integration="My Demo", task="echo", params={"text": "{{ first.text }}!"})
    wf.connect("first", "broken")
    wf.connect("broken", "after")
    ws.workflows.save(wf)
    run = ws.run("Fixable")
    assert run.status == "failed" and run.version == 1
    fixed = ws.workflows.get("Fixable")
    fixed.update_node("broken", integration="My Demo", task="echo", params={"text": "fixed"})
    ws.workflows.save(fixed)
    return run, fixed


def test_resume_runs_the_saved_fix_by_default_and_says_which_version(ws: fk.Workspace) -> None:
    run, _ = broken_then_fixed(ws)
    resumed = ws.resume(run)
    assert resumed.status == "success", resumed.error
    assert resumed.version == 2
    assert resumed.nodes["first"].reused and not resumed.nodes["broken"].reused
    assert resumed.nodes["broken"].result["text"] == "fixed"


def test_resume_as_it_was_reruns_the_original_definition(ws: fk.Workspace) -> None:
    run, _ = broken_then_fixed(ws)
    again = ws.resume(run, definition="original")
    assert again.status == "failed" and again.version == 1
    assert "the demo service is down" in again.nodes["broken"].error


def test_resume_on_the_current_version_reruns_a_changed_upstream_node(ws: fk.Workspace) -> None:
    run, fixed = broken_then_fixed(ws)
    fixed.update_node("first", integration="My Demo", task="echo", params={"text": "b"})
    ws.workflows.save(fixed)
    # The default stays with the original when reused upstream results no longer match the saved version ...
    assert ws.resume(run).version == 1
    # ... and asking for the current one re-runs the changed upstream node instead of reusing it.
    current = ws.resume(run, definition="current")
    assert current.version == 3 and current.status == "success"
    assert not current.nodes["first"].reused and current.nodes["after"].result["text"] == "b!"


def test_an_unknown_definition_is_refused(ws: fk.Workspace) -> None:
    run, _ = broken_then_fixed(ws)
    with pytest.raises(fk.errors.ValidationError, match="current.*original"):
        ws.resume(run, definition="newest")


def test_resume_from_a_node_reruns_it_and_what_follows(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Chain")
    wf.add_node("a", integration="My Demo", task="echo", params={"text": "a"})
    wf.add_node("b", integration="My Demo", task="echo", params={"text": "b"})
    wf.add_node("c", integration="My Demo", task="echo", params={"text": "c"})
    wf.connect("a", "b")
    wf.connect("b", "c")
    ws.workflows.save(wf)
    run = ws.run("Chain")
    again = ws.resume(run, from_node="b")
    assert again.nodes["a"].reused and not again.nodes["b"].reused and not again.nodes["c"].reused
    assert again.resumed_from == run.id


def test_cli_runs_resume_original_and_from(ws: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = broken_then_fixed(ws)
    assert main(["-w", str(ws.path), "runs", "resume", run.id, "--original"]) == 1
    out = capsys.readouterr().out
    assert "version 1" in out and "failed" in out
    assert main(["-w", str(ws.path), "runs", "resume", run.id]) == 0
    out = capsys.readouterr().out
    assert "version 2" in out and "success" in out
    assert main(["-w", str(ws.path), "runs", "resume", run.id, "--from", "first"]) == 0
    newest = ws.runs.list(limit=1)[0]
    assert newest.trigger == "cli" and not newest.nodes["first"].reused


def test_cli_runs_resume_takes_a_timeout_and_a_cancelled_run_resumes(
    ws: fk.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Slow")
    wf.add_node("first", integration="My Demo", task="echo", params={"text": "a"})
    wf.add_node("wait", integration="My Demo", task="slow", params={"seconds": 20}, timeout=60)
    wf.connect("first", "wait")
    ws.workflows.save(wf)
    cancelled = ws.run("Slow", deadline=3)  # time enough for `first` on a busy machine
    assert cancelled.status == "cancelled" and cancelled.nodes["first"].status == "success"
    assert main(["-w", str(ws.path), "runs", "resume", cancelled.id, "--timeout", "1"]) == 6
    again = next(run for run in ws.runs.list() if run.resumed_from == cancelled.id)
    assert again.status == "cancelled" and again.nodes["first"].reused and again.resumed_from == cancelled.id
