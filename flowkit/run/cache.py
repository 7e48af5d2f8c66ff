"""Cached node results: ``cache=True`` (or ``cache="1h"``) reuses an earlier successful call.

A call's *key* is a SHA-256 over everything that decides its result and
nothing secret:

* the integration module's name and a digest of its source (every ``.py``
  file of its folder, or of its installed package), so editing a task misses;
* the task's name;
* the integration's name and its credentials' *version* (a fingerprint of the
  encrypted record, `flowkit.model.Integration.version`): saving or
  re-encrypting the credentials misses, and no credential value goes in;
* the rendered params, as canonical JSON.

Entries are documents of the workspace store's ``cache`` collection (through
`flowkit.store.Store`, like every collection): ``{"name": key, "result",
"run_id", "node", "created_at", "expires_at"}``. The result is kept *as
recorded*, credential values masked, because it is stored in the workspace. A
run reads the collection once, when it first needs it, and writes what it
learned once, at its end, keeping the newest `MAX_ENTRIES` and dropping what
has expired. ``ws.run(..., cache=False)`` / ``flowkit run --no-cache`` neither
read nor write it; ``flowkit cache clear`` empties it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FlowkitError
from ..model import parse_duration
from ..store import Store

if TYPE_CHECKING:
    from ..model import Integration, Run
    from ..redaction import Redactor
    from .validation import NodePlan

logger = logging.getLogger(__name__)

COLLECTION = "cache"
#: The most entries kept; the oldest go first.
MAX_ENTRIES = 2000

_digests: dict[str, tuple[tuple[tuple[str, int, int], ...], str]] = {}
_digests_lock = threading.Lock()


def _files(location: str) -> list[Path]:
    """The source files of a module: its folder's ``.py`` files, or an installed module's own."""
    folder = Path(location)
    if not folder.is_absolute():  # an entry point: ``package.module``
        spec = importlib.util.find_spec(location)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None:
            return []
        if origin.name != "__init__.py":
            return [origin]
        folder = origin.parent
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def source_digest(location: str) -> str:
    """A digest of a module's source; re-read only when a file's size or time changed."""
    files = _files(location)
    stamp = tuple((str(path), *_stat(path)) for path in files)
    with _digests_lock:
        known = _digests.get(location)
        if known is not None and known[0] == stamp:
            return known[1]
    digest = hashlib.sha256()
    root = os.path.commonpath([str(path.parent) for path in files]) if files else ""
    for path in files:
        digest.update(os.path.relpath(path, root).encode() + b"\0" + path.read_bytes() + b"\0")
    found = digest.hexdigest()
    with _digests_lock:
        _digests[location] = (stamp, found)
    return found


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def call_key(*, module: str, source: str, task: str, integration: str, version: str | None, params: Any) -> str:
    """The key of one call (see the module docstring); params are read as canonical JSON."""
    text = json.dumps(
        [module, source, task, integration, version, params], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """One workspace's cached results, read once per run and written once at its end.

    Args:
        store: the workspace's store (its ``cache`` collection holds the entries).
        max_entries: the most entries kept.
    """

    def __init__(self, store: Store, *, max_entries: int = MAX_ENTRIES) -> None:
        self.store = store
        self.max_entries = max_entries

    def session(self) -> CacheSession:
        """What one run reads and learns."""
        return CacheSession(self)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        return sorted(self.store.all(COLLECTION), key=lambda entry: entry.get("created_at", 0))

    def clear(self) -> int:
        """Remove every entry; how many there were."""
        with self.store.locked():
            names = [entry["name"] for entry in self.store.all(COLLECTION)]
            self.store.put_many(COLLECTION, [], drop=names)
        return len(names)

    def save(self, learned: list[dict[str, Any]]) -> None:
        """Add what a run learned, dropping expired entries and the oldest beyond `max_entries`."""
        now = time.time()
        learned = learned[-self.max_entries :]
        with self.store.locked():
            current = self.store.all(COLLECTION)
            new = {entry["name"] for entry in learned}
            live = [e for e in current if e["name"] not in new and (e.get("expires_at") or now + 1) > now]
            live.sort(key=lambda entry: entry.get("created_at", 0))
            kept = {e["name"] for e in live[max(len(live) - (self.max_entries - len(learned)), 0) :]}
            dropped = [e["name"] for e in current if e["name"] not in kept and e["name"] not in new]
            self.store.put_many(COLLECTION, learned, drop=dropped)


class CacheSession:
    """One run's view of the cache: entries looked up in memory, new ones written at the end."""

    def __init__(self, cache: ResultCache) -> None:
        self.cache = cache
        self.known: dict[str, dict[str, Any]] | None = None
        self.learned: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, str] = {}
        self.keys: dict[Any, str] = {}  # calls (node names, items) whose result the run is to learn

    def source(self, location: str) -> str:
        """A module's source digest, read once per run (a run uses the version it loaded)."""
        if location not in self.sources:
            self.sources[location] = source_digest(location)
        return self.sources[location]

    def get(self, key: str) -> dict[str, Any] | None:
        """The live entry for `key`, or None (read from the store on the first call of the run)."""
        if self.known is None:
            self.known = {entry["name"]: entry for entry in self.cache.store.all(COLLECTION)}
        entry = self.learned.get(key) or self.known.get(key)
        if entry is None or (entry.get("expires_at") is not None and entry["expires_at"] <= time.time()):
            return None
        return entry

    def put(self, key: str, result: Any, *, run_id: str, node: str, ttl: float | None) -> None:
        now = time.time()
        self.learned[key] = {
            "name": key,
            "result": result,
            "run_id": run_id,
            "node": node,
            "created_at": now,
            "expires_at": None if ttl is None else now + ttl,
        }

    def save(self) -> None:
        """Write what this run learned (one change to the store)."""
        if self.learned:
            self.cache.save(list(self.learned.values()))
            self.learned = {}


