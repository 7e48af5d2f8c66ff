"""Commands for operating runs: typed inputs, progress, resume, Test Connection, validate.

Like the rest of the CLI these only parse, call what a notebook calls, print
and return an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INVALID,
    dask_executor,
    first_line,
    input_pair,
    parse_inputs,
    progress_bar,
    reopen_closed_streams,
    table,
    workspace_of,
)

if TYPE_CHECKING:
    from ..model import Run, Workflow
    from ..workspace import Workspace


def progress_lines(total_label: str) -> Callable[[Any], None]:
    """An `on_event` callback printing one line per node on stderr as it finishes (logs, CI, pipes)."""

    def on_event(event: Any) -> None:
        if event.kind != "node_finished" or event.node is None:
            return
        run = event.run
        node = run.nodes[event.node]
        done = sum(1 for item in run.nodes.values() if item.status not in ("pending", "running"))
        duration = f" {node.duration:.2f}s" if node.duration is not None and not node.reused else ""
        reused = " (reused)" if node.reused else ""
        error = f": {first_line(node.error)}" if node.status == "failed" and node.error else ""
        print(
            f"[{done}/{len(run.nodes)}] {total_label} · {event.node}: {node.status}{reused}{duration}{error}",
            file=sys.stderr,
            flush=True,
        )

    return on_event


def progress_callbacks(args: argparse.Namespace, label: str) -> list[Callable[[Any], None]]:
    """A tqdm bar on a terminal, a line per node otherwise, nothing with ``--no-progress``."""
    if args.progress is False:
        return []
    if args.progress or sys.stderr.isatty():
        return [progress_bar(label)]
    return [progress_lines(label)]


def print_run(run: Run) -> int:
    """The per-node table and a closing line naming the run, its version and how to see more; the exit code."""
    reopen_closed_streams()
    rows = []
    for name, node in run.nodes.items():
        rows.append(
            {
                "node": name,
                "status": node.label,
                "duration": f"{node.duration:.2f}s" if node.duration is not None else "-",
                "error": first_line(node.error),
            }
        )
    print(table(rows, ["node", "status", "duration", "error"]))
    duration = f" in {run.duration:.2f}s" if run.duration is not None else ""
    resumed = f", resumes {run.resumed_from}" if run.resumed_from else ""
    print(
        f"Run {run.id} of {run.workflow!r}: {run.status}{duration} (version {run.version}{resumed}). "
        f"Details: flowkit runs show {run.id}"
    )
    return 0 if run.ok else EXIT_CANCELLED if run.status == "cancelled" else EXIT_FAILED


def runs_resume(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    earlier = ws.runs.get(args.id)
    definition = "original" if args.original else "current" if args.current else "auto"
    run = ws.resume(
        earlier,
        definition=definition,
        from_node=args.from_node,
        trigger="cli",
        on_event=progress_callbacks(args, earlier.workflow),
        deadline=args.timeout,
    )
    return print_run(run)


def integrations_test(args: argparse.Namespace) -> int:
    report = workspace_of(args).integrations.test(args.name, timeout=args.timeout)
    for step in report.get("steps") or []:
        if isinstance(step, dict):
            mark = "✓" if step.get("success") else "✗"
            print(f"  {mark} {step.get('name', '')}: {step.get('message', '')}")
        else:
            print(f"  · {step}")
    print(f"{'OK' if report['success'] else 'FAILED'}: {report['message']}")
    return 0 if report["success"] else EXIT_FAILED


def _workflow_arg(ws: Workspace, text: str) -> str | Workflow:
    """A saved workflow's name, or the path of a workflow JSON file (``flowkit workflows show`` output)."""
    from .. import jsonvalue
    from ..errors import ValidationError
    from ..model import Workflow

    path = Path(text)
    if text.endswith(".json") and path.is_file():
        try:
            return Workflow.from_dict(jsonvalue.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"{path} is not a workflow file: {exc}.") from None
    return text


def validate(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    workflow = _workflow_arg(ws, args.workflow)
    problems = ws.validate(workflow)
    for severity, node, message in problems:
        print(f"{severity:7}  {node or '(workflow)'}: {message}")
    errors = sum(1 for problem in problems if problem.severity == "error")
    name = workflow if isinstance(workflow, str) else workflow.name
    if not problems:
        print(f"No problems found in {name!r}.")
    elif errors:
        print(f"{errors} error(s) in {name!r}: it cannot be saved or run until they are fixed.")
    return EXIT_INVALID if errors else 0


def add_commands(sub: Any, runs: Any, integrations: Any, add: Callable[..., None]) -> None:
    """Add this module's commands to the parser's groups (`add` is the parser's `_add`)."""
    progress = (
        ("--progress",),
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "a progress bar on stderr (default: a bar on a terminal, else a line per node)",
        },
    )
    add(
        runs,
        "resume",
        runs_resume,
        "re-run what failed, was cancelled or skipped in a run; by default on the saved version when it holds a fix "
        "(Ctrl-C cancels it: exit 6)",
        (("id",), {}),
        (("--original",), {"action": "store_true", "help": "resume as it was: the version the run ran"}),
        (("--current",), {"action": "store_true", "help": "resume on the saved version, even if upstream changed"}),
        (("--from",), {"dest": "from_node", "metavar": "NODE", "help": "also re-run NODE and everything after it"}),
        (
            ("--timeout",),
            {"type": float, "default": None, "metavar": "SECONDS", "help": "cancel the resumed run past this (exit 6)"},
        ),
        progress,
    )
    add(
        integrations,
        "test",
        integrations_test,
        "run the integration's Test Connection; exit 1 when it fails",
        (("name",), {}),
        (("--timeout",), {"type": float, "default": 30.0, "help": "seconds before the test is stopped (default 30)"}),
    )
    add(
        sub,
        "validate",
        validate,
        "list every problem of a saved workflow (or a workflow JSON file); exit 2 when there are errors",
        (("workflow",), {"help": "the saved workflow's name, or a .json file"}),
    )


def run_command(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    inputs = parse_inputs(ws, args.workflow, map(input_pair, args.input))
    callbacks = progress_callbacks(args, args.workflow)
    if args.dask and args.executor != "threads":
        from ..errors import ValidationError

        raise ValidationError(f"Give either --dask or --executor {args.executor}, not both.")
    dask = dask_executor(args)
    try:
        run = ws.run(
            args.workflow,
            inputs=inputs,
            executor=dask or args.executor,
            max_workers=None if dask else args.max_workers,
            trigger="cli",
            on_event=callbacks,
            deadline=args.timeout,
            cache=not args.no_cache,
        )
    finally:
        if dask is not None:
            dask.shutdown()
    return print_run(run)
