"""Notebook pipeline: a notebook as a workflow step, its recorded values stored by the next node.

The built-in `notebook` integration runs ``notebooks/stats.ipynb`` with
papermill (the run's ``values`` become its parameters); the notebook records
its summary with ``fk.record``; the `sqlite` integration stores it from
``{{ measure.values.mean }}``. Creating the table does not wait for the
notebook: independent nodes run side by side.

Run: ``python examples/notebook_pipeline.py [--workspace DIR]``
"""

from __future__ import annotations

import shutil
import sys

from common import EXAMPLES, ensure_integration, ensure_type, parse_args, show, workspace

import flowkit as fk

WORKFLOW = "Measure and store"


def build(ws: fk.Workspace) -> str:
    """Copy the notebook into the workspace, create both integrations, save the workflow; returns its name."""
    notebooks = ws.path / "example-notebooks"
    notebooks.mkdir(exist_ok=True)
    shutil.copyfile(EXAMPLES / "notebooks" / "stats.ipynb", notebooks / "stats.ipynb")
    ensure_type(ws, "notebook")
    ensure_type(ws, "sqlite")
    ensure_integration(ws, "Notebooks", type="notebook", credentials={"root": str(notebooks)})
    ensure_integration(
        ws,
        "Measurements DB",
        type="sqlite",
        credentials={"database": str(ws.path / "example-data" / "measurements.db"), "create": True},
    )
    (ws.path / "example-data").mkdir(exist_ok=True)

    wf = fk.Workflow(WORKFLOW, "Summarise measurements in a notebook, then store the summary")
    wf.add_node(
        "measure",
        integration="Notebooks",
        task="run_notebook",
        params={
            "notebook": "stats.ipynb",
            "parameters": {"values": "{{ inputs.values }}", "unit": "ms"},
            "timeout": 120,
        },
    )
    wf.add_node(
        "create",
        integration="Measurements DB",
        task="execute",
        params={"sql": "CREATE TABLE IF NOT EXISTS summaries (count INTEGER, mean REAL, maximum REAL)"},
    )
    wf.add_node(
        "store",
        integration="Measurements DB",
        task="execute",
        params={
            "sql": "INSERT INTO summaries VALUES (?, ?, ?)",
            "parameters": ["{{ measure.values.count }}", "{{ measure.values.mean }}", "{{ measure.values.maximum }}"],
        },
    )
    wf.add_node(
        "history",
        integration="Measurements DB",
        task="query",
        params={"sql": "SELECT COUNT(*) AS runs, ROUND(AVG(mean), 3) AS mean_of_means FROM summaries"},
    )
    wf.connect("measure", "store")
    wf.connect("create", "store")
    wf.connect("store", "history")
    ws.workflows.save(wf)
    return WORKFLOW


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    with workspace(args.workspace) as ws:
        build(ws)
        run = ws.run(WORKFLOW, inputs={"values": [12.5, 14.0, 9.75, 30.0, 11.25]})
        show(run)
        print("Recorded by the notebook:", run.nodes["measure"].result.get("values"))
        print("Executed copy:", run.nodes["measure"].result.get("output"))
        return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
