"""`flowkit.ConnectionReport`: the steps a `test_connection` task reports, and the result they make."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import find_canary, write_integration

import flowkit as fk
from flowkit.errors import FlowkitError, TaskFailed


def test_passed_steps_make_a_successful_result_in_the_shape_test_connection_returns() -> None:
    report = fk.ConnectionReport()
    with report:
        report.step("config")
        report.passed("Root folder /data.")
        report.step("request")
        report.passed("The root is a writable folder holding 3 item(s).")
    result = report.result()
    assert json.dumps(result) == json.dumps(
        {
            "success": True,
            "message": "The root is a writable folder holding 3 item(s).",
            "steps": [
                {"name": "config", "ok": True, "message": "Root folder /data."},
                {"name": "request", "ok": True, "message": "The root is a writable folder holding 3 item(s)."},
            ],
        }
    )


def test_a_task_failed_records_its_stage_as_failed_and_skips_the_rest() -> None:
    reached = []
    report = fk.ConnectionReport()
    with report:
        report.step("config")
        report.passed("Using the API at http://127.0.0.1:1.")
        report.step("auth")
        raise_refusal()
        reached.append("request")  # pragma: no cover - the refusal above leaves the block
    assert reached == []
    assert report.result() == {
        "success": False,
        "message": "The token was refused: check token in the integration.",
        "steps": [
            {"name": "config", "ok": True, "message": "Using the API at http://127.0.0.1:1."},
            {"name": "auth", "ok": False, "message": "The token was refused: check token in the integration."},
        ],
    }


def raise_refusal() -> None:
    raise TaskFailed("The token was refused: check token in the integration.", status=401)


def test_a_failure_in_the_first_stage_is_the_only_step() -> None:
    report = fk.ConnectionReport()
    with report:
        report.step("config")
        raise TaskFailed("Set token.")
    assert report.result() == {
        "success": False,
        "message": "Set token.",
        "steps": [{"name": "config", "ok": False, "message": "Set token."}],
    }


def test_other_exceptions_propagate_and_record_nothing() -> None:
    report = fk.ConnectionReport()
    with pytest.raises(ZeroDivisionError), report:
        report.step("config")
        report.passed("ok")
        report.step("auth")
        _ = 1 / 0
    assert report.result()["steps"] == [{"name": "config", "ok": True, "message": "ok"}]


def test_failed_records_an_error_the_task_explains_itself() -> None:
    report = fk.ConnectionReport()
    try:
        report.step("config")
        report.passed("Server 127.0.0.1:25, security none.")
        report.step("request")
        raise ConnectionRefusedError(111, "Connection refused")
    except OSError as exc:
        report.failed(f"Nothing answers: {exc.strerror}.")
    assert report.result()["success"] is False
    last = report.result()["steps"][-1]
    assert last == {"name": "request", "ok": False, "message": "Nothing answers: Connection refused."}


def test_a_step_that_did_not_pass_without_an_exception_fails_the_result() -> None:
    report = fk.ConnectionReport()
    report.step("request")
    report.failed("GET http://127.0.0.1:1 answered 503 Service Unavailable.")
    assert report.result()["success"] is False


def test_nothing_can_be_recorded_after_a_failed_step() -> None:
    report = fk.ConnectionReport()
    with report:
        report.step("config")
        raise TaskFailed("Set token.")
    with pytest.raises(FlowkitError, match="after the failed step 'config'"):
        report.step("auth")
    with pytest.raises(FlowkitError, match="after the failed step 'config'"):
        report.passed("Authenticated.")
    assert report.result()["success"] is False


def test_misuse_is_refused_with_a_sentence() -> None:
    report = fk.ConnectionReport()
    with pytest.raises(FlowkitError, match=r"report.step\(name\)"):
        report.passed("ok")
    with pytest.raises(FlowkitError, match="no steps"):
        report.result()


def test_the_result_is_a_copy() -> None:
    report = fk.ConnectionReport()
    report.step("config")
    report.passed("ok")
    report.result()["steps"][0]["ok"] = False
    assert report.result()["success"] is True and report.result()["steps"][0]["ok"] is True


SERVICE = '''
import flowkit as fk


@fk.task(params=[])
def test_connection(credentials, params):
    """Check the token."""
    report = fk.ConnectionReport()
    with report:
        report.step("config")
        report.passed("A token is set.")
        report.step("auth")
        raise fk.TaskFailed(f"The service refused {credentials['token']}.")
    return report.result()
'''


def test_test_connection_shows_the_steps_with_credentials_masked(ws: fk.Workspace, canary: str) -> None:
    write_integration(ws.path / "integrations", "svc", SERVICE)
    ws.types.create("svc", params=[fk.Param("token", kind="password", required=True)])
    outcome: dict[str, Any] = ws.integrations.test(type="svc", credentials={"token": canary})
    assert outcome == {
        "success": False,
        "message": "The service refused ***.",
        "steps": [
            {"name": "config", "ok": True, "message": "A token is set."},
            {"name": "auth", "ok": False, "message": "The service refused ***."},
        ],
    }
    assert not find_canary(canary, json.dumps(outcome))
