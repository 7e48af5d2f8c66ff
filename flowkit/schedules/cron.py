"""When a schedule fires: a cron expression read by croniter, in an IANA timezone, DST handled as cron does.

croniter (a well-kept library: pallets-eco, with Airflow's maintainers) parses
the expression and steps through its fire times in the schedule's timezone.
Two things are added on top, both about the clock changes of daylight saving:

* every time croniter gives is re-derived from its UTC instant
  (``astimezone``), so its UTC offset and its ``fold`` are the real ones;
* a *fixed-time* job (neither its minute nor its hour field, nor a seconds
  field, starts with ``*``: ``30 2 * * *``) fires once when the clock goes back
  over its time, not twice, as Vixie/Debian cron does. A job with a wildcard
  minute or hour (``0 * * * *``, ``*/15 * * * *``) fires at each real
  occurrence, so an hourly job runs in both 02:00s of that night.

When the clock jumps forward over a fixed time (02:30 on a spring night in
Berlin), croniter fires at the first minute after the gap (03:00), as cron does.

Everything takes the current time as an argument: no clock is read here, so
the scheduler and the tests can hand in a fake one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ValidationError

UTC = timezone.utc

CRON_HELP = (
    "Five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *' (02:00 every day) or "
    "'*/15 9-17 * * MON-FRI'; a sixth field is seconds ('* * * * * */10': every ten seconds)."
)
#: croniter gives up on an expression that matches nothing for this many steps (Feb 30th).
MAX_STEPS = 10_000


def zone(name: str) -> ZoneInfo:
    """The IANA timezone `name` (``Europe/Berlin``, ``UTC``); a clear error when there is none."""
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown timezone {name!r}: give an IANA name such as 'UTC', 'Europe/Berlin' or 'America/New_York'."
        ) from None


def _second_pass(moment: datetime) -> bool:
    """Whether `moment` is the second occurrence of a wall-clock time the clock went back over."""
    first, second = moment.replace(fold=0).utcoffset(), moment.replace(fold=1).utcoffset()
    return first != second and moment.utcoffset() == second


class CronTimes:
    """The fire times of one cron expression in one timezone.

    Args:
        expression: five cron fields (six with seconds last), or ``@daily``-style names.
        timezone: an IANA timezone name; the fields are read in its wall-clock time.

    Raises:
        ValidationError: the expression does not parse, never fires, or the timezone is unknown.
    """

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        from croniter import CroniterError, croniter

        self.expression = " ".join(str(expression).split())
        self.timezone = str(timezone).strip()
        self.tz = zone(self.timezone)
        if not self.expression:
            raise ValidationError(f"The cron expression is empty. {CRON_HELP}")
        try:
            fields: list[Any] = list(croniter(self.expression, datetime.now(self.tz)).expressions)
        except (CroniterError, ValueError, KeyError, IndexError) as exc:
            raise ValidationError(
                f"The cron expression {self.expression!r} does not parse: {exc}. {CRON_HELP}"
            ) from None
        watched = [fields[0], fields[1], *fields[5:6]]  # minute, hour, and seconds when given
        self.fixed = not any(str(field).startswith("*") for field in watched)
        self.seconds = len(fields) >= 6
        if not self.after(datetime.now(UTC), 1):
            raise ValidationError(f"The cron expression {self.expression!r} never fires (no such date). {CRON_HELP}")

    def __repr__(self) -> str:
        return f"CronTimes({self.expression!r}, {self.timezone!r})"

    def _walk(self, start: datetime, *, backwards: bool) -> Iterator[datetime]:
        """Fire times strictly after (or before) `start`, in this timezone, DST repeats of fixed jobs left out."""
        from croniter import CroniterBadDateError, croniter

        steps = croniter(self.expression, start.astimezone(self.tz))
        step = steps.get_prev if backwards else steps.get_next
        for _ in range(MAX_STEPS):
            try:
                raw = step(datetime)
            except CroniterBadDateError:  # nothing matches any more (or before)
                return
            moment = raw.astimezone(UTC).astimezone(self.tz)
            if self.fixed and _second_pass(moment):
                continue
            yield moment

    def after(self, moment: datetime, count: int = 1) -> list[datetime]:
        """The next `count` fire times strictly after `moment` (an aware datetime), in this timezone."""
        found: list[datetime] = []
        for fire in self._walk(moment, backwards=False):
            found.append(fire)
            if len(found) >= count:
                break
        return found

    def due(self, since: datetime, now: datetime, limit: int) -> list[datetime]:
        """Fire times in ``(since, now]``, newest first, at most `limit` of them.

        Walking back from `now` keeps the work bounded by `limit` however long
        the scheduler was away (a year of every-second slots costs `limit` steps).
        """
        found: list[datetime] = []
        # croniter's previous time is strictly before its start: start just after `now`, so `now` counts.
        for fire in self._walk(now + timedelta(microseconds=1), backwards=True):
            if fire <= since or len(found) >= limit:
                break
            found.append(fire)
        return found


def describe(slot: datetime | None) -> str:
    """A fire time for people: ``2026-12-01 02:00 CET`` (seconds shown when not zero)."""
    if slot is None:
        return "-"
    shown = slot.strftime("%Y-%m-%d %H:%M:%S" if slot.second else "%Y-%m-%d %H:%M")
    return f"{shown} {slot.tzname() or slot.astimezone(UTC).tzname()}"
