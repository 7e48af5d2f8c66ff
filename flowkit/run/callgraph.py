"""Workflows that run workflows: find a saved one, the chain that leads back (a cycle), the inputs it needs.

Validation uses these for sub-workflow nodes (``workflow="Publish post"``):
a cycle of workflows running each other is refused at save with its path,
and a node that does not give an input its workflow's templates read is
refused too, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import NotFoundError, TemplateError, ValidationError
from ..model import Workflow
from . import templating

Lookup = Callable[[str], Workflow] | None


def saved(lookup: Lookup, name: str) -> Workflow:
    """The saved workflow `name`.

    Raises:
        NotFoundError: there is none; ValidationError: there are no saved workflows to look in.
    """
    if lookup is None:
        raise ValidationError("this workspace does not look up saved workflows")
    return lookup(name)


def calls_back(lookup: Lookup, name: str, path: list[str], seen: set[str] | None = None) -> list[str] | None:
    """The chain of workflows from ``path[0]`` through `name` back to ``path[0]``, if there is one."""
    seen = set() if seen is None else seen
    if name == path[0]:
        return [*path, name]
    if name in seen:
        return None
    seen.add(name)
    try:
        workflow = saved(lookup, name)
    except (NotFoundError, ValidationError):
        return None
    for node in workflow.nodes.values():
        if node.workflow is not None:
            found = calls_back(lookup, node.workflow, [*path, name], seen)
            if found:
                return found
    return None


def needed_inputs(workflow: Workflow) -> set[str]:
    """The inputs a workflow's templates read as ``inputs.x`` (not those read with a default)."""
    needed: set[str] = set()
    for node in workflow.nodes.values():
        for _, text in templating.template_strings([node.params, node.when, node.foreach, node.inputs], ""):
            try:
                needed |= templating.references(text)[1]
            except TemplateError:
                continue  # that workflow's own validation reports it
    return needed


def subflow_problems(lookup: Lookup, parent: str, child: str, inputs: dict[str, object]) -> list[str]:
    """What is wrong with workflow `parent` running `child` with `inputs`: it is missing, needs other inputs,
    or leads back to `parent`."""
    found = []
    try:
        missing = sorted(needed_inputs(saved(lookup, child)) - set(inputs))
    except (NotFoundError, ValidationError) as exc:
        found.append(f"Runs the workflow {child!r}, which cannot be used: {exc}")
    else:
        if missing:
            found.append(f"Runs {child!r}, which needs the input(s) {', '.join(missing)}: add to inputs.")
    cycle = calls_back(lookup, child, [parent])
    if cycle:
        found.append(
            f"Runs the workflow {child!r}, which leads back to this one: {' → '.join(cycle)}. "
            "Workflows cannot run each other in a cycle."
        )
    return found


def output_problems(workflow: Workflow) -> list[str]:
    """The declared outputs must read this workflow's nodes (and inputs) only, in templates that parse."""
    found = []
    for path, text in templating.template_strings(workflow.outputs, "outputs"):
        try:
            names, _ = templating.references(text)
        except TemplateError as exc:
            found.append(f"Output {path!r}: {exc}")
            continue
        found += [
            f"Output {path!r} uses {ref!r}, which is not a node of this workflow."
            for ref in sorted(names - {templating.INPUTS} - set(workflow.graph))
        ]
    return found
