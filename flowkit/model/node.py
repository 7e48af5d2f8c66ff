"""Node: one step of a workflow, and the options of the workflow language.

A node calls `task` of `integration` with `params`. The options say *whether*
and *how often* it runs, all checked where they are entered:

* ``when="{{ ... }}"``: a condition evaluated just before the node would run;
  false skips it (reason "condition was false");
* ``trigger=``: which parent outcomes let it run (`TRIGGER_RULES`, Airflow's names);
* ``allow_failure=True``: its failure is recorded but does not fail the run;
* ``foreach="{{ ... }}"`` (or a literal list): run once per item, at most
  ``max_parallel`` at a time, with ``{{ item }}`` and ``{{ item_index }}`` in params;
* ``cache=True`` / ``cache="1h"``: reuse an earlier successful call's result;
* ``workflow="Publish post", inputs={...}``: instead of a task, run a saved
  workflow as one step (a *sub-workflow* node: no integration, task or params).

Only options that differ from their defaults are written by `to_dict`, so a
workflow that uses none of them is stored exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..jsonvalue import check_json
from .names import check_identifier, check_label

#: Which parent outcomes let a node run (Airflow's names; the first is the default).
TRIGGER_RULES = ("all_success", "all_done", "one_failed", "none_failed")

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"30s"``, ``"10m"``, ``"1h"``, ``"2d"``.

    Raises:
        ValueError: the text is not one number and one unit.
    """
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: use a positive number and s, m, h or d, e.g. '1h'.")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


@dataclass
class Node:
    """One step of a workflow: run `task` of `integration` with `params` (options: see the module)."""

    name: str
    integration: str = ""
    task: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    timeout: float | None = None
    retry_delay: float = 1.0
    when: str | None = None
    trigger: str = "all_success"
    allow_failure: bool = False
    foreach: str | list[Any] | None = None
    max_parallel: int | None = None
    cache: bool | str = False
    workflow: str | None = None
    inputs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_identifier(self.name, "Node name")
        if self.workflow is None:
            if self.inputs is not None:
                raise ValidationError(f"Node {self.name!r}: inputs= are for a sub-workflow node (workflow=...).")
            self.integration = check_label(self.integration, f"Node {self.name!r}: integration")
            check_identifier(self.task, f"Node {self.name!r}: task")
        else:
            self._check_subflow()
        if not isinstance(self.params, dict):
            raise ValidationError(f"Node {self.name!r}: params must be a JSON object.")
        check_json(self.params, f"{self.name}.params")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValidationError(f"Node {self.name!r}: retries must be a whole number ≥ 0.")
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and not isinstance(self.timeout, bool) and self.timeout > 0
        ):
            raise ValidationError(f"Node {self.name!r}: timeout must be a positive number of seconds.")
        if not isinstance(self.retry_delay, (int, float)) or self.retry_delay < 0:
            raise ValidationError(f"Node {self.name!r}: retry_delay must be ≥ 0 seconds.")
        self._check_options()

    def _check_options(self) -> None:
        where = f"Node {self.name!r}"
        if self.when is not None and not _is_template(self.when):
            raise ValidationError(f"{where}: when must be a template such as '{{{{ inputs.notify }}}}'.")
        if self.trigger not in TRIGGER_RULES:
            raise ValidationError(f"{where}: trigger must be one of {', '.join(TRIGGER_RULES)}, not {self.trigger!r}.")
        if not isinstance(self.allow_failure, bool):
            raise ValidationError(f"{where}: allow_failure must be True or False.")
        if self.foreach is not None:
            if isinstance(self.foreach, list):
                check_json(self.foreach, f"{self.name}.foreach")
            elif not _is_template(self.foreach):
                raise ValidationError(
                    f"{where}: foreach must be a list or a template giving one, e.g. '{{{{ list_files.items }}}}'."
                )
        if self.max_parallel is not None:
            if self.foreach is None:
                raise ValidationError(f"{where}: max_parallel bounds a foreach; set foreach= too.")
            if isinstance(self.max_parallel, bool) or not isinstance(self.max_parallel, int) or self.max_parallel < 1:
                raise ValidationError(f"{where}: max_parallel must be a whole number ≥ 1.")
        if isinstance(self.cache, str):
            try:
                parse_duration(self.cache)
            except ValueError as exc:
                raise ValidationError(f"{where}: cache: {exc}") from None
        elif not isinstance(self.cache, bool):
            raise ValidationError(f"{where}: cache must be True, False or a time to live such as '1h'.")

    def _check_subflow(self) -> None:
        where = f"Node {self.name!r}"
        self.workflow = check_label(self.workflow, f"{where}: workflow")
        if self.integration or self.task or self.params:
            raise ValidationError(
                f"{where} runs the workflow {self.workflow!r}: give it inputs=, not an integration, task or params."
            )
        if self.foreach is not None or self.cache is not False or self.retries or self.timeout is not None:
            raise ValidationError(f"{where}: a sub-workflow node cannot have foreach=, cache=, retries= or timeout=.")
        if self.inputs is None:
            self.inputs = {}
        if not isinstance(self.inputs, dict):
            raise ValidationError(f"{where}: inputs must be a JSON object.")
        check_json(self.inputs, f"{self.name}.inputs")

    @property
    def cache_ttl(self) -> float | None:
        """Seconds a cached result stays usable (None: until the cache is cleared); only when `cache` is set."""
        return parse_duration(self.cache) if isinstance(self.cache, str) else None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "integration": self.integration,
            "task": self.task,
            "params": self.params,
            "retries": self.retries,
            "timeout": self.timeout,
            "retry_delay": self.retry_delay,
        }
        fields = vars(self)  # once per node of every run's snapshot: plain dict reads, defaults told by identity first
        for key, default in _OPTION_DEFAULTS.items():
            value = fields[key]
            if value is not default and (value != default or type(value) is not type(default)):
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        values = {key: data[key] for key in data if key in NODE_FIELDS}
        if isinstance(values.get("params"), dict):
            values["params"] = dict(values["params"])  # the node's own, as add_node gives it
        return cls(**values)


_OPTION_DEFAULTS: dict[str, Any] = {
    "when": None,
    "trigger": "all_success",
    "allow_failure": False,
    "foreach": None,
    "max_parallel": None,
    "cache": False,
    "workflow": None,
    "inputs": None,
}
NODE_FIELDS = {"name", "integration", "task", "params", "retries", "timeout", "retry_delay", *_OPTION_DEFAULTS}