class Caching:
    """The steps of `flowkit.run.engine.Execution` that use the cache (mixed into it)."""

    if TYPE_CHECKING:
        plans: dict[str, NodePlan]
        integrations: dict[str, Integration]
        run: Run
        redactor: Redactor
        cache: CacheSession | None

        def succeed(self, name: str, outcome: dict[str, Any]) -> None: ...

    def cache_key(self, name: str, params: Any) -> str | None:
        """The key of a call of node `name` with `params`, when the node is cached and the run uses the cache."""
        plan = self.plans[name]
        if self.cache is None or plan.cache is False:
            return None
        return call_key(
            module=plan.module,
            source=self.cache.source(plan.location),
            task=plan.task,
            integration=plan.integration,
            version=self.integrations[plan.integration].version,
            params=params,
        )

    def cache_entry(self, slot: Any, node: str, params: Any) -> dict[str, Any] | None:
        """The cached entry of node `node`'s call with `params`, or None (its key noted under `slot` to learn)."""
        key = self.cache_key(node, params)
        if key is None or self.cache is None:
            return None
        entry = self.cache.get(key)
        if entry is None:
            self.cache.keys[slot] = key
        return entry

    def cached(self, name: str, params: Any) -> bool:
        """Succeed node `name` from the cache if an earlier call with the same key succeeded; else note its key."""
        entry = self.cache_entry(name, name, params)
        if entry is None:
            return False
        self.run.nodes[name].cached_from = entry["run_id"]
        self.succeed(name, {"result": entry["result"]})
        return True

    def learn(self, name: Any, result: Any) -> None:
        """Keep a successful call's result (as recorded: masked) for later runs."""
        key = self.cache.keys.pop(name, None) if self.cache is not None else None
        if key is not None and self.cache is not None:
            node = name if isinstance(name, str) else name.node  # a node, or an item of a foreach node
            ttl = self.plans[node].cache
            seconds = parse_duration(ttl) if isinstance(ttl, str) else None
            self.cache.put(key, self.redactor(result), run_id=self.run.id, node=node, ttl=seconds)

    def save_cache(self) -> None:
        """Write what the run learned; a store that refuses it is logged, the run's record stands."""
        if self.cache is not None:
            try:
                self.cache.save()
            except FlowkitError:
                logger.exception("The cache could not be saved; the run is recorded all the same.")
