"""The store under load, crashes and damage (RELIABILITY rows 8–11) and the run history."""

from __future__ import annotations

import json
import os
import random
import socket
import time
from pathlib import Path

import pytest
from forked import child_errors, fork, kill, wait
from helpers import write_integration

import flowkit as fk
from flowkit import errors
from flowkit.atomic import atomic_write
from flowkit.store import CHECKSUM_KEY, RunStore

TOKEN = fk.Param("token", kind="password", required=True)


def strict_json(path: Path) -> object:
    """Parse a file as strict JSON (NaN / Infinity refused), or fail the test."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}, which is not strict JSON")

    return json.loads(path.read_bytes(), parse_constant=refuse)


def stored_docs(path: Path) -> list[dict]:
    """The documents of a collection file, read without flowkit."""
    data = strict_json(path)
    assert isinstance(data, dict)
    return list(data.get("_default", {}).values())


def temp_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob(".*.tmp-*")]


# -- atomic files --------------------------------------------------------------------
def test_collection_files_are_strict_json_with_a_checksum(ws: fk.Workspace) -> None:
    ws.types.create("demo", description="a type", params=[TOKEN], check_module=False)
    raw = ws.store.path("types").read_bytes()
    data = strict_json(ws.store.path("types"))
    assert data[CHECKSUM_KEY].startswith("sha256:")
    assert raw.endswith(b'"}')
    assert [doc["name"] for doc in stored_docs(ws.store.path("types"))] == ["demo"]
    assert temp_files(ws.path) == []


def test_a_workspace_path_that_cannot_be_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    for path in (tmp_path / "a-file", tmp_path / "a-file" / "below"):
        with pytest.raises(errors.StoreError, match="Cannot use .* as a workspace folder"):
            fk.Workspace(path)
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_a_failed_atomic_write_leaves_the_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.mkdir()  # os.replace onto a folder fails after the temp file was written
    (target / "inside").write_text("old")
    with pytest.raises(OSError):
        atomic_write(target, b"{}")
    assert (target / "inside").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


# -- concurrent writers (row 8) ------------------------------------------------------
def _write_types(root: Path, proc: int, creates: int, updates: int) -> None:
    ws = fk.Workspace(root)
    for i in range(creates):
        ws.types.create(f"p{proc}_{i}", description="created", check_module=False)
    for i in range(updates):
        ws.types.save(fk.IntegrationType(f"p{proc}_{i}", description=f"updated by {proc}"))


def _write_integrations(root: Path, proc: int, creates: int, updates: int) -> None:
    ws = fk.Workspace(root)
    for i in range(creates):
        ws.integrations.create(f"p{proc}-{i}", type="demo", credentials={"token": f"created-{proc}-{i}"})
    for i in range(updates):
        ws.integrations.update(f"p{proc}-{i}", credentials={"token": f"updated-{proc}-{i}"})


def _run_writers(tmp_path: Path, target, root: Path, creates: int, updates: int) -> None:
    errors_dir = tmp_path / f"errors-{root.name}"
    pids = [fork(target, root, proc, creates, updates, errors=errors_dir) for proc in range(4)]
    codes = [wait(pid, timeout=240) for pid in pids]
    assert child_errors(errors_dir) == ""
    assert codes == [0, 0, 0, 0]


def _check_names(path: Path, expected: set[str]) -> list[dict]:
    docs = stored_docs(path)
    names = [doc["name"] for doc in docs]
    assert len(names) == len(set(names)), "duplicate records"
    assert set(names) == expected
    return docs


@pytest.mark.parametrize("repeat", range(3))
def test_four_processes_create_and_update_types_without_loss(tmp_path: Path, repeat: int) -> None:
    root = tmp_path / f"ws{repeat}"
    fk.Workspace(root)
    _run_writers(tmp_path, _write_types, root, 200, 100)
    docs = _check_names(fk.Workspace(root).store.path("types"), {f"p{p}_{i}" for p in range(4) for i in range(200)})
    descriptions = {doc["name"]: doc["description"] for doc in docs}
    for proc in range(4):
        assert all(descriptions[f"p{proc}_{i}"] == f"updated by {proc}" for i in range(100))
        assert all(descriptions[f"p{proc}_{i}"] == "created" for i in range(100, 200))
    assert temp_files(root) == []


@pytest.mark.slow
def test_four_processes_create_and_update_integrations_ten_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full row 8: encrypted records, and each repeat starts with no key, so four processes race to make it."""
    for repeat in range(10):
        monkeypatch.setenv("FLOWKIT_CONFIG_DIR", str(tmp_path / f"config{repeat}"))
        root = tmp_path / f"ws{repeat}"
        fk.Workspace(root).types.create("demo", params=[TOKEN], check_module=False)
        _run_writers(tmp_path, _write_integrations, root, 200, 100)
        ws = fk.Workspace(root)
        _check_names(ws.store.path("integrations"), {f"p{p}-{i}" for p in range(4) for i in range(200)})
        for integration in ws.integrations.list():
            proc, i = integration.name[1:].split("-")
            verb = "updated" if int(i) < 100 else "created"
            assert integration.credentials["token"] == f"{verb}-{proc}-{i}"


