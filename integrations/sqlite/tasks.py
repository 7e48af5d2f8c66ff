"""SQLite tasks with the standard library's sqlite3: read with query, change with execute.

Values are always bound as parameters (``?`` or ``:name``), never formatted
into the SQL (a template in ``sql`` gets a validation warning saying so).
``query`` runs on a connection that cannot write: the database is opened
read-only or with ``query_only``, and an authorizer refuses ``ATTACH`` and
``VACUUM INTO``, which would write other files wherever they are told to.
With ``read_only`` set, ``execute`` is refused outright. A query's answer is
capped in rows and in bytes; every statement is stopped when it runs past its
timeout; errors come back as ``success: False`` with SQLite's reason.
"""

from __future__ import annotations

import base64
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import flowkit
from flowkit.errors import ParamsError, TaskFailed

Result = dict[str, Any]

CREDENTIALS = [
    flowkit.Param("database", required=True, help="Path to the SQLite database file (or :memory: for a scratch one)."),
    flowkit.Param("read_only", kind="boolean", default=False, help="Open it read-only: execute is refused."),
    flowkit.Param(
        "create",
        kind="boolean",
        default=False,
        help="Create the file when missing (otherwise a missing file is an error, which catches typos).",
    ),
]
_SQL = flowkit.Param("sql", required=True, help="One SQL statement; put values in parameters, not in the text.")
_BIND_INSTEAD = {
    "sql": "values templated into SQL text can change the statement (SQL injection); keep the SQL fixed and "
    "put the values in parameters, e.g. sql 'SELECT * FROM t WHERE name = ?' with parameters "
    "['{{ inputs.name }}']"
}
_PARAMETERS = flowkit.Param(
    "parameters", kind="json", help="Values for the ? placeholders (a list) or :name ones (an object), e.g. [42]."
)
_TIMEOUT = flowkit.Param(
    "timeout", kind="number", default=30, help="Seconds to wait for a lock, and the longest a statement may run."
)
# How many SQLite virtual-machine steps pass between two looks at the clock.
_CLOCK_EVERY = 10_000
# ATTACH creates a database file at any path it is given; VACUUM INTO attaches its target first.
_REFUSED_READING = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}
_FETCH = 100


MEMORY = ":memory:"
_READ_ONLY = "The database is opened read-only (read_only in the credentials): it cannot be changed."


def _database(credentials: dict[str, Any]) -> Path:
    raw = credentials.get("database")
    if not raw:
        raise TaskFailed("Set database: the path to a SQLite file.")
    if raw == MEMORY:
        return Path(MEMORY)
    path = Path(str(raw)).expanduser()
    if path.is_dir():
        raise TaskFailed(f"{path} is a folder, not a database file.")
    if not path.exists() and (credentials.get("read_only") or not credentials.get("create")):
        raise TaskFailed(f"No database file at {path}: check the path, or set create to true to make a new one.")
    return path


@contextmanager
def _connect(credentials: dict[str, Any], timeout: float, *, writes: bool) -> Iterator[sqlite3.Connection]:
    """A connection that waits `timeout` for locks and stops any statement running longer than that."""
    path = _database(credentials)
    mode = "ro" if credentials.get("read_only") else ("rwc" if credentials.get("create") else "rw")
    # A fresh, empty database that lives as long as the task: for computing with SQL, not for keeping data.
    target = "file::memory:" if str(path) == MEMORY else f"{path.resolve().as_uri()}?mode={mode}"
    try:
        connection = sqlite3.connect(target, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise TaskFailed(f"Cannot open {path}: {exc}.") from exc
    with closing(connection):
        deadline = time.monotonic() + timeout
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), _CLOCK_EVERY)
        if not writes:
            connection.execute("PRAGMA query_only = ON")
            connection.set_authorizer(_reading_only)
        yield connection


def _reading_only(action: int, *_: Any) -> int:
    """The authorizer of connections that must not write: no ATTACH (nor VACUUM INTO, which attaches)."""
    return sqlite3.SQLITE_DENY if action in _REFUSED_READING else sqlite3.SQLITE_OK


def _bindings(value: Any, name: str) -> list[Any] | dict[str, Any]:
    if value is None:
        return []
    if not isinstance(value, (list, dict)):
        raise ParamsError(f"sqlite params: {name!r} must be a list (for ?) or an object (for :name), got {value!r}.")
    return value


def _value(value: Any) -> Any:
    """A column value as strict JSON: BLOBs as base64 text, infinities as text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _columns(cursor: sqlite3.Cursor) -> list[str]:
    """Column names, made unique ("id", "id_2") so rows can be objects."""
    names: list[str] = []
    for column in cursor.description or []:
        name, n = column[0], 1
        while (name if n == 1 else f"{name}_{n}") in names:
            n += 1
        names.append(name if n == 1 else f"{name}_{n}")
    return names


def _size(value: Any) -> int:
    """About how many bytes `value` takes in the result's JSON."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
    return 4 if value is None else len(str(value))


def _rows(
    cursor: sqlite3.Cursor, columns: list[str], limit: int, max_bytes: int
) -> tuple[list[dict[str, Any]], str | None]:
    """At most `limit` rows and about `max_bytes` of them, and which cap stopped it (None: all were read).

    Rows are fetched a few at a time, so a huge answer is never held whole.
    """
    rows: list[dict[str, Any]] = []
    size = 0
    overhead = sum(len(name) + 6 for name in columns)
    while True:
        fetched = cursor.fetchmany(_FETCH)
        if not fetched:
            return rows, None
        for row in fetched:
            if len(rows) == limit:
                return rows, "max_rows"
            values = list(map(_value, row))
            size += overhead + sum(map(_size, values))
            if size > max_bytes:
                return rows, "max_bytes"
            rows.append(dict(zip(columns, values, strict=True)))


