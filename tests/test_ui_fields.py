"""Param → widget: the one kind table, reading values back, secrets emptied after reading."""

from __future__ import annotations

import ipywidgets as w
import pytest

import flowkit as fk
from flowkit.errors import ValidationError
from flowkit.model import PARAM_KINDS
from flowkit.ui.fields import WIDGETS, Field, ParamsForm, format_value, parse_text


def test_every_kind_has_exactly_one_widget_class() -> None:
    assert set(WIDGETS) == set(PARAM_KINDS)
    assert WIDGETS["password"] is w.Password and WIDGETS["json"] is w.Textarea


@pytest.mark.parametrize(
    ("param", "widget"),
    [
        (fk.Param("t"), w.Text),
        (fk.Param("p", kind="password"), w.Password),
        # Numbers are typed as text and read by schema.parse_text (blank, templates, 1e3).
        (fk.Param("n", kind="number", default=1.5), w.Text),
        (fk.Param("i", kind="integer", default=3), w.Text),
        (fk.Param("b", kind="boolean"), w.Checkbox),
        (fk.Param("c", kind="choice", choices=["a", "b"]), w.Dropdown),
        (fk.Param("j", kind="json"), w.Textarea),
        (fk.Param("n", kind="number"), w.Text),
        (fk.Param("i", kind="integer", required=True), w.Text),
    ],
)
def test_field_widget_follows_the_table(param: fk.Param, widget: type) -> None:
    field = Field(param)
    assert type(field.widget) is widget
    classes = field.widget._dom_classes
    assert {"flowkit-field", f"flowkit-field-{param.name}", f"flowkit-kind-{param.kind}"} <= set(classes)


def test_numbers_with_templates_are_text() -> None:
    field = Field(fk.Param("i", kind="integer", default=3), templates=True)
    assert type(field.widget) is w.Text and field.widget.value == "3"
    field.widget.value = "{{ up.count }}"
    assert field.read() == "{{ up.count }}"
    field.widget.value = "7"
    assert field.read() == 7


def test_required_fields_are_marked_and_help_is_shown() -> None:
    field = Field(fk.Param("token", required=True, help="Where <b>to</b> find it"))
    assert field.widget.description == "token *"
    assert "flowkit-required" in field.widget._dom_classes
    assert "&lt;b&gt;to&lt;/b&gt;" in field.help.value  # help text is escaped, not markup
    assert field.help in field.box.children


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("text", "hello", "hello"),
        ("integer", "42", 42),
        ("number", "2.5", 2.5),
        ("boolean", "yes", True),
        ("boolean", "false", False),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("text", "   ", None),
        ("json", "", None),
    ],
)
def test_parse_text_reads_each_kind(kind: str, text: str, value: object) -> None:
    assert parse_text(kind, text, what="x") == value


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("integer", "4.5", "'4.5' is not a whole number"),
        ("number", "ten", "'ten' is not a number"),
        ("boolean", "maybe", "'maybe' is not true or false"),
        ("json", '{"a": ', "not valid JSON (Expecting value at line 1, column 7)"),
    ],
)
def test_parse_text_refuses_with_a_message_naming_the_field(kind: str, text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=r"^Field 'f': ") as caught:
        parse_text(kind, text, what="Field 'f'")
    assert message in str(caught.value)


def test_format_value_is_the_inverse_of_parse_text() -> None:
    for kind, value in [("json", {"a": 1}), ("integer", 3), ("number", 1.5), ("boolean", True), ("text", "x")]:
        assert parse_text(kind, format_value(kind, value), what="x") == value


def test_choice_offers_a_blank_unless_it_has_a_default() -> None:
    blank = Field(fk.Param("c", kind="choice", choices=["a", "b"]))
    assert blank.widget.value is None and blank.read() is None
    defaulted = Field(fk.Param("c", kind="choice", choices=["a", "b"], default="b"))
    assert defaulted.widget.value == "b" and [o[1] for o in defaulted.widget.options] == ["a", "b"]


def test_an_unticked_optional_flag_is_not_given() -> None:
    flag = Field(fk.Param("f", kind="boolean"))
    assert flag.read() is None
    flag.widget.value = True
    assert flag.read() is True
    defaulted = Field(fk.Param("f", kind="boolean", default=True))
    defaulted.widget.value = False
    assert defaulted.read() is False


def test_a_password_is_never_shown_and_emptied_once_read() -> None:
    form = ParamsForm([fk.Param("user"), fk.Param("key", kind="password")], values={"user": "al", "key": "s3cret"})
    assert form.fields["user"].widget.value == "al"
    assert form.fields["key"].widget.value == ""  # a stored secret is never put into a widget
    form.fields["key"].widget.value = "typed-secret"
    assert form.read() == {"user": "al", "key": "typed-secret"}
    assert form.fields["key"].widget.value == ""
    assert "typed-secret" not in str(form.fields["key"].widget.get_state())


def test_a_bad_field_still_empties_the_passwords_and_lists_every_problem() -> None:
    form = ParamsForm([fk.Param("key", kind="password"), fk.Param("n", kind="integer"), fk.Param("j", kind="json")])
    form.fields["key"].widget.value = "typed-secret"
    form.fields["n"].widget.value = "x"
    form.fields["j"].widget.value = "[1,"
    with pytest.raises(ValidationError) as caught:
        form.read()
    assert "Field 'n': 'x' is not a whole number." in str(caught.value)
    assert "Field 'j': not valid JSON" in str(caught.value)
    assert form.fields["key"].widget.value == ""


def test_blank_fields_are_left_out_or_kept_as_none_for_an_edit() -> None:
    form = ParamsForm([fk.Param("a"), fk.Param("b"), fk.Param("key", kind="password")])
    form.fields["a"].widget.value = "x"
    assert form.read() == {"a": "x"}
    assert form.read(keep_blank=True) == {"a": "x", "b": None}  # a blank secret is never "cleared"


def test_mark_stored_tells_that_blank_keeps_the_secret() -> None:
    form = ParamsForm([fk.Param("key", kind="password")])
    form.mark_stored()
    assert "blank to keep" in form.fields["key"].widget.placeholder
