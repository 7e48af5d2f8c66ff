"""One typed path from text to a value: `schema.parse_text`, workflow inputs (declared or inferred), every face."""

from __future__ import annotations

import math

import pytest
from ui_support import add_demo_integration

import flowkit as fk
from flowkit import schema
from flowkit.cli import main


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("integer", "42", 42),
        ("integer", "1e3", 1000),
        ("integer", " 7 ", 7),
        ("number", "3", 3),
        ("number", "2.5", 2.5),
        ("number", "1e3", 1000.0),
        ("text", "42", "42"),
        ("text", "NaN", "NaN"),
        ("boolean", "yes", True),
        ("boolean", "False", False),
        ("json", "[1, 2]", [1, 2]),
        ("choice", "eu", "eu"),
    ],
)
def test_text_becomes_the_params_kind(kind: str, text: str, value: object) -> None:
    param = fk.Param("x", kind=kind, choices=["eu", "us"] if kind == "choice" else None)
    parsed = schema.parse_text(param, text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("number", "NaN"),
        ("number", "nan"),
        ("number", "inf"),
        ("integer", "1.5"),
        ("integer", "NaN"),
        ("json", "NaN"),
        ("boolean", "maybe"),
        ("choice", "mars"),
    ],
)
def test_text_that_is_not_a_value_of_the_kind_is_refused(kind: str, text: str) -> None:
    param = fk.Param("x", kind=kind, choices=["eu", "us"] if kind == "choice" else None)
    with pytest.raises(fk.errors.ValidationError, match="'x'"):
        schema.parse_text(param, text)


def test_blank_is_not_given() -> None:
    assert schema.parse_text(fk.Param("x", kind="integer"), "  ") is None


def typed_workflow(ws: fk.Workspace) -> fk.Workflow:
    add_demo_integration(ws)
    wf = fk.Workflow("Typed")
    # `times` is an integer param of demo.echo: {{ inputs.n }} alone infers an integer input;
    # `text` is text: {{ inputs.word }} alone infers a text input.
    wf.add_node(
        "e", integration="My Demo", task="echo", params={"text": "{{ inputs.word }}", "times": "{{ inputs.n }}"}
    )
    ws.workflows.save(wf)
    return wf


def test_inputs_are_inferred_from_templates(ws: fk.Workspace) -> None:
    wf = typed_workflow(ws)
    kinds = {param.name: param.kind for param in ws.input_params(wf)}
    assert kinds == {"n": "integer", "word": "text"}


def test_declared_inputs_win_and_are_saved(ws: fk.Workspace) -> None:
    wf = typed_workflow(ws)
    wf.inputs = [
        fk.Param("word", kind="text", required=True, help="what to echo"),
        fk.Param("n", kind="integer", default=2),
    ]
    ws.workflows.save(wf)
    again = ws.workflows.get("Typed")
    assert [(p.name, p.kind, p.required) for p in again.inputs] == [("word", "text", True), ("n", "integer", False)]
    run = ws.run("Typed", inputs={"word": "ab"})
    assert run.status == "success", run.error
    assert run.nodes["e"].result["text"] == "abab"  # the default n=2 filled in
    with pytest.raises(fk.errors.ValidationError, match="word"):
        ws.run("Typed", inputs={})


def test_cli_i_and_job_p_type_values_by_the_input(ws: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    typed_workflow(ws)
    assert main(["-w", str(ws.path), "run", "Typed", "-i", "word=42", "-i", "n=1e0"]) == 0
    run = ws.runs.list(limit=1)[0]
    assert run.inputs == {"word": "42", "n": 1}
    assert run.nodes["e"].result["text"] == "42"
    # `flowkit job -p KEY VALUE` hands its pairs to the same function before the kernel starts.
    from flowkit.cli.base import parse_inputs

    assert parse_inputs(ws, "Typed", [("word", "42"), ("n", "1e3"), ("other", "[1, 2]")]) == {
        "word": "42",
        "n": 1000,
        "other": [1, 2],
    }


def test_cli_nan_is_refused_for_a_number_input(ws: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    typed_workflow(ws)
    assert main(["-w", str(ws.path), "run", "Typed", "-i", "word=x", "-i", "n=NaN"]) == 2
    assert "'n'" in capsys.readouterr().err


def test_api_text_for_an_integer_input_is_parsed_by_the_same_function(ws: fk.Workspace) -> None:
    typed_workflow(ws)
    run = ws.run("Typed", inputs={"word": "z", "n": "3"})
    assert run.inputs["n"] == 3 and run.nodes["e"].result["text"] == "zzz"


def test_the_builder_run_form_passes_typed_values(ws: fk.Workspace) -> None:
    from flowkit.ui import WorkflowBuilder

    wf = typed_workflow(ws)
    builder = WorkflowBuilder(ws, ws.workflows.get(wf.name))
    builder.input_fields["n"].value = "3"
    builder.input_fields["word"].value = "42"
    assert builder.run_inputs() == {"n": 3, "word": "42"}
    builder.input_fields["n"].value = "nan"
    with pytest.raises(fk.errors.ValidationError, match="'n'"):
        builder.run_inputs()
    assert not math.isnan(0.0)


def test_the_builder_declares_inputs_in_the_param_language(ws: fk.Workspace) -> None:
    from flowkit.ui import WorkflowBuilder

    wf = typed_workflow(ws)
    builder = WorkflowBuilder(ws, ws.workflows.get(wf.name))
    row = builder.inputs_editor.add_row()
    row.name.value = "n"
    row.kind.value = "integer"
    row.default.value = "2"
    row.help.value = "how many times"
    assert [(p.name, p.kind, p.default) for p in builder.workflow.inputs] == [("n", "integer", 2)]
    assert builder.input_fields["n"].value == "2" and builder.input_fields["n"].tooltip == "how many times"
    builder.input_fields["word"].value = "ab"
    builder.save_button.click()
    saved = ws.workflows.get(wf.name)
    assert [(p.name, p.default) for p in saved.inputs] == [("n", 2)]
    builder.start_run()
    run = builder.live.wait(30)
    assert run is not None and run.nodes["e"].result["text"] == "abab"
    reopened = WorkflowBuilder(ws, saved)
    assert [r.name.value for r in reopened.inputs_editor.rows] == ["n"]
