"""The builder's node editor: integration → task → params (a generated form or a JSON editor)."""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import FlowkitError, ParamsError, ValidationError
from ..integrations.registry import TaskSpec
from ..model import TRIGGER_RULES, Node
from .common import hook, set_options
from .fields import ParamsForm, parse_json_object, parse_text

if TYPE_CHECKING:
    from ..workspace import Workspace


def help_html(doc: str) -> str:
    """A task's docstring as HTML: ``code`` and `code` as code, *emphasis*, **bold**, paragraphs kept."""
    text = html.escape(doc.strip())
    text = re.sub(r"``(.+?)``", r"<code>\1</code>", text)
    text = re.sub(r"`([^`]+?)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", text)
    paragraphs = [part.strip().replace("\n", "<br>") for part in re.split(r"\n\s*\n", text) if part.strip()]
    return "".join(f'<p style="margin: 0 0 4px 0">{part}</p>' for part in paragraphs)


class NodeForm:
    """Widgets describing one node; `read` turns them into node fields.

    Tasks declared with ``@flowkit.task(params=[...])`` get a form generated
    from their params (templates such as ``{{ inputs.title }}`` allowed);
    other tasks get a JSON editor for a free params object.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.spec: TaskSpec | None = None
        self.form: ParamsForm | None = None
        self.name = hook(w.Text(description="Node", placeholder="node_name"), "flowkit-node-name")
        self.integration = hook(w.Dropdown(description="Integration"), "flowkit-node-integration")
        self.task = hook(w.Dropdown(description="Task"), "flowkit-node-task")
        self.task_help = hook(w.HTML(), "flowkit-node-task-help")
        self.params = hook(w.VBox(), "flowkit-node-params")
        self.json = hook(
            w.Textarea(
                value="{}",
                description="Params",
                placeholder='{"text": "Hi {{ inputs.who }}"}',
                layout=w.Layout(width="40em", height="6em"),
            ),
            "flowkit-node-params-json",
        )
        self.retries = hook(
            w.IntText(value=0, description="Retries", layout=w.Layout(width="12em")), "flowkit-node-retries"
        )
        self.timeout = hook(
            w.Text(description="Timeout (s)", placeholder="none", layout=w.Layout(width="14em")), "flowkit-node-timeout"
        )
        self.options = NodeOptions()
        self.integration.observe(lambda _: self._fill_tasks(), names="value")
        self.task.observe(lambda _: self._build_params(), names="value")
        self.box = w.VBox(
            [
                self.name,
                self.integration,
                self.task,
                self.task_help,
                self.params,
                w.HBox([self.retries, self.timeout]),
                self.options.box,
            ]
        )
        self.refresh()

    # -- choices ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the integrations and their modules' tasks (after a reload)."""
        set_options(self.integration, [""] + [item.name for item in self.ws.integrations.list()])
        set_options(self.options.workflow, [""] + [item.name for item in self.ws.workflows.list()])
        self._fill_tasks()

    def _module(self) -> str | None:
        if not self.integration.value:
            return None
        try:
            return self.ws.integrations.get(self.integration.value).type
        except FlowkitError as exc:
            self.task_help.value = f'<span class="flowkit-msg-error">{html.escape(str(exc))}</span>'
            return None

    def _fill_tasks(self) -> None:
        module = self._module()
        self.task_help.value = ""
        tasks: list[str] = []
        if module is not None:
            try:
                tasks = sorted(self.ws.registry.tasks(module))
            except FlowkitError as exc:
                self.task_help.value = f'<span class="flowkit-msg-error">{html.escape(str(exc))}</span>'
        set_options(self.task, tasks)
        if not tasks:
            self.task.value = None
        self._build_params()

    def _build_params(self, values: dict[str, Any] | None = None) -> None:
        module = self._module()
        self.spec = None
        if module is not None and self.task.value:
            try:
                self.spec = self.ws.registry.task(module, self.task.value)
            except FlowkitError as exc:
                self.task_help.value = f'<span class="flowkit-msg-error">{html.escape(str(exc))}</span>'
        if self.spec is not None:
            self.task_help.value = f"<small>{help_html(self.spec.doc or self.spec.summary)}</small>"
        if self.spec is not None and self.spec.params is not None:
            self.form = ParamsForm(self.spec.params, values=values, templates=True)
            self.params.children = [self.form.box]
        else:
            self.form = None
            self.json.value = json.dumps(values or {}, indent=2)
            self.params.children = [self.json]

    def reset(self) -> None:
        """Empty the form (a new or newly opened workflow starts from a blank node)."""
        self.name.value = ""
        self.integration.value = ""
        self.retries.value = 0
        self.timeout.value = ""
        self._build_params()

    def controls(self) -> list[w.ValueWidget]:
        """The widgets a person types into (the builder clears a stale error when one changes)."""
        return [self.name, self.integration, self.task, self.json, self.retries, self.timeout]

    # -- reading and loading ------------------------------------------------------------
    def read_params(self) -> dict[str, Any]:
        """The params typed in the form or the JSON editor."""
        if self.form is not None:
            return self.form.read()
        return parse_json_object(
            self.json.value,
            what="Params",
            refusal='Params must be a JSON object like {{"key": "value"}}, got {type}.',
            error=ParamsError,
        )

    def read(self) -> dict[str, Any]:
        """Node fields except the name: integration, task, params, retries, timeout, and the options."""
        if self.options.workflow.value:
            return self.options.read_subflow()
        if not self.integration.value:
            raise ValidationError("Choose the node's integration.")
        if not self.task.value:
            raise ValidationError(f"Choose a task of {self.integration.value!r}.")
        return {
            "integration": self.integration.value,
            "task": self.task.value,
            "params": self.read_params(),
            "retries": self.retries.value,
            "timeout": parse_text("number", self.timeout.value, what="Timeout"),
            **self.options.read(),
            "workflow": None,
            "inputs": None,
        }

    def load(self, node: Node) -> None:
        """Show `node` in the form (its integration may have gone; then it is offered anyway)."""
        self.name.value = node.name
        self.options.load(node)
        if node.workflow is not None:
            return
        options = list(self.integration.options)
        if node.integration not in options:
            options.append(node.integration)
        set_options(self.integration, options, keep=node.integration)
        if node.task in self.task.options:
            self.task.value = node.task
        self._build_params(node.params)
        self.retries.value = node.retries
        self.timeout.value = "" if node.timeout is None else str(node.timeout)


