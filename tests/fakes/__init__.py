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
