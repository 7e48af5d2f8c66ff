"""The generic http integration against a local echoing web API."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fakes import recorded_task
from fakes.echo_api import EchoServer
from fakes.server import black_hole, refused_port
from helpers import find_canary

from flowkit.errors import ParamsError
from flowkit.integrations.registry import Registry


@pytest.fixture
def api() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture
def other() -> Iterator[EchoServer]:
    """A second server on another host name (localhost), for redirects that leave the first."""
    with EchoServer() as server:
        yield server


def elsewhere(server: EchoServer) -> str:
    return server.url.replace("127.0.0.1", "localhost")


def run(credentials: dict, **params: object) -> dict:
    return recorded_task("http", "request")(credentials, params)


def check(credentials: dict) -> dict:
    return recorded_task("http", "test_connection")(credentials, {})


def test_module_declares_credentials_and_params() -> None:
    module = Registry(builtins=True, entry_points=False).module("http")
    secret = {param.name for param in module.credentials or [] if param.secret}
    assert secret == {"token", "password", "api_key"}
    assert set(module.tasks) == {"request", "test_connection"}
    assert module.tasks["request"].params is not None
    assert [p.name for p in module.tasks["request"].params][:2] == ["method", "url"]


# -- requests and answers ----------------------------------------------------------------------
def test_get_with_query_and_headers(api: EchoServer) -> None:
    result = run({}, url=api.url + "/echo", query={"page": 2, "q": "a b"}, headers={"Accept": "application/json"})
    assert result["success"] is True and result["status"] == 200 and result["reason"] == "OK"
    assert result["message"] == f"GET {api.url}/echo?page=2&q=a+b answered 200 OK."
    assert result["json"]["query"] == {"page": "2", "q": "a b"}
    assert result["json"]["headers"]["accept"] == "application/json"
    assert result["text"] is None and result["truncated"] is False
    assert result["headers"]["content-type"].startswith("application/json")
    assert isinstance(result["elapsed_ms"], int)


def test_post_json_and_put_text(api: EchoServer) -> None:
    posted = run({}, method="POST", url=api.url + "/echo", json={"name": "x", "n": [1, 2]})
    assert posted["json"]["method"] == "POST"
    assert json.loads(posted["json"]["body"]) == {"name": "x", "n": [1, 2]}
    assert posted["json"]["headers"]["content-type"] == "application/json"
    put = run({}, method="PUT", url=api.url + "/echo", body="plain body", headers={"Content-Type": "text/plain"})
    assert put["json"]["method"] == "PUT" and put["json"]["body"] == "plain body"


def test_text_answer(api: EchoServer) -> None:
    result = run({}, url=api.url + "/text")
    assert result["json"] is None and result["text"] == "plain words"


def test_head_has_no_body(api: EchoServer) -> None:
    result = run({}, method="HEAD", url=api.url + "/echo")
    assert result["success"] is True and result["text"] == "" and result["json"] is None


@pytest.mark.parametrize(
    ("credentials", "header", "value"),
    [
        ({"token": "t0ken-value"}, "authorization", "Bearer t0ken-value"),
        (
            {"username": "ann", "password": "pw-secret"},
            "authorization",
            "Basic " + base64.b64encode(b"ann:pw-secret").decode(),
        ),
        ({"api_key": "k3y-value"}, "x-api-key", "k3y-value"),
        ({"api_key": "k3y-value", "api_key_header": "X-Token"}, "x-token", "k3y-value"),
    ],
)
def test_each_kind_of_auth_is_sent(api: EchoServer, credentials: dict, header: str, value: str) -> None:
    result = run(credentials, url=api.url + "/echo")
    assert result["success"] is True
    assert api.requests[-1].headers[header] == value
    assert "***" in result["json"]["headers"][header]  # the echo comes back masked


def test_expected_status(api: EchoServer) -> None:
    missing = run({}, url=api.url + "/status/404")
    assert missing["success"] is False and missing["status"] == 404
    assert missing["message"].endswith("answered 404 Not Found, expected a 2xx status.")
    assert missing["json"] == {"error": "status 404"}
    assert run({}, url=api.url + "/status/404", expected_status=404)["success"] is True
    assert run({}, url=api.url + "/status/201", expected_status=[200, 201])["success"] is True
    assert run({}, url=api.url + "/status/200", expected_status=201)["success"] is False


def test_unauthorised_says_what_to_do(api: EchoServer) -> None:
    signed = run({"token": "t0ken"}, url=api.url + "/status/401")
    assert signed["message"].endswith("The server refused the credentials.")
    unsigned = run({}, url=api.url + "/status/403")
    assert unsigned["message"].endswith("The server wants credentials: set token, username/password or api_key.")


def test_base_url_joins_relative_urls(api: EchoServer) -> None:
    creds = {"base_url": api.url + "/v1/", "token": "t0ken"}
    assert run(creds, url="echo/a")["json"]["path"] == "/v1/echo/a"
    assert run(creds, url="/echo/b")["json"]["path"] == "/v1/echo/b"
    assert run(creds, url=api.url + "/v1/echo/c")["json"]["path"] == "/v1/echo/c"


@pytest.mark.parametrize("url", ["../admin", "/v1/../admin", "{other}/v1/echo", "{root}/v2/echo", "{root}/v10/echo"])
def test_credentials_never_leave_base_url(api: EchoServer, other: EchoServer, url: str) -> None:
    url = url.format(other=other.url, root=api.url)
    result = run({"base_url": api.url + "/v1", "api_key": "k3y-value"}, url=url)
    assert result["success"] is False and "outside base_url" in result["message"]
    assert api.requests == [] and other.requests == []


def test_without_credentials_any_url_is_fine(api: EchoServer, other: EchoServer) -> None:
    assert run({"base_url": api.url + "/v1"}, url=other.url + "/echo")["success"] is True


@pytest.mark.parametrize("credentials", [{"token": "t0ken-value"}, {"api_key": "k3y-value"}])
def test_redirect_to_another_host_drops_credentials(api: EchoServer, other: EchoServer, credentials: dict) -> None:
    result = run(credentials, url=api.url + "/redirect", query={"to": elsewhere(other) + "/echo"})
    assert result["success"] is True and result["url"].startswith(elsewhere(other))
    sent = other.requests[-1].headers
    assert "authorization" not in sent and "x-api-key" not in sent
    same = run(credentials, url=api.url + "/redirect", query={"to": api.url + "/echo"})
    assert "authorization" in same["json"]["headers"] or "x-api-key" in same["json"]["headers"]


def test_redirects_can_be_left_alone(api: EchoServer) -> None:
    result = run({}, url=api.url + "/redirect", query={"to": "/echo"}, allow_redirects=False, expected_status=302)
    assert result["success"] is True and result["headers"]["location"] == "/echo"


def test_long_answers_are_truncated(api: EchoServer) -> None:
    text = run({}, url=api.url + "/big", query={"size": 200_000}, max_bytes=1000)
    assert text["truncated"] is True and text["text"] == "x" * 1000
    big_json = run({}, url=api.url + "/big", query={"size": 200_000, "json": 1}, max_bytes=5000)
    assert big_json["truncated"] is True and big_json["json"] is None and len(big_json["text"]) == 5000
    whole = run({}, url=api.url + "/big", query={"size": 3000, "json": 1})
    assert whole["truncated"] is False and isinstance(whole["json"], list)


def test_cookies_and_credential_headers_are_not_returned(api: EchoServer) -> None:
    result = run({}, url=api.url + "/cookie")
    assert "set-cookie" not in result["headers"] and result["headers"]["x-request-id"] == "r-1"


# -- refusals before any request ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("credentials", "url", "message"),
    [
        ({"token": "a1b2c3", "api_key": "k3y"}, "/x", "not several: token and api_key"),
        ({"password": "pw-secret"}, "/x", "password is set without username"),
        ({"api_key": "k3y", "api_key_header": "Bad Header"}, "/x", "not a valid header name"),
        ({}, "ftp://host/file", "url must be an http(s) URL"),
        ({}, "no-scheme.example/path", "url must be an http(s) URL"),
        ({"base_url": "api.example.com"}, "/x", "base_url must be an http(s) URL"),
    ],
)
def test_configuration_problems(api: EchoServer, credentials: dict, url: str, message: str) -> None:
    result = run(credentials, url=url)
    assert result["success"] is False and message in result["message"]
    assert api.requests == []


def test_params_are_checked(api: EchoServer) -> None:
    url = api.url + "/echo"
    for params, message in [
        ({"json": {"a": 1}, "body": "x"}, "'json' or 'body', not both"),
        ({"expected_status": "ok"}, "'expected_status' must be a status code"),
        ({"expected_status": [200, True]}, "'expected_status' must be a status code"),
        ({"headers": ["Accept"]}, "'headers' must be an object"),
        ({"headers": {"Bad Name": "x"}}, "not a valid header name"),
        ({"query": [1, 2]}, "'query' must be an object"),
        ({"method": "BREW"}, "'method' must be one of"),
    ]:
        with pytest.raises(ParamsError, match=message):
            run({}, url=url, **params)
    assert api.requests == []


# -- the network failing -------------------------------------------------------------------------
def test_refused_connection_and_timeout() -> None:
    refused = run({}, url=f"http://127.0.0.1:{refused_port()}/x")
    assert refused == {"success": False, "message": refused["message"], "status": None}
    assert "connection refused" in refused["message"]
    with black_hole() as (host, port):
        started = time.monotonic()
        slow = run({}, url=f"http://{host}:{port}/x", timeout=0.3)
        assert time.monotonic() - started < 3
    assert slow["success"] is False and "did not answer within 0.3 s" in slow["message"]


# -- test_connection --------------------------------------------------------------------------------
def test_connection_steps(api: EchoServer) -> None:
    bare = check({})
    assert bare["success"] is True and [s["name"] for s in bare["steps"]] == ["config"]
    assert "not signed" in bare["message"]
    good = check({"base_url": api.url + "/v1", "username": "ann", "password": "pw-secret"})
    assert good["success"] is True and [s["name"] for s in good["steps"]] == ["config", "request"]
    assert "Basic auth as ann" in good["steps"][0]["message"]
    assert api.requests[-1].path == "/v1" and api.requests[-1].headers["authorization"].startswith("Basic ")
    refused = check({"base_url": api.url + "/status/401", "token": "t0ken"})
    assert refused["success"] is False and refused["steps"][-1]["name"] == "auth"
    down = check({"base_url": f"http://127.0.0.1:{refused_port()}"})
    assert down["success"] is False and down["steps"][-1]["name"] == "request"
    broken = check({"token": "a1b2c3", "username": "ann"})
    assert broken["success"] is False and broken["steps"][-1]["name"] == "config"


# -- secrets ----------------------------------------------------------------------------------------
def test_no_credential_value_in_any_result(api: EchoServer, other: EchoServer, canary: str) -> None:
    results = []
    for creds in (
        {"token": canary},
        {"username": "ann", "password": canary},
        {"username": canary, "password": canary},
        {"api_key": canary},
        {"api_key": canary, "api_key_header": "X-Token", "base_url": api.url},
    ):
        results += [
            run(creds, url=api.url + "/echo", query={"k": canary[:5]}),
            run(creds, method="POST", url=api.url + "/echo", json={"auth": "see headers"}),
            run(creds, url=api.url + "/status/401"),
            run(creds, url=api.url + "/redirect", query={"to": elsewhere(other) + "/echo"}),
            run(creds, url=api.url + "/redirect", query={"to": api.url + "/echo"}),
            run(creds, url=other.url + "/echo"),
            run(creds, url=f"http://127.0.0.1:{refused_port()}/x"),
            check(creds),
            check({**creds, "base_url": api.url + "/echo"}),
            check({**creds, "token": canary}),
        ]
    assert {True, False} <= {result["success"] for result in results}
    assert not find_canary(canary, json.dumps(results))


def test_a_body_that_stops_arriving_times_out() -> None:
    """Headers arrive, then the body stalls: the read timeout still ends the request."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nfirst bytes")
        done.wait(5)
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        result = run({}, url=f"http://127.0.0.1:{listener.getsockname()[1]}/slow", timeout=0.3)
        assert time.monotonic() - started < 3
    finally:
        done.set()
        thread.join()
        listener.close()
    assert result["success"] is False and "did not answer within 0.3 s" in result["message"]


