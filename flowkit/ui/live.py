"""Show a run while it happens: a background thread, a recoloured drawing, a progress bar, the node rows.

`ws.run` and `ws.resume` are synchronous; calling them from a button's
handler would freeze the notebook until the workflow ends. `LiveRun` starts
them in a thread and returns at once. The engine calls `on_event` from its
worker threads, so every widget update happens under one lock, and redraws
are coalesced: at most one every `interval` seconds, plus the final one,
because a 200-node drawing is ~150 kB sent to the browser per redraw.
The summary and the node rows (`NodeTable`) follow every event, so logs and
errors show as nodes finish; a new run updates them in place, never blanking
the view in between.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .. import drawing
from ..model import Run, Workflow
from .common import Feedback, button, run_summary, text_of
from .node_table import NodeTable

FINISHED = ("success", "failed", "skipped", "cancelled")


class StopEvent(threading.Event):
    """The cancel event a UI run is given: the run's record says it was stopped with the Stop button."""

    reason = "stopped with the Stop button"


class LiveRun:
    """Runs one workflow at a time in a thread and mirrors its events on widgets.

    Args:
        picture: the HTML widget holding the drawing.
        progress: the progress bar (finished nodes / all nodes).
        result: the HTML widget for the run's summary line.
        feedback: where an error that stops the run is shown.
        nodes: the per-node rows (logs, results); a new one by default.
        on_done: called in the run's thread when it ends: with the Run, or None if it raised.
        interval: the shortest time between two redraws, in seconds.
    """

    def __init__(
        self,
        picture: w.HTML,
        progress: w.IntProgress,
        result: w.HTML,
        feedback: Feedback,
        *,
        nodes: NodeTable | None = None,
        on_done: Callable[[Run | None], None] | None = None,
        interval: float = 0.2,
    ) -> None:
        self.nodes = nodes if nodes is not None else NodeTable()
        self.picture = picture
        self.progress = progress
        self.result = result
        self.feedback = feedback
        self.on_done = on_done
        self.interval = interval
        self.thread: threading.Thread | None = None
        self.run: Run | None = None
        self.events: list[str] = []
        self._workflow: Workflow | None = None
        self._lock = threading.RLock()
        self._last_draw = 0.0
        self._timer: threading.Timer | None = None
        # Stop: the run's `cancel` event (`ws.run(cancel=...)`), set from the button on the kernel's thread.
        self.cancel: threading.Event = StopEvent()
        self.stop_button = button("■ Stop", "flowkit-stop", style="danger", tooltip="Cancel the run going on")
        self.stop_button.disabled = True
        self.stop_button.on_click(lambda _: self.stop())

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, workflow: Workflow, call: Callable[[Callable[[Any], None]], Run]) -> threading.Thread:
        """Run ``call(on_event)`` in a thread, drawing `workflow` coloured by the events.

        Raises:
            ValidationError: a run is still going.
        """
        from ..errors import ValidationError

        if self.running:
            raise ValidationError("A run is still going; wait for it to finish.")
        self._workflow = workflow
        self.cancel = StopEvent()  # a fresh one per run: `call` passes it as ws.run(cancel=live.cancel)
        self.run = None
        self.events = []
        self.nodes.live.clear()
        self.progress.max = max(len(workflow), 1)
        self.progress.value = 0
        self.progress.bar_style = "info"
        # The previous run's summary, rows and drawing stay until this run's first event replaces them.
        self.thread = threading.Thread(target=self._main, args=(call,), name="flowkit-ui-run", daemon=True)
        self.stop_button.disabled = False
        self.thread.start()
        return self.thread

    def stop(self) -> None:
        """Cancel the run going on (Stop): running nodes are cancelled, waiting ones skipped; it can be resumed."""
        if self.running and not self.cancel.is_set():
            self.cancel.set()
            self.stop_button.disabled = True
            self.feedback.ok("Stopping the run…")

    def wait(self, timeout: float | None = None) -> Run | None:
        """Block until the run ends (for scripts and tests); returns the finished run."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.run

    # -- the run's thread -----------------------------------------------------------
    def _main(self, call: Callable[[Callable[[Any], None]], Run]) -> None:
        finished: Run | None = None
        try:
            finished = call(self.on_event)
        except Exception as exc:  # shown to the person; the thread has no other caller
            with self._lock:
                self._cancel_timer()
                self.progress.bar_style = "danger"
                self.feedback.error(exc)
        else:
            with self._lock:
                self.run = finished
                self._cancel_timer()
                self._show(finished, final=True)
        self.stop_button.disabled = True
        if self.on_done is not None:
            try:
                self.on_done(finished)
            except Exception as exc:  # a view refresh failing must not hide the run's result
                self.feedback.error(f"The run finished, but the view could not refresh: {text_of(exc)}")

    def on_event(self, event: Any) -> None:
        """Mirror one engine event (called from the engine's threads)."""
        with self._lock:
            self.events.append(event.kind)
            self.run = event.run
            if event.kind == "node_output" and event.node is not None:
                self.nodes.live[event.node] = event.text or ""
            self._show(event.run, final=event.kind == "run_finished")

    # -- drawing ----------------------------------------------------------------------
    def _show(self, run: Run, *, final: bool) -> None:
        statuses = drawing.run_statuses(run)
        self.progress.value = sum(1 for status in statuses.values() if status in FINISHED)
        self.result.value = run_summary(run)
        self.nodes.update(run, self._workflow_nodes() or None)
        if final:
            self.progress.bar_style = "success" if run.status == "success" else "danger"
            self._draw(statuses)
            return
        wait = self.interval - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self._draw(statuses)
        elif self._timer is None:
            self._timer = threading.Timer(wait, self._draw_latest)
            self._timer.daemon = True
            self._timer.start()

    def _draw_latest(self) -> None:
        with self._lock:
            self._timer = None
            if self.run is not None:
                self._draw(drawing.run_statuses(self.run))

    def _draw(self, statuses: dict[str, str]) -> None:
        if self._workflow is not None:
            runs = self.run.nodes if self.run is not None else None  # marks such as a foreach's n/m
            self.picture.value = drawing.to_html(drawing.render(self._workflow, statuses, legend=True, runs=runs))
        self._last_draw = time.monotonic()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _workflow_nodes(self) -> list[str]:
        return list(self._workflow.nodes) if self._workflow is not None else []
