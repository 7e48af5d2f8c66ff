"""A real kernel fills and submits the integration form; the saved notebook, widget state included, holds no secret.

Runs under nbclient with ``store_widget_state=True`` — the widget state a
notebook saves — and a small cell timeout (see E2E.md pitfall 11: nbclient
can stall for a whole cell timeout on a missed wakeup, so it is kept short).
The secret reaches the kernel through the environment, never through the
notebook's source, so any hit in the saved file is a leak.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest
from helpers import find_canary
from nbclient import NotebookClient
from ui_support import add_demo_module

import flowkit as fk

CELLS = [
    """
    import os
    import flowkit as fk
    ws = fk.Workspace(os.environ["UI_TEST_WORKSPACE"])
    form = fk.ui.IntegrationForm(ws)
    form
    """,
    """
    secret = os.environ.pop("UI_TEST_SECRET")
    form.type.value = "demo"
    form.name.value = "My Demo"
    fields = form.form.fields
    fields["account"].widget.value = "alice"
    fields["api_key"].widget.value = "wrong-" + secret
    form.test_button.click()
    print("wrong key:", form.test_result.value)
    fields["api_key"].widget.value = secret
    form.test_button.click()
    print("right key:", form.test_result.value)
    form.create_button.click()
    print("created:", form.feedback.text)
    """,
    """
    app = fk.ui.App(ws)
    app.integrations.list.value = "My Demo"
    app.integrations.edit_button.click()
    print("edit:", app.integrations.feedback.text)
    app.integrations.test_button.click()
    print("stored key:", app.integrations.test_result.value)
    display(app)
    ws.integrations.get("My Demo")
    """,
]


@pytest.mark.slow
def test_submitting_the_form_in_a_kernel_leaves_no_secret_in_the_saved_notebook(
    ws: fk.Workspace, canary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_demo_module(ws)
    ws.types.create_from_module("demo")
    monkeypatch.setenv("UI_TEST_WORKSPACE", str(ws.path))
    monkeypatch.setenv("UI_TEST_SECRET", canary)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in CELLS])
    client = NotebookClient(
        nb, timeout=15, kernel_name="python3", store_widget_state=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    saved = tmp_path / "filled.ipynb"
    nbformat.write(nb, saved)
    text = saved.read_text()

    # The form really ran: the integration exists with the secret typed, encrypted.
    assert ws.integrations.get("My Demo").credentials["api_key"] == canary
    outputs = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
    assert 'wrong key: <div class="flowkit-test-failed">❌' in outputs
    assert 'right key: <div class="flowkit-test-ok">✅' in outputs
    assert "created: Created the integration 'My Demo' (credentials stored encrypted)." in outputs
    assert "edit: Editing 'My Demo': leave a password blank to keep the stored one." in outputs
    assert 'stored key: <div class="flowkit-test-ok">✅' in outputs
    # The widget state was saved, form fields included, so the search below looked where a leak would be.
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = json.dumps(state)
    assert "flowkit-field-api_key" in models and "flowkit-integration-form" in models and "PasswordModel" in models
    assert find_canary(canary, text) == []
