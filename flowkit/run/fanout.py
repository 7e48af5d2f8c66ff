"""Fan-out: a node with ``foreach=`` runs its task once per item of a list.

The list is rendered just before the node runs (``foreach="{{ list_files.items }}"``
or a literal list). Each item is one call, made like any node's call (same
executor, credentials, timeout, retries, masking), with ``{{ item }}`` and
``{{ item_index }}`` in its params; at most ``max_parallel`` run at once (by
default as many as the executor takes). Every item call is submitted from the
driver thread and reports back through the engine's queue under an `ItemKey`,
so item bookkeeping needs no locks and works on every executor, Dask included.

The node succeeds when every item does; its result is
``{"success": ..., "message": "n of m items succeeded", "items": [result per item]}``
and its record's ``items`` hold each item's status, attempts, duration and
error (updated as items finish: ``n/m`` in the live drawing). An empty list
succeeds at once with ``items: []``. A resumed run calls again only the items
that did not succeed (matched by index and a hash of the item's value).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..errors import ParamsError, TemplateError
from ..executors import invoke
from ..executors.base import Outcome
from .templating import has_templates, needs_jinja, render_within

if TYPE_CHECKING:
    import queue

    from ..executors.base import Executor
    from ..model import NodeRun, Run
    from ..redaction import Redactor
    from .validation import NodePlan

#: How many item errors a failed foreach node's error quotes.
ERRORS_SHOWN = 3


@dataclass(frozen=True)
class ItemKey:
    """What an item call reports back under in the engine's queue and retry heap (not a node name)."""

    node: str
    index: int

    def report(self, execution: Any, future: Any) -> None:
        execution.item_done(self, future)


#: What `json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))` builds on each call, once.
_ITEM_TEXT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def item_hash(value: Any) -> str:
    """A short digest of an item's value: a resumed run reuses an item only if its value is the same."""
    return hashlib.sha256(_ITEM_TEXT.encode(value).encode()).hexdigest()[:16]


class Items:
    """One foreach node's items in a run: which wait, how many run, each one's record and result."""

    def __init__(
        self, values: list[Any], limit: int | None, earlier: NodeRun | None, params: dict[str, Any] | None = None
    ) -> None:
        self.values = values
        self.limit = limit or max(len(values), 1)
        self.records: list[dict[str, Any]] = []
        self.results: list[Any] = [None] * len(values)
        self.waiting: deque[int] = deque()
        self.started: dict[int, float] = {}
        self.running = 0
        self.unfinished = 0
        self.same_params: dict[str, Any] | None = None  # every item's params, when no template reads the item
        self.static = not has_templates(params or {})  # no template in the params: rendered once for every item
        self.metered = needs_jinja(params or {})  # plain references (``{{ item }}``) are dict lookups: no meter
        old = _earlier_items(earlier)
        for index, value in enumerate(values):
            key = item_hash(value)
            previous = old.get(index)
            if previous is not None and previous[0].get("key") == key:
                self.records.append({**previous[0], "reused": True})
                self.results[index] = previous[1]
            else:
                self.records.append({"index": index, "key": key, "status": "pending", "attempts": 0})
                self.waiting.append(index)
                self.unfinished += 1

    def summary(self) -> tuple[bool, dict[str, Any], str | None]:
        """Whether every item succeeded, the node's result, and its error when one failed."""
        failed = [record for record in self.records if record["status"] != "success"]
        total = len(self.records)
        result = {
            "success": not failed,
            "message": f"{total - len(failed)} of {total} items succeeded.",
            "items": self.results,
        }
        if not failed:
            return True, result, None
        quoted = "; ".join(f"item {record['index']}: {record.get('error')}" for record in failed[:ERRORS_SHOWN])
        more = f"; and {len(failed) - ERRORS_SHOWN} more" if len(failed) > ERRORS_SHOWN else ""
        return False, result, f"{len(failed)} of {total} items failed: {quoted}{more}."


def _earlier_items(node_run: NodeRun | None) -> dict[int, tuple[dict[str, Any], Any]]:
    """The items that succeeded in an earlier run of the node, by index, with their results."""
    if node_run is None or not node_run.items or not isinstance(node_run.result, dict):
        return {}
    results = node_run.result.get("items")
    if not isinstance(results, list) or len(results) != len(node_run.items):
        return {}
    return {
        record["index"]: (record, results[position])
        for position, record in enumerate(node_run.items)
        if isinstance(record, dict) and record.get("status") == "success" and isinstance(record.get("index"), int)
    }


