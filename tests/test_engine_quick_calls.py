"""Known-quick calls are made on the driver thread; slow ones, and ones turning slow, on the pool.

A layer of ready nodes used to go to pool threads one by one, even for a
task of microseconds: the hand-off (two thread switches) was most of its cost.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from engine_support import add_tools

import flowkit as fk
from flowkit.executors import call
from flowkit.executors.base import ThreadExecutor

SOURCE = '''
import os
import threading
import time


def where(credentials, params):
    """Sleep `seconds` (if any: sleep(0) would let go of the GIL), and say where and when the call ran."""
    started = time.perf_counter()
    if params.get("seconds"):
        time.sleep(params["seconds"])
    return {
        "success": True,
        "message": "here",
        "thread": threading.current_thread().name,
        "pid": os.getpid(),
        "started": started,
    }


def nap(credentials, params):
    """Another task, never called before: nothing is known of it."""
    time.sleep(params["seconds"])
    return {"success": True, "message": "slept"}
'''


@pytest.fixture(autouse=True)
def steady_quick_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quick means within 0.2 s here, not 1 ms: a busy host may stall a call of microseconds past 1 ms.

    A stalled call sends its task back to the pool, as it should; but a test
    asserting where a no-op call ran would then fail at random (one item of
    eight on CI's busy machine). Every slow call here sleeps 0.3 s or more, so
    it is slow under either bound.
    """
    monkeypatch.setattr(call, "QUICK_CALL", 0.2)


@pytest.fixture
def timing(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws, name="timing", integration="Timing", source=SOURCE)
    return ws


def layer(name: str, seconds: list[float]) -> fk.Workflow:
    """A root node, then one node per entry of `seconds`, all children of the root (ready together)."""
    wf = fk.Workflow(name)
    wf.add_node("root", integration="Timing", task="where")
    for index, delay in enumerate(seconds):
        wf.add_node(f"n{index}", integration="Timing", task="where", params={"seconds": delay})
        wf.connect("root", f"n{index}")
    return wf


def threads(run: fk.Run) -> dict[str, str]:
    return {name: node.result["thread"] for name, node in run.nodes.items() if name != "root"}


def driver() -> str:
    return threading.current_thread().name


def test_a_layer_of_known_quick_calls_runs_on_the_driver_thread(timing: fk.Workspace) -> None:
    wf = layer("quick", [0] * 6)

    first = timing.run(wf)  # the first calls of a task go to the pool: nothing is known of it yet
    second = timing.run(wf)

    assert first.status == second.status == "success"
    assert any(thread.startswith("flowkit-node") for thread in threads(first).values())
    assert set(threads(second).values()) == {driver()}


def test_a_slow_task_stays_on_the_pool_and_its_calls_overlap(timing: fk.Workspace) -> None:
    wf = layer("slow", [0.3] * 5)
    timing.run(wf)

    started = time.perf_counter()
    run = timing.run(wf)
    took = time.perf_counter() - started

    assert run.status == "success"
    assert driver() not in set(threads(run).values())
    assert took < 1.0, f"5 calls of 0.3 s side by side took {took:.2f} s"


def test_a_known_quick_task_turning_slow_holds_the_driver_for_one_call_only(timing: fk.Workspace) -> None:
    timing.run(layer("warm", [0] * 6))  # known-quick now
    wf = layer("turned", [0.4] * 5)

    started = time.perf_counter()
    run = timing.run(wf)
    took = time.perf_counter() - started

    assert run.status == "success"
    placed = list(threads(run).values())
    assert placed.count(driver()) == 1, placed  # the first one, made before it was seen to be slow
    assert took < 1.2, f"one call on the driver, four side by side on the pool: {took:.2f} s"
    assert driver() not in set(threads(timing.run(wf)).values())  # slow now: all on the pool


def test_a_quick_call_is_never_made_on_the_driver_under_a_deadline(timing: fk.Workspace) -> None:
    wf = layer("bounded", [0] * 6)
    timing.run(wf)

    run = timing.run(wf, deadline=30)  # the driver must stay free to stop the run

    assert run.status == "success"
    assert driver() not in set(threads(run).values())


def test_the_items_of_a_known_quick_foreach_node_are_not_called_on_the_driver_under_a_deadline(
    timing: fk.Workspace,
) -> None:
    wf = fk.Workflow("bounded fan")
    wf.add_node("each", integration="Timing", task="where", foreach=list(range(6)))
    timing.run(wf)

    run = timing.run(wf, deadline=30)

    assert run.status == "success"
    assert driver() not in {item["thread"] for item in run.nodes["each"].result["items"]}


