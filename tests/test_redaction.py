"""`flowkit.redaction`: which values are secret, and every form of them masked — but only them."""

from __future__ import annotations

import base64
import html
import json
import re
import urllib.parse

import pytest
from helpers import find_canary

from flowkit.redaction import Redactor, secret_leaves, strip_userinfo


def test_the_redactor_masks_secrets_and_their_encodings(canary: str) -> None:
    redact = Redactor([canary, "ab", None, True, 12345])
    text = f"a {canary} b {canary.encode().hex()} c"
    assert find_canary(canary, redact.text(text)) == []
    assert redact.text(text).count("***") == 2
    value = {canary: [f"x{canary}", ("t", canary)], "n": 12345, "short": "ab"}
    # 12345 is a secret: as a number it is masked too (it was left alone before issue 12)
    assert redact(value) == {"***": ["x***", ["t", "***"]], "n": "***", "short": "ab"}
    assert Redactor([])("left alone") == "left alone"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: urllib.parse.quote(s),
        lambda s: urllib.parse.quote(s, safe="/@:"),
        lambda s: re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(s, safe="")),
        lambda s: urllib.parse.quote_plus(s),
        lambda s: s.encode().hex().upper(),
        lambda s: base64.b64encode(b"Bearer " + s.encode()).decode(),
        lambda s: "Basic " + base64.b64encode(b"someone:" + s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(b"xy" + s.encode()).decode(),
        lambda s: base64.b32encode(b"Basic " + s.encode()).decode(),
        lambda s: html.escape(s),
        lambda s: repr(s),
        lambda s: json.dumps(s),
        lambda s: json.dumps(s, ensure_ascii=False),
        lambda s: s[:9] + "\n" + s[9:],
    ],
    ids=[
        "quote",
        "quote-safe",
        "quote-lower",
        "quote_plus",
        "HEX",
        "bearer-b64",
        "basic",
        "urlsafe-b64",
        "b32",
        "html",
        "repr",
        "json",
        "json-unicode",
        "split-line",
    ],
)
def test_every_encoding_is_masked(canary: str, encode: object) -> None:
    secret = f"{canary}/é a+b@c:d'e\"f<g>&h\\i\tj"
    shown = Redactor([secret]).text(f"before {encode(secret)} after")  # type: ignore[operator]
    assert "***" in shown and canary[:12] not in shown and canary[-8:] not in shown, shown
    assert shown.startswith("before ") and shown.endswith(" after")


def test_a_short_secret_is_masked_only_as_a_whole_token() -> None:
    redact = Redactor(["sign", "4242"])
    assert redact.text("sign the signing; sign.") == "*** the signing; ***."
    assert redact.text("port 4242, not 42424") == "port ***, not 42424"
    assert redact(4242) == "***" and redact(42424) == 42424 and redact(True) is True


def test_secret_leaves_take_only_secret_fields_and_url_passwords() -> None:
    credentials = {
        "base_url": "https://admin:hunter2!@api.example/v1",
        "token": "tok-123456",
        "port": 587,
        "key": {"private_key": "pk-abcdef", "n": [1234567, True, None]},
    }
    leaves = secret_leaves(credentials, ["token", "key"])
    assert set(leaves) == {"admin:hunter2!", "hunter2!", "tok-123456", "pk-abcdef", "1234567"}
    assert "https://admin:hunter2!@api.example/v1" not in leaves and "587" not in leaves
    assert set(secret_leaves({"x": "abc", "y": 5})) == {"abc"}  # None: every field, numbers under 3 digits left out


def test_url_userinfo_is_stripped_from_every_text() -> None:
    assert strip_userinfo("GET https://u:p@host/x and ftp://tok@h") == "GET https://***@host/x and ftp://***@h"
    assert strip_userinfo("mail me@host, see http://host/a@b") == "mail me@host, see http://host/a@b"
    assert Redactor([]).text("http://user:pw@h/") == "http://***@h/"


def test_non_secret_text_is_left_exactly_as_it_was(canary: str) -> None:
    redact = Redactor([canary])
    text = "none of the 587 items at http://127.0.0.1:9/api/items %20 &amp; \\n"
    assert redact.text(text) == text
    assert redact({"a": [text, 587, 1.5, None]}) == {"a": [text, 587, 1.5, None]}
