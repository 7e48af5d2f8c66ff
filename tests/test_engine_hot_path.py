"""What a run does per node: its record written once, its end appended; no graph walk per node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from engine_support import add_tools, chain

import flowkit as fk
from flowkit.store import runs as run_files


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws)
    return ws


def test_a_run_record_is_written_whole_once_at_its_start(tools: fk.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []
    real = run_files.atomic_write

    def counting(path: Path, data: bytes, **options: Any) -> None:
        written.append(Path(path))
        real(path, data, **options)

    monkeypatch.setattr(run_files, "atomic_write", counting)
    wf = chain("twenty", ["noop"] * 20)

    run = tools.run(wf)

    assert run.status == "success"
    assert [path.name for path in written if path.parent.name == "runs"] == [f"{run.id}.json"]
    stored = tools.runs.get(run.id)
    assert stored.to_dict() == run.to_dict()  # the end, built from the events, is the run as it ended


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_a_run_walks_the_graph_once_not_per_node(
    tools: fk.Workspace, monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    wf = chain("fifty", ["noop"] * 50)
    calls: list[str] = []
    for method in ("successors", "predecessors", "neighbors", "subgraph"):
        real = getattr(nx.DiGraph, method)

        def counting(self: nx.DiGraph, *args: Any, _real: Any = real, _name: str = method) -> Any:
            calls.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(nx.DiGraph, method, counting)

    run = tools.run(wf, executor=executor)

    assert run.status == "success"
    assert len(calls) <= 5, f"{len(calls)} graph calls for 50 nodes: {sorted(set(calls))}"


def test_a_failed_node_skips_its_descendants_without_a_graph_walk_per_node(tools: fk.Workspace) -> None:
    wf = fk.Workflow("branches")
    for name, task in (("a", "boom"), ("b", "noop"), ("c", "noop"), ("d", "noop"), ("e", "noop")):
        wf.add_node(name, integration="Tools", task=task)
    wf.connect("a", "b")
    wf.connect("b", "c")
    wf.connect("a", "d")
    wf.connect("e", "d")

    run = tools.run(wf)

    statuses = {name: node.status for name, node in run.nodes.items()}
    assert statuses == {"a": "failed", "b": "skipped", "c": "skipped", "d": "skipped", "e": "success"}
    assert run.nodes["c"].error == "Skipped: the upstream node 'a' failed."
    assert tools.runs.get(run.id).to_dict() == run.to_dict()


def test_flowkit_run_loads_no_process_machinery_nor_schedules(tools: fk.Workspace) -> None:
    """A cold `flowkit run` pays for what it uses: multiprocessing loads with a timed call, schedules on first use."""
    tools.workflows.save(chain("short", ["noop"] * 3))
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['flowkit', 'run', 'short', '--no-progress']\n"
        "try:\n"
        "    runpy.run_module('flowkit', run_name='__main__')\n"
        "except SystemExit as end:\n"
        "    assert end.code == 0, end.code\n"
        "unused = ('multiprocessing', 'flowkit.schedules', 'croniter')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(unused))\n"
        "print('LOADED', loaded)\n"
    )
    env = {**os.environ, "FLOWKIT_WORKSPACE": str(tools.path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)

    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout
