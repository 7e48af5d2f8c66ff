"""The Dask example notebook runs top to bottom, headless, and does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.jobs import papermill_engine as nbengine

pytest.importorskip("distributed")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "dask_scale_out.ipynb"


def outputs(notebook: dict) -> str:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.mark.slow
def test_the_dask_notebook_starts_a_cluster_and_runs_a_wide_workflow_on_it(tmp_path: Path) -> None:
    executed = nbengine.execute_notebook(
        NOTEBOOK,
        tmp_path / "out.ipynb",
        parameters={"width": 6, "task_seconds": 0.02},
        cell_timeout=120,
        timeout=300,
        cwd=tmp_path,
    )
    text = outputs(executed)
    assert "Dashboard: http://127.0.0.1:" in text
    assert "success: 2 process(es) did the work" in text
    assert "threads: " in text and "Dask with 2 workers: " in text
    assert "3 ok, 0 failed, 3 jobs" in text
    assert "'batch', 'success'" in text
