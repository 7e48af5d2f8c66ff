"""The builder's drawing as a canvas: click a node to select it, drag from one node to another to connect them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, message, open_in_builder, scroll_to_top
from .jlab import Notebook, shot


def test_click_selects_and_drag_connects_in_the_drawing(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    wf = fk.Workflow("Canvas")
    wf.add_node("first", integration="Echo", task="echo", params={"text": "a"})
    wf.add_node("second", integration="Echo", task="echo", params={"text": "b"})
    workspace.workflows.save(wf)
    notebook = open_notebook(app_notebook)
    builder = open_in_builder(notebook, "Canvas")
    canvas = builder.locator(".flowkit-canvas")
    first = canvas.locator("svg.flowkit-dag g.flowkit-node[data-node='first']")
    second = canvas.locator("svg.flowkit-dag g.flowkit-node[data-node='second']")
    expect(second).to_be_visible(timeout=ANSWER_TIMEOUT_MS)

    second.click()
    expect(builder.locator(".flowkit-node-name input")).to_have_value("second", timeout=ANSWER_TIMEOUT_MS)
    expect(canvas.locator("g.flowkit-node.flowkit-selected[data-node='second']")).to_have_count(1)
    expect(builder.locator(".flowkit-node-select select")).to_have_value("second")

    first.drag_to(second)
    expect(canvas.locator("path.flowkit-edge[data-from='first'][data-to='second']")).to_have_count(
        1, timeout=ANSWER_TIMEOUT_MS
    )
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text("Connected first → second")
    scroll_to_top(builder)
    shot(notebook.page, "canvas-drag-connected")

    # A drag that would close a cycle is refused like the Connect button refuses it.
    canvas.locator("svg.flowkit-dag g.flowkit-node[data-node='second']").drag_to(
        canvas.locator("svg.flowkit-dag g.flowkit-node[data-node='first']")
    )
    expect(message(builder, "flowkit-builder-feedback", "error")).to_contain_text("cycle", timeout=ANSWER_TIMEOUT_MS)
    expect(canvas.locator("path.flowkit-edge[data-from='second'][data-to='first']")).to_have_count(0)


def test_pressing_run_keeps_the_drawing_and_its_message_in_view(
    workspace: fk.Workspace, echo_integration: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    wf = fk.Workflow("In view")
    for index in range(4):
        wf.add_node(f"step{index}", integration="Echo", task="echo", params={"text": f"step {index}"})
        if index:
            wf.connect(f"step{index - 1}", f"step{index}")
    workspace.workflows.save(wf)
    notebook = open_notebook(app_notebook)
    builder = open_in_builder(notebook, "In view")
    run_button = builder.locator("button.flowkit-run")
    run_button.scroll_into_view_if_needed()
    run_button.click()
    # At 900 px the drawing the run animates and the run's message are on screen with the button.
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text(": success.", timeout=30_000)
    expect(builder.locator(".flowkit-canvas svg.flowkit-dag")).to_be_in_viewport()
    expect(message(builder, "flowkit-builder-feedback")).to_be_in_viewport()
    expect(run_button).to_be_in_viewport()
    expect(builder.locator(".flowkit-canvas g.flowkit-node[data-node='step3']")).to_have_attribute(
        "data-status", "success"
    )
    shot(notebook.page, "builder-run-in-view")