# -- a total deadline ---------------------------------------------------------------------------------
@contextmanager
def trickling_server(head: bytes, trickle: bytes, every: float = 0.05, lasts: float = 8.0) -> Iterator[str]:
    """A server on 127.0.0.1 that sends `head`, then one byte of `trickle` every `every` s for `lasts` s.

    Each byte arrives well within any read timeout, so only a deadline for the whole request ends it.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(lasts)
    stop = threading.Event()

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(head)
                ends = time.monotonic() + lasts
                for byte in trickle * 1000:
                    if stop.wait(every) or time.monotonic() > ends:
                        break
                    connection.sendall(bytes([byte]))
            except OSError:
                pass  # the client hung up: what a deadline does

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize(
    ("head", "trickle", "words"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n", b"x", "did not finish"),
        (b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a", "did not answer"),
    ],
    ids=["body", "headers"],
)
def test_a_server_trickling_bytes_cannot_outlast_the_timeout(head: bytes, trickle: bytes, words: str) -> None:
    with trickling_server(head, trickle) as url:
        started = time.monotonic()
        result = run({}, url=url + "/slow", timeout=1)
        took = time.monotonic() - started
    assert took < 2.0, f"the request took {took:.1f} s with timeout=1"
    assert result["success"] is False and words in result["message"] and "1 s" in result["message"]


@pytest.mark.parametrize(
    "credentials", [{"token": "t0ken-value"}, {"api_key": "k3y-value"}, {"username": "ann", "password": "pw"}]
)
def test_a_redirect_leaving_base_url_on_the_same_server_drops_credentials(api: EchoServer, credentials: dict) -> None:
    signed = {"base_url": api.url + "/v1", **credentials}
    result = run(signed, url="redirect", query={"to": api.url + "/echo"})
    assert result["success"] is True and result["json"]["path"] == "/echo"
    sent = api.requests[-1].headers
    assert "authorization" not in sent and "x-api-key" not in sent
    inside = run(signed, url="redirect", query={"to": api.url + "/v1/echo"})
    assert inside["json"]["path"] == "/v1/echo"
    assert "authorization" in api.requests[-1].headers or "x-api-key" in api.requests[-1].headers
