"""A node's output while it runs: ``node_output`` events carrying its log so far (masked).

A task's prints and log records go to its `CallLog` (`flowkit.executors.capture`).
When a run has ``on_event`` callbacks and a node's call runs in this process
without a timeout (a pool thread, or the driver thread itself), the call is
made under `capture.streamed`, so each write also reaches `OutputStream.written`.
Events are delivered on the thread that drives the run, as every other event:
a write on the driver thread (a lone call made inline) is reported at once, a
write on a pool thread is queued to the driver through the engine's ``done``
queue as an ``("output", node, log)`` entry. Reports come at line ends, at
most one per node every `INTERVAL` seconds, and each carries the whole log so
far, masked as a whole (a secret split across two writes of a line is still
caught). A timed call runs in a child process and a Dask call on a worker:
their log arrives when the attempt ends, as before.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..executors.base import InlineExecutor, ThreadExecutor
from ..executors.capture import CallLog, streamed
from ..model import Run

INTERVAL = 0.2


class _Plan(Protocol):
    @property
    def timeout(self) -> float | None: ...


class _Execution(Protocol):
    """What `OutputStream.when_listened` reads of the engine's `Execution` (no import: it imports this module)."""

    callbacks: list[Any]
    executor: Any
    done: queue.SimpleQueue[tuple[str, str, Any]]
    run: Run

    @property
    def plans(self) -> Mapping[str, _Plan]: ...

    def emit(self, kind: str, node: str | None = None, text: str | None = None) -> None: ...


def streamed_call(
    output: OutputStream | None, name: str, function: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """What to run for node `name`'s call, as ``(function, args)``: wrapped in `capture.streamed` when listened to."""
    if output is None or output.timed(name):
        return function, args  # nobody listens, or a child process: its log comes when the attempt ends
    return streamed, (output.listener(name), function, *args)


class OutputStream:
    """Turns task writes into ``node_output`` events (see the module docstring).

    Args:
        execution: the engine's run being driven (its emit, done queue, run and plans).
    """

    def __init__(self, execution: _Execution) -> None:
        self.execution = execution
        self.driver = threading.get_ident()
        self.last: dict[str, float] = {}
        self._inside = threading.local()  # a callback that prints must not report its own print

    @classmethod
    def when_listened(cls, execution: _Execution) -> OutputStream | None:
        """A stream for a run with callbacks whose calls run in this process (threads, inline); else None."""
        if execution.callbacks and isinstance(execution.executor, (InlineExecutor, ThreadExecutor)):
            return cls(execution)
        return None

    def timed(self, name: str) -> bool:
        return self.execution.plans[name].timeout is not None

    def listener(self, name: str) -> Callable[[CallLog], None]:
        """What `capture.streamed` calls on each write of node `name`'s call."""
        return lambda log: self.written(name, log)

    def written(self, name: str, log: CallLog) -> None:
        """A write happened in node `name`'s call (any thread)."""
        now = time.monotonic()
        if not log.parts or not log.parts[-1].endswith("\n"):
            return  # report whole lines: print() writes its pieces one by one
        if getattr(self._inside, "active", False) or now - self.last.get(name, 0.0) < INTERVAL:
            return
        self.last[name] = now
        if threading.get_ident() == self.driver:
            self.report(name, log)
        else:
            self.execution.done.put(("output", name, log))

    def report(self, name: str, log: CallLog) -> None:
        """Emit ``node_output`` for `name` with its log so far, while it still runs (driver thread only)."""
        node = self.execution.run.nodes.get(name)
        if node is None or node.status != "running":
            return
        self._inside.active = True
        try:
            self.execution.emit("node_output", name, log.text())
        finally:
            self._inside.active = False
