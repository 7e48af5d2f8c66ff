"""Run notebooks with papermill on a blocking kernel client: the engine behind jobs and notebook nodes.

papermill does what it is good at: it injects the parameters after the cell
tagged ``parameters``, keeps its metadata, writes the output notebook as cells
finish, and marks the cell that failed. The cells themselves are executed by
`KernelEngine`, not by papermill's default engine (nbclient), because nbclient
was seen here waiting out its whole cell timeout for a reply already in the
socket, and hanging for good with no timeout (a missed wakeup of its asyncio
zmq poll, ../shared/E2E.md pitfall 11). `KernelEngine` polls the kernel's
sockets synchronously, in short slices, so:

* a reply is seen as soon as it arrives;
* every cell has a deadline (its own limit, and what is left of the job's);
* a kernel that dies is noticed within a slice, not at the timeout.

Every write of the output notebook is scrubbed of secrets (`_ScrubbingManager`, and a last
pass); the notebook handed back is not: its recorded values are handed on as they are.

The kernel itself (launch, deadlines, outputs, kill) is `flowkit.jobs.kernel`;
a batch hands each job a kernel started ahead of it (`flowkit.jobs.kernel_pool`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from ..errors import JobError, JobTimeout, NotebookFailed
from ..executors import capture
from ..jsonvalue import check_json
from ..model import check_identifier, check_seconds
from ..redaction import Redactor, scrub_notebook
from .kernel import CellOutputs, start_kernel

if TYPE_CHECKING:
    from .kernel_pool import KernelPool

ENGINE_NAME = "flowkit"
DEFAULT_CELL_TIMEOUT = 120.0
DEFAULT_TIMEOUT = 600.0
START_TIMEOUT = 60.0


def check_parameters(parameters: Mapping[str, Any] | None, *, what: str = "Notebook parameter") -> dict[str, Any]:
    """Return `parameters` if every name is a plain identifier and every value strict JSON.

    papermill writes parameter *names* into the injected cell verbatim, so a
    name holding a newline, ``;`` or ``=`` would run as code; such names are
    refused here, before any kernel starts.
    """
    checked: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        check_identifier(name, f"{what} name")
        checked[name] = check_json(value, f"{what} {name!r}")
    return checked


def _engine_class() -> type:
    """`KernelEngine`, built and registered with papermill on first use (batch threads may race here).

    Not at import time: importing papermill costs ~0.3 s that `import flowkit` should not pay.
    """
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _build_engine()
        return _ENGINE


def _build_engine() -> type:
    from papermill.engines import Engine, NotebookExecutionManager, papermill_engines
    from papermill.iorw import write_ipynb

    class _ScrubbingManager(NotebookExecutionManager):  # type: ignore[misc]
        """papermill's notebook keeper, writing the output notebook with every secret masked."""

        def __init__(self, *args: Any, scrub: Redactor | None = None, **kwargs: Any) -> None:
            self.scrub = scrub
            super().__init__(*args, **kwargs)

        def save(self, **kwargs: Any) -> None:
            if not self.scrub or not self.output_path:
                return super().save(**kwargs)  # type: ignore[no-any-return]
            write_ipynb(nbformat.from_dict(self.scrub(self.nb)), self.output_path)
            self.last_save_time = self.now()

    class KernelEngine(Engine):  # type: ignore[misc]
        """papermill engine executing each code cell on a blocking kernel client, under deadlines."""

        @classmethod
        def execute_notebook(
            cls, nb: Any, kernel_name: str, output_path: str | None = None, scrub: Redactor | None = None, **kwargs: Any
        ) -> Any:
            """papermill's `Engine.execute_notebook`, keeping the notebook in a `_ScrubbingManager`."""
            kept = {
                key: kwargs.pop(key) for key in ("progress_bar", "log_output", "autosave_cell_every") if key in kwargs
            }
            nb_man = _ScrubbingManager(nb, output_path=output_path, scrub=scrub, **kept)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=kept.get("log_output", False), **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            *,
            cell_timeout: float = DEFAULT_CELL_TIMEOUT,
            deadline: float | None = None,
            kernel_cwd: Path | None = None,
            kernel_env: Mapping[str, str | None] | None = None,
            start_timeout: float = START_TIMEOUT,
            kernel_source: KernelPool | None = None,
            **_ignored: Any,
        ) -> None:
            deadline = deadline if deadline is not None else time.monotonic() + DEFAULT_TIMEOUT
            start_deadline = time.monotonic() + max(0.1, min(start_timeout, deadline - time.monotonic()))
            if kernel_source is not None:  # a kernel started ahead for this job (a batch's warm pool)
                kernel = kernel_source.take(kernel_name, cwd=kernel_cwd, env=kernel_env, deadline=start_deadline)
            else:
                kernel = start_kernel(kernel_name, cwd=kernel_cwd, env=kernel_env, deadline=start_deadline)
            try:
                for index, cell in enumerate(nb_man.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    nb_man.cell_start(cell, index)
                    outputs = CellOutputs(cell)
                    try:
                        left = deadline - time.monotonic()
                        limit = min(cell_timeout, left)
                        try:
                            reply = kernel.run(cell.source, timeout=limit, outputs=outputs)
                        except JobTimeout as exc:
                            what = "the job's time limit" if left <= cell_timeout else "its cell timeout"
                            message = f"Cell {index} was stopped at {what} ({limit:.0f} s)."
                            cell.outputs.append(
                                nbformat.v4.new_output("error", ename="JobTimeout", evalue=message, traceback=[message])
                            )
                            nb_man.cell_exception(cell, cell_index=index)
                            raise JobTimeout(message, limit=limit) from exc
                        except NotebookFailed:
                            nb_man.cell_exception(cell, cell_index=index)
                            raise
                        if reply.get("status") != "ok":
                            # The error output is already in the cell; papermill raises for it.
                            nb_man.cell_exception(cell, cell_index=index)
                            break
                    finally:
                        nb_man.cell_complete(cell, cell_index=index)
            finally:
                kernel.close()

    papermill_engines.register(ENGINE_NAME, KernelEngine)
    return KernelEngine


_ENGINE: type | None = None
_ENGINE_LOCK = threading.Lock()


def execute_notebook(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
    kernel_name: str = "python3",
    env: Mapping[str, str | None] | None = None,
    scrub: Redactor | None = None,
    kernels: KernelPool | None = None,
) -> Any:
    """Run a notebook with papermill in this process; returns the executed notebook (not scrubbed).

    Args:
        source: the notebook to run (left unchanged).
        output: where the executed notebook is written (as cells finish, and at the end).
        parameters: injected after the cell tagged ``parameters``; names must be
            identifiers and values strict JSON.
        cell_timeout: seconds any one cell may run.
        timeout: seconds the whole notebook may take, kernel start included.
        cwd: the kernel's working folder (this process's own is never changed).
        kernel_name: the Jupyter kernel to run it on.
        env: variables laid over this process's environment for the kernel (None removes one).
        scrub: masks the secrets in every write of the output notebook; by
            default, those of the task call running on this thread (a notebook node).
        kernels: where the kernel comes from (a batch's `KernelPool`); default: started here.

    Raises:
        NotebookFailed: a cell raised (the output notebook shows where), or the kernel died.
        JobTimeout: a cell or the whole notebook ran past its limit.
        JobError: the notebook could not be read or the kernel could not start.
    """
    checked = check_parameters(parameters)
    check_seconds(cell_timeout, "cell_timeout", JobError)
    check_seconds(timeout, "timeout", JobError)
    source_path, output_path = Path(source).resolve(), Path(output).resolve()
    if not source_path.is_file():
        raise JobError(f"There is no notebook at {source_path}.")
    if output_path == source_path:
        raise JobError(f"The output notebook would overwrite its source {source_path}; choose another path.")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    _engine_class()
    scrub = scrub if scrub is not None else capture.current_redactor()
    engine_options = {
        "cell_timeout": cell_timeout,
        "deadline": time.monotonic() + timeout,
        "kernel_cwd": Path(cwd).resolve() if cwd is not None else None,
        "kernel_env": env,
        "scrub": scrub,
        "kernel_source": kernels,
    }
    try:
        return _papermill(source_path, output_path, checked, kernel_name, engine_options)
    finally:
        if scrub is not None:  # also what papermill wrote after the last cell; an empty one still strips URL userinfo
            scrub_notebook(output_path, scrub)


def _papermill(
    source_path: Path, output_path: Path, checked: dict[str, Any], kernel_name: str, engine_options: dict[str, Any]
) -> Any:
    """Call papermill with flowkit's engine (`engine_options` go to `KernelEngine`); its errors become flowkit's."""
    import papermill
    from papermill.exceptions import PapermillException, PapermillExecutionError

    try:
        return papermill.execute_notebook(
            str(source_path),
            str(output_path),
            parameters=checked,
            engine_name=ENGINE_NAME,
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            **engine_options,
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"Cell {exc.cell_index} of {source_path.name} raised {exc.ename}: {exc.evalue} (see {output_path}).",
            ename=exc.ename,
            evalue=exc.evalue,
            cell=exc.cell_index,
            output=str(output_path),
        ) from None
    except NotebookFailed as exc:
        exc.output = str(output_path)
        raise
    except (JobError, JobTimeout):
        raise
    except (PapermillException, nbformat.ValidationError, ValueError, OSError) as exc:
        raise JobError(f"papermill could not run {source_path}: {type(exc).__name__}: {exc}") from exc
