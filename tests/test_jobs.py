"""Jobs without a kernel: what is refused before any kernel starts, records, reports, batch files, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from helpers import find_canary
from jobs_support import demo_workspace

import flowkit as fk
from flowkit import jobs
from flowkit.cli import main
from flowkit.errors import InvalidName, JobError, ValidationError, WorkflowNotFound
from flowkit.jobs import papermill_engine as nbengine
from flowkit.jobs import recording
from flowkit.jobs.in_kernel import check_run, parse_inputs
from flowkit.jobs.report import RunReport
from flowkit.redaction import Redactor, scrub_notebook

HOSTILE_NAMES = [
    "x\nimport os",
    "a;b",
    "a=1",
    "1abc",
    "class",
    "__import__",
    "a b",
    "",
]


@pytest.fixture
def demo(ws: fk.Workspace, canary: str) -> fk.Workspace:
    return demo_workspace(ws, canary)


# -- inputs -------------------------------------------------------------------------
def test_inputs_keep_their_json_types() -> None:
    text = '{"n": 3, "ratio": 1.0, "tags": ["a", 2], "flag": false, "none": null, "deep": {"k": [1]}}'
    values = parse_inputs(text)
    assert values == {"n": 3, "ratio": 1.0, "tags": ["a", 2], "flag": False, "none": None, "deep": {"k": [1]}}
    assert type(values["n"]) is int and type(values["ratio"]) is float
    assert parse_inputs({"n": 3}) == {"n": 3}
    assert parse_inputs("") == {} and parse_inputs(None) == {}


@pytest.mark.parametrize("bad", ['{"n": NaN}', "[1, 2]", "{not json", '"text"'])
def test_inputs_that_are_not_a_json_object_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_inputs(bad)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_input_names_are_refused_before_a_kernel_starts(demo: fk.Workspace, tmp_path: Path, name: str) -> None:
    marker = tmp_path / "ran"
    hostile = name.replace("os", f"os; open({str(marker)!r}, 'w')") if "import" in name else name
    with pytest.raises(InvalidName):
        jobs.run_job(demo, "one", inputs={hostile: 1}, output=tmp_path / "out.ipynb")
    assert not marker.exists()
    assert not (tmp_path / "out.ipynb").exists()  # refused before papermill wrote anything


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_notebook_parameter_names_never_run(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "ran"
    source = tmp_path / "nb.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})])
    nbformat.write(nb, source)
    hostile = f"{name}\nopen({str(marker)!r}, 'w')" if name else name
    with pytest.raises(InvalidName):
        nbengine.execute_notebook(source, tmp_path / "out.ipynb", parameters={hostile: 1})
    assert not marker.exists() and not (tmp_path / "out.ipynb").exists()


def test_notebook_parameters_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(fk.errors.NotJSONError):
        nbengine.check_parameters({"when": {1, 2}})


def test_a_stored_credential_is_never_taken_as_an_input(demo: fk.Workspace, canary: str, tmp_path: Path) -> None:
    for inputs in (
        {"token": canary},
        {"note": f"use {canary} please"},
        {"deep": {"list": ["x", canary]}},
        {"deep": {canary: 1}},
    ):
        with pytest.raises(ValidationError) as refused:
            jobs.run_job(demo, "one", inputs=inputs, output=tmp_path / "out.ipynb")
        message = str(refused.value)
        assert "'token'" in message and "'Demo'" in message
        assert not find_canary(canary, message)
    assert not (tmp_path / "out.ipynb").exists()


# Before issue 12 an input equal to a non-secret credential (the base_url) was refused too.
def test_only_secret_credential_values_are_refused(ws: fk.Workspace, tmp_path: Path) -> None:
    from helpers import write_integration

    write_integration(ws.path / "integrations", "site", "def ping(credentials, params):\n    return {}\n")
    ws.registry.reload()
    ws.types.create("site", params=[fk.Param("base_url"), fk.Param("key", kind="password")])
    ws.integrations.create("Site", type="site", credentials={"base_url": "http://127.0.0.1:9", "key": "k-secret"})
    assert jobs.check_inputs(ws, {"url": "http://127.0.0.1:9/items"}) == {"url": "http://127.0.0.1:9/items"}
    assert jobs.check_inputs(ws, {"url": "http://127.0.0.1:9"}) == {"url": "http://127.0.0.1:9"}
    with pytest.raises(ValidationError, match="'key'"):
        jobs.check_inputs(ws, {"url": "x?k=k-secret"})


def test_missing_workflow_and_bad_limits_are_refused_before_a_kernel(demo: fk.Workspace, tmp_path: Path) -> None:
    with pytest.raises(WorkflowNotFound):
        jobs.run_job(demo, "nope", output=tmp_path / "out.ipynb")
    with pytest.raises(ValidationError, match="timeout"):
        jobs.run_job(demo, "one", timeout=0, output=tmp_path / "out.ipynb")
    with pytest.raises(JobError, match="no notebook"):
        nbengine.execute_notebook(tmp_path / "missing.ipynb", tmp_path / "out.ipynb")
    with pytest.raises(JobError, match="overwrite"):
        source = tmp_path / "same.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), source)
        nbengine.execute_notebook(source, source)
    assert not (tmp_path / "out.ipynb").exists()


# -- records and reports ------------------------------------------------------------
def test_record_outside_a_kernel_is_kept_in_process() -> None:
    recording.record("answer", {"n": 42, "tags": ["a"]})
    assert recording.recorded()["answer"] == {"n": 42, "tags": ["a"]}
    with pytest.raises(InvalidName):
        recording.record("not a name", 1)
    with pytest.raises(fk.errors.NotJSONError):
        recording.record("when", float("nan"))


def test_records_are_read_back_from_outputs_last_one_wins() -> None:
    def output(key: str, value: object) -> dict[str, object]:
        return {
            "output_type": "display_data",
            "metadata": {},
            "data": {recording.RECORD_MIME: {"key": key, "value": value}, "text/plain": "x"},
        }

    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "hi"},
            {"cell_type": "code", "outputs": [output("a", 1), {"output_type": "stream", "text": "s"}]},
            {"cell_type": "code", "outputs": [output("a", [2]), output("b", None)]},
        ]
    }
    assert recording.records_of(notebook) == {"a": [2], "b": None}


def _finished_run() -> fk.Run:
    run = fk.Run("demo <wf>", version=3, trigger="papermill", status="failed")
    run.nodes["a"] = fk.NodeRun(
        "a", status="success", attempts=1, started_at=1.0, finished_at=1.5, result={"success": True, "message": "<ok>"}
    )
    run.nodes["b"] = fk.NodeRun("b", status="failed", attempts=2, error="demo.fail: <boom> & more")
    run.nodes["c"] = fk.NodeRun("c", status="skipped")
    run.finished_at = run.started_at + 2
    return run


def test_run_report_shows_version_status_and_every_node_escaped() -> None:
    report = RunReport(_finished_run())
    text = report.text()
    assert "version 3: failed" in text and "papermill" in text
    assert "0.50 s" in text and "demo.fail: <boom> & more" in text and "skipped" in text
    html = report._repr_mimebundle_()["text/html"]
    assert "&lt;boom&gt; &amp; more" in html and "<boom>" not in html
    assert html.count("<tr>") == 4  # header + 3 nodes


def test_check_run_fails_a_failed_run_naming_its_nodes() -> None:
    with pytest.raises(JobError, match=r"b: demo.fail: <boom>"):
        check_run(_finished_run())


def test_scrub_notebook_masks_secrets_everywhere(tmp_path: Path, canary: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"t = {canary!r}")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=canary)]
    nb.metadata["papermill"] = {"parameters": {"x": canary}}
    nb.metadata["widgets"] = {"state": {"pw": {"value": canary}}}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert scrub_notebook(path, Redactor([canary])) is True
    assert not find_canary(canary, path.read_bytes())
    nbformat.validate(nbformat.read(path, as_version=4))
    assert scrub_notebook(path, Redactor([canary])) is False  # nothing left to mask: the file is not rewritten


# -- batches ------------------------------------------------------------------------
def test_batch_file_lines_are_all_checked_before_anything_runs(demo: fk.Workspace, tmp_path: Path) -> None:
    batch = tmp_path / "inputs.jsonl"
    batch.write_text('{"n": 1}\n\n{"n": 2\n[3]\n{"n": 4}\n')
    with pytest.raises(ValidationError) as refused:
        jobs.run_batch(demo, "one", batch, output_dir=tmp_path / "reports")
    assert "line 3:" in str(refused.value) and "line 4:" in str(refused.value) and "line 1:" not in str(refused.value)
    assert not (tmp_path / "reports").exists()
    batch.write_text('{"n": 1}\n{"a;b": 2}\n')
    with pytest.raises(ValidationError, match="line 2"):
        jobs.run_batch(demo, "one", batch, output_dir=tmp_path / "reports")
    batch.write_text("\n\n")
    with pytest.raises(ValidationError, match="no inputs"):
        jobs.read_batch_file(batch)
    with pytest.raises(ValidationError, match="Cannot read"):
        jobs.read_batch_file(tmp_path / "missing.jsonl")
    assert not (tmp_path / "reports").exists()


def test_batch_entries_carrying_a_secret_stop_the_batch(demo: fk.Workspace, canary: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        jobs.run_batch(demo, "one", [{"n": 1}, {"n": canary}], output_dir=tmp_path / "reports")
    assert "line 2" in str(refused.value) and not find_canary(canary, str(refused.value))
    with pytest.raises(ValidationError, match="parallel"):
        jobs.run_batch(demo, "one", [{"n": 1}], parallel=0)
    assert not (tmp_path / "reports").exists()


def test_batch_summary_lists_each_line() -> None:
    batch = jobs.BatchResult(
        [
            jobs.JobResult("wf", {"n": 1}, "/r/line-0001.ipynb", "success", run_id="r1", line=1),
            jobs.JobResult("wf", {"n": 2}, "/r/line-0002.ipynb", "failed", run_id="r2", error="boom", line=2),
        ],
        duration=3.0,
    )
    summary = batch.summary()
    assert "line 1: success run r1  /r/line-0001.ipynb" in summary
    assert "line 2: failed  run r2  /r/line-0002.ipynb  boom" in summary
    assert summary.endswith("1 ok, 1 failed, 2 jobs in 3.0 s")
    assert not batch.ok and [job.line for job in batch.failed] == [2]


# -- command line ------------------------------------------------------------------
def test_cli_values_are_json_where_they_parse() -> None:
    assert jobs.parse_cli_value("3") == 3 and jobs.parse_cli_value("1.5") == 1.5
    assert jobs.parse_cli_value('["a", 1]') == ["a", 1] and jobs.parse_cli_value("true") is True
    assert jobs.parse_cli_value("hello") == "hello" and jobs.parse_cli_value("NaN") == "NaN"


def test_cli_job_refusals_have_exit_codes(
    demo: fk.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str], canary: str
) -> None:
    base = ["-w", str(demo.path), "job"]
    assert main([*base, "nope", "-o", str(tmp_path / "o.ipynb")]) == 3
    assert main([*base, "one", "-p", "a;b", "1", "-o", str(tmp_path / "o.ipynb")]) == 2
    assert main([*base, "one", "-p", "token", canary, "-o", str(tmp_path / "o.ipynb")]) == 2
    assert main([*base, "one", "--batch", str(tmp_path / "x.jsonl"), "-p", "n", "1"]) == 2
    err = capsys.readouterr().err
    assert "No workflow named 'nope'" in err and "is not valid" in err and not find_canary(canary, err)
    assert not (tmp_path / "o.ipynb").exists()
    with pytest.raises(SystemExit):
        main([*base, "one", "--no-such-option"])


def test_job_template_has_the_documented_parameters() -> None:
    template = nbformat.read(jobs.template_path(), as_version=4)
    tagged = [cell for cell in template.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = {
        line.split("=")[0].strip() for line in tagged[0].source.splitlines() if "=" in line and not line.startswith("#")
    }
    assert names == {"workspace", "workflow", "inputs", "report", "timeout", "ends_at"}
    assert all(not cell.get("outputs") for cell in template.cells if cell.cell_type == "code")
    assert json.loads(jobs.template_path().read_text())["metadata"]["kernelspec"]["name"] == "python3"
