"""The workflow builder: nodes, edges, problems, drawing, save/open/delete, and ▶ Run with live updates."""

from __future__ import annotations

import html
import json
import re

import pytest
from ui_support import add_demo_integration

import flowkit as fk
from flowkit.ui import WorkflowBuilder
from flowkit.ui.run_inputs import input_names


@pytest.fixture
def builder(ws: fk.Workspace) -> WorkflowBuilder:
    add_demo_integration(ws)
    return WorkflowBuilder(ws)


def add(
    builder: WorkflowBuilder,
    name: str,
    task: str = "free",
    params: dict | str | None = None,
    integration: str = "My Demo",
) -> None:
    form = builder.node_form
    form.name.value = name
    form.integration.value = integration
    form.task.value = task
    if form.form is not None:
        for key, value in (params or {}).items():
            form.form.fields[key].widget.value = value
    else:
        form.json.value = params if isinstance(params, str) else json.dumps(params or {})
    builder.add_button.click()


def connect(builder: WorkflowBuilder, upstream: str, downstream: str) -> None:
    builder.connect_from.value, builder.connect_to.value = upstream, downstream
    builder.connect_button.click()


def drawn_nodes(builder: WorkflowBuilder) -> dict[str, str]:
    return dict(re.findall(r'data-node="([^"]+)" data-status="([^"]+)"', builder.picture.value))


def drawn_edges(builder: WorkflowBuilder) -> set[tuple[str, str]]:
    return set(re.findall(r'class="flowkit-edge" data-from="([^"]+)" data-to="([^"]+)"', builder.picture.value))


def test_a_declared_task_gets_a_generated_params_form(builder: WorkflowBuilder) -> None:
    form = builder.node_form
    form.integration.value = "My Demo"
    assert set(form.task.options) == {"echo", "fail", "free", "slow", "test_connection"}
    form.task.value = "echo"
    assert form.form is not None and list(form.form.fields) == ["text", "times"]
    assert "Echo a text back." in form.task_help.value
    assert builder.node_form.params.children == (form.form.box,)
    add(builder, "hello", "echo", {"text": "Hi {{ inputs.who }}"})
    assert not builder.feedback.is_error, builder.feedback.text
    assert builder.feedback.text == "Added 'hello' (My Demo · echo)."
    node = builder.workflow.node("hello")
    assert (node.integration, node.task) == ("My Demo", "echo")
    assert node.params == {"text": "Hi {{ inputs.who }}", "times": 1}
    assert drawn_nodes(builder) == {"hello": "pending"}
    assert builder.node_select.value == "hello"


def test_an_undeclared_task_gets_a_json_editor_that_refuses_bad_json(builder: WorkflowBuilder) -> None:
    add(builder, "a", "free", '{"x": ')
    assert builder.feedback.is_error
    assert builder.feedback.text == "Params: not valid JSON (Expecting value at line 1, column 7)."
    add(builder, "a", "free", "[1, 2]")
    assert builder.feedback.text == 'Params must be a JSON object like {"key": "value"}, got list.'
    assert len(builder.workflow) == 0 and drawn_nodes(builder) == {}
    add(builder, "a", "free", {"x": [1, 2], "y": "{{ inputs.y }}"})
    assert builder.workflow.node("a").params == {"x": [1, 2], "y": "{{ inputs.y }}"}
    assert builder.node_form.params.children == (builder.node_form.json,)


def test_bad_values_in_a_generated_form_are_refused(builder: WorkflowBuilder) -> None:
    add(builder, "a", "echo", {"text": "x", "times": "often"})
    assert builder.feedback.is_error and builder.feedback.text == "Field 'times': 'often' is not a whole number."
    assert len(builder.workflow) == 0


def test_missing_choices_and_bad_names_are_refused(builder: WorkflowBuilder) -> None:
    form = builder.node_form
    form.name.value = "a"
    builder.add_button.click()
    assert builder.feedback.text == "Choose the node's integration."
    form.integration.value = "My Demo"
    form.task.value = None
    builder.add_button.click()
    assert builder.feedback.text == "Choose a task of 'My Demo'."
    add(builder, "not valid", "free", {})
    assert builder.feedback.is_error and "Node name 'not valid' is not valid" in builder.feedback.text
    add(builder, "a", "free", {})
    add(builder, "a", "free", {})
    assert builder.feedback.text == "Workflow 'Untitled workflow' already has a node named 'a'."
    form.timeout.value = "soon"
    add(builder, "b", "free", {})
    assert builder.feedback.text == "Timeout: 'soon' is not a number."
    assert list(builder.workflow.nodes) == ["a"]


