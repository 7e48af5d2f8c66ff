"""One Jupyter kernel process and a blocking client: the kernel side of flowkit's papermill engine.

`Kernel` launches a kernel (without an IPython history database: a value typed
or computed in a cell never lands in ``history.sqlite``; without the debugger,
see `JobKernelSpecs`), polls its sockets
synchronously in short slices, so a reply is seen as soon as it arrives, every
cell has a deadline and a kernel that dies is noticed within a slice, and kills
its process group at the end. `CellOutputs` turns a cell's IOPub messages into
nbformat outputs, as Jupyter frontends do.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager

from ..errors import JobError, JobTimeout, NotebookFailed

POLL_SLICE = 0.2  # seconds between checks of the deadline and of the kernel's life
KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False"]
_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")

#: ipykernel's own launcher (``python -m ipykernel_launcher``), except that ipykernel's
#: debugger module finds no debugpy: importing debugpy is ≈ 0.2 s of a ≈ 0.7 s kernel
#: start, and nobody attaches a debugger to a job's kernel. Only ipykernel's import is
#: refused: code run in the kernel can still ``import debugpy``.
LAUNCHER = """import sys
if sys.path and sys.path[0] == "":
    del sys.path[0]  # as ipykernel_launcher: the kernel puts its folder back on the path itself
sys.modules["debugpy"] = None
import ipykernel.debugger
del sys.modules["debugpy"]
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


class JobKernelSpecs(KernelSpecManager):  # type: ignore[misc]
    """The installed kernel specs, with ipykernel's launcher swapped for `LAUNCHER` (same kernel, no debugger)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        spec = super().get_kernel_spec(kernel_name)
        if spec.argv[1:3] == ["-m", "ipykernel_launcher"]:
            spec.argv = [spec.argv[0], "-c", LAUNCHER, *spec.argv[3:]]
        return spec


class Kernel:
    """One kernel process and a blocking client, with its log kept aside for error messages.

    Building one launches the process and returns at once; `wait_ready` waits
    until it answers (`start_kernel` does both). Split so a `KernelPool` can
    launch kernels ahead of the jobs that will use them and still kill one
    that is starting (`kill`) from another thread.
    """

    def __init__(self, kernel_name: str, *, cwd: Path | None, env: Mapping[str, str | None] | None = None) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile()
        self.manager = KernelManager(kernel_name=kernel_name, kernel_spec_manager=JobKernelSpecs())
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
        self.client.start_channels(hb=False)  # liveness is the process itself (manager.is_alive): no heartbeat thread
        self.poller = zmq.Poller()
        self.poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
        self.poller.register(self.client.shell_channel.socket, zmq.POLLIN)

    def wait_ready(self, deadline: float) -> None:
        """Wait until the kernel answers; on failure (or past `deadline`) close it and raise `JobError`."""
        try:
            self._wait_for_ready(deadline)
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

    def kill(self) -> None:
        """Kill the kernel's process group, touching nothing else: safe from any thread.

        The thread using the kernel then sees it dead (within a poll slice) and
        cleans up with `close`; zmq sockets must only be closed by that thread.
        """
        process = getattr(self.manager.provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill the kernel's process group (its children too) and clean up its files.

        The job is over and nothing in the kernel needs flushing (the run
        record is already durable), so it is killed at once rather than shut
        down politely, which costs 0.1-0.4 s of polling per job.
        """
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        self.kill()  # the kernel leads its own session: its children go too
        process = getattr(self.manager.provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        with contextlib.suppress(Exception):
            self.manager.shutdown_kernel(now=True)  # the process is gone: this only removes its files
        self.log.close()

    def run(self, source: str, *, timeout: float, outputs: CellOutputs | None) -> dict[str, Any]:
        """Execute `source`; outputs go to `outputs`; returns the execute reply's content.

        With `outputs` None the code runs silently: no outputs are kept and the
        kernel's cell count does not move (a warm-up before the job's cells).
        Raises `JobTimeout` past `timeout` and `NotebookFailed` if the kernel dies.
        """
        # store_history numbers the cells as Jupyter does; the history *database* is off (KERNEL_ARGUMENTS).
        silent = outputs is None
        msg_id = self.client.execute(
            source, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=True
        )
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
                elif outputs is not None:
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


def start_kernel(
    kernel_name: str, *, cwd: Path | None, env: Mapping[str, str | None] | None, deadline: float
) -> Kernel:
    """Launch a kernel and wait until it answers (`JobError` if it does not by `deadline`)."""
    kernel = Kernel(kernel_name, cwd=cwd, env=env)
    kernel.wait_ready(deadline)
    return kernel


class CellOutputs:
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
