"""Run history on disk: a file per run, an events file while it runs, an append-only index.

Run files end with a checksum like the collection files; a finished run's
events file ends with a line holding the checksum of the whole file;
workflow snapshots are named by the hash of their content, which is checked
when one is read. So an edited record, event or snapshot (a task changed, a
status rewritten) is reported as damaged instead of being shown or resumed
as what ran.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from .. import jsonvalue
from ..atomic import atomic_write, fsync_dir
from ..errors import CorruptStoreError, RunNotFound, StoreError
from .base import RunLog
from .checksum import CHECKSUM_KEY, dumps_checksummed, parse_checked, read_checked, verify_file

SNAPSHOT_REF = "$snapshot"
#: The last events line of a run that ended (`RunStore.end`): ``{"$run": {"status": ..., ...}, checksum}``.
RUN_EVENT = "$run"
_END_LINE = re.compile(
    rb'\{"'
    + re.escape(RUN_EVENT.encode())
    + rb'":(?P<fields>.*),"'
    + CHECKSUM_KEY.encode()
    + rb'":"sha256:(?P<digest>[0-9a-f]{64})"\}\n?$'
)


def _check_record(path: Path, run_id: str, record: Any, checksummed: bool) -> None:
    """A run file holds an object; without its checksum (written by hand), it must be this run's record."""
    if not isinstance(record, dict):
        raise CorruptStoreError(str(path), "the top level is not a JSON object")
    if not checksummed and (record.get("id") != run_id or not isinstance(record.get("workflow"), str)):
        raise CorruptStoreError(str(path), f"it is not the record of run {run_id} (no checksum, no such id)")


