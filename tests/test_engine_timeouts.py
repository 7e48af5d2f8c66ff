"""Timeouts: a timed task runs in a child process that is stopped, with everything it started."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from engine_support import add_tools
from helpers import wait_gone

import flowkit as fk

HANGING = """
import os
import signal
import subprocess
import time


def _note_pids(params, *extra):
    with open(params["pids"], "w") as handle:
        handle.write(" ".join(str(pid) for pid in (os.getpid(), *extra)))


def spins(credentials, params):
    _note_pids(params)
    while True:
        time.sleep(0.01)


def catches_everything(credentials, params):
    _note_pids(params)
    while True:
        try:
            while True:
                pass
        except BaseException:
            continue


def ignores_sigterm(credentials, params):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleeper = subprocess.Popen(["sleep", "60"])
    _note_pids(params, sleeper.pid)
    while True:
        time.sleep(0.01)


def quick(credentials, params):
    print("quick output")
    os.system("echo from a subprocess")
    return {"success": True, "message": "quick", "pid": os.getpid()}
"""


@pytest.fixture
def hanging(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws, name="hanging", integration="Hanging", source=HANGING)
    return ws


@pytest.mark.parametrize("task", ["spins", "catches_everything", "ignores_sigterm"])
def test_a_hanging_task_is_stopped_at_its_timeout(hanging: fk.Workspace, tmp_path: Path, task: str) -> None:
    pids = tmp_path / "pids"
    wf = fk.Workflow("hangs")
    wf.add_node("stuck", integration="Hanging", task=task, params={"pids": str(pids)}, timeout=1)
    wf.add_node("after", integration="Hanging", task="quick")
    wf.add_node("beside", integration="Hanging", task="quick")
    wf.connect("stuck", "after")

    run = hanging.run(wf)

    stuck = run.nodes["stuck"]
    assert stuck.status == "failed"
    assert stuck.error == f"hanging.{task} timed out after 1 s and was stopped."
    assert stuck.duration is not None and 1.0 <= stuck.duration < 1.5
    assert (run.nodes["after"].status, run.nodes["beside"].status) == ("skipped", "success")
    assert hanging.runs.get(run.id).nodes["stuck"].error == stuck.error
    for pid in map(int, pids.read_text().split()):
        assert wait_gone(pid, within=2.0), f"process {pid} of the timed-out task still runs"


def test_a_timed_task_that_finishes_returns_its_result_and_output(hanging: fk.Workspace) -> None:
    wf = fk.Workflow("timed")
    wf.add_node("one", integration="Hanging", task="quick", timeout=10)
    wf.add_node("two", integration="Hanging", task="quick", timeout=10)
    run = hanging.run(wf)
    assert run.status == "success"
    one, two = run.nodes["one"], run.nodes["two"]
    assert one.result["pid"] != os.getpid() and one.result["pid"] != two.result["pid"]
    assert "quick output" in one.log and "from a subprocess" in one.log


def test_timeouts_work_from_a_plain_script_without_running_it_twice(hanging: fk.Workspace, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(f"""
        import flowkit as fk
        print("top of the script", flush=True)
        ws = fk.Workspace({str(hanging.path)!r})
        wf = fk.Workflow("script")
        wf.add_node("one", integration="Hanging", task="quick", timeout=10)
        print(ws.run(wf).status, flush=True)
    """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top of the script", "success"]
