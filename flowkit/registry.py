"""Find integration modules, load them safely, and list their tasks.

Sources, first match wins: the workspace's ``integrations/`` folder and the
folders on ``FLOWKIT_INTEGRATIONS_PATH``; the built-ins shipped with flowkit;
installed packages declaring the ``flowkit.integrations`` entry point.

Folder modules are loaded from their files under the private package
``flowkit._plugins`` — never through ``sys.path`` — so a folder named ``json``
neither shadows nor is shadowed by the standard library, and two modules with
the same function names never mix. Names are checked as identifiers before
they touch the filesystem, and a folder whose real path leaves its source
(a symlink out) is refused. Nothing is discovered at import time: discovery
runs on first use and on `Registry.reload`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FlowkitError, IntegrationLoadError, InvalidName, ModuleNotFound, UnknownTask
from .model import Param, check_identifier
from .schema import to_json_schema

ENV_PATH = "FLOWKIT_INTEGRATIONS_PATH"
ENTRY_POINT_GROUP = "flowkit.integrations"
PLUGIN_PACKAGE = "flowkit._plugins"


def builtin_folder() -> Path:
    """The built-in integrations: packed inside the wheel, or the checkout's top-level folder."""
    packed = Path(__file__).parent / "_builtin"
    if packed.is_dir():
        return packed
    return Path(__file__).resolve().parent.parent / "integrations"


@dataclass
class TaskSpec:
    """A task as the registry sees it.

    Attributes:
        name: the function's name.
        module: the integration module's name.
        func: the callable ``fn(credentials, params) -> dict``.
        summary: the docstring's first line.
        doc: the whole docstring.
        params: declared params, or None when the task takes free JSON.
    """

    name: str
    module: str
    func: Callable[[dict[str, Any], dict[str, Any]], Any] = field(repr=False)
    summary: str = ""
    doc: str = ""
    params: list[Param] | None = None

    @property
    def declared(self) -> bool:
        return self.params is not None

    @property
    def schema(self) -> dict[str, Any]:
        """The params' JSON Schema (any object when undeclared)."""
        if self.params is None:
            return {"type": "object", "title": f"{self.module}.{self.name}", "additionalProperties": True}
        return to_json_schema(self.params, title=f"{self.module}.{self.name}")


@dataclass
class IntegrationModule:
    """A loaded integration module and its tasks."""

    name: str
    source: str
    location: str
    tasks: dict[str, TaskSpec]
    description: str = ""
    credentials: list[Param] | None = None
    module: types.ModuleType | None = field(default=None, repr=False)


def _ensure_plugin_package() -> None:
    if PLUGIN_PACKAGE not in sys.modules:
        package = types.ModuleType(PLUGIN_PACKAGE)
        package.__path__ = []  # a package with no folder: only we put modules in it
        sys.modules[PLUGIN_PACKAGE] = package


def _forget(qualified: str) -> None:
    for loaded in [name for name in sys.modules if name == qualified or name.startswith(qualified + ".")]:
        del sys.modules[loaded]


