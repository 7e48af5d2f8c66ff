"""``flowkit schedules ...`` and ``flowkit scheduler``: the commands, and their parsers.

Like the other commands, a thin shell over ``ws.schedules`` and
`flowkit.schedules.Scheduler`; the scheduler command adds what a long-running
process needs: log lines on stderr, and a clean stop on SIGTERM / Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .. import jsonvalue
from .base import input_pair, parse_inputs, print_json, table, workspace_of

Adder = Callable[..., None]


# -- schedules -----------------------------------------------------------------------
def schedules_list(args: argparse.Namespace) -> int:

    rows = []
    for schedule in workspace_of(args).schedules.list(workflow=args.workflow):
        rows.append(
            {
                "name": schedule.name,
                "workflow": schedule.workflow,
                "cron": schedule.cron,
                "timezone": schedule.timezone,
                "state": "paused" if schedule.paused else "active",
                "last slot": schedule.last_slot or "-",
                "last run": schedule.last_run or "-",
                "next": schedule.next_text(),
            }
        )
    columns = ["name", "workflow", "cron", "timezone", "state", "last slot", "last run", "next"]
    print(table(rows, columns))
    return 0


def schedules_show(args: argparse.Namespace) -> int:
    schedule = workspace_of(args).schedules.get(args.name)
    shown = schedule.to_dict()
    shown["next"] = [slot.isoformat() for slot in ([] if schedule.paused else schedule.next_fires(args.next))]
    print_json(shown)
    return 0


def schedules_add(args: argparse.Namespace) -> int:
    from ..errors import ValidationError

    ws = workspace_of(args)
    inputs = parse_inputs(ws, args.workflow, map(input_pair, args.input))  # typed by the workflow's inputs
    if args.inputs_json is not None:
        try:
            given = jsonvalue.loads(args.inputs_json)  # refuses NaN, and nesting too deep to read
        except ValueError as exc:
            raise ValidationError(f"--inputs {args.inputs_json!r} is not valid JSON: {exc}.") from None
        if not isinstance(given, dict):
            raise ValidationError(f"--inputs must be a JSON object of name → value, got {args.inputs_json!r}.")
        inputs.update(given)
    schedule = ws.schedules.create(
        args.name,
        workflow=args.workflow,
        cron=args.cron,
        timezone=args.timezone,
        inputs=inputs,
        catchup=args.catchup,
        paused=args.paused,
    )
    nexts = "" if schedule.paused else f"; next run {schedule.next_text()}"
    print(
        f"Created schedule {schedule.name!r}: {schedule.workflow!r} at {schedule.cron!r} ({schedule.timezone}){nexts}."
    )
    return 0


def schedules_delete(args: argparse.Namespace) -> int:
    workspace_of(args).schedules.delete(args.name)
    print(f"Deleted schedule {args.name!r}.")
    return 0


def schedules_pause(args: argparse.Namespace) -> int:
    workspace_of(args).schedules.pause(args.name)
    print(f"Paused schedule {args.name!r}.")
    return 0


def schedules_resume(args: argparse.Namespace) -> int:
    schedule = workspace_of(args).schedules.resume(args.name)
    print(f"Resumed schedule {args.name!r}; next run {schedule.next_text()}.")
    return 0


# -- the scheduler --------------------------------------------------------------------
@contextlib.contextmanager
def _logging_to_stderr() -> Iterator[logging.Logger]:
    """The scheduler's log lines on stderr, one a line with its time, while the command runs."""
    log = logging.getLogger("flowkit.scheduler")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    saved = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


@contextlib.contextmanager
def _stopping_on_signals(stop: threading.Event, log: logging.Logger) -> Iterator[None]:
    """SIGTERM and Ctrl-C set `stop`; a second one interrupts the wait for runs in flight."""

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("received %s: no new runs; finishing", signal.Signals(signum).name)
        stop.set()

    saved = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def scheduler_command(args: argparse.Namespace) -> int:
    from ..schedules import ModuleWatcher, Scheduler

    ws = workspace_of(args)
    stop = threading.Event()
    with _logging_to_stderr() as log, _stopping_on_signals(stop, log):
        scheduler = Scheduler(
            ws.schedules,
            ws.run,
            poll=args.poll,
            max_catchup=args.max_catchup,
            log=log,
            refresh=ModuleWatcher(ws.registry),
        )
        log.info("workspace %s", ws.path)
        left = scheduler.serve(stop, grace=args.grace)
    return 0 if not left else 1


def add_commands(sub: Any, add: Adder, group: Callable[[Any, str, str], Any]) -> None:
    """The ``schedules`` group and the ``scheduler`` command, on the main parser's subcommands."""
    name: tuple[tuple[str, ...], dict[str, Any]] = (("name",), {"help": "the schedule's name"})
    schedules = group(sub, "schedules", "schedules: run saved workflows on cron expressions")
    add(schedules, "list", schedules_list, "list schedules with their last and next runs", (("--workflow",), {}))
    add(
        schedules,
        "show",
        schedules_show,
        "show one schedule as JSON, with its next fire times",
        name,
        (("--next", "-n"), {"type": int, "default": 5, "help": "how many next fire times (default 5)"}),
    )
    add(
        schedules,
        "add",
        schedules_add,
        "schedule a saved workflow",
        name,
        (("--workflow",), {"required": True, "help": "the saved workflow to run"}),
        (
            ("--cron",),
            {
                "required": True,
                "help": "when: five cron fields, e.g. '0 2 * * *' (02:00 daily); a sixth field is seconds",
            },
        ),
        (("--timezone", "--tz"), {"default": "UTC", "help": "IANA timezone the cron is read in (default UTC)"}),
        (
            ("-i", "--input"),
            {
                "action": "append",
                "default": [],
                "metavar": "KEY=VALUE",
                "help": "an input; VALUE is JSON where it parses",
            },
        ),
        (("--inputs",), {"dest": "inputs_json", "metavar": "JSON", "help": "inputs as one JSON object"}),
        (
            ("--catchup",),
            {"action": "store_true", "help": "after downtime fire every missed slot (default: only the latest)"},
        ),
        (("--paused",), {"action": "store_true", "help": "create it paused"}),
    )
    add(schedules, "delete", schedules_delete, "delete a schedule", name)
    add(schedules, "pause", schedules_pause, "stop firing a schedule", name)
    add(schedules, "resume", schedules_resume, "fire a paused schedule again, from now on", name)
    add(
        sub,
        "scheduler",
        scheduler_command,
        "fire due schedules until stopped (SIGTERM or Ctrl-C); one line per fire on stderr",
        (("--poll",), {"type": float, "default": 5.0, "help": "seconds between re-reads of the schedules (default 5)"}),
        (
            ("--max-catchup",),
            {"type": int, "default": 100, "help": "most missed slots a --catchup schedule fires after downtime"},
        ),
        (("--grace",), {"type": float, "default": 60.0, "help": "seconds to wait for runs in flight when stopping"}),
    )