def test_connect_draws_the_edge_and_a_cycle_is_refused_with_its_path(builder: WorkflowBuilder) -> None:
    for name in ("a", "b", "c"):
        add(builder, name)
    connect(builder, "a", "b")
    connect(builder, "b", "c")
    assert builder.feedback.text == "Connected b → c."
    assert drawn_edges(builder) == {("a", "b"), ("b", "c")}
    connect(builder, "c", "a")
    assert builder.feedback.is_error
    assert builder.feedback.text == "Connecting 'c' → 'a' would make a cycle: c → a → b → c."
    connect(builder, "a", "a")
    assert "would make a cycle: a → a" in builder.feedback.text
    assert builder.workflow.edges == [("a", "b"), ("b", "c")]
    builder.connect_from.value, builder.connect_to.value = "a", "b"
    builder.disconnect_button.click()
    assert builder.feedback.text == "Disconnected a → b." and drawn_edges(builder) == {("b", "c")}
    builder.disconnect_button.click()
    assert builder.feedback.is_error and "has no such edge" in builder.feedback.text


def test_remove_rename_and_update_a_node(builder: WorkflowBuilder) -> None:
    add(builder, "a")
    add(builder, "b", "echo", {"text": "{{ a.message }}"})
    connect(builder, "a", "b")
    builder.node_select.value = "a"
    builder.node_form.name.value = "first"
    builder.rename_button.click()
    assert sorted(builder.workflow.nodes) == ["b", "first"] and builder.workflow.edges == [("first", "b")]
    assert "Renamed 'a' to 'first'" in builder.feedback.text
    assert "first" in drawn_nodes(builder) and "a" not in drawn_nodes(builder)
    # b's template still reads "a", which is no longer a node: listed as a problem on b.
    assert 'data-node="b"' in builder.problems_html.value

    builder.node_select.value = "b"
    builder.load_button.click()
    form = builder.node_form
    assert form.name.value == "b" and form.task.value == "echo"
    assert form.form is not None and form.form.fields["text"].widget.value == "{{ a.message }}"
    form.form.fields["text"].widget.value = "{{ first.message }}"
    form.retries.value = 2
    builder.update_button.click()
    assert builder.feedback.text == "Updated 'b'."
    updated = builder.workflow.node("b")
    assert updated.params["text"] == "{{ first.message }}" and updated.retries == 2
    assert "No problems found" in builder.problems_html.value

    builder.node_select.value = "first"
    builder.remove_button.click()
    assert list(builder.workflow.nodes) == ["b"] and builder.workflow.edges == []
    assert drawn_nodes(builder) == {"b": "pending"}
    builder.node_select.value = None
    builder.remove_button.click()
    assert builder.feedback.text == "Select a node first."


def test_problems_are_listed_with_their_nodes(builder: WorkflowBuilder) -> None:
    assert "Add a node to start" in builder.problems_html.value
    add(builder, "a")
    add(builder, "b", "echo", {"text": "{{ a.message }}"})
    assert 'class="flowkit-problem" data-severity="error" data-node="b"' in builder.problems_html.value
    assert any(node == "b" and severity == "error" for severity, node, _ in builder.problems)
    connect(builder, "a", "b")
    assert builder.problems == [] and "flowkit-no-problems" in builder.problems_html.value


def test_save_refuses_errors_and_saves_once_fixed(ws: fk.Workspace, builder: WorkflowBuilder) -> None:
    builder.name.value = "Greet"
    add(builder, "a")
    add(builder, "b", "echo", {"text": "{{ a.message }}"})
    builder.save_button.click()
    assert builder.feedback.is_error and builder.feedback.text.startswith("Workflow 'Greet' has 1 error(s)")
    assert ws.workflows.list() == []
    connect(builder, "a", "b")
    builder.save_button.click()
    assert builder.feedback.text == "Saved 'Greet' (version 1)."
    assert ws.workflows.get("Greet") == builder.workflow
    assert builder.saved.value == "Greet"
    builder.save_button.click()
    assert builder.feedback.text == "Saved 'Greet' (version 2)."
    builder.name.value = "  "
    builder.save_button.click()
    assert builder.feedback.is_error and "Workflow name must be a non-empty string" in builder.feedback.text


