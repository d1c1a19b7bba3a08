"""What a schedule means in time: its cron expression and time zone checked as Kubernetes checks them, and its ticks.

Cron arithmetic is cronsim's (no dependencies, iterates backwards, handles time zones); this module adds only
what cronsim lacks or accepts beyond Kubernetes' CronJob parser (robfig/cron's standard five fields): the
macros (lower case only), robfig's reading of the day fields (``five_fields``), and the refusal of a seconds
field, ``@every``, the Quartz extensions ``L``, ``W`` and ``#``, and day-of-week 7. Time zones are the tz
database's names, as the ``tzdata`` package lists them; zoneinfo reads them from the system or, where it has
none, from that package.

Pure: no I/O but reading the tz database; the functions take the time they reason about.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

TYPE_CHECKING = False  # without importing typing: see diagnostics.py
if TYPE_CHECKING:
    from bodywork_render.spec.model import Schedule

# robfig/cron's descriptors that Kubernetes accepts (it refuses @every), as five fields.
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
RUN_ID_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""A run id: the scheduled time in UTC, ISO-8601 to the second."""
_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_EXPECTED = {
    "minute": "0-59",
    "hour": "0-23",
    "day-of-month": "1-31, on a day the months have",
    "month": "1-12 or JAN-DEC",
    "day-of-week": "0-6 or SUN-SAT",
}
# Day-of-week values in a term's range (not its step): Kubernetes allows 0-6, cronsim also 7.
_DOW_RANGE = re.compile(r"^[^/]*?(\d+)(?:-(\d+))?(?:/|$)")
# A day field's term of every day: ``*`` with its step, if any.
_STAR = re.compile(r"^\*(?:/(\d+))?$")


def five_fields(cron: str) -> str:
    """The five-field form of a valid cron expression that cronsim ticks as robfig/cron does (a macro expanded,
    ``?`` read as ``*``, the day fields as ``_robfig_days`` writes them)."""
    # lower(): a schedule recorded by a render before upper-case macros were refused still ticks.
    text = cron.strip()
    fields = MACROS.get(text.lower(), text).replace("?", "*").split()
    if len(fields) != 5:
        return " ".join(fields)
    minute, hour, day, month, weekday = fields
    return " ".join((minute, hour, _robfig_days(day, 31), month, _robfig_days(weekday, 6)))


def _robfig_days(field: str, last: int) -> str:
    """A day-of-month (``last`` 31) or day-of-week (``last`` 6) field written so that cronsim reads it as robfig/cron.

    robfig ANDs the two day fields when either is a star, that is holds a term ``*`` or ``*/1``, and ORs them
    otherwise (``*/2`` is no star); cronsim ANDs them when either starts with ``*``. So a field with a star term is
    ``*`` (every day, a star) and ``*/n`` is ``first-last/n``. robfig reads ``N/n`` as ``N-max/n``; cronsim's maximum
    day of the week is 7 (Sunday again), so it is written ``N-6/n``.
    """
    terms = field.split(",")
    stars = [_STAR.match(term) for term in terms]
    if any(star is not None and int(star.group(1) or 1) == 1 for star in stars):
        return "*"
    first = 1 if last == 31 else 0
    written = []
    for term, star in zip(terms, stars, strict=True):
        start, slash, step = term.partition("/")
        if star is not None:
            term = f"{first}-{last}/{step}"
        elif slash and "-" not in start:
            term = f"{start}-{last}/{step}"
        written.append(term)
    return ",".join(written)


