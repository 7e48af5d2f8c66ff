"""Strict JSON (RELIABILITY row 14): what cannot round-trip is refused where it enters, naming the path."""

from __future__ import annotations

import datetime
import decimal
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flowkit as fk
from flowkit import errors
from flowkit.jsonvalue import MAX_DEPTH, check_json, dumps, loads


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


BAD = [
    ({"tags": {"a", "b"}}, "params.tags", "set"),
    ({"blob": b"\x00\x01"}, "params.blob", "bytes"),
    ({"when": datetime.datetime(2026, 1, 1)}, "params.when", "datetime"),
    ({"day": datetime.date(2026, 1, 1)}, "params.day", "date"),
    ({"n": float("nan")}, "params.n", "nan"),
    ({"n": float("inf")}, "params.n", "inf"),
    ({"list": [1, 2, {"deep": -math.inf}]}, "params.list[2].deep", "inf"),
    ({1: "one"}, "params", "key 1 of type int"),
    ({"x": {(1, 2): "tuple key"}}, "params.x", "of type tuple"),
    ({"pair": (1, 2)}, "params.pair", "tuple"),
    ({"frozen": frozenset()}, "params.frozen", "frozenset"),
    ({"money": decimal.Decimal("1.10")}, "params.money", "Decimal"),
    ({"obj": object()}, "params.obj", "object"),
    ({"path": Path("/tmp")}, "params.path", "Path"),
    ({"text": "ok", "bad": "\ud800"}, "params.bad", "surrogate"),
    ({"\udfff": 1}, "params", "surrogate"),
    ({"f": print}, "params.f", "builtin_function_or_method"),
]


@pytest.mark.parametrize(("value", "path", "words"), BAD, ids=[words for _, _, words in BAD])
def test_values_json_cannot_hold_are_refused_naming_their_path(value, path: str, words: str) -> None:
    with pytest.raises(errors.NotJSONError) as caught:
        check_json(value, "params")
    assert caught.value.path == path
    assert path in str(caught.value)
    assert words.lower() in str(caught.value).lower()
    assert isinstance(caught.value, errors.ValidationError) and isinstance(caught.value, ValueError)


def test_a_tuple_error_suggests_a_list() -> None:
    with pytest.raises(errors.NotJSONError, match="use a list"):
        check_json({"pair": (1, 2)})


def test_nesting_deeper_than_the_limit_is_refused_and_the_limit_itself_is_fine() -> None:
    assert check_json(nested(MAX_DEPTH - 1)) == nested(MAX_DEPTH - 1)
    with pytest.raises(errors.NotJSONError, match="nested deeper"):
        check_json(nested(MAX_DEPTH + 1))
    with pytest.raises(errors.NotJSONError, match="nested deeper"):
        check_json(nested(100_000))  # no RecursionError


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_reading_text_nested_too_deep_is_a_json_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(errors.NotJSONError, match="nested deeper"):
        loads(text)


GOOD = [
    None,
    True,
    False,
    0,
    -1,
    2**62,
    1.5,
    -0.0,
    1e308,
    "",
    "ünïcødé ✓ 🚀",
    [],
    {},
    [1, [2, [3]]],
    {"a": {"b": [None, True, "x"]}},
    {"": "empty key"},
    "line\nbreak\ttab\x00nul",
]


@pytest.mark.parametrize("value", GOOD, ids=repr)
def test_json_values_round_trip_equal(value) -> None:
    assert check_json(value) is value
    assert loads(dumps(value)) == value


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
        max_leaves=25,
    )
)
def test_any_accepted_value_round_trips_equal(value) -> None:
    check_json(value)
    assert loads(dumps(value)) == value


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_reading_refuses_nan_and_infinity(text: str) -> None:
    assert json.loads(text) is not None  # Python's json would accept it
    with pytest.raises(ValueError):
        loads(text)


def test_writing_refuses_nan_even_past_the_check() -> None:
    with pytest.raises(ValueError):
        dumps({"n": float("nan")})