def load_folder_module(name: str, folder: Path) -> types.ModuleType:
    """Import ``folder/__init__.py`` as ``flowkit._plugins.<name>`` (fresh each call)."""
    _ensure_plugin_package()
    qualified = f"{PLUGIN_PACKAGE}.{name}"
    _forget(qualified)
    init = folder / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        qualified, init, submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise IntegrationLoadError(f"Cannot load integration {name!r} from {folder}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        _forget(qualified)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise IntegrationLoadError(
            f"Integration {name!r} ({folder}) failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _first_line(doc: str) -> str:
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def declared_params(func: Callable[..., Any]) -> list[Param] | None:
    """Params declared with ``@flowkit.task(params=[...])``, or None."""
    params = getattr(func, "__flowkit_params__", None)
    return list(params) if params is not None else None


def task_names(module: types.ModuleType) -> list[str]:
    """``__all__`` if the module has it, else the public functions defined in its ``tasks.py``."""
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [str(name) for name in exported]
    tasks_module = sys.modules.get(f"{module.__name__}.tasks")
    if tasks_module is None:
        return []
    return [
        name
        for name, value in vars(tasks_module).items()
        if not name.startswith("_")
        and inspect.isfunction(value)
        and value.__module__ == tasks_module.__name__
    ]


def collect_tasks(name: str, module: types.ModuleType) -> dict[str, TaskSpec]:
    tasks_module = sys.modules.get(f"{module.__name__}.tasks")
    specs: dict[str, TaskSpec] = {}
    for task_name in task_names(module):
        if task_name.startswith("_"):
            continue
        func = getattr(module, task_name, None)
        if func is None and tasks_module is not None:
            func = getattr(tasks_module, task_name, None)
        if not callable(func) or inspect.isclass(func):
            continue
        doc = inspect.getdoc(func) or ""
        specs[task_name] = TaskSpec(
            name=task_name,
            module=name,
            func=func,
            summary=_first_line(doc),
            doc=doc,
            params=declared_params(func),
        )
    return specs


class Registry:
    """The integration modules on the integration path.

    Args:
        folders: user folders searched first (the workspace's ``integrations/``).
        builtins: also search the built-in integrations.
        entry_points: also search installed packages' ``flowkit.integrations`` entry points.
    """

    def __init__(
        self, folders: list[Path] | None = None, *, builtins: bool = True, entry_points: bool = True
    ) -> None:
        self.folders = [Path(folder) for folder in folders or []]
        self.builtins = builtins
        self.entry_points = entry_points
        self._modules: dict[str, IntegrationModule] | None = None
        self._errors: dict[str, str] = {}
        self._lock = threading.RLock()

    def sources(self) -> list[tuple[str, Path]]:
        """The folders searched, in order of precedence, labelled by source."""
        found = [("workspace", folder) for folder in self.folders]
        for part in os.environ.get(ENV_PATH, "").split(os.pathsep):
            if part.strip():
                found.append(("path", Path(part).expanduser()))
        if self.builtins:
            found.append(("builtin", builtin_folder()))
        return found

    # -- discovery ------------------------------------------------------------
    def _discover(self) -> dict[str, IntegrationModule]:
        modules: dict[str, IntegrationModule] = {}
        errors: dict[str, str] = {}
        for source, folder in self.sources():
            for name, path in self._folder_candidates(folder):
                if name in modules or name in errors:
                    continue
                try:
                    modules[name] = self._load_folder(name, path, source)
                except FlowkitError as exc:
                    errors[name] = str(exc)
        if self.entry_points:
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                if entry.name in modules or entry.name in errors:
                    continue
                try:
                    check_identifier(entry.name, "Integration module name")
                    module = entry.load()
                    modules[entry.name] = self._describe(entry.name, module, "entry-point", entry.value)
                except Exception as exc:  # a broken plugin is reported, never fatal
                    errors[entry.name] = f"entry point {entry.value!r} failed to load: {type(exc).__name__}: {exc}"
        self._errors = errors
        return modules

    @staticmethod
    def _folder_candidates(folder: Path) -> Iterator[tuple[str, Path]]:
        if not folder.is_dir():
            return
        root = folder.resolve()
        for entry in sorted(folder.iterdir()):
            name = entry.name
            if name.startswith((".", "_")) or not (entry / "__init__.py").is_file():
                continue
            try:
                check_identifier(name, "Integration module name")
            except InvalidName:
                continue
            real = entry.resolve()
            if real.parent != root:
                continue  # a symlink leading out of the source folder
            yield name, real

    def _load_folder(self, name: str, path: Path, source: str) -> IntegrationModule:
        module = load_folder_module(name, path)
        return self._describe(name, module, source, str(path))

    @staticmethod
    def _describe(name: str, module: types.ModuleType, source: str, location: str) -> IntegrationModule:
        credentials = getattr(module, "CREDENTIALS", None)
        params = None
        if credentials is not None:
            params = [item if isinstance(item, Param) else Param.from_dict(item) for item in credentials]
        return IntegrationModule(
            name=name,
            source=source,
            location=location,
            tasks=collect_tasks(name, module),
            description=_first_line(inspect.getdoc(module) or ""),
            credentials=params,
            module=module,
        )

    def _all(self) -> dict[str, IntegrationModule]:
        with self._lock:
            if self._modules is None:
                self._modules = self._discover()
            return self._modules

    # -- public ---------------------------------------------------------------
    def reload(self) -> None:
        """Discover again: new, edited and removed modules and functions show up."""
        with self._lock:
            self._modules = None
            importlib.invalidate_caches()
            self._all()

    def modules(self) -> list[str]:
        """Names of the modules that loaded, sorted."""
        return sorted(self._all())

    def errors(self) -> dict[str, str]:
        """Modules that failed to load, with their error."""
        self._all()
        return dict(self._errors)

    def module(self, name: str) -> IntegrationModule:
        check_identifier(name, "Integration module name")
        modules = self._all()
        if name not in modules:
            hint = self._errors.get(name) or f"Known modules: {', '.join(sorted(modules)) or 'none'}."
            raise ModuleNotFound(name, hint=hint)
        return modules[name]

    def tasks(self, module: str) -> dict[str, TaskSpec]:
        return dict(self.module(module).tasks)

    def task(self, module: str, task: str) -> TaskSpec:
        tasks = self.module(module).tasks
        if task not in tasks:
            raise UnknownTask(
                f"{module}.{task}", hint=f"Tasks of {module!r}: {', '.join(sorted(tasks)) or 'none'}."
            )
        return tasks[task]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self.modules())

    def __repr__(self) -> str:
        return f"Registry(sources={[str(p) for _, p in self.sources()]})"
