"""Which workspace a command works on, and "not found" errors that name it with a command to type next.

The workspace is found as git finds a repository: ``-w DIR`` if given, else
``$FLOWKIT_WORKSPACE``, else the nearest ``.flowkit`` folder in the current
directory or one of its parents, else ``./.flowkit`` (created on first use).
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from ..errors import IntegrationNotFound, NotFoundError, RunNotFound, TypeNotFound, WorkflowNotFound

ENV_WORKSPACE = "FLOWKIT_WORKSPACE"  # the same names as flowkit.workspace's, read without importing it
DEFAULT_WORKSPACE = ".flowkit"


def find_workspace(given: str | None, start: Path | None = None) -> Path:
    """The workspace folder a command uses (see the module docstring); nothing is created here."""
    if given:
        return Path(given).expanduser().resolve()
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_WORKSPACE).is_dir():
            return folder / DEFAULT_WORKSPACE
    return here / DEFAULT_WORKSPACE


def command_prefix(args: argparse.Namespace) -> str:
    """``flowkit``, with ``-w DIR`` when the person gave one: what a hint tells them to type."""
    given = getattr(args, "workspace", None)
    return f"flowkit -w {shlex.quote(given)}" if given else "flowkit"


def not_found_message(exc: NotFoundError, args: argparse.Namespace, workspace: Path) -> str:
    """The error a person reads on the command line: what is missing, where flowkit looked, what to type."""
    flowkit = command_prefix(args)
    name = shlex.quote(exc.name)
    hints: dict[type[NotFoundError], str] = {
        TypeNotFound: f"Create it with `{flowkit} types create {name} --from-module` (list: `{flowkit} types list`).",
        IntegrationNotFound: f"Create it with `{flowkit} integrations create {name} --type TYPE` "
        f"(list: `{flowkit} integrations list`).",
        WorkflowNotFound: f"Saved workflows: `{flowkit} workflows list`; build and save one in the notebook's "
        "Workflows tab.",
        RunNotFound: f"Recent runs: `{flowkit} runs list`.",
    }
    hint = next((text for kind, text in hints.items() if isinstance(exc, kind)), None)
    if hint is None:  # a module or task: its own hint already says where flowkit looked
        return f"{exc} (workspace {workspace})"
    return f"No {exc.kind} named {exc.name!r} in the workspace {workspace}. {hint}"
