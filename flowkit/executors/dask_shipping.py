"""Ship integration modules to Dask workers, so a worker on another machine can import them.

A folder integration (the workspace's ``integrations/``, ``FLOWKIT_INTEGRATIONS_PATH``,
the built-ins) lives on the driver's disk. Before its first call on a cluster
the driver *packs* the folder (every file but hidden ones and bytecode) into a
`ModuleSource` named by a digest of its content, and registers a
`ModuleShipment` worker plugin carrying it. Dask runs the plugin's `setup` on
every worker now and on every worker that joins later; it *unpacks* the files
under the worker's local directory, in a folder named by the digest::

    <worker local dir>/flowkit-modules/<name>-<digest16>/<name>/__init__.py ...

On the worker, `shipped_folder` maps ``(name, digest)`` to that folder, and
the node's call loads the module from there with flowkit's private loader, as
it would from the driver's folder. An edited module has a new digest, so it
is shipped again and loads fresh; a worker never runs stale code, and two
versions never share a folder.

Entry-point integrations are installed packages: they are not shipped, and a
worker that lacks the package reports it by name (see `flowkit.executors.dask_executor`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import IntegrationLoadError

#: A folder bigger than this is refused: it travels through the scheduler to every worker.
MAX_SHIP_BYTES = 20 * 1024 * 1024
_SKIPPED_DIRS = {"__pycache__", "node_modules"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
SHIPPED_DIR = "flowkit-modules"

# (name, digest) -> unpacked folder, in this worker process.
_unpacked: dict[tuple[str, str], Path] = {}
_unpack_lock = threading.Lock()


@dataclass(frozen=True)
class ModuleSource:
    """The files of one integration folder, as bytes, named by a digest of their content.

    Attributes:
        name: the integration module's name.
        digest: SHA-256 over every file's relative path and bytes.
        files: ``(relative POSIX path, content)`` pairs, sorted.
    """

    name: str
    digest: str
    files: tuple[tuple[str, bytes], ...]

    @property
    def size(self) -> int:
        return sum(len(content) for _, content in self.files)

    def __repr__(self) -> str:
        return f"ModuleSource({self.name!r}, {len(self.files)} file(s), {self.size} bytes, digest={self.digest[:16]})"


def _walk(folder: Path) -> list[Path]:
    """The files to ship, sorted; a link leading out of the folder is refused."""
    root = folder.resolve()
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        for file in sorted(files):
            if file.startswith(".") or file.endswith(_SKIPPED_SUFFIXES):
                continue
            path = Path(directory) / file
            if not path.resolve().is_relative_to(root):
                raise IntegrationLoadError(
                    f"Integration {folder.name!r}: {path} leads outside its folder {root}; "
                    "flowkit will not ship it to Dask workers. Copy the file into the folder instead."
                )
            found.append(path)
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint of a folder (paths, sizes, mtimes) to tell when it must be packed again."""
    root = folder.resolve()
    rows = []
    for path in _walk(root):
        stat = path.stat()
        rows.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(rows)


def pack_module(name: str, folder: Path) -> ModuleSource:
    """Read an integration folder into a `ModuleSource`.

    Raises:
        IntegrationLoadError: the folder is missing, too big to ship, or links outside itself.
    """
    root = Path(folder).resolve()
    if not (root / "__init__.py").is_file():
        raise IntegrationLoadError(f"Integration {name!r}: {root} has no __init__.py; nothing to ship to Dask.")
    files: list[tuple[str, bytes]] = []
    total = 0
    digest = hashlib.sha256()
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        content = path.read_bytes()
        total += len(content)
        if total > MAX_SHIP_BYTES:
            raise IntegrationLoadError(
                f"Integration {name!r} ({root}) holds more than {MAX_SHIP_BYTES // 2**20} MB; too much to send "
                "to every Dask worker with each new version. Move data files out of the module folder, or "
                "install the integration as a package on the workers (entry point 'flowkit.integrations')."
            )
        files.append((relative, content))
        digest.update(relative.encode() + b"\0" + len(content).to_bytes(8, "big") + content)
    return ModuleSource(name=name, digest=digest.hexdigest(), files=tuple(files))


def plugin_name(name: str, digest: str) -> str:
    return f"flowkit-module-{name}-{digest[:16]}"


def _safe_relative(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
        raise IntegrationLoadError(f"Refusing to unpack {relative!r}: not a plain relative path.")
    return path


def unpack(source: ModuleSource, base: Path) -> Path:
    """Write a shipped module under `base` (once per digest); returns its folder.

    The files go to a temporary folder first, which is renamed into place, so
    a task never sees a half-written module, and two unpackers of the same
    version (threads, or workers sharing a local directory) both end with it.
    """
    key = (source.name, source.digest)
    with _unpack_lock:
        version = Path(base) / SHIPPED_DIR / f"{source.name}-{source.digest[:16]}"
        known = _unpacked.get(key)
        if known is not None and known.parent == version and known.is_dir():
            return known
        folder = version / source.name
        if not (folder / "__init__.py").is_file():
            version.parent.mkdir(parents=True, exist_ok=True)
            staging = version.with_name(f".{version.name}.tmp-{os.getpid()}-{threading.get_ident()}")
            shutil.rmtree(staging, ignore_errors=True)
            for relative, content in source.files:
                target = staging / source.name / _safe_relative(relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            try:
                os.rename(staging, version)
            except OSError:
                # Another unpacker won the race (the folder exists): theirs is identical.
                shutil.rmtree(staging, ignore_errors=True)
                if not (folder / "__init__.py").is_file():
                    raise
        _unpacked[key] = folder
        return folder


def shipped_folder(name: str, digest: str, base: str | os.PathLike[str] | None = None) -> Path | None:
    """Where this worker unpacked module `name` at version `digest`, or None if it has not."""
    folder = _unpacked.get((name, digest))
    if folder is None and base is not None:
        candidate = Path(base) / SHIPPED_DIR / f"{name}-{digest[:16]}" / name
        folder = candidate if (candidate / "__init__.py").is_file() else None
    return folder


class ModuleShipment(WorkerPlugin):
    """A worker plugin that unpacks one version of an integration module on every worker.

    Its name carries the digest and it is idempotent, so registering the same
    version twice is a no-op and a new version is a new plugin.
    """

    idempotent = True

    def __init__(self, source: ModuleSource) -> None:
        self.source = source
        self.name = plugin_name(source.name, source.digest)

    def setup(self, worker: Any) -> None:
        unpack(self.source, Path(worker.local_directory))

    def teardown(self, worker: Any) -> None:
        with _unpack_lock:
            folder = _unpacked.pop((self.source.name, self.source.digest), None)
        if folder is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(folder.parent)

    def __repr__(self) -> str:
        return f"ModuleShipment({self.source!r})"