class NodeOptions:
    """The workflow-language options of a node: condition, trigger rule, allow failure, foreach, cache.

    Blank fields mean the defaults (no condition, no foreach, no limit); a
    foreach is a template (``{{ list_files.items }}``) or a JSON list.
    """

    def __init__(self) -> None:
        short = w.Layout(width="16em")
        self.when = hook(
            w.Text(description="Run when", placeholder="{{ inputs.notify }}", layout=w.Layout(width="40em")),
            "flowkit-node-when",
        )
        self.trigger = hook(w.Dropdown(description="Trigger", options=TRIGGER_RULES), "flowkit-node-trigger")
        self.allow_failure = hook(w.Checkbox(description="Allow failure", indent=False), "flowkit-node-allow-failure")
        self.foreach = hook(
            w.Text(description="For each", placeholder="{{ list_files.items }}", layout=w.Layout(width="40em")),
            "flowkit-node-foreach",
        )
        self.max_parallel = hook(
            w.Text(description="Max parallel", placeholder="no limit", layout=short), "flowkit-node-max-parallel"
        )
        self.cache = hook(w.Checkbox(description="Cache result", indent=False), "flowkit-node-cache")
        self.cache_ttl = hook(
            w.Text(description="for", placeholder="ever (or 1h)", layout=short), "flowkit-node-cache-ttl"
        )
        self.workflow = hook(
            w.Dropdown(description="Workflow", options=[""], tooltip="run a saved workflow instead of a task"),
            "flowkit-node-workflow",
        )
        self.inputs = hook(
            w.Textarea(
                value="{}",
                description="Its inputs",
                placeholder='{"title": "{{ draft.title }}"}',
                layout=w.Layout(width="40em", height="4em"),
            ),
            "flowkit-node-inputs",
        )
        self.box = hook(
            w.VBox(
                [
                    self.when,
                    w.HBox([self.trigger, self.allow_failure]),
                    w.HBox([self.foreach, self.max_parallel]),
                    w.HBox([self.cache, self.cache_ttl]),
                    self.workflow,
                    self.inputs,
                ]
            ),
            "flowkit-node-options",
        )

    def read(self) -> dict[str, Any]:
        """The options as `Workflow.add_node` takes them (every one, so an update can clear them)."""
        foreach: Any = self.foreach.value.strip() or None
        if foreach is not None and foreach.startswith("["):
            foreach = parse_text("json", foreach, what="For each")
        ttl = self.cache_ttl.value.strip()
        return {
            "when": self.when.value.strip() or None,
            "trigger": self.trigger.value,
            "allow_failure": self.allow_failure.value,
            "foreach": foreach,
            "max_parallel": parse_text("integer", self.max_parallel.value, what="Max parallel"),
            "cache": (ttl or True) if self.cache.value else False,
        }

    def read_subflow(self) -> dict[str, Any]:
        """A sub-workflow node's fields: the workflow, its inputs, and the options that apply to it."""
        inputs = parse_json_object(
            self.inputs.value, what="Its inputs", refusal="Its inputs must be a JSON object, got {type}."
        )
        plain = {"integration": "", "task": "", "params": {}, "retries": 0, "timeout": None}
        options = {**self.read(), "foreach": None, "max_parallel": None, "cache": False}
        return {**plain, **options, "workflow": self.workflow.value, "inputs": inputs}

    def load(self, node: Node) -> None:
        if node.workflow is not None and node.workflow not in self.workflow.options:
            set_options(self.workflow, [*self.workflow.options, node.workflow])
        self.workflow.value = node.workflow or ""
        self.inputs.value = json.dumps(node.inputs or {}, indent=2)
        self.when.value = node.when or ""
        self.trigger.value = node.trigger
        self.allow_failure.value = node.allow_failure
        self.foreach.value = (
            "" if node.foreach is None else node.foreach if isinstance(node.foreach, str) else json.dumps(node.foreach)
        )
        self.max_parallel.value = "" if node.max_parallel is None else str(node.max_parallel)
        self.cache.value = node.cache is not False
        self.cache_ttl.value = node.cache if isinstance(node.cache, str) else ""
