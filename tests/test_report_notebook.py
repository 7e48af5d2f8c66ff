"""Reports that open right: flowkit signs the notebooks it writes; an interactive run's report on demand."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary
from ui_support import add_demo_integration

import flowkit as fk
from flowkit.ui import RunView


@pytest.fixture(autouse=True)
def own_notary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notary's secret and signature database live in the Jupyter data folder: a throw-away one."""
    folder = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(folder))
    return folder


def trusted(path: Path) -> bool:
    return NotebookNotary().check_signature(nbformat.read(path, as_version=4))


def two_versions(ws: fk.Workspace) -> fk.Run:
    add_demo_integration(ws)
    wf = fk.Workflow("Reported")
    wf.add_node("old_name", integration="My Demo", task="echo", params={"text": "x"})
    ws.workflows.save(wf)
    run = ws.run("Reported")
    wf = ws.workflows.get("Reported")
    wf.rename_node("old_name", "new_name")
    ws.workflows.save(wf)
    return run


def test_a_run_report_is_signed_and_draws_the_recorded_version(ws: fk.Workspace, tmp_path: Path) -> None:
    run = two_versions(ws)
    path = fk.jobs.write_report(run, tmp_path / "out.ipynb")
    assert path == tmp_path / "out.ipynb" and trusted(path)
    text = path.read_text()
    assert "image/svg+xml" in text and 'data-node=\\"old_name\\"' in text and "new_name" not in text
    assert "version 1" in text


def test_the_report_button_writes_the_report(ws: fk.Workspace) -> None:
    run = two_versions(ws)
    view = RunView(run, ws)
    view.report_button.click()
    assert not view.feedback.is_error, view.feedback.text
    written = list((ws.path / "reports").glob("*.ipynb"))
    assert len(written) == 1 and trusted(written[0]) and str(written[0]) in view.feedback.text


def test_a_job_report_is_signed(ws: fk.Workspace, tmp_path: Path) -> None:
    two_versions(ws)
    result = fk.jobs.run_job(ws, "Reported", output=tmp_path / "job.ipynb", timeout=120)
    assert result.ok, result.error
    assert trusted(Path(result.report))


def test_the_builders_report_button_writes_the_last_runs_report(ws: fk.Workspace) -> None:
    from flowkit.ui import WorkflowBuilder

    two_versions(ws)
    builder = WorkflowBuilder(ws, ws.workflows.get("Reported"))
    assert builder.report_button.disabled
    builder.start_run()
    run = builder.live.wait(30)
    assert run is not None and not builder.report_button.disabled
    builder.report_button.click()
    written = ws.path / "reports" / f"Reported-{run.id}.ipynb"
    assert written.is_file() and trusted(written) and str(written) in builder.feedback.text
