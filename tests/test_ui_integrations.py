"""The Integrations form: generated fields, Test Connection, create/edit/delete, and no secret anywhere."""

from __future__ import annotations

from helpers import find_canary
from ui_support import add_demo_integration, add_demo_module, widget_state_text

import flowkit as fk
from flowkit.ui import IntegrationForm


def demo_form(ws: fk.Workspace) -> IntegrationForm:
    add_demo_module(ws)
    ws.types.create_from_module("demo")
    form = IntegrationForm(ws)
    form.type.value = "demo"
    return form


def fill(form: IntegrationForm, name: str = "My Demo", *, account: str = "alice", key: str = "right-key") -> None:
    form.name.value = name
    assert form.form is not None
    form.form.fields["account"].widget.value = account
    form.form.fields["api_key"].widget.value = key


def test_fields_are_generated_from_the_type(ws: fk.Workspace) -> None:
    form = demo_form(ws)
    assert form.form is not None
    widgets = {name: field.widget for name, field in form.form.fields.items()}
    assert list(widgets) == ["account", "api_key", "region"]
    assert type(widgets["api_key"]).__name__ == "Password"
    assert "flowkit-field-api_key" in widgets["api_key"]._dom_classes
    assert widgets["region"].value == "eu"
    assert form.fields.children == (form.form.box,)
    form.type.value = ""
    assert form.form is None and "Choose a type" in form.fields.children[0].value


def test_create_stores_encrypted_and_clears_the_password(ws: fk.Workspace, canary: str) -> None:
    form = demo_form(ws)
    fill(form, key=canary)
    form.create_button.click()
    assert not form.feedback.is_error, form.feedback.text
    assert form.feedback.text == "Created the integration 'My Demo' (credentials stored encrypted)."
    stored = ws.integrations.get("My Demo")
    assert stored.type == "demo"
    assert stored.credentials.reveal() == {"account": "alice", "api_key": canary, "region": "eu"}
    assert form.list.value == "My Demo" and form.name.value == ""
    assert not find_canary(canary, (ws.path / "integrations.json").read_text())
    assert not find_canary(canary, widget_state_text())


def test_missing_required_field_is_refused(ws: fk.Workspace, canary: str) -> None:
    form = demo_form(ws)
    fill(form, account="", key=canary)
    form.create_button.click()
    assert form.feedback.is_error
    assert form.feedback.text == "Credentials of 'My Demo': 'account' is required."
    assert ws.integrations.list() == []
    assert form.form is not None and form.form.fields["api_key"].widget.value == ""
    assert not find_canary(canary, widget_state_text())