def _explain(exc: sqlite3.Error, timeout: float, *, writes: bool) -> str:
    text = str(exc).rstrip(".")
    if text == "interrupted":
        return f"The statement ran longer than timeout ({timeout:g} s) and was stopped."
    if text == "not authorized":
        return "ATTACH and VACUUM INTO are refused when reading: they write files elsewhere; use execute."
    if "database is locked" in text:
        return f"The database stayed locked by another connection for {timeout:g} s; try again later."
    if "readonly database" in text:
        if writes:
            return _READ_ONLY
        return "query only reads; use execute to change data."
    if "file is not a database" in text:
        return "The file is not a SQLite database."
    if isinstance(exc, sqlite3.IntegrityError):
        return f"A constraint failed: {text}."
    return f"SQLite refused the statement: {text}."


# -- tasks -----------------------------------------------------------------------
@flowkit.task(
    params=[flowkit.Param("timeout", kind="number", default=10, help="Seconds to wait for a lock.")],
)
def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Open the database and count its tables (a missing file with create set is reported, not made)."""
    report = flowkit.ConnectionReport()
    try:
        report.step("config")
        path = _database(credentials)
        report.passed(f"Database file {path}.")
        report.step("request")
        if str(path) == MEMORY:
            message = f"An in-memory database (SQLite {sqlite3.sqlite_version}): each task starts with an empty one."
        elif not path.exists():
            message = f"{path} does not exist yet; the first task will create it."
        else:
            with _connect(credentials, float(params["timeout"]), writes=False) as connection:
                (tables,) = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
            access = "read-only" if credentials.get("read_only") else "read-write"
            message = f"Opened {path.name} ({access}): {tables} table(s), SQLite {sqlite3.sqlite_version}."
        report.passed(message)
    except TaskFailed as exc:
        report.failed(str(exc))
    except sqlite3.Error as exc:
        report.failed(_explain(exc, float(params["timeout"]), writes=False))
    return report.result()


@flowkit.task(
    params=[
        _SQL,
        _PARAMETERS,
        flowkit.Param("max_rows", kind="integer", default=1000, help="Return at most this many rows."),
        flowkit.Param(
            "max_bytes", kind="integer", default=1_000_000, help="Return at most about this much data, in bytes."
        ),
        _TIMEOUT,
    ],
    untemplated=_BIND_INSTEAD,
)
def query(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Run a read-only statement and return its rows as objects.

    Returns ``rows`` (a list of ``{column: value}``; BLOBs as base64), ``columns``, ``row_count``
    and ``truncated`` (more rows than max_rows).
    """
    for cap in ("max_rows", "max_bytes"):
        if params[cap] < 0:
            raise ParamsError(f"sqlite.query params: {cap!r} must be 0 or more.")
    bindings = _bindings(params.get("parameters"), "parameters")
    timeout = float(params["timeout"])
    with _connect(credentials, timeout, writes=False) as connection:
        try:
            cursor = connection.execute(params["sql"], bindings)
            columns = _columns(cursor)
            rows, capped = _rows(cursor, columns, params["max_rows"], params["max_bytes"])
        except sqlite3.Error as exc:
            raise TaskFailed(_explain(exc, timeout, writes=False)) from exc
    more = f" (more not returned: raise {capped})" if capped else ""
    return {
        "success": True,
        "message": f"{len(rows)} row(s){more}.",
        "rows": rows,
        "columns": columns,
        "row_count": len(rows),
        "truncated": capped is not None,
    }


@flowkit.task(
    params=[
        _SQL,
        _PARAMETERS,
        flowkit.Param("many", kind="boolean", default=False, help="parameters is a list of rows: run once per row."),
        _TIMEOUT,
    ],
    untemplated=_BIND_INSTEAD,
)
def execute(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Run one changing statement (INSERT, UPDATE, DELETE, CREATE...) in a transaction.

    Returns ``rowcount``, ``lastrowid``, and ``rows`` when the statement has a RETURNING clause.
    Nothing is kept when it fails.
    """
    if credentials.get("read_only"):
        raise TaskFailed(_READ_ONLY)
    timeout = float(params["timeout"])
    batch: list[Any] = []
    if params["many"]:
        given = params.get("parameters")
        if not isinstance(given, list) or not all(isinstance(row, (list, dict)) for row in given):
            raise ParamsError("sqlite.execute params: with many, 'parameters' must be a list of lists or objects.")
        batch = given
    else:
        bindings = _bindings(params.get("parameters"), "parameters")
    with _connect(credentials, timeout, writes=True) as connection:
        try:
            with connection:  # one transaction: committed on success, rolled back on error
                if params["many"]:
                    cursor = connection.executemany(params["sql"], batch)
                    returned: list[dict[str, Any]] = []
                else:
                    cursor = connection.execute(params["sql"], bindings)
                    returned = _rows(cursor, _columns(cursor), 10_000, 10_000_000)[0] if cursor.description else []
        except sqlite3.Error as exc:
            raise TaskFailed(_explain(exc, timeout, writes=True)) from exc
    result: Result = {
        "success": True,
        "message": f"{max(cursor.rowcount, 0)} row(s) changed.",
        "rowcount": cursor.rowcount,
        "lastrowid": cursor.lastrowid,
    }
    if returned:
        result["rows"] = returned
    return result
