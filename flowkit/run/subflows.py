"""Sub-workflows: a node with ``workflow="Publish post", inputs={...}`` runs a saved workflow as one step.

The child is a run of its own, recorded in the same run log and linked both
ways: the parent node's ``child_run`` is the child's id, the child run's
``parent`` is ``{"run": parent id, "node": node name}``. It is driven by its own
`Execution` on its own thread (the parent's driver goes on scheduling other
branches meanwhile) on the parent's executor; with the inline executor it runs
right there. Its events are not passed to the parent's callbacks, which are
only ever called on the parent's driver thread.

The node's result is the child's declared outputs (`flowkit.Workflow.outputs`,
templates over its nodes) or, without any, each node's result by name; plus
``success``, ``message`` and ``run_id``. A failed child fails the node (and,
unless ``allow_failure``, the run); resuming the parent resumes that child run
(only what failed in it runs again). Workflows that run each other in a cycle
are refused at save (`flowkit.run.validation`) and, should one slip through
(a child edited since), when the run reaches it.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..errors import FlowkitError, TemplateError, ValidationError
from ..executors.base import InlineExecutor
from ..model import NodeRun, Run
from .control import RunControl
from .fanout import deliver_call
from .rules import view
from .selection import select_resume
from .templating import INPUTS, render

if TYPE_CHECKING:
    import queue

    from ..executors.base import Executor
    from ..model import Workflow
    from ..redaction import Redactor
    from .validation import NodePlan


@dataclass(frozen=True)
class ChildKey:
    """What a child run reports back under in the engine's queue (not a node name)."""

    node: str

    def report(self, execution: Any, future: Any) -> None:
        execution.child_done(self.node, future)


def outputs_of(workflow: Workflow, run: Run) -> dict[str, Any]:
    """What a finished child run gives its parent node: its declared outputs, else every node's result.

    Raises:
        TemplateError: a declared output does not render.
    """
    if not workflow.outputs:
        return {name: node.result for name, node in run.nodes.items()}
    context: dict[str, Any] = {
        INPUTS: run.inputs,
        **{name: view(node, node.result) for name, node in run.nodes.items()},
    }
    rendered: dict[str, Any] = render(workflow.outputs, context, "outputs")
    return rendered


class Subflows:
    """The steps of `flowkit.run.engine.Execution` that run sub-workflow nodes (mixed into it)."""

    #: The workflows above this run, outermost first (a run started by a sub-workflow node).
    ancestry: tuple[str, ...] = ()

    if TYPE_CHECKING:
        parts: Any
        workflow: Workflow
        plans: dict[str, NodePlan]
        run: Run
        executor: Executor
        done: queue.SimpleQueue[tuple[str, Any, Any]]
        control: RunControl
        params: Any
        in_flight: int
        redactor: Redactor
        earlier: Run | None
        cache: Any

        def succeed(self, name: str, outcome: dict[str, Any]) -> None: ...
        def fail(self, name: str, error: str) -> None: ...
        def cached(self, name: str, params: Any) -> bool: ...

    def diverted(self, name: str, params: dict[str, Any]) -> bool:
        """Whether node `name` is answered without a task call: it runs a workflow, or the cache has its result."""
        if self.plans[name].workflow is not None:
            self.run_child(name, params)
            return True
        return self.cached(name, params)

    def run_child(self, name: str, inputs: dict[str, Any]) -> None:
        """Start node `name`'s workflow with its rendered `inputs` (see the module docstring)."""
        try:
            child = self.child_execution(name, inputs)
        except FlowkitError as exc:
            self.fail(name, self.redactor.text(f"Node {name!r}: {exc}"))
            return
        self.run.nodes[name].child_run = child.run.id
        future: concurrent.futures.Future[Run] = concurrent.futures.Future()
        if isinstance(self.executor, InlineExecutor):
            _drive(child, future)
            self.child_done(name, future)
            return
        future.add_done_callback(partial(deliver_call, self.done, ChildKey(name)))
        self.in_flight += 1
        threading.Thread(target=_drive, args=(child, future), name=f"flowkit-child-{name}", daemon=True).start()

    def child_execution(self, name: str, inputs: dict[str, Any]) -> Any:
        """The child run's `Execution`: a fresh run, or a resume of the child run that failed before."""
        wanted = str(self.plans[name].workflow)
        chain = (*self.ancestry, self.workflow.name)
        if wanted in chain:
            raise ValidationError(f"running {wanted!r} would make a cycle: {' → '.join([*chain, wanted])}.")
        previous = self.earlier_child(name)
        if previous is not None:
            workflow = previous.workflow_snapshot()
            scope, reused = select_resume(workflow, previous)
        else:
            workflow = self.parts.lookups.workflow(wanted)
            scope, reused = set(workflow.graph), {}
        make: Any = type(self)  # the Execution this is mixed into
        child = make(
            self.parts,
            workflow,
            inputs=inputs,
            scope=scope,
            reused=reused,
            executor=self.executor,
            callbacks=[],
            trigger="workflow",
            resumed_from=previous.id if previous is not None else None,
            earlier=previous,
            use_cache=self.cache is not None,
            control=self.child_control(),
            render_budget=self.params.budget,
        )
        child.ancestry = chain
        child.run.parent = {"run": self.run.id, "node": name}
        return child

    def child_control(self) -> RunControl:
        """The child's own control: what is left of this run's deadline, its cancel event, and its cancelling."""
        parent = self.control
        left = None if parent.due is None else max(parent.due - time.monotonic(), 0.001)
        control = RunControl(deadline=left, cancel=parent.event)
        parent.on_cancel(lambda: control.cancel(f"its parent run was cancelled ({parent.reason})"))
        return control

    def earlier_child(self, name: str) -> Run | None:
        """When resuming: the child run this node started before, if it did not succeed."""
        before: NodeRun | None = self.earlier.nodes.get(name) if self.earlier is not None else None
        if before is None or before.child_run is None:
            return None
        try:
            run = Run.from_dict(self.parts.log.load(before.child_run))
        except FlowkitError:
            return None  # deleted since: run the workflow afresh
        return None if run.ok else run

    def child_done(self, name: str, future: Any) -> None:
        """Take a child run's end (on the driver thread): the node succeeds with its outputs or fails."""
        if self.control.check() is not None:
            return  # this run was cancelled (and so the child): `cancel_all` records the node cancelled
        try:
            child: Run = future.result()
        except Exception as exc:  # refused before it started (its inputs, its workflow's errors)
            self.fail(name, self.redactor.text(f"Node {name!r}: the workflow could not run: {exc}"))
            return
        result: dict[str, Any] = {
            "success": child.ok,
            "message": f"Run {child.id} of {child.workflow!r}: {child.status}.",
            "run_id": child.id,
        }
        if child.ok:
            try:
                result = {**outputs_of(child.workflow_snapshot(), child), **result}
            except TemplateError as exc:
                self.fail(name, self.redactor.text(f"Node {name!r}: the outputs of {child.workflow!r}: {exc}"))
                return
            self.succeed(name, {"result": result})
        else:
            self.run.nodes[name].result = result
            self.fail(name, f"The workflow {child.workflow!r} failed (run {child.id}): {child.error}")


def _drive(child: Any, future: concurrent.futures.Future[Run]) -> None:
    try:
        future.set_result(child.execute())
    except BaseException as exc:  # the future carries it to the parent's driver
        future.set_exception(exc)
