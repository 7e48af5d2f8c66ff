"""Where node calls run: the `Executor` contract, threads (the default), inline, and Dask.

The engine decides *when* a node runs; an executor decides *where*. Every
executor is handed the same plain-data call (`flowkit.executors.invoke.call_task`),
which runs in the calling thread or, for a node with a timeout, in a killable
child process (`flowkit.executors.timeouts`).
"""

from __future__ import annotations

from typing import Any

from .base import (
    DEFAULT_THREADS,
    Executor,
    InlineExecutor,
    ThreadExecutor,
    choose_executor,
    executor_names,
    make_executor,
    register_executor,
)

__all__ = [
    "DEFAULT_THREADS",
    "DaskExecutor",
    "Executor",
    "InlineExecutor",
    "ThreadExecutor",
    "choose_executor",
    "executor_names",
    "make_executor",
    "register_executor",
]


def __getattr__(name: str) -> Any:
    # DaskExecutor is importable from here, but `distributed` (a heavy import)
    # loads only when it is first asked for, never at `import flowkit`.
    if name == "DaskExecutor":
        from .dask_executor import DaskExecutor

        return DaskExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
