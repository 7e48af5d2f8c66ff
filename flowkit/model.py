"""flowkit's nouns as plain dataclasses: no files, no widgets, no network.

Every noun round-trips through ``to_dict`` / ``from_dict`` as strict JSON, which
is how the store persists it and how a run snapshots its workflow.
"""

from __future__ import annotations

import keyword
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import networkx as nx

from .errors import AlreadyExistsError, CycleError, InvalidName, NotFoundError, ValidationError
from .jsonvalue import check_json

PARAM_KINDS = ("text", "password", "number", "integer", "boolean", "choice", "json")
NODE_STATUSES = ("pending", "running", "success", "failed", "skipped")
RUN_STATUSES = ("running", "success", "failed")
MASK = "***"

# \Z, not $: "$" also matches before a trailing newline, which let "name\n" through.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 100


def check_identifier(name: object, what: str) -> str:
    """Return `name` if it is a Python identifier that is not a keyword or dunder."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise InvalidName(
            f"{what} {name!r} is not valid: use letters, digits and underscores, not starting with a digit."
        )
    if keyword.iskeyword(name) or (name.startswith("__") and name.endswith("__")):
        raise InvalidName(f"{what} {name!r} is reserved in Python; choose another name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} {name[:20]!r}… is longer than {MAX_NAME_LENGTH} characters.")
    return name


def check_label(name: object, what: str) -> str:
    """Return `name` if it is a usable display name (integrations, workflows)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidName(f"{what} must be a non-empty string, got {name!r}.")
    if _CONTROL.search(name):
        raise InvalidName(f"{what} {name!r} contains control characters.")
    if name != name.strip():
        raise InvalidName(f"{what} {name!r} has leading or trailing spaces.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} {name[:20]!r}… is longer than {MAX_NAME_LENGTH} characters.")
    return name


@dataclass
class Param:
    """One field: a credential of an integration type or a param of a task.

    Args:
        name: an identifier.
        kind: one of ``text``, ``password``, ``number``, ``integer``,
            ``boolean``, ``choice``, ``json``.
        required: whether a value must be given.
        default: the value used when none is given.
        help: a sentence shown beside the field.
        choices: the allowed values for ``choice``.
    """

    name: str
    kind: str = "text"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: list[Any] | None = None

    def __post_init__(self) -> None:
        check_identifier(self.name, "Parameter name")
        if self.kind not in PARAM_KINDS:
            raise ValidationError(
                f"Parameter {self.name!r} has kind {self.kind!r}; choose one of {', '.join(PARAM_KINDS)}."
            )
        if self.kind == "choice" and not self.choices:
            raise ValidationError(f"Parameter {self.name!r} is a choice but lists no choices.")
        if self.kind == "password" and self.default is not None:
            raise ValidationError(f"Parameter {self.name!r} is a password and cannot have a default.")
        if self.choices is not None:
            self.choices = list(self.choices)
        check_json(self.default, f"{self.name}.default")
        check_json(self.choices, f"{self.name}.choices")

    @property
    def secret(self) -> bool:
        """Whether values of this field are masked everywhere."""
        return self.kind == "password"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "required": self.required}
        if self.default is not None:
            data["default"] = self.default
        if self.help:
            data["help"] = self.help
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        if isinstance(data, Param):
            return data
        unknown = set(data) - {"name", "kind", "required", "default", "help", "choices"}
        if unknown:
            raise ValidationError(f"Unknown parameter field(s): {', '.join(sorted(unknown))}.")
        if "name" not in data:
            raise ValidationError("A parameter needs a name.")
        return cls(**dict(data))


def params_from(items: Any) -> list[Param]:
    params = [item if isinstance(item, Param) else Param.from_dict(item) for item in items or []]
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            raise InvalidName(f"Parameter {param.name!r} is declared twice.")
        seen.add(param.name)
    return params


