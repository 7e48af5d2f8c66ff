"""Schedules through the API: checks at create, the collection, and the cron / catch-up / DST logic on a fake clock."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from engine_support import add_tools

import flowkit as fk
from flowkit.errors import AlreadyExistsError, InUseError, InvalidName, ScheduleNotFound, ValidationError
from flowkit.schedules import CronTimes, Scheduler

BERLIN = ZoneInfo("Europe/Berlin")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> float:
        self.now = moment.timestamp()
        return self.now


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


@pytest.fixture
def sws(any_ws: fk.Workspace) -> fk.Workspace:
    """A workspace (files and memory) with the tools integration and two saved workflows."""
    add_tools(any_ws, credentials={"token": "tok-very-secret-123"})
    report = fk.Workflow("Report")
    report.add_node("make", integration="Tools", task="echo", params={"day": "{{ inputs.day }}"})
    any_ws.workflows.save(report)
    broken = fk.Workflow("Broken")
    broken.add_node("bad", integration="Tools", task="boom")
    any_ws.workflows.save(broken)
    return any_ws


def nightly(ws: fk.Workspace, **options: object) -> None:
    """The schedule "n": Report at 02:00 every night in Berlin."""
    ws.schedules.create(
        "n", workflow="Report", cron="0 2 * * *", timezone="Europe/Berlin", inputs={"day": "d"}, **options
    )  # type: ignore[arg-type]


# -- create, list, get, delete, pause, resume -----------------------------------------------
def test_create_list_get_pause_resume_delete(sws: fk.Workspace) -> None:
    made = sws.schedules.create(
        "nightly report", workflow="Report", cron="0 2 * * *", timezone="Europe/Berlin", inputs={"day": "today"}
    )
    assert (made.cron, made.timezone, made.inputs, made.catchup, made.paused) == (
        "0 2 * * *",
        "Europe/Berlin",
        {"day": "today"},
        False,
        False,
    )
    assert [s.name for s in sws.schedules.list()] == ["nightly report"]
    assert sws.schedules.get("nightly report").inputs == {"day": "today"}
    assert sws.schedules.pause("nightly report").paused
    assert not sws.schedules.resume("nightly report").paused
    with pytest.raises(AlreadyExistsError):
        sws.schedules.create("nightly report", workflow="Report", cron="0 3 * * *", inputs={"day": "x"})
    with pytest.raises(InUseError, match="nightly report"):
        sws.workflows.delete("Report")
    sws.schedules.delete("nightly report")
    with pytest.raises(ScheduleNotFound):
        sws.schedules.get("nightly report")
    with pytest.raises(ScheduleNotFound):
        sws.schedules.delete("nightly report")
    sws.workflows.delete("Report")  # no schedule runs it any more


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"workflow": "Nope"}, fk.errors.WorkflowNotFound, "Nope"),
        ({"cron": "61 * * * *"}, ValidationError, "does not parse"),
        ({"cron": "every day"}, ValidationError, "Five fields"),
        ({"cron": "0 0 31 2 *"}, ValidationError, "never fires"),
        ({"timezone": "Mars/Olympus"}, ValidationError, "Unknown timezone"),
        ({"inputs": {"day": float("nan")}}, ValidationError, "inputs.day"),
        ({"inputs": {"day": {1, 2}}}, ValidationError, "inputs.day"),
        ({"inputs": {"not a name": 1, "day": "x"}}, InvalidName, "not a name"),
        ({"inputs": {}}, ValidationError, "needs the input .day."),  # the workflow reads inputs.day
        ({"inputs": {"day": "tok-very-secret-123"}}, ValidationError, "secret credential 'token'"),
        ({"inputs": {"day": ["x", {"k": "Bearer tok-very-secret-123"}]}}, ValidationError, "Tools"),
    ],
)
def test_create_refuses_bad_input_and_saves_nothing(
    sws: fk.Workspace, options: dict[str, object], error: type[Exception], message: str
) -> None:
    given: dict[str, object] = {"workflow": "Report", "cron": "0 2 * * *", "inputs": {"day": "today"}, **options}
    with pytest.raises(error, match=message) as caught:
        sws.schedules.create("s", **given)  # type: ignore[arg-type]
    assert "tok-very-secret-123" not in str(caught.value)
    assert sws.schedules.list() == []


# -- cron times and DST (croniter, read in the schedule's timezone) ---------------------------
def test_fire_times_follow_the_timezone_across_dst() -> None:
    times = CronTimes("0 2 * * *", "Europe/Berlin")
    winter, summer = times.after(berlin(2026, 1, 10)), times.after(berlin(2026, 7, 10))
    assert winter[0].astimezone(timezone.utc).hour == 1 and summer[0].astimezone(timezone.utc).hour == 0


def test_a_fixed_time_job_fires_once_when_the_clock_goes_back() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST -> 02:00 CET, so 02:30 happens twice.
    daily = CronTimes("30 2 * * *", "Europe/Berlin").after(berlin(2026, 10, 24, 12), 3)
    assert [d.isoformat() for d in daily] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]
    # ... and walking backwards agrees
    due = CronTimes("30 2 * * *", "Europe/Berlin").due(berlin(2026, 10, 24, 12), berlin(2026, 10, 25, 12), 10)
    assert [d.isoformat() for d in due] == ["2026-10-25T02:30:00+02:00"]


def test_an_hourly_job_fires_in_both_repeated_hours() -> None:
    hourly = CronTimes("0 * * * *", "Europe/Berlin").after(berlin(2026, 10, 25, 1, 30), 4)
    assert [d.isoformat() for d in hourly] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]


def test_a_fixed_time_in_the_spring_gap_fires_right_after_it() -> None:
    # 2026-03-29 in Berlin: 02:00 CET -> 03:00 CEST; 02:30 does not exist that night.
    daily = CronTimes("30 2 * * *", "Europe/Berlin").after(berlin(2026, 3, 28, 12), 2)
    assert [d.isoformat() for d in daily] == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    every_half_hour = CronTimes("*/30 * * * *", "Europe/Berlin").after(berlin(2026, 3, 29, 1, 0), 3)
    assert [d.isoformat() for d in every_half_hour] == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_a_sixth_field_is_seconds() -> None:
    times = CronTimes("* * * * * */10", "UTC")
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert [d.second for d in times.after(start, 3)] == [10, 20, 30]


def test_due_slots_are_bounded_however_long_the_absence() -> None:
    times = CronTimes("* * * * * *", "UTC")
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    due = times.due(start, datetime(2026, 1, 1, tzinfo=timezone.utc), 5)  # a year of every-second slots
    assert [d.isoformat() for d in due][:2] == ["2026-01-01T00:00:00+00:00", "2025-12-31T23:59:59+00:00"]
    assert len(due) == 5


# -- claims on a fake clock: exactly once, catch-up policy ------------------------------------
def test_a_slot_is_claimed_once_and_only_when_due(sws: fk.Workspace) -> None:
    clock = FakeClock(berlin(2026, 5, 1, 1, 0))
    sws.schedules.clock = clock
    nightly(sws)
    assert sws.schedules.claim("n") is None  # 01:00: nothing due
    clock.set(berlin(2026, 5, 1, 1, 59, 59))
    assert sws.schedules.claim("n") is None
    clock.set(berlin(2026, 5, 1, 2, 0))
    claim = sws.schedules.claim("n")
    assert claim is not None and claim.slot == berlin(2026, 5, 1, 2, 0) and not claim.passed_over
    assert sws.schedules.claim("n") is None, "the same slot twice"
    clock.set(berlin(2026, 5, 1, 23, 0))
    assert sws.schedules.claim("n") is None
    assert sws.schedules.get("n").last_slot == "2026-05-01T02:00:00+02:00"
    assert sws.schedules.get("n").next_fires(2, now=clock()) == [berlin(2026, 5, 2, 2), berlin(2026, 5, 3, 2)]


def test_without_catchup_only_the_latest_missed_slot_fires(sws: fk.Workspace) -> None:
    clock = FakeClock(berlin(2026, 5, 1, 12, 0))
    sws.schedules.clock = clock
    nightly(sws)
    clock.set(berlin(2026, 5, 4, 12, 0))  # three nights missed
    claim = sws.schedules.claim("n")
    assert claim is not None and claim.slot == berlin(2026, 5, 4, 2) and claim.passed_over
    assert sws.schedules.claim("n") is None


def test_with_catchup_every_missed_slot_fires_in_order_up_to_the_bound(sws: fk.Workspace) -> None:
    clock = FakeClock(berlin(2026, 5, 1, 12, 0))
    sws.schedules.clock = clock
    nightly(sws, catchup=True)
    clock.set(berlin(2026, 5, 4, 12, 0))
    slots = []
    for _ in range(10):  # bounded: at most 10 claims
        claim = sws.schedules.claim("n", limit=100)
        if claim is None:
            break
        slots.append(claim.slot.day)
    assert slots == [2, 3, 4]
    clock.set(berlin(2026, 6, 30, 12, 0))  # 57 nights missed, bound 5: the newest five fire, oldest first
    slots = []
    for _ in range(20):
        claim = sws.schedules.claim("n", limit=5)
        if claim is None:
            break
        slots.append((claim.slot.month, claim.slot.day, claim.passed_over))
    assert slots == [(6, 26, True), (6, 27, False), (6, 28, False), (6, 29, False), (6, 30, False)]


def test_a_paused_schedule_does_not_fire_and_its_paused_slots_are_not_caught_up(sws: fk.Workspace) -> None:
    clock = FakeClock(berlin(2026, 5, 1, 12, 0))
    sws.schedules.clock = clock
    nightly(sws, catchup=True)
    sws.schedules.pause("n")
    clock.set(berlin(2026, 5, 3, 12, 0))
    assert sws.schedules.claim("n") is None
    sws.schedules.resume("n")
    assert sws.schedules.claim("n") is None, "slots missed while paused are not fired on resume"
    clock.set(berlin(2026, 5, 4, 2, 0))
    claim = sws.schedules.claim("n")
    assert claim is not None and claim.slot == berlin(2026, 5, 4, 2)


def test_a_schedule_created_after_a_slot_does_not_fire_it(sws: fk.Workspace) -> None:
    sws.schedules.clock = FakeClock(berlin(2026, 5, 1, 2, 0, 30))
    nightly(sws)
    assert sws.schedules.claim("n") is None


# -- the scheduler's pass on a fake clock ---------------------------------------------------
def test_the_scheduler_fires_runs_with_trigger_schedule_and_survives_failures(
    sws: fk.Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc))
    sws.schedules.clock = clock
    sws.schedules.create("good", workflow="Report", cron="*/5 * * * *", inputs={"day": "mon"})
    sws.schedules.create("bad", workflow="Broken", cron="*/5 * * * *")
    sws.schedules.create("held", workflow="Report", cron="*/5 * * * *", inputs={"day": "x"}, paused=True)
    calls: list[str] = []

    def run(workflow: str, **options: object) -> fk.Run:
        calls.append(workflow)
        if workflow == "Broken" and len(calls) > 2:
            raise RuntimeError("the store went away")  # a run that raises, not only one that fails
        return sws.run(workflow, **options)  # type: ignore[arg-type]

    refreshes: list[float] = []
    scheduler = Scheduler(sws.schedules, run, clock=clock, refresh=lambda: refreshes.append(clock()))
    assert scheduler.next_due() == datetime(2026, 5, 1, 12, 5, tzinfo=timezone.utc).timestamp()
    caplog.set_level(logging.INFO, logger="flowkit.scheduler")
    assert scheduler.tick() == []
    for minute in (5, 10):
        clock.set(datetime(2026, 5, 1, 12, minute, tzinfo=timezone.utc))
        fired = scheduler.tick()
        assert sorted(claim.schedule.name for claim in fired) == ["bad", "good"]
        assert scheduler.drain(30) == 0
        assert scheduler.tick() == []
    assert refreshes == [clock() - 300, clock()], "the modules are reloaded once per pass that fires, before it"
    runs = sws.runs.list(limit=None)
    assert sorted((r.workflow, r.status, r.trigger) for r in runs) == [
        ("Broken", "failed", "schedule"),
        ("Report", "success", "schedule"),
        ("Report", "success", "schedule"),
    ]
    assert runs[0].inputs in ({"day": "mon"}, {})
    good = sws.schedules.get("good")
    assert good.last_run in {r.id for r in runs if r.workflow == "Report"}
    assert sws.runs.get(good.last_run).started_at == max(r.started_at for r in runs if r.workflow == "Report")
    text = caplog.text
    assert text.count("fire schedule 'good'") == 2 and "slot 2026-05-01T12:10:00+00:00" in text
    assert "could not run: the store went away" in text


def test_stopping_waits_for_runs_in_flight_up_to_the_grace(sws: fk.Workspace, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    clock = FakeClock(datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc))
    sws.schedules.clock = clock
    sws.schedules.create("good", workflow="Report", cron="*/5 * * * *", inputs={"day": "mon"})
    release, started = threading.Event(), threading.Event()

    def slow_run(workflow: str, **options: object) -> fk.Run:
        started.set()
        release.wait(30)
        return sws.run(workflow, **options)  # type: ignore[arg-type]

    scheduler = Scheduler(sws.schedules, slow_run, clock=clock, poll=0.05)
    clock.set(datetime(2026, 5, 1, 12, 5, tzinfo=timezone.utc))
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="flowkit.scheduler")
    serving = threading.Thread(target=lambda: setattr(serving, "left", scheduler.serve(stop, grace=0.3)))
    serving.start()
    assert started.wait(10), "the due slot was not fired"
    stop.set()
    serving.join(10)
    assert not serving.is_alive() and serving.left == 1  # type: ignore[attr-defined]
    assert "waiting up to 0.3 s for 1 run(s) in flight" in caplog.text and "1 run(s) unfinished" in caplog.text
    release.set()
    assert scheduler.drain(30) == 0
    assert [run.trigger for run in sws.runs.list(limit=None)] == ["schedule"]


def test_the_module_watcher_reloads_only_when_an_integration_file_changed(sws: fk.Workspace) -> None:
    from flowkit.schedules import ModuleWatcher

    watcher = ModuleWatcher(sws.registry)
    assert watcher() is False, "nothing changed"
    tasks = sws.path / "integrations" / "tools" / "tasks.py"
    tasks.write_text(tasks.read_text() + "\n\ndef added_later(credentials, params):\n    return {'success': True}\n")
    assert "added_later" not in sws.registry.tasks("tools")
    assert watcher() is True
    assert "added_later" in sws.registry.tasks("tools")
    assert watcher() is False
