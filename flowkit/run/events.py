"""Run events: what ``on_event`` callbacks receive, on the thread that drives the run.

The engine reports these moments — ``run_started``, ``node_started``,
``node_progress`` (an item of a foreach node ended), ``node_finished`` (also
for skipped, cancelled and reused nodes) and ``run_finished`` — for progress
bars and the live drawing, and ``node_output`` while a node runs and writes
(its masked log so far in ``text``; see `flowkit.run.output`). A callback that
raises is logged and the run goes on. The same moments (not ``node_output``)
go to the run's events file (`EventsFile`), so a killed process leaves a record of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..jsonvalue import dumps_checked
from ..model import NodeRun, Run

logger = logging.getLogger(__name__)

EVENT_KINDS = ("run_started", "node_started", "node_output", "node_progress", "node_finished", "run_finished")


@dataclass
class Event:
    """Something happened in a run; given to every ``on_event`` callback, on the driver thread.

    Attributes:
        kind: ``run_started``, ``node_started``, ``node_output``, ``node_progress`` (a foreach item ended),
            ``node_finished`` or ``run_finished``.
        run: the live `Run`; ``run.nodes[name].status`` is current.
        node: the node concerned, or None for run events.
        text: for ``node_output``, the node's log so far in this attempt (masked).
    """

    kind: str
    run: Run
    node: str | None = None
    text: str | None = None

    @property
    def node_run(self) -> NodeRun | None:
        """The concerned node's `NodeRun`, or None for run events."""
        return self.run.nodes.get(self.node) if self.node is not None else None


EventCallback = Callable[[Event], None]


def make_callbacks(on_event: EventCallback | Iterable[EventCallback] | None) -> list[EventCallback]:
    """The callbacks `on_event` names: one callable, a list of them, or None."""
    if on_event is None:
        return []
    if callable(on_event):
        return [on_event]
    callbacks = list(on_event)
    for callback in callbacks:
        if not callable(callback):
            raise ValidationError(f"on_event must be a callable or a list of callables, got {callback!r}.")
    return callbacks


def deliver(callbacks: list[EventCallback], event: Event) -> None:
    """Give `event` to each callback; one that raises is logged and skipped."""
    for callback in callbacks:
        try:
            callback(event)
        except Exception:  # a broken progress bar must not break the run
            logger.exception("An on_event callback failed on %s %s; the run goes on.", event.kind, event.node or "")


class EventsFile:
    """A run's events file (``runs/<id>.events.jsonl``): one line as each node starts and ends.

    Lines are handed to the OS in batches, each time before the driver may
    wait or run a task (`flush`): a killed process still leaves every line of
    what happened before, at one write() per batch instead of per line (no
    fsync: see `flowkit.store.RunLog`).
    """

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def started(self, node_run: NodeRun) -> None:
        """Note that a node started: a killed run then shows where it stopped (a short line, it is per node)."""
        self.handle.write(
            dumps_checked({"name": node_run.name, "status": "running", "started_at": node_run.started_at}) + "\n"
        )

    def ended(self, node_run: NodeRun) -> None:
        """Append a node's final state (buffered until the next `flush`)."""
        self.handle.write(dumps_checked(node_run.to_dict()) + "\n")  # every value was checked on arrival

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()
