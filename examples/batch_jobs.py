"""Batch jobs: the sales report run once per line of ``inputs.jsonl`` as papermill jobs, two at a time.

Each line is one job: the job template ``run_workflow.ipynb`` runs in its own
kernel, the run is recorded with trigger ``papermill``, and the executed
notebook is the report (the DAG coloured by status, a table per node, the
workflow version). The same from a terminal:
``flowkit -w DIR job "Sales report" --batch examples/inputs.jsonl --parallel 2``.

Run: ``python examples/batch_jobs.py [--workspace DIR]``
"""

from __future__ import annotations

import sys

from common import EXAMPLES, parse_args, workspace
from sqlite_sales import build

import flowkit as fk


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    with workspace(args.workspace) as ws:
        name = build(ws)
        batch = fk.jobs.run_batch(ws, name, EXAMPLES / "inputs.jsonl", parallel=2, timeout=300)
        print(batch.summary())
        for run in ws.runs.list(workflow=name, limit=len(batch.jobs)):
            print(f"run {run.id}: {run.status}, trigger {run.trigger}, report {run.report}")
        return 0 if batch.ok else 1


if __name__ == "__main__":
    sys.exit(main())
