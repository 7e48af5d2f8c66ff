"""The builder's node form: the workflow-language fields (condition, trigger, allow failure, foreach, cache)."""

from __future__ import annotations

import re

import pytest
from test_ui_builder import add, connect, run_and_wait
from ui_support import add_demo_integration

import flowkit as fk
from flowkit.ui import WorkflowBuilder


@pytest.fixture
def builder(ws: fk.Workspace) -> WorkflowBuilder:
    add_demo_integration(ws)
    return WorkflowBuilder(ws)


def test_the_form_has_a_field_for_each_option(builder: WorkflowBuilder) -> None:
    options = builder.node_form.options
    classes = {
        cls
        for widget in (
            options.when,
            options.trigger,
            options.allow_failure,
            options.foreach,
            options.max_parallel,
            options.cache,
            options.cache_ttl,
        )
        for cls in widget._dom_classes
    }
    assert {
        "flowkit-node-when",
        "flowkit-node-trigger",
        "flowkit-node-allow-failure",
        "flowkit-node-foreach",
        "flowkit-node-max-parallel",
        "flowkit-node-cache",
        "flowkit-node-cache-ttl",
    } <= classes
    assert options.trigger.options == ("all_success", "all_done", "one_failed", "none_failed")
    assert options.box in builder.node_form.box.children


def test_options_typed_in_the_form_reach_the_node_and_load_back(builder: WorkflowBuilder) -> None:
    add(builder, "first")
    options = builder.node_form.options
    options.when.value = "{{ first.ok }}"
    options.trigger.value = "all_done"
    options.allow_failure.value = True
    options.foreach.value = "[1, 2, 3]"
    options.max_parallel.value = "2"
    options.cache.value = True
    options.cache_ttl.value = "1h"
    add(builder, "second")
    assert not builder.feedback.is_error, builder.feedback.text
    node = builder.workflow.node("second")
    assert (node.when, node.trigger, node.allow_failure) == ("{{ first.ok }}", "all_done", True)
    assert (node.foreach, node.max_parallel, node.cache) == ([1, 2, 3], 2, "1h")
    builder.node_select.value = "first"
    builder.load_button.click()
    assert (options.when.value, options.trigger.value, options.foreach.value, options.cache.value) == (
        "",
        "all_success",
        "",
        False,
    )
    builder.node_select.value = "second"
    builder.load_button.click()
    assert (options.when.value, options.foreach.value, options.max_parallel.value) == (
        "{{ first.ok }}",
        "[1, 2, 3]",
        "2",
    )
    assert (options.cache.value, options.cache_ttl.value, options.allow_failure.value) == (True, "1h", True)
    options.foreach.value = "{{ first.items }}"
    options.cache.value = False
    builder.update_button.click()
    node = builder.workflow.node("second")
    assert node.foreach == "{{ first.items }}" and node.cache is False and node.max_parallel == 2


def test_bad_option_values_are_shown_as_refusals(builder: WorkflowBuilder) -> None:
    options = builder.node_form.options
    options.max_parallel.value = "2"
    add(builder, "a")
    assert builder.feedback.is_error and "max_parallel bounds a foreach" in builder.feedback.text
    options.max_parallel.value = "many"
    options.foreach.value = "[1]"
    add(builder, "a")
    assert builder.feedback.is_error and "Max parallel: 'many' is not a whole number." == builder.feedback.text
    options.max_parallel.value = ""
    options.cache.value, options.cache_ttl.value = True, "soon"
    add(builder, "a")
    assert builder.feedback.is_error and "cache: 'soon' is not a duration" in builder.feedback.text


def test_a_run_from_the_builder_draws_the_marks(builder: WorkflowBuilder) -> None:
    add(builder, "first")
    builder.node_form.options.foreach.value = "[1, 2]"
    add(builder, "each")
    connect(builder, "first", "each")
    assert 'data-mark="foreach"' in builder.picture.value
    run = run_and_wait(builder)
    assert run.status == "success" and run.nodes["each"].items is not None
    assert re.search(r'data-mark="foreach"[^>]*>∀ 2/2<', builder.picture.value)


def test_inputs_read_by_a_condition_or_a_foreach_get_input_fields(builder: WorkflowBuilder) -> None:
    builder.node_form.options.when.value = "{{ inputs.notify }}"
    builder.node_form.options.foreach.value = "{{ inputs.files }}"
    add(builder, "a")
    assert list(builder.input_fields) == ["files", "notify"]


def test_a_node_can_run_a_saved_workflow_chosen_in_the_form(ws: fk.Workspace, builder: WorkflowBuilder) -> None:
    add(builder, "first")
    builder.name.value = "Child"
    builder.save_button.click()
    assert "Child" in builder.node_form.options.workflow.options
    parent = WorkflowBuilder(ws)
    add(parent, "draft")
    options = parent.node_form.options
    assert "Child" in options.workflow.options
    options.workflow.value = "Child"
    options.inputs.value = '{"title": "{{ draft.text }}"}'
    parent.node_form.name.value = "publish"
    parent.add_button.click()
    assert not parent.feedback.is_error, parent.feedback.text
    assert parent.feedback.text == "Added 'publish' (runs 'Child')."
    node = parent.workflow.node("publish")
    assert (node.workflow, node.inputs, node.integration) == ("Child", {"title": "{{ draft.text }}"}, "")
    options.workflow.value = ""
    parent.node_select.value = "publish"
    parent.load_button.click()
    assert options.workflow.value == "Child" and '"title"' in options.inputs.value
    options.inputs.value = "[1]"
    parent.update_button.click()
    assert parent.feedback.is_error and parent.feedback.text == "Its inputs must be a JSON object, got list."


def test_a_foreach_nodes_row_lists_its_items_failed_first(ws: fk.Workspace) -> None:
    from language_support import add_language_tools

    from flowkit.ui.node_table import node_html

    add_language_tools(ws)
    wf = fk.Workflow("items shown")
    wf.add_node(
        "each",
        integration="Tools",
        task="per_item",
        foreach=["a", "<b>"],
        params={"item": "{{ item }}", "bad": ["<b>"]},
    )
    row = node_html(ws.run(wf).nodes["each"])
    assert 'class="flowkit-node-items"' in row and "2 item(s)" in row and "failed (2/2 items, 1 failed)" in row
    first, second = re.findall(r'<li class="flowkit-item" data-index="(\d+)" data-status="(\w+)"', row)
    assert first == ("1", "failed") and second == ("0", "success")
    assert "bad item &lt;b&gt;" in row and "<b>" not in row.split("flowkit-node-items")[1]
