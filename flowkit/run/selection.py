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


def unchanged_nodes(old: Workflow, new: Workflow) -> set[str]:
    """The nodes of `new` defined as in `old`, with the same parents, each of them unchanged too.

    Only such a node's earlier result still means what it meant: a changed
    param, task or parent anywhere upstream changes what it would compute.
    """
    same: set[str] = set()
    for name in nx.topological_sort(new.graph):
        if name not in old.graph or new.node(name).to_dict() != old.node(name).to_dict():
            continue
        parents = set(new.graph.predecessors(name))
        if parents == set(old.graph.predecessors(name)) and parents <= same:
            same.add(name)
    return same


def select_resume(workflow: Workflow, run: Run, *, from_node: str | None = None) -> tuple[set[str], dict[str, NodeRun]]:
    """What resuming `run` on `workflow` executes, and the earlier results it reuses.

    A node of `run` that succeeded is reused when `workflow` still defines it
    (and everything upstream of it) as `run` did; with `from_node`, that node
    and everything downstream of it run again too. The rest runs.
    """
    graph = workflow.graph
    redo: set[str] = set()
    if from_node is not None:
        if from_node not in graph:
            raise NotFoundError(from_node, hint=f"Workflow {workflow.name!r} has the nodes {', '.join(graph)}.")
        redo = {from_node} | nx.descendants(graph, from_node)
    keep = unchanged_nodes(run.workflow_snapshot(), workflow)
    reused = {
        name: reusable(node)
        for name, node in run.nodes.items()
        if node.status == "success" and name in keep and name not in redo
    }
    return set(graph) - set(reused), reused


DEFINITIONS = ("auto", "current", "original")


def choose_definition(run: Run, saved: Workflow | None, definition: str) -> Workflow:
    """Which definition resuming `run` uses: the saved (current) version or the one it ran (original).

    ``auto`` takes the saved version when it is newer than the run's and the
    results a resume would reuse upstream of what failed or was skipped are
    still defined the same way in it (so the fix is resumed, not redone);
    otherwise the original.

    Raises:
        ValidationError: an unknown `definition`, or ``current`` with no saved workflow.
    """
    if definition not in DEFINITIONS:
        raise ValidationError(f"definition={definition!r}: use 'current' (the saved version) or 'original'.")
    original = run.workflow_snapshot()
    if definition == "original":
        return original
    if saved is None:
        if definition == "current":
            raise ValidationError(f"The workflow {run.workflow!r} is not saved: only definition='original' can resume.")
        return original
    if definition == "current" or (saved.version > run.version and upstream_matches(run, saved)):
        return saved
    return original


def upstream_matches(run: Run, saved: Workflow) -> bool:
    """True when every succeeded node upstream of a failed or skipped node of `run` is unchanged in `saved`."""
    original = run.workflow_snapshot()
    unfinished = [name for name, node in run.nodes.items() if node.status != "success" and name in original.graph]
    upstream = set().union(*(nx.ancestors(original.graph, name) for name in unfinished)) if unfinished else set()
    succeeded = {name for name in upstream if run.nodes.get(name) is not None and run.nodes[name].status == "success"}
    return succeeded <= unchanged_nodes(original, saved)
