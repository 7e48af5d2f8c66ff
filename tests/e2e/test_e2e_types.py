"""Scenario 1: create an integration type in the Types tab of the App."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, click, message, open_tab, show_app
from .jlab import Notebook, shot


def test_type_created_in_the_form_is_listed(
    workspace: fk.Workspace, echo_module: str, app_notebook: Path, open_notebook: Callable[[Path], Notebook]
) -> None:
    app = show_app(open_notebook(app_notebook))
    open_tab(app, "Integration Types")
    form = app.locator(".flowkit-type-form")

    # The name's dropdown offers the module found in the workspace's integrations/ folder.
    name = form.locator(".flowkit-type-name")
    expect(name.locator(f"datalist option[value='{echo_module}']")).to_have_count(1)
    name.locator("input").fill(echo_module)
    form.locator(".flowkit-type-description textarea").fill("Echo service for the browser tests")

    rows = form.locator(".flowkit-param-row")
    while rows.count() < 2:
        count = rows.count()
        click(form, "flowkit-param-add")
        expect(rows).to_have_count(count + 1)
    for index, (param, kind) in enumerate((("account", "text"), ("api_key", "password"))):
        row = rows.nth(index)
        row.locator(".flowkit-param-name input").fill(param)
        row.locator(".flowkit-param-kind select").select_option(kind)
        row.locator(".flowkit-param-required input[type=checkbox]").check()
    shot(form.page, "type-form-filled")
    click(form, "flowkit-type-create")

    expect(message(form, "flowkit-type-feedback")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(form.locator(f".flowkit-type-list select option[value='{echo_module}']")).to_have_count(1)
    saved = fk.Workspace(workspace.path).types.get(echo_module)
    assert [(p.name, p.kind, p.required) for p in saved.params] == [
        ("account", "text", True),
        ("api_key", "password", True),
    ]
    assert saved.description == "Echo service for the browser tests"
