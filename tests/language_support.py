"""Shared set-up for the workflow-language tests (conditions, trigger rules, foreach, cache)."""

from __future__ import annotations

from typing import Any

from engine_support import TOOLS, add_tools

import flowkit as fk

LANGUAGE_TOOLS = (
    TOOLS
    + '''

def leaks(credentials, params):
    """Fail with the credential in the message (the record must mask it)."""
    raise RuntimeError("refused token " + credentials["token"])


def reveals(credentials, params):
    """Return the credential (handed on as it is, recorded masked)."""
    return {"success": True, "message": "ok", "token": credentials["token"]}


def per_item(credentials, params):
    """Fail for the items listed in params["bad"], else echo the item; counts calls in params["path"]."""
    if params.get("path"):
        with open(params["path"], "a") as handle:
            handle.write(json.dumps(params["item"]) + "\\n")
    if params["item"] in params.get("bad", []):
        raise ValueError(f"bad item {params['item']}")
    return {"success": True, "message": "ok", "item": params["item"], "index": params.get("index")}


def listing(credentials, params):
    return {"success": True, "message": "listed", "items": params["items"]}


def counted(credentials, params):
    """Count calls in the file params["path"] and return the count."""
    with open(params["path"], "a") as handle:
        handle.write("x")
    with open(params["path"]) as handle:
        return {"success": True, "message": "counted", "count": len(handle.read()), "value": params.get("value")}
'''
)

#: How each parent outcome of the truth table is produced: (task, node options).
OUTCOMES: dict[str, tuple[str, dict[str, Any]]] = {
    "success": ("noop", {}),
    "failed": ("boom", {}),
    "skipped": ("noop", {"when": "{{ inputs.no }}"}),
    "upstream": ("noop", {}),  # below a failing grandparent
    "allowed": ("boom", {"allow_failure": True}),
}


def add_language_tools(ws: fk.Workspace, *, credentials: dict[str, Any] | None = None) -> None:
    add_tools(ws, source=LANGUAGE_TOOLS, credentials=credentials)


def truth_table_workflow(outcome: str, trigger: str, condition: bool) -> fk.Workflow:
    """parent (made to end as `outcome`) → child (with `trigger` and a condition that is `condition`)."""
    workflow = fk.Workflow(f"tt {outcome} {trigger} {condition}")
    task, options = OUTCOMES[outcome]
    workflow.add_node("parent", integration="Tools", task=task, **options)
    if outcome == "upstream":
        workflow.add_node("grand", integration="Tools", task="boom")
        workflow.connect("grand", "parent")
    workflow.add_node(
        "child",
        integration="Tools",
        task="noop",
        trigger=trigger,
        when="{{ inputs.yes }}" if condition else "{{ inputs.no }}",
    )
    workflow.connect("parent", "child")
    return workflow


#: Whether the child's trigger rule lets it run, by (trigger, parent outcome).
RUNS = {
    "all_success": {"success", "allowed"},
    "all_done": {"success", "failed", "skipped", "upstream", "allowed"},
    "one_failed": {"failed", "upstream"},
    "none_failed": {"success", "skipped", "allowed"},
}
