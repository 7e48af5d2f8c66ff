"""The Integration Types form: every path, including every refusal, shown inline."""

from __future__ import annotations

from ui_support import add_demo_module

import flowkit as fk
from flowkit.ui import TypeForm


def fill_row(
    form: TypeForm,
    name: str,
    kind: str = "text",
    *,
    required: bool = False,
    default: str = "",
    choices: str = "",
    help: str = "",
) -> None:
    form.add_button.click()
    row = form.rows[-1]
    row.name.value, row.kind.value, row.required.value = name, kind, required
    row.default.value, row.choices.value, row.help.value = default, choices, help


def test_create_a_type_with_parameters(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    form = TypeForm(ws)
    assert "demo" in form.name.options  # discovered modules without a type are suggested
    form.name.value = "demo"
    form.description.value = "Demo service"
    fill_row(form, "account", required=True, help="Who")
    fill_row(form, "api_key", "password", required=True)
    fill_row(form, "retries", "integer", default="3")
    fill_row(form, "region", "choice", choices="eu, us", default="eu")
    form.create_button.click()
    assert not form.feedback.is_error, form.feedback.text
    assert form.feedback.text == "Created the integration type 'demo' (4 parameter(s))."
    itype = ws.types.get("demo")
    assert itype.description == "Demo service"
    assert [p.to_dict() for p in itype.params] == [
        {"name": "account", "kind": "text", "required": True, "help": "Who"},
        {"name": "api_key", "kind": "password", "required": True},
        {"name": "retries", "kind": "integer", "required": False, "default": 3},
        {"name": "region", "kind": "choice", "required": False, "default": "eu", "choices": ["eu", "us"]},
    ]
    assert form.list.options == ("demo",) and form.list.value == "demo"
    assert "demo" not in form.name.options  # typed now
    assert form.rows == [] and form.name.value == ""  # ready for the next one


def test_rows_can_be_removed(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    form = TypeForm(ws)
    form.name.value = "demo"
    fill_row(form, "keep")
    fill_row(form, "drop")
    form.rows[1].remove.click()
    assert [row.name.value for row in form.rows] == ["keep"]
    assert len(form.params.children) == 1
    form.create_button.click()
    assert [p.name for p in ws.types.get("demo").params] == ["keep"]


def test_duplicate_name_is_refused(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    ws.types.create("demo")
    form = TypeForm(ws)
    form.name.value = "demo"
    form.create_button.click()
    assert form.feedback.is_error
    assert form.feedback.text == "An integration type named 'demo' already exists."


def test_no_such_module_is_refused(ws: fk.Workspace) -> None:
    form = TypeForm(ws)
    form.name.value = "nosuchmodule"
    form.create_button.click()
    assert form.feedback.is_error
    assert form.feedback.text.startswith("No integration module named 'nosuchmodule'.")
    assert ws.types.list() == []


def test_invalid_names_are_refused(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    form = TypeForm(ws)
    form.name.value = "not a module"
    form.create_button.click()
    assert form.feedback.is_error and "is not valid" in form.feedback.text

    form.name.value = "demo"
    fill_row(form, "1bad")
    fill_row(form, "ok")
    fill_row(form, "class")
    form.create_button.click()
    assert form.feedback.is_error
    assert "Row 1: Parameter name '1bad' is not valid" in form.feedback.text
    assert "Row 3: Parameter name 'class' is reserved in Python" in form.feedback.text
    assert "Row 2" not in form.feedback.text
    assert ws.types.list() == []


def test_bad_defaults_and_choices_are_refused(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    form = TypeForm(ws)
    form.name.value = "demo"
    fill_row(form, "key", "password", default="abc")
    fill_row(form, "n", "integer", default="many")
    fill_row(form, "pick", "choice")
    form.create_button.click()
    text = form.feedback.text
    assert "Row 1: Parameter 'key' is a password and cannot have a default." in text
    assert "Row 2: Parameter 'n' default: 'many' is not a whole number." in text
    assert "Row 3: Parameter 'pick' is a choice but lists no choices." in text


def test_blank_name_is_refused(ws: fk.Workspace) -> None:
    form = TypeForm(ws)
    form.create_button.click()
    assert form.feedback.is_error and form.feedback.text.startswith("Type a name")


def test_fill_from_module(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    form = TypeForm(ws)
    form.name.value = "demo"
    form.fill_button.click()
    assert [row.name.value for row in form.rows] == ["account", "api_key", "region"]
    assert form.rows[2].kind.value == "choice" and form.rows[2].choices.value == "eu, us"
    assert form.description.value == "Demo service for the UI tests."
    assert "Filled 3 parameter(s) from 'demo'" in form.feedback.text
    form.create_button.click()
    assert ws.types.get("demo").params == ws.registry.module("demo").credentials


def test_fill_refusals(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    from helpers import write_integration

    write_integration(ws.path / "integrations", "bare", "def ping(credentials, params):\n    return {}\n")
    ws.registry.reload()
    form = TypeForm(ws)
    form.fill_button.click()
    assert form.feedback.is_error and form.feedback.text == "Type the module's name first."
    form.name.value = "bare"
    form.fill_button.click()
    assert form.feedback.is_error and "declares no CREDENTIALS" in form.feedback.text
    form.name.value = "ghost"
    form.fill_button.click()
    assert form.feedback.is_error and form.feedback.text.startswith("No integration module named 'ghost'.")


def test_edit_and_save(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    ws.types.create_from_module("demo")
    form = TypeForm(ws)
    form.list.value = "demo"
    form.edit_button.click()
    assert form.editing == "demo" and form.name.disabled and form.create_button.description == "Save"
    assert [row.name.value for row in form.rows] == ["account", "api_key", "region"]
    form.rows[0].help.value = "The login"
    form.description.value = "Changed"
    fill_row(form, "extra")
    form.create_button.click()
    assert form.feedback.text == "Saved the integration type 'demo' (4 parameter(s))."
    itype = ws.types.get("demo")
    assert itype.description == "Changed" and itype.params[0].help == "The login"
    assert [p.name for p in itype.params][-1] == "extra"


def test_edit_reports_drift_from_the_module(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    ws.types.create("demo", params=[fk.Param("account")])
    form = TypeForm(ws)
    form.list.value = "demo"
    form.edit_button.click()
    assert "The module's CREDENTIALS differ" in form.feedback.text
    assert "'api_key' is declared by the module but missing from the type" in form.feedback.text


def test_edit_and_delete_need_a_selection(ws: fk.Workspace) -> None:
    form = TypeForm(ws)
    form.edit_button.click()
    assert form.feedback.text == "Select a type in the list first."
    form.delete_button.click()
    assert form.feedback.text == "Select a type in the list first."


def test_delete_asks_for_a_second_click(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    ws.types.create_from_module("demo")
    form = TypeForm(ws)
    form.list.value = "demo"
    form.delete_button.click()
    assert form.feedback.is_error and "Click Delete again" in form.feedback.text
    assert [t.name for t in ws.types.list()] == ["demo"]
    form.delete_button.click()
    assert form.feedback.text == "Deleted the integration type 'demo'."
    assert ws.types.list() == [] and form.list.options == ()


def test_delete_of_a_type_in_use_is_refused(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    ws.types.create_from_module("demo")
    ws.integrations.create("Mine", type="demo", credentials={"account": "a", "api_key": "k"})
    form = TypeForm(ws)
    form.list.value = "demo"
    form.delete_button.click()
    form.delete_button.click()
    assert form.feedback.is_error
    assert form.feedback.text == "Integration type 'demo' is used by Mine; delete those first."
    assert [t.name for t in ws.types.list()] == ["demo"]


def test_new_clears_the_form(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    ws.types.create_from_module("demo")
    form = TypeForm(ws)
    form.list.value = "demo"
    form.edit_button.click()
    assert form.editing == "demo"
    form.new_button.click()
    assert form.editing is None and form.rows == [] and form.name.value == "" and not form.name.disabled
    assert form.create_button.description == "Create" and form.feedback.text == ""
    assert "flowkit-type-form" in form.widget._dom_classes
