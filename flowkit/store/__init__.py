"""Persistence behind one small interface (`Store`, `RunLog`), with two backends.

- `files`: `FileStore`, TinyDB JSON files written atomically under one
  workspace lock, each ending with a checksum (`checksum`); the default.
- `runs`: `RunStore`, the file run history (a file per run, an events file
  while it runs, an append-only index read from its end).
- `memory`: `MemoryStore`, the same contract in memory, for tests.

TinyDB is imported only by `files`; nothing above this package names it.
"""

from __future__ import annotations

from .base import RunLog, Store
from .checksum import CHECKSUM_KEY, dumps_checksummed, read_json_file
from .files import LOCK_TIMEOUT, FileStore
from .memory import MemoryRunLog, MemoryStore
from .runs import SNAPSHOT_REF, RunStore

__all__ = [
    "CHECKSUM_KEY",
    "LOCK_TIMEOUT",
    "SNAPSHOT_REF",
    "FileStore",
    "MemoryRunLog",
    "MemoryStore",
    "RunLog",
    "RunStore",
    "Store",
    "dumps_checksummed",
    "read_json_file",
]
