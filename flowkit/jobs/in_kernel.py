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
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import JobError, ValidationError
from ..jsonvalue import check_json, loads
from ..model import Run, check_identifier
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


def run_workflow_job(
    workspace: str | None,
    workflow: str,
    inputs: str | Mapping[str, Any] | None = None,
    *,
    report: str = "",
    timeout: float | None = None,
    ws: Workspace | None = None,
) -> Run:
    """Run a saved workflow as a job; returns the finished run.

    Args:
        workspace: the workspace folder ("" or None: ``$FLOWKIT_WORKSPACE`` or ``./.flowkit``).
        workflow: the saved workflow's name.
        inputs: the run's inputs (see `parse_inputs`).
        report: this output notebook's path, stored as the run's ``report``.
        timeout: seconds the run may take: past it the run is cancelled (its
            timed nodes killed, recorded ``cancelled``), and should it still
            not end, the kernel ends itself `KERNEL_GRACE` seconds later (see
            `_deadline`). None: no limit here (the job runner keeps its own).
        ws: an open workspace to use instead of `workspace`.
    """
    from ..workspace import Workspace

    if not workflow:
        raise JobError("No workflow given: set the `workflow` parameter to the name of a saved workflow.")
    values = parse_inputs(inputs)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    ws = ws if ws is not None else Workspace(workspace or None)
    started: list[str] = []

    def on_event(event: Any) -> None:
        # Record the id as soon as the run exists, so a job stopped mid-run still finds its run.
        run = getattr(event, "run", None)
        if run is not None and not started:
            started.append(run.id)
            run.report = report or None
            record("run_id", run.id)

    with _deadline(None if timeout is None else timeout + KERNEL_GRACE):
        run = ws.run(workflow, inputs=values, trigger=TRIGGER, on_event=on_event, deadline=timeout)
    if not started:
        record("run_id", run.id)
    record("status", run.status)
    return run


@contextlib.contextmanager
def _deadline(timeout: float | None) -> Iterator[None]:
    """End this process if the block runs past `timeout` seconds.

    A thread cannot be stopped and a task may ignore signals, so a job that
    overruns ends its kernel: whoever runs the notebook (flowkit's runner, or
    plain ``papermill`` whose default timeout is "forever") sees a dead kernel
    instead of waiting, and the run's record says it was interrupted.
    """
    if timeout is None:
        yield
        return

    def expire() -> None:
        sys.stderr.write(f"flowkit: the job ran past its {timeout:.0f} s time limit; ending its kernel.\n")
        sys.stderr.flush()
        os._exit(124)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


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
