"""Which nodes a run executes, and which earlier results it reuses (``only=``, ``ws.resume``)."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from ..errors import NotFoundError, ValidationError
from ..model import NodeRun, Run, Workflow


def reusable(node_run: NodeRun) -> NodeRun:
    """A copy of a succeeded node's record, marked as reused by a later run."""
    return NodeRun.from_dict({**node_run.to_dict(), "reused": True})


def select_only(workflow: Workflow, only: Iterable[str], from_run: Run | None) -> tuple[set[str], dict[str, NodeRun]]:
    """The nodes `only` names, and the upstream results they need from `from_run`."""
    names = [only] if isinstance(only, str) else list(only)
    unknown = [name for name in names if name not in workflow.graph]
    if unknown or not names:
        raise NotFoundError(
            ", ".join(unknown) or "(none)",
            hint=f"only= must name nodes of {workflow.name!r}: {', '.join(workflow.graph)}.",
        )
    graph = workflow.graph
    needed = set().union(*(nx.ancestors(graph, name) for name in names)) - set(names)
    if not needed:
        return set(names), {}
    if from_run is None:
        raise ValidationError(
            f"Running only {', '.join(names)} needs the results of {', '.join(sorted(needed))}; "
            "pass from_run= an earlier run of this workflow where they succeeded."
        )
    if from_run.workflow != workflow.name:
        raise ValidationError(f"Run {from_run.id} is of the workflow {from_run.workflow!r}, not {workflow.name!r}.")
    missing = sorted(name for name in needed if name not in from_run.nodes or from_run.nodes[name].status != "success")
    if missing:
        raise ValidationError(
            f"Run {from_run.id} has no result of {', '.join(missing)}, which {', '.join(names)} need(s); "
            "resume that run first (ws.resume) or add them to only=."
        )
    return set(names), {name: reusable(from_run.nodes[name]) for name in needed}


def select_resume(workflow: Workflow, run: Run) -> tuple[set[str], dict[str, NodeRun]]:
    """Every node of `run` that did not succeed, and the results of those that did."""
    reused = {
        name: reusable(node) for name, node in run.nodes.items() if node.status == "success" and name in workflow.graph
    }
    return set(workflow.graph) - set(reused), reused
