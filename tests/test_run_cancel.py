"""A run's own deadline and cancelling: running nodes stopped, the rest skipped, the run `cancelled`."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_support import FLOWKIT, add_hostile, wait_for_file, wait_gone

import flowkit as fk
from flowkit.drawing import STATUS_COLOURS
from flowkit.model import NODE_STATUSES, RUN_STATUSES


@pytest.fixture
def hostile(ws: fk.Workspace, tmp_path: Path) -> Iterator[fk.Workspace]:
    add_hostile(ws)
    yield ws
    (tmp_path / "release").write_text("go")  # lets untimed sleepers left behind end


def _workflow(tmp_path: Path) -> fk.Workflow:
    """`timed` and `untimed` sleep (the first in a child process), `child` waits on them, `fast` is quick."""
    release = str(tmp_path / "release")
    wf = fk.Workflow("sleepy")
    wf.add_node(
        "timed",
        integration="Hostile",
        task="sleeps",
        params={"pidfile": str(tmp_path / "timed.pid"), "seconds": 60, "release": release},
        timeout=120,
    )
    wf.add_node("untimed", integration="Hostile", task="sleeps", params={"seconds": 60, "release": release})
    wf.add_node("child", integration="Hostile", task="quick")
    wf.add_node("fast", integration="Hostile", task="quick")
    wf.connect("timed", "child")
    wf.connect("untimed", "child")
    return wf


def _check_cancelled(ws: fk.Workspace, run: fk.Run, tmp_path: Path) -> None:
    assert run.status == "cancelled"
    statuses = {name: node.status for name, node in run.nodes.items()}
    assert statuses == {"timed": "cancelled", "untimed": "cancelled", "child": "skipped", "fast": "success"}
    assert ws.runs.get(run.id).status == "cancelled"
    assert wait_gone(int(wait_for_file(tmp_path / "timed.pid")), within=3), "the timed node's process still runs"


def test_a_run_deadline_stops_every_running_node(hostile: fk.Workspace, tmp_path: Path) -> None:
    started = time.monotonic()
    run = hostile.run(_workflow(tmp_path), deadline=2)
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 2.0 + 3.0
    _check_cancelled(hostile, run, tmp_path)
    assert "deadline" in (run.error or "")
    (tmp_path / "release").write_text("go")
    again = hostile.resume(run)  # what was cancelled or skipped runs again; what succeeded is reused
    assert again.status == "success"
    assert {name: node.reused for name, node in again.nodes.items()} == {
        "timed": False,
        "untimed": False,
        "child": False,
        "fast": True,
    }


def test_an_event_set_from_another_thread_cancels_the_run(hostile: fk.Workspace, tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(2.0, cancel.set)
    timer.start()
    started = time.monotonic()
    run = hostile.run(_workflow(tmp_path), cancel=cancel)
    assert time.monotonic() - started < 2.0 + 3.0
    _check_cancelled(hostile, run, tmp_path)


def test_a_run_handle_cancels_its_run(hostile: fk.Workspace, tmp_path: Path) -> None:
    handle = hostile.start(_workflow(tmp_path))
    wait_for_file(tmp_path / "timed.pid")
    assert not handle.done()
    handle.cancel()
    run = handle.result(timeout=10)
    _check_cancelled(hostile, run, tmp_path)


def test_cancelled_is_a_status_of_runs_and_nodes_drawn_in_its_colour() -> None:
    assert "cancelled" in RUN_STATUSES and "cancelled" in NODE_STATUSES
    assert "cancelled" in STATUS_COLOURS


def _cli(ws: fk.Workspace, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*FLOWKIT, "-w", str(ws.path), "run", "sleepy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_cli_run_timeout_cancels_and_exits_6(hostile: fk.Workspace, tmp_path: Path) -> None:
    hostile.workflows.save(_workflow(tmp_path))
    started = time.monotonic()
    process = _cli(hostile, "--timeout", "3")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 6, err
    assert time.monotonic() - started < 30
    assert ": cancelled" in out
    _check_cancelled(hostile, hostile.runs.list(workflow="sleepy")[0], tmp_path)


def test_ctrl_c_in_cli_run_cancels_cleanly(hostile: fk.Workspace, tmp_path: Path) -> None:
    hostile.workflows.save(_workflow(tmp_path))
    process = _cli(hostile)
    wait_for_file(tmp_path / "timed.pid")
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 6, err
    assert "Traceback" not in err
    _check_cancelled(hostile, hostile.runs.list(workflow="sleepy")[0], tmp_path)


def test_a_timed_node_dies_with_its_killed_driver(hostile: fk.Workspace, tmp_path: Path) -> None:
    hostile.workflows.save(_workflow(tmp_path))
    process = _cli(hostile)
    pid = int(wait_for_file(tmp_path / "timed.pid"))
    with open(f"/proc/{pid}/stat") as handle:
        server = int(handle.read().rsplit(")", 1)[1].split()[1])  # its parent: the fork server
    process.kill()
    process.wait(timeout=10)
    assert wait_gone(pid, within=3), "the timed node outlived its SIGKILLed driver"
    assert wait_gone(server, within=3), "the fork server outlived its SIGKILLed driver"


def test_what_a_timed_node_started_dies_with_its_killed_driver(hostile: fk.Workspace, tmp_path: Path) -> None:
    wf = fk.Workflow("spawns")
    wf.add_node("spawn", integration="Hostile", task="spawns", params={"pids": str(tmp_path / "pids")}, timeout=120)
    hostile.workflows.save(wf)
    process = subprocess.Popen([*FLOWKIT, "-w", str(hostile.path), "run", "spawns"], env=dict(os.environ))
    pids = [int(pid) for pid in wait_for_file(tmp_path / "pids").split()]
    process.kill()
    process.wait(timeout=10)
    for pid in pids:
        assert wait_gone(pid, within=3), f"process {pid} outlived the SIGKILLed driver"


def test_a_job_stops_its_node_processes_at_its_time_limit(hostile: fk.Workspace, tmp_path: Path) -> None:
    hostile.workflows.save(_workflow(tmp_path))
    done = subprocess.run(
        [*FLOWKIT, "-w", str(hostile.path), "job", "sleepy", "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert done.returncode == 1, done.stderr
    pid = int(wait_for_file(tmp_path / "timed.pid", within=1))
    assert wait_gone(pid, within=3), "the job's timed node outlived the job"


def test_a_job_run_in_its_kernel_is_cancelled_at_its_time_limit(hostile: fk.Workspace, tmp_path: Path) -> None:
    # What the job notebook runs (also under plain papermill, which has no time limit of its own).
    from flowkit.jobs.in_kernel import run_workflow_job

    hostile.workflows.save(_workflow(tmp_path))
    started = time.monotonic()
    run = run_workflow_job(None, "sleepy", timeout=2, ws=hostile)
    assert time.monotonic() - started < 2.0 + 3.0
    _check_cancelled(hostile, run, tmp_path)
    assert run.error == "Cancelled: the job reached its time limit of 2 s."


def test_a_job_run_ends_a_margin_before_the_jobs_end(hostile: fk.Workspace, tmp_path: Path) -> None:
    # flowkit's runner passes when the job ends: its limit counted from before the kernel started.
    from flowkit.jobs.in_kernel import STOP_MARGIN, run_workflow_job

    hostile.workflows.save(_workflow(tmp_path))
    started, ends_at = time.monotonic(), time.time() + 3
    run = run_workflow_job(None, "sleepy", timeout=60, ends_at=ends_at, ws=hostile)
    elapsed = time.monotonic() - started
    assert 3 - STOP_MARGIN <= elapsed < 3 + 3
    _check_cancelled(hostile, run, tmp_path)
    stopped = run.nodes["untimed"].finished_at  # when the engine acted on the cancel
    assert stopped is not None and stopped < ends_at - STOP_MARGIN / 2, f"cancelled {ends_at - stopped:.2f} s before"
    assert run.error == "Cancelled: the job reached its time limit of 60 s."


def test_a_job_run_with_no_time_left_is_cancelled_at_once(hostile: fk.Workspace, tmp_path: Path) -> None:
    from flowkit.jobs.in_kernel import run_workflow_job

    hostile.workflows.save(_workflow(tmp_path))
    run = run_workflow_job(None, "sleepy", timeout=60, ends_at=time.time() - 1, ws=hostile)
    assert run.status == "cancelled"
    assert {node.status for node in run.nodes.values()} == {"skipped"}


@pytest.mark.parametrize("options", [{"timeout": 0}, {"timeout": True}, {"ends_at": -5}, {"ends_at": "soon"}])
def test_a_job_run_refuses_bad_limits(hostile: fk.Workspace, options: dict[str, object]) -> None:
    from flowkit.jobs.in_kernel import run_workflow_job

    with pytest.raises(fk.errors.ValidationError, match=f"{next(iter(options))} must be a positive number"):
        run_workflow_job(None, "sleepy", ws=hostile, **options)  # type: ignore[arg-type]
    assert hostile.runs.list() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"deadline": 0}, "deadline must be a positive number"),
        ({"deadline": True}, "deadline must be a positive number"),
        ({"cancel": "soon"}, "cancel must be a threading.Event"),
        ({"render_budget": 5}, "render_budget must be a flowkit.RenderBudget"),
    ],
)
def test_bad_limits_are_refused_before_anything_runs(
    hostile: fk.Workspace, tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(fk.errors.ValidationError, match=message):
        hostile.run(_workflow(tmp_path), **options)  # type: ignore[arg-type]
    assert hostile.runs.list() == []


@pytest.mark.parametrize(("seconds", "max_chars"), [(0, 10), (-1, 10), (1, 0), (1, 1.5), ("1", 10)])
def test_a_render_budget_must_be_positive(seconds: object, max_chars: object) -> None:
    with pytest.raises(fk.errors.ValidationError, match="RenderBudget"):
        fk.RenderBudget(seconds=seconds, max_chars=max_chars)  # type: ignore[arg-type]


def test_a_run_handle_reports_its_run_and_refuses_a_cancel_of_its_own(hostile: fk.Workspace, tmp_path: Path) -> None:
    with pytest.raises(fk.errors.ValidationError, match="handle.cancel"):
        hostile.start(_workflow(tmp_path), cancel=threading.Event())
    wf = fk.Workflow("quick")
    wf.add_node("fast", integration="Hostile", task="quick")
    handle = hostile.start(wf)
    run = handle.result(timeout=60)
    assert handle.done() and run.status == "success"
    assert handle.run is run and repr(handle) == f"RunHandle({run.id}, done)"
