"""`RunParts`: what a run needs from its workspace, handed to the engine instead of the workspace itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..redaction import StoredSecret
from ..store import RunLog
from .cache import ResultCache
from .validation import Lookups


@dataclass(frozen=True)
class RunParts:
    """What a run needs from its workspace.

    Attributes:
        lookups: the saved integrations, type drift and registry the workflow is checked against.
        log: where the run is recorded.
        host: this machine's name, recorded so an interrupted run can be told from a running one.
        secret_fields: the secret fields of an integration type (`IntegrationType.secret_fields`),
            None for a type that is gone: then every field of its integrations is masked.
        stored_secrets: every stored secret, which a run's inputs may not hold.
    """

    lookups: Lookups
    log: RunLog
    host: str
    secret_fields: Callable[[str], list[str] | None] = field(default=lambda type_name: None)
    stored_secrets: Callable[[], list[StoredSecret]] = field(default=list)
    cache: ResultCache | None = None  # the workspace's cached results (`flowkit.run.cache`), if it keeps any
