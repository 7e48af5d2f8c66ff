"""`task`: what an integration author puts on a task function.

It declares the task's params for the registry (forms, the CLI and the
engine's checks read them), checks the params a call is given, and turns a
raised `flowkit.TaskFailed` into a failed result. It does not mask what the
task returns: results are handed on to downstream nodes as they are, and
masked where they are recorded or shown (`flowkit.redaction`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from ..errors import ParamsError, TaskFailed, ValidationError
from ..model import Param, params_from
from ..schema import kind_problem, validate_values
from .loader import display_name

F = TypeVar("F", bound=Callable[..., Any])


def task(
    *,
    params: list[Param] | list[dict[str, Any]] | None = None,
    public_credentials: Iterable[str] = (),
    untemplated: Mapping[str, str] | None = None,
) -> Callable[[F], F]:
    """Make a function ``fn(credentials, params) -> dict`` a task: declared, checked, failing politely.

    The decorated function is called as before, and:

    * its `params` are recorded for the registry (forms, the CLI, the engine's
      checks), in the same `Param` language as credentials; the docstring's
      ``Args:`` section gives help to params declared without it;
    * the params it is given are checked against them, defaults filled in;
      values that do not fit raise `ParamsError` naming ``module.task``, and
      the function is not called (checking values already checked by the
      engine changes nothing);
    * a `TaskFailed` it raises is returned as ``{"success": False, "message":
      ..., **fields}``: a failure the task can explain is a result, not a crash.

    What it returns is handed on to downstream nodes as it is; secret
    credential values in it are masked where the run is recorded or shown.

    Without `params` nothing is recorded: a ``TypedDict`` annotation on the
    function's ``params`` declares them (the engine checks those), or it takes
    free JSON. An invalid declaration (duplicate name, unknown kind, a default
    that does not fit its kind) fails here, when the module is imported, so
    the registry reports it with the module.

    Args:
        params: the task's params, as `Param` objects or their dicts.
        public_credentials: accepted for modules written before secrets were masked by
            `Param.secret` alone; it has no effect (non-secret fields are always shown).
        untemplated: params that should hold no template, each with what to do instead, e.g.
            ``{"sql": "put values in parameters"}``: validating a workflow warns (it does not refuse)
            where a node's value for one of them is a template.

    Example::

        @task(params=[Param("channel", required=True), Param("text", required=True)])
        def send_message(credentials, params):
            '''Post a message.

            Args:
                channel: where to post, e.g. ``#general``.
            '''
            if not credentials.get("token"):
                raise TaskFailed("Set token in the integration's credentials.")
            return {"success": True, "message": f"Posted to {params['channel']}."}
    """
    checked = None if params is None else params_from(params)
    for param in checked or []:
        reason = None if param.default is None else kind_problem(param, param.default)
        if reason:
            raise ValidationError(f"The default of parameter {param.name!r} {reason}.")
    del public_credentials  # no effect: see Args

    def mark(fn: F) -> F:
        what = f"{display_name(fn.__module__).removesuffix('.tasks')}.{fn.__name__} params"

        @functools.wraps(fn)
        def run(credentials: dict[str, Any], given: dict[str, Any]) -> Any:
            values = given if checked is None else validate_values(checked, given or {}, what=what, error=ParamsError)
            try:
                return fn(credentials, values)
            except TaskFailed as exc:
                return exc.result

        if checked is not None:
            run.__flowkit_params__ = list(checked)  # type: ignore[attr-defined]
        if untemplated:
            run.__flowkit_untemplated__ = dict(untemplated)  # type: ignore[attr-defined]
        return cast(F, run)

    return mark