def _insert_five(root: Path) -> None:
    ws = fk.Workspace(root)
    for i in range(5):
        ws.types.create(f"from_b_{i}", check_module=False)


def test_a_reader_sees_another_process_writes_and_inserts_after_them(tmp_path: Path) -> None:
    """Row 9: A reads, B inserts 5, A reads and inserts; no stale cache anywhere."""
    root = tmp_path / "ws"
    a = fk.Workspace(root)
    a.types.create("from_a_0", check_module=False)
    assert [t.name for t in a.types.list()] == ["from_a_0"]
    assert wait(fork(_insert_five, root, errors=tmp_path / "errors")) == 0
    assert len(a.types.list()) == 6
    a.types.create("from_a_1", check_module=False)
    assert a.types.get("from_b_4").name == "from_b_4"
    raw = strict_json(a.store.path("types"))["_default"]
    assert len(raw) == 7 and len(set(raw)) == 7  # seven distinct TinyDB ids
    assert sorted(t.name for t in a.types.list()) == sorted(
        ["from_a_0", "from_a_1", *(f"from_b_{i}" for i in range(5))]
    )


def _hold_lock(root: Path, ready: Path, release: Path) -> None:
    ws = fk.Workspace(root)
    with ws.store.locked():
        ready.touch()
        while not release.exists():
            time.sleep(0.01)


