"""Reach into the flowkit App by its stable CSS hooks (docs/ui-hooks.md), never by layout."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, expect

from .jlab import Notebook

# A click's answer travels browser -> kernel -> browser; it took ~0.5 s, a Run a few seconds.
ANSWER_TIMEOUT_MS = 15_000


def show_app(notebook: Notebook) -> Locator:
    """Run the notebook and return the App's root once it is drawn."""
    notebook.run_all()
    app = notebook.panel.locator(".flowkit-app")
    expect(app).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return app


def open_tab(app: Locator, title: str) -> Locator:
    """Click the App's tab titled `title`; returns the tab bar's tab."""
    tab = app.locator(".flowkit-tabs .lm-TabBar-tab", has_text=re.compile(rf"^{re.escape(title)}$"))
    tab.click()
    expect(tab).to_have_class(re.compile(r"\blm-mod-current\b"))
    return tab


def scroll_to_top(element: Locator) -> None:
    """Scroll so `element` starts at the top of the notebook: the screenshot then shows what follows it."""
    element.evaluate("(e) => e.scrollIntoView({block: 'start'})")


def message(scope: Locator, css: str, kind: str = "ok") -> Locator:
    """The ok/error message of the feedback area with class `css` (``<div class="flowkit-msg-<kind>">``)."""
    return scope.locator(f".{css} .flowkit-msg-{kind}")


def click(scope: Locator, css: str) -> None:
    """Click the button carrying the hook `css`."""
    scope.locator(f"button.{css}").click()


def options(select: Locator) -> list[str]:
    """The option labels of a <select>."""
    return [text.strip() for text in select.locator("option").all_inner_texts()]


def open_in_builder(notebook: Notebook, workflow: str) -> Locator:
    """Show the App, open the saved `workflow` in the Workflows tab; returns the builder once it is drawn."""
    app = show_app(notebook)
    open_tab(app, "Workflows")
    builder = app.locator(".flowkit-workflow-builder")
    builder.locator(".flowkit-workflow-list select").select_option(workflow)
    click(builder, "flowkit-workflow-open")
    expect(builder.locator(".flowkit-canvas svg.flowkit-dag g.flowkit-node").first).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    return builder