def cron_error(cron: str) -> str | None:
    """Why Kubernetes' CronJob would refuse ``cron`` (or why it never fires), or None when it is valid."""
    from cronsim import CronSim, CronSimError

    text = cron.strip()
    if text.startswith("@"):
        if text in MACROS:
            return None
        if text.lower() in MACROS:
            return f"Kubernetes reads macros in lower case only (expected {text.lower()!r})"
        return f"{text.split()[0]!r} is not a macro Kubernetes accepts (expected one of: {', '.join(MACROS)})"
    if "TZ" in text.upper():
        return "a time zone inside the expression is refused by Kubernetes (expected time_zone)"
    fields = text.split()
    if len(fields) != 5:
        return f"has {len(fields)} field{'' if len(fields) == 1 else 's'} (expected 5: {' '.join(_FIELDS)})"
    for name, field in zip(_FIELDS, fields, strict=True):
        # Quartz's last (L), nearest weekday (W, of a day-of-month) and nth weekday (#); no name holds an L or a W
        # where it is checked (WED is a day-of-week).
        special = {"day-of-month": "[LW]", "day-of-week": "L"}.get(name)
        if "#" in field or (special and re.search(special, field.upper())):
            return f"{name} {field!r}: L, W and # are not cron as Kubernetes reads it"
    for term in fields[4].split(","):
        match = _DOW_RANGE.match(term)
        if match and any(int(value) > 6 for value in match.groups() if value):
            return f"day-of-week {fields[4]!r}: expected 0-6 (0 is Sunday; Kubernetes refuses 7)"
    try:
        CronSim(five_fields(text), datetime(2000, 1, 1))
    except CronSimError as exc:
        # cronsim says "Bad <field>"
        name = str(exc).removeprefix("Bad ")
        field = fields[_FIELDS.index(name)] if name in _FIELDS else ""
        return f"{name} {field!r} is not valid (expected {_EXPECTED.get(name, ' '.join(_FIELDS))})"
    return None


def time_zone_error(name: str) -> str | None:
    """Why ``name`` is not a time zone of the tz database, or None when it is one."""
    # The names the tzdata package lists (the tz database's own list), not zoneinfo.available_timezones(): that also
    # counts files of the system's folder that name no zone ("localtime"), and differs between machines. Read by
    # path: importlib.resources would cost `bodywork validate` 13 ms of imports.
    import os

    import tzdata

    with open(os.path.join(os.path.dirname(tzdata.__file__), "zones"), encoding="utf-8") as listing:
        zones = listing.read().split()
    if name in zones:
        return None
    import difflib

    close = difflib.get_close_matches(name, zones, n=1, cutoff=0.6)
    close = close or [zone for zone in zones if zone.lower() == name.lower()]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{name!r} is not a time zone of the tz database ({hint}expected an IANA name such as 'Europe/London')"


def latest_tick(schedule: Schedule, now: datetime) -> datetime | None:
    """The newest scheduled time at or before ``now`` (an aware datetime), in the schedule's time zone, however old;
    None when the expression matched nothing in the last 50 years.

    Around daylight saving time changes cronsim follows Debian cron: a time of day that a change skips fires
    at the first time after it, one that happens twice fires once; a schedule whose minute or hour is ``*``
    follows the clock as it is.
    """
    from zoneinfo import ZoneInfo

    from cronsim import CronSim

    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    zone = ZoneInfo(schedule.time_zone)
    # cronsim steps before it matches: from one second after ``now``, its first tick backwards is at or before it.
    # The second is added in UTC: added to a local time it would drop the fold of a repeated hour.
    start = (now.astimezone(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)).astimezone(zone)
    return next(CronSim(five_fields(schedule.cron), start, reverse=True), None)


def latest_due(schedule: Schedule, now: datetime) -> datetime | None:
    """The newest scheduled time at or before ``now`` (an aware datetime), in the schedule's time zone (see
    ``latest_tick``); None when it is more than ``starting_deadline_seconds`` old: a run that late is skipped."""
    tick = latest_tick(schedule, now)
    if tick is None or late(tick, now) > timedelta(seconds=schedule.starting_deadline_seconds):
        return None
    return tick


def late(tick: datetime, now: datetime) -> timedelta:
    """How long after the scheduled time ``tick`` ``now`` is (in real time, whatever their time zones)."""
    return now.astimezone(timezone.utc) - tick.astimezone(timezone.utc)


def run_id(tick: datetime) -> str:
    """The stable id of a scheduled time: UTC ISO-8601 to the second, e.g. ``2026-12-04T20:00:00Z``."""
    return tick.astimezone(timezone.utc).strftime(RUN_ID_FORMAT)
