"""Slack tasks over the Web API (a bot token) or an incoming webhook, through slack_sdk.

Every task returns ``{"success", "message", ...}``. Slack's refusals (``ok:
false`` with ``invalid_auth``, ``channel_not_found``...; webhook error codes),
refused connections and timeouts come back as ``success: False`` with a
sentence saying what to fix; credential values never appear in a result.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient, WebhookResponse

import flowkit
from flowkit.errors import ParamsError, TaskFailed

Result = dict[str, Any]

DEFAULT_BASE_URL = "https://slack.com/api/"

CREDENTIALS = [
    flowkit.Param(
        "bot_token",
        kind="password",
        help="Bot User OAuth token (xoxb-…): posts to any channel the bot is in, uploads files.",
    ),
    flowkit.Param(
        "webhook_url",
        kind="password",
        help="Incoming webhook URL (https://hooks.slack.com/services/…): posts to its one channel.",
    ),
    flowkit.Param(
        "base_url",
        default=DEFAULT_BASE_URL,
        help="Web API root; change it only for Enterprise Grid, a proxy or a test server.",
    ),
]

# slack_sdk logs each failed request at ERROR level, and at DEBUG level whole
# requests, webhook URL (itself the secret) included, whenever its logger's own
# level allows it. The task reports failures in its result, so the SDK gets a
# logger that is set above anything it logs and passes nothing on.
_SDK_LOGGER = logging.getLogger("flowkit.integrations.slack.sdk")
_SDK_LOGGER.setLevel(logging.CRITICAL)
_SDK_LOGGER.propagate = False
if not _SDK_LOGGER.handlers:
    _SDK_LOGGER.addHandler(logging.NullHandler())

_TIMEOUT = flowkit.Param("timeout", kind="number", default=30, help="Seconds to wait for Slack before giving up.")
_CHANNEL = flowkit.Param(
    "channel",
    help="Channel name (#general) or ID (C0123…); needs bot_token. Leave empty to post through the webhook.",
)
_THREAD = flowkit.Param("thread_ts", help="Reply in the thread of this message timestamp (needs bot_token).")

# What Slack's error codes mean to the person reading the result.
_API_ERRORS = {
    "not_authed": "Slack received no token (not_authed): set bot_token.",
    "invalid_auth": "Slack rejected the bot token (invalid_auth): check bot_token; it may be mistyped or revoked.",
    "token_revoked": "The bot token was revoked (token_revoked): reinstall the Slack app and use the new token.",
    "token_expired": "The bot token expired (token_expired): refresh it or reinstall the Slack app.",
    "account_inactive": "The token belongs to a deactivated user or app (account_inactive).",
    "channel_not_found": "Slack channel {channel} not found (channel_not_found): check the name or ID and that the "
    "bot can see it (private channels need an invite).",
    "not_in_channel": "The bot is not a member of {channel} (not_in_channel): invite it with /invite @your-bot.",
    "is_archived": "Channel {channel} is archived (is_archived).",
    "no_text": "Slack needs some text or blocks to post (no_text).",
    "msg_too_long": "The message is longer than Slack allows (msg_too_long).",
    "invalid_blocks": "Slack refused the blocks (invalid_blocks): check them in Block Kit Builder.",
    "missing_scope": "The bot token lacks the scope {needed} (missing_scope): add it under OAuth & Permissions "
    "and reinstall the app.",
    "ratelimited": "Slack's rate limit was hit (ratelimited): retry in {retry_after} s.",
    "file_not_found": "Slack lost the uploaded file before it was shared (file_not_found): try again.",
}
_WEBHOOK_ERRORS = {
    "invalid_token": "Slack refused the webhook (invalid_token): the webhook URL is wrong or was revoked.",
    "no_service": "Slack does not know this webhook (no_service): it was removed or disabled; create a new one.",
    "no_team": "The webhook's workspace no longer exists (no_team).",
    "team_disabled": "The webhook's workspace is disabled (team_disabled).",
    "channel_not_found": "The webhook's channel no longer exists (channel_not_found).",
    "channel_is_archived": "The webhook's channel is archived (channel_is_archived).",
    "action_prohibited": "An admin restricted posting to the webhook's channel (action_prohibited).",
    "posting_to_general_channel_denied": "Only admins may post to the webhook's channel "
    "(posting_to_general_channel_denied).",
    "invalid_payload": "Slack could not read the message (invalid_payload).",
    "no_text": "Slack needs some text or blocks to post (no_text).",
    "too_many_attachments": "The message has more than 100 attachments (too_many_attachments).",
}
# Answers to an empty webhook post that prove the webhook exists without posting anything.
_WEBHOOK_ALIVE = {"no_text", "invalid_payload", "missing_text_or_fallback_or_attachments"}
_LEVELS = {"info": ":information_source:", "success": ":white_check_mark:", "warning": ":warning:", "error": ":x:"}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class _Context(dict[str, Any]):
    """Fills message templates; a placeholder without a value reads as "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


