"""The sqlite integration against real database files."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path

import pytest
from fakes import builtin_task

from flowkit.errors import ParamsError
from flowkit.integrations.registry import Registry


@pytest.fixture
def db(tmp_path: Path) -> dict:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, age INTEGER)")
        connection.executemany("INSERT INTO people (name, age) VALUES (?, ?)", [("ann", 31), ("bob", 42)])
    connection.close()
    return {"database": str(path)}


def run(task: str, credentials: dict, **params: object) -> dict:
    return builtin_task("sqlite", task)(credentials, params)


def rows(credentials: dict, sql: str = "SELECT name, age FROM people ORDER BY id") -> list:
    with sqlite3.connect(credentials["database"]) as connection:
        found = connection.execute(sql).fetchall()
    connection.close()
    return found


def test_module_declares_credentials_and_params() -> None:
    module = Registry(builtins=True, entry_points=False).module("sqlite")
    assert [p.name for p in module.credentials or []] == ["database", "read_only", "create"]
    assert set(module.tasks) == {"query", "execute", "test_connection"}
    assert all(spec.declared and spec.summary for spec in module.tasks.values())


# -- query -----------------------------------------------------------------------------------------
def test_query_with_bound_parameters(db: dict) -> None:
    result = run("query", db, sql="SELECT id, name, age FROM people WHERE age > ? ORDER BY id", parameters=[30])
    assert result == {
        "success": True,
        "message": "2 row(s).",
        "rows": [{"id": 1, "name": "ann", "age": 31}, {"id": 2, "name": "bob", "age": 42}],
        "columns": ["id", "name", "age"],
        "row_count": 2,
        "truncated": False,
    }
    named = run("query", db, sql="SELECT name FROM people WHERE name = :who", parameters={"who": "bob"})
    assert named["rows"] == [{"name": "bob"}]


def test_query_values_become_json(db: dict) -> None:
    result = run(
        "query",
        db,
        sql="SELECT x'00ff10' AS blob, 1e999 AS big, -1e999 AS small, NULL AS empty, "
        "p.id, q.id FROM people p JOIN people q ON q.id = p.id LIMIT 1",
    )
    (row,) = result["rows"]
    assert row["blob"] == base64.b64encode(b"\x00\xff\x10").decode()
    assert row["big"] == "inf" and row["small"] == "-inf" and row["empty"] is None
    assert result["columns"][-2:] == ["id", "id_2"] and row["id"] == row["id_2"] == 1


def test_query_caps_rows(db: dict) -> None:
    result = run(
        "query",
        db,
        sql="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT i FROM n",
        max_rows=10,
    )
    assert result["row_count"] == 10 and result["truncated"] is True and "raise max_rows" in result["message"]


def test_query_cannot_write(db: dict) -> None:
    result = run("query", db, sql="DELETE FROM people")
    assert result == {"success": False, "message": "query only reads; use execute to change data."}
    assert len(rows(db)) == 2


def test_a_runaway_query_is_stopped() -> None:
    forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    started = time.monotonic()
    result = run("query", {"database": ":memory:"}, sql=forever, timeout=0.2)
    assert time.monotonic() - started < 2
    assert result == {"success": False, "message": "The statement ran longer than timeout (0.2 s) and was stopped."}


# -- execute ---------------------------------------------------------------------------------------
def test_execute_insert_update_delete(db: dict) -> None:
    inserted = run("execute", db, sql="INSERT INTO people (name, age) VALUES (?, ?)", parameters=["cy", 7])
    assert inserted == {"success": True, "message": "1 row(s) changed.", "rowcount": 1, "lastrowid": 3}
    updated = run("execute", db, sql="UPDATE people SET age = age + 1 WHERE age < :limit", parameters={"limit": 40})
    assert updated["rowcount"] == 2
    returning = run("execute", db, sql="DELETE FROM people WHERE name = ? RETURNING id, name", parameters=["bob"])
    assert returning["rows"] == [{"id": 2, "name": "bob"}]
    assert rows(db) == [("ann", 32), ("cy", 8)]


def test_execute_many_is_one_transaction(db: dict) -> None:
    many = run(
        "execute",
        db,
        sql="INSERT INTO people (name, age) VALUES (?, ?)",
        many=True,
        parameters=[["dee", 1], ["eve", 2]],
    )
    assert many["success"] is True and many["rowcount"] == 2
    clash = run(
        "execute",
        db,
        sql="INSERT INTO people (name) VALUES (:name)",
        many=True,
        parameters=[{"name": "fay"}, {"name": "ann"}],
    )
    assert clash["success"] is False
    assert clash["message"] == "A constraint failed: UNIQUE constraint failed: people.name."
    assert [name for name, _ in rows(db)] == ["ann", "bob", "dee", "eve"]  # fay was rolled back with the clash


def test_values_are_bound_never_formatted(db: dict) -> None:
    hostile = "x'); DROP TABLE people; --"
    assert run("execute", db, sql="INSERT INTO people (name) VALUES (?)", parameters=[hostile])["success"] is True
    assert rows(db, "SELECT name FROM people WHERE id = 3") == [(hostile,)]
    two = run("execute", db, sql="DELETE FROM people; DROP TABLE people")
    assert two["success"] is False and "one statement at a time" in two["message"]
    assert len(rows(db)) == 3


@pytest.mark.parametrize(
    ("sql", "parameters", "message"),
    [
        ("SELEC 1", None, 'SQLite refused the statement: near "SELEC": syntax error.'),
        ("INSERT INTO nowhere VALUES (1)", None, "SQLite refused the statement: no such table: nowhere."),
        ("INSERT INTO people (name) VALUES (?)", [None], "A constraint failed: NOT NULL constraint failed: people"),
        ("INSERT INTO people (name, age) VALUES (?, ?)", ["a"], "SQLite refused the statement: Incorrect number"),
        ("INSERT INTO people (name) VALUES (?)", [["a"]], "SQLite refused the statement: Error binding parameter 1"),
    ],
)
def test_statement_errors(db: dict, sql: str, parameters: list | None, message: str) -> None:
    result = run("execute", db, sql=sql, parameters=parameters)
    assert result["success"] is False and result["message"].startswith(message)
    assert not result["message"].endswith("..")


def test_read_only_database(db: dict) -> None:
    read_only = {**db, "read_only": True}
    assert run("query", read_only, sql="SELECT count(*) AS n FROM people")["rows"] == [{"n": 2}]
    refused = run("execute", read_only, sql="DELETE FROM people")
    assert refused["message"] == (
        "The database is opened read-only (read_only in the credentials): it cannot be changed."
    )
    assert len(rows(db)) == 2


def test_a_locked_database_waits_then_says_so(db: dict) -> None:
    holder = sqlite3.connect(db["database"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = run("execute", db, sql="DELETE FROM people", timeout=0.2)
        assert time.monotonic() - started < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result["message"] == "The database stayed locked by another connection for 0.2 s; try again later."


def test_params_are_checked(db: dict) -> None:
    with pytest.raises(ParamsError, match="'parameters' must be a list"):
        run("query", db, sql="SELECT ?", parameters="ann")
    with pytest.raises(ParamsError, match="must be a list of lists or objects"):
        run("execute", db, sql="INSERT INTO people (name) VALUES (?)", many=True, parameters=["ann"])
    with pytest.raises(ParamsError, match="'sql' is required"):
        run("query", db)


# -- opening the file ------------------------------------------------------------------------------
def test_missing_files_are_not_created_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    missing = run("query", {"database": str(path)}, sql="SELECT 1")
    assert missing["success"] is False and "No database file at" in missing["message"]
    assert "set create to true" in missing["message"] and not path.exists()
    probe = run("test_connection", {"database": str(path), "create": True})
    assert probe["success"] is True and "will create it" in probe["message"] and not path.exists()
    made = run("execute", {"database": str(path), "create": True}, sql="CREATE TABLE t (x)")
    assert made["success"] is True and path.exists()


def test_things_that_are_not_databases(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("just text, long enough to not look like an empty database file " * 4)
    not_db = run("query", {"database": str(tmp_path / "notes.txt")}, sql="SELECT 1 FROM sqlite_master")
    assert not_db["message"] == "The file is not a SQLite database."
    folder = run("test_connection", {"database": str(tmp_path)})
    assert folder["success"] is False and folder["steps"][-1]["name"] == "config" and "is a folder" in folder["message"]
    unset = run("test_connection", {})
    assert unset["success"] is False and "Set database" in unset["message"]
    probe = run("test_connection", {"database": str(tmp_path / "notes.txt")})
    assert probe["success"] is False and probe["steps"][-1]["name"] == "request"


def test_connection_counts_tables(db: dict) -> None:
    result = run("test_connection", db)
    assert result["success"] is True and [s["name"] for s in result["steps"]] == ["config", "request"]
    assert result["message"].startswith("Opened app.db (read-write): 1 table(s), SQLite 3.")
    assert "each task starts with an empty one" in run("test_connection", {"database": ":memory:"})["message"]


def test_in_memory_database_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    made = run("execute", {"database": ":memory:", "create": True}, sql="CREATE TABLE t (x)")
    assert made["success"] is True
    assert run("query", {"database": ":memory:"}, sql="SELECT 6 * 7 AS answer")["rows"] == [{"answer": 42}]
    assert list(tmp_path.iterdir()) == []


# -- read-only means no file is written anywhere ---------------------------------------------------
@pytest.mark.parametrize("read_only", [True, False], ids=["read_only", "query"])
def test_a_read_only_connection_creates_no_file_anywhere(db: dict, tmp_path: Path, read_only: bool) -> None:
    """VACUUM INTO and ATTACH write files wherever they are told to, even on a read-only connection."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    credentials = {**db, "read_only": read_only}
    for sql in (
        f"VACUUM INTO '{elsewhere / 'copy.db'}'",
        f"ATTACH DATABASE '{elsewhere / 'new.db'}' AS other",
        f"ATTACH DATABASE 'file:{elsewhere / 'uri.db'}?mode=rwc' AS other",
    ):
        result = run("query", credentials, sql=sql)
        assert result["success"] is False, sql
    assert list(elsewhere.iterdir()) == []


