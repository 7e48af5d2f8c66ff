"""How a node's call is made: on the driver thread, or handed to the executor.

The engine's driver thread makes a call itself when nothing else could run
meanwhile (a chain) or when the task is known to be quick
(`flowkit.executors.call.is_quick`): a pool thread would add two thread
switches, which cost more than a call of microseconds. Known-quick calls wait
in `quick` until every other ready node has been handed out, so a slow call
never waits behind them; one that has turned slow meanwhile goes to the pool.
Everything else is handed to the executor, and its outcome comes back through
the run's ``done`` queue. No call is made on the driver while a deadline or a
cancel event could stop the run (a thread cannot be stopped; see
`flowkit.run.control`), nor on executors whose point is where calls run.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

from ..executors import call, invoke
from ..executors.base import InlineExecutor, Outcome
from .fanout import ItemKey
from .output import streamed_call

if TYPE_CHECKING:
    import queue

    from ..executors.base import Executor
    from ..model import Run
    from ..redaction import Redactor
    from .control import RunControl
    from .output import OutputStream
    from .validation import NodePlan


class Calls:
    """The steps of `flowkit.run.engine.Execution` that make node calls (mixed into it)."""

    if TYPE_CHECKING:
        run: Run
        plans: dict[str, NodePlan]
        credentials: dict[str, dict[str, Any]]
        secrets: tuple[str, ...]
        redactor: Redactor
        executor: Executor
        control: RunControl
        output: OutputStream | None
        done: queue.SimpleQueue[tuple[str, Any, Any]]
        sent: dict[str, dict[str, Any]]
        ready: deque[str]
        retries: list[tuple[float, int, Any]]
        params: Any  # the run's ParamRenderer
        in_flight: int

        def flush(self) -> None: ...
        def complete(self, name: str, outcome: dict[str, Any]) -> None: ...
        def diverted(self, name: str, params: dict[str, Any]) -> bool: ...
        def submit_item(self, key: ItemKey) -> None: ...

    quick: deque[str]  # known-quick calls the driver makes once the ready ones are handed out

    def dispatch(self, name: str, params: dict[str, Any]) -> None:
        """Call a node with its rendered params: on this thread when nothing else could run meanwhile."""
        self.run.nodes[name].params = self.redactor(params)
        if self.diverted(name, params):
            return
        self.sent[name] = params  # handed to the task as rendered; a retry repeats it (the record is masked)
        busy = self.ready or self.in_flight or self.retries or self.params.pending or self.quick
        here = isinstance(self.executor, InlineExecutor)  # it runs the call on this thread anyway (via a future)
        if not self.executor.lone_calls_inline or self.control.active:
            self.submit(name)
        elif here or not busy:
            self.complete(name, self.call_here(name))
        elif self.known_quick(self.plans[name]):
            self.quick.append(name)
        else:
            self.submit(name)

    def known_quick(self, plan: NodePlan) -> bool:
        """Whether the driver may make a call of this plan itself: its task is known to be quick (see above)."""
        return (
            self.executor.lone_calls_inline
            and not self.control.active
            and plan.timeout is None
            and call.is_quick(plan.module, plan.location, plan.task)
        )

    def make_quick_calls(self) -> None:
        """Make the known-quick calls waiting for the driver; one that has turned slow meanwhile goes to the pool."""
        while self.quick and self.control.check() is None:
            name = self.quick.popleft()
            self.complete(name, self.call_here(name)) if self.known_quick(self.plans[name]) else self.submit(name)

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
            self.run.id,  # the scope: cancelling the run stops its timed calls
        )

    def submit(self, name: Any) -> None:
        """Hand a node's call to the executor; its future reports back through the `done` queue."""
        if isinstance(name, ItemKey):
            return self.submit_item(name)
        if isinstance(self.executor, InlineExecutor):
            self.flush()  # the call runs right here
        try:
            self.executor.dispatch(
                *streamed_call(self.output, name, invoke.call_task, self.arguments(name)), partial(self.reported, name)
            )
        except Exception as exc:
            self.reported(name, Outcome(error=exc))
        self.in_flight += 1

    def reported(self, name: str, done: Any) -> None:
        """A call has ended (on any thread): hand its future or `Outcome` to the driver."""
        self.done.put(("call", name, done))

    def call_here(self, name: str) -> dict[str, Any]:
        """Make a node's call on this thread: when nothing else can run meanwhile, it saves two thread switches."""
        return self.on_driver(name, *streamed_call(self.output, name, invoke.call_task, self.arguments(name)))

    def on_driver(self, name: str, function: Any, arguments: tuple[Any, ...]) -> dict[str, Any]:
        """``function(*arguments)``, a call for node `name`, made on this thread; its outcome (never raises)."""
        self.flush()
        self.control.calling = True  # Ctrl-C now raises into the call (see RunControl)
        try:
            return function(*arguments)
        except KeyboardInterrupt as exc:
            if self.control.reason is None:
                raise
            return self.unrunnable(name, exc)
        except Exception as exc:
            return self.unrunnable(name, exc)
        finally:
            self.control.calling = False

    def outcome(self, name: str, future: Any) -> dict[str, Any]:
        try:
            return dict(future.result())
        except BaseException as exc:  # raised by the executor's machinery, on its thread, not here
            return self.unrunnable(name, exc)

    def unrunnable(self, name: str, exc: BaseException) -> dict[str, Any]:
        """The outcome of a call that could not be made at all (the executor failed, not the task)."""
        plan = self.plans[name]
        error = f"{plan.module}.{plan.task} could not run on {self.executor!r}: {type(exc).__name__}: {exc}"
        return {"ok": False, "result": None, "log": "", "timed_out": False, "error": self.redactor.text(error)}
