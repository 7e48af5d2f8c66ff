"""Shared set-up for the engine tests: a `tools` integration with well-behaved and misbehaving tasks."""

from __future__ import annotations

from typing import Any

from helpers import write_integration

import flowkit as fk

TOOLS = '''
import json
import logging
import os
import time

import flowkit as fk


def noop(credentials, params):
    return {"success": True, "message": "ok"}


def echo(credentials, params):
    """Return the params it got."""
    return {"success": True, "message": "echo", "params": params}


def clock(credentials, params):
    """Sleep, and report when it ran (perf_counter, comparable within one process)."""
    started = time.perf_counter()
    time.sleep(params.get("seconds", 0))
    return {"success": True, "message": "ran", "started": started, "finished": time.perf_counter()}


def flaky(credentials, params):
    """Fail the first `fails` calls, counted in the file `path`."""
    with open(params["path"], "a") as handle:
        handle.write("x")
    with open(params["path"]) as handle:
        count = len(handle.read())
    if count <= params["fails"]:
        raise ConnectionError(f"attempt {count} failed")
    return {"success": True, "message": f"worked on attempt {count}", "attempt": count}


def boom(credentials, params):
    raise RuntimeError("it broke")


def returns_none(credentials, params):
    return None


def returns_list(credentials, params):
    return [1, 2]


def returns_str(credentials, params):
    return "done"


def returns_set(credentials, params):
    return {"success": True, "message": "a set", "tags": {1, 2}}


def says_no(credentials, params):
    return {"success": False, "message": "quota exceeded"}


def exits(credentials, params):
    raise SystemExit(3)


@fk.task(params=[fk.Param("count", kind="integer", required=True), fk.Param("label", default="item")])
def declared(credentials, params):
    return {"success": True, "message": "declared", "params": params}


def test_connection(credentials, params):
    return {"success": True, "message": "connected"}
'''


def add_tools(
    ws: fk.Workspace,
    *,
    name: str = "tools",
    integration: str = "Tools",
    credentials: dict[str, Any] | None = None,
    source: str = TOOLS,
) -> None:
    """Write the integration module, create its type (one password field) and an integration."""
    write_integration(ws.path / "integrations", name, source)
    ws.registry.reload()
    ws.types.create(name, params=[fk.Param("token", kind="password")])
    ws.integrations.create(integration, type=name, credentials=credentials or {"token": "not-a-real-token"})


def chain(name: str, tasks: list[str], integration: str = "Tools", **node_options: Any) -> fk.Workflow:
    """A workflow n0 → n1 → ... running the given tasks."""
    workflow = fk.Workflow(name)
    for index, task in enumerate(tasks):
        workflow.add_node(f"n{index}", integration=integration, task=task, **node_options)
        if index:
            workflow.connect(f"n{index - 1}", f"n{index}")
    return workflow
