"""Workflows as papermill jobs: one run per job, its output notebook the run's report.

A job executes the template ``run_workflow.ipynb`` with papermill *in this
process* (no ``papermill`` command per job), on flowkit's kernel engine
(`flowkit.nbengine`), always under a cell timeout and a job time limit. The
kernel runs the workflow with trigger ``papermill`` (`flowkit.report`) and
records the run's id in the output notebook, where this side reads it back.

What crosses into a job is checked first, before any kernel starts:

* the workflow must be saved;
* input names are identifiers (papermill injects names verbatim) and values
  strict JSON, passed as one JSON text so types survive (an int stays an int,
  a list a list);
* no input may carry a stored credential: only integration *names* travel,
  the kernel decrypts what the nodes use. A value equal to a stored
  credential, or holding a password, is refused without being echoed.

After the job, the output notebook is scrubbed of every stored credential
value (cells, outputs, metadata), in case a task printed one.

A batch runs one job per inputs line, N at a time. Each job's work happens in
its own kernel process, so a thread per job slot is enough to keep N kernels
busy; every kernel writes the same workspace under its file lock.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import crypto, jsonvalue
from .errors import FlowkitError, JobError, NotebookFailed, RunNotFound, ValidationError
from .model import Workflow, new_run_id
from .recording import records_of
from .report import failure, parse_inputs

if TYPE_CHECKING:
    from .executors import Executor as NodeExecutor
    from .workspace import Workspace

TEMPLATE = "run_workflow.ipynb"
DEFAULT_TIMEOUT = 600.0
DEFAULT_PARALLEL = 2


def notebooks_folder() -> Path:
    """flowkit's notebooks: packed inside the wheel, or the checkout's top-level folder."""
    packed = Path(__file__).parent / "_notebooks"
    if packed.is_dir():
        return packed
    return Path(__file__).resolve().parent.parent / "notebooks"


def template_path() -> Path:
    """The job template notebook."""
    return notebooks_folder() / TEMPLATE


# -- what may cross into a job --------------------------------------------------
def _leaves(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    """Every key and scalar inside a JSON value, with where it is."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"a key of {path}", key
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _credential_checks(ws: Workspace) -> list[tuple[str, str, Any, crypto.Redactor | None]]:
    """(integration, field, value, redactor for password fields) for every stored credential."""
    checks = []
    for integration in ws.integrations.list():
        try:
            secret_fields = set(ws.types.get(integration.type).secret_fields)
        except KeyError:
            secret_fields = set(integration.credentials)  # no type left: treat every field as secret
        for name, value in integration.credentials.reveal().items():
            redactor = crypto.Redactor([value]) if name in secret_fields else None
            checks.append((integration.name, name, value, redactor))
    return checks


