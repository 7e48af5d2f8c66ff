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

Job kernels run without an IPython history database: a value typed or
computed in a cell never lands in ``history.sqlite``.

Every write of the output notebook is scrubbed of secrets (`_ScrubbingManager`, and a last
pass); the notebook handed back is not: its recorded values are handed on as they are.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import nbformat
import zmq
from jupyter_client.manager import KernelManager

from ..errors import JobError, JobTimeout, NotebookFailed
from ..executors import capture
from ..jsonvalue import check_json
from ..model import check_identifier
from ..redaction import Redactor, scrub_notebook

ENGINE_NAME = "flowkit"
DEFAULT_CELL_TIMEOUT = 120.0
DEFAULT_TIMEOUT = 600.0
START_TIMEOUT = 60.0
POLL_SLICE = 0.2  # seconds between checks of the deadline and of the kernel's life
KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False"]
_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")


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


class _Kernel:
    """One kernel process and a blocking client, with its log kept aside for error messages."""

    def __init__(
        self, kernel_name: str, *, cwd: Path | None, start_timeout: float, env: Mapping[str, str | None] | None = None
    ) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile()
        self.manager = KernelManager(kernel_name=kernel_name)
        # The kernel inherits this process's environment, with `env` laid over it (None removes a variable).
        environment = {**os.environ, **{key: value for key, value in (env or {}).items() if value is not None}}
        for key in [key for key, value in (env or {}).items() if value is None]:
            environment.pop(key, None)
        try:
            self.manager.start_kernel(
                extra_arguments=KERNEL_ARGUMENTS,
                env=environment,
                cwd=str(cwd) if cwd is not None else os.getcwd(),
                stdout=self.log,
                stderr=self.log,
            )
        except Exception as exc:
            self.log.close()
            raise JobError(f"Could not start a {kernel_name!r} kernel: {type(exc).__name__}: {exc}") from exc
        self.client = self.manager.client()
        self.client.start_channels()
        self.poller = zmq.Poller()
        self.poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
        self.poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        try:
            self._wait_for_ready(time.monotonic() + start_timeout)
        except BaseException:
            self.close()
            raise

    def _wait_for_ready(self, deadline: float) -> None:
        """Return once the kernel answers on shell *and* its IOPub reaches us.

        Same checks as jupyter_client's ``wait_for_ready``, without its fixed
        0.2 s IOPub wait and 0.1 s polls: IOPub must be connected before the
        first cell, or that cell's outputs and its end would be missed.
        """
        while True:
            self.client.kernel_info()
            replied = iopub = False
            retry = time.monotonic() + 1.0
            while time.monotonic() < min(retry, deadline) and not (replied and iopub):
                ready = dict(self.poller.poll(int(POLL_SLICE * 1000)))
                if not ready and not self.manager.is_alive():
                    raise JobError(f"The kernel died while starting. {self.log_tail()}".strip())
                iopub = iopub or any(True for _ in self._drain(self.client.iopub_channel))
                replied = replied or any(
                    msg["msg_type"] == "kernel_info_reply" for msg in self._drain(self.client.shell_channel)
                )
            if replied and iopub:
                return
            if time.monotonic() >= deadline:
                raise JobError(f"The kernel did not start in time. {self.log_tail()}".strip())

    def log_tail(self, lines: int = 5) -> str:
        """The last lines the kernel process printed itself (not cell output)."""
        self.log.seek(0)
        tail = [
            line
            for line in self.log.read().decode(errors="replace").splitlines()
            if line.strip() and "without encryption" not in line
        ]
        return ("Kernel log: " + " | ".join(tail[-lines:])) if tail else ""

    def close(self) -> None:
        """Kill the kernel's process group (its children too) and clean up its files.

        The job is over and nothing in the kernel needs flushing (the run
        record is already durable), so it is killed at once rather than shut
        down politely, which costs 0.1-0.4 s of polling per job.
        """
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        process = getattr(self.manager.provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)  # the kernel leads its own session
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        with contextlib.suppress(Exception):
            self.manager.shutdown_kernel(now=True)  # the process is gone: this only removes its files
        self.log.close()

    def run(self, source: str, *, timeout: float, outputs: _Outputs) -> dict[str, Any]:
        """Execute `source`; outputs go to `outputs`; returns the execute reply's content.

        Raises `JobTimeout` past `timeout` and `NotebookFailed` if the kernel dies.
        """
        # store_history numbers the cells as Jupyter does; the history *database* is off (KERNEL_ARGUMENTS).
        msg_id = self.client.execute(source, store_history=True, allow_stdin=False, stop_on_error=True)
        deadline = time.monotonic() + timeout
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JobTimeout(f"The cell ran past its {timeout:.0f} s limit.", limit=timeout)
            ready = dict(self.poller.poll(int(min(POLL_SLICE, left) * 1000)))
            if not ready:
                if not self.manager.is_alive():
                    process = getattr(self.manager.provisioner, "process", None)
                    code = process.poll() if process is not None else None
                    raise NotebookFailed(
                        f"The kernel died (exit code {code}) while running a cell. {self.log_tail()}".strip(),
                        ename="DeadKernel",
                        evalue="",
                    )
                continue
            for msg in self._drain(self.client.iopub_channel):
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                else:
                    outputs.handle(msg)
            for msg in self._drain(self.client.shell_channel):
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg["content"]
        return reply

    @staticmethod
    def _drain(channel: Any) -> Iterator[dict[str, Any]]:
        while True:
            try:
                yield channel.get_msg(timeout=0)
            except queue.Empty:
                return


