"""Ending a run before its end: a deadline, a cancel from another thread, Ctrl-C.

A `RunControl` is what the engine asks "should this run stop?" between
steps. It says yes once the run's `deadline` has passed, once the `cancel`
event given to ``ws.run`` is set, or once Ctrl-C is pressed while the run is
driven from the main thread. The engine then stops every running node (timed
calls run in processes, which are killed; a thread cannot be stopped, so an
untimed call is recorded ``cancelled`` and no longer waited for), skips the
nodes not started, and records the run as ``cancelled``.

Reacting fast: a deadline and Ctrl-C wake the waiting engine at once (a
timer, a signal handler), and also stop the run's timed calls in this process
from there, so a call the engine itself is making ends too; a plain
`threading.Event` cannot wake anyone, so the engine polls it every `POLL`
seconds. `RunHandle` (``ws.start``) runs a workflow in a background thread
and cancels it with ``handle.cancel()``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ValidationError
from ..model import check_seconds
from .events import make_callbacks

if TYPE_CHECKING:
    from ..model import NodeRun, Run

#: Seconds between looks at a cancel event that cannot wake the engine.
POLL = 0.1


class CancelEvent(Protocol):
    """What ``cancel=`` accepts: a `threading.Event`, or anything with ``is_set()``."""

    def is_set(self) -> bool: ...


class RunControl:
    """Whether a run must stop, and why (see the module docstring).

    Args:
        deadline: seconds the run may take from now, or None.
        cancel: an event that cancels the run once set, or None.
    """

    def __init__(self, *, deadline: float | None = None, cancel: CancelEvent | None = None) -> None:
        if deadline is not None:
            check_seconds(deadline, "deadline")
        if cancel is not None and not callable(getattr(cancel, "is_set", None)):
            raise ValidationError(f"cancel must be a threading.Event (something with is_set()), got {cancel!r}.")
        self.deadline = deadline
        self.due = time.monotonic() + deadline if deadline is not None else None
        self.event = cancel
        self.reason: str | None = None
        self.calling = False  # the engine is making a call on the main thread (see `interrupted`)
        self._hooks: list[Callable[[], None]] = []
        self._lock = threading.RLock()  # re-entrant: `cancel` also runs in the Ctrl-C handler
        self._timer: threading.Timer | None = None

    @property
    def active(self) -> bool:
        """Whether anything but Ctrl-C can stop the run (the engine then makes no call on its own thread)."""
        return self.due is not None or self.event is not None

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Call `hook` (from whichever thread cancels) when the run is cancelled."""
        self._hooks.append(hook)

    def cancel(self, reason: str) -> None:
        """Cancel the run, saying why; the first reason wins. Safe from any thread and from a signal handler."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        for hook in self._hooks:
            with contextlib.suppress(Exception):
                hook()

    def check(self) -> str | None:
        """Why the run must stop, or None to go on."""
        if self.reason is None:
            if self.event is not None and self.event.is_set():
                # An event may say who cancelled (the notebook's Stop button does); else a neutral reason.
                self.cancel(str(getattr(self.event, "reason", "") or "cancelled from another thread"))
            elif self.due is not None and time.monotonic() >= self.due:
                self.cancel(f"the run's deadline of {self.deadline:g} s passed")
        return self.reason

    def wait_limit(self, now: float, *dues: float) -> float | None:
        """The longest the engine may wait before looking again (None: until woken), given its own `dues`."""
        limits = [due - now for due in dues]
        if self.due is not None:
            limits.append(self.due - now)
        if self.event is not None:
            limits.append(POLL)
        return max(0.0, min(limits)) if limits else None

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """While the run goes: a timer for the deadline, and Ctrl-C as a cancel (on the main thread)."""
        if self.due is not None:
            self._timer = threading.Timer(max(0.0, self.due - time.monotonic()), self.check)
            self._timer.daemon = True
            self._timer.start()
        previous = None
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError):
                if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                    previous = signal.signal(signal.SIGINT, self._interrupted)
        try:
            yield
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _interrupted(self, signum: int, frame: Any) -> None:
        """Ctrl-C: cancel the run; a second Ctrl-C stops at once, as Python would."""
        if self.reason is not None:
            raise KeyboardInterrupt
        self.cancel("interrupted (Ctrl-C)")
        if self.calling:
            raise KeyboardInterrupt  # into the call the engine is making: it fails, and is recorded cancelled


def cancel_nodes(run: Run, order: Iterable[str], reason: str) -> list[NodeRun]:
    """Mark a cancelled run's nodes, in `order`: running ones ``cancelled``, waiting ones ``skipped``.

    Returns the nodes marked, for the engine to record and report.
    """
    marked = []
    for name in order:
        node_run = run.nodes.get(name)
        if node_run is None or node_run.reused or node_run.status not in ("running", "pending"):
            continue
        if node_run.status == "running":
            node_run.status, node_run.error = "cancelled", f"Cancelled: {reason}."
        else:
            node_run.status, node_run.error = "skipped", f"Skipped: the run was cancelled ({reason})."
        node_run.finished_at = time.time()
        marked.append(node_run)
    return marked


def stop_local_calls(scope: str) -> None:
    """Stop a run's timed calls in this process, from whichever thread cancels (even mid-call on the driver)."""
    from ..executors.timeouts import stop_scope  # the process machinery loads only when a run is cancelled

    stop_scope(scope)


def start_in_background(run: Callable[..., Run], workflow: Any, options: dict[str, Any]) -> RunHandle:
    """``run(workflow, **options)`` on a background thread, with a cancel event of its own (``ws.start``)."""
    if "cancel" in options:
        raise ValidationError("start() makes its own cancel event: call handle.cancel() instead.")
    callbacks = make_callbacks(options.pop("on_event", None))
    return RunHandle(lambda cancel, seen: run(workflow, cancel=cancel, on_event=[seen, *callbacks], **options))


class RunHandle:
    """A run going on in a background thread (``ws.start``): cancel it, wait for it.

    Attributes:
        run: the live `Run` once it has started (None before), as events see it.
    """

    def __init__(self, start: Callable[[threading.Event, Callable[[Any], None]], Run]) -> None:
        self.run: Run | None = None
        self._cancel = threading.Event()
        self._future: concurrent.futures.Future[Run] = concurrent.futures.Future()

        def seen(event: Any) -> None:
            if self.run is None:
                self.run = event.run

        def main() -> None:
            self._future.set_running_or_notify_cancel()
            try:
                self._future.set_result(start(self._cancel, seen))
            except BaseException as exc:  # handed to whoever waits on result()
                self._future.set_exception(exc)

        self._thread = threading.Thread(target=main, name="flowkit-run", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Cancel the run: running nodes stopped (or no longer waited for), the rest skipped."""
        self._cancel.set()

    def done(self) -> bool:
        """Whether the run has ended."""
        return self._future.done()

    def result(self, timeout: float | None = None) -> Run:
        """The finished `Run` (waiting up to `timeout` seconds); raises what the run raised.

        Raises:
            TimeoutError: the run is still going after `timeout` seconds.
        """
        return self._future.result(timeout)

    def __repr__(self) -> str:
        state = "done" if self.done() else "cancelling" if self._cancel.is_set() else "running"
        return f"RunHandle({self.run.id if self.run else '(starting)'}, {state})"
