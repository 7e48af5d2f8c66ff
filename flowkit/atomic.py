"""Atomic file replacement: readers and crashes see the old file or the new one, never half.

Used by the store (collections, runs, snapshots), the key file and job
reports. A temp file's name carries its writer's pid, so `sweep_temp_files`
can tell the orphan of a dead writer from a write in progress without a lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from pathlib import Path

_TEMP = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]+$")


def temp_name(path: Path) -> Path:
    """A hidden temp file beside `path`, named with this pid (see `sweep_temp_files`)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


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
    temp = temp_name(path)
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
