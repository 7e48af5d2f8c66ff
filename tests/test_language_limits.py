"""The workflow language under issue 13a's limits: conditions, foreach lists and items render under the run's
budget; cancelling a run cancels its foreach items and its child runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from language_support import add_language_tools
from test_language_subflows import save_child

import flowkit as fk

SLOW = "{% for i in range(100000) %}{% for j in range(50) %}{% endfor %}{% endfor %}"


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_language_tools(ws)
    return ws


@pytest.mark.parametrize("where", ["when", "foreach", "item"])
def test_slow_templates_in_the_language_fail_their_node_under_the_budget(tools: fk.Workspace, where: str) -> None:
    wf = fk.Workflow("slow")
    wf.add_node("beside", integration="Tools", task="noop")
    options: dict[str, object] = {
        "when": {"when": "{{ true }}" + SLOW},
        "foreach": {"foreach": "{{ [1] }}" + SLOW},
        "item": {"foreach": [1], "params": {"text": SLOW + "{{ item }}"}},
    }[where]
    wf.add_node("slow", integration="Tools", task="echo", **options)  # type: ignore[arg-type]
    started = time.monotonic()
    run = tools.run(wf, render_budget=fk.RenderBudget(seconds=0.2))
    assert time.monotonic() - started < 10
    slow = run.nodes["slow"]
    assert slow.status == "failed" and run.nodes["beside"].status == "success"
    shown = (slow.error or "") + str(slow.items)
    assert "0.2 s rendering budget" in shown, shown


def test_cancelling_a_run_cancels_its_foreach_and_its_child_run(tools: fk.Workspace, tmp_path: Path) -> None:
    child = fk.Workflow("Sleeper")
    child.add_node("nap", integration="Tools", task="clock", params={"seconds": "{{ inputs.seconds }}"})
    tools.workflows.save(child)
    save_child(tools)
    wf = fk.Workflow("long")
    wf.add_node("each", integration="Tools", task="clock", foreach=[30, 30], params={"seconds": "{{ item }}"})
    wf.add_node("sub", workflow="Sleeper", inputs={"seconds": 30})
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    run = tools.run(wf, cancel=cancel)
    assert time.monotonic() - started < 10
    assert run.status == "cancelled"
    assert run.nodes["each"].status == "cancelled" and run.nodes["sub"].status == "cancelled"
    child_run = tools.runs.get(run.nodes["sub"].child_run or "")
    assert child_run.parent == {"run": run.id, "node": "sub"}
    assert child_run.status == "cancelled"
