"""Paths walked from an open root folder, one name at a time, so no swap of a link can lead out of it.

Checking a path and then opening it by name is a race: a folder on the way
can be swapped for a symbolic link to ``/`` in between (156 reads in 3,000
escaped the root that way). Here the root folder is opened once and every
step is an ``openat`` relative to the folder descriptor reached so far, with
``O_NOFOLLOW``: the kernel never follows a link on its own. When a step meets
a link, its target is read and walked the same way, from the folder holding
it (relative targets) or from the root (absolute targets that name a place
inside the root); a ``..`` pops back to the folder walked before it and never
above the root. Whatever is swapped in, a step either lands on a real folder
inside the root or on a link that is then walked the same way.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flowkit.errors import TaskFailed

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
FOLDER_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
FILE_FLAGS = _NOFOLLOW | _CLOEXEC | getattr(os, "O_BINARY", 0)
# As many links as the kernel follows in one path (Linux: 40) before ELOOP.
MAX_LINKS = 40
# Folder descriptors a listing keeps open; deeper folders are opened again from the root when needed.
OPEN_FOLDERS = 64


class Outside(TaskFailed):
    """Raised when a symbolic link on the way leads outside the root."""


@dataclass
class Place:
    """Where a path led: the open folder holding its last name, and the real names walked from the root.

    `folder` is owned by the caller (close it); `name` is None when the path is the folder itself.
    """

    folder: int
    name: str | None
    parts: list[str] = field(default_factory=list)

    def __enter__(self) -> Place:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.folder)


class Root:
    """A root folder held open; every path below it is walked from this descriptor.

    Args:
        path: the root, already resolved (no symbolic link in it).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, FOLDER_FLAGS)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def locate(self, parts: Sequence[str], shown: str, *, folder: bool = False, make_folders: bool = False) -> Place:
        """Walk `parts` (already free of ``..`` and absolute forms) from the root; a link in the last place too.

        Args:
            shown: the path as the user wrote it, for messages.
            folder: the path names a folder: enter it too (the returned place has no name).
            make_folders: create missing folders on the way (not the last name).

        Raises:
            Outside: a link leads outside the root (or loops).
            TaskFailed: a folder on the way is missing or is a file.
        """
        trail: list[tuple[int, str]] = []  # the folders entered below the root: (descriptor, name)
        pending = [part for part in parts if part not in ("", ".")]
        pending.reverse()  # a stack: the next name is last
        links = 0
        try:
            while pending:
                name = pending.pop()
                if name == "..":  # only ever from a link's target
                    if not trail:
                        raise Outside(f"{shown!r} leads outside the root through a symbolic link.")
                    os.close(trail.pop()[0])
                    continue
                here = trail[-1][0] if trail else self.fd
                target = _link_target(here, name)
                if target is not None:
                    links += 1
                    if links > MAX_LINKS:
                        raise Outside(f"{shown!r} goes through too many symbolic links (a loop?).")
                    if target.startswith("/"):  # absolute: must name a place inside the root
                        inside = _relative_to(target, self.path)
                        if inside is None:
                            raise Outside(f"{shown!r} leads outside the root through a symbolic link.")
                        for fd, _ in trail:
                            os.close(fd)
                        trail, target = [], inside
                    pending.extend(reversed([part for part in target.split("/") if part not in ("", ".")]))
                    continue
                if not pending and not folder:
                    return Place(os.dup(here), name, [entered for _, entered in trail])
                trail.append((self._enter(here, name, shown, make_folders and bool(pending)), name))
            return Place(os.dup(trail[-1][0] if trail else self.fd), None, [entered for _, entered in trail])
        finally:
            for fd, _ in trail:
                os.close(fd)

    def _enter(self, here: int, name: str, shown: str, make: bool) -> int:
        """Open the folder `name` in `here` without following a link (a link swapped in since is refused)."""
        try:
            return os.open(name, FOLDER_FLAGS, dir_fd=here)
        except FileNotFoundError:
            if not make:
                raise TaskFailed(f"{shown!r} does not exist in the root: there is no folder {name!r}.") from None
        except NotADirectoryError:
            # A file, or a link put there after _link_target looked: either way not a folder to enter now.
            raise TaskFailed(f"{shown!r}: {name!r} is not a folder in the root (or changed while opened).") from None
        try:
            os.mkdir(name, 0o777, dir_fd=here)
        except FileExistsError:
            pass  # made meanwhile by someone else: open what is there, checked like anything else
        except OSError as exc:
            raise TaskFailed(f"Cannot create the folder of {shown!r}: {exc.strerror}.") from exc
        return self._enter(here, name, shown, False)


