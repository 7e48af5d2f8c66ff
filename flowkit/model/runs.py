"""Run and NodeRun: one execution of a workflow, as recorded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .workflow import Workflow


def new_run_id() -> str:
    """A run id that sorts by start time: ``20261126T061234-123456-1a2b3c``."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}-{int(now % 1 * 1e6):06d}-{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class NodeRun:
    """One node's part of a run.

    Slotted: a run holds one per node for its whole length, and an object
    without a ``__dict__`` is one less for the garbage collector to walk.

    Attributes:
        reason: why a skipped node did not run ("condition was false", "upstream failed: fetch", ...).
        items: a foreach node's items, each ``{"index", "status", "duration", "error", ...}``.
        cached_from: the run whose result this node reused from the cache.
        child_run: the run of the workflow a sub-workflow node ran.
    """

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
    reason: str | None = None
    items: list[dict[str, Any]] | None = None
    cached_from: str | None = None
    child_run: str | None = None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def label(self) -> str:
        """The status as tables show it: with why it was skipped, its items done, or where its result came from."""
        notes = []
        if self.reused:
            notes.append("reused")
        if self.reason:
            notes.append(self.reason)
        if self.items is not None:
            done = sum(1 for item in self.items if item.get("status") in ("success", "failed"))
            failed = sum(1 for item in self.items if item.get("status") == "failed")
            notes.append(f"{done}/{len(self.items)} items" + (f", {failed} failed" if failed else ""))
        if self.cached_from:
            notes.append(f"cached from {self.cached_from}")
        if self.child_run:
            notes.append(f"child run {self.child_run}")
        return self.status + (f" ({'; '.join(notes)})" if notes else "")

    def to_dict(self) -> dict[str, Any]:
        data = {
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
        # Written only when set (a per-node line: plain ifs, not a loop over getattr).
        if self.reason is not None:
            data["reason"] = self.reason
        if self.items is not None:
            data["items"] = self.items
        if self.cached_from is not None:
            data["cached_from"] = self.cached_from
        if self.child_run is not None:
            data["child_run"] = self.child_run
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeRun:
        fields_ = {k: v for k, v in data.items() if k != "duration"}
        return cls(**fields_)


@dataclass
class RunSummary:
    """A run as the run index knows it: enough to list it, nothing of its nodes or results.

    Listing runs reads these, so its cost does not grow with what the runs returned.
    """

    id: str
    workflow: str
    status: str
    trigger: str = "api"
    started_at: float = 0.0
    finished_at: float | None = None
    pid: int | None = None
    host: str | None = None
    error: str | None = None
    version: int = 0  # the workflow version that ran (0: unsaved, or indexed before versions were)

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """From an index entry (unknown keys are left out: older and newer indexes both read)."""
        known = {key: data[key] for key in data if key in _SUMMARY_FIELDS}
        return cls(**known)


_SUMMARY_FIELDS = {
    "id",
    "workflow",
    "status",
    "trigger",
    "started_at",
    "finished_at",
    "pid",
    "host",
    "error",
    "version",
}


@dataclass
class Run:
    """One execution of a workflow, with a snapshot of the workflow as it ran.

    ``parent`` links a sub-workflow's run to the run and node that started it
    (``{"run": id, "node": name}``); that node's ``child_run`` links back.
    """

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
    parent: dict[str, str] | None = None

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
            "pid": self.pid,
            "host": self.host,
            "version": self.version,
        }

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            counts[node.status] = counts.get(node.status, 0) + 1
        shown = ", ".join(f"{status}={count}" for status, count in sorted(counts.items()))
        return f"Run(id={self.id!r}, workflow={self.workflow!r}, status={self.status!r}, nodes: {shown})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Draw the run's DAG coloured by node status inline in Jupyter."""
        from .. import drawing

        return drawing.mimebundle(drawing.draw_run(self), repr(self))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.header(),
            "snapshot": self.snapshot,
            "nodes": {n: node.to_dict() for n, node in self.nodes.items()},
        }

    def header(self) -> dict[str, Any]:
        """The run's own fields, without its nodes and snapshot: what its end changes (`RunLog.end`)."""
        return {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "inputs": self.inputs,
            "trigger": self.trigger,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "report": self.report,
            "resumed_from": self.resumed_from,
            "pid": self.pid,
            "host": self.host,
            **({"parent": self.parent} if self.parent is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        values = dict(data)
        values["nodes"] = {name: NodeRun.from_dict(node) for name, node in data.get("nodes", {}).items()}
        return cls(**values)
