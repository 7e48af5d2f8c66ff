"""Local stand-ins for the services the built-in integrations talk to (all on 127.0.0.1)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flowkit.integrations.registry import Registry

TaskFunc = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@functools.cache
def _builtins() -> Registry:
    return Registry(builtins=True, entry_points=False)


def builtin_task(module: str, task: str) -> TaskFunc:
    """A built-in task as users get it: found and loaded by the registry."""
    return _builtins().task(module, task).func


def recorded_task(module: str, task: str) -> TaskFunc:
    """A built-in task whose result is masked as a run records it: the module's secret credentials as ``***``.

    A task hands its result on as it is (issue 12); these tests check what a person is shown.
    """
    from flowkit.redaction import redactor_for

    spec = _builtins().module(module)
    secret_fields = [param.name for param in spec.credentials or [] if param.secret]
    func = builtin_task(module, task)

    def call(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        return redactor_for(credentials, secret_fields)(func(credentials, params))  # type: ignore[no-any-return]

    return call
