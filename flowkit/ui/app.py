"""`App`: the whole notebook UI in one widget — five tabs and a Reload button."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as w

from .builder import WorkflowBuilder
from .common import Feedback, Screen, button, guarded, hook
from .integration_form import IntegrationForm
from .run_view import RunsPanel
from .schedules_form import ScheduleForm
from .types_form import TypeForm

if TYPE_CHECKING:
    from ..workspace import Workspace

TITLES = ("Integration Types", "Integrations", "Workflows", "Runs", "Schedules")


class App(Screen):
    """Integration Types, Integrations, Workflows, Runs and Schedules, as tabs over one workspace.

    Opening a tab re-reads what it lists, so a type created in the first tab is
    offered in the second. **Reload integrations** re-discovers the integration
    modules (new and edited task functions) without restarting the kernel.

    Args:
        ws: the workspace.

    Attributes:
        types, integrations, workflows, runs, schedules: the five screens.
        widget: the App, to display.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.types = TypeForm(ws)
        self.integrations = IntegrationForm(ws)
        self.workflows = WorkflowBuilder(ws)
        self.runs = RunsPanel(ws)
        self.schedules = ScheduleForm(ws)
        self.screens = (self.types, self.integrations, self.workflows, self.runs, self.schedules)
        self.feedback = Feedback("flowkit-reload-feedback")
        self.header = hook(w.HTML(), "flowkit-app-header")
        self.reload_button = button(
            "Reload integrations", "flowkit-reload", tooltip="Pick up new and edited integration modules"
        )
        self.reload_button.layout = w.Layout(width="auto", min_width="12em")
        self.reload_button.on_click(guarded(self.feedback, self.reload))
        pages = [
            hook(w.VBox([screen.widget]), f"flowkit-tab-{css}")
            for screen, css in zip(
                self.screens, ("types", "integrations", "workflows", "runs", "schedules"), strict=True
            )
        ]
        self.tabs = hook(w.Tab(children=pages, titles=TITLES), "flowkit-tabs")
        self.tabs.observe(lambda change: guarded(self.feedback, self.refresh)(), names="selected_index")
        self.widget = hook(
            w.VBox([w.HBox([self.header, self.reload_button]), self.feedback.widget, self.tabs]), "flowkit-app"
        )
        for screen in self.screens:
            screen.feedback.listeners.append(self._header)  # counts change as forms create and delete
        self._header()

    def _header(self) -> None:
        info = self.ws.info()
        self.header.value = (
            f"<b>flowkit</b> · <code>{html.escape(info['path'])}</code> · {info['types']} type(s), "
            f"{info['integrations']} integration(s), {info['workflows']} workflow(s)"
        )

    def refresh(self) -> None:
        """Re-read what the current tab lists."""
        index = self.tabs.selected_index
        if index is not None:
            self.screens[index].refresh()
        self._header()

    def reload(self) -> None:
        """Re-discover integration modules and refresh every tab."""
        self.ws.registry.reload()
        for screen in self.screens:
            screen.refresh()
        self._header()
        modules = self.ws.registry.modules()
        errors = self.ws.registry.errors()
        found = f"Reloaded {len(modules)} integration module(s): {', '.join(modules) or 'none'}."
        if errors:
            failed = "; ".join(f"{name}: {message}" for name, message in sorted(errors.items()))
            self.feedback.error(f"{found} Failed to load: {failed}")
        else:
            self.feedback.ok(found)
