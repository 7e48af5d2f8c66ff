"""Sales report: the built-in `sqlite` integration loads a run's inputs and queries them.

Rows come in as the run's inputs (a list stays a list), are inserted with
bound parameters, summed per region, and the best region's biggest sales are
looked up with a value taken from the previous node's rows
(``{{ totals.rows[0].region }}``).

Run: ``python examples/sqlite_sales.py [--workspace DIR]``
"""

from __future__ import annotations

import sys

from common import ensure_integration, ensure_type, parse_args, show, workspace

import flowkit as fk

WORKFLOW = "Sales report"
SALES = [["north", 120.5], ["south", 80.0], ["north", 99.5], ["east", 150.0], ["north", 40.0], ["south", 75.25]]


def build(ws: fk.Workspace) -> str:
    """Create the `Sales DB` integration (a file in the workspace) and save the workflow; returns its name."""
    ensure_type(ws, "sqlite")
    database = ws.path / "example-data" / "sales.db"
    database.parent.mkdir(exist_ok=True)
    ensure_integration(ws, "Sales DB", type="sqlite", credentials={"database": str(database), "create": True})

    wf = fk.Workflow(WORKFLOW, "Load sales rows, total them per region, list the best region's biggest sales")
    wf.add_node(
        "create",
        integration="Sales DB",
        task="execute",
        params={"sql": "CREATE TABLE IF NOT EXISTS sales (region TEXT NOT NULL, amount REAL NOT NULL)"},
    )
    wf.add_node(
        "load",
        integration="Sales DB",
        task="execute",
        params={
            "sql": "INSERT INTO sales (region, amount) VALUES (?, ?)",
            "many": True,
            "parameters": "{{ inputs.sales }}",
        },
    )
    wf.add_node(
        "totals",
        integration="Sales DB",
        task="query",
        params={
            "sql": "SELECT region, ROUND(SUM(amount), 2) AS total, COUNT(*) AS orders "
            "FROM sales GROUP BY region ORDER BY total DESC"
        },
    )
    wf.add_node(
        "top",
        integration="Sales DB",
        task="query",
        params={
            "sql": "SELECT amount FROM sales WHERE region = ? ORDER BY amount DESC LIMIT 3",
            "parameters": ["{{ totals.rows[0].region }}"],
        },
    )
    wf.connect("create", "load")
    wf.connect("load", "totals")
    wf.connect("totals", "top")
    ws.workflows.save(wf)
    return WORKFLOW


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    with workspace(args.workspace) as ws:
        build(ws)
        run = ws.run(WORKFLOW, inputs={"sales": SALES})
        show(run)
        print("Totals:", run.nodes["totals"].result.get("rows"))
        return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
