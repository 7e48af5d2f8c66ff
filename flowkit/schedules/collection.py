"""``ws.schedules``: named schedules that run a saved workflow on a cron expression, kept in the workspace.

A schedule is one document of the store's ``schedules`` collection (a TinyDB
file like the others, so it goes through `flowkit.store.Store` and works in
memory too). Besides what the user gave, it keeps the scheduler's state:

* ``since`` — slots after this instant count (its creation, or its last resume:
  a paused schedule's slots are not caught up later);
* ``last_slot`` — the last slot a scheduler *claimed*. A claim is a
  read-check-write under the store's inter-process lock (`claim`), so two
  schedulers on one workspace, or one restarted after ``kill -9``, never fire
  the same slot twice. The claim is written before the run starts: a
  scheduler killed in between loses that slot rather than risking a double;
* ``last_run`` — the id of the run the last claim started.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import AlreadyExistsError, FlowkitError, ScheduleNotFound, ValidationError
from ..jsonvalue import check_json
from ..model import check_identifier, check_label, normal_label
from ..redaction import refuse_secrets
from ..store import Store
from .cron import CronTimes, describe

if TYPE_CHECKING:
    from ..catalog import IntegrationCollection
    from ..run.validation import Problem

COLLECTION = "schedules"
#: what a refused secret input is told to do instead
SECRET_HINT = (
    "Schedules keep their inputs in the clear in the workspace: never put a secret there; the workflow's nodes "
    "name their integration and the run decrypts what they use."
)


def _utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, timezone.utc)


@dataclass
class Schedule:
    """A saved workflow run on a cron expression in a timezone, with its inputs and the scheduler's state."""

    name: str
    workflow: str
    cron: str
    timezone: str = "UTC"
    inputs: dict[str, Any] = field(default_factory=dict)
    catchup: bool = False
    paused: bool = False
    since: float = field(default_factory=time.time)
    last_slot: str | None = None
    last_run: str | None = None
    last_fired_at: float | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def times(self) -> CronTimes:
        """Its fire times (croniter, in its timezone)."""
        return CronTimes(self.cron, self.timezone)

    @property
    def base(self) -> datetime:
        """The instant after which slots are due: its last claimed slot, or `since`, whichever is later."""
        start = _utc(self.since)
        if self.last_slot is not None:
            start = max(start, datetime.fromisoformat(self.last_slot))
        return start

    def next_fires(self, count: int = 1, *, now: float | None = None) -> list[datetime]:
        """Its next `count` fire times after now (and after its last slot), in its timezone."""
        after = max(self.base, _utc(time.time() if now is None else now))
        return self.times.after(after, count)

    def next_text(self, *, now: float | None = None) -> str:
        """When it fires next, for people: ``2026-12-02 02:00 CET``, ``paused``, or why it cannot."""
        if self.paused:
            return "paused"
        try:
            upcoming = self.next_fires(1, now=now)
        except FlowkitError as exc:  # a hand-edited cron, a timezone gone from tzdata
            return f"never ({exc})"
        return describe(upcoming[0]) if upcoming else "never"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass
class Claim:
    """One slot a scheduler won: fire `schedule` for `slot`.

    Attributes:
        schedule: the schedule as it was when claimed.
        slot: the fire time, in the schedule's timezone.
        passed_over: earlier due slots not fired (``catchup=False``, or beyond the catch-up bound).
    """

    schedule: Schedule
    slot: datetime
    passed_over: bool = False


