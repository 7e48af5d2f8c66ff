"""Whether a node runs: trigger rules over its parents' outcomes, then its condition.

A node is decided once every parent has finished (succeeded, failed or been
skipped). Its ``trigger`` (Airflow's names) reads the parents' *outcomes*:

=============  ==========================================================
outcome        what the parent did
=============  ==========================================================
success        succeeded, or failed with ``allow_failure=True`` (continue-on-error)
failed         failed
skipped        skipped by its condition, or its own trigger rule was not met
upstream       skipped because something above it failed
=============  ==========================================================

* ``all_success`` (default): runs when every parent is a success; a failed or
  upstream parent skips it as *upstream*, a skipped one as *skipped*;
* ``all_done``: runs once every parent has finished, whatever happened;
* ``one_failed``: runs when a parent failed (or is *upstream*); else skipped;
* ``none_failed``: runs when no parent failed (successes and skips are fine).

A node that may run then has its ``when`` condition evaluated, just before it
would start; false skips it with the reason "condition was false".

Templates read a finished parent as its result with three keys laid over it:
``status``, ``error`` (as recorded, so masked) and ``result`` (the task's own
result, whose ``status``/``error`` keys the first two hide).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import networkx as nx

from ..errors import TemplateError
from ..model import Node, NodeRun
from .template_budget import RenderBudget
from .templating import INPUTS, render_within

if TYPE_CHECKING:
    from ..redaction import Redactor

CONDITION_FALSE = "condition was false"
NO_FAILURE = "no upstream node failed"
UPSTREAM_OUTCOMES = ("failed", "upstream")


def view(node_run: NodeRun, result: Any) -> dict[str, Any]:
    """What templates see of a finished node: `result` (as handed on), with ``status``, ``error`` and ``result``
    laid over (``error`` as recorded: masked)."""
    own = result if isinstance(result, dict) else {}
    return {**own, "status": node_run.status, "error": node_run.error, "result": result}


def truthy(value: Any) -> bool:
    """A condition's verdict: Python truth, except that the texts "false", "no", "0", "off" and "" are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "off", "none")
    return bool(value)


