"""Persistence: TinyDB collections written atomically, and an append-friendly run history.

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
import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from . import jsonvalue
from .errors import CorruptStoreError, LockTimeout, RunNotFound, StoreError

LOCK_TIMEOUT = 30.0
NUL = b"\x00"
_TEMP = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]+$")
CHECKSUM_KEY = "_flowkit_checksum"
SNAPSHOT_REF = "$snapshot"
# How every checksummed file ends; matched on the raw bytes so that damage to
# the key's own name is caught as well.
_CHECKSUM_TAIL = re.compile(rb'"(?P<key>[^"]*)":"(?P<value>[^"]*)"\}\s*$')


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` so that readers and crashes see old or new, never half.

    1. write to a temp file in the same folder (same filesystem, so the rename is atomic);
    2. fsync it, so its bytes are on disk before the name points at them;
    3. ``os.replace`` it over the target;
    4. fsync the folder, so the new name itself survives a power cut.
    The temp name carries our pid, so `sweep_temp_files` can tell an orphan
    (its writer died) from a write in progress.
    """
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def sweep_temp_files(folder: Path) -> list[Path]:
    """Remove temp files left by writers that died mid-write; returns what was removed."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in os.scandir(folder):
        match = _TEMP.match(entry.name)
        if match and not pid_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def read_json_file(path: Path) -> Any:
    """Parse a strict JSON file, or raise `CorruptStoreError` naming the path and reason."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        raise CorruptStoreError(str(path), "the file is empty")
    if NUL in raw:
        raise CorruptStoreError(str(path), f"NUL bytes at offset {raw.index(NUL)}")
    try:
        data = jsonvalue.loads(raw)
    except UnicodeDecodeError as exc:
        raise CorruptStoreError(str(path), f"not UTF-8 at byte {exc.start}") from None
    except ValueError as exc:
        raise CorruptStoreError(str(path), f"invalid JSON: {exc}") from None
    if isinstance(data, dict):
        _verify_checksum(path, raw, data)
    return data


def dumps_checksummed(data: dict[str, Any]) -> bytes:
    """Strict JSON of `data` with a last member holding the SHA-256 of everything else.

    The body is ``dumps(data)``; the checksum member is spliced in before its
    closing brace, so the file stays one plain JSON object.
    """
    body = jsonvalue.dumps(data).encode()
    digest = hashlib.sha256(body).hexdigest()
    separator = b"," if data else b""
    return body[:-1] + separator + f'"{CHECKSUM_KEY}":"sha256:{digest}"}}'.encode()


def _verify_checksum(path: Path, raw: bytes, data: dict[str, Any]) -> None:
    """Check and remove the checksum member; a file without one (written by hand) is accepted."""
    # The checksum member is the last ~100 bytes; searching only there keeps this O(1).
    tail = _CHECKSUM_TAIL.search(raw, max(0, len(raw) - 256))
    if CHECKSUM_KEY not in data:
        if tail is not None and tail.group("value").startswith(b"sha256:"):
            raise CorruptStoreError(str(path), "its checksum entry is damaged")
        return
    stored = data.pop(CHECKSUM_KEY)
    if tail is None or tail.group("key") != CHECKSUM_KEY.encode():
        body = None  # the checksum is not where flowkit puts it: edited by hand
    else:
        body = raw[: tail.start()].rstrip()
        body = (body[:-1] if body.endswith(b",") else body) + b"}"
    if body is None or stored != f"sha256:{hashlib.sha256(body).hexdigest()}":
        raise CorruptStoreError(
            str(path),
            "its content does not match its checksum: bytes changed after flowkit wrote it "
            f"(disk damage, or an edit by hand; if you edited it on purpose, delete its "
            f'"{CHECKSUM_KEY}" entry)',
        )


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
        data = read_json_file(self.path)
        if data is not None and not isinstance(data, dict):
            raise CorruptStoreError(str(self.path), "the top level is not a JSON object")
        self._memo = data
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._memo = None  # if the write fails, the next read goes back to the file
        atomic_write(self.path, dumps_checksummed(data))
        self._memo = data

    def close(self) -> None:
        pass


