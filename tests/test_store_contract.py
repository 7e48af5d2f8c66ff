"""The store contract: what the workspace relies on, checked on every backend (files and memory).

`Store` and `RunLog` are the only way collections and run history are kept,
so each backend must behave the same: documents copied in and out, names
unique, an atomic insert-if-new, a re-entrant lock, runs listed newest first
with their events replayed. Then the whole public path (types, integrations,
workflows, runs, resume) runs on each backend through `fk.Workspace(store=...)`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from helpers import write_integration

import flowkit as fk
from flowkit import errors
from flowkit.crypto import KeySource
from flowkit.store import FileStore, MemoryStore, Store


@pytest.fixture(params=["files", "folders", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Each backend; "folders" keeps every collection as a folder with a file per document."""
    if request.param == "memory":
        return MemoryStore()
    folders = ("things", "empty") if request.param == "folders" else ()
    return FileStore(tmp_path / "ws", folders=folders)


def test_documents_are_copied_in_and_out(store: Store) -> None:
    doc = {"name": "a", "items": [1]}
    store.upsert("things", doc)
    doc["items"].append(2)
    got = store.get("things", "a")
    assert got == {"name": "a", "items": [1]}
    got["items"].append(3)
    assert store.all("things") == [{"name": "a", "items": [1]}]


def test_insert_new_refuses_a_taken_name_and_keeps_the_first(store: Store) -> None:
    assert store.insert_new("things", {"name": "a", "v": 1}) is True
    assert store.insert_new("things", {"name": "a", "v": 2}) is False
    assert store.get("things", "a") == {"name": "a", "v": 1}
    assert store.count("things") == 1


def test_upsert_update_many_and_delete(store: Store) -> None:
    store.upsert("things", {"name": "a", "v": 1})
    store.upsert("things", {"name": "b", "v": 1})
    store.upsert("things", {"name": "a", "v": 2})
    store.update_many("things", {"b": {"v": 9}, "missing": {"v": 0}})
    assert sorted((d["name"], d["v"]) for d in store.all("things")) == [("a", 2), ("b", 9)]
    assert store.delete("things", "a") is True
    assert store.delete("things", "a") is False
    assert store.get("things", "a") is None and store.all("empty") == []


def test_values_must_be_strict_json(store: Store) -> None:
    with pytest.raises(errors.NotJSONError):
        store.upsert("things", {"name": "a", "v": float("nan")})
    assert store.all("things") == []


def test_the_lock_is_reentrant_and_excludes_other_threads(store: Store) -> None:
    order: list[str] = []
    with store.locked():
        with store.locked():
            other = threading.Thread(target=lambda: (store.locked().__enter__(), order.append("other")))
            other.start()
            other.join(0.3)
            order.append("holder")
    other.join(5)
    assert order == ["holder", "other"]


def test_run_log_replays_events_and_lists_newest_first(store: Store) -> None:
    log = store.runs
    for run_id in ("r1", "r2"):
        log.save({"id": run_id, "workflow": "w", "status": "running", "nodes": {}}, {"id": run_id, "workflow": "w"})
    events = log.open_events("r2")
    events.write('{"name": "a", "status": "success"}\n')
    events.flush()
    assert log.load("r2")["nodes"] == {"a": {"name": "a", "status": "success"}}
    events.close()
    log.finish({"id": "r1", "workflow": "w", "status": "success", "nodes": {}}, {"id": "r1", "workflow": "w"})
    assert [entry["id"] for entry in log.list()] == ["r1", "r2"]
    log.delete("r2")
    assert [entry["id"] for entry in log.list(workflow="w")] == ["r1"]
    with pytest.raises(errors.RunNotFound):
        log.load("r2")


TASKS = '''
def echo(credentials, params):
    """Say what it was given."""
    if params.get("fail"):
        raise RuntimeError("told to fail")
    return {"success": True, "message": f"got {params.get('text')}", "text": params.get("text")}
'''


