"""`ConnectionReport`: the step-by-step result a `test_connection` task returns.

Test Connection shows each stage of a check (``config`` → ``auth`` →
``request``) and stops at the first that fails. Every integration kept the
same bookkeeping for that (a list of steps, the stage being checked, the last
step as the verdict); this is that bookkeeping once.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ..errors import FlowkitError, TaskFailed


class ConnectionReport:
    """The steps of a Test Connection check, and the result they add up to.

    Name each stage with `step` before checking it and record how it went with
    `passed` (or `failed`). Used as a context manager, a `flowkit.TaskFailed`
    leaving the block records the stage being checked as failed, with the
    exception's message, and skips the rest of the block; any other exception
    propagates. Catch other errors yourself and call `failed` with a sentence::

        report = flowkit.ConnectionReport()
        with report:
            report.step("config")
            api = connect(credentials)  # raises TaskFailed("Set token.")
            report.passed(f"Using the API at {api.base}.")
            report.step("auth")
            report.passed(f"Authenticated as {api.whoami()}.")
        return report.result()
    """

    def __init__(self) -> None:
        self._steps: list[dict[str, Any]] = []
        self._stage: str | None = None

    def step(self, name: str) -> None:
        """Start checking the stage `name`: a failure from here on is recorded under it."""
        self._open("start a step")
        self._stage = name

    def passed(self, message: str) -> None:
        """Record the current stage as passed, with a sentence saying what was found."""
        self._record(True, message)

    def failed(self, message: str) -> None:
        """Record the current stage as failed, with a sentence saying what to fix; later steps are refused."""
        self._record(False, message)

    def result(self) -> dict[str, Any]:
        """``{"success", "message", "steps"}``: the verdict and message are those of the last step recorded.

        Raises:
            FlowkitError: no step was recorded.
        """
        if not self._steps:
            raise FlowkitError("The connection report has no steps: record one with passed() or failed().")
        last = self._steps[-1]
        return {"success": last["ok"], "message": last["message"], "steps": [dict(step) for step in self._steps]}

    def __enter__(self) -> ConnectionReport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if isinstance(exc, TaskFailed):
            self.failed(str(exc))
            return True  # the failure is now a step of the result
        return False

    def _open(self, what: str) -> None:
        # After a failed step the check is over; a later step would turn the verdict into a false success.
        if self._steps and not self._steps[-1]["ok"]:
            raise FlowkitError(f"Cannot {what} after the failed step {self._steps[-1]['name']!r}.")

    def _record(self, ok: bool, message: str) -> None:
        self._open("record a step")
        if self._stage is None:
            raise FlowkitError("Name the stage with report.step(name) before recording how it went.")
        self._steps.append({"name": self._stage, "ok": ok, "message": message})
