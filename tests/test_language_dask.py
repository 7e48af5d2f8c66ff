"""The workflow language on a Dask LocalCluster: trigger rules × conditions, foreach with resume, the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from language_support import OUTCOMES, RUNS, add_language_tools, truth_table_workflow
from test_language_cache import cached_flow, calls
from test_language_foreach import calls as item_calls
from test_language_foreach import fan
from test_language_subflows import parent_flow, save_child

import flowkit as fk
from flowkit.model import TRIGGER_RULES

distributed = pytest.importorskip("distributed")

from test_dask import client  # noqa: E402,F401 -- the same module-scoped LocalCluster fixture

from flowkit.executors.dask_executor import DaskExecutor  # noqa: E402


@pytest.fixture
def executor(request: pytest.FixtureRequest) -> Iterator[DaskExecutor]:
    executor = DaskExecutor(request.getfixturevalue("client"))
    yield executor
    executor.shutdown()


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_language_tools(ws)
    return ws


@pytest.mark.parametrize("trigger", TRIGGER_RULES)
def test_truth_table_on_dask(tools: fk.Workspace, executor: DaskExecutor, trigger: str) -> None:
    for outcome in sorted(OUTCOMES):
        for condition in (True, False):
            run = tools.run(
                truth_table_workflow(outcome, trigger, condition), inputs={"yes": True, "no": False}, executor=executor
            )
            child = run.nodes["child"]
            case = (outcome, trigger, condition, child.status, child.reason)
            if outcome in RUNS[trigger]:
                assert (child.status, child.reason) == (
                    ("success", None) if condition else ("skipped", "condition was false")
                ), case
            else:
                assert child.status == "skipped" and child.reason != "condition was false", case
            assert run.status == ("failed" if outcome in ("failed", "upstream") else "success"), case


@pytest.mark.parametrize("count", [0, 1, 100])
def test_foreach_on_dask_with_failures_and_resume(
    tools: fk.Workspace, executor: DaskExecutor, tmp_path: Path, count: int
) -> None:
    path = tmp_path / "calls.jsonl"
    items = list(range(count))
    bad = [index for index in items if index % 40 == 1]
    run = tools.run(fan(path, max_parallel=4), inputs={"items": items, "bad": bad}, executor=executor)
    each = run.nodes["each"]
    assert sorted(item_calls(path)) == items
    assert [record["index"] for record in each.items or [] if record["status"] == "failed"] == bad
    assert each.status == ("failed" if bad else "success") and len(each.result["items"]) == count
    if bad:
        path.unlink()
        again = tools.resume(run, inputs={"items": items, "bad": []}, executor=executor)
        assert again.status == "success" and sorted(item_calls(path)) == bad


def test_cache_on_dask(tools: fk.Workspace, executor: DaskExecutor, tmp_path: Path) -> None:
    path = tmp_path / "count"
    first = tools.run(cached_flow(path), executor=executor)
    second = tools.run(cached_flow(path), executor=executor)
    assert calls(path) == 1 and second.nodes["work"].cached_from == first.id
    tools.run(cached_flow(path, value=5), executor=executor)
    assert calls(path) == 2


def test_sub_workflow_on_dask_with_a_failing_child(tools: fk.Workspace, executor: DaskExecutor) -> None:
    save_child(tools)
    run = tools.run(parent_flow(), inputs={"title": "Oops", "bad": ["Oops"]}, executor=executor)
    assert run.status == "failed" and run.nodes["publish"].status == "failed"
    again = tools.resume(run, inputs={"title": "Oops", "bad": []}, executor=executor)
    assert again.status == "success" and again.nodes["announce"].result["params"] == {"url": "Oops-url"}
    child = tools.runs.get(again.nodes["publish"].child_run or "")
    assert child.parent == {"run": again.id, "node": "publish"} and child.nodes["write"].reused
