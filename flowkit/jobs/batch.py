"""A batch of jobs: one job per inputs line, N at a time, each in its own kernel."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FlowkitError, ValidationError
from ..model import Workflow, new_run_id
from .inputs import read_batch_file
from .job import (
    DEFAULT_PARALLEL,
    DEFAULT_TIMEOUT,
    JobResult,
    JobSpec,
    execute_job,
    job_environment,
    prepare_job,
    report_target,
)
from .report import slug

if TYPE_CHECKING:
    from ..executors.base import Executor as NodeExecutor
    from ..workspace import Workspace
    from .kernel_pool import KernelPool


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


def _run_on(ws: Workspace, executor: NodeExecutor, spec: JobSpec) -> JobResult:
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
    warm_kernels: int | None = None,
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
        warm_kernels: how many kernels are started ahead of the jobs that will use them, while
            earlier jobs run (default ``parallel + 1``; 0 starts each job's kernel when the job
            begins). Each job still gets a fresh kernel of its own (`flowkit.jobs.kernel_pool`).

    Every entry is checked before the first job starts; a refused entry stops
    the whole batch with every problem listed.
    """
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValidationError(f"parallel must be a whole number ≥ 1, got {parallel!r}.")
    ahead = parallel + 1 if warm_kernels is None else warm_kernels
    if isinstance(ahead, bool) or not isinstance(ahead, int) or ahead < 0:
        raise ValidationError(f"warm_kernels must be a whole number ≥ 0, got {warm_kernels!r}.")
    entries: list[tuple[int, Any]]
    if isinstance(inputs, (str, os.PathLike)):
        entries = list(read_batch_file(inputs))
    else:
        entries = list(enumerate(inputs, start=1))
    name = workflow.name if isinstance(workflow, Workflow) else workflow
    folder = (
        report_target(ws, output_dir, "The batch's report folder")
        if output_dir is not None
        else (ws.path / "reports" / f"{slug(name)}-batch-{new_run_id()}")
    )
    specs, problems = [], []
    stored_secrets = functools.cache(ws.integrations.stored_secrets)  # decrypted once for every line, if any has inputs
    for line, values in entries:
        try:
            specs.append(
                prepare_job(
                    ws,
                    workflow,
                    values,
                    output=folder / f"line-{line:04d}.ipynb",
                    timeout=timeout,
                    cell_timeout=cell_timeout,
                    template=None,
                    line=line,
                    stored_secrets=stored_secrets,
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
    from ..executors.base import Executor

    job: Any = execute_job
    pool: concurrent.futures.Executor
    kernels: KernelPool | None = None
    if executor is None or isinstance(executor, Executor):
        if executor is not None:  # the runs are driven from here, their nodes go to `executor`
            job = functools.partial(_run_on, ws, executor)
        elif ahead and specs:  # notebook jobs in this process: their kernels start ahead of them
            kernels = _warm_kernels(specs, ahead)
            job = functools.partial(execute_job, kernels=kernels)
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
        if kernels is not None:
            kernels.close()  # kills the kernels no job took (a batch stopped early)
    return BatchResult([results[id(spec)] for spec in specs], duration=time.monotonic() - started)


def _warm_kernels(specs: list[JobSpec], ahead: int) -> KernelPool:
    """A pool starting the batch's kernels ahead of its jobs, in the folder and environment they run with."""
    from .kernel_pool import KernelPool

    folder = Path(specs[0].report).parent
    folder.mkdir(parents=True, exist_ok=True)  # the kernels start in it before the first job writes there
    return KernelPool(count=len(specs), ahead=ahead, cwd=folder, env=job_environment(specs[0]))


def _progress_bar(total: int, name: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{name} jobs", unit="job")
