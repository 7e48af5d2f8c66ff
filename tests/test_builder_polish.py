"""The builder polish seen in the browser, as widget tests: form reset on Open, Run beside the drawing,
refusals that list their errors, feedback next to the pressed button, rendered task help, growing
template fields, headed parameter rows, stale errors cleared, edges routed around nodes, the lab URL."""

from __future__ import annotations

import re
from pathlib import Path

import ipywidgets as w
import pytest
from helpers import write_integration
from ui_support import add_demo_integration

import flowkit as fk
from flowkit import drawing, lab
from flowkit.ui import TypeForm, WorkflowBuilder
from flowkit.ui.fields import ParamsForm


def test_the_printed_lab_url_opens_the_notebook(tmp_path: Path) -> None:
    argv, _, _ = lab.command(tmp_path, ["--no-browser"])
    assert "--LabApp.default_url=/lab/tree/getting_started.ipynb" in argv
    argv, _, _ = lab.command(tmp_path, ["--LabApp.default_url=/lab/tree/mine.ipynb"])
    assert [arg for arg in argv if "default_url" in arg] == ["--LabApp.default_url=/lab/tree/mine.ipynb"]


def test_open_clears_the_node_form_of_the_previous_workflow(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    saved = fk.Workflow("Other")
    saved.add_node("z", integration="My Demo", task="free")
    ws.workflows.save(saved)
    builder = WorkflowBuilder(ws)
    builder.node_form.name.value = "leftover"
    builder.node_form.integration.value = "My Demo"
    builder.node_form.task.value = "echo"
    builder.saved.value = "Other"
    builder.open_button.click()
    assert builder.node_form.name.value == "" and builder.node_form.integration.value == ""


def contains(box: w.Widget, widget: w.Widget) -> bool:
    return box is widget or any(contains(child, widget) for child in getattr(box, "children", ()))


def top_level_index(builder: WorkflowBuilder, widget: w.Widget) -> int:
    for index, child in enumerate(builder.widget.children):
        if contains(child, widget):
            return index
    raise AssertionError("not in the builder")


def test_run_and_progress_sit_next_to_the_drawing(ws: fk.Workspace) -> None:
    builder = WorkflowBuilder(ws)
    run_row = top_level_index(builder, builder.run_button)
    assert top_level_index(builder, builder.progress) == run_row
    assert abs(top_level_index(builder, builder.picture) - run_row) == 1


def test_a_refused_run_lists_its_errors_in_the_message(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    wf = fk.Workflow("Broken")
    wf.add_node("a", integration="My Demo", task="echo", params={})
    wf.add_node("b", integration="Nowhere", task="echo", params={"text": "x"})
    builder = WorkflowBuilder(ws, wf)
    builder.run_button.click()
    text = builder.feedback.text
    assert builder.feedback.is_error and "above" not in text
    assert "a:" in text and "text" in text and "b:" in text and "Nowhere" in text


def test_feedback_shows_next_to_the_button_pressed(ws: fk.Workspace) -> None:
    builder = WorkflowBuilder(ws)
    builder.run_button.click()  # nothing to run: refused
    assert builder.feedback.widget in builder.run_feedback_slot.children
    builder.add_button.click()  # no integration chosen: refused
    assert builder.feedback.widget in builder.node_feedback_slot.children
    assert builder.feedback.widget not in builder.run_feedback_slot.children


def test_task_help_is_rendered_not_raw_rst(ws: fk.Workspace) -> None:
    write_integration(
        ws.path / "integrations",
        "rst",
        '''
def go(credentials, params):
    """Send ``text`` to the `channel`.

    Use *sparingly*.
    """
    return {"success": True, "message": "ok"}
''',
    )
    ws.registry.reload()
    ws.types.create("rst")
    ws.integrations.create("Rst", type="rst", credentials={})
    builder = WorkflowBuilder(ws)
    builder.node_form.integration.value = "Rst"
    builder.node_form.task.value = "go"
    shown = builder.node_form.task_help.value
    assert "<code>text</code>" in shown and "<code>channel</code>" in shown and "<em>sparingly</em>" in shown
    assert "`" not in shown


def test_text_params_with_templates_are_growing_text_areas() -> None:
    form = ParamsForm([fk.Param("body", help="the message")], templates=True)
    widget = form.fields["body"].widget
    assert isinstance(widget, w.Textarea)
    before = widget.rows
    widget.value = "\n".join(f"line {{{{ inputs.n{i} }}}}" for i in range(8))
    assert widget.rows > before
    assert form.read()["body"].startswith("line {{ inputs.n0 }}")


def test_an_integer_field_takes_1e3() -> None:
    form = ParamsForm([fk.Param("n", kind="integer", default=3)])
    form.fields["n"].widget.value = "1e3"
    assert form.read() == {"n": 1000}
    number = ParamsForm([fk.Param("x", kind="number", default=1.5)])
    number.fields["x"].widget.value = "nan"
    with pytest.raises(fk.errors.ValidationError, match="'x'"):
        number.read()


def test_parameter_rows_have_column_headers(ws: fk.Workspace) -> None:
    form = TypeForm(ws)
    header = form.params_header.value
    for column in ("name", "kind", "required", "default", "choices", "help"):
        assert column in header


def test_a_stale_error_clears_when_the_form_is_edited(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    builder = WorkflowBuilder(ws)
    builder.add_button.click()
    assert builder.feedback.is_error
    builder.node_form.name.value = "n"
    assert builder.feedback.text == ""


def test_an_edge_that_skips_a_column_is_routed_around_the_nodes_between() -> None:
    wf = fk.Workflow("Route")
    for name in ("read", "fetch1", "fetch2", "combine"):
        wf.add_node(name, integration="I", task="t")
    wf.connect("read", "fetch1")
    wf.connect("fetch1", "fetch2")
    wf.connect("fetch2", "combine")
    wf.connect("read", "combine")
    svg = drawing.draw_workflow(wf)
    boxes = drawing.place(wf)
    path = re.search(r'data-from="read" data-to="combine" d="([^"]+)"', svg)
    assert path is not None
    points = [tuple(map(float, pair.split(","))) for pair in re.findall(r"-?[\d.]+,-?[\d.]+", path.group(1))]
    for name in ("fetch1", "fetch2"):
        box = boxes[name]
        inside = [
            (x, y)
            for x, y in points
            if box.x - 1 <= x <= box.x + drawing.BOX_WIDTH + 1 and box.y <= y <= box.y + drawing.BOX_HEIGHT
        ]
        assert not inside, f"the edge passes through {name}"
        # every horizontal run of the path across the box's column stays above or below it
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            if y1 == y2 and min(x1, x2) < box.x + drawing.BOX_WIDTH and max(x1, x2) > box.x:
                assert not box.y <= y1 <= box.y + drawing.BOX_HEIGHT, f"the edge crosses {name}"


def two_node_builder(ws: fk.Workspace) -> WorkflowBuilder:
    """A builder on an unconnected two-node workflow, a and b."""
    add_demo_integration(ws)
    wf = fk.Workflow("Canvas")
    wf.add_node("a", integration="My Demo", task="echo", params={"text": "a"})
    wf.add_node("b", integration="My Demo", task="free")
    return WorkflowBuilder(ws, wf)


def test_clicking_a_node_in_the_drawing_selects_it(ws: fk.Workspace) -> None:
    builder = two_node_builder(ws)
    assert 'class="flowkit-node" data-node="b"' in builder.picture.value
    builder.picture.selected = "b"
    assert builder.node_select.value == "b" and builder.node_form.name.value == "b"


def test_dragging_from_one_node_to_another_connects_them(ws: fk.Workspace) -> None:
    builder = two_node_builder(ws)
    builder.picture.connect_request = {"from": "a", "to": "b", "n": 1}
    assert builder.workflow.edges == [("a", "b")]
    assert 'data-from="a" data-to="b"' in builder.picture.value
    builder.picture.connect_request = {"from": "b", "to": "a", "n": 2}
    assert builder.workflow.edges == [("a", "b")]
    assert builder.feedback.is_error and "cycle" in builder.feedback.text
