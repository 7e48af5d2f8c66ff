"""Run a task call in a child process that can be stopped: the timeout machinery.

A thread cannot be stopped; a process can. A call with a timeout runs in a
child forked from multiprocessing's fork server (which imports flowkit once,
so each child starts in milliseconds and never inherits the parent's
threads or locks). The child makes itself a process-group leader and sends
its outcome back through a pipe; when the time is up the whole group gets
SIGTERM, a short grace, then SIGKILL — so a task stuck in ``while True``,
catching ``BaseException`` or ignoring SIGTERM, and anything it started,
is gone when its node is marked failed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Sequence
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.connection import wait
from multiprocessing.context import ForkServerProcess, set_spawning_popen
from typing import Any

from .call import call_here, call_redactor

#: After SIGTERM a timed-out task gets this long to exit before SIGKILL.
TERM_GRACE = 0.1


class _Popen(popen_forkserver.Popen):
    """The standard library's fork-server launch, minus re-importing the parent's ``__main__``.

    Fork-server (and spawn) children first import the parent's main script as
    ``__mp_main__``, so a plain ``python script.py`` that calls ``ws.run`` at
    top level would run again in every timed task. Our child's target lives
    in this module and needs nothing from ``__main__``, so that step is dropped.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class TaskProcess(ForkServerProcess):
    """A fork-server child that starts without the parent's main script (see `_Popen`)."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _Popen(process_obj)


def _ready() -> None:
    """The target of the first child: proves the fork server is up and has imported flowkit."""


@functools.lru_cache(maxsize=1)
def ensure_server() -> None:
    """Start the fork server and wait until it serves (≈ 0.3 s, once per process).

    The server imports flowkit once; each child then forks from it ready to go.
    Starting it returns before that import is done, so one empty child is run
    here: no timed call pays the server's start inside its own time limit.
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload([__name__])
    probe = TaskProcess(target=_ready, name="flowkit fork-server probe")
    probe.start()
    probe.join()


def child_main(
    writer: Any,
    module: str,
    location: str,
    task: str,
    credentials: dict[str, Any],
    params: dict[str, Any],
    secrets: Sequence[str] | None = None,
) -> None:
    """The child's body: run the call with its output caught, send the outcome back."""
    with contextlib.suppress(OSError):
        os.setsid()  # its own process group: the whole group is killed on timeout
    # Descriptors 1 and 2 go to a private file, so even a subprocess's output is caught.
    with tempfile.TemporaryFile() as raw:
        for fd in (1, 2):
            os.dup2(raw.fileno(), fd)
        outcome = call_here(module, location, task, credentials, params, secrets)
        raw.seek(0)
        extra = raw.read(1_000_000).decode("utf-8", "replace")
    if extra:
        outcome["log"] += call_redactor(credentials, secrets).text(extra)
    writer.send(outcome)
    writer.close()


def _signal_group(process: Any, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        # Not yet its own group (killed before setsid ran): signal the child alone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, sig)


def _stop(process: Any) -> None:
    """End the child and everything it started: SIGTERM to its group, a moment's grace, then SIGKILL."""
    _signal_group(process, signal.SIGTERM)
    process.join(TERM_GRACE)
    _signal_group(process, signal.SIGKILL)  # also reaches what is left of its group
    process.join(5.0)


def call_in_child(
    module: str,
    location: str,
    task: str,
    credentials: dict[str, Any],
    params: dict[str, Any],
    timeout: float,
    secrets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run the task in a child process, stopping it after `timeout` seconds."""
    name = f"{module}.{task}"
    ensure_server()
    reader, writer = multiprocessing.Pipe(duplex=False)
    process = TaskProcess(
        target=child_main, args=(writer, module, location, task, credentials, params, secrets), name=f"flowkit {name}"
    )
    deadline = time.monotonic() + timeout
    process.start()
    writer.close()
    outcome: dict[str, Any] | None = None
    timed_out = False
    try:
        ready = wait([reader, process.sentinel], timeout=max(0.0, deadline - time.monotonic()))
        if reader in ready:
            with contextlib.suppress(EOFError, OSError):
                outcome = reader.recv()
            process.join(1.0)  # it exits right after sending
        timed_out = not ready
    finally:
        if process.exitcode is None:
            _stop(process)
        reader.close()
    if outcome is not None:
        return outcome
    if timed_out:
        error = f"{name} timed out after {timeout:g} s and was stopped."
    else:
        error = f"{name} ended its process (exit code {process.exitcode}) without returning a result."
    return {"ok": False, "result": None, "error": error, "log": "", "timed_out": timed_out}
