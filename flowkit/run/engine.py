"""Run a workflow: validate, decrypt, schedule nodes on an executor, record, report events.

The pipeline of one run, top to bottom (`execute`):

1. **validate** the workflow with the run's inputs (`flowkit.run.validation`);
   any error refuses the run before anything executes;
2. **decrypt** the credentials of the integrations the run uses, once, and
   build the `Redactor` of their secrets (`flowkit.redaction`): it masks
   everything recorded or shown — params, results, errors, logs, events —
   while the values handed to the next nodes' templates stay as they are;
3. **record** the run's start durably in the run log (`flowkit.store.RunLog`);
4. **schedule**: a node is submitted to the executor when all its parents
   have succeeded, so independent nodes run side by side; its start and end
   are appended to the run's events file; retries wait out their back-off on
   a timer heap (no executor slot is held while waiting); a failure skips
   the node's descendants while independent branches carry on;
5. **finish**: write the whole run durably and tell the `on_event` callbacks.

All bookkeeping happens on the calling ("driver") thread: workers only run
`flowkit.executors.invoke.call_task` and hand back its outcome through a queue, so the
`Run` needs no locks and callbacks always run on the driver thread. When a
node is the only one that can run (a chain), and the executor allows it, the
driver makes the call itself: a pool thread would add two thread switches
and nothing could run beside it anyway. Event lines are written in batches,
handed to the OS whenever the driver is about to wait, run a task or call a
callback, so a killed process leaves every line of what happened before.

The engine is handed what a run needs (`RunParts`: the lookups to check the
workflow against, the run log, the host name) by `flowkit.Workspace`, never the
workspace itself; credentials decrypt through the integrations the lookups
return, with the workspace's keys.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import networkx as nx

from ..errors import ParamsError, TemplateError
from ..executors import call, capture, invoke
from ..executors.base import Executor, InlineExecutor
from ..model import Integration, NodeRun, Run, Workflow
from ..redaction import Redactor, StoredSecret, secret_leaves
from ..schema import validate_values
from ..store import RunLog
from .events import Event, EventCallback, deliver
from .templating import INPUTS, render
from .validation import Lookups, NodePlan, analyze, refusal

__all__ = ["Event", "Execution", "RunParts"]

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


@dataclass(frozen=True)
class RunParts:
    """What a run needs from its workspace.

    Attributes:
        lookups: the saved integrations, type drift and registry the workflow is checked against.
        log: where the run is recorded.
        host: this machine's name, recorded so an interrupted run can be told from a running one.
        secret_fields: the secret fields of an integration type (`IntegrationType.secret_fields`),
            None for a type that is gone: then every field of its integrations is masked.
        stored_secrets: every stored secret, which a run's inputs may not hold.
    """

    lookups: Lookups
    log: RunLog
    host: str
    secret_fields: Callable[[str], list[str] | None] = field(default=lambda type_name: None)
    stored_secrets: Callable[[], list[StoredSecret]] = field(default=list)


# -- one run --------------------------------------------------------------------------
class Execution:
    """One run of a workflow, driven from the calling thread (see the module docstring)."""

    def __init__(
        self,
        parts: RunParts,
        workflow: Workflow,
        *,
        inputs: dict[str, Any],
        scope: set[str],
        reused: dict[str, NodeRun],
        executor: Executor,
        callbacks: list[EventCallback],
        trigger: str,
        resumed_from: str | None = None,
    ) -> None:
        self.parts = parts
        self.workflow = workflow
        self.graph = workflow.graph
        self.inputs = inputs
        self.scope = scope
        self.reused = reused
        self.executor = executor
        self.callbacks = callbacks
        self.trigger = trigger
        self.resumed_from = resumed_from
        self.plans: dict[str, NodePlan] = {}
        self.integrations: dict[str, Integration] = {}
        self.credentials: dict[str, dict[str, Any]] = {}
        self.secrets: tuple[str, ...] = ()
        self.redactor = Redactor()
        self.results: dict[str, Any] = {}  # what nodes handed on, as they returned it
        self.sent: dict[str, dict[str, Any]] = {}
        self.done: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.remaining: dict[str, int] = {}  # parents each waiting node still waits for
        self.ready: deque[str] = deque()
        self.retries: list[tuple[float, int, str]] = []  # (due, tie-breaker, node), a heap
        self.sequence = itertools.count()
        self.in_flight = 0
        self.events: Any = None
        self.run = Run(workflow.name)

    # 1. validate ------------------------------------------------------------------
    def validate(self) -> None:
        analysis = analyze(self.parts.lookups, self.workflow, inputs=self.inputs)
        blocking = [problem for problem in analysis.errors if problem.node is None or problem.node in self.scope]
        if blocking:
            raise refusal(self.workflow, blocking)
        self.plans = {name: plan for name, plan in analysis.plans.items() if name in self.scope}
        self.integrations = analysis.integrations

    # 2. decrypt -------------------------------------------------------------------
    def decrypt(self) -> None:
        """Decrypt each integration the run uses, once; remember its module's loaded tasks."""
        secrets: dict[str, None] = {}
        for plan in self.plans.values():
            if plan.integration not in self.credentials:
                integration = self.integrations[plan.integration]  # read by validation; not decrypted yet
                values = self.credentials[plan.integration] = integration.credentials.reveal()
                secrets.update(dict.fromkeys(secret_leaves(values, self.parts.secret_fields(integration.type))))
        # Every call gets the secrets of the whole run: a value handed on from
        # another integration's node is masked in its log and notebooks too.
        self.secrets = tuple(secrets)
        self.redactor = Redactor.of(self.secrets)
        if any(plan.timeout is not None for plan in self.plans.values()):
            from ..executors.timeouts import ensure_server

            ensure_server()  # timed calls run in children of the fork server: start it before the clock does
        for module in {(plan.module, plan.location) for plan in self.plans.values()}:
            tasks = self.parts.lookups.registry.module(module[0]).tasks
            call.remember(module[0], module[1], {name: spec.func for name, spec in tasks.items()})

    # 3. record --------------------------------------------------------------------
    def start(self) -> None:
        run = self.run
        run.version = self.workflow.version
        run.snapshot = self.workflow.to_dict()
        run.inputs = self.redactor(self.inputs)
        run.trigger = self.trigger
        run.resumed_from = self.resumed_from
        run.pid = os.getpid()
        run.host = self.parts.host
        run.started_at = time.time()
        for name in nx.topological_sort(self.graph):
            if name in self.reused:
                run.nodes[name] = self.reused[name]
                self.results[name] = self.reused[name].result
            elif name in self.scope:
                run.nodes[name] = NodeRun(name)
        self.parts.log.save(run.to_dict(), run.summary(), checked=True)  # each value was checked on arrival
        self.events = self.parts.log.open_events(run.id)
        # Lines are handed to the OS in batches, each time before this thread may
        # wait or run a task (`flush`): a killed process still leaves every line of
        # what happened before, at one write() per batch instead of per line.

    def record(self, node_run: NodeRun) -> None:
        """Append a node's state to the events file (buffered until the next `flush`)."""
        self.events.write(_encode(node_run.to_dict()) + "\n")

    def flush(self) -> None:
        """Hand the buffered event lines to the OS (no fsync: see store.RunStore)."""
        self.events.flush()

    def record_start(self, node_run: NodeRun) -> None:
        """Note that a node started: a killed run then shows where it stopped (a short line, it is per node)."""
        self.events.write(
            _encode({"name": node_run.name, "status": "running", "started_at": node_run.started_at}) + "\n"
        )

    def emit(self, kind: str, node: str | None = None) -> None:
        if self.callbacks:
            if self.events is not None:
                self.flush()  # the record says it before anyone is told
            deliver(self.callbacks, Event(kind, self.run, node))

    # 4. schedule ------------------------------------------------------------------
    def render(self, plan: NodePlan) -> dict[str, Any]:
        if not plan.templated:
            return plan.params
        context = {INPUTS: self.inputs}
        for ref in plan.refs:
            context[ref] = self.results[ref]
        params = render(plan.params, context)
        if plan.declared is not None:
            params = validate_values(plan.declared, params, what="rendered params", error=ParamsError)
        return params

    def begin(self, name: str) -> dict[str, Any] | None:
        """Mark a node running and render its params; None (and the node failed) if they do not render."""
        plan = self.plans[name]
        node_run = self.run.nodes[name]
        node_run.status = "running"
        node_run.started_at = time.time()
        self.record_start(node_run)
        self.emit("node_started", name)
        try:
            params = self.render(plan)
        except (TemplateError, ParamsError) as exc:
            node_run.params = self.redactor(plan.params)
            self.fail(name, self.redactor.text(f"Node {name!r}: {exc}"))
            return None
        node_run.params = self.redactor(params)
        self.sent[name] = params  # handed to the task as rendered; a retry repeats it (the record is masked)
        return params

    def arguments(self, name: str) -> tuple[Any, ...]:
        """The plain data `invoke.call_task` gets for a node."""
        plan = self.plans[name]
        self.run.nodes[name].attempts += 1
        return (
            plan.module,
            plan.location,
            plan.task,
            self.credentials[plan.integration],
            self.sent[name],
            plan.timeout,
            self.secrets,
        )

    def submit(self, name: str) -> None:
        """Hand a node's call to the executor; its future reports back through the `done` queue."""
        if isinstance(self.executor, InlineExecutor):
            self.flush()  # the call runs right here
        try:
            future = self.executor.submit(invoke.call_task, *self.arguments(name))
        except Exception as exc:
            future = _failed_future(exc)
        future.add_done_callback(partial(_deliver, self.done, name))
        self.in_flight += 1

    def call_here(self, name: str) -> dict[str, Any]:
        """Make a node's call on this thread: when nothing else can run meanwhile, it saves two thread switches."""
        self.flush()
        try:
            return invoke.call_task(*self.arguments(name))
        except Exception as exc:
            return self.unrunnable(name, exc)

    def outcome(self, name: str, future: Any) -> dict[str, Any]:
        try:
            return dict(future.result())
        except Exception as exc:
            return self.unrunnable(name, exc)

    def unrunnable(self, name: str, exc: Exception) -> dict[str, Any]:
        """The outcome of a call that could not be made at all (the executor failed, not the task)."""
        plan = self.plans[name]
        error = f"{plan.module}.{plan.task} could not run on {self.executor!r}: {type(exc).__name__}: {exc}"
        return {"ok": False, "result": None, "log": "", "timed_out": False, "error": self.redactor.text(error)}

    def complete(self, name: str, outcome: dict[str, Any]) -> None:
        """Take a call's outcome: success frees the children, failure retries later or fails the node."""
        plan = self.plans[name]
        node_run = self.run.nodes[name]
        self.log_attempt(name, outcome)
        if outcome["ok"]:
            self.succeed(name, outcome)
            for child in self.graph.successors(name):
                if child in self.remaining:
                    self.remaining[child] -= 1
                    if self.remaining[child] == 0 and self.run.nodes[child].status == "pending":
                        self.ready.append(child)
        elif node_run.attempts <= plan.retries:
            delay = plan.retry_delay * 2 ** (node_run.attempts - 1)
            heapq.heappush(self.retries, (time.monotonic() + delay, next(self.sequence), name))
        else:
            if outcome.get("result") is not None:
                node_run.result = self.redactor(outcome["result"])
            self.fail(name, outcome["error"] or f"{plan.module}.{plan.task} failed.")

    def succeed(self, name: str, outcome: dict[str, Any]) -> None:
        node_run = self.run.nodes[name]
        node_run.status = "success"
        node_run.finished_at = time.time()
        self.results[name] = outcome["result"]  # handed on as it is
        node_run.result = self.redactor(outcome["result"])  # recorded and shown masked
        self.end(node_run)

    def fail(self, name: str, error: str) -> None:
        """Fail a node and skip every descendant still waiting."""
        node_run = self.run.nodes[name]
        node_run.status = "failed"
        node_run.error = error
        node_run.finished_at = time.time()
        self.end(node_run)
        for descendant in nx.topological_sort(self.graph.subgraph(nx.descendants(self.graph, name))):
            skipped = self.run.nodes.get(descendant)
            if skipped is not None and skipped.status == "pending":
                skipped.status = "skipped"
                skipped.error = f"Skipped: the upstream node {name!r} failed."
                self.end(skipped)

    def end(self, node_run: NodeRun) -> None:
        self.record(node_run)
        self.emit("node_finished", node_run.name)

    def log_attempt(self, name: str, outcome: dict[str, Any]) -> None:
        node_run = self.run.nodes[name]
        text = outcome.get("log") or ""
        if self.plans[name].retries:
            note = "" if outcome["ok"] else f"attempt {node_run.attempts} failed: {outcome['error']}\n"
            text = f"--- attempt {node_run.attempts} ---\n{text}{note}"
        node_run.log += text

    def schedule(self) -> None:
        """Run every node in scope in dependency order; see the module docstring."""
        for name, node_run in self.run.nodes.items():
            if node_run.status == "pending":
                count = sum(1 for parent in self.graph.predecessors(name) if parent not in self.reused)
                self.remaining[name] = count
                if count == 0:
                    self.ready.append(name)
        inline = self.executor.lone_calls_inline
        while True:
            while self.ready:
                name = self.ready.popleft()
                if self.begin(name) is None:
                    continue
                if inline and not self.ready and not self.in_flight and not self.retries:
                    self.complete(name, self.call_here(name))
                else:
                    self.submit(name)
            now = time.monotonic()
            while self.retries and self.retries[0][0] <= now:
                self.submit(heapq.heappop(self.retries)[2])
            if not self.in_flight and not self.retries:
                return
            wait = max(0.0, self.retries[0][0] - now) if self.retries else None
            try:
                self.flush()
                name, future = self.done.get(timeout=wait)
            except queue.Empty:
                continue
            self.in_flight -= 1
            self.complete(name, self.outcome(name, future))

    # 5. finish --------------------------------------------------------------------
    def finish(self, error: str | None = None) -> None:
        run = self.run
        failed = [name for name, node in run.nodes.items() if node.status == "failed"]
        for node in run.nodes.values():
            if node.status == "running":
                node.status, node.error, node.finished_at = "failed", error or "Interrupted.", time.time()
        run.status = "success" if not failed and error is None else "failed"
        if error is not None:
            run.error = error
        elif failed:
            run.error = f"{len(failed)} node(s) failed: {', '.join(failed)}."
        run.finished_at = time.time()
        if self.events is not None:
            self.events.close()
            self.events = None
        self.parts.log.finish(run.to_dict(), run.summary(), checked=True)

    def execute(self) -> Run:
        """Validate, decrypt, record, schedule, finish; returns the finished run."""
        self.validate()
        self.decrypt()
        self.start()
        self.emit("run_started")
        for name in self.reused:
            self.emit("node_finished", name)
        try:
            with capture.capturing(self.redactor):
                self.executor.run_started(self.run)
                self.schedule()
        except BaseException as exc:
            self.finish(self.redactor.text(f"The run stopped: {type(exc).__name__}: {exc}"))
            raise
        else:
            self.finish()
        finally:
            self.executor.run_finished(self.run)
            self.emit("run_finished")
        return self.run


def _deliver(done: queue.SimpleQueue[tuple[str, Any]], name: str, future: Any) -> None:
    done.put((name, future))


def _failed_future(exc: BaseException) -> Any:
    import concurrent.futures

    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_exception(exc)
    return future