# -- through the workspace: refused where it enters, nothing saved, files stay strict ------------
def test_non_json_input_is_refused_by_every_collection_and_nothing_is_saved(ws: fk.Workspace) -> None:
    ws.types.create(
        "demo",
        params=[fk.Param("token", kind="password", required=True), fk.Param("extra", kind="json")],
        check_module=False,
    )
    before = {p.name: p.read_bytes() for p in ws.path.glob("*.json")}
    with pytest.raises(errors.NotJSONError, match="extra"):
        ws.integrations.create("X", type="demo", credentials={"token": "t", "extra": {"n": float("nan")}})
    with pytest.raises(errors.NotJSONError):
        ws.types.create("other", params=[fk.Param("p", default={"s": {1}})], check_module=False)
    with pytest.raises(errors.NotJSONError):
        ws.store.upsert("types", {"name": "raw", "bad": float("inf")})
    wf = fk.Workflow("wf")
    with pytest.raises(errors.NotJSONError, match=r"a\.params\.when"):
        wf.add_node("a", integration="X", task="t", params={"when": datetime.date.today()})
    assert {p.name: p.read_bytes() for p in ws.path.glob("*.json")} == before
    assert ws.integrations.list() == [] and [t.name for t in ws.types.list()] == ["demo"]


def test_a_ten_megabyte_string_round_trips_through_the_store(ws: fk.Workspace) -> None:
    big = ("flowkit ✓ " * 1_100_000)[:10_000_000]
    ws.types.create("big", description=big, check_module=False)
    assert fk.Workspace(ws.path).types.get("big").description == big
    ws.store.upsert("notes", {"name": "n", "text": big, "list": [big[:10], 1.5, None]})
    assert ws.store.get("notes", "n") == {"name": "n", "text": big, "list": [big[:10], 1.5, None]}


def test_the_workspace_files_stay_strict_json(ws: fk.Workspace) -> None:
    ws.types.create(
        "demo", params=[fk.Param("token", kind="password"), fk.Param("n", kind="number")], check_module=False
    )
    ws.integrations.create("X", type="demo", credentials={"token": "t", "n": 1e300})
    ws.store.upsert("notes", {"name": "tiny", "v": 5e-324, "neg": -0.0, "text": "\u2028\u2029"})
    run = fk.Run(workflow="wf", inputs={"x": [1.5, "y"]})
    ws.runs.save(run)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in a workspace file")

    files = [p for p in ws.path.rglob("*.json")]
    assert len(files) >= 4
    for path in files:
        json.loads(path.read_bytes(), parse_constant=refuse)
    for line in (ws.path / "runs" / "index.jsonl").read_text().splitlines():
        if line:
            json.loads(line, parse_constant=refuse)
    assert ws.store.get("notes", "tiny") == {"name": "tiny", "v": 5e-324, "neg": -0.0, "text": "\u2028\u2029"}
    assert ws.runs.get(run.id).inputs == {"x": [1.5, "y"]}


def test_a_run_with_a_non_json_result_is_refused_before_anything_is_written(ws: fk.Workspace) -> None:
    run = fk.Run(workflow="wf")
    run.nodes = {"a": fk.NodeRun("a", status="success", result={"rows": {1, 2}})}
    with pytest.raises(errors.NotJSONError, match="rows"):
        ws.runs.save(run)
    assert ws.runs.list() == []
    assert list(ws.path.rglob(f"{run.id}*")) == []


def test_a_json_param_typed_as_text_nested_too_deep_is_a_problem_not_a_recursion_error(ws: fk.Workspace) -> None:
    from helpers import write_integration

    source = (
        "import flowkit as fk\n\n\n"
        "@fk.task(params=[fk.Param('query', kind='json')])\n"
        "def take(credentials, params):\n"
        "    return {'success': True, 'message': 'ok'}\n"
    )
    write_integration(ws.path / "integrations", "deep", source)
    ws.registry.reload()
    ws.types.create("deep")
    ws.integrations.create("Deep", type="deep", credentials={})
    flow = fk.Workflow("w")
    flow.add_node("n", integration="Deep", task="take", params={"query": "[" * 5000 + '"{{ inputs.x }}"' + "]" * 5000})
    problems = ws.validate(flow)
    assert [problem.severity for problem in problems] == ["error"], problems
