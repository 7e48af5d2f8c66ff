"""The ``flowkit`` command line's parser: every group, command and option, with its help."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from ..model import RUN_STATUSES
from . import commands as c
from . import operate as o
from . import schedules

Handler = Callable[[argparse.Namespace], int]


NAME: tuple[Sequence[str], dict[str, Any]] = (("name",), {})


WORKSPACE_HELP = "workspace folder (default: $FLOWKIT_WORKSPACE or ./.flowkit)"


DASK_OPTION: dict[str, Any] = {
    "metavar": "ADDRESS",
    "default": None,
    "help": "run the nodes on the Dask cluster at ADDRESS (tcp://host:8786; across machines use tls:// with "
    "certificates in Dask's config, distributed.comm.tls.*); this process records the run",
}


def _add(sub: Any, name: str, handler: Handler, help: str, *arguments: tuple[Sequence[str], dict[str, Any]]) -> None:
    parser = sub.add_parser(name, help=help, description=help)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    # Accepted after the command too; SUPPRESS keeps a value given before it.
    parser.add_argument("--workspace", "-w", metavar="DIR", default=argparse.SUPPRESS, help=WORKSPACE_HELP)
    parser.set_defaults(handler=handler)


def _group(sub: Any, name: str, help: str) -> Any:
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(title="commands", metavar="COMMAND", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowkit", description="Notebook-first automation.")
    parser.add_argument("--workspace", "-w", metavar="DIR", default=None, help=WORKSPACE_HELP)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    types = _group(sub, "types", "integration types: which credentials a module needs")
    _add(types, "list", c.types_list, "list integration types")
    _add(types, "show", c.types_show, "show one type as JSON", NAME)
    _add(
        types,
        "create",
        c.types_create,
        "create a type for an integration module",
        NAME,
        (("--from-module",), {"action": "store_true", "help": "take the params from the module's CREDENTIALS"}),
        (("--description", "-d"), {"default": ""}),
        (
            ("--param",),
            {
                "action": "append",
                "default": [],
                "metavar": "JSON",
                "help": 'a parameter, e.g. \'{"name": "token", "kind": "password", "required": true}\'',
            },
        ),
    )
    _add(types, "delete", c.types_delete, "delete a type no integration uses", NAME)

    integrations = _group(sub, "integrations", "integrations: named, encrypted credentials")
    _add(integrations, "list", c.integrations_list, "list integrations")
    _add(integrations, "show", c.integrations_show, "show one integration (credentials masked)", NAME)
    _add(
        integrations,
        "create",
        c.integrations_create,
        "create an integration; credential values are prompted for, secrets without echo",
        NAME,
        (("--type", "-t"), {"required": True, "help": "its integration type"}),
    )
    _add(integrations, "delete", c.integrations_delete, "delete an integration no workflow uses", NAME)

    workflows = _group(sub, "workflows", "saved workflows")
    _add(workflows, "list", c.workflows_list, "list workflows")
    _add(workflows, "show", c.workflows_show, "show one workflow as JSON", NAME)
    _add(workflows, "delete", c.workflows_delete, "delete a workflow", NAME)

    runs = _group(sub, "runs", "run history")
    _add(
        runs,
        "list",
        c.runs_list,
        "list the newest runs",
        (("--workflow",), {}),
        (("--status",), {"choices": RUN_STATUSES}),
        (("--limit", "-n"), {"type": int, "default": 20}),
    )
    _add(runs, "show", c.runs_show, "show one run as JSON", (("id",), {}))
    _add(runs, "delete", c.runs_delete, "delete a run", (("id",), {}))

    key = _group(sub, "key", "the secret key that encrypts credentials")
    _add(
        key,
        "rotate",
        c.key_rotate,
        "re-encrypt every integration under a new key",
        (
            ("--drop-old",),
            {
                "action": "store_true",
                "help": "remove the old keys from the key file afterwards (only if no other workspace still uses them)",
            },
        ),
    )
    _add(key, "check", c.key_check, "check that the available key opens this workspace")
    _add(key, "path", c.key_path, "print where the key file is")

    _add(
        sub,
        "run",
        o.run_command,
        "run a workflow and wait for it; exit code 0 when it succeeds, 1 when it fails, 6 when cancelled",
        (("workflow",), {"help": "the saved workflow's name"}),
        (
            ("-i", "--input"),
            {
                "action": "append",
                "default": [],
                "metavar": "KEY=VALUE",
                "help": "an input of the run, read as the input's kind (declared, or inferred from the templates); "
                "an untyped input is JSON where it parses (3, true, [1, 2]), else text",
            },
        ),
        (
            ("--executor", "-e"),
            {
                "default": "threads",
                "help": "where nodes run: threads (default), inline, or dask "
                "(the cluster at $DASK_SCHEDULER_ADDRESS, else a local one)",
            },
        ),
        (
            ("--max-workers", "-j"),
            {"type": int, "default": None, "metavar": "N", "help": "nodes run at once (threads; default 32)"},
        ),
        (("--dask",), DASK_OPTION),
        (
            ("--timeout",),
            {
                "type": float,
                "default": None,
                "metavar": "SECONDS",
                "help": "cancel the run past this many seconds: running nodes stopped, the rest skipped (exit 6)",
            },
        ),
        (
            ("--progress",),
            {
                "action": argparse.BooleanOptionalAction,
                "default": None,
                "help": "a progress bar on stderr (default: a bar on a terminal, else a line per node)",
            },
        ),
        (("--no-cache",), {"action": "store_true", "help": "call every node, even those marked cache="}),
    )

    cache = _group(sub, "cache", "cached node results (nodes marked cache=)")
    _add(cache, "list", c.cache_list, "list the cached results: node, run, age, expiry")
    _add(cache, "clear", c.cache_clear, "remove every cached result")

    _add(
        sub,
        "job",
        c.job,
        "run a saved workflow as a papermill job; the output notebook is its report",
        (("workflow",), {"help": "the saved workflow's name"}),
        (
            ("-p", "--param"),
            {
                "nargs": 2,
                "action": "append",
                "default": [],
                "metavar": ("KEY", "VALUE"),
                "help": "an input of the run, read as the input's kind, like run -i",
            },
        ),
        (("-o", "--output"), {"metavar": "NOTEBOOK", "help": "the report notebook (default: in <workspace>/reports)"}),
        (("--batch",), {"metavar": "JSONL", "help": "run one job per line of this file (a JSON object of inputs)"}),
        (("--parallel", "-n"), {"type": int, "default": 2, "help": "batch jobs run at once (default 2)"}),
        (("--output-dir",), {"metavar": "DIR", "help": "where batch reports go"}),
        (("--timeout",), {"type": float, "default": 600.0, "help": "seconds a job may take (default 600)"}),
        (("--cell-timeout",), {"type": float, "default": None, "help": "seconds one cell may take"}),
        (("--quiet", "-q"), {"action": "store_true", "help": "no progress bar"}),
        (("--dask",), DASK_OPTION),
    )
    schedules.add_commands(sub, _add, _group)
    _add(
        sub,
        "lab",
        c.lab,
        "open JupyterLab on the getting-started notebook in a folder with a workspace "
        "(other arguments go to JupyterLab)",
        (("--dir",), {"default": "flowkit-lab", "help": "the lab folder (default ./flowkit-lab)"}),
    )
    o.add_commands(sub, runs, integrations, _add)
    return parser