def test_a_held_lock_times_out_with_a_message_naming_the_lock_file(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = fk.Workspace(root, lock_timeout=0.3)
    ready, release = tmp_path / "ready", tmp_path / "release"
    pid = fork(_hold_lock, root, ready, release, errors=tmp_path / "errors")
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(errors.LockTimeout, match=r"\.lock for 0.3 s") as caught:
            ws.types.create("blocked", check_module=False)
        assert "delete" not in str(caught.value)  # the holder is alive: deleting the lock would break it
    finally:
        release.touch()
        assert wait(pid) == 0
    assert ws.types.list() == []
    ws.types.create("after", check_module=False)


# -- SIGKILL mid-write (row 10) ------------------------------------------------------
def _insert_and_shrink(root: Path, ack_fd: int, start: int) -> None:
    """Insert integrations and shrink one big type, writing each name to `ack_fd` once acknowledged."""
    ws = fk.Workspace(root)
    size = 60_000
    for i in range(start, start + 10_000):
        ws.integrations.create(f"n{i}", type="demo", credentials={"token": f"secret-{i}"})
        os.write(ack_fd, f"n{i}\n".encode())
        size = max(10, size - 997)
        ws.types.save(fk.IntegrationType("big", description="x" * size))
        os.write(ack_fd, f"big:{size}\n".encode())


def _kill_during_writes(tmp_path: Path, kills: int) -> None:
    root = tmp_path / "ws"
    ws = fk.Workspace(root)
    ws.types.create("demo", params=[TOKEN], check_module=False)
    ws.types.save(fk.IntegrationType("big", description="x" * 60_000))
    for i in range(300):  # a few hundred records, so that each write takes a while
        ws.integrations.create(f"seed{i}", type="demo", credentials={"token": f"seed-{i}"})
    acknowledged: set[str] = {f"seed{i}" for i in range(300)}
    rng = random.Random(1234)
    unreadable = lost = orphans = mid_write = attempt = 0
    # Where a random kill lands depends on the machine's speed: keep killing (up to 3× as many) until
    # at least a tenth of the kills hit a write in progress, so the test always means something.
    while attempt < kills or (mid_write < kills // 10 and attempt < 3 * kills):
        attempt += 1
        read_fd, write_fd = os.pipe()
        pid = fork(_insert_and_shrink, root, write_fd, attempt * 10_000, errors=tmp_path / "errors")
        os.close(write_fd)
        time.sleep(rng.uniform(0.005, 0.12))
        kill(pid)
        with os.fdopen(read_fd, "rb") as pipe:
            acks = pipe.read().decode().split()
        names = [ack for ack in acks if not ack.startswith("big:")]
        sizes = [int(ack[4:]) for ack in acks if ack.startswith("big:")]
        acknowledged.update(names)
        mid_write += bool(temp_files(root))
        try:
            reopened = fk.Workspace(root)  # sweeps temp files of dead writers
            stored = {integration.name for integration in reopened.integrations.list()}
            big = reopened.types.get("big")
        except errors.CorruptStoreError:
            unreadable += 1
            continue
        lost += len(acknowledged - stored)
        orphans += len(temp_files(root))
        if sizes:  # the shrinking update: the last acknowledged size, or the next one in flight
            assert len(big.description) in (sizes[-1], max(10, sizes[-1] - 997))
        strict_json(reopened.store.path("integrations"))
        strict_json(reopened.store.path("types"))
    assert child_errors(tmp_path / "errors") == ""
    assert (unreadable, lost, orphans) == (0, 0, 0)
    # The kills must land inside writes for the test to mean anything.
    assert mid_write >= kills // 10, f"only {mid_write} of {attempt} kills left a write half done"
    print(f"{attempt} kills, {mid_write} mid-write, {len(acknowledged)} acknowledged writes kept")
    # Every record is whole: each one decrypts.
    for integration in fk.Workspace(root).integrations.list():
        assert integration.credentials["token"].startswith(("seed-", "secret-"))


def test_sigkill_during_inserts_and_shrinking_updates_loses_nothing(tmp_path: Path) -> None:
    _kill_during_writes(tmp_path, kills=30)


@pytest.mark.slow
def test_sigkill_a_hundred_times(tmp_path: Path) -> None:
    _kill_during_writes(tmp_path, kills=100)


def test_an_orphan_temp_file_is_swept_but_a_live_writers_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    fk.Workspace(root)
    dead_pid = fork(lambda: None, errors=tmp_path / "errors")
    wait(dead_pid)
    orphan = root / f".types.json.tmp-{dead_pid}-0a1b2c3d"
    live = root / f".types.json.tmp-{os.getpid()}-0a1b2c3d"
    run_orphan = root / "runs" / f".x.json.tmp-{dead_pid}-deadbeef"
    run_orphan.parent.mkdir()
    for path in (orphan, live, run_orphan):
        path.write_text("{half")
    fk.Workspace(root)
    assert not orphan.exists() and not run_orphan.exists()
    assert live.exists()


# -- damaged files (row 11) ----------------------------------------------------------
def _populated(tmp_path: Path) -> fk.Workspace:
    ws = fk.Workspace(tmp_path / "ws")
    ws.types.create("demo", description="a demo", params=[TOKEN, fk.Param("team", default="ops")], check_module=False)
    ws.integrations.create("My Demo", type="demo", credentials={"token": "tok-123456"})
    return ws


DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "garbage appended": lambda raw: raw + b"\x1b[0mgarbage",
    "NUL block": lambda raw: raw[:40] + b"\x00" * 512 + raw[40:],
    "NUL block replacing content": lambda raw: raw[:40] + b"\x00" * (len(raw) - 40),
    "flipped byte in a value": lambda raw: raw.replace(b"a demo", b"a dEmo"),
    "flipped byte in the token": lambda raw: _flip(raw, raw.index(b"gAAAA") + 30),
    "empty file": lambda raw: b"",
    "whitespace only": lambda raw: b"   \n",
    "not an object": lambda raw: b"[1, 2]",
    "NaN": lambda raw: b'{"_default": {"1": {"name": "x", "n": NaN}}}',
    "not UTF-8": lambda raw: raw[:20] + b"\xff\xfe" + raw[22:],
}


def _flip(raw: bytes, position: int, bit: int = 0x01) -> bytes:
    return raw[:position] + bytes([raw[position] ^ bit]) + raw[position + 1 :]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_file_is_reported_with_path_and_reason_and_never_overwritten(tmp_path: Path, damage: str) -> None:
    ws = _populated(tmp_path)
    name = "types" if damage in ("flipped byte in a value",) else "integrations"
    path = ws.store.path(name)
    damaged = DAMAGE[damage](path.read_bytes())
    path.write_bytes(damaged)
    reopened = fk.Workspace(ws.path)
    collection = reopened.types if name == "types" else reopened.integrations
    with pytest.raises(errors.CorruptStoreError) as caught:
        collection.list()
    assert caught.value.path == str(path)
    assert caught.value.reason and caught.value.reason in str(caught.value)
    assert str(path) in str(caught.value)
    assert "move it aside" in str(caught.value)
    # Writes are refused too, and leave the bytes as they were.
    with pytest.raises(errors.CorruptStoreError):
        if name == "types":
            reopened.types.create("other", check_module=False)
        else:
            reopened.integrations.create("Other", type="demo", credentials={"token": "x"})
    with pytest.raises(errors.CorruptStoreError):
        collection.delete("demo" if name == "types" else "My Demo")
    assert path.read_bytes() == damaged
    assert temp_files(ws.path) == []


def test_every_single_bit_flip_anywhere_in_a_file_is_detected(tmp_path: Path) -> None:
    ws = _populated(tmp_path)
    path = ws.store.path("types")
    original = path.read_bytes()
    escaped = []
    for position in range(len(original)):
        for bit in (0x01, 0x20, 0x80):
            path.write_bytes(_flip(original, position, bit))
            try:
                ws.store.all("types")
            except errors.CorruptStoreError:
                continue
            escaped.append((position, bit, original[max(0, position - 10) : position + 10]))
    path.write_bytes(original)
    assert escaped == []
    assert [t.name for t in ws.types.list()] == ["demo"]


def test_a_damaged_file_can_be_moved_aside_to_start_the_collection_empty(tmp_path: Path) -> None:
    ws = _populated(tmp_path)
    path = ws.store.path("types")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(errors.CorruptStoreError):
        ws.types.list()
    path.rename(path.with_name("types.json.damaged"))
    assert ws.types.list() == []
    ws.types.create("demo", params=[TOKEN], check_module=False)
    assert ws.integrations.get("My Demo").credentials["token"] == "tok-123456"


def test_a_hand_edit_is_accepted_once_its_checksum_entry_is_removed(tmp_path: Path) -> None:
    ws = _populated(tmp_path)
    path = ws.store.path("types")
    data = json.loads(path.read_bytes())
    data["_default"]["1"]["description"] = "edited by hand"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(errors.CorruptStoreError, match=CHECKSUM_KEY):
        ws.types.get("demo")
    del data[CHECKSUM_KEY]
    path.write_text(json.dumps(data, indent=2))
    assert ws.types.get("demo").description == "edited by hand"
    ws.types.create("second", check_module=False)  # rewritten by flowkit: checksummed again
    assert strict_json(path)[CHECKSUM_KEY].startswith("sha256:")


# -- run history ---------------------------------------------------------------------
def _run(workflow: str, status: str = "success", started_at: float | None = None, **extra) -> fk.Run:
    run = fk.Run(workflow=workflow, status=status, **extra)
    if started_at is not None:
        run.started_at = started_at
    run.nodes = {"a": fk.NodeRun("a", status="success", attempts=1, result={"success": True, "message": "ok"})}
    run.finished_at = run.started_at + 1.5
    return run


def test_runs_save_load_and_list_newest_first_with_filters(ws: fk.Workspace) -> None:
    saved = []
    for i in range(12):
        run = _run("alpha" if i % 3 else "beta", status="failed" if i % 4 == 0 else "success", started_at=1_000 + i)
        ws.runs.save(run)
        saved.append(run)
    loaded = ws.runs.get(saved[5].id)
    assert loaded == saved[5]
    assert loaded.nodes["a"].result == {"success": True, "message": "ok"}
    newest = ws.runs.list(limit=None)
    assert [run.id for run in newest] == [run.id for run in reversed(saved)]
    assert [run.id for run in ws.runs.list(limit=3)] == [run.id for run in saved[:-4:-1]]
    betas = ws.runs.list(workflow="beta", limit=None)
    assert [run.id for run in betas] == [run.id for run in reversed(saved) if run.workflow == "beta"]
    failed_alpha = ws.runs.list(workflow="alpha", status="failed", limit=None)
    assert [run.id for run in failed_alpha] == [
        run.id for run in reversed(saved) if run.workflow == "alpha" and run.status == "failed"
    ]
    assert failed_alpha
    assert ws.runs.list(workflow="nobody") == []


def test_a_run_saved_at_start_then_at_end_is_listed_once_with_its_final_status(ws: fk.Workspace) -> None:
    run = _run("alpha", status="running")
    ws.runs.save(run, final=False)
    assert [r.status for r in ws.runs.list()] == ["running"]
    run.status = "success"
    ws.runs.save(run)
    assert [(r.id, r.status) for r in ws.runs.list()] == [(run.id, "success")]
    assert ws.runs.list(status="running") == []


def test_deleting_a_run_removes_it_and_unknown_ids_are_not_found(ws: fk.Workspace) -> None:
    keep, drop = _run("alpha"), _run("alpha")
    ws.runs.save(keep)
    ws.runs.save(drop)
    ws.runs.delete(drop.id)
    assert [r.id for r in ws.runs.list()] == [keep.id]
    for bad in (drop.id, "../../etc/passwd", "", "a/b", "x" * 200):
        with pytest.raises(errors.RunNotFound):
            ws.runs.get(bad)
    with pytest.raises(errors.RunNotFound):
        ws.runs.delete(drop.id)


def _start_run_and_die(root: Path, run_id: str) -> None:
    """Start a run, finish node a, start node b, and get SIGKILLed by the parent."""
    ws = fk.Workspace(root)
    run = fk.Run(workflow="alpha", id=run_id, pid=os.getpid(), host=socket.gethostname())
    run.nodes = {name: fk.NodeRun(name) for name in ("a", "b", "c")}
    ws.runs.save(run, final=False)
    events = ws.store.runs.open_events(run_id)
    finished = fk.NodeRun(
        "a", status="success", attempts=1, started_at=1.0, finished_at=2.0, result={"success": True, "message": "done"}
    )
    events.write(json.dumps(finished.to_dict()) + "\n")
    events.write(json.dumps(fk.NodeRun("b", status="running", attempts=1, started_at=2.0).to_dict()) + "\n")
    events.write('[1, 2]\n{"no name": true}\n')  # not node events: ignored
    events.write('{"name": "c", "status": "succ')  # a line torn by the kill
    events.flush()
    (root / "died-here").touch()
    while True:
        time.sleep(1)


def test_a_run_killed_midway_keeps_its_finished_nodes_and_reads_as_interrupted(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = fk.Workspace(root)
    done = _run("alpha")
    ws.runs.save(done)
    run_id = fk.model.new_run_id()
    pid = fork(_start_run_and_die, root, run_id, errors=tmp_path / "errors")
    deadline = time.monotonic() + 20
    while not (root / "died-here").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    kill(pid)
    assert (root / "runs" / f"{run_id}.events.jsonl").exists()
    run = ws.runs.get(run_id)
    assert run.status == "failed"
    assert "Interrupted" in (run.error or "") and str(pid) in (run.error or "")
    assert run.nodes["a"].status == "success" and run.nodes["a"].result == {"success": True, "message": "done"}
    assert run.nodes["b"].status == "running"
    assert run.nodes["c"].status == "pending"  # its torn event line was skipped
    assert [r.id for r in ws.runs.list(status="failed")] == [run_id]
    assert ws.runs.list(status="running") == []
    assert [r.id for r in ws.runs.list()] == [run_id, done.id]


def test_a_torn_index_line_is_skipped_and_later_runs_are_still_listed(ws: fk.Workspace) -> None:
    first = _run("alpha")
    ws.runs.save(first)
    index = ws.path / "runs" / "index.jsonl"
    with open(index, "ab") as handle:
        handle.write(b'{"id": "20260101T000000-000000-abcdef", "workflow": "al')  # a crash mid-append
    second = _run("alpha")
    ws.runs.save(second)
    assert [r.id for r in ws.runs.list()] == [second.id, first.id]


def test_a_lost_index_is_rebuilt_from_the_run_files(ws: fk.Workspace) -> None:
    runs = [_run("alpha" if i % 2 else "beta", started_at=2_000 + i) for i in range(5)]
    for run in runs:
        ws.runs.save(run)
    (ws.path / "runs" / "index.jsonl").unlink()
    assert [r.id for r in ws.runs.list(limit=None)] == [r.id for r in reversed(runs)]
    assert [r.id for r in ws.runs.list(workflow="alpha")] == [runs[3].id, runs[1].id]
    assert (ws.path / "runs" / "index.jsonl").exists()


def test_listing_reads_only_the_end_of_a_long_index(tmp_path: Path) -> None:
    """The newest 20 come from the index's tail: a damaged start of the file is never read."""
    store = RunStore(tmp_path / "runs")
    lines = []
    for i in range(3_000):  # the index as 3,000 saves would leave it (written directly: faster)
        lines.append(json.dumps(_run("alpha", started_at=float(i)).summary()))
    store.folder.mkdir()
    store.index_path.write_text("\n".join(lines) + "\n")
    raw = store.index_path.read_bytes()
    store.index_path.write_bytes(b"\x00" * 200_000 + raw[200_000:])  # only the oldest entries are damaged
    newest = store.list(limit=20)
    assert [entry["started_at"] for entry in newest] == [float(i) for i in range(2_999, 2_979, -1)]


def test_run_history_with_a_module_backed_workspace(tmp_path: Path) -> None:
    """Runs recorded next to real collections do not disturb them (one folder, separate files)."""
    ws = fk.Workspace(tmp_path / "ws")
    write_integration(ws.path / "integrations", "demo", "def ping(credentials, params):\n    return {}\n")
    ws.types.create("demo", params=[TOKEN])
    ws.runs.save(_run("alpha"))
    assert [t.name for t in ws.types.list()] == ["demo"]
    assert sorted(p.name for p in (ws.path / "runs").iterdir() if not p.name.startswith(".")) == sorted(
        [f"{ws.runs.list()[0].id}.json", "index.jsonl"]
    )


def test_runs_of_one_workflow_version_share_one_snapshot_file(tmp_path: Path) -> None:
    runs = RunStore(tmp_path / "runs")
    snapshot = {"name": "wf", "nodes": [{"name": "a"}], "edges": []}
    for run_id in ("r1", "r2"):
        runs.save({"id": run_id, "workflow": "wf", "snapshot": dict(snapshot), "nodes": {}}, {"id": run_id})
    assert len(list((tmp_path / "runs" / "snapshots").glob("*.json"))) == 1
    assert '"$snapshot"' in (tmp_path / "runs" / "r1.json").read_text()
    assert runs.load("r1")["snapshot"] == snapshot == runs.load("r2")["snapshot"]


def test_a_missing_snapshot_file_is_reported_not_guessed(tmp_path: Path) -> None:
    runs = RunStore(tmp_path / "runs")
    runs.save({"id": "r1", "workflow": "wf", "snapshot": {"name": "wf"}, "nodes": {}}, {"id": "r1"})
    for path in (tmp_path / "runs" / "snapshots").glob("*.json"):
        path.unlink()
    with pytest.raises(errors.CorruptStoreError, match="snapshot is missing"):
        runs.load("r1")
