"""``flowkit scheduler`` as real processes: two on one workspace fire each slot once; kill -9 and restart; SIGTERM.

Every wait here is bounded by a deadline (and each poll loop by a count).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from engine_support import add_tools

import flowkit as fk

FIRE = re.compile(r"fire schedule 'tick' slot (\S+):")
FINISHED = re.compile(r"run \S+ of schedule 'tick' slot (\S+): success")


@pytest.fixture
def tws(ws: fk.Workspace) -> fk.Workspace:
    add_tools(ws)
    wf = fk.Workflow("Tick")
    wf.add_node("n", integration="Tools", task="noop")
    ws.workflows.save(wf)
    return ws


def upcoming_seconds(count: int, lead: float) -> list[datetime]:
    """`count` consecutive whole seconds, the first at least `lead` s from now, all within one minute."""
    for _ in range(3):
        first = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=int(lead) + 1)
        if first.second + count <= 59:
            return [first + timedelta(seconds=i) for i in range(count)]
        time.sleep(60 - datetime.now(timezone.utc).second + 0.1)  # wait for the next minute, then retry
    raise AssertionError("could not find a minute with room for the slots")


def cron_for(slots: list[datetime]) -> str:
    """A six-field cron (croniter: seconds last) matching exactly these seconds of one minute."""
    first = slots[0]
    seconds = ",".join(str(slot.second) for slot in slots)
    return f"{first.minute} {first.hour} {first.day} {first.month} * {seconds}"


def start_scheduler(ws: fk.Workspace, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "flowkit", "-w", str(ws.path), "scheduler", "--poll", "0.5", "--grace", "10"],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(Path(fk.__file__).parents[1])},
        start_new_session=True,
    )


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 1):
        if condition():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def fired(*logs: Path) -> list[str]:
    return [slot for log in logs for slot in FIRE.findall(log.read_text(errors="replace"))]


def schedule_runs(ws: fk.Workspace) -> list[fk.Run]:
    return [run for run in ws.runs.list(workflow="Tick", limit=None) if run.trigger == "schedule"]


@pytest.mark.slow
def test_two_schedulers_on_one_workspace_fire_each_of_five_slots_once(tws: fk.Workspace, tmp_path: Path) -> None:
    slots = upcoming_seconds(5, lead=4.0)
    tws.schedules.create("tick", workflow="Tick", cron=cron_for(slots), timezone="UTC")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [start_scheduler(tws, log) for log in logs]
    try:
        wait_for(lambda: len(fired(*logs)) >= 5 and len(schedule_runs(tws)) >= 5, 30, "five fires and runs")
        time.sleep(1.5)  # a late double fire would show up here
    finally:
        codes = [stop(process) for process in processes]
    texts = [log.read_text(errors="replace") for log in logs]
    assert codes == [0, 0], texts
    expected = [slot.isoformat() for slot in slots]
    assert sorted(fired(*logs)) == expected, texts  # each slot exactly once across both schedulers
    runs = schedule_runs(tws)
    assert len(runs) == 5 and all(run.status == "success" for run in runs), texts
    assert tws.schedules.get("tick").last_slot == expected[-1]
    assert all("scheduler stopped" in text for text in texts)


@pytest.mark.slow
def test_a_scheduler_killed_and_restarted_never_fires_a_slot_twice(tws: fk.Workspace, tmp_path: Path) -> None:
    slots = upcoming_seconds(6, lead=4.0)
    tws.schedules.create("tick", workflow="Tick", cron=cron_for(slots), timezone="UTC", catchup=True)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    process = start_scheduler(tws, first)
    try:
        wait_for(lambda: len(FINISHED.findall(first.read_text(errors="replace"))) >= 2, 30, "two finished runs")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    before = fired(first)
    restarted = start_scheduler(tws, second)
    try:
        wait_for(lambda: len(fired(first, second)) >= 6, 30, "all six slots fired")
        time.sleep(1.5)
    finally:
        code = stop(restarted)
    assert code == 0, second.read_text()
    again = fired(second)
    assert not set(before) & set(again), f"fired again after the restart: {set(before) & set(again)}"
    assert sorted(before + again) == [slot.isoformat() for slot in slots]  # caught up, each exactly once
    assert len(schedule_runs(tws)) == 6


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_the_scheduler_cleanly(tws: fk.Workspace, tmp_path: Path, signum: int) -> None:
    tws.schedules.create("tick", workflow="Tick", cron="0 2 * * *", timezone="Europe/Berlin")
    log = tmp_path / "s.log"
    process = start_scheduler(tws, log)
    try:
        wait_for(lambda: "scheduler started: 1 schedule(s)" in log.read_text(errors="replace"), 30, "the start line")
    finally:
        if process.poll() is None:
            process.send_signal(signum)
        try:
            code = process.wait(timeout=30)
        finally:
            stop(process)  # only if it is still running: SIGTERM, then kill
    text = log.read_text()
    assert code == 0, text
    assert f"received {signal.Signals(signum).name}" in text and "scheduler stopped" in text and "Traceback" not in text