class _Outputs:
    """Turns a cell's IOPub messages into nbformat outputs, as Jupyter frontends do."""

    def __init__(self, cell: Any) -> None:
        self.cell = cell
        self.cell.outputs = []
        self._clear_pending = False
        self._displays: dict[str, list[Any]] = {}

    def handle(self, msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "execute_input":
            self.cell.execution_count = content.get("execution_count")
        elif kind == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self.cell.outputs = []
        elif kind == "update_display_data":
            for output in self._displays.get(content.get("transient", {}).get("display_id", ""), []):
                updated = nbformat.v4.new_output(
                    "display_data", data=content.get("data", {}), metadata=content.get("metadata", {})
                )
                output.data, output.metadata = updated.data, updated.metadata
        elif kind in _OUTPUT_TYPES:
            if self._clear_pending:
                self.cell.outputs = []
                self._clear_pending = False
            if kind == "execute_result":
                self.cell.execution_count = content.get("execution_count")
            output = nbformat.v4.output_from_msg(msg)
            last = self.cell.outputs[-1] if self.cell.outputs else None
            if kind == "stream" and last is not None and last.output_type == "stream" and last.name == output.name:
                last.text += output.text  # one output per run of the same stream, as Jupyter shows it
                return
            display_id = content.get("transient", {}).get("display_id")
            if display_id:
                self._displays.setdefault(display_id, []).append(output)
            self.cell.outputs.append(output)


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
            **_ignored: Any,
        ) -> None:
            deadline = deadline if deadline is not None else time.monotonic() + DEFAULT_TIMEOUT
            kernel = _Kernel(
                kernel_name,
                cwd=kernel_cwd,
                env=kernel_env,
                start_timeout=max(0.1, min(start_timeout, deadline - time.monotonic())),
            )
            try:
                for index, cell in enumerate(nb_man.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    nb_man.cell_start(cell, index)
                    outputs = _Outputs(cell)
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

    Raises:
        NotebookFailed: a cell raised (the output notebook shows where), or the kernel died.
        JobTimeout: a cell or the whole notebook ran past its limit.
        JobError: the notebook could not be read or the kernel could not start.
    """
    checked = check_parameters(parameters)
    for limit, name in ((cell_timeout, "cell_timeout"), (timeout, "timeout")):
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
            raise JobError(f"{name} must be a positive number of seconds, got {limit!r}.")
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
    }
    try:
        return _papermill(source_path, output_path, checked, kernel_name, engine_options)
    finally:
        if scrub:
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
