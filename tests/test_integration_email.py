"""The email integration against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS and SSL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fakes import builtin_task
from fakes.server import black_hole, refused_port
from fakes.smtp_server import SMTPServer, self_signed_cert, smtp_server
from helpers import find_canary

from flowkit.errors import ParamsError
from flowkit.integrations.registry import Registry


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def creds(server: SMTPServer, **extra: object) -> dict:
    return {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from_address": "Flowkit <bot@example.com>",
        **extra,
    }


def send(credentials: dict, **params: object) -> dict:
    return builtin_task("email", "send_email")(credentials, params)


def check(credentials: dict, **params: object) -> dict:
    return builtin_task("email", "test_connection")(credentials, params)


def test_module_declares_credentials_and_params() -> None:
    module = Registry(builtins=True, entry_points=False).module("email")
    kinds = {param.name: param.kind for param in module.credentials or []}
    assert kinds["password"] == "password" and kinds["security"] == "choice" and kinds["port"] == "integer"
    assert set(module.tasks) == {"send_email", "test_connection"}
    assert {p.name for p in module.tasks["send_email"].params or []} >= {"to", "subject", "body", "html", "bcc"}


# -- sending ------------------------------------------------------------------------------------
def test_send_plain_message() -> None:
    with smtp_server() as server:
        result = send(
            creds(server),
            to="Ann <ann@example.com>, bob@example.com",
            cc="cy@example.com",
            bcc="hidden@example.com",
            subject="Build 42 passed",
            body="All green.\n",
            reply_to="ops@example.com",
        )
    assert result["success"] is True
    assert result["message"] == "Sent 'Build 42 passed' to 4 recipient(s)."
    assert result["recipients"] == ["ann@example.com", "bob@example.com", "cy@example.com", "hidden@example.com"]
    assert result["refused"] == {}
    (received,) = server.received
    assert received.mail_from == "bot@example.com"
    assert received.rcpt_tos == result["recipients"]
    message = received.message
    assert message["From"] == "Flowkit <bot@example.com>"
    assert message["To"] == "Ann <ann@example.com>, bob@example.com" and message["Cc"] == "cy@example.com"
    assert message["Bcc"] is None and b"hidden@example.com" not in received.content
    assert message["Reply-To"] == "ops@example.com"
    assert message["Message-ID"] == result["message_id"] and result["message_id"].endswith("@example.com>")
    assert message.get_content().replace("\r\n", "\n") == "All green.\n"


def test_send_html_alternative() -> None:
    with smtp_server() as server:
        result = send(
            creds(server),
            to="ann@example.com",
            subject="Report",
            body="See the table.",
            html="<table><tr><td>1</td></tr></table>",
        )
    assert result["success"] is True
    message = server.received[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert "<table>" in message.get_body(("html",)).get_content()


def test_some_recipients_refused() -> None:
    with smtp_server() as server:
        partly = send(creds(server), to="ann@example.com, ghost@refused.example", subject="s")
        wholly = send(creds(server), to="ghost@refused.example", subject="s")
    assert partly["success"] is True and partly["recipients"] == ["ann@example.com"]
    assert partly["refused"] == {"ghost@refused.example": "550 5.1.1 No such user here"}
    assert "refused: ghost@refused.example" in partly["message"]
    assert wholly["success"] is False
    assert wholly["message"] == (
        "127.0.0.1 refused every recipient: ghost@refused.example (550 5.1.1 No such user here)."
    )
    assert len(server.received) == 1


def test_login_over_plain_loopback() -> None:
    with smtp_server(users={"ann": "pw-right"}) as server:
        ok = send(creds(server, username="ann", password="pw-right"), to="x@example.com", subject="s")
        wrong = send(creds(server, username="ann", password="pw-wrong"), to="x@example.com", subject="s")
    assert ok["success"] is True
    assert wrong["success"] is False
    assert wrong["message"].startswith("127.0.0.1 refused the login for 'ann' (535 5.7.8 Authentication credentials")
    assert "app password" in wrong["message"]
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN) before giving up.
    assert server.recorder.logins[0] == ("ann", True)
    assert server.recorder.logins[1:] and not any(ok for _, ok in server.recorder.logins[1:])
    assert len(server.received) == 1


def test_starttls_with_a_private_ca(cert: tuple[Path, Path]) -> None:
    with smtp_server(security="starttls", users={"ann": "pw-right"}, cert=cert) as server:
        base = creds(server, security="starttls", username="ann", password="pw-right")
        trusted = send({**base, "ca_file": str(cert[0])}, to="x@example.com", subject="over TLS")
        unverified = send(base, to="x@example.com", subject="s")
        unchecked = send({**base, "verify_tls": False}, to="x@example.com", subject="unchecked")
        report = check({**base, "ca_file": str(cert[0])})
    assert trusted["success"] is True and unchecked["success"] is True
    assert [r.message["Subject"] for r in server.received] == ["over TLS", "unchecked"]
    assert unverified["success"] is False
    assert "certificate of 127.0.0.1 could not be verified" in unverified["message"]
    assert "set ca_file" in unverified["message"]
    assert report["success"] is True
    assert [(s["name"], s["ok"]) for s in report["steps"]] == [("config", True), ("request", True), ("auth", True)]
    assert "(starttls, TLSv1." in report["steps"][1]["message"] and "LOGIN" in report["steps"][1]["message"]
    assert report["message"] == "Logged in as ann."


def test_implicit_tls(cert: tuple[Path, Path]) -> None:
    with smtp_server(security="ssl", users={"ann": "pw-right"}, cert=cert) as server:
        result = send(
            creds(server, security="ssl", username="ann", password="pw-right", ca_file=str(cert[0])),
            to="x@example.com",
            subject="ssl",
        )
    assert result["success"] is True and server.received[0].message["Subject"] == "ssl"


def test_security_that_does_not_match_the_port(cert: tuple[Path, Path]) -> None:
    with smtp_server() as plain:
        ssl_to_plain = send(creds(plain, security="ssl"), to="x@example.com", subject="s", timeout=2)
        starttls_to_plain = check(creds(plain, security="starttls"))
    assert ssl_to_plain["success"] is False and "TLS with 127.0.0.1" in ssl_to_plain["message"]
    assert "check security" in ssl_to_plain["message"]
    assert starttls_to_plain["success"] is False and starttls_to_plain["steps"][-1]["name"] == "request"
    assert "does not offer STARTTLS" in starttls_to_plain["message"]
    with smtp_server(security="ssl", cert=cert) as tls:
        started = time.monotonic()
        plain_to_ssl = send(creds(tls), to="x@example.com", subject="s", timeout=0.3)
        assert time.monotonic() - started < 3
    assert plain_to_ssl["success"] is False
    assert "did not answer" in plain_to_ssl["message"] or "closed the connection" in plain_to_ssl["message"]


# -- test_connection ----------------------------------------------------------------------------
def test_connection_steps() -> None:
    with smtp_server(users={"ann": "pw-right"}) as server:
        anonymous = check(creds(server))
        logged_in = check(creds(server, username="ann", password="pw-right"))
        refused = check(creds(server, username="ann", password="nope"))
    assert anonymous["success"] is True and anonymous["message"] == "No username set: sending without login."
    assert "no TLS" in anonymous["steps"][1]["message"]
    assert logged_in["success"] is True and logged_in["message"] == "Logged in as ann."
    assert refused["success"] is False and refused["steps"][-1]["name"] == "auth"
    assert server.received == []
    with smtp_server() as no_auth:
        missing = check(creds(no_auth, username="ann", password="pw"))
    assert missing["success"] is False and "offers no login (AUTH)" in missing["message"]


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({}, "Set host"),
        ({"host": "127.0.0.1", "password": "pw"}, "password is set without username"),
        (
            {"host": "mail.example.com", "security": "none", "username": "ann", "password": "pw"},
            "would send the password to mail.example.com unencrypted",
        ),
        ({"host": "127.0.0.1", "port": 70000}, "port must be a number from 1 to 65535"),
        ({"host": "127.0.0.1", "security": "tls"}, "security must be one of"),
        ({"host": "127.0.0.1", "ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem' could not be read"),
    ],
)
def test_configuration_problems(credentials: dict, message: str) -> None:
    result = check(credentials)
    assert result["success"] is False
    assert result["steps"] == [{"name": "config", "ok": False, "message": result["message"]}]
    assert message in result["message"]
    sent = send({**credentials, "from_address": "bot@example.com"}, to="x@example.com", subject="s")
    assert sent["success"] is False and message in sent["message"]


def test_params_are_checked() -> None:
    with smtp_server() as server:
        for params, message in [
            ({"to": "not-an-address", "subject": "s"}, "'to' holds 'not-an-address', not an address"),
            ({"to": "x@example.com", "subject": "Hi\nBcc: everyone@example.com"}, "linefeed"),
            ({"to": ["x@example.com"], "subject": "s"}, "'to' must be text"),
            ({"subject": "s"}, "'to' is required"),
        ]:
            with pytest.raises(ParamsError, match=message):
                send(creds(server), **params)
        anonymous = {"host": server.host, "port": server.port, "security": "none"}
        no_sender = send(anonymous, to="x@example.com", subject="s")
    assert no_sender["success"] is False and "Set from_address" in no_sender["message"]
    assert server.received == []


# -- the network failing -------------------------------------------------------------------------
def test_refused_connection_and_silent_server() -> None:
    refused = send(
        {"host": "127.0.0.1", "port": refused_port(), "security": "none", "from_address": "b@example.com"},
        to="x@example.com",
        subject="s",
    )
    assert refused["success"] is False and "connection refused" in refused["message"]
    with black_hole() as (host, port):
        started = time.monotonic()
        silent = check({"host": host, "port": port, "security": "none"}, timeout=0.3)
        assert time.monotonic() - started < 3
    assert silent["success"] is False and silent["steps"][-1]["name"] == "request"
    assert silent["message"] == f"127.0.0.1:{port} did not answer within 0.3 s (timed out)."


# -- secrets ---------------------------------------------------------------------------------------
def test_no_password_in_any_result(canary: str, cert: tuple[Path, Path]) -> None:
    results = []
    with smtp_server(users={"ann": canary}) as server:
        for password in (canary, canary + "x"):
            c = creds(server, username="ann", password=password)
            results += [check(c), send(c, to="x@example.com", subject="s")]
            results.append(send(c, to="g@refused.example", subject="s"))
    with smtp_server(security="starttls", users={"ann": canary}, cert=cert) as tls:
        c = creds(tls, security="starttls", username="ann", password=canary)
        results += [
            check(c),
            check({**c, "ca_file": str(cert[0])}),
            send({**c, "verify_tls": False}, to="x@e.com", subject="s"),
        ]
    results.append(check({"host": "mail.example.com", "security": "none", "username": "ann", "password": canary}))
    results.append(check({"host": "127.0.0.1", "port": refused_port(), "username": "ann", "password": canary}))
    assert {True, False} <= {result["success"] for result in results}
    assert not find_canary(canary, json.dumps(results))
