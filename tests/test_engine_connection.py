"""Row 19: ws.integrations.test runs test_connection with the same guarantees as tasks."""

from __future__ import annotations

import time

import pytest
from helpers import find_canary, scan_tree, write_integration

import flowkit as fk
from flowkit.errors import IntegrationNotFound, ValidationError

CONNECT = """
import logging
import time


def test_connection(credentials, params):
    token = credentials["token"]
    print("testing with", token)
    logging.getLogger(__name__).warning("token %s", token)
    mode = credentials.get("mode", "ok")
    if mode == "do-hang":
        while True:
            time.sleep(0.01)
    if mode == "do-raise":
        raise PermissionError("rejected " + token)
    if mode == "do-refuse":
        return {"success": False, "message": "bad token " + token}
    if mode == "do-garbage":
        return ["not", "a", "dict"]
    return {"success": True, "message": "connected as " + token,
            "steps": [{"step": "auth", "ok": True, "detail": token}]}
"""


@pytest.fixture
def connect(ws: fk.Workspace, canary: str) -> fk.Workspace:
    write_integration(ws.path / "integrations", "svc", CONNECT)
    ws.types.create("svc", params=[fk.Param("token", kind="password", required=True), fk.Param("mode")])
    ws.integrations.create("Svc", type="svc", credentials={"token": canary})
    return ws


def test_a_saved_integration_connects(connect: fk.Workspace, canary: str, capfd: pytest.CaptureFixture[str]) -> None:
    report = connect.integrations.test("Svc")
    assert report == {
        "success": True,
        "message": "connected as ***",
        "steps": [{"step": "auth", "ok": True, "detail": "***"}],
    }
    out, err = capfd.readouterr()
    assert not find_canary(canary, out + err)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("do-raise", "svc.test_connection raised PermissionError: rejected ***"),
        ("do-refuse", "bad token ***"),
        ("do-garbage", "svc.test_connection returned list instead of a dict"),
    ],
)
def test_failures_come_back_as_success_false(
    connect: fk.Workspace, canary: str, mode: str, message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    report = connect.integrations.test("Svc", credentials={"mode": mode})
    assert report["success"] is False and report["message"].startswith(message)
    out, err = capfd.readouterr()
    assert not find_canary(canary, out + err + repr(report))


def test_a_hanging_test_is_stopped(connect: fk.Workspace, canary: str) -> None:
    started = time.perf_counter()
    report = connect.integrations.test(type="svc", credentials={"token": canary, "mode": "do-hang"}, timeout=1)
    assert report == {"success": False, "message": "svc.test_connection timed out after 1 s and was stopped."}
    assert time.perf_counter() - started < 1 + 1.5  # includes starting the fork server once


def test_unsaved_credentials_are_checked_against_the_type(connect: fk.Workspace, canary: str) -> None:
    assert connect.integrations.test(type="svc", credentials={"token": canary}, timeout=None)["success"]
    report = connect.integrations.test(type="svc", credentials={"mode": "ok"})
    assert report == {"success": False, "message": "Credentials for type 'svc': 'token' is required."}
    assert scan_tree(canary, connect.path) == []


def test_what_cannot_be_tested_is_refused(connect: fk.Workspace) -> None:
    with pytest.raises(ValidationError, match="Name a saved integration"):
        connect.integrations.test()
    with pytest.raises(IntegrationNotFound):
        connect.integrations.test("Nope")
    write_integration(connect.path / "integrations", "plain", "def ping(credentials, params):\n    return {}\n")
    connect.registry.reload()
    connect.types.create("plain", params=[])
    report = connect.integrations.test(type="plain", credentials={})
    assert report["success"] is False and "has no test_connection task" in report["message"]
