"""Every error flowkit raises on purpose, under one root.

Errors from dependencies (``InvalidToken``, JSON decoding, filelock timeouts,
networkx, papermill) are translated where flowkit calls them, with
``raise ... from exc``, so a caller only ever needs to catch these.
Where a caller would naturally expect a built-in, the class inherits it too.

    FlowkitError
    ├── NotFoundError (KeyError)
    │   ├── TypeNotFound
    │   ├── IntegrationNotFound
    │   ├── WorkflowNotFound
    │   ├── RunNotFound
│   ├── ScheduleNotFound
    │   ├── ModuleNotFound
    │   └── UnknownTask
    ├── AlreadyExistsError
    ├── InUseError
    ├── ValidationError (ValueError)
    │   ├── InvalidName
    │   ├── NotJSONError
    │   ├── CredentialsError
    │   ├── ParamsError
    │   ├── CycleError
    │   ├── TemplateError
    │   └── WorkflowInvalid
    ├── StoreError
    │   ├── CorruptStoreError
    │   └── LockTimeout
    ├── SecretKeyError
    │   ├── MissingKeyError
    │   ├── WrongKeyError
    │   ├── DamagedRecordError
    │   └── KeyFilePermissionError
    ├── IntegrationLoadError
    ├── TaskFailed
    ├── ExecutorError
    └── JobError
        ├── NotebookFailed
        └── JobTimeout (TimeoutError)
"""

from __future__ import annotations

from typing import Any


class FlowkitError(Exception):
    """Raised when flowkit refuses or fails an operation; the root of the tree."""

    def __str__(self) -> str:
        # KeyError quotes its message; every flowkit error reads as plain text.
        return str(self.args[0]) if self.args else self.__class__.__name__


class NotFoundError(FlowkitError, KeyError):
    """Raised when a named thing does not exist."""

    kind = "item"

    def __init__(self, name: str, *, hint: str = "") -> None:
        self.name = name
        message = f"No {self.kind} named {name!r}."
        super().__init__(f"{message} {hint}".strip())


class TypeNotFound(NotFoundError):
    """Raised when an integration type does not exist."""

    kind = "integration type"


class IntegrationNotFound(NotFoundError):
    """Raised when an integration does not exist."""

    kind = "integration"


class WorkflowNotFound(NotFoundError):
    """Raised when a workflow does not exist."""

    kind = "workflow"


class RunNotFound(NotFoundError):
    """Raised when a run id is not in the run history."""

    kind = "run"


class ScheduleNotFound(NotFoundError):
    """Raised when no schedule has that name."""

    kind = "schedule"


class ModuleNotFound(NotFoundError):
    """Raised when no integration module of that name is on the integration path."""

    kind = "integration module"


class UnknownTask(NotFoundError):
    """Raised when an integration module has no task of that name."""

    kind = "task"


class AlreadyExistsError(FlowkitError):
    """Raised when creating something whose name is taken."""


class InUseError(FlowkitError):
    """Raised when deleting something that others still use; `users` names them."""

    def __init__(self, message: str, *, users: list[str]) -> None:
        self.users = users
        super().__init__(message)


class ValidationError(FlowkitError, ValueError):
    """Raised when input is rejected; nothing was saved."""


class InvalidName(ValidationError):
    """Raised when a name (node, module, param, integration) is not acceptable."""


class NotJSONError(ValidationError):
    """Raised when a value cannot be stored as strict JSON; `path` locates it."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)


class CredentialsError(ValidationError):
    """Raised when credentials do not match their integration type."""


class ParamsError(ValidationError):
    """Raised when task params do not match the task's declared params."""


class CycleError(ValidationError):
    """Raised when an edge would close a cycle; `cycle` is the path."""

    def __init__(self, message: str, *, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(message)


class TemplateError(ValidationError):
    """Raised when a param template is malformed or does not resolve."""


class WorkflowInvalid(ValidationError):
    """Raised when a workflow has errors; `problems` lists every one."""

    def __init__(self, message: str, *, problems: list[Any]) -> None:
        self.problems = problems
        super().__init__(message)


class StoreError(FlowkitError):
    """Raised when the workspace files cannot be read or written."""


class CorruptStoreError(StoreError):
    """Raised when a workspace file is damaged; the file is left untouched."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"The workspace file {path} is damaged ({reason}). flowkit has not "
            "modified it. Restore it from a backup or version control, or move it "
            "aside to start that collection empty."
        )


class LockTimeout(StoreError):
    """Raised when the workspace lock cannot be taken in time."""


class SecretKeyError(FlowkitError):
    """Raised when credentials cannot be encrypted or decrypted."""


class MissingKeyError(SecretKeyError):
    """Raised when no secret key is found but the workspace holds encrypted data."""


class WrongKeyError(SecretKeyError):
    """Raised when the available keys are not the ones the workspace was encrypted with."""


class DamagedRecordError(SecretKeyError):
    """Raised when an encrypted record fails to decrypt with the right key."""


class KeyFilePermissionError(SecretKeyError):
    """Raised when the key file can be read by other users."""


class IntegrationLoadError(FlowkitError):
    """Raised when an integration module cannot be imported."""


class TaskFailed(FlowkitError):
    """Raised when a task fails in a way it can explain; `flowkit.task` returns it as ``{"success": False, ...}``.

    The message becomes the result's ``message``: a sentence saying what to
    fix. Keyword `fields` (JSON values, e.g. ``status=404``) go into the
    result next to it.
    """

    def __init__(self, message: str, **fields: Any) -> None:
        if "success" in fields:
            raise TypeError("TaskFailed always reports success False; 'success' cannot be one of its fields.")
        self.fields = fields
        super().__init__(message)

    @property
    def result(self) -> dict[str, Any]:
        """The task's result: ``success`` False, ``message``, then the fields."""
        return {"success": False, "message": str(self), **self.fields}


class ExecutorError(FlowkitError):
    """Raised when an executor cannot run calls: its cluster is unreachable, a worker died, it is shut down."""


class JobError(FlowkitError):
    """Raised when a papermill job cannot be started or its notebook fails."""


class NotebookFailed(JobError):
    """Raised when a cell of a notebook job raised or its kernel died; `output` is the notebook showing where."""

    def __init__(
        self, message: str, *, ename: str = "", evalue: str = "", cell: int | None = None, output: str = ""
    ) -> None:
        self.ename = ename
        self.evalue = evalue
        self.cell = cell
        self.output = output
        super().__init__(message)


class JobTimeout(JobError, TimeoutError):
    """Raised when a notebook cell or a whole job runs past its time limit (`limit`, in seconds)."""

    def __init__(self, message: str, *, limit: float) -> None:
        self.limit = limit
        super().__init__(message)
