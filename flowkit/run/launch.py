"""Start a run: choose what it executes (all, ``only=``, a resume), its inputs, executor and limits, then drive it.

The executor a run builds is released at the end without waiting for calls a
cancelled run left running (untimed calls in threads, which cannot be stopped).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ValidationError
from ..executors.base import Executor, choose_executor
from ..jsonvalue import check_json
from ..model import Run, Workflow
from ..redaction import RUN_INPUT_ADVICE, refuse_secrets
from .control import CancelEvent, RunControl
from .engine import Execution, RunParts
from .events import EventCallback, make_callbacks
from .inputs import check_inputs, input_params
from .selection import select_only, select_resume
from .template_budget import DEFAULT_BUDGET, RenderBudget


def run_workflow(
    parts: RunParts,
    workflow: Workflow,
    *,
    inputs: dict[str, Any] | None = None,
    executor: Executor | str | None = None,
    on_event: EventCallback | Iterable[EventCallback] | None = None,
    trigger: str = "api",
    only: Iterable[str] | None = None,
    from_run: Run | None = None,
    max_workers: int | None = None,
    resume: Run | None = None,
    deadline: float | None = None,
    cancel: CancelEvent | None = None,
    render_budget: RenderBudget | None = None,
    from_node: str | None = None,
    cache: bool = True,
) -> Run:
    """Run a workflow (see `Workspace.run`).

    With `resume`, `workflow` is the definition to resume on (the run's own
    snapshot or a newer saved version): what did not succeed in that run, or
    is no longer defined as it ran, runs again; `from_node` re-runs that node
    and its descendants too.
    """
    control = RunControl(deadline=deadline, cancel=cancel)
    if render_budget is not None and not isinstance(render_budget, RenderBudget):
        raise ValidationError(f"render_budget must be a flowkit.RenderBudget, got {type(render_budget).__name__}.")
    wf = workflow
    if resume is not None:
        scope, reused = select_resume(wf, resume, from_node=from_node)
        base: Run | None = resume
    elif only is not None:
        scope, reused = select_only(wf, only, from_run)
        base = from_run
    elif from_run is not None:
        raise ValidationError(
            "from_run= gives upstream results to only=[...]; to re-run what failed in a run, use ws.resume(run)."
        )
    else:
        scope, reused, base = set(wf.graph), {}, None
    given = dict(base.inputs) if inputs is None and base is not None else dict(inputs or {})
    check_json(given, "inputs")
    if given or wf.inputs:
        declared = {param.name for param in wf.inputs}
        given = check_inputs(input_params(parts.lookups, wf), given, declared=declared)
    if given:
        refuse_secrets(given, parts.stored_secrets(), where="inputs", advice=RUN_INPUT_ADVICE)
    callbacks = make_callbacks(on_event)
    chosen, owned = choose_executor(executor, max_workers)
    execution: Execution | None = None
    try:
        execution = Execution(
            parts,
            wf,
            inputs=given,
            scope=scope,
            reused=reused,
            executor=chosen,
            callbacks=callbacks,
            trigger=trigger,
            resumed_from=base.id if base is not None else None,
            control=control,
            render_budget=render_budget or DEFAULT_BUDGET,
            earlier=resume,
            use_cache=cache,
        )
        return execution.execute()
    finally:
        if owned:
            if execution is not None and execution.abandoned:
                chosen.abandon()  # untimed calls of a cancelled run may still run: do not wait for them
            else:
                chosen.shutdown()
