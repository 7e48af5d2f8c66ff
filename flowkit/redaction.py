"""Masking secrets where things are shown or recorded — never in what is handed on.

**The rule.** Only *secret* credential values are masked: the fields whose
`Param.secret` is true (``kind="password"``, and ``json`` fields marked
``secret=True``), plus the password of any URL with userinfo in any field.
Non-secret fields (a base URL, a host, a port, a folder, a choice) are shown
as they are everywhere: masking them corrupts messages and data and protects
nothing. Masking happens where a value is *shown or recorded* (run records,
events, logs, the UI, the CLI, reports, exceptions); what a task returns is
*handed on* to downstream templates as it is, so a task that returns a
secret on purpose passes it on, and the record shows ``***``.

**What a secret is made of** (`secret_leaves`): a string is one secret; a
number is its decimal text (a task may hand an integer secret back as an
int); a secret ``json`` value gives every string and number inside it, at
any depth. Shorter than `MIN_LENGTH` characters is not masked at all.

**How a text is masked** (`Redactor`). One regular expression holds every
form of every secret, longest secret first (so a secret containing another is
masked whole):

* *the plain family*, one pattern per secret built character by character:
  each character matches itself or any way a common encoder writes it —
  percent-encoding in either hex case (so ``quote`` with *any* ``safe`` and
  ``quote_plus``, whose ``+`` stands for a space), HTML escapes, and
  backslash escapes (``repr`` and JSON: ``\\'``, ``\\"``, ``\\n``, ``\\xNN``,
  ``\\uNNNN``) — with an optional line break between characters, so a secret
  wrapped over two lines is still found;
* *whole tokens for short secrets*: a secret under `SHORT` characters (``sign``)
  is masked only where it stands as a token of its own, never inside another
  word (``signing`` stays); longer ones are masked anywhere;
* *binary encodings* as literal forms: hex in both cases, and base64 (standard
  and URL-safe) and base32 of the secret *at every byte offset*. A secret
  inside a longer encoded text (``b64("Bearer " + s)``, ``Basic
  b64("user:pass")``) shifts its bits by the prefix's length; the characters
  that depend only on the secret's bytes are the same for every prefix of the
  same length modulo the block size (3 bytes for base64, 5 for base32), so
  the middle of each shifted encoding is a fixed string to look for. Middles
  shorter than 6 characters (secrets under 5 bytes) are too short to be told
  apart from ordinary text; for those only the complete encodings of the
  secret alone and of ``"Bearer " + secret`` are looked for.

Before running the expression, a cheap test of plain substrings (the secret,
its binary forms, and the escape characters ``%``, ``&``, ``\\``, a line
break) rules out almost every text, so masking costs a few substring
searches per string. Every text also loses the userinfo of its URLs
(``http://admin:pw@host`` → ``http://***@host``).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import ValidationError
from .model import MASK

#: Secrets shorter than this are not masked (masking every "ab" would destroy text).
MIN_LENGTH = 3
#: Secrets shorter than this are masked only as whole tokens.
SHORT = 8
#: Encoded forms shorter than this are not looked for inside longer tokens.
MIN_ENCODED = 6

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@]*@")
_B64 = "A-Za-z0-9+/=_-"
_NEVER_QUOTED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_HTML = {"&": ("&amp;",), "<": ("&lt;",), ">": ("&gt;",), '"': ("&quot;", "&#34;", "&#x22;"), "'": ("&#x27;", "&#39;")}
_BACKSLASH = {"'": "'", '"': '"', "\\": "\\", "\n": "n", "\t": "t", "\r": "r", "/": "/"}
_MARKERS = ("%", "&", "\\", "\n", "+")


# -- what a secret is made of ---------------------------------------------------------
def _leaves(value: Any) -> Iterator[str]:
    """Every string and number inside a value, as text (keys of a JSON object are not secrets)."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield repr(value)


def url_passwords(value: Any) -> list[str]:
    """The secrets in the userinfo of URLs anywhere in `value`.

    ``http://user:pw@host`` gives ``user:pw`` (a message naming the host
    without the scheme still shows it) and ``pw``; ``https://<token>@host``
    gives the token when it is at least `SHORT` characters (a bare user name
    such as ``admin`` is not a secret).
    """
    found = []
    for text in _leaves(value):
        if "@" in text and "://" in text:
            for match in re.finditer(r"://([^\s/?#@]*)@", text):
                userinfo = match.group(1)
                _, colon, password = userinfo.partition(":")
                if colon and password:
                    found += [userinfo, urllib.parse.unquote(userinfo), password, urllib.parse.unquote(password)]
                elif len(userinfo) >= SHORT:
                    found.append(userinfo)
    return found


