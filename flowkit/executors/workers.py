"""Warm children for timed calls: a pre-forked process per slot, used call after call, replaced after a kill.

Forking a child from the fork server for every timed call cost ≈ 30 ms (the
fork, the child's start-up, loading the task's module, the reaper), a hundred
times an untimed call. A *worker* is such a child that stays: it makes itself
a process-group leader and arranges to die with the driver once
(`flowkit.executors.timeouts`: the parent-death signal and the reaper), then
waits for calls on a pipe. A call takes an idle worker (one per call running
at the same time: a slot), sends it the call, and waits for the outcome under
the call's time limit:

* the outcome arrives: the worker goes back to the idle ones;
* the time is up, or the call's run is cancelled: the worker's whole process
  group is stopped as before (SIGTERM, a short grace, SIGKILL), so the task
  and anything it started are gone when the node is marked failed; a
  replacement is forked in the background, so the next call finds one ready;
* the worker died (the task ended its process): the call fails, as before,
  and the worker is replaced.

A worker reloads an integration module when the driver loaded a new version
of it (`flowkit.executors.call.stamp_of`), so an edited task is run as edited.
Idle workers end after `IDLE_SECONDS`, and when the driver ends.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from . import call, timeouts

#: An idle worker ends after this long without a call (the next call forks a new one).
IDLE_SECONDS = 300.0

_idle: list[Worker] = []  # ready workers, most recently used last
_idle_lock = threading.Lock()


class Worker:
    """One warm child: its process and the parent's end of its pipe."""

    def __init__(self) -> None:
        timeouts.ensure_server()
        self.conn, child_end = multiprocessing.Pipe(duplex=True)
        self.process = timeouts.TaskProcess(
            target=worker_main, args=(child_end, os.getpid()), name="flowkit timed-call worker"
        )
        self.process.start()
        child_end.close()

    def alive(self) -> bool:
        return self.process.exitcode is None

    def discard(self) -> None:
        """Stop the worker's whole process group (if it still runs) and release its pipe."""
        if self.process.exitcode is None:
            timeouts.stop_process(self.process)
        self.conn.close()


def worker_main(conn: Connection, driver: int) -> None:
    """A worker's body: set up once, then run one call after another until told to end."""
    timeouts.become_call_process(driver, conn)
    home = os.getcwd()  # each call starts here, wherever the one before went
    loaded: dict[tuple[str, str], int] = {}  # the driver's version of each module loaded here
    # Descriptors 1 and 2 go to a private file, so even a subprocess's output is caught.
    with tempfile.TemporaryFile() as raw:
        for fd in (1, 2):
            os.dup2(raw.fileno(), fd)
        while conn.poll(IDLE_SECONDS):
            try:
                module, location, task, credentials, params, secrets, stamp = conn.recv()
            except EOFError:
                return  # the driver closed the pipe: it is done with this worker
            if loaded.get((module, location), stamp) != stamp:
                call.forget(module, location)  # the driver has a newer version: load it afresh
            loaded[(module, location)] = stamp
            raw.seek(0)
            raw.truncate()
            with contextlib.suppress(OSError):
                os.chdir(home)
            outcome = call.call_here(module, location, task, credentials, params, secrets)
            raw.seek(0)
            extra = raw.read(1_000_000).decode("utf-8", "replace")
            if extra:
                outcome["log"] += call.call_redactor(credentials, secrets).text(extra)
            conn.send(outcome)


def take() -> Worker:
    """An idle worker that still lives, or a new one."""
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive():
                return worker
            worker.discard()
    return Worker()


def give_back(worker: Worker) -> None:
    with _idle_lock:
        _idle.append(worker)


def replace_soon() -> None:
    """Fork a worker in the background for the next call (after one was stopped or died)."""

    def fork() -> None:
        with contextlib.suppress(Exception):  # the next call forks one itself
            give_back(Worker())

    threading.Thread(target=fork, name="flowkit-worker-fork", daemon=True).start()


def prepare() -> None:
    """Have one worker ready before a run's clock starts (the fork server too)."""
    with _idle_lock:
        if _idle:
            return
    give_back(Worker())


@atexit.register
def _close_idle() -> None:
    """End the idle workers as this process exits (before multiprocessing waits for its children)."""
    with _idle_lock:
        idle, _idle[:] = list(_idle), []
    for worker in idle:
        worker.conn.close()  # the worker reads EOF and ends
    for worker in idle:
        worker.process.join(1.0)
        if worker.process.exitcode is None:
            timeouts.stop_process(worker.process)


def call_in_child(
    module: str,
    location: str,
    task: str,
    credentials: dict[str, Any],
    params: dict[str, Any],
    timeout: float,
    secrets: Sequence[str] | None = None,
    *,
    scope: str | None = None,
) -> dict[str, Any]:
    """Run the task in a warm child, stopping it (and its group) after `timeout` s or when its scope is stopped."""
    name = f"{module}.{task}"
    deadline = time.monotonic() + timeout
    request = (module, location, task, credentials, params, secrets, call.stamp_of(module, location))
    worker = take()
    if not timeouts.register(scope, worker.process):  # its run was cancelled: no call starts
        give_back(worker)
        return timeouts.stopped_outcome(name)
    outcome: dict[str, Any] | None = None
    timed_out = False
    try:
        try:
            worker.conn.send(request)
        except OSError:  # it died while idle: once more, with a fresh one
            timeouts.unregister(scope, worker.process)
            worker.discard()
            worker = Worker()
            timeouts.register(scope, worker.process)
            worker.conn.send(request)
        ready = wait([worker.conn, worker.process.sentinel], timeout=max(0.0, deadline - time.monotonic()))
        if worker.conn in ready:
            with contextlib.suppress(EOFError, OSError):
                outcome = worker.conn.recv()
        timed_out = not ready
    finally:
        timeouts.unregister(scope, worker.process)
        if outcome is not None and worker.alive():
            give_back(worker)
        else:
            worker.discard()  # stops its whole process group
            replace_soon()
    if outcome is not None:
        return outcome
    if timed_out:
        error = f"{name} timed out after {timeout:g} s and was stopped."
    elif timeouts.scope_stopped(scope):
        return timeouts.stopped_outcome(name)
    else:
        error = f"{name} ended its process (exit code {worker.process.exitcode}) without returning a result."
    return {"ok": False, "result": None, "error": error, "log": "", "timed_out": timed_out}
