"""The foundation's commands: list/show/delete, prompted credentials, key rotation, exit codes, --workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import find_canary, write_integration

import flowkit as fk
from flowkit import cli, crypto

TASKS = '''
def ping(credentials, params):
    """Answer."""
    return {"success": True, "message": "pong"}
'''
PARAMS = [
    fk.Param("token", kind="password", required=True),
    fk.Param("user", kind="text"),
    fk.Param("port", kind="integer"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = fk.Workspace(tmp_path / "ws")
    write_integration(ws.path / "integrations", "demo", TASKS)
    ws.types.create("demo", description="A demo", params=PARAMS)
    return ws.path


def flowkit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*argv: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process, with no terminal (so getpass reads stdin)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("flowkit")), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


# -- help ------------------------------------------------------------------------------------
def test_help_lists_the_command_groups() -> None:
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    for group in ("types", "integrations", "workflows", "runs", "key", "--workspace"):
        assert group in done.stdout


@pytest.mark.parametrize("group", ["types", "integrations", "workflows", "runs", "key"])
def test_each_group_has_help(capsys: pytest.CaptureFixture[str], group: str) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([group, "--help"])
    assert caught.value.code == 0
    assert "list" in capsys.readouterr().out or group == "key"


def test_a_missing_or_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["types"], ["frobnicate"], ["types", "list", "--bogus"]):
        with pytest.raises(SystemExit) as caught:
            cli.main(argv)
        assert caught.value.code == cli.EXIT_INVALID
    capsys.readouterr()


# -- types ------------------------------------------------------------------------------------
def test_types_list_show_create_delete(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = flowkit(capsys, "-w", str(root), "types", "list")
    assert code == 0 and "demo" in out and "token, user, port" in out
    code, out, _ = flowkit(capsys, "-w", str(root), "types", "show", "demo")
    assert code == 0 and json.loads(out) == fk.IntegrationType("demo", "A demo", PARAMS).to_dict()
    write_integration(root / "integrations", "other", TASKS)
    code, out, _ = flowkit(
        capsys,
        "types",
        "create",
        "other",
        "-w",
        str(root),
        "--param",
        '{"name": "key", "kind": "password", "required": true}',
    )
    assert code == 0 and "1 parameter" in out
    assert fk.Workspace(root).types.get("other").params == [fk.Param("key", kind="password", required=True)]
    code, out, _ = flowkit(capsys, "-w", str(root), "types", "delete", "other")
    assert code == 0 and [t.name for t in fk.Workspace(root).types.list()] == ["demo"]


@pytest.mark.parametrize("param", ["{not json", '"just a string"', '{"kind": "text"}', '{"name": "p", "kind": "x"}'])
def test_a_bad_param_spec_is_a_clear_input_error(root: Path, capsys: pytest.CaptureFixture[str], param: str) -> None:
    write_integration(root / "integrations", "other", TASKS)
    code, out, err = flowkit(capsys, "-w", str(root), "types", "create", "other", "--param", param)
    assert code == cli.EXIT_INVALID
    assert err.startswith("error: ") and "Traceback" not in err
    assert [t.name for t in fk.Workspace(root).types.list()] == ["demo"]


def test_exit_codes_for_not_found_and_in_use(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["types", "show", "ghost"],
        ["integrations", "show", "ghost"],
        ["workflows", "show", "ghost"],
        ["runs", "show", "ghost"],
        ["types", "delete", "ghost"],
        ["runs", "delete", "../x"],
    ):
        code, _, err = flowkit(capsys, "-w", str(root), *argv)
        assert code == cli.EXIT_NOT_FOUND, argv
        assert "ghost" in err or "x" in err
    fk.Workspace(root).integrations.create("Mine", type="demo", credentials={"token": "t"})
    code, _, err = flowkit(capsys, "-w", str(root), "types", "delete", "demo")
    assert code == cli.EXIT_INVALID and "Mine" in err


def test_exit_code_for_a_damaged_workspace_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    types = root / "types.json"
    types.write_bytes(types.read_bytes()[:-3])
    code, _, err = flowkit(capsys, "-w", str(root), "types", "list")
    assert code == cli.EXIT_STORE and str(types) in err


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "wf", "-i", f"x={DEEP}"],
        ["run", "wf", "-i", "x=" + "[" * 200 + "]" * 200],
        ["job", "wf", "-p", "x", DEEP],
        ["job", "wf", "--batch", "{batch}"],
        ["schedules", "add", "nightly", "--workflow", "wf", "--cron", "0 3 * * *", "-i", f"x={DEEP}"],
        ["schedules", "add", "nightly", "--workflow", "wf", "--cron", "0 3 * * *", "--inputs", f'{{"x": {DEEP}}}'],
    ],
    ids=["run -i", "run -i (past the depth limit)", "job -p", "job --batch", "schedules -i", "schedules --inputs"],
)
def test_deeply_nested_json_input_is_an_input_error(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"x": 1}\n{"x": ' + DEEP + "}\n")
    code, _, err = flowkit(capsys, "-w", str(root), *[arg.replace("{batch}", str(batch)) for arg in argv])
    assert code == cli.EXIT_INVALID, err
    assert "nested deeper" in err and "Traceback" not in err


def test_a_store_file_nested_too_deep_is_reported_damaged(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    types = root / "types.json"
    types.write_text('{"_default": {"1": ' + DEEP + "}}")
    code, _, err = flowkit(capsys, "-w", str(root), "types", "list")
    assert code == cli.EXIT_STORE and str(types) in err and "nested deeper" in err


def test_exit_code_for_key_problems(root: Path, capsys: pytest.CaptureFixture[str], isolated_env: Path) -> None:
    fk.Workspace(root).integrations.create("Mine", type="demo", credentials={"token": "t"})
    (isolated_env / "secret.key").unlink()
    code, _, err = flowkit(capsys, "-w", str(root), "key", "check")
    assert code == cli.EXIT_KEY and "No secret key found" in err
    code, _, err = flowkit(capsys, "-w", str(root), "key", "rotate")
    assert code == cli.EXIT_KEY
    assert list(isolated_env.iterdir()) == []


# -- integrations -------------------------------------------------------------------------------
def test_create_prompts_for_credentials_and_never_echoes_the_secret(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    asked: list[tuple[str, str]] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(("getpass", prompt))
        return canary

    def fake_input(prompt: str = "") -> str:
        asked.append(("input", prompt))
        return {"user: ": "bob", "port: ": "8080"}[prompt]

    monkeypatch.setattr(cli.commands.getpass, "getpass", fake_getpass)
    monkeypatch.setattr("builtins.input", fake_input)
    code, out, err = flowkit(capsys, "-w", str(root), "integrations", "create", "My Demo", "--type", "demo")
    assert code == 0, err
    assert asked == [("getpass", "token (required): "), ("input", "user: "), ("input", "port: ")]
    assert find_canary(canary, out, err) == []
    stored = fk.Workspace(root).integrations.get("My Demo")
    assert stored.credentials.reveal() == {"token": canary, "user": "bob", "port": 8080}
    code, out, err = flowkit(capsys, "-w", str(root), "integrations", "show", "My Demo")
    assert code == 0 and "'token': '***'" in out and find_canary(canary, out, err) == []
    code, out, err = flowkit(capsys, "-w", str(root), "integrations", "list")
    assert code == 0 and "My Demo" in out and "token" in out and find_canary(canary, out, err) == []


def test_create_in_a_real_process_reads_the_secret_without_echo(root: Path, canary: str) -> None:
    done = run_cli(
        "--workspace", str(root), "integrations", "create", "Piped", "--type", "demo", stdin=f"{canary}\nalice\n\n"
    )
    assert done.returncode == 0, done.stderr
    assert find_canary(canary, done.stdout, done.stderr) == []
    assert "token (required): " in done.stderr + done.stdout  # the prompt was shown
    assert fk.Workspace(root).integrations.get("Piped").credentials.reveal() == {"token": canary, "user": "alice"}


def test_create_refuses_missing_or_ended_input_and_saves_nothing(root: Path, canary: str) -> None:
    done = run_cli("-w", str(root), "integrations", "create", "Empty", "--type", "demo", stdin="\nbob\n\n")
    assert done.returncode == cli.EXIT_INVALID and "'token' is required" in done.stderr
    done = run_cli("-w", str(root), "integrations", "create", "Ended", "--type", "demo", stdin=f"{canary}\n")
    assert done.returncode == cli.EXIT_INVALID and "input ended" in done.stderr and "Traceback" not in done.stderr
    assert find_canary(canary, done.stdout, done.stderr) == []
    done = run_cli("-w", str(root), "integrations", "create", "Bad", "--type", "demo", stdin="tok\nbob\nlots\n")
    assert done.returncode == cli.EXIT_INVALID and "'port' must be a whole number" in done.stderr
    assert fk.Workspace(root).integrations.list() == []


def test_credentials_cannot_be_given_on_the_command_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["-w", str(root), "integrations", "create", "X", "--type", "demo", "--token", "abc"])
    assert caught.value.code == cli.EXIT_INVALID
    capsys.readouterr()


def test_integrations_delete_refuses_one_in_use(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = fk.Workspace(root)
    ws.integrations.create("Used", type="demo", credentials={"token": "t"})
    ws.integrations.create("Free", type="demo", credentials={"token": "t"})
    wf = fk.Workflow("Uses it")
    wf.add_node("p", integration="Used", task="ping")
    ws.workflows.save(wf)
    code, _, err = flowkit(capsys, "-w", str(root), "integrations", "delete", "Used")
    assert code == cli.EXIT_INVALID and "Uses it" in err
    code, out, _ = flowkit(capsys, "-w", str(root), "integrations", "delete", "Free")
    assert code == 0 and "Deleted" in out
    assert [i.name for i in ws.integrations.list()] == ["Used"]


# -- workflows and runs --------------------------------------------------------------------------
def test_workflows_list_show_delete(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = fk.Workspace(root)
    ws.integrations.create("Mine", type="demo", credentials={"token": "t"})
    wf = fk.Workflow("Daily", "Every day")
    wf.add_node("p", integration="Mine", task="ping", params={"x": 1})
    ws.workflows.save(wf)
    code, out, _ = flowkit(capsys, "-w", str(root), "workflows", "list")
    assert code == 0 and "Daily" in out and "Every day" in out
    code, out, _ = flowkit(capsys, "-w", str(root), "workflows", "show", "Daily")
    assert code == 0 and fk.Workflow.from_dict(json.loads(out)) == ws.workflows.get("Daily")
    code, _, _ = flowkit(capsys, "-w", str(root), "workflows", "delete", "Daily")
    assert code == 0 and ws.workflows.list() == []
    code, out, _ = flowkit(capsys, "-w", str(root), "workflows", "list")
    assert out.strip() == "(none)"


def test_runs_list_show_delete(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = fk.Workspace(root)
    runs = [fk.Run(workflow="Daily" if i % 2 else "Weekly", status="success" if i else "failed") for i in range(3)]
    runs[2].version = 2  # the workflow version that ran
    for run in runs:
        run.finished_at = run.started_at + 1.25
        ws.runs.save(run)
    code, out, _ = flowkit(capsys, "-w", str(root), "runs", "list")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].split()[:4] == ["ID", "WORKFLOW", "VERSION", "STATUS"]
    assert [line.split()[0] for line in lines[1:]] == [run.id for run in reversed(runs)]
    assert lines[1].split()[2] == "v2" and lines[2].split()[2] == "-"
    assert "1.25s" in out
    code, out, _ = flowkit(capsys, "-w", str(root), "runs", "list", "--workflow", "Weekly", "--status", "failed")
    assert [line.split()[0] for line in out.strip().splitlines()[1:]] == [runs[0].id]
    code, out, _ = flowkit(capsys, "-w", str(root), "runs", "list", "-n", "1")
    assert len(out.strip().splitlines()) == 2
    code, out, _ = flowkit(capsys, "-w", str(root), "runs", "show", runs[1].id)
    assert code == 0 and fk.Run.from_dict(json.loads(out)) == runs[1]
    code, _, _ = flowkit(capsys, "-w", str(root), "runs", "delete", runs[1].id)
    assert code == 0 and [r.id for r in ws.runs.list()] == [runs[2].id, runs[0].id]


# -- keys ---------------------------------------------------------------------------------------
def test_key_rotate_reencrypts_every_integration(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = fk.Workspace(root)
    for i in range(5):
        ws.integrations.create(f"I{i}", type="demo", credentials={"token": f"t{i}"})
    old_ids = {doc["key_id"] for doc in ws.store.all("integrations")}
    code, out, _ = flowkit(capsys, "-w", str(root), "key", "rotate")
    assert code == 0 and "Re-encrypted 5 integration(s)" in out
    new_ids = {doc["key_id"] for doc in ws.store.all("integrations")}
    assert len(new_ids) == 1 and new_ids.isdisjoint(old_ids)
    code, out, _ = flowkit(capsys, "-w", str(root), "key", "rotate", "--drop-old")
    assert code == 0
    assert len(crypto.key_file_path().read_text().split()) == 1
    assert [i.credentials["token"] for i in fk.Workspace(root).integrations.list()] == [f"t{i}" for i in range(5)]
    code, out, _ = flowkit(capsys, "-w", str(root), "key", "check")
    assert code == 0 and "OK" in out
    code, out, _ = flowkit(capsys, "key", "path")
    assert out.strip() == str(crypto.key_file_path())


# -- --workspace ----------------------------------------------------------------------------------
def test_the_workspace_option_works_before_or_after_the_command_and_from_the_environment(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for argv in (
        ["--workspace", str(root), "types", "list"],
        ["types", "list", "--workspace", str(root)],
        ["-w", str(tmp_path / "elsewhere"), "types", "list", "-w", str(root)],
    ):
        code, out, _ = flowkit(capsys, *argv)
        assert code == 0 and "demo" in out, argv
    monkeypatch.setenv("FLOWKIT_WORKSPACE", str(root))
    code, out, _ = flowkit(capsys, "types", "list")
    assert "demo" in out
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWKIT_WORKSPACE")
    code, out, _ = flowkit(capsys, "types", "list")
    assert code == 0 and out.strip() == "(none)" and (tmp_path / ".flowkit").is_dir()
