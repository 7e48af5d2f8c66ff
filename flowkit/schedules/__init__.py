"""Schedules: run saved workflows on cron expressions, and the scheduler that fires them.

- `cron`: `CronTimes`, fire times of an expression in a timezone (croniter; DST as cron does it).
- `collection`: `ScheduleCollection` (``ws.schedules``) and `Schedule`, kept in the workspace's store;
  `claim` takes a due slot exactly once across schedulers.
- `scheduler`: `Scheduler`, the long-running loop behind ``flowkit scheduler``.

Nothing here imports `Workspace`: the scheduler is handed ``ws.schedules`` and ``ws.run``.
"""

from __future__ import annotations

from .collection import Claim, Schedule, ScheduleCollection
from .cron import CRON_HELP, CronTimes, describe, zone
from .scheduler import TRIGGER, ModuleWatcher, Scheduler

__all__ = [
    "CRON_HELP",
    "TRIGGER",
    "Claim",
    "CronTimes",
    "ModuleWatcher",
    "Schedule",
    "ScheduleCollection",
    "Scheduler",
    "describe",
    "zone",
]
