"""Call one task and report what happened as plain data — the unit every executor runs.

`call_task` is a top-level function taking plain data (module name, where the
module lives, task name, credentials, params, timeout) so it can be pickled to
another process or a Dask worker; it loads the task itself where it is not
already loaded, and it never raises for anything the task does. It returns an
*outcome*::

    {"ok": bool, "result": ..., "error": str | None, "log": str, "timed_out": bool}

with every string redacted of the credential values it was given.

Without a timeout the task runs in the calling thread. With one it runs in a
child process (`flowkit.childprocess`) that is killed when the time is up: a
thread cannot be stopped, a process can.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .capture import printable, task_output
from .crypto import Redactor
from .errors import NotJSONError
from .jsonvalue import check_json

TaskFunction = Callable[[dict[str, Any], dict[str, Any]], Any]

_tasks: dict[tuple[str, str], dict[str, TaskFunction]] = {}
_tasks_lock = threading.Lock()


# -- finding the task ---------------------------------------------------------------
def remember(module: str, location: str, tasks: dict[str, TaskFunction]) -> None:
    """Register already-loaded task functions, so calls in this process use them as they are."""
    with _tasks_lock:
        _tasks[(module, location)] = dict(tasks)


def _load(module: str, location: str) -> dict[str, TaskFunction]:
    from .registry import collect_tasks, load_folder_module

    if os.path.isabs(location):
        loaded = load_folder_module(module, Path(location))
    else:  # an entry point's "package.module[:attribute]"
        loaded = importlib.metadata.EntryPoint(module, location, "flowkit.integrations").load()
    return {name: spec.func for name, spec in collect_tasks(module, loaded).items()}


def find_task(module: str, location: str, task: str) -> TaskFunction:
    """The task function, loading its module in this process on first use."""
    key = (module, location)
    tasks = _tasks.get(key)
    if tasks is None:
        with _tasks_lock:
            tasks = _tasks.get(key)
            if tasks is None:
                tasks = _tasks[key] = _load(module, location)
    if task not in tasks:
        raise LookupError(f"integration module {module!r} has no task {task!r}")
    return tasks[task]


@functools.lru_cache(maxsize=64)
def _cached_redactor(values: tuple[Any, ...]) -> Redactor:
    return Redactor(values)


def redactor_for(credentials: dict[str, Any]) -> Redactor:
    """The `Redactor` of a credentials dict, built once per distinct set of values."""
    values = tuple(credentials.values())
    try:
        return _cached_redactor(values)
    except TypeError:  # an unhashable value (a json field): build it afresh
        return Redactor(values)


# -- judging the result ---------------------------------------------------------------
def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = "(its message could not be shown)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def judge(name: str, result: Any) -> tuple[str | None, bool]:
    """Whether a task's return value fails its node: (why or None, whether the value can be kept)."""
    if not isinstance(result, dict):
        return (
            f"{name} returned {type(result).__name__} instead of a dict (return {{'success': True, 'message': ...}}).",
            False,
        )
    try:
        check_json(result, "result")
    except NotJSONError as exc:
        return f"{name} returned a result that is not JSON: {exc}", False
    if "success" in result and not result["success"]:
        message = result.get("message")
        return (f"{name} reported failure: {message}" if message else f"{name} reported failure."), True
    return None, True


def call_here(
    module: str, location: str, task: str, credentials: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Run the task in this thread, capturing its output; returns the outcome (never raises for the task)."""
    name = f"{module}.{task}"
    redactor = redactor_for(credentials)
    result: Any = None
    with task_output(redactor) as log:
        try:
            fn = find_task(module, location, task)
            result = fn(dict(credentials), dict(params))
            error, keep = judge(name, result)
        except (Exception, SystemExit) as exc:
            error, keep = f"{name} raised {_describe(exc)}", False
            # The traceback starts at the task: this frame is flowkit's, not the user's.
            frames = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
            log.write("".join(traceback.format_exception(type(exc), exc, frames)))
    return {
        "ok": error is None,
        "result": redactor(result) if keep else None,
        "error": redactor.text(printable(error)) if error else None,
        "log": log.text(),
        "timed_out": False,
    }


def call_task(
    module: str,
    location: str,
    task: str,
    credentials: dict[str, Any],
    params: dict[str, Any],
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one task call anywhere: here, or in a killable child process when `timeout` is set.

    Args:
        module: the integration module's name.
        location: the module's folder (absolute path) or its entry point's ``package.module``.
        task: the task function's name.
        credentials: the plain credential values.
        params: the rendered params.
        timeout: seconds before the call is stopped, or None.

    Returns:
        The outcome: ``ok``, ``result``, ``error``, ``log``, ``timed_out`` (all redacted).
    """
    if timeout is None:
        return call_here(module, location, task, credentials, params)
    from .childprocess import call_in_child

    return call_in_child(module, location, task, credentials, params, timeout)
