"""flowkit's notebook UI: ipywidgets forms for types, integrations, workflows, runs and schedules.

    import flowkit as fk
    fk.ui.App(ws)                    # everything, as five tabs
    fk.ui.TypeForm(ws)               # or one screen alone
    fk.ui.IntegrationForm(ws)
    fk.ui.WorkflowBuilder(ws, wf)
    fk.ui.RunView(run, ws)
    fk.ui.ScheduleForm(ws)

The stable CSS classes every widget carries are listed in ``docs/ui-hooks.md``.
"""

from __future__ import annotations

from .app import App
from .builder import WorkflowBuilder
from .integration_form import IntegrationForm
from .run_view import RunsPanel, RunView
from .schedules_form import ScheduleForm
from .types_form import TypeForm

__all__ = ["App", "IntegrationForm", "RunView", "RunsPanel", "ScheduleForm", "TypeForm", "WorkflowBuilder"]
