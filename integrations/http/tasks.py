"""A generic HTTP request task through requests, signed with the credentials' token, basic auth or API key.

Credentials are only ever sent where they belong: under ``base_url`` when it
is set, never to another host or outside ``base_url`` after a redirect, and
never back in a result (a server that echoes them gets ``***`` in the returned
headers and body). ``timeout`` bounds the whole request, however slowly the
server sends (see `deadline`). A failure without an answer (a setting refused,
a network error, the time up) has ``status`` None.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests

import flowkit
from flowkit.errors import ParamsError, TaskFailed
from flowkit.redaction import Redactor

from .deadline import Deadline, WatchedAdapter, deadline

Result = dict[str, Any]

CREDENTIALS = [
    flowkit.Param(
        "base_url",
        help="API root, e.g. https://api.example.com/v1: relative urls join it, and the credentials are "
        "sent only to URLs under it.",
    ),
    flowkit.Param("token", kind="password", help="A bearer token, sent as Authorization: Bearer …"),
    flowkit.Param("username", help="User for HTTP Basic auth."),
    flowkit.Param("password", kind="password", help="Password for HTTP Basic auth."),
    flowkit.Param("api_key", kind="password", help="An API key, sent in the header named by api_key_header."),
    flowkit.Param("api_key_header", default="X-API-Key", help="The header that carries api_key."),
]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# Response headers that carry secrets or session state: never returned.
_PRIVATE_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _HeaderAuth(requests.auth.AuthBase):
    """A secret header set as request auth, so requests never looks in ~/.netrc instead."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.name] = self.value
        return request


class _Session(requests.Session):
    """A session that drops every secret header when a redirect leaves the host or ``base_url``.

    requests itself drops only ``Authorization``, and only when the host
    changes; an API key header would follow the redirect, and any of them
    would follow one to another path of the same server.
    """

    secret_headers: tuple[str, ...] = ()
    base: str | None = None

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        target = prepared_request.url or ""
        leaves = self.should_strip_auth(response.request.url or "", target)
        if leaves or (self.base and not _under(self.base, target)):
            for name in self.secret_headers:
                prepared_request.headers.pop(name, None)
        super().rebuild_auth(prepared_request, response)


def _auth(credentials: dict[str, Any]) -> tuple[requests.auth.AuthBase | None, str | None]:
    """The auth to send, and the header name it uses (None: no auth)."""
    token, user, password, key = (credentials.get(name) for name in ("token", "username", "password", "api_key"))
    given = [
        name for name, value in (("token", token), ("username/password", user or password), ("api_key", key)) if value
    ]
    if len(given) > 1:
        raise TaskFailed(f"Set one way to sign in, not several: {' and '.join(given)} are all set.", status=None)
    if token:
        return _HeaderAuth("Authorization", f"Bearer {token}"), "Authorization"
    if user or password:
        if not user:
            raise TaskFailed("password is set without username: Basic auth needs both.", status=None)
        return requests.auth.HTTPBasicAuth(str(user), str(password or "")), "Authorization"
    if key:
        header = str(credentials.get("api_key_header") or "X-API-Key")
        if not _HEADER_NAME.match(header):
            raise TaskFailed(f"api_key_header {header!r} is not a valid header name.", status=None)
        return _HeaderAuth(header, str(key)), header
    return None, None


def _origin(parts: Any) -> tuple[str, str, int | None]:
    return parts.scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme)


def _under(base: str, url: str) -> bool:
    """Whether `url` is `base` or below it: same scheme, host and port, a path under base's, no ``..``."""
    parts, root = urlsplit(url), urlsplit(base)
    prefix = root.path.rstrip("/") + "/"
    return (
        _origin(parts) == _origin(root)
        and (parts.path.rstrip("/") + "/").startswith(prefix)
        and ".." not in parts.path.split("/")
    )


def _target(credentials: dict[str, Any], url: str, signed: bool) -> str:
    """The absolute URL to call; refuses to send credentials outside base_url."""
    base = credentials.get("base_url")
    if base and urlsplit(str(base)).scheme not in ("http", "https"):
        raise TaskFailed("base_url must be an http(s) URL such as https://api.example.com/v1.", status=None)
    if base and not urlsplit(url).scheme:
        url = str(base).rstrip("/") + "/" + url.lstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        where = " or a path under base_url" if base else ""
        raise TaskFailed(f"url must be an http(s) URL{where}; got {url!r}.", status=None)
    if base and signed:
        if not _under(str(base), url):
            raise TaskFailed(
                f"{url} is outside base_url {base}: this integration's credentials are only sent there. "
                "Use an integration without credentials (or another one) for other addresses.",
                status=None,
            )
    return url


