"""Fan-out (`foreach=`, `{{ item }}`, `{{ item_index }}`, `max_parallel=`), end to end on threads and inline."""

from __future__ import annotations

from pathlib import Path

import pytest
from language_support import add_language_tools

import flowkit as fk
from flowkit.cli import main
from flowkit.errors import ValidationError

EXECUTORS = ["threads", "inline"]


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_language_tools(ws)
    return ws


def fan(path: Path | None = None, **options: object) -> fk.Workflow:
    """list (inputs.items) → each (per_item over the list, failing the items in inputs.bad)."""
    wf = fk.Workflow("fan")
    wf.add_node("list_files", integration="Tools", task="listing", params={"items": "{{ inputs.items }}"})
    wf.add_node(
        "each",
        integration="Tools",
        task="per_item",
        foreach="{{ list_files.items }}",
        params={"item": "{{ item }}", "index": "{{ item_index }}", "bad": "{{ inputs.bad }}", "path": str(path or "")},
        **options,
    )
    wf.connect("list_files", "each")
    return wf


def calls(path: Path) -> list[object]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_empty_list_succeeds_with_no_items(tools: fk.Workspace, executor: str) -> None:
    run = tools.run(fan(), inputs={"items": [], "bad": []}, executor=executor)
    each = run.nodes["each"]
    assert run.status == "success" and each.status == "success"
    assert each.result["items"] == [] and each.result["success"] is True and each.items == []


@pytest.mark.parametrize("executor", EXECUTORS)
def test_one_item(tools: fk.Workspace, executor: str) -> None:
    run = tools.run(fan(), inputs={"items": ["a"], "bad": []}, executor=executor)
    each = run.nodes["each"]
    assert each.result["items"] == [{"success": True, "message": "ok", "item": "a", "index": 0}]
    assert each.items is not None and each.items[0]["status"] == "success" and each.items[0]["duration"] >= 0


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_hundred_items_with_failures_then_resume_reruns_only_the_failed(
    tools: fk.Workspace, tmp_path: Path, executor: str
) -> None:
    path = tmp_path / "calls.jsonl"
    items = list(range(100))
    bad = [3, 50, 99]
    run = tools.run(fan(path), inputs={"items": items, "bad": bad}, executor=executor)
    each = run.nodes["each"]
    assert run.status == "failed" and each.status == "failed"
    assert sorted(calls(path)) == items
    assert each.error is not None and each.error.startswith("3 of 100 items failed: item 3: ")
    assert "bad item 50" in each.error
    statuses = [record["status"] for record in each.items or []]
    assert [index for index, status in enumerate(statuses) if status == "failed"] == bad
    assert [record["error"] is None for record in each.items or []].count(False) == 3
    assert each.result["items"][4] == {"success": True, "message": "ok", "item": 4, "index": 4}
    assert each.label == "failed (100/100 items, 3 failed)"
    stored = tools.runs.get(run.id).nodes["each"]
    assert stored.items == each.items

    path.unlink()
    again = tools.resume(run, inputs={"items": items, "bad": []}, executor=executor)
    assert again.status == "success" and again.nodes["list_files"].reused
    assert sorted(calls(path)) == bad  # only the failed items were called again
    records = again.nodes["each"].items or []
    assert sum(1 for record in records if record.get("reused")) == 97
    assert [result["item"] for result in again.nodes["each"].result["items"]] == items


def test_resume_calls_an_item_again_when_its_value_changed(tools: fk.Workspace, tmp_path: Path) -> None:
    wf = fk.Workflow("literal")
    wf.add_node(
        "each",
        integration="Tools",
        task="per_item",
        foreach="{{ inputs.items }}",
        params={"item": "{{ item }}", "bad": "{{ inputs.bad }}", "path": str(tmp_path / "c.jsonl")},
    )
    run = tools.run(wf, inputs={"items": ["a", "b", "c"], "bad": ["c"]})
    (tmp_path / "c.jsonl").unlink()
    again = tools.resume(run, inputs={"items": ["a", "B", "c"], "bad": []})
    assert again.status == "success" and sorted(calls(tmp_path / "c.jsonl")) == ["B", "c"]


def test_max_parallel_bounds_the_items_running_at_once(tools: fk.Workspace) -> None:
    wf = fk.Workflow("bounded")
    wf.add_node(
        "each", integration="Tools", task="clock", foreach=[0.05] * 8, max_parallel=2, params={"seconds": "{{ item }}"}
    )
    run = tools.run(wf, max_workers=8)
    spans = [(result["started"], result["finished"]) for result in run.nodes["each"].result["items"]]
    most = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert most == 2


def test_without_a_bound_items_run_side_by_side(tools: fk.Workspace) -> None:
    wf = fk.Workflow("wide")
    wf.add_node("each", integration="Tools", task="clock", foreach=[0.1] * 4, params={"seconds": "{{ item }}"})
    run = tools.run(wf, max_workers=4)
    spans = [(result["started"], result["finished"]) for result in run.nodes["each"].result["items"]]
    assert max(end for _, end in spans) - min(start for start, _ in spans) < 0.35


def test_items_are_retried_one_by_one(tools: fk.Workspace, tmp_path: Path) -> None:
    wf = fk.Workflow("retry items")
    wf.add_node(
        "each",
        integration="Tools",
        task="flaky",
        foreach=["a", "b"],
        retries=2,
        retry_delay=0,
        params={"path": str(tmp_path) + "/{{ item }}", "fails": "{{ item_index }}"},
    )
    run = tools.run(wf)
    assert run.status == "success"
    assert [record["attempts"] for record in run.nodes["each"].items or []] == [1, 2]


def test_progress_is_reported_per_item_while_running(tools: fk.Workspace) -> None:
    seen: list[str] = []

    def on_event(event: fk.Event) -> None:
        if event.kind == "node_progress":
            seen.append(event.run.nodes["each"].label)

    tools.run(fan(), inputs={"items": [1, 2, 3], "bad": []}, on_event=on_event, executor="inline")
    assert seen == ["running (1/3 items)", "running (2/3 items)", "running (3/3 items)"]


def test_foreach_that_is_not_a_list_fails_the_node(tools: fk.Workspace) -> None:
    run = tools.run(fan(), inputs={"items": {"a": 1}, "bad": []})
    assert run.nodes["each"].status == "failed" and "foreach gave dict, not a list" in run.nodes["each"].error


def test_item_names_are_checked_at_save(tools: fk.Workspace) -> None:
    wf = fk.Workflow("no foreach")
    wf.add_node("a", integration="Tools", task="echo", params={"x": "{{ item }}"})
    wf.add_node("b", integration="Tools", task="echo", foreach="{{ nowhere.items }}", params={"x": "{{ item }}"})
    messages = [problem.message for problem in tools.validate(wf)]
    assert any("'item'" in message and "only in a foreach node's params" in message for message in messages)
    assert any("Option 'foreach' uses 'nowhere'" in message for message in messages)
    with pytest.raises(ValidationError, match="max_parallel bounds a foreach"):
        wf.add_node("c", integration="Tools", task="echo", max_parallel=2)
    with pytest.raises(ValidationError, match="foreach must be a list or a template"):
        wf.add_node("d", integration="Tools", task="echo", foreach="files")


def test_cli_run_shows_items_done(tools: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    tools.workflows.save(fan())
    code = main(["-w", str(tools.path), "run", "fan", "-i", "items=[1,2]", "-i", "bad=[]"])
    assert code == 0 and "success (2/2 items)" in capsys.readouterr().out
