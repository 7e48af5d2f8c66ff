"""The scheduler: one long-running loop that claims due slots and fires their runs in threads.

Each pass (`tick`) re-reads the schedules (so schedules added, paused or
deleted from the CLI or the App take effect without a restart), claims every
due slot through `ScheduleCollection.claim` (exactly once across schedulers
and restarts) and starts the run in its own thread with trigger ``schedule``.
Between passes it sleeps until the next fire time, or `poll` seconds at most.

A run that fails, or raises (a deleted workflow, a bad integration), is
logged; the scheduler goes on. `serve` returns when its stop event is set
(the CLI sets it on SIGTERM and Ctrl-C), after waiting up to `grace` seconds
for the runs in flight; those still running then are recorded as interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..integrations.registry import Registry
from .collection import Claim, ScheduleCollection

TRIGGER = "schedule"
logger = logging.getLogger("flowkit.scheduler")

#: ``run(workflow, inputs=..., trigger=..., on_event=...) -> Run``: what fires a slot (``ws.run``)
RunFunction = Callable[..., Any]


class Scheduler:
    """Fires the workspace's schedules.

    Args:
        schedules: ``ws.schedules``.
        run: ``ws.run`` (or anything called the same way).
        clock: the current time in seconds; a fake one in tests.
        poll: the longest sleep between passes, in seconds (picks up new schedules).
        max_catchup: the most missed slots a ``catchup=True`` schedule fires after an absence.
        log: where fire and finish lines go.
        refresh: called once before a pass fires anything. The CLI gives a
            `ModuleWatcher`: a scheduler lives for weeks, and each run should use
            the integration code as it is now, as a fresh ``flowkit run`` would.
    """

    def __init__(
        self,
        schedules: ScheduleCollection,
        run: RunFunction,
        *,
        clock: Callable[[], float] = time.time,
        poll: float = 5.0,
        max_catchup: int = 100,
        log: logging.Logger = logger,
        refresh: Callable[[], object] | None = None,
    ) -> None:
        self.schedules = schedules
        self._run = run
        self.clock = clock
        self.poll = poll
        self.max_catchup = max_catchup
        self.log = log
        self.refresh = refresh
        self._threads: set[threading.Thread] = set()
        self._guard = threading.Lock()

    # -- one pass --------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[Claim]:
        """Claim and fire every slot due at `now` (default: the clock); what was fired."""
        moment = self.clock() if now is None else now
        claims: list[Claim] = []
        for schedule in self.schedules.list():
            if schedule.paused:
                continue
            for _ in range(max(1, self.max_catchup)):  # catch-up claims one slot at a time
                try:
                    claim = self.schedules.claim(schedule.name, now=moment, limit=self.max_catchup)
                except Exception:  # a damaged schedule must not stop the others
                    self.log.exception("schedule %r: could not claim its slot", schedule.name)
                    break
                if claim is None:
                    break
                claims.append(claim)
        if claims and self.refresh is not None:
            try:
                self.refresh()
            except Exception:  # the runs go on with what is loaded; each reports its own errors
                self.log.exception("reloading before firing failed")
        for claim in claims:
            self.fire(claim)
        return claims

    def next_due(self, now: float | None = None) -> float | None:
        """When the next slot of any active schedule falls (seconds), or None when there is none."""
        moment = self.clock() if now is None else now
        upcoming = []
        for schedule in self.schedules.list():
            if schedule.paused:
                continue
            try:
                upcoming += [slot.timestamp() for slot in schedule.next_fires(1, now=moment)]
            except Exception:  # an unreadable schedule is reported by tick
                continue
        return min(upcoming, default=None)

    # -- firing ----------------------------------------------------------------------
    def fire(self, claim: Claim) -> threading.Thread:
        """Start the claimed slot's run in a thread; log a line."""
        schedule = claim.schedule
        note = " (earlier missed slots passed over)" if claim.passed_over else ""
        self.log.info(
            "fire schedule %r slot %s: workflow %r%s", schedule.name, claim.slot.isoformat(), schedule.workflow, note
        )
        thread = threading.Thread(
            target=self._run_claim,
            args=(claim,),
            name=f"schedule {schedule.name} {claim.slot.isoformat()}",
            daemon=True,
        )
        with self._guard:
            self._threads.add(thread)
        thread.start()
        return thread

    def _run_claim(self, claim: Claim) -> None:
        schedule = claim.schedule

        def on_event(event: Any) -> None:
            if event.kind == "run_started":
                self.schedules.record_run(claim, event.run.id)

        try:
            run = self._run(schedule.workflow, inputs=dict(schedule.inputs), trigger=TRIGGER, on_event=on_event)
            duration = f" in {run.duration:.2f} s" if run.duration is not None else ""
            line = "run %s of schedule %r slot %s: %s%s"
            self.log.info(line, run.id, schedule.name, claim.slot.isoformat(), run.status, duration)
        except Exception as exc:  # one run's failure never stops the scheduler
            self.log.error("schedule %r slot %s could not run: %s", schedule.name, claim.slot.isoformat(), exc)
        finally:
            with self._guard:
                self._threads.discard(threading.current_thread())

    @property
    def running(self) -> int:
        """How many fired runs are still going."""
        with self._guard:
            return sum(1 for thread in self._threads if thread.is_alive())

    def drain(self, timeout: float | None = None) -> int:
        """Wait for the runs in flight (at most `timeout` seconds); how many are still running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._guard:
            threads = list(self._threads)
        for thread in threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return self.running

    # -- the loop --------------------------------------------------------------------
    def serve(self, stop: threading.Event, *, grace: float = 60.0) -> int:
        """Fire due slots until `stop` is set; then wait up to `grace` s for runs in flight.

        Returns:
            How many runs were still going when it gave up waiting.
        """
        count = len(self.schedules.list())
        self.log.info("scheduler started: %d schedule(s), polling every %g s", count, self.poll)
        while not stop.is_set():
            try:
                self.tick()
                now = self.clock()
                wake = min(filter(None, [self.next_due(now), now + self.poll]))
            except Exception:  # the store unreadable for a moment (locked, being restored): retry later
                self.log.exception("scheduler pass failed; retrying in %g s", self.poll)
                wake = self.clock() + self.poll
            stop.wait(max(0.0, wake - self.clock()) + 0.001)
        if self.running:
            self.log.info("stopping: waiting up to %g s for %d run(s) in flight", grace, self.running)
        left = self.drain(grace)
        if left:
            self.log.warning("stopped with %d run(s) unfinished; they are recorded as interrupted", left)
        self.log.info("scheduler stopped")
        return left


class ModuleWatcher:
    """Reloads a registry when a file of its integration folders changed: the scheduler's `refresh`.

    ``registry.reload()`` re-imports every module (a second or so with the
    built-ins' dependencies), too slow to do before every fire of an
    every-second schedule; a ``stat`` of each file is not. The built-ins are not
    watched: they change only when flowkit is upgraded, which needs a restart.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._seen = self._stamp()

    def _stamp(self) -> frozenset[tuple[str, int, int]]:
        stamps = set()
        for source, folder in self.registry.sources():
            if source == "builtin" or not folder.is_dir():
                continue
            for path in folder.rglob("*.py"):
                try:
                    info = path.stat()
                except OSError:  # removed while we looked: the next look sees it gone
                    continue
                stamps.add((str(path), info.st_mtime_ns, info.st_size))
        return frozenset(stamps)

    def __call__(self) -> bool:
        """Reload if anything changed since the last look; whether it did."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self.registry.reload()
        self._seen = stamp
        return True
