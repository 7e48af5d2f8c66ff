"""flowkit.testing: the public test doubles users test their workflows with."""

from __future__ import annotations

import os

import pytest

import flowkit as fk
from flowkit.testing import RecordingIntegration, temporary_workspace


def test_recording_integration_records_calls_and_answers(ws: fk.Workspace) -> None:
    rec = RecordingIntegration(ws, answers={"fetch": {"rows": [1, 2]}})
    wf = fk.Workflow("wired")
    wf.add_node("get", integration=rec.integration, task="fetch", params={"table": "t"})
    wf.add_node("tell", integration=rec.integration, task="notify", params={"count": "{{ get.rows | length }}"})
    wf.connect("get", "tell")
    run = ws.run(wf)
    assert run.status == "success"
    assert run.nodes["get"].result["rows"] == [1, 2]
    assert rec.calls == [
        {"task": "fetch", "params": {"table": "t"}, "credential_fields": ["token"]},
        {"task": "notify", "params": {"count": 2}, "credential_fields": ["token"]},
    ]
    rec.reset()
    assert rec.calls == []


def test_recording_integration_never_writes_credential_values(ws: fk.Workspace, canary: str) -> None:
    rec = RecordingIntegration(ws, credentials={"token": canary})
    assert ws.integrations.test(rec.integration)["success"] is True
    assert canary not in rec.calls_path.read_text()
    assert rec.calls[0]["credential_fields"] == ["token"]


def test_recording_integration_can_be_told_to_fail(ws: fk.Workspace) -> None:
    rec = RecordingIntegration(ws, answers={"notify": {"raise": True, "message": "boom"}})
    wf = fk.Workflow("fails")
    wf.add_node("a", integration=rec.integration, task="notify")
    wf.add_node("b", integration=rec.integration, task="fetch")
    wf.connect("a", "b")
    run = ws.run(wf)
    assert run.status == "failed"
    assert "boom" in run.nodes["a"].error
    assert run.nodes["b"].status == "skipped"


def test_recording_integration_refuses_bad_names(ws: fk.Workspace) -> None:
    with pytest.raises(fk.errors.InvalidName):
        RecordingIntegration(ws, name="../evil")
    with pytest.raises(fk.errors.InvalidName):
        RecordingIntegration(ws, tasks=("not valid",))


def test_temporary_workspace_is_isolated_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_SECRET_KEY", "the-users-own-key-never-read")
    before = dict(os.environ)
    with temporary_workspace() as ws:
        path = ws.path
        assert path.is_dir()
        assert dict(os.environ) == before  # nothing in the environment changes, for any thread
        RecordingIntegration(ws)
        assert ws.run(_one_node(ws)).status == "success"  # its own key decrypts, the env's is never read
        assert (path.parent / "config" / "secret.key").exists()
    assert not path.exists()
    assert dict(os.environ) == before


def _one_node(ws: fk.Workspace) -> fk.Workflow:
    wf = fk.Workflow("one")
    wf.add_node("a", integration="recorder (recording)", task="notify")
    return wf
