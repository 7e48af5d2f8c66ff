"""A stand-in for Slack's Web API and incoming webhooks, answering as Slack documents.

Web API methods answer HTTP 200 with ``{"ok": false, "error": "<code>"}`` on
failure (``not_authed``, ``invalid_auth``, ``channel_not_found``,
``not_in_channel``, ``no_text``...), and HTTP 429 with ``Retry-After`` when rate
limited. Incoming webhooks answer plain text: ``ok`` or an error code with a
4xx status (400 ``no_text``/``invalid_payload``, 403 ``invalid_token``,
404 ``no_service``). File uploads follow the current flow:
``files.getUploadURLExternal`` → POST the bytes to the returned URL →
``files.completeUploadExternal``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from .server import FakeServer, Recorded, Reply

TEAM = {"team": "Flowkit Test", "team_id": "T0FLOWKIT", "user": "flowbot", "user_id": "U0FLOWBOT", "bot_id": "B0BOT"}


class FakeSlack(FakeServer):
    """Slack with one valid bot token, a few channels and any number of webhooks.

    Args:
        token: the bot token Slack accepts.
        webhooks: webhook paths (``/services/T…/B…/secret``) that exist.
    """

    def __init__(
        self, *, token: str = "xoxb-valid-token", webhooks: tuple[str, ...] = ("/services/T0/B0/hook",)
    ) -> None:
        super().__init__()
        self.token = token
        self.webhooks = set(webhooks)
        self.channels = {"general": "C0GENERAL", "random": "C0RANDOM", "secret": "C0SECRET"}
        self.not_member = {"C0SECRET"}
        self.messages: list[dict[str, Any]] = []
        self.webhook_messages: list[dict[str, Any]] = []
        self.uploads: dict[str, dict[str, Any]] = {}
        self.rate_limited = False
        self._ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def webhook_url(self, path: str = "/services/T0/B0/hook") -> str:
        return f"{self.url}{path}"

    # -- routing ----------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if request.path.startswith("/api/"):
            return self._api(request.path[len("/api/") :], request)
        if request.path.startswith("/upload/v1/"):
            return self._receive_upload(request.path.rsplit("/", 1)[-1], request)
        return self._webhook(request)

    def _api(self, method: str, request: Recorded) -> Reply:
        if self.rate_limited:
            return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
        auth = request.headers.get("authorization", "")
        if not auth:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {self.token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(404, {"ok": False, "error": "unknown_method", "req_method": method})
        return Reply(200, handler(request.fields()))

    def _channel(self, name: str | None) -> str | None:
        if not name:
            return None
        name = name.lstrip("#")
        if name in self.channels.values():
            return name
        return self.channels.get(name)

    # -- Web API methods --------------------------------------------------------
    def _m_auth_test(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://flowkit-test.slack.com/", **TEAM}

    def _m_chat_postMessage(self, fields: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's method name
        channel = self._channel(fields.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
        if not fields.get("text") and not fields.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = f"1700000000.{next(self._ids):06d}"
        message = {"channel": channel, "ts": ts, **{k: v for k, v in fields.items() if k != "channel"}}
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": fields.get("text"), "ts": ts}}

    def _m_files_getUploadURLExternal(self, fields: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if not fields.get("filename") or not str(fields.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.uploads[file_id] = {"filename": fields["filename"], "length": int(fields["length"]), "data": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, fields: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        files = json.loads(fields.get("files") or "[]")
        channel = fields.get("channel_id")
        if channel and self._channel(channel) is None:
            return {"ok": False, "error": "channel_not_found"}
        done = []
        for item in files:
            upload = self.uploads.get(item.get("id"))
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            upload.update(title=item.get("title"), channel=channel, initial_comment=fields.get("initial_comment"))
            done.append(
                {
                    "id": item["id"],
                    "name": upload["filename"],
                    "title": item.get("title") or upload["filename"],
                    "size": len(upload["data"]),
                    "permalink": f"https://flowkit-test.slack.com/files/U0FLOWBOT/{item['id']}/{upload['filename']}",
                }
            )
        return {"ok": True, "files": done}

    def _receive_upload(self, file_id: str, request: Recorded) -> Reply:
        upload = self.uploads.get(file_id)
        if upload is None:
            return Reply(404, "not found")
        upload["data"] = request.body
        return Reply(200, f"OK - {len(request.body)}")

    # -- incoming webhooks ----------------------------------------------------------
    def _webhook(self, request: Recorded) -> Reply:
        if request.path not in self.webhooks:
            return Reply(404, "no_service")
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(payload, dict):
            return Reply(400, "invalid_payload")
        if not payload.get("text") and not payload.get("blocks") and not payload.get("attachments"):
            return Reply(400, "no_text")
        self.webhook_messages.append(payload)
        return Reply(200, "ok")
