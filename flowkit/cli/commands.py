"""What each ``flowkit`` command does: parse nothing, call the API, print, return an exit code."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from .. import jsonvalue
from .base import (
    EXIT_FAILED,
    dask_executor,
    parse_inputs,
    print_json,
    table,
    workspace_of,
)

if TYPE_CHECKING:
    from ..workspace import Workspace


# -- types ---------------------------------------------------------------------
def types_list(args: argparse.Namespace) -> int:
    rows = [
        {"name": t.name, "params": ", ".join(p.name for p in t.params), "description": t.description}
        for t in workspace_of(args).types.list()
    ]
    print(table(rows, ["name", "params", "description"]))
    return 0


def types_show(args: argparse.Namespace) -> int:
    print_json(workspace_of(args).types.get(args.name).to_dict())
    return 0


def types_create(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    if args.from_module:
        itype = ws.types.create_from_module(args.name)
    else:
        from ..errors import ValidationError
        from ..model import Param

        params = []
        for spec in args.param:
            try:
                field = jsonvalue.loads(spec)
            except ValueError as exc:
                raise ValidationError(f"--param {spec!r} is not valid JSON: {exc}.") from exc
            if not isinstance(field, dict):
                raise ValidationError(f"--param {spec!r} must be a JSON object with at least a name.")
            params.append(Param.from_dict(field))
        itype = ws.types.create(args.name, description=args.description, params=params)
    print(f"Created integration type {itype.name!r} ({len(itype.params)} parameter(s)).")
    return 0


def types_delete(args: argparse.Namespace) -> int:
    workspace_of(args).types.delete(args.name)
    print(f"Deleted integration type {args.name!r}.")
    return 0


# -- integrations ----------------------------------------------------------------
def integrations_list(args: argparse.Namespace) -> int:
    rows = [
        {"name": i.name, "type": i.type, "fields": ", ".join(i.credentials)}
        for i in workspace_of(args).integrations.list()
    ]
    print(table(rows, ["name", "type", "fields"]))
    return 0


def integrations_show(args: argparse.Namespace) -> int:
    print(repr(workspace_of(args).integrations.get(args.name)))
    return 0


def _prompt_credentials(ws: Workspace, type_name: str) -> dict[str, Any]:
    """Ask for each credential field; secrets without echo, never from argv."""
    values: dict[str, Any] = {}
    for param in ws.types.get(type_name).params:
        label = f"{param.name}{' (required)' if param.required else ''}: "
        try:
            raw = getpass.getpass(label) if param.secret else input(label)
        except EOFError:
            from ..errors import CredentialsError

            raise CredentialsError(f"The input ended before a value for {param.name!r} was given.") from None
        if raw == "":
            continue
        if param.kind in ("number", "integer", "boolean", "json"):
            try:
                values[param.name] = jsonvalue.loads(raw)
            except ValueError:
                values[param.name] = raw
        else:
            values[param.name] = raw
    return values


def integrations_create(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    credentials = _prompt_credentials(ws, args.type)
    ws.integrations.create(args.name, type=args.type, credentials=credentials)
    print(f"Created integration {args.name!r}; its credentials are stored encrypted.")
    return 0


def integrations_delete(args: argparse.Namespace) -> int:
    workspace_of(args).integrations.delete(args.name)
    print(f"Deleted integration {args.name!r}.")
    return 0


# -- workflows -------------------------------------------------------------------
def workflows_list(args: argparse.Namespace) -> int:
    rows = [
        {"name": w.name, "nodes": len(w), "version": w.version, "description": w.description}
        for w in workspace_of(args).workflows.list()
    ]
    print(table(rows, ["name", "nodes", "version", "description"]))
    return 0


def workflows_show(args: argparse.Namespace) -> int:
    print_json(workspace_of(args).workflows.get(args.name).to_dict())
    return 0


def workflows_delete(args: argparse.Namespace) -> int:
    workspace_of(args).workflows.delete(args.name)
    print(f"Deleted workflow {args.name!r}.")
    return 0


# -- runs ------------------------------------------------------------------------
def runs_list(args: argparse.Namespace) -> int:
    """The newest runs from the run index; a damaged run file is reported on stderr, not listed."""
    import time

    rows = []
    listing = workspace_of(args).runs.listing(workflow=args.workflow, status=args.status, limit=args.limit)
    for problem in listing.damaged:
        print(f"warning: a run is not listed: {problem}", file=sys.stderr)
    for run in listing.runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
        duration = f"{run.duration:.2f}s" if run.duration is not None else "-"
        rows.append(
            {
                "id": run.id,
                "workflow": run.workflow,
                "version": f"v{run.version}" if run.version else "-",
                "status": run.status,
                "trigger": run.trigger,
                "started": started,
                "duration": duration,
            }
        )
    print(table(rows, ["id", "workflow", "version", "status", "trigger", "started", "duration"]))
    return 0


def runs_show(args: argparse.Namespace) -> int:
    print_json(workspace_of(args).runs.get(args.id).to_dict())
    return 0


def runs_delete(args: argparse.Namespace) -> int:
    workspace_of(args).runs.delete(args.id)
    print(f"Deleted run {args.id}.")
    return 0


# -- cache -----------------------------------------------------------------------
def cache_list(args: argparse.Namespace) -> int:
    import time

    now = time.time()
    rows = [
        {
            "node": entry.get("node", ""),
            "run": entry.get("run_id", ""),
            "age": f"{now - entry.get('created_at', now):.0f}s",
            "expires": "never" if entry.get("expires_at") is None else f"in {entry['expires_at'] - now:.0f}s",
        }
        for entry in workspace_of(args).cache.entries()
    ]
    print(table(rows, ["node", "run", "age", "expires"]) if rows else "The cache is empty.")
    return 0


def cache_clear(args: argparse.Namespace) -> int:
    count = workspace_of(args).cache.clear()
    print(f"Removed {count} cached result(s).")
    return 0


# -- keys ------------------------------------------------------------------------
def key_rotate(args: argparse.Namespace) -> int:
    count = workspace_of(args).rotate_key(drop_old_keys=args.drop_old)
    print(f"Re-encrypted {count} integration(s) under the new key.")
    return 0


def key_check(args: argparse.Namespace) -> int:
    ring = workspace_of(args).keyring()
    print(f"OK: keys from {ring.source} (primary fingerprint {ring.primary}) open this workspace.")
    return 0


def key_path(args: argparse.Namespace) -> int:
    from ..crypto import key_file_path

    print(key_file_path())
    return 0


# -- jobs and the lab -------------------------------------------------------------
def job(args: argparse.Namespace) -> int:
    from .. import jobs
    from ..errors import ValidationError

    ws = workspace_of(args)
    if args.batch:
        if args.param or args.output:
            raise ValidationError("--batch takes its inputs from the file; drop -p/-o (use --output-dir).")
        executor = dask_executor(args)
        try:
            batch = jobs.run_batch(
                ws,
                args.workflow,
                args.batch,
                parallel=args.parallel,
                output_dir=args.output_dir,
                timeout=args.timeout,
                cell_timeout=args.cell_timeout,
                progress=not args.quiet,
                executor=executor,
            )
        finally:
            if executor is not None:
                executor.shutdown()
        print(batch.summary())
        return 0 if batch.ok else EXIT_FAILED
    if args.dask:
        raise ValidationError("--dask runs the nodes of --batch runs on Dask; a single job runs in its kernel.")
    inputs = parse_inputs(ws, args.workflow, args.param)
    result = jobs.run_job(
        ws, args.workflow, inputs=inputs, output=args.output, timeout=args.timeout, cell_timeout=args.cell_timeout
    )
    print(
        f"{result.status}: run {result.run_id or '-'} of {result.workflow!r} in {result.duration:.1f} s; "
        f"report {result.report}"
    )
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    return 0 if result.ok else EXIT_FAILED


def lab(args: argparse.Namespace) -> int:
    from .. import lab as lab_module

    lab_module.launch(args.dir, args.extra, workspace=args.workspace)
    return 0  # not reached: launch replaces this process with JupyterLab


# -- run -------------------------------------------------------------------------
