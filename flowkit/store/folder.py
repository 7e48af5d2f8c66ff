"""A collection kept as a folder: one checksummed JSON file per document, named after the document.

Why not one file for the collection, as for types and integrations: a run
reads its workflow by name, and with every saved workflow in one file each run
parsed and checksummed all of them (2.5 MB of saved workflows made a one-node
run 35 times slower than in an empty workspace). Here a document's file name
is derived from its name, so reading one document reads one small file.

The rules of the other collections hold: each write replaces one file
atomically (temp file, fsync, rename, folder fsync) under the workspace lock;
each file ends with a checksum; a damaged file is reported with its path and
never overwritten; a file without its checksum (edited by hand) is read as it
is, if it still holds a document of the name its file stands for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from ..atomic import atomic_write, fsync_dir
from ..errors import CorruptStoreError
from .checksum import dumps_checksummed, read_checked

SUFFIX = ".json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def file_name(name: str) -> str:
    """The file name of the document called `name`: a readable part, and a hash that makes it unique.

    Names are display names (spaces, any script, "/"), so the readable part is
    only a hint; the hash of the whole name is what tells files apart.
    """
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    readable = _UNSAFE.sub("-", name).strip("-.")[:40] or "doc"
    return f"{readable}-{digest}{SUFFIX}"


class DocumentFolder:
    """The documents of one collection, a file each, in `folder`.

    Args:
        folder: where the files are; created on the first write.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def file(self, name: str) -> Path:
        """The file of the document called `name` (see `file_name`)."""
        return self.folder / file_name(name)

    def _files(self) -> list[str]:
        try:
            with os.scandir(self.folder) as entries:
                return [entry.name for entry in entries if entry.name.endswith(SUFFIX) and entry.name[0] != "."]
        except FileNotFoundError:
            return []

    def _read(self, file: str) -> dict[str, Any] | None:
        path = self.folder / file
        data, checksummed = read_checked(path)
        if data is None:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            kind = "no checksum and no document name" if not checksummed else "no document name"
            raise CorruptStoreError(str(path), f"it is not a flowkit document ({kind})")
        if file_name(data["name"]) != file:
            raise CorruptStoreError(
                str(path), f"it holds {data['name']!r}, whose file this is not (renamed or copied by hand)"
            )
        return data

    def get(self, name: str) -> dict[str, Any] | None:
        """The document called `name`, or None (`CorruptStoreError` if its file is damaged)."""
        return self._read(file_name(name))

    def all(self) -> list[dict[str, Any]]:
        """Every document, by name."""
        docs = [doc for doc in map(self._read, sorted(self._files())) if doc is not None]
        return sorted(docs, key=lambda doc: str(doc["name"]))

    def count(self) -> int:
        """How many documents there are (their files are not read)."""
        return len(self._files())

    def write(self, doc: dict[str, Any]) -> None:
        """Replace the document's file atomically (the caller holds the lock and checked the value)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.file(doc["name"]), dumps_checksummed(doc))

    def remove(self, name: str) -> bool:
        """Delete the document's file; whether there was one (the caller holds the lock)."""
        try:
            self.file(name).unlink()
        except FileNotFoundError:
            return False
        with contextlib.suppress(FileNotFoundError):
            fsync_dir(self.folder)
        return True
