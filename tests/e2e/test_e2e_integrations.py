"""Scenario 2: create an integration with a masked secret, test its connection, find no plaintext on disk."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from helpers import find_canary, scan_tree
from playwright.sync_api import expect

import flowkit as fk

from .app import ANSWER_TIMEOUT_MS, click, message, open_tab, show_app
from .jlab import LabServer, Notebook, shot


def test_integration_tested_created_and_encrypted(
    lab: LabServer,
    workspace: fk.Workspace,
    echo_module: str,
    canary: str,
    app_notebook: Path,
    open_notebook: Callable[[Path], Notebook],
) -> None:
    workspace.types.create(
        echo_module,
        description="Echo",
        params=[
            fk.Param("account", kind="text", required=True),
            fk.Param("api_key", kind="password", required=True),
        ],
    )
    notebook = open_notebook(app_notebook)
    app = show_app(notebook)
    open_tab(app, "Integrations")
    form = app.locator(".flowkit-integration-form")
    form.locator(".flowkit-integration-name input").fill("My Echo")
    form.locator(".flowkit-integration-type select").select_option(echo_module)
    # The fields are generated from the type; the secret one is masked on screen.
    account = form.locator(".flowkit-field-account input")
    api_key = form.locator(".flowkit-field-api_key input")
    expect(api_key).to_have_attribute("type", "password")
    expect(account).to_have_attribute("type", "text")
    result = form.locator(".flowkit-integration-test-result .widget-html-content")

    account.fill("alice")
    api_key.fill("not-the-key")
    click(form, "flowkit-integration-test")
    # (The engine redacts every credential value from task messages, the non-secret account too.)
    expect(result).to_have_text(re.compile(r"^❌ The API key was refused for "), timeout=ANSWER_TIMEOUT_MS)

    api_key.fill(canary)
    shot(notebook.page, "integration-secret-typed")
    click(form, "flowkit-integration-test")
    expect(result).to_have_text(re.compile(r"^✅ Connected as "), timeout=ANSWER_TIMEOUT_MS)

    click(form, "flowkit-integration-create")
    expect(message(form, "flowkit-integration-feedback")).to_contain_text(
        "Created the integration 'My Echo'", timeout=ANSWER_TIMEOUT_MS
    )
    expect(form.locator(".flowkit-integration-list select option[value='My Echo']")).to_have_count(1)

    # What was stored is the key typed (this process holds the same key file), encrypted on disk.
    assert fk.Workspace(workspace.path).integrations.test("My Echo")["success"] is True
    assert find_canary(canary, (workspace.path / "integrations.json").read_bytes()) == []
    # Nor in the page, nor in any file the server, the kernel or Lab wrote: the notebook saved with its
    # widget state, Lab's workspaces and settings, IPython's history, the runtime dir, the server's log.
    assert find_canary(canary, notebook.page.content()) == []
    notebook.save()
    assert '"application/vnd.jupyter.widget-state+json"' in app_notebook.read_text()
    assert scan_tree(canary, lab.base) == []
    assert find_canary(canary, lab.log_path.read_bytes()) == []
