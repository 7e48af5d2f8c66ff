"""Run one task call where it can be stopped when it must: here, or in a timed child process.

`call_task` is what every executor submits: a top-level function of plain data
(module name, where the module lives, task name, credentials, params, timeout),
so it pickles to a Dask worker as well as it runs in a thread. Without a
timeout the call runs in the calling thread (`flowkit.executors.call`); with one
it runs in a child process (`flowkit.executors.timeouts`) that is killed when the
time is up: a thread cannot be stopped, a process can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .call import call_here


def call_task(
    module: str,
    location: str,
    task: str,
    credentials: dict[str, Any],
    params: dict[str, Any],
    timeout: float | None = None,
    secrets: Sequence[str] | None = None,
    scope: str | None = None,
) -> dict[str, Any]:
    """Run one task call anywhere: here, or in a killable child process when `timeout` is set.

    Args:
        module: the integration module's name.
        location: the module's folder (absolute path) or its entry point's ``package.module``.
        task: the task function's name.
        credentials: the plain credential values.
        params: the rendered params.
        timeout: seconds before the call is stopped, or None.
        secrets: the secret values to mask in the call's log, error and output
            notebooks (`redaction.secret_leaves`); None masks every credential value.
        scope: what the call belongs to (a run's id): `flowkit.executors.timeouts.stop_scope`
            stops every timed call of a scope at once, when its run is cancelled.

    Returns:
        The outcome: ``ok``, ``result`` (as the task returned it: it is handed on),
        ``error`` and ``log`` (masked), ``timed_out``.
    """
    if timeout is None:
        return call_here(module, location, task, credentials, params, secrets)
    from .workers import call_in_child  # the process machinery (multiprocessing) loads with the first timed call

    return call_in_child(module, location, task, credentials, params, timeout, secrets, scope=scope)
