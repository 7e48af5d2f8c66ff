"""Strict JSON files that end with a SHA-256 of their content, and how they are read back.

A flipped byte inside a string still parses as JSON, so each collection file
ends with a checksum member; a file that does not parse or does not match is a
`CorruptStoreError` naming the path and the reason, and is never overwritten.
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
