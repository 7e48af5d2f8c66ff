"""Small pieces every form shares: stable CSS hooks, feedback areas, option lists, run tables.

The CSS classes added here are a contract with the browser tests and with
users' own CSS; ``docs/ui-hooks.md`` lists every one of them.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ipywidgets as w

from ..errors import FlowkitError, ValidationError
from ..model import Run
from ..redaction import Redactor

W = TypeVar("W", bound=w.DOMWidget)


def hook(widget: W, *classes: str) -> W:
    """Add the stable `classes` to `widget` and return it."""
    for name in classes:
        widget.add_class(name)
    return widget


def button(label: str, css: str, *, style: str = "", tooltip: str = "") -> w.Button:
    """A button with its stable class; `style` is an ipywidgets button style ("primary", "danger"…)."""
    return hook(w.Button(description=label, button_style=style, tooltip=tooltip or label), css)


class Screen:
    """A form or panel: `widget` is what is displayed; the object displays as it."""

    widget: w.Widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def text_of(exc: BaseException) -> str:
    """What a person reads about an error: a flowkit message as is, anything else with its type."""
    if isinstance(exc, FlowkitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Feedback:
    """One form's feedback area: an HTML widget showing the latest success or refusal.

    Every message passes through `redact` (when set) before it reaches the
    widget, so a secret a user just typed cannot come back in an error.
    """

    COLOURS = {"ok": "#1a7f37", "error": "#cf222e"}

    def __init__(self, css: str) -> None:
        self.widget = hook(w.HTML(), css)
        self.redact: Redactor | None = None
        self.listeners: list[Callable[[], None]] = []  # told after each message (the App's header counts)
        self._text = ""

    def _show(self, kind: str, message: str) -> None:
        if self.redact is not None:
            message = self.redact.text(message)
        self._text = message
        colour = self.COLOURS.get(kind, "inherit")
        self.widget.value = (
            f'<div class="flowkit-msg flowkit-msg-{kind}" style="color: {colour}">{html.escape(message)}</div>'
        )
        for listener in self.listeners:
            listener()

    def ok(self, message: str) -> None:
        self._show("ok", message)

    def error(self, message: str | BaseException) -> None:
        self._show("error", text_of(message) if isinstance(message, BaseException) else message)

    def clear(self) -> None:
        self._text = ""
        self.widget.value = ""

    @property
    def text(self) -> str:
        """The message shown, as plain text (for tests and logs)."""
        return self._text

    @property
    def is_error(self) -> bool:
        return "flowkit-msg-error" in self.widget.value


class FeedbackSlots:
    """Places beside groups of buttons where one form's `Feedback` shows: next to the button last pressed.

    A long form with one feedback area shows a refusal far from the button
    that caused it; here the area moves into the pressed button's slot (one
    widget, shown in one slot at a time).

    Args:
        feedback: the form's feedback area.
        names: one slot per group of buttons; the first holds the area at first.
    """

    def __init__(self, feedback: Feedback, *names: str) -> None:
        self.feedback = feedback
        self.slots = {name: hook(w.Box(), "flowkit-feedback-slot") for name in names}
        self.slots[names[0]].children = [feedback.widget]

    def move(self, name: str) -> None:
        """Show the feedback area in slot `name` (and in no other)."""
        for other, slot in self.slots.items():
            if other != name and slot.children:
                slot.children = []
        if self.feedback.widget not in self.slots[name].children:
            self.slots[name].children = [self.feedback.widget]

    def near(self, name: str, handler: Callable[..., None]) -> Callable[..., None]:
        """A click handler: move the feedback area into slot `name`, then call `handler`."""

        def click(button: Any = None) -> None:
            self.move(name)
            handler(button)

        return click


def guarded(feedback: Feedback, action: Callable[[], object]) -> Callable[..., None]:
    """A click handler running `action`; any error is shown in `feedback` instead of escaping.

    An exception escaping a widget callback ends up in the kernel log where
    nobody reads it; the form is where the person looks.
    """

    def handler(_: Any = None) -> None:
        try:
            action()
        except Exception as exc:  # shown to the person; nothing else can handle it here
            feedback.error(exc)

    return handler


def set_options(widget: w.widgets.widget_selection._Selection, options: Sequence[Any], *, keep: Any = None) -> None:
    """Replace a Dropdown/Select's options, keeping the current (or `keep`) value when still offered."""
    wanted = keep if keep is not None else widget.value
    widget.options = list(options)
    values = [option[1] if isinstance(option, tuple) else option for option in widget.options]
    if wanted in values:
        widget.value = wanted
    elif values and not isinstance(widget, w.Select):
        widget.value = values[0]


class Confirm:
    """A destructive button that needs a second click on the same target."""

    def __init__(self) -> None:
        self.armed: str | None = None

    def ask(self, target: str) -> bool:
        """True when `target` was already armed by the previous click; arms it otherwise."""
        if self.armed == target:
            self.armed = None
            return True
        self.armed = target
        return False


