"""What every example script shares: a workspace to run in, and the example integration installed into it."""

from __future__ import annotations

import argparse
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import flowkit as fk

EXAMPLES = Path(__file__).resolve().parent


@contextlib.contextmanager
def workspace(path: str | Path | None) -> Iterator[fk.Workspace]:
    """The workspace at `path`, or a throw-away one (with its own key) that is removed afterwards."""
    if path is not None:
        yield fk.Workspace(path)
    else:
        with fk.testing.temporary_workspace() as ws:
            yield ws


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="run in this workspace folder (default: a temporary one, removed afterwards)",
    )
    return parser.parse_args(argv)


def install_example_integration(ws: fk.Workspace, name: str) -> None:
    """Copy ``examples/integrations/<name>`` into the workspace's ``integrations/`` folder, as a user would."""
    target = ws.path / "integrations" / name
    shutil.copytree(
        EXAMPLES / "integrations" / name, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    ws.registry.reload()


def ensure_type(ws: fk.Workspace, module: str) -> None:
    """Create the integration type from the module's CREDENTIALS unless it exists."""
    if module not in [itype.name for itype in ws.types.list()]:
        ws.types.create_from_module(module)


def ensure_integration(ws: fk.Workspace, name: str, *, type: str, credentials: dict[str, object]) -> None:
    """Create the integration, or update its credentials when it exists (examples can run again)."""
    if name in [integration.name for integration in ws.integrations.list()]:
        ws.integrations.update(name, credentials=credentials)
    else:
        ws.integrations.create(name, type=type, credentials=credentials)


def show(run: fk.Run) -> None:
    """Print a run's nodes like the job report's table."""
    from flowkit.jobs.report import RunReport

    print(RunReport(run).text())
