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

Params that need Jinja render off the driver, under a budget (`flowkit.run.rendering`).
A run ends early, ``cancelled``, when its `RunControl` says so (`flowkit.run.control`).

All bookkeeping happens on the calling ("driver") thread: workers only run
`flowkit.executors.invoke.call_task` and hand back its outcome through a queue, so the
`Run` needs no locks and callbacks always run on the driver thread. When a
node is the only one that can run (a chain), and the executor allows it, the
driver makes the call itself: a pool thread would add two thread switches
and nothing could run beside it anyway. A call of a task known to be quick
(`flowkit.executors.call.is_quick`: its last calls took under a millisecond)
is made by the driver too, once everything else ready has been handed out:
for such a call the hand-off would cost more than the call.

The engine is handed what a run needs (`RunParts`: the lookups to check the
workflow against, the run log, the host name) by `flowkit.Workspace`, never the
workspace itself; credentials decrypt through the integrations the lookups
return, with the workspace's keys.
"""

from __future__ import annotations

import heapq
import itertools
import os
import queue
import time
from collections import deque
from functools import partial
from typing import Any

from ..errors import ParamsError, TemplateError
from ..executors import call, capture
from ..executors.base import Executor
from ..model import Integration, NodeRun, Run, Workflow
from ..redaction import Redactor, secret_leaves
from .calls import Calls
from .control import RunControl, cancel_nodes, stop_local_calls
from .events import Event, EventCallback, EventsFile, deliver
from .language import Language
from .output import OutputStream
from .parts import RunParts
from .rendering import ParamRenderer
from .template_budget import DEFAULT_BUDGET, RenderBudget
from .topology import Topology
from .validation import NodePlan, analyze, refusal

__all__ = ["Event", "Execution", "RunParts"]


# -- one run --------------------------------------------------------------------------
class Execution(Calls, Language):  # making calls (`flowkit.run.calls`), the language (`flowkit.run.language`)
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
        control: RunControl | None = None,
        render_budget: RenderBudget = DEFAULT_BUDGET,
        earlier: Run | None = None,
        use_cache: bool = True,
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
        self.done: queue.SimpleQueue[tuple[str, Any, Any]] = queue.SimpleQueue()  # (kind, node or key, future)
        self.sent: dict[str, dict[str, Any]] = {}
        self.control = control or RunControl()
        self.params = ParamRenderer(inputs, self.results, render_budget, lambda *done: self.done.put(("render", *done)))
        self.abandoned = False  # cancelled with calls still running, which nobody waits for
        self.output: OutputStream | None = None  # a running node's output, when someone listens
        self.topology = Topology({}, [])
        self.ready: deque[str] = deque()
        self.quick: deque[str] = deque()  # see `flowkit.run.calls`
        self.retries: list[tuple[float, int, Any]] = []  # (due, tie-breaker, node or ItemKey), a heap
        self.sequence = itertools.count()
        self.in_flight = 0
        self.events: Any = None  # an EventsFile once the run is recorded
        self.run = Run(workflow.name)
        self.start_language(parts.cache, earlier, use_cache)

    # 1. validate ------------------------------------------------------------------
    def validate(self) -> None:
        analysis = analyze(self.parts.lookups, self.workflow, inputs=self.inputs)
        blocking = [problem for problem in analysis.errors if problem.node is None or problem.node in self.scope]
        if blocking:
            raise refusal(self.workflow, blocking)
        self.plans = {name: plan for name, plan in analysis.plans.items() if name in self.scope}
        self.integrations = analysis.integrations
        self.topology = Topology(analysis.children, analysis.order)

    # 2. decrypt -------------------------------------------------------------------
    def decrypt(self) -> None:
        """Decrypt each integration the run uses, once; remember its module's loaded tasks."""
        secrets: dict[str, None] = {}
        calls = [plan for plan in self.plans.values() if plan.workflow is None]  # not sub-workflow nodes
        for plan in calls:
            if plan.integration not in self.credentials:
                integration = self.integrations[plan.integration]  # read by validation; not decrypted yet
                values = self.credentials[plan.integration] = integration.credentials.reveal()
                secrets.update(dict.fromkeys(secret_leaves(values, self.parts.secret_fields(integration.type))))
        # Every call gets the secrets of the whole run: a value handed on from
        # another integration's node is masked in its log and notebooks too.
        self.secrets = tuple(secrets)
        self.redactor = Redactor.of(self.secrets)
        if any(plan.timeout is not None for plan in self.plans.values()):
            from ..executors import workers

            workers.prepare()  # a warm child (and the fork server) ready before the clock starts
        for module in {(plan.module, plan.location) for plan in calls}:
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
        nodes: dict[str, Any] = {}  # as recorded (values checked on arrival); a node to run: name and status
        for name in self.topology.order:
            if name in self.reused:
                run.nodes[name] = self.reused[name]
                self.results[name] = self.reused[name].result
                nodes[name] = self.reused[name].to_dict()
            elif name in self.scope:
                run.nodes[name] = NodeRun(name)
                nodes[name] = {"name": name, "status": "pending"}
        self.parts.log.save({**run.header(), "snapshot": run.snapshot, "nodes": nodes}, run.summary(), checked=True)
        self.events = EventsFile(self.parts.log.open_events(run.id))

    def flush(self) -> None:
        """Hand the buffered event lines to the OS, before this thread may wait or run a task."""
        self.events.flush()

    def emit(self, kind: str, node: str | None = None, text: str | None = None) -> None:
        if self.callbacks:
            if self.events is not None:
                self.flush()  # the record says it before anyone is told
            deliver(self.callbacks, Event(kind, self.run, node, text))

    # 4. schedule ------------------------------------------------------------------
    def begin(self, name: str) -> None:
        """Mark a node running and render its params (see `flowkit.run.rendering`); call it once they are there."""
        if not self.admitted(name):
            return
        node_run = self.run.nodes[name]
        node_run.status = "running"
        node_run.started_at = time.time()
        self.events.started(node_run)
        self.emit("node_started", name)
        plan = self.plans[name]
        if plan.foreach is not None:
            return self.fan_out(name)
        if not plan.templated:  # its params are as planned: nothing to render
            return self.dispatch(name, plan.params)
        self.proceed(name, partial(self.params.start, name, plan))

    def rendered(self, name: str, future: Any) -> None:
        """A render made aside has ended."""
        self.proceed(name, partial(self.params.take, name, future))

    def proceed(self, name: str, params_of: Any) -> None:
        """Call the node once `params_of()` gives its params (None: not yet); a failed render fails the node."""
        try:
            params = params_of()
        except (TemplateError, ParamsError) as exc:
            self.render_failed(name, exc)
            return
        if params is not None:
            self.dispatch(name, params)

    def render_failed(self, name: str, exc: Exception) -> None:
        self.run.nodes[name].params = self.redactor(self.plans[name].params)
        self.fail(name, self.redactor.text(f"Node {name!r}: {exc}"))

    def complete(self, name: str, outcome: dict[str, Any]) -> None:
        """Take a call's outcome: success frees the children, failure retries later or fails the node."""
        plan = self.plans[name]
        node_run = self.run.nodes[name]
        self.log_attempt(name, outcome)
        if not outcome["ok"] and self.control.check() is not None:
            return  # stopped by the cancel: `cancel_all` records it cancelled
        if outcome["ok"]:
            self.succeed(name, outcome)
        elif node_run.attempts <= plan.retries:
            self.retry_later(name, plan, node_run.attempts)
        else:
            if outcome.get("result") is not None:
                node_run.result = self.redactor(outcome["result"])
            self.fail(name, outcome["error"] or f"{plan.module}.{plan.task} failed.")

    def retry_later(self, key: Any, plan: NodePlan, attempts: int) -> None:
        """Call a node (or a foreach item: its `ItemKey`) again after its back-off: ``retry_delay × 2ⁿ⁻¹``."""
        delay = plan.retry_delay * 2 ** (attempts - 1)
        heapq.heappush(self.retries, (time.monotonic() + delay, next(self.sequence), key))

    def succeed(self, name: str, outcome: dict[str, Any]) -> None:
        node_run = self.run.nodes[name]
        node_run.status = "success"
        node_run.finished_at = time.time()
        self.results[name] = outcome["result"]  # handed on as it is
        node_run.result = self.redactor(outcome["result"])  # recorded and shown masked
        self.learn(name, node_run.result)
        self.end(node_run)

    def fail(self, name: str, error: str) -> None:
        """Fail a node; its children then follow their trigger rules (see `flowkit.run.rules`)."""
        node_run = self.run.nodes[name]
        node_run.status = "failed"
        node_run.error = error
        node_run.finished_at = time.time()
        self.end(node_run)

    def end(self, node_run: NodeRun) -> None:
        self.events.ended(node_run)
        self.emit("node_finished", node_run.name)
        self.settle(node_run.name)

    def log_attempt(self, name: str, outcome: dict[str, Any]) -> None:
        node_run = self.run.nodes[name]
        text = outcome.get("log") or ""
        if self.plans[name].retries:
            note = "" if outcome["ok"] else f"attempt {node_run.attempts} failed: {outcome['error']}\n"
            text = f"--- attempt {node_run.attempts} ---\n{text}{note}"
        node_run.log += text

    def schedule(self) -> None:
        """Run every node in scope in dependency order; see the module docstring."""
        self.settle(None)
        while True:
            while self.ready and self.control.check() is None:
                self.begin(self.ready.popleft())
            self.make_quick_calls()
            if self.control.check() is not None:
                self.cancel_all()
                return
            now = time.monotonic()
            while self.retries and self.retries[0][0] <= now:
                self.submit(heapq.heappop(self.retries)[2])
            for name in self.params.overdue(now):
                self.render_failed(name, self.params.budget.too_long())
            if self.ready:
                continue
            if not self.in_flight and not self.retries and not self.params.pending:
                return
            try:  # what has ended already is taken without a flush: one write() per wait, not per outcome
                kind, name, future = self.done.get_nowait()
            except queue.Empty:
                try:
                    self.flush()
                    kind, name, future = self.done.get(timeout=self.wait_time(now))
                except queue.Empty:
                    continue
            if kind == "call":  # a node's call, or (under its key) a foreach item or a child run
                self.in_flight -= 1
                self.complete(name, self.outcome(name, future)) if isinstance(name, str) else name.report(self, future)
            elif kind == "render":  # a "wake" (the run was cancelled) needs nothing: the control says so
                self.rendered(name, future)
            elif kind == "output" and self.output is not None:
                self.output.report(name, future)

    def wait_time(self, now: float) -> float | None:
        """How long the driver may wait for an outcome: until the next retry, render limit or control check."""
        dues = [self.retries[0][0]] if self.retries else []
        return self.control.wait_limit(now, *dues, *self.params.pending.values())

    def cancel_all(self) -> None:
        """Stop a cancelled run: running nodes cancelled (their processes stopped), waiting ones skipped."""
        self.executor.run_cancelled(self.run)  # stops what it can; were it to raise, `execute` records the run
        for node_run in cancel_nodes(self.run, self.topology.order, self.control.reason or ""):
            self.end(node_run)
        self.abandoned = bool(self.in_flight or self.params.pending)
        self.params.abandon()
        self.retries.clear()
        self.quick.clear()  # their nodes were running, so `cancel_nodes` recorded them cancelled

    # 5. finish --------------------------------------------------------------------
    def finish(self, error: str | None = None) -> None:
        run = self.run
        failed = self.gate.failing(run.nodes)
        for node in run.nodes.values():
            if node.status == "running":
                node.status, node.error, node.finished_at = "failed", error or "Interrupted.", time.time()
                if self.events is not None:
                    self.events.ended(node)
        run.status = "success" if not failed and error is None else "failed"
        if error is not None:
            run.error = error
        elif self.control.reason is not None:
            run.status, run.error = "cancelled", f"Cancelled: {self.control.reason}."
        elif failed:
            run.error = f"{len(failed)} node(s) failed: {', '.join(failed)}."
        run.finished_at = time.time()
        if self.events is None:  # not recorded yet
            self.parts.log.finish(run.to_dict(), run.summary(), checked=True)
        else:  # every node's state is in the events file already: only the run's own fields are left
            self.events.close()
            self.events = None
            self.parts.log.end(run.id, run.header(), run.summary())
        self.save_cache()

    def execute(self) -> Run:
        """Validate, decrypt, record, schedule, finish; returns the finished run."""
        self.validate()
        self.decrypt()
        self.start()
        self.output = OutputStream.when_listened(self)
        self.emit("run_started")
        for name in self.reused:
            self.emit("node_finished", name)
        self.control.on_cancel(partial(self.done.put, ("wake", "", None)))
        self.control.on_cancel(partial(stop_local_calls, self.run.id))
        try:
            with capture.capturing(self.redactor), self.control.watching():
                self.executor.run_started(self.run)
                self.schedule()
        except KeyboardInterrupt:  # a second Ctrl-C: stop now, but still say what ran
            self.control.cancel("interrupted (Ctrl-C)")
            self.cancel_all()
            self.finish()
            raise
        except BaseException as exc:
            self.finish(self.redactor.text(f"The run stopped: {type(exc).__name__}: {exc}"))
            raise
        else:
            self.finish()
        finally:
            self.executor.run_finished(self.run)
            self.emit("run_finished")
        return self.run
