"""Timed calls on warm workers: one child serves call after call, a killed one is replaced, edits are seen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from engine_support import add_tools
from helpers import write_integration

import flowkit as fk

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="checks processes in /proc")

TIMED = """
import os
import time


def where(credentials, params):
    return {"success": True, "message": "here", "pid": os.getpid(), "cwd": os.getcwd()}


def wanders(credentials, params):
    os.chdir("/")
    return {"success": True, "message": "moved", "pid": os.getpid()}


def hangs(credentials, params):
    with open(params["pids"], "w") as handle:
        handle.write(str(os.getpid()))
    while True:
        time.sleep(0.01)


def version(credentials, params):
    return {"success": True, "message": "v1", "pid": os.getpid()}
"""


@pytest.fixture
def timed(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws, name="timed", integration="Timed", source=TIMED)
    return ws


def gone(pid: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def one_node(task: str, **options: object) -> fk.Workflow:
    wf = fk.Workflow(f"one {task}")
    wf.add_node("n", integration="Timed", task=task, timeout=30, **options)  # type: ignore[arg-type]
    return wf


def pid_of(ws: fk.Workspace, wf: fk.Workflow) -> int:
    run = ws.run(wf, executor="inline")
    assert run.status == "success", run.error
    return int(run.nodes["n"].result["pid"])


def test_one_warm_child_serves_timed_calls_one_after_another(timed: fk.Workspace) -> None:
    wf = one_node("where")
    pids = {pid_of(timed, wf) for _ in range(10)}

    assert len(pids) == 1 and os.getpid() not in pids


def test_a_child_killed_at_its_timeout_is_replaced_and_its_group_is_gone(timed: fk.Workspace, tmp_path: Path) -> None:
    before = pid_of(timed, one_node("where"))
    pids = tmp_path / "pids"
    wf = fk.Workflow("hangs")
    wf.add_node("stuck", integration="Timed", task="hangs", params={"pids": str(pids)}, timeout=0.5)

    started = time.monotonic()
    run = timed.run(wf, executor="inline")

    assert run.nodes["stuck"].status == "failed" and "timed out after 0.5 s" in (run.nodes["stuck"].error or "")
    assert time.monotonic() - started < 0.5 + 0.5 + 0.5  # the kill, within the run's own overhead
    assert int(pids.read_text()) == before  # it ran on the warm child...
    assert gone(before)  # ...which is gone with its group
    after = pid_of(timed, one_node("where"))
    assert after != before and not gone(after, within=0)


def test_an_edited_task_runs_as_edited_on_a_warm_child(timed: fk.Workspace) -> None:
    wf = one_node("version")
    first = timed.run(wf, executor="inline").nodes["n"].result
    write_integration(timed.path / "integrations", "timed", TIMED.replace('"v1"', '"v2"'))
    timed.registry.reload()

    second = timed.run(wf, executor="inline").nodes["n"].result

    assert (first["message"], second["message"]) == ("v1", "v2")
    assert first["pid"] == second["pid"]  # the same warm child, with the module loaded afresh


def test_a_task_moving_its_folder_does_not_move_the_next_call(timed: fk.Workspace) -> None:
    home = timed.run(one_node("where"), executor="inline").nodes["n"].result["cwd"]
    moved = timed.run(one_node("wanders"), executor="inline").nodes["n"].result
    again = timed.run(one_node("where"), executor="inline").nodes["n"].result

    assert moved["pid"] == again["pid"] and again["cwd"] == home


def test_idle_warm_children_end_with_a_killed_driver(timed: fk.Workspace, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        import flowkit as fk
        ws = fk.Workspace({str(timed.path)!r})
        wf = fk.Workflow("one")
        wf.add_node("n", integration="Timed", task="where", timeout=30)
        print(ws.run(wf, executor="inline").nodes["n"].result["pid"], flush=True)
        time.sleep(60)
    """)
    env = {**os.environ, "FLOWKIT_CONFIG_DIR": os.environ["FLOWKIT_CONFIG_DIR"]}
    driver = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert driver.stdout is not None
        worker = int(driver.stdout.readline())
        assert not gone(worker, within=0)  # idle, waiting for the next call
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        if driver.stdout is not None:
            driver.stdout.close()

    assert gone(worker, within=3.0)
