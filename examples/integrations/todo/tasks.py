"""Tasks of the example `todo` integration, over HTTP with `requests`.

Copy this folder into your workspace's ``integrations/`` (or put its parent
on ``FLOWKIT_INTEGRATIONS_PATH``), rename it, and change the requests: the
shape stays the same. A task is ``fn(credentials, params) -> dict`` with at
least ``success`` and ``message``; what else it returns is what downstream
nodes can use (``{{ add.id }}``).
"""

from __future__ import annotations

from typing import Any

import requests

import flowkit

CREDENTIALS = [
    flowkit.Param("base_url", required=True, help="The API's root, e.g. http://127.0.0.1:8000."),
    flowkit.Param("token", kind="password", required=True, help="The API token, sent as a bearer token."),
]
TIMEOUT = 10


class _Refused(Exception):
    """The API said no, or could not be reached; the text is the task's message."""


def _call(credentials: dict[str, Any], method: str, path: str, **kwargs: Any) -> Any:
    """One request to the API; returns its JSON, or raises `_Refused` with a sentence (never the token)."""
    url = str(credentials["base_url"]).rstrip("/") + path
    headers = {"Authorization": f"Bearer {credentials['token']}"}
    try:
        response = requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        raise _Refused(
            f"The to-do API at {credentials['base_url']} could not be reached ({type(exc).__name__})."
        ) from None
    if response.status_code == 401:
        raise _Refused("The to-do API refused the token (401): check the integration's token.")
    if response.status_code >= 400:
        try:
            said = response.json().get("message", "")
        except ValueError:
            said = response.text[:200]
        raise _Refused(f"The to-do API answered {response.status_code}: {said}")
    return response.json()


def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Check the URL and the token: GET /me."""
    steps = [
        {
            "name": "config",
            "ok": bool(credentials.get("base_url") and credentials.get("token")),
            "message": "base_url and token are set",
        }
    ]
    if not steps[0]["ok"]:
        steps[0]["message"] = "Set base_url and token."
        return {"success": False, "message": steps[0]["message"], "steps": steps}
    try:
        me = _call(credentials, "GET", "/me")
    except _Refused as exc:
        steps.append({"name": "auth", "ok": False, "message": str(exc)})
        return {"success": False, "message": str(exc), "steps": steps}
    steps.append({"name": "auth", "ok": True, "message": f"signed in as {me['user']}"})
    return {"success": True, "message": f"Connected as {me['user']} ({me['todos']} to-do(s)).", "steps": steps}


@flowkit.task(params=[flowkit.Param("title", required=True, help="What there is to do.")])
def add_todo(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Add a to-do; returns its ``id``."""
    try:
        todo = _call(credentials, "POST", "/todos", json={"title": params["title"]})
    except _Refused as exc:
        return {"success": False, "message": str(exc)}
    return {"success": True, "message": f"Added to-do {todo['id']}.", "id": todo["id"], "title": todo["title"]}


@flowkit.task(params=[flowkit.Param("done", kind="boolean", help="Only done (true) or open (false) to-dos.")])
def list_todos(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """List to-dos; returns ``todos`` and ``count``."""
    query = {} if params.get("done") is None else {"done": "true" if params["done"] else "false"}
    try:
        todos = _call(credentials, "GET", "/todos", params=query)["todos"]
    except _Refused as exc:
        return {"success": False, "message": str(exc)}
    return {"success": True, "message": f"{len(todos)} to-do(s).", "todos": todos, "count": len(todos)}


@flowkit.task(params=[flowkit.Param("id", kind="integer", required=True, help="The to-do to mark done.")])
def complete_todo(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Mark a to-do done."""
    try:
        todo = _call(credentials, "POST", f"/todos/{params['id']}/done")
    except _Refused as exc:
        return {"success": False, "message": str(exc)}
    return {"success": True, "message": f"Completed to-do {todo['id']}.", "id": todo["id"]}
