"""File tasks confined to one root folder: read, write and list.

Every path is relative to the credentials' ``root``. Absolute paths and
``..`` are refused before anything is opened. Each path is then walked from
the open root folder one name at a time without letting the kernel follow a
link (see `confined`), so a symbolic link leading out of the root is refused
even when it is swapped in while the task runs. Only regular files are read
(a FIFO or a device is refused without blocking), listings walk any depth, and
writes replace a file atomically.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import fnmatch
import itertools
import os
import secrets
import stat
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import flowkit
from flowkit.errors import ParamsError, TaskFailed

from .confined import FILE_FLAGS, Entry, Place, Root, walk

Result = dict[str, Any]

CREDENTIALS = [
    flowkit.Param(
        "root", required=True, help="The folder these tasks may use; nothing outside it can be read or written."
    ),
]
_ENCODING = flowkit.Param(
    "encoding", default="utf-8", help="Text encoding of the content, or base64 for bytes (images, archives...)."
)


def _root(credentials: dict[str, Any]) -> Path:
    raw = credentials.get("root")
    if not raw:
        raise TaskFailed("Set root: the folder these tasks may use.")
    try:
        root = Path(str(raw)).expanduser().resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise TaskFailed(f"The root folder {raw} does not exist.") from exc
    if not root.is_dir():
        raise TaskFailed(f"The root {raw} is not a folder.")
    return root


def _parts(relative: Any, *, folder: bool = False) -> tuple[tuple[str, ...], str]:
    """The names of `relative` under the root, and how to show it; absolute paths and ``..`` are refused."""
    if not isinstance(relative, str) or not relative.strip():
        raise TaskFailed("path is empty: give a path relative to the root.")
    if "\x00" in relative:
        raise TaskFailed("path contains a NUL character.")
    # Backslashes count as separators on every system, so "..\\x" cannot slip past the ".." check.
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or PureWindowsPath(relative).drive or relative.startswith("~"):
        raise TaskFailed(f"{relative!r} is absolute: give a path relative to the root.")
    if ".." in pure.parts:
        raise TaskFailed(f"{relative!r} climbs out with '..': paths must stay inside the root.")
    if not pure.parts and not folder:
        raise TaskFailed(f"{relative!r} is the root folder itself; name a file inside it.")
    return pure.parts, pure.as_posix()


def _open(place: Place, flags: int, shown: str) -> int:
    """Open the last name of `place` in its folder, never following a link (one swapped in is refused)."""
    if place.name is None:
        raise TaskFailed(f"{shown!r} is a folder, not a file.")
    try:
        return os.open(place.name, flags | FILE_FLAGS, 0o644, dir_fd=place.folder)
    except FileNotFoundError as exc:
        raise TaskFailed(f"No file {shown!r} in the root.") from exc
    except FileExistsError as exc:
        raise TaskFailed(f"{shown!r} already exists: use mode overwrite or append to change it.") from exc
    except IsADirectoryError as exc:
        raise TaskFailed(f"{shown!r} is a folder, not a file.") from exc
    except PermissionError as exc:
        raise TaskFailed(f"Permission denied for {shown!r}.") from exc
    except OSError as exc:  # ELOOP: the file became a symbolic link after it was walked
        raise TaskFailed(f"Cannot open {shown!r}: {exc.strerror}.") from exc


def _encode(content: str, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TaskFailed("content is not valid base64.") from exc
    try:
        return content.encode(encoding)
    except LookupError as exc:
        raise TaskFailed(f"Unknown encoding {encoding!r}: use e.g. utf-8, latin-1 or base64.") from exc
    except UnicodeEncodeError as exc:
        raise TaskFailed(f"content cannot be written as {encoding}: {exc.reason}.") from exc


def _decode(data: bytes, encoding: str, shown: str) -> str:
    if encoding == "base64":
        return base64.b64encode(data).decode()
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise TaskFailed(f"Unknown encoding {encoding!r}: use e.g. utf-8, latin-1 or base64.") from exc
    except UnicodeDecodeError as exc:
        raise TaskFailed(f"{shown!r} is not {encoding} text: read it with encoding base64.") from exc


def _modified(status: os.stat_result) -> str:
    return datetime.datetime.fromtimestamp(status.st_mtime, tz=datetime.timezone.utc).isoformat(timespec="seconds")


def _replace(place: Place, data: bytes) -> None:
    """Write `data` to a temporary file beside the target, then swap it in: readers see old or new, never half.

    Both names are relative to the target's open folder, so the file lands where the path was walked to.
    """
    name = str(place.name)
    try:
        mode = stat.S_IMODE(os.stat(name, dir_fd=place.folder, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        mode = 0o644
    temporary = f".{name}.{secrets.token_hex(4)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | FILE_FLAGS, 0o600, dir_fd=place.folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
            os.fchmod(stream.fileno(), mode)
        os.replace(temporary, name, src_dir_fd=place.folder, dst_dir_fd=place.folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=place.folder)
        raise


def _is_folder(place: Place) -> bool:
    if place.name is None:
        return True
    try:
        return stat.S_ISDIR(os.stat(place.name, dir_fd=place.folder, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _listed(entry: Entry) -> Result:
    return {
        "path": "/".join(entry.parts),
        "name": entry.name,
        "type": entry.kind,
        "size": entry.status.st_size if entry.kind == "file" else None,
        "modified": _modified(entry.status),
    }


# -- tasks -----------------------------------------------------------------------
@flowkit.task(params=[])
def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Check that the root exists, is a folder, and can be written (a temporary file is made and removed)."""
    report = flowkit.ConnectionReport()
    with report:
        report.step("config")
        root = _root(credentials)
        report.passed(f"Root folder {root}.")
        report.step("request")
        try:
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as exc:
            raise TaskFailed(f"The root {root} cannot be written: {exc.strerror}.") from exc
        with os.scandir(root) as scan:
            count = sum(1 for _ in scan)
        report.passed(f"The root is a writable folder holding {count} item(s).")
    return report.result()


