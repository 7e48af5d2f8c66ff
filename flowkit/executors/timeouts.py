"""Child processes that can be stopped: the timeout machinery under timed calls.

A thread cannot be stopped; a process can. A call with a timeout runs in a
child forked from multiprocessing's fork server (which imports flowkit once,
so each child starts in milliseconds and never inherits the parent's
threads or locks), kept warm for call after call (`flowkit.executors.workers`).
The child makes itself a process-group leader (`become_call_process`); when
a call's time is up the whole group gets SIGTERM, a short grace, then SIGKILL
(`stop_process`) — so a task stuck in ``while True``, catching
``BaseException`` or ignoring SIGTERM, and anything it started, is gone when
its node is marked failed.

The child must not outlive what drives it either. On Linux it asks the kernel
for SIGKILL when its parent (the fork server, which exits as soon as the
driving process is gone) dies (``prctl(PR_SET_PDEATHSIG)``), and everywhere
a reaper process in its group checks every `WATCH_INTERVAL` seconds that the
driving process still lives and kills the whole group if not (`_die_with`).
So SIGKILL of ``flowkit run``, or a job's kernel ended at its time limit, ends
the timed calls it had running too, and what they started.

Calls carry a *scope* (their run's id): `stop_scope` stops every running
call of a scope at once, and refuses ones that start later, when the run
is cancelled or passes its deadline.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import io
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import ForkServerProcess, set_spawning_popen
from typing import Any

#: After SIGTERM a timed-out task gets this long to exit before SIGKILL.
TERM_GRACE = 0.1
#: Seconds between a child's checks that the process driving it still lives.
WATCH_INTERVAL = 0.25
_PR_SET_PDEATHSIG = 1

_scopes: dict[str, set[Any]] = {}  # scope -> its running child processes
_stopped: collections.deque[str] = collections.deque(maxlen=256)  # scopes stopped lately
_scopes_lock = threading.RLock()  # re-entrant: stop_scope may run in a signal handler (Ctrl-C)


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
    # The server imports this module and the warm children's (named, not imported: it imports this one).
    multiprocessing.get_context("forkserver").set_forkserver_preload([__name__, "flowkit.executors.workers"])
    probe = TaskProcess(target=_ready, name="flowkit fork-server probe")
    probe.start()
    probe.join()


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True  # no /proc (macOS): kill(pid, 0) has answered


def _kill_group(leader: int) -> None:
    """SIGKILL the call's process group, led by its child `leader` (never a group the call did not make)."""
    if os.getpgid(0) == leader:  # setsid ran in the child: the group is the call's own
        os.killpg(leader, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _die_with(driver: int, writer: Any) -> None:
    """Make this child, and what it starts, end when the process driving the run does.

    The child asks for SIGKILL when its parent, the fork server, dies (Linux;
    the server exits as soon as the driver is gone), which ends the child even
    inside a C call holding the GIL. A *reaper*, a second process in the
    call's group, checks every `WATCH_INTERVAL` seconds that the driver lives
    and kills the whole group when it does not: the processes the task
    started, and the child itself where there is no parent-death signal
    (macOS). It leaves quietly once the child has ended.
    """
    child, parent = os.getpid(), os.getppid()
    # The fork server exits when the last copy of the driver's "alive" pipe closes, and it hands
    # every child a copy: without closing ours, the server (our parent) would live as long as we do.
    alive = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        forkserver._forkserver._forkserver_alive_fd = None  # type: ignore[attr-defined]
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent or not _alive(driver):  # it went before the signal was asked for
        _kill_group(child)
    if os.fork() == 0:  # the reaper: this process has one thread here, so forking is safe
        try:
            writer.close()  # only the child answers the driver
            while os.getppid() == child:
                time.sleep(WATCH_INTERVAL)
                if not _alive(driver):
                    _kill_group(child)
        finally:
            os._exit(0)


def become_call_process(driver: int, conn: Any) -> None:
    """Set up a child that runs timed calls, once: its own process group, and it dies with `driver`.

    The leader of its own group, so stopping a call reaches everything the
    task started; `_die_with` ends it (and its group) when the driver goes.
    `conn` is the child's end of its pipe to the driver.
    """
    with contextlib.suppress(OSError):
        os.setsid()  # its own process group: the whole group is killed on timeout
    _die_with(driver, conn)
    from . import capture

    capture.guard_exit = False  # ending this process ends only its call


def _signal_group(process: Any, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        # Not yet its own group (killed before setsid ran): signal the child alone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, sig)


def stop_process(process: Any) -> None:
    """End the child and everything it started: SIGTERM to its group, a moment's grace, then SIGKILL."""
    _signal_group(process, signal.SIGTERM)
    process.join(TERM_GRACE)
    _signal_group(process, signal.SIGKILL)  # also reaches what is left of its group
    process.join(5.0)


def stop_scope(scope: str) -> int:
    """Stop every running timed call of `scope` (SIGTERM, a moment's grace, SIGKILL) and refuse later ones.

    Returns how many were running. Safe from any thread; the threads waiting
    on those calls get their outcome at once (the process ended).
    """
    with _scopes_lock:
        if scope not in _stopped:
            _stopped.append(scope)
        processes = list(_scopes.get(scope, ()))
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    if processes:
        time.sleep(TERM_GRACE)
    for process in processes:
        _signal_group(process, signal.SIGKILL)
    return len(processes)


def register(scope: str | None, process: Any) -> bool:
    """Note a started child under its scope; False if the scope is stopped already."""
    if scope is None:
        return True
    with _scopes_lock:
        if scope in _stopped:
            return False
        _scopes.setdefault(scope, set()).add(process)
        return True


def unregister(scope: str | None, process: Any) -> None:
    if scope is not None:
        with _scopes_lock:
            running = _scopes.get(scope)
            if running is not None:
                running.discard(process)
                if not running:
                    del _scopes[scope]


def scope_stopped(scope: str | None) -> bool:
    """Whether `scope` was stopped (its run cancelled): its calls are refused."""
    with _scopes_lock:
        return scope is not None and scope in _stopped


def stopped_outcome(name: str) -> dict[str, Any]:
    error = f"{name} was stopped: its run was cancelled."
    return {"ok": False, "result": None, "error": error, "log": "", "timed_out": False}
