"""The Integrations screen: credentials typed into fields generated from the type, tested, stored encrypted.

Secrets: every password widget is emptied the moment its value is read (by
Test Connection or Create), so no value stays in the widget state a notebook
saves. The values read by Test Connection are kept in a plain Python
attribute, never a synced trait, so Create can use them without asking the
person to type them again. Editing never loads a stored secret into a widget:
a blank password field keeps the stored value.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import FlowkitError, ValidationError
from ..redaction import Redactor
from .common import ListForm, button, guarded, hook, set_options, text_of
from .fields import ParamsForm

if TYPE_CHECKING:
    from ..workspace import Workspace


def describe_test(result: dict[str, Any]) -> str:
    """A Test Connection result as HTML: ✅/❌, the message, and each step."""
    ok = bool(result.get("success"))
    lines = [
        f'<div class="flowkit-test-{"ok" if ok else "failed"}">{"✅" if ok else "❌"} '
        f"{html.escape(str(result.get('message', '')))}</div>"
    ]
    steps = result.get("steps") or []
    if steps:
        items = []
        for step in steps:
            if isinstance(step, dict):
                passed = step.get("success", step.get("ok"))
                icon = "" if passed is None else ("✅ " if passed else "❌ ")
                label = step.get("name") or step.get("step") or ""
                message = step.get("message", "")
                text = f"{label}: {message}" if label and message else str(label or message)
            else:
                icon, text = "", str(step)
            items.append(f'<li class="flowkit-test-step">{icon}{html.escape(text)}</li>')
        lines.append(f"<ul>{''.join(items)}</ul>")
    return "".join(lines)


class IntegrationForm(ListForm):
    """Create, edit, test and delete integrations.

    Args:
        ws: the workspace.

    Attributes:
        widget: the form, to display.
    """

    what = "the integration"
    unselected = "Select an integration in the list first."

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.editing = None
        self.form: ParamsForm | None = None
        self._kept: dict[str, Any] = {}  # secrets read by Test Connection, for Create; never synced
        controls = self._list_controls("integration", "Integrations")
        self.name = hook(w.Text(description="Name", placeholder="My Slack Workspace"), "flowkit-integration-name")
        self.type = hook(w.Dropdown(description="Type"), "flowkit-integration-type")
        self.fields = hook(w.VBox(), "flowkit-integration-fields")
        self.test_button = button("Test Connection", "flowkit-integration-test")
        self.test_result = hook(w.HTML(), "flowkit-integration-test-result")
        self.create_button = button("Create", "flowkit-integration-create", style="primary")

        self.test_button.on_click(guarded(self.feedback, self.test))
        self.create_button.on_click(guarded(self.feedback, self.submit))
        self.type.observe(self._on_type, names="value")

        self.widget = hook(
            w.VBox(
                [
                    controls,
                    w.HTML("<hr>"),
                    self.name,
                    self.type,
                    self.fields,
                    w.HBox([self.test_button, self.create_button]),
                    self.test_result,
                    self.feedback.widget,
                ]
            ),
            "flowkit-integration-form",
        )
        self.refresh()

    # -- lists ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read integrations and types."""
        set_options(self.list, [integration.name for integration in self.ws.integrations.list()])
        if self.editing is None:
            set_options(self.type, [""] + [itype.name for itype in self.ws.types.list()])

    def _on_type(self, _: Any = None) -> None:
        self._build_fields()

    def _build_fields(self, values: dict[str, Any] | None = None) -> None:
        self._kept = {}
        self.test_result.value = ""
        if not self.type.value:
            self.form = None
            self.fields.children = [w.HTML("<i>Choose a type to see its fields.</i>")]
            return
        itype = self.ws.types.get(self.type.value)
        self.form = ParamsForm(itype.params, values=values)
        self.fields.children = [self.form.box]

    # -- reading ----------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        """The form's values (password widgets emptied), with secrets kept from an earlier test."""
        if self.form is None:
            raise ValidationError("Choose the integration's type first.")
        values = self.form.read(keep_blank=self.editing is not None)
        for name in self.form.secret_names():
            if name in values:
                self._kept[name] = values[name]
            elif name in self._kept:
                values[name] = self._kept[name]
        # Whatever happens next, no message may repeat a value just typed.
        self.feedback.redact = Redactor(v for k, v in values.items() if k in self.form.secret_names())
        return values

    # -- actions ----------------------------------------------------------------------
    def new(self) -> None:
        """Clear the form for a new integration."""
        self.editing = None
        self.name.value = ""
        self.name.disabled = False
        self.type.disabled = False
        self.create_button.description = "Create"
        self.refresh()
        self.type.value = ""
        self._build_fields()
        self.feedback.clear()

    def edit(self) -> None:
        """Load the selected integration: its non-secret values, never its secrets."""
        integration = self.ws.integrations.get(self._selected())
        itype = self.ws.types.get(integration.type)
        shown = {}
        if any(not param.secret for param in itype.params):
            stored = integration.credentials.reveal()
            shown = {param.name: stored.get(param.name) for param in itype.params if not param.secret}
        self.editing = integration.name
        self.name.value = integration.name
        self.name.disabled = True
        set_options(self.type, [integration.type], keep=integration.type)
        self.type.disabled = True
        self._build_fields(shown)
        if self.form is not None:
            self.form.mark_stored()
        self.create_button.description = "Save"
        self.feedback.ok(f"Editing {integration.name!r}: leave a password blank to keep the stored one.")

    def _remove(self, name: str) -> None:
        self.ws.integrations.delete(name)

    def test(self) -> None:
        """Run the module's ``test_connection`` on the values in the form, saved or not."""
        self.test_result.value = ""
        values = self._read()
        try:
            if self.editing is not None:
                result = self.ws.integrations.test(self.editing, credentials=values)
            else:
                result = self.ws.integrations.test(type=self.type.value, credentials=values)
        except FlowkitError as exc:  # no type, no module, no test_connection: the test's result is ❌
            result = {"success": False, "message": text_of(exc)}
        redact = self.feedback.redact or Redactor()
        self.test_result.value = redact.text(describe_test(result))
        kept = " Password fields were emptied; Create uses what you typed." if self._kept else ""
        if result.get("success"):
            self.feedback.ok(f"Tested.{kept}")
        else:
            self.feedback.clear()

    def submit(self) -> None:
        """Create the integration (or save the one being edited), stored encrypted."""
        values = self._read()
        if self.editing is not None:
            self.ws.integrations.update(self.editing, credentials=values)
            self._kept = {}
            self.feedback.ok(f"Saved the integration {self.editing!r}.")
            return
        name = self.name.value.strip()
        if not name:
            raise ValidationError("Give the integration a name.")
        created = self.ws.integrations.create(name, type=self.type.value, credentials=values)
        self.new()
        self.list.value = created.name
        self.feedback.ok(f"Created the integration {created.name!r} (credentials stored encrypted).")
