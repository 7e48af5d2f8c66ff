"""Hostile tasks: BaseExceptions, os._exit, fork and a closed stdout fail their node only."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
from pathlib import Path

import pytest
from hostile_support import FLOWKIT, add_hostile, run_script, wait_gone

import flowkit as fk

BASE_EXCEPTIONS = ["KeyboardInterrupt", "SystemExit", "GeneratorExit", "Custom"]


@pytest.fixture
def hostile(ws: fk.Workspace) -> fk.Workspace:
    return add_hostile(ws)


def _beside(task: str, params: dict[str, object] | None = None, **options: object) -> fk.Workflow:
    """`bad` runs `task`; `ok` → `ok_child` run beside it, and `after` waits for `bad`."""
    wf = fk.Workflow("beside")
    wf.add_node("ok", integration="Hostile", task="quick")
    wf.add_node("ok_child", integration="Hostile", task="quick")
    wf.add_node("bad", integration="Hostile", task=task, params=params or {}, **options)
    wf.add_node("after", integration="Hostile", task="quick")
    wf.connect("ok", "ok_child")
    wf.connect("bad", "after")
    return wf


def _statuses(run: fk.Run) -> dict[str, str]:
    return {name: node.status for name, node in run.nodes.items()}


EXPECTED = {"ok": "success", "ok_child": "success", "bad": "failed", "after": "skipped"}


@pytest.mark.parametrize("executor", ["threads", "inline"])
@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
def test_a_base_exception_fails_its_node_only(hostile: fk.Workspace, executor: str, kind: str) -> None:
    run = hostile.run(_beside("raises", {"kind": kind}), executor=executor)
    assert _statuses(run) == EXPECTED
    assert run.status == "failed"
    assert (run.nodes["bad"].error or "").startswith("hostile.raises raised ")
    assert ("Custom" if kind == "Custom" else kind) in (run.nodes["bad"].error or "")
    assert _statuses(hostile.runs.get(run.id)) == EXPECTED


@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
def test_a_base_exception_in_a_timed_task_fails_its_node_only(hostile: fk.Workspace, kind: str) -> None:
    run = hostile.run(_beside("raises", {"kind": kind}, timeout=30))
    assert _statuses(run) == EXPECTED


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_os_exit_in_an_untimed_task_fails_its_node_only(hostile: fk.Workspace, tmp_path: Path, executor: str) -> None:
    done = run_script(
        hostile,
        tmp_path,
        f"""
        wf = fk.Workflow("exits")
        wf.add_node("ok", integration="Hostile", task="quick")
        wf.add_node("bad", integration="Hostile", task="hard_exit")
        wf.add_node("after", integration="Hostile", task="quick")
        wf.connect("bad", "after")
        run = ws.run(wf, executor={executor!r})
        print(run.status, *(f"{{name}}={{node.status}}" for name, node in run.nodes.items()))
        print(run.nodes["bad"].error)
        """,
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    summary, error = done.stdout.splitlines()[-2:]
    assert sorted(summary.split()) == sorted(["failed", "ok=success", "bad=failed", "after=skipped"])
    assert "os._exit(7)" in error


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_a_forking_task_completes_the_run_once_and_leaves_no_orphan(
    hostile: fk.Workspace, tmp_path: Path, executor: str
) -> None:
    child = tmp_path / "child.pid"
    done = run_script(
        hostile,
        tmp_path,
        f"""
        wf = fk.Workflow("forks")
        wf.add_node("fork", integration="Hostile", task="forks", params={{"child": {str(child)!r}}})
        wf.add_node("after", integration="Hostile", task="quick")
        wf.connect("fork", "after")
        run = ws.run(wf, executor={executor!r})
        print("finished", run.status, run.nodes["fork"].result["pid"], flush=True)
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("finished")]
    assert len(lines) == 1, done.stdout
    assert lines[0].split()[1] == "success"
    assert int(lines[0].split()[2]) != int(child.read_text())  # the parent's result, not the child's
    assert wait_gone(int(child.read_text())), "the forked child still runs"
    runs = fk.Workspace(hostile.path).runs.list(workflow="forks")
    assert len(runs) == 1


def test_a_task_closing_stdout_does_not_break_the_cli(hostile: fk.Workspace) -> None:
    wf = fk.Workflow("closes")
    wf.add_node("close", integration="Hostile", task="closes_stdout")
    wf.add_node("after", integration="Hostile", task="quick")
    wf.connect("close", "after")
    hostile.workflows.save(wf)
    for executor in ("threads", "inline"):
        done = subprocess.run(
            [*FLOWKIT, "-w", str(hostile.path), "run", "closes", "-e", executor],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ),
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "after" in done.stdout and ": success" in done.stdout
    run = hostile.runs.list(workflow="closes")[0]
    assert "before closing" in run.nodes["close"].log


def test_a_task_closing_stdout_leaves_the_scripts_stdout_open(hostile: fk.Workspace, tmp_path: Path) -> None:
    done = run_script(
        hostile,
        tmp_path,
        """
        wf = fk.Workflow("closes")
        wf.add_node("close", integration="Hostile", task="closes_stdout")
        wf.add_node("after", integration="Hostile", task="quick")
        wf.connect("close", "after")
        def show(event):
            print("event", event.kind, event.node or "", flush=True)
        run = ws.run(wf, on_event=show)
        print("done", run.status, flush=True)
        """,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "done success"
    assert "event node_finished after" in lines


class _BrokenFutures(fk.Executor):
    """An executor whose calls come back as a BaseException raised by its own machinery."""

    width = 1

    def submit(self, fn: object, *args: object) -> concurrent.futures.Future[object]:
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        future.set_exception(GeneratorExit("the executor's worker was closed"))
        return future

    def shutdown(self) -> None:
        pass


def test_an_executor_failing_with_a_base_exception_fails_that_node_only(hostile: fk.Workspace) -> None:
    run = hostile.run(_beside("quick"), executor=_BrokenFutures())
    assert run.status == "failed"
    assert {node.status for node in run.nodes.values()} <= {"failed", "skipped"}
    assert "could not run on" in (run.nodes["bad"].error or "") and "GeneratorExit" in (run.nodes["bad"].error or "")
