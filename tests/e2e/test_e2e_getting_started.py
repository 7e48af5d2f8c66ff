"""The README's main job: ``flowkit lab`` opens JupyterLab on getting_started.ipynb; a newcomer runs it all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, click, message, open_tab, scroll_to_top, show_app
from .jlab import LabServer, Notebook, shot

RUN_TIMEOUT_MS = 30_000
GREEN = "#43a047"


def test_getting_started_runs_and_its_app_runs_the_workflow(
    lab: LabServer, open_notebook: Callable[[Path], Notebook]
) -> None:
    # The very file `flowkit lab` copied into its folder, on the workspace it set up.
    notebook = open_notebook(lab.root / "getting_started.ipynb")
    app = show_app(notebook)  # Run All: the whole path, papermill job included, then the App
    expect(app.locator(".flowkit-app-header")).to_contain_text(str(lab.workspace))

    open_tab(app, "Workflows")
    builder = app.locator(".flowkit-workflow-builder")
    builder.locator(".flowkit-workflow-list select").select_option("Daily note")
    click(builder, "flowkit-workflow-open")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text(
        "Opened 'Daily note'", timeout=ANSWER_TIMEOUT_MS
    )
    dag = builder.locator(".flowkit-drawing svg.flowkit-dag")
    expect(dag.locator("path.flowkit-edge[data-from='count'][data-to='save']")).to_have_count(1)

    # The notebook's templates read {{ inputs.title }} and {{ inputs.text }}: the builder asks for them.
    builder.locator(".flowkit-input-title input").fill("From the browser")
    builder.locator(".flowkit-input-text input").fill("typed in a real JupyterLab")
    click(builder, "flowkit-run")
    expect(message(builder, "flowkit-builder-feedback")).to_contain_text(": success.", timeout=RUN_TIMEOUT_MS)
    for node in ("count", "save"):
        box = dag.locator(f"g.flowkit-node[data-node='{node}']")
        expect(box).to_have_attribute("data-status", "success")
        expect(box.locator("rect").first).to_have_attribute("fill", GREEN)
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='count']")).to_contain_text("words: 5")
    expect(builder.locator(".flowkit-result-nodes .flowkit-node-row[data-node='save']")).to_contain_text(
        "Wrote from-the-browser.md"
    )
    scroll_to_top(builder)
    shot(notebook.page, "getting-started-app-run")
    note = lab.workspace / "notes" / "from-the-browser.md"
    assert note.read_text() == "# From the browser\n\ntyped in a real JupyterLab (5 words)\n"

    # The Runs tab lists it, newest first, next to the notebook's run and the papermill job's.
    open_tab(app, "Runs")
    panel = app.locator(".flowkit-runs-panel")
    click(panel, "flowkit-runs-refresh")
    runs = panel.locator(".flowkit-runs-list select")
    expect(runs.locator("option")).to_have_count(3, timeout=ANSWER_TIMEOUT_MS)
    assert len(fk.Workspace(lab.workspace).runs.list(workflow="Daily note")) == 3
    runs.select_option(index=0)
    view = panel.locator(".flowkit-run-view")
    expect(view.locator(".flowkit-run-nodes .flowkit-node-row[data-node='save']")).to_contain_text(
        "from-the-browser.md", timeout=ANSWER_TIMEOUT_MS
    )
    expect(view.locator(".flowkit-run-drawing g.flowkit-node[data-node='save']")).to_have_attribute(
        "data-status", "success"
    )
    scroll_to_top(panel)