class RunStore(RunLog):
    """Run history: ``<id>.json`` per run, ``<id>.events.jsonl`` while it runs, ``index.jsonl``.

    * Starting a run writes its file durably and appends a line to the index.
    * Each node's progress is appended to the run's events file and flushed to
      the OS (no fsync: cheap, and a killed process loses nothing; only a
      power cut can lose the tail, which the end's fsync then covers).
    * The engine ends a run by appending its own fields (status, error,
      times) to the events file as one last line, with the checksum of the
      whole file, fsync'd, and indexing it (`end`): the finished record is
      the run file with its events replayed, so no node is encoded twice.
    * `finish` (saving a whole `Run` from outside the engine) writes the whole
      run durably, appends to the index and drops the events file.
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
        # Run files found whole, by (inode, size, mtime): a file is only ever replaced (a new inode),
        # so listing again in the same process (the runs panel's refresh) does not read them again.
        self._verified: dict[str, tuple[int, int, int]] = {}

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
        text = jsonvalue.dumps_checked(snapshot)  # checked by the caller, or below before it is kept
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        path = self.snapshots / f"{digest}.json"
        if not path.exists():
            jsonvalue.check_json(snapshot, "run snapshot")
            self.snapshots.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text.encode())
        self._last_snapshot = (snapshot, digest)
        return {SNAPSHOT_REF: digest}

    def _load_snapshot(self, reference: dict[str, Any]) -> dict[str, Any]:
        """The snapshot a run refers to, checked against its name (the hash of what was written)."""
        digest = str(reference[SNAPSHOT_REF])
        if not re.fullmatch(r"[0-9a-f]{32}", digest):
            raise CorruptStoreError(str(self.snapshots), f"bad snapshot reference {digest!r}")
        path = self.snapshots / f"{digest}.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CorruptStoreError(str(path), "the run's workflow snapshot is missing") from None
        if hashlib.sha256(raw).hexdigest()[:32] != digest:
            raise CorruptStoreError(
                str(path),
                "the workflow snapshot was changed after the run (its content no longer matches its name, the "
                "hash of what ran); restore it, or delete the runs that use it",
            )
        snapshot = parse_checked(path, raw)[0]
        if not isinstance(snapshot, dict):
            raise CorruptStoreError(str(path), "the top level is not a JSON object")
        return snapshot

    def save(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        """Write a whole run durably and index it (start and end of a run).

        Args:
            checked: the caller already checked every value as strict JSON (the
                engine checks inputs, params and each result as they arrive), so
                the whole record is not walked again.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        if not checked:
            jsonvalue.check_json(record, f"run {record.get('id')}")
        if isinstance(record.get("snapshot"), dict) and record["snapshot"]:
            record = {**record, "snapshot": self._store_snapshot(record["snapshot"])}
        jsonvalue.check_json(summary, "run summary")
        atomic_write(self._run_path(record["id"]), dumps_checksummed(record, checked=checked))
        self._append_index(summary)

    def open_events(self, run_id: str) -> TextIO:
        """An append handle for a run's node events (buffered: the engine flushes; never fsync'd)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return open(self._events_path(run_id), "a", encoding="utf-8")

    def finish(self, record: dict[str, Any], summary: dict[str, Any], *, checked: bool = False) -> None:
        self.save(record, summary, checked=checked)
        with contextlib.suppress(FileNotFoundError):
            self._events_path(record["id"]).unlink()

    def end(self, run_id: str, fields: dict[str, Any], summary: dict[str, Any]) -> None:
        """Append the run's end to its events file with the file's checksum, fsync it, and index it.

        The engine has closed its handle, so every node line is in the file;
        reading it back to hash it costs about a microsecond per node.
        """
        jsonvalue.check_json(summary, "run summary")
        path = self._events_path(run_id)
        try:
            before = path.read_bytes()
        except FileNotFoundError:
            before = b""
        text = jsonvalue.dumps(fields).encode()
        digest = hashlib.sha256(before + text).hexdigest()
        line = b'{"%s":%s,"%s":"sha256:%s"}\n' % (RUN_EVENT.encode(), text, CHECKSUM_KEY.encode(), digest.encode())
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)  # every node line before it too: they are in the same file
        finally:
            os.close(fd)
        fsync_dir(self.folder)  # the events file's own name, created at start, is durable too
        self._append_index(summary)

    def _events(self, run_id: str) -> list[str]:
        """A run's event lines; those of an ended run checked against the checksum its end holds."""
        path = self._events_path(run_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        start = raw.rfind(b'{"' + RUN_EVENT.encode() + b'":')
        end = _END_LINE.match(raw, start) if start >= 0 else None
        if end is not None:
            digest = hashlib.sha256(raw[:start] + end.group("fields")).hexdigest()
            if digest != end.group("digest").decode():
                raise CorruptStoreError(
                    str(path), "the run's events were changed after it ended (its checksum no longer matches)"
                )
        elif start >= 0 and b'"' + CHECKSUM_KEY.encode() + b'"' in raw[start:]:
            raise CorruptStoreError(str(path), "lines follow the run's end, or its end line is damaged")
        return raw.decode("utf-8", "replace").splitlines()

    def _record(self, run_id: str) -> dict[str, Any]:
        """The run file's record, checked: its checksum, or (without one) that it is this run's record."""
        path = self._run_path(run_id)
        record, checksummed = read_checked(path)
        if record is None:
            raise RunNotFound(run_id)
        _check_record(path, run_id, record, checksummed)
        assert isinstance(record, dict)
        return record

    def verify(self, run_id: str) -> None:
        """Check a run file in chunks (flat memory); one without a checksum is parsed to be judged.

        A file found whole is not read again by this store while its inode,
        size and mtime stay the same (flowkit only ever replaces run files).
        """
        path = self._run_path(run_id)
        try:
            status = path.stat()
            stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
            if self._verified.get(run_id) == stamp:
                return
            if not verify_file(path):
                self._record(run_id)
        except FileNotFoundError:
            raise RunNotFound(run_id) from None
        self._verified[run_id] = stamp

    def load(self, run_id: str) -> dict[str, Any]:
        record = self._record(run_id)
        if isinstance(record.get("snapshot"), dict) and SNAPSHOT_REF in record["snapshot"]:
            record["snapshot"] = self._load_snapshot(record["snapshot"])
        replay(record, self._events(run_id))
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
                record = self.load(name[: -len(".json")])  # its end, if it ended, is in its events
            except (StoreError, RunNotFound):
                continue
            if isinstance(record, dict) and "id" in record:
                self._append_index(
                    {
                        key: record.get(key)
                        for key in ("id", "workflow", "status", "trigger", "started_at", "finished_at", "pid", "host")
                    }
                )


def replay(record: dict[str, Any], lines: Iterable[str]) -> None:
    """Lay a run's event lines over its record, in order: node states, then its end (`RUN_EVENT`)."""
    nodes = record.setdefault("nodes", {})
    for line in lines:
        try:
            event = jsonvalue.loads(line)
        except ValueError:
            continue  # the last line torn by a kill
        if not isinstance(event, dict):
            continue
        if isinstance(event.get("name"), str):
            nodes[event["name"]] = event
        elif isinstance(event.get(RUN_EVENT), dict):
            record.update(event[RUN_EVENT])
