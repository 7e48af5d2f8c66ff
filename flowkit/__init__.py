"""flowkit: notebook-first automation.

Write integrations as plain Python functions, store their credentials
encrypted, wire tasks into workflows, and run them in JupyterLab, from the
command line, as papermill jobs, or on Dask.

    import flowkit as fk
    ws = fk.Workspace("my-workspace")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import errors, executors, jobs, testing, ui
    from .errors import FlowkitError, TaskFailed
    from .executors.base import Executor, InlineExecutor, ThreadExecutor
    from .integrations.authoring import task
    from .integrations.connection import ConnectionReport
    from .jobs.recording import record
    from .model import Integration, IntegrationType, Node, NodeRun, Param, Run, Workflow
    from .run.control import RunHandle
    from .run.events import Event
    from .run.template_budget import RenderBudget
    from .run.validation import Problem
    from .workspace import Workspace

# Each public name and the submodule defining it, imported on first use: the
# package itself imports nothing, so `flowkit --help` (whose module lives in
# this package) starts in tens of milliseconds instead of loading networkx,
# cryptography and TinyDB first.
_EXPORTS = {
    "ConnectionReport": "integrations.connection",
    "Event": "run.events",
    "Executor": "executors",
    "FlowkitError": "errors",
    "InlineExecutor": "executors",
    "Integration": "model",
    "IntegrationType": "model",
    "Node": "model",
    "NodeRun": "model",
    "Param": "model",
    "Problem": "run.validation",
    "RenderBudget": "run.template_budget",
    "Run": "model",
    "RunHandle": "run.control",
    "TaskFailed": "errors",
    "ThreadExecutor": "executors",
    "Workflow": "model",
    "Workspace": "workspace",
    "record": "jobs.recording",
    "task": "integrations.authoring",
}

__version__ = "0.1.0"

__all__ = [
    "ConnectionReport",
    "Event",
    "Executor",
    "FlowkitError",
    "InlineExecutor",
    "Integration",
    "IntegrationType",
    "Node",
    "NodeRun",
    "Param",
    "Problem",
    "RenderBudget",
    "Run",
    "RunHandle",
    "TaskFailed",
    "ThreadExecutor",
    "Workflow",
    "Workspace",
    "__version__",
    "errors",
    "executors",
    "jobs",
    "record",
    "task",
    "testing",
    "ui",
]


_LAZY_SUBMODULES = ("errors", "executors", "jobs", "testing", "ui")


def __getattr__(name: str) -> Any:
    # `flowkit.ui` imports ipywidgets (~0.3 s); load it (and the other faces) on first use, not on `import flowkit`.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
