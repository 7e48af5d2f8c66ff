"""The `notebook` integration: notebooks as workflow steps whose recorded values flow downstream."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from jobs_support import canary_hits, demo_workspace

import flowkit as fk
from flowkit.atomic import pid_alive
from flowkit.errors import ParamsError

PREPARE = [
    ("rows = [1, 2]\nlabel = 'none'", ["parameters"]),
    ("import flowkit as fk\n\ntotal = sum(rows)\nfk.record('total', total)\nfk.record('label', label.upper())", []),
    ("print('rows:', rows)", []),
]
BROKEN = [("divisor = 1", ["parameters"]), ("print('before'); 1 / (divisor - 1)", []), ("print('never')", [])]


def _write(path: Path, cells: list[tuple[str, list[str]]]) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    root.mkdir()
    _write(root / "prepare.ipynb", PREPARE)
    _write(root / "broken.ipynb", BROKEN)
    return root


@pytest.fixture
def nbws(ws: fk.Workspace, canary: str, notebooks: Path) -> fk.Workspace:
    demo_workspace(ws, canary)
    ws.types.create_from_module("notebook")
    ws.integrations.create("Notebooks", type="notebook", credentials={"root": str(notebooks)})
    return ws


def _task(ws: fk.Workspace, name: str = "run_notebook") -> fk.registry.TaskSpec:
    return ws.registry.task("notebook", name)


def test_a_notebook_node_passes_its_recorded_values_downstream(
    nbws: fk.Workspace, notebooks: Path, canary: str
) -> None:
    wf = fk.Workflow("notebook pipeline")
    wf.add_node(
        "prep",
        integration="Notebooks",
        task="run_notebook",
        params={
            "notebook": "prepare.ipynb",
            "parameters": {"rows": "{{ inputs.rows }}", "label": "q1"},
            "cell_timeout": 30,
            "timeout": 90,
        },
    )
    wf.add_node(
        "use",
        integration="Demo",
        task="echo",
        params={"total": "{{ prep.values.total }}", "label": "{{ prep.values.label }}"},
    )
    wf.connect("prep", "use")
    nbws.workflows.save(wf)

    run = nbws.run("notebook pipeline", inputs={"rows": [10, 20, 12]})

    assert run.status == "success", run.error
    prep = run.nodes["prep"].result
    assert prep["values"] == {"total": 42, "label": "Q1"}
    assert run.nodes["use"].result["values"] == {"total": 42, "label": "Q1"}
    assert run.nodes["use"].result["types"]["total"] == "int"
    copy = notebooks / prep["output"]
    assert prep["output"].startswith("outputs/prepare-") and copy.is_file()
    executed = nbformat.read(copy, as_version=4)
    assert "rows: [10, 20, 12]" in executed.cells[-1].outputs[0]["text"]
    assert canary_hits(canary, copy) == {}


def test_a_failing_notebook_fails_its_node_and_keeps_the_executed_copy(nbws: fk.Workspace, notebooks: Path) -> None:
    wf = fk.Workflow("broken pipeline")
    wf.add_node(
        "prep",
        integration="Notebooks",
        task="run_notebook",
        params={"notebook": "broken.ipynb", "output": "failed/broken.ipynb", "timeout": 90},
    )
    wf.add_node("use", integration="Demo", task="echo", params={"total": "{{ prep.values.total }}"})
    wf.connect("prep", "use")

    run = nbws.run(wf)

    assert run.status == "failed"
    assert "ZeroDivisionError" in run.nodes["prep"].error and "failed/broken.ipynb" in run.nodes["prep"].error
    assert str(notebooks) not in run.nodes["prep"].error
    assert run.nodes["use"].status == "skipped"
    executed = nbformat.read(notebooks / "failed" / "broken.ipynb", as_version=4)
    outputs = [o for cell in executed.cells for o in cell.get("outputs", [])]
    assert any(o.get("ename") == "ZeroDivisionError" for o in outputs)
    assert not any("never" in o.get("text", "") for o in outputs)


@pytest.mark.parametrize(
    "params",
    [
        {"notebook": "../outside.ipynb"},
        {"notebook": "/etc/passwd"},
        {"notebook": "prepare.ipynb", "output": "../../escape.ipynb"},
        {"notebook": "prepare.ipynb", "output": "/tmp/escape.ipynb"},
    ],
)
def test_paths_outside_the_notebooks_folder_are_refused(nbws: fk.Workspace, notebooks: Path, params: dict) -> None:
    with pytest.raises(ParamsError, match="outside the notebooks folder"):
        _task(nbws).func({"root": str(notebooks)}, params)


def test_a_symlink_out_of_the_folder_is_refused(nbws: fk.Workspace, notebooks: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.ipynb"
    _write(outside, PREPARE)
    (notebooks / "link.ipynb").symlink_to(outside)
    with pytest.raises(ParamsError, match="outside"):
        _task(nbws).func({"root": str(notebooks)}, {"notebook": "link.ipynb"})


def test_hostile_parameter_names_never_run(nbws: fk.Workspace, notebooks: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = {f"x\nopen({str(marker)!r}, 'w')": 1}
    result = _task(nbws).func({"root": str(notebooks)}, {"notebook": "prepare.ipynb", "parameters": hostile})
    assert result["success"] is False and "is not valid" in result["message"]
    assert not marker.exists() and not (notebooks / "outputs").exists()


def test_bad_settings_are_clear(nbws: fk.Workspace, notebooks: Path, tmp_path: Path) -> None:
    run = _task(nbws).func
    assert run({"root": str(notebooks)}, {"notebook": "missing.ipynb"}) == {
        "success": False,
        "message": "There is no notebook 'missing.ipynb' in the notebooks folder.",
    }
    with pytest.raises(ParamsError, match="does not exist"):
        run({"root": str(tmp_path / "nope")}, {"notebook": "prepare.ipynb"})
    with pytest.raises(ParamsError, match="notebook"):
        run({"root": str(notebooks)}, {})
    with pytest.raises(ParamsError, match="parameters"):
        run({"root": str(notebooks)}, {"notebook": "prepare.ipynb", "parameters": [1, 2]})


def test_test_connection_lists_the_notebooks(nbws: fk.Workspace, notebooks: Path) -> None:
    assert nbws.integrations.test("Notebooks") == {
        "success": True,
        "message": "Found 2 notebook(s) in the notebooks folder.",
    }
    result = _task(nbws, "test_connection").func({"root": str(notebooks)}, {})
    assert result["notebooks"] == ["broken.ipynb", "prepare.ipynb"]
    missing = _task(nbws, "test_connection").func({"root": str(notebooks / "gone")}, {})
    assert missing["success"] is False and "does not exist" in missing["message"]


@pytest.mark.slow
def test_a_notebook_node_past_its_timeout_leaves_no_kernel_behind(nbws: fk.Workspace, notebooks: Path) -> None:
    _write(
        notebooks / "sleepy.ipynb",
        [("import os, pathlib, time\npathlib.Path('kernel.pid').write_text(str(os.getpid()))\ntime.sleep(60)", [])],
    )
    wf = fk.Workflow("sleepy")
    wf.add_node("nap", integration="Notebooks", task="run_notebook", params={"notebook": "sleepy.ipynb"}, timeout=4)

    run = nbws.run(wf)

    assert run.nodes["nap"].status == "failed" and "timed out" in run.nodes["nap"].error
    pid = int((notebooks / "kernel.pid").read_text())
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:  # the orphaned kernel notices its parent is gone
        time.sleep(0.1)
    assert not pid_alive(pid)