def secret_leaves(credentials: Mapping[str, Any], secret_fields: Collection[str] | None = None) -> tuple[str, ...]:
    """What to mask for these credentials: every leaf of the secret fields, and URL passwords in any field.

    Args:
        credentials: the plain credential values.
        secret_fields: the names of the secret fields (`IntegrationType.secret_fields`);
            None when the type is unknown: then every field is taken as secret.
    """
    found: dict[str, None] = {}
    for name, value in credentials.items():
        if secret_fields is None or name in secret_fields:
            found.update(dict.fromkeys(_leaves(value)))
        found.update(dict.fromkeys(url_passwords(value)))
    return tuple(text for text in found if len(text) >= MIN_LENGTH)


def strip_userinfo(text: str) -> str:
    """`text` with the userinfo of every URL replaced by ``***``."""
    return _URL_USERINFO.sub(r"\1" + MASK + "@", text) if "@" in text and "://" in text else text


# -- the forms of one secret -------------------------------------------------------------
def _hex_byte(byte: int) -> str:
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{byte:02x}")


def _char_pattern(char: str) -> str:
    """Every way `char` is commonly written: itself, percent-, HTML- or backslash-escaped."""
    forms = [re.escape(char)]
    if char not in _NEVER_QUOTED:
        forms.append("".join("%" + _hex_byte(byte) for byte in char.encode()))
    if char == " ":
        forms.append(r"\+")
    forms += [re.escape(entity) for entity in _HTML.get(char, ())]
    if char in _BACKSLASH:
        forms.append(re.escape("\\" + _BACKSLASH[char]))
    code = ord(char)
    if code < 0x20 or code >= 0x7F:
        if code <= 0xFF:
            forms.append(r"\\x" + _hex_byte(code))
        if code <= 0xFFFF:
            forms.append(r"\\u" + _hex_byte(code >> 8) + _hex_byte(code & 0xFF))
        else:
            forms.append(r"\\U" + "".join(_hex_byte(b) for b in code.to_bytes(4, "big")))
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            forms.append("".join(r"\\u" + _hex_byte(half >> 8) + _hex_byte(half & 0xFF) for half in (high, low)))
    return forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"


def _plain_pattern(secret: str) -> str:
    """The secret, each character in any of its written forms, a line break allowed between them."""
    body = r"(?:\r?\n)?".join(_char_pattern(char) for char in secret)
    return rf"(?<!\w){body}(?!\w)" if len(secret) < SHORT else body