def _read(response: requests.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body; whether more was left unread."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def _expected(value: Any) -> list[int] | None:
    if value is None:
        return None
    statuses = value if isinstance(value, list) else [value]
    if not statuses or not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses):
        raise ParamsError("http.request params: 'expected_status' must be a status code or a list of them, e.g. 201.")
    return statuses


def _header_values(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict) or not all(isinstance(v, (str, int, float)) for v in headers.values()):
        raise ParamsError("http.request params: 'headers' must be an object of name → text.")
    for name in headers:
        if not _HEADER_NAME.match(name):
            raise ParamsError(f"http.request params: {name!r} is not a valid header name.")
    return {name: str(value) for name, value in headers.items()}


def _connection_problem(exc: requests.RequestException, host: str, timeout: float, limit: Deadline) -> str:
    # At the deadline the sockets are shut down: whatever requests then reports, the cause is the time.
    # A read that times out while the body streams in arrives as a ConnectionError saying so.
    if limit.expired or isinstance(exc, requests.Timeout) or "timed out" in str(exc):
        return f"{host} did not answer within {timeout:g} s (timed out)."
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS with {host} failed: the certificate could not be verified or the handshake failed."
    if isinstance(exc, requests.TooManyRedirects):
        return f"{host} redirected too many times."
    text = str(exc)
    if "Connection refused" in text or "[Errno 111]" in text:
        return f"Could not connect to {host}: connection refused."
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return f"Could not resolve {host}; check the URL and the network."
    return f"The request to {host} failed: {exc.__class__.__name__}."


def _basic_header(credentials: dict[str, Any]) -> list[str]:
    """The Basic header's payload, user:password in base64: a server echoing it must not reveal the password.

    flowkit.task masks each credential value (and its base64) but not this pair, which matches neither alone.
    """
    if not (credentials.get("username") or credentials.get("password")):
        return []
    pair = f"{credentials.get('username') or ''}:{credentials.get('password') or ''}".encode()
    return [base64.b64encode(pair).decode()]


def _send(
    credentials: dict[str, Any], method: str, url: str, *, timeout: float, limit: Deadline, **kwargs: Any
) -> requests.Response:
    """Send one signed request with the body streamed (the caller reads it), within `limit`."""
    auth, header = _auth(credentials)
    url = _target(credentials, url, signed=auth is not None)
    session = _Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, WatchedAdapter())
    session.auth = auth
    session.secret_headers = (header,) if header else ()
    session.base = str(credentials["base_url"]) if credentials.get("base_url") else None
    try:
        return session.request(method, url, timeout=timeout, stream=True, **kwargs)
    except requests.RequestException as exc:
        session.close()
        raise TaskFailed(_connection_problem(exc, urlsplit(url).netloc, timeout, limit), status=None) from exc
    except ValueError as exc:  # requests' InvalidHeader and friends for values it cannot send
        session.close()
        raise TaskFailed(f"The request could not be built: {exc}", status=None) from exc


