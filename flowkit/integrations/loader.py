"""Import integration folders under the private package ``flowkit._plugins``, from source only.

Why not ``sys.path``: putting a folder on it and importing ``tasks`` made a
second integration run the first one's code, and a folder named ``json``
shadowed the standard library (RELIABILITY rows 12–13). Here each folder is
imported as ``flowkit._plugins.<name>_<digest>`` (the digest names the folder,
so two workspaces' ``slack`` folders never meet in ``sys.modules``), and
``import json`` inside it still finds the standard library.

Relative imports inside an integration (``from .client import Client``) go
through the import system; a finder answers for the private namespace only,
keeps every file inside its integration's folder (a symlink leading out is
refused), and compiles source without reading or writing bytecode files.
Bytecode caches are checked by file size and mtime, so an edit that keeps the
size within the same second would run stale code after a reload. Compiled code
is kept in memory keyed by the source's hash instead: an unchanged file is not
compiled twice, any edit is seen, and no ``__pycache__`` appears in the user's
folders (benchmarks/bench_registry.py measures the cost).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import traceback
import types
from collections.abc import Sequence
from pathlib import Path

from ..errors import IntegrationLoadError

PLUGIN_PACKAGE = "flowkit._plugins"

# The import system and sys.modules are process-wide, so loading is serialised process-wide too.
_LOCK = threading.RLock()
# Top-level private module name -> the real folder its files must stay in.
_ROOTS: dict[str, Path] = {}


# (path, SHA-256 of the source) -> compiled code: a reload of an unchanged file skips compiling,
# and any edit, whatever its size or mtime, changes the key. Code objects are immutable, so sharing is safe.
_CODE: dict[tuple[str, bytes], types.CodeType] = {}


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """A source loader that never reads or writes bytecode files; compiled code is cached by content."""

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        key = (path, hashlib.sha256(source).digest())
        code = _CODE.get(key)
        if code is None:
            code = _CODE[key] = self.source_to_code(source, path)
        return code


class PluginFinder(importlib.abc.MetaPathFinder):
    """Finds modules under ``flowkit._plugins`` and nothing else.

    It is authoritative for that namespace: a module it cannot place raises,
    so the default path finder never gets the chance to load it by other rules.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PLUGIN_PACKAGE + "."):
            return None
        parts = fullname.split(".")
        top = ".".join(parts[:3])
        root = _ROOTS.get(top)
        if root is None or not all(part.isidentifier() for part in parts):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        if len(parts) == 3:
            return _spec(fullname, root / "__init__.py", root, package=True)
        for entry in path or []:
            base = Path(entry)
            leaf = parts[-1]
            if (base / leaf / "__init__.py").is_file():
                return _spec(fullname, base / leaf / "__init__.py", root, package=True)
            if (base / f"{leaf}.py").is_file():
                return _spec(fullname, base / f"{leaf}.py", root, package=False)
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def _spec(fullname: str, file: Path, root: Path, *, package: bool) -> importlib.machinery.ModuleSpec:
    real = file.resolve()
    if not real.is_relative_to(root):
        raise ImportError(f"{file} leads outside the integration folder {root}; refused.", name=fullname)
    loader = SourceOnlyLoader(fullname, str(file))
    spec = importlib.util.spec_from_file_location(
        fullname, file, loader=loader, submodule_search_locations=[str(file.parent)] if package else None
    )
    if spec is None:  # only for unknown suffixes; ours is always .py
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
    spec.cached = None  # there is no bytecode file, and there never will be
    return spec


def _install() -> None:
    if not any(isinstance(finder, PluginFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, PluginFinder())
    if PLUGIN_PACKAGE not in sys.modules:
        package = types.ModuleType(PLUGIN_PACKAGE, "Integration modules loaded by flowkit's registry.")
        package.__path__ = []  # no folder behind it: only the finder above places modules here
        sys.modules[PLUGIN_PACKAGE] = package


def qualified_name(name: str, folder: Path) -> str:
    """The private module name for integration `name` loaded from `folder` (a real path)."""
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
    return f"{PLUGIN_PACKAGE}.{name}_{digest}"


def display_name(qualified: str) -> str:
    """``flowkit._plugins.slack_1a2b3c4d5e.tasks`` -> ``slack.tasks``, for logs and messages; others unchanged."""
    if not qualified.startswith(PLUGIN_PACKAGE + "."):
        return qualified
    top, _, rest = qualified[len(PLUGIN_PACKAGE) + 1 :].partition(".")
    name = top.rpartition("_")[0] or top
    return f"{name}.{rest}" if rest else name


def _detach(qualified: str) -> dict[str, types.ModuleType]:
    """Remove a module and its submodules from ``sys.modules``; return what was there."""
    names = [name for name in sys.modules if name == qualified or name.startswith(qualified + ".")]
    return {name: sys.modules.pop(name) for name in names}


def _where(exc: BaseException, root: Path) -> str:
    """' (at tasks.py line 3)' for the innermost frame inside the integration folder."""
    if isinstance(exc, SyntaxError):
        return ""  # its message already names the file and line
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(root)]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {Path(frame.filename).resolve().relative_to(root)} line {frame.lineno})"


def load_folder_module(name: str, folder: Path) -> types.ModuleType:
    """Import ``folder/__init__.py`` afresh as a private module; also its ``tasks.py`` if present.

    On failure the previously loaded version (if any) stays in ``sys.modules``
    for the code that still uses it, and `IntegrationLoadError` says why.

    Args:
        name: the integration's name (already checked as an identifier).
        folder: the integration's folder.

    Raises:
        IntegrationLoadError: the module raised, had a syntax error, or reached outside its folder.
    """
    root = Path(folder).resolve()
    qualified = qualified_name(name, root)
    with _LOCK:
        _install()
        _ROOTS[qualified] = root
        previous = _detach(qualified)
        try:
            module = importlib.import_module(qualified)
            if (root / "tasks.py").is_file():
                importlib.import_module(qualified + ".tasks")
        except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() must not end the host
            _detach(qualified)
            sys.modules.update(previous)
            raise IntegrationLoadError(
                f"Integration {name!r} ({root}) failed to import{_where(exc, root)}: {type(exc).__name__}: {exc}"
            ) from exc
    return module