def check_inputs(ws: Workspace, inputs: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Inputs fit to cross into a job: identifier names, strict JSON, no stored credential.

    Raises:
        InvalidName: a name is not an identifier (nothing ran).
        ValidationError: a value is not JSON, or carries a stored credential
            (the message names the integration and field, never the value).
    """
    values = parse_inputs(inputs)
    checks = _credential_checks(ws) if values else []
    for path, leaf in _leaves(values, "inputs"):
        if not isinstance(leaf, str):
            continue
        for integration, name, secret, redactor in checks:
            if leaf == secret or (redactor is not None and redactor.text(leaf) != leaf):
                raise ValidationError(
                    f"{path} holds the value of the stored credential {name!r} of integration "
                    f"{integration!r}. Jobs never take secrets as parameters: the workflow's nodes "
                    "name their integration and the job decrypts what they use."
                )
    return values


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "workflow"


def default_report_path(ws: Workspace, workflow: str) -> Path:
    """``<workspace>/reports/<workflow>-<time>-<random>.ipynb``: unique even for parallel jobs."""
    return ws.path / "reports" / f"{_slug(workflow)}-{new_run_id()}.ipynb"


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
class _JobSpec:
    """Plain data describing a checked job, so it can run in a thread or another process."""

    workspace: str
    workflow: str
    inputs: dict[str, Any]
    report: str
    timeout: float
    cell_timeout: float
    template: str
    line: int | None = None


def _read_notebook(path: Path) -> dict[str, Any] | None:
    try:
        return jsonvalue.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def scrub_notebook(path: str | os.PathLike[str], secrets: Iterable[Any]) -> bool:
    """Replace every secret value (and its encodings) anywhere in a notebook file; True if any was found."""
    redactor = crypto.Redactor(secrets)
    target = Path(path)
    data = _read_notebook(target)
    if data is None or not redactor:
        return False
    cleaned = redactor(data)
    if cleaned == data:
        return False
    from .store import atomic_write

    atomic_write(target, (json.dumps(cleaned, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode())
    return True


def _execute(spec: _JobSpec) -> JobResult:
    """Run one checked job and read back its run (also the unit of work of a batch)."""
    from . import nbengine
    from .workspace import Workspace

    started = time.monotonic()
    ws = Workspace(spec.workspace)
    report = Path(spec.report)
    parameters = {
        "workspace": spec.workspace,
        "workflow": spec.workflow,
        "inputs": json.dumps(spec.inputs, ensure_ascii=False),
        "report": spec.report,
        "timeout": spec.timeout,
    }
    secrets = ws.integrations.secret_values()  # before the kernel: a key problem stops the job here
    error: str | None = None
    run_failed_cell = False
    try:
        nbengine.execute_notebook(
            spec.template,
            report,
            parameters=parameters,
            cell_timeout=spec.cell_timeout,
            timeout=spec.timeout,
            cwd=report.parent,
        )
    except NotebookFailed as exc:
        error = str(exc)
        run_failed_cell = exc.ename == "JobError"  # the template's check_run: the run itself failed
    except JobError as exc:  # the kernel could not start, or a time limit was hit
        error = str(exc)
    scrub_notebook(report, secrets)
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
        error = crypto.Redactor(secrets).text(error)
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


def _prepare(
    ws: Workspace,
    workflow: str | Workflow,
    inputs: str | Mapping[str, Any] | None,
    *,
    output: str | os.PathLike[str] | None,
    timeout: float,
    cell_timeout: float | None,
    template: str | os.PathLike[str] | None,
    line: int | None = None,
) -> _JobSpec:
    name = workflow.name if isinstance(workflow, Workflow) else workflow
    ws.workflows.get(name)  # a missing workflow is refused here, before a kernel starts
    values = check_inputs(ws, inputs)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    report = Path(output).resolve() if output is not None else default_report_path(ws, name)
    source = Path(template) if template is not None else template_path()
    return _JobSpec(
        workspace=str(ws.path),
        workflow=name,
        inputs=values,
        report=str(report),
        timeout=float(timeout),
        cell_timeout=float(cell_timeout or timeout),
        template=str(source),
        line=line,
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
        template: another job template (it must take the same parameters).

    Returns:
        The job's result; ``result.ok`` tells whether the run succeeded.

    Raises:
        WorkflowNotFound: no saved workflow of that name.
        InvalidName, ValidationError: refused inputs (nothing ran).
    """
    return _execute(
        _prepare(ws, workflow, inputs, output=output, timeout=timeout, cell_timeout=cell_timeout, template=template)
    )


# -- batches ---------------------------------------------------------------------
@dataclass
class BatchResult:
    """The jobs of a batch, in input order."""

    jobs: list[JobResult] = field(default_factory=list)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return all(job.ok for job in self.jobs)

    @property
    def succeeded(self) -> list[JobResult]:
        return [job for job in self.jobs if job.ok]

    @property
    def failed(self) -> list[JobResult]:
        return [job for job in self.jobs if not job.ok]

    def summary(self) -> str:
        """One line per job (line, status, run, report, error) and the totals."""
        lines = []
        for job in self.jobs:
            detail = f"  {job.error}" if job.error else ""
            lines.append(f"line {job.line}: {job.status:<7} run {job.run_id or '-'}  {job.report}{detail}")
        lines.append(
            f"{len(self.succeeded)} ok, {len(self.failed)} failed, {len(self.jobs)} jobs in {self.duration:.1f} s"
        )
        return "\n".join(lines)


def read_batch_file(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSON Lines file of inputs: ``(line number, inputs)`` per non-blank line.

    Every bad line is reported at once, and nothing runs if any is bad.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"Cannot read the batch file {path}: {exc.strerror or exc}.") from None
    entries: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entries.append((number, parse_inputs(raw)))
        except ValidationError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise ValidationError(f"The batch file {path} has {len(problems)} bad line(s): " + "; ".join(problems))
    if not entries:
        raise ValidationError(f"The batch file {path} holds no inputs (one JSON object per line).")
    return entries


def _run_on(ws: Workspace, executor: NodeExecutor, spec: _JobSpec) -> JobResult:
    """One batch entry as a run driven from this process, its node calls on `executor` (e.g. Dask)."""
    started = time.monotonic()
    try:
        run = ws.run(spec.workflow, inputs=spec.inputs, executor=executor, trigger="batch")
    except FlowkitError as exc:  # refused before it started (a workflow invalid for these inputs, a key problem)
        return JobResult(
            workflow=spec.workflow,
            inputs=spec.inputs,
            report="",
            status="failed",
            error=str(exc),
            duration=time.monotonic() - started,
            line=spec.line,
        )
    return JobResult(
        workflow=spec.workflow,
        inputs=spec.inputs,
        report="",
        status=run.status,
        run_id=run.id,
        error=run.error,
        duration=time.monotonic() - started,
        line=spec.line,
    )


def run_batch(
    ws: Workspace,
    workflow: str | Workflow,
    inputs: Iterable[Mapping[str, Any] | str] | str | os.PathLike[str],
    *,
    parallel: int = DEFAULT_PARALLEL,
    output_dir: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float | None = None,
    progress: bool = True,
    executor: concurrent.futures.Executor | NodeExecutor | None = None,
) -> BatchResult:
    """Run one job per inputs entry, `parallel` at a time, with a progress bar.

    Args:
        ws: the workspace.
        workflow: a saved workflow, or its name.
        inputs: a JSON Lines file path, or an iterable of inputs (mappings or JSON texts).
        parallel: how many jobs run at once (each in its own kernel process).
        output_dir: where the reports go (default: a new folder in ``<workspace>/reports/``).
        timeout: seconds each job may take.
        cell_timeout: seconds any one cell may take (default: `timeout`).
        progress: show a tqdm progress bar on stderr.
        executor: run the jobs on this executor instead (e.g. a Dask client's ``get_executor()``);
            it must be able to call a module-level function with plain-data arguments.
            A flowkit `Executor` (``fk.executors.DaskExecutor(...)``) changes what a job is:
            each entry becomes a plain run (trigger ``batch``, no report notebook) driven
            from this process, `parallel` runs at a time, whose node calls go to that
            executor; the results come back here and only this process writes the workspace.
            `timeout` bounds notebook jobs; on a flowkit executor the nodes' own timeouts apply.

    Every entry is checked before the first job starts; a refused entry stops
    the whole batch with every problem listed.
    """
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValidationError(f"parallel must be a whole number ≥ 1, got {parallel!r}.")
    entries: list[tuple[int, Any]]
    if isinstance(inputs, (str, os.PathLike)):
        entries = list(read_batch_file(inputs))
    else:
        entries = list(enumerate(inputs, start=1))
    name = workflow.name if isinstance(workflow, Workflow) else workflow
    folder = (
        Path(output_dir).resolve()
        if output_dir is not None
        else (ws.path / "reports" / f"{_slug(name)}-batch-{new_run_id()}")
    )
    specs, problems = [], []
    for line, values in entries:
        try:
            specs.append(
                _prepare(
                    ws,
                    workflow,
                    values,
                    output=folder / f"line-{line:04d}.ipynb",
                    timeout=timeout,
                    cell_timeout=cell_timeout,
                    template=None,
                    line=line,
                )
            )
        except ValidationError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise ValidationError(
            f"{len(problems)} batch entr{'y' if len(problems) == 1 else 'ies'} refused, "
            "nothing ran: " + "; ".join(problems)
        )
    started = time.monotonic()
    results: dict[int, JobResult] = {}
    from .executors import Executor

    job: Any = _execute
    pool: concurrent.futures.Executor
    if executor is None or isinstance(executor, Executor):
        if executor is not None:  # the runs are driven from here, their nodes go to `executor`
            job = functools.partial(_run_on, ws, executor)
        own, pool = True, concurrent.futures.ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="flowkit-job")
    else:
        own, pool = False, executor
    bar = _progress_bar(len(specs), name) if progress else None
    try:
        futures = {pool.submit(job, spec): spec for spec in specs}
        for future in concurrent.futures.as_completed(futures):
            spec = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # a job that could not even report is still counted, never lost
                result = JobResult(
                    workflow=spec.workflow,
                    inputs=spec.inputs,
                    report=spec.report,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                    line=spec.line,
                )
            results[id(spec)] = result
            if bar is not None:
                bar.set_postfix_str(f"failed={sum(not r.ok for r in results.values())}")
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if own:
            pool.shutdown(wait=True)
    return BatchResult([results[id(spec)] for spec in specs], duration=time.monotonic() - started)


def _progress_bar(total: int, name: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{name} jobs", unit="job")


def parse_cli_value(text: str) -> Any:
    """A value typed on the command line: JSON where it parses (``3``, ``[1, 2]``, ``true``), else the text."""
    with contextlib.suppress(ValueError):
        return jsonvalue.loads(text)
    return text
