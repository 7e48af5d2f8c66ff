"""What the job template (``notebooks/run_workflow.ipynb``) does inside its kernel.

`run_workflow_job` runs a saved workflow with trigger ``papermill``, records
the run's id for the process that started the job (`flowkit.record`), and
keeps the output notebook's path with the run. `RunReport` shows a run as a
report: the workflow and its version, the DAG coloured by status, and a table
of every node's status, attempts, duration, result and error.

Everything shown comes from the run record, which the engine has already
redacted; the job runner scrubs the whole output notebook once more.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import JobError, ValidationError
from .jsonvalue import check_json, loads
from .model import Run, check_identifier
from .recording import record

if TYPE_CHECKING:
    from .workspace import Workspace

TRIGGER = "papermill"
_CELL_LIMIT = 160


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
        timeout: seconds the run may take; past it the kernel ends itself
            (see `_deadline`). None: no limit here (the job runner keeps its own).
        ws: an open workspace to use instead of `workspace`.
    """
    from .workspace import Workspace

    if not workflow:
        raise JobError("No workflow given: set the `workflow` parameter to the name of a saved workflow.")
    values = parse_inputs(inputs)
    ws = ws if ws is not None else Workspace(workspace or None)
    started: list[str] = []

    def on_event(event: Any) -> None:
        # Record the id as soon as the run exists, so a job stopped mid-run still finds its run.
        run = getattr(event, "run", None)
        if run is not None and not started:
            started.append(run.id)
            run.report = report or None
            record("run_id", run.id)

    with _deadline(timeout):
        run = ws.run(workflow, inputs=values, trigger=TRIGGER, on_event=on_event)
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
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}.")

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


def _clip(text: str, limit: int = _CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return _clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))


class RunReport:
    """A run shown as a report: header, DAG coloured by status, and a per-node table.

    Args:
        run: the run to show.
    """

    columns = ("node", "status", "attempts", "duration", "result", "error")

    def __init__(self, run: Run) -> None:
        self.run = run

    def rows(self) -> list[dict[str, str]]:
        """One row of text per node, in the workflow's order."""
        rows = []
        for name, node in self.run.nodes.items():
            duration = f"{node.duration:.2f} s" if node.duration is not None else ""
            rows.append(
                {
                    "node": name,
                    "status": node.status,
                    "attempts": str(node.attempts),
                    "duration": duration,
                    "result": _shown(node.result),
                    "error": _shown(node.error),
                }
            )
        return rows

    def header(self) -> str:
        run = self.run
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
        duration = f", {run.duration:.2f} s" if run.duration is not None else ""
        return (
            f"Workflow {run.workflow!r} version {run.version}: {run.status} "
            f"(run {run.id}, trigger {run.trigger}, started {started}{duration})"
        )

    def text(self) -> str:
        """The report as plain text (terminals, logs, front ends without HTML)."""
        rows = self.rows()
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in self.columns}
        lines = [self.header(), "  ".join(c.upper().ljust(widths[c]) for c in self.columns)]
        lines += ["  ".join(r[c].ljust(widths[c]) for c in self.columns).rstrip() for r in rows]
        if self.run.error:
            lines.append(f"error: {self.run.error}")
        return "\n".join(lines)

    def html(self) -> str:
        """The header and the per-node table as HTML (the drawing is the run's own display)."""
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(r[c])}</td>" for c in self.columns) + "</tr>"
            for r in self.rows()
        )
        error = f"<p>error: {html.escape(self.run.error)}</p>" if self.run.error else ""
        return (
            f"<div class='flowkit-run-report'><p><b>{html.escape(self.header())}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{error}</div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()


def show(run: Run) -> None:
    """Display the run's drawing (coloured by status) and its report table."""
    from IPython.display import display

    display(run)
    display(RunReport(run))
