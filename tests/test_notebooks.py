"""flowkit's notebooks, executed headless as a fresh user would, and `flowkit lab` that opens them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import find_canary

import flowkit as fk
from flowkit import jobs, lab
from flowkit.jobs import papermill_engine as nbengine
from flowkit.workspace import ENV_WORKSPACE


def _texts(notebook: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found.append(output.get("text") or output.get("data", {}).get("text/plain") or "")
    return found


def test_getting_started_runs_top_to_bottom_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = tmp_path / "lab" / "workspace"
    monkeypatch.setenv(ENV_WORKSPACE, str(workspace))
    output = tmp_path / "lab" / "getting_started.out.ipynb"
    notebook = nbengine.execute_notebook(
        jobs.notebooks_folder() / "getting_started.ipynb", output, cell_timeout=60, timeout=240, cwd=tmp_path / "lab"
    )

    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    text = "\n".join(_texts(notebook))
    assert "too short: {'success': False" in text and "saved:     {'success': True" in text
    assert "neither a node of this workflow nor 'inputs'" in text and "No task named 'notes.shout'" in text
    assert "count: success, {'success': True, 'message': '4 words'" in text
    last = notebook.cells[-1]
    assert last.source.strip() == "fk.ui.App(ws)"
    assert "application/vnd.jupyter.widget-view+json" in last.outputs[0]["data"]

    ws = fk.Workspace(workspace)
    runs = ws.runs.list(workflow="Daily note")
    assert sorted(run.trigger for run in runs) == ["api", "papermill"]
    assert all(run.status == "success" for run in runs)
    job_run = next(run for run in runs if run.trigger == "papermill")
    assert Path(job_run.report).is_file()
    assert (workspace / "notes" / "hello-flowkit.md").is_file() and (workspace / "notes" / "from-a-job.md").is_file()
    # The signing key the notebook generated is in neither executed notebook (nor their widget state).
    key = ws.integrations.get("My Notes").credentials["signing_key"]
    assert not find_canary(key, output.read_bytes(), Path(job_run.report).read_bytes())


def test_getting_started_ends_with_the_app_and_ships_no_outputs() -> None:
    notebook = nbformat.read(jobs.notebooks_folder() / "getting_started.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[-1].source == "fk.ui.App(ws)"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert notebook.metadata.kernelspec.name == "python3"


# -- flowkit lab -------------------------------------------------------------------
def test_lab_copies_the_notebooks_once_and_keeps_user_edits(tmp_path: Path) -> None:
    folder = tmp_path / "my-lab"
    copied = lab.prepare(folder)
    assert {path.name for path in copied} >= {"getting_started.ipynb", "run_workflow.ipynb"}
    edited = folder / "getting_started.ipynb"
    edited.write_text("my edits")
    assert lab.prepare(folder) == []
    assert edited.read_text() == "my edits"


def test_lab_command_opens_getting_started_with_a_workspace_in_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab, "running_as_root", lambda: False)
    argv, env, cwd = lab.command(tmp_path / "lab", ["--", "--no-browser", "--port=9999"], environ={"PATH": "/bin"})
    assert argv == [
        sys.executable,
        "-m",
        "jupyterlab",
        "getting_started.ipynb",
        "--LabApp.default_url=/lab/tree/getting_started.ipynb",
        "--no-browser",
        "--port=9999",
    ]
    assert cwd == (tmp_path / "lab").resolve()
    assert env[ENV_WORKSPACE] == str((tmp_path / "lab" / "workspace").resolve()) and env["PATH"] == "/bin"
    _, env, _ = lab.command(tmp_path / "lab", [], environ={ENV_WORKSPACE: "/elsewhere"})
    assert env[ENV_WORKSPACE] == "/elsewhere"
    _, env, _ = lab.command(tmp_path / "lab", [], workspace=tmp_path / "ws", environ={ENV_WORKSPACE: "/elsewhere"})
    assert env[ENV_WORKSPACE] == str((tmp_path / "ws").resolve())


def test_flowkit_lab_execs_jupyterlab_with_the_arguments_it_does_not_know(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    done = subprocess.run(
        [sys.executable, "-m", "flowkit.cli", "lab", "--dir", str(folder), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    import jupyterlab

    assert done.stdout.strip() == jupyterlab.__version__
    assert (folder / "getting_started.ipynb").is_file() and (folder / "run_workflow.ipynb").is_file()


def test_flowkit_lab_lets_root_start_jupyterlab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab, "running_as_root", lambda: True)
    argv, _, _ = lab.command(tmp_path, ["--no-browser"])
    assert argv[-2:] == ["--no-browser", "--allow-root"]
    argv, _, _ = lab.command(tmp_path, ["--ServerApp.allow_root=False"])
    assert "--allow-root" not in argv, "a choice the user made is kept"
    monkeypatch.setattr(lab, "running_as_root", lambda: False)
    assert "--allow-root" not in lab.command(tmp_path, [])[0]
