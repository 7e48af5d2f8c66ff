"""What the store holds is what flowkit wrote: collection files, run files and snapshots (issue 13).

A file replaced by other valid JSON, an edited run or snapshot, a damaged run
among healthy ones; report paths that would overwrite the store; and the cost
of a run and of listing runs as saved workflows and run results grow.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from pathlib import Path

import pytest
from engine_support import add_tools
from jobs_support import demo_workspace

import flowkit as fk
from flowkit import errors
from flowkit.cli import main

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws)
    flow = fk.Workflow("pair")
    flow.add_node("first", integration="Tools", task="echo", params={"n": 1})
    flow.add_node("second", integration="Tools", task="echo", params={"n": 2})
    flow.connect("first", "second")
    ws.workflows.save(flow)
    return ws


def collection_files(ws: fk.Workspace, name: str) -> list[Path]:
    """The files holding a collection: one file, or a folder of one file per document."""
    path = ws.store.path(name)
    assert path is not None
    return sorted(path.iterdir()) if path.is_dir() else [path]


# -- collection files ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["types", "integrations", "workflows"])
@pytest.mark.parametrize("replacement", [NOTEBOOK, b"{}", b'{"_default": []}', b'{"other": {"1": {"name": "x"}}}'])
def test_a_collection_file_replaced_by_other_json_is_damaged(
    tools: fk.Workspace, capsys: pytest.CaptureFixture[str], name: str, replacement: bytes
) -> None:
    """Valid JSON without flowkit's checksum and table is not an empty collection: it is a damaged file."""
    target = collection_files(tools, name)[0]
    target.write_bytes(replacement)
    code = main(["-w", str(tools.path), name, "list"])
    err = capsys.readouterr().err
    assert code == 5 and str(target) in err, err
    assert target.read_bytes() == replacement


def test_a_hand_edited_collection_without_its_checksum_is_still_accepted(tools: fk.Workspace) -> None:
    """The documented way to edit by hand: drop the checksum entry, keep the table."""
    path = collection_files(tools, "types")[0]
    data = json.loads(path.read_bytes())
    del data["_flowkit_checksum"]
    data["_default"]["1"]["description"] = "edited by hand"
    path.write_text(json.dumps(data))
    assert fk.Workspace(tools.path).types.get("tools").description == "edited by hand"


