"""Hostile templates: checking never evaluates, rendering has a budget, deep nesting is a clear error."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from hostile_support import add_hostile, run_script

import flowkit as fk
from flowkit.errors import WorkflowInvalid


@pytest.fixture
def hostile(ws: fk.Workspace) -> fk.Workspace:
    return add_hostile(ws)


def _one_node(text: str, name: str = "tpl") -> fk.Workflow:
    wf = fk.Workflow(name)
    wf.add_node("count", integration="Hostile", task="quick")
    wf.add_node("use", integration="Hostile", task="quick", params={"value": text})
    wf.connect("count", "use")
    return wf


# -- checking a template evaluates nothing ----------------------------------------------------
def test_checking_a_huge_constant_power_returns_at_once(hostile: fk.Workspace, tmp_path: Path) -> None:
    # In a child interpreter: on a broken build this never returns (and holds the GIL).
    done = run_script(
        hostile,
        tmp_path,
        """
        started = time.monotonic()
        for text in ["{{ 9**(9**9) }}", "a {{ 9**(9**9) }} b", "{% if 9**(9**9) %}x{% endif %}"]:
            wf = fk.Workflow("power")
            wf.add_node("use", integration="Hostile", task="quick", params={"value": text})
            ws.validate(wf)
            ws.workflows.save(wf)
        print(round(time.monotonic() - started, 3))
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[-1]) < 5.0


def test_checking_a_huge_format_allocates_nothing(hostile: fk.Workspace) -> None:
    wf = _one_node("{{ '%300000000s' % 'x' }} and {{ 'x' * 300000000 }} {{ 'x' | center(300000000) }}")
    tracemalloc.start()
    try:
        problems = hostile.validate(wf)
        hostile.workflows.save(wf)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not [problem for problem in problems if problem.severity == "error"]
    assert peak < 50_000_000, f"checking a template allocated {peak:,} bytes"


def test_checking_calls_no_filter(hostile: fk.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    # Jinja's optimiser would call a filter of constants while compiling: checking must not compile so.
    from flowkit.run import templating

    calls: list[object] = []
    filters = templating.environment().filters
    monkeypatch.setitem(filters, "upper", lambda value: calls.append(value) or str(value).upper())
    wf = _one_node("{{ 'abc' | upper }} and {{ ('x' | upper) ~ count.words }}")
    assert hostile.validate(wf) == []
    assert calls == []


def test_a_template_reading_names_is_still_checked(hostile: fk.Workspace) -> None:
    wf = _one_node("{{ (nope.x + count.words) * 2 }} {% for i in range(3) %}{{ i }}{% endfor %}")
    problems = hostile.validate(wf)
    assert [problem.message for problem in problems] == [
        "Param 'value' uses 'nope', which is neither a node of this workflow nor 'inputs'."
    ]


# -- rendering has a budget -------------------------------------------------------------------
NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"


def test_a_runaway_render_fails_its_node_and_independent_nodes_go_on(hostile: fk.Workspace, tmp_path: Path) -> None:
    done = run_script(
        hostile,
        tmp_path,
        f"""
        wf = fk.Workflow("loops")
        wf.add_node("count", integration="Hostile", task="quick")
        wf.add_node("loops", integration="Hostile", task="quick", params={{"value": {NESTED_LOOPS!r}}})
        wf.add_node("beside", integration="Hostile", task="sleeps", params={{"seconds": 0.5}})
        wf.connect("count", "loops")
        started = time.monotonic()
        run = ws.run(wf)
        print(run.status, run.nodes["loops"].status, run.nodes["beside"].status, round(time.monotonic() - started, 2))
        print(run.nodes["loops"].error)
        """,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    first, error = done.stdout.splitlines()[-2:]
    status, loops, beside, elapsed = first.split()
    assert (status, loops, beside) == ("failed", "failed", "success")
    assert float(elapsed) < 6.0
    assert "took longer than its 1 s rendering budget" in error


def test_the_render_budget_is_configurable(hostile: fk.Workspace) -> None:
    wf = _one_node("{{ 'x' * 600000 }}")
    run = hostile.run(wf)
    assert run.nodes["use"].status == "success"
    run = hostile.run(wf, render_budget=fk.RenderBudget(seconds=1.0, max_chars=500_000))
    assert run.nodes["use"].status == "failed"
    assert "500,000 characters" in (run.nodes["use"].error or "")
    slow = _one_node("{% for i in range(100000) %}{% for j in range(50) %}{% endfor %}{% endfor %}x")
    started = time.monotonic()
    run = hostile.run(slow, render_budget=fk.RenderBudget(seconds=0.2))
    assert run.nodes["use"].status == "failed" and "0.2 s rendering budget" in (run.nodes["use"].error or "")
    assert time.monotonic() - started < 5.0
    # The render itself stopped (not only the engine's wait for it): no render thread runs on.
    assert _render_threads_end(within=2.0)


def _render_threads_end(within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not [thread for thread in threading.enumerate() if thread.name.startswith("flowkit-render")]:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'x' * 5000000 }}",
        "{{ '%5000000s' % 'x' }}",
        "{{ '{:>5000000}'.format('x') }}",
        "{{ 'x' | center(5000000) }}",
        "{{ 7 ** 10000000 }}",
        "{% for i in range(100000) %}{{ 'abcdefghijklmnopqrstuvwxyz' }}{% endfor %}",
        "{% macro double(s) %}{{ double(s ~ s) }}{% endmacro %}{{ double('x') }}",
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(x=2) %}{% for i in range(60) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
        "{{ ('x' * 900000) | replace('x', 'x' * 900000) }}",
    ],
)
def test_output_past_the_size_budget_fails_the_node(hostile: fk.Workspace, text: str) -> None:
    started = time.monotonic()
    run = hostile.run(_one_node(text))
    assert time.monotonic() - started < 5.0
    node = run.nodes["use"]
    assert (run.status, node.status) == ("failed", "failed")
    assert "rendering budget" in (node.error or ""), node.error


