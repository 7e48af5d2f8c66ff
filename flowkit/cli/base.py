"""What every command shares: the workspace it works on, exit codes, tables, JSON, a progress bar."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Workflow
    from ..workspace import Workspace

EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_KEY, EXIT_STORE, EXIT_CANCELLED = 1, 2, 3, 4, 5, 6


def workspace_of(args: argparse.Namespace) -> Workspace:
    from ..workspace import Workspace
    from .where import find_workspace

    path = getattr(args, "workspace_path", None) or find_workspace(getattr(args, "workspace", None))
    return Workspace(path)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(cell[i]) for cell in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=False))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def first_line(text: str | None, width: int = 100) -> str:
    """An error's first line for a table cell or a progress line: cut at `width` characters, with "…"."""
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line[:width] + "…" if len(line) > width else line


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def progress_bar(total_label: str) -> Callable[[Any], None]:
    """An `on_event` callback drawing a tqdm bar on stderr, one step per finished node."""
    from tqdm import tqdm

    bars: list[Any] = []

    def on_event(event: Any) -> None:
        if event.kind == "run_started":
            bars.append(tqdm(total=len(event.run.nodes), desc=total_label, unit="node", file=sys.stderr))
        elif bars and event.kind == "node_finished":
            bars[0].update(1)
            bars[0].set_postfix_str(f"{event.node}: {event.run.nodes[event.node].status}", refresh=False)
        elif bars and event.kind == "run_finished":
            bars[0].close()

    return on_event


def dask_executor(args: argparse.Namespace) -> Any:
    """The `DaskExecutor` for ``--dask ADDRESS`` (None without it); the caller shuts it down."""
    if not getattr(args, "dask", None):
        return None
    from ..executors.dask_executor import DaskExecutor

    return DaskExecutor(args.dask, max_workers=getattr(args, "max_workers", None))


def parse_inputs(ws: Workspace, workflow: str | Workflow, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``-i``/``-p`` text typed by the workflow's inputs (declared or inferred), one parser for every face."""
    from ..model import Param
    from ..run.inputs import UNTYPED, parse_input

    pairs = list(pairs)
    if not pairs:
        return {}
    from ..errors import NotFoundError

    try:
        params = {param.name: param for param in ws.input_params(workflow)}
    except NotFoundError:
        params = {}  # still check the values now; the command names the missing workflow next
    return {key: parse_input(params.get(key) or Param(key, kind="json", help=UNTYPED), raw) for key, raw in pairs}


def input_pair(text: str) -> tuple[str, str]:
    """``key=value`` from ``-i``, the value still text."""
    from ..errors import ValidationError

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValidationError(f"-i {text!r}: write an input as key=value.")
    return key.strip(), raw


def reopen_closed_streams() -> None:
    """Print on, even if a task closed ``sys.stdout`` or ``sys.stderr`` (their descriptors stay open)."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None or stream.closed:
            setattr(sys, name, open(os.dup(fd), "w", encoding="utf-8", errors="replace", buffering=1))