# -- tasks -----------------------------------------------------------------------
@flowkit.task(
    params=[flowkit.Param("timeout", kind="number", default=10, help="Seconds to wait for the server.")],
)
def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Check the credentials are complete and, when base_url is set, that a GET of it is not refused."""
    timeout = float(params["timeout"])
    report = flowkit.ConnectionReport()
    with report:
        report.step("config")
        auth, header = _auth(credentials)
        base = credentials.get("base_url")
        _target(credentials, str(base or "http://localhost"), signed=False)
        if auth is None:
            how = "no credentials: requests are not signed"
        elif isinstance(auth, requests.auth.HTTPBasicAuth):
            how = f"Basic auth as {credentials.get('username')}"
        else:
            how = "a bearer token" if credentials.get("token") else f"an API key in {header}"
        report.passed(f"Credentials complete: {how}.")
        if base:
            report.step("request")
            with deadline(timeout) as limit, _send(credentials, "GET", str(base), timeout=timeout, limit=limit) as got:
                code, status = got.status_code, f"{got.status_code} {got.reason}"
            if code in (401, 403):
                report.step("auth")
                raise TaskFailed(f"GET {base} answered {status}: the server refused the credentials.")
            # A 4xx other than a refusal still shows the server answers; a 5xx does not.
            if code < 500:
                report.passed(f"GET {base} answered {status}.")
            else:
                report.failed(f"GET {base} answered {status}.")
    return report.result()


@flowkit.task(
    params=[
        flowkit.Param("method", kind="choice", choices=METHODS, default="GET", help="The HTTP method."),
        flowkit.Param("url", required=True, help="An absolute URL, or a path under the credentials' base_url."),
        flowkit.Param("query", kind="json", help='Query parameters, e.g. {"page": 2}.'),
        flowkit.Param("headers", kind="json", help='Extra request headers, e.g. {"Accept": "text/csv"}.'),
        flowkit.Param("json", kind="json", help="A JSON body."),
        flowkit.Param("body", help="A text body, instead of json."),
        flowkit.Param("expected_status", kind="json", help="Status code(s) that count as success; default any 2xx."),
        flowkit.Param("allow_redirects", kind="boolean", default=True, help="Follow redirects."),
        flowkit.Param("max_bytes", kind="integer", default=1_000_000, help="Keep at most this much of the response."),
        flowkit.Param("timeout", kind="number", default=30, help="Seconds to wait for the server."),
    ],
)
def request(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Send an HTTP request and return the status, headers and body (JSON parsed when it is JSON).

    Returns ``status``, ``reason``, ``url`` (after redirects), ``headers`` (without cookies and
    credentials), ``json`` or ``text``, ``truncated`` and ``elapsed_ms``.
    """
    if params.get("json") is not None and params.get("body") is not None:
        raise ParamsError("http.request params: give 'json' or 'body', not both.")
    if params.get("query") is not None and not isinstance(params["query"], dict):
        raise ParamsError("http.request params: 'query' must be an object of name → value.")
    if params["max_bytes"] < 0:
        raise ParamsError("http.request params: 'max_bytes' must be 0 or more.")
    expected = _expected(params.get("expected_status"))
    method, timeout = params["method"], float(params["timeout"])
    body = params.get("body")
    started = time.monotonic()
    with deadline(timeout) as limit:
        response = _send(
            credentials,
            method,
            params["url"],
            timeout=timeout,
            limit=limit,
            params=params.get("query"),
            headers=_header_values(params.get("headers")),
            json=params.get("json"),
            data=body.encode() if isinstance(body, str) else None,
            allow_redirects=params["allow_redirects"],
        )
        with response:
            try:
                content, truncated = _read(response, params["max_bytes"])
            except requests.RequestException as exc:
                if not limit.expired:
                    raise TaskFailed(
                        _connection_problem(exc, urlsplit(response.url).netloc, timeout, limit), status=None
                    ) from exc
            limit.cancel()
            if limit.expired:  # the sockets were shut down mid-body: what was read may look whole but is not
                raise TaskFailed(
                    f"{urlsplit(response.url).netloc} did not answer within {timeout:g} s (timed out): "
                    "the response body did not finish arriving.",
                    status=None,
                )
    elapsed_ms = round((time.monotonic() - started) * 1000)
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    parsed: Any = None
    text: str | None = content.decode(response.encoding or "utf-8", errors="replace")
    if not truncated and content and (kind == "application/json" or kind.endswith("+json")):
        try:
            parsed, text = json.loads(text or "", parse_constant=_refuse_constant), None
        except ValueError:
            pass  # not JSON after all (or NaN/Infinity, which results may not hold): keep the text
    status = response.status_code
    ok = status in expected if expected else 200 <= status < 300
    message = f"{method} {response.url} answered {status} {response.reason}."
    if not ok:
        message = message[:-1] + f", expected {expected or 'a 2xx status'}."
        if status in (401, 403):
            signed = any(credentials.get(name) for name in ("token", "username", "password", "api_key"))
            message += (
                " The server refused the credentials."
                if signed
                else " The server wants credentials: set token, username/password or api_key."
            )
    hidden = _PRIVATE_HEADERS | {str(credentials.get("api_key_header") or "X-API-Key").lower()}
    return Redactor(_basic_header(credentials))(
        {
            "success": ok,
            "message": message,
            "status": status,
            "reason": response.reason,
            "url": response.url,
            "headers": {name.lower(): value for name, value in response.headers.items() if name.lower() not in hidden},
            "json": parsed,
            "text": text,
            "truncated": truncated,
            "elapsed_ms": elapsed_ms,
        }
    )
