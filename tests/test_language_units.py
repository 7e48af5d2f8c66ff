"""Unit tests of the workflow language's modules, without the engine: rules.Gate, fanout.Items, cache keys."""

from __future__ import annotations

import pytest

import flowkit as fk
from flowkit.model import NodeRun, parse_duration
from flowkit.run.cache import call_key
from flowkit.run.fanout import Items, item_hash
from flowkit.run.rules import NO_FAILURE, Gate, truthy
from flowkit.run.subflows import outputs_of


def gate_for(parents: dict[str, tuple[str, str | None, bool]], trigger: str) -> Gate:
    """A child below `parents` (name → (status, reason, allow_failure)), every parent already ended."""
    wf = fk.Workflow("unit")
    for name, (_, _, allowed) in parents.items():
        wf.add_node(name, integration="I", task="t", allow_failure=allowed)
    wf.add_node("child", integration="I", task="t", trigger=trigger)
    for name in parents:
        wf.connect(name, "child")
    nodes = {name: NodeRun(name, status=status, reason=reason) for name, (status, reason, _) in parents.items()}
    nodes["child"] = NodeRun("child")
    gate = Gate(wf.graph, nodes, {})
    gate.start({}, {name: list(wf.graph.successors(name)) for name in wf.graph})
    return gate


@pytest.mark.parametrize(
    ("trigger", "parents", "verdict"),
    [
        ("all_success", {"a": ("success", None, False), "b": ("success", None, False)}, None),
        ("all_success", {"a": ("success", None, False), "b": ("failed", None, False)}, "upstream failed: b"),
        ("all_success", {"a": ("failed", None, True)}, None),  # an allowed failure counts as a success
        ("all_success", {"a": ("skipped", "condition was false", False)}, "upstream skipped: a"),
        ("all_success", {"a": ("skipped", "upstream failed: x", False)}, "upstream failed: x"),  # names the cause
        ("none_failed", {"a": ("skipped", "condition was false", False), "b": ("success", None, False)}, None),
        ("none_failed", {"a": ("skipped", "upstream failed: x", False)}, "upstream failed: x"),
        ("one_failed", {"a": ("success", None, False), "b": ("failed", None, False)}, None),
        ("one_failed", {"a": ("success", None, False)}, NO_FAILURE),
        ("one_failed", {"a": ("failed", None, True)}, NO_FAILURE),
        ("all_done", {"a": ("failed", None, False), "b": ("skipped", "upstream failed: a", False)}, None),
    ],
)
def test_gate_verdicts(trigger: str, parents: dict[str, tuple[str, str | None, bool]], verdict: str | None) -> None:
    assert gate_for(parents, trigger).verdict("child") == verdict


def test_gate_decides_a_child_only_when_its_last_parent_ends() -> None:
    wf = fk.Workflow("wait")
    for name in ("a", "b", "c"):
        wf.add_node(name, integration="I", task="t")
    wf.connect("a", "c")
    wf.connect("b", "c")
    nodes = {name: NodeRun(name) for name in ("a", "b", "c")}
    gate = Gate(wf.graph, nodes, {})
    assert gate.start({}, {name: list(wf.graph.successors(name)) for name in wf.graph}) == [("a", None), ("b", None)]
    nodes["a"].status = "success"
    assert gate.finished("a") == []
    nodes["b"].status = "failed"
    assert gate.finished("b") == [("c", "upstream failed: b")]
    assert gate.failing(nodes) == ["b"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (0, False), ([], False), ([0], True), ("false", False), (" No ", False), ("yes", True), ("", False)],
)
def test_truthy(value: object, expected: bool) -> None:
    assert truthy(value) is expected


def test_items_reuse_only_succeeded_items_with_the_same_value() -> None:
    earlier = NodeRun("each", status="failed")
    earlier.items = [
        {"index": 0, "key": item_hash("a"), "status": "success", "attempts": 1},
        {"index": 1, "key": item_hash("b"), "status": "failed", "attempts": 1},
        {"index": 2, "key": item_hash("c"), "status": "success", "attempts": 1},
    ]
    earlier.result = {"success": False, "items": ["A", None, "C"]}
    items = Items(["a", "b", "changed"], None, earlier)
    assert list(items.waiting) == [1, 2] and items.unfinished == 2
    assert items.results == ["A", None, None] and items.records[0]["reused"] is True


def test_items_summary_quotes_the_first_errors() -> None:
    items = Items(list(range(5)), 2, None)
    for record in items.records:
        record["status"], record["error"] = "failed", f"bad {record['index']}"
    ok, result, error = items.summary()
    assert not ok and result["message"] == "0 of 5 items succeeded." and items.limit == 2
    assert error == "5 of 5 items failed: item 0: bad 0; item 1: bad 1; item 2: bad 2; and 2 more."


def test_a_call_key_covers_each_part_and_ignores_key_order() -> None:
    base = {"module": "m", "source": "s", "task": "t", "integration": "I", "version": "v", "params": {"a": 1, "b": 2}}
    key = call_key(**base)  # type: ignore[arg-type]
    assert call_key(**{**base, "params": {"b": 2, "a": 1}}) == key  # type: ignore[arg-type]
    for part, other in (("module", "n"), ("source", "s2"), ("task", "u"), ("integration", "J"), ("version", "w")):
        assert call_key(**{**base, part: other}) != key  # type: ignore[arg-type]
    assert call_key(**{**base, "params": {"a": 1, "b": 3}}) != key  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800), ("0.5s", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1", "h", "-1h", "0s", "1 hour", "1h30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_outputs_of_a_child_run() -> None:
    wf = fk.Workflow("child", outputs={"url": "{{ make.url }}", "state": "{{ make.status }}"})
    wf.add_node("make", integration="I", task="t")
    run = fk.Run("child", nodes={"make": NodeRun("make", status="success", result={"url": "u"})})
    assert outputs_of(wf, run) == {"url": "u", "state": "success"}
    assert outputs_of(fk.Workflow("bare"), run) == {"make": {"url": "u"}}