def test_execute_is_refused_on_a_read_only_database_whatever_the_statement(db: dict, tmp_path: Path) -> None:
    read_only = {**db, "read_only": True}
    for sql in ("SELECT 1", f"ATTACH DATABASE '{tmp_path / 'x.db'}' AS x", "CREATE TEMP TABLE t (x)"):
        refused = run("execute", read_only, sql=sql)
        assert refused["success"] is False and "read-only" in refused["message"], sql
    assert not (tmp_path / "x.db").exists()


def test_a_query_result_is_capped_in_bytes_too(db: dict) -> None:
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT randomblob(100000) FROM n"
    )
    result = run("query", db, sql=sql, max_bytes=1_000_000)
    assert result["success"] is True and result["truncated"] is True
    assert 0 < result["row_count"] < 10 and "max_bytes" in result["message"]
    assert len(json.dumps(result)) < 1_200_000
    whole = run("query", db, sql=sql.replace("100000", "10"))
    assert whole["row_count"] == 50 and whole["truncated"] is False


def test_a_templated_sql_text_gets_a_warning_pointing_to_parameters(ws, db: dict) -> None:
    import flowkit as fk

    ws.types.create_from_module("sqlite")
    ws.integrations.create("App", type="sqlite", credentials=db)
    flow = fk.Workflow("lookup")
    flow.add_node(
        "find", integration="App", task="query", params={"sql": "SELECT * FROM people WHERE name = '{{ inputs.who }}'"}
    )
    flow.add_node(
        "bound",
        integration="App",
        task="query",
        params={"sql": "SELECT * FROM people WHERE name = ?", "parameters": ["{{ inputs.who }}"]},
    )
    problems = ws.validate(flow)
    warnings = [problem for problem in problems if problem.severity == "warning"]
    assert [problem.node for problem in warnings] == ["find"], problems
    assert "parameters" in warnings[0].message and "sql" in warnings[0].message
    assert not [problem for problem in problems if problem.severity == "error"]
