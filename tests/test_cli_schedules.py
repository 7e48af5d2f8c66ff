"""``flowkit schedules add|list|show|pause|resume|delete``: output, refusals and exit codes."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
from engine_support import add_tools

import flowkit as fk
from flowkit import cli


@pytest.fixture
def root(ws: fk.Workspace) -> str:
    add_tools(ws, credentials={"token": "tok-cli-secret-42"})
    wf = fk.Workflow("Report")
    wf.add_node("make", integration="Tools", task="echo", params={"day": "{{ inputs.day }}"})
    ws.workflows.save(wf)
    return str(ws.path)


def flowkit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_show_pause_resume_delete(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    add = ["schedules", "add", "nightly report", "--workflow", "Report", "--cron", "0 2 * * *"]
    options = ["--timezone", "Europe/Berlin", "-i", "day=today", "--inputs", '{"extra": [1, 2]}']
    code, out, err = flowkit(capsys, "-w", root, *add, *options)
    assert code == 0, err
    assert "Created schedule 'nightly report'" in out and "next run" in out and ("CET" in out or "CEST" in out)
    code, out, _ = flowkit(capsys, "-w", root, "schedules", "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:5] == ["NAME", "WORKFLOW", "CRON", "TIMEZONE", "STATE"]
    assert "nightly report" in row and "Europe/Berlin" in row and "active" in row and "02:00" in row
    code, out, _ = flowkit(capsys, "-w", root, "schedules", "show", "nightly report", "-n", "3")
    shown = json.loads(out)
    assert shown["inputs"] == {"day": "today", "extra": [1, 2]} and len(shown["next"]) == 3
    assert all(slot[11:16] == "02:00" for slot in shown["next"])
    assert flowkit(capsys, "-w", root, "schedules", "pause", "nightly report")[0] == 0
    assert "paused" in flowkit(capsys, "-w", root, "schedules", "list")[1]
    code, out, _ = flowkit(capsys, "-w", root, "schedules", "resume", "nightly report")
    assert code == 0 and "Resumed" in out and "next run" in out
    assert flowkit(capsys, "-w", root, "schedules", "delete", "nightly report")[0] == 0
    assert flowkit(capsys, "-w", root, "schedules", "list")[1].strip() == "(none)"


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--cron", "99 * * * *"], 2, "does not parse"),
        (["--cron", "0 2 * * *", "--timezone", "Nowhere/City"], 2, "Unknown timezone"),
        (["--cron", "0 2 * * *", "-i", "day=tok-cli-secret-42"], 2, "secret credential 'token'"),
        (["--cron", "0 2 * * *", "--inputs", "[1]"], 2, "must be a JSON object"),
        (["--cron", "0 2 * * *", "--inputs", "{nope"], 2, "not valid JSON"),
    ],
)
def test_add_refuses_bad_input_with_exit_code_2(
    root: str, capsys: pytest.CaptureFixture[str], extra: list[str], code: int, message: str
) -> None:
    got, out, err = flowkit(capsys, "-w", root, "schedules", "add", "s", "--workflow", "Report", "-i", "day=x", *extra)
    assert got == code and message in err and "tok-cli-secret-42" not in err + out


def test_unknown_names_exit_3(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = flowkit(capsys, "-w", root, "schedules", "add", "s", "--workflow", "Nope", "--cron", "0 2 * * *")
    assert code == 3 and "No workflow named 'Nope'" in err
    for command in ("pause", "resume", "delete", "show"):
        code, _, err = flowkit(capsys, "-w", root, "schedules", command, "ghost")
        assert code == 3 and "No schedule named 'ghost'" in err


def test_deleting_a_scheduled_workflow_is_refused(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    flowkit(capsys, "-w", root, "schedules", "add", "s", "--workflow", "Report", "--cron", "@daily", "-i", "day=x")
    code, _, err = flowkit(capsys, "-w", root, "workflows", "delete", "Report")
    assert code == 2 and "run by the schedule(s) s" in err


def test_help_lists_schedules_and_the_scheduler(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "schedules" in out and "scheduler" in out


def test_the_scheduler_command_fires_and_stops_on_sigterm_in_process(
    root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command as a function (so coverage sees the loop): every-second slots fire until SIGTERM."""
    ws = fk.Workspace(root)
    ws.schedules.create("tick", workflow="Report", cron="* * * * * *", inputs={"day": "x"})
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    timer = threading.Timer(2.5, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = cli.main(["-w", root, "scheduler", "--poll", "0.2", "--grace", "10"])
    finally:
        timer.cancel()
    err = capsys.readouterr().err
    assert code == 0, err
    fires = err.count("fire schedule 'tick'")
    assert 1 <= fires <= 4 and "received SIGTERM" in err and "scheduler stopped" in err
    runs = [run for run in ws.runs.list(workflow="Report", limit=None) if run.trigger == "schedule"]
    assert len(runs) == fires and all(run.ok for run in runs)
    assert ws.schedules.get("tick").last_run in {run.id for run in runs}
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before  # handlers given back


def test_a_schedule_whose_cron_no_longer_reads_is_listed_not_fatal(
    root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = fk.Workspace(root)
    ws.schedules.create("s", workflow="Report", cron="0 2 * * *", inputs={"day": "x"})
    ws.store.update_many("schedules", {"s": {"timezone": "Gone/Zone"}})  # e.g. dropped from tzdata
    code, out, err = flowkit(capsys, "-w", root, "schedules", "list")
    assert code == 0, err
    assert "never (Unknown timezone 'Gone/Zone'" in out
    assert "never (Unknown timezone" in fk.ui.ScheduleForm(ws).table.value
