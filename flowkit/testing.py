"""Public test doubles, so users test their own workflows the way flowkit tests itself.

* `temporary_workspace` — a throw-away workspace folder with its own key, for
  one test or one notebook experiment, removed afterwards.
* `RecordingIntegration` — an integration module that records every call it
  gets (task, params, which credential *fields* it was given — never their
  values) and answers as told, so a workflow's wiring can be checked without
  touching a real service. Calls are recorded in a JSON-lines file, so they
  are seen whether the task ran in a thread, a child process (timeouts) or on
  a Dask worker of the same machine.

Example::

    with fk.testing.temporary_workspace() as ws:
        rec = fk.testing.RecordingIntegration(ws, answers={"notify": {"id": 7}})
        wf = fk.Workflow("demo")
        wf.add_node("a", integration=rec.integration, task="notify", params={"text": "hi"})
        ws.run(wf)
        assert rec.calls == [{"task": "notify", "params": {"text": "hi"}, "credential_fields": ["token"]}]
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .crypto import KeySource
from .jsonvalue import check_json
from .model import Param, check_identifier
from .workspace import Workspace

_TASKS_SOURCE = '''\
"""Recording test double written by flowkit.testing.RecordingIntegration."""

import json
import os

_CALLS = {calls!r}
_ANSWERS = {answers!r}


def _record(task, credentials, params):
    line = json.dumps({{"task": task, "params": params, "credential_fields": sorted(credentials)}})
    with open(_CALLS, "a", encoding="utf-8") as handle:
        handle.write(line + "\\n")
    answer = dict(_ANSWERS.get(task, {{}}))
    if answer.pop("raise", None):
        raise RuntimeError(answer.get("message", task + " was told to fail"))
    return {{"success": True, "message": task + " recorded", **answer}}


def test_connection(credentials, params):
    """Always reachable; records the call."""
    return _record("test_connection", credentials, params)

'''

_TASK_SOURCE = '''
def {name}(credentials, params):
    """Record the call and answer as told."""
    return _record({name!r}, credentials, params)
'''


class RecordingIntegration:
    """Write an integration module into `ws` that records its calls, with a type and an integration.

    Args:
        ws: the workspace to install it in.
        name: the module and type name.
        tasks: task names besides ``test_connection``.
        answers: per task, extra keys merged into its result; ``{"raise": True}`` makes it raise,
            ``{"success": False, "message": ...}`` makes it fail.
        credentials: the credential values of the integration created (default: a dummy token).
    """

    def __init__(
        self,
        ws: Workspace,
        name: str = "recorder",
        *,
        tasks: tuple[str, ...] = ("notify", "fetch"),
        answers: dict[str, dict[str, Any]] | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> None:
        check_identifier(name, "Integration module name")
        for task in tasks:
            check_identifier(task, "Task name")
        self.ws = ws
        self.name = name
        self.integration = f"{name} (recording)"
        self.calls_path = ws.path / f".{name}-calls.jsonl"
        answers = check_json(dict(answers or {}), "answers")
        folder = ws.path / "integrations" / name
        folder.mkdir(parents=True, exist_ok=True)
        source = _TASKS_SOURCE.format(calls=str(self.calls_path), answers=answers)
        source += "".join(_TASK_SOURCE.format(name=task) for task in tasks)
        (folder / "tasks.py").write_text(source)
        exported = ["test_connection", *tasks]
        (folder / "__init__.py").write_text(
            textwrap.dedent(f'''\
                """A recording test double."""
                from .tasks import {", ".join(exported)}

                __all__ = {exported!r}
            ''')
        )
        ws.registry.reload()
        if name not in {t.name for t in ws.types.list()}:
            ws.types.create(
                name, description="Recording test double", params=[Param("token", kind="password", required=True)]
            )
        if self.integration not in {i.name for i in ws.integrations.list()}:
            ws.integrations.create(self.integration, type=name, credentials=credentials or {"token": "recording-token"})

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call so far, oldest first: task, params and the credential field names."""
        if not self.calls_path.exists():
            return []
        return [json.loads(line) for line in self.calls_path.read_text(encoding="utf-8").splitlines() if line]

    def reset(self) -> None:
        """Forget the recorded calls."""
        with contextlib.suppress(FileNotFoundError):
            self.calls_path.unlink()


@contextlib.contextmanager
def temporary_workspace() -> Iterator[Workspace]:
    """A workspace in a temporary folder with its own key, removed (with the key) on exit.

    The key lives in the temporary folder too (``keys=KeySource(folder)``), so
    the user's own key and ``FLOWKIT_SECRET_KEY`` are never read or touched,
    and nothing in ``os.environ`` changes: other threads and workspaces see
    the environment as it was. Jobs started from it hand their kernels the same
    key folder.
    """
    with tempfile.TemporaryDirectory(prefix="flowkit-test-") as root:
        yield Workspace(Path(root) / "workspace", keys=KeySource(Path(root) / "config"))
