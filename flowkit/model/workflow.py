"""Node and Workflow: a DAG of task calls, kept in a networkx DiGraph.

A workflow refuses what would break it where it is entered (a cycle, with its
path; a duplicate or unknown node) and round-trips through strict JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from ..errors import AlreadyExistsError, CycleError, NotFoundError, ValidationError
from ..jsonvalue import check_json
from .names import check_identifier, check_label
from .node import NODE_FIELDS, Node
from .params import Param, params_from

__all__ = ["Node", "Workflow"]


class Workflow:
    """A DAG of nodes; a `networkx.DiGraph` underneath, kept acyclic at every step.

    Args:
        name: the workflow's name, unique in a workspace.
        description: a sentence for lists and reports.
        inputs: the run inputs it takes, in the same `Param` language as task
            params (name, kind, required, default, help). Inputs its templates
            read that are not declared are inferred (``ws.input_params``).
        outputs: what the workflow gives a parent that runs it as a node: output name →
            a template over its nodes (``{"url": "{{ create_post.url }}"}``); without
            outputs, a parent gets each node's result by node name.
    """

    def __init__(
        self,
        name: str,
        description: str = "",
        *,
        version: int = 0,
        inputs: list[Param] | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> None:
        self.name = check_label(name, "Workflow name")
        self.description = description
        self.version = version
        self.outputs: dict[str, Any] = {}
        self.graph: nx.DiGraph = nx.DiGraph()
        self._inputs: list[Param] = params_from(inputs)
        if outputs:
            self.set_outputs(outputs)

    def set_outputs(self, outputs: dict[str, Any]) -> None:
        """Declare the outputs (names must be identifiers; values JSON, usually templates)."""
        if not isinstance(outputs, dict):
            raise ValidationError("outputs must be a JSON object of name → template.")
        for key in outputs:
            check_identifier(key, "Output name")
        check_json(outputs, "outputs")
        self.outputs = dict(outputs)

    @property
    def inputs(self) -> list[Param]:
        """The declared run inputs (a copy of the list; assign a new list to change them)."""
        return list(self._inputs)

    @inputs.setter
    def inputs(self, params: list[Param]) -> None:
        self._inputs = params_from(params)  # checked: Params, names declared once

    # -- building -----------------------------------------------------------
    def add_node(
        self,
        name: str,
        *,
        integration: str = "",
        task: str = "",
        params: dict[str, Any] | None = None,
        retries: int = 0,
        timeout: float | None = None,
        retry_delay: float = 1.0,
        **options: Any,
    ) -> Node:
        """Add a node; its name must be unique in this workflow.

        `options` are the workflow language's (see `flowkit.model.node`): ``when``,
        ``trigger``, ``allow_failure``, ``foreach``, ``max_parallel``, ``cache``; and
        ``workflow=`` with ``inputs=`` for a node that runs a saved workflow.
        """
        # Copy a dict so later edits of the caller's dict do not reach the node;
        # anything else goes to Node as it is, to be refused there.
        given = {} if params is None else dict(params) if isinstance(params, dict) else params
        unknown = sorted(set(options) - NODE_FIELDS)
        if unknown:
            raise ValidationError(f"Node {name!r}: unknown option(s) {', '.join(unknown)}.")
        return self._insert(Node(name, integration, task, given, retries, timeout, retry_delay, **options))

    def _insert(self, node: Node) -> Node:
        if node.name in self.graph:
            raise AlreadyExistsError(f"Workflow {self.name!r} already has a node named {node.name!r}.")
        self.graph.add_node(node.name, node=node)
        return node

    def update_node(self, name: str, /, **changes: Any) -> Node:
        """Replace fields of a node (not its name); the node is re-validated."""
        current = self.node(name).to_dict()
        if "name" in changes:
            raise ValidationError("Use rename_node to change a node's name.")
        node = Node.from_dict({**current, **changes})
        self.graph.nodes[name]["node"] = node
        return node

    def rename_node(self, old: str, new: str) -> None:
        """Rename a node, keeping its edges."""
        node = self.node(old)
        check_identifier(new, "Node name")
        if new in self.graph:
            raise AlreadyExistsError(f"Workflow {self.name!r} already has a node named {new!r}.")
        nx.relabel_nodes(self.graph, {old: new}, copy=False)
        self.graph.nodes[new]["node"] = Node.from_dict({**node.to_dict(), "name": new})

    def remove_node(self, name: str) -> None:
        """Remove a node and its edges."""
        self.node(name)
        self.graph.remove_node(name)

    def connect(self, upstream: str, downstream: str) -> None:
        """Run `downstream` after `upstream`; refused if it would close a cycle."""
        self.node(upstream)
        self.node(downstream)
        if upstream == downstream:
            raise CycleError(
                f"Connecting {upstream!r} to itself would make a cycle: {upstream} → {upstream}.",
                cycle=[upstream, upstream],
            )
        if nx.has_path(self.graph, downstream, upstream):
            back = nx.shortest_path(self.graph, downstream, upstream)
            cycle = [upstream, *back]
            raise CycleError(
                f"Connecting {upstream!r} → {downstream!r} would make a cycle: {' → '.join(cycle)}.",
                cycle=cycle,
            )
        self.graph.add_edge(upstream, downstream)

    def disconnect(self, upstream: str, downstream: str) -> None:
        """Remove the edge `upstream` → `downstream`."""
        if not self.graph.has_edge(upstream, downstream):
            raise NotFoundError(f"{upstream} → {downstream}", hint=f"Workflow {self.name!r} has no such edge.")
        self.graph.remove_edge(upstream, downstream)

    # -- reading ------------------------------------------------------------
    def node(self, name: str) -> Node:
        try:
            node: Node = self.graph.nodes[name]["node"]
            return node
        except KeyError:
            raise NotFoundError(name, hint=f"Workflow {self.name!r} has no node of that name.") from None

    @property
    def nodes(self) -> dict[str, Node]:
        return {name: data["node"] for name, data in self.graph.nodes(data=True)}

    @property
    def edges(self) -> list[tuple[str, str]]:
        return list(self.graph.edges)

    def upstream(self, name: str) -> set[str]:
        """Every node `name` depends on, directly or not."""
        return set(nx.ancestors(self.graph, name))

    def order(self) -> list[str]:
        """Node names in a dependency order."""
        return list(nx.topological_sort(self.graph))

    def __len__(self) -> int:
        return int(self.graph.number_of_nodes())

    def __repr__(self) -> str:
        return (
            f"Workflow(name={self.name!r}, nodes={len(self)}, "
            f"edges={self.graph.number_of_edges()}, version={self.version})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workflow) and self.to_dict() == other.to_dict()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Draw the DAG inline in Jupyter (drawing is imported only when displayed)."""
        from .. import drawing

        return drawing.mimebundle(drawing.draw_workflow(self), repr(self))

    def copy(self) -> Workflow:
        return Workflow.from_dict(self.to_dict())

    # -- persistence --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "nodes": [data["node"].to_dict() for _, data in self.graph.nodes(data=True)],  # one pass, no lookups
            "edges": [[upstream, downstream] for upstream, downstream in self.graph.edges],
            # Only when declared, so the records of workflows without inputs stay as they were.
            **({"inputs": [param.to_dict() for param in self._inputs]} if self._inputs else {}),
            **({"outputs": self.outputs} if self.outputs else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workflow:
        workflow = cls(
            data["name"],
            data.get("description", ""),
            version=data.get("version", 0),
            inputs=data.get("inputs"),
            outputs=data.get("outputs"),
        )
        for node in data.get("nodes", []):
            workflow._insert(Node.from_dict(node))  # validated once, in Node.__post_init__
        for upstream, downstream in data.get("edges", []):
            workflow.connect(upstream, downstream)
        return workflow
