"""Jobs on real kernels: the template run in-process, runs recorded, reports, exit codes, limits, batches."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import nbformat
import papermill
import pytest
from helpers import scan_tree
from jobs_support import canary_hits, cell_outputs, demo_workspace

import flowkit as fk
from flowkit import jobs
from flowkit.atomic import pid_alive
from flowkit.cli import main
from flowkit.jobs.recording import records_of

INPUTS = {"n": 3, "tags": ["a", "b"], "ratio": 1.0, "flag": True, "name": "Ada"}


@pytest.fixture
def demo(ws: fk.Workspace, canary: str) -> fk.Workspace:
    return demo_workspace(ws, canary)


def test_a_job_runs_the_workflow_records_the_run_and_writes_its_report(
    demo: fk.Workspace, canary: str, tmp_path: Path
) -> None:
    output = tmp_path / "reports" / "typed.ipynb"
    result = jobs.run_job(demo, "typed", inputs=INPUTS, output=output, timeout=120)

    assert result.ok, result.error
    assert result.report == str(output) and output.is_file()
    run = demo.runs.get(result.run_id)
    assert (run.status, run.trigger, run.report, run.version) == ("success", "papermill", str(output), 1)
    first = run.nodes["first"].result
    assert first["values"] == INPUTS
    assert first["types"] == {"n": "int", "tags": "list", "ratio": "float", "flag": "bool", "name": "str"}
    assert run.nodes["second"].result["values"] == {"got": 3}

    outputs = cell_outputs(output)
    assert records_of(json.loads(output.read_text()))["run_id"] == run.id
    assert any("image/svg+xml" in item.get("data", {}) for item in outputs)  # the DAG, coloured by status
    table = next(
        item["data"]["text/html"]
        for item in outputs
        if "flowkit-run-report" in item.get("data", {}).get("text/html", "")
    )
    assert "version 1: success" in table and table.count("<tr>") == 4
    # The leaky task printed and returned the secret: the report, the run log and the workspace hold none of it.
    assert canary_hits(canary, output) == {}
    assert scan_tree(canary, tmp_path / "reports") == []
    assert "***" in run.nodes["leaky"].result["token"]


def test_cli_job_exit_codes_follow_the_run(
    demo: fk.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str], canary: str
) -> None:
    ok = tmp_path / "ok.ipynb"
    code = main(["-w", str(demo.path), "job", "one", "-p", "n", "[1, 2]", "-o", str(ok), "--timeout", "120"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("success: run ") and str(ok) in out
    run = demo.runs.list(workflow="one")[0]
    assert run.nodes["echo"].result["values"] == {"n": [1, 2]} and run.report == str(ok)

    failed = tmp_path / "failed.ipynb"
    code = main(["-w", str(demo.path), "job", "failing", "-o", str(failed), "--timeout", "120"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out.startswith("failed: run ")
    assert "no: demo.fail" in captured.err and "the demo service said no" in captured.err
    run = demo.runs.list(workflow="failing")[0]
    assert (run.status, run.trigger, run.report) == ("failed", "papermill", str(failed))
    assert run.nodes["after"].status == "skipped"
    text = failed.read_text()
    assert "An Exception was encountered" in text and "the demo service said no" in text  # the report shows why
    assert canary_hits(canary, ok, failed) == {}


def test_a_job_past_its_time_limit_is_stopped_and_its_run_says_so(demo: fk.Workspace, tmp_path: Path) -> None:
    report = tmp_path / "slow.ipynb"
    started = time.monotonic()
    result = jobs.run_job(demo, "slow", output=report, timeout=8)
    elapsed = time.monotonic() - started
    assert not result.ok and elapsed < 12
    assert "the job reached its time limit of 8 s" in result.error
    run = demo.runs.get(result.run_id)  # the run ended itself, before the limit killed its kernel
    assert run.status == "cancelled" and run.error == "Cancelled: the job reached its time limit of 8 s."
    assert run.nodes["nap"].status == "cancelled"
    assert not pid_alive(run.pid)  # the kernel (and the task in it) is gone
    assert "<svg" in report.read_text()  # the report shows the cancelled run's drawing


def test_a_job_run_past_its_time_limit_in_a_stuck_kernel_is_still_stopped(tmp_path: Path) -> None:
    """The backstop: a kernel whose run does not end by the time limit is killed, and the job says so."""
    from flowkit.jobs.papermill_engine import execute_notebook

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)")]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "stuck.ipynb"
    nbformat.write(notebook, source)
    started = time.monotonic()
    with pytest.raises(fk.errors.JobError, match="time limit"):
        execute_notebook(str(source), tmp_path / "out.ipynb", timeout=4)
    assert time.monotonic() - started < 8


def test_plain_papermill_can_run_the_template(demo: fk.Workspace, tmp_path: Path) -> None:
    output = tmp_path / "plain.ipynb"
    papermill.execute_notebook(
        str(jobs.template_path()),
        str(output),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=30,
        parameters={"workspace": str(demo.path), "workflow": "one", "inputs": {"n": 5}, "report": str(output)},
    )
    run = demo.runs.get(records_of(json.loads(output.read_text()))["run_id"])
    assert (run.status, run.trigger, run.report) == ("success", "papermill", str(output))
    assert run.nodes["echo"].result["values"] == {"n": 5}


@pytest.mark.slow
def test_a_batch_of_eight_with_parallel_two_records_eight_runs(
    demo: fk.Workspace, tmp_path: Path, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "inputs.jsonl"
    batch.write_text("".join(json.dumps({"n": index}) + "\n" for index in range(8)))
    reports = tmp_path / "batch"
    code = main(
        [
            "-w",
            str(demo.path),
            "job",
            "one",
            "--batch",
            str(batch),
            "--parallel",
            "2",
            "--output-dir",
            str(reports),
            "--timeout",
            "120",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "8 ok, 0 failed, 8 jobs" in captured.out
    assert "one jobs" in captured.err and "8/8" in captured.err  # the progress bar

    runs = demo.runs.list(workflow="one", limit=None)
    assert len(runs) == 8 and len({run.id for run in runs}) == 8
    assert all(run.status == "success" and run.trigger == "papermill" for run in runs)
    assert sorted(run.nodes["echo"].result["values"]["n"] for run in runs) == list(range(8))
    assert sorted(Path(run.report).name for run in runs) == [f"line-{line:04d}.ipynb" for line in range(1, 9)]
    for line in range(1, 9):
        assert f"line {line}: success" in captured.out
    assert scan_tree(canary, reports) == [] and scan_tree(canary, demo.path) == []


@pytest.mark.slow
def test_twenty_consecutive_jobs_never_hang(demo: fk.Workspace, tmp_path: Path) -> None:
    jobs.run_job(demo, "one", inputs={"n": -1}, output=tmp_path / "warm-up.ipynb", timeout=60)  # imports papermill
    walls = []
    for index in range(20):
        started = time.monotonic()
        result = jobs.run_job(demo, "one", inputs={"n": index}, output=tmp_path / f"job-{index}.ipynb", timeout=60)
        walls.append(time.monotonic() - started)
        assert result.ok, result.error
    median = statistics.median(walls)
    assert max(walls) <= 2 * median, f"walls {[round(w, 2) for w in walls]}, median {median:.2f} s"
    assert len(list(tmp_path.glob("*.ipynb"))) == 21
