"""`Workspace`: the one public entry, wiring the store, the keys and the registry.

A workspace is a folder::

    <workspace>/
      types.json, integrations.json                   TinyDB collections
      schedules.json                                  schedules and their last fired slots
      workflows/                                      a file per saved workflow (see flowkit.store.folder)
      .lock                                           the inter-process write lock
      runs/                                           run history (see flowkit.store.RunStore)
      integrations/                                   the user's integration modules
      reports/                                        papermill job reports

It holds no key: credentials in ``integrations.json`` are Fernet tokens, the
key lives in the user's config folder or ``FLOWKIT_SECRET_KEY``.

The parts are injected, as TinyDB injects its storage: ``store=`` (a
`flowkit.store.Store`: files by default, `MemoryStore` for tests), ``keys=``
(a `flowkit.crypto.KeySource`) and ``registry=``. The workspace builds the
collections and the engine's `RunParts` from them; nothing below this module
knows a `Workspace` exists.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import crypto
from .atomic import sweep_temp_files
from .catalog import IntegrationCollection, TypeCollection, WorkflowCollection
from .errors import SecretKeyError, TypeNotFound
from .history import RunCollection
from .integrations.registry import Registry
from .run.cache import ResultCache
from .store import FileStore, Store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .executors.base import Executor
    from .model import Param, Run, Workflow
    from .run.control import CancelEvent, RunHandle
    from .run.engine import Event, RunParts
    from .run.template_budget import RenderBudget
    from .run.validation import Lookups, Problem
    from .schedules import ScheduleCollection

ENV_WORKSPACE = "FLOWKIT_WORKSPACE"
DEFAULT_WORKSPACE = ".flowkit"


def default_path() -> Path:
    return Path(os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE)


class Workspace:
    """A flowkit workspace folder, created on first use.

    Args:
        path: the folder; default ``$FLOWKIT_WORKSPACE`` or ``./.flowkit``. Its
            ``integrations/`` folder is first on the integration path.
        store: where collections and runs are kept; default the files in `path`.
        keys: where the secret keys come from; default ``$FLOWKIT_SECRET_KEY``,
            else the key file in the user's config folder.
        registry: the integration modules; default this workspace's
            ``integrations/`` folder, the built-ins and installed entry points.
        lock_timeout: seconds to wait for another process's write (file store).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        store: Store | None = None,
        keys: crypto.KeySource | None = None,
        registry: Registry | None = None,
        lock_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path if path is not None else default_path()).expanduser().resolve()
        self.store = store if store is not None else FileStore(self.path, lock_timeout=lock_timeout)
        self.keys = keys if keys is not None else crypto.KeySource()
        self.registry = registry if registry is not None else Registry([self.path / "integrations"])
        (self.path / "integrations").mkdir(parents=True, exist_ok=True)
        self.store.sweep()
        key_folder = self.keys.key_file().parent
        sweep_temp_files(key_folder)  # a key file write killed halfway
        self._keyring: crypto.KeyRing | None = None
        self._key_stamp: tuple[Any, ...] = ()
        self.host = socket.gethostname()
        self.types = TypeCollection(self.store, self.registry)
        self.integrations = IntegrationCollection(self.store, self.types, self.registry, self.keyring)
        self.workflows = WorkflowCollection(self.store, self.validate, self.integrations.stored_secrets)
        self.runs = RunCollection(self.store.runs, self.host)
        self.cache = ResultCache(self.store)

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    @functools.cached_property
    def schedules(self) -> ScheduleCollection:
        """The workspace's schedules (`flowkit.schedules`), loaded on first use: a run does not need them."""
        from .schedules import ScheduleCollection

        return ScheduleCollection(self.store, self.validate, self.integrations)

    @property
    def lookups(self) -> Lookups:
        """What checking a workflow reads: the saved integrations, type drift, the registry."""
        from .run.validation import Lookups

        return Lookups(self.integrations.list, self.types.drift, self.registry, self.workflows.get)

    def _run_parts(self) -> RunParts:
        from .run.engine import RunParts

        return RunParts(
            self.lookups, self.store.runs, self.host, self._secret_fields, self.integrations.stored_secrets, self.cache
        )

    def _secret_fields(self, type_name: str) -> list[str] | None:
        """The secret fields of a type; None if it is gone (then every field is taken as secret)."""
        try:
            return self.types.get(type_name).secret_fields
        except TypeNotFound:
            return None

    def _workflow(self, workflow: Workflow | str) -> Workflow:
        return self.workflows.get(workflow) if isinstance(workflow, str) else workflow

    # -- keys -------------------------------------------------------------------
    def keyring(self, *, create: bool = False) -> crypto.KeyRing:
        """The secret keys, checked against what this workspace was encrypted with.

        Args:
            create: make a key file if none exists and nothing is encrypted yet.
        """
        # Reload when the key source changed (another process rotated the key),
        # so nothing is ever encrypted with a key that is no longer in the file.
        stamp = self.keys.stamp()
        if self._keyring is None or stamp != self._key_stamp:
            self._keyring = None
            key_ids = self.integrations.key_ids()
            if not self.keys.env_value():
                key_path = self.keys.key_file().expanduser().resolve()
                if key_path.is_relative_to(self.path):
                    raise SecretKeyError(
                        f"The key file {key_path} is inside the workspace {self.path}; "
                        "a workspace must never hold its key. Point FLOWKIT_CONFIG_DIR elsewhere."
                    )
            ring = self.keys.load(create=create and not key_ids, encrypted_records=len(key_ids))
            unknown = sorted(set(key_ids) - set(ring.fingerprints))
            if unknown:
                raise ring.wrong_key_error(", ".join(unknown), what=f"the workspace {self.path}")
            self._keyring, self._key_stamp = ring, stamp
        return self._keyring

    def forget_keys(self) -> None:
        """Drop the cached keys (after the environment or key file changed)."""
        self._keyring = None

    def rotate_key(self, *, drop_old_keys: bool = False) -> int:
        """Re-encrypt every integration under a new primary key; returns how many.

        With the key file: a new key is generated and the file becomes
        ``new, old...`` (one atomic write); then the records are re-encrypted
        in one atomic write. A kill at any point leaves every record readable
        with the keys in the file. The old keys stay in the file as
        decrypt-only keys, because the key file is shared by every workspace
        of this user and the others may still be encrypted with them.

        With ``FLOWKIT_SECRET_KEY="new,old"``: re-encrypts under ``new``; then
        drop ``old`` from the variable.

        Args:
            drop_old_keys: leave only the new key in the key file afterwards.
                Only when no other workspace uses the old keys: those would no
                longer open.
        """
        from_env = bool(self.keys.env_value())
        with self.store.locked():
            self.forget_keys()
            current = self.keyring(create=True)
            if from_env:
                ring = current
            else:
                path = self.keys.key_file()
                keys = [crypto.generate_key(), *current.keys]
                crypto.write_key_file(path, keys)
                ring = crypto.KeyRing(keys, current.source)
            count = self.integrations.reencrypt(ring)
            if not from_env and drop_old_keys:
                crypto.write_key_file(path, ring.keys[:1])
                ring = crypto.KeyRing(ring.keys[:1], current.source)
            self._keyring = ring
        return count

    # -- the engine's faces -------------------------------------------------------
    def validate(self, workflow: Workflow | str, *, inputs: dict[str, Any] | None = None) -> list[Problem]:
        """Every problem of a workflow at once, as ``Problem(severity, node, message)`` tuples.

        Args:
            workflow: a `Workflow`, or the name of a saved one.
            inputs: the run's inputs, when known; a template reading an input
                that is not among them is then an error.
        """
        from .run.validation import validate

        return validate(self.lookups, self._workflow(workflow), inputs=inputs)

    def input_params(self, workflow: Workflow | str) -> list[Param]:
        """The run inputs `workflow` takes: its declared ones, then those inferred from its templates.

        An input read as a whole param (``{{ inputs.n }}``) takes that task
        param's kind; see `flowkit.run.inputs`. Faces type what people write
        with `flowkit.run.inputs.parse_input` against these.
        """
        from .run.inputs import input_params

        return input_params(self.lookups, self._workflow(workflow))

    def run(
        self,
        workflow: Workflow | str,
        *,
        inputs: dict[str, Any] | None = None,
        executor: Executor | str | None = None,
        on_event: Callable[[Event], None] | Iterable[Callable[[Event], None]] | None = None,
        trigger: str = "api",
        only: Iterable[str] | None = None,
        from_run: Run | str | None = None,
        max_workers: int | None = None,
        deadline: float | None = None,
        cancel: CancelEvent | None = None,
        render_budget: RenderBudget | None = None,
        cache: bool = True,
    ) -> Run:
        """Run a workflow to its end and return the finished `Run` (also saved in ``ws.runs``).

        A workflow with errors is refused (`WorkflowInvalid`) before anything runs.
        A failing node fails the run; the run is still returned, never raised.
        A run stopped early (its `deadline`, its `cancel` event, Ctrl-C on the
        main thread) is returned with status ``cancelled``: its running nodes
        ``cancelled`` (timed ones killed; an untimed one, in a thread that cannot
        be stopped, is no longer waited for), the others ``skipped``.

        Args:
            workflow: a `Workflow`, or the name of a saved one.
            inputs: values templates read as ``{{ inputs.name }}``.
            executor: an `Executor`, or ``"threads"`` (default) / ``"inline"``.
            on_event: callable(s) receiving each `Event`, on this thread.
            trigger: what started the run (``api``, ``cli``, ``ui``, ``job``...).
            only: run just these nodes, taking upstream results from `from_run`.
            from_run: the earlier run (or its id) that `only` takes results from.
            max_workers: the width of the executor flowkit builds.
            deadline: seconds the whole run may take.
            cancel: a `threading.Event` (or anything with ``is_set()``) that cancels the run once set.
            render_budget: what rendering one node's params may cost (`flowkit.RenderBudget`;
                default 1 s and 1,000,000 characters).
            cache: use cached results of nodes marked ``cache=`` (and keep new ones); False bypasses the cache.
        """
        from .run.launch import run_workflow

        return run_workflow(
            self._run_parts(),
            self._workflow(workflow),
            inputs=inputs,
            executor=executor,
            on_event=on_event,
            trigger=trigger,
            only=only,
            from_run=self.runs.get(from_run) if isinstance(from_run, str) else from_run,
            max_workers=max_workers,
            deadline=deadline,
            cancel=cancel,
            render_budget=render_budget,
            cache=cache,
        )

    def start(self, workflow: Workflow | str, **options: Any) -> RunHandle:
        """Start a run on a background thread; ``handle.cancel()`` cancels it, ``handle.result()`` waits for it.

        Options are those of `run` (but `cancel`); `on_event` callbacks then run on that thread.
        """
        from .run.control import start_in_background

        return start_in_background(self.run, workflow, options)

    def resume(
        self,
        run: Run | str,
        *,
        definition: str = "auto",
        from_node: str | None = None,
        inputs: dict[str, Any] | None = None,
        executor: Executor | str | None = None,
        on_event: Callable[[Event], None] | Iterable[Callable[[Event], None]] | None = None,
        trigger: str = "api",
        max_workers: int | None = None,
        deadline: float | None = None,
        cancel: CancelEvent | None = None,
        render_budget: RenderBudget | None = None,
    ) -> Run:
        """Re-run what did not succeed in `run`, as a new run; its ``version`` says which definition ran.

        Nodes that succeeded keep their results (``reused=True``) while the
        definition resumed on still defines them, and everything upstream of
        them, the same way; the rest (failed, cancelled, skipped, changed) runs. The new run's ``resumed_from`` is
        `run`'s id. Other options are those of `run`; `inputs` default to the
        earlier run's.

        Args:
            run: the earlier run, or its id.
            definition: ``"current"``: the saved version (after a fix);
                ``"original"``: the snapshot `run` ran; ``"auto"`` (default):
                the saved version when it is newer and the reused upstream
                results still match it, else the original (see `resume_choices`).
            from_node: also re-run this node and everything downstream of it.
        """
        from .run.launch import run_workflow

        earlier = self.runs.get(run) if isinstance(run, str) else run
        workflow = self.resume_definition(earlier, definition)
        return run_workflow(
            self._run_parts(),
            workflow,
            inputs=inputs,
            executor=executor,
            on_event=on_event,
            trigger=trigger,
            max_workers=max_workers,
            resume=earlier,
            deadline=deadline,
            cancel=cancel,
            render_budget=render_budget,
            from_node=from_node,
        )

    def resume_definition(self, run: Run | str, definition: str = "auto") -> Workflow:
        """The workflow version `resume` with this `definition` would run (see `resume`)."""
        from .run.selection import choose_definition

        earlier = self.runs.get(run) if isinstance(run, str) else run
        return choose_definition(earlier, self._saved(earlier.workflow), definition)

    def resume_choices(self, run: Run | str) -> dict[str, Any]:
        """What resuming `run` can use, for faces offering the choice.

        Returns:
            ``{"original": <the run's version>, "current": <the saved version, or None
            when it is not newer>, "default": "current" | "original"}``.
        """
        from .run.selection import choose_definition

        earlier = self.runs.get(run) if isinstance(run, str) else run
        saved = self._saved(earlier.workflow)
        newer = saved is not None and saved.version > earlier.version
        default = choose_definition(earlier, saved, "auto")
        return {
            "original": earlier.version,
            "current": saved.version if newer and saved is not None else None,
            "default": "current" if newer and default is saved else "original",
        }

    def _saved(self, name: str) -> Workflow | None:
        from .errors import WorkflowNotFound

        try:
            return self.workflows.get(name)
        except WorkflowNotFound:
            return None

    def info(self) -> dict[str, Any]:
        """Counts and paths, for ``flowkit status`` and the UI header."""
        return {
            "path": str(self.path),
            "types": self.store.count("types"),
            "integrations": self.store.count("integrations"),
            "workflows": self.store.count("workflows"),
            "key_file": str(self.keys.key_file()),
        }