def test_timed_nodes_of_a_known_quick_task_wait_for_their_children_side_by_side(timing: fk.Workspace) -> None:
    timing.run(layer("warm", [0] * 6))
    wf = fk.Workflow("timed")
    wf.add_node("root", integration="Timing", task="where")
    for index in range(3):
        wf.add_node(f"t{index}", integration="Timing", task="where", params={"seconds": 0.5}, timeout=30)
        wf.connect("root", f"t{index}")
    timing.run(wf)  # the warm child processes are started

    started = time.perf_counter()
    run = timing.run(wf)
    took = time.perf_counter() - started

    assert run.status == "success"
    assert all(run.nodes[f"t{index}"].result["pid"] != os.getpid() for index in range(3))
    assert took < 1.2, f"3 timed calls of 0.5 s waited for one after another: {took:.2f} s"


class RecordingExecutor(ThreadExecutor):
    """The default executor, noting when each task's call was handed to its pool."""

    def __init__(self) -> None:
        super().__init__()
        self.handed: dict[str, float] = {}

    def dispatch(self, fn: Any, args: tuple[Any, ...], report: Any) -> None:
        self.handed[args[2]] = time.perf_counter()  # call_task's arguments: module, location, task, ...
        super().dispatch(fn, args, report)


def test_every_ready_call_is_handed_out_before_the_driver_makes_a_quick_one(timing: fk.Workspace) -> None:
    timing.run(layer("warm", [0] * 6))
    wf = layer("mixed", [0, 0])
    wf.add_node("slow", integration="Timing", task="nap", params={"seconds": 0.3})  # ready last, after n0 and n1
    wf.connect("root", "slow")
    executor = RecordingExecutor()

    with executor:
        run = timing.run(wf, executor=executor)

    assert run.status == "success"
    assert run.nodes["n0"].result["thread"] == driver()
    assert executor.handed["nap"] < run.nodes["n0"].result["started"]


def test_an_edited_task_is_no_longer_known_quick(timing: fk.Workspace) -> None:
    timing.run(layer("warm", [0] * 6))
    location = str(timing.path / "integrations" / "timing")
    assert call.is_quick("timing", location, "where")

    source = timing.path / "integrations" / "timing" / "tasks.py"
    source.write_text(source.read_text() + "\n\ndef added(credentials, params):\n    return {'success': True}\n")
    timing.registry.reload()
    run = timing.run(layer("edited", [0] * 3))

    assert run.status == "success"
    assert driver() not in set(threads(run).values())


@pytest.mark.parametrize("bounds, quick", [(0.0, True), (1.0, True), (1.5, False)])
def test_quick_means_every_one_of_the_last_calls_was_quick(bounds: float, quick: bool) -> None:
    seconds = call.QUICK_CALL * bounds
    key: tuple[Any, ...] = ("m", "/nowhere", f"t{bounds}")
    for _ in range(call.QUICK_STREAK):
        call._note_duration(key, 0.0)  # type: ignore[arg-type]
    call._note_duration(key, seconds)  # type: ignore[arg-type]
    assert call.is_quick(*key) is quick


def test_the_items_of_a_known_quick_foreach_node_are_called_on_the_driver(timing: fk.Workspace) -> None:
    wf = fk.Workflow("fan")
    wf.add_node("each", integration="Timing", task="where", foreach=list(range(8)))
    timing.run(wf)  # nothing known of the task yet: its first items go to the pool

    run = timing.run(wf)

    assert run.status == "success"
    assert {item["thread"] for item in run.nodes["each"].result["items"]} == {driver()}
    assert [record["status"] for record in run.nodes["each"].items] == ["success"] * 8


def test_the_items_of_a_slow_foreach_node_run_side_by_side_on_the_pool(timing: fk.Workspace) -> None:
    wf = fk.Workflow("slow fan")
    wf.add_node("each", integration="Timing", task="where", params={"seconds": 0.3}, foreach=list(range(4)))
    timing.run(wf)

    started = time.perf_counter()
    run = timing.run(wf)
    took = time.perf_counter() - started

    assert run.status == "success"
    assert driver() not in {item["thread"] for item in run.nodes["each"].result["items"]}
    assert took < 1.0, f"4 items of 0.3 s side by side took {took:.2f} s"
