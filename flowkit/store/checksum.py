"""Strict JSON files that end with a SHA-256 of their content, and how they are read back.

A flipped byte inside a string still parses as JSON, so each collection file
and run file ends with a checksum member; a file that does not parse or does
not match is a `CorruptStoreError` naming the path and the reason, and is
never overwritten. A file without the member (edited by hand, on purpose) is
read as it is: its reader then checks that it holds what it should (see
`read_checked`), so other valid JSON put in its place is damage, not data.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from .. import jsonvalue
from ..errors import CorruptStoreError

NUL = b"\x00"
CHECKSUM_KEY = "_flowkit_checksum"
# How every checksummed file ends; matched on the raw bytes so that damage to
# the key's own name is caught as well.
_CHECKSUM_TAIL = re.compile(rb'"(?P<key>[^"]*)":"(?P<value>[^"]*)"\}\s*$')
_MISMATCH = (
    "its content does not match its checksum: bytes changed after flowkit wrote it "
    f"(disk damage, or an edit by hand; if you edited it on purpose, delete its "
    f'"{CHECKSUM_KEY}" entry)'
)


def read_json_file(path: Path) -> Any:
    """Parse a strict JSON file, or raise `CorruptStoreError` naming the path and reason."""
    return read_checked(path)[0]


def read_checked(path: Path) -> tuple[Any, bool]:
    """Parse a strict JSON file; also whether it carried a checksum (verified and removed).

    Raises:
        CorruptStoreError: naming the path and the reason.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, False
    return parse_checked(path, raw)


def parse_checked(path: Path, raw: bytes) -> tuple[Any, bool]:
    """`read_checked` on bytes already read from `path` (named in errors)."""
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
    checksummed = isinstance(data, dict) and _verify_checksum(path, raw, data)
    return data, checksummed


def verify_file(path: Path, *, chunk: int = 1 << 16) -> bool:
    """Check a file against its checksum member reading it in chunks, so memory stays flat.

    Returns:
        True when the checksum matches; False when the file has none where
        flowkit puts it (edited by hand, or cut short): parse it to judge.

    Raises:
        FileNotFoundError: there is no such file.
        CorruptStoreError: the file is empty or its content does not match.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise CorruptStoreError(str(path), "the file is empty")
        window = max(0, size - 256)
        handle.seek(window)
        tail_bytes = handle.read()
        tail = _CHECKSUM_TAIL.search(tail_bytes)
        if tail is None or tail.group("key") != CHECKSUM_KEY.encode():
            return False
        before = tail_bytes[: tail.start()].rstrip()
        if not before and window:
            return False  # the body's end is outside the window: let a full read judge
        end = window + len(before) - (1 if before.endswith(b",") else 0)
        digest = hashlib.sha256()
        handle.seek(0)
        left = end
        while left > 0:
            block = handle.read(min(chunk, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
        digest.update(b"}")
    if tail.group("value").decode(errors="replace") != f"sha256:{digest.hexdigest()}":
        raise CorruptStoreError(str(path), _MISMATCH)
    return True


def dumps_checksummed(data: dict[str, Any], *, checked: bool = False) -> bytes:
    """Strict JSON of `data` with a last member holding the SHA-256 of everything else.

    The body is ``dumps(data)`` (``dumps_checked_bytes`` when the caller has
    `checked` every value already); the checksum member is spliced in before
    its closing brace, so the file stays one plain JSON object.
    """
    body = jsonvalue.dumps_checked_bytes(data) if checked else jsonvalue.dumps(data).encode()
    digest = hashlib.sha256(body).hexdigest()
    separator = b"," if data else b""
    return body[:-1] + separator + f'"{CHECKSUM_KEY}":"sha256:{digest}"}}'.encode()


def _verify_checksum(path: Path, raw: bytes, data: dict[str, Any]) -> bool:
    """Check and remove the checksum member; whether there was one (a file without is read as it is)."""
    # The checksum member is the last ~100 bytes; searching only there keeps this O(1).
    tail = _CHECKSUM_TAIL.search(raw, max(0, len(raw) - 256))
    if CHECKSUM_KEY not in data:
        if tail is not None and tail.group("value").startswith(b"sha256:"):
            raise CorruptStoreError(str(path), "its checksum entry is damaged")
        return False
    stored = data.pop(CHECKSUM_KEY)
    if tail is None or tail.group("key") != CHECKSUM_KEY.encode():
        body = None  # the checksum is not where flowkit puts it: edited by hand
    else:
        body = raw[: tail.start()].rstrip()
        body = (body[:-1] if body.endswith(b",") else body) + b"}"
    if body is None or stored != f"sha256:{hashlib.sha256(body).hexdigest()}":
        raise CorruptStoreError(str(path), _MISMATCH)
    return True


def check_table(path: Path, data: Any, checksummed: bool) -> dict[str, Any] | None:
    """`data` if it is a collection as flowkit writes it (TinyDB's ``_default`` table of documents).

    A file without its checksum is accepted when it still has that shape (an
    edit by hand); anything else, such as a notebook written over the file,
    is damage: reading it as an empty collection would lose every document
    at the next write.

    Raises:
        CorruptStoreError: naming what is wrong.
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CorruptStoreError(str(path), "the top level is not a JSON object")
    if not checksummed and "_default" not in data:
        shown = ", ".join(sorted(map(repr, data))[:5]) or "none"
        raise CorruptStoreError(
            str(path),
            f'it is not a flowkit collection: no checksum and no "_default" table (top-level keys: {shown})',
        )
    extra = sorted(set(data) - {"_default"})
    if extra:
        raise CorruptStoreError(str(path), f"unexpected top-level entries {', '.join(map(repr, extra[:5]))}")
    table = data.get("_default", {})
    if not isinstance(table, dict) or not all(isinstance(doc, dict) for doc in table.values()):
        raise CorruptStoreError(str(path), 'its "_default" table is not an object of documents')
    return data