# -- plumbing shared by the tasks ------------------------------------------------
@contextmanager
def _talking(credentials: dict[str, Any], values: dict[str, Any]) -> Iterator[None]:
    """Slack's refusals and network failures inside the block become a `TaskFailed` saying what to fix."""
    try:
        yield
    except (SlackClientError, OSError) as exc:
        raise TaskFailed(_explain(exc, credentials, values)) from exc


def _base_url(credentials: dict[str, Any]) -> str:
    base = str(credentials.get("base_url") or DEFAULT_BASE_URL)
    if urlsplit(base).scheme not in ("http", "https"):
        raise TaskFailed("base_url must be an http(s) URL such as https://slack.com/api/.")
    return base if base.endswith("/") else base + "/"


def _client(credentials: dict[str, Any], timeout: float) -> WebClient:
    token = credentials.get("bot_token")
    if not token:
        raise TaskFailed("This needs a bot_token in the integration's credentials (the webhook cannot do it).")
    # No retry handlers: a retry would double the time a timeout takes; the workflow's retries decide instead.
    return WebClient(
        token=token,
        base_url=_base_url(credentials),
        timeout=timeout,  # type: ignore[arg-type]  # typed int, but handed to urlopen, which takes seconds as float
        retry_handlers=[],
        logger=_SDK_LOGGER,
    )


def _webhook_url(credentials: dict[str, Any]) -> str:
    url = str(credentials.get("webhook_url") or "")
    if urlsplit(url).scheme not in ("http", "https"):
        # Never echo the value: a webhook URL is itself the secret.
        raise TaskFailed("webhook_url must be an http(s) URL such as https://hooks.slack.com/services/….")
    return url


def _webhook_send(credentials: dict[str, Any], timeout: float, body: dict[str, Any]) -> WebhookResponse:
    url = _webhook_url(credentials)
    client = WebhookClient(url, timeout=timeout, retry_handlers=[], logger=_SDK_LOGGER)  # type: ignore[arg-type]
    try:
        return client.send_dict({key: value for key, value in body.items() if value is not None})
    except OSError as exc:
        where = f"the webhook at {urlsplit(url).hostname}"
        raise TaskFailed(_network_problem(exc, where, timeout)) from exc


def _explain(exc: BaseException, credentials: dict[str, Any], values: dict[str, Any]) -> str:
    """A sentence for the person who reads the result."""
    if isinstance(exc, TaskFailed):
        return str(exc)
    if isinstance(exc, SlackApiError):
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = str(data.get("error") or f"HTTP {exc.response.status_code}")
        context = _Context(
            channel=repr(values.get("channel") or "?"),
            needed=data.get("needed") or "?",
            retry_after=exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after") or "?",
        )
        return _API_ERRORS.get(code, f"Slack refused the request ({code}).").format_map(context)
    if isinstance(exc, SlackClientError):
        return f"Slack request failed: {exc}"
    where = f"the Web API at {urlsplit(str(credentials.get('base_url') or DEFAULT_BASE_URL)).hostname}"
    return _network_problem(exc, where, values.get("timeout"))


