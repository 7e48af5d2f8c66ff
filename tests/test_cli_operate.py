"""The CLI as an operator uses it: finding the workspace, naming it, CLI hints, test, validate, progress."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import write_integration
from ui_support import add_demo_integration

import flowkit as fk
from flowkit.cli import main


def test_the_workspace_is_found_by_walking_up_like_git(
    ws: fk.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    found = fk.Workspace(project / ".flowkit")
    found.types.create("slack", description="found me")
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert main(["types", "list"]) == 0
    assert "found me" in capsys.readouterr().out
    assert not (deep / ".flowkit").exists()


def test_flowkit_workspace_variable_wins_over_walking_up(
    ws: fk.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fk.Workspace(tmp_path / ".flowkit").types.create("slack", description="walked")
    ws.types.create("http", description="from the variable")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWKIT_WORKSPACE", str(ws.path))
    assert main(["types", "list"]) == 0
    out = capsys.readouterr().out
    assert "from the variable" in out and "walked" not in out


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["types", "show", "nope"], "flowkit -w {ws} types create nope"),
        (["integrations", "show", "nope"], "flowkit -w {ws} integrations create nope --type"),
        (["workflows", "show", "nope"], "flowkit -w {ws} workflows list"),
        (["runs", "show", "nope"], "flowkit -w {ws} runs list"),
        (["run", "nope"], "flowkit -w {ws} workflows list"),
    ],
)
def test_not_found_names_the_workspace_and_hints_a_cli_command(
    ws: fk.Workspace, argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(ws.path), *argv]) == 3
    err = capsys.readouterr().err
    assert f"in the workspace {ws.path}" in err
    assert hint.format(ws=ws.path) in err
    assert "ws." not in err  # no Python API hint on the command line


def test_without_w_the_hint_has_no_w_and_still_names_the_workspace(
    ws: fk.Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWKIT_WORKSPACE", str(ws.path))
    assert main(["types", "show", "nope"]) == 3
    err = capsys.readouterr().err
    assert f"in the workspace {ws.path}" in err and "`flowkit types create nope" in err


def test_integrations_test_runs_test_connection(ws: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    add_demo_integration(ws, "Good")
    ws.integrations.create("Bad", type="demo", credentials={"account": "bob", "api_key": "wrong-key"})
    assert main(["-w", str(ws.path), "integrations", "test", "Good"]) == 0
    out = capsys.readouterr().out
    assert "Connected" in out and "login" in out
    assert main(["-w", str(ws.path), "integrations", "test", "Bad"]) == 1
    captured = capsys.readouterr()
    assert "401 Unauthorized" in captured.out + captured.err
    assert "wrong-key" not in captured.out + captured.err


def test_validate_lists_every_problem_and_exits_2(ws: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Good")
    wf.add_node("a", integration="My Demo", task="echo", params={"text": "hi"})
    ws.workflows.save(wf)
    assert main(["-w", str(ws.path), "validate", "Good"]) == 0
    assert "No problems" in capsys.readouterr().out
    # A saved workflow can break later: the module of its integration goes away.
    write_integration(ws.path / "integrations", "temp", "def go(credentials, params):\n    return {'success': True}\n")
    ws.registry.reload()
    ws.types.create("temp")
    ws.integrations.create("Temp", type="temp", credentials={})
    wf2 = fk.Workflow("Later")
    wf2.add_node("x", integration="Temp", task="go")
    ws.workflows.save(wf2)
    shutil.rmtree(ws.path / "integrations" / "temp")
    ws.registry.reload()
    assert main(["-w", str(ws.path), "validate", "Later"]) == 2
    out = capsys.readouterr().out
    assert "x" in out and "Temp" in out


def test_validate_reads_a_workflow_file(ws: fk.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    add_demo_integration(ws)
    wf = fk.Workflow("File")
    wf.add_node("a", integration="My Demo", task="echo", params={})
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf.to_dict()))
    assert main(["-w", str(ws.path), "validate", str(path)]) == 2
    assert "text" in capsys.readouterr().out


def test_run_prints_a_line_per_node_as_it_finishes(ws: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Two")
    wf.add_node("a", integration="My Demo", task="echo", params={"text": "x"})
    wf.add_node("b", integration="My Demo", task="fail")
    wf.connect("a", "b")
    ws.workflows.save(wf)
    assert main(["-w", str(ws.path), "run", "Two"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert any("a" in line and "success" in line and "1/2" in line for line in lines), err
    assert any("b" in line and "failed" in line and "2/2" in line for line in lines), err