@flowkit.task(
    params=[
        flowkit.Param("path", required=True, help="The file, relative to the root: reports/today.csv."),
        _ENCODING,
        flowkit.Param("max_bytes", kind="integer", default=1_000_000, help="Refuse files larger than this."),
    ],
)
def read(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Read a file under the root.

    Returns ``content`` (text, or base64 with encoding base64), ``path`` and ``size``.
    """
    parts, shown = _parts(params["path"])
    limit = params["max_bytes"]
    with Root(_root(credentials)) as root, root.locate(parts, shown) as place:
        # O_NONBLOCK: opening a FIFO with no writer would wait forever; fstat then tells what it is.
        handle = _open(place, os.O_RDONLY | os.O_NONBLOCK, shown)
    status = os.fstat(handle)
    if not stat.S_ISREG(status.st_mode):
        os.close(handle)
        if stat.S_ISDIR(status.st_mode):
            raise TaskFailed(f"{shown!r} is a folder, not a file.")
        raise TaskFailed(f"{shown!r} is not a regular file (a FIFO, socket or device): only files are read.")
    os.set_blocking(handle, True)
    size = status.st_size
    with os.fdopen(handle, "rb") as stream:
        data = stream.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        size = max(size, len(data))
        raise TaskFailed(f"{shown!r} is {size} bytes, over max_bytes ({limit}): raise max_bytes to read it.")
    content = _decode(data, params["encoding"], shown)
    return {
        "success": True,
        "message": f"Read {len(data)} bytes from {shown}.",
        "path": shown,
        "content": content,
        "size": len(data),
    }


@flowkit.task(
    params=[
        flowkit.Param("path", required=True, help="The file, relative to the root: reports/today.csv."),
        flowkit.Param("content", default="", help="What to write (base64 text with encoding base64)."),
        flowkit.Param(
            "mode",
            kind="choice",
            choices=["overwrite", "append", "create"],
            default="overwrite",
            help="overwrite: replace it whole; append: add to the end; create: only if it does not exist yet.",
        ),
        _ENCODING,
        flowkit.Param("make_dirs", kind="boolean", default=True, help="Create missing folders on the way."),
    ],
)
def write(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Write a file under the root (an overwrite replaces it atomically).

    Returns ``path``, ``bytes_written`` and ``size`` (the file's size after writing).
    """
    parts, shown = _parts(params["path"])
    data = _encode(params["content"], params["encoding"])
    mode = params["mode"]
    with Root(_root(credentials)) as root, root.locate(parts, shown, make_folders=params["make_dirs"]) as place:
        if _is_folder(place):
            raise TaskFailed(f"{shown!r} is a folder, not a file.")
        try:
            if mode == "overwrite":
                _replace(place, data)
            else:
                flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "append" else os.O_EXCL)
                with os.fdopen(_open(place, flags, shown), "wb") as stream:
                    stream.write(data)
            size = os.stat(str(place.name), dir_fd=place.folder, follow_symlinks=False).st_size
        except OSError as exc:
            raise TaskFailed(f"Cannot write {shown!r}: {exc.strerror}.") from exc
    verb = {"overwrite": "Wrote", "append": "Appended", "create": "Created"}[mode]
    return {
        "success": True,
        "message": f"{verb} {shown} ({len(data)} bytes written).",
        "path": shown,
        "bytes_written": len(data),
        "size": size,
    }


@flowkit.task(
    params=[
        flowkit.Param("path", default=".", help="The folder, relative to the root (. is the root)."),
        flowkit.Param("pattern", default="*", help="Only names matching this, e.g. *.csv."),
        flowkit.Param("recursive", kind="boolean", default=False, help="Also list inside sub-folders."),
        flowkit.Param("include_hidden", kind="boolean", default=False, help="Also list names starting with a dot."),
        flowkit.Param("limit", kind="integer", default=1000, help="List at most this many entries."),
    ],
)
def list(credentials: dict[str, Any], params: dict[str, Any]) -> Result:  # noqa: A001 - the task's name
    """List a folder under the root; symbolic links are shown as such and never followed.

    Returns ``entries`` (path, name, type file/folder/symlink, size, modified), ``count`` and ``truncated``.
    """
    limit = params["limit"]
    if limit < 0:
        raise ParamsError("files.list params: 'limit' must be 0 or more.")
    parts, shown = _parts(params["path"], folder=True)
    pattern = params["pattern"]
    with Root(_root(credentials)) as root, root.locate(parts, shown, folder=True) as place:
        try:
            found = walk(root, place, recursive=params["recursive"], hidden=params["include_hidden"])
            matching = (_listed(entry) for entry in found if fnmatch.fnmatchcase(entry.name, pattern))
            entries = [*itertools.islice(matching, limit + 1)]
        except OSError as exc:
            raise TaskFailed(f"Cannot list {shown!r}: {exc.strerror}.") from exc
    truncated = len(entries) > limit
    entries = entries[:limit]
    more = " (more not listed: raise limit)" if truncated else ""
    return {
        "success": True,
        "message": f"{len(entries)} item(s) in {'the root' if shown == '.' else shown}{more}.",
        "entries": entries,
        "count": len(entries),
        "truncated": truncated,
    }
