"""A store in memory: the same contract as the file store, for tests and throwaway workspaces.

Documents are deep-copied in and out (as the file store's JSON round trip
does), so a caller changing what it got back never changes what is stored.
The lock is a re-entrant thread lock: one process, any number of threads.
"""

from __future__ import annotations

import copy
import io
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from .. import jsonvalue
from ..errors import RunNotFound
from .base import RunLog, Store
from .runs import RUN_EVENT, replay


class _EventLines(io.StringIO):
    """An events handle whose lines reach the log when flushed, as a file's reach the OS."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self._sink = sink

    def flush(self) -> None:
        text = self.getvalue()
        if text:
            self._sink.extend(line for line in text.splitlines() if line)
            self.seek(0)
            self.truncate()
        super().flush()

    def close(self) -> None:
        if not self.closed:
            self.flush()
        super().close()


class MemoryRunLog(RunLog):
    """Run history in memory: records, event lines and summaries, newest last."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._events: dict[str, list[str]] = {}
        self._index: list[dict[str, Any]] = []
        self._lock = threading.RLock()

    def save(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        if not checked:
            jsonvalue.check_json(record, f"run {record.get('id')}")
        jsonvalue.check_json(summary, "run summary")
        with self._lock:
            self._records[record["id"]] = copy.deepcopy(record)
            self._index.append(copy.deepcopy(summary))

    def open_events(self, run_id: str) -> TextIO:
        with self._lock:
            return _EventLines(self._events.setdefault(run_id, []))

    def finish(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        self.save(record, summary, checked=checked)
        with self._lock:
            self._events.pop(record["id"], None)

    def end(self, run_id: str, fields: dict[str, Any], summary: dict[str, Any]) -> None:
        jsonvalue.check_json(summary, "run summary")
        line = jsonvalue.dumps({RUN_EVENT: fields})
        with self._lock:
            self._events.setdefault(run_id, []).append(line)
            self._index.append(copy.deepcopy(summary))

    def load(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            if run_id not in self._records:
                raise RunNotFound(str(run_id))
            record = copy.deepcopy(self._records[run_id])
            lines = list(self._events.get(run_id, ()))
        replay(record, lines)
        return record

    def delete(self, run_id: str) -> None:
        with self._lock:
            if self._records.pop(run_id, None) is None:
                raise RunNotFound(str(run_id))
            self._events.pop(run_id, None)
            self._index.append({"id": run_id, "deleted": True})

    def summaries(self, *, workflow: str | None = None) -> Iterator[dict[str, Any]]:
        with self._lock:
            entries = list(reversed(self._index))
        seen: set[str] = set()
        for entry in entries:
            if entry["id"] in seen:
                continue
            seen.add(entry["id"])
            if entry.get("deleted") or (workflow is not None and entry.get("workflow") != workflow):
                continue
            yield copy.deepcopy(entry)


class MemoryStore(Store):
    """Collections and run history in this process's memory; gone when it ends."""

    def __init__(self) -> None:
        self._collections: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self.runs = MemoryRunLog()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def locked(self) -> threading.RLock:
        return self._lock

    def _docs(self, collection: str) -> dict[str, dict[str, Any]]:
        return self._collections.setdefault(collection, {})

    def all(self, collection: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._docs(collection).values()))

    def get(self, collection: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._docs(collection).get(name))

    def insert_new(self, collection: str, doc: dict[str, Any]) -> bool:
        jsonvalue.check_json(doc, collection)
        with self._lock:
            docs = self._docs(collection)
            if doc["name"] in docs:
                return False
            docs[doc["name"]] = copy.deepcopy(doc)
            return True

    def upsert(self, collection: str, doc: dict[str, Any]) -> None:
        jsonvalue.check_json(doc, collection)
        with self._lock:
            self._docs(collection)[doc["name"]] = copy.deepcopy(doc)

    def update_many(self, collection: str, changes: Mapping[str, dict[str, Any]]) -> None:
        jsonvalue.check_json(dict(changes), collection)
        with self._lock:
            docs = self._docs(collection)
            for name, fields in changes.items():
                if name in docs:
                    docs[name].update(copy.deepcopy(fields))

    def delete(self, collection: str, name: str) -> bool:
        with self._lock:
            return self._docs(collection).pop(name, None) is not None
