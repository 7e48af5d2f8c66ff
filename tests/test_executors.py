"""Executors: the tiny base class contract and the two built-in backends."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import pytest
from engine_support import add_tools, chain

import flowkit as fk
from flowkit.errors import ValidationError
from flowkit.executors import Executor, executor_names, make_executor, register_executor


def test_a_backend_missing_submit_cannot_be_built() -> None:
    class NoSubmit(Executor):
        def shutdown(self) -> None:
            pass

    class NoShutdown(Executor):
        def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
            raise NotImplementedError

    for incomplete in (NoSubmit, NoShutdown):
        with pytest.raises(TypeError, match="abstract"):
            incomplete()  # type: ignore[abstract]


def test_thread_executor_runs_calls_side_by_side() -> None:
    with fk.ThreadExecutor(max_workers=4) as executor:
        assert executor.width == 4
        barrier = threading.Barrier(4, timeout=5)
        futures = [executor.submit(barrier.wait) for _ in range(4)]  # only completes if all 4 run at once
        assert sorted(future.result(timeout=5) for future in futures) == [0, 1, 2, 3]
    assert fk.ThreadExecutor().width == 32


def test_inline_executor_runs_in_the_calling_thread_and_keeps_exceptions() -> None:
    executor = fk.InlineExecutor()
    assert executor.width == 1
    future = executor.submit(lambda: threading.current_thread())
    assert future.done() and future.result() is threading.current_thread()
    failed = executor.submit(lambda: 1 / 0)
    assert isinstance(failed.exception(), ZeroDivisionError)
    with pytest.raises(ValidationError):
        fk.InlineExecutor(max_workers=4)


@pytest.mark.parametrize("width", [0, -1, 1.5, True, "8"])
def test_a_bad_width_is_refused(width: Any) -> None:
    with pytest.raises(ValidationError, match="max_workers must be a whole number"):
        fk.ThreadExecutor(max_workers=width)


def test_executors_by_name() -> None:
    assert {"threads", "inline"} <= set(executor_names())
    assert isinstance(make_executor("inline"), fk.InlineExecutor)
    threads = make_executor("threads", max_workers=3)
    assert isinstance(threads, fk.ThreadExecutor) and threads.width == 3
    threads.shutdown()
    with pytest.raises(ValidationError, match="Unknown executor 'nope'; choose one of"):
        make_executor("nope")
    register_executor("broken-import", "flowkit.no_such_module:Thing")
    with pytest.raises(ValidationError, match="Executor 'broken-import' is not available"):
        make_executor("broken-import")


class Recording(Executor):
    """A custom backend: runs inline, and notes the hooks and calls it sees."""

    def __init__(self) -> None:
        self.width = 1
        self.calls: list[str] = []
        self.inner = fk.InlineExecutor()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        self.calls.append(f"{args[0]}.{args[2]}")
        return self.inner.submit(fn, *args)

    def shutdown(self) -> None:
        self.calls.append("shutdown")

    def run_started(self, run: fk.Run) -> None:
        self.calls.append(f"started {run.workflow}")

    def run_finished(self, run: fk.Run) -> None:
        self.calls.append(f"finished {run.status}")


def test_a_custom_executor_gets_plain_calls_and_hooks_and_is_not_shut_down(ws: fk.Workspace) -> None:
    add_tools(ws)
    executor = Recording()
    run = ws.run(chain("custom", ["noop", "echo"]), executor=executor)
    assert run.status == "success"
    assert executor.calls == ["started custom", "tools.noop", "tools.echo", "finished success"]


def test_an_executor_that_fails_to_submit_fails_the_node_not_the_run(ws: fk.Workspace) -> None:
    add_tools(ws)

    class Refusing(Recording):
        def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
            raise ConnectionError("the cluster is gone")

    run = ws.run(chain("refused", ["noop", "noop"]), executor=Refusing())
    assert run.status == "failed"
    assert run.nodes["n0"].error == (
        "tools.noop could not run on Refusing(width=1): ConnectionError: the cluster is gone"
    )
    assert run.nodes["n1"].status == "skipped"


def test_the_default_pool_is_wide_enough_for_waiting_tasks(ws: fk.Workspace) -> None:
    add_tools(ws)
    wf = fk.Workflow("wide")
    for index in range(20):
        wf.add_node(f"n{index}", integration="Tools", task="clock", params={"seconds": 0.2})
    run = ws.run(wf)
    assert run.status == "success"
    results = [node.result for node in run.nodes.values()]
    span = max(r["finished"] for r in results) - min(r["started"] for r in results)
    assert span < 0.2 * 3, f"20 nodes of 0.2 s took {span:.2f} s from the first start to the last end"