class ScheduleCollection:
    """Schedules: create, list, get, delete, pause, resume; `claim` is the scheduler's exactly-once step.

    Args:
        store: the workspace's store (documents in its ``schedules`` collection).
        validate: checks a saved workflow (by name) with given inputs; raises `WorkflowNotFound`.
        integrations: its `stored_secrets`, which inputs may not hold.
        clock: the current time in seconds (tests give a fake one).
    """

    collection = COLLECTION

    def __init__(
        self,
        store: Store,
        validate: Callable[..., builtins.list[Problem]],
        integrations: IntegrationCollection,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._validate = validate
        self._integrations = integrations
        self.clock = clock

    # -- checking what is entered ----------------------------------------------------
    def _checked_inputs(self, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
        if inputs is None:
            return {}
        if not isinstance(inputs, Mapping):
            raise ValidationError(f"inputs must be a mapping of name → value, got {type(inputs).__name__}.")
        for name in inputs:
            check_identifier(name, "Input name")
        values = check_json(dict(inputs), "inputs")
        if values:  # nothing to compare otherwise: no need for the key
            refuse_secrets(values, self._integrations.stored_secrets(), where="inputs", advice=SECRET_HINT)
        return values

    def _check_workflow(self, workflow: str, inputs: dict[str, Any]) -> None:
        """The workflow exists and runs with these inputs (a template reading a missing input is an error)."""
        errors = [p for p in self._validate(workflow, inputs=inputs) if p[0] == "error"]
        if errors:
            listed = "; ".join(f"{node or 'workflow'}: {message}" for _, node, message in errors)
            raise ValidationError(f"The workflow {workflow!r} would not run with these inputs: {listed}")

    def _build(self, name: str, workflow: str, cron: str, tz: str, inputs: Any, catchup: bool) -> Schedule:
        name = check_label(name, "Schedule name")  # NFC, as every name is stored
        workflow = normal_label(workflow) if isinstance(workflow, str) else workflow
        times = CronTimes(cron, tz)
        values = self._checked_inputs(inputs)
        self._check_workflow(workflow, values)
        now = self.clock()
        return Schedule(
            name, workflow, times.expression, times.timezone, values, bool(catchup), since=now, created_at=now
        )

    # -- the collection --------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        workflow: str,
        cron: str,
        timezone: str = "UTC",
        inputs: Mapping[str, Any] | None = None,
        catchup: bool = False,
        paused: bool = False,
    ) -> Schedule:
        """Schedule the saved `workflow` to run at every time `cron` matches in `timezone`.

        Args:
            cron: five cron fields (``"0 2 * * *"``), six with seconds last, or ``@daily``-style names.
            timezone: the IANA timezone the fields are read in (``"Europe/Berlin"``); DST is followed.
            inputs: the runs' inputs: identifier names, strict JSON, never a stored secret.
            catchup: after the scheduler was away, fire every missed slot (up to its bound),
                instead of once for the latest.
            paused: create it paused.

        Raises:
            ValidationError: a bad cron, timezone, input, or a workflow that would not run with these inputs.
            WorkflowNotFound: no saved workflow of that name.
            AlreadyExistsError: a schedule of that name exists.
        """
        schedule = self._build(name, workflow, cron, timezone, inputs, catchup)
        schedule.paused = bool(paused)
        if not self._store.insert_new(self.collection, schedule.to_dict()):
            raise AlreadyExistsError(f"A schedule named {name!r} already exists.")
        return schedule

    def update(
        self,
        name: str,
        *,
        workflow: str | None = None,
        cron: str | None = None,
        timezone: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        catchup: bool | None = None,
    ) -> Schedule:
        """Change what a schedule runs or when; checked as `create` checks. Its fired slots stay fired."""
        with self._store.locked():
            current = self.get(name)
            changed = self._build(
                current.name,
                current.workflow if workflow is None else workflow,
                current.cron if cron is None else cron,
                current.timezone if timezone is None else timezone,
                current.inputs if inputs is None else inputs,
                current.catchup if catchup is None else catchup,
            )
            for kept in ("paused", "since", "last_slot", "last_run", "last_fired_at", "created_at"):
                setattr(changed, kept, getattr(current, kept))
            self._store.upsert(self.collection, changed.to_dict())
        return changed

    def get(self, name: str) -> Schedule:
        doc = self._store.get(self.collection, normal_label(name) if isinstance(name, str) else name)
        if doc is None:
            raise ScheduleNotFound(name, hint="Create it with ws.schedules.create(...).")
        return Schedule.from_dict(doc)

    def list(self, *, workflow: str | None = None) -> builtins.list[Schedule]:
        found = (Schedule.from_dict(doc) for doc in self._store.all(self.collection))
        return sorted((s for s in found if workflow is None or s.workflow == workflow), key=lambda s: s.name)

    def delete(self, name: str) -> None:
        if not self._store.delete(self.collection, normal_label(name) if isinstance(name, str) else name):
            raise ScheduleNotFound(name)

    def pause(self, name: str) -> Schedule:
        """Stop firing it; its slots while paused are never caught up."""
        return self._set(name, paused=True)

    def resume(self, name: str) -> Schedule:
        """Fire it again, from now on (slots missed while paused are not fired)."""
        with self._store.locked():
            if not self.get(name).paused:
                return self.get(name)
            return self._set(name, paused=False, since=self.clock())

    def _set(self, name: str, **changes: Any) -> Schedule:
        with self._store.locked():
            name = self.get(name).name
            self._store.update_many(self.collection, {name: changes})
            return self.get(name)

    # -- what the scheduler does -----------------------------------------------------
    def claim(self, name: str, *, now: float | None = None, limit: int = 100) -> Claim | None:
        """Take the schedule's next slot to fire, if one is due and no other scheduler took it.

        Under the store's inter-process lock: re-read the schedule, find its due
        slots after its last claimed slot, write the chosen slot as claimed.
        ``catchup=False`` takes the newest due slot (earlier ones are passed
        over); ``catchup=True`` takes the oldest of the newest `limit` due slots,
        so repeated claims fire them in order.

        Returns:
            The `Claim`, or None (paused, deleted, nothing due, or already taken).
        """
        moment = self.clock() if now is None else now
        with self._store.locked():
            doc = self._store.get(self.collection, name)
            if doc is None or doc.get("paused"):
                return None
            schedule = Schedule.from_dict(doc)
            window = max(1, limit) if schedule.catchup else 1
            due = schedule.times.due(schedule.base, _utc(moment), window + 1)  # one more: were any passed over?
            if not due:
                return None
            passed_over = len(due) > window
            slot = due[:window][-1]
            changes = {"last_slot": slot.isoformat(), "last_fired_at": moment}
            self._store.update_many(self.collection, {name: changes})
        return Claim(schedule, slot, passed_over)

    def record_run(self, claim: Claim, run_id: str) -> None:
        """Remember the run a claim started (unless a later slot was claimed since)."""
        with self._store.locked():
            doc = self._store.get(self.collection, claim.schedule.name)
            if doc is not None and doc.get("last_slot") == claim.slot.isoformat():
                self._store.update_many(self.collection, {claim.schedule.name: {"last_run": run_id}})
