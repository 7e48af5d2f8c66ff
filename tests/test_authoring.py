"""Writing a task with `flowkit.task` and `flowkit.TaskFailed`: params checked, failures as results, secrets masked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import find_canary, write_integration

import flowkit as fk
from flowkit import errors
from flowkit.errors import FlowkitError, ParamsError, TaskFailed, ValidationError

DEMO = '''
from typing import TypedDict

import flowkit as fk

CALLS = []


@fk.task(
    params=[fk.Param("channel", required=True), fk.Param("count", kind="integer", default=1)],
    public_credentials=["host"],
)
def send(credentials, params):
    """Send something.

    Args:
        channel: where it goes.
    """
    CALLS.append(params)
    if params["channel"] == "#refused":
        raise fk.TaskFailed(f"{credentials['host']} refused {credentials['token']}.", status=403, errors=["no"])
    if params["channel"] == "#broken":
        raise RuntimeError("a bug, not a failure")
    return {
        "success": True,
        "message": f"Sent to {params['channel']} via {credentials['host']} as {credentials['token']}.",
        "params": params,
        "echo": dict(credentials),
    }


class Note(TypedDict):
    text: str


@fk.task()
def note(credentials, params: Note):
    """Take a note."""
    if not params.get("text"):
        raise fk.TaskFailed("Nothing to note.")
    return {"success": True, "message": params["text"] + " " + credentials.get("token", "")}
'''


@pytest.fixture
def demo(ws: fk.Workspace) -> fk.Workspace:
    write_integration(ws.path / "integrations", "demo", DEMO)
    ws.registry.reload()
    return ws


def call(ws: fk.Workspace, task: str, credentials: dict[str, Any], params: dict[str, Any]) -> Any:
    return ws.registry.task("demo", task).func(credentials, params)


def calls(ws: fk.Workspace) -> list[dict[str, Any]]:
    return ws.registry.task("demo", "send").func.__wrapped__.__globals__["CALLS"]  # type: ignore[attr-defined]


CREDS = {"token": "tok-123456", "host": "mail.example.org"}


# -- params ---------------------------------------------------------------------------------------
def test_params_are_checked_and_defaults_filled_before_the_task_runs(demo: fk.Workspace) -> None:
    result = call(demo, "send", CREDS, {"channel": "#a"})
    assert result["params"] == {"channel": "#a", "count": 1}
    assert call(demo, "send", CREDS, {"channel": "#a", "count": 3.0})["params"] == {"channel": "#a", "count": 3}
    assert call(demo, "send", CREDS, {"channel": "#a", "count": None})["params"] == {"channel": "#a", "count": 1}
    before = len(calls(demo))
    with pytest.raises(ParamsError, match=r"^demo\.send params: 'channel' is required\.$"):
        call(demo, "send", CREDS, {})
    with pytest.raises(
        ParamsError,
        match=r"demo\.send params: 'count' must be a whole number, got str; "
        r"'colour' is not a known field",
    ):
        call(demo, "send", CREDS, {"channel": "#a", "count": "two", "colour": "red"})
    with pytest.raises(ParamsError, match="demo.send params: expected a JSON object, got list"):
        call(demo, "send", CREDS, ["#a"])  # type: ignore[arg-type]
    assert len(calls(demo)) == before  # refused params never reach the function


def test_the_error_names_the_module_and_task_wherever_it_is_defined() -> None:
    @fk.task(params=[fk.Param("n", kind="integer", required=True)])
    def count(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "message": str(params["n"])}

    with pytest.raises(ParamsError, match=rf"^{__name__}\.count params: 'n' is required\.$"):
        count({}, {})


def test_a_default_that_does_not_fit_its_kind_fails_when_the_module_is_imported() -> None:
    with pytest.raises(ValidationError, match=r"The default of parameter 'n' must be a whole number, got str\."):
        fk.task(params=[fk.Param("n", kind="integer", default="three")])
    with pytest.raises(ValidationError, match="The default of parameter 'mode' must be one of 'a', 'b'"):
        fk.task(params=[{"name": "mode", "kind": "choice", "choices": ["a", "b"], "default": "c"}])


# -- failures -------------------------------------------------------------------------------------
def test_a_task_failed_is_a_failed_result_with_its_fields(demo: fk.Workspace) -> None:
    result = call(demo, "send", {"token": "tok-123456", "host": "mail.example.org"}, {"channel": "#refused"})
    # handed back as raised: masking is for where results are recorded or shown (issue 12)
    assert result == {
        "success": False,
        "message": "mail.example.org refused tok-123456.",
        "status": 403,
        "errors": ["no"],
    }
    assert call(demo, "note", {}, {"text": ""}) == {"success": False, "message": "Nothing to note."}


def test_other_exceptions_are_not_swallowed(demo: fk.Workspace) -> None:
    with pytest.raises(RuntimeError, match="a bug, not a failure"):
        call(demo, "send", CREDS, {"channel": "#broken"})


def test_task_failed_is_a_public_flowkit_error() -> None:
    assert fk.TaskFailed is errors.TaskFailed and issubclass(TaskFailed, FlowkitError)
    assert "TaskFailed" in fk.__all__ and "TaskFailed" in (errors.__doc__ or "")
    failed = TaskFailed("Set host.", status=None)
    assert (str(failed), failed.fields) == ("Set host.", {"status": None})
    assert failed.result == {"success": False, "message": "Set host.", "status": None}
    with pytest.raises(TypeError, match="'success' cannot be one of its fields"):
        TaskFailed("ok really", success=True)


# -- secrets --------------------------------------------------------------------------------------
# Before issue 12 the decorator masked every credential value but those named in
# public_credentials, in what the task returned; now what a task returns is handed
# on as it is, and secrets (Param.secret) are masked where the run records it.
def test_the_decorator_hands_results_on_as_they_are(demo: fk.Workspace, canary: str) -> None:
    creds = {"token": canary, "host": "mail.example.org", "region": "eu-west-17"}
    sent = call(demo, "send", creds, {"channel": "#a"})
    assert sent["message"] == f"Sent to #a via mail.example.org as {canary}."
    assert sent["echo"] == creds


def test_public_credentials_is_still_accepted_and_changes_nothing(canary: str) -> None:
    @fk.task(public_credentials="host")
    def where(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "message": f"{credentials['host']} {credentials['token']}"}

    assert where({"host": "mail.example.org", "token": canary}, {})["message"] == f"mail.example.org {canary}"


def test_in_a_run_secrets_are_masked_and_other_credentials_shown(demo: fk.Workspace, canary: str) -> None:
    demo.types.create("demo", params=[fk.Param("token", kind="password"), fk.Param("host"), fk.Param("region")])
    creds = {"token": canary, "host": "mail.example.org", "region": "eu-west-17"}
    demo.integrations.create("Demo", type="demo", credentials=creds)
    workflow = fk.Workflow("w")
    workflow.add_node("sent", integration="Demo", task="send", params={"channel": "#a"})
    workflow.add_node("noted", integration="Demo", task="note", params={"text": "hello"})
    run = demo.run(workflow)
    assert not find_canary(canary, json.dumps(run.to_dict()))
    assert run.nodes["sent"].result["message"] == "Sent to #a via mail.example.org as ***."
    assert run.nodes["sent"].result["echo"] == {"token": "***", "host": "mail.example.org", "region": "eu-west-17"}
    assert run.nodes["noted"].result["message"] == "hello ***"


# -- what the registry sees -----------------------------------------------------------------------
def test_the_wrapper_keeps_name_docstring_and_declaration(demo: fk.Workspace) -> None:
    spec = demo.registry.task("demo", "send")
    assert (spec.func.__name__, spec.summary) == ("send", "Send something.")
    assert [(p.name, p.kind, p.required, p.default, p.help) for p in spec.params or []] == [
        ("channel", "text", True, None, "where it goes."),
        ("count", "integer", False, 1, ""),
    ]
    # Without params=, a TypedDict annotation still declares them (the decorator records nothing).
    typed = demo.registry.task("demo", "note")
    assert typed.summary == "Take a note."
    assert [(p.name, p.kind, p.required) for p in typed.params or []] == [("text", "text", True)]
    assert not hasattr(typed.func, "__flowkit_params__")


# -- in a run -------------------------------------------------------------------------------------
def test_a_run_checks_params_once_more_harmlessly_and_records_failures(demo: fk.Workspace, canary: str) -> None:
    demo.types.create("demo", params=[fk.Param("token", kind="password"), fk.Param("host")])
    demo.integrations.create("Demo", type="demo", credentials={"token": canary, "host": "mail.example.org"})
    workflow = fk.Workflow("w")
    workflow.add_node("ok", integration="Demo", task="send", params={"channel": "#a", "count": 2.0})
    workflow.add_node("no", integration="Demo", task="send", params={"channel": "#refused"})
    run = demo.run(workflow)
    assert run.nodes["ok"].status == "success"
    assert run.nodes["ok"].result["params"] == {"channel": "#a", "count": 2}
    assert run.nodes["no"].status == "failed"
    assert run.nodes["no"].error == "demo.send reported failure: mail.example.org refused ***."
    assert run.nodes["no"].result["status"] == 403
    assert not find_canary(canary, json.dumps(run.to_dict()))


SHELL = """
import flowkit as fk


@fk.task(params=[fk.Param("command", required=True)], untemplated={"command": "pass arguments separately"})
def shell(credentials, params):
    \"\"\"Run a command.\"\"\"
    return {"success": True, "message": params["command"]}
"""


def test_untemplated_params_warn_where_a_node_templates_them(ws: fk.Workspace) -> None:
    """A task's own `untemplated` advice is shown by validation, as a warning (the workflow still saves)."""
    write_integration(ws.path / "integrations", "tools", SHELL)
    ws.registry.reload()
    assert ws.registry.task("tools", "shell").untemplated == {"command": "pass arguments separately"}
    ws.types.create("tools")
    ws.integrations.create("Tools", type="tools", credentials={})
    flow = fk.Workflow("w")
    flow.add_node("fixed", integration="Tools", task="shell", params={"command": "ls"})
    flow.add_node("templated", integration="Tools", task="shell", params={"command": "ls {{ inputs.dir }}"})
    problems = ws.validate(flow)
    assert [(p.severity, p.node) for p in problems] == [("warning", "templated")]
    assert problems[0].message == "Param 'command' of tools.shell is a template: pass arguments separately."
    ws.workflows.save(flow)
