"""flowkit: notebook-first automation.

Write integrations as plain Python functions, store their credentials
encrypted, wire tasks into workflows, and run them in JupyterLab, from the
command line, as papermill jobs, or on Dask.

    import flowkit as fk
    ws = fk.Workspace("my-workspace")
"""

from __future__ import annotations

from typing import Any

from . import errors, jobs
from .engine import Event
from .errors import FlowkitError
from .executors import Executor, InlineExecutor, ThreadExecutor
from .model import Integration, IntegrationType, Node, NodeRun, Param, Run, Workflow
from .recording import record
from .schema import task
from .validation import Problem
from .workspace import Workspace

__version__ = "0.1.0"

__all__ = [
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
    "Run",
    "ThreadExecutor",
    "Workflow",
    "Workspace",
    "__version__",
    "errors",
    "jobs",
    "record",
    "task",
    "testing",
    "ui",
]


_LAZY_SUBMODULES = ("ui", "testing")


def __getattr__(name: str) -> Any:
    # `flowkit.ui` imports ipywidgets (~0.3 s); load it (and the other faces) on first use, not on `import flowkit`.
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
