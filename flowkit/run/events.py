"""Run events: what ``on_event`` callbacks receive, on the thread that drives the run.

The engine reports four moments — ``run_started``, ``node_started``,
``node_finished`` (also for skipped and reused nodes) and ``run_finished`` —
for progress bars and the live drawing. A callback that raises is logged and
the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import ValidationError
from ..model import NodeRun, Run

logger = logging.getLogger(__name__)

EVENT_KINDS = ("run_started", "node_started", "node_finished", "run_finished")


@dataclass
class Event:
    """Something happened in a run; given to every ``on_event`` callback, on the driver thread.

    Attributes:
        kind: ``run_started``, ``node_started``, ``node_finished`` or ``run_finished``.
        run: the live `Run`; ``run.nodes[name].status`` is current.
        node: the node concerned, or None for run events.
    """

    kind: str
    run: Run
    node: str | None = None

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