@dataclass
class IntegrationType:
    """What credentials an integration module needs; `name` is the module's name."""

    name: str
    description: str = ""
    params: list[Param] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_identifier(self.name, "Integration type name")
        self.params = params_from(self.params)

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise NotFoundError(name, hint=f"Type {self.name!r} has no parameter of that name.")

    @property
    def secret_fields(self) -> list[str]:
        return [param.name for param in self.params if param.secret]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": [param.to_dict() for param in self.params],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntegrationType:
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            params=[Param.from_dict(p) for p in data.get("params", [])],
        )


class Credentials(Mapping[str, Any]):
    """Credential values that never show themselves in a repr or str.

    Values are decrypted on first access through `loader`, so listing
    integrations needs no key.
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        fields: list[str] | None = None,
        loader: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._values = dict(values) if values is not None else None
        self._fields = list(fields) if fields is not None else list(values or {})
        self._loader = loader

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            if self._loader is None:
                raise ValidationError("These credentials were not loaded.")
            self._values = dict(self._loader())
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields if self._values is None else self._values)

    def __len__(self) -> int:
        return len(self._fields if self._values is None else self._values)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: {MASK!r}" for name in self) + "}"

    __str__ = __repr__

    def reveal(self) -> dict[str, Any]:
        """The plain values, for the engine and Test Connection only."""
        return dict(self._load())


@dataclass(repr=False)
class Integration:
    """A configured instance of an integration type with its (masked) credentials."""

    name: str
    type: str
    credentials: Credentials = field(default_factory=Credentials)

    def __post_init__(self) -> None:
        check_label(self.name, "Integration name")
        check_identifier(self.type, "Integration type")
        if not isinstance(self.credentials, Credentials):
            self.credentials = Credentials(self.credentials)

    def __repr__(self) -> str:
        return f"Integration(name={self.name!r}, type={self.type!r}, credentials={self.credentials!r})"

    __str__ = __repr__


@dataclass
class Node:
    """One step of a workflow: run `task` of `integration` with `params`."""

    name: str
    integration: str
    task: str
    params: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    timeout: float | None = None
    retry_delay: float = 1.0

    def __post_init__(self) -> None:
        check_identifier(self.name, "Node name")
        check_label(self.integration, f"Node {self.name!r}: integration")
        check_identifier(self.task, f"Node {self.name!r}: task")
        if not isinstance(self.params, dict):
            raise ValidationError(f"Node {self.name!r}: params must be a JSON object.")
        check_json(self.params, f"{self.name}.params")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValidationError(f"Node {self.name!r}: retries must be a whole number ≥ 0.")
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and not isinstance(self.timeout, bool) and self.timeout > 0
        ):
            raise ValidationError(f"Node {self.name!r}: timeout must be a positive number of seconds.")
        if not isinstance(self.retry_delay, (int, float)) or self.retry_delay < 0:
            raise ValidationError(f"Node {self.name!r}: retry_delay must be ≥ 0 seconds.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "integration": self.integration,
            "task": self.task,
            "params": self.params,
            "retries": self.retries,
            "timeout": self.timeout,
            "retry_delay": self.retry_delay,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        values = {key: data[key] for key in data if key in _NODE_FIELDS}
        if isinstance(values.get("params"), dict):
            values["params"] = dict(values["params"])  # the node's own, as add_node gives it
        return cls(**values)


_NODE_FIELDS = {"name", "integration", "task", "params", "retries", "timeout", "retry_delay"}


class Workflow:
    """A DAG of nodes; a `networkx.DiGraph` underneath, kept acyclic at every step.

    Args:
        name: the workflow's name, unique in a workspace.
        description: a sentence for lists and reports.
    """

    def __init__(self, name: str, description: str = "", *, version: int = 0) -> None:
        self.name = check_label(name, "Workflow name")
        self.description = description
        self.version = version
        self.graph: nx.DiGraph = nx.DiGraph()

    # -- building -----------------------------------------------------------
    def add_node(
        self,
        name: str,
        *,
        integration: str,
        task: str,
        params: dict[str, Any] | None = None,
        retries: int = 0,
        timeout: float | None = None,
        retry_delay: float = 1.0,
    ) -> Node:
        """Add a node; its name must be unique in this workflow."""
        # Copy a dict so later edits of the caller's dict do not reach the node;
        # anything else goes to Node as it is, to be refused there.
        given = {} if params is None else dict(params) if isinstance(params, dict) else params
        return self._insert(Node(name, integration, task, given, retries, timeout, retry_delay))

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
            return self.graph.nodes[name]["node"]
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
        return self.graph.number_of_nodes()

    def __repr__(self) -> str:
        return (
            f"Workflow(name={self.name!r}, nodes={len(self)}, "
            f"edges={self.graph.number_of_edges()}, version={self.version})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workflow) and self.to_dict() == other.to_dict()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Draw the DAG inline in Jupyter (drawing is imported only when displayed)."""
        from . import drawing

        return drawing.mimebundle(drawing.draw_workflow(self), repr(self))

    def copy(self) -> Workflow:
        return Workflow.from_dict(self.to_dict())

    # -- persistence --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "nodes": [self.graph.nodes[name]["node"].to_dict() for name in self.graph.nodes],
            "edges": [list(edge) for edge in self.graph.edges],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workflow:
        workflow = cls(data["name"], data.get("description", ""), version=data.get("version", 0))
        for node in data.get("nodes", []):
            workflow._insert(Node.from_dict(node))  # validated once, in Node.__post_init__
        for upstream, downstream in data.get("edges", []):
            workflow.connect(upstream, downstream)
        return workflow


