"""What a task is handed is its own: changing its params in place changes nothing else.

Seen: a task doing ``params["seen"]["count"] += 1`` changed the workflow's own
node params (the call got a shallow copy), so the next run sent different
params and recorded them; foreach items would have shared them too.
"""

from __future__ import annotations

import pytest
from engine_support import add_tools

import flowkit as fk


def test_foreach_items_never_share_nested_params_a_task_changes(ws: fk.Workspace) -> None:
    add_tools(ws, name="mutating", integration="Mutating", source=MUTATING)
    wf = fk.Workflow("mutate")
    wf.add_node("each", integration="Mutating", task="grab", params={"seen": {"count": 0}}, foreach=list(range(5)))

    run = ws.run(wf, executor="inline")

    assert run.status == "success"
    assert [item["count"] for item in run.nodes["each"].result["items"]] == [1] * 5


@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_a_task_changing_its_params_in_place_changes_neither_the_workflow_nor_the_next_run(
    ws: fk.Workspace, executor: str
) -> None:
    add_tools(ws, name="mutating", integration="Mutating", source=MUTATING)
    wf = fk.Workflow("mutate node")
    wf.add_node("a", integration="Mutating", task="grab", params={"seen": {"count": 0}})

    first, second = ws.run(wf, executor=executor), ws.run(wf, executor=executor)

    assert first.nodes["a"].result["count"] == second.nodes["a"].result["count"] == 1
    assert wf.graph.nodes["a"]["node"].params == {"seen": {"count": 0}}
    assert second.nodes["a"].params == {"seen": {"count": 0}}  # recorded as it was sent


MUTATING = """
def grab(credentials, params):
    params["seen"]["count"] += 1  # a task changing what it was given, in place
    return {"success": True, "message": "grabbed", "count": params["seen"]["count"]}
"""
