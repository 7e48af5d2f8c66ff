"""What a workspace asks of its storage: named collections of documents, and a run log.

`Store` is flowkit's Storage in TinyDB's sense: the collections behind
``ws.types``, ``ws.integrations`` and ``ws.workflows`` are written through these
few methods only, so the backend (TinyDB files, or memory for tests) never
shows above this package. Every document is a strict-JSON dict with a unique
``name``. Reads need no lock; a change that reads first (insert-if-new, a
version bump) runs inside `locked`, which is re-entrant within a process.

`RunLog` keeps run history: a record written whole at a run's start, node
events appended as it goes, its end appended as one more event (`end`), and
newest-first summaries for listing.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO


class RunLog(abc.ABC):
    """Run history: whole records, appended node events, newest-first summaries."""

    @abc.abstractmethod
    def save(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        """Write a whole run and index it (start and end of a run)."""

    @abc.abstractmethod
    def open_events(self, run_id: str) -> TextIO:
        """An append handle for a run's node events, one JSON object a line; the caller flushes."""

    @abc.abstractmethod
    def finish(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        """Write the final record and drop the run's events."""

    def end(self, run_id: str, fields: dict[str, Any], summary: dict[str, Any]) -> None:
        """Record a run's end: `fields` (status, error, finished_at, ...) laid over its record, durably, and indexed.

        The run's node states are in its events, written as it ran, so only
        what changed at the end is written (the engine's way; `finish`
        rewrites the whole record). This default folds everything into the
        record with `finish`; backends append `fields` as a last event instead.
        """
        record = self.load(run_id)
        record.update(fields)
        self.finish(record, summary, checked=True)

    @abc.abstractmethod
    def load(self, run_id: str) -> dict[str, Any]:
        """The run's record with its snapshot resolved and its events replayed over it."""

    @abc.abstractmethod
    def delete(self, run_id: str) -> None:
        """Forget a run (`RunNotFound` if there is none)."""

    @abc.abstractmethod
    def summaries(self, *, workflow: str | None = None) -> Iterator[dict[str, Any]]:
        """Each run's latest summary, most recently recorded first (deleted runs left out)."""

    def verify(self, run_id: str) -> None:
        """Check that a run's record is whole, without keeping it (`CorruptStoreError` if not).

        Listing runs calls this for each run it shows, so a backend should do it
        in memory that does not grow with the run's size; this default loads it.
        """
        self.load(run_id)

    def list(
        self, *, workflow: str | None = None, status: str | None = None, limit: int | None = 20
    ) -> list[dict[str, Any]]:
        """Summaries of the newest runs first, filtered; `limit=None` for all."""
        found: list[dict[str, Any]] = []
        for entry in self.summaries(workflow=workflow):
            if status is not None and entry.get("status") != status:
                continue
            found.append(entry)
            if limit is not None and len(found) >= limit:
                break
        return found


class Store(abc.ABC):
    """Named collections of JSON documents, each with a unique ``name``, and a run log."""

    #: the run history beside the collections
    runs: RunLog

    @abc.abstractmethod
    def locked(self) -> contextlib.AbstractContextManager[object]:
        """Hold the store's write lock (re-entrant within a process)."""

    @abc.abstractmethod
    def all(self, collection: str) -> list[dict[str, Any]]:
        """Every document of a collection (copies)."""

    @abc.abstractmethod
    def get(self, collection: str, name: str) -> dict[str, Any] | None:
        """The document called `name`, or None."""

    @abc.abstractmethod
    def insert_new(self, collection: str, doc: dict[str, Any]) -> bool:
        """Add `doc` unless one of its name exists; whether it was added (one atomic step)."""

    @abc.abstractmethod
    def upsert(self, collection: str, doc: dict[str, Any]) -> None:
        """Add `doc`, or replace the document of its name."""

    @abc.abstractmethod
    def update_many(self, collection: str, changes: Mapping[str, dict[str, Any]]) -> None:
        """Apply ``{name: fields}`` to existing documents in one write."""

    @abc.abstractmethod
    def delete(self, collection: str, name: str) -> bool:
        """Remove the document called `name`; whether there was one."""

    def put_many(self, collection: str, docs: list[dict[str, Any]], *, drop: Iterable[str] = ()) -> None:
        """Add or replace `docs` and delete the documents named in `drop`, as one change.

        Backends that can do it in one write override this (the file store
        does); this default makes one change per document.
        """
        with self.locked():
            for name in drop:
                self.delete(collection, name)
            for doc in docs:
                self.upsert(collection, doc)

    def count(self, collection: str) -> int:
        return len(self.all(collection))

    def path(self, collection: str) -> Path | None:
        """The file holding a collection, where there is one (for messages and tests)."""
        return None

    def sweep(self) -> list[Path]:
        """Remove what dead writers left behind; what was removed."""
        return []
