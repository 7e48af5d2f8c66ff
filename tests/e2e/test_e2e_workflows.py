"""Scenarios 3 and 4: build a workflow in the builder, see it drawn, save it, run it; bad input refused inline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, click, message, open_tab, options, scroll_to_top, show_app
from .jlab import Notebook, shot

# docs/ui-hooks.md: what a person sees for each status.
GREEN, RED, LIGHT_GREY = "#43a047", "#e53935", "#e0e0e0"
RUN_TIMEOUT_MS = 30_000


def builder_of(notebook: Notebook) -> Locator:
    app = show_app(notebook)
    open_tab(app, "Workflows")
    return app.locator(".flowkit-workflow-builder")


def add_node(builder: Locator, name: str, task: str, params: str, integration: str = "Echo") -> None:
    """Fill the node form and click Add node; `params` is typed as is into the JSON editor."""
    builder.locator(".flowkit-node-name input").fill(name)
    builder.locator(".flowkit-node-integration select").select_option(integration)
    task_select = builder.locator(".flowkit-node-task select")
    expect(task_select.locator(f"option[value='{task}']")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    task_select.select_option(task)
    # The editor is rebuilt (emptied) when the task changes: type only once the task's help is shown.
    expect(builder.locator(".flowkit-node-task-help")).to_contain_text(TASK_HELP[task], timeout=ANSWER_TIMEOUT_MS)
    builder.locator(".flowkit-node-params-json textarea").fill(params)
    click(builder, "flowkit-node-add")


TASK_HELP = {"echo": "Return the text it was given", "fail": "Always fail"}


def connect(builder: Locator, upstream: str, downstream: str) -> None:
    builder.locator(".flowkit-connect-from select").select_option(upstream)
    builder.locator(".flowkit-connect-to select").select_option(downstream)
    click(builder, "flowkit-connect")


def node_box(builder: Locator, name: str) -> Locator:
    return builder.locator(f".flowkit-drawing svg.flowkit-dag g.flowkit-node[data-node='{name}']")


def edge(builder: Locator, upstream: str, downstream: str) -> Locator:
    return builder.locator(
        f".flowkit-drawing svg.flowkit-dag path.flowkit-edge[data-from='{upstream}'][data-to='{downstream}']"
    )


def expect_status(builder: Locator, name: str, status: str, colour: str) -> None:
    """The node's box carries the status and is painted in its colour."""
    box = node_box(builder, name)
    expect(box).to_have_attribute("data-status", status, timeout=RUN_TIMEOUT_MS)
    expect(box.locator("rect").first).to_have_attribute("fill", colour)


def test_workflow_built_drawn_saved_and_run(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    notebook = open_notebook(app_notebook)
    builder = builder_of(notebook)
    builder.locator(".flowkit-workflow-name input").fill("E2E flow")

    add_node(builder, "first", "echo", json.dumps({"text": "hello"}))
    expect(node_box(builder, "first")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    add_node(builder, "second", "echo", json.dumps({"text": "{{ first.text }} world"}))
    connect(builder, "first", "second")
    # The DAG is drawn as it is built: both boxes and the arrow between them.
    expect(edge(builder, "first", "second")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(node_box(builder, "second")).to_be_visible()

    click(builder, "flowkit-workflow-save")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text("Saved 'E2E flow'", timeout=ANSWER_TIMEOUT_MS)
    saved = fk.Workspace(workspace.path).workflows.get("E2E flow")
    assert sorted(saved.nodes) == ["first", "second"] and saved.edges == [("first", "second")]

    click(builder, "flowkit-run")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text(": success.", timeout=RUN_TIMEOUT_MS)
    expect_status(builder, "first", "success", GREEN)
    expect_status(builder, "second", "success", GREEN)
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='second']")).to_contain_text(
        "hello world", timeout=ANSWER_TIMEOUT_MS
    )
    scroll_to_top(builder)
    shot(notebook.page, "workflow-run-success")

    # A failing node turns red; what depends on it is skipped (grey); the rest stays green.
    add_node(builder, "boom", "fail", "{}")
    connect(builder, "second", "boom")
    add_node(builder, "after", "echo", json.dumps({"text": "never"}))
    connect(builder, "boom", "after")
    expect(edge(builder, "boom", "after")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    click(builder, "flowkit-workflow-save")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text("(version 2)", timeout=ANSWER_TIMEOUT_MS)
    click(builder, "flowkit-run")
    expect(message(builder, "flowkit-builder-feedback", "error")).to_contain_text(": failed.", timeout=RUN_TIMEOUT_MS)
    expect_status(builder, "boom", "failed", RED)
    expect_status(builder, "after", "skipped", LIGHT_GREY)
    expect_status(builder, "second", "success", GREEN)
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='boom']")).to_contain_text(
        "the e2e service is down"
    )
    scroll_to_top(builder)


def test_invalid_params_and_cycle_are_refused_inline(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    notebook = open_notebook(app_notebook)
    builder = builder_of(notebook)
    builder.locator(".flowkit-workflow-name input").fill("Guarded")
    add_node(builder, "a", "echo", json.dumps({"text": "a"}))
    add_node(builder, "b", "echo", json.dumps({"text": "b"}))
    connect(builder, "a", "b")
    expect(edge(builder, "a", "b")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)

    add_node(builder, "c", "echo", '{"text": ')
    expect(message(builder, "flowkit-builder-feedback", "error")).to_contain_text(
        "not valid JSON", timeout=ANSWER_TIMEOUT_MS
    )
    expect(node_box(builder, "c")).to_have_count(0)
    assert "c" not in options(builder.locator(".flowkit-node-select select"))
    shot(notebook.page, "workflow-invalid-json-refused")

    connect(builder, "b", "a")
    expect(message(builder, "flowkit-builder-feedback", "error")).to_contain_text("cycle", timeout=ANSWER_TIMEOUT_MS)
    expect(edge(builder, "b", "a")).to_have_count(0)
    shot(notebook.page, "workflow-cycle-refused")

    # A template naming a node that is not upstream is flagged on its node, and Save refuses it whole.
    add_node(builder, "c", "echo", json.dumps({"text": "{{ b.text }}!"}))
    expect(builder.locator(".flowkit-problems li.flowkit-problem[data-node='c'][data-severity='error']")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    click(builder, "flowkit-workflow-save")
    expect(message(builder, "flowkit-builder-feedback", "error")).to_contain_text(
        "Workflow 'Guarded' has 1 error(s): c:", timeout=ANSWER_TIMEOUT_MS
    )
    assert fk.Workspace(workspace.path).workflows.list() == []
    scroll_to_top(builder)
    shot(notebook.page, "workflow-save-refused")

    # Once fixed, Save stores exactly what was accepted: no half node, no back edge.
    connect(builder, "b", "c")
    expect(builder.locator(".flowkit-problems .flowkit-no-problems")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    click(builder, "flowkit-workflow-save")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text("Saved 'Guarded'", timeout=ANSWER_TIMEOUT_MS)
    saved = fk.Workspace(workspace.path).workflows.get("Guarded")
    assert sorted(saved.nodes) == ["a", "b", "c"] and sorted(saved.edges) == [("a", "b"), ("b", "c")]
    scroll_to_top(builder)
