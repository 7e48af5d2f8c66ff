"""What the benchmarks share: a workspace holding one integration, ``bench``, made from a source string."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import flowkit as fk


def bench_workspace(
    root: Path,
    tasks_source: str,
    *,
    params: list[fk.Param] | None = None,
    credentials: dict[str, Any] | None = None,
) -> fk.Workspace:
    """A workspace under `root` with the module ``bench`` (its tasks: the public functions of
    `tasks_source`), its type, and the integration ``Bench``; keys stay under `root` unless set."""
    os.environ.setdefault("FLOWKIT_CONFIG_DIR", str(root / "config"))
    ws = fk.Workspace(root / "workspace")
    module = ws.path / "integrations" / "bench"
    module.mkdir(parents=True)
    (module / "tasks.py").write_text(textwrap.dedent(tasks_source))
    (module / "__init__.py").write_text("from .tasks import *  # noqa: F401,F403\n")
    ws.registry.reload()
    ws.types.create("bench", description="benchmark", params=params or [fk.Param("token", kind="password")])
    ws.integrations.create("Bench", type="bench", credentials=credentials or {"token": "bench-secret-value"})
    return ws
