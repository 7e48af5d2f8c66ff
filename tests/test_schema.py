"""Param lists -> JSON Schema, value validation, and the `@task` decorator."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flowkit as fk
from flowkit.errors import CredentialsError, InvalidName, NotJSONError, ParamsError, ValidationError
from flowkit.integrations.authoring import task
from flowkit.model import PARAM_KINDS, Param
from flowkit.schema import json_equal, problems, to_json_schema, validate_values
from tests.helpers import find_canary

# -- to_json_schema ---------------------------------------------------------------------


def test_schema_describes_every_kind_with_help_defaults_and_required() -> None:
    params = [
        Param("channel", required=True, help="where to post"),
        Param("token", kind="password"),
        Param("ratio", kind="number", default=0.5),
        Param("count", kind="integer", required=True, default=3),
        Param("urgent", kind="boolean"),
        Param("mode", kind="choice", choices=["fast", "slow"], required=True),
        Param("extra", kind="json"),
    ]
    schema = to_json_schema(params, title="slack.send")
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert schema["title"] == "slack.send" and schema["additionalProperties"] is False
    # A required field with a default may be left out: the default fills it.
    assert schema["required"] == ["channel", "mode"]
    assert props["channel"] == {"type": "string", "minLength": 1, "description": "where to post", "title": "channel"}
    assert props["token"]["writeOnly"] is True and props["token"]["format"] == "password"
    assert props["ratio"]["type"] == ["number", "null"] and props["ratio"]["default"] == 0.5
    assert props["count"]["type"] == ["integer", "null"]
    assert props["urgent"]["type"] == ["boolean", "null"]
    assert props["mode"]["enum"] == ["fast", "slow"]
    assert "type" not in props["extra"]
    assert to_json_schema(params, strict=False)["additionalProperties"] is True


def test_schema_and_validation_agree_on_the_tricky_values() -> None:
    cases: list[tuple[Param, dict[str, Any], bool]] = [
        (Param("n", kind="integer", required=True), {"n": 3.0}, True),  # JSON has one number type
        (Param("n", kind="integer", required=True), {"n": 3.5}, False),
        (Param("n", kind="integer", required=True), {"n": True}, False),
        (Param("n", kind="number"), {"n": False}, False),
        (Param("c", kind="choice", choices=[1]), {"c": True}, False),  # Python says True == 1; JSON does not
        (Param("c", kind="choice", choices=[1]), {"c": 1.0}, True),
        (Param("c", kind="choice", choices=["", "a"], required=True), {"c": ""}, False),
        (Param("t", required=True), {"t": ""}, False),
        (Param("t", required=True, default="x"), {"t": ""}, True),
        (Param("t", required=True, default="x"), {}, True),
        (Param("t", required=True), {"t": None}, False),
        (Param("t"), {"t": None}, True),
        (Param("j", kind="json", required=True), {"j": ""}, False),
        (Param("j", kind="json", required=True), {"j": 0}, True),
        (Param("t"), {"other": 1}, False),
    ]
    for param, values, ok in cases:
        schema_ok = jsonschema.Draft202012Validator(to_json_schema([param])).is_valid(values)
        ours_ok = not problems([param], values)
        assert (schema_ok, ours_ok) == (ok, ok), (param, values)


# -- validate_values and the JSON Schema package agree ------------------------------------

SCALARS = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
SCALARS = SCALARS | st.text(max_size=4) | st.sampled_from(["", 0, 1, 1.0, True, False, "a"])
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
KIND_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": st.text(max_size=4),
    "password": st.text(max_size=4),
    "number": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    "integer": st.integers() | st.integers(-1000, 1000).map(float),
    "boolean": st.booleans(),
    "choice": SCALARS,
    "json": JSON,
}


@st.composite
def fields_and_values(draw: st.DrawFn, kind: str) -> tuple[list[Param], dict[str, Any]]:
    choice_values = SCALARS | st.lists(SCALARS, max_size=2)
    choices = draw(st.lists(choice_values, min_size=1, max_size=4)) if kind == "choice" else None
    own = st.sampled_from(choices) if choices else KIND_VALUES[kind]
    default = None if kind == "password" or draw(st.booleans()) else draw(own.filter(lambda v: v is not None))
    param = Param("field", kind=kind, required=draw(st.booleans()), default=default, choices=choices)
    values = draw(
        st.dictionaries(st.sampled_from(["field", "other"]), own | JSON | st.sampled_from(["", None]), max_size=2)
    )
    return [param], values


@pytest.mark.parametrize("kind", PARAM_KINDS)
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_validate_values_agrees_with_jsonschema(kind: str, data: st.DataObject) -> None:
    params, values = data.draw(fields_and_values(kind))
    for strict in (True, False):
        schema = to_json_schema(params, strict=strict)
        expected = jsonschema.Draft202012Validator(schema).is_valid(values)
        found = problems(params, values, allow_unknown=not strict)
        assert (not found) == expected, (params, values, strict, found)


# -- validate_values ------------------------------------------------------------------------


def test_validate_values_fills_defaults_and_whole_numbers_reach_the_task_as_int() -> None:
    params = [Param("n", kind="integer", default=2), Param("m", kind="integer"), Param("t", default="hi")]
    assert validate_values(params, {"m": 4.0, "t": None}, what="x") == {"n": 2, "m": 4, "t": "hi"}
    assert type(validate_values(params, {"m": 4.0}, what="x")["m"]) is int


def test_validate_values_lists_every_problem_naming_each_field() -> None:
    params = [Param("a", required=True), Param("b", kind="integer"), Param("c", kind="choice", choices=["x", "y"])]
    with pytest.raises(ParamsError) as caught:
        validate_values(params, {"b": "2", "c": "z", "d": 1}, what="slack.send params", error=ParamsError)
    message = str(caught.value)
    assert message.startswith("slack.send params: ")
    for part in (
        "'a' is required",
        "'b' must be a whole number, got str",
        "'c' must be one of 'x', 'y'",
        "'d' is not a known field (known: a, b, c)",
    ):
        assert part in message


def test_validate_values_refuses_non_json_and_non_objects() -> None:
    with pytest.raises(NotJSONError, match=r"params\.when"):
        validate_values([], {"when": {1, 2}}, what="params", allow_unknown=True)
    with pytest.raises(ValidationError, match="expected a JSON object, got list"):
        validate_values([], [1], what="params")  # type: ignore[arg-type]


def test_templates_pass_for_any_kind_only_when_allowed() -> None:
    params = [Param("n", kind="integer", required=True)]
    assert validate_values(params, {"n": "{{ up.count }}"}, what="p", allow_templates=True) == {"n": "{{ up.count }}"}
    with pytest.raises(ValidationError):
        validate_values(params, {"n": "{{ up.count }}"}, what="p")


def test_json_equal_follows_json_not_python() -> None:
    assert json_equal(1, 1.0) and json_equal([1, {"a": 2}], [1.0, {"a": 2.0}])
    assert not json_equal(True, 1) and not json_equal([True], [1]) and not json_equal({"a": 0}, {"a": False})
    assert not json_equal("1", 1) and json_equal(None, None) and not json_equal([1], [1, 2])


def test_credential_errors_never_quote_the_value(ws: fk.Workspace, canary: str) -> None:
    ws.types.create(
        "svc",
        params=[
            Param("token", kind="password", required=True),
            Param("region", kind="choice", choices=["eu", "us"]),
            Param("port", kind="integer"),
        ],
        check_module=False,
    )
    for wrong in ({"token": canary, "region": canary}, {"token": canary, "port": canary}, {"token": canary, "x": 1}):
        with pytest.raises(CredentialsError) as caught:
            ws.integrations.create("My svc", type="svc", credentials=wrong)
        assert not find_canary(canary, str(caught.value), repr(caught.value)), wrong
    assert not find_canary(canary, str(to_json_schema(ws.types.get("svc").params)))


# -- @task ---------------------------------------------------------------------------------


def test_task_decorator_declares_params_in_the_param_language() -> None:
    @fk.task(params=[Param("channel", required=True), {"name": "count", "kind": "integer", "default": 1}])
    def send(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "message": params["channel"]}

    declared = send.__flowkit_params__  # type: ignore[attr-defined]
    assert [p.to_dict() for p in declared] == [
        {"name": "channel", "kind": "text", "required": True},
        {"name": "count", "kind": "integer", "required": False, "default": 1},
    ]
    assert send({}, {"channel": "#a"}) == {"success": True, "message": "#a"}  # the function itself is unchanged
    assert fk.task is task


def test_task_decorator_refuses_a_bad_declaration_when_the_module_is_imported() -> None:
    with pytest.raises(InvalidName, match="declared twice"):
        task(params=[Param("a"), Param("a")])
    with pytest.raises(ValidationError, match="choose one of"):
        task(params=[{"name": "a", "kind": "colour"}])
    with pytest.raises(InvalidName):
        task(params=[{"name": "__class__"}])
