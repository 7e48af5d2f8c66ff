"""Workflows as papermill jobs: one run per job, its output notebook the run's report.

- `job`: `run_job` — check what crosses in, execute the template on flowkit's
  kernel engine, scrub the output notebook, read the run back (`JobResult`);
- `batch`: `run_batch` — one job per inputs line, N at a time (`BatchResult`);
- `inputs`: what may cross into a job (names, strict JSON, no stored secret);
- `papermill_engine`: the papermill engine on a blocking kernel client, under deadlines;
- `in_kernel`: what the job template runs inside its kernel;
- `report`: `RunReport`, what the output notebook shows of the run;
- `recording`: `flowkit.record`, values a notebook hands back inside its outputs.

Names are imported on first use: a kernel calling `flowkit.record` loads
`recording` alone, not papermill.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch import BatchResult, run_batch
    from .inputs import check_inputs, parse_cli_value, read_batch_file
    from .job import (
        DEFAULT_PARALLEL,
        DEFAULT_TIMEOUT,
        JobResult,
        default_report_path,
        notebooks_folder,
        run_job,
        template_path,
    )
    from .report import report_path, sign_notebook, write_report

_EXPORTS = {
    "BatchResult": "batch",
    "DEFAULT_PARALLEL": "job",
    "DEFAULT_TIMEOUT": "job",
    "JobResult": "job",
    "check_inputs": "inputs",
    "default_report_path": "job",
    "notebooks_folder": "job",
    "parse_cli_value": "inputs",
    "read_batch_file": "inputs",
    "run_batch": "batch",
    "run_job": "job",
    "template_path": "job",
    "report_path": "report",
    "sign_notebook": "report",
    "write_report": "report",
}

__all__ = [
    "BatchResult",
    "DEFAULT_PARALLEL",
    "DEFAULT_TIMEOUT",
    "JobResult",
    "check_inputs",
    "default_report_path",
    "notebooks_folder",
    "parse_cli_value",
    "read_batch_file",
    "report_path",
    "run_batch",
    "run_job",
    "sign_notebook",
    "template_path",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
