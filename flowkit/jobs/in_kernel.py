"""What the job template (``notebooks/run_workflow.ipynb``) does inside its kernel.

`run_workflow_job` runs a saved workflow with trigger ``papermill``, records
the run's id for the process that started the job (`flowkit.record`), and
keeps the output notebook's path with the run; `flowkit.jobs.report` then shows it.

Everything shown comes from the run record, which the engine has already
redacted; the job runner scrubs the whole output notebook once more.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import JobError, ValidationError
from ..jsonvalue import check_json, loads
from ..model import Run, check_identifier, check_seconds
from .recording import record

if TYPE_CHECKING:
    from ..workspace import Workspace

TRIGGER = "papermill"


def parse_inputs(inputs: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A run's inputs from a job parameter: a JSON object as text, or a mapping.

    Names must be identifiers (templates read them as ``{{ inputs.name }}``) and
    values strict JSON, so an int stays an int and a list stays a list.
    """
    if inputs is None or inputs == "":
        return {}
    if isinstance(inputs, str):
        try:
            inputs = loads(inputs)
        except ValueError as exc:
            raise ValidationError(f"inputs is not valid JSON: {exc}.") from None
    if not isinstance(inputs, Mapping):
        raise ValidationError(f"inputs must be a JSON object of name → value, got {type(inputs).__name__}.")
    for name in inputs:
        check_identifier(name, "Input name")
    return check_json(dict(inputs), "inputs")


#: Seconds a run cancelled at the job's time limit has to end before the kernel ends itself.
KERNEL_GRACE = 5.0

#: Seconds before the job's end (``ends_at``) at which a run still going is cancelled: its record,
#: drawing and failing cell are written before the job runner kills the kernel at the time limit.
STOP_MARGIN = 1.5


class TimeLimit(threading.Event):
    """The cancel event of a job's run: set at the job's time limit, it says so in the run's record."""

    def __init__(self, timeout: float | None) -> None:
        super().__init__()
        self.reason = "the job reached its time limit" + (f" of {timeout:g} s" if timeout is not None else "")


def run_workflow_job(
    workspace: str | None,
    workflow: str,
    inputs: str | Mapping[str, Any] | None = None,
    *,
    report: str = "",
    timeout: float | None = None,
    ends_at: float | None = None,
    ws: Workspace | None = None,
) -> Run:
    """Run a saved workflow as a job; returns the finished run.

    Args:
        workspace: the workspace folder ("" or None: ``$FLOWKIT_WORKSPACE`` or ``./.flowkit``).
        workflow: the saved workflow's name.
        inputs: the run's inputs (see `parse_inputs`).
        report: this output notebook's path, stored as the run's ``report``.
        timeout: seconds the job may take. Past them the run is cancelled (its
            timed nodes killed, recorded ``cancelled``, the reason given), and
            should it still not end, the kernel ends itself `KERNEL_GRACE`
            seconds later (see `_end_kernel`). None: no limit here.
        ends_at: when the job ends, as Unix time (flowkit's job runner sets it:
            its time limit counts from before the kernel started). The run is
            then cancelled `STOP_MARGIN` seconds before, so that it, and not
            the runner killing the kernel, ends the job. None: `timeout` counts
            from now (plain ``papermill``).
        ws: an open workspace to use instead of `workspace`.
    """
    from ..workspace import Workspace

    if not workflow:
        raise JobError("No workflow given: set the `workflow` parameter to the name of a saved workflow.")
    values = parse_inputs(inputs)
    for limit, name in ((timeout, "timeout"), (ends_at, "ends_at")):
        if limit is not None:
            check_seconds(limit, name)
    ws = ws if ws is not None else Workspace(workspace or None)
    left = _seconds_left(timeout, ends_at)
    started: list[str] = []

    def on_event(event: Any) -> None:
        # Record the id as soon as the run exists, so a job stopped mid-run still finds its run.
        run = getattr(event, "run", None)
        if run is not None and not started:
            started.append(run.id)
            run.report = report or None
            record("run_id", run.id)

    with _time_limit(left, timeout) as stop:
        run = ws.run(workflow, inputs=values, trigger=TRIGGER, on_event=on_event, cancel=stop)
    if not started:
        record("run_id", run.id)
    record("status", run.status)
    return run


def _seconds_left(timeout: float | None, ends_at: float | None) -> float | None:
    """Seconds the run may go on: to `STOP_MARGIN` before the job's end, and within `timeout`."""
    limits = [float(timeout)] if timeout is not None else []
    if ends_at is not None:
        limits.append(max(0.0, ends_at - time.time() - STOP_MARGIN))
    return min(limits) if limits else None


@contextlib.contextmanager
def _time_limit(seconds: float | None, timeout: float | None) -> Iterator[TimeLimit | None]:
    """The run's cancel event, set once the block has run for `seconds`; `_end_kernel` `KERNEL_GRACE` later.

    None (no limit) without `seconds`. Timers, not a ``deadline=``: the event
    carries the reason the run's record gives (see `TimeLimit`).
    """
    if seconds is None:
        yield None
        return
    stop = TimeLimit(timeout)
    timers = [threading.Timer(seconds, stop.set), threading.Timer(seconds + KERNEL_GRACE, _end_kernel)]
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        yield stop
    finally:
        for timer in timers:
            timer.cancel()


def _end_kernel() -> None:
    """End this process: its run, cancelled at the job's time limit, did not end within `KERNEL_GRACE`.

    A thread cannot be stopped and a task may ignore signals, so a job that
    overruns ends its kernel: whoever runs the notebook (flowkit's runner, or
    plain ``papermill`` whose default timeout is "forever") sees a dead kernel
    instead of waiting, and the run's record says it was interrupted.
    """
    sys.stderr.write(
        f"flowkit: the job's run did not end {KERNEL_GRACE:g} s after its time limit; ending its kernel.\n"
    )
    sys.stderr.flush()
    os._exit(124)


def failure(run: Run) -> str:
    """Why a run did not succeed, in one line naming each failed node."""
    failed = [f"{name}: {node.error or node.status}" for name, node in run.nodes.items() if node.status == "failed"]
    detail = "; ".join(failed) or run.error or run.status
    return f"Run {run.id} of workflow {run.workflow!r} ended {run.status}: {detail}"


def check_run(run: Run) -> Run:
    """Raise `JobError` if the run failed, so the notebook (and plain ``papermill``) fails too."""
    if run.status != "success":
        raise JobError(failure(run))
    return run
