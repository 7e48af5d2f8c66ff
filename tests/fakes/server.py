"""A threaded HTTP server on 127.0.0.1 that records every request and answers through `handle`.

Subclasses (the Slack and GitHub stand-ins) implement `handle`; tests read
`requests` to see exactly what an integration sent. `black_hole` and
`refused_url` give the two network failures every integration must survive:
a server that accepts but never answers, and a port where nothing listens.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def fields(self) -> dict[str, Any]:
        """Query, form and JSON body merged: Slack accepts arguments in any of them."""
        merged: dict[str, Any] = dict(self.query)
        kind = self.headers.get("content-type", "")
        if kind.startswith("application/json") and self.body:
            merged.update(self.json)
        elif kind.startswith("application/x-www-form-urlencoded"):
            merged.update(self.form)
        return merged


@dataclass
class Reply:
    """What the server answers: a dict or list becomes JSON, a str plain text."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json; charset=utf-8"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return bytes(self.body), "application/octet-stream"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Recorded(
            method=self.command,
            path=split.path,
            query={key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()},
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(request)
        reply = fake.handle(request)
        payload, content_type = reply.encode()
        self.send_response(reply.status)
        headers = {"Content-Type": content_type, **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Keep test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class FakeServer:
    """Base of the stand-ins: start with ``with Subclass() as server:``; `url` is its root."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: Recorded) -> Reply:
        """Answer one request."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval: shutdown() waits for the loop to notice, and tests start many servers.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FunctionServer(FakeServer):
    """A stand-in whose answers come from one function, for one-off servers in a test."""

    def __init__(self, answer: Callable[[Recorded], Reply]) -> None:
        super().__init__()
        self._answer = answer

    def handle(self, request: Recorded) -> Reply:
        return self._answer(request)


@contextmanager
def black_hole() -> Iterator[tuple[str, int]]:
    """A port that accepts connections (into the backlog) and never says a word: every read times out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield "127.0.0.1", listener.getsockname()[1]
    finally:
        listener.close()


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting is refused."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return int(port)