def test_the_whole_path_runs_on_each_store(any_ws: fk.Workspace, canary: str) -> None:
    ws = any_ws
    write_integration(ws.path / "integrations", "echoer", TASKS)
    ws.types.create("echoer", params=[fk.Param("token", kind="password", required=True)])
    ws.integrations.create("Echo", type="echoer", credentials={"token": canary})
    with pytest.raises(errors.AlreadyExistsError):
        ws.integrations.create("Echo", type="echoer", credentials={"token": canary})
    wf = fk.Workflow("Pair")
    wf.add_node("first", integration="Echo", task="echo", params={"text": "{{ inputs.word }}", "fail": True})
    wf.add_node("second", integration="Echo", task="echo", params={"text": "{{ first.text }}!"})
    wf.connect("first", "second")
    assert ws.workflows.save(wf).version == 1
    failed = ws.run("Pair", inputs={"word": "hi"})
    assert failed.status == "failed" and failed.nodes["second"].status == "skipped"
    wf.update_node("first", params={"text": "{{ inputs.word }}"})
    assert ws.workflows.save(wf).version == 2
    done = ws.run("Pair", inputs={"word": "hi"})
    assert done.status == "success" and done.nodes["second"].result["text"] == "hi!"
    assert [run.id for run in ws.runs.list(workflow="Pair")] == [done.id, failed.id]
    assert ws.runs.get(done.id).nodes["first"].result["message"] == "got hi"
    resumed = ws.resume(failed, definition="original")  # as it ran (v1): fails again
    assert resumed.resumed_from == failed.id and resumed.nodes["first"].status == "failed"
    fixed = ws.resume(failed)  # by default on the saved fix (v2), issue 14
    assert fixed.resumed_from == failed.id and fixed.version == 2 and fixed.status == "success"
    with pytest.raises(errors.InUseError):
        ws.integrations.delete("Echo")
    ws.workflows.delete("Pair")
    ws.integrations.delete("Echo")
    assert ws.integrations.list() == [] and ws.info()["workflows"] == 0


def test_a_memory_workspace_writes_no_collection_files(tmp_path: Path) -> None:
    ws = fk.Workspace(tmp_path / "ws", store=MemoryStore())
    ws.types.create("http", params=[fk.Param("base_url")])
    assert not list((tmp_path / "ws").glob("*.json")) and not (tmp_path / "ws" / "runs").exists()


def test_keys_come_from_the_injected_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_SECRET_KEY", "not-a-key-and-never-read")
    ws = fk.Workspace(tmp_path / "ws", keys=KeySource(tmp_path / "keys"))
    ws.types.create("http", params=[fk.Param("token", kind="password")])
    ws.integrations.create("H", type="http", credentials={"token": "t0ken"})
    assert (tmp_path / "keys" / "secret.key").is_file()
    assert (
        fk.Workspace(tmp_path / "ws", keys=KeySource(tmp_path / "keys")).integrations.get("H").credentials["token"]
        == "t0ken"
    )
    monkeypatch.delenv("FLOWKIT_SECRET_KEY")
    with pytest.raises(errors.SecretKeyError):  # the default source does not know that key
        fk.Workspace(tmp_path / "ws").integrations.get("H").credentials["token"]


def test_jobs_refuse_a_workspace_kept_in_memory(tmp_path: Path) -> None:
    ws = fk.Workspace(tmp_path / "ws", store=MemoryStore())
    with pytest.raises(errors.JobError, match="opens the workspace from its folder"):
        fk.jobs.run_job(ws, "Anything")


def test_put_many_adds_replaces_and_drops_in_one_change(store: Store) -> None:
    store.upsert("things", {"name": "a", "v": 1})
    store.upsert("things", {"name": "b", "v": 1})
    store.put_many("things", [{"name": "a", "v": 2}, {"name": "c", "v": 3}], drop=["b", "missing"])
    assert sorted((doc["name"], doc["v"]) for doc in store.all("things")) == [("a", 2), ("c", 3)]
    store.put_many("things", [], drop=["a", "c"])
    assert store.all("things") == []