class FanOut:
    """The steps of `flowkit.run.engine.Execution` that run foreach nodes (mixed into it)."""

    if TYPE_CHECKING:
        plans: dict[str, NodePlan]
        run: Run
        credentials: dict[str, dict[str, Any]]
        redactor: Redactor
        executor: Executor
        done: queue.SimpleQueue[tuple[str, Any, Any]]
        params: Any  # the run's ParamRenderer: its budget meters every render here too
        control: Any
        in_flight: int
        fanouts: dict[str, Items]
        earlier: Run | None

        secrets: tuple[str, ...]

        cache: Any

        def unrunnable(self, name: str, exc: Exception) -> dict[str, Any]: ...
        def known_quick(self, plan: NodePlan) -> bool: ...
        def retry_later(self, key: Any, plan: NodePlan, attempts: int) -> None: ...
        def on_driver(self, name: str, function: Any, arguments: tuple[Any, ...]) -> dict[str, Any]: ...
        def cache_entry(self, slot: Any, node: str, params: Any) -> dict[str, Any] | None: ...
        def learn(self, name: Any, result: Any) -> None: ...
        def succeed(self, name: str, outcome: dict[str, Any]) -> None: ...
        def fail(self, name: str, error: str) -> None: ...
        def emit(self, kind: str, node: str | None = None) -> None: ...

    def fan_out(self, name: str) -> None:
        """Start a running foreach node: render its list, then call its items (see the module docstring)."""
        plan = self.plans[name]
        try:
            values = render_within(plan.foreach, self.params.context(plan), self.params.budget)
        except TemplateError as exc:
            self.fail(name, self.redactor.text(f"Node {name!r}: foreach {exc}"))
            return
        if not isinstance(values, list):
            self.fail(name, f"Node {name!r}: foreach gave {type(values).__name__}, not a list.")
            return
        earlier = self.earlier.nodes.get(name) if self.earlier is not None else None
        items = self.fanouts[name] = Items(values, plan.max_parallel, earlier, plan.params)
        self.run.nodes[name].items = items.records
        self.run.nodes[name].params = self.redactor(plan.params)
        self.pump(name)

    def pump(self, name: str) -> None:
        """Call waiting items while the node's limit allows; end the node when none are left."""
        items = self.fanouts[name]
        while items.waiting and items.running < items.limit:
            self.submit_item(ItemKey(name, items.waiting.popleft()))
        if not items.unfinished:
            del self.fanouts[name]
            self.run.nodes[name].attempts = sum(record["attempts"] for record in items.records)
            ok, result, error = items.summary()
            if ok:
                self.succeed(name, {"result": result})  # handed on as the tasks returned it, recorded masked
            else:
                self.run.nodes[name].result = self.redactor(result)
                self.fail(name, error or "")

    def item_params(self, plan: NodePlan, key: ItemKey) -> dict[str, Any]:
        items = self.fanouts[key.node]
        if items.same_params is not None:
            return items.same_params
        context = self.params.context(plan)
        context["item"] = items.values[key.index]
        context["item_index"] = key.index
        params = self.params.render(plan, context, metered=items.metered)
        if items.static:  # each call gets its own copy (`call.call_here`)
            items.same_params = params
        return params

    def submit_item(self, key: ItemKey) -> None:
        """Hand one item's call to the executor (also a retry's, from the engine's retry heap)."""
        plan = self.plans[key.node]
        items = self.fanouts[key.node]
        record = items.records[key.index]
        record["status"] = "running"
        record["attempts"] += 1
        items.started.setdefault(key.index, time.time())
        items.running += 1
        self.in_flight += 1
        try:
            params = self.item_params(plan, key)
            hit = self.cache_entry(key, key.node, params)  # with cache=, each item is cached on its own
            if hit is not None:
                record["cached_from"] = hit["run_id"]
                ended = {"ok": True, "result": hit["result"], "log": "", "error": None}
            else:
                credentials = self.credentials[plan.integration]
                args = (
                    plan.module,
                    plan.location,
                    plan.task,
                    credentials,
                    params,
                    plan.timeout,
                    self.secrets,
                    self.run.id,
                )
                if self.known_quick(plan):  # made here, as a known-quick node's call (`flowkit.run.calls`)
                    ended = self.on_driver(key.node, invoke.call_task, args)
                else:
                    future = self.executor.submit(invoke.call_task, *args)
                    future.add_done_callback(partial(deliver_call, self.done, key))
                    return
        except (TemplateError, ParamsError) as exc:
            ended = {"ok": False, "result": None, "log": "", "error": self.redactor.text(str(exc))}
            record["attempts"] = plan.retries + 1  # rendering again would fail the same way
        except Exception as exc:
            ended = self.unrunnable(key.node, exc)
        self.done.put(("call", key, Outcome(ended)))  # through the queue: a long list is a loop, not a recursion

    def item_done(self, key: ItemKey, future: Any) -> None:
        """Take an item call's outcome (on the driver thread): record it, retry it, or call the next item."""
        plan = self.plans[key.node]
        items = self.fanouts[key.node]
        items.running -= 1
        if self.control.check() is not None:
            return  # the run was cancelled: `cancel_all` records the node cancelled
        try:
            outcome = dict(future.result())  # error and log come masked; the result is handed on
        except Exception as exc:
            outcome = self.unrunnable(key.node, exc)
        record = items.records[key.index]
        if outcome.get("log"):
            self.run.nodes[key.node].log += f"--- item {key.index} ---\n{outcome['log']}"
        if not outcome["ok"] and record["attempts"] <= plan.retries:
            self.retry_later(key, plan, record["attempts"])
            self.pump(key.node)  # its slot is free while it waits
            return
        items.unfinished -= 1
        record["status"] = "success" if outcome["ok"] else "failed"
        record["duration"] = time.time() - items.started[key.index]
        record["error"] = None if outcome["ok"] else outcome.get("error") or f"{plan.module}.{plan.task} failed."
        items.results[key.index] = outcome.get("result")
        if outcome["ok"]:
            self.learn(key, outcome.get("result"))
        self.emit("node_progress", key.node)
        self.pump(key.node)


def deliver_call(done: queue.SimpleQueue[tuple[str, Any, Any]], key: Any, future: Any) -> None:
    """A finished call's future onto the driver's queue, under its key (an item's or a child run's)."""
    done.put(("call", key, future))