def test_no_type_no_name_and_duplicates_are_refused(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    form = IntegrationForm(ws)
    form.name.value = "Other"
    form.create_button.click()
    assert form.feedback.text == "Choose the integration's type first."
    form.type.value = "demo"
    fill(form, name="")
    form.create_button.click()
    assert form.feedback.text == "Give the integration a name."
    fill(form, name="My Demo")
    form.create_button.click()
    assert form.feedback.is_error and form.feedback.text == "An integration named 'My Demo' already exists."
    fill(form, name=" padded ")
    form.create_button.click()  # stripped, so it is a fine name
    assert not form.feedback.is_error
    assert [i.name for i in ws.integrations.list()] == ["My Demo", "padded"]


def test_test_connection_success_shows_tick_and_steps(ws: fk.Workspace) -> None:
    form = demo_form(ws)
    fill(form)
    form.test_button.click()
    # The engine masks every credential value in what a test returns, the account name too.
    assert form.test_result.value.startswith('<div class="flowkit-test-ok">✅ Connected as alice</div>')
    assert "✅ login: 200 OK" in form.test_result.value
    assert ws.integrations.list() == []  # testing saves nothing


def test_test_connection_failure_shows_cross_and_never_the_key(ws: fk.Workspace, canary: str) -> None:
    form = demo_form(ws)
    bad = canary.replace("FLOWKIT-CANARY", "WRONG")
    fill(form, key=bad)
    form.test_button.click()
    shown = form.test_result.value
    assert shown.startswith('<div class="flowkit-test-failed">❌ Key *** was refused for alice</div>')
    assert "❌ login: 401 Unauthorized" in shown and "gave up" in shown
    assert bad not in shown and bad not in widget_state_text()


def test_test_then_create_uses_the_secret_typed_once(ws: fk.Workspace, canary: str) -> None:
    form = demo_form(ws)
    fill(form, key=canary)
    form.test_button.click()
    assert "✅" in form.test_result.value
    assert form.form is not None and form.form.fields["api_key"].widget.value == ""  # emptied once read
    assert "Password fields were emptied" in form.feedback.text
    assert not find_canary(canary, widget_state_text(), repr(form))  # kept in memory only, for Create
    form.create_button.click()
    assert ws.integrations.get("My Demo").credentials["api_key"] == canary


def test_changing_type_forgets_a_tested_secret(ws: fk.Workspace, canary: str) -> None:
    form = demo_form(ws)
    fill(form, key=canary)
    form.test_button.click()
    form.type.value = ""
    form.type.value = "demo"
    fill(form, key="")
    form.create_button.click()
    assert form.feedback.is_error and "'api_key' is required" in form.feedback.text


def test_test_connection_of_a_module_without_the_task_says_so(ws: fk.Workspace) -> None:
    from helpers import write_integration

    write_integration(ws.path / "integrations", "plain", "def ping(credentials, params):\n    return {}\n")
    ws.registry.reload()
    ws.types.create("plain", params=[fk.Param("url")])
    form = IntegrationForm(ws)
    form.type.value = "plain"
    form.test_button.click()
    assert form.test_result.value.startswith('<div class="flowkit-test-failed">❌ ')


def test_edit_never_shows_the_stored_secret_and_blank_keeps_it(ws: fk.Workspace, canary: str) -> None:
    add_demo_integration(ws, key=canary)
    form = IntegrationForm(ws)
    form.list.value = "My Demo"
    form.edit_button.click()
    assert form.editing == "My Demo" and form.name.disabled and form.type.disabled
    assert form.form is not None
    assert form.form.fields["account"].widget.value == "alice"  # non-secret values are shown
    assert form.form.fields["api_key"].widget.value == ""
    assert "blank to keep" in form.form.fields["api_key"].widget.placeholder
    assert not find_canary(canary, widget_state_text())

    form.form.fields["account"].widget.value = "bob"
    form.create_button.click()
    assert form.feedback.text == "Saved the integration 'My Demo'."
    assert ws.integrations.get("My Demo").credentials.reveal()["api_key"] == canary
    assert ws.integrations.get("My Demo").credentials["account"] == "bob"

    form.form.fields["api_key"].widget.value = "new-key"
    form.create_button.click()
    assert ws.integrations.get("My Demo").credentials["api_key"] == "new-key"


def test_edit_then_test_uses_the_stored_secret(ws: fk.Workspace, canary: str) -> None:
    add_demo_integration(ws, key=canary)
    form = IntegrationForm(ws)
    form.list.value = "My Demo"
    form.edit_button.click()
    form.test_button.click()
    assert "✅ Connected as alice" in form.test_result.value


def test_delete_asks_twice_and_refuses_one_in_use(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    add_demo_integration(ws, "Used")
    wf = fk.Workflow("Uses it")
    wf.add_node("a", integration="Used", task="echo", params={"text": "x"})
    ws.workflows.save(wf)
    form = IntegrationForm(ws)
    form.list.value = "Used"
    form.delete_button.click()
    form.delete_button.click()
    assert form.feedback.is_error and "is used by the workflow(s) Uses it" in form.feedback.text
    form.list.value = "My Demo"
    form.delete_button.click()
    assert "Click Delete again" in form.feedback.text
    form.delete_button.click()
    assert form.feedback.text == "Deleted the integration 'My Demo'."
    assert [i.name for i in ws.integrations.list()] == ["Used"]


def test_edit_and_delete_need_a_selection(ws: fk.Workspace) -> None:
    form = IntegrationForm(ws)
    form.edit_button.click()
    assert form.feedback.text == "Select an integration in the list first."
    form.delete_button.click()
    assert form.feedback.text == "Select an integration in the list first."


def test_new_after_edit_offers_every_type_again(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    form = IntegrationForm(ws)
    form.list.value = "My Demo"
    form.edit_button.click()
    assert form.type.options == ("demo",)
    form.new_button.click()
    assert form.editing is None and not form.type.disabled and form.type.options == ("", "demo")
    assert form.create_button.description == "Create" and form.form is None
