"""What a job's output notebook shows of its run.

`RunReport` shows a run as a report: the workflow and its version, the DAG
coloured by status, and a table of every node's status, attempts, duration,
result and error. Everything shown comes from the run record, which the engine
has already redacted; the job runner scrubs the whole output notebook once more.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from ..model import Run

_CELL_LIMIT = 160


def _clip(text: str, limit: int = _CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return _clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))


class RunReport:
    """A run shown as a report: header, DAG coloured by status, and a per-node table.

    Args:
        run: the run to show.
    """

    columns = ("node", "status", "attempts", "duration", "result", "error")

    def __init__(self, run: Run) -> None:
        self.run = run

    def rows(self) -> list[dict[str, str]]:
        """One row of text per node, in the workflow's order."""
        rows = []
        for name, node in self.run.nodes.items():
            duration = f"{node.duration:.2f} s" if node.duration is not None else ""
            rows.append(
                {
                    "node": name,
                    "status": node.status,
                    "attempts": str(node.attempts),
                    "duration": duration,
                    "result": _shown(node.result),
                    "error": _shown(node.error),
                }
            )
        return rows

    def header(self) -> str:
        run = self.run
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
        duration = f", {run.duration:.2f} s" if run.duration is not None else ""
        return (
            f"Workflow {run.workflow!r} version {run.version}: {run.status} "
            f"(run {run.id}, trigger {run.trigger}, started {started}{duration})"
        )

    def text(self) -> str:
        """The report as plain text (terminals, logs, front ends without HTML)."""
        rows = self.rows()
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in self.columns}
        lines = [self.header(), "  ".join(c.upper().ljust(widths[c]) for c in self.columns)]
        lines += ["  ".join(r[c].ljust(widths[c]) for c in self.columns).rstrip() for r in rows]
        if self.run.error:
            lines.append(f"error: {self.run.error}")
        return "\n".join(lines)

    def html(self) -> str:
        """The header and the per-node table as HTML (the drawing is the run's own display)."""
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(r[c])}</td>" for c in self.columns) + "</tr>"
            for r in self.rows()
        )
        error = f"<p>error: {html.escape(self.run.error)}</p>" if self.run.error else ""
        return (
            f"<div class='flowkit-run-report'><p><b>{html.escape(self.header())}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{error}</div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()


def show(run: Run) -> None:
    """Display the run's drawing (coloured by status) and its report table."""
    from IPython.display import display

    display(run)
    display(RunReport(run))


def sign_notebook(path: str | os.PathLike[str]) -> bool:
    """Sign a notebook flowkit wrote with the user's notebook notary (nbformat's signing); True when signed.

    JupyterLab renders the HTML and SVG outputs of an *untrusted* notebook
    sanitised, which shows a report's drawing as garbled text until the person
    trusts it. flowkit produced these outputs itself, so it records them as
    trusted in the same signature database JupyterLab checks (in the Jupyter
    data folder). A notary that cannot write its database leaves the notebook
    unsigned: the report is still there, only shown sanitised.
    """
    import sqlite3

    import nbformat
    from nbformat.sign import NotebookNotary

    try:
        notebook = nbformat.read(os.fspath(path), as_version=4)
        NotebookNotary().sign(notebook)
    except (OSError, sqlite3.Error, ValueError):
        return False
    return True


def report_cells(run: Run) -> list[Any]:
    """The report's cells, outputs included: a title, the run drawn (its recorded version) and its table."""
    import nbformat.v4 as nbf

    from .. import drawing

    report = RunReport(run)
    title = nbf.new_markdown_cell(f"# Run report\n\n{report.header()}")
    load = (
        "import flowkit as fk\n\n"
        f"run = fk.Workspace().runs.get({run.id!r})  # set the workspace folder if it is not the default\nrun"
    )
    drawn = nbf.new_code_cell(load, execution_count=1)
    drawn.outputs = [
        nbf.new_output("execute_result", data=drawing.mimebundle(drawing.draw_run(run), repr(run)), execution_count=1)
    ]
    table = nbf.new_code_cell("fk.jobs.report.RunReport(run)", execution_count=2)
    table.outputs = [nbf.new_output("execute_result", data=report._repr_mimebundle_(), execution_count=2)]
    return [title, drawn, table]


def write_report(run: Run, path: str | os.PathLike[str]) -> Path:
    """Write `run`'s report notebook to `path` and sign it; returns the path.

    The report is what a job's output notebook shows (header, DAG coloured by
    status, node table), for any run, made on demand without a kernel. It draws
    the *recorded* snapshot, i.e. the version that ran, not the workflow as
    saved now. Everything in it comes from the run record, already masked.
    """
    import nbformat
    import nbformat.v4 as nbf

    from ..atomic import atomic_write

    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbf.new_notebook(cells=report_cells(run))
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    atomic_write(target, nbformat.writes(notebook).encode("utf-8"))
    sign_notebook(target)
    return target


def report_path(folder: str | os.PathLike[str], run: Run) -> Path:
    """``<folder>/reports/<workflow>-<run id>.ipynb``: where the Report button writes a run's report."""
    return Path(folder) / "reports" / f"{slug(run.workflow)}-{run.id}.ipynb"


def slug(name: str) -> str:
    """A workflow name as a safe file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "workflow"
