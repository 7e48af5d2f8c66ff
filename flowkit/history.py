"""``ws.runs``: the run history, read whole for one run and from the run index for a listing.

`RunCollection.listing` lists runs from the index, so its memory does not grow
with what the runs returned, and names the damaged run files it meets instead
of failing the whole listing; `get` reads one run whole, checked.
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

from .atomic import pid_alive
from .errors import CorruptStoreError, RunNotFound
from .model import Run, RunSummary
from .store import RunLog


class RunListing(NamedTuple):
    """The runs a listing found, newest first, and the run files it found damaged (not listed)."""

    runs: list[RunSummary]
    damaged: list[CorruptStoreError]


class RunCollection:
    """Run history, newest first."""

    def __init__(self, log: RunLog, host: str) -> None:
        self._log = log
        self._host = host

    def _mark_if_interrupted(self, record: Run | RunSummary) -> None:
        """A run recorded as running whose process on this host is gone failed: it was interrupted."""
        if record.status == "running" and record.host == self._host and record.pid and not pid_alive(int(record.pid)):
            record.status = "failed"
            record.error = f"Interrupted: process {record.pid} ended before the run finished."

    def get(self, run_id: str) -> Run:
        """A run; one whose process died mid-run says it was interrupted."""
        run = Run.from_dict(self._log.load(run_id))
        self._mark_if_interrupted(run)
        return run

    def listing(self, *, workflow: str | None = None, status: str | None = None, limit: int | None = 20) -> RunListing:
        """The newest runs first, as summaries from the run index, and the damaged run files met on the way.

        Nothing of the runs' nodes or results is read, so memory stays flat
        however large they are; each listed run's file is still checked whole
        (in chunks), and a damaged one is reported in `damaged` instead of
        ending the listing. A run indexed as running whose process died is
        listed as failed (interrupted); the status filter applies to that.
        """
        runs: builtins.list[RunSummary] = []
        damaged: builtins.list[CorruptStoreError] = []
        for entry in self._log.summaries(workflow=workflow):
            if status is not None and entry.get("status") not in (status, "running"):
                continue
            try:
                summary = self._summary(entry)
                if status is not None and summary.status != status:
                    continue
                self._log.verify(summary.id)
            except RunNotFound:
                continue  # indexed, but its file was removed by hand
            except CorruptStoreError as exc:
                damaged.append(exc)
                continue
            runs.append(summary)
            if limit is not None and len(runs) >= limit:
                break
        return RunListing(runs, damaged)

    def _summary(self, entry: dict[str, Any]) -> RunSummary:
        summary = RunSummary.from_dict(entry)
        if summary.status == "running" and summary.pid is None:
            # An index line written before runs recorded their process: the file says.
            run = self.get(summary.id)
            summary.status, summary.error = run.status, run.error
        else:
            self._mark_if_interrupted(summary)
        return summary

    def list(self, *, workflow: str | None = None, status: str | None = None, limit: int | None = 20) -> list[Run]:
        """The newest runs first, whole, optionally of one workflow or status (damaged ones left out).

        For a long history or large results, `listing` gives summaries and
        says which run files are damaged.
        """
        found: builtins.list[Run] = []
        for summary in self.listing(workflow=workflow, status=status, limit=limit).runs:
            try:
                found.append(self.get(summary.id))
            except (RunNotFound, CorruptStoreError):
                continue  # deleted or damaged since it was listed
        return found

    def save(self, run: Run, *, final: bool = True, checked: bool = False) -> None:
        """Write a whole run record durably (the engine calls this at start and end).

        Args:
            final: the run is over: its events file is folded in and removed.
            checked: every value in the run was already checked as strict JSON.
        """
        saver = self._log.finish if final else self._log.save
        saver(run.to_dict(), run.summary(), checked=checked)

    def delete(self, run_id: str) -> None:
        self._log.delete(run_id)
