"""Call one task in this thread and report what happened as plain data.

`call_here` takes plain data (module name, where the module lives, task name,
credentials, params); it loads the task itself where it is not already loaded
(a thread, a timed child process, a Dask worker), and it never raises for
anything the task does. It returns an *outcome*::

    {"ok": bool, "result": ..., "error": str | None, "log": str, "timed_out": bool}

where ``error`` and ``log`` are masked of the `secrets` it was given (they are
shown), and ``result`` is the task's value as it is: it is handed on to
downstream templates, and whoever records or shows it masks it
(`flowkit.redaction`).

Where a call runs (here, or a killable child process) is `flowkit.executors.invoke`'s choice.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import NotJSONError
from ..jsonvalue import check_json, copy_json
from ..redaction import Redactor, secret_leaves
from .capture import printable, real_exit, task_output

TaskFunction = Callable[[dict[str, Any], dict[str, Any]], Any]

_tasks: dict[tuple[str, str], dict[str, TaskFunction]] = {}
_tasks_lock = threading.Lock()
_stamps: dict[tuple[str, str], int] = {}  # the version of each module `remember`ed last
_versions = itertools.count(1)

#: A call ending within this many seconds is *quick*: handing it to a pool thread costs more than it does.
QUICK_CALL = 0.001
#: How many quick calls in a row make a task known-quick (`is_quick`); one slower call starts the count again.
QUICK_STREAK = 3
_streaks: dict[tuple[str, str, str], int] = {}  # (module, location, task) → quick calls in a row


# -- finding the task ---------------------------------------------------------------
def remember(module: str, location: str, tasks: dict[str, TaskFunction]) -> None:
    """Register already-loaded task functions, so calls in this process use them as they are.

    A different set of functions than last time (the module was reloaded)
    moves the module's `stamp_of` on, which tells warm child processes to
    load it afresh too.
    """
    key = (module, location)
    with _tasks_lock:
        known = _tasks.get(key)
        if known is None or known.keys() != tasks.keys() or any(known[name] is not fn for name, fn in tasks.items()):
            _stamps[key] = next(_versions)
            _forget_streaks(key)  # edited code may be slow now
        _tasks[key] = dict(tasks)


def stamp_of(module: str, location: str) -> int:
    """Which version of a module this process loaded last (0: none registered); see `remember`."""
    return _stamps.get((module, location), 0)


def forget(module: str, location: str) -> None:
    """Drop a loaded module, so the next call loads it afresh."""
    with _tasks_lock:
        _tasks.pop((module, location), None)
        _forget_streaks((module, location))


def _load(module: str, location: str) -> dict[str, TaskFunction]:
    from ..integrations.registry import collect_tasks, load_folder_module

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


# -- how long calls take ------------------------------------------------------------
def is_quick(module: str, location: str, task: str) -> bool:
    """Whether a task's last `QUICK_STREAK` calls in this process each ended within `QUICK_CALL` seconds.

    The engine makes such a call on its own thread instead of handing it to a
    pool thread (`flowkit.run.calls`): for a call of microseconds, the two
    thread switches of a hand-off are most of its cost. Like Dask's duration
    estimates per task prefix, this is learnt per task, not per params: a
    known-quick task that turns slow holds the engine's thread for that one
    call, and goes back to the pool from then on.
    """
    return _streaks.get((module, location, task), 0) >= QUICK_STREAK


def _note_duration(key: tuple[str, str, str], seconds: float) -> None:
    # A plain dict write under the GIL: threads may race, and the loser only moves a heuristic.
    _streaks[key] = _streaks.get(key, 0) + 1 if seconds <= QUICK_CALL else 0


def _forget_streaks(module_key: tuple[str, str]) -> None:
    for key in list(_streaks):  # a copy made in one step: pool threads may add keys meanwhile
        if key[:2] == module_key:
            _streaks.pop(key, None)


def call_redactor(credentials: dict[str, Any], secrets: Sequence[str] | None) -> Redactor:
    """What a call masks: the `secrets` it was given, or (None) every value of its credentials."""
    return Redactor.of(tuple(secrets) if secrets is not None else secret_leaves(credentials))


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


def _in_this_process(fn: TaskFunction, credentials: dict[str, Any], params: dict[str, Any]) -> Any:
    """Call the task; a copy of this process that the task forked ends as soon as it comes back here.

    A forked child returning from the task would otherwise go on running
    flowkit's code: finish the run a second time, or wait for work forever in
    a copy of the thread pool. It ends at once, without flushing the parent's
    buffers, and the parent carries on with the task's result.
    """
    pid = os.getpid()
    try:
        return fn(credentials, params)
    finally:
        if os.getpid() != pid:
            real_exit(0)


def call_here(
    module: str,
    location: str,
    task: str,
    credentials: dict[str, Any],
    params: dict[str, Any],
    secrets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run the task in this thread, capturing its output; returns the outcome (never raises for the task)."""
    name = f"{module}.{task}"
    redactor = call_redactor(credentials, secrets)
    result: Any = None
    with task_output(redactor) as log:
        try:
            fn = find_task(module, location, task)
            started = time.perf_counter()
            try:
                result = _in_this_process(fn, copy_json(credentials), copy_json(params))
            finally:
                _note_duration((module, location, task), time.perf_counter() - started)
            error, keep = judge(name, result)
        except BaseException as exc:  # KeyboardInterrupt, GeneratorExit, a custom one: the node's failure
            error, keep = f"{name} raised {_describe(exc)}", False
            # The traceback starts at the task: this frame is flowkit's, not the user's.
            frames = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
            log.write("".join(traceback.format_exception(type(exc), exc, frames)))
    return {
        "ok": error is None,
        "result": result if keep else None,
        "error": redactor.text(printable(error)) if error else None,
        "log": log.text(),
        "timed_out": False,
    }
