"""ws.validate: every problem at once, with its node and a message saying what to do; save and run refuse errors."""

from __future__ import annotations

import pytest
from engine_support import add_tools

import flowkit as fk
from flowkit.errors import WorkflowInvalid


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws)
    ws.types.create("other", params=[], check_module=False)
    ws.integrations.create("Orphan", type="other", credentials={})
    return ws


def _messages(problems: list[fk.Problem], node: str | None) -> list[str]:
    return [problem.message for problem in problems if problem.node == node]


def test_a_sound_workflow_has_no_problems(tools: fk.Workspace) -> None:
    wf = fk.Workflow("sound")
    wf.add_node("a", integration="Tools", task="declared", params={"count": 1})
    wf.add_node("b", integration="Tools", task="echo", params={"x": "{{ a.params.count }}", "y": "{{ inputs.y }}"})
    wf.connect("a", "b")
    assert tools.validate(wf) == []
    assert tools.validate(wf, inputs={"y": 1}) == []
    assert tools.workflows.save(wf).version == 1
    assert tools.validate("sound") == []


def test_every_problem_is_listed_at_once(tools: fk.Workspace) -> None:
    wf = fk.Workflow("broken")
    wf.add_node("no_integration", integration="Missing", task="noop")
    wf.add_node("no_module", integration="Orphan", task="noop")
    wf.add_node("no_task", integration="Tools", task="fly")
    wf.add_node("bad_params", integration="Tools", task="declared", params={"count": "x", "extra": 1})
    wf.add_node("missing_param", integration="Tools", task="declared")
    wf.add_node("side", integration="Tools", task="noop")
    wf.add_node(
        "templates",
        integration="Tools",
        task="echo",
        params={
            "sideways": "{{ side.message }}",
            "unknown": "{{ nobody.message }}",
            "broken": "{{ side.message ",
            "nested": {"list": ["{{ later.message }}"]},
            "input": "{{ inputs['title'] }}",
        },
    )
    wf.add_node("later", integration="Tools", task="noop")
    wf.connect("templates", "later")
    wf.add_node("inputs", integration="Tools", task="noop")
    wf.graph.add_edge("later", "ghost")  # an edge to a node never added

    problems = tools.validate(wf, inputs={})

    assert all(isinstance(problem, fk.Problem) and problem.severity == "error" for problem in problems)
    assert _messages(problems, "no_integration") == [
        "Uses the integration 'Missing', which does not exist (known: Orphan, Tools). Create it or choose another."
    ]
    assert _messages(problems, "no_module")[0].startswith(
        "The integration 'Orphan' is of type 'other', but no integration module of that name loads"
    )
    assert _messages(problems, "no_task")[0].startswith("No task named 'tools.fly'.")
    assert _messages(problems, "bad_params") == [
        "Params of tools.declared: 'count' must be a whole number, got str.",
        "Params of tools.declared: 'extra' is not a known field (known: count, label).",
    ]
    assert _messages(problems, "missing_param") == ["Params of tools.declared: 'count' is required."]
    templates = _messages(problems, "templates")
    assert (
        "Param 'sideways' uses the result of 'side', which is not upstream of 'templates'; "
        "connect side → templates first."
    ) in templates
    assert "Param 'unknown' uses 'nobody', which is neither a node of this workflow nor 'inputs'." in templates
    assert (
        "Param 'broken': '{{ side.message ' is not a valid template: unexpected end of template, "
        "expected 'end of print statement' (line 1)."
    ) in templates
    assert (
        "Param 'nested.list[0]' uses the result of 'later', which is not upstream of 'templates'; "
        "connect later → templates first."
    ) in templates
    assert "Param 'input' needs the input 'title', which was not given (inputs given: none)." in templates
    assert len(templates) == 5
    assert _messages(problems, "inputs") == ["'inputs' names the run's inputs in templates; rename this node."]
    assert _messages(problems, "ghost") == [
        "'ghost' is connected by an edge but is not a node; add it with add_node or remove its edges."
    ]


def test_a_cycle_is_reported_with_its_path_and_nothing_runs(tools: fk.Workspace) -> None:
    wf = fk.Workflow("cycle")
    for name in ("a", "b", "c"):
        wf.add_node(name, integration="Tools", task="noop")
    wf.connect("a", "b")
    wf.connect("b", "c")
    wf.graph.add_edge("c", "a")  # behind connect's back, as a hand-edited file would
    wf.graph.add_edge("b", "b")

    problems = tools.validate(wf)

    cycles = sorted(problem.message for problem in problems if "cycle" in problem.message)
    assert cycles == [
        "The workflow has a cycle: a → b → c → a. Remove one of its edges.",
        "The workflow has a cycle: b → b. Remove one of its edges.",
    ]
    assert all(problem.node is None for problem in problems)
    with pytest.raises(WorkflowInvalid, match="cycle"):
        tools.workflows.save(wf)
    with pytest.raises(WorkflowInvalid, match="cycle"):
        tools.run(wf)
    assert tools.runs.list() == [] and tools.workflows.list() == []


def test_save_refuses_errors_and_lists_them_all(tools: fk.Workspace) -> None:
    wf = fk.Workflow("refused")
    wf.add_node("a", integration="Missing", task="noop")
    wf.add_node("b", integration="Tools", task="fly")
    with pytest.raises(WorkflowInvalid) as caught:
        tools.workflows.save(wf)
    assert "2 error(s)" in str(caught.value)
    assert [problem.node for problem in caught.value.problems] == ["a", "b"]
    assert tools.workflows.list() == []


def test_inputs_are_only_checked_when_known(tools: fk.Workspace) -> None:
    wf = fk.Workflow("inputs")
    wf.add_node(
        "a", integration="Tools", task="echo", params={"x": "{{ inputs.x }}", "y": "{{ inputs.y | default(1) }}"}
    )
    assert tools.validate(wf) == []
    assert [p.message for p in tools.validate(wf, inputs={"z": 2})] == [
        "Param 'x' needs the input 'x', which was not given (inputs given: z)."
    ]
    assert tools.run(wf, inputs={"x": 1, "y": 2}).nodes["a"].params == {"x": 1, "y": 2}
    assert tools.run(wf, inputs={"x": 1}).nodes["a"].params == {"x": 1, "y": 1}


def test_warnings_do_not_block(tools: fk.Workspace) -> None:
    wf = fk.Workflow("warned")
    wf.add_node("none", integration="Tools", task="noop")
    problems = tools.validate(wf)
    assert problems == [
        fk.Problem(
            "warning",
            "none",
            "A node named 'none' cannot be referenced in a template (none is a literal there); consider renaming it.",
        )
    ]
    assert tools.workflows.save(wf).version == 1
    assert tools.run(wf).status == "success"


def test_a_type_that_drifted_from_its_module_is_a_warning(ws: fk.Workspace) -> None:
    from helpers import write_integration

    write_integration(
        ws.path / "integrations",
        "drifty",
        """
        import flowkit as fk
        CREDENTIALS = [fk.Param("token", kind="password", required=True), fk.Param("region")]
        def noop(credentials, params):
            return {"success": True, "message": "ok"}
    """,
    )
    ws.types.create("drifty", params=[fk.Param("token", kind="password", required=True)])
    ws.integrations.create("Drifty", type="drifty", credentials={"token": "t0ken-value"})
    wf = fk.Workflow("drift")
    wf.add_node("a", integration="Drifty", task="noop")
    problems = ws.validate(wf)
    assert [p.severity for p in problems] == ["warning"]
    assert problems[0].message == (
        "Integration type 'drifty': 'region' is declared by the module but missing from the type."
    )
