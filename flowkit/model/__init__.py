"""flowkit's nouns as plain dataclasses: no files, no widgets, no network.

Every noun round-trips through ``to_dict`` / ``from_dict`` as strict JSON, which
is how the store persists it and how a run snapshots its workflow.

- `names`: the vocabularies (param kinds, statuses, the mask) and name checks;
- `params`: `Param`, `IntegrationType`, `Integration` and its lazily decrypted `Credentials`;
- `node`: `Node` and the options of the workflow language (conditions, trigger rules, foreach, cache);
- `workflow`: `Workflow` (a networkx DiGraph underneath);
- `runs`: `Run` and `NodeRun`, one execution as recorded.
"""

from __future__ import annotations

from .names import (
    MASK,
    MAX_NAME_LENGTH,
    NODE_STATUSES,
    PARAM_KINDS,
    RUN_STATUSES,
    check_identifier,
    check_label,
    check_seconds,
    normal_label,
)
from .node import TRIGGER_RULES, Node, parse_duration
from .params import Credentials, Integration, IntegrationType, Param, params_from
from .runs import NodeRun, Run, RunSummary, new_run_id
from .workflow import Workflow

__all__ = [
    "Credentials",
    "Integration",
    "IntegrationType",
    "MASK",
    "MAX_NAME_LENGTH",
    "NODE_STATUSES",
    "Node",
    "NodeRun",
    "PARAM_KINDS",
    "Param",
    "RUN_STATUSES",
    "TRIGGER_RULES",
    "Run",
    "RunSummary",
    "Workflow",
    "check_identifier",
    "check_label",
    "check_seconds",
    "new_run_id",
    "normal_label",
    "params_from",
    "parse_duration",
]