def new_run_id() -> str:
    """A run id that sorts by start time: ``20261126T061234-123456-1a2b3c``."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}-{int(now % 1 * 1e6):06d}-{uuid.uuid4().hex[:6]}"


@dataclass
class NodeRun:
    """One node's part of a run."""

    name: str
    status: str = "pending"
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    params: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None
    reused: bool = False
    log: str = ""

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration": self.duration,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "reused": self.reused,
            "log": self.log,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeRun:
        fields_ = {k: v for k, v in data.items() if k != "duration"}
        return cls(**fields_)


@dataclass
class Run:
    """One execution of a workflow, with a snapshot of the workflow as it ran."""

    workflow: str
    id: str = field(default_factory=new_run_id)
    version: int = 0
    snapshot: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    trigger: str = "api"
    status: str = "running"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    nodes: dict[str, NodeRun] = field(default_factory=dict)
    error: str | None = None
    report: str | None = None
    resumed_from: str | None = None
    pid: int | None = None
    host: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def workflow_snapshot(self) -> Workflow:
        return Workflow.from_dict(self.snapshot)

    def summary(self) -> dict[str, Any]:
        """The small record kept in the run index."""
        return {
            "id": self.id,
            "workflow": self.workflow,
            "status": self.status,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            counts[node.status] = counts.get(node.status, 0) + 1
        shown = ", ".join(f"{status}={count}" for status, count in sorted(counts.items()))
        return f"Run(id={self.id!r}, workflow={self.workflow!r}, status={self.status!r}, nodes: {shown})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Draw the run's DAG coloured by node status inline in Jupyter."""
        from . import drawing

        return drawing.mimebundle(drawing.draw_run(self), repr(self))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "snapshot": self.snapshot,
            "inputs": self.inputs,
            "trigger": self.trigger,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "nodes": {name: node.to_dict() for name, node in self.nodes.items()},
            "error": self.error,
            "report": self.report,
            "resumed_from": self.resumed_from,
            "pid": self.pid,
            "host": self.host,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        values = dict(data)
        values["nodes"] = {name: NodeRun.from_dict(node) for name, node in data.get("nodes", {}).items()}
        return cls(**values)