class Store:
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
        self.runs = RunStore(self.root / "runs")

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
    def transaction(self, collection: str) -> Iterator[Table]:
        """Lock, then give a fresh table to read and change; each change is one atomic write.

        The table remembers the file's content while the lock is held (nobody
        else can write), so let an exception from it end the transaction.
        """
        with self.locked():
            yield self._table(collection)

    def insert(self, collection: str, doc: dict[str, Any]) -> None:
        jsonvalue.check_json(doc, collection)
        with self.transaction(collection) as table:
            table.insert(doc)

    def upsert(self, collection: str, doc: dict[str, Any]) -> None:
        jsonvalue.check_json(doc, collection)
        with self.transaction(collection) as table:
            table.upsert(doc, Query().name == doc["name"])

    def delete(self, collection: str, name: str) -> bool:
        with self.transaction(collection) as table:
            return bool(table.remove(Query().name == name))


class RunStore:
    """Run history: ``<id>.json`` per run, ``<id>.events.jsonl`` while it runs, ``index.jsonl``.

    * Starting a run writes its file durably and appends a line to the index.
    * Each node's progress is appended to the run's events file and flushed to
      the OS (no fsync: cheap, and a killed process loses nothing; only a
      power cut can lose the tail, which the final write then restores).
    * Finishing writes the whole run durably, appends to the index and drops
      the events file.
    * Loading a run replays its events file over the run file, so a run whose
      process was killed still says which nodes finished.
    * Listing the newest runs reads the index from its end, so it costs the
      same however long the history is.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.index_path = self.folder / "index.jsonl"
        self.snapshots = self.folder / "snapshots"
        self._last_snapshot: tuple[Any, str] | None = None

    def _run_path(self, run_id: str) -> Path:
        if not re.fullmatch(r"[0-9A-Za-z_-]{1,80}", run_id or ""):
            raise RunNotFound(str(run_id))
        return self.folder / f"{run_id}.json"

    def _events_path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.events.jsonl"

    def _append_index(self, summary: dict[str, Any]) -> None:
        # One write() on an O_APPEND descriptor lands after every other
        # process's lines. The leading newline ends a line torn by a crash
        # (power cut, full disk), so only that line is lost, not this one too.
        line = ("\n" + jsonvalue.dumps(summary) + "\n").encode()
        fd = os.open(self.index_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def _store_snapshot(self, snapshot: Any) -> dict[str, str]:
        """Keep a workflow snapshot once, named by its hash; return the reference a run record holds.

        Runs of the same workflow version share one snapshot file, so a run's
        own file stays small and saving it (at start and end) does not check
        and re-encode a large DAG each time.
        """
        if self._last_snapshot is not None and self._last_snapshot[0] is snapshot:
            return {SNAPSHOT_REF: self._last_snapshot[1]}
        text = jsonvalue.dumps(snapshot)
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        path = self.snapshots / f"{digest}.json"
        if not path.exists():
            jsonvalue.check_json(snapshot, "run snapshot")
            self.snapshots.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text.encode())
        self._last_snapshot = (snapshot, digest)
        return {SNAPSHOT_REF: digest}

    def _load_snapshot(self, reference: dict[str, Any]) -> dict[str, Any]:
        digest = str(reference[SNAPSHOT_REF])
        if not re.fullmatch(r"[0-9a-f]{32}", digest):
            raise CorruptStoreError(str(self.snapshots), f"bad snapshot reference {digest!r}")
        snapshot = read_json_file(self.snapshots / f"{digest}.json")
        if snapshot is None:
            raise CorruptStoreError(str(self.snapshots / f"{digest}.json"), "the run's workflow snapshot is missing")
        return snapshot

    def save(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        """Write a whole run durably and index it (start and end of a run).

        Args:
            checked: the caller already checked every value as strict JSON (the
                engine checks inputs, params and each result as they arrive), so
                the whole record is not walked again.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        if isinstance(record.get("snapshot"), dict) and record["snapshot"]:
            record = {**record, "snapshot": self._store_snapshot(record["snapshot"])}
        if not checked:
            jsonvalue.check_json(record, f"run {record.get('id')}")
        jsonvalue.check_json(summary, "run summary")
        atomic_write(self._run_path(record["id"]), jsonvalue.dumps(record).encode())
        self._append_index(summary)

    def open_events(self, run_id: str) -> Any:
        """An append handle for a run's node events (line-buffered, not fsync'd)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return open(self._events_path(run_id), "a", encoding="utf-8", buffering=1)

    def finish(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        self.save(record, summary, checked=checked)
        with contextlib.suppress(FileNotFoundError):
            self._events_path(record["id"]).unlink()

    def load(self, run_id: str) -> dict[str, Any]:
        path = self._run_path(run_id)
        record = read_json_file(path)
        if record is None:
            raise RunNotFound(run_id)
        if isinstance(record.get("snapshot"), dict) and SNAPSHOT_REF in record["snapshot"]:
            record["snapshot"] = self._load_snapshot(record["snapshot"])
        events = self._events_path(run_id)
        if events.exists():
            for line in events.read_text(encoding="utf-8").splitlines():
                try:
                    node = jsonvalue.loads(line)
                except ValueError:
                    continue  # the last line torn by a kill
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    record.setdefault("nodes", {})[node["name"]] = node
        return record

    def delete(self, run_id: str) -> None:
        path = self._run_path(run_id)
        if not path.exists():
            raise RunNotFound(run_id)
        path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self._events_path(run_id).unlink()
        self._append_index({"id": run_id, "deleted": True})

    def _index_lines_newest_first(self, chunk: int = 64 * 1024) -> Iterator[dict[str, Any]]:
        if not self.index_path.exists():
            self._rebuild_index()
        try:
            handle = open(self.index_path, "rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(0, os.SEEK_END)
            position = handle.tell()
            tail = b""
            while position > 0:
                step = min(chunk, position)
                position -= step
                handle.seek(position)
                block = handle.read(step) + tail
                lines = block.split(b"\n")
                tail = lines.pop(0)  # may be the end of a line in the previous block
                for raw in reversed(lines):
                    entry = self._parse_index_line(raw)
                    if entry is not None:
                        yield entry
            entry = self._parse_index_line(tail)
            if entry is not None:
                yield entry

    @staticmethod
    def _parse_index_line(raw: bytes) -> dict[str, Any] | None:
        if not raw.strip():
            return None
        try:
            entry = jsonvalue.loads(raw)
        except ValueError:
            return None
        return entry if isinstance(entry, dict) and "id" in entry else None

    def summaries(self, *, workflow: str | None = None) -> Iterator[dict[str, Any]]:
        """Each run's latest summary, most recently recorded first (deleted runs left out)."""
        seen: set[str] = set()
        for entry in self._index_lines_newest_first():
            if entry["id"] in seen:
                continue
            seen.add(entry["id"])
            if entry.get("deleted"):
                continue
            if workflow is not None and entry.get("workflow") != workflow:
                continue
            yield entry

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

    def _rebuild_index(self) -> None:
        """Recreate a lost index from the run files (oldest first)."""
        if not self.folder.is_dir():
            return
        names = sorted(
            entry.name
            for entry in os.scandir(self.folder)
            if entry.name.endswith(".json") and not entry.name.startswith(".")
        )
        for name in names:
            try:
                record = read_json_file(self.folder / name)
            except StoreError:
                continue
            if isinstance(record, dict) and "id" in record:
                self._append_index(
                    {
                        key: record.get(key)
                        for key in ("id", "workflow", "status", "trigger", "started_at", "finished_at")
                    }
                )