def test_open_new_and_delete_saved_workflows(ws: fk.Workspace, builder: WorkflowBuilder) -> None:
    wf = fk.Workflow("Saved one", "described")
    wf.add_node("x", integration="My Demo", task="free")
    ws.workflows.save(wf)
    builder.refresh()
    builder.saved.value = "Saved one"
    builder.open_button.click()
    assert builder.feedback.text == "Opened 'Saved one' (version 1)."
    assert builder.name.value == "Saved one" and builder.description.value == "described"
    assert list(builder.workflow.nodes) == ["x"] and drawn_nodes(builder) == {"x": "pending"}
    builder.new_button.click()
    assert len(builder.workflow) == 0 and builder.name.value == "Untitled workflow"
    builder.delete_button.click()
    assert "Click Delete again" in builder.feedback.text and ws.workflows.list()
    builder.delete_button.click()
    assert builder.feedback.text.startswith("Deleted the saved workflow 'Saved one'")
    assert ws.workflows.list() == [] and builder.saved.options == ()
    builder.open_button.click()
    assert builder.feedback.text == "No saved workflow is selected."


def test_the_builder_edits_the_given_workflow_in_place(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Mine")
    wf.add_node("a", integration="My Demo", task="free")
    builder = WorkflowBuilder(ws, wf)
    assert builder.name.value == "Mine" and drawn_nodes(builder) == {"a": "pending"}
    add(builder, "b")
    assert list(wf.nodes) == ["a", "b"]


def test_an_integration_whose_module_is_gone_says_so(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    import shutil

    shutil.rmtree(ws.path / "integrations" / "demo")
    ws.registry.reload()
    builder = WorkflowBuilder(ws)
    builder.node_form.integration.value = "My Demo"
    assert builder.node_form.task.options == ()
    assert "No integration module named 'demo'" in html.unescape(builder.node_form.task_help.value)


def test_inputs_form_follows_the_templates(builder: WorkflowBuilder) -> None:
    add(builder, "a", "free", {"to": "{{ inputs.who }}", "x": ["{{ inputs['when'] }}", "{{ a_b }}"]})
    assert input_names(builder.workflow) == ["when", "who"]
    assert list(builder.input_fields) == ["when", "who"]
    assert "flowkit-input-who" in builder.input_fields["who"]._dom_classes
    builder.input_fields["who"].value = "team"
    assert builder.run_inputs() == {"who": "team"}


def run_and_wait(builder: WorkflowBuilder) -> fk.Run:
    builder.run_button.click()
    run = builder.live.wait(timeout=30)
    assert run is not None and not builder.live.running, builder.feedback.text
    return run


def test_run_shows_progress_statuses_and_results(ws: fk.Workspace, builder: WorkflowBuilder) -> None:
    builder.name.value = "Greet"
    add(builder, "hello", "echo", {"text": "Hi {{ inputs.who }}"})
    add(builder, "after", "free", {"got": "{{ hello.text }}"})
    connect(builder, "hello", "after")
    builder.input_fields["who"].value = "team"
    run = run_and_wait(builder)
    assert run.status == "success" and run.trigger == "ui"
    assert builder.feedback.text == f"✅ Run {run.id} of 'Greet': success."
    assert drawn_nodes(builder) == {"hello": "success", "after": "success"}
    assert 'class="flowkit-legend"' in builder.picture.value
    assert builder.progress.value == builder.progress.max == 2 and builder.progress.bar_style == "success"
    assert 'class="flowkit-node-row" data-node="after" data-status="success"' in builder.node_table.value
    assert "Hi team" in builder.node_table.value
    assert builder.live.events[0] == "run_started" and builder.live.events[-1] == "run_finished"
    assert builder.live.events.count("node_finished") == 2
    assert not builder.run_button.disabled
    assert ws.runs.get(run.id).nodes["after"].result["params"] == {"got": "Hi team"}


def test_a_failing_node_is_red_and_its_descendants_skipped(builder: WorkflowBuilder) -> None:
    add(builder, "ok")
    add(builder, "boom", "fail")
    add(builder, "after")
    connect(builder, "boom", "after")
    run = run_and_wait(builder)
    assert run.status == "failed"
    assert builder.feedback.is_error and builder.feedback.text.endswith(": failed.")
    assert drawn_nodes(builder) == {"ok": "success", "boom": "failed", "after": "skipped"}
    assert "the demo service is down" in builder.node_table.value
    assert builder.progress.bar_style == "danger"


def test_run_returns_at_once_and_the_drawing_goes_live(builder: WorkflowBuilder) -> None:
    add(builder, "nap", "slow", {"seconds": 1.0})
    builder.run_button.click()
    assert builder.live.running and builder.run_button.disabled  # the click did not wait for the run
    builder.run_button.click()
    assert builder.feedback.is_error and "A run is still going" in builder.feedback.text
    run = builder.live.wait(timeout=30)
    assert run is not None and run.status == "success"
    assert drawn_nodes(builder) == {"nap": "success"}


def test_run_refuses_a_workflow_with_errors(builder: WorkflowBuilder) -> None:
    add(builder, "b", "echo", {"text": "{{ nowhere.x }}"})
    builder.run_button.click()
    assert builder.feedback.is_error and builder.feedback.text.startswith("Fix 1 error(s) before running — b: ")
    assert builder.live.thread is None


def test_a_run_that_raises_shows_the_error_and_frees_the_button(ws: fk.Workspace, builder: WorkflowBuilder) -> None:
    add(builder, "a", "echo", {"text": "{{ inputs.who }}"})
    ws.integrations.delete("My Demo")  # gone between building and running
    builder.problems = []  # as if the builder had not noticed
    builder.run_button.click()
    builder.live.wait(timeout=30)
    assert builder.feedback.is_error and "My Demo" in builder.feedback.text
    assert not builder.run_button.disabled and builder.progress.bar_style == "danger"


def test_a_password_param_is_never_shown_and_blank_keeps_it(ws: fk.Workspace) -> None:
    from helpers import write_integration

    add_demo_integration(ws)
    write_integration(
        ws.path / "integrations",
        "vault",
        """
        import flowkit as fk


        @fk.task(params=[fk.Param("token", kind="password"), fk.Param("label")])
        def use(credentials, params):
            return {"success": True, "message": "used"}
    """,
    )
    ws.registry.reload()
    ws.types.create("vault")
    ws.integrations.create("Vault", type="vault", credentials={})
    builder = WorkflowBuilder(ws)
    add(builder, "v", "use", {"token": "tok-123", "label": "one"}, integration="Vault")
    assert builder.workflow.node("v").params == {"token": "tok-123", "label": "one"}
    assert builder.node_form.form is not None and builder.node_form.form.fields["token"].widget.value == ""
    builder.node_select.value = "v"
    builder.load_button.click()
    assert builder.node_form.form.fields["token"].widget.value == ""  # not shown back
    builder.node_form.form.fields["label"].widget.value = "two"
    builder.update_button.click()
    assert builder.workflow.node("v").params == {"token": "tok-123", "label": "two"}


def test_edge_and_rename_refusals(builder: WorkflowBuilder) -> None:
    builder.connect_button.click()
    assert builder.feedback.text == "Choose both nodes, From and To."
    builder.disconnect_button.click()
    assert builder.feedback.text == "Choose both nodes, From and To."
    add(builder, "a")
    add(builder, "b")
    builder.node_select.value = "a"
    builder.node_form.name.value = "b"
    builder.rename_button.click()
    assert builder.feedback.text == "Workflow 'Untitled workflow' already has a node named 'b'."
    builder.node_form.name.value = "9x"
    builder.rename_button.click()
    assert "Node name '9x' is not valid" in builder.feedback.text
    assert sorted(builder.workflow.nodes) == ["a", "b"]
    builder.node_select.value = None
    builder.load_button.click()
    assert builder.feedback.text == "Select a node first."
