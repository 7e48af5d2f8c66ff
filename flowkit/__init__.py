"""flowkit: notebook-first automation.

Write integrations as plain Python functions, store their credentials
encrypted, wire tasks into workflows, and run them in JupyterLab, from the
command line, as papermill jobs, or on Dask.

    import flowkit as fk
    ws = fk.Workspace("my-workspace")
"""

from __future__ import annotations

from . import errors
from .errors import FlowkitError
from .model import Integration, IntegrationType, Node, NodeRun, Param, Run, Workflow
from .schema import task
from .workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "FlowkitError",
    "Integration",
    "IntegrationType",
    "Node",
    "NodeRun",
    "Param",
    "Run",
    "Workflow",
    "Workspace",
    "__version__",
    "errors",
    "task",
]
