"""A small to-do API on 127.0.0.1 with bearer-token auth: the service the example integration talks to.

It answers the way a real JSON API does (401 with a JSON error for a bad
token, 404 for an unknown item, 422 for a bad body), so the integration's
error handling is exercised for real, offline. Start it with `serve()`::

    with serve() as api:
        print(api.url, api.token)
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class TodoStore:
    token: str
    todos: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the examples print their own output
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.store.token}":
            return True
        self._send(401, {"error": "invalid_token", "message": "Bad or missing bearer token."})
        return False

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if not self._authorized():
            return
        url = urlsplit(self.path)
        store = self.server.store
        with store.lock:
            if url.path == "/me":
                self._send(200, {"user": "demo", "todos": len(store.todos)})
            elif url.path == "/todos":
                done = parse_qs(url.query).get("done", [None])[0]
                items = [t for t in store.todos if done is None or t["done"] == (done == "true")]
                self._send(200, {"todos": items})
            elif url.path == "/stats":
                finished = sum(t["done"] for t in store.todos)
                self._send(200, {"open": len(store.todos) - finished, "done": finished})
            else:
                self._send(404, {"error": "not_found", "message": f"No route {url.path}."})

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, {"error": "bad_json", "message": "The body is not JSON."})
            return
        store = self.server.store
        done = re.fullmatch(r"/todos/(\d+)/done", urlsplit(self.path).path)
        with store.lock:
            if urlsplit(self.path).path == "/todos":
                title = body.get("title") if isinstance(body, dict) else None
                if not isinstance(title, str) or not title.strip():
                    self._send(422, {"error": "invalid", "message": "title is required."})
                    return
                todo = {"id": len(store.todos) + 1, "title": title.strip(), "done": False}
                store.todos.append(todo)
                self._send(201, todo)
            elif done:
                todo = next((t for t in store.todos if t["id"] == int(done.group(1))), None)
                if todo is None:
                    self._send(404, {"error": "not_found", "message": f"No to-do {done.group(1)}."})
                    return
                todo["done"] = True
                self._send(200, todo)
            else:
                self._send(404, {"error": "not_found", "message": "No such route."})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: TodoStore) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = store


@dataclass
class RunningAPI:
    url: str
    token: str
    store: TodoStore


@contextlib.contextmanager
def serve(token: str | None = None) -> Iterator[RunningAPI]:
    """Run the API in a background thread on a free port of 127.0.0.1 until the block ends."""
    store = TodoStore(token or secrets.token_urlsafe(24))
    server = _Server(store)
    thread = threading.Thread(target=server.serve_forever, name="demo-api", daemon=True)
    thread.start()
    try:
        yield RunningAPI(f"http://127.0.0.1:{server.server_address[1]}", store.token, store)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


if __name__ == "__main__":
    import time

    with serve() as api:
        print(f"to-do API at {api.url}; token {api.token}  (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