def _link_target(folder: int, name: str) -> str | None:
    """The target of `name` in `folder` if it is a symbolic link, else None."""
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError:  # EINVAL: not a link; ENOENT: missing (the caller's open says so)
        return None


def _relative_to(target: str, root: Path) -> str | None:
    """`target` (absolute) relative to `root`, or None when it is not inside it."""
    parts = Path(os.path.normpath(target)).parts
    if parts[: len(root.parts)] != root.parts:
        return None
    return "/".join(parts[len(root.parts) :])


# -- a listing that walks with a stack, not recursion -------------------------------------------
@dataclass
class Entry:
    """One name in a listed folder, with its status (never following a link)."""

    parts: list[str]
    name: str
    status: os.stat_result

    @property
    def kind(self) -> str:
        mode = self.status.st_mode
        if stat.S_ISLNK(mode):
            return "symlink"
        if stat.S_ISDIR(mode):
            return "folder"
        return "file" if stat.S_ISREG(mode) else "other"


@dataclass
class _Frame:
    parts: list[str]
    entries: list[Entry]
    fd: int | None
    index: int = 0


def _entries(fd: int, parts: list[str]) -> list[Entry]:
    with os.scandir(fd) as scan:
        found = [Entry([*parts, item.name], item.name, item.stat(follow_symlinks=False)) for item in scan]
    return sorted(found, key=lambda entry: entry.name)


def _reopen(root: Root, frames: list[_Frame]) -> int:
    """The descriptor of the last frame's folder, opening it again if it was closed.

    The way down starts from the deepest folder still open (or the root) and
    goes by the real names walked before, never following a link. The folders
    passed on the way keep their descriptors, within `OPEN_FOLDERS`, so the
    walk back up does not open them once more.
    """
    last = len(frames) - 1
    start = last
    while start >= 0 and frames[start].fd is None:
        start -= 1
    if start < 0:
        frames[0].fd = _open_path(root.fd, frames[0].parts)
        start = 0
    for index in range(start + 1, last + 1):
        parent = frames[index - 1]
        assert parent.fd is not None
        frames[index].fd = os.open(frames[index].parts[-1], FOLDER_FLAGS, dir_fd=parent.fd)
        if index - 1 < last - OPEN_FOLDERS:
            os.close(parent.fd)
            parent.fd = None
    fd = frames[last].fd
    assert fd is not None
    return fd


def _open_path(fd: int, names: list[str]) -> int:
    """Open the folder `names` below `fd` (real folders, walked before), never following a link."""
    opened = os.dup(fd)
    for name in names:
        try:
            child = os.open(name, FOLDER_FLAGS, dir_fd=opened)
        finally:
            os.close(opened)
        opened = child
    return opened


def walk(root: Root, place: Place, *, recursive: bool, hidden: bool) -> Iterator[Entry]:
    """Entries under the folder `place` in name order, each folder's content right after it.

    A stack of folders instead of recursion, so depth is no limit; at most
    `OPEN_FOLDERS` descriptors stay open (a shallower folder is opened again
    from the root when the walk comes back to it). Links are listed, never
    followed; a folder swapped for a link meanwhile is not entered.
    """
    start = os.dup(place.folder)
    frames = [_Frame(place.parts, _entries(start, place.parts), start)]
    try:
        while frames:
            frame = frames[-1]
            if frame.index == len(frame.entries):
                if frame.fd is not None:
                    os.close(frame.fd)
                frames.pop()
                continue
            entry = frame.entries[frame.index]
            frame.index += 1
            if entry.name.startswith(".") and not hidden:
                continue
            yield entry
            if not (recursive and entry.kind == "folder"):
                continue
            try:
                child = os.open(entry.name, FOLDER_FLAGS, dir_fd=_reopen(root, frames))
            except (NotADirectoryError, FileNotFoundError):
                continue  # replaced or removed since it was listed
            frames.append(_Frame(entry.parts, _entries(child, entry.parts), child))
            if len(frames) > OPEN_FOLDERS:
                spare = frames[-OPEN_FOLDERS - 1]
                if spare.fd is not None:
                    os.close(spare.fd)
                    spare.fd = None
    finally:
        for frame in frames:
            if frame.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(frame.fd)
