"""Find integration modules, load them safely, and list their tasks.

Sources, first match wins: modules registered in code; the workspace's
``integrations/`` folder and the folders on ``FLOWKIT_INTEGRATIONS_PATH``; the
built-ins shipped with flowkit; installed packages declaring the
``flowkit.integrations`` entry point. A name found in two sources is loaded
from the first, and the module notes which one it hides.

Folder modules are imported by `flowkit.integrations.loader` under a private namespace,
never through ``sys.path``. Names are checked as identifiers before they touch
the filesystem or the importer, and a folder whose real path leaves its source
(a symlink out) is refused. Nothing is discovered at import time: the sources
are scanned on first use, a module is imported when it is first asked for (so
``flowkit run`` imports only the modules its workflow uses), and `Registry.reload`
scans and imports everything again, reporting what failed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FlowkitError, IntegrationLoadError, InvalidName, ModuleNotFound, UnknownTask
from ..model import Param, check_identifier, params_from
from .loader import load_folder_module
from .taskspec import TaskSpec, collect_tasks, declared_params, find_tasks, first_line

# collect_tasks, declared_params and load_folder_module are used by the engine and integrations from here.
__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_PATH",
    "IntegrationModule",
    "Registry",
    "TaskSpec",
    "builtin_folder",
    "collect_tasks",
    "declared_params",
    "describe",
    "load_folder_module",
]

ENV_PATH = "FLOWKIT_INTEGRATIONS_PATH"
ENTRY_POINT_GROUP = "flowkit.integrations"


def builtin_folder() -> Path | None:
    """The built-in integrations: packed inside the wheel, or the checkout's top-level folder.

    The checkout's folder counts only beside flowkit's own ``pyproject.toml``,
    so an unrelated ``integrations`` folder next to an installed flowkit is never imported.
    """
    packed = Path(__file__).resolve().parents[1] / "_builtin"
    if packed.is_dir():
        return packed
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "integrations").is_dir():
        return checkout / "integrations"
    return None


@dataclass
class IntegrationModule:
    """A loaded integration module and its tasks.

    Attributes:
        name: the module's name, as integration types refer to it.
        source: ``registered``, ``workspace``, ``path``, ``builtin`` or ``entry-point``.
        location: its folder, or the entry point's import path.
        tasks: its tasks by name.
        description: the module docstring's first line.
        credentials: its ``CREDENTIALS`` declaration, if any.
        notes: names offered as tasks that are not, and the modules it hides.
    """

    name: str
    source: str
    location: str
    tasks: dict[str, TaskSpec]
    description: str = ""
    credentials: list[Param] | None = None
    notes: list[str] = field(default_factory=list)
    module: types.ModuleType | None = field(default=None, repr=False)


@dataclass
class _Candidate:
    """A module found by scanning, not imported yet."""

    name: str
    source: str
    location: str
    folder: Path | None = None
    entry: importlib.metadata.EntryPoint | None = None
    module: types.ModuleType | None = None
    hides: list[str] = field(default_factory=list)


def describe(name: str, module: types.ModuleType, source: str, location: str) -> IntegrationModule:
    """Read a module's tasks, description and ``CREDENTIALS``.

    Raises:
        IntegrationLoadError: ``CREDENTIALS`` or ``__all__`` is malformed.
    """
    tasks, notes = find_tasks(name, module)
    tasks_module = getattr(module, "tasks", None)
    declared = getattr(module, "CREDENTIALS", getattr(tasks_module, "CREDENTIALS", None))
    credentials = None
    if declared is not None:
        if not isinstance(declared, (list, tuple)):
            raise IntegrationLoadError(f"{name}.CREDENTIALS must be a list of Param, got {type(declared).__name__}.")
        try:
            credentials = params_from(declared)
        except (FlowkitError, TypeError) as exc:
            raise IntegrationLoadError(f"{name}.CREDENTIALS is invalid: {exc}") from exc
    return IntegrationModule(
        name=name,
        source=source,
        location=location,
        tasks=tasks,
        description=first_line(inspect.getdoc(module) or ""),
        credentials=credentials,
        notes=notes,
        module=module,
    )


class Registry:
    """The integration modules on the integration path.

    Args:
        folders: user folders searched first (the workspace's ``integrations/``).
        builtins: also search the built-in integrations.
        entry_points: also search installed packages' ``flowkit.integrations`` entry points.
    """

    def __init__(self, folders: list[Path] | None = None, *, builtins: bool = True, entry_points: bool = True) -> None:
        self.folders = [Path(folder) for folder in folders or []]
        self.builtins = builtins
        self.entry_points = entry_points
        self._registered: dict[str, types.ModuleType] = {}
        self._index: dict[str, _Candidate] | None = None
        self._loaded: dict[str, IntegrationModule] = {}
        self._errors: dict[str, str] = {}
        # Re-entrant: a module's import-time code may itself ask the registry something.
        self._lock = threading.RLock()

    def sources(self) -> list[tuple[str, Path]]:
        """The folders searched, in order of precedence, labelled by source."""
        found = [("workspace", folder) for folder in self.folders]
        for part in os.environ.get(ENV_PATH, "").split(os.pathsep):
            if part.strip():
                found.append(("path", Path(part).expanduser()))
        builtin = builtin_folder() if self.builtins else None
        if builtin is not None:
            found.append(("builtin", builtin))
        return found

    # -- discovery: scan the sources (cheap), import on demand ------------------
    def _scan(self) -> dict[str, _Candidate]:
        """Every module name on the path, first source winning; refusals go to errors."""
        importlib.invalidate_caches()  # see folders and installed packages added since the last scan
        index: dict[str, _Candidate] = {}

        def offer(candidate: _Candidate) -> None:
            if candidate.name in index:
                index[candidate.name].hides.append(f"{candidate.source} {candidate.location}")
            elif candidate.name not in self._errors:
                index[candidate.name] = candidate

        for name, module in self._registered.items():
            offer(_Candidate(name, "registered", module.__name__, module=module))
        for source, folder in self.sources():
            for candidate in self._scan_folder(source, folder):
                offer(candidate)
        if self.entry_points:
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    check_identifier(entry.name, "Integration module name")
                except InvalidName as exc:
                    self._errors.setdefault(entry.name, f"entry point {entry.value!r} refused: {exc}")
                    continue
                offer(_Candidate(entry.name, "entry-point", entry.value, entry=entry))
        return index

    def _scan_folder(self, source: str, folder: Path) -> Iterator[_Candidate]:
        if not folder.is_dir():
            return
        root = folder.resolve()
        for entry in sorted(folder.iterdir()):
            name = entry.name
            if name.startswith((".", "_")):
                continue
            # Where a symlink leads is checked before anything inside it is looked at.
            real = entry.resolve()
            if real.parent != root:
                if name.isidentifier():
                    self._errors.setdefault(name, f"{entry} leads outside {root} (to {real}); refused.")
                continue
            if not (real / "__init__.py").is_file():
                continue
            try:
                check_identifier(name, "Integration module name")
            except InvalidName as exc:
                self._errors.setdefault(name, f"{entry} was not loaded: {exc}")
                continue
            yield _Candidate(name, source, str(real), folder=real)

    def _ensure_index(self) -> dict[str, _Candidate]:
        if self._index is None:
            self._index = self._scan()
        return self._index

    def _import(self, candidate: _Candidate) -> IntegrationModule | None:
        """Import and describe one candidate; a failure is recorded, never raised."""
        name = candidate.name
        try:
            if candidate.folder is not None:
                module = load_folder_module(name, candidate.folder)
            elif candidate.entry is not None:
                loaded = candidate.entry.load()
                if not isinstance(loaded, types.ModuleType):
                    raise IntegrationLoadError(f"entry point {candidate.entry.value!r} must name a module.")
                module = loaded
            else:
                assert candidate.module is not None  # a registered module
                module = candidate.module
            described = describe(name, module, candidate.source, candidate.location)
        except (Exception, SystemExit) as exc:  # a broken plugin is reported, never fatal
            message = str(exc) if isinstance(exc, FlowkitError) else f"{type(exc).__name__}: {exc}"
            if candidate.entry is not None:
                message = f"entry point {candidate.entry.value!r} failed to load: {message}"
            self._errors[name] = message
            return None
        described.notes += [f"hides the {name!r} module of {hidden}" for hidden in candidate.hides]
        self._loaded[name] = described
        return described

    def _get(self, name: str) -> IntegrationModule | None:
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            candidate = self._ensure_index().get(name)
            if candidate is None or name in self._errors:
                return None
            return self._import(candidate)

    def _load_all(self) -> dict[str, IntegrationModule]:
        with self._lock:
            for name in list(self._ensure_index()):
                self._get(name)
            return dict(self._loaded)

    # -- public -----------------------------------------------------------------
    def reload(self) -> None:
        """Scan and import everything again: new, edited and removed modules and tasks show up.

        Folder modules are re-imported from source. Entry points are re-read, so
        newly installed or removed packages show up, but an installed package
        that was already imported keeps its code until the process restarts.
        A module that fails now is reported in `errors` and its old version is dropped.
        """
        with self._lock:
            self._index = None
            self._loaded = {}
            self._errors = {}
            self._load_all()

    def register(self, name: str, module: types.ModuleType) -> IntegrationModule:
        """Add an in-memory module (ahead of every source); it stays across reloads.

        Raises:
            InvalidName: `name` is not an identifier.
            IntegrationLoadError: its ``__all__`` or ``CREDENTIALS`` is malformed.
        """
        check_identifier(name, "Integration module name")
        described = describe(name, module, "registered", module.__name__)
        with self._lock:
            self._registered[name] = module
            self._forget(name)
        return described

    def unregister(self, name: str) -> None:
        """Remove a module added with `register`."""
        with self._lock:
            if self._registered.pop(name, None) is None:
                raise ModuleNotFound(name, hint="It was not registered with Registry.register.")
            self._forget(name)

    def _forget(self, name: str) -> None:
        # Precedence changed for this one name: rescan (cheap), keep every other module as loaded.
        self._index = None
        self._loaded.pop(name, None)
        self._errors.pop(name, None)

    def modules(self) -> list[str]:
        """Names of the modules that load, sorted (imports every module not imported yet)."""
        return sorted(self._load_all())

    def errors(self) -> dict[str, str]:
        """Modules that failed to load or were refused, with the reason."""
        with self._lock:
            self._load_all()
            return dict(self._errors)

    def notes(self) -> dict[str, list[str]]:
        """For each module with any: names offered as tasks that are not, and modules it hides."""
        return {name: list(module.notes) for name, module in sorted(self._load_all().items()) if module.notes}

    def module(self, name: str) -> IntegrationModule:
        """The module `name`, imported on first use.

        Raises:
            InvalidName: `name` is not an identifier (checked before any lookup).
            ModuleNotFound: no source has it, or it failed to load (the hint says why).
        """
        check_identifier(name, "Integration module name")
        found = self._get(name)
        if found is None:
            with self._lock:
                hint = self._errors.get(name)
                if hint is None:
                    known = sorted(self._ensure_index())
                    hint = f"Known modules: {', '.join(known) or 'none'}."
            raise ModuleNotFound(name, hint=hint)
        return found

    def tasks(self, module: str) -> dict[str, TaskSpec]:
        """The tasks of `module` by name."""
        return dict(self.module(module).tasks)

    def task(self, module: str, task: str) -> TaskSpec:
        """One task.

        Raises:
            InvalidName: `module` or `task` is not an identifier.
            ModuleNotFound: see `module`.
            UnknownTask: the module has no such task.
        """
        check_identifier(module, "Integration module name")
        check_identifier(task, "Task name")
        found = self.module(module)
        if task not in found.tasks:
            known = ", ".join(sorted(found.tasks)) or "none"
            raise UnknownTask(f"{module}.{task}", hint=f"Tasks of {module!r}: {known}.")
        return found.tasks[task]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            check_identifier(name, "Integration module name")
        except InvalidName:
            return False
        return self._get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.modules())

    def __repr__(self) -> str:
        return f"Registry(sources={[str(p) for _, p in self.sources()]})"
