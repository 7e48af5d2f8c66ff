"""Shared set-up for the job and notebook tests: a `demo` integration whose credential is the canary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from helpers import find_canary, write_integration

import flowkit as fk

DEMO = '''
import time


def echo(credentials, params):
    """Hand back each param with its JSON type's Python name."""
    return {"success": True, "message": "echoed", "values": params,
            "types": {name: type(value).__name__ for name, value in params.items()}}


def leak(credentials, params):
    """Misbehave: print the secret and put it in the result (flowkit must mask both)."""
    print("the token is", credentials["token"])
    return {"success": True, "message": "leaked " + credentials["token"], "token": credentials["token"]}


def fail(credentials, params):
    return {"success": False, "message": "the demo service said no"}


def nap(credentials, params):
    time.sleep(params.get("seconds", 0))
    return {"success": True, "message": "rested"}
'''


def demo_workspace(ws: fk.Workspace, canary: str) -> fk.Workspace:
    """Give `ws` the `demo` module, its type, the integration ``Demo`` (token = canary) and a few workflows."""
    write_integration(ws.path / "integrations", "demo", DEMO)
    ws.registry.reload()
    ws.types.create("demo", description="demo", params=[fk.Param("token", kind="password", required=True)])
    ws.integrations.create("Demo", type="demo", credentials={"token": canary})

    typed = fk.Workflow("typed", "inputs keep their JSON types")
    typed.add_node(
        "first",
        integration="Demo",
        task="echo",
        params={
            "n": "{{ inputs.n }}",
            "tags": "{{ inputs.tags }}",
            "ratio": "{{ inputs.ratio }}",
            "flag": "{{ inputs.flag }}",
            "name": "{{ inputs.name }}",
        },
    )
    typed.add_node("leaky", integration="Demo", task="leak")
    typed.add_node("second", integration="Demo", task="echo", params={"got": "{{ first.values.n }}"})
    typed.connect("first", "second")
    ws.workflows.save(typed)

    one = fk.Workflow("one", "a single node")
    one.add_node("echo", integration="Demo", task="echo", params={"n": "{{ inputs.n }}"})
    ws.workflows.save(one)

    failing = fk.Workflow("failing", "a node that fails")
    failing.add_node("no", integration="Demo", task="fail")
    failing.add_node("after", integration="Demo", task="echo")
    failing.connect("no", "after")
    ws.workflows.save(failing)

    slow = fk.Workflow("slow", "a node that outlasts its job")
    slow.add_node("nap", integration="Demo", task="nap", params={"seconds": 60})
    ws.workflows.save(slow)
    return ws


def notebook_text(path: str | Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def canary_hits(canary: str, *paths: str | Path) -> dict[str, list[str]]:
    """Canary forms found per file (only files with hits)."""
    found = {}
    for path in paths:
        hits = find_canary(canary, Path(path).read_bytes())
        if hits:
            found[str(path)] = hits
    return found


def cell_outputs(path: str | Path) -> list[dict[str, Any]]:
    """Every output of a notebook file, multi-line strings joined (as nbformat reads them)."""
    notebook = nbformat.read(str(path), as_version=4)
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]
