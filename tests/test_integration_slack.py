"""The slack integration against a local stand-in for Slack's Web API and incoming webhooks."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
from fakes import recorded_task
from fakes.server import FunctionServer, Reply, black_hole, refused_port
from fakes.slack_api import FakeSlack
from helpers import find_canary

from flowkit.errors import ParamsError
from flowkit.integrations.registry import Registry

TOKEN = "xoxb-valid-token"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as server:
        yield server


def api_creds(slack: FakeSlack) -> dict[str, str]:
    return {"bot_token": TOKEN, "base_url": slack.api_url}


def hook_creds(slack: FakeSlack) -> dict[str, str]:
    return {"webhook_url": slack.webhook_url()}


def run(task: str, credentials: dict[str, str], **params: object) -> dict:
    return recorded_task("slack", task)(credentials, params)


def test_module_declares_credentials_and_params() -> None:
    module = Registry(builtins=True, entry_points=False).module("slack")
    kinds = {param.name: param.kind for param in module.credentials or []}
    assert kinds == {"bot_token": "password", "webhook_url": "password", "base_url": "text"}
    assert set(module.tasks) == {"test_connection", "send_message", "send_notification", "upload_file"}
    assert all(spec.declared and spec.summary for spec in module.tasks.values())


# -- test_connection -------------------------------------------------------------------
def test_connection_with_bot_token_runs_auth_test(slack: FakeSlack) -> None:
    result = run("test_connection", api_creds(slack))
    assert result["success"] is True
    assert [(step["name"], step["ok"]) for step in result["steps"]] == [("config", True), ("auth", True)]
    assert "flowbot in Flowkit Test" in result["message"]
    (request,) = slack.requests
    assert request.path == "/api/auth.test"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_connection_checks_webhook_without_posting(slack: FakeSlack) -> None:
    result = run("test_connection", hook_creds(slack))
    assert result["success"] is True
    assert [step["name"] for step in result["steps"]] == ["config", "request"]
    assert slack.requests[0].json == {"text": ""}
    assert slack.webhook_messages == []


def test_connection_with_both_checks_both(slack: FakeSlack) -> None:
    result = run("test_connection", {**api_creds(slack), **hook_creds(slack)})
    assert result["success"] is True
    assert [step["name"] for step in result["steps"]] == ["config", "auth", "request"]


def test_connection_wrong_token_fails_at_auth(slack: FakeSlack) -> None:
    result = run("test_connection", {"bot_token": "xoxb-wrong", "base_url": slack.api_url})
    assert result["success"] is False
    assert result["steps"][-1] == {"name": "auth", "ok": False, "message": result["message"]}
    assert "invalid_auth" in result["message"] and "bot_token" in result["message"]


def test_connection_unknown_webhook_fails_at_request(slack: FakeSlack) -> None:
    result = run("test_connection", {"webhook_url": slack.webhook_url("/services/T0/B0/removed")})
    assert result["success"] is False
    assert result["steps"][-1]["name"] == "request"
    assert "no_service" in result["message"]


def test_connection_without_credentials_fails_at_config() -> None:
    result = run("test_connection", {})
    assert result == {
        "success": False,
        "message": "Set bot_token, webhook_url, or both.",
        "steps": [{"name": "config", "ok": False, "message": "Set bot_token, webhook_url, or both."}],
    }


def test_connection_refuses_a_webhook_that_is_not_a_url(canary: str) -> None:
    result = run("test_connection", {"webhook_url": f"ftp://{canary}"})
    assert result["success"] is False and result["steps"][-1]["name"] == "config"
    assert "http(s) URL" in result["message"]
    assert not find_canary(canary, json.dumps(result))


# -- send_message ----------------------------------------------------------------------
def test_send_message_with_bot_token(slack: FakeSlack) -> None:
    result = run("send_message", api_creds(slack), channel="#general", text="Hello *team*")
    assert result["success"] is True
    assert result["via"] == "api" and result["channel"] == "C0GENERAL" and result["ts"].startswith("1700000000.")
    (message,) = slack.messages
    assert message["text"] == "Hello *team*" and message["channel"] == "C0GENERAL"
    reply = run("send_message", api_creds(slack), channel="C0GENERAL", text="in thread", thread_ts=result["ts"])
    assert reply["success"] is True and slack.messages[1]["thread_ts"] == result["ts"]


def test_send_message_through_webhook(slack: FakeSlack) -> None:
    result = run("send_message", hook_creds(slack), text="Deployed")
    assert result == {
        "success": True,
        "message": "Posted through the webhook.",
        "channel": None,
        "ts": None,
        "via": "webhook",
    }
    assert slack.webhook_messages == [{"text": "Deployed"}]


def test_send_message_unknown_channel(slack: FakeSlack) -> None:
    result = run("send_message", api_creds(slack), channel="#nope", text="hi")
    assert result["success"] is False
    assert "'#nope' not found (channel_not_found)" in result["message"]


def test_send_message_bot_not_in_channel(slack: FakeSlack) -> None:
    result = run("send_message", api_creds(slack), channel="secret", text="hi")
    assert result["success"] is False
    assert "not_in_channel" in result["message"] and "/invite" in result["message"]


def test_send_message_rate_limited(slack: FakeSlack) -> None:
    slack.rate_limited = True
    result = run("send_message", api_creds(slack), channel="general", text="hi")
    assert result["success"] is False
    assert "ratelimited" in result["message"] and "retry in 30 s" in result["message"]


def test_send_message_channel_needs_bot_token(slack: FakeSlack) -> None:
    result = run("send_message", hook_creds(slack), channel="#general", text="hi")
    assert result["success"] is False and "needs bot_token" in result["message"]
    assert slack.requests == []


def test_send_message_bot_token_needs_channel(slack: FakeSlack) -> None:
    result = run("send_message", api_creds(slack), text="hi")
    assert result["success"] is False and "Give a channel" in result["message"]
    assert slack.requests == []


def test_send_message_without_credentials() -> None:
    result = run("send_message", {}, text="hi")
    assert result["success"] is False and "neither bot_token nor webhook_url" in result["message"]


def test_send_message_params_are_checked(slack: FakeSlack) -> None:
    with pytest.raises(ParamsError, match="'text' is required"):
        run("send_message", api_creds(slack), channel="general")
    with pytest.raises(ParamsError, match="'blocks' must be a list"):
        run("send_message", api_creds(slack), channel="general", text="x", blocks={"type": "section"})
    with pytest.raises(ParamsError, match="'colour' is not a known field"):
        run("send_message", api_creds(slack), channel="general", text="x", colour="red")


def test_base_url_without_trailing_slash(slack: FakeSlack) -> None:
    creds = {"bot_token": TOKEN, "base_url": slack.url + "/api"}
    assert run("send_message", creds, channel="general", text="hi")["success"] is True
    assert slack.requests[-1].path == "/api/chat.postMessage"


# -- send_notification -----------------------------------------------------------------
def test_send_notification_builds_blocks(slack: FakeSlack) -> None:
    fields = {f"field{i}": i for i in range(12)}
    result = run(
        "send_notification",
        api_creds(slack),
        channel="general",
        title="Disk almost full",
        text="95% used",
        level="warning",
        fields=fields,
    )
    assert result["success"] is True and result["level"] == "warning"
    (message,) = slack.messages
    assert message["text"] == "[WARNING] Disk almost full: 95% used"
    blocks = message["blocks"]
    assert [block["type"] for block in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"]["text"] == ":warning: Disk almost full"
    assert blocks[1]["text"] == {"type": "mrkdwn", "text": "95% used"}
    assert len(blocks[2]["fields"]) == 10 and len(blocks[3]["fields"]) == 2  # Slack allows 10 fields a section
    assert blocks[2]["fields"][0]["text"] == "*field0*\n0"
    assert "Level: *warning*" in blocks[4]["elements"][0]["text"]


def test_send_notification_through_webhook_clips_long_titles(slack: FakeSlack) -> None:
    result = run("send_notification", hook_creds(slack), title="x" * 400)
    assert result["success"] is True and result["via"] == "webhook"
    header = slack.webhook_messages[0]["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    assert slack.webhook_messages[0]["text"].startswith("[INFO] xxx")


def test_send_notification_params_are_checked(slack: FakeSlack) -> None:
    with pytest.raises(ParamsError, match="'level' must be one of"):
        run("send_notification", hook_creds(slack), title="t", level="fatal")
    with pytest.raises(ParamsError, match="'fields' must be an object"):
        run("send_notification", hook_creds(slack), title="t", fields=["a"])


# -- upload_file -----------------------------------------------------------------------
def test_upload_text_content(slack: FakeSlack) -> None:
    result = run(
        "upload_file",
        api_creds(slack),
        channel="C0GENERAL",
        content="a,b\n1,2\n",
        filename="report.csv",
        title="Report",
        initial_comment="Today's numbers",
    )
    assert result["success"] is True
    file_id = result["file_id"]
    assert [r.path for r in slack.requests] == [
        "/api/files.getUploadURLExternal",
        f"/upload/v1/{file_id}",
        "/api/files.completeUploadExternal",
    ]
    assert slack.uploads[file_id]["data"] == b"a,b\n1,2\n"
    assert slack.uploads[file_id]["channel"] == "C0GENERAL"
    assert slack.uploads[file_id]["initial_comment"] == "Today's numbers"
    assert result["name"] == "report.csv" and result["size"] == 8
    assert result["permalink"].endswith(f"/{file_id}/report.csv")


def test_upload_local_file(slack: FakeSlack, tmp_path) -> None:
    data = bytes(range(256)) * 40
    (tmp_path / "chart.png").write_bytes(data)
    result = run("upload_file", api_creds(slack), channel="C0RANDOM", path=str(tmp_path / "chart.png"))
    assert result["success"] is True and result["name"] == "chart.png"
    assert slack.uploads[result["file_id"]]["data"] == data


def test_upload_refuses_channel_names_and_missing_files(slack: FakeSlack, tmp_path) -> None:
    named = run("upload_file", api_creds(slack), channel="#general", content="x")
    assert named["success"] is False and "channel's ID" in named["message"]
    missing = run("upload_file", api_creds(slack), channel="C0GENERAL", path=str(tmp_path / "none.txt"))
    assert missing["success"] is False and "No file to upload" in missing["message"]
    webhook_only = run("upload_file", hook_creds(slack), channel="C0GENERAL", content="x")
    assert webhook_only["success"] is False and "needs a bot_token" in webhook_only["message"]
    assert slack.requests == []
    with pytest.raises(ParamsError, match="exactly one of 'path' or 'content'"):
        run("upload_file", api_creds(slack), channel="C0GENERAL")


def test_upload_to_unknown_channel(slack: FakeSlack) -> None:
    result = run("upload_file", api_creds(slack), channel="C0MISSING", content="x")
    assert result["success"] is False and "channel_not_found" in result["message"]


# -- the network failing -----------------------------------------------------------------
def test_refused_connection() -> None:
    creds = {"bot_token": TOKEN, "base_url": f"http://127.0.0.1:{refused_port()}/api/"}
    result = run("send_message", creds, channel="general", text="hi")
    assert result["success"] is False
    assert "connection refused" in result["message"] and "127.0.0.1" in result["message"]
    test = run("test_connection", creds)
    assert test["success"] is False and test["steps"][-1]["name"] == "auth"


def test_timeouts_are_reported_not_raised() -> None:
    with black_hole() as (host, port):
        started = time.monotonic()
        api = run(
            "send_message",
            {"bot_token": TOKEN, "base_url": f"http://{host}:{port}/api/"},
            channel="general",
            text="hi",
            timeout=0.3,
        )
        hook = run("send_message", {"webhook_url": f"http://{host}:{port}/services/T/B/x"}, text="hi", timeout=0.3)
        elapsed = time.monotonic() - started
    assert api["success"] is False and "did not answer within 0.3 s" in api["message"]
    assert hook["success"] is False and "the webhook at 127.0.0.1" in hook["message"]
    assert elapsed < 3


def test_unknown_api_error_is_named() -> None:
    with FunctionServer(lambda request: Reply(200, {"ok": False, "error": "team_added_to_org"})) as server:
        result = run("send_message", {"bot_token": TOKEN, "base_url": server.url + "/api/"}, channel="C1", text="x")
    assert result == {"success": False, "message": "Slack refused the request (team_added_to_org)."}


# -- secrets ---------------------------------------------------------------------------
def test_no_credential_value_in_any_result(canary: str, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook_path = f"/services/T0/B0/{canary}"
    file = tmp_path / "f.txt"
    file.write_text("data")
    results = []
    with FakeSlack(token=canary, webhooks=(hook_path,)) as slack:
        good = {"bot_token": canary, "base_url": slack.api_url, "webhook_url": slack.webhook_url(hook_path)}
        bad = {"bot_token": canary + "x", "base_url": slack.api_url, "webhook_url": slack.webhook_url("/x/" + canary)}
        for creds in (good, bad, {"webhook_url": good["webhook_url"]}, {"webhook_url": bad["webhook_url"]}):
            results += [
                run("test_connection", creds),
                run("send_message", creds, channel="general", text="hi"),
                run("send_message", creds, channel="nope", text="hi"),
                run("send_message", creds, text="hi"),
                run("send_notification", creds, title="t", level="error"),
                run("send_notification", creds, channel="general", title="t"),
                run("upload_file", creds, channel="C0GENERAL", path=str(file)),
                run("upload_file", creds, channel="#general", content="x"),
            ]
    assert {True, False} <= {result["success"] for result in results}
    down = f"http://127.0.0.1:{refused_port()}/services/{canary}"
    results.append(run("send_message", {"webhook_url": down}, text="hi"))
    results.append(run("test_connection", {"webhook_url": down, "bot_token": canary, "base_url": down}))
    # A server that echoes the token back inside its error: the result still masks it.
    with FunctionServer(lambda r: Reply(200, {"ok": False, "error": r.headers["authorization"]})) as echo:
        echoed = run("send_message", {"bot_token": canary, "base_url": echo.url}, channel="C1", text="x")
    assert "Bearer ***" in echoed["message"]
    results.append(echoed)
    assert not find_canary(canary, json.dumps(results))
    assert not find_canary(canary, caplog.text)


def test_test_connection_from_the_workspace(ws, slack: FakeSlack, canary: str) -> None:
    """The Test Connection path users click: saved and unsaved credentials, each secret masked."""
    ws.types.create_from_module("slack")
    good = {"bot_token": TOKEN, "base_url": slack.api_url}
    ws.integrations.create("Team", type="slack", credentials=good)
    saved = ws.integrations.test("Team")
    assert saved["success"] is True and [step["name"] for step in saved["steps"]] == ["config", "auth"]
    unsaved = ws.integrations.test(type="slack", credentials={"bot_token": canary, "base_url": slack.api_url})
    assert unsaved["success"] is False and "invalid_auth" in unsaved["message"]
    assert not find_canary(canary, json.dumps(unsaved))