@pytest.mark.parametrize("inside", ["workflows.json", "types.json", "runs/report.ipynb", "integrations/x.ipynb"])
def test_a_job_report_inside_the_workspace_store_is_refused(
    ws: fk.Workspace, canary: str, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    demo = demo_workspace(ws, canary)
    before = {path: path.read_bytes() for path in demo.path.rglob("*") if path.is_file()}
    output = demo.path / inside
    code = main(["-w", str(demo.path), "job", "one", "-p", "n", "1", "-o", str(output), "--timeout", "60"])
    err = capsys.readouterr().err
    assert code == 2 and "inside the workspace" in err, err
    after = {path: path.read_bytes() for path in demo.path.rglob("*") if path.is_file()}
    assert after == before
    assert len(demo.workflows.list()) == len(fk.Workspace(demo.path).workflows.list()) > 0


# -- run files and snapshots --------------------------------------------------------------------
def run_file(ws: fk.Workspace, run: fk.Run) -> Path:
    return ws.store.runs.folder / f"{run.id}.json"


@pytest.mark.parametrize(
    ("suffix", "before", "after"),
    [
        (".json", b'"pending"', b'"failed!"'),  # the record written as the run started
        (".events.jsonl", b'"success"', b'"failed!"'),  # a node's end, and the run's, after it
    ],
    ids=["run file", "events file"],
)
def test_an_edited_run_file_is_damaged(tools: fk.Workspace, suffix: str, before: bytes, after: bytes) -> None:
    run = tools.run("pair")
    path = run_file(tools, run).with_suffix(suffix)
    raw = path.read_bytes()
    assert before in raw
    path.write_bytes(raw.replace(before, after, 1))  # still valid JSON, same length
    with pytest.raises(errors.CorruptStoreError) as caught:
        tools.runs.get(run.id)
    assert caught.value.path == str(path)


def test_lines_added_after_a_runs_end_are_damage(tools: fk.Workspace) -> None:
    run = tools.run("pair")
    events = run_file(tools, run).with_suffix(".events.jsonl")
    with events.open("a") as handle:
        handle.write('{"name": "extra", "status": "success"}\n')
    with pytest.raises(errors.CorruptStoreError, match="follow the run's end"):
        tools.runs.get(run.id)


def test_an_edited_snapshot_is_detected_and_not_resumed(tools: fk.Workspace) -> None:
    run = tools.run("pair")
    snapshots = sorted(tools.store.runs.snapshots.iterdir())
    assert len(snapshots) == 1
    text = snapshots[0].read_text()
    assert '"echo"' in text
    snapshots[0].write_text(text.replace('"echo"', '"boom"', 1))  # the task changed
    with pytest.raises(errors.CorruptStoreError) as caught:
        tools.runs.get(run.id)
    assert caught.value.path == str(snapshots[0])
    with pytest.raises(errors.CorruptStoreError):
        tools.resume(run.id)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],
        lambda raw: b"garbage" + raw,
        lambda raw: b"",
        lambda raw: raw[:40] + b"\x00" * 64 + raw[104:],
        lambda raw: json.dumps({"cells": []}).encode(),
    ],
    ids=["truncated", "garbage", "empty", "NUL block", "other JSON"],
)
def test_one_damaged_run_file_does_not_break_runs_list(
    tools: fk.Workspace, capsys: pytest.CaptureFixture[str], damage
) -> None:
    runs = [tools.run("pair") for _ in range(3)]
    broken = run_file(tools, runs[1])
    broken.write_bytes(damage(broken.read_bytes()))
    code = main(["-w", str(tools.path), "runs", "list"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert runs[0].id in out and runs[2].id in out and runs[1].id not in out
    assert runs[1].id in err and str(broken) in err and "damaged" in err
    listing = fk.Workspace(tools.path).runs.listing()
    assert [summary.id for summary in listing.runs] == [runs[2].id, runs[0].id]
    assert [problem.path for problem in listing.damaged] == [str(broken)]


def test_runs_list_memory_stays_flat_as_run_results_grow(
    tools: fk.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    big = fk.Workflow("big")
    big.add_node("make", integration="Tools", task="echo", params={"blob": "x" * 2_000_000})
    tools.workflows.save(big)
    for _ in range(12):
        tools.run("big")
    main(["-w", str(tools.path), "runs", "list"])  # warm up imports and caches
    capsys.readouterr()
    tracemalloc.start()
    try:
        code = main(["-w", str(tools.path), "runs", "list"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = capsys.readouterr().out
    assert code == 0 and out.count("big") == 12
    assert peak < 1_000_000, f"listing 12 runs of 2 MB results peaked at {peak / 1e6:.1f} MB"


# -- the cost of a run with many saved workflows ---------------------------------------------------
def median_run_seconds(*workspaces: fk.Workspace, repeats: int = 9) -> list[float]:
    """The median time of a one-node run ("one") in each workspace, taking turns so load hits all alike."""
    samples: list[list[float]] = [[] for _ in workspaces]
    for _ in range(repeats):
        for ws, times in zip(workspaces, samples, strict=True):
            started = time.perf_counter()
            ws.run("one", executor="inline")
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in samples]


def test_a_run_does_not_read_every_saved_workflow(tmp_path: Path) -> None:
    """A one-node run costs about the same with 2.5 MB of other saved workflows (it was 35× the time)."""
    empty, full = fk.Workspace(tmp_path / "empty"), fk.Workspace(tmp_path / "full")
    for ws in (empty, full):
        add_tools(ws)
        one = fk.Workflow("one")
        one.add_node("only", integration="Tools", task="noop")
        ws.workflows.save(one)
    for i in range(50):
        other = fk.Workflow(f"other {i}")
        for j in range(60):
            other.add_node(f"n{j}", integration="Tools", task="echo", params={"text": "x" * 700})
        full.workflows.save(other)
    saved = sum(path.stat().st_size for path in collection_files(full, "workflows"))
    assert saved > 2_500_000
    median_run_seconds(empty, full, repeats=2)  # warm up
    on_empty, on_full = median_run_seconds(empty, full)
    ratio = on_full / on_empty
    assert ratio < 2, f"a run with {saved / 1e6:.1f} MB of saved workflows took {ratio:.1f}× the time"


# -- workflows: a file each ------------------------------------------------------------------------
def test_workflows_are_a_file_each_and_a_single_file_from_before_is_converted(tools: fk.Workspace) -> None:
    from flowkit.store import dumps_checksummed

    folder = tools.store.path("workflows")
    assert folder is not None and folder.is_dir() and [p.suffix for p in folder.iterdir()] == [".json"]
    docs = {"1": {**fk.Workflow("old one").to_dict(), "version": 3}, "2": {**fk.Workflow("Café ✓/x").to_dict()}}
    legacy = tools.path / "workflows.json"
    legacy.write_bytes(dumps_checksummed({"_default": docs}))
    reopened = fk.Workspace(tools.path)
    assert [wf.name for wf in reopened.workflows.list()] == ["Café ✓/x", "old one", "pair"]
    assert reopened.workflows.get("old one").version == 3
    assert not legacy.exists() and len(list(folder.iterdir())) == 3
    assert all(path.parent == folder for path in folder.iterdir())


def test_a_damaged_single_file_from_before_is_reported_not_converted(tools: fk.Workspace) -> None:
    legacy = tools.path / "workflows.json"
    legacy.write_bytes(b'{"_default": {"1": {"name": "x"}}, "_flowkit_checksum": "sha256:00"}')
    with pytest.raises(errors.CorruptStoreError) as caught:
        fk.Workspace(tools.path).workflows.list()
    assert caught.value.path == str(legacy) and legacy.exists()


def test_a_workflow_file_renamed_by_hand_is_damaged(tools: fk.Workspace) -> None:
    (path,) = collection_files(tools, "workflows")
    path.rename(path.with_name("copy-" + path.name))
    with pytest.raises(errors.CorruptStoreError, match="renamed or copied by hand"):
        tools.workflows.list()
