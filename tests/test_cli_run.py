"""`flowkit run`: inputs typed as JSON, a progress bar, a summary table, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from engine_support import add_tools

import flowkit as fk
from flowkit.cli import main


@pytest.fixture
def saved(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws)
    wf = fk.Workflow("greet")
    wf.add_node(
        "hello",
        integration="Tools",
        task="echo",
        params={"who": "{{ inputs.who }}", "n": "{{ inputs.n }}", "tags": "{{ inputs.tags }}"},
    )
    wf.add_node("after", integration="Tools", task="noop")
    wf.connect("hello", "after")
    ws.workflows.save(wf)
    bad = fk.Workflow("breaks")
    bad.add_node("ok", integration="Tools", task="noop")
    bad.add_node("bad", integration="Tools", task="boom")
    bad.add_node("later", integration="Tools", task="noop")
    bad.connect("bad", "later")
    ws.workflows.save(bad)
    return ws


def test_a_successful_run_prints_a_table_and_exits_0(saved: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "-w",
            str(saved.path),
            "run",
            "greet",
            "-i",
            "who=team",
            "-i",
            "n=3",
            "-i",
            "tags=[1, 2]",
            "--executor",
            "inline",
            "--progress",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NODE", "STATUS", "DURATION", "ERROR"]
    assert lines[1].split()[:2] == ["hello", "success"] and lines[2].split()[:2] == ["after", "success"]
    assert lines[-1].startswith("Run ") and "of 'greet': success in" in lines[-1]
    assert "2/2" in err and "node" in err  # the tqdm bar, on stderr
    run = saved.runs.list()[0]
    assert run.trigger == "cli"
    assert run.nodes["hello"].params == {"who": "team", "n": 3, "tags": [1, 2]}


def test_a_failed_run_exits_1_and_shows_why(saved: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-w", str(saved.path), "run", "breaks", "--max-workers", "2", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err == ""
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert rows["bad"].split()[1] == "failed" and "tools.boom raised RuntimeError: it broke" in rows["bad"]
    assert "Skipped: the upstream node 'bad' failed." in rows["later"]
    assert rows["ok"].split()[1] == "success"
    assert "of 'breaks': failed" in out.splitlines()[-1]


WORDY = """
def wordy(credentials, params):
    return {"success": False, "message": "x" * 150 + "\\nsecond line"}
"""


def test_a_long_error_shows_its_first_line_cut_with_an_ellipsis(
    ws: fk.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    add_tools(ws, name="wordy", integration="Wordy", source=WORDY)
    wf = fk.Workflow("wordy")
    wf.add_node("talk", integration="Wordy", task="wordy")
    ws.workflows.save(wf)

    code = main(["-w", str(ws.path), "run", "wordy", "--no-progress"])
    out, _ = capsys.readouterr()
    progress = main(["-w", str(ws.path), "run", "wordy"])  # not a terminal: a line per node on stderr
    err = capsys.readouterr().err

    assert code == progress == 1
    [row] = [line for line in out.splitlines() if line.startswith("talk")]
    [line] = [line for line in err.splitlines() if "talk: failed" in line]
    for shown in (row, line):
        error = shown[shown.index("wordy.wordy reported failure: ") :].rstrip()
        assert error == ("wordy.wordy reported failure: " + "x" * 150)[:100] + "…", shown


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["run", "nope"], 3, "No workflow named 'nope' in the workspace"),
        (["run", "greet", "-i", "novalue"], 2, "-i 'novalue': write an input as key=value."),
        (["run", "greet", "-i", "who=x"], 2, "needs the input 'n', which was not given"),
        (["run", "greet", "-e", "gpu"], 2, "Unknown executor 'gpu'"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    saved: fk.Workspace, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert main(["-w", str(saved.path), *argv]) == code
    assert message in capsys.readouterr().err
    assert saved.runs.list() == []


def test_flowkit_run_as_a_process(saved: fk.Workspace) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowkit.cli",
            "-w",
            str(saved.path),
            "run",
            "greet",
            "-i",
            "who=x",
            "-i",
            "n=1",
            "-i",
            "tags=[]",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    # not a terminal: no bar, a line per node as it finishes
    assert "success" in done.stdout and "[2/2] greet · after: success" in done.stderr
