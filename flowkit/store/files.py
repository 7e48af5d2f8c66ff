"""The file store: TinyDB collections written atomically under one workspace lock.

Why not one long-lived ``TinyDB("db.json")``: with several processes (parallel
papermill jobs, a notebook and the CLI) it loses writes and breaks the file,
and a kill in the middle of its in-place write leaves a truncated file. So:

* types and integrations are one TinyDB JSON file each, read fresh for every
  operation (no per-process cache of ids or queries); workflows, read one at a
  time by every run, are a folder with a file per workflow (`DocumentFolder`),
  so a run reads its workflow alone however many are saved;
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
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from .. import jsonvalue
from ..atomic import atomic_write, fsync_dir, sweep_temp_files
from ..errors import LockTimeout, StoreError
from .base import Store
from .checksum import check_table, dumps_checksummed, read_checked
from .folder import DocumentFolder
from .runs import RunStore

LOCK_TIMEOUT = 30.0
#: collections kept as a folder with a file per document (see `DocumentFolder`)
FOLDERS = ("workflows",)


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
        folders: the collections kept as a folder of files, one per document.
    """

    def __init__(self, root: Path, *, lock_timeout: float = LOCK_TIMEOUT, folders: Iterable[str] = FOLDERS) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot use {self.root} as a workspace folder: {exc.strerror or exc}.") from exc
        self.lock_path = self.root / ".lock"
        self._lock = filelock.FileLock(str(self.lock_path), timeout=lock_timeout)
        self.runs: RunStore = RunStore(self.root / "runs")
        self._folders = {name: DocumentFolder(self.root / name) for name in folders}
        self._converted: set[str] = set()

    def path(self, collection: str) -> Path:
        """The collection's file, or its folder for those kept a file per document."""
        if collection in self._folders:
            return self._folders[collection].folder
        return self.root / f"{collection}.json"

    def _folder(self, collection: str) -> DocumentFolder | None:
        """The collection's folder, if it is kept as one, converted from a single file first if needed."""
        folder = self._folders.get(collection)
        if folder is not None and collection not in self._converted:
            self._convert(collection, folder)
        return folder

    def _convert(self, collection: str, folder: DocumentFolder) -> None:
        """Move a collection written as one file (by an older flowkit) into its folder, once.

        Under the lock: each document is written to its own file (durably), and
        only then is the old file removed; a kill halfway leaves the old file,
        and the next open converts it again from the start.
        """
        legacy = self.root / f"{collection}.json"
        if legacy.exists():
            with self.locked():
                if legacy.exists():
                    for doc in self._table(legacy).all():
                        folder.write(dict(doc))
                    legacy.unlink()
                    fsync_dir(self.root)
        self._converted.add(collection)

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
        folders = (self.root, self.runs.folder, self.runs.snapshots, *(f.folder for f in self._folders.values()))
        return [path for folder in folders for path in sweep_temp_files(folder)]

    def _table(self, path: Path) -> Table:
        # A fresh TinyDB (and storage) per read or transaction: TinyDB caches
        # the next id and query results per instance, and the storage keeps
        # what it read; both go stale as soon as another process writes.
        db = TinyDB(path, storage=AtomicJSONStorage)
        return db.table("_default", cache_size=0)

    # -- reads: no lock needed, files are only ever replaced whole ------------
    def all(self, collection: str) -> list[dict[str, Any]]:
        folder = self._folder(collection)
        if folder is not None:
            return folder.all()
        return [dict(doc) for doc in self._table(self.path(collection)).all()]

    def get(self, collection: str, name: str) -> dict[str, Any] | None:
        folder = self._folder(collection)
        if folder is not None:
            return folder.get(name)
        doc = self._table(self.path(collection)).get(Query().name == name)
        return dict(doc) if doc is not None else None

    def count(self, collection: str) -> int:
        folder = self._folder(collection)
        return folder.count() if folder is not None else len(self._table(self.path(collection)))

    # -- writes: under the lock, re-read inside it ----------------------------
    @contextlib.contextmanager
    def _transaction(self, collection: str) -> Iterator[Table]:
        """Lock, then give a fresh table to read and change; each change is one atomic write.

        The table remembers the file's content while the lock is held (nobody
        else can write), so let an exception from it end the transaction.
        """
        with self.locked():
            yield self._table(self.path(collection))

    def insert_new(self, collection: str, doc: dict[str, Any]) -> bool:
        jsonvalue.check_json(doc, collection)
        folder = self._folder(collection)
        if folder is not None:
            with self.locked():
                if folder.get(doc["name"]) is not None:
                    return False
                folder.write(doc)
                return True
        with self._transaction(collection) as table:
            if table.contains(Query().name == doc["name"]):
                return False
            table.insert(doc)
            return True

    def upsert(self, collection: str, doc: dict[str, Any]) -> None:
        jsonvalue.check_json(doc, collection)
        folder = self._folder(collection)
        if folder is not None:
            with self.locked():
                folder.get(doc["name"])  # a damaged file is reported, never overwritten
                folder.write(doc)
            return
        with self._transaction(collection) as table:
            table.upsert(doc, Query().name == doc["name"])

    def update_many(self, collection: str, changes: Mapping[str, dict[str, Any]]) -> None:
        """Apply ``{name: fields}``: one atomic write for a file collection, one per document for a folder."""
        jsonvalue.check_json(dict(changes), collection)
        folder = self._folder(collection)
        if folder is not None:
            with self.locked():
                found = {name: folder.get(name) for name in changes}  # all read (and checked) before any write
                for name, doc in found.items():
                    if doc is not None:
                        folder.write({**doc, **changes[name]})
            return
        with self._transaction(collection) as table:
            table.update_multiple([(fields, Query().name == name) for name, fields in changes.items()])

    def put_many(self, collection: str, docs: list[dict[str, Any]], *, drop: Iterable[str] = ()) -> None:
        """Add or replace `docs` and delete `drop`: for a file collection, two atomic writes under one lock."""
        jsonvalue.check_json(docs, collection)
        if self._folder(collection) is not None:  # a file per document: one write each, as `Store` does it
            super().put_many(collection, docs, drop=drop)
            return
        names = {doc["name"] for doc in docs} | set(drop)
        with self._transaction(collection) as table:
            if names:
                table.remove(Query().name.one_of(sorted(names)))
            if docs:
                table.insert_multiple(docs)

    def delete(self, collection: str, name: str) -> bool:
        folder = self._folder(collection)
        if folder is not None:
            with self.locked():
                return folder.get(name) is not None and folder.remove(name)
        with self._transaction(collection) as table:
            return bool(table.remove(Query().name == name))