def confirm_delete(
    feedback: Feedback,
    confirm: Confirm,
    name: str | None,
    *,
    what: str,
    unselected: str,
    delete: Callable[[str], object],
    then: Callable[[str], object] = lambda name: None,
    note: str = "",
) -> None:
    """A Delete button's click: refuse without a selection, ask for a second click, delete, tidy up, report.

    Args:
        feedback: where the question and the outcome are shown.
        confirm: the form's `Confirm`, remembering the first click.
        name: what is selected, or None/"" when nothing is.
        what: how messages name the kind of thing, e.g. ``the integration``.
        unselected: the refusal when nothing is selected.
        delete: deletes `name`.
        then: called with `name` after it is deleted (reset the form, refresh the lists).
        note: added to the success message.
    """
    if not name:
        raise ValidationError(unselected)
    if not confirm.ask(name):
        feedback.error(f"Click Delete again to delete {what} {name!r}.")
        return
    delete(name)
    then(name)
    feedback.ok(f"Deleted {what} {name!r}{note}.")


class ListForm(Screen, ABC):
    """A screen over one collection: its list with New / Edit / Delete beside it, the item's form below.

    A subclass sets `what` and `unselected`, calls `_list_controls` when it
    builds its widgets, and defines `new`, `edit`, `refresh` and `_remove`.
    """

    what = "the item"  # how messages name one, e.g. "the integration"
    unselected = "Select an item in the list first."
    editing: str | None = None
    list: w.Select
    feedback: Feedback

    def _list_controls(self, css: str, label: str) -> w.HBox:
        """The list and its buttons (CSS ``flowkit-<css>-list``, ``-new``, ``-edit``, ``-delete``), wired up."""
        self._confirm = Confirm()
        self.feedback = Feedback(f"flowkit-{css}-feedback")
        self.list = hook(w.Select(description=label, rows=6), f"flowkit-{css}-list")
        self.new_button = button("New", f"flowkit-{css}-new")
        self.edit_button = button("Edit", f"flowkit-{css}-edit")
        self.delete_button = button("Delete", f"flowkit-{css}-delete", style="danger")
        self.new_button.on_click(guarded(self.feedback, self.new))
        self.edit_button.on_click(guarded(self.feedback, self.edit))
        self.delete_button.on_click(guarded(self.feedback, self.delete))
        return w.HBox([self.list, w.VBox([self.new_button, self.edit_button, self.delete_button])])

    def _selected(self) -> str:
        """The name selected in the list; refused when there is none."""
        if not self.list.value:
            raise ValidationError(self.unselected)
        return str(self.list.value)

    def delete(self) -> None:
        """Delete the item selected in the list (on a second click); reset the form if it was being edited."""
        confirm_delete(
            self.feedback,
            self._confirm,
            self.list.value,
            what=self.what,
            unselected=self.unselected,
            delete=self._remove,
            then=self._forget,
        )

    def _forget(self, name: str) -> None:
        if self.editing == name:
            self.new()
        self.refresh()

    @abstractmethod
    def new(self) -> None:
        """Clear the form for a new item."""

    @abstractmethod
    def edit(self) -> None:
        """Load the item selected in the list into the form."""

    @abstractmethod
    def refresh(self) -> None:
        """Re-read the list."""

    @abstractmethod
    def _remove(self, name: str) -> None:
        """Delete `name` from the workspace."""


def version_label(run: Run) -> str:
    """Which workflow version a run ran: ``version 3``, or an unsaved draft (version 0 is never saved)."""
    return f"version {run.version}" if run.version else "unsaved draft"


def run_summary(run: Run) -> str:
    """One paragraph about a run: workflow, version, id, status, trigger, duration, error."""
    duration = "" if run.duration is None else f" in {run.duration:.2f} s"
    icon = {"success": "✅", "failed": "❌", "cancelled": "⏹"}.get(run.status, "⏳")
    error = f"<br>{html.escape(run.error)}" if run.error else ""
    resumed = f" (resumes {html.escape(run.resumed_from)})" if run.resumed_from else ""
    return (
        f'<div class="flowkit-run-line" data-status="{html.escape(run.status)}">{icon} '
        f'<b>{html.escape(run.workflow)}</b> · <span class="flowkit-run-version">{version_label(run)}</span> · '
        f"run <code>{html.escape(run.id)}</code>{resumed} · "
        f"{html.escape(run.status)}{duration} · trigger {html.escape(run.trigger)}{error}</div>"
    )


def write_run_report(ws_path: Any, run: Run) -> str:
    """Write `run`'s report notebook into ``<workspace>/reports/`` (signed: it opens trusted); the message to show."""
    from ..jobs import report_path, write_report

    path = write_report(run, report_path(ws_path, run))
    return f"Wrote the report of run {run.id} (version {run.version}) to {path}"
