"""Support for the widget tests (tests/test_ui_*.py): a demo integration and widget-state scans."""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as w
from helpers import write_integration

import flowkit as fk

DEMO_TASKS = '''
"""Demo service for the UI tests."""
import time

import flowkit as fk

CREDENTIALS = [
    {"name": "account", "kind": "text", "required": True, "help": "Who to connect as"},
    {"name": "api_key", "kind": "password", "required": True, "help": "The account's API key"},
    {"name": "region", "kind": "choice", "choices": ["eu", "us"], "default": "eu"},
]


def test_connection(credentials, params):
    key = credentials.get("api_key", "")
    if key == "right-key" or key.startswith("FLOWKIT-CANARY"):
        return {"success": True, "message": f"Connected as {credentials['account']}",
                "steps": [{"name": "login", "success": True, "message": "200 OK"}]}
    # Echoes the key it was given: the UI must not show it back.
    return {"success": False, "message": f"Key {key} was refused for {credentials.get('account')}",
            "steps": [{"name": "login", "success": False, "message": "401 Unauthorized"}, "gave up"]}


@fk.task(params=[fk.Param("text", required=True, help="What to echo"), fk.Param("times", kind="integer", default=1)])
def echo(credentials, params):
    """Echo a text back."""
    return {"success": True, "message": "echoed", "text": params["text"] * params.get("times", 1)}


def fail(credentials, params):
    """Always fails."""
    return {"success": False, "message": "the demo service is down"}


def free(credentials, params):
    """Takes any JSON params."""
    return {"success": True, "message": "ok", "params": params}


def slow(credentials, params):
    """Sleeps a little (to see a run while it happens)."""
    time.sleep(params.get("seconds", 0.2))
    return {"success": True, "message": "slept"}
'''


def add_demo_module(ws: fk.Workspace, name: str = "demo") -> str:
    """Write the demo integration module into the workspace and reload the registry."""
    init = '"""Demo service for the UI tests."""\nfrom .tasks import *  # noqa: F401,F403\n'
    write_integration(Path(ws.path) / "integrations", name, DEMO_TASKS, init_source=init)
    ws.registry.reload()
    return name


def add_demo_integration(ws: fk.Workspace, name: str = "My Demo", *, key: str = "right-key") -> str:
    """The demo module, its type from CREDENTIALS, and one integration."""
    add_demo_module(ws)
    if "demo" not in [t.name for t in ws.types.list()]:
        ws.types.create_from_module("demo")
    ws.integrations.create(name, type="demo", credentials={"account": "alice", "api_key": key})
    return name


def widget_state_text() -> str:
    """Every live widget's state as a notebook would save it, as one JSON text."""
    return json.dumps(w.Widget.get_manager_state(drop_defaults=False), default=str)