# -- deep nesting -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "{{ count.words" + " | abs" * 3000 + " }}"]
)
def test_deeply_nested_templates_are_a_clear_error(hostile: fk.Workspace, text: str) -> None:
    wf = _one_node(text)
    problems = hostile.validate(wf)
    assert len(problems) == 1 and problems[0].severity == "error"
    assert "nested too deeply" in problems[0].message
    with pytest.raises(WorkflowInvalid, match="nested too deeply"):
        hostile.run(wf)


# -- templates inside json params ------------------------------------------------------------------
def test_a_template_inside_json_text_is_validated_and_rendered_as_a_structure(hostile: fk.Workspace) -> None:
    wf = fk.Workflow("json")
    wf.add_node("count", integration="Hostile", task="quick")
    wf.add_node("use", integration="Hostile", task="takes_json", params={"query": '{"delay": "{{ count.words }}"}'})
    wf.connect("count", "use")
    assert hostile.validate(wf) == []
    run = hostile.run(wf)
    assert run.nodes["use"].status == "success", run.nodes["use"].error
    assert run.nodes["use"].result["query"] == {"delay": 3}


def test_json_text_with_a_bad_template_or_reference_is_refused(hostile: fk.Workspace) -> None:
    wf = fk.Workflow("json")
    wf.add_node("count", integration="Hostile", task="quick")
    wf.add_node("use", integration="Hostile", task="takes_json", params={"query": '{"delay": "{{ other.words }}"}'})
    wf.add_node("bare", integration="Hostile", task="takes_json", params={"query": '{"delay": {{ count.words }}}'})
    wf.connect("count", "use")
    wf.connect("count", "bare")
    messages = [(problem.node, problem.message) for problem in hostile.validate(wf)]
    assert (
        "use",
        "Param 'query.delay' uses 'other', which is neither a node of this workflow nor 'inputs'.",
    ) in messages
    assert any(node == "bare" and "is a json field" in message for node, message in messages), messages


def test_the_form_reads_json_text_with_templates_as_a_structure() -> None:
    from flowkit.ui.fields import parse_text

    assert parse_text("json", '{"delay": "{{ count.words }}"}', what="query", templates=True) == {
        "delay": "{{ count.words }}"
    }
    assert parse_text("json", "{{ inputs.query }}", what="query", templates=True) == "{{ inputs.query }}"


def test_the_time_budget_holds_under_a_tracer_that_reinstalls_itself() -> None:
    # coverage's tracer, called from another trace function, installs itself in that one's place.
    import sys

    from flowkit.run.templating import render_within

    slow = "{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}x"
    outcome: dict[str, object] = {}

    def foreign(frame: object, event: str, arg: object) -> None:
        sys.settrace(foreign)

    def work() -> None:
        sys.settrace(foreign)
        started = time.monotonic()
        try:
            render_within({"v": slow}, {}, fk.RenderBudget(seconds=0.2))
        except fk.errors.TemplateError as exc:
            outcome["error"] = str(exc)
        finally:
            sys.settrace(None)
            outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert "0.2 s rendering budget" in str(outcome.get("error")), outcome
    assert float(outcome["elapsed"]) < 2.0  # type: ignore[arg-type]
