"""Warm kernels for a batch: each job's kernel is started while earlier jobs run.

Starting a kernel is most of a small job's cost (≈ 0.7 s of a ≈ 1 s job here),
and a job's own work leaves a core idle. A `KernelPool` launches kernels ahead
of the jobs that will use them, in background threads, and imports flowkit's
job code in each one (`WARMUP`, run silently: no output, the cell count stays
at 0), so a job usually finds its kernel ready.

What stays as it was without the pool:

* one fresh kernel per job: a kernel is handed out once (`take`) and never
  comes back; no job's code ever ran in it before;
* the kernel is started with the job's working folder and environment: the
  pool starts kernels for one ``(kernel, cwd, env)`` and a job asking for
  another gets a kernel started for it on the spot;
* the job's time limit covers waiting for its kernel.

No more kernels are started than jobs will take (`count`), and `close` (also
on errors, as a context manager) kills every kernel not handed out, ready or
still starting, and waits for the starting threads, so nothing outlives the batch.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import JobError
from .kernel import Kernel, start_kernel

#: Imported in every warm kernel before its job: flowkit's code that a job's run loads (no
#: workspace, no integration, no user code: those stay the job's own, read when it runs).
WARMUP = "import " + ", ".join(
    [
        "flowkit",
        "flowkit.drawing",
        "flowkit.jobs.in_kernel",
        "flowkit.jobs.report",
        "flowkit.run.launch",
        "flowkit.workspace",
    ]
)
WARMUP_TIMEOUT = 60.0
START_TIMEOUT = 60.0

Key = tuple[str, str | None, tuple[tuple[str, str | None], ...]]


def kernel_key(kernel_name: str, cwd: Path | str | None, env: Mapping[str, str | None] | None) -> Key:
    """What a kernel is started with: its kernel spec, working folder and the variables laid over the environment."""
    folder = str(Path(cwd).resolve()) if cwd is not None else None
    return kernel_name, folder, tuple(sorted((env or {}).items()))


class _Starting:
    """One kernel being started in the background: launched, waited for, warmed up."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.kernel: Kernel | None = None  # set once launched (so it can be killed while it starts)
        self.error: BaseException | None = None
        self.abandoned = False  # nobody will take it: whoever sees it ready closes it
        self.thread: threading.Thread | None = None


class KernelPool:
    """Fresh kernels started ahead of the jobs of a batch (see the module docstring).

    Args:
        count: how many kernels the batch will take in all; never more are started.
        ahead: how many kernels are kept starting or ready beyond those handed out.
        kernel_name: the Jupyter kernel the jobs run on.
        cwd: the jobs' working folder.
        env: the variables laid over this process's environment for the jobs' kernels.
        warmup: code run silently in each kernel once it answers (None: nothing).
    """

    def __init__(
        self,
        *,
        count: int,
        ahead: int,
        kernel_name: str = "python3",
        cwd: Path | str | None = None,
        env: Mapping[str, str | None] | None = None,
        warmup: str | None = WARMUP,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.kernel_name = kernel_name
        self.cwd = Path(cwd).resolve() if cwd is not None else None
        self.env = dict(env or {})
        self.key = kernel_key(kernel_name, self.cwd, self.env)
        self.warmup = warmup
        self.start_timeout = start_timeout
        self.started = 0  # kernels launched by the pool so far
        self._left = max(0, count)
        self._lock = threading.Lock()
        self._waiting: deque[_Starting] = deque()  # started, not yet taken: oldest first
        self._all: list[_Starting] = []
        self._closed = False
        with self._lock:
            for _ in range(min(max(0, ahead), self._left)):
                self._start_one()

    # -- starting -------------------------------------------------------------------
    def _start_one(self) -> None:
        """Start one more kernel in the background (the lock is held)."""
        slot = _Starting()
        slot.thread = threading.Thread(target=self._start, args=(slot,), name="flowkit-kernel-start", daemon=True)
        self._left -= 1
        self.started += 1
        self._waiting.append(slot)
        self._all.append(slot)
        slot.thread.start()

    def _start(self, slot: _Starting) -> None:
        """A starting thread's body: launch, wait until the kernel answers, warm it up."""
        try:
            kernel = Kernel(self.kernel_name, cwd=self.cwd, env=self.env)
        except BaseException as exc:
            slot.error = exc
            slot.done.set()
            return
        with self._lock:
            slot.kernel = kernel
            given_up = slot.abandoned
        if given_up:
            kernel.close()
            slot.done.set()
            return
        try:
            kernel.wait_ready(time.monotonic() + self.start_timeout)  # closes the kernel if it fails
            if self.warmup:
                # A warm-up that fails (an import error) is left to the job's own cell to show again.
                kernel.run(self.warmup, timeout=WARMUP_TIMEOUT, outputs=None)
        except BaseException as exc:
            kernel.close()  # a second close is harmless
            slot.error = exc
        with self._lock:
            slot.done.set()
            given_up = slot.abandoned and slot.error is None
        if given_up:
            kernel.close()

    # -- handing out ----------------------------------------------------------------
    def take(
        self, kernel_name: str, *, cwd: Path | str | None, env: Mapping[str, str | None] | None, deadline: float
    ) -> Kernel:
        """A ready kernel for one job, started with this `cwd` and `env`; it is the caller's to close.

        Waits for the oldest kernel started ahead (and starts the next one), up
        to `deadline`; raises `JobError` if it does not start in time or failed.
        A job asking for another kernel, folder or environment than the pool's
        gets a kernel started for it here.
        """
        if kernel_key(kernel_name, cwd, env) != self.key:
            return start_kernel(kernel_name, cwd=Path(cwd) if cwd is not None else None, env=env, deadline=deadline)
        with self._lock:
            if self._closed:
                raise JobError("The batch's kernel pool is closed.")
            slot = self._waiting.popleft() if self._waiting else None
            if self._left > 0:
                self._start_one()  # keep `ahead` kernels coming
        if slot is None:  # more jobs than `count`: start one here
            return start_kernel(kernel_name, cwd=self.cwd, env=env, deadline=deadline)
        if not slot.done.wait(max(0.0, deadline - time.monotonic())):
            self._abandon(slot)
            raise JobError("The kernel did not start in time.")
        if slot.error is not None:
            if isinstance(slot.error, JobError):
                raise slot.error
            raise JobError(f"Could not start a kernel: {type(slot.error).__name__}: {slot.error}") from slot.error
        assert slot.kernel is not None
        return slot.kernel

    def _abandon(self, slot: _Starting) -> None:
        """Give up on a kernel nobody will take: kill it now, or have its thread close it when it gets there."""
        with self._lock:
            slot.abandoned = True
            ready = slot.done.is_set() and slot.error is None
            kernel = slot.kernel
        if kernel is None:
            return  # not launched yet: its thread closes it once launched
        if ready:
            kernel.close()
        else:
            kernel.kill()  # its thread sees it die and closes it

    # -- the end --------------------------------------------------------------------
    def close(self) -> None:
        """Kill every kernel not handed out (ready or starting) and wait for the starting threads."""
        with self._lock:
            self._closed = True
            self._left = 0
            leftover = list(self._waiting)
            self._waiting.clear()
        for slot in leftover:
            self._abandon(slot)
        for slot in self._all:
            if slot.thread is not None:
                slot.thread.join()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        with contextlib.suppress(Exception):
            self.close()
