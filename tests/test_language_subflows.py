"""Sub-workflows (`workflow=`, `inputs=`): child runs linked both ways, outputs, failures, resume, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_integration
from language_support import LANGUAGE_TOOLS, add_language_tools

import flowkit as fk
from flowkit import drawing
from flowkit.cli import main
from flowkit.errors import ValidationError, WorkflowInvalid

EXECUTORS = ["threads", "inline"]


@pytest.fixture
def tools(any_ws: fk.Workspace) -> fk.Workspace:
    add_language_tools(any_ws)
    return any_ws


def save_child(ws: fk.Workspace, *, outputs: bool = True) -> fk.Workflow:
    """Publish post: write (echo its title) → check (fails for the titles in inputs.bad)."""
    child = fk.Workflow("Publish post", outputs={"url": "{{ write.params.title }}-url"} if outputs else None)
    child.add_node("write", integration="Tools", task="echo", params={"title": "{{ inputs.title }}"})
    child.add_node(
        "check", integration="Tools", task="per_item", params={"item": "{{ inputs.title }}", "bad": "{{ inputs.bad }}"}
    )
    child.connect("write", "check")
    return ws.workflows.save(child)


def parent_flow() -> fk.Workflow:
    parent = fk.Workflow("Blog")
    parent.add_node("draft", integration="Tools", task="echo", params={"title": "{{ inputs.title }}"})
    parent.add_node(
        "publish", workflow="Publish post", inputs={"title": "{{ draft.params.title }}", "bad": "{{ inputs.bad }}"}
    )
    parent.add_node("announce", integration="Tools", task="echo", params={"url": "{{ publish.url }}"})
    parent.connect("draft", "publish")
    parent.connect("publish", "announce")
    return parent


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_sub_workflow_runs_as_one_node_linked_both_ways(tools: fk.Workspace, executor: str) -> None:
    save_child(tools)
    run = tools.run(parent_flow(), inputs={"title": "Hello", "bad": []}, executor=executor)
    assert run.status == "success", run.error
    publish = run.nodes["publish"]
    assert publish.child_run is not None
    child = tools.runs.get(publish.child_run)
    assert child.workflow == "Publish post" and child.status == "success" and child.trigger == "workflow"
    assert child.parent == {"run": run.id, "node": "publish"}
    assert child.inputs == {"title": "Hello", "bad": []}
    assert publish.result == {
        "url": "Hello-url",
        "success": True,
        "message": f"Run {child.id} of 'Publish post': success.",
        "run_id": child.id,
    }
    assert run.nodes["announce"].result["params"] == {"url": "Hello-url"}
    assert tools.runs.get(run.id).nodes["publish"].child_run == child.id


def test_without_outputs_the_result_is_each_node_by_name(tools: fk.Workspace) -> None:
    save_child(tools, outputs=False)
    wf = fk.Workflow("caller")
    wf.add_node("publish", workflow="Publish post", inputs={"title": "T", "bad": []})
    result = tools.run(wf).nodes["publish"].result
    assert result["write"]["params"] == {"title": "T"} and result["check"]["item"] == "T"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_failing_child_fails_the_node_and_resume_resumes_the_child(tools: fk.Workspace, executor: str) -> None:
    save_child(tools)
    run = tools.run(parent_flow(), inputs={"title": "Oops", "bad": ["Oops"]}, executor=executor)
    publish = run.nodes["publish"]
    assert run.status == "failed" and publish.status == "failed" and run.nodes["announce"].status == "skipped"
    child = tools.runs.get(publish.child_run or "")
    assert child.status == "failed" and child.nodes["check"].status == "failed"
    assert publish.error == f"The workflow 'Publish post' failed (run {child.id}): 1 node(s) failed: check."
    assert publish.result["success"] is False and publish.result["run_id"] == child.id
    again = tools.resume(run, inputs={"title": "Oops", "bad": []}, executor=executor)
    assert again.status == "success", again.error
    resumed = tools.runs.get(again.nodes["publish"].child_run or "")
    assert resumed.resumed_from == child.id and resumed.nodes["write"].reused  # only what failed ran again
    assert resumed.parent == {"run": again.id, "node": "publish"}


def test_missing_inputs_are_refused_at_save_and_a_child_changed_since_fails_the_node(tools: fk.Workspace) -> None:
    save_child(tools)
    wf = fk.Workflow("short")
    wf.add_node("publish", workflow="Publish post", inputs={"title": "T"})
    with pytest.raises(WorkflowInvalid, match="Runs 'Publish post', which needs the input\\(s\\) bad: add to inputs"):
        tools.workflows.save(wf)
    wf.update_node("publish", inputs={"title": "T", "bad": []})
    tools.workflows.save(wf)
    child = tools.workflows.get("Publish post")
    child.update_node("write", params={"title": "{{ inputs.title }} {{ inputs.subtitle }}"})
    tools.workflows.save(child)  # the child now needs an input the saved parent does not give: refused at run
    with pytest.raises(WorkflowInvalid, match="needs the input\\(s\\) subtitle"):
        tools.run("short")
    # A child that cannot run for its own reasons (its task is gone since) fails the node, saying why.
    write_integration(tools.path / "integrations", "tools", LANGUAGE_TOOLS.replace("def per_item(", "def _gone("))
    tools.registry.reload()
    wf.update_node("publish", inputs={"title": "T", "bad": [], "subtitle": "S"})
    run = tools.run(wf)
    error = run.nodes["publish"].error or ""
    assert run.nodes["publish"].status == "failed" and "the workflow could not run" in error and "per_item" in error


def test_a_cycle_of_workflows_is_refused_at_save_with_its_path(tools: fk.Workspace) -> None:
    b = fk.Workflow("B")
    b.add_node("work", integration="Tools", task="noop")
    tools.workflows.save(b)
    a = fk.Workflow("A")
    a.add_node("call_b", workflow="B")
    tools.workflows.save(a)
    b.add_node("call_a", workflow="A")
    with pytest.raises(WorkflowInvalid, match="leads back to this one: B → A → B"):
        tools.workflows.save(b)
    selfish = fk.Workflow("Self")
    selfish.add_node("me", workflow="Self")
    problems = tools.validate(selfish)
    assert any("Self → Self" in problem.message for problem in problems)


def test_an_unknown_workflow_and_bad_inputs_are_refused_at_save(tools: fk.Workspace) -> None:
    wf = fk.Workflow("caller")
    wf.add_node("a", integration="Tools", task="noop")
    wf.add_node("publish", workflow="Nowhere", inputs={"x": "{{ a.message }}", "y": "{{ later.x }}"})
    messages = [problem.message for problem in tools.validate(wf)]
    assert any("Runs the workflow 'Nowhere', which cannot be used" in message for message in messages)
    assert any("Param 'inputs.x' uses the result of 'a', which is not upstream" in message for message in messages)
    assert any("'later'" in message for message in messages)
    with pytest.raises(ValidationError, match="give it inputs=, not an integration"):
        wf.add_node("both", workflow="X", integration="Tools", task="noop")
    with pytest.raises(ValidationError, match="inputs= are for a sub-workflow node"):
        wf.add_node("neither", integration="Tools", task="noop", inputs={"x": 1})


def test_outputs_are_checked_and_round_trip(tools: fk.Workspace) -> None:
    wf = fk.Workflow("outs", outputs={"x": "{{ nowhere.x }}"})
    wf.add_node("a", integration="Tools", task="noop")
    assert any("Output 'outputs.x' uses 'nowhere'" in problem.message for problem in tools.validate(wf))
    wf.set_outputs({"x": "{{ a.message }}"})
    tools.workflows.save(wf)
    assert tools.workflows.get("outs").outputs == {"x": "{{ a.message }}"}
    with pytest.raises(fk.errors.InvalidName):
        wf.set_outputs({"not valid": 1})


def test_drawing_and_cli_show_the_sub_workflow(
    tools: fk.Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    save_child(tools)
    parent = tools.workflows.save(parent_flow())
    assert 'data-mark="workflow"' in drawing.draw_workflow(parent)
    if not isinstance(tools.store, fk.store.MemoryStore):
        code = main(["-w", str(tools.path), "run", "Blog", "-i", "title=Hi", "-i", "bad=[]"])
        out = capsys.readouterr().out
        assert code == 0 and "success (child run " in out


def test_a_workflow_run_by_another_cannot_be_deleted(tools: fk.Workspace) -> None:
    save_child(tools)
    tools.workflows.save(parent_flow())
    with pytest.raises(fk.errors.InUseError, match="'Publish post' is run by the workflow\\(s\\) Blog"):
        tools.workflows.delete("Publish post")
    tools.workflows.delete("Blog")
    tools.workflows.delete("Publish post")
