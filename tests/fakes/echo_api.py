"""A small web API for the generic http integration: it echoes requests back and answers on demand.

Routes: ``/echo`` (the request as JSON, headers included: a server that
quotes credentials back), ``/status/<code>``, ``/text``, ``/big?size=N``,
``/cookie`` (sets a cookie), ``/redirect?to=URL`` (302 there).
"""

from __future__ import annotations

from .server import FakeServer, Recorded, Reply


class EchoServer(FakeServer):
    """Answers by path; see the module docstring."""

    def handle(self, request: Recorded) -> Reply:
        path = request.path.rstrip("/").split("/v1", 1)[-1] if request.path.startswith("/v1") else request.path
        if path == "/echo" or path.startswith("/echo/") or path == "":
            return Reply(
                200,
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "headers": request.headers,
                    "body": request.body.decode(errors="replace"),
                },
            )
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[-1])
            return Reply(code, {"error": f"status {code}"})
        if path == "/text":
            return Reply(200, "plain words")
        if path == "/big":
            size = int(request.query.get("size", "200000"))
            if request.query.get("json"):
                return Reply(200, ["x" * 100] * (size // 106 + 1))
            return Reply(200, "x" * size)
        if path == "/cookie":
            return Reply(200, {"ok": True}, {"Set-Cookie": "session=abc123; HttpOnly", "X-Request-Id": "r-1"})
        if path == "/redirect":
            return Reply(302, "", {"Location": request.query["to"]})
        return Reply(404, {"error": "no such route"})