def _network_problem(exc: BaseException, where: str, timeout: Any) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"Slack ({where}) did not answer within {timeout} s (timed out); try again or raise timeout."
    if isinstance(reason, ConnectionRefusedError):
        return f"Could not connect to Slack ({where}): connection refused. Check the URL in the credentials."
    if isinstance(reason, socket.gaierror):
        return f"Could not resolve the host name of {where}; check the network and the URL in the credentials."
    if isinstance(reason, ssl.SSLError):
        return f"TLS with Slack ({where}) failed: {reason.__class__.__name__}."
    return f"Could not reach Slack ({where}): {reason.__class__.__name__}: {reason}"


def _post(credentials: dict[str, Any], values: dict[str, Any], *, text: str, blocks: list[Any] | None) -> Result:
    """Post through the Web API when a channel is given, else through the webhook."""
    channel = values.get("channel")
    timeout = float(values["timeout"])
    if channel:
        if not credentials.get("bot_token"):
            raise TaskFailed(
                "Posting to a named channel needs bot_token; a webhook always posts to its own channel "
                "(leave channel empty to use it)."
            )
        extra = {"thread_ts": values["thread_ts"]} if values.get("thread_ts") else {}
        with _talking(credentials, values):
            answer = _client(credentials, timeout).chat_postMessage(channel=channel, text=text, blocks=blocks, **extra)
        return {
            "success": True,
            "message": f"Posted to {channel}.",
            "channel": answer.get("channel"),
            "ts": answer.get("ts"),
            "via": "api",
        }
    if not credentials.get("webhook_url"):
        if credentials.get("bot_token"):
            raise TaskFailed("Give a channel: with only a bot_token Slack needs to know where to post.")
        raise TaskFailed("The integration has neither bot_token nor webhook_url: set one of them.")
    if values.get("thread_ts"):
        raise TaskFailed("thread_ts needs a channel and bot_token: a webhook cannot reply in threads.")
    with _talking(credentials, values):
        response = _webhook_send(credentials, timeout, {"text": text, "blocks": blocks})
    if response.status_code != 200:
        code = (response.body or "").strip()
        raise TaskFailed(_WEBHOOK_ERRORS.get(code, f"Slack refused the webhook post (HTTP {response.status_code})."))
    return {"success": True, "message": "Posted through the webhook.", "channel": None, "ts": None, "via": "webhook"}


def _clip(text: str, limit: int) -> str:
    """Slack refuses a block whose text is over its limit, so cut it with an ellipsis instead."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- tasks -----------------------------------------------------------------------
@flowkit.task(
    params=[flowkit.Param("timeout", kind="number", default=10, help="Seconds to wait for Slack before giving up.")],
)
def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Check the credentials: auth.test with the bot token, and that the webhook exists (nothing is posted)."""
    timeout = float(params["timeout"])
    report = flowkit.ConnectionReport()
    try:
        report.step("config")
        token, hook = credentials.get("bot_token"), credentials.get("webhook_url")
        if not token and not hook:
            raise TaskFailed("Set bot_token, webhook_url, or both.")
        client = _client(credentials, timeout) if token else None
        if hook:
            _webhook_url(credentials)
        present = " and ".join(name for name, value in (("bot_token", token), ("webhook_url", hook)) if value)
        report.passed(f"Credentials present: {present}.")
        if client is not None:
            report.step("auth")
            who = client.auth_test()
            report.passed(f"The bot token works: {who.get('user')} in {who.get('team')}.")
        if hook:
            report.step("request")
            # A post without text: Slack answers no_text for a live webhook and posts nothing.
            response = _webhook_send(credentials, timeout, {"text": ""})
            code = (response.body or "").strip()
            if response.status_code != 200 and code not in _WEBHOOK_ALIVE:
                raise TaskFailed(_WEBHOOK_ERRORS.get(code, f"Slack refused the webhook (HTTP {response.status_code})."))
            report.passed("The webhook exists (checked without posting).")
    except (TaskFailed, SlackClientError, OSError) as exc:
        report.failed(_explain(exc, credentials, params))
    return report.result()


