"""The example workflows in examples/ run offline, each in its own temporary workspace."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

import flowkit as fk

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for module in ("common", "demo_api", "sqlite_sales", name):
        sys.modules.pop(module, None)  # load this checkout's files, not a cached module of the same name
    return importlib.import_module(name)


def test_todo_example_uses_the_copyable_integration_against_the_local_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert example("todo_workflow", monkeypatch).main(["--workspace", str(tmp_path / "ws")]) == 0
    out = capsys.readouterr().out
    assert "Test connection: Connected as demo" in out
    assert "Counts from the API: {'open': 1, 'done': 1}" in out
    ws = fk.Workspace(tmp_path / "ws")
    assert (ws.path / "integrations" / "todo" / "tasks.py").is_file()
    run = ws.runs.list(workflow="To-do round")[0]
    assert run.nodes["complete"].result["id"] == run.nodes["add"].result["id"] == 2


def test_todo_integration_reports_a_refused_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example("todo_workflow", monkeypatch)
    demo_api = sys.modules["demo_api"]
    with fk.testing.temporary_workspace() as ws, demo_api.serve() as api:
        sys.modules["common"].install_example_integration(ws, "todo")
        ws.types.create_from_module("todo")
        ws.integrations.create("Wrong", type="todo", credentials={"base_url": api.url, "token": "not-the-token"})
        result = ws.integrations.test("Wrong")
        assert result["success"] is False and "refused the token (401)" in result["message"]
        assert [step["ok"] for step in result["steps"]] == [True, False]


def test_sqlite_example_passes_rows_between_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert example("sqlite_sales", monkeypatch).main(["--workspace", str(tmp_path / "ws")]) == 0
    run = fk.Workspace(tmp_path / "ws").runs.list(workflow="Sales report")[0]
    assert run.nodes["totals"].result["rows"][0] == {"region": "north", "total": 260.0, "orders": 3}
    assert [row["amount"] for row in run.nodes["top"].result["rows"]] == [120.5, 99.5, 40.0]
    assert "Workflow 'Sales report' version 1: success" in capsys.readouterr().out


def test_notebook_example_stores_what_the_notebook_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert example("notebook_pipeline", monkeypatch).main(["--workspace", str(tmp_path / "ws")]) == 0
    run = fk.Workspace(tmp_path / "ws").runs.list(workflow="Measure and store")[0]
    assert run.nodes["measure"].result["values"] == {
        "count": 5,
        "mean": 15.5,
        "median": 12.5,
        "maximum": 30.0,
        "unit": "ms",
    }
    assert run.nodes["history"].result["rows"] == [{"runs": 1, "mean_of_means": 15.5}]


def test_batch_example_records_one_papermill_run_per_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert example("batch_jobs", monkeypatch).main(["--workspace", str(tmp_path / "ws")]) == 0
    assert "3 ok, 0 failed, 3 jobs" in capsys.readouterr().out
    runs = fk.Workspace(tmp_path / "ws").runs.list(workflow="Sales report")
    assert len(runs) == 3 and all(run.trigger == "papermill" and Path(run.report).is_file() for run in runs)
    loaded = sorted(run.nodes["load"].result["rowcount"] for run in runs)
    assert loaded == [1, 2, 3]
