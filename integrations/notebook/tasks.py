"""Run a notebook as a node, like Elyra's and dagstermill's notebook steps.

The node's ``parameters`` become the notebook's papermill parameters (injected
after its cell tagged ``parameters``), and whatever the notebook records with
``flowkit.record(key, value)`` comes back in the result's ``values``, for
downstream nodes to use as ``{{ node.values.key }}``. The executed copy is
kept (``output``) to read what happened, also when a cell failed.

Notebooks are found in, and their copies written to, the folder ``root`` from
the integration's credentials; a path that leaves it is refused. Paths in
results are relative to ``root``, so they read the same in every run log.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import flowkit
from flowkit.errors import FlowkitError, ParamsError
from flowkit.jobs import papermill_engine as nbengine
from flowkit.jobs.recording import records_of
from flowkit.schema import validate_values

Result = dict[str, Any]

CREDENTIALS = [
    flowkit.Param(
        "root",
        required=True,
        help="The folder holding the notebooks; every notebook and executed copy stays inside it.",
    ),
]
RUN_PARAMS = [
    flowkit.Param("notebook", required=True, help="The notebook to run, relative to root, e.g. prepare.ipynb."),
    flowkit.Param(
        "parameters",
        kind="json",
        default={},
        help="Values for the notebook's parameters cell, as a JSON object of name → value.",
    ),
    flowkit.Param(
        "output", help="Where the executed copy goes, relative to root (default: outputs/<notebook>-<time>.ipynb)."
    ),
    flowkit.Param(
        "cell_timeout", kind="number", default=nbengine.DEFAULT_CELL_TIMEOUT, help="Seconds any one cell may run."
    ),
    flowkit.Param(
        "timeout",
        kind="number",
        default=nbengine.DEFAULT_TIMEOUT,
        help="Seconds the whole notebook may take, kernel start included.",
    ),
    flowkit.Param("kernel", default="python3", help="The Jupyter kernel to run it on."),
]


def _root(credentials: dict[str, Any]) -> Path:
    raw = credentials.get("root")
    if not raw:
        raise ParamsError("Set root in the integration's credentials: the folder holding the notebooks.")
    root = Path(str(raw)).expanduser().resolve()
    if not root.is_dir():
        raise ParamsError(f"The notebooks folder {root} does not exist.")
    return root


def _inside(root: Path, relative: str, what: str) -> Path:
    """`relative` resolved under `root`; refused if it leaves it (``..``, an absolute path, a symlink out)."""
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise ParamsError(f"{what} {relative!r} is outside the notebooks folder; give a path inside it.")
    return path


def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Check that the notebooks folder exists and list the notebooks in it."""
    try:
        root = _root(credentials)
    except ParamsError as exc:
        return {"success": False, "message": str(exc)}
    notebooks = sorted(
        str(path.relative_to(root)) for path in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts
    )
    return {
        "success": True,
        "message": f"Found {len(notebooks)} notebook(s) in the notebooks folder.",
        "notebooks": notebooks,
    }


@flowkit.task(params=RUN_PARAMS)
def run_notebook(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Run a notebook with papermill; returns its recorded values and the executed copy's path."""
    values = validate_values(RUN_PARAMS, params or {}, what="notebook.run_notebook params", error=ParamsError)
    root = _root(credentials)
    source = _inside(root, str(values["notebook"]), "notebook")
    if not source.is_file():
        return {"success": False, "message": f"There is no notebook {values['notebook']!r} in the notebooks folder."}
    if not isinstance(values["parameters"], dict):
        raise ParamsError("notebook.run_notebook params: 'parameters' must be a JSON object of name → value.")
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 1_000_000:06d}"
    output = _inside(root, str(values.get("output") or f"outputs/{source.stem}-{stamp}.ipynb"), "output")
    shown = str(output.relative_to(root))
    started = time.monotonic()
    try:
        notebook = nbengine.execute_notebook(
            source,
            output,
            parameters=values["parameters"],
            cell_timeout=values["cell_timeout"],
            timeout=values["timeout"],
            cwd=source.parent,
            kernel_name=values["kernel"],
        )
    except FlowkitError as exc:  # a cell raised, a limit was hit, the kernel died: the copy shows where
        return {"success": False, "message": str(exc).replace(str(output), shown), "output": shown}
    recorded = records_of(notebook)
    return {
        "success": True,
        "message": f"Ran {source.name} in {time.monotonic() - started:.1f} s; "
        f"recorded {', '.join(recorded) or 'nothing'}.",
        "output": shown,
        "values": recorded,
    }
