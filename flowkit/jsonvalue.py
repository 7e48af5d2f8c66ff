"""Strict JSON values: what flowkit agrees to store, pass between nodes and show.

Python's ``json`` accepts NaN and Infinity, TinyDB turns int keys into strings
and tuples into lists without a word. flowkit refuses such values where they
enter, with an error naming where in the value the problem is, so what is
stored always reads back equal.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from .errors import NotJSONError

MAX_DEPTH = 64


def check_json(value: Any, where: str = "value") -> Any:
    """Return `value` unchanged if it is strict JSON, else raise `NotJSONError`.

    Args:
        value: the value to check.
        where: how to name the value in an error, e.g. ``params``.
    """
    # The fast pass builds no path strings; only a value that fails is walked
    # again by `_check`, which names where the problem is.
    if not _is_json(value, 0):
        _check(value, where, 0)
    return value


def _is_json(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str:
        return value.isascii() or _encodes(value)
    if value is None or kind is bool or kind is int:
        return True
    if depth > MAX_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _encodes(key)):
                return False
            leaf = type(item)  # the common leaves without a call each: this runs on every task's result
            if leaf is str:
                if not (item.isascii() or _encodes(item)):
                    return False
            elif not (item is None or leaf is bool or leaf is int or _is_json(item, depth + 1)):
                return False
        return True
    if kind is list:
        return all(_is_json(item, depth + 1) for item in value)
    if kind is float:
        return math.isfinite(value)
    return False  # subclasses and everything else: let `_check` judge and explain


def copy_json(value: Any) -> Any:
    """A copy of a JSON value with new containers (its leaves are immutable): a task may change it freely.

    What a task is handed is the run's own data (a node's params, the
    workflow's, an upstream result, the decrypted credentials); a task that
    changes a nested dict in place must not change them for the next call.
    """
    if isinstance(value, dict):
        return {key: copy_json(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) if isinstance(item, (dict, list)) else item for item in value]
    return value


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise NotJSONError(f"{path} is nested deeper than {MAX_DEPTH} levels.", path=path)
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJSONError(f"{path} is {value!r}, which JSON cannot hold.", path=path)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJSONError(
                    f"{path} has a key {key!r} of type {type(key).__name__}; JSON object keys must be strings.",
                    path=path,
                )
            _check_text(key, path)
            _check(item, f"{path}.{key}", depth + 1)
        return
    kind = type(value).__name__
    hint = " (use a list)" if isinstance(value, (tuple, set, frozenset)) else ""
    raise NotJSONError(f"{path} is a {kind}, which is not a JSON value{hint}.", path=path)


def _check_text(text: str, path: str) -> None:
    # A lone surrogate ("\ud800") is a valid Python str but no valid UTF-8:
    # it would fail only later, when the file is written.
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise NotJSONError(
                f"{path} holds {text[exc.start]!r} at position {exc.start}, a lone surrogate "
                "that is not valid Unicode text.",
                path=path,
            ) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_or_text(text: str, what: str = "value") -> Any:
    """A value typed as text (a CLI input): JSON where it parses (``3``, ``[1, 2]``, ``true``), else the text.

    JSON that parses but flowkit cannot hold (nested deeper than `MAX_DEPTH`),
    or nests too deep to parse at all, is refused rather than taken as text.

    Raises:
        NotJSONError: naming `what`.
    """
    try:
        value = loads(text)
    except NotJSONError as exc:
        raise NotJSONError(f"{what}: {exc}", path=what) from None
    except ValueError:
        return text
    return check_json(value, what)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Serialise strict JSON (no NaN/Infinity)."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False, indent=indent)


def dumps_checked(value: Any) -> str:
    """`dumps_checked_bytes` as text."""
    return dumps_checked_bytes(value).decode()


def dumps_checked_bytes(value: Any) -> bytes:
    """Serialise a value already checked as strict JSON, fast, as UTF-8: one line (no spaces), for records.

    orjson encodes a node's record 3-4 times faster than the standard library
    (its floats, the times, most of all). It would write NaN as ``null``
    instead of refusing it, hence only for checked values; what it does not
    take (integers past 64 bits) goes to the standard library.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()


def loads(text: str | bytes) -> Any:
    """Parse strict JSON; NaN and Infinity are refused with ``ValueError``.

    Raises:
        NotJSONError: the text nests too deep for Python's parser, which
            recurses (a ``ValueError`` too, so callers reading files or input
            report it like any other bad JSON instead of a RecursionError).
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise NotJSONError(
            f"The JSON text is nested deeper than {MAX_DEPTH} levels (far deeper: too deep to read).", path="text"
        ) from None
