"""Render one run's node params: plain references at once, anything richer on a thread of its own.

``{{ node.key }}`` and ``{{ inputs.x }}`` resolve with a dict lookup on the
driver. A param that needs Jinja renders on a daemon thread under the run's
`RenderBudget`, and its outcome comes back to the driver like a call's (the
`deliver` callback puts it on the engine's queue), so a template that runs
long fails its own node while the nodes beside it go on. A render the
budget's tracing cannot stop (stuck inside one C call) is given up on
`GRACE` seconds after its time: the driver fails the node and stops waiting.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ParamsError, TemplateError
from ..schema import validate_values
from .template_budget import GRACE, RenderBudget
from .templating import INPUTS, needs_jinja, render, render_within
from .validation import NodePlan

Deliver = Callable[[str, "concurrent.futures.Future[dict[str, Any]]"], None]


class ParamRenderer:
    """The params of one run's nodes, rendered against its inputs and upstream results.

    Args:
        inputs: the run's inputs.
        results: the results of finished nodes, by name (read as they arrive).
        budget: what one node's render may cost.
        deliver: called with ``(node, future)`` when a render made aside ends.
    """

    def __init__(
        self, inputs: dict[str, Any], results: Mapping[str, Any], budget: RenderBudget, deliver: Deliver
    ) -> None:
        self.inputs = inputs
        self.results = results
        self.budget = budget
        self.deliver = deliver
        self.pending: dict[str, float] = {}  # node rendering aside -> when the driver gives up on it

    def context(self, plan: NodePlan) -> dict[str, Any]:
        context = {INPUTS: self.inputs}
        for ref in plan.refs:
            context[ref] = self.results[ref]
        return context

    def render(self, plan: NodePlan, context: dict[str, Any], *, metered: bool = True) -> dict[str, Any]:
        """A node's params rendered (under the budget when `metered`), and checked against the task's declaration."""
        params = render_within(plan.params, context, self.budget) if metered else render(plan.params, context)
        if plan.declared is not None:
            params = validate_values(plan.declared, params, what="rendered params", error=ParamsError)
        return params

    def start(self, name: str, plan: NodePlan) -> dict[str, Any] | None:
        """A templated node's params now, or None when they render aside (`deliver` tells when).

        (A node without templates is called with its planned params: the engine does not come here.)

        Raises:
            TemplateError, ParamsError: they do not render (now).
        """
        if not needs_jinja(plan.params):  # plain references: dict lookups, nothing to meter
            return self.render(plan, self.context(plan), metered=False)
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        context = self.context(plan)

        def work() -> None:
            try:
                future.set_result(self.render(plan, context))
            except BaseException as exc:  # handed to the driver with the future
                future.set_exception(exc)

        future.add_done_callback(lambda done: self.deliver(name, done))
        self.pending[name] = time.monotonic() + self.budget.seconds + GRACE
        threading.Thread(target=work, name=f"flowkit-render-{name}", daemon=True).start()
        return None

    def take(self, name: str, future: concurrent.futures.Future[dict[str, Any]]) -> dict[str, Any] | None:
        """The params a render made aside, or None if the driver gave up on it already.

        Raises:
            TemplateError, ParamsError: they did not render.
        """
        if self.pending.pop(name, None) is None:
            return None
        try:
            return future.result()
        except (TemplateError, ParamsError):
            raise
        except BaseException as exc:
            raise TemplateError(f"its params failed to render: {type(exc).__name__}: {exc}") from None

    def overdue(self, now: float) -> list[str]:
        """The nodes whose render overran its time; they are no longer waited for."""
        late = [name for name, due in self.pending.items() if due <= now]
        for name in late:
            del self.pending[name]
        return late

    def abandon(self) -> None:
        """Stop waiting for every render still going (the run was cancelled)."""
        self.pending.clear()
