"""Check a workflow against the workspace and list every problem at once.

`analyze` walks the whole workflow — graph, names, integrations, modules,
tasks, params, templates, inputs — collecting `Problem`s instead of stopping
at the first, and builds the `NodePlan` the engine runs from, so a run pays
for the lookups once. `ws.validate` shows the problems; `ws.workflows.save`
and `ws.run` refuse a workflow with errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import networkx as nx

from .. import jsonvalue
from ..errors import (
    FlowkitError,
    InvalidName,
    ModuleNotFound,
    ParamsError,
    TemplateError,
    UnknownTask,
    WorkflowInvalid,
)
from ..integrations.registry import IntegrationModule, Registry, TaskSpec
from ..model import Integration, Node, Param, Workflow, check_identifier
from ..schema import problems as param_problems
from ..schema import validate_values
from . import callgraph, templating

#: Jinja reads these as literals, so a node named so cannot be referenced in a template.
JINJA_LITERALS = {"true", "false", "none"}
MAX_CYCLES_SHOWN = 10
#: What a foreach node's params read for the current item.
ITEM_NAMES = {"item", "item_index"}


@dataclass(frozen=True)
class Lookups:
    """What checking a workflow reads from its workspace, handed in rather than the workspace itself.

    Attributes:
        integrations: the saved integrations (credentials still encrypted: they
            decrypt, through the workspace's keys, only when a run reveals them).
        type_drift: how a stored integration type differs from its module, as sentences.
        registry: the integration modules and their tasks.
        workflow: a saved workflow by name (sub-workflow nodes run them); raises `NotFoundError`.
    """

    integrations: Callable[[], list[Integration]]
    type_drift: Callable[[str], list[str]]
    registry: Registry
    workflow: Callable[[str], Workflow] | None = None


class Problem(NamedTuple):
    """One thing wrong with a workflow.

    Attributes:
        severity: ``"error"`` (refused for save and run) or ``"warning"``.
        node: the node concerned, or None for the workflow as a whole.
        message: a sentence saying what is wrong and what to do.
    """

    severity: str
    node: str | None
    message: str


@dataclass(slots=True)  # one per node of every run, read on its every step
class NodePlan:
    """What the engine needs to run one node, resolved once per run."""

    name: str
    integration: str
    module: str
    location: str
    task: str
    params: dict[str, Any]
    declared: list[Param] | None
    templated: bool
    refs: set[str] = field(default_factory=set)
    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    foreach: str | list[Any] | None = None
    max_parallel: int | None = None
    cache: bool | str = False
    workflow: str | None = None


@dataclass
class Analysis:
    """Every problem found, and a plan for each node that has none."""

    problems: list[Problem]
    plans: dict[str, NodePlan]
    integrations: dict[str, Integration] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)  # each node's downstream neighbours
    order: list[str] = field(default_factory=list)  # every node in dependency order (empty if there is a cycle)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "error"]


def dependency_order(children: dict[str, list[str]]) -> list[str] | None:
    """Every node after its parents, generation by generation (as `nx.topological_sort`); None if there is a cycle.

    One pass over plain lists: the engine walks the result instead of asking
    networkx per node.
    """
    indegree = dict.fromkeys(children, 0)
    for downstream in children.values():
        for child in downstream:
            indegree[child] += 1
    generation = [name for name, count in indegree.items() if count == 0]
    order: list[str] = []
    while generation:
        order += generation
        following = []
        for name in generation:
            for child in children[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    following.append(child)
        generation = following
    return order if len(order) == len(children) else None


def _cycles(graph: nx.DiGraph) -> list[Problem]:
    found = []
    position = {name: index for index, name in enumerate(graph)}
    for index, cycle in enumerate(nx.simple_cycles(graph)):
        if index == MAX_CYCLES_SHOWN:
            found.append(Problem("error", None, "More cycles not shown; break the ones above first."))
            break
        first = min(range(len(cycle)), key=lambda i: position[cycle[i]])  # start where the workflow does
        cycle = cycle[first:] + cycle[:first]
        path = " → ".join([*cycle, cycle[0]])
        found.append(Problem("error", None, f"The workflow has a cycle: {path}. Remove one of its edges."))
    return found


def _check_name(key: Any, data: dict[str, Any]) -> list[Problem]:
    node = data.get("node")
    if not isinstance(node, Node):
        return [
            Problem(
                "error",
                str(key),
                f"{key!r} is connected by an edge but is not a node; add it with add_node or remove its edges.",
            )
        ]
    try:
        check_identifier(key, "Node name")
    except InvalidName as exc:
        return [Problem("error", str(key), str(exc))]
    if node.name != key:
        return [Problem("error", key, f"Node {key!r} records the name {node.name!r}; use rename_node.")]
    if key == templating.INPUTS:
        return [Problem("error", key, "'inputs' names the run's inputs in templates; rename this node.")]
    if key in JINJA_LITERALS:
        return [
            Problem(
                "warning",
                key,
                f"A node named {key!r} cannot be referenced in a template "
                f"({key} is a literal there); consider renaming it.",
            )
        ]
    return []


class _Checker:
    """One analysis pass; caches the workspace lookups shared by many nodes."""

    def __init__(self, lookups: Lookups, workflow: Workflow, inputs: dict[str, Any] | None) -> None:
        self.lookups = lookups
        self.workflow = workflow
        self.inputs = inputs
        self.graph = workflow.graph
        self.integrations: dict[str, Integration] | None = None
        self.drifted: dict[str, list[str]] = {}
        self.tasks: dict[tuple[str, str], tuple[IntegrationModule, TaskSpec] | str] = {}

    def integration(self, name: str) -> Integration | None:
        if self.integrations is None:
            self.integrations = {item.name: item for item in self.lookups.integrations()}
        return self.integrations.get(name)

    def type_drift(self, type_name: str) -> list[str]:
        if type_name not in self.drifted:
            try:
                self.drifted[type_name] = self.lookups.type_drift(type_name)
            except FlowkitError:
                self.drifted[type_name] = []
        return self.drifted[type_name]

    def task(self, integration: Integration, task: str) -> tuple[IntegrationModule, TaskSpec] | str:
        """The module and task an integration's node calls, or why there is none (cached per run)."""
        key = (integration.type, task)
        if key not in self.tasks:
            try:
                self.tasks[key] = (
                    self.lookups.registry.module(integration.type),
                    self.lookups.registry.task(integration.type, task),
                )
            except ModuleNotFound as exc:
                self.tasks[key] = (
                    f"The integration {integration.name!r} is of type {integration.type!r}, "
                    f"but no integration module of that name loads: {exc}"
                )
            except UnknownTask as exc:
                self.tasks[key] = str(exc)
        return self.tasks[key]

    def subflow(self, node: Node, acyclic: bool) -> tuple[list[Problem], NodePlan | None]:
        """A node that runs a saved workflow: it must exist, not lead back here, and its inputs must render."""
        name, child, inputs = node.name, str(node.workflow), node.inputs or {}
        problems = callgraph.subflow_problems(self.lookups.workflow, self.workflow.name, child, inputs)
        found = [Problem("error", name, message) for message in problems]
        refs: set[str] = set()
        for value, where in ((inputs, "inputs"), (node.when, "when")):
            for path, text in templating.template_strings(value, where):
                found += self.template(name, path, text, refs, acyclic, set())
        templated = templating.has_templates(inputs)
        plan = NodePlan(name, "", "", "", "", inputs, None, templated, refs - {templating.INPUTS}, workflow=child)
        return found, plan

    def node(self, node: Node, acyclic: bool) -> tuple[list[Problem], NodePlan | None]:
        if node.workflow is not None:
            return self.subflow(node, acyclic)
        name = node.name
        found: list[Problem] = []
        integration = self.integration(node.integration)
        if integration is None:
            known = ", ".join(sorted(self.integrations or {})) or "none yet"
            return [
                Problem(
                    "error",
                    name,
                    f"Uses the integration {node.integration!r}, which does not exist "
                    f"(known: {known}). Create it or choose another.",
                )
            ], None
        found_task = self.task(integration, node.task)
        if isinstance(found_task, str):
            return [Problem("error", name, found_task)], None
        module, spec = found_task
        for note in self.type_drift(integration.type):
            found.append(Problem("warning", name, f"Integration type {integration.type!r}: {note}."))
        if spec.params is not None:
            for reason in param_problems(spec.params, node.params, allow_templates=True):
                found.append(Problem("error", name, f"Params of {integration.type}.{node.task}: {reason}."))
        params = node.params
        if spec.params is not None:
            params, problems = structured_json(spec.params, params)
            found += [Problem("error", name, problem) for problem in problems]
        refs: set[str] = set()
        templated = node.foreach is not None  # each item renders its own params
        local = ITEM_NAMES if node.foreach is not None else set()
        for path, text in templating.template_strings(params, "") if params else ():
            templated = True
            found += self.template(name, path, text, refs, acyclic, local)
        for option, value in (("when", node.when), ("foreach", node.foreach)):
            for path, text in templating.template_strings(value, option) if value is not None else ():
                found += self.template(name, path, text, refs, acyclic, set())
        if templated:  # a param holding a template is what `_untemplated` warns of
            found += _untemplated(spec, name, node.params)
        if not templated and spec.params is not None and not any(p.severity == "error" for p in found):
            params = validate_values(spec.params, params, what=f"Node {name!r}", error=ParamsError)
        plan = NodePlan(
            name,
            integration.name,
            integration.type,
            module.location,
            node.task,
            params,
            spec.params,
            templated,
            refs - {templating.INPUTS},
            node.retries,
            node.retry_delay,
            node.timeout,
            node.foreach,
            node.max_parallel,
            node.cache,
        )
        return found, plan

    def template(
        self, name: str, path: str, text: str, refs: set[str], acyclic: bool, local: set[str]
    ) -> list[Problem]:
        try:
            names, input_keys = templating.references(text)
        except TemplateError as exc:
            return [Problem("error", name, f"{_label(path)}: {exc}")]
        found = []
        names -= local
        refs |= names
        label = _label(path)
        for ref in sorted(names - {templating.INPUTS}):
            if ref not in self.graph:
                found.append(
                    Problem(
                        "error",
                        name,
                        f"{label} uses {ref!r}, which is neither a node of this workflow nor 'inputs'"
                        + (
                            " (item and item_index exist only in a foreach node's params)."
                            if ref in ITEM_NAMES
                            else "."
                        ),
                    )
                )
            elif acyclic and not (self.graph.has_edge(ref, name) or nx.has_path(self.graph, ref, name)):
                found.append(
                    Problem(
                        "error",
                        name,
                        f"{label} uses the result of {ref!r}, which is not "
                        f"upstream of {name!r}; connect {ref} → {name} first.",
                    )
                )
        if self.inputs is not None and input_keys:
            for key in sorted(input_keys - self.inputs.keys()):
                given = ", ".join(sorted(self.inputs)) or "none"
                found.append(
                    Problem(
                        "error",
                        name,
                        f"{label} needs the input {key!r}, which was not given (inputs given: {given}).",
                    )
                )
        return found


def _label(path: str) -> str:
    """How a message names where a template is: an option (when, foreach) or a param."""
    return f"Option {path!r}" if path.startswith(("when", "foreach")) else f"Param {path!r}"


def structured_json(declared: list[Param], params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Params with each ``json`` field given as JSON text holding templates read as the structure it writes.

    A json field holds a structure whose string leaves may be templates:
    ``'{"delay": "{{ count.words }}"}'`` (as typed into a form) means the
    object ``{"delay": <count.words>}``, not the text it renders to. A field
    that is one ``{{ expression }}`` keeps the expression's value; JSON text
    that does not parse (``{"delay": {{ count.words }}}``) is a problem.
    """
    kinds = {param.name: param.kind for param in declared}
    fixed, problems = dict(params), []
    for key, value in params.items():
        if kinds.get(key) != "json" or not templating.is_template(value):
            continue
        text = value.strip()
        if templating.single_expression(text) is not None or not text.startswith(("{", "[")):
            continue
        try:
            fixed[key] = jsonvalue.loads(text)  # nesting too deep to read is a ValueError too
        except ValueError:
            problems.append(
                f"Param {key!r} is a json field, and this text is neither JSON nor one {{{{ expression }}}}: "
                'put each template inside a JSON string, e.g. {"delay": "{{ count.words }}"}'
            )
    return fixed, problems


def _untemplated(spec: TaskSpec, name: str, params: dict[str, Any]) -> list[Problem]:
    """A warning for each param the task wants free of templates (``untemplated``) that holds one."""
    advice = spec.untemplated
    return [
        Problem("warning", name, f"Param {field!r} of {spec.module}.{spec.name} is a template: {advice[field]}.")
        for field in advice
        if field in params and templating.has_templates(params[field])
    ]


def analyze(lookups: Lookups, workflow: Workflow, *, inputs: dict[str, Any] | None = None) -> Analysis:
    """Every problem of `workflow` against `lookups`, and a plan for each sound node.

    Args:
        inputs: the run's inputs when known (at run time); templates reading
            an input that is not given are then errors.
    """
    graph = workflow.graph
    problems: list[Problem] = []
    named: list[Node] = []
    for key, data in graph.nodes(data=True):
        found = _check_name(key, data)
        problems += found
        if not found or not any(problem.severity == "error" for problem in found):
            named.append(data["node"])
    children: dict[str, list[str]] = {name: [] for name in graph}
    for upstream, downstream in graph.edges:
        children[upstream].append(downstream)
    order = dependency_order(children)
    cycles = _cycles(graph) if order is None else []
    problems += cycles
    checker = _Checker(lookups, workflow, inputs)
    plans: dict[str, NodePlan] = {}
    for node in named:
        found, plan = checker.node(node, acyclic=not cycles)
        problems += found
        if plan is not None and (not found or not any(problem.severity == "error" for problem in found)):
            plans[node.name] = plan
    problems += [Problem("error", None, message) for message in callgraph.output_problems(workflow)]
    return Analysis(problems, plans, checker.integrations or {}, children, order or [])


def validate(lookups: Lookups, workflow: Workflow, *, inputs: dict[str, Any] | None = None) -> list[Problem]:
    """Every problem of `workflow`, errors and warnings, in one list."""
    return analyze(lookups, workflow, inputs=inputs).problems


def refusal(workflow: Workflow, problems: list[Problem]) -> WorkflowInvalid:
    """The error refusing a workflow with errors, listing each one."""
    errors = [problem for problem in problems if problem.severity == "error"]
    listed = "; ".join(f"{node or 'workflow'}: {message}" for _, node, message in errors)
    return WorkflowInvalid(f"Workflow {workflow.name!r} has {len(errors)} error(s): {listed}", problems=problems)
