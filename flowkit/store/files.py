"""The file store: TinyDB collections written atomically under one workspace lock.

Why not one long-lived ``TinyDB("db.json")``: with several processes (parallel
papermill jobs, a notebook and the CLI) it loses writes and breaks the file,
and a kill in the middle of its in-place write leaves a truncated file. So:

* every collection (types, integrations, workflows) is one TinyDB JSON file,
  read fresh for every operation (no per-process cache of ids or queries);
* a change takes the workspace lock (a separate ``.lock`` file), re-reads the
  file, applies the change, and writes it atomically: temp file in the same
  folder, fsync, ``os.replace``, fsync of the folder. A reader without the lock
  sees the old or the new file, never a torn one;
* JSON is strict (no NaN/Infinity). Each collection file ends with a SHA-256
  checksum of its content, so a flipped byte inside a string (still valid
  JSON) is caught too. A file that does not parse or whose checksum does not
  match is reported with its path and reason and never overwritten;
* run history is one small file per run plus an append-only index, so saving a
  run costs the same with 10 or 100,000 runs stored (see `RunStore`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from .. import jsonvalue
from ..atomic import atomic_write, sweep_temp_files
from ..errors import LockTimeout, StoreError
from .base import Store
from .checksum import check_table, dumps_checksummed, read_checked
from .runs import RunStore

LOCK_TIMEOUT = 30.0


class AtomicJSONStorage(Storage):
    """A TinyDB storage that reads strictly and writes atomically (see `atomic_write`).

    It keeps what it last read or wrote, for its own short life: `Store` makes
    one per read, or per locked transaction, during which no other process can
    change the file. TinyDB reads the whole file twice for a ``get`` and up to
    three times for an insert, and parsing is most of an operation's cost.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._memo: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._memo is not None:
            return self._memo
        data = check_table(self.path, *read_checked(self.path))
        self._memo = data
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._memo = None  # if the write fails, the next read goes back to the file
        atomic_write(self.path, dumps_checksummed(data))
        self._memo = data

    def close(self) -> None:
        pass


class FileStore(Store):
    """The workspace's collections: one TinyDB file each, one lock for all.

    Args:
        root: the workspace folder.
        lock_timeout: seconds to wait for another process's write.
    """

    def __init__(self, root: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot use {self.root} as a workspace folder: {exc.strerror or exc}.") from exc
        self.lock_path = self.root / ".lock"
        self._lock = filelock.FileLock(str(self.lock_path), timeout=lock_timeout)
        self.runs: RunStore = RunStore(self.root / "runs")

    def path(self, collection: str) -> Path:
        return self.root / f"{collection}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the workspace lock (re-entrant within a process)."""
        try:
            with self._lock:
                yield
        except filelock.Timeout:
            # The lock is an flock: the kernel releases it when its holder dies,
            # so a timeout means a live process holds it. Deleting the file would
            # let the next writer lock a new file beside that holder: never advise it.
            raise LockTimeout(
                f"Another process has held the workspace lock {self.lock_path} for "
                f"{self._lock.timeout:g} s (a long write, or a stuck flowkit process). "
                "Retry when it is done, or stop that process."
            ) from None

    def sweep(self) -> list[Path]:
        """Remove temp files of writers that died. No lock: a temp file whose writer's pid is
        dead cannot be a write in progress, so opening a workspace never waits behind one."""
        folders = (self.root, self.runs.folder, self.runs.snapshots)
        return [path for folder in folders for path in sweep_temp_files(folder)]

    def _table(self, collection: str) -> Table:
        # A fresh TinyDB (and storage) per read or transaction: TinyDB caches
        # the next id and query results per instance, and the storage keeps
        # what it read; both go stale as soon as another process writes.
        db = TinyDB(self.path(collection), storage=AtomicJSONStorage)
        return db.table("_default", cache_size=0)

    # -- reads: no lock needed, files are only ever replaced whole ------------
    def all(self, collection: str) -> list[dict[str, Any]]:
        return [dict(doc) for doc in self._table(collection).all()]

    def get(self, collection: str, name: str) -> dict[str, Any] | None:
        doc = self._table(collection).get(Query().name == name)
        return dict(doc) if doc is not None else None

    def count(self, collection: str) -> int:
        return len(self._table(collection))

    # -- writes: under the lock, re-read inside it ----------------------------
    @contextlib.contextmanager
    def _transaction(self, collection: str) -> Iterator[Table]:
        """Lock, then give a fresh table to read and change; each change is one atomic write.

        The table remembers the file's content while the lock is held (nobody
        else can write), so let an exception from it end the transaction.
        """
        with self.locked():
            yield self._table(collection)

    def insert_new(self, collection: str, doc: dict[str, Any]) -> bool:
        jsonvalue.check_json(doc, collection)
        with self._transaction(collection) as table:
            if table.contains(Query().name == doc["name"]):
                return False
            table.insert(doc)
            return True

    def upsert(self, collection: str, doc: dict[str, Any]) -> None:
        jsonvalue.check_json(doc, collection)
        with self._transaction(collection) as table:
            table.upsert(doc, Query().name == doc["name"])

    def update_many(self, collection: str, changes: Mapping[str, dict[str, Any]]) -> None:
        jsonvalue.check_json(dict(changes), collection)
        with self._transaction(collection) as table:
            table.update_multiple([(fields, Query().name == name) for name, fields in changes.items()])

    def delete(self, collection: str, name: str) -> bool:
        with self._transaction(collection) as table:
            return bool(table.remove(Query().name == name))
