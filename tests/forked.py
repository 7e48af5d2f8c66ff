"""Run test code in forked child processes: real separate processes that start in milliseconds.

A forked child shares nothing with the parent after the fork (its own file
descriptors, locks and TinyDB instances), which is what the concurrency and
crash tests need, without paying a fresh interpreter and flowkit import each.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fork(target: Callable[..., Any], *args: Any, errors: Path) -> int:
    """Start `target(*args)` in a forked child; returns its pid.

    The child exits 0 when `target` returns, 1 when it raises (the traceback
    goes to ``errors/<pid>.txt``, for the parent to show). It never returns
    into pytest: ``os._exit`` skips the parent's cleanup and buffered output.
    """
    errors.mkdir(parents=True, exist_ok=True)
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        target(*args)
        code = 0
    except BaseException:  # noqa: B036 - the child reports everything and exits
        (errors / f"{os.getpid()}.txt").write_text(traceback.format_exc())
    finally:
        os._exit(code)


def wait(pid: int, *, timeout: float = 60.0) -> int:
    """Wait for a child; returns its exit code (negative: the signal that ended it)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"child {pid} did not finish in {timeout} s")
        time.sleep(0.005)


def kill(pid: int) -> int:
    """SIGKILL a child and reap it; returns its exit code."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def child_errors(errors: Path) -> str:
    """Every traceback the children reported (empty: none)."""
    if not errors.is_dir():
        return ""
    return "\n".join(path.read_text() for path in sorted(errors.glob("*.txt")))
