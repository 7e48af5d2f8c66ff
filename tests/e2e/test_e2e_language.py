"""Scenario: in the browser, build a workflow with a condition and a foreach, run it, see the marks and statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, click, message, scroll_to_top
from .jlab import Notebook, shot
from .test_e2e_workflows import (
    GREEN,
    LIGHT_GREY,
    RUN_TIMEOUT_MS,
    add_node,
    builder_of,
    connect,
    expect_status,
    node_box,
)


def test_a_condition_and_a_foreach_built_in_the_browser(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    notebook = open_notebook(app_notebook)
    builder = builder_of(notebook)
    builder.locator(".flowkit-workflow-name input").fill("Language")
    add_node(builder, "first", "echo", json.dumps({"text": "skip me"}))

    # A foreach over a list typed in the form: one call per item.
    builder.locator(".flowkit-node-foreach input").fill("[1, 2, 3]")
    builder.locator(".flowkit-node-max-parallel input").fill("2")
    add_node(builder, "each", "echo", json.dumps({"text": "item {{ item }}"}))
    connect(builder, "first", "each")

    # A condition that is false at run time: the node is skipped, saying why.
    builder.locator(".flowkit-node-foreach input").fill("")
    builder.locator(".flowkit-node-max-parallel input").fill("")
    builder.locator(".flowkit-node-when input").fill("{{ first.text != 'skip me' }}")
    add_node(builder, "tell", "echo", json.dumps({"text": "told"}))
    connect(builder, "each", "tell")

    expect(node_box(builder, "each").locator("[data-mark='foreach']")).to_have_text("∀ each", timeout=ANSWER_TIMEOUT_MS)
    expect(node_box(builder, "tell").locator("[data-mark='condition']")).to_be_visible()
    click(builder, "flowkit-workflow-save")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text("Saved 'Language'", timeout=ANSWER_TIMEOUT_MS)
    saved = fk.Workspace(workspace.path).workflows.get("Language")
    assert saved.node("each").foreach == [1, 2, 3] and saved.node("each").max_parallel == 2
    assert saved.node("tell").when == "{{ first.text != 'skip me' }}" and saved.node("tell").foreach is None

    click(builder, "flowkit-run")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text(": success.", timeout=RUN_TIMEOUT_MS)
    expect_status(builder, "each", "success", GREEN)
    expect_status(builder, "tell", "skipped", LIGHT_GREY)
    expect(node_box(builder, "each").locator("[data-mark='foreach']")).to_have_text("∀ 3/3")
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='tell']")).to_contain_text(
        "condition was false"
    )
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='each']")).to_contain_text("3/3 items")
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='each']")).to_contain_text("item 3")
    items = builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='each'] li.flowkit-item")
    expect(items).to_have_count(3)
    scroll_to_top(builder)
    shot(notebook.page, "language-condition-and-foreach")
    run = fk.Workspace(workspace.path).runs.list(workflow="Language")[0]
    assert [item["status"] for item in run.nodes["each"].items or []] == ["success"] * 3
