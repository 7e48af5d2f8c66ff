"""The drawing marks each workflow-language option: condition, trigger rule, foreach n/m, cache."""

from __future__ import annotations

import re

from language_support import add_language_tools

import flowkit as fk
from flowkit import drawing


def marks_of(svg: str, node: str) -> dict[str, str]:
    group = re.search(rf'<g class="flowkit-node" data-node="{node}".*?</g>', svg)
    assert group is not None
    return dict(re.findall(r'data-mark="([a-z_]+)"[^>]*>([^<]*)<', group.group(0)))


def test_a_workflow_drawing_marks_each_option() -> None:
    wf = fk.Workflow("marks")
    wf.add_node("plain", integration="Tools", task="noop")
    wf.add_node("cond", integration="Tools", task="noop", when="{{ plain.ok }}", trigger="all_done")
    wf.add_node("each", integration="Tools", task="noop", foreach=[1, 2], allow_failure=True, cache="1h")
    svg = drawing.draw_workflow(wf)
    assert marks_of(svg, "plain") == {}
    assert marks_of(svg, "cond") == {"condition": "◆ if", "trigger": "⚑ all_done"}
    assert marks_of(svg, "each") == {"foreach": "∀ each", "allow_failure": "may fail", "cache": "⚡ cache"}
    assert "may fail" in re.search(r'data-node="each".*?<title>(.*?)</title>', svg).group(1)  # type: ignore[union-attr]


def test_a_run_drawing_shows_items_done_while_running(ws: fk.Workspace) -> None:
    add_language_tools(ws)
    wf = fk.Workflow("drawn")
    wf.add_node("each", integration="Tools", task="noop", foreach=[1, 2, 3])
    shown: list[str] = []

    def on_event(event: fk.Event) -> None:
        if event.kind in ("node_progress", "node_finished"):
            shown.append(marks_of(drawing.draw_run(event.run), "each")["foreach"])

    run = ws.run(wf, on_event=on_event, executor="inline")
    assert shown == ["∀ 1/3", "∀ 2/3", "∀ 3/3", "∀ 3/3"]
    assert marks_of(drawing.draw_run(run), "each")["foreach"] == "∀ 3/3"