@flowkit.task(
    params=[
        flowkit.Param("text", required=True, help="The message (Slack mrkdwn)."),
        _CHANNEL,
        _THREAD,
        flowkit.Param("blocks", kind="json", help="Block Kit blocks (a list); text is then the notification fallback."),
        _TIMEOUT,
    ],
)
def send_message(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Post a message to a channel (bot token) or to the webhook's channel.

    Returns ``channel`` and ``ts`` (the message's id, for thread replies) when sent with the bot token.
    """
    blocks = params.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        raise ParamsError("slack.send_message params: 'blocks' must be a list of Block Kit blocks.")
    return _post(credentials, params, text=params["text"], blocks=blocks)


@flowkit.task(
    params=[
        flowkit.Param("title", required=True, help="The headline."),
        flowkit.Param("text", default="", help="Details under the headline (Slack mrkdwn)."),
        flowkit.Param("level", kind="choice", choices=list(_LEVELS), default="info", help="How the notice is marked."),
        flowkit.Param("fields", kind="json", help='Label → value pairs shown as a grid, e.g. {"Run": "42"}.'),
        _CHANNEL,
        _THREAD,
        _TIMEOUT,
    ],
)
def send_notification(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Post a formatted notice: a headline marked by its level, details, and a grid of fields."""
    fields = params.get("fields") or {}
    if not isinstance(fields, dict):
        raise ParamsError("slack.send_notification params: 'fields' must be an object of label → value.")
    level, title, text = params["level"], params["title"], params["text"]
    # Slack's limits: a header holds 150 characters, a section 3000, a field 2000, a section 10 fields.
    header = {"type": "plain_text", "text": _clip(f"{_LEVELS[level]} {title}", 150), "emoji": True}
    blocks: list[dict[str, Any]] = [{"type": "header", "text": header}]
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}})
    grid = [{"type": "mrkdwn", "text": _clip(f"*{label}*\n{value}", 2000)} for label, value in fields.items()]
    blocks.extend({"type": "section", "fields": grid[start : start + 10]} for start in range(0, len(grid), 10))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Level: *{level}* · sent by flowkit"}]})
    fallback = f"[{level.upper()}] {title}" + (f": {text}" if text else "")
    return {**_post(credentials, params, text=fallback, blocks=blocks), "level": level}


@flowkit.task(
    params=[
        flowkit.Param("channel", required=True, help="Channel ID (C0123…): Slack's upload API takes IDs, not names."),
        flowkit.Param("path", help="A local file to upload."),
        flowkit.Param("content", help="Text to upload as a file, instead of path."),
        flowkit.Param("filename", help="Name shown in Slack (default: the file's name, or upload.txt)."),
        flowkit.Param("title", help="Title shown in Slack."),
        flowkit.Param("initial_comment", help="A message posted with the file."),
        _THREAD,
        _TIMEOUT,
    ],
)
def upload_file(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Upload a file or text into a channel (getUploadURLExternal → upload → completeUploadExternal).

    Returns ``file_id``, ``permalink``, ``name`` and ``size``.
    """
    channel, path, content = params["channel"], params.get("path"), params.get("content")
    if (path is None) == (content is None):
        raise ParamsError("slack.upload_file params: give exactly one of 'path' or 'content'.")
    if not _CHANNEL_ID.match(channel):
        raise TaskFailed(
            f"upload_file needs the channel's ID (like C0123ABCD), not {channel!r}: Slack's upload API takes "
            "only IDs. Find it at the bottom of the channel's details."
        )
    source: dict[str, Any]
    extra = {key: params[key] for key in ("title", "initial_comment", "thread_ts") if params.get(key)}
    with _talking(credentials, params):  # the file is read here too: a failing read is explained like before
        if path is not None:
            file = Path(path).expanduser()
            if not file.is_file():
                raise TaskFailed(f"No file to upload at {path!r}.")
            source = {"file": str(file), "filename": params.get("filename") or file.name}
        else:
            source = {"content": content, "filename": params.get("filename") or "upload.txt"}
        answer = _client(credentials, float(params["timeout"])).files_upload_v2(channel=channel, **source, **extra)
    shared = answer.get("file") or {}
    return {
        "success": True,
        "message": f"Uploaded {shared.get('name') or source['filename']} to {channel}.",
        "file_id": shared.get("id"),
        "name": shared.get("name"),
        "size": shared.get("size"),
        "permalink": shared.get("permalink"),
        "channel": channel,
    }
