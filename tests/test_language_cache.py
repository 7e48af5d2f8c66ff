"""Caching (`cache=True` / `cache="1h"`): hits, misses when source, params or credentials change, bypass, clear."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import scan_tree, write_integration
from language_support import LANGUAGE_TOOLS, add_language_tools

import flowkit as fk
from flowkit import drawing
from flowkit.cli import main
from flowkit.run.cache import ResultCache
from flowkit.store import FileStore, MemoryStore

EXECUTORS = ["threads", "inline"]


@pytest.fixture
def tools(any_ws: fk.Workspace) -> fk.Workspace:
    add_language_tools(any_ws)
    return any_ws


def cached_flow(path: Path, value: object = 1, cache: bool | str = True) -> fk.Workflow:
    wf = fk.Workflow("cached")
    wf.add_node("work", integration="Tools", task="counted", cache=cache, params={"path": str(path), "value": value})
    wf.add_node("after", integration="Tools", task="echo", params={"got": "{{ work.count }}"})
    wf.connect("work", "after")
    return wf


def calls(path: Path) -> int:
    return len(path.read_text()) if path.exists() else 0


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_second_identical_call_is_served_from_the_cache(tools: fk.Workspace, tmp_path: Path, executor: str) -> None:
    path = tmp_path / "count"
    first = tools.run(cached_flow(path), executor=executor)
    second = tools.run(cached_flow(path), executor=executor)
    assert calls(path) == 1
    work = second.nodes["work"]
    assert work.status == "success" and work.cached_from == first.id and first.nodes["work"].cached_from is None
    assert work.result == first.nodes["work"].result
    assert second.nodes["after"].result["params"] == {"got": 1}  # downstream gets the cached result
    assert work.label == f"success (cached from {first.id})"
    assert tools.runs.get(second.id).nodes["work"].cached_from == first.id
    assert 'data-mark="cached"' in drawing.draw_run(second)


def test_params_source_and_credentials_each_change_the_key(tools: fk.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "count"
    tools.run(cached_flow(path))
    tools.run(cached_flow(path, value=2))  # other params
    assert calls(path) == 2
    tools.run(cached_flow(path, value=2))
    assert calls(path) == 2
    write_integration(tools.path / "integrations", "tools", LANGUAGE_TOOLS + "\n# edited\n")
    tools.registry.reload()
    tools.run(cached_flow(path, value=2))  # the module's source changed
    assert calls(path) == 3
    tools.integrations.update("Tools", credentials={"token": "another-token"})
    tools.run(cached_flow(path, value=2))  # the credentials changed
    assert calls(path) == 4
    tools.run(cached_flow(path, value=2))
    assert calls(path) == 4


def test_a_time_to_live_expires_entries(tools: fk.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "count"
    tools.run(cached_flow(path, cache="0.3s"))
    tools.run(cached_flow(path, cache="0.3s"))
    assert calls(path) == 1
    time.sleep(0.4)
    run = tools.run(cached_flow(path, cache="0.3s"))
    assert calls(path) == 2 and run.nodes["work"].cached_from is None


def test_cache_false_bypasses_reading_and_writing(tools: fk.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "count"
    tools.run(cached_flow(path), cache=False)
    assert tools.cache.entries() == []
    tools.run(cached_flow(path))
    run = tools.run(cached_flow(path), cache=False)
    assert calls(path) == 3 and run.nodes["work"].cached_from is None


def test_failures_and_uncached_nodes_are_not_kept(tools: fk.Workspace) -> None:
    wf = fk.Workflow("not kept")
    wf.add_node("bad", integration="Tools", task="boom", cache=True)
    wf.add_node("plain", integration="Tools", task="noop")
    tools.run(wf)
    assert tools.cache.entries() == []


def test_entries_hold_no_credential_value_and_results_are_masked(ws: fk.Workspace, canary: str) -> None:
    add_language_tools(ws, credentials={"token": canary})
    wf = fk.Workflow("echo secret")
    wf.add_node("e", integration="Tools", task="reveals", cache=True)
    first = ws.run(wf)
    again = ws.run(wf)
    assert again.nodes["e"].cached_from == first.id
    assert ws.cache.entries()[0]["result"]["token"] == "***"
    assert scan_tree(canary, ws.path) == []


def test_the_cache_is_bounded_oldest_out(tmp_path: Path) -> None:
    for store in (FileStore(tmp_path / "ws"), MemoryStore()):
        cache = ResultCache(store, max_entries=3)
        for run in range(5):
            session = cache.session()
            session.put(f"k{run}", {"n": run}, run_id=f"r{run}", node="a", ttl=None)
            session.save()
        assert [entry["name"] for entry in cache.entries()] == ["k2", "k3", "k4"]
        assert cache.clear() == 3 and cache.entries() == []


def test_cli_no_cache_list_and_clear(tools: fk.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "count"
    tools.workflows.save(cached_flow(path))
    where = ["-w", str(tools.path)]
    if isinstance(tools.store, MemoryStore):
        pytest.skip("the CLI opens the workspace from its folder")
    assert main([*where, "run", "cached"]) == 0
    assert main([*where, "run", "cached"]) == 0
    assert "cached from" in capsys.readouterr().out and calls(path) == 1
    assert main([*where, "run", "cached", "--no-cache"]) == 0
    assert calls(path) == 2
    assert main([*where, "cache", "list"]) == 0
    assert "work" in capsys.readouterr().out
    assert main([*where, "cache", "clear"]) == 0
    assert "Removed 1 cached result(s)." in capsys.readouterr().out
    assert main([*where, "run", "cached"]) == 0
    assert calls(path) == 3


@pytest.mark.parametrize("executor", EXECUTORS)
def test_foreach_items_are_cached_one_by_one(tools: fk.Workspace, tmp_path: Path, executor: str) -> None:
    path = tmp_path / "calls.jsonl"

    def flow(items: list[int]) -> fk.Workflow:
        wf = fk.Workflow("cached items")
        wf.add_node(
            "each",
            integration="Tools",
            task="per_item",
            foreach=items,
            cache=True,
            params={"item": "{{ item }}", "path": str(path)},
        )
        return wf

    first = tools.run(flow([1, 2]), executor=executor)
    second = tools.run(flow([1, 2, 3]), executor=executor)
    assert sorted(int(line) for line in path.read_text().split()) == [1, 2, 3]  # 1 and 2 were not called again
    records = second.nodes["each"].items or []
    assert [record.get("cached_from") for record in records] == [first.id, first.id, None]
    assert [result["item"] for result in second.nodes["each"].result["items"]] == [1, 2, 3]