def _middles(encode: Any, raw: bytes, block: int, bits: int) -> set[str]:
    """The characters of `encode(prefix + raw)` that depend on `raw` alone, for every prefix length mod `block`."""
    found = set()
    for offset in range(block):
        encoded = encode(b"\0" * offset + raw + b"\0" * block).decode()
        start = -(-offset * 8 // bits)  # ceil: the first character holding only the secret's bits
        end = (offset + len(raw)) * 8 // bits  # the first character past them
        if end - start >= MIN_ENCODED:
            found.add(encoded[start:end])
    return found


def _encoded_patterns(secret: str) -> tuple[list[str], set[str]]:
    """Hex (both cases), base64 (standard, URL-safe) and base32 forms of the secret: (patterns, literal forms).

    The middles at every offset are looked for anywhere; complete encodings of a
    short secret only as whole tokens of the encoding's alphabet.
    """
    raw = secret.encode()
    anywhere = {raw.hex(), raw.hex().upper()} if len(raw) * 2 >= SHORT else set()
    whole = set() if anywhere else {raw.hex(), raw.hex().upper()}
    for encode, block, bits in ((base64.b64encode, 3, 6), (base64.b32encode, 5, 5)):
        anywhere |= _middles(encode, raw, block, bits)
        for complete in (encode(raw).decode().rstrip("="), encode(b"Bearer " + raw).decode().rstrip("=")):
            (anywhere if len(complete) >= SHORT else whole).add(complete)
    anywhere |= {form.replace("+", "-").replace("/", "_") for form in anywhere}
    whole |= {form.replace("+", "-").replace("/", "_") for form in whole}
    whole = {form for form in whole - anywhere if len(form) >= 4}
    patterns = [re.escape(form) for form in sorted(anywhere, key=len, reverse=True)]
    patterns += [rf"(?<![{_B64}]){re.escape(form)}(?![{_B64}])" for form in sorted(whole, key=len, reverse=True)]
    return patterns, anywhere | whole


# -- masking -------------------------------------------------------------------------------
class Redactor:
    """Masks every form of the given secrets in texts and JSON-like values (see the module docstring).

    Args:
        secrets: secret values; each is reduced to its leaves (`secret_leaves`).
    """

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        texts = sorted({leaf for secret in secrets for leaf in _leaves(secret) if len(leaf) >= MIN_LENGTH}, key=len)
        self.secrets = frozenset(texts)
        patterns: list[str] = []
        needles: set[str] = set()
        for secret in reversed(texts):  # longest first
            encoded, forms = _encoded_patterns(secret)
            patterns += [*encoded, _plain_pattern(secret)]
            needles |= forms | {secret}
        needles.update(_MARKERS)
        # A quick test first: any match holds the secret as it is, a literal form, or an escape character.
        self._quick = re.compile("|".join(map(re.escape, sorted(needles, key=len, reverse=True))))
        self._pattern = re.compile("|".join(patterns)) if patterns else None
        # Short texts found to hold nothing to mask: keys and values such as "success" or "ok" come back
        # in every result. A redactor's secrets never change, so a clean text stays clean.
        self._clean: set[str] = set()

    @classmethod
    def of(cls, secrets: tuple[str, ...]) -> Redactor:
        """The redactor of these secrets, built once per distinct tuple (building one compiles a pattern)."""
        return _cached(secrets)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __repr__(self) -> str:
        return f"Redactor({len(self.secrets)} secret(s))"

    def _may_hold(self, text: str) -> bool:
        return self._pattern is not None and self._quick.search(text) is not None

    def text(self, text: str) -> str:
        """`text` with every form of every secret, and every URL's userinfo, replaced by ``***``."""
        if text in self._clean:
            return text
        masked = strip_userinfo(self._pattern.sub(MASK, text) if self._may_hold(text) else text)  # type: ignore[union-attr]
        if len(text) <= _CLEAN_LENGTH and masked == text and len(self._clean) < _CLEAN_TEXTS:
            self._clean.add(text)  # a race between threads adds a clean text twice at worst
        return masked

    def finds(self, value: Any) -> bool:
        """Whether a string or number holds one of the secrets (in any of its forms)."""
        if isinstance(value, str):
            return self._may_hold(value) and self._pattern.search(value) is not None  # type: ignore[union-attr]
        return isinstance(value, (int, float)) and not isinstance(value, bool) and repr(value) in self.secrets

    def __call__(self, value: Any) -> Any:
        """Mask strings (keys too) and numbers equal to a secret anywhere inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return self._mask_dict(value)
        if isinstance(value, (list, tuple)):
            return [self(item) for item in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and repr(value) in self.secrets:
            return MASK
        return value

    def _mask_dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        # Every node's params and result pass here: known-clean texts, None and booleans are kept without a call.
        clean, masked = self._clean, {}
        for key, item in value.items():
            if isinstance(key, str) and key not in clean:
                key = self.text(key)
            if item is None or item is True or item is False or (type(item) is str and item in clean):
                masked[key] = item
            else:
                masked[key] = self(item)
        return masked


#: The clean texts a redactor remembers (see `Redactor.text`): at most this many, this long.
_CLEAN_TEXTS, _CLEAN_LENGTH = 2048, 64


@functools.lru_cache(maxsize=64)
def _cached(secrets: tuple[str, ...]) -> Redactor:
    return Redactor(secrets)


def redactor_for(credentials: Mapping[str, Any], secret_fields: Collection[str] | None = None) -> Redactor:
    """The `Redactor` of one integration's credentials (every field secret when `secret_fields` is None)."""
    return Redactor.of(secret_leaves(credentials, secret_fields))


# -- refusing a secret where it does not belong ------------------------------------------------
#: (integration, field, value) of a stored secret, as `IntegrationCollection.stored_secrets` lists them.
StoredSecret = tuple[str, str, Any]

RUN_INPUT_ADVICE = (
    "Runs never take secrets as inputs: the workflow's nodes name their integration, "
    "and flowkit decrypts what they use."
)
PARAMS_ADVICE = (
    "Do not type secrets into a node's params: use that integration for the node "
    "(its task gets the value in its credentials), or a template reading an upstream result."
)


def _paths(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every key and leaf inside a JSON value, with where it is."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"a key of {path}", key
            yield from _paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, f"{path}[{index}]")
    else:
        yield path, value


def refuse_secrets(value: Any, stored: Iterable[StoredSecret], *, where: str, advice: str) -> None:
    """Refuse `value` if any string or number in it holds a stored secret (the message never shows it).

    The one refusal of every face: run inputs (`ws.run`, ``flowkit run``, the
    UI, jobs, batches) and node params at save. A value equal to a
    *non-secret* credential (a folder, a URL) is fine.

    Raises:
        ValidationError: naming where, the integration and the field.
    """
    checks = [(name, field, Redactor.of(secret_leaves({field: secret}))) for name, field, secret in stored]
    for path, leaf in _paths(value, where):
        for integration, field, redactor in checks:
            if redactor.finds(leaf):
                raise ValidationError(
                    f"{path} holds the value of the secret credential {field!r} of integration "
                    f"{integration!r}. {advice}"
                )


# -- notebooks ------------------------------------------------------------------------------
def scrub_notebook(path: str | os.PathLike[str], redactor: Redactor) -> bool:
    """Mask every secret (and its forms) anywhere in a notebook file: cells, outputs, metadata.

    Returns:
        Whether anything was masked (the file is rewritten, atomically, only then).
    """
    from .atomic import atomic_write
    from .jsonvalue import loads

    target = Path(path)
    try:
        data = loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    cleaned = redactor(data)
    if cleaned == data:
        return False
    atomic_write(target, (json.dumps(cleaned, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode())
    return True
