"""Scheduled runs in a deployment repository (Route 1): which run is due at a time, and which of two is newer.

A run is named by its run id, the scheduled time in UTC (spec/schedule.py ``run_id``), so ids compare as times do.
The refresher asks, at each invocation, for the latest scheduled time that may still start (``starting_deadline_
seconds``, as a CronJob would skip a tick it missed); publish and refresh carry the run a folder holds forward.

Pure: times and schedules in, run ids out.
"""

from __future__ import annotations

from datetime import datetime

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.spec.model import Schedule


def due_run(schedule: Schedule | None, at: datetime) -> str | None:
    """The run id of the newest scheduled time at or before ``at`` that may still start; None without a schedule,
    when it is suspended, or when that time is more than ``starting_deadline_seconds`` old (skipped)."""
    from bodywork_render.spec.schedule import latest_due, run_id

    if schedule is None or schedule.suspend:
        return None
    tick = latest_due(schedule, at)
    return run_id(tick) if tick is not None else None


def next_run(held: str | None, due: str | None, at: datetime) -> str | None:
    """The run a render at ``at`` is: ``due`` when it is newer than ``held``, or when ``held`` is later than ``at``
    (a run id given by hand for a time not come, which would otherwise hold back every run until then); else
    ``held``, carried forward (None: no run)."""
    from bodywork_render.spec.schedule import run_id

    if due is not None and (held is None or due > held or held > run_id(at)):
        return due
    return held


def parse_time(text: str, flag: str) -> datetime:
    """An ISO 8601 time with its UTC offset (``2026-12-04T20:03:00Z``, ``...+01:00``); BodyworkError otherwise."""
    try:
        # Python 3.10's fromisoformat does not read the suffix Z.
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BodyworkError(
            f"{flag} {text!r}: expected an ISO 8601 time with its UTC offset, e.g. 2026-12-04T20:03:00Z"
        )
    return moment