class Gate:
    """The trigger-rule bookkeeping of one run: parents still running, and each finished node's outcome.

    Args:
        graph: the workflow's DAG (each node's ``node`` attribute is its `Node`).
        nodes: the run's `NodeRun`s, live.
        results: where finished nodes' template views go (the engine renders from it).
    """

    def __init__(self, graph: nx.DiGraph, nodes: dict[str, NodeRun], results: dict[str, Any]) -> None:
        self.graph = graph
        self.nodes = nodes
        self.results = results
        self.definitions: dict[str, Node] = {name: data["node"] for name, data in graph.nodes(data=True)}
        self.referenced: set[str] = set()
        self.children: Mapping[str, list[str]] = {}
        self.parents: dict[str, list[str]] = {}
        self.outcomes: dict[str, str] = {}
        self.waiting: dict[str, int] = {}
        self.todo: deque[str | None] = deque()  # ends still to settle (see `Triggers.settle`)
        self.settling = False

    def definition(self, name: str) -> Node:
        return self.definitions[name]

    def start(self, plans: Mapping[str, Any], children: Mapping[str, list[str]]) -> list[tuple[str, str | None]]:
        """Note the nodes already finished (reused) and decide those with no unfinished parent.

        Args:
            plans: the run's node plans; only nodes some template reads (their ``refs``) get a view.
            children: each node's children (the run's one walk of the graph: no networkx call per node).
        """
        self.referenced = set().union(*(plan.refs for plan in plans.values()))
        self.children = children
        self.parents = {name: [] for name in children}
        for name, below in children.items():
            for child in below:
                self.parents[child].append(name)
        for name, node_run in self.nodes.items():
            if node_run.status != "pending":
                self.finished(name)
        decided = []
        outcomes = self.outcomes  # empty unless nodes were reused: then every parent is still to come
        for name, node_run in self.nodes.items():
            if node_run.status == "pending":
                parents = self.parents[name]
                waiting = self.waiting[name] = (
                    sum(1 for parent in parents if parent not in outcomes) if outcomes else len(parents)
                )
                if waiting == 0:
                    decided.append((name, self.verdict(name)))
        return decided

    def finished(self, name: str) -> list[tuple[str, str | None]]:
        """Record a node's end; every child now decided, with None (run it) or why it is skipped."""
        node_run = self.nodes[name]
        self.outcomes[name] = "success" if node_run.status == "success" else self.outcome(node_run)
        if name in self.referenced:  # a success's result as handed on (the engine put it there); else as recorded
            handed = self.results.get(name, node_run.result) if node_run.status == "success" else node_run.result
            self.results[name] = view(node_run, handed)
        decided = []
        for child in self.children[name]:
            if child in self.waiting and self.nodes[child].status == "pending":
                self.waiting[child] -= 1
                if self.waiting[child] == 0:
                    decided.append((child, self.verdict(child)))
        return decided

    def outcome(self, node_run: NodeRun) -> str:
        if node_run.status == "success":
            return "success"
        if node_run.status == "failed":
            return "success" if self.definition(node_run.name).allow_failure else "failed"
        if node_run.status == "skipped" and node_run.reason is not None and node_run.reason.startswith("upstream"):
            return "upstream" if node_run.reason.startswith("upstream failed") else "skipped"
        return "skipped" if node_run.status == "skipped" else "failed"

    def verdict(self, name: str) -> str | None:
        """None when `name`'s trigger rule lets it run; else the reason it is skipped."""
        rule = self.definitions[name].trigger
        if rule == "all_done":
            return None
        outcomes = self.outcomes
        parents = self.parents[name]
        if rule == "all_success":  # the common case, decided without building lists (a loop: no generator)
            for parent in parents:
                if outcomes[parent] != "success":
                    break
            else:
                return None
        failed = [parent for parent in parents if outcomes[parent] in UPSTREAM_OUTCOMES]
        if rule == "one_failed":
            return None if failed or not parents else NO_FAILURE
        if failed:
            causes = dict.fromkeys(self.cause(parent) for parent in failed)
            return f"upstream failed: {', '.join(causes)}"
        skipped = [parent for parent in parents if outcomes[parent] == "skipped"]
        if rule == "all_success" and skipped:
            return f"upstream skipped: {', '.join(skipped)}"
        return None

    def cause(self, name: str) -> str:
        """The failed node behind `name`'s outcome: itself, or what failed above it."""
        reason = self.nodes[name].reason
        if self.outcomes[name] == "upstream" and reason is not None:
            return reason.split(": ", 1)[1].split(", ")[0]
        return name

    def skip(self, name: str, reason: str, at: float) -> NodeRun:
        """Mark a node skipped, saying why (an upstream failure also reads as its error, as before)."""
        node_run = self.nodes[name]
        node_run.status, node_run.reason, node_run.finished_at = "skipped", reason, at
        if reason.startswith("upstream failed"):
            first = reason.split(": ", 1)[1].split(", ")[0]
            node_run.error = f"Skipped: the upstream node {first!r} failed."
        return node_run

    def condition(self, name: str, inputs: dict[str, Any], budget: RenderBudget) -> bool:
        """Whether `name`'s ``when`` holds (True without one).

        Raises:
            TemplateError: it does not render.
        """
        when = self.definitions[name].when
        if when is None:
            return True
        return truthy(render_within(when, {**self.results, INPUTS: inputs}, budget))

    def failing(self, names: Iterable[str]) -> list[str]:
        """The failed nodes among `names` that fail the run (those without ``allow_failure``)."""
        return [
            name for name in names if self.nodes[name].status == "failed" and not self.definition(name).allow_failure
        ]


class Triggers:
    """The steps of `flowkit.run.engine.Execution` that apply trigger rules and conditions (mixed into it)."""

    if TYPE_CHECKING:
        gate: Gate
        plans: dict[str, Any]
        topology: Any  # the run's Topology: children lists from its one walk of the graph
        ready: deque[str]
        inputs: dict[str, Any]
        redactor: Redactor
        params: Any  # the run's ParamRenderer (its budget meters conditions)

        def end(self, node_run: NodeRun) -> None: ...
        def fail(self, name: str, error: str) -> None: ...

    def settle(self, name: str | None) -> None:
        """A node ended (None: the run starts): queue the children its end lets run, skip the others.

        Skipping ends a node too, which settles its own children: the ends wait
        in a queue rather than recursing, so a long chain below a failure is fine.
        """
        gate = self.gate
        gate.todo.append(name)
        if gate.settling:
            return
        gate.settling = True
        try:
            while gate.todo:
                ended = gate.todo.popleft()
                for child, reason in (
                    gate.start(self.plans, self.topology.children) if ended is None else gate.finished(ended)
                ):
                    if reason is None:
                        self.ready.append(child)
                    else:
                        self.end(gate.skip(child, reason, time.time()))
        finally:
            gate.settling = False

    def admitted(self, name: str) -> bool:
        """Whether a node's ``when`` lets it run; if not, it is skipped (false) or failed (does not render)."""
        try:
            if self.gate.condition(name, self.inputs, self.params.budget):
                return True
        except TemplateError as exc:
            self.fail(name, self.redactor.text(f"Node {name!r}: the condition (when) {exc}"))
            return False
        self.end(self.gate.skip(name, CONDITION_FALSE, time.time()))
        return False
