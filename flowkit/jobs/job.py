"""Workflows as papermill jobs: one run per job, its output notebook the run's report.

A job executes the template ``run_workflow.ipynb`` with papermill *in this
process* (no ``papermill`` command per job), on flowkit's kernel engine
(`flowkit.jobs.papermill_engine`), always under a cell timeout and a job time limit. The
kernel runs the workflow with trigger ``papermill`` (`flowkit.jobs.in_kernel`) and
records the run's id in the output notebook, where this side reads it back.

What crosses into a job is checked first, before any kernel starts:

* the workflow must be saved;
* input names are identifiers (papermill injects names verbatim) and values
  strict JSON, passed as one JSON text so types survive (an int stays an int,
  a list a list);
* no input may carry a stored secret: only integration *names* travel, the
  kernel decrypts what the nodes use. A value holding a secret is refused
  without being echoed, with the message every face gives
  (`redaction.refuse_secrets`); a non-secret credential value (a folder) is fine.

The output notebook is scrubbed of every stored secret (cells, outputs,
metadata) each time it is written, in case a task printed one.

A batch runs one job per inputs line, N at a time. Each job's work happens in
its own kernel process, so a thread per job slot is enough to keep N kernels
busy; every kernel writes the same workspace under its file lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import jsonvalue
from ..crypto import KeySource
from ..errors import JobError, NotebookFailed, RunNotFound, ValidationError
from ..model import Workflow, check_seconds, new_run_id
from ..redaction import Redactor
from ..store import FileStore
from .in_kernel import failure
from .recording import records_of

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .kernel_pool import KernelPool

from .inputs import check_inputs
from .report import sign_notebook, slug

TEMPLATE = "run_workflow.ipynb"
DEFAULT_TIMEOUT = 600.0
DEFAULT_PARALLEL = 2


def notebooks_folder() -> Path:
    """flowkit's notebooks: packed inside the wheel, or the checkout's top-level folder."""
    packed = Path(__file__).resolve().parents[1] / "_notebooks"
    if packed.is_dir():
        return packed
    return Path(__file__).resolve().parents[2] / "notebooks"


def template_path() -> Path:
    """The job template notebook."""
    return notebooks_folder() / TEMPLATE


def report_target(ws: Workspace, path: str | os.PathLike[str], what: str = "The report") -> Path:
    """`path` resolved, if a report may be written there: not inside the workspace folder, except ``reports/``.

    The workspace folder holds the store (collection files, run history) and
    the integration modules; a report written over one of them destroyed it
    (``-o <ws>/workflows.json`` replaced every saved workflow with a notebook).

    Raises:
        ValidationError: naming the path and where reports may go instead.
    """
    target = Path(path).resolve()
    root = ws.path.resolve()
    if target.is_relative_to(root) and not target.is_relative_to(root / "reports"):
        raise ValidationError(
            f"{what} {target} is inside the workspace {root}, which holds its store and integration "
            f"modules; write it outside the workspace, or under {root / 'reports'}."
        )
    return target


def default_report_path(ws: Workspace, workflow: str) -> Path:
    """``<workspace>/reports/<workflow>-<time>-<random>.ipynb``: unique even for parallel jobs."""
    return ws.path / "reports" / f"{slug(workflow)}-{new_run_id()}.ipynb"


# -- one job ----------------------------------------------------------------------
@dataclass
class JobResult:
    """What became of one job.

    Attributes:
        workflow: the workflow's name.
        inputs: the run's inputs.
        report: the output notebook's path.
        status: ``success`` or ``failed`` (the run's status when a run started).
        run_id: the recorded run, or None if the job failed before the run began.
        error: why the job failed, or None.
        duration: seconds, kernel start included.
        line: the line of the batch file (1-based) for batch jobs.
    """

    workflow: str
    inputs: dict[str, Any]
    report: str
    status: str
    run_id: str | None = None
    error: str | None = None
    duration: float = 0.0
    line: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "inputs": self.inputs,
            "report": self.report,
            "status": self.status,
            "run_id": self.run_id,
            "error": self.error,
            "duration": self.duration,
            "line": self.line,
        }


@dataclass
class JobSpec:
    """Plain data describing a checked job, so it can run in a thread or another process."""

    workspace: str
    workflow: str
    inputs: dict[str, Any]
    report: str
    timeout: float
    cell_timeout: float
    template: str
    line: int | None = None
    keys: KeySource | None = None  # the workspace's key source, for this side and the kernel


def _read_notebook(path: Path) -> dict[str, Any] | None:
    try:
        return jsonvalue.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def job_environment(spec: JobSpec) -> dict[str, str | None] | None:
    """The variables laid over this process's environment for a job's kernel: where to find the keys."""
    return spec.keys.environment() if spec.keys is not None else None


def execute_job(spec: JobSpec, kernels: KernelPool | None = None) -> JobResult:
    """Run one checked job and read back its run (also the unit of work of a batch).

    Args:
        spec: the checked job.
        kernels: a batch's warm kernels to take this job's kernel from (default: start one).
    """
    from ..workspace import Workspace
    from . import papermill_engine

    started = time.monotonic()
    ws = Workspace(spec.workspace, keys=spec.keys)
    report = Path(spec.report)
    parameters = {
        "workspace": spec.workspace,
        "workflow": spec.workflow,
        "inputs": json.dumps(spec.inputs, ensure_ascii=False),
        "report": spec.report,
        "timeout": spec.timeout,
        "ends_at": time.time() + spec.timeout,  # the kernel's run ends before the limit below kills it
    }
    redactor = Redactor.of(ws.integrations.secret_values())  # before the kernel: a key problem stops the job here
    error: str | None = None
    run_failed_cell = False
    try:
        papermill_engine.execute_notebook(
            spec.template,
            report,
            parameters=parameters,
            cell_timeout=spec.cell_timeout,
            timeout=spec.timeout,
            cwd=report.parent,
            env=job_environment(spec),
            scrub=redactor,
            kernels=kernels,
        )
    except NotebookFailed as exc:
        error = str(exc)
        run_failed_cell = exc.ename == "JobError"  # the template's check_run: the run itself failed
    except JobError as exc:  # the kernel could not start, or a time limit was hit
        error = str(exc)
    sign_notebook(report)  # flowkit wrote every output: the drawing renders on open (see report.sign_notebook)
    notebook = _read_notebook(report)
    run_id = records_of(notebook).get("run_id") if notebook else None
    status = "failed"
    run = None
    if run_id is not None:
        with contextlib.suppress(RunNotFound):
            run = ws.runs.get(run_id)
    if run is not None:
        status = "success" if run.status == "success" and error is None else "failed"
        if run.status != "success" and (error is None or run_failed_cell):
            error = failure(run)
    if error is not None:
        error = redactor.text(error)
    return JobResult(
        workflow=spec.workflow,
        inputs=spec.inputs,
        report=str(report),
        status=status,
        run_id=run_id,
        error=error,
        duration=time.monotonic() - started,
        line=spec.line,
    )


def prepare_job(
    ws: Workspace,
    workflow: str | Workflow,
    inputs: str | Mapping[str, Any] | None,
    *,
    output: str | os.PathLike[str] | None,
    timeout: float,
    cell_timeout: float | None,
    template: str | os.PathLike[str] | None,
    line: int | None = None,
    stored_secrets: Callable[[], Any] | None = None,
) -> JobSpec:
    if not isinstance(ws.store, FileStore):
        raise JobError(
            "A job runs in its own kernel, which opens the workspace from its folder; "
            f"this workspace keeps its data in {ws.store!r}. Use a workspace on files for jobs."
        )
    name = workflow.name if isinstance(workflow, Workflow) else workflow
    ws.workflows.get(name)  # a missing workflow is refused here, before a kernel starts
    values = check_inputs(ws, inputs, stored_secrets=stored_secrets)
    check_seconds(timeout, "timeout")
    report = report_target(ws, output) if output is not None else default_report_path(ws, name)
    source = Path(template) if template is not None else template_path()
    return JobSpec(
        workspace=str(ws.path),
        workflow=name,
        inputs=values,
        report=str(report),
        timeout=float(timeout),
        cell_timeout=float(cell_timeout or timeout),
        template=str(source),
        line=line,
        keys=ws.keys,
    )


def run_job(
    ws: Workspace,
    workflow: str | Workflow,
    *,
    inputs: str | Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float | None = None,
    template: str | os.PathLike[str] | None = None,
) -> JobResult:
    """Run a saved workflow as a papermill job; the output notebook is the run's report.

    Args:
        ws: the workspace.
        workflow: a saved workflow, or its name.
        inputs: the run's inputs: a mapping, or a JSON object as text.
        output: the report notebook's path (default: in ``<workspace>/reports/``).
        timeout: seconds the whole job may take, kernel start included.
        cell_timeout: seconds any one cell may take (default: `timeout`).
        template: another job template, taking the same parameters (one ignoring `ends_at`
            counts its `timeout` from its run's start).

    Returns:
        The job's result; ``result.ok`` tells whether the run succeeded.

    Raises:
        WorkflowNotFound: no saved workflow of that name.
        InvalidName, ValidationError: refused inputs (nothing ran).
    """
    return execute_job(
        prepare_job(ws, workflow, inputs, output=output, timeout=timeout, cell_timeout=cell_timeout, template=template)
    )
